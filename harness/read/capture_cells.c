/* capture_cells: reading every cell of a capture on its grid
 * (capture_int.h): the character, its two colours, and how sure the
 * reading is (textmode.h says what the confidence means). The steps:
 *
 * 6. Every cell: first cheaply, in grey (read_scaled_fast()): sharpened,
 *    split in two levels and matched exactly, in either colour order; most
 *    inked cells end there. The rest: one colour inside its outer ring of
 *    samples (which takes colour from the neighbours) is a space (trusted
 *    only if that colour, its row's black level taken off (row_lift()),
 *    is a palette colour; else most likely a blurred dither, guessed);
 *    else its samples (bilinear, RGB), sharpened against the resampling
 *    blur (sharpen_k()), split into two colours by 2-means
 *    started and fitted inside the ring (by luma alone where the two
 *    differ in luma by LUMA_SPLIT: JPEG keeps luma sharp and blurs
 *    colour), binarised, and matched by Hamming distance with the exact
 *    decoder's tie-breaking, cursor rule included. Cells told apart by
 *    colour alone, or only by the 9th column, are never trusted.
 * 7. A cell not trusted is read again against the frame's own pixels
 *    (capture_rerank(), capture_fit.c): the nearest glyphs are drawn as
 *    the capture would show them, in text colours, and the one that fits
 *    best is the reading; where the cell's mean is clearly no text colour,
 *    the dithers too, flattened by a late sampling phase. Drawn through
 *    the response capture_read_grid() is given, guessed or learned from
 *    the trusted cells of step 6, which step 7 waits for. Its confidence
 *    stays below trust: this lowers the error rate of the text that
 *    callers fall back from, it never makes a cell trusted.
 * Below LOW_SCALE thin strokes and dither patterns blur into their
 * background: such frames are read, but no cell is trusted.
 *
 * Ownership: every function works on its arguments and keeps nothing;
 * scratch memory is freed before returning. */
#include "capture_int.h"
#include "capture_px.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define LUMA_SPLIT 8.0f    /* luma difference from which cells split by luma */
#define LOW_SCALE 1.3        /* below this scale (either axis) ... */
#define LOW_SCALE_CONFIDENCE 0.98f /* ... no cell is more certain than this */
#define BLANK_DIST2 (40.0f * 40.0f) /* RGB distance^2 of a cell's two colours
				     * below which it is one colour... */
#ifndef SHARPEN
#define SHARPEN 0.24f
#endif
#define LUMA_TRUST 16.0f   /* luma difference below which no cell is trusted */
#define PALETTE_NEAR 15.0f /* see pal_dist() */
#define DITHER_NEAR 12.0f  /* see dither_guess() */
#define DITHER_CONFIDENCE 0.5f
/* A mean this far from every text colour, with its row's black level taken
 * off and without (row_lift() can misjudge it: 37 on a row of an a-all-1080
 * frame lifted by 15 at most), is a mix, not one colour moved by the
 * capture: a black level drift row_lift() missed moves a colour by up to
 * 15 levels a channel (26 in RGB), JPEG by less. */
#define DITHER_OFF 30.0f
#ifndef RERANK_BLUR
#define RERANK_BLUR 1.0f /* capture_fit.c's blur, times sharpen_k() */
#endif
#define BLANK_LUMA 14.0f  /* inner luma range from which two close colours are a glyph */
#define BLANK_SURE2 (32.0f * 32.0f) /* ...and certainly so below this */

/* Where a bilinear sample at frame coordinate x (pixel centres at i +
 * 0.5) reads along an axis of n pixels: the pixel before it and the
 * weight of the one after, clamped. */
static inline void rgb_tap(float x, int n, int *i0, float *f)
{
	x -= 0.5f;
	if (x < 0)
		x = 0;
	if (x > (float)(n - 1))
		x = (float)(n - 1);
	int i = (int)x;
	if (i > n - 2)
		i = n - 2;
	*i0 = i;
	*f = x - (float)i;
}

/* The bilinear RGB sample between pixel (x0, y0) and the next ones, at
 * weights fx, fy. */
#if defined(__SSE2__)
/* The three channels side by side in one vector (the same sums as one
 * by one): a cell's reading samples its ~200 text-mode pixels this way. */
