/* recover: what the journal says was left undone. Runs that started and
 * never finished become whole records once their hilrun is gone; plans
 * whose cells were not all reached are run again (resume).
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

/* What running a resumed plan's command line came to. */
enum resume_result {
	RESUME_RAN,         /* it ran (its cells' verdicts are the caller's business) */
	RESUME_INVALID,     /* it no longer runs here (a card file changed): given up */
	RESUME_INTERRUPTED, /* a signal stopped it: resume no further plans */
};

struct resume_hooks {
	/* a run recovered (may be NULL) */
	void (*recovered)(void *ctx, const struct recovered *r);
	/* what resume is doing, for the person watching ("resuming plan ...") */
	void (*say)(void *ctx, const char *msg);
	/* Run a plan's command line again (argv[0] is "hilrun"), in the
	 * plan's working directory, skipping the cells in finished
	 * ({CELL: RUN_ID}). */
	enum resume_result (*run_plan)(void *ctx, const char *plan_id, json_t *finished, int argc,
				       char **argv);
	void *ctx;
};

/* Recover the journal's orphans (one hilrun at a time, under
 * OUT/locks/journal.lock), then run every unfinished plan whose hilrun is
 * gone. *resumed counts the plans run. Returns 0, or -1 when something
 * could not be recovered or resumed (err says the first; the rest went
 * on). */
int recover_and_resume_plans(struct journal *j, const struct resume_hooks *h, int *resumed,
		       struct hil_err *err);

#endif
