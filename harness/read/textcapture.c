/* textcapture: reading text from captures (textmode.h, textmode_int.h):
 * the 80x25 screen scaled, compressed and bordered as a capture box or
 * IP-KVM sends it. textmode.c hands it every frame that is neither text
 * mode's own geometry nor framebuffer text. What the files of the capture
 * reader share is capture_int.h; capture_learn.c learns a card's glyphs
 * from a capture of the calibration screen.
 *
 * Ownership: struct capture_memory (a reader's grid between frames) is
 * allocated and freed here; every other function works on its arguments
 * and keeps nothing. */
#include "textmode_int.h"
#include "capture_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Scaled and compressed frames (capture boxes, IP-KVMs): the 80x25 screen
 * of 9x16 (or 8x16) cells arrives resampled by sx, sy (frame pixels per
 * text-mode pixel, at least 1; the two may differ), inside a border of up
 * to BORDER_FRAC of the frame, JPEG-compressed. Where the grid is, is
 * found, never assumed:
 *
 * 1. Column and row profiles of the grey image's gradient. Glyphs leave
 *    the edges of their cells mostly blank, so the column profile repeats
 *    every cell (cw * sx), with edges only on text-mode pixel boundaries;
 *    the same vertically with 16 * sy.
 * 2. Candidate cell periods: the profile folded at each period that fits
 *    80 (25) cells in the frame less its border; where the period is right
 *    the structure inside a cell adds up (the folded profile's variance
 *    peaks). The best peaks, and the first one sharpened by the harmonic
 *    of the pixel period, are candidates; that harmonic's phase says where
 *    the text-mode pixel boundaries are.
 * 3. For each candidate (and 9- or 8-pixel cells), which pixel boundary
 *    starts a cell (cw x 16 choices, across at thirds of a pixel, then
 *    sixths either way for the best two): the one where most inked cells
 *    near the text's centre read as a glyph exactly. Glyphs that a grid
 *    off by part of a cell makes of coloured cells (half blocks, bars:
 *    grid_evidence()) do not count. A candidate reading GOOD_SCORE of
 *    them ends the search; if the best reads fewer than MIN_SCORE, there
 *    is no grid.
 * 4. Scale per axis within +-2 % (about that centre), by the same count
 *    over inked cells all over the screen: the fold's period can be off by
 *    a percent when the text is sparse.
 * 5. Origin and scale fitted to ever wider circles of inked cells around
 *    the centre: each cell's own best offset (its samples, at text-mode
 *    pixel centres, sit closest to two colours when on the pixels), then a
 *    weighted line through the offsets; the glyphs then say again which
 *    whole pixel starts a cell. A last local polish of the same measure.
 *    The fit is kept only if it reads as many inked cells as before it.
 * 6. Every cell: first cheaply, in grey (read_scaled_fast()): sharpened,
 *    split in two levels and matched exactly, in either colour order; most
 *    inked cells end there. The rest: one colour inside its outer ring of samples (which takes
 *    colour from the neighbours) is a space (trusted only if that colour
 *    is a palette colour; else most likely a blurred dither, guessed);
 *    else its samples (bilinear, RGB), sharpened against the resampling
 *    blur (sharpen_k()), split into two colours by 2-means started and
 *    fitted inside the ring (by luma alone where the two differ in luma by
 *    LUMA_SPLIT: JPEG keeps luma sharp and blurs colour), binarised, and
 *    matched by Hamming distance with the exact decoder's tie-breaking,
 *    cursor rule included. Cells told apart by colour alone, or only by
 *    the 9th column, are never trusted.
 * 7. A cell not trusted is read again against the frame's own pixels
 *    (rerank()): the nearest glyphs are drawn as the capture would show
 *    them, in text colours, and the one that fits best is the reading.
 *    Its confidence stays below trust: this lowers the error rate of the
 *    text that callers fall back from, it never makes a cell trusted.
 * Below LOW_SCALE thin strokes and dither patterns blur into their
 * background: such frames are read, but no cell is trusted.
 * ------------------------------------------------------------------------ */

#define SAMPLE_CELLS 32     /* inked cells for the last polish */
#define INK_RANGE 96        /* grey range from which a cell surely has ink */
#define LUMA_SPLIT 8.0f    /* luma difference from which cells split by luma */
#define LOW_SCALE 1.3        /* below this scale (either axis) ... */
#define LOW_SCALE_CONFIDENCE 0.98f /* ... no cell is more certain than this */
#define GOOD_SCORE 0.9      /* ... and from which no other grid is tried */
#define MIN_SCORE 0.3       /* share of inked cells a grid must read exactly */
#define REUSE_MIN 0.5       /* a grid kept from an earlier frame must read this share */
#define REUSE_SHARE 0.8     /* ... and this much of the share it read there */
#define BLANK_DIST2 (40.0f * 40.0f) /* RGB distance^2 of a cell's two colours
				     * below which it is one colour... */
#ifndef SHARPEN
#define SHARPEN 0.24f
#endif
#define LUMA_TRUST 16.0f   /* luma difference below which no cell is trusted */
#define PALETTE_NEAR 15.0f /* see pal_dist() */
#define DITHER_NEAR 12.0f  /* see dither_guess() */
#define DITHER_CONFIDENCE 0.5f
#define BLANK_LUMA 14.0f  /* inner luma range from which two close colours are a glyph */
#define BLANK_SURE2 (32.0f * 32.0f) /* ...and certainly so below this */

static inline void rgb_at(const struct scaled *s, float x, float y, float out[3])
{
	x -= 0.5f;
	y -= 0.5f;
	if (x < 0)
		x = 0;
	if (y < 0)
		y = 0;
	if (x > (float)(s->w - 1))
		x = (float)(s->w - 1);
	if (y > (float)(s->h - 1))
		y = (float)(s->h - 1);
	int x0 = (int)x, y0 = (int)y;
	if (x0 > s->w - 2)
		x0 = s->w - 2;
	if (y0 > s->h - 2)
		y0 = s->h - 2;
	float fx = x - (float)x0, fy = y - (float)y0;
	const size_t stride = (size_t)s->w * 3;
	const uint8_t *p = s->rgb + (size_t)y0 * stride + (size_t)x0 * 3;
	for (int c = 0; c < 3; c++) {
		float a = p[c] + fx * (float)(p[c + 3] - p[c]);
		float b = p[stride + c] + fx * (float)(p[stride + c + 3] - p[stride + c]);
		out[c] = a + fy * (b - a);
	}
}

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

/* The grey samples of cell (col, row) at its text-mode pixel centres
 * (bilinear), row-major, cw per row. */
static void sample_grey(const struct scaled *s, const struct grid *g, int col, int row,
			float *v)
{
	int xi[9];
	float xw[9];
	for (int i = 0; i < g->cw; i++)
		tap(g->ox + ((double)(col * g->cw + i) + 0.5) * g->sx, s->w, &xi[i], &xw[i]);
	for (int y = 0; y < CELL_H; y++) {
		int yi;
		float yw;
		tap(g->oy + ((double)(row * CELL_H + y) + 0.5) * g->sy, s->h, &yi, &yw);
		const uint8_t *a = s->grey + (size_t)yi * (size_t)s->w, *b = a + s->w;
		for (int i = 0; i < g->cw; i++) {
			const int x = xi[i];
			float top = a[x] + xw[i] * (float)(a[x + 1] - a[x]);
			float bot = b[x] + xw[i] * (float)(b[x + 1] - b[x]);
			*v++ = top + yw * (bot - top);
		}
	}
}

/* Split n grey values into two levels (2-means from the extremes). 0 if
 * they are one colour. */
static int split_grey(const float *v, int n, float *lo, float *hi)
{
	float mn = v[0], mx = v[0];
	for (int i = 1; i < n; i++) {
		if (v[i] < mn)
			mn = v[i];
		if (v[i] > mx)
			mx = v[i];
	}
	if (mx - mn < BLANK_SPREAD)
		return 0;
	float a = mn, b = mx;
	int last = -1;
	for (int it = 0; it < 3; it++) {
		float t = (a + b) * 0.5f, sa = 0, sb = 0;
		int na = 0, nb = 0;
		for (int i = 0; i < n; i++) {
			if (v[i] > t) {
				sb += v[i];
				nb++;
			} else {
				sa += v[i];
				na++;
			}
		}
		if (!na || !nb || nb == last)
			break;
		last = nb;
		a = sa / (float)na;
		b = sb / (float)nb;
	}
	*lo = a;
	*hi = b;
	return 1;
}

/* Row masks of the samples above t (bit cw-1 is the leftmost pixel). */
static void grey_mask(const float *v, int cw, float t, uint16_t *on)
{
	for (int y = 0; y < CELL_H; y++) {
		unsigned m = 0;
		for (int x = 0; x < cw; x++)
			m = m << 1 | (v[y * cw + x] > t);
		on[y] = (uint16_t)m;
	}
}

/* Nearest reading of a binarised cell (on = one colour, its complement the
 * other) over the rows in rowmask: d is its distance in pixels, d2 that of
 * the nearest reading that draws the cell differently on those rows (the
 * inverse glyph in swapped colours draws the same). Ties as better(). */
#define NEAR_UNIT 4 /* distances in quarter pixels */
struct near {
	int code, swapped, d, d2;
};

static struct near nearest(const struct glyphset *gs, const uint16_t *on, unsigned rowmask)
{
	/* The 9th column has no pixels of its own (blank, or a copy of the
	 * 8th) and takes the most colour from the next cell: its pixels
	 * count a quarter. Distances are in quarter pixels. */
	const int nine_w = gs->cw == 9;
	uint16_t keep[CELL_H];
	for (int r = 0; r < CELL_H; r++)
		keep[r] = rowmask >> r & 1 ? gs->full : 0;
	const struct packed m = glyph_pack(keep, gs->cw), c = glyph_pack(on, gs->cw);
	const int total = NEAR_UNIT * (pop64(m.lo) + pop64(m.hi)) + (nine_w ? pop64(m.nine) : 0);
	int dn[256];
	struct near best = { 0x20, 0, total + 1, total + 1 };
	for (int i = 0; i < gs->nuniq; i++) {
		const struct packed *g = &gs->pk[gs->uniq[i]];
		const int d = NEAR_UNIT * (pop64((g->lo ^ c.lo) & m.lo) + pop64((g->hi ^ c.hi) & m.hi)) +
			      pop64((uint64_t)((g->nine ^ c.nine) & m.nine));
		dn[i] = d;
		for (int sw = 0; sw < 2; sw++) {
			int dd = sw ? total - d : d;
			if (dd > best.d)
				continue;
			struct pick a = { -dd, gs->uniq[i], sw }, b = { -best.d, best.code, best.swapped };
			if (dd < best.d || better(gs, &a, &b)) {
				best.code = gs->uniq[i];
				best.swapped = sw;
				best.d = dd;
			}
		}
	}
	/* The nearest reading that draws the cell differently on these rows:
	 * not the best, nor the inverse glyph in swapped colours where it
	 * draws the same. */
	const struct packed *bp = &gs->pk[best.code];
	for (int i = 0; i < gs->nuniq; i++)
		for (int sw = 0; sw < 2; sw++) {
			int dd = sw ? total - dn[i] : dn[i];
			if (dd >= best.d2)
				continue;
			const struct packed *g = &gs->pk[gs->uniq[i]];
			const uint64_t flip = sw != best.swapped ? ~0ull : 0;
			const int same = !(((g->lo ^ bp->lo ^ flip) & m.lo) | ((g->hi ^ bp->hi ^ flip) & m.hi) |
					   ((g->nine ^ bp->nine ^ (uint16_t)flip) & m.nine));
			if (!same)
				best.d2 = dd;
		}
	return best;
}

