/* vgafont: the 8x16 VGA font that text mode draws with, and code page 437.
 *
 * The glyphs come from the card's own VGA BIOS ROM (the 4 KiB 8x16 font table
 * that every VGA BIOS carries for int 10h AX=1130h) or, later, from a
 * calibration screen. The default is the installed SeaBIOS VGA BIOS.
 *
 * Ownership: struct vgafont is plain data (no pointers); copy it freely. */
#ifndef HIL_VGAFONT_H
#define HIL_VGAFONT_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define VGAFONT_DEFAULT_ROM "/usr/share/seabios/vgabios-stdvga.bin"

struct vgafont {
	int width, height;       /* 8 x 16 */
	uint8_t glyph[256][16];  /* row bitmaps, bit 7 = leftmost pixel */
	char source[256];        /* "ROM-PATH@0xOFFSET", for records */
};

/* Find the 8x16 font table in a VGA BIOS ROM image. Errors name the file
 * and what was not found. */
int vgafont_from_rom(struct vgafont *f, const char *path, struct hil_err *err);
/* Same, from bytes in memory (name is used in messages). */
int vgafont_from_bytes(struct vgafont *f, const uint8_t *rom, size_t len, const char *name,
		       struct hil_err *err);

/* Code page 437 code -> Unicode code point (0x00 -> U+0020 space for screens,
 * 0x01 -> U+263A, ..., 0xB3 -> U+2502, 0xDB -> U+2588). */
uint32_t cp437_to_unicode(uint8_t code);
/* Append the UTF-8 encoding of a code point to buf (at most 4 bytes);
 * returns the number of bytes written. */
int utf8_encode(uint32_t cp, char *buf);

#endif
