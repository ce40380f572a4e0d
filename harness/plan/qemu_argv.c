/* qemu_argv: see qemu_argv.h. */
#include "qemu_argv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

int qemu_guest_exit_status(int code)
{
	return (code << 1) | 1;
}

const char *qemu_firmware_bin(const char *firmware)
{
	if (!strcmp(firmware, "seabios"))
		return "/usr/share/seabios/bios-256k.bin";
	/* The combined image as -bios: variables live in memory for the run,
	 * so no per-run VARS copy is needed and nothing persists. */
	if (!strcmp(firmware, "ovmf"))
		return "/usr/share/ovmf/OVMF.fd";
	return NULL;
}

const char *qemu_disk_format(const char *path)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *format;
	} formats[] = {
		{ "QFI\xfb", 4, "qcow2" },
		{ "KDMV", 4, "vmdk" },
		{ "vhdxfile", 8, "vhdx" },
		{ "conectix", 8, "vpc" },
	};
	char head[8] = { 0 };
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(head, 1, sizeof head, f) : 0;
	if (f)
		fclose(f);
	for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
		if (n >= formats[i].len && !memcmp(head, formats[i].magic, formats[i].len))
			return formats[i].format;
	return "raw";
}

const char *qemu_sandbox(const char *qemu, char *note, size_t n)
{
	static char *asked;     /* the binary last asked, and its answer */
	static int takes;
	static char words[400];
	if (!asked || strcmp(asked, qemu)) {
		free(asked);
		asked = xstrdup(qemu);
		struct argv a = ARGV_INIT;
		argv_push(&a, qemu);
		argv_push(&a, "-sandbox");
		argv_push(&a, QEMU_SANDBOX);
		argv_push(&a, "-version");
		char log[] = "/tmp/hilrun-sandbox-XXXXXX";
		int fd = mkstemp(log);
		struct proc p;
		proc_init(&p);
		struct hil_err err;
		takes = 0;
		if (fd < 0) {
			snprintf(words, sizeof words, "cannot ask QEMU: %s", strerror(errno));
		} else if (proc_spawn(&p, &a, log, &err) < 0) {
			snprintf(words, sizeof words, "cannot ask QEMU: %.200s", err.msg);
		} else if (!proc_wait(&p, now_ms() + 10000)) {
			snprintf(words, sizeof words, "QEMU did not answer -sandbox ... -version in 10 s");
		} else {
			char how[128];
			proc_describe(&p, how, sizeof how);
			takes = !strcmp(how, "exited with status 0");
			size_t len = 0;
			char *said = read_file(log, 4096, &len, &err);
			char *nl = said ? strchr(said, '\n') : NULL;
			if (nl)
				*nl = '\0';
			snprintf(words, sizeof words, "QEMU %s to -sandbox: %.200s", how,
				 said && *said ? said : "(nothing said)");
			free(said);
		}
		proc_stop(&p, 1000);
		proc_release(&p);
		argv_release(&a);
		if (fd >= 0) {
			close(fd);
			unlink(log);
		}
	}
	if (takes)
		return QEMU_SANDBOX;
	snprintf(note, n, "no seccomp sandbox: %s; the run went ahead without -sandbox", words);
	return NULL;
}

void qemu_guest_boot(struct argv *out, const struct guest *guest, const char *image,
		     const char *image_format, const char *kernel, const char *append)
{
	switch (guest->media) {
	case MEDIA_DISK:
		/* snapshot=on: the guest may write, the image never changes. */
		argv_push(out, "-drive");
		argv_pushf(out, "if=ide,format=%s,snapshot=on,file=%s", image_format ? image_format : "raw",
			   image);
		argv_push(out, "-boot");
		argv_push(out, "order=c,strict=on");
		break;
	case MEDIA_KERNEL:
		argv_push(out, "-kernel");
		argv_push(out, kernel);
		argv_push(out, "-initrd");
		argv_push(out, image);
		argv_push(out, "-append");
		argv_push(out, append);
		break;
	}
}

int qemu_argv(struct argv *out, const struct cell *cell, const struct qemu_env *env,
	      struct hil_err *err)
{
	const struct card *card = cell->card;