/* Fill gs->twin9. In a resampled frame the 9th column takes as much
 * colour from the next cell as from its own, so it cannot tell such twins
 * apart surely enough to trust (e.g. 0x07 and 0x08 in swapped colours). */
static void nine_twins(struct glyphset *gs)
{
	memset(gs->twin9, 0, sizeof gs->twin9);
	if (gs->cw != 9)
		return;
	for (int i = 0; i < gs->nuniq; i++)
		for (int j = 0; j < gs->nuniq; j++) {
			if (i == j)
				continue;
			const uint16_t *a = gs->row[gs->uniq[i]], *b = gs->row[gs->uniq[j]];
			for (int sw = 0; sw < 2; sw++) {
				int main_same = 1, differ = 0;
				for (int r = 0; r < CELL_H && main_same; r++) {
					unsigned x = (unsigned)(a[r] ^ (sw ? ~b[r] : b[r])) & gs->full;
					main_same = !(x & ~1u);
					differ |= (int)(x & 1u);
				}
				if (main_same && differ)
					gs->twin9[gs->uniq[i]] = 1;
			}
		}
}

/* Fill gs->evidence: glyphs that are inked and neither the same on every
 * row nor each row solid or blank. A grid off by part of a cell cuts
 * cells of different colours into exactly such shapes (half blocks, bars:
 * a screen of coloured cells read half a cell off is all 0xDD), so they
 * say nothing about where the grid is. */
static void grid_evidence(struct glyphset *gs)
{
	for (int c = 0; c < 256; c++) {
		const uint16_t *g = gs->row[c];
		int same = 1, solid_rows = 1;
		for (int r = 0; r < CELL_H; r++) {
			same &= g[r] == g[0];
			solid_rows &= g[r] == 0 || g[r] == gs->full;
		}
		gs->evidence[c] = (uint8_t)(gs->lit[c] > 0 && gs->lit[c] < gs->cw * CELL_H && !same &&
					    !solid_rows);
	}
}

/* ---- Finding the grid ---- */

/* The profile folded at a period into nb bins (linear split between the
 * two nearest): the mean of each bin in bin[]; returns the variance of the
 * bin means, which is largest when the period is right (the structure
 * inside a cell adds up instead of smearing). */
static double fold(const float *p, int n, double period, int nb, double *bin)
{
	double sum[80], wt[80];
	for (int b = 0; b < nb; b++)
		sum[b] = wt[b] = 0;
	const double k = nb / period;
	double t = fmod(k, nb);
	for (int i = 0; i < n; i++, t += k) {
		if (t >= nb)
			t -= nb;
		int b0 = (int)t;
		if (b0 >= nb)
			b0 = nb - 1;
		double fr = t - b0;
		int b1 = b0 + 1 == nb ? 0 : b0 + 1;
		sum[b0] += p[i] * (1 - fr);
		wt[b0] += 1 - fr;
		sum[b1] += p[i] * fr;
		wt[b1] += fr;
	}
	double mean = 0, var = 0;
	for (int b = 0; b < nb; b++) {
		bin[b] = wt[b] > 0 ? sum[b] / wt[b] : 0;
		mean += bin[b];
	}
	mean /= nb;
	for (int b = 0; b < nb; b++)
		var += (bin[b] - mean) * (bin[b] - mean);
	return var / nb;
}

/* The cell period along one axis: cells of the frame's extent n, less up
 * to BORDER_FRAC, at scales of at least 1. Coarse, then fine around the
 * best few. */
static int cell_period(const float *p, int n, int cells, int px_per_cell_min, int nb,
		       double out[3])
{
	/* p has a value per pair of neighbouring pixels: n + 1 pixels, and
	 * a frame with no border has its period at the very end. */
	double hi = (double)(n + 1) / cells, lo = (double)n * (1 - BORDER_FRAC) / cells;
	if (lo < px_per_cell_min)
		lo = px_per_cell_min;
	if (hi < lo)
		return 0;
	double bin[80];
	int nout = 0;
	const double coarse = hi * hi / n / nb, fine = coarse / 4;
	int m = (int)((hi - lo) / coarse) + 1;
	double *v = malloc((size_t)m * sizeof *v);
	if (!v)
		return 0;
	for (int i = 0; i < m; i++)
		v[i] = fold(p, n, lo + i * coarse, nb, bin);
	/* Narrow spikes come from noise and aliasing; the true peak is as
	 * wide as the ink's extent allows: smooth over 5 steps. */
	double top[3] = { 0, 0, 0 }, top_v[3] = { -1, -1, -1 };
	double *smv = malloc((size_t)m * sizeof *smv);
	if (!smv) {
		free(v);
		return 0;
	}
	for (int i = 0; i < m; i++) {
		double sm = 0;
		int k = 0;
		for (int j = i - 2; j <= i + 2; j++)
			if (j >= 0 && j < m) {
				sm += v[j];
				k++;
			}
		smv[i] = sm / k;
	}
	for (int i = 0; i < m; i++) {
		double sm = smv[i];
		/* distinct peaks only */
		if ((i > 0 && smv[i - 1] > sm) || (i + 1 < m && smv[i + 1] >= sm))
			continue;
		for (int t = 0; t < 3; t++)
			if (sm > top_v[t]) {
				for (int u = 2; u > t; u--) {
					top_v[u] = top_v[u - 1];
					top[u] = top[u - 1];
				}
				top_v[t] = sm;
				top[t] = lo + i * coarse;
				break;
			}
	}
	free(v);
	free(smv);
	for (int i = 0; i < 3; i++) {
		if (top_v[i] <= 0)
			continue;
		double best = 0, best_v = 0;
		double f[17];
		for (int j = 0; j < 17; j++)
			f[j] = fold(p, n, top[i] + (j - 8) * fine, nb, bin);
		for (int j = 2; j < 15; j++) {
			double sm = (f[j - 2] + f[j - 1] + f[j] + f[j + 1] + f[j + 2]) / 5;
			if (sm > best_v) {
				best_v = sm;
				best = top[i] + (j - 8) * fine;
			}
		}
		if (best_v > 0)
			out[nout++] = best;
	}
	return nout;
}

/* Harmonic h of a folded profile: magnitude, and in *phase the position
 * (in bins, mod nb / h) of its peaks. */
static double harmonic(const double *bin, int nb, int h, double *phase)
{
	double re = 0, im = 0;
	for (int b = 0; b < nb; b++) {
		/* bin b holds coordinates near (b + 0) * period / nb */
		double a = 2 * M_PI * h * b / nb;
		re += bin[b] * cos(a);
		im -= bin[b] * sin(a);
	}
	if (phase) {
		double per = (double)nb / h;
		double ph = -atan2(im, re) / (2 * M_PI) * per;
		ph = fmod(ph, per);
		if (ph < 0)
			ph += per;
		*phase = ph;
	}
	return sqrt(re * re + im * im);
}

/* Sharpen a cell period: the fold's variance is mostly the coarse shape of
 * glyphs within a cell, which tolerates some drift; the harmonic at the
 * pixel period (ppc per cell) does not. The strongest one within +-2.5 %,
 * lightly smoothed. */
static double sharpen(const float *p, int n, double per, int ppc, int nb)
{
	double bin[80], m[81], best = per, best_v = -1;
	const double step = per * 0.05 / 80;
	for (int i = 0; i <= 80; i++) {
		fold(p, n, per * 0.975 + i * step, nb, bin);
		m[i] = harmonic(bin, nb, ppc, NULL);
	}
	for (int i = 1; i < 80; i++) {
		double v = m[i - 1] + 2 * m[i] + m[i + 1];
		if (v > best_v) {
			best_v = v;
			best = per * 0.975 + i * step;
		}
	}
	return best;
}

/* The grid origin along one axis from a boundary phase: the position
 * phase + k * s (mod the cell period) that is nearest to centring the
 * cells in the frame. */
static double place(double phase, int k, double s, int px_per_cell, int cells, int n)
{
	double per = s * px_per_cell;
	double slack = n - per * cells;
	double o = fmod(phase + k * s, per);
	/* o + m * per nearest slack / 2 */
	double m = floor((slack / 2 - o) / per + 0.5);
	return o + m * per;
}

/* How well a grid reads the sample cells: the number that are exactly an
 * inked glyph. */
static int exact_hits(const struct scaled *s, const struct glyphset *gs, const struct grid *g,
		      const uint16_t *cells, int n)
{
	float v[9 * CELL_H], lo, hi;
	uint16_t on[CELL_H], off[CELL_H];
	int hits = 0;
	for (int i = 0; i < n; i++) {
		sample_grey(s, g, cells[i] & 0xFF, cells[i] >> 8, v);
		if (!split_grey(v, g->cw * CELL_H, &lo, &hi))
			continue;
		grey_mask(v, g->cw, (lo + hi) * 0.5f, on);
		int code = glyph_lookup(gs, on);
		if (code < 0) {
			for (int r = 0; r < CELL_H; r++)
				off[r] = (uint16_t)(~on[r] & gs->full);
			code = glyph_lookup(gs, off);
		}
		hits += code >= 0 && gs->evidence[code];
	}
	return hits;
}

/* Spread of the sample cells' samples around their two levels, relative to
 * the levels' distance: smallest when the samples sit at pixel centres. */
double spread(const struct scaled *s, const struct grid *g, const uint16_t *cells, int n)
{
	float v[9 * CELL_H], lo, hi;
	double sum = 0;
	const int np = g->cw * CELL_H;
	for (int i = 0; i < n; i++) {
		sample_grey(s, g, cells[i] & 0xFF, cells[i] >> 8, v);
		if (!split_grey(v, np, &lo, &hi))
			continue;
		float t = (lo + hi) * 0.5f, e = 0;
		for (int k = 0; k < np; k++) {
			float d = v[k] > t ? v[k] - hi : v[k] - lo;
			e += d * d;
		}
		sum += e / ((hi - lo) * (hi - lo));
	}
	return sum;
}

