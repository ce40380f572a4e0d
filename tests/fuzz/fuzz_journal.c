/* fuzz_journal: the journal reader (record/journal.c, journal_read) given
 * any bytes as OUT/journal.jsonl, in a temporary directory: what hilrun
 * reads at every start to find runs cut short and plans to resume. The
 * state it returns must be the shape journal.h gives (runs and plans
 * objects, order an array of plan ids, bad_lines the count of lines
 * warned about), and journal_writer_alive must answer for every entry.
 * Recovery (recover.c) is not driven: it renames the tmp_dir a start line
 * names and removes its sock_dir, paths the journal gives, so an input
 * could reach files outside the temporary directory. Corpus:
 * tests/fuzz/corpus/journal/ (seeds: journals of the shapes
 * test_journal.c writes, seeds.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "journal.h"

static void count_warning(void *ctx, const char *msg)
{
	fuzz_check(msg && *msg, "journal_read: an empty warning");
	(*(long long *)ctx)++;
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "%s\n", msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *path;
	if (!path)
		path = xasprintf("%s/%s", fuzz_tmpdir(), JOURNAL_FILE);
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
			journal_writer_alive(start, "fuzz-boot-id");
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
	json_decref(st);
	return 0;
}