	if (!qemu_firmware_bin(cell->firmware)) {
		hil_seterr(err, "firmware '%s' is not supported (seabios, ovmf)", cell->firmware);
		return -1;
	}
	if (card->kind == CARD_VFIO) {
		if (!env->host) {
			hil_seterr(err, "card %s is a physical (vfio) card: it needs a station (--host BDF or a stations file)",
				   card->id);
			return -1;
		}
		if (card->rom == ROM_REQUIRED && !env->rom) {
			hil_seterr(err, "card %s needs a ROM file (rom required in %s): give --rom FILE or 'rom' in its station",
				   card->id, card->path);
			return -1;
		}
		if (card->rom == ROM_NONE && env->rom) {
			hil_seterr(err, "card %s takes no ROM file (rom none in %s)", card->id, card->path);
			return -1;
		}
	}

	argv_push(out, env->qemu);
	argv_push(out, "-nodefaults");
	argv_push(out, "-no-user-config");
	if (env->sandbox) {
		argv_push(out, "-sandbox");
		argv_push(out, env->sandbox);
	}
	argv_push(out, "-name");
	argv_pushf(out, "hilrun-%s,debug-threads=on", card->id);
	argv_push(out, "-machine");
	argv_pushf(out, "pc,accel=%s", env->accel);
	argv_push(out, "-m");
	argv_pushf(out, "%d", env->memory_mb > 0 ? env->memory_mb
						 : qemu_memory_mb(cell->guest, cell->firmware));
	argv_push(out, "-bios");
	argv_push(out, env->firmware_bin ? env->firmware_bin : qemu_firmware_bin(cell->firmware));
	/* A guest that resets (triple fault, reboot) ends QEMU instead of looping. */
	argv_push(out, "-no-reboot");

	argv_push(out, "-chardev");
	argv_pushf(out, "socket,id=qmp,path=%s", env->qmp_socket);
	argv_push(out, "-mon");
	argv_push(out, "chardev=qmp,mode=control");
	argv_push(out, "-chardev");
	argv_pushf(out, "socket,id=com1,path=%s", env->serial_socket);
	argv_push(out, "-serial");
	argv_push(out, "chardev:com1");
	argv_push(out, "-device");
	argv_push(out, "isa-debug-exit,iobase=" GUEST_EXIT_PORT ",iosize=0x04");
	/* A guest kernel's panic reaches hilrun as GUEST_PANICKED; paused, the
	 * VM keeps its screen for the record instead of powering off. */
	argv_push(out, "-device");
	argv_push(out, "pvpanic");
	argv_push(out, "-action");
	argv_push(out, "panic=pause");

	qemu_guest_boot(out, cell->guest, env->guest_image, env->guest_image_format,
			env->guest_kernel, cell->guest->cmdline);

	if (card->kind == CARD_EMULATED) {
		argv_push(out, "-device");
		argv_push(out, card->qemu_device);
		argv_push(out, "-display");
		argv_push(out, "none");
		argv_push(out, "-vnc");
		argv_pushf(out, "unix:%s", env->vnc_socket);
	} else {
		/* The card's output goes to its own connector, captured by the
		 * station's capture device; QEMU draws nothing. */
		argv_push(out, "-vga");
		argv_push(out, "none");
		argv_push(out, "-display");
		argv_push(out, "none");
		argv_push(out, "-device");
		struct strbuf dev = STRBUF_INIT;
		sb_addf(&dev, "vfio-pci,host=%s", env->host);
		if (card->x_vga)
			sb_adds(&dev, ",x-vga=on");
		if (env->rom)
			sb_addf(&dev, ",romfile=%s", env->rom);
		argv_push(out, sb_str(&dev));
		sb_release(&dev);
	}

	for (size_t i = 0; i < cell->variant->args.n; i++)
		argv_push(out, cell->variant->args.v[i]);

	if (env->start_paused)
		argv_push(out, "-S");
	return 0;
}

int qemu_memory_mb(const struct guest *guest, const char *firmware)
{
	/* OVMF wants more than SeaBIOS's 128 MiB for its own structures; an
	 * OS guest says what it needs. */
	return guest->memory_mb > 0 ? guest->memory_mb : !strcmp(firmware, "ovmf") ? 256 : 128;
}

int qemu_card_memory_mb(const struct card *card)
{
	int most = 0;
	for (size_t g = 0; g < card->guests.n; g++) {
		const struct guest *guest = guest_find(card->guests.v[g]);
		for (size_t f = 0; guest && f < card->firmwares.n; f++) {
			int mb = qemu_memory_mb(guest, card->firmwares.v[f]);
			if (guest_runs_under(guest, card->firmwares.v[f]) && mb > most)
				most = mb;
		}
	}
	return most;
}