static inline __m128 rgb_lerp(const uint8_t *p, __m128 fx)
{
	/* Pixels p and p + 3: six bytes, read as no more (in two loads: one
	 * of six through memory stalls). */
	uint32_t lo;
	uint16_t hi;
	memcpy(&lo, p, sizeof lo);
	memcpy(&hi, p + 4, sizeof hi);
	const uint64_t bytes = lo | (uint64_t)hi << 32;
	const __m128i zero = _mm_setzero_si128();
	const __m128i v = _mm_unpacklo_epi8(_mm_cvtsi64_si128((long long)bytes), zero);
	const __m128i p0 = _mm_unpacklo_epi16(v, zero), p1 = _mm_unpacklo_epi16(_mm_srli_si128(v, 6), zero);
	return _mm_add_ps(_mm_cvtepi32_ps(p0), _mm_mul_ps(fx, _mm_cvtepi32_ps(_mm_sub_epi32(p1, p0))));
}

static inline px4 rgb_mix(const struct scaled *s, int x0, float fx, int y0, float fy)
{
	const size_t stride = (size_t)s->w * 3;
	const uint8_t *p = s->rgb + (size_t)y0 * stride + (size_t)x0 * 3;
	const __m128 wx = _mm_set1_ps(fx);
	const __m128 a = rgb_lerp(p, wx), b = rgb_lerp(p + stride, wx);
	const __m128 v = _mm_add_ps(a, _mm_mul_ps(_mm_set1_ps(fy), _mm_sub_ps(b, a)));
	/* The fourth lane is the next pixel's red: 0 instead. */
	const __m128 rgb = _mm_castsi128_ps(_mm_set_epi32(0, -1, -1, -1));
	return (px4)_mm_and_ps(v, rgb);
}
#else
static inline px4 rgb_mix(const struct scaled *s, int x0, float fx, int y0, float fy)
{
	const size_t stride = (size_t)s->w * 3;
	const uint8_t *p = s->rgb + (size_t)y0 * stride + (size_t)x0 * 3;
	px4 out = { 0, 0, 0, 0 };
	for (int c = 0; c < 3; c++) {
		float a = p[c] + fx * (float)(p[c + 3] - p[c]);
		float b = p[stride + c] + fx * (float)(p[stride + c + 3] - p[stride + c]);
		out[c] = a + fy * (b - a);
	}
	return out;
}
#endif

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
	int dn[256], d9[256];
	struct near best = { 0x20, 0, total + 1, total + 1 };
	glyph_distances(gs, &c, &m, dn, d9);
	for (int i = 0; i < gs->nuniq; i++) {
		const int d = NEAR_UNIT * dn[i] + d9[i];
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

static void put_px4_levels(uint8_t out[3], px4 c)
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

/* A VGA capture's black level drifts (analog.c --black): every channel
 * of a screen row raised by about the same few levels (clipped at 255).
 * c as the card drew it, its row's lift taken off; a saturated channel
 * stays. */
static void unlift(const float *c, float lift, float out[3])
{
	for (int k = 0; k < 3; k++)
		out[k] = c[k] >= 250.0f ? c[k] : c[k] - lift > 0 ? c[k] - lift : 0;
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

/* The response capture_fit.c draws glyphs through before one is learned
 * (struct response): the spread sharpen_k() undoes, both ways alike. */
static struct response guess_response(const struct grid *g)
{
	const float kx = RERANK_BLUR * sharpen_k(g->sx), ky = RERANK_BLUR * sharpen_k(g->sy);
	return (struct response){ kx, kx, ky, 0 };
}

/* A blank cell (col, row) of mean colour mean, lift its row's black
 * level: if that is no palette colour, as captured or with the lift taken
 * off, it is most likely a blurred dither (untrusted). Where clearly none
 * (DITHER_OFF), the frame's pixels say: the dither that fits them better
 * than one colour (capture_fit_dither()), if any; else the mean alone, as
 * dither_guess() says. (A lift is judged from a row's dark pixels: on a
 * light background, from the blurred strokes of black text, which made
 * every light grey space of such a row a dither.) */
static void off_palette(const struct scaled *s, const struct glyphset *gs, const struct grid *g,
			int col, int row, const float *mean, float lift, struct text_cell *tc)
{
	float c[3];
	unlift(mean, lift, c);
	const float d = pal_dist(c);
	if (d < PALETTE_NEAR || pal_dist(mean) < PALETTE_NEAR)
		return;
	tc->confidence = 0.98f;
	if (d >= DITHER_OFF && pal_dist(mean) >= DITHER_OFF) {
		struct footprint fp;
		int pal[2];
		capture_footprint(s, g, col, row, &fp);
		const struct response rp = guess_response(g);
		int code = capture_fit_dither(gs, &fp, &rp, pal);
		if (code >= 0) {
			tc->code = (uint8_t)code;
			memcpy(tc->fg, vga16[pal[1]], 3);
			memcpy(tc->bg, vga16[pal[0]], 3);
			tc->confidence = DITHER_CONFIDENCE;
		}
		return;
	}
	dither_guess(gs, c, tc);
}

/* Undo the resampling blur in a cell's samples, per axis, as far as
 * sharpen_k() says: e holds them with the ring of the neighbouring cells'
 * samples at the edges, CELL_H + 2 rows of 11 samples (the first cw + 2
 * used); v gets the cell's CELL_H rows of cw, clamped to 0..255. In grey
 * (sharpen_grey()) or RGB (sharpen_rgb()): the same sums. */
#define SHARPEN_SAMPLES(T, e, cw, g, v, clamp)                                              \
	do {                                                                                 \
		const float kx = sharpen_k((g)->sx), nx = 1.0f / (1.0f - 2.0f * kx);         \
		const float ky = sharpen_k((g)->sy), ny = 1.0f / (1.0f - 2.0f * ky);         \
		T h[CELL_H + 2][9];                                                          \
		for (int y = 0; y < CELL_H + 2; y++)                                         \
			for (int i = 0; i < (cw); i++)                                       \
				h[y][i] = ((e)[y][i + 1] - kx * ((e)[y][i] + (e)[y][i + 2])) * nx; \
		for (int y = 0; y < CELL_H; y++)                                             \
			for (int i = 0; i < (cw); i++)                                       \
				(v)[y * (cw) + i] =                                          \
					clamp((h[y + 1][i] - ky * (h[y][i] + h[y + 2][i])) * ny); \
	} while (0)

static inline float clamp_level(float x)
{
	x = x > 0.0f ? x : 0.0f;
	return x < 255.0f ? x : 255.0f;
}

static inline px4 clamp_levels(px4 x)
{
	const px4 zero = { 0, 0, 0, 0 }, top = { 255.0f, 255.0f, 255.0f, 255.0f };
	/* As clamp_level(), lane by lane: x > 0 ? x : 0, then x < 255 ? x : 255. */
	return f4_min(f4_max(x, zero), top);
}

static inline void sharpen_grey(const float e[CELL_H + 2][RING_W], int cw, const struct grid *g, float *v)
{
	SHARPEN_SAMPLES(float, e, cw, g, v, clamp_level);
}

static inline void sharpen_rgb(const px4 e[CELL_H + 2][RING_W], int cw, const struct grid *g, px4 *v)
{
	SHARPEN_SAMPLES(px4, e, cw, g, v, clamp_levels);
}

/* The RGB samples of cell (col, row) at its text-mode pixel centres
 * (bilinear), with the ring of its neighbouring cells' samples: e[y + 1][i
 * + 1] for y in -1..CELL_H, i in -1..cw. One cell's reading samples the
 * frame once, here: its grey, its colours and their sharpening all start
 * from these. */
static void sample_ringed(const struct scaled *s, const struct grid *g, int col, int row,
			  px4 e[CELL_H + 2][RING_W])
{
	const int cw = g->cw;
	int x0[11];
	float fx[11];
	for (int i = -1; i <= cw; i++)
		rgb_tap((float)(g->ox + ((double)(col * cw + i) + 0.5) * g->sx), s->w, &x0[i + 1],
			&fx[i + 1]);
	for (int y = -1; y <= CELL_H; y++) {
		int y0;
		float fy;
		rgb_tap((float)(g->oy + ((double)(row * CELL_H + y) + 0.5) * g->sy), s->h, &y0, &fy);
		for (int i = 0; i < cw + 2; i++)
			e[y + 1][i] = rgb_mix(s, x0[i], fx[i], y0, fy);
		for (int i = cw + 2; i < RING_W; i++)
			e[y + 1][i] = (px4){ 0, 0, 0, 0 };
	}
}

/* The cell's own samples of e (sample_ringed()), row-major, cw per row. */
static void inner_samples(const px4 e[CELL_H + 2][RING_W], int cw, px4 *v)
{
	for (int y = 0; y < CELL_H; y++)
		memcpy(&v[y * cw], &e[y + 1][1], (size_t)cw * sizeof v[0]);
}

static void rgb_out(const px4 *v, int n, float out[][3])
{
	for (int k = 0; k < n; k++)
		for (int c = 0; c < 3; c++)
			out[k][c] = v[k][c];
}

void capture_sample_cell(const struct scaled *s, const struct grid *g, int col, int row,
			 float v[][3])
{
	px4 e[CELL_H + 2][RING_W], in[9 * CELL_H];
	sample_ringed(s, g, col, row, e);
	inner_samples(e, g->cw, in);
	rgb_out(in, g->cw * CELL_H, v);
}

/* Resampling spreads each text-mode pixel into its neighbours' samples
 * (a bilinear enlargement by 2 keeps 3/4 at a pixel's centre and gives
 * 1/8 to each side): undone by sharpen_samples(), with the samples of the
 * neighbouring cells' pixels at the edges. */
void capture_sharpen_cell(const struct scaled *s, const struct grid *g, int col, int row,
			  float v[][3])
{
	px4 e[CELL_H + 2][RING_W], sharp[9 * CELL_H];
	sample_ringed(s, g, col, row, e);
	sharpen_rgb(e, g->cw, g, sharp);
	rgb_out(sharp, g->cw * CELL_H, v);
}

/* The two colours of a cell whose samples raw (as sampled: sharpening
 * overshoots) are split by in1[]: blur pulls a thin stroke's samples
 * towards the other colour, so each is the mean of its samples furthest
 * from the other side's mean (within 80 % of the furthest, and not nearer
 * than its own mean). A side with no samples takes empty[side]. */
static void stroke_colours(const struct planes *raw, const m4 *in1, int np, const px4 empty[2],
			   px4 colour[2])
{
	/* Branch-free: each side's sum takes 0 where a sample is on the
	 * other (a cell's samples fall either way at random). */
	const int nv = np / 4;
	f4 s0[3] = { { 0 } }, s1[3] = { { 0 } };
	m4 ones = { 0 };
	for (int k = 0; k < nv; k++) {
		ones += in1[k];
		for (int c = 0; c < 3; c++) {
			s1[c] += f4_keep(raw->c[c][k], in1[k]);
			s0[c] += f4_keep(raw->c[c][k], ~in1[k]);
		}
	}
	const int n1 = m4_count(ones), cnt[2] = { np - n1, n1 };
	px4 rmean[2] = { empty[0], empty[1] };
	for (int c = 0; c < 3; c++) {
		if (cnt[0])
			rmean[0][c] = f4_sum(s0[c]) / (float)cnt[0];
		if (cnt[1])
			rmean[1][c] = f4_sum(s1[c]) / (float)cnt[1];
	}
	/* Each sample's distance from the other side's mean, and each side's
	 * furthest (the other side's distances taken as 0, no distance being
	 * less). */
	f4 dist[NV], dmax0 = { 0 }, dmax1 = { 0 };
	for (int k = 0; k < nv; k++) {
		const m4 one = in1[k];
		f4 d = { 0 };
		for (int c = 0; c < 3; c++) {
			const f4 o = f4_select(one, f4_all(rmean[0][c]), f4_all(rmean[1][c]));
			const f4 x = raw->c[c][k] - o;
			d += x * x;
		}
		dist[k] = d;
		dmax1 = f4_max(dmax1, f4_keep(d, one));
		dmax0 = f4_max(dmax0, f4_keep(d, ~one));
	}
	const float max0 = f4_hmax(dmax0), max1 = f4_hmax(dmax1);
	const float ref = px4_norm2(rmean[0] - rmean[1]);
	const f4 cut0 = f4_all(0.64f * max0 > ref ? 0.64f * max0 : ref);
	const f4 cut1 = f4_all(0.64f * max1 > ref ? 0.64f * max1 : ref);
	f4 f0[3] = { { 0 } }, f1[3] = { { 0 } };
	m4 far0n = { 0 }, far1n = { 0 };
	for (int k = 0; k < nv; k++) {
		const m4 far1 = in1[k] & (dist[k] >= cut1), far0 = ~in1[k] & (dist[k] >= cut0);
		far1n += far1;
		far0n += far0;
		for (int c = 0; c < 3; c++) {
			f1[c] += f4_keep(raw->c[c][k], far1);
			f0[c] += f4_keep(raw->c[c][k], far0);
		}
	}
	const int m0 = m4_count(far0n), m1 = m4_count(far1n);
	for (int c = 0; c < 3; c++) {
		colour[0][c] = m0 ? f4_sum(f0[c]) / (float)m0 : rmean[0][c];
		colour[1][c] = m1 ? f4_sum(f1[c]) / (float)m1 : rmean[1][c];
	}
	colour[0][3] = colour[1][3] = 0;
}

/* The common case, cheaply: the luma of the cell's samples e (with the
 * ring of its neighbours', sample_ringed()), sharpened, split into two levels
 * and matched exactly as a glyph, in either colour order; its colours the
 * mean of the samples nearest each level, snapped to the VGA levels. 1 if
 * that read the cell (an exact match, of clear contrast, with no 9th-column
 * twin); 0 leaves it to the full reading, which would read it the same
 * (ci/bench/decode's corpus: no cell read otherwise). */
#define FAST_CONTRAST 64.0f /* grey levels at least this far apart */
static int read_scaled_fast(const struct glyphset *gs, const struct grid *g,
			    const px4 e[CELL_H + 2][RING_W], struct text_cell *tc)
{
	const int cw = g->cw, np = cw * CELL_H;
	float grey[CELL_H + 2][RING_W];
	for (int y = 0; y < CELL_H + 2; y++)
		for (int i = 0; i < RING_W; i += 4) {
			f4 r, gr, b;
			px4_transpose(&e[y][i], &r, &gr, &b);
			const f4 l = LUMA(r, gr, b);
			memcpy(&grey[y][i], &l, sizeof l);
		}
	float v[9 * CELL_H] = { 0 }; /* all written: GCC cannot tell */
	sharpen_grey((const float (*)[RING_W])grey, cw, g, v);
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
	px4 raw[9 * CELL_H], colour[2];
	const px4 none[2] = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 } };
	m4 in1[NV];
	mask_rows(on, cw, in1);
	inner_samples(e, cw, raw);
	struct planes pl;
	to_planes(raw, np, &pl);
	stroke_colours(&pl, in1, np, none, colour);
	tc->code = (uint8_t)code;
	put_px4_levels(tc->fg, colour[!swapped]);
	put_px4_levels(tc->bg, colour[swapped]);
	tc->confidence = 1.0f;
	tc->cursor = 0;
	return 1;
}

