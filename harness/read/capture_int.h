/* capture_int: what the files of the capture reader share: the grid and
 * the frame as they sample them, the sampling helpers more than one uses,
 * and what one calls in another. Internal to the text decoder; the text
 * reader (textmode.c) sees only capture.h.
 *
 * Scaled and compressed frames (capture boxes, IP-KVMs): the 80x25 screen
 * of 9x16 (or 8x16) cells arrives resampled by sx, sy (frame pixels per
 * text-mode pixel, at least 1; the two may differ), inside a border of up
 * to BORDER_FRAC of the frame, JPEG-compressed. Where the grid is, is
 * found, never assumed.
 *
 * The steps, in order (capture.c): find the grid (capture_grid.c, steps
 * 1-5: profiles of the gradient, the cell period they repeat at, which
 * pixel boundary starts a cell, scale, a fit of origin and scale), then
 * read every cell on it (capture_cells.c, steps 6-7: in grey, in colour,
 * then against the frame's own pixels where not trusted: capture_fit.c);
 * in a stream, only the cells whose pixels changed (capture_reuse.c).
 * capture_learn.c learns a card's glyphs from a capture of the calibration
 * screen with the same sampling.
 *
 * Ownership: plain data and declarations; nothing here allocates. */
#ifndef HIL_CAPTURE_INT_H
#define HIL_CAPTURE_INT_H

#include "glyphset.h"
#include "vec4.h"

#include <string.h>

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

/* How the capture spreads a text-mode pixel, in text-mode pixels: each
 * takes l of the one on its left and r of the one on its right (a smear
 * leaks one way, a late sampling phase the other, bilinear enlargement
 * both), and ky of each above and below. */
struct response {
	float l, r, ky;
	int learned;     /* from a frame's own cells (capture_learn_response()) */
};
/* What a whole reading re-ranks through (capture_read_grid()). */
enum { RESP_GUESS, RESP_LEARN, RESP_KEEP };

/* A frame as the capture reader samples it. */
struct scaled {
	int w, h;
	const uint8_t *rgb;
	uint8_t *grey;   /* w * h luma: read it through grey_line() */
	uint8_t *grey_ok; /* h flags: that line of grey is filled; NULL: all are */
};

/* The grey of an RGB pixel, as every grey of the capture reader is made. */
static inline uint8_t grey_of(const uint8_t *p)
{
	return (uint8_t)((77u * p[0] + 150u * p[1] + 29u * p[2]) >> 8);
}

/* Line y of s's grey, filled from s->rgb the first time it is asked for
 * (a kept grid reads about half a frame's lines, not all of them). */
static inline const uint8_t *grey_line(const struct scaled *s, int y)
{
	uint8_t *g = s->grey + (size_t)y * (size_t)s->w;
	if (s->grey_ok && !s->grey_ok[y]) {
		const uint8_t *p = s->rgb + (size_t)y * (size_t)s->w * 3;
		for (int x = 0; x < s->w; x++, p += 3)
			g[x] = grey_of(p);
		s->grey_ok[y] = 1;
	}
	return g;
}

/* The grey of pixel (x, y) of s, as grey_line() would fill it, without
 * filling its line: a check of a kept grid reads a few pixels of most
 * lines, which filling them would cost a whole frame's grey for. */
static inline int grey_px(const struct scaled *s, int x, int y)
{
	if (!s->grey_ok || s->grey_ok[y])
		return s->grey[(size_t)y * (size_t)s->w + (size_t)x];
	return grey_of(s->rgb + ((size_t)y * (size_t)s->w + (size_t)x) * 3);
}

/* Luma of an RGB colour. */
#define LUMA(r, g, b) (0.299f * (r) + 0.587f * (g) + 0.114f * (b))

/* Where a sample at frame coordinate u (pixel centres at i + 0.5) reads:
 * the pixel before it and the weight of the one after, clamped to n. */
static inline void tap(double u, int n, int *i0, float *w)
{
	u -= 0.5;
	if (u < 0)
		u = 0;
	if (u > n - 1)
		u = n - 1;
	int i = (int)u;
	if (i > n - 2)
		i = n - 2;
	*i0 = i;
	*w = (float)(u - i);
}

/* Split n grey values (n a multiple of 4) into two levels (2-means from
 * the extremes). 0 if they are one colour. */
static inline int split_grey(const float *v, int n, float *lo, float *hi)
{
	/* Four values at once, branch-free: the sums take 0 where a value
	 * is on the other side. */
	f4 mn = f4_load(v), mx = mn;
	for (int i = 4; i < n; i += 4) {
		const f4 x = f4_load(v + i);
		mn = f4_min(x, mn);
		mx = f4_max(x, mx);
	}
	float a = f4_hmin(mn), b = f4_hmax(mx);
	if (b - a < BLANK_SPREAD)
		return 0;
	int last = -1;
	for (int it = 0; it < 3; it++) {
		const f4 t = f4_all((a + b) * 0.5f);
		f4 sa = { 0 }, sb = { 0 };
		m4 ups = { 0 };
		for (int i = 0; i < n; i += 4) {
			const f4 x = f4_load(v + i);
			const m4 up = x > t;
			sb += f4_keep(x, up);
			sa += f4_keep(x, ~up);
			ups += up;
		}
		const int nb = m4_count(ups), na = n - nb;
		if (!na || !nb || nb == last)
			break;
		last = nb;
		a = f4_sum(sa) / (float)na;
		b = f4_sum(sb) / (float)nb;
	}
	*lo = a;
	*hi = b;
	return 1;
}

