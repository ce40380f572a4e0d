/* romdump: see romdump.h. */
#include "romdump.h"
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int posix_open(const char *path, int flags)
{
	return open(path, flags | O_CLOEXEC);
}

const struct rom_io rom_io_posix = { posix_open, read, write, close };

/* Write the two bytes of an enable ("1\n") or disable ("0\n"); errno. */
static int put(const struct rom_io *io, const char *path, const char *what)
{
	int fd = io->open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	ssize_t n;
	do
		n = io->write(fd, what, 2);
	while (n < 0 && errno == EINTR);
	int e = n == 2 ? 0 : n < 0 ? errno : EIO;
	io->close(fd);
	return e;
}

/* Read to the end; 0 or errno (the bytes read so far are kept). */
static int slurp(const struct rom_io *io, const char *path, struct rom_dump *d)
{
	int fd = io->open(path, O_RDONLY);
	if (fd < 0)
		return errno;
	size_t cap = 64 * 1024;
	d->data = xmalloc(cap);
	int e = 0;
	for (;;) {
		if (d->len == cap) {
			if (cap > ROM_FILE_MAX) {
				e = EFBIG;
				break;
			}
			cap *= 2;
			d->data = xrealloc(d->data, cap);
		}
		ssize_t n = io->read(fd, d->data + d->len, cap - d->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			e = errno;
		if (n <= 0)
			break;
		d->len += (size_t)n;
	}
	io->close(fd);
	return e;
}

static const char *open_fix(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
		return ": the rom attribute is root's (mode 0600): run hilrun rom dump as root";
	case ENOENT:
		return ": the device has no expansion ROM (no ROM BAR, so no rom attribute)";
	default:
		return "";
	}
}

static const char *read_fix(int e)
{
	switch (e) {
	case EIO:
		/* pci_read_rom: pci_map_rom found no ROM or no 0x55AA image
		 * behind the ROM BAR (dmesg: "Invalid PCI ROM header signature"). */
		return ": the kernel found no valid ROM image behind the card's ROM BAR (dmesg says why): "
		       "the card may be asleep (runtime D3: read it while vfio-pci holds it, e.g. while a guest runs), "
		       "its ROM BAR unassigned (pci=realloc), or, for the host's boot VGA, only the shadowed copy is there "
		       "(dump it from a host where the card is not the boot VGA)";
	case EINVAL:
		return ": the kernel says the ROM is not enabled (the \"1\" written to it did not take)";
	case EFBIG:
		return ": larger than 16 MiB, not a ROM";
	default:
		return "";
	}
}

int rom_dump_read(const char *bdf, const struct rom_io *io, struct rom_dump *d, struct hil_err *err)
{
	memset(d, 0, sizeof *d);
	char *dev = pci_dev_path(bdf, NULL);
	char *rom = pci_dev_path(bdf, "rom");
	int rc = ROMDUMP_LAB;
	if (access(dev, F_OK) < 0) {
		hil_seterr(err, "rom dump: no PCI device %s on this host (%s: %s)", bdf, dev, strerror(errno));
		rc = ROMDUMP_CONFIG;
		goto out;
	}
	if (pci_dev_hex(bdf, "vendor", &d->vendor) < 0 || pci_dev_hex(bdf, "device", &d->device) < 0) {
		hil_seterr(err, "rom dump: cannot read the PCI ids of %s (%s)", bdf, dev);
		goto out;
	}
	unsigned boot_vga = 0;
	d->boot_vga = pci_dev_hex(bdf, "boot_vga", &boot_vga) == 0 && boot_vga == 1;

	int e = put(io, rom, "1\n");
	if (e == ENOENT || e == EACCES || e == EPERM) {
		/* not opened: nothing was enabled */
		hil_seterr(err, "rom dump: cannot enable %s: %s%s", rom, strerror(e), open_fix(e));
		goto out;
	}
	int read_e = e ? 0 : slurp(io, rom, d);
	int off_e = put(io, rom, "0\n");
	if (e) {
		hil_seterr(err, "rom dump: cannot enable %s: %s", rom, strerror(e));
	} else if (read_e) {
		hil_seterr(err, "rom dump: cannot read %s: %s%s (after %zu bytes)", rom, strerror(read_e),
			   read_fix(read_e), d->len);
	} else if (off_e) {
		hil_seterr(err, "rom dump: cannot disable %s again: %s (it stays readable until 'echo 0 >%s')",
			   rom, strerror(off_e), rom);
	} else if (rom_check_bytes(rom, d->data, d->len, 0, 0, &d->info, err) < 0) {
		char why[HIL_ERR_MAX];
		snprintf(why, sizeof why, "%s", err->msg);
		hil_seterr(err, "rom dump: the %zu bytes read are not a usable option ROM: %s%s", d->len, why,
			   d->boot_vga ? " (the card is the boot VGA: this is the shadow copy its BIOS ran from)" : "");
	} else {
		rc = 0;
	}
out:
	if (rc) {
		free(d->data);
		d->data = NULL;
		d->len = 0;
	}
	free(rom);
	free(dev);
	return rc;
}

void rom_dump_release(struct rom_dump *d)
{
	free(d->data);
	memset(d, 0, sizeof *d);
}
