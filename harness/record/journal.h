/* journal: an append-only, fsync'd log of what hilrun set out to do and
 * what it finished, so that nothing is lost when the host, QEMU or hilrun
 * itself goes down (docs/journal.md).
 *
 * OUT/journal.jsonl holds one JSON object a line, each with "e" (the
 * event), "t" (UTC), "pid", "pid_start" (the process's start time, so that
 * a reused pid is not taken for it) and "boot_id" (the host's, from
 * /proc/sys/kernel/random/boot_id or $HILRUN_BOOT_ID for tests):
 *   plan        {plan, argv, cwd, cells}: a hilrun --card invocation's cells
 *   start       {plan, cell, run_id, tmp_dir, card, firmware, guest, variant}
 *   stage       {run_id, stage, outcome}
 *   finish      {plan, cell, run_id, verdict, run_dir}
 *   plan-done   {plan}
 * Every line is written with one write() (O_APPEND) and fsync'd before
 * hilrun goes on, so a line is in the file before what it announces
 * happens. A line cut short by a crash, or one that is not JSON, is skipped
 * with a warning naming the file and line; the rest is still read.
 *
 * Ownership: struct journal owns its descriptor and path. journal_read
 * returns a new JSON object the caller json_decrefs. */
#ifndef HIL_JOURNAL_H
#define HIL_JOURNAL_H

#include <jansson.h>
#include "util.h"

#define JOURNAL_FILE "journal.jsonl"
#define JOURNAL_LINE_MAX (64 * 1024)

struct journal {
	int fd;
	char *path;
	char boot_id[64];
	long pid;
	unsigned long long pid_start;
};

/* Open (create) OUT/journal.jsonl for appending; -1 and err if it, or
 * anything else a run writes in OUT (runs/, locks/, the caches), is a
 * link that leads out of OUT (confine.h). */
int journal_open(struct journal *j, const char *out_dir, struct hil_err *err);
void journal_close(struct journal *j);
/* Append event e with the fields of obj (borrowed; may be NULL). */
int journal_append(struct journal *j, const char *e, json_t *obj, struct hil_err *err);

/* When process pid started (clock ticks since boot), 0 if it does not run. */
unsigned long long journal_pid_start(long pid);

/* Read the journal into
 *   {"runs": {RUN_ID: {start: {...}, stages: {STAGE: OUTCOME}, finish: {...}|null}},
 *    "plans": {PLAN: {plan: {...}, finished: {CELL: RUN_ID}, done: bool}},
 *    "order": [PLAN...]}
 * A missing journal is an empty one. Skipped lines are counted in
 * "bad_lines" and each is reported through warn (may be NULL). */
json_t *journal_read(const char *path, void (*warn)(void *ctx, const char *msg), void *ctx,
		     struct hil_err *err);

/* Is the process that wrote this entry still running (same pid, same
 * start time, same boot)? */
int journal_writer_alive(json_t *entry, const char *boot_id);

#endif
