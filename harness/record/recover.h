/* recover: turn runs the journal says started and never finished into
 * whole records, once their hilrun is gone.
 *
 * Started under another boot of the host: the host went down during the
 * run (the founding report's Catalyst install hung the host): the stage it
 * was in fails as fail:host-hang. Same boot, writer gone: hilrun itself
 * died (killed, crashed): error:harness-died. The record is assembled from
 * what the run's temporary directory holds (serial log, frames taken so
 * far) and the stage outcomes the journal kept, committed like any record
 * (whole or absent), and the journal gets its finish line, so the cell
 * counts as done when its plan resumes.
 *
 * Ownership: plain data; state is the journal_read() object, borrowed. */
#ifndef HIL_RECOVER_H
#define HIL_RECOVER_H

#include <jansson.h>
#include "journal.h"
#include "util.h"

struct recovered {
	const char *run_id, *cell, *verdict, *run_dir, *why;
};

/* Recover every orphan of state; calls seen(ctx, r) for each. Returns how
 * many were recovered, -1 if one could not be (err; others may have been). */
int recover_orphans(struct journal *j, const char *out_dir, json_t *state,
		    void (*seen)(void *ctx, const struct recovered *r), void *ctx,
		    struct hil_err *err);

#endif
