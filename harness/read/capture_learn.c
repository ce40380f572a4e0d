/* capture_learn: learning a card's glyphs from a capture (scaled,
 * compressed, bordered) of its calibration screen:
 * textmode_learn_capture() (textmode.h). The calibration cells are the
 * only ones not of the screen's clear colour: their outer edges, found
 * where the row and column profiles of "not the clear colour" cross half
 * their height (interpolated: a resampled edge is a ramp whose middle is
 * the edge), give cell size and origin to a fraction of a frame pixel. 9
 * or 8 pixels per cell: whichever puts the samples nearer two levels
 * (capture_spread()), then polished by capture_refine() (capture_grid.c). A border of
 * another colour than the screen's is told by the frame's corners and left
 * out.
 *
 * Ownership: the glyphs and geometry go into the caller's struct
 * textmode_learning; scratch memory is freed before returning. */
#include "capture_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Where a profile first (dir 1, from the start) or last (dir -1, from the
 * end) crosses level, as a frame coordinate (pixel i's centre is i + 0.5);
 * -1 if it never does. */
static double crossing(const double *p, int n, double level, int dir)
{
	int i = dir > 0 ? 0 : n - 1;
	for (; i >= 0 && i < n && p[i] < level; i += dir)
		;
	if (i < 0 || i >= n)
		return -1;
	int j = i - dir; /* the sample before, below level */
	if (j < 0 || j >= n)
		return dir > 0 ? i : i + 1;
	double t = (level - p[j]) / (p[i] - p[j]);
	return (j + 0.5) + dir * t;
}

/* p[] through a running median of 5: a line or two of pixels blended
 * between a border and the screen (far from both colours) is not a cell. */
static void median5(double *p, int n)
{
	double prev[2] = { p[0], p[0] };
	for (int i = 0; i < n; i++) {
		double v[5];
		for (int k = -2; k <= 2; k++)
			v[k + 2] = k < 0 ? prev[k + 2] : p[i + k < n ? i + k : n - 1];
		for (int a = 1; a < 5; a++)
			for (int b = a; b > 0 && v[b] < v[b - 1]; b--) {
				double t = v[b];
				v[b] = v[b - 1];
				v[b - 1] = t;
			}
		prev[0] = prev[1];
		prev[1] = p[i];
		p[i] = v[2];
	}
}

static int colour_far(const uint8_t *p, const int *c, int d2)
{
	int d = 0;
	for (int k = 0; k < 3; k++)
		d += (p[k] - c[k]) * (p[k] - c[k]);
	return d > d2;
}

/* The mean colour inside the ring of cell (col, row)'s samples. */
static void inner_mean(const struct scaled *s, const struct grid *g, int col, int row,
		       uint8_t out[3], float *range)
{
	float v[9 * CELL_H][3], sum[3] = { 0, 0, 0 }, lo = 1e9f, hi = -1;
	int n = 0;
	capture_sample_cell(s, g, col, row, v);
	for (int y = 2; y < CELL_H - 2; y++)
		for (int i = 2; i < g->cw - 2; i++) {
			const float *p = v[y * g->cw + i];
			float l = LUMA(p[0], p[1], p[2]);
			lo = l < lo ? l : lo;
			hi = l > hi ? l : hi;
			for (int c = 0; c < 3; c++)
				sum[c] += p[c];
			n++;
		}
	for (int c = 0; c < 3; c++)
		out[c] = (uint8_t)lrintf(sum[c] / (float)n);
	*range = hi - lo;
}

int textmode_learn_capture(const struct frame *f, struct textmode_learning *l,
			   struct hil_err *err)
{
	if (!f || !f->rgb || f->width < 720 || f->height < 400) {
		hil_seterr(err, "calibration frame is %dx%d: too small for a capture of an 80x25 screen",
			   f ? f->width : 0, f ? f->height : 0);
		return -1;
	}
	int rmin = 255, rmax = 0, cmin = 255, cmax = 0;
	for (int k = 0; k < 256; k++) {
		if (l->row[k] >= GRID_ROWS || l->col[k] >= GRID_COLS) {
			hil_seterr(err, "calibration layout does not fit an 80x25 screen");
			return -1;
		}
		rmin = l->row[k] < rmin ? l->row[k] : rmin;
		rmax = l->row[k] > rmax ? l->row[k] : rmax;
		cmin = l->col[k] < cmin ? l->col[k] : cmin;
		cmax = l->col[k] > cmax ? l->col[k] : cmax;
	}
	const int w = f->width, h = f->height;
	/* The clear colour: the commonest (colours quantised to 4 bits per
	 * channel, every 4th pixel of every 4th line), its pixels' mean. */
	int *hist = calloc(4096, sizeof *hist);
	double *prow = calloc((size_t)w + (size_t)h, sizeof *prow), *pcol = prow + h;
	uint8_t *grey = malloc((size_t)w * (size_t)h);
	int rc = -1;
	if (!hist || !prow || !grey) {
		hil_seterr(err, "out of memory");
		goto out;
	}
	for (int y = 0; y < h; y += 4)
		for (int x = 0; x < w; x += 4) {
			const uint8_t *p = f->rgb + ((size_t)y * w + x) * 3;
			hist[(p[0] >> 4) << 8 | (p[1] >> 4) << 4 | p[2] >> 4]++;
		}
	int top = 0;
	for (int i = 1; i < 4096; i++)
		top = hist[i] > hist[top] ? i : top;
	int clear[3] = { (top >> 8) * 16 + 8, (top >> 4 & 15) * 16 + 8, (top & 15) * 16 + 8 };
	int corner[3] = { 0, 0, 0 };
	const size_t corners[4] = { 0, (size_t)w - 1, (size_t)(h - 1) * w, (size_t)h * w - 1 };
	for (int k = 0; k < 4; k++)
		for (int c = 0; c < 3; c++)
			corner[c] += f->rgb[corners[k] * 3 + c] / 4;
	/* Profiles of the pixels far from both: the calibration cells. */
	enum { FAR2 = 48 * 48 };
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			const uint8_t *p = f->rgb + ((size_t)y * w + x) * 3;
			grey[(size_t)y * w + x] = grey_of(p);
			if (colour_far(p, clear, FAR2) && colour_far(p, corner, FAR2))
				prow[y]++;
		}
	median5(prow, h);
	double rpeak = 0;
	for (int y = 0; y < h; y++)
		rpeak = prow[y] > rpeak ? prow[y] : rpeak;
	double ytop = crossing(prow, h, rpeak / 2, 1), ybot = crossing(prow, h, rpeak / 2, -1);
	if (rpeak < 16 || ytop < 0 || ybot <= ytop) {
		hil_seterr(err, "calibration screen not found in the %dx%d frame: nothing but its clear colour",
			   w, h);
		goto out;
	}
	for (int y = (int)ytop; y < (int)ybot; y++)
		for (int x = 0; x < w; x++) {
			const uint8_t *p = f->rgb + ((size_t)y * w + x) * 3;
			if (colour_far(p, clear, FAR2) && colour_far(p, corner, FAR2))
				pcol[x]++;
		}
	median5(pcol, w);
	double cpeak = 0;
	for (int x = 0; x < w; x++)
		cpeak = pcol[x] > cpeak ? pcol[x] : cpeak;
	double xleft = crossing(pcol, w, cpeak / 2, 1), xright = crossing(pcol, w, cpeak / 2, -1);
	const double cell_w = (xright - xleft) / (cmax - cmin + 1);
	const double cell_h = (ybot - ytop) / (rmax - rmin + 1);
	/* An 80x25 grid of such cells must fit the frame (less a border). */
	if (xleft < 0 || cell_w * GRID_COLS > w * 1.02 || cell_h * GRID_ROWS > h * 1.02 ||
	    cell_w * GRID_COLS < w * (1 - 2 * BORDER_FRAC) * 0.85 ||
	    cell_h * GRID_ROWS < h * (1 - 2 * BORDER_FRAC) * 0.85) {
		hil_seterr(err,
			   "calibration screen not found in the %dx%d frame: the cells not of the clear "
			   "colour span %.0fx%.0f pixels, not the calibration grid's %dx%d cells of an "
			   "80x25 screen",
			   w, h, xright - xleft, ybot - ytop, cmax - cmin + 1, rmax - rmin + 1);
		goto out;
	}
	struct scaled s = { w, h, f->rgb, grey, NULL };
	uint16_t cells[256];
	int n = 0;
	for (int k = 0; k < 256; k++)
		cells[n++] = (uint16_t)(l->row[k] << 8 | l->col[k]);
	struct grid g = { 0, 0, 0, 0, 0 };
	double best = 0;
	for (int cw = 9; cw >= 8; cw--) {
		struct grid t = { cw, cell_w / cw, cell_h / CELL_H, xleft - cmin * cell_w,
				  ytop - rmin * cell_h };
		double e = capture_spread(&s, &t, cells, n);
		if (!g.cw || e < best) {
			g = t;
			best = e;
		}
	}
	capture_refine(&s, &g, cells, n);
	float rfg, rbg;
	inner_mean(&s, &g, l->col[0xDB], l->row[0xDB], l->fg, &rfg);
	inner_mean(&s, &g, l->col[0x20], l->row[0x20], l->bg, &rbg);
	int fgf[3] = { l->fg[0], l->fg[1], l->fg[2] };
	if (!colour_far(l->bg, fgf, FAR2)) {
		hil_seterr(err, "calibration screen not shown: the space and the full block have the same colour");
		goto out;
	}
	if (rfg > BLANK_SPREAD || rbg > BLANK_SPREAD) {
		hil_seterr(err, "calibration screen unreadable: space or full block is not uniform");
		goto out;
	}
	l->cell_w = g.cw;
	for (int k = 0; k < 256; k++) {
		float v[9 * CELL_H][3];
		capture_sharpen_cell(&s, &g, l->col[k], l->row[k], v);
		int ink8 = 0, ninth_same = 1;
		for (int y = 0; y < CELL_H; y++) {
			unsigned bits = 0;
			for (int i = 0; i < g.cw; i++) {
				float df = 0, db = 0;
				for (int c = 0; c < 3; c++) {
					df += (v[y * g.cw + i][c] - l->fg[c]) * (v[y * g.cw + i][c] - l->fg[c]);
					db += (v[y * g.cw + i][c] - l->bg[c]) * (v[y * g.cw + i][c] - l->bg[c]);
				}
				bits = bits << 1 | (df < db);
			}
			if (g.cw == 9) {
				ink8 |= (int)(bits >> 1 & 1);
				ninth_same &= (bits >> 1 & 1) == (bits & 1);
				bits >>= 1;
			}
			l->font.glyph[k][y] = (uint8_t)bits;
		}
		l->ninth_copied[k] = (uint8_t)(g.cw == 9 && ink8 && ninth_same);
	}
	for (int y = 0; y < CELL_H; y++)
		if (l->font.glyph[0x20][y] != 0x00 || l->font.glyph[0xDB][y] != 0xFF) {
			hil_seterr(err, "calibration screen unreadable: space or full block is not uniform");
			goto out;
		}
	l->font.width = 8;
	l->font.height = CELL_H;
	snprintf(l->font.source, sizeof l->font.source, "calibration screen (capture)");
	l->scale_x = g.sx;
	l->scale_y = g.sy;
	l->origin_x = g.ox;
	l->origin_y = g.oy;
	rc = 0;
out:
	free(hist);
	free(prow);
	free(grey);
	return rc;
}
