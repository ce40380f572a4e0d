/* capture_fit: a cell's glyph drawn as the capture shows it, fitted to
 * the frame's own pixels (capture_cells.c, step 7, and the colours of a
 * cell whose split colours are no text colours).
 *
 * Re-ranking an uncertain reading against the frame itself. Binarising a
 * blurred cell loses a stroke of a pixel whose colour the blur spread into
 * its neighbours (the stub of 0xB6, the dots of 0x9A, an arrow's head):
 * the Hamming distance then prefers the glyph without it. Here each of the
 * RERANK_K nearest glyphs is drawn as the frame would show it (its mask,
 * bilinear between text-mode pixel centres: how a capture enlarges), its
 * two colours fitted per channel by least squares, and the glyph whose
 * drawing leaves the smallest residual over the cell's frame pixels wins.
 * Frame pixels whose drawing needs the neighbouring cells are left out.
 * Where the cell may be a dither (0xB0-0xB2) flattened by a late sampling
 * phase, those are drawn through such a phase too (capture_rerank()).
 * The drawing's spread (struct response) is a guess, or learned from the
 * frame's trusted cells (capture_learn_response()).
 *
 * Ownership: a struct drawings' memory is allocated by
 * capture_drawings_init() and freed by capture_drawings_release(); every
 * other function works on its arguments and keeps nothing, its scratch
 * memory freed before returning. */
#include "capture_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RERANK_K 12
#define RERANK_W 256 /* frame columns of one cell at most (1920x1080: ~24) */

/* The 16 text colours (capture_cells.c's vga16) in the footprint's Y, Cb/2, Cr/2. */
#define YCC(r, g, b) { LUMA(r, g, b), 0.5f * ((b) - LUMA(r, g, b)), 0.5f * ((r) - LUMA(r, g, b)) }
static const float pal_ycc[16][3] = {
	YCC(0x00, 0x00, 0x00), YCC(0x00, 0x00, 0xA8), YCC(0x00, 0xA8, 0x00), YCC(0x00, 0xA8, 0xA8),
	YCC(0xA8, 0x00, 0x00), YCC(0xA8, 0x00, 0xA8), YCC(0xA8, 0x57, 0x00), YCC(0xA8, 0xA8, 0xA8),
	YCC(0x57, 0x57, 0x57), YCC(0x57, 0x57, 0xFF), YCC(0x57, 0xFF, 0x57), YCC(0x57, 0xFF, 0xFF),
	YCC(0xFF, 0x57, 0x57), YCC(0xFF, 0x57, 0xFF), YCC(0xFF, 0xFF, 0x57), YCC(0xFF, 0xFF, 0xFF),
};
#undef YCC

/* One frame pixel's bilinear weights along an axis, 1 - f for text-mode
 * pixel i and f for i + 1, added to their sums (w) and to the sums of
 * their products with the neighbours' (ww: before, own, after). */
static void add_weights(double *w, double (*ww)[3], int i, double f)
{
	w[i] += 1 - f;
	w[i + 1] += f;
	ww[i][1] += (1 - f) * (1 - f);
	ww[i][2] += (1 - f) * f;
	ww[i + 1][0] += f * (1 - f);
	ww[i + 1][1] += f * f;
}

/* Four lines of a footprint at once, one a vector lane: each lane's sums
 * are those of its line alone, in the same order. */
#define LINES 4
typedef float lines_f __attribute__((vector_size(LINES * sizeof(float))));
typedef int lines_i __attribute__((vector_size(LINES * sizeof(int))));

/* The n lines y[] (at text-mode rows j[], weights fv[] on the next) of
 * the nx pixels from x (text-mode columns xc[], weights xu[] on the
 * next), added to fp's sums line by line. */
