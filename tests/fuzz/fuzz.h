/* fuzz: what the libFuzzer targets of tests/fuzz share (header-only).
 *
 * Each target is one file tests/fuzz/fuzz_NAME.c defining
 * LLVMFuzzerTestOneInput, with its corpus in tests/fuzz/corpus/NAME/ (and
 * a dictionary tests/fuzz/NAME.dict if it has one); tests/CMakeLists.txt
 * lists the names (FUZZ_TARGETS). Built with clang and libFuzzer
 * (HIL_FUZZ=ON, ci/fuzz), or with replay.c's main() in every other build,
 * which runs the corpus as a unit test (fuzz.replay.NAME).
 *
 * A target must free all it allocates (LeakSanitizer and valgrind run
 * it), and report a broken promise of the code under test with
 * fuzz_check, which aborts: libFuzzer then keeps the input as a crash.
 * With $HILRUN_FUZZ_VERBOSE set, each input's findings are printed. */
#ifndef HIL_FUZZ_H
#define HIL_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "findings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz: %s\n", what);
		abort();
	}
}

/* The findings as a rejection answers them: the server's JSON body, every
 * finding in it, and upload --dry-run's text. */
static inline void fuzz_findings(const struct findings *f)
{
	json_t *j = findings_json(f);
	char *text = json_dumps(j, JSON_COMPACT);
	size_t errors = findings_errors(f);
	fuzz_check(text != NULL, "findings_json: not serialisable");
	fuzz_check(json_is_true(json_object_get(j, "ok")) == (errors == 0),
		   "findings_json: ok disagrees with the errors");
	fuzz_check(json_array_size(json_object_get(j, "errors")) == errors &&
			   json_array_size(json_object_get(j, "warnings")) + errors ==
				   f->n + (f->dropped ? 1 : 0),
		   "findings_json: a finding is missing from the answer");
	size_t ne = 0, nw = 0;
	for (size_t i = 0; i < f->n; i++) {
		int err = f->v[i].level == FINDING_ERROR;
		json_t *o = json_array_get(json_object_get(j, err ? "errors" : "warnings"),
					   err ? ne++ : nw++);
		fuzz_check(!json_object_get(o, "file") == !f->v[i].file,
			   "findings_json: a finding's file is missing from the answer");
	}
	free(text);
	json_decref(j);
	char *lines = findings_text(f, "  ");
	if (getenv("HILRUN_FUZZ_VERBOSE")) /* what an input comes to */
		fprintf(stderr, "%zu findings:\n%s", f->n, lines);
	free(lines);
}

#endif