void refine(const struct scaled *s, struct grid *g, const uint16_t *cells, int n)
{
	double best = spread(s, g, cells, n);
	for (double step = 0.25; step > 0.015; step /= 2) {
		for (int it = 0; it < 4; it++) {
			int moved = 0;
			for (int p = 0; p < 4; p++) {
				for (int sign = -1; sign <= 1; sign += 2) {
					struct grid t = *g;
					switch (p) {
					case 0: t.ox += sign * step * g->sx; break;
					case 1: t.oy += sign * step * g->sy; break;
					/* The far edge moves by step text-mode pixels. */
					case 2: t.sx *= 1 + sign * step / (GRID_COLS * g->cw); break;
					default: t.sy *= 1 + sign * step / (GRID_ROWS * CELL_H); break;
					}
					double e = spread(s, &t, cells, n);
					if (e < best) {
						best = e;
						*g = t;
						moved = 1;
						break;
					}
				}
			}
			if (!moved)
				break;
		}
	}
}

/* Fit origin and scale to where the sample cells are: each cell's own best
 * offset within half a text-mode pixel (least spread), then a weighted
 * straight line through the offsets against position, per axis. */
static void fit_grid(const struct scaled *s, struct grid *g, const uint16_t *cells, int n)
{
	enum { STEPS = 2 }; /* offsets -STEPS..STEPS quarters of a pixel */
	double sw[2] = { 0, 0 }, sp[2] = { 0, 0 }, spp[2] = { 0, 0 }, sd[2] = { 0, 0 },
	       spd[2] = { 0, 0 };
	for (int i = 0; i < n; i++) {
		int col = cells[i] & 0xFF, row = cells[i] >> 8;
		double sum = 0, best = 1e300;
		int bx = 0, by = 0;
		for (int a = -STEPS; a <= STEPS; a++)
			for (int b = -STEPS; b <= STEPS; b++) {
				struct grid t = *g;
				t.ox += a * g->sx / (2 * STEPS);
				t.oy += b * g->sy / (2 * STEPS);
				double v = spread(s, &t, &cells[i], 1);
				sum += v;
				if (v < best) {
					best = v;
					bx = a;
					by = b;
				}
			}
		double mean = sum / ((2 * STEPS + 1) * (2 * STEPS + 1));
		double w = mean - best;
		if (w <= 0)
			continue;
		double pos[2] = { (col + 0.5) * g->cw, (row + 0.5) * CELL_H };
		double off[2] = { (double)bx / (2 * STEPS), (double)by / (2 * STEPS) };
		for (int k = 0; k < 2; k++) {
			sw[k] += w;
			sp[k] += w * pos[k];
			spp[k] += w * pos[k] * pos[k];
			sd[k] += w * off[k];
			spd[k] += w * pos[k] * off[k];
		}
	}
	for (int k = 0; k < 2; k++) {
		if (sw[k] <= 0)
			continue;
		double mp = sp[k] / sw[k], md = sd[k] / sw[k];
		double var = spp[k] / sw[k] - mp * mp;
		/* The slope needs cells well apart: two cells' worth. */
		double span = k == 0 ? 2.0 * g->cw : 2.0 * CELL_H;
		double slope = var > span * span ? (spd[k] / sw[k] - mp * md) / var : 0;
		double icpt = md - slope * mp;
		if (k == 0) {
			g->ox += icpt * g->sx;
			g->sx *= 1 + slope;
		} else {
			g->oy += icpt * g->sy;
			g->sy *= 1 + slope;
		}
	}
}

/* Inked cells of grid g (a grey range of at least INK_RANGE over a few of
 * their samples), as row << 8 | col, and their number. */
static int inked_cells(const struct scaled *s, const struct grid *g, uint16_t *cells)
{
	int n = 0;
	for (int r = 0; r < GRID_ROWS; r++) {
		/* Scan lines 2, 5, 8 and 11 of the cell (where glyphs have
		 * most of their ink), nearest pixels. */
		enum { LINES = 4 };
		const uint8_t *line[LINES];
		for (int y = 0; y < LINES; y++) {
			int fy = (int)(g->oy + ((double)(r * CELL_H + 2 + 3 * y) + 0.5) * g->sy);
			fy = fy < 0 ? 0 : fy >= s->h ? s->h - 1 : fy;
			line[y] = s->grey + (size_t)fy * (size_t)s->w;
		}
		for (int c = 0; c < GRID_COLS; c++) {
			int xs[9];
			for (int i = 0; i < g->cw; i++) {
				int x = (int)(g->ox + ((double)(c * g->cw + i) + 0.5) * g->sx);
				xs[i] = x < 0 ? 0 : x >= s->w ? s->w - 1 : x;
			}
			int mn = 255, mx = 0;
			for (int y = 0; y < LINES; y++)
				for (int i = 0; i < g->cw; i++) {
					int v = line[y][xs[i]];
					mn = v < mn ? v : mn;
					mx = v > mx ? v : mx;
				}
			if (mx - mn >= INK_RANGE)
				cells[n++] = (uint16_t)(r << 8 | c);
		}
	}
	return n;
}

/* Up to max of the inked cells within radius (text-mode pixels) of
 * (ax, ay), spread evenly over them. */
static int near_cells(const uint16_t *ink, int nink, int cw, double ax, double ay, double radius,
		      uint16_t *out, int max)
{
	uint16_t tmp[GRID_ROWS * GRID_COLS];
	int n = 0;
	for (int i = 0; i < nink; i++) {
		double dx = ((ink[i] & 0xFF) + 0.5) * cw - ax, dy = ((ink[i] >> 8) + 0.5) * CELL_H - ay;
		if (dx * dx + dy * dy <= radius * radius)
			tmp[n++] = ink[i];
	}
	if (n <= max) {
		memcpy(out, tmp, (size_t)n * sizeof *out);
		return n;
	}
	for (int i = 0; i < max; i++)
		out[i] = tmp[(size_t)i * (size_t)n / (size_t)max];
	return max;
}

/* p minus its moving average over about win entries. */
static void detrend(float *p, int n, double win)
{
	int half = (int)(win / 2);
	if (half < 1 || n < 2 * half + 1)
		return;
	double *pre = malloc(((size_t)n + 1) * sizeof *pre);
	if (!pre)
		return;
	pre[0] = 0;
	for (int i = 0; i < n; i++)
		pre[i + 1] = pre[i] + p[i];
	for (int i = 0; i < n; i++) {
		int a = i - half, b = i + half + 1;
		if (a < 0)
			a = 0;
		if (b > n)
			b = n;
		p[i] -= (float)((pre[b] - pre[a]) / (b - a));
	}
	free(pre);
}