static void add_lines(const struct scaled *s, int cw, int n, const int *y, const int *j,
		      const double *fv, int x, int nx, const int *xc, const float *xu,
		      struct footprint *fp)
{
	const uint8_t *q[LINES];
	for (int l = 0; l < LINES; l++)
		q[l] = s->rgb + ((size_t)y[l < n ? l : 0] * (size_t)s->w + (size_t)x) * 3;
	/* The lines' pixels, weighted per text-mode column: in float (a
	 * line's few dozen pixels), added to the cell's sums in double. The
	 * pixels come column by column (xc[] never decreases): each column's
	 * are summed in registers (a and b, its weight and the next
	 * column's), then added to rs[]. */
	lines_f rs[9][3] = { { { 0 } } }, ls[3] = { { 0 } }, lss[3] = { { 0 } };
	lines_f a[3] = { { 0 } }, b[3] = { { 0 } };
	int at = nx ? xc[0] : 0;
	for (int k = 0; k < nx; k++) {
		lines_f yc[3];
		{
			const lines_i r = { q[0][3 * k], q[1][3 * k], q[2][3 * k], q[3][3 * k] };
			const lines_i gr = { q[0][3 * k + 1], q[1][3 * k + 1], q[2][3 * k + 1],
					     q[3][3 * k + 1] };
			const lines_i bl = { q[0][3 * k + 2], q[1][3 * k + 2], q[2][3 * k + 2],
					     q[3][3 * k + 2] };
			const lines_f rf = __builtin_convertvector(r, lines_f);
			const lines_f bf = __builtin_convertvector(bl, lines_f);
			yc[0] = 0.299f * rf + 0.587f * __builtin_convertvector(gr, lines_f) + 0.114f * bf;
			yc[1] = 0.5f * (bf - yc[0]); /* chroma at half weight: JPEG */
			yc[2] = 0.5f * (rf - yc[0]); /* halves its resolution */
		}
		if (xc[k] != at) {
			for (int c = 0; c < 3; c++) {
				rs[at][c] += a[c];
				rs[at + 1][c] += b[c];
				a[c] = b[c] = (lines_f){ 0 };
			}
			at = xc[k];
		}
		const float fu = xu[k];
		for (int c = 0; c < 3; c++) {
			a[c] += (1 - fu) * yc[c];
			b[c] += fu * yc[c];
			ls[c] += yc[c];
			lss[c] += yc[c] * yc[c];
		}
	}
	for (int c = 0; c < 3 && nx; c++) {
		rs[at][c] += a[c];
		rs[at + 1][c] += b[c];
	}
	for (int l = 0; l < n; l++) {
		for (int c = 0; c < 3; c++) {
			fp->sy[c] += ls[c][l];
			fp->syy[c] += lss[c][l];
		}
		for (int i = 0; i < cw; i++)
			for (int c = 0; c < 3; c++) {
				fp->wy[j[l] * cw + i][c] += (1 - fv[l]) * rs[i][c][l];
				fp->wy[(j[l] + 1) * cw + i][c] += fv[l] * rs[i][c][l];
			}
	}
}

