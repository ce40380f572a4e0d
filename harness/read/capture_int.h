/* capture_int: what the files of the capture reader share: the grid and
 * the frame as they sample them, the sampling helpers more than one uses,
 * and what one calls in another. Internal to the text decoder; the text
 * reader (textmode.c) sees only textmode_int.h.
 *
 * Scaled and compressed frames (capture boxes, IP-KVMs): the 80x25 screen
 * of 9x16 (or 8x16) cells arrives resampled by sx, sy (frame pixels per
 * text-mode pixel, at least 1; the two may differ), inside a border of up
 * to BORDER_FRAC of the frame, JPEG-compressed. Where the grid is, is
 * found, never assumed.
 *
 * Ownership: plain data and declarations; nothing here allocates. */
#ifndef HIL_CAPTURE_INT_H
#define HIL_CAPTURE_INT_H

#include "glyphset.h"

#define GRID_COLS 80
#define GRID_ROWS 25
#define BORDER_FRAC 0.05    /* at most this much of a dimension is border */
#define BLANK_SPREAD 48.0f  /* grey range below which a cell is one colour */

/* Where the cells are in a frame. */
struct grid {
	int cw;          /* text-mode pixels per cell across: 9 or 8 */
	double sx, sy;   /* frame pixels per text-mode pixel */
	double ox, oy;   /* frame coordinates of the grid's top left corner
			  * (pixel i spans [i, i + 1)) */
};

/* A frame as the capture reader samples it. */
struct scaled {
	int w, h;
	const uint8_t *rgb;
	uint8_t *grey;   /* w * h luma */
};

/* Luma of an RGB colour. */
#define LUMA(r, g, b) (0.299f * (r) + 0.587f * (g) + 0.114f * (b))

/* textcapture.c, for capture_learn.c. */
/* How far the samples of cells (row << 8 | col) sit from two levels. */
double spread(const struct scaled *s, const struct grid *g, const uint16_t *cells, int n);
/* g polished to the least spread() over cells. */
void refine(const struct scaled *s, struct grid *g, const uint16_t *cells, int n);
/* The RGB samples of cell (col, row) at its text-mode pixel centres. */
void sample_cell(const struct scaled *s, const struct grid *g, int col, int row, float v[][3]);
/* Those samples with the resampling blur undone. */
void sharpen_cell(const struct scaled *s, const struct grid *g, int col, int row, float v[][3]);

#endif