/* Find the grid; 0 if there is none to be found. */
static int find_grid(const struct scaled *s, const struct glyphset *gs9,
		     const struct glyphset *gs8, struct grid *out, struct hil_err *err)
{
	const int w = s->w, h = s->h;
	float *px = calloc((size_t)w + (size_t)h, sizeof *px), *py = px + w;
	if (!px) {
		hil_seterr(err, "out of memory");
		return -1;
	}
	/* Every other line and column is plenty. */
	for (int y = 0; y + 1 < h; y++) {
		const uint8_t *a = s->grey + (size_t)y * (size_t)w, *b = a + w;
		unsigned sy = 0;
		if (y & 1) {
			for (int x = 0; x + 1 < w; x += 2)
				sy += (unsigned)abs(b[x] - a[x]);
		} else {
			for (int x = 0; x + 1 < w; x++) {
				px[x] += (float)abs(a[x + 1] - a[x]);
				sy += (x & 1) ? 0 : (unsigned)abs(b[x] - a[x]);
			}
		}
		py[y] = (float)sy;
	}
	/* JPEG's 8x8 blocks put edges of their own every 8 pixels from the
	 * frame's corner, and common capture widths make that a divisor of
	 * the cell period (1280 / 80 = 16): the differences across block
	 * boundaries are replaced by their neighbours' mean. */
	for (int x = 7; x + 1 < w - 1; x += 8)
		px[x] = (px[x - 1] + px[x + 1]) / 2;
	for (int y = 7; y + 1 < h - 1; y += 8)
		py[y] = (py[y - 1] + py[y + 1]) / 2;
	int rc = 0;
	/* Only the structure within a cell matters: take out what varies
	 * slower (blocks of text, backgrounds) with a moving average about a
	 * cell wide. */
	detrend(px, w - 1, (double)w / GRID_COLS);
	detrend(py, h - 1, (double)h / GRID_ROWS);
	double pcx[3], pcy[3];
	int nx = cell_period(px, w - 1, GRID_COLS, 8, 72, pcx);
	int ny = cell_period(py, h - 1, GRID_ROWS, CELL_H, 64, pcy);
	if (nx <= 0 || ny <= 0)
		goto out;

	/* Candidates per axis: the folds' best distinct peaks, and the best
	 * one sharpened by the pixel harmonic; for the columns also 9 or 8
	 * pixels per cell. The glyphs say which; the pixel harmonic's phase
	 * says where the pixel boundaries are. */
	double binx[80], biny[80];
	double ycand[4], xcand[4];
	int nyc = 0, nxc = 0;
	for (int i = 0; i < ny && i < 2; i++)
		if (!i || fabs(pcy[i] - pcy[0]) > 0.002 * pcy[0])
			ycand[nyc++] = pcy[i];
	ycand[nyc] = sharpen(py, h - 1, pcy[0], CELL_H, 64);
	if (ycand[nyc] <= (double)(h - 1) / GRID_ROWS)
		nyc++;
	for (int i = 0; i < nx; i++)
		if (!i || fabs(pcx[i] - pcx[0]) > 0.002 * pcx[0])
			if (i < 2 || fabs(pcx[i] - pcx[1]) > 0.002 * pcx[1])
				xcand[nxc++] = pcx[i];
	xcand[nxc] = sharpen(px, w - 1, pcx[0], 9, 72);
	if (xcand[nxc] <= (double)(w - 1) / GRID_COLS)
		nxc++;
	uint16_t cells[SAMPLE_CELLS];
	uint16_t *ink = malloc(GRID_ROWS * GRID_COLS * sizeof *ink);
	if (!ink) {
		rc = -1;
		hil_seterr(err, "out of memory");
		goto out;
	}
	int n = 0, nink = 0;
	double best_score = 0;
	struct grid best = { 9, 0, 0, 0, 0 };
	double ax = 0, ay = 0;
	const struct glyphset *gs = gs9;
	/* Candidates in order of the folds' preference; one that reads
	 * nearly all the cells near the centre ends the search. */
	for (int yi = 0; yi < nyc && best_score < GOOD_SCORE; yi++) {
		double phy;
		fold(py, h - 1, ycand[yi], 64, biny);
		harmonic(biny, 64, CELL_H, &phy);
		phy *= ycand[yi] / 64;
		const double sy = ycand[yi] / CELL_H;
		if (sy < 0.95)
			continue;
		for (int xi = 0; xi < nxc && best_score < GOOD_SCORE; xi++) {
			double ph9, ph8;
			fold(px, w - 1, xcand[xi], 72, binx);
			double mag9 = harmonic(binx, 72, 9, &ph9), mag8 = harmonic(binx, 72, 8, &ph8);
			for (int cw = 9; cw >= 8 && best_score < GOOD_SCORE; cw--) {
				if (cw == 8 && mag8 < mag9)
					continue;
				struct grid g = { cw, xcand[xi] / cw, sy, 0, 0 };
				if (g.sx < 0.95)
					continue;
				double phx = (cw == 9 ? ph9 : ph8) * xcand[xi] / 72;
				const struct glyphset *cgs = cw == 9 ? gs9 : gs8;
				g.ox = place(phx, 0, g.sx, g.cw, GRID_COLS, w);
				g.oy = place(phy, 0, g.sy, CELL_H, GRID_ROWS, h);
				/* Where the text is: around the centroid of the inked
				 * cells, where an error in scale has not added up yet. */
				nink = inked_cells(s, &g, ink);
				if (nink == 0)
					continue;
				double cx = 0, cy = 0;
				for (int i = 0; i < nink; i++) {
					cx += ((ink[i] & 0xFF) + 0.5) * cw;
					cy += ((ink[i] >> 8) + 0.5) * CELL_H;
				}
				cx /= nink;
				cy /= nink;
				uint16_t cc[SAMPLE_CELLS];
				int cn = 0;
				for (double rad = 48; rad < 2000 && cn < 12; rad *= 1.5)
					cn = near_cells(ink, nink, cw, cx, cy, rad, cc, 12);
				/* A first look with a few cells at every pixel
				 * boundary, across at every third of a pixel (the
				 * phase of the 9- or 8-pixel harmonic may be off by
				 * that much), then the best few phases with all. */
				enum { FEW = 4, KEEP = 8 };
				int keep[KEEP], keep_hits[KEEP], nkeep = 0;
#define PHASE_X(q) (place(phx + ((q) % 64 % 3 - 1) * g.sx / 3, (q) % 64 / 3, g.sx, g.cw, GRID_COLS, w))
#define PHASE_Y(q) (place(phy, (q) / 64, g.sy, CELL_H, GRID_ROWS, h))
				for (int j = 0; j < CELL_H; j++)
					for (int k = 0; k < 3 * g.cw; k++) {
						struct grid t = g;
						t.ox = PHASE_X(j * 64 + k);
						t.oy = PHASE_Y(j * 64 + k);
						int hits = exact_hits(s, cgs, &t, cc, cn < FEW ? cn : FEW);
						int at = nkeep < KEEP ? nkeep++ : KEEP;
						while (at > 0 && keep_hits[at - 1] < hits) {
							if (at < KEEP) {
								keep[at] = keep[at - 1];
								keep_hits[at] = keep_hits[at - 1];
							}
							at--;
						}
						if (at < KEEP) {
							keep[at] = j * 64 + k;
							keep_hits[at] = hits;
						}
					}
				/* The best two also a sixth of a pixel either way. */
				int top2[2] = { -1, -1 };
				double top2_sc[2] = { -1, -1 };
				for (int q = 0; q < nkeep; q++) {
					struct grid t = g;
					t.ox = PHASE_X(keep[q]);
					t.oy = PHASE_Y(keep[q]);
					double sc = (double)exact_hits(s, cgs, &t, cc, cn) / cn;
					if (sc > top2_sc[0]) {
						top2[1] = top2[0];
						top2_sc[1] = top2_sc[0];
						top2[0] = q;
						top2_sc[0] = sc;
					} else if (sc > top2_sc[1]) {
						top2[1] = q;
						top2_sc[1] = sc;
					}
				}
				for (int q2 = 0; q2 < 2 && top2[q2] >= 0; q2++)
					for (int sub = 0; sub < 9; sub++) {
						const int q = top2[q2];
						struct grid t = g;
						t.ox = PHASE_X(keep[q]) + (sub % 3 - 1) * g.sx / 6;
						t.oy = PHASE_Y(keep[q]) + (sub / 3 - 1) * g.sy / 6;
						double sc = sub == 4 ? top2_sc[q2] :
								       (double)exact_hits(s, cgs, &t, cc, cn) / cn;
						/* 8-pixel cells only when clearly better:
						 * 80 cells of 9 at 16/9 look like 8 at 2. */
						if (cw == 8)
							sc -= 0.1;
						if (sc > best_score) {
							best_score = sc;
							best = t;
							gs = cgs;
							ax = cx;
							ay = cy;
						}
					}
#undef PHASE_X
#undef PHASE_Y
			}
		}
	}
	if (best_score < MIN_SCORE) {
		free(ink);
		goto out;
	}
	/* The harmonic's phase can be off by a fraction of a pixel: try
	 * thirds of a pixel either way on cells near the text's centre. */
	{
		nink = inked_cells(s, &best, ink);
		n = near_cells(ink, nink, best.cw, ax, ay, 64, cells, 16);
		struct grid c = best;
		int best_hits = -1;
		for (int a = -2; a <= 2; a++)
			for (int b = -2; b <= 2; b++) {
				struct grid t = c;
				t.ox += a * c.sx / 3;
				t.oy += b * c.sy / 3;
				int hits = exact_hits(s, gs, &t, cells, n);
				if (hits > best_hits || (hits == best_hits && !a && !b)) {
					best_hits = hits;
					best = t;
				}
			}
	}
	/* The candidate scale may be off by a percent or two, which the
	 * cells near the centre hardly notice: per axis, the scale (about
	 * the centre) and third of a pixel that read most of the inked cells
	 * all over the screen exactly. */
	nink = inked_cells(s, &best, ink);
	n = near_cells(ink, nink, best.cw, ax, ay, 1e9, cells, 16);
	for (int pass = 0; pass < 4; pass++) {
		/* x coarse (0.4 % steps), y coarse, x fine, y fine */
		const int axis = pass & 1, fine = pass >> 1;
		const int range = fine ? 1 : 5;
		const double step = fine ? 0.002 : 0.004;
		struct grid c = best;
		int best_hits = -1;
		for (int ds = -range; ds <= range; ds++)
			for (int a = -1; a <= 1; a++) {
				struct grid t = c;
				double f = 1 + ds * step;
				if (axis == 0) {
					t.sx = c.sx * f;
					t.ox = c.ox - ax * c.sx * (f - 1) + a * c.sx / 3;
				} else {
					t.sy = c.sy * f;
					t.oy = c.oy - ay * c.sy * (f - 1) + a * c.sy / 3;
				}
				int hits = exact_hits(s, gs, &t, cells, n);
				if (hits > best_hits || (hits == best_hits && !ds && !a)) {
					best_hits = hits;
					best = t;
				}
			}
	}
	/* Fit origin and scale to cells ever further from there. The fit
	 * can go astray (a cell's own best offset is only sought within half
	 * a pixel): kept only if it reads at least as many inked cells all
	 * over the screen exactly as the grid before it. */
	const struct grid before = best;
	for (double rad = 64;; rad *= 4) {
		nink = inked_cells(s, &best, ink);
		n = near_cells(ink, nink, best.cw, ax, ay, rad, cells, 16);
		if (n > 0) {
			fit_grid(s, &best, cells, n);
			/* The fit is sure of the sub-pixel phase; which whole
			 * pixel starts a cell is the glyphs' to say again. */
			struct grid c = best;
			int best_hits = -1;
			for (int a = -1; a <= 1; a++)
				for (int b = -1; b <= 1; b++) {
					struct grid t = c;
					t.ox += a * c.sx;
					t.oy += b * c.sy;
					int hits = exact_hits(s, gs, &t, cells, n);
					if (hits > best_hits || (hits == best_hits && !a && !b)) {
						best_hits = hits;
						best = t;
					}
				}
		}
		if (rad > 1000)
			break;
	}
	/* A last polish on inked cells all over the screen. */
	nink = inked_cells(s, &best, ink);
	n = near_cells(ink, nink, best.cw, ax, ay, 1e9, cells, SAMPLE_CELLS);
	free(ink);
	refine(s, &best, cells, n);
	{
		uint16_t *all = malloc(GRID_ROWS * GRID_COLS * sizeof *all);
		if (all) {
			int na = inked_cells(s, &before, all);
			int m = near_cells(all, na, before.cw, ax, ay, 1e9, all, 4 * SAMPLE_CELLS);
			if (exact_hits(s, gs, &before, all, m) > exact_hits(s, gs, &best, all, m)) {
				best = before;
				n = near_cells(all, na, best.cw, ax, ay, 1e9, cells, SAMPLE_CELLS);
				refine(s, &best, cells, n);
			}
			free(all);
		}
	}
	*out = best;
	rc = 1;
out:
	free(px);
	return rc;
}

/* ---- Reading the cells ---- */

static uint8_t vga_level(float v)
{
	static const uint8_t level[4] = { 0x00, 0x57, 0xA8, 0xFF };
	int best = 0;
	for (int i = 1; i < 4; i++)
		if (fabsf(v - level[i]) < fabsf(v - level[best]))
			best = i;
	return level[best];
}

static void put_levels(uint8_t out[3], const float c[3])
{
	for (int i = 0; i < 3; i++)
		out[i] = vga_level(c[i]);
}

/* Confidence of a resampled reading (see textmode.h): d is the binarised
 * cell's distance from the reading, d2 that of the nearest reading that
 * draws the cell differently, both in quarter pixels (the 9th column's
 * pixels count a quarter each). Trusted (at least TEXTMODE_TRUST) only for
 * a pixel or two astray with a clear margin: 1 - d / 200 for d <= 2 and
 * d2 - d >= 2 + d (in pixels); otherwise below it, the more so the closer
 * the other reading. */
static float scaled_confidence(int qd, int qd2)
{
	if (qd == 0)
		return 1.0f;
	float d = (float)qd / NEAR_UNIT, margin = (float)(qd2 - qd) / NEAR_UNIT;
	if (d <= 2 && margin >= 2 + d)
		return 1.0f - 0.005f * d;
	if (margin <= 0)
		return 0.0f;
	return 0.98f * (float)(qd2 - qd) / (float)(qd2 + qd);
}

/* The 16 colours of the VGA text palette. */
static const uint8_t vga16[16][3] = {
	{ 0x00, 0x00, 0x00 }, { 0x00, 0x00, 0xA8 }, { 0x00, 0xA8, 0x00 }, { 0x00, 0xA8, 0xA8 },
	{ 0xA8, 0x00, 0x00 }, { 0xA8, 0x00, 0xA8 }, { 0xA8, 0x57, 0x00 }, { 0xA8, 0xA8, 0xA8 },
	{ 0x57, 0x57, 0x57 }, { 0x57, 0x57, 0xFF }, { 0x57, 0xFF, 0x57 }, { 0x57, 0xFF, 0xFF },
	{ 0xFF, 0x57, 0x57 }, { 0xFF, 0x57, 0xFF }, { 0xFF, 0xFF, 0x57 }, { 0xFF, 0xFF, 0xFF },
};

