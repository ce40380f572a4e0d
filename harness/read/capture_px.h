/* capture_px: a cell's samples as the cell reader (capture_cells.c) holds
 * them, in vectors of four floats (vec4.h): one sample's RGB a vector
 * (px4), or four samples' R, G or B a vector (struct planes), with the
 * conversions between them and the split masks. Internal to the text
 * decoder.
 *
 * Ownership: types, tables and inline functions only. */
#ifndef HIL_CAPTURE_PX_H
#define HIL_CAPTURE_PX_H

#include "capture_int.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

/* A cell's samples in vectors of four floats (vec4.h), in two layouts:
 * - px4: one sample's R, G, B (its fourth lane 0), as sampled and
 *   sharpened (each lane the scalar sums, in the same order);
 * - struct planes: four samples' R, or G, or B (f4), where a step works
 *   sample by sample (2-means, stroke_colours()): no sums across lanes
 *   until the end. A side's sums then add in another order than one by
 *   one, which moves means by a float's last bits. */
typedef f4 px4;
#define RING_W 12 /* samples of a row with its ring: cw + 2, padded to whole vectors */
#define NV (9 * CELL_H / 4) /* vectors of a cell's samples, one channel */
struct planes {
	f4 c[3][NV];
};

/* The sum of squares of a's R, G, B, in that order. */
static inline float px4_norm2(px4 a)
{
	const px4 q = a * a;
	return q[0] + q[1] + q[2];
}

static inline float px4_luma(px4 a)
{
	return LUMA(a[0], a[1], a[2]);
}

/* Four px4 samples from p, as their R, G and B. */
static inline void px4_transpose(const px4 *p, f4 *r, f4 *g, f4 *b)
{
#if defined(__SSE2__)
	__m128 a0 = (__m128)p[0], a1 = (__m128)p[1], a2 = (__m128)p[2], a3 = (__m128)p[3];
	_MM_TRANSPOSE4_PS(a0, a1, a2, a3);
	*r = (f4)a0;
	*g = (f4)a1;
	*b = (f4)a2;
#else
	for (int j = 0; j < 4; j++) {
		(*r)[j] = p[j][0];
		(*g)[j] = p[j][1];
		(*b)[j] = p[j][2];
	}
#endif
}

/* The np samples v (a multiple of 4) as planes. */
static inline void to_planes(const px4 *v, int np, struct planes *pl)
{
	for (int k = 0; k < np / 4; k++)
		px4_transpose(v + 4 * k, &pl->c[0][k], &pl->c[1][k], &pl->c[2][k]);
}

/* The luma of samples k..k+3 of pl. */
static inline f4 planes_luma(const struct planes *pl, int k)
{
	return LUMA(pl->c[0][k], pl->c[1][k], pl->c[2][k]);
}

/* The squared RGB distance of samples k..k+3 of pl from colour c. */
static inline f4 planes_dist2(const struct planes *pl, int k, px4 c)
{
	const f4 r = pl->c[0][k] - c[0], g = pl->c[1][k] - c[1], b = pl->c[2][k] - c[2];
	return r * r + g * g + b * b;
}

/* Which samples of a cell lie inside its outer ring (-1), cw 9 and 8. */
#define RING9 0, 0, 0, 0, 0, 0, 0, 0, 0
#define INNER9 0, -1, -1, -1, -1, -1, -1, -1, 0
#define RING8 0, 0, 0, 0, 0, 0, 0, 0
#define INNER8 0, -1, -1, -1, -1, -1, -1, 0
#define FOURTEEN(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const int32_t inner9[9 * CELL_H] __attribute__((aligned(16))) = {
	RING9, FOURTEEN(INNER9), RING9
};
static const int32_t inner8[8 * CELL_H] __attribute__((aligned(16))) = {
	RING8, FOURTEEN(INNER8), RING8
};

static inline const m4 *inner_mask(int cw)
{
	return (const m4 *)(cw == 9 ? inner9 : inner8);
}

/* The masks of a split (-1: the sample is on side 1) as one byte a sample. */
static inline void mask_bytes(const m4 *m, int np, uint8_t *in1)
{
	int32_t lane[9 * CELL_H];
	memcpy(lane, m, (size_t)np * sizeof lane[0]);
	for (int k = 0; k < np; k++)
		in1[k] = (uint8_t)(lane[k] & 1);
}

/* The same masks from a cell's row bits on[] (bit cw - 1 the leftmost). */
static inline void mask_rows(const uint16_t *on, int cw, m4 *m)
{
	int32_t lane[9 * CELL_H];
	for (int y = 0, k = 0; y < CELL_H; y++)
		for (int i = cw - 1; i >= 0; i--, k++)
			lane[k] = -(int32_t)(on[y] >> i & 1);
	memcpy(m, lane, (size_t)(cw * CELL_H) * sizeof lane[0]);
}

#endif
