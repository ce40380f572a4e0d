/* romdump: read a PCI card's option ROM through sysfs, the way Linux's
 * rom attribute wants it: write "1\n" to BDF/rom (enable), read it to its
 * end, write "0\n" (disable; exactly two bytes at offset 0: older kernels
 * disable on nothing else). Once the enable was opened the disable is
 * attempted on every path: read errors, short reads, bad ROMs. Each step
 * is its own open, as `echo 1 >rom; cat rom; echo 0 >rom` does.
 *
 * The I/O goes through a table (struct rom_io) so that tests can play the
 * kernel's attribute over a fixture (test_romdump): a regular file cannot
 * (writing "1\n" to it would overwrite the ROM). The sysfs root is
 * $HILRUN_SYSFS, as for the preflight.
 *
 * Ownership: struct rom_dump owns its bytes; rom_dump_release frees them. */
#ifndef HIL_ROMDUMP_H
#define HIL_ROMDUMP_H

#include <sys/types.h>

#include "rom.h"
#include "util.h"

struct rom_io {
	int (*open)(const char *path, int flags);
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*write)(int fd, const void *buf, size_t n);
	int (*close)(int fd);
};
extern const struct rom_io rom_io_posix;

struct rom_dump {
	unsigned char *data;
	size_t len;
	unsigned vendor, device; /* the device's own ids (sysfs vendor, device) */
	int boot_vga;            /* the kernel hands out its shadow copy (0xC0000) */
	struct rom_info info;    /* rom_check_bytes of the data (ids unchecked) */
};

#define ROMDUMP_LAB (-1)    /* the host would not give a usable ROM */
#define ROMDUMP_CONFIG (-2) /* no such device */

/* 0, or ROMDUMP_LAB / ROMDUMP_CONFIG with err saying what and why. */
int rom_dump_read(const char *bdf, const struct rom_io *io, struct rom_dump *d, struct hil_err *err);
void rom_dump_release(struct rom_dump *d);

#endif
