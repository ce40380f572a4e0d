/* capture: see capture.h. A capture is read in the steps capture_int.h
 * lists: once per reader, the glyph tables only captures need; the frame
 * in grey; its grid, the one kept from the last frame of this size while
 * it reads about as well there, else searched for (capture_grid.c); then
 * every cell (capture_cells.c).
 *
 * Ownership: struct capture_memory (a reader's grid between frames) is
 * allocated and freed here; every other function works on its arguments
 * and keeps nothing. */
#include "capture.h"
#include "capture_int.h"

#include <stdlib.h>
#include <string.h>

#define REUSE_MIN 0.5       /* a grid kept from an earlier frame must read this share */
#define REUSE_SHARE 0.8     /* ... and this much of the share it read there */

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

/* What a reader keeps of captures between frames (capture.h). */
struct capture_memory {
	int tables;               /* the glyph sets have twin9 and evidence */
	int grid_w, grid_h;       /* frame size the grid was found in; 0 if none */
	struct grid grid;
	double grid_score;        /* capture_check_grid() on the frame it was found in */
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
		double sc = capture_check_grid(&s, &gs[g.cw == 9 ? 0 : 1], &g);
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
		int doubtful = capture_read_grid(gs, &s, &g, out);
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
			struct grid g2;
			if (again && search_grid(m, gs, &s, &g2, stats, err) > 0 &&
			    capture_read_grid(gs, &s, &g2, again) < doubtful) {
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