void capture_footprint(const struct scaled *s, const struct grid *g, int col, int row,
		       struct footprint *fp)
{
	const double x0 = g->ox + (double)col * g->cw * g->sx, y0 = g->oy + (double)row * CELL_H * g->sy;
	const int xa = (int)ceil(x0), xb = (int)floor(x0 + g->cw * g->sx);
	const int ya = (int)ceil(y0), yb = (int)floor(y0 + CELL_H * g->sy);
	const int cw = g->cw;
	memset(fp, 0, sizeof *fp);
	/* The frame pixels are whole rows times whole columns: a run of
	 * columns from x1 (those whose drawing needs the neighbouring cells
	 * are at its ends). */
	int x1 = 0, xc[RERANK_W], nx = 0;
	float xu[RERANK_W];
	double *wx = fp->wx, (*wwx)[3] = fp->wwx, *wyr = fp->wr, (*wwy)[3] = fp->wwr;
	for (int x = xa < 0 ? 0 : xa; x < xb && x < s->w && nx < RERANK_W; x++) {
		double u = (x + 0.5 - x0) / g->sx - 0.5;
		int i = (int)floor(u);
		if (i < 0 || i + 1 > cw - 1)
			continue;
		const double f = u - i;
		x1 = nx ? x1 : x;
		xc[nx] = i;
		xu[nx++] = (float)f;
		add_weights(wx, wwx, i, f);
	}
	int ny = 0, n = 0, ly[LINES], lj[LINES];
	double lfv[LINES];
	for (int y = ya < 0 ? 0 : ya; y < yb && y < s->h; y++) {
		double v = (y + 0.5 - y0) / g->sy - 0.5;
		int j = (int)floor(v);
		if (j < 0 || j + 1 > CELL_H - 1)
			continue;
		const double fv = v - j;
		ny++;
		add_weights(wyr, wwy, j, fv);
		ly[n] = y;
		lj[n] = j;
		lfv[n++] = fv;
		if (n == LINES) {
			add_lines(s, cw, n, ly, lj, lfv, x1, nx, xc, xu, fp);
			n = 0;
		}
	}
	if (n)
		add_lines(s, cw, n, ly, lj, lfv, x1, nx, xc, xu, fp);
	fp->n = nx * ny;
}

/* Glyph code's mask as the capture draws it, one value a text-mode pixel:
 * each column first mixed with mix of the one after it (a late sampling
 * phase, see capture.c's equalisers; 0: none), then spread by rp. */
static void draw_glyph(const struct glyphset *gs, int code, const struct response *rp, float mix,
		       float m[CELL_H][9])
{
	float g[CELL_H][9], m0[CELL_H][9], m1[CELL_H][9];
	const int cw = gs->cw;
	for (int r = 0; r < CELL_H; r++)
		for (int i = 0; i < cw; i++)
			g[r][i] = (float)(gs->row[code][r] >> (cw - 1 - i) & 1);
	for (int r = 0; r < CELL_H; r++)
		for (int i = 0; i < cw; i++)
			m0[r][i] = (1 - mix) * g[r][i] + mix * g[r][i < cw - 1 ? i + 1 : i];
	/* The capture blurs more than bilinear enlargement (see sharpen_k()),
	 * an analog one unevenly (struct response): edges replicated. */
	const float l = rp->l, rr = rp->r, ky = rp->ky;
	for (int r = 0; r < CELL_H; r++)
		for (int i = 0; i < cw; i++)
			m1[r][i] = (1 - l - rr) * m0[r][i] + l * m0[r][i > 0 ? i - 1 : i] +
				   rr * m0[r][i < cw - 1 ? i + 1 : i];
	for (int r = 0; r < CELL_H; r++)
		for (int i = 0; i < cw; i++)
			m[r][i] = (1 - 2 * ky) * m1[r][i] +
				  ky * (m1[r > 0 ? r - 1 : r][i] + m1[r < CELL_H - 1 ? r + 1 : r][i]);
}

void capture_drawings_init(struct drawings *d, const struct response *rp)
{
	d->rp = *rp;
	memset(d->drawn, 0, sizeof d->drawn);
	d->m = malloc(256 * sizeof *d->m);
}

void capture_drawings_release(struct drawings *d)
{
	free(d->m);
	d->m = NULL;
}

/* Glyph code drawn through d's response (mix 0). */
static const float (*drawing(struct drawings *d, const struct glyphset *gs, int code))[9]
{
	if (!d->m) {
		draw_glyph(gs, code, &d->rp, 0, d->one);
		return (const float (*)[9])d->one;
	}
	if (!d->drawn[code]) {
		draw_glyph(gs, code, &d->rp, 0, d->m[code]);
		d->drawn[code] = 1;
	}
	return (const float (*)[9])d->m[code];
}

/* What a fit of two colours to drawing m needs of the footprint: the sums
 * over its pixels of m, m squared and m times the frame's Y, Cb, Cr. */
struct fit_sums {
	double sa, saa, say[3];
};

