/* grid: the matrix by stage. Where each measured stage and each reported
 * outcome sits, so that a reader compares 2013 with today cell by cell:
 *
 *   columns  firmware x stage: post, text, graphics, driver (Linux),
 *            driver (Windows); only those some card lists or some run or
 *            report fills, firmware in the order seabios, ovmf, others
 *   rows     per card, one per variant (measured), and one of its reported
 *            outcomes if it has any
 *   entries  a measured row's column holds one entry per cell whose guest
 *            proves that stage (post under SeaBIOS: bios-post's and
 *            linux-drm's), with the stage's outcome and verdict, the cell's
 *            class and its newest run; "not-run" for a cell the card file
 *            lists that has no run. A reported row's column holds the
 *            reported outcomes that belong there: a stage under the card's
 *            first firmware (the founding report's SeaBIOS), driver:linux…
 *            under driver (Linux), any other driver:CONTEXT (win7-vga,
 *            vendor) under driver (Windows).
 *
 * Ownership: matrix_grid returns a new object (docs/matrix.md, "grid");
 * its inputs are borrowed. */
#ifndef HIL_GRID_H
#define HIL_GRID_H

#include <jansson.h>

/* cells, cards and reported as matrix.json has them. */
json_t *matrix_grid(json_t *cells, json_t *cards, json_t *reported);

#endif
