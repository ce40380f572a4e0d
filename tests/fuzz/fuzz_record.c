/* fuzz_record: the run-record loader (record/record.c, record_load) and
 * what the matrix does with the records it loads (publish/matrix.c:
 * index_runs, through matrix_build, then matrix_write's pages), in a
 * temporary results directory. The input is one run.json, or two
 * separated by a line "@@@" (the second an earlier run, for the cell's
 * history). A record record_load accepts has its schema and every
 * required field (record.h); the matrix indexes exactly those, skips the
 * rest with a warning each, and writes its files and pages inside its
 * directory. The tree's cards give the matrix its card rows. Corpus:
 * tests/fuzz/corpus/record/ (seeds: the fixture run's run.json and
 * variations of it, seeds.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "fuzz.h"
#include "matrix.h"
#include "record.h"

#define MARK "\n@@@\n"
#define NRUNS 2

static struct catalog tree;
static char *results, *out, *db, *run_dir[NRUNS], *run_json[NRUNS];

static void setup(void)
{
	if (results)
		return;
	catalog_init(&tree);
	fuzz_tree_cards(&tree);
	results = xasprintf("%s/results", fuzz_tmpdir());
	out = xasprintf("%s/matrix", fuzz_tmpdir());
	db = xasprintf("%s/index.sqlite", fuzz_tmpdir());
	for (int i = 0; i < NRUNS; i++) {
		run_dir[i] = xasprintf("%s/runs/r%d", results, i);
		run_json[i] = xasprintf("%s/%s", run_dir[i], RECORD_FILE);
	}
}

static void count_warning(void *ctx, const char *msg)
{
	(*(int *)ctx)++;
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "%s\n", msg);
}

/* What record.h promises of a record record_load returned. */
static void check_loaded(json_t *rec)
{
	fuzz_check(json_is_object(rec) &&
			   record_schema_known(json_string_value(json_object_get(rec, "schema"))),
		   "record_load: a record of another schema");
	for (size_t i = 0; record_required[i]; i++)
		fuzz_check(json_object_get(rec, record_required[i]) != NULL,
			   "record_load: a record without a required field");
	const char *id = json_string_value(json_object_get(rec, "run_id"));
	fuzz_check(id && *id && *id != '.' && !strchr(id, '/'),
		   "record_load: a run_id that is no plain file name");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	const char *p = (const char *)data, *end = p + size;
	const char *mark = memmem(p, size, MARK, strlen(MARK));
	int loaded = 0, refused = 0;
	for (int i = 0; i < NRUNS; i++) {
		if (i == 0 || mark) {
			struct hil_err err;
			fuzz_check(mkdir_p(run_dir[i], &err) == 0, "mkdir in the temporary directory");
			const char *stop = i == 0 && mark ? mark : end;
			fuzz_write(run_json[i], p, (size_t)(stop - p));
			if (i == 0 && mark)
				p = mark + strlen(MARK);
			err.msg[0] = '\0';
			json_t *rec = record_load(run_json[i], &err);
			if (rec) {
				check_loaded(rec);
				loaded++;
			} else {
				fuzz_check(!strncmp(err.msg, run_json[i], strlen(run_json[i])),
					   "record_load: a refusal that does not name the file");
				refused++;
			}
			json_decref(rec);
		} else {
			remove_tree(run_dir[i]); /* no run there, not a run.json missing */
		}
	}

	int warned = 0;
	struct hil_err err;
	json_t *m = matrix_build(results, db, &tree, count_warning, &warned, &err);
	fuzz_check(m != NULL, "matrix_build failed on a results directory it can read");
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "loaded %d, refused %d; matrix: %lld indexed, %zu skipped, %d warnings\n",
			loaded, refused, json_integer_value(json_object_get(m, "runs_indexed")),
			json_array_size(json_object_get(m, "skipped")), warned);
	fuzz_check(json_integer_value(json_object_get(m, "runs_indexed")) == loaded &&
			   json_array_size(json_object_get(m, "skipped")) == (size_t)refused &&
			   warned == refused,
		   "matrix_build: the records indexed and skipped are not those record_load took and refused");
	if (matrix_write(m, out, &err) < 0) {
		fprintf(stderr, "fuzz_record: %s\n", err.msg);
		abort();
	}
	json_decref(m);
	remove_tree(out);
	return 0;
}
