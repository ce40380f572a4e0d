/* calib: learn a card's glyphs from the calibration screen the bios-post
 * guest draws (docs/report-protocol.md, "calib show"): code N at row
 * first_row + N / per_row, column first_col + (N % per_row) * step, all in
 * one attribute. Space (0x20) gives the background colour, the full block
 * (0xDB) the foreground; every cell is binarised between the two.
 *
 * Frames at text mode's native geometry (720x400 with 9x16 cells, 640x400
 * with 8x16) are read pixel for pixel here; any other frame is taken for a
 * capture of the screen (scaled, compressed, bordered) and read by
 * textmode_learn_capture().
 *
 * Ownership: plain data in and out; nothing is kept. */
#ifndef HIL_CALIB_H
#define HIL_CALIB_H

#include <stdint.h>
#include "image.h"
#include "vgafont.h"
#include "util.h"

struct calib_layout {
	int first_row, first_col, step, per_row;
};

struct calib_result {
	struct vgafont font;          /* the glyphs as the card drew them */
	int cell_w;                   /* 9 or 8 */
	uint8_t ninth_copied[256];    /* 9-pixel cells: column 9 repeats column 8 (and has ink) */
	uint8_t fg[3], bg[3];         /* the colours found */
};

int calib_learn(const struct frame *f, const struct calib_layout *l, struct calib_result *out,
		struct hil_err *err);

/* Codes whose glyph differs from the reference font; returns how many, and
 * writes up to max of them into codes. */
int calib_differences(const struct vgafont *learned, const struct vgafont *ref, uint8_t *codes,
		      int max);

#endif
