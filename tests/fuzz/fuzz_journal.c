/* fuzz_journal: the journal reader (record/journal.c, journal_read) given
 * any bytes as OUT/journal.jsonl, in a temporary directory: what hilrun
 * reads at every start to find runs cut short and plans to resume. The
 * state it returns must be the shape journal.h gives (runs and plans
 * objects, order an array of plan ids, bad_lines the count of lines
 * warned about), and journal_writer_alive must answer for every entry.
 *
 * Then the recovery that consumes it (record/recover.c, recover_orphans),
 * with OUT the temporary directory: every orphan becomes a record that
 * record_load takes. The journal names paths the recovery renames
 * (tmp_dir), removes (sock_dir) and writes (OUT/runs/RUN_ID): the target
 * points tmp_dir and sock_dir into its directory and leaves out the runs
 * whose id is no plain file name, so that no input reaches outside it
 * (the journal is hilrun's own file, not an upload). Corpus:
 * tests/fuzz/corpus/journal/ (seeds: journals of the shapes
 * test_journal.c writes, seeds.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "journal.h"
#include "record.h"
#include "recover.h"

#define BOOT_ID "fuzz-boot-now"

static void count_warning(void *ctx, const char *msg)
{
	fuzz_check(msg && *msg, "journal_read: an empty warning");
	(*(long long *)ctx)++;
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "%s\n", msg);
}

static int plain_name(const char *s)
{
	return *s && *s != '.' && !strchr(s, '/');
}

static void recovered(void *ctx, const struct recovered *r)
{
	(*(int *)ctx)++;
	fuzz_check(r->run_id && r->verdict && r->run_dir && r->why, "recover_orphans: a run seen without its facts");
	char *rec_path = xasprintf("%s/%s", r->run_dir, RECORD_FILE);
	struct hil_err err;
	json_t *rec = record_load(rec_path, &err);
	if (!rec)
		fprintf(stderr, "fuzz_journal: %s\n", err.msg);
	fuzz_check(rec != NULL, "recover_orphans: a recovered record that record_load refuses");
	fuzz_check(!strcmp(json_string_value(json_object_get(rec, "verdict")) ?: "", r->verdict),
		   "recover_orphans: the verdict seen is not the record's");
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "recovered %s: %s\n", r->run_id, r->verdict);
	json_decref(rec);
	free(rec_path);
}

/* The recovery, on the state with its paths kept inside the directory. */
static void recover(json_t *st)
{
	const char *dir = fuzz_tmpdir();
	const char *id;
	json_t *run;
	void *it;
	size_t n = 0;
	json_object_foreach_safe(json_object_get(st, "runs"), it, id, run) {
		json_t *start = json_object_get(run, "start");
		if (!plain_name(id)) {
			json_object_del(json_object_get(st, "runs"), id);
			continue;
		}
		if (json_is_object(start)) {
			json_object_set_new(start, "tmp_dir", json_sprintf("%s/runs/.tmp-%zu", dir, n++));
			json_object_set_new(start, "sock_dir", json_sprintf("%s/sock", dir));
		}
	}
	struct journal j;
	struct hil_err err;
	fuzz_check(journal_open(&j, dir, &err) == 0, "journal_open in the temporary directory");
	int seen = 0;
	int rc = recover_orphans(&j, dir, st, recovered, &seen, &err);
	fuzz_check(rc == -1 || rc == seen, "recover_orphans: its count is not the runs it recovered");
	if (rc < 0 && getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "recover_orphans: %s\n", err.msg);
	journal_close(&j);
	char *runs = xasprintf("%s/runs", dir);
	remove_tree(runs);
	free(runs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *path;
	if (!path) {
		setenv("HILRUN_BOOT_ID", BOOT_ID, 1); /* journal_open's boot id */
		path = xasprintf("%s/%s", fuzz_tmpdir(), JOURNAL_FILE);
	}
	fuzz_write(path, data, size);
	long long warned = 0;
	struct hil_err err;
	json_t *st = journal_read(path, count_warning, &warned, &err);
	fuzz_check(st != NULL, "journal_read failed on a readable file");
	json_t *runs = json_object_get(st, "runs"), *plans = json_object_get(st, "plans"),
	       *order = json_object_get(st, "order");
	fuzz_check(json_is_object(runs) && json_is_object(plans) && json_is_array(order),
		   "journal_read: runs, plans or order missing or of another type");
	fuzz_check(json_integer_value(json_object_get(st, "bad_lines")) == warned,
		   "journal_read: bad_lines is not the lines warned about");
	size_t i;
	json_t *p;
	json_array_foreach(order, i, p)
		fuzz_check(json_is_string(p) && json_object_get(plans, json_string_value(p)),
			   "journal_read: an ordered plan that is not among the plans");
	const char *key;
	json_t *run;
	json_object_foreach(runs, key, run) {
		fuzz_check(json_is_object(run), "journal_read: a run that is not an object");
		json_t *start = json_object_get(run, "start");
		if (start) {
			fuzz_check(json_is_object(start) && json_is_object(json_object_get(run, "stages")) &&
					   json_object_get(run, "finish"),
				   "journal_read: a started run without its stages or finish");
			journal_writer_alive(start, BOOT_ID);
		}
	}
	json_object_foreach(plans, key, p) {
		fuzz_check(json_is_object(p), "journal_read: a plan that is not an object");
		if (json_object_get(p, "plan"))
			fuzz_check(json_is_object(json_object_get(p, "finished")) &&
					   json_is_boolean(json_object_get(p, "done")),
				   "journal_read: a plan without finished or done");
	}
	char *text = json_dumps(st, JSON_COMPACT);
	fuzz_check(text != NULL, "journal_read: a state that does not serialise");
	free(text);
	recover(st);
	json_decref(st);
	return 0;
}