/* Distance of a colour from the nearest palette colour. A cell of one
 * colour far from all of them is not one colour but a pattern blurred
 * into its mean (the dithers 0xB0-0xB2, a faint glyph): not a space to
 * trust. */
static float pal_dist(const float *c)
{
	float best = 1e9f;
	for (int q = 0; q < 16; q++) {
		float d = 0;
		for (int k = 0; k < 3; k++)
			d += (c[k] - vga16[q][k]) * (c[k] - vga16[q][k]);
		best = d < best ? d : best;
	}
	return sqrtf(best);
}

/* A cell that reads as one colour far from the palette: most likely a
 * dither (0xB0-0xB2) blurred into the mix of its two colours. The pair of
 * palette colours and dither whose mix is nearest the mean, untrusted
 * (0xB0 in a, b mixes as 0xB2 in b, a: a guess). */
static void dither_guess(const struct glyphset *gs, const float *mean, struct text_cell *tc)
{
	const float total = (float)(gs->cw * CELL_H);
	float best = 1e9f;
	int bc = -1, ba = 0, bb = 0;
	for (int code = 0xB0; code <= 0xB2; code++) {
		if (!inked(gs, code))
			return;
		const float r = (float)gs->lit[code] / total;
		for (int a = 0; a < 16; a++)
			for (int b = 0; b < 16; b++) {
				if (a == b)
					continue;
				float d = 0;
				for (int k = 0; k < 3; k++) {
					float e = r * vga16[a][k] + (1 - r) * vga16[b][k] - mean[k];
					d += e * e;
				}
				if (d < best) {
					best = d;
					bc = code;
					ba = a;
					bb = b;
				}
			}
	}
	if (bc < 0 || best > DITHER_NEAR * DITHER_NEAR)
		return;
	tc->code = (uint8_t)bc;
	memcpy(tc->fg, vga16[ba], 3);
	memcpy(tc->bg, vga16[bb], 3);
	tc->confidence = DITHER_CONFIDENCE;
}

#ifndef SHARPEN_SLOPE
#define SHARPEN_SLOPE 0.2f
#endif
#ifndef SHARPEN_MAX
#define SHARPEN_MAX 0.2f
#endif
/* How much of a text-mode pixel's colour its neighbour's sample holds at
 * scale s: 1/8 at 2 (bilinear enlargement), more below, where JPEG's
 * blocks and halved colour resolution blur the same number of frame
 * pixels over more of the text (fitted to captures at 1.78, 2 and 2.67). */
static float sharpen_k(double s)
{
	float k = 0.125f + SHARPEN_SLOPE * (float)(2.0 - s);
	return k < 0.125f ? 0.125f : k > SHARPEN_MAX ? SHARPEN_MAX : k;
}

/* Re-ranking an uncertain reading against the frame itself. Binarising a
 * blurred cell loses a stroke of a pixel whose colour the blur spread into
 * its neighbours (the stub of 0xB6, the dots of 0x9A, an arrow's head):
 * the Hamming distance then prefers the glyph without it. Here each of the
 * RERANK_K nearest glyphs is drawn as the frame would show it (its mask,
 * bilinear between text-mode pixel centres: how a capture enlarges), its
 * two colours fitted per channel by least squares, and the glyph whose
 * drawing leaves the smallest residual over the cell's frame pixels wins.
 * Frame pixels whose drawing needs the neighbouring cells are left out. */
#define RERANK_K 12
#ifndef RERANK_BLUR
#define RERANK_BLUR 1.0f
#endif
#define RERANK_PX 2048 /* frame pixels of one cell at most (1920x1080: ~700) */

struct footprint {
	int n;
	uint8_t i0[RERANK_PX], j0[RERANK_PX]; /* text-mode pixel before the sample */
	float fu[RERANK_PX], fv[RERANK_PX];   /* weights of the one after */
	float yc[RERANK_PX][3];               /* the frame pixel: Y, Cb, Cr */
	double sy[3], syy[3];                 /* sums of yc and its squares */
};

/* The 16 text colours (vga16) in the footprint's Y, Cb/2, Cr/2. */
#define YCC(r, g, b) { LUMA(r, g, b), 0.5f * ((b) - LUMA(r, g, b)), 0.5f * ((r) - LUMA(r, g, b)) }
static const float pal_ycc[16][3] = {
	YCC(0x00, 0x00, 0x00), YCC(0x00, 0x00, 0xA8), YCC(0x00, 0xA8, 0x00), YCC(0x00, 0xA8, 0xA8),
	YCC(0xA8, 0x00, 0x00), YCC(0xA8, 0x00, 0xA8), YCC(0xA8, 0x57, 0x00), YCC(0xA8, 0xA8, 0xA8),
	YCC(0x57, 0x57, 0x57), YCC(0x57, 0x57, 0xFF), YCC(0x57, 0xFF, 0x57), YCC(0x57, 0xFF, 0xFF),
	YCC(0xFF, 0x57, 0x57), YCC(0xFF, 0x57, 0xFF), YCC(0xFF, 0xFF, 0x57), YCC(0xFF, 0xFF, 0xFF),
};
#undef YCC

static void cell_footprint(const struct scaled *s, const struct grid *g, int col, int row,
			   struct footprint *fp)
{
	const double x0 = g->ox + (double)col * g->cw * g->sx, y0 = g->oy + (double)row * CELL_H * g->sy;
	const int xa = (int)ceil(x0), xb = (int)floor(x0 + g->cw * g->sx);
	const int ya = (int)ceil(y0), yb = (int)floor(y0 + CELL_H * g->sy);
	fp->n = 0;
	for (int y = ya < 0 ? 0 : ya; y < yb && y < s->h; y++) {
		double v = (y + 0.5 - y0) / g->sy - 0.5;
		int j = (int)floor(v);
		if (j < 0 || j + 1 > CELL_H - 1)
			continue;
		const uint8_t *line = s->rgb + (size_t)y * (size_t)s->w * 3;
		for (int x = xa < 0 ? 0 : xa; x < xb && x < s->w; x++) {
			double u = (x + 0.5 - x0) / g->sx - 0.5;
			int i = (int)floor(u);
			if (i < 0 || i + 1 > g->cw - 1 || fp->n == RERANK_PX)
				continue;
			const uint8_t *p = line + (size_t)x * 3;
			float *o = fp->yc[fp->n];
			o[0] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
			o[1] = 0.5f * (p[2] - o[0]); /* chroma at half weight: JPEG */
			o[2] = 0.5f * (p[0] - o[0]); /* halves its resolution */
			fp->i0[fp->n] = (uint8_t)i;
			fp->j0[fp->n] = (uint8_t)j;
			fp->fu[fp->n] = (float)(u - i);
			fp->fv[fp->n] = (float)(v - j);
			fp->n++;
		}
	}
	for (int c = 0; c < 3; c++) {
		fp->sy[c] = fp->syy[c] = 0;
		for (int k = 0; k < fp->n; k++) {
			fp->sy[c] += fp->yc[k][c];
			fp->syy[c] += fp->yc[k][c] * fp->yc[k][c];
		}
	}
}

/* The residual of the frame pixels after the best fit of glyph code drawn
 * in two text colours; those colours in pal[] (vga16 indices: 0 the
 * background, 1 the foreground). */
static float fit_glyph(const struct glyphset *gs, int code, const struct footprint *fp, float kx,
		       float ky, int pal[2])
{
	float m0[CELL_H][9], m1[CELL_H][9], m[CELL_H][9];
	const int cw = gs->cw;
	for (int r = 0; r < CELL_H; r++)
		for (int i = 0; i < cw; i++)
			m0[r][i] = (float)(gs->row[code][r] >> (cw - 1 - i) & 1);
	/* The capture blurs more than bilinear enlargement (see sharpen_k()):
	 * the same spread, edges replicated. */
	for (int r = 0; r < CELL_H; r++)
		for (int i = 0; i < cw; i++)
			m1[r][i] = (1 - 2 * kx) * m0[r][i] +
				   kx * (m0[r][i > 0 ? i - 1 : i] + m0[r][i < cw - 1 ? i + 1 : i]);
	for (int r = 0; r < CELL_H; r++)
		for (int i = 0; i < cw; i++)
			m[r][i] = (1 - 2 * ky) * m1[r][i] +
				  ky * (m1[r > 0 ? r - 1 : r][i] + m1[r < CELL_H - 1 ? r + 1 : r][i]);
	double sa = 0, saa = 0, say[3] = { 0, 0, 0 };
	const double *sy = fp->sy, *syy = fp->syy;
	for (int k = 0; k < fp->n; k++) {
		const int i = fp->i0[k], j = fp->j0[k];
		const float fu = fp->fu[k], fv = fp->fv[k];
		float top = m[j][i] + fu * (m[j][i + 1] - m[j][i]);
		float bot = m[j + 1][i] + fu * (m[j + 1][i + 1] - m[j + 1][i]);
		float a = top + fv * (bot - top);
		sa += a;
		saa += a * a;
		for (int c = 0; c < 3; c++)
			say[c] += a * fp->yc[k][c];
	}
	/* The least-squares colours, then the same with each snapped to the
	 * nearest text colour: a free fit would let a bigger blot in a
	 * paler colour pass for a small dot (0x07 for 0xF9), and one colour
	 * for a dither blurred into its mix. */
	const double n = fp->n, vaa = saa - sa * sa / n;
	float col[2][3];
	for (int c = 0; c < 3; c++) {
		double beta = vaa < 1e-6 ? 0 : (say[c] - sa * sy[c] / n) / vaa;
		double alpha = (sy[c] - beta * sa) / n;
		col[0][c] = (float)alpha;
		col[1][c] = (float)(alpha + beta);
	}
	for (int side = 0; side < 2; side++) {
		int bq = 0;
		float bd = 1e30f;
		for (int q = 0; q < 16; q++) {
			float d = 0;
			for (int c = 0; c < 3; c++)
				d += (col[side][c] - pal_ycc[q][c]) * (col[side][c] - pal_ycc[q][c]);
			if (d < bd) {
				bd = d;
				bq = q;
			}
		}
		memcpy(col[side], pal_ycc[bq], sizeof col[side]);
		pal[side] = bq;
	}
	double res = 0;
	for (int c = 0; c < 3; c++) {
		const double b = col[0][c], d = col[1][c] - col[0][c];
		res += syy[c] - 2 * b * sy[c] - 2 * d * say[c] + n * b * b + 2 * b * d * sa +
		       d * d * saa;
	}
	return (float)res;
}

