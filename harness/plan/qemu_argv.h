/* qemu_argv: turn a cell (card x firmware x guest x variant) and where it runs
 * into the exact QEMU argv. Never a shell string: each option is one word.
 *
 * Ownership: qemu_argv appends freshly allocated words to the caller's
 * struct argv; struct qemu_env only borrows its strings. */
#ifndef HIL_QEMU_ARGV_H
#define HIL_QEMU_ARGV_H

#include "catalog.h"
#include "plan.h"
#include "util.h"

/* The runtime side of a cell: paths, accelerator, and for a vfio card the
 * host device. Strings are borrowed. */
struct qemu_env {
	const char *qemu;         /* QEMU binary */
	const char *accel;        /* "kvm" or "tcg" */
	const char *firmware_bin; /* -bios file for seabios */
	const char *guest_image;  /* the guest's boot image (a kernel guest: its initramfs) */
	const char *guest_kernel; /* a kernel guest: its kernel */
	const char *guest_image_format; /* a disk guest: QEMU's format name; NULL: raw */
	const char *qmp_socket;   /* hilrun listens, QEMU connects */
	const char *serial_socket;/* hilrun listens, QEMU connects */
	const char *vnc_socket;   /* emulated cards: QEMU's VNC server listens here */
	const char *host;         /* vfio cards: host PCI address */
	const char *rom;          /* vfio cards: ROM file, or NULL */
	int memory_mb;
	int start_paused;         /* -S: hilrun connects VNC, then sends cont */
	const char *sandbox;      /* -sandbox's value (QEMU_SANDBOX), or NULL: none */
};

/* QEMU's seccomp filter: no obsolete system calls, no setuid, no new
 * processes, no scheduling or resource changes. QEMU runs code the guest
 * and the card's ROM supply; this keeps what that code can reach small. */
#define QEMU_SANDBOX "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

/* QEMU_SANDBOX if this QEMU binary takes it (a build with seccomp), else
 * NULL and why in note (its own words): the run goes ahead without it and
 * the record says so. Asked once per binary per process: QEMU parses
 * -sandbox QEMU_SANDBOX -version and exits. */
const char *qemu_sandbox(const char *qemu, char *note, size_t n);

/* The exit status QEMU gives when the guest writes code to isa-debug-exit. */
#define GUEST_EXIT_PORT "0xf4"
int qemu_guest_exit_status(int code);

int qemu_argv(struct argv *out, const struct cell *cell, const struct qemu_env *env,
	      struct hil_err *err);

/* The options that boot guest: its disk image (image_format: QEMU's name,
 * NULL raw), or its kernel and initramfs with append as the command line.
 * What qemu_argv() boots, and the accelerator's timed trials too. */
void qemu_guest_boot(struct argv *out, const struct guest *guest, const char *image,
		     const char *image_format, const char *kernel, const char *append);

/* The QEMU format of a disk image from its first bytes (qcow2, vmdk, vhdx,
 * vpc), else "raw": a lab's Windows image is often not raw. */
const char *qemu_disk_format(const char *path);

/* Default firmware image for a firmware name; NULL if unknown. */
const char *qemu_firmware_bin(const char *firmware);
/* The guest RAM (MiB) a cell of this guest and firmware gets by default. */
int qemu_memory_mb(const struct guest *guest, const char *firmware);
/* The most RAM any cell of the card gets: what vfio pins for its runs. */
int qemu_card_memory_mb(const struct card *card);

#endif
