/* capture: see capture.h. A capture is read in the steps capture_int.h
 * lists: once per reader, the glyph tables only captures need; if the
 * frame is the last one read with a few cells changed, those cells only
 * (read_changes(), capture_reuse.c); else the frame in grey, its grid,
 * the one kept from the last frame of this size while it reads about as
 * well there, else searched for (capture_grid.c), then every cell
 * (capture_cells.c).
 *
 * Ownership: struct capture_memory (a reader's grid and last reading
 * between frames) is allocated and freed here; every other function works on its arguments
 * and keeps nothing. */
#include "capture.h"
#include "capture_int.h"
#include "capture_reuse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* A grid kept from an earlier frame must read this share of the inked
 * cells capture_check_grid() samples exactly, and this much of the share
 * it read there. An analog capture sampled late reads only 0.28-0.47 of
 * them exactly on its own grid (ci/bench/decode's a-phase): a floor of
 * 0.5 searched every new screen again, at 400 ms a frame, and read it no
 * better. A picture that moved reads almost none. */
#define REUSE_MIN 0.2
#define REUSE_SHARE 0.8

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

/* Is cell (r, c) of screen t doubtful, and outside e? */
static int astray_at(const struct text_screen *t, const struct extent *e, int r, int c)
{
	return t->cell[r][c].confidence < TEXTMODE_TRUST &&
	       (r < e->r0 || r > e->r1 || c < e->c0 || c > e->c1);
}

/* Has screen t a doubtful cell outside e? */
static int astray(const struct text_screen *t, const struct extent *e)
{
	for (int r = 0; r < t->rows; r++)
		for (int c = 0; c < t->cols; c++)
			if (astray_at(t, e, r, c))
				return 1;
	return 0;
}

/* Analog captures (a VGA output sampled by the box's ADC) smear each
 * text-mode pixel into the next one (limited bandwidth: a causal low-pass)
 * or split it with the one before (a late sampling phase): either reads
 * as glyphs no more. Such frames are read through an equaliser, along
 * each row: x[n] = (y[n] - l * y[n-1] - r * y[n+1]) / (1 - l - r), the
 * inverse to first order of a leak of l from the left and r from the
 * right, in frame pixels. Which one is chosen per frame size, by how many
 * inked cells read exactly with it (the first is none: digital captures
 * never pay for it). */
struct equaliser {
	float l, r;
};
static const struct equaliser equalisers[] = {
	{ 0, 0 }, { 0.55f, 0 }, { 0, 0.5f }, { 0.4f, 0.3f }, { 0.3f, 0 }, { 0, 0.3f },
};
#define NEQ (int)(sizeof equalisers / sizeof equalisers[0])
#define EQ_TRY 0.9   /* a grid reading less than this share exactly tries the equalisers */
#define EQ_GAIN 0.8  /* ... and one is taken if it leaves this share of the doubts at most */
/* ... unless the reading without one leaves fewer doubtful cells than
 * this: digital captures whose few sampled cells read poorly (a 2x PNG or
 * a 1280x720 JPEG: 120-250 of 2000 cells doubtful in ci/bench/decode's
 * corpus) are read as they are, without the cost of five more grid
 * searches; the analog ones an equaliser helped left 290 and more. */
#define EQ_DOUBTS 270

#if defined(__x86_64__)
/* Bytes [i, b) of line in through the taps (as equalise_rect()), 32 at a
 * time, into o; where it stopped. In 16-bit pairs, each multiply-add of
 * two taps one instruction (pmaddwd), and the clamp two saturating packs
 * (the results are within -600..900). */
__attribute__((target("avx2"))) static int equalise_avx2(const uint8_t *in, uint8_t *o, int i, int b,
							  int kc, int kl, int kr)
{
	const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi16(1);
	const __m256i kcl = _mm256_set1_epi32((int)((uint32_t)(uint16_t)-kl << 16 | (uint16_t)kc));
	const __m256i kro = _mm256_set1_epi32((int)(512u << 16 | (uint16_t)-kr));
	for (; i + 32 <= b; i += 32) {
		const __m256i c = _mm256_loadu_si256((const __m256i *)(in + i));
		const __m256i l = _mm256_loadu_si256((const __m256i *)(in + i - 3));
		const __m256i r = _mm256_loadu_si256((const __m256i *)(in + i + 3));
		__m256i v16[2];
		for (int h = 0; h < 2; h++) {
			const __m256i c16 = h ? _mm256_unpackhi_epi8(c, zero) : _mm256_unpacklo_epi8(c, zero);
			const __m256i l16 = h ? _mm256_unpackhi_epi8(l, zero) : _mm256_unpacklo_epi8(l, zero);
			const __m256i r16 = h ? _mm256_unpackhi_epi8(r, zero) : _mm256_unpacklo_epi8(r, zero);
			const __m256i lo = _mm256_add_epi32(
				_mm256_madd_epi16(_mm256_unpacklo_epi16(c16, l16), kcl),
				_mm256_madd_epi16(_mm256_unpacklo_epi16(r16, one), kro));
			const __m256i hi = _mm256_add_epi32(
				_mm256_madd_epi16(_mm256_unpackhi_epi16(c16, l16), kcl),
				_mm256_madd_epi16(_mm256_unpackhi_epi16(r16, one), kro));
			v16[h] = _mm256_packs_epi32(_mm256_srai_epi32(lo, 10), _mm256_srai_epi32(hi, 10));
		}
		_mm256_storeu_si256((__m256i *)(o + i), _mm256_packus_epi16(v16[0], v16[1]));
	}
	return i;
}
#endif

/* The pixels [x0, x1) x [y0, y1) of frame f through equaliser q (> 0)
 * into eq_rgb (clipped to the frame). Vectorised (this file is built at
 * -O3: 4x faster than scalar, and a 1920x1080 frame is 6 MB), and with
 * AVX2 where the processor has it (equalise_avx2(): 2-3x faster again). */
static void equalise_rect(const struct frame *f, int q, uint8_t *eq_rgb, int x0, int x1, int y0,
			  int y1)
{
	/* Fixed point, 1/1024. */
	const float l = equalisers[q].l, r = equalisers[q].r, n = 1.0f / (1.0f - l - r);
	const int kc = (int)lroundf(1024 * n), kl = (int)lroundf(1024 * l * n),
		  kr = (int)lroundf(1024 * r * n);
	const int w3 = f->width * 3;
#if defined(__x86_64__)
	const int avx2 = __builtin_cpu_supports("avx2");
#endif
	x0 = x0 < 0 ? 0 : x0;
	x1 = x1 > f->width ? f->width : x1;
	y0 = y0 < 0 ? 0 : y0;
	y1 = y1 > f->height ? f->height : y1;
	/* The first and last pixels of a line lean on themselves; the loop
	 * between has no branch. */
	const int a = x0 * 3 > 3 ? x0 * 3 : 3, b = x1 * 3 < w3 - 3 ? x1 * 3 : w3 - 3;
	for (int y = y0; y < y1; y++) {
		const uint8_t *restrict in = f->rgb + (size_t)y * (size_t)w3;
		uint8_t *restrict o = eq_rgb + (size_t)y * (size_t)w3;
		for (int i = x0 * 3; i < a; i++) {
			const int v = (kc * in[i] - kl * in[i] - kr * in[i + 3] + 512) >> 10;
			o[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
		int i = a;
#if defined(__x86_64__)
		if (avx2)
			i = equalise_avx2(in, o, i, b, kc, kl, kr);
#endif
		for (; i < b; i++) {
			const int v = (kc * in[i] - kl * in[i - 3] - kr * in[i + 3] + 512) >> 10;
			o[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
		for (i = b > a ? b : a; i < x1 * 3; i++) {
			const int v = (kc * in[i] - kl * in[i - 3] - kr * in[i] + 512) >> 10;
			o[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
}

/* s as frame f shows it through equaliser q: s->rgb is f's or eq_rgb
 * (w * h * 3, filled here), s->grey to be filled line by line as read. */
static void equalise(const struct frame *f, int q, uint8_t *eq_rgb, struct scaled *s)
{
	s->rgb = f->rgb;
	if (q > 0) {
		equalise_rect(f, q, eq_rgb, 0, f->width, 0, f->height);
		s->rgb = eq_rgb;
	}
	memset(s->grey_ok, 0, (size_t)f->height);
}

/* What a reader keeps of captures between frames (capture.h). */
struct capture_memory {
	int tables;               /* the glyph sets have twin9 and evidence */
	int grid_w, grid_h;       /* frame size the grid was found in; 0 if none */
	int eq;                   /* the equaliser (index) it was found through */
	struct grid grid;
	double grid_score;        /* capture_check_grid() on the frame it was found in */
	struct extent proven;     /* where the grid has read trusted glyphs */
	/* Scratch for one frame, kept for the next (a stream's frames are
	 * the same size): its grey, which lines of it are filled, and the
	 * frame through the equaliser. */
	uint8_t *grey, *grey_ok, *eq_rgb;
	size_t scratch_px;
	int scratch_h;
	/* The last reading, on grid and eq, and where each of its cells'
	 * pixels were when read: a frame that changed in a few cells is read
	 * there only (read_changes()). */
	int have_last;
	struct text_screen last;
	float lift[GRID_ROWS];     /* its rows' black levels (capture_read_grid()) */
	struct response resp;      /* the response it learned (capture_read_grid()) */
	struct cell_probes *probes;
};

struct capture_memory *capture_memory_new(void)
{
	struct capture_memory *m = calloc(1, sizeof *m);
	if (m && !(m->probes = probes_new())) {
		free(m);
		m = NULL;
	}
	return m;
}

void capture_memory_free(struct capture_memory *m)
{
	if (!m)
		return;
	probes_free(m->probes);
	free(m->grey);
	free(m->grey_ok);
	free(m->eq_rgb);
	free(m);
}

/* m's scratch large enough for a frame of w x h: 0, or -1 out of memory. */
static int scratch_for(struct capture_memory *m, int w, int h)
{
	const size_t npx = (size_t)w * (size_t)h;
	if (npx <= m->scratch_px && h <= m->scratch_h)
		return 0;
	free(m->grey);
	free(m->grey_ok);
	free(m->eq_rgb);
	m->grey = malloc(npx);
	m->grey_ok = malloc((size_t)h);
	m->eq_rgb = malloc(npx * 3);
	m->scratch_px = m->scratch_h = 0;
	if (!m->grey || !m->grey_ok || !m->eq_rgb)
		return -1;
	m->scratch_px = npx;
	m->scratch_h = h;
	return 0;
}

int capture_knows(const struct capture_memory *m, int width, int height)
{
	return m->grid_w == width && m->grid_h == height;
}

/* Search frame s for its grid, and keep it in m for the next frames of
 * this size. 1 found, 0 none, -1 error (err). */
static int search_grid(struct capture_memory *m, const struct glyphset gs[2],
		       const struct scaled *s, struct grid *g, struct textmode_stats *stats,
		       struct hil_err *err)
{
	int found = capture_find_grid(s, &gs[0], &gs[1], g, err);
	stats->grids_searched++;
	if (found > 0) {
		m->grid_w = s->w;
		m->grid_h = s->h;
		m->grid = *g;
		m->grid_score = capture_check_grid(s, &gs[g->cw == 9 ? 0 : 1], g);
	}
	return found;
}

/* Does the screen on grid g lie inside a frame of w x h, to half a
 * text-mode pixel? A sampling phase of half a pixel reads as well through
 * the equaliser that undoes a leak from the right as, a pixel further
 * left, through the one that undoes a leak from the left: that second
 * reading puts the screen's first column of pixels outside the frame,
 * which a capture does not (it shows the whole screen), and reads a new
 * screen through the same chain worse (ci/bench/decode's a-phase
 * streams). */
static int inside_frame(const struct grid *g, int w, int h)
{
	const double x1 = g->ox + GRID_COLS * g->cw * g->sx, y1 = g->oy + GRID_ROWS * CELL_H * g->sy;
	return g->ox >= -0.5 * g->sx && g->oy >= -0.5 * g->sy && x1 <= w + 0.5 * g->sx &&
	       y1 <= h + 0.5 * g->sy;
}

/* Frame f's grid searched through each equaliser (s and g hold it
 * without one, found as search_grid() said), and the one whose reading
 * leaves clearly fewer doubtful cells kept: in m, *g, *eq and s (through
 * eq_rgb). As search_grid(). */
static int choose_equaliser(struct capture_memory *m, const struct glyphset gs[2],
			    const struct frame *f, uint8_t *eq_rgb, struct scaled *s, struct grid *g,
			    int found, int *eq, struct textmode_stats *stats, struct hil_err *err)
{
	struct text_screen *scr = malloc(sizeof *scr);
	float lift[GRID_ROWS];
	if (!scr) {
		hil_seterr(err, "out of memory");
		return -1;
	}
	const struct capture_memory none = *m;
	struct capture_memory best = none;
	struct grid bg = *g;
	int best_eq = found ? 0 : -1, last = 0, rc = found;
	int best_doubts = found ? capture_read_grid(gs, s, g, NULL, lift, 0, NULL, scr) : GRID_ROWS * GRID_COLS + 1;
	const int doubts0 = best_doubts;
	if (found && doubts0 < EQ_DOUBTS) {
		free(scr);
		*eq = 0;
		return 1;
	}
	for (int q = 1; q < NEQ; q++) {
		equalise(f, last = q, eq_rgb, s);
		struct grid g2;
		int f2 = search_grid(m, gs, s, &g2, stats, err);
		if (f2 < 0) {
			rc = -1;
			break;
		}
		if (f2 == 0 || !inside_frame(&g2, f->width, f->height))
			continue;
		int doubts = capture_read_grid(gs, s, &g2, NULL, lift, 0, NULL, scr);
		if (doubts < best_doubts) {
			best = *m;
			best_doubts = doubts;
			best_eq = q;
			bg = g2;
		}
	}
	free(scr);
	if (rc < 0)
		return rc;
	if (best_eq > 0 && found && best_doubts > EQ_GAIN * doubts0)
		best_eq = 0; /* not clearly better: as read */
	if (best_eq < 0)
		return 0;
	*m = best_eq == 0 ? none : best;
	if (best_eq > 0)
		*g = bg;
	if (last != best_eq)
		equalise(f, best_eq, eq_rgb, s);
	*eq = best_eq;
	return 1;
}

/* A frame of the screen read last, changed in at most this many cells, is
 * read in those cells only; more, and it may be another screen or a
 * picture that moved: read whole. */
#define REREAD_MAX (GRID_ROWS * GRID_COLS / 2)

/* At least this many trusted glyphs that show where the grid is (struct
 * glyphset's evidence), and this share of them, unchanged in a frame:
 * the picture has not moved, and its grid stands. */
#define STILL_EVIDENCE 8
#define STILL_SHARE 0.1

/* Frame f read into out as the last reading of m with the cells whose
 * pixels changed read again, with their neighbours (whose samples reach
 * into them: the sharpening, the equaliser). 1 if done; 0 if left to the
 * whole reading: nothing read before, too much changed, a cell read again
 * left doubtful where the grid has not proven itself, or too few glyphs
 * unchanged to be sure the picture has not moved (a moved picture changes
 * every cell with ink, except those the same wherever they are cut: a
 * solid block, a row of '═'). */
static int read_changes(struct capture_memory *m, const struct glyphset gs[2],
			const struct frame *f, struct scaled *s, struct text_screen *out,
			struct textmode_stats *stats)
{
	uint8_t changed[GRID_ROWS * GRID_COLS], reread[GRID_ROWS * GRID_COLS];
	const struct grid *g = &m->grid;
	const struct glyphset *cg = &gs[g->cw == 9 ? 0 : 1];
	if (!m->have_last || probes_compare(m->probes, f, g, changed) > REREAD_MAX)
		return 0;
	int evidence = 0, still = 0;
	for (int r = 0; r < GRID_ROWS; r++)
		for (int c = 0; c < GRID_COLS; c++) {
			const struct text_cell *tc = &m->last.cell[r][c];
			if (tc->confidence < TEXTMODE_TRUST || !cg->evidence[tc->code])
				continue;
			evidence++;
			still += !changed[r * GRID_COLS + c];
		}
	if (still < STILL_EVIDENCE || still < STILL_SHARE * evidence)
		return 0;
	memset(reread, 0, sizeof reread);
	int n = 0;
	for (int r = 0; r < GRID_ROWS; r++)
		for (int c = 0; c < GRID_COLS; c++) {
			if (!changed[r * GRID_COLS + c])
				continue;
			for (int dr = -1; dr <= 1; dr++)
				for (int dc = -1; dc <= 1; dc++) {
					const int rr = r + dr, cc = c + dc;
					if (rr >= 0 && rr < GRID_ROWS && cc >= 0 && cc < GRID_COLS)
						reread[rr * GRID_COLS + cc] = 1;
				}
		}
	*out = m->last;
	s->rgb = m->eq > 0 ? m->eq_rgb : f->rgb;
	memset(s->grey_ok, 0, (size_t)f->height);
	for (int r = 0; r < GRID_ROWS; r++)
		for (int c = 0; c < GRID_COLS; c++) {
			if (!reread[r * GRID_COLS + c])
				continue;
			n++;
			if (m->eq <= 0)
				continue;
			/* The frame pixels this cell's samples reach: its ring
			 * of neighbours' samples and their bilinear taps. */
			equalise_rect(f, m->eq, m->eq_rgb,
				      (int)floor(g->ox + (c * g->cw - 2) * g->sx) - 2,
				      (int)ceil(g->ox + ((c + 1) * g->cw + 2) * g->sx) + 2,
				      (int)floor(g->oy + (r * CELL_H - 2) * g->sy) - 2,
				      (int)ceil(g->oy + ((r + 1) * CELL_H + 2) * g->sy) + 2);
		}
	if (n) {
		capture_read_grid(gs, s, g, reread, m->lift, 0, &m->resp, out);
		/* A new cell left doubtful outside where the grid has read
		 * trusted glyphs: the grid may be off there (one found in a
		 * few rows, capture_decode()): the frame is read whole, which
		 * searches again if so. */
		for (int k = 0; k < GRID_ROWS * GRID_COLS; k++)
			if (reread[k] && astray_at(out, &m->proven, k / GRID_COLS, k % GRID_COLS))
				return 0;
		probes_record(m->probes, f, g, reread);
		m->last = *out;
		prove(cg, out, &m->proven);
	}
	stats->grids_reused++;
	stats->cells_read += n;
	return 1;
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
	if (scratch_for(m, f->width, f->height) < 0) {
		hil_seterr(err, "out of memory");
		return -1;
	}
	struct scaled s = { f->width, f->height, f->rgb, m->grey, m->grey_ok };
	uint8_t *eq_rgb = m->eq_rgb;
	const int known = capture_knows(m, f->width, f->height);
	if (known && read_changes(m, gs, f, &s, out, stats))
		return 0;
	int eq = known ? m->eq : 0;
	equalise(f, eq, eq_rgb, &s);
	/* The grid of the last frame of this size, if it still reads about
	 * as well as when it was found: a capture's geometry does not change
	 * from frame to frame, and the search is most of a frame's cost. */
	struct grid g;
	int found = 0, reused = 0, rc = 0;
	if (known) {
		g = m->grid;
		double sc = capture_check_grid(&s, &gs[g.cw == 9 ? 0 : 1], &g);
		found = reused = sc >= REUSE_MIN && sc >= REUSE_SHARE * m->grid_score;
	}
	if (!found) {
		if (eq != 0)
			equalise(f, eq = 0, eq_rgb, &s);
		found = search_grid(m, gs, &s, &g, stats, err);
		/* No grid, or one that reads few cells exactly: an analog
		 * capture, perhaps. Each equaliser's own grid, and the
		 * reading with clearly fewer doubtful cells than without one
		 * (the grid's score over a few cells chooses too poorly: a
		 * wrong equaliser also reads many cells exactly). */
		if (found >= 0 && (!found || m->grid_score < EQ_TRY))
			found = choose_equaliser(m, gs, f, eq_rgb, &s, &g, found, &eq, stats, err);
		m->eq = eq;
	}
	if (found < 0) {
		rc = -1;
	} else if (!found) {
		hil_seterr(err,
			   "unsupported text geometry %dx%d: no 80x25 character grid found in it, "
			   "nor framebuffer text",
			   f->width, f->height);
		rc = TEXTMODE_UNSUPPORTED;
	} else {
		/* Through an equaliser (an analog capture), untrusted cells are
		 * re-ranked through the response learned from the frame's own
		 * trusted cells, once per grid (struct response); a digital
		 * scaler's is the guess, fitted to such captures. */
		const int learn = eq == 0 ? RESP_GUESS :
				  reused && m->resp.learned ? RESP_KEEP : RESP_LEARN;
		int doubtful = capture_read_grid(gs, &s, &g, NULL, m->lift, learn, &m->resp, out);
		if (!reused)
			m->proven = (struct extent){ GRID_ROWS, -1, GRID_COLS, -1 };
		/* A grid found in a frame of a few rows can be off by a
		 * fraction of a pixel per row: right where it has read
		 * glyphs, wrong rows further down (capture_check_grid() may not
		 * see it). A reading with doubtful cells outside where the
		 * grid has proven itself is done again with a grid searched
		 * in this frame, and the one with fewer doubts kept. */
		if (reused && doubtful && astray(out, &m->proven)) {
			const struct grid kept = m->grid;
			const double kept_score = m->grid_score;
			struct text_screen *again = malloc(sizeof *again);
			float lift_again[GRID_ROWS];
			struct response resp_again;
			struct grid g2;
			if (again && search_grid(m, gs, &s, &g2, stats, err) > 0 &&
			    capture_read_grid(gs, &s, &g2, NULL, lift_again,
					      eq == 0 ? RESP_GUESS : RESP_LEARN, &resp_again, again) < doubtful) {
				*out = *again;
				memcpy(m->lift, lift_again, sizeof m->lift);
				m->resp = resp_again;
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
		stats->cells_read += GRID_ROWS * GRID_COLS;
		prove(&gs[g.cw == 9 ? 0 : 1], out, &m->proven);
		/* m->grid is g: kept, or searched in this frame. */
		probes_record(m->probes, f, &g, NULL);
		m->last = *out;
	}
	m->have_last = rc == 0;
	return rc;
}
