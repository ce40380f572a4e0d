/* preflight: check a physical card's station before QEMU is started, so a
 * lab mistake (wrong address, card bound to its vendor driver, IOMMU off,
 * a group shared with a host device, no x-vga support, the host console on
 * the card, /dev/vfio closed to this user, a memlock limit below the
 * guest's RAM, no capture) is reported as a configuration or lab error with
 * the fix, never as a card failure. Nothing here starts QEMU or changes the
 * host: it reads sysfs, /proc, /boot, and opens /dev/vfio/GROUP once.
 *
 * Every root can be redirected, so that fixture trees stand in for a host
 * (tests/fixtures/sysfs/README.md): $HILRUN_SYSFS (/sys), $HILRUN_PROC
 * (/proc: cmdline, sys/kernel/osrelease, config.gz), $HILRUN_BOOT (/boot),
 * $HILRUN_DEV_VFIO (/dev/vfio). The memlock check is about this process
 * (its RLIMIT_MEMLOCK and CAP_IPC_LOCK), never a fixture's.
 *
 * Ownership: plain values; nothing is kept. */
#ifndef HIL_PREFLIGHT_H
#define HIL_PREFLIGHT_H

#include <stdint.h>

#include "catalog.h"
#include "util.h"

#define PREFLIGHT_LAB (-1)    /* the host is not ready: device absent, wrong driver, no IOMMU */
#define PREFLIGHT_CONFIG (-2) /* the configuration is wrong: ids do not match, no capture */
#define PREFLIGHT_SKIP 1      /* not checked: a check it depends on failed first */

/* The checks, in the order a run meets them (preflight_vfio reports the
 * first that fails). */
enum preflight_check {
	PF_DEVICE,     /* the address holds the card, bound to vfio-pci */
	PF_IOMMU,      /* the host's IOMMU is on */
	PF_GROUP,      /* the card has an IOMMU group, and the group is viable */
	PF_COMPANIONS, /* the card's other functions are named or bound to vfio-pci */
	PF_XVGA,       /* x-vga=on can work (only for a card that needs it) */
	PF_BOOT_VGA,   /* the card is not the host's boot VGA */
	PF_VFIO_DEV,   /* this user can open /dev/vfio/GROUP */
	PF_MEMLOCK,    /* the memlock limit covers the guest's RAM */
	PF_ENDPOINT,   /* a capture endpoint is named */
	PF_NCHECKS
};

struct preflight_result {
	int code;              /* 0, PREFLIGHT_SKIP, PREFLIGHT_LAB or PREFLIGHT_CONFIG */
	char brief[32];        /* a table cell: "ok", "nouveau", "not viable", ... */
	char msg[HIL_ERR_MAX]; /* what is wrong and the fix; "" when ok */
};

/* What is checked: strings and companions are borrowed. */
struct preflight_target {
	const struct card *card;
	const char *host;              /* host PCI address */
	const char *capture;           /* capture endpoint, or NULL */
	const struct argv *companions; /* named in the station, or NULL */
	int memory_mb;                 /* the most guest RAM a run gives (vfio pins it all) */
};

/* vfio pins the guest's RAM and what QEMU maps for DMA besides it (option
 * ROMs, emulated devices' memory). libvirt allows guest RAM + 1 GiB for a
 * VFIO guest on x86 (qemuDomainGetMemLockLimitBytes); so do we. */
#define PREFLIGHT_MEMLOCK_MARGIN_MB 1024

/* An attribute of a PCI device on this host: SYSFS/bus/pci/devices/BDF/NAME
 * (the device's directory when name is NULL). Caller frees. */
char *pci_dev_path(const char *bdf, const char *name);
/* An attribute holding one hex number ("0x10de"): 0, or -1 unreadable. */
int pci_dev_hex(const char *bdf, const char *name, unsigned *out);

/* The check's name as a table heading: "device", "iommu", ... */
const char *preflight_check_name(enum preflight_check c);
/* Run every check into res; returns the worst code (0 when all pass,
 * PREFLIGHT_CONFIG over PREFLIGHT_LAB, as exit codes 2 over 3). */
int preflight_all(const struct preflight_target *t, struct preflight_result res[PF_NCHECKS]);
/* 0 ok, or the first failure's PREFLIGHT_LAB / PREFLIGHT_CONFIG with err set. */
int preflight_vfio(const struct preflight_target *t, struct hil_err *err);
/* The memlock rule on given values (limit in bytes, RLIM_INFINITY for none;
 * cap_ipc_lock: the process may lock any amount). Returns r->code. */
int preflight_memlock(uint64_t limit, int cap_ipc_lock, int memory_mb, struct preflight_result *r);

#endif
