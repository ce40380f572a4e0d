/* engine_int: what the engine's three files share. engine.c holds the
 * tables, the run's life and its faults; checks.c the screen checks (post,
 * text, calibration, graphics); reports.c the guest's report lines.
 * Internal to run/; the engine's API is engine.h.
 *
 * Ownership: as engine.h. */
#ifndef HIL_ENGINE_INT_H
#define HIL_ENGINE_INT_H

#include "engine.h"

/* A window of ms, scaled by --timeout-scale (and x3 under TCG). */
int64_t engine_scaled(const struct engine *e, int ms);
/* The stage the run is in now. */
static inline enum stage_id current_stage(const struct engine *e)
{
	return engine_phases[e->phase].stage;
}
static inline json_t *stage_info(struct engine *e, enum stage_id s)
{
	return e->stages[s].info;
}

void stage_begin(struct engine *e, enum stage_id s);
/* Decide stage s (once: later calls are ignored). detail is a sentence
 * for the record. */
void stage_end(struct engine *e, enum stage_id s, const char *outcome, const char *detail);
/* Fail stage s with this verdict (the stage's first failure counts). */
void stage_fail(struct engine *e, enum stage_id s, const char *verdict, const char *detail);
/* The verdict a stage gives when its check fails: fail:no-post, fail:text ... */
const char *stage_fail_verdict(enum stage_id s);
/* Every stage not yet decided is skipped, saying why (an undecided one
 * settles first). */
void skip_rest(struct engine *e, const char *why);
/* Stages left undecided that no later screen decided (why) are judged on
 * their frame as a stage with no later screen is: tesseract reads what
 * the decoder's font could not (checks.c). */
void settle_undecided(struct engine *e, const char *why);
/* A lab or harness error in the current stage ends the run: error:REASON. */
enum step lab_error(struct engine *e, const char *reason, const char *detail);
/* Write the ack that releases a holding guest (a failure is noted). */
void release_guest(struct engine *e);
/* Keep the last frame and the text read on it as stage s's evidence. */
void keep_evidence(struct engine *e, enum stage_id s);
/* ... or in info, as STEM.png and STEM.txt. */
void keep_evidence_as(struct engine *e, json_t *info, const char *stem);

/* Actions of checks.c (frames and deadlines of the check phases). */
enum step check_screen(struct engine *e, const struct event *ev);
enum step learn_calibration(struct engine *e, const struct event *ev);
enum step check_pattern(struct engine *e, const struct event *ev);
enum step check_timed_out(struct engine *e, const struct event *ev);
enum step calibration_timed_out(struct engine *e, const struct event *ev);
/* ... and of the driver stage's checkpoints (an OS guest). */
enum step take_driver_hold(struct engine *e, const struct event *ev);
enum step check_driver_pattern(struct engine *e, const struct event *ev);
enum step driver_pattern_timed_out(struct engine *e, const struct event *ev);
enum step check_console(struct engine *e, const struct event *ev);
enum step console_timed_out(struct engine *e, const struct event *ev);
enum step driver_ended(struct engine *e, const struct event *ev);

/* Action of reports.c: a line from COM1, dispatched through the table of
 * report lines; a line that moves the run (a hold, the end) is fed back
 * to the engine as its own event (EV_POST_HOLD ...). */
enum step hear_line(struct engine *e, const struct event *ev);

#endif
