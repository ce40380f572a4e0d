/* pattern: recognise the graphics test pattern (docs/graphics-pattern.md)
 * in a frame: 16 x 12 blocks of primaries (colour bars, a checkerboard, the
 * run's 32-bit code, red/green rows) drawn by a reference guest in the
 * mode it set.
 *
 * A frame the size of the mode is read at the mode's pixels; any other
 * size (a capture device's) is taken for the whole screen scaled to the
 * frame, unless the caller insists on the mode's size (exact_size: the
 * mode's size, or twice it on an axis, as QEMU shows mode 13h).
 *
 * Ownership: plain data in and out; pattern_diff() fills a frame the
 * caller owns. */
#ifndef HIL_PATTERN_H
#define HIL_PATTERN_H

#include <stdint.h>
#include "image.h"
#include "util.h"

#define PATTERN_COLS 16
#define PATTERN_ROWS 12

/* A primary as 3 bits: red 4, green 2, blue 1 (0 black, 7 white). */
enum primary { P_BLACK = 0, P_BLUE = 1, P_GREEN = 2, P_CYAN = 3, P_RED = 4, P_MAGENTA = 5,
	       P_YELLOW = 6, P_WHITE = 7 };

struct pattern_result {
	int size_ok;        /* the frame is the mode's size (or scaling was allowed) */
	int bad_blocks;     /* blocks that do not read as the spec says */
	uint32_t code_read; /* the code as the frame shows it (bits read as white) */
	int code_ok;        /* every code block read white or blue, and equal to the code */
	/* per block: what it read as */
	uint8_t got[PATTERN_ROWS][PATTERN_COLS];
	uint8_t want[PATTERN_ROWS][PATTERN_COLS];
	char why[256];      /* "" when the pattern is there; else the first reason */
};

/* The colour block (col, row) has in the pattern carrying code. */
enum primary pattern_expected(int col, int row, uint32_t code);

/* Read frame f as the pattern of a mode_w x mode_h screen carrying code.
 * Returns 1 if the pattern is there (every block, and the code), 0 if not
 * (res->why says what first differed), -1 on bad arguments (err). If
 * exact_size, a frame of another size than the mode is not the pattern. */
int pattern_check(const struct frame *f, int mode_w, int mode_h, uint32_t code, int exact_size,
		  struct pattern_result *res, struct hil_err *err);

/* An image of where f differed: f dimmed, each block that read wrong
 * outlined in black and white and filled, in its middle, with the colour
 * it should have. */
void pattern_diff(const struct frame *f, int mode_w, int mode_h,
		  const struct pattern_result *res, struct frame *out);

#endif
