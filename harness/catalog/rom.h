/* rom: check a PCI option ROM file before QEMU is given it (romfile=).
 *
 * A ROM image starts with 0x55 0xAA; at 0x18 a 16-bit pointer to the "PCIR"
 * structure, which holds the vendor and device id, the image length in
 * 512-byte units, the code type (0 x86 BIOS, 3 EFI) and a last-image flag.
 * A file may hold several images back to back. A legacy x86 image sums to 0
 * mod 256 over its length.
 *
 * Ownership: plain values; nothing is kept. */
#ifndef HIL_ROM_H
#define HIL_ROM_H

#include "util.h"

#define ROM_FILE_MAX (16 * 1024 * 1024)

struct rom_info {
	unsigned vendor, device; /* of the first image */
	int images;
	int has_x86, has_efi;
	int x86_checksum_ok;     /* every x86 image sums to 0 */
};

/* Parse and check; if vendor/device are nonzero, the first image must carry
 * them. Errors read "FILE: what is wrong (offset 0x...)". */
int rom_check(const char *path, unsigned vendor, unsigned device, struct rom_info *info,
	      struct hil_err *err);
/* The same on bytes in memory; name stands for the file in messages. */
int rom_check_bytes(const char *name, const unsigned char *data, size_t len, unsigned vendor,
		    unsigned device, struct rom_info *info, struct hil_err *err);

#endif