static void fit_sums(const struct footprint *fp, int cw, const float m[CELL_H][9],
		     struct fit_sums *f)
{
	double sa = 0, saa = 0, say[3] = { 0, 0, 0 };
	/* h: m through each column's weights with its neighbours' */
	double h[CELL_H][9];
	for (int r = 0; r < CELL_H; r++)
		for (int i = 0; i < cw; i++)
			h[r][i] = fp->wwx[i][1] * m[r][i] + (i > 0 ? fp->wwx[i][0] * m[r][i - 1] : 0) +
				  (i < cw - 1 ? fp->wwx[i][2] * m[r][i + 1] : 0);
	for (int r = 0; r < CELL_H; r++)
		for (int i = 0; i < cw; i++) {
			const double mt = m[r][i];
			if (mt == 0)
				continue;
			sa += mt * fp->wr[r] * fp->wx[i];
			for (int c = 0; c < 3; c++)
				say[c] += mt * fp->wy[r * cw + i][c];
			saa += mt * (fp->wwr[r][1] * h[r][i] + (r > 0 ? fp->wwr[r][0] * h[r - 1][i] : 0) +
				     (r < CELL_H - 1 ? fp->wwr[r][2] * h[r + 1][i] : 0));
		}
	f->sa = sa;
	f->saa = saa;
	memcpy(f->say, say, sizeof say);
}

/* The residual of the footprint's pixels drawn as m (f its sums) in
 * background bg and foreground fg (Y, Cb/2, Cr/2). */
static double residual(const struct footprint *fp, const struct fit_sums *f, const float *bg,
		       const float *fg)
{
	double res = 0;
	for (int c = 0; c < 3; c++) {
		const double b = bg[c], d = fg[c] - bg[c];
		res += fp->syy[c] - 2 * b * fp->sy[c] - 2 * d * f->say[c] + fp->n * b * b +
		       2 * b * d * f->sa + d * d * f->saa;
	}
	return res;
}

/* The residual of the frame pixels after the best fit of drawing m in two
 * text colours; those colours in pal[] (vga16 indices: 0 the background,
 * 1 the foreground). */