/* Row masks of the samples above t (bit cw-1 is the leftmost pixel). */
static inline void grey_mask(const float *v, int cw, float t, uint16_t *on)
{
	/* Four samples at a time into one stream of bits, the first sample
	 * the most significant; then each row's cw bits out of it. */
	uint64_t bits[(9 * CELL_H + 63) / 64] = { 0 };
	const f4 tv = f4_all(t);
	for (int k = 0; k < cw * CELL_H; k += 4)
		bits[k / 64] |= (uint64_t)m4_bits(f4_load(v + k) > tv) << (60 - k % 64);
	for (int y = 0; y < CELL_H; y++) {
		const int at = y * cw, word = at / 64, end = at % 64 + cw; /* end: bits used of word */
		const uint64_t row = end <= 64 ? bits[word] >> (64 - end)
					       : bits[word] << (end - 64) | bits[word + 1] >> (128 - end);
		on[y] = (uint16_t)(row & ((1u << cw) - 1));
	}
}

/* Finding the grid (capture_grid.c). */
/* The grid of frame s, in 9- or 8-pixel cells: 1 found, 0 none, -1 error. */
int capture_find_grid(const struct scaled *s, const struct glyphset *gs9,
		      const struct glyphset *gs8, struct grid *out, struct hil_err *err);
/* The share of inked cells that grid g reads exactly in s (1 if too few). */
double capture_check_grid(const struct scaled *s, const struct glyphset *gs,
			  const struct grid *g);
/* How far the samples of cells (row << 8 | col) sit from two levels. */
double capture_spread(const struct scaled *s, const struct grid *g, const uint16_t *cells, int n);
/* g polished to the least capture_spread() over cells. */
void capture_refine(const struct scaled *s, struct grid *g, const uint16_t *cells, int n);

/* Reading the cells (capture_cells.c). */
/* The cells of s on grid g marked in only (row * GRID_COLS + col; every
 * cell if NULL) read into out, the rest of out kept; the number of cells
 * of out not trusted. lift: each screen row's black level, found (only
 * NULL) or as found by an earlier reading of every cell; resp likewise,
 * the response untrusted cells are re-ranked through (NULL: none are),
 * which a whole reading guesses, learns or keeps as learn says. */
int capture_read_grid(const struct glyphset gs[2], const struct scaled *s, const struct grid *g,
		      const uint8_t *only, float lift[GRID_ROWS], int learn, struct response *resp,
		      struct text_screen *out);
/* The RGB samples of cell (col, row) at its text-mode pixel centres. */
void capture_sample_cell(const struct scaled *s, const struct grid *g, int col, int row,
			 float v[][3]);
/* Those samples with the resampling blur undone, into v. */
void capture_sharpen_cell(const struct scaled *s, const struct grid *g, int col, int row,
			  float v[][3]);

/* Fitting glyphs to the frame (capture_fit.c). */
struct footprint {
	int n;                      /* frame pixels */
	/* The drawing of a glyph is linear in its blurred mask m (one value a
	 * text-mode pixel: t = row * cw + column): each frame pixel is
	 * bilinear between four, its weights a column's times a row's. So
	 * the sums a fit needs are m's products with these, gathered once a
	 * cell instead of once a glyph, the weights' own sums apart along
	 * each axis: */
	double wx[9], wwx[9][3];    /* per text-mode column: its weights' sum, and
				     * its weights times the column before, its
				     * own, the one after */
	double wr[CELL_H], wwr[CELL_H][3]; /* the same per text-mode row */
	double wy[CELL_H * 9][3];   /* per text-mode pixel: its weights times the
				     * frame's Y, Cb, Cr */
	double sy[3], syy[3];       /* sums of the frame's Y, Cb, Cr and their squares */
};
/* One glyph set's glyphs drawn through one response, each the first time
 * it is asked for: a reading fits hundreds of cells to the same few dozen
 * glyphs. Ownership: capture_drawings_init() allocates, _release() frees. */
struct drawings {
	struct response rp;
	uint8_t drawn[256];
	float (*m)[CELL_H][9];  /* the 256 drawings; NULL (out of memory): */
	float one[CELL_H][9];   /* each drawn afresh here */
};
void capture_drawings_init(struct drawings *d, const struct response *rp);
void capture_drawings_release(struct drawings *d);
/* The footprint of cell (col, row): the sums capture_fit_glyph() needs. */
void capture_footprint(const struct scaled *s, const struct grid *g, int col, int row,
		       struct footprint *fp);
/* The residual of fp's pixels after the best fit of glyph code drawn in
 * two text colours as d draws it; those colours in pal[] (indices of the
 * 16: 0 the background, 1 the foreground). */
float capture_fit_glyph(const struct glyphset *gs, int code, const struct footprint *fp,
			struct drawings *d, int pal[2]);
/* The code among the glyphs nearest the binarised cell (on) whose drawing
 * fits fp best; -1 if the footprint is too small to say. With dither (not
 * NULL) the dithers are tried too, through a late sampling phase, and if
 * one is the reading its colours are put there as capture_fit_glyph()'s. */
int capture_rerank(const struct glyphset *gs, const uint16_t *on, const struct footprint *fp,
		   struct drawings *d, int dither[2]);
/* The dither (0xB0-0xB2) that, drawn as capture_rerank() tries them, fits
 * fp better than one text colour, its colours in pal[]; -1 if none. */
int capture_fit_dither(const struct glyphset *gs, const struct footprint *fp,
		       const struct response *rp, int pal[2]);
/* rp (holding a first guess) learned from the trusted inked cells of t,
 * read from s on grid g: the response whose drawings of their glyphs fit
 * their pixels best. Left as it is if too few cells say. */
void capture_learn_response(const struct glyphset *gs, const struct scaled *s,
			    const struct grid *g, const struct text_screen *t, struct response *rp);

#endif