/* rp: the glyphs drawn through the response to re-rank through (step 7);
 * NULL: not yet learned, *defer then set where a re-ranking is due. A
 * re-ranking leaves the cell's footprint in *fp and sets *have_fp. */
static void read_scaled_glyph(const struct scaled *s, const struct glyphset *gs,
			      const struct grid *g, int col, int row, float lift,
			      struct drawings *rp, int *defer, struct text_cell *tc,
			      struct footprint *fp, int *have_fp)
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
		/* Row by row, given up at the first row that shows two
		 * colours (most glyphs have ink in their first rows). */
		int lo[3] = { 255, 255, 255 }, hi[3] = { 0, 0, 0 }, sum[3] = { 0, 0, 0 }, m = 0;
		int range2 = 0;
		for (int y = 1; y < CELL_H - 1 && (float)range2 < BLANK_SURE2; y++) {
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
			range2 = 0;
			for (int c = 0; c < 3; c++)
				range2 += (hi[c] - lo[c]) * (hi[c] - lo[c]);
		}
		if ((float)range2 < BLANK_SURE2) {
			float mean[3];
			for (int c = 0; c < 3; c++)
				mean[c] = (float)sum[c] / (float)m;
			tc->code = 0x20;
			tc->cursor = 0;
			put_levels(tc->fg, mean);
			put_levels(tc->bg, mean);
			tc->confidence = 1.0f;
			off_palette(s, gs, g, col, row, mean, lift, tc);
			return;
		}
	}
	px4 e[CELL_H + 2][RING_W];
	sample_ringed(s, g, col, row, e);
	if (read_scaled_fast(gs, g, e, tc))
		return;
	px4 v[9 * CELL_H], raw[9 * CELL_H];
	int k;
	inner_samples(e, cw, raw);
	/* One colour inside the outer ring of samples: a space. The ring is
	 * left out because its samples take colour from the neighbouring
	 * cells (no glyph of a VGA font differs from a space only there). */
	px4 lo = { 255, 255, 255, 0 }, hi = { 0, 0, 0, 0 }, sum = { 0, 0, 0, 0 };
	int ninner = 0;
	for (int y = 1; y < CELL_H - 1; y++)
		for (int i = 1; i < cw - 1; i++) {
			const px4 p = raw[y * cw + i];
			lo = f4_min(p, lo);
			hi = f4_max(p, hi);
			sum += p;
			ninner++;
		}
	const float range2 = px4_norm2(hi - lo);
	float mean[3];
	for (int c = 0; c < 3; c++)
		mean[c] = sum[c] / (float)ninner;
	tc->cursor = 0;
	struct planes rawp, vp;
	to_planes(raw, np, &rawp);
	const m4 *inner = inner_mask(cw);
	const int nv = np / 4;
	/* The luma range inside the ring: JPEG keeps luma sharp, so a faint
	 * glyph shows there even where its colours blur together. */
	float ilr = 0;
	{
		f4 a = f4_all(1e9f), b = f4_all(-1);
		for (k = 0; k < nv; k++) {
			const f4 l = planes_luma(&rawp, k);
			a = f4_select(inner[k] & (l < a), l, a);
			b = f4_select(inner[k] & (l > b), l, b);
		}
		ilr = f4_hmax(b) - f4_hmin(a);
	}
	if (range2 < BLANK_DIST2) {
		tc->code = 0x20;
		put_levels(tc->fg, mean);
		put_levels(tc->bg, mean);
		/* Two colours this close may be a faint glyph as well as
		 * compression noise: not sure enough to trust. */
		tc->confidence = range2 < BLANK_SURE2 ? 1.0f : 0.98f;
		off_palette(s, gs, g, col, row, mean, lift, tc);
		return;
	}
	sharpen_rgb((const px4 (*)[RING_W])e, cw, g, v);
	to_planes(v, np, &vp);
	/* 2-means in RGB, started from two samples inside the outer ring
	 * (whose samples take colour from the neighbouring cells and would
	 * start it on a colour that is not this cell's): the one furthest
	 * from the inner samples' mean, and the one furthest from that. Two
	 * colours of about the same luma are as far apart as any. */
	px4 c0, c1;
	{
		const px4 m = { mean[0], mean[1], mean[2], 0 };
		int a = -1, b = -1;
		float da = -1, db = -1;
		for (int y = 1; y < CELL_H - 1; y++)
			for (int i = 1; i < cw - 1; i++) {
				const float d = px4_norm2(v[y * cw + i] - m);
				if (d > da) {
					da = d;
					a = y * cw + i;
				}
			}
		for (int y = 1; y < CELL_H - 1; y++)
			for (int i = 1; i < cw - 1; i++) {
				const float d = px4_norm2(v[y * cw + i] - v[a]);
				if (d > db) {
					db = d;
					b = y * cw + i;
				}
			}
		if (px4_luma(v[a]) > px4_luma(v[b])) {
			int t = a;
			a = b;
			b = t;
		}
		c0 = v[a];
		c1 = v[b];
	}
	/* Fitted inside the ring, every sample split. */
	m4 in1[NV];
	int n1 = 0;
	for (int it = 0; it < 5; it++) {
		f4 s0[3] = { { 0 } }, s1[3] = { { 0 } };
		m4 n0v = { 0 }, n1v = { 0 };
		for (k = 0; k < nv; k++) {
			const m4 one = planes_dist2(&vp, k, c1) < planes_dist2(&vp, k, c0);
			const m4 in_one = one & inner[k], in_zero = ~one & inner[k];
			in1[k] = one;
			n1v += in_one;
			n0v += in_zero;
			for (int c = 0; c < 3; c++) {
				s1[c] += f4_keep(vp.c[c][k], in_one);
				s0[c] += f4_keep(vp.c[c][k], in_zero);
			}
		}
		const int m0 = m4_count(n0v), m1 = m4_count(n1v);
		int same = it > 0 && m1 == n1;
		n1 = m1;
		if (!m0 || !m1 || same)
			break;
		for (int c = 0; c < 3; c++) {
			c0[c] = f4_sum(s0[c]) / (float)m0;
			c1[c] = f4_sum(s1[c]) / (float)m1;
		}
	}
	{
		m4 ones = { 0 };
		for (k = 0; k < nv; k++)
			ones += in1[k];
		n1 = m4_count(ones);
	}
	const float dist2 = px4_norm2(c1 - c0);
	if (n1 == 0 || n1 == np || (dist2 < BLANK_DIST2 && ilr < BLANK_LUMA)) {
		px4 all = { 0, 0, 0, 0 };
		for (k = 0; k < np; k++)
			all += v[k];
		float m[3];
		for (int c = 0; c < 3; c++)
			m[c] = all[c] / (float)np;
		tc->code = 0x20;
		put_levels(tc->fg, m);
		put_levels(tc->bg, m);
		/* Two colours this close may be a faint glyph as well as
		 * compression noise: not sure enough to trust. */
		tc->confidence = n1 == 0 || n1 == np ? 1.0f : 0.98f;
		off_palette(s, gs, g, col, row, m, lift, tc);
		return;
	}
	/* JPEG keeps luma sharp and blurs colour (4:2:0 halves its
	 * resolution): where the two colours differ enough in luma, split by
	 * luma alone. */
	const float y0 = px4_luma(c0), y1 = px4_luma(c1);
	if (fabsf(y1 - y0) >= LUMA_SPLIT) {
		const f4 t = f4_all((y0 + y1) * 0.5f);
		const m4 flip = y1 > y0 ? (m4){ 0 } : ~(m4){ 0 };
		for (k = 0; k < nv; k++)
			in1[k] = (planes_luma(&vp, k) > t) ^ flip;
	}
	px4 colour[2];
	const px4 split[2] = { c0, c1 };
	stroke_colours(&rawp, in1, np, split, colour);
	uint8_t in1b[9 * CELL_H];
	mask_bytes(in1, np, in1b);
	uint16_t on[CELL_H];
	for (int y = 0; y < CELL_H; y++) {
		unsigned m = 0;
		for (int i = 0; i < cw; i++)
			m = m << 1 | in1b[y * cw + i];
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
	int pal[2] = { -1, -1 }; /* a dither's colours, from capture_rerank() */
	if (!cursor && tc->confidence < TEXTMODE_TRUST && !rp)
		*defer = 1;
	else if (!cursor && tc->confidence < TEXTMODE_TRUST) {
		capture_footprint(s, g, col, row, fp);
		*have_fp = 1;
		/* A cell nearest a blank or a dither whose mean is clearly no
		 * text colour (DITHER_OFF) may be a dither flattened by the
		 * sampling phase (capture_rerank()). */
		float um[3];
		unlift(mean, lift, um);
		const int dithers = (!inked(gs, best.code) || (best.code >= 0xB0 && best.code <= 0xB2)) &&
				    pal_dist(um) >= DITHER_OFF && pal_dist(mean) >= DITHER_OFF;
		int code2 = capture_rerank(gs, on, fp, rp, dithers ? pal : NULL);
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
	put_px4_levels(tc->fg, best.swapped ? colour[0] : colour[1]);
	put_px4_levels(tc->bg, best.swapped ? colour[1] : colour[0]);
	if (pal[0] >= 0) {
		memcpy(tc->fg, vga16[pal[1]], 3);
		memcpy(tc->bg, vga16[pal[0]], 3);
	}
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
			     const struct grid *g, int col, int row, float lift,
			     struct drawings *rp, struct drawings *guess, int *defer,
			     struct text_cell *tc)
{
	struct footprint fp;
	int have_fp = 0;
	read_scaled_glyph(s, gs, g, col, row, lift, rp, defer, tc, &fp, &have_fp);
	if (tc->cursor || !inked(gs, tc->code) || (text_colour(tc->fg) && text_colour(tc->bg)))
		return;
	if (!have_fp)
		capture_footprint(s, g, col, row, &fp);
	int pal[2];
	if (fp.n >= 32) {
		capture_fit_glyph(gs, tc->code, &fp, guess, pal);
		memcpy(tc->fg, vga16[pal[1]], 3);
		memcpy(tc->bg, vga16[pal[0]], 3);
	}
}

/* The black level of screen row r: how far a VGA capture has lifted it
 * (analog.c --black). Not its darkest pixel (JPEG rings below black: 0 in
 * a 1080p frame lifted by 11) but its commonest dark level: the mode of
 * the brightest channel, among a sparse sample of the row's pixels, where
 * below LIFT_MAX; 0 if too few pixels are that dark to say, or if that
 * level is below LIFT_MIN. */
#define LIFT_MAX 40
#define LIFT_STEP 3  /* sample every this many frame pixels, both ways */
#define LIFT_MIN 4   /* a black this close to 0 is JPEG's noise: left as it is */
static float row_lift(const struct scaled *s, const struct grid *g, int r)
{
	int hist[LIFT_MAX + 1] = { 0 }, n = 0;
	const int ya = (int)ceil(g->oy + r * CELL_H * g->sy), yb = (int)(g->oy + (r + 1) * CELL_H * g->sy);
	const int xa = (int)ceil(g->ox), xb = (int)(g->ox + GRID_COLS * g->cw * g->sx);
	for (int y = ya < 0 ? 0 : ya; y < yb && y < s->h; y += LIFT_STEP) {
		const uint8_t *line = s->rgb + (size_t)y * (size_t)s->w * 3;
		for (int x = xa < 0 ? 0 : xa; x < xb && x < s->w; x += LIFT_STEP) {
			const uint8_t *p = line + (size_t)x * 3;
			int m = p[0] > p[1] ? p[0] : p[1];
			m = m > p[2] ? m : p[2];
			if (m <= LIFT_MAX)
				hist[m]++;
			n++;
		}
	}
	int best = -1, bsum = 0, dark = 0;
	for (int v = 0; v <= LIFT_MAX; v++) {
		dark += hist[v];
		int sum = 0;
		for (int d = -2; d <= 2; d++)
			sum += v + d >= 0 && v + d <= LIFT_MAX ? hist[v + d] : 0;
		if (sum > bsum) {
			bsum = sum;
			best = v;
		}
	}
	if (best < LIFT_MIN || 50 * dark < n)
		return 0;
	double sv = 0;
	int sn = 0;
	for (int v = best - 2; v <= best + 2; v++)
		if (v >= 0 && v <= LIFT_MAX) {
			sv += (double)v * hist[v];
			sn += hist[v];
		}
	return (float)(sv / sn);
}

/* Read the cells of s on grid g marked in only (every cell if NULL) into
 * out, the others left as they are; the number of cells of out not
 * trusted. lift: each row's black level, found here when reading every
 * cell, else as found then. */
int capture_read_grid(const struct glyphset gs[2], const struct scaled *s, const struct grid *g,
		      const uint8_t *only, float lift[GRID_ROWS], int learn, struct response *resp,
		      struct text_screen *out)
{
	const struct glyphset *cg = &gs[g->cw == 9 ? 0 : 1];
	int doubtful = 0, deferred = 0;
	uint8_t defer[GRID_ROWS * GRID_COLS];
	out->cols = GRID_COLS;
	out->rows = GRID_ROWS;
	out->cell_w = (int)lround(g->cw * g->sx);
	out->cell_h = (int)lround(CELL_H * g->sy);
	out->origin_x = (int)lround(g->ox);
	out->origin_y = (int)lround(g->oy);
	/* A whole reading re-ranks through the guess, a response it learns
	 * from its own trusted cells (capture_learn_response(): the
	 * re-ranking waits for them), or one learned before, as learn says.
	 * Some cells only: the response of the whole reading before. No
	 * resp: no re-ranking (the number of doubtful cells does not depend
	 * on it). A response known before the cells are read re-ranks them
	 * as they are read; one to learn, after (rp NULL: deferred). Each
	 * drawn (struct drawings) the first time a cell asks. */
	const struct response guess = guess_response(g);
	struct drawings dg, dr, *rp = NULL;
	capture_drawings_init(&dg, &guess);
	dr.m = NULL;
	if ((only && !resp) || (!only && resp && learn == RESP_GUESS)) {
		rp = &dg;
	} else if (only || (resp && learn == RESP_KEEP)) {
		capture_drawings_init(&dr, resp);
		rp = &dr;
	}
	for (int r = 0; r < GRID_ROWS; r++) {
		const uint8_t *row_only = only ? only + r * GRID_COLS : NULL;
		if (!only)
			lift[r] = row_lift(s, g, r);
		for (int c = 0; c < GRID_COLS; c++) {
			struct text_cell *tc = &out->cell[r][c];
			int dc = 0;
			if (row_only && !row_only[c]) {
				doubtful += tc->confidence < TEXTMODE_TRUST;
				continue;
			}
			read_scaled_cell(s, cg, g, c, r, lift[r], rp, &dg, &dc, tc);
			if (!only) {
				defer[r * GRID_COLS + c] = (uint8_t)dc;
				deferred += dc;
			}
			/* Barely enlarged, thin strokes and dither patterns
			 * blur into their background: read, but never
			 * trusted. */
			if ((g->sx < LOW_SCALE || g->sy < LOW_SCALE) &&
			    tc->confidence > LOW_SCALE_CONFIDENCE)
				tc->confidence = LOW_SCALE_CONFIDENCE;
			doubtful += tc->confidence < TEXTMODE_TRUST;
		}
	}
	if (!only && resp && learn != RESP_KEEP)
		*resp = guess;
	if (!only && resp && deferred) {
		capture_learn_response(cg, s, g, out, resp);
		capture_drawings_init(&dr, resp);
		for (int r = 0; r < GRID_ROWS; r++)
			for (int c = 0; c < GRID_COLS; c++) {
				if (!defer[r * GRID_COLS + c])
					continue;
				struct text_cell *tc = &out->cell[r][c];
				int dc = 0;
				read_scaled_cell(s, cg, g, c, r, lift[r], &dr, &dg, &dc, tc);
				if ((g->sx < LOW_SCALE || g->sy < LOW_SCALE) &&
				    tc->confidence > LOW_SCALE_CONFIDENCE)
					tc->confidence = LOW_SCALE_CONFIDENCE;
			}
	}
	capture_drawings_release(&dg);
	capture_drawings_release(&dr);
	return doubtful;
}