static float fit_drawing(const struct footprint *fp, int cw, const float m[CELL_H][9], int pal[2])
{
	struct fit_sums f;
	fit_sums(fp, cw, m, &f);
	/* The least-squares colours, then the same with each snapped to the
	 * nearest text colour: a free fit would let a bigger blot in a
	 * paler colour pass for a small dot (0x07 for 0xF9), and one colour
	 * for a dither blurred into its mix. */
	const double n = fp->n, vaa = f.saa - f.sa * f.sa / n;
	const double *sy = fp->sy;
	float col[2][3];
	for (int c = 0; c < 3; c++) {
		double beta = vaa < 1e-6 ? 0 : (f.say[c] - f.sa * sy[c] / n) / vaa;
		double alpha = (sy[c] - beta * f.sa) / n;
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
	return (float)residual(fp, &f, col[0], col[1]);
}

float capture_fit_glyph(const struct glyphset *gs, int code, const struct footprint *fp,
			struct drawings *d, int pal[2])
{
	return fit_drawing(fp, gs->cw, drawing(d, gs, code), pal);
}

/* The residual of the frame pixels after the best fit of glyph code drawn
 * through mix (draw_glyph()) in two different text colours, tried all:
 * the least-squares fit cannot tell them where the drawing is about
 * uniform (a dither through a phase of half a pixel is its colours' mix
 * and nothing else); those colours in pal[] as capture_fit_glyph(). */
static float fit_pair(const struct glyphset *gs, int code, const struct footprint *fp,
		      const struct response *rp, float mix, int pal[2])
{
	float m[CELL_H][9];
	struct fit_sums f;
	draw_glyph(gs, code, rp, mix, m);
	fit_sums(fp, gs->cw, m, &f);
	double best = 1e300;
	for (int b = 0; b < 16; b++)
		for (int a = 0; a < 16; a++) {
			if (a == b)
				continue;
			double res = residual(fp, &f, pal_ycc[b], pal_ycc[a]);
			if (res < best) {
				best = res;
				pal[0] = b;
				pal[1] = a;
			}
		}
	return (float)best;
}

/* The dithers: a late sampling phase mixes each column with the next
 * (analog captures, capture.c), which flattens their checks towards the
 * mix of their two colours; what is left binarises into stray dots,
 * nearest a space or a dash, or into a dither of another density, or
 * reads as one colour that is no text colour. So they are drawn through a
 * few such mixes (none, a quarter, a half: the phase left after the
 * equaliser), each in the pair of text colours that fits best. The dither
 * whose residual is below *res, which it then is, its colours in pal[];
 * -1 if none. */
static int fit_dithers(const struct glyphset *gs, const struct footprint *fp,
		       const struct response *rp, float *res, int pal[2])
{
	static const float mixes[] = { 0, 0.25f, 0.5f };
	int best = -1;
	for (int c = 0xB0; c <= 0xB2; c++) {
		if (!inked(gs, c))
			continue;
		for (int k = 0; k < (int)(sizeof mixes / sizeof mixes[0]); k++) {
			int p[2] = { 0, 0 };
			float r = fit_pair(gs, c, fp, rp, mixes[k], p);
			if (r < *res) {
				best = c;
				*res = r;
				pal[0] = p[0];
				pal[1] = p[1];
			}
		}
	}
	return best;
}

int capture_fit_dither(const struct glyphset *gs, const struct footprint *fp,
		       const struct response *rp, int pal[2])
{
	if (fp->n < 32)
		return -1;
	int one[2];
	float m[CELL_H][9];
	draw_glyph(gs, 0x20, rp, 0, m);
	float res = fit_drawing(fp, gs->cw, (const float (*)[9])m, one);
	return fit_dithers(gs, fp, rp, &res, pal);
}

/* The code among the RERANK_K glyphs nearest the binarised cell (on) whose
 * drawing fits the frame best; -1 if the footprint is too small to say.
 * With dither, the dithers too (fit_dithers(); their colours there). */
int capture_rerank(const struct glyphset *gs, const uint16_t *on, const struct footprint *fp,
		   struct drawings *d, int dither[2])
{
	if (fp->n < 32)
		return -1;
	int code[RERANK_K], dist[RERANK_K], n = 0;
	const int total = gs->cw * CELL_H;
	/* Packed (glyph_pack()): a few 64-bit counts a glyph, not 16. */
	const struct packed cell = glyph_pack(on, gs->cw), all = { ~0ull, ~0ull, 0xFFFF };
	int dm[256], d9[256];
	glyph_distances(gs, &cell, &all, dm, d9);
	for (int q = 0; q < gs->nuniq; q++) {
		int hd = dm[q] + d9[q];
		if (total - hd < hd)
			hd = total - hd;
		int at = n < RERANK_K ? n++ : RERANK_K;
		while (at > 0 && dist[at - 1] > hd) {
			if (at < RERANK_K) {
				dist[at] = dist[at - 1];
				code[at] = code[at - 1];
			}
			at--;
		}
		if (at < RERANK_K) {
			dist[at] = hd;
			code[at] = gs->uniq[q];
		}
	}
	int best = -1;
	float bres = 0;
	for (int q = 0; q < n; q++) {
		int pal[2];
		float res = capture_fit_glyph(gs, code[q], fp, d, pal);
		if (best < 0 || res < bres) {
			best = code[q];
			bres = res;
		}
	}
	if (dither) {
		int c = fit_dithers(gs, fp, &d->rp, &bres, dither);
		best = c >= 0 ? c : best;
	}
	return best;
}


/* Learning the response. A trusted cell's glyph is known, and its two
 * colours are whatever fits (a drifted black level is no text colour): the
 * residual of its pixels after the free least-squares fit of its glyph
 * drawn through a response says how well that response is the capture's.
 * The response that leaves the least over a sample of such cells is
 * searched for from the first guess, one parameter at a time, in halving
 * steps. The fixed guess (sharpen_k()) is symmetric and fitted to digital
 * scalers; through an analog capture's equaliser the frames' own cells
 * ask for an uneven spread across and about a third of it down (ci/bench
 * corpus: l, r 0.05-0.17, ky 0.04-0.05 against 0.17 at 1280x720). */
#define LEARN_CELLS 320   /* trusted cells sampled at most */
#define LEARN_MIN 40      /* fewer: the guess stays */
#define LEARN_LO (-0.2f)  /* each parameter's range: ringing sharpens */
#define LEARN_HI 0.6f

static double free_residual(const struct footprint *fp, const struct fit_sums *f)
{
	const double n = fp->n, vaa = f->saa - f->sa * f->sa / n;
	double res = 0;
	for (int c = 0; c < 3; c++) {
		const double cov = f->say[c] - f->sa * fp->sy[c] / n;
		res += fp->syy[c] - fp->sy[c] * fp->sy[c] / n - (vaa > 1e-6 ? cov * cov / vaa : 0);
	}
	return res;
}

static double learn_cost(const struct glyphset *gs, const struct footprint *fps,
			 const uint8_t *codes, int n, const struct response *rp)
{
	double sum = 0;
	for (int k = 0; k < n; k++) {
		float m[CELL_H][9];
		struct fit_sums f;
		draw_glyph(gs, codes[k], rp, 0, m);
		fit_sums(&fps[k], gs->cw, m, &f);
		sum += free_residual(&fps[k], &f);
	}
	return sum;
}

/* A cell that can teach the response: a trusted glyph with edges. */
static int teaches(const struct glyphset *gs, const struct text_cell *tc)
{
	return tc->confidence >= TEXTMODE_TRUST && !tc->cursor && inked(gs, tc->code) &&
	       gs->lit[tc->code] < gs->cw * CELL_H;
}

void capture_learn_response(const struct glyphset *gs, const struct scaled *s,
			    const struct grid *g, const struct text_screen *t, struct response *rp)
{
	int total = 0;
	for (int r = 0; r < GRID_ROWS; r++)
		for (int c = 0; c < GRID_COLS; c++)
			total += teaches(gs, &t->cell[r][c]);
	if (total < LEARN_MIN)
		return;
	struct footprint *fps = malloc(LEARN_CELLS * sizeof *fps);
	uint8_t codes[LEARN_CELLS];
	if (!fps)
		return;
	/* Every few cells over the whole screen, not the first rows only. */
	const int every = (total + LEARN_CELLS - 1) / LEARN_CELLS;
	int n = 0, seen = 0;
	for (int r = 0; r < GRID_ROWS && n < LEARN_CELLS; r++)
		for (int c = 0; c < GRID_COLS && n < LEARN_CELLS; c++) {
			const struct text_cell *tc = &t->cell[r][c];
			if (!teaches(gs, tc) || seen++ % every)
				continue;
			capture_footprint(s, g, c, r, &fps[n]);
			if (fps[n].n < 32)
				continue;
			codes[n++] = tc->code;
		}
	if (n >= LEARN_MIN) {
		struct response best = *rp;
		double cost = learn_cost(gs, fps, codes, n, &best);
		for (float step = 0.1f; step > 0.012f; step *= 0.5f)
			for (int improved = 1; improved;) {
				improved = 0;
				for (int p = 0; p < 3; p++)
					for (int sg = -1; sg <= 1; sg += 2) {
						struct response t2 = best;
						float *v = p == 0 ? &t2.l : p == 1 ? &t2.r : &t2.ky;
						*v += sg * step;
						if (*v < LEARN_LO || *v > LEARN_HI)
							continue;
						double c2 = learn_cost(gs, fps, codes, n, &t2);
						if (c2 < cost) {
							cost = c2;
							best = t2;
							improved = 1;
						}
					}
			}
		*rp = best;
		rp->learned = 1;
	}
	free(fps);
}
