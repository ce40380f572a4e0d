/* plan: the cells one invocation runs. A cell is card x firmware x guest x
 * variant, as the card file lists them, narrowed by the command line; the
 * plan is the list of them, journalled under its id so that a host that
 * goes down resumes it (docs/journal.md). What QEMU is started with for a
 * cell is qemu_argv.h's business.
 *
 * Ownership: plan_cells returns an array the caller frees; a cell's
 * pointers are borrowed from the catalog. Keys and entries returned are
 * the caller's. */
#ifndef HIL_PLAN_H
#define HIL_PLAN_H

#include <jansson.h>
#include <stddef.h>
#include "catalog.h"

struct cell {
	const struct card *card;
	const char *firmware;
	const struct guest *guest;
	const struct variant *variant;
};

/* What the command line narrows a card's cells to: each a name or a
 * comma-separated list of names; NULL means any. */
struct cell_filter {
	const char *firmware, *guest, *variant;
};

/* list (as in struct cell_filter) names id; a NULL list names every id. */
int filter_names(const char *list, const char *id);

/* The card's cells passing filter (NULL: all), in card-file order:
 * firmware, then guest (each guest under the firmware it runs under),
 * then variant. Returns how many; *out is NULL when none. */
size_t plan_cells(const struct card *card, const struct cell_filter *filter, struct cell **out);

/* How the journal, the summary and the matrix name a cell:
 * "std-vga seabios/bios-post default". */
char *cell_key(const char *card, const char *firmware, const char *guest, const char *variant);
char *plan_cell_key(const struct cell *c);
/* The file a cell's guest boots from (a new string): its own image in
 * guest_dir, or for a guest with none of its own (windows) the lab's
 * image; "" if the lab named none. */
char *plan_guest_image(const struct cell *c, const char *guest_dir, const char *lab_image);

/* A new plan id: the UTC time and hilrun's pid ("20261204T051500Z-4242"). */
void plan_new_id(char *out, size_t n);

/* The journal's "plan" entry: {plan, argv (without argv[0]), cwd, cells}. */
json_t *plan_entry(const char *plan_id, int argc, char **argv, char *const *keys, size_t nkeys);

#endif