/* The code among the RERANK_K glyphs nearest the binarised cell (on) whose
 * drawing fits the frame best; -1 if the footprint is too small to say. */
static int rerank(const struct glyphset *gs, const uint16_t *on, const struct footprint *fp,
		  float kx, float ky)
{
	if (fp->n < 32)
		return -1;
	int code[RERANK_K], dist[RERANK_K], n = 0;
	const int total = gs->cw * CELL_H;
	for (int q = 0; q < gs->nuniq; q++) {
		const uint16_t *g = gs->row[gs->uniq[q]];
		int d = 0;
		for (int r = 0; r < CELL_H; r++)
			d += pop((unsigned)(g[r] ^ on[r]) & gs->full);
		if (total - d < d)
			d = total - d;
		int at = n < RERANK_K ? n++ : RERANK_K;
		while (at > 0 && dist[at - 1] > d) {
			if (at < RERANK_K) {
				dist[at] = dist[at - 1];
				code[at] = code[at - 1];
			}
			at--;
		}
		if (at < RERANK_K) {
			dist[at] = d;
			code[at] = gs->uniq[q];
		}
	}
	int best = -1;
	float bres = 0;
	for (int q = 0; q < n; q++) {
		int pal[2];
		float res = fit_glyph(gs, code[q], fp, kx, ky, pal);
		if (best < 0 || res < bres) {
			best = code[q];
			bres = res;
		}
	}
	return best;
}

/* Undo the resampling blur in a cell's samples, per axis, as far as
 * sharpen_k() says: e holds them with the ring of the neighbouring cells'
 * samples at the edges, CELL_H + 2 rows of 11 samples (the first cw + 2
 * used) of nc channels (3: RGB, 1: grey); v gets the cell's CELL_H rows of
 * cw, clamped to 0..255. */
static inline void sharpen_samples(const float *e, int nc, int cw, const struct grid *g, float *v)
{
	const float kx = sharpen_k(g->sx), nx = 1.0f / (1.0f - 2.0f * kx);
	const float ky = sharpen_k(g->sy), ny = 1.0f / (1.0f - 2.0f * ky);
	float h[(CELL_H + 2) * 9 * 3];
	for (int y = 0; y < CELL_H + 2; y++)
		for (int i = 0; i < cw; i++)
			for (int c = 0; c < nc; c++) {
				const float *p = e + (y * 11 + i) * nc + c;
				h[(y * 9 + i) * nc + c] = (p[nc] - kx * (p[0] + p[2 * nc])) * nx;
			}
	for (int y = 0; y < CELL_H; y++)
		for (int i = 0; i < cw; i++)
			for (int c = 0; c < nc; c++) {
				const float *p = h + (y * 9 + i) * nc + c;
				float x = (p[9 * nc] - ky * (p[0] + p[18 * nc])) * ny;
				v[(y * cw + i) * nc + c] = x < 0 ? 0 : x > 255 ? 255 : x;
			}
}

/* The RGB samples of cell (col, row) at its text-mode pixel centres
 * (bilinear), row-major, cw per row. */
void sample_cell(const struct scaled *s, const struct grid *g, int col, int row,
		 float v[][3])
{
	const int cw = g->cw;
	float xs[9];
	for (int i = 0; i < cw; i++)
		xs[i] = (float)(g->ox + ((double)(col * cw + i) + 0.5) * g->sx);
	for (int y = 0, k = 0; y < CELL_H; y++) {
		float fy = (float)(g->oy + ((double)(row * CELL_H + y) + 0.5) * g->sy);
		for (int i = 0; i < cw; i++, k++)
			rgb_at(s, xs[i], fy, v[k]);
	}
}

/* Resampling spreads each text-mode pixel into its neighbours' samples
 * (a bilinear enlargement by 2 keeps 3/4 at a pixel's centre and gives
 * 1/8 to each side): undone in v (sample_cell()'s samples) by
 * sharpen_samples(), with the samples of the neighbouring cells' pixels
 * at the edges. */
void sharpen_cell(const struct scaled *s, const struct grid *g, int col, int row,
		  float v[][3])
{
	const int cw = g->cw;
	float e[CELL_H + 2][9 + 2][3];
	for (int y = -1; y <= CELL_H; y++) {
		float fy = (float)(g->oy + ((double)(row * CELL_H + y) + 0.5) * g->sy);
		for (int i = -1; i <= cw; i++) {
			if (y >= 0 && y < CELL_H && i >= 0 && i < cw) {
				memcpy(e[y + 1][i + 1], v[y * cw + i], sizeof e[0][0]);
				continue;
			}
			float fx = (float)(g->ox + ((double)(col * cw + i) + 0.5) * g->sx);
			rgb_at(s, fx, fy, e[y + 1][i + 1]);
		}
	}
	sharpen_samples(&e[0][0][0], 3, cw, g, &v[0][0]);
}

/* The two colours of a cell whose samples raw (as sampled: sharpening
 * overshoots) are split by in1[]: blur pulls a thin stroke's samples
 * towards the other colour, so each is the mean of its samples furthest
 * from the other side's mean (within 80 % of the furthest, and not nearer
 * than its own mean). A side with no samples takes empty[side]. */
static void stroke_colours(const float raw[][3], const uint8_t *in1, int np,
			   const float empty[2][3], float colour[2][3])
{
	float rmean[2][3] = { { 0, 0, 0 }, { 0, 0, 0 } };
	int cnt[2] = { 0, 0 };
	for (int k = 0; k < np; k++) {
		cnt[in1[k]]++;
		for (int c = 0; c < 3; c++)
			rmean[in1[k]][c] += raw[k][c];
	}
	for (int side = 0; side < 2; side++)
		for (int c = 0; c < 3; c++)
			rmean[side][c] = cnt[side] ? rmean[side][c] / (float)cnt[side] : empty[side][c];
	for (int side = 0; side < 2; side++) {
		const float *me = rmean[side], *other = rmean[!side];
		float dist[9 * CELL_H], ref = 0, dmax = 0, sum[3] = { 0, 0, 0 };
		int m = 0;
		for (int c = 0; c < 3; c++)
			ref += (me[c] - other[c]) * (me[c] - other[c]);
		for (int k = 0; k < np; k++) {
			dist[k] = 0;
			if (in1[k] != side)
				continue;
			for (int c = 0; c < 3; c++)
				dist[k] += (raw[k][c] - other[c]) * (raw[k][c] - other[c]);
			if (dist[k] > dmax)
				dmax = dist[k];
		}
		float cut = 0.64f * dmax > ref ? 0.64f * dmax : ref;
		for (int k = 0; k < np; k++)
			if (in1[k] == side && dist[k] >= cut) {
				for (int c = 0; c < 3; c++)
					sum[c] += raw[k][c];
				m++;
			}
		for (int c = 0; c < 3; c++)
			colour[side][c] = m ? sum[c] / (float)m : me[c];
	}
}

/* The common case, cheaply: the cell's grey samples, with the ring of its
 * neighbours', sharpened as sharpen_cell() does, split into two levels
 * and matched exactly as a glyph, in either colour order; its colours the
 * mean of the samples nearest each level, snapped to the VGA levels. 1 if
 * that read the cell (an exact match, of clear contrast, with no 9th-column
 * twin); 0 leaves it to the full reading, which would read it the same
 * (ci/bench/decode's corpus: no cell read otherwise). */
#define FAST_CONTRAST 64.0f /* grey levels at least this far apart */
static int read_scaled_fast(const struct scaled *s, const struct glyphset *gs,
			    const struct grid *g, int col, int row, struct text_cell *tc)
{
	const int cw = g->cw, np = cw * CELL_H;
	int xi[11], yi[CELL_H + 2];
	float xw[11], yw[CELL_H + 2];
	for (int i = -1; i <= cw; i++)
		tap(g->ox + ((double)(col * cw + i) + 0.5) * g->sx, s->w, &xi[i + 1], &xw[i + 1]);
	for (int y = -1; y <= CELL_H; y++)
		tap(g->oy + ((double)(row * CELL_H + y) + 0.5) * g->sy, s->h, &yi[y + 1], &yw[y + 1]);
	float e[CELL_H + 2][11];
	for (int y = 0; y < CELL_H + 2; y++) {
		const uint8_t *a = s->grey + (size_t)yi[y] * (size_t)s->w, *b = a + s->w;
		for (int i = 0; i < cw + 2; i++) {
			const int x = xi[i];
			float top = a[x] + xw[i] * (float)(a[x + 1] - a[x]);
			float bot = b[x] + xw[i] * (float)(b[x + 1] - b[x]);
			e[y][i] = top + yw[y] * (bot - top);
		}
	}
	float v[9 * CELL_H];
	sharpen_samples(&e[0][0], 1, cw, g, v);
	float lo, hi;
	if (!split_grey(v, np, &lo, &hi) || hi - lo < FAST_CONTRAST)
		return 0;
	uint16_t on[CELL_H], off[CELL_H];
	grey_mask(v, cw, (lo + hi) * 0.5f, on);
	for (int y = 0; y < CELL_H; y++)
		off[y] = (uint16_t)(~on[y] & gs->full);
	int code = glyph_lookup(gs, on), swapped = 0;
	if (code < 0 || 2 * gs->lit[code] >= np) {
		code = glyph_lookup(gs, off);
		swapped = 1;
		if (code < 0 || 2 * gs->lit[code] >= np)
			return 0;
	}
	if (gs->twin9[code])
		return 0;
	/* Both sides have samples: the split had two levels. */
	float raw[9 * CELL_H][3], colour[2][3];
	const float none[2][3] = { { 0, 0, 0 }, { 0, 0, 0 } };
	uint8_t in1[9 * CELL_H];
	for (int k = 0; k < np; k++)
		in1[k] = on[k / cw] >> (cw - 1 - k % cw) & 1;
	sample_cell(s, g, col, row, raw);
	stroke_colours(raw, in1, np, none, colour);
	tc->code = (uint8_t)code;
	put_levels(tc->fg, colour[!swapped]);
	put_levels(tc->bg, colour[swapped]);
	tc->confidence = 1.0f;
	tc->cursor = 0;
	return 1;
}

