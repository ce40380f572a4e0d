/* capture_reuse: which cells of a capture changed since they were read.
 * A capture device sends frame after frame (60 a second) of a screen that
 * mostly stands still; reading every cell of every frame costs more than
 * a frame's time at 1920x1080. So each cell's pixels are probed where it
 * was last read, and a cell whose pixels have not changed keeps its
 * reading (capture.c decides when a frame may be read that way).
 *
 * The probe of a cell is the frame pixel nearest each of its text-mode
 * pixel centres (as the frame arrives: before any equaliser). Text changes
 * by whole text-mode pixels, and a changed pixel changes its centre's
 * colour by a palette step (87 levels or more on some channel), which
 * blur, smear and a sampling phase leave at a third or more; noise and
 * JPEG's artefacts between two captures of the same screen stay well
 * under PROBE_TOL (ci/bench/decode's still streams). A cell's probe is
 * updated only when it is read again, so a slow drift (a fade) still
 * adds up to a change.
 *
 * Ownership: struct cell_probes and its buffers are allocated and freed
 * here. */
#include "capture_reuse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_W (GRID_COLS * 9)
#define PROBE_H (GRID_ROWS * CELL_H)
#define PROBE_TOL 24 /* a channel changed by more than this at a probe: the cell changed */

struct cell_probes {
	int valid;                 /* probes are recorded for this frame size and grid */
	int w, h;                  /* the frame size */
	struct grid grid;          /* the grid they were taken on */
	size_t xo[PROBE_W];        /* byte offset in a frame line of each text-mode column */
	size_t yo[PROBE_H];        /* byte offset in the frame of each text-mode line */
	uint8_t (*px)[PROBE_W][3]; /* PROBE_H lines: the probes where each cell was read */
};

struct cell_probes *probes_new(void)
{
	struct cell_probes *p = calloc(1, sizeof *p);
	if (p && !(p->px = malloc(sizeof(uint8_t[PROBE_H][PROBE_W][3])))) {
		free(p);
		p = NULL;
	}
	return p;
}

void probes_free(struct cell_probes *p)
{
	if (!p)
		return;
	free(p->px);
	free(p);
}

void probes_forget(struct cell_probes *p)
{
	p->valid = 0;
}

/* Does p hold probes taken on grid g in frames the size of f? */
static int holds(const struct cell_probes *p, const struct frame *f, const struct grid *g)
{
	const struct grid *a = &p->grid;
	return p->valid && p->w == f->width && p->h == f->height && a->cw == g->cw &&
	       a->sx == g->sx && a->sy == g->sy && a->ox == g->ox && a->oy == g->oy;
}

/* Where the probes of grid g sit in a frame of w x h. */
static void place(struct cell_probes *p, int w, int h, const struct grid *g)
{
	const int cols = GRID_COLS * g->cw;
	for (int i = 0; i < cols; i++) {
		long x = lround(floor(g->ox + (i + 0.5) * g->sx));
		p->xo[i] = (size_t)(x < 0 ? 0 : x >= w ? w - 1 : x) * 3;
	}
	for (int y = 0; y < PROBE_H; y++) {
		long fy = lround(floor(g->oy + (y + 0.5) * g->sy));
		p->yo[y] = (size_t)(fy < 0 ? 0 : fy >= h ? h - 1 : fy) * (size_t)w * 3;
	}
	p->w = w;
	p->h = h;
	p->grid = *g;
}

int probes_compare(const struct cell_probes *p, const struct frame *f, const struct grid *g,
		   uint8_t changed[GRID_ROWS * GRID_COLS])
{
	if (!holds(p, f, g)) {
		memset(changed, 1, GRID_ROWS * GRID_COLS);
		return GRID_ROWS * GRID_COLS;
	}
	memset(changed, 0, GRID_ROWS * GRID_COLS);
	const int cw = g->cw;
	int n = 0;
	for (int r = 0; r < GRID_ROWS; r++) {
		uint8_t *row_changed = changed + r * GRID_COLS;
		for (int c = 0; c < GRID_COLS; c++) {
			int diff = 0;
			for (int y = r * CELL_H; y < (r + 1) * CELL_H && !diff; y++) {
				const uint8_t *line = f->rgb + p->yo[y];
				const uint8_t(*was)[3] = p->px[y];
				for (int i = c * cw; i < (c + 1) * cw; i++) {
					const uint8_t *q = line + p->xo[i];
					diff |= abs(q[0] - was[i][0]) > PROBE_TOL || abs(q[1] - was[i][1]) > PROBE_TOL ||
						abs(q[2] - was[i][2]) > PROBE_TOL;
				}
			}
			row_changed[c] = (uint8_t)diff;
			n += diff;
		}
	}
	return n;
}

void probes_record(struct cell_probes *p, const struct frame *f, const struct grid *g,
		   const uint8_t *which)
{
	if (!holds(p, f, g)) {
		place(p, f->width, f->height, g);
		which = NULL; /* a new grid: every cell's probe is taken */
		p->valid = 1;
	}
	/* Line by line (a frame is megabytes: cell by cell, each of a
	 * cell's lines is a new stretch of memory). */
	const int cw = g->cw;
	for (int y = 0; y < PROBE_H; y++) {
		const uint8_t *line = f->rgb + p->yo[y];
		const uint8_t *row_which = which ? which + y / CELL_H * GRID_COLS : NULL;
		for (int c = 0; c < GRID_COLS; c++) {
			if (row_which && !row_which[c])
				continue;
			for (int i = c * cw; i < (c + 1) * cw; i++)
				memcpy(p->px[y][i], line + p->xo[i], 3);
		}
	}
}
