/* capture_reuse: which cells of a capture changed since they were read
 * (how, and why it is safe: capture_reuse.c). Internal to the text
 * decoder; capture.c keeps one struct cell_probes per reader.
 *
 * Ownership: struct cell_probes is allocated by probes_new() and freed by
 * probes_free(). */
#ifndef HIL_CAPTURE_REUSE_H
#define HIL_CAPTURE_REUSE_H

#include "capture_int.h"

struct cell_probes;
struct cell_probes *probes_new(void);
void probes_free(struct cell_probes *p);
/* Hold no probes: the next compare finds every cell changed. */
void probes_forget(struct cell_probes *p);
/* changed[row * GRID_COLS + col] = 1 for each cell of frame f on grid g
 * whose pixels differ from its probe (every cell if p holds none for this
 * frame size and grid); the number of them. */
int probes_compare(const struct cell_probes *p, const struct frame *f, const struct grid *g,
		   uint8_t changed[GRID_ROWS * GRID_COLS]);
/* Take the probes of the cells marked in which (all of them if which is
 * NULL, or if p held probes for another frame size or grid) from f. */
void probes_record(struct cell_probes *p, const struct frame *f, const struct grid *g,
		   const uint8_t *which);

#endif
