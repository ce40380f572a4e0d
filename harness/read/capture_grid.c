/* capture_grid: finding the cell grid of a capture (capture_int.h) from
 * the frame alone: 9 or 8 pixels per cell, scale and origin to a fraction
 * of a frame pixel; and how well a grid reads a frame. The steps:
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
 *    grid_evidence(), capture.c) do not count. A candidate reading
 *    GOOD_SCORE of them ends the search; if the best reads fewer than
 *    MIN_SCORE, there is no grid.
 * 4. Scale per axis within +-2 % (about that centre), by the same count
 *    over inked cells all over the screen: the fold's period can be off by
 *    a percent when the text is sparse.
 * 5. Origin and scale fitted to ever wider circles of inked cells around
 *    the centre: each cell's own best offset (its samples, at text-mode
 *    pixel centres, sit closest to two colours when on the pixels), then a
 *    weighted line through the offsets; the glyphs then say again which
 *    whole pixel starts a cell. A last local polish of the same measure.
 *    The fit is kept only if it reads as many inked cells as before it.
 *
 * Ownership: every function works on its arguments and keeps nothing;
 * scratch memory is freed before returning. */
#include "capture_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_CELLS 32     /* inked cells for the last polish */
#define INK_RANGE 96        /* grey range from which a cell surely has ink */
#define MIN_SCORE 0.3       /* share of inked cells a grid must read exactly */
#define GOOD_SCORE 0.9      /* ... and from which no other grid is tried */

/* Bilinear between a0 a1 (above) and b0 b1 (below), at weights xw, yw. */
static inline float bilerp(int a0, int a1, int b0, int b1, float xw, float yw)
{
	const float top = (float)a0 + xw * (float)(a1 - a0);
	const float bot = (float)b0 + xw * (float)(b1 - b0);
	return top + yw * (bot - top);
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
		/* Both lines' grey already made (in a search, nearly always):
		 * read straight from them; else pixel by pixel (grey_px()). */
		if (!s->grey_ok || (s->grey_ok[yi] && s->grey_ok[yi + 1])) {
			const uint8_t *a = s->grey + (size_t)yi * (size_t)s->w, *b = a + s->w;
			for (int i = 0; i < g->cw; i++) {
				const int x = xi[i];
				*v++ = bilerp(a[x], a[x + 1], b[x], b[x + 1], xw[i], yw);
			}
			continue;
		}
		for (int i = 0; i < g->cw; i++) {
			const int x = xi[i];
			*v++ = bilerp(grey_px(s, x, yi), grey_px(s, x + 1, yi), grey_px(s, x, yi + 1),
				      grey_px(s, x + 1, yi + 1), xw[i], yw);
		}
	}
}

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
double capture_spread(const struct scaled *s, const struct grid *g, const uint16_t *cells, int n)
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

void capture_refine(const struct scaled *s, struct grid *g, const uint16_t *cells, int n)
{
	double best = capture_spread(s, g, cells, n);
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
					double e = capture_spread(s, &t, cells, n);
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
				double v = capture_spread(s, &t, &cells[i], 1);
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
		int line[LINES];
		for (int y = 0; y < LINES; y++) {
			int fy = (int)(g->oy + ((double)(r * CELL_H + 2 + 3 * y) + 0.5) * g->sy);
			line[y] = fy < 0 ? 0 : fy >= s->h ? s->h - 1 : fy;
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
					int v = grey_px(s, xs[i], line[y]);
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
int capture_find_grid(const struct scaled *s, const struct glyphset *gs9,
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
		const uint8_t *a = grey_line(s, y), *b = grey_line(s, y + 1);
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
	capture_refine(s, &best, cells, n);
	{
		uint16_t *all = malloc(GRID_ROWS * GRID_COLS * sizeof *all);
		if (all) {
			int na = inked_cells(s, &before, all);
			int m = near_cells(all, na, before.cw, ax, ay, 1e9, all, 4 * SAMPLE_CELLS);
			if (exact_hits(s, gs, &before, all, m) > exact_hits(s, gs, &best, all, m)) {
				best = before;
				n = near_cells(all, na, best.cw, ax, ay, 1e9, cells, SAMPLE_CELLS);
				capture_refine(s, &best, cells, n);
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

/* How well grid g reads frame s: the share of up to SAMPLE_CELLS inked
 * cells, spread over the screen, that read exactly as a glyph that says
 * the grid is right; 1 if there are fewer than 8 inked cells (nothing to
 * contradict it). */
double capture_check_grid(const struct scaled *s, const struct glyphset *gs, const struct grid *g)
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
