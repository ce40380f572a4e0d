/* matrix: the per-card compatibility matrix, built from the run records.
 *
 * The run directories are the truth; the index (an SQLite file, rebuilt
 * from them on every call) is a cache for grouping and history. A record
 * that does not load (malformed, truncated, wrong schema) is skipped with a
 * warning naming the file; the matrix still builds.
 *
 * Each cell (card x firmware x guest x variant) is judged by its newest run
 * against the card file's expectation and the cell's earlier runs:
 *   pass, fixed (passes, failed before), regression (fails, passed before),
 *   known-failure (fails as the card file expects), unexpected-failure
 *   (fails, not expected, did not pass before), lab-error (an error:
 *   verdict: the lab, not the card), flaky (failed, then passed on the
 *   automatic retry). "new" marks a cell's first run.
 * Lab errors are left out of the history a cell is compared with.
 *
 * Provenance: each run has a source, "lab" for the runs of a lab results
 * directory (DIR/runs/RUN_ID/), "contributor:ID" for those of a server's
 * store (STORE/runs/ID/RUN_ID/). A cell is judged per source, against
 * that source's own history (a contributor's fail is no regression of the
 * lab's pass); its "sources" list each source's newest run, and it is
 * "disagree" when their verdicts differ: then each is shown with its
 * source and host, none picked.
 *
 * Ownership: matrix_build returns a new JSON object (docs/matrix.md) the
 * caller json_decrefs; the catalog is borrowed. */
#ifndef HIL_MATRIX_H
#define HIL_MATRIX_H

#include <jansson.h>
#include "catalog.h"
#include "util.h"

#define MATRIX_SCHEMA "hilrun-matrix/1.1"
#define MATRIX_LAB "lab"
#define MATRIX_CONTRIBUTOR "contributor:" /* + the contributor id */
#define MATRIX_HISTORY 10 /* earlier runs shown per cell */

/* Index results_dir/runs/ into db_path (replaced) and build the matrix.
 * cat (may be NULL) adds the cards without runs and the reported outcomes.
 * warn gets one message per skipped record. */
json_t *matrix_build(const char *results_dir, const char *db_path, const struct catalog *cat,
		     void (*warn)(void *ctx, const char *msg), void *ctx, struct hil_err *err);

#define MATRIX_SOURCES_MAX 16 /* directories one matrix is built from */

/* The same from several places: lab results directories and stores. */
struct matrix_source {
	const char *dir;
	int is_store; /* a server's store (runs/CONTRIBUTOR/RUN_ID/) */
};
json_t *matrix_build_sources(const struct matrix_source *src, size_t nsrc, const char *db_path,
			     const struct catalog *cat, void (*warn)(void *ctx, const char *msg),
			     void *ctx, struct hil_err *err);

/* Does this class make `matrix --check` (and the run's summary) red? */
int matrix_class_is_bad(const char *cls);

/* Write matrix.json, matrix.md, junit.xml and matrix.html into out_dir. */
int matrix_write(json_t *m, const char *out_dir, struct hil_err *err);
/* The same for a results server (share/republish.h): the run pages link a
 * contributor's run's files where the server serves them (RUN_ID/FILE
 * next to the page), and a lab's not at all, never file://. */
int matrix_write_served(json_t *m, const char *out_dir, int served, struct hil_err *err);

#endif