static void read_scaled_glyph(const struct scaled *s, const struct glyphset *gs,
			      const struct grid *g, int col, int row, struct text_cell *tc)
{
	const int cw = g->cw, np = cw * CELL_H, total = np;
	/* Most cells are blank: first a look at the nearest pixels inside
	 * the outer ring of samples (see below); one colour there is a
	 * space. */
	{
		int xs[9];
		for (int i = 1; i < cw - 1; i++) {
			int x = (int)(g->ox + ((double)(col * cw + i) + 0.5) * g->sx);
			xs[i] = x < 0 ? 0 : x >= s->w ? s->w - 1 : x;
		}
		int lo[3] = { 255, 255, 255 }, hi[3] = { 0, 0, 0 }, sum[3] = { 0, 0, 0 }, m = 0;
		for (int y = 1; y < CELL_H - 1; y++) {
			int fy = (int)(g->oy + ((double)(row * CELL_H + y) + 0.5) * g->sy);
			fy = fy < 0 ? 0 : fy >= s->h ? s->h - 1 : fy;
			const uint8_t *line = s->rgb + (size_t)fy * (size_t)s->w * 3;
			for (int i = 1; i < cw - 1; i++) {
				const uint8_t *p = line + (size_t)xs[i] * 3;
				for (int c = 0; c < 3; c++) {
					lo[c] = p[c] < lo[c] ? p[c] : lo[c];
					hi[c] = p[c] > hi[c] ? p[c] : hi[c];
					sum[c] += p[c];
				}
				m++;
			}
		}
		int range2 = 0;
		for (int c = 0; c < 3; c++)
			range2 += (hi[c] - lo[c]) * (hi[c] - lo[c]);
		if ((float)range2 < BLANK_SURE2) {
			float mean[3];
			for (int c = 0; c < 3; c++)
				mean[c] = (float)sum[c] / (float)m;
			tc->code = 0x20;
			tc->cursor = 0;
			put_levels(tc->fg, mean);
			put_levels(tc->bg, mean);
			tc->confidence = 1.0f;
			if (pal_dist(mean) >= PALETTE_NEAR) {
				tc->confidence = 0.98f;
				dither_guess(gs, mean, tc);
			}
			return;
		}
	}
	if (read_scaled_fast(s, gs, g, col, row, tc))
		return;
	float v[9 * CELL_H][3], raw[9 * CELL_H][3];
	int k;
	sample_cell(s, g, col, row, raw);
	memcpy(v, raw, sizeof v);
	/* One colour inside the outer ring of samples: a space. The ring is
	 * left out because its samples take colour from the neighbouring
	 * cells (no glyph of a VGA font differs from a space only there). */
	float lo[3] = { 255, 255, 255 }, hi[3] = { 0, 0, 0 }, mean[3] = { 0, 0, 0 };
	int ninner = 0;
	for (int y = 1; y < CELL_H - 1; y++)
		for (int i = 1; i < cw - 1; i++) {
			const float *p = v[y * cw + i];
			for (int c = 0; c < 3; c++) {
				lo[c] = p[c] < lo[c] ? p[c] : lo[c];
				hi[c] = p[c] > hi[c] ? p[c] : hi[c];
				mean[c] += p[c];
			}
			ninner++;
		}
	float range2 = 0;
	for (int c = 0; c < 3; c++) {
		range2 += (hi[c] - lo[c]) * (hi[c] - lo[c]);
		mean[c] /= (float)ninner;
	}
	tc->cursor = 0;
	/* The luma range inside the ring: JPEG keeps luma sharp, so a faint
	 * glyph shows there even where its colours blur together. */
	float ilr = 0;
	{
		float a = 1e9f, b = -1;
		for (int y = 1; y < CELL_H - 1; y++)
			for (int i = 1; i < cw - 1; i++) {
				const float *p = v[y * cw + i];
				float l = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
				a = l < a ? l : a;
				b = l > b ? l : b;
			}
		ilr = b - a;
	}
	if (range2 < BLANK_DIST2) {
		tc->code = 0x20;
		put_levels(tc->fg, mean);
		put_levels(tc->bg, mean);
		/* Two colours this close may be a faint glyph as well as
		 * compression noise: not sure enough to trust. */
		tc->confidence = range2 < BLANK_SURE2 ? 1.0f : 0.98f;
		if (pal_dist(mean) >= PALETTE_NEAR) {
			tc->confidence = 0.98f;
			dither_guess(gs, mean, tc);
		}
		return;
	}
	sharpen_cell(s, g, col, row, v);
	/* 2-means in RGB, started from two samples inside the outer ring
	 * (whose samples take colour from the neighbouring cells and would
	 * start it on a colour that is not this cell's): the one furthest
	 * from the inner samples' mean, and the one furthest from that. Two
	 * colours of about the same luma are as far apart as any. */
	float c0[3], c1[3];
	{
		int a = -1, b = -1;
		float da = -1, db = -1;
		for (int y = 1; y < CELL_H - 1; y++)
			for (int i = 1; i < cw - 1; i++) {
				const float *p = v[y * cw + i];
				float d = 0;
				for (int c = 0; c < 3; c++)
					d += (p[c] - mean[c]) * (p[c] - mean[c]);
				if (d > da) {
					da = d;
					a = y * cw + i;
				}
			}
		for (int y = 1; y < CELL_H - 1; y++)
			for (int i = 1; i < cw - 1; i++) {
				const float *p = v[y * cw + i];
				float d = 0;
				for (int c = 0; c < 3; c++)
					d += (p[c] - v[a][c]) * (p[c] - v[a][c]);
				if (d > db) {
					db = d;
					b = y * cw + i;
				}
			}
		float la = 0.299f * v[a][0] + 0.587f * v[a][1] + 0.114f * v[a][2];
		float lb = 0.299f * v[b][0] + 0.587f * v[b][1] + 0.114f * v[b][2];
		if (la > lb) {
			int t = a;
			a = b;
			b = t;
		}
		memcpy(c0, v[a], sizeof c0);
		memcpy(c1, v[b], sizeof c1);
	}
	uint8_t in1[9 * CELL_H];
	int n1 = 0;
	for (int it = 0; it < 5; it++) {
		float s0[3] = { 0, 0, 0 }, s1[3] = { 0, 0, 0 };
		int m0 = 0, m1 = 0;
		for (k = 0; k < np; k++) {
			float d0 = 0, d1 = 0;
			for (int c = 0; c < 3; c++) {
				float a = v[k][c] - c0[c], b = v[k][c] - c1[c];
				d0 += a * a;
				d1 += b * b;
			}
			in1[k] = d1 < d0;
			if (k < cw || k >= np - cw || k % cw == 0 || k % cw == cw - 1)
				continue;
			for (int c = 0; c < 3; c++) {
				if (in1[k])
					s1[c] += v[k][c];
				else
					s0[c] += v[k][c];
			}
			m1 += in1[k];
			m0 += !in1[k];
		}
		int same = it > 0 && m1 == n1;
		n1 = m1;
		if (!m0 || !m1 || same)
			break;
		for (int c = 0; c < 3; c++) {
			c0[c] = s0[c] / (float)m0;
			c1[c] = s1[c] / (float)m1;
		}
	}
	n1 = 0;
	for (k = 0; k < np; k++)
		n1 += in1[k];
	float dist2 = 0;
	for (int c = 0; c < 3; c++)
		dist2 += (c1[c] - c0[c]) * (c1[c] - c0[c]);
	if (n1 == 0 || n1 == np || (dist2 < BLANK_DIST2 && ilr < BLANK_LUMA)) {
		float m[3] = { 0, 0, 0 };
		for (k = 0; k < np; k++)
			for (int c = 0; c < 3; c++)
				m[c] += v[k][c];
		for (int c = 0; c < 3; c++)
			m[c] /= (float)np;
		tc->code = 0x20;
		put_levels(tc->fg, m);
		put_levels(tc->bg, m);
		/* Two colours this close may be a faint glyph as well as
		 * compression noise: not sure enough to trust. */
		tc->confidence = n1 == 0 || n1 == np ? 1.0f : 0.98f;
		if (pal_dist(m) >= PALETTE_NEAR) {
			tc->confidence = 0.98f;
			dither_guess(gs, m, tc);
		}
		return;
	}
	/* JPEG keeps luma sharp and blurs colour (4:2:0 halves its
	 * resolution): where the two colours differ enough in luma, split by
	 * luma alone. */
	float y0 = 0.299f * c0[0] + 0.587f * c0[1] + 0.114f * c0[2];
	float y1 = 0.299f * c1[0] + 0.587f * c1[1] + 0.114f * c1[2];
	if (fabsf(y1 - y0) >= LUMA_SPLIT) {
		float t = (y0 + y1) * 0.5f;
		for (k = 0; k < np; k++) {
			float l = 0.299f * v[k][0] + 0.587f * v[k][1] + 0.114f * v[k][2];
			in1[k] = (l > t) == (y1 > y0);
		}
	}
	float colour[2][3];
	const float split[2][3] = { { c0[0], c0[1], c0[2] }, { c1[0], c1[1], c1[2] } };
	stroke_colours(raw, in1, np, split, colour);
	uint16_t on[CELL_H];
	for (int y = 0; y < CELL_H; y++) {
		unsigned m = 0;
		for (int i = 0; i < cw; i++)
			m = m << 1 | in1[y * cw + i];
		on[y] = (uint16_t)m;
	}
	/* Exactly a glyph, in either colour order: the reading nearest()
	 * would make (better() prefers the order with fewer pixels lit). */
	struct near best;
	uint16_t off[CELL_H];
	for (int y = 0; y < CELL_H; y++)
		off[y] = (uint16_t)(~on[y] & gs->full);
	int code = glyph_lookup(gs, on), code_off = glyph_lookup(gs, off);
	if (code >= 0 && 2 * gs->lit[code] < total)
		best = (struct near){ code, 0, 0, 0 };
	else if (code_off >= 0 && 2 * gs->lit[code_off] < total)
		best = (struct near){ code_off, 1, 0, 0 };
	else
		best = nearest(gs, on, 0xFFFF);
	int cursor = 0;
	if (best.d > 0) {
		/* A cursor: rows 13-14 solid in one colour, the rest a glyph. */
		const unsigned rowmask = 0xFFFF & ~(1u << CURSOR_FIRST | 1u << CURSOR_LAST);
		int lit1 = pop(on[CURSOR_FIRST]) + pop(on[CURSOR_LAST]);
		for (int sw = 0; sw < 2; sw++) {
			int solid = sw ? 2 * cw - lit1 : lit1; /* rows 13-14 in the fg colour */
			if (solid < 2 * cw - 1)
				continue;
			struct near c = nearest(gs, on, rowmask);
			/* nearest() found both orders; keep the one with fg = this colour */
			if (c.swapped != sw)
				continue;
			c.d += NEAR_UNIT * (2 * cw - solid);
			c.d2 += NEAR_UNIT * (2 * cw - solid);
			if (c.d < best.d) {
				best = c;
				cursor = 1;
			}
		}
	}
	tc->confidence = scaled_confidence(best.d, best.d2);
	if (!cursor && tc->confidence < TEXTMODE_TRUST) {
		struct footprint *fp = malloc(sizeof *fp);
		int code2 = -1;
		if (fp) {
			cell_footprint(s, g, col, row, fp);
			code2 = rerank(gs, on, fp, RERANK_BLUR * sharpen_k(g->sx), RERANK_BLUR * sharpen_k(g->sy));
			free(fp);
		}
		if (code2 >= 0 && code2 != best.code) {
			/* The colours stay as split: the orientation is the
			 * one in which the new glyph is nearer the split. */
			int d = 0;
			for (int r = 0; r < CELL_H; r++)
				d += pop((unsigned)(gs->row[code2][r] ^ on[r]) & gs->full);
			best.code = code2;
			best.swapped = 2 * d > total;
		}
	}
	tc->code = (uint8_t)best.code;
	put_levels(tc->fg, best.swapped ? colour[0] : colour[1]);
	put_levels(tc->bg, best.swapped ? colour[1] : colour[0]);
	tc->cursor = (uint8_t)cursor;
	/* Two colours of about the same luma are told apart by colour alone,
	 * which JPEG keeps at half resolution: a detail of a pixel or two
	 * (such as the short stroke that tells 0xB6 from 0xBA) can vanish. */
	if (fabsf(y1 - y0) < LUMA_TRUST && tc->confidence > LOW_SCALE_CONFIDENCE)
		tc->confidence = LOW_SCALE_CONFIDENCE;
	if (gs->twin9[best.code] && tc->confidence > LOW_SCALE_CONFIDENCE)
		tc->confidence = LOW_SCALE_CONFIDENCE;
}

static int text_colour(const uint8_t c[3])
{
	for (int q = 0; q < 16; q++)
		if (!memcmp(c, vga16[q], 3))
			return 1;
	return 0;
}

/* A cell read as its glyph and two colours. A colour that is not a text
 * colour is a thin stroke's blurred into its background (JPEG also halves
 * the resolution of colour): both are then fitted again to the frame's
 * pixels with the glyph drawn as the frame shows it, in text colours.
 * Only then: colours that are text colours are mostly right, and the fit
 * (its blur a model) reads a dot or a dash a level too bright as often
 * as it mends one (ci/bench/decode's corpus: wrong colour pairs 27 % ->
 * 1.9 % at 1280x720 q80; fitting every cell, 0.85 %, but two-thirds
 * slower, and wrong on grey dashes that were right). */
static void read_scaled_cell(const struct scaled *s, const struct glyphset *gs,
			     const struct grid *g, int col, int row, struct text_cell *tc)
{
	read_scaled_glyph(s, gs, g, col, row, tc);
	if (tc->cursor || !inked(gs, tc->code) || (text_colour(tc->fg) && text_colour(tc->bg)))
		return;
	struct footprint *fp = malloc(sizeof *fp);
	if (!fp)
		return;
	cell_footprint(s, g, col, row, fp);
	int pal[2];
	if (fp->n >= 32) {
		fit_glyph(gs, tc->code, fp, RERANK_BLUR * sharpen_k(g->sx),
			  RERANK_BLUR * sharpen_k(g->sy), pal);
		memcpy(tc->fg, vga16[pal[1]], 3);
		memcpy(tc->bg, vga16[pal[0]], 3);
	}
	free(fp);
}

/* Rows r0..r1 and columns c0..c1 of the screen (empty: r0 > r1). */
struct extent {
	int r0, r1, c0, c1;
};

/* Widen e to the trusted inked cells of screen t. */
static void prove(const struct glyphset *gs, const struct text_screen *t, struct extent *e)
{
	for (int r = 0; r < t->rows; r++)
		for (int c = 0; c < t->cols; c++) {
			const struct text_cell *tc = &t->cell[r][c];
			if (tc->confidence < TEXTMODE_TRUST || !inked(gs, tc->code))
				continue;
			e->r0 = r < e->r0 ? r : e->r0;
			e->r1 = r > e->r1 ? r : e->r1;
			e->c0 = c < e->c0 ? c : e->c0;
			e->c1 = c > e->c1 ? c : e->c1;
		}
}

/* Has screen t a doubtful cell outside e? */
static int astray(const struct text_screen *t, const struct extent *e)
{
	for (int r = 0; r < t->rows; r++)
		for (int c = 0; c < t->cols; c++)
			if (t->cell[r][c].confidence < TEXTMODE_TRUST &&
			    (r < e->r0 || r > e->r1 || c < e->c0 || c > e->c1))
				return 1;
	return 0;
}

/* What a reader keeps of captures between frames (textmode_int.h). */
struct capture_memory {
	int tables;               /* the glyph sets have twin9 and evidence */
	int grid_w, grid_h;       /* frame size the grid was found in; 0 if none */
	struct grid grid;
	double grid_score;        /* check_grid() on the frame it was found in */
	struct extent proven;     /* where the grid has read trusted glyphs */
};

struct capture_memory *capture_memory_new(void)
{
	return calloc(1, sizeof(struct capture_memory));
}

void capture_memory_free(struct capture_memory *m)
{
	free(m);
}

int capture_knows(const struct capture_memory *m, int width, int height)
{
	return m->grid_w == width && m->grid_h == height;
}

/* How well grid g reads frame s: the share of up to SAMPLE_CELLS inked
 * cells, spread over the screen, that read exactly as a glyph that says
 * the grid is right; 1 if there are fewer than 8 inked cells (nothing to
 * contradict it). */
static double check_grid(const struct scaled *s, const struct glyphset *gs, const struct grid *g)
{
	uint16_t *ink = malloc(GRID_ROWS * GRID_COLS * sizeof *ink), cells[SAMPLE_CELLS];
	if (!ink)
		return 0;
	int nink = inked_cells(s, g, ink);
	int n = near_cells(ink, nink, g->cw, GRID_COLS * g->cw / 2.0, GRID_ROWS * CELL_H / 2.0, 1e9,
			   cells, SAMPLE_CELLS);
	free(ink);
	if (n < 8)
		return 1;
	return (double)exact_hits(s, gs, g, cells, n) / n;
}

/* Search frame s for its grid, and keep it in m for the next frames of
 * this size. 1 found, 0 none, -1 error (err). */
static int search_grid(struct capture_memory *m, const struct glyphset gs[2],
		       const struct scaled *s, struct grid *g, struct textmode_stats *stats,
		       struct hil_err *err)
{
	int found = find_grid(s, &gs[0], &gs[1], g, err);
	stats->grids_searched++;
	if (found > 0) {
		m->grid_w = s->w;
		m->grid_h = s->h;
		m->grid = *g;
		m->grid_score = check_grid(s, &gs[g->cw == 9 ? 0 : 1], g);
	}
	return found;
}

/* Read every cell of s on grid g into out; the number of cells not
 * trusted. */
static int read_grid(const struct glyphset gs[2], const struct scaled *s, const struct grid *g,
		     struct text_screen *out)
{
	const struct glyphset *cg = &gs[g->cw == 9 ? 0 : 1];
	int doubtful = 0;
	out->cols = GRID_COLS;
	out->rows = GRID_ROWS;
	out->cell_w = (int)lround(g->cw * g->sx);
	out->cell_h = (int)lround(CELL_H * g->sy);
	out->origin_x = (int)lround(g->ox);
	out->origin_y = (int)lround(g->oy);
	for (int r = 0; r < GRID_ROWS; r++)
		for (int c = 0; c < GRID_COLS; c++) {
			struct text_cell *tc = &out->cell[r][c];
			read_scaled_cell(s, cg, g, c, r, tc);
			/* Barely enlarged, thin strokes and dither patterns
			 * blur into their background: read, but never
			 * trusted. */
			if ((g->sx < LOW_SCALE || g->sy < LOW_SCALE) &&
			    tc->confidence > LOW_SCALE_CONFIDENCE)
				tc->confidence = LOW_SCALE_CONFIDENCE;
			doubtful += tc->confidence < TEXTMODE_TRUST;
		}
	return doubtful;
}

int capture_decode(struct capture_memory *m, struct glyphset gs[2], const struct frame *f,
		   struct text_screen *out, struct textmode_stats *stats, struct hil_err *err)
{
	if (f->width < 720 || f->height < 400) {
		hil_seterr(err,
			   "unsupported text geometry %dx%d (this decoder reads 720x400 and "
			   "640x400): too small for a scaled capture of them",
			   f->width, f->height);
		return TEXTMODE_UNSUPPORTED;
	}
	if (!m->tables) {
		/* Half a millisecond: not spent on native frames. */
		for (int i = 0; i < 2; i++) {
			nine_twins(&gs[i]);
			grid_evidence(&gs[i]);
		}
		m->tables = 1;
	}
	struct scaled s = { f->width, f->height, f->rgb, NULL };
	const size_t npx = (size_t)f->width * (size_t)f->height;
	s.grey = malloc(npx);
	if (!s.grey) {
		hil_seterr(err, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < npx; i++) {
		const uint8_t *p = f->rgb + i * 3;
		s.grey[i] = (uint8_t)((77u * p[0] + 150u * p[1] + 29u * p[2]) >> 8);
	}
	/* The grid of the last frame of this size, if it still reads about
	 * as well as when it was found: a capture's geometry does not change
	 * from frame to frame, and the search is most of a frame's cost. */
	struct grid g;
	int found = 0, reused = 0, rc = 0;
	if (capture_knows(m, f->width, f->height)) {
		g = m->grid;
		double sc = check_grid(&s, &gs[g.cw == 9 ? 0 : 1], &g);
		found = reused = sc >= REUSE_MIN && sc >= REUSE_SHARE * m->grid_score;
	}
	if (!found)
		found = search_grid(m, gs, &s, &g, stats, err);
	if (found < 0) {
		rc = -1;
	} else if (!found) {
		hil_seterr(err,
			   "unsupported text geometry %dx%d: no 80x25 character grid found in it, "
			   "nor framebuffer text",
			   f->width, f->height);
		rc = TEXTMODE_UNSUPPORTED;
	} else {
		int doubtful = read_grid(gs, &s, &g, out);
		if (!reused)
			m->proven = (struct extent){ GRID_ROWS, -1, GRID_COLS, -1 };
		/* A grid found in a frame of a few rows can be off by a
		 * fraction of a pixel per row: right where it has read
		 * glyphs, wrong rows further down (check_grid() may not
		 * see it). A reading with doubtful cells outside where the
		 * grid has proven itself is done again with a grid searched
		 * in this frame, and the one with fewer doubts kept. */
		if (reused && doubtful && astray(out, &m->proven)) {
			const struct grid kept = m->grid;
			const double kept_score = m->grid_score;
			struct text_screen *again = malloc(sizeof *again);
			struct grid g2;
			if (again && search_grid(m, gs, &s, &g2, stats, err) > 0 &&
			    read_grid(gs, &s, &g2, again) < doubtful) {
				*out = *again;
				g = g2;
				reused = 0;
				m->proven = (struct extent){ GRID_ROWS, -1, GRID_COLS, -1 };
			} else {
				m->grid = kept;
				m->grid_score = kept_score;
			}
			free(again);
		}
		stats->grids_reused += reused;
		prove(&gs[g.cw == 9 ? 0 : 1], out, &m->proven);
	}
	free(s.grey);
	return rc;
}
