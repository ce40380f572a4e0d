/* matrix: see matrix.h. Writers are in matrix_out.c. */
#include "matrix.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grid.h"
#include "plan.h"
#include "record.h"

static const char schema_sql[] =
	"CREATE TABLE runs(source TEXT, root TEXT, run_id TEXT, dir TEXT, card TEXT, card_name TEXT,"
	" kind TEXT, pci_id TEXT, firmware TEXT, guest TEXT, variant TEXT, verdict TEXT,"
	" furthest TEXT, expected TEXT, started_at TEXT, host TEXT, accel TEXT,"
	" duration_ms INTEGER, last_frame TEXT, recovered INTEGER, retry_of TEXT, stages TEXT, PRIMARY KEY(source, run_id));"
	"CREATE INDEX cell ON runs(card, firmware, guest, variant, source, started_at);";

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

/* The frame a run kept last (matrix.json's last_frame): the furthest stage's. */
static const char *last_frame(json_t *rec)
{
	const char *best = "";
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(rec, "stages"), i, st) {
		const char *f = str(st, "frame");
		if (*f)
			best = f;
	}
	return best;
}

/* Each stage's name, outcome and verdict, as compact JSON for the index.
 * Records before schema 1.2 give a failed stage no verdict of its own:
 * the first failed one's is the run's, any other's OUTCOME:STAGE. */
static char *stage_outcomes(json_t *rec)
{
	json_t *out = json_array();
	size_t i;
	json_t *st;
	int first = 1;
	json_array_foreach(json_object_get(rec, "stages"), i, st) {
		const char *outcome = str(st, "outcome"), *verdict = str(st, "verdict");
		char *v = NULL;
		if (!*verdict && (!strcmp(outcome, "fail") || !strcmp(outcome, "error")))
			v = first ? xstrdup(str(rec, "verdict")) : xasprintf("%s:%s", outcome, str(st, "name"));
		if (!strcmp(outcome, "fail") || !strcmp(outcome, "error"))
			first = 0;
		json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "name", str(st, "name"), "outcome",
						     outcome, "verdict", v ? v : verdict));
		free(v);
	}
	char *text = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return text;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, sorted, but those starting with '.'. */
static void list_dir(const char *dir, struct argv *names)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			argv_push(names, e->d_name);
	if (d)
		closedir(d);
	if (names->n)
		qsort(names->v, names->n, sizeof *names->v, cmp_str);
}

/* Index the runs in root/rel/ (rel: "runs" or "runs/CONTRIBUTOR"), each
 * of the given source. */
static int index_runs(sqlite3 *db, const char *root, const char *rel, const char *source,
		      void (*warn)(void *ctx, const char *msg), void *ctx, json_t *skipped,
		      int *nindexed, struct hil_err *err)
{
	char *runs = xasprintf("%s/%s", root, rel);
	struct argv names = ARGV_INIT;
	list_dir(runs, &names);
	sqlite3_stmt *ins = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT OR REPLACE INTO runs VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
				    -1, &ins, NULL);
	if (rc != SQLITE_OK) {
		hil_seterr(err, "index: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (size_t i = 0; i < names.n; i++) {
		char *path = xasprintf("%s/%s/%s", runs, names.v[i], RECORD_FILE);
		char *in_root = xasprintf("%s/%s/%s", rel, names.v[i], RECORD_FILE);
		struct hil_err lerr;
		json_t *rec = record_load_in(root, in_root, &lerr);
		free(in_root);
		if (!rec) {
			char *msg = xasprintf("%s; skipped", lerr.msg);
			if (warn)
				warn(ctx, msg);
			json_array_append_new(skipped, json_pack("{s:s, s:s}", "file", path, "error",
								 lerr.msg));
			free(msg);
			free(path);
			continue;
		}
		json_t *card = json_object_get(rec, "card");
		char *dir = xasprintf("%s/%s", rel, names.v[i]);
		const char *vals[] = { source, root, str(rec, "run_id"), dir, str(card, "id"), str(card, "name"),
				       str(card, "kind"), str(card, "pci_id"), str(rec, "firmware"),
				       str(rec, "guest"), str(rec, "variant"), str(rec, "verdict"),
				       str(rec, "furthest_stage"), str(rec, "expected"),
				       str(rec, "started_at"),
				       str(json_object_get(rec, "host"), "hostname"), str(rec, "accel") };
		int k = 1;
		for (size_t v = 0; v < sizeof vals / sizeof *vals; v++)
			sqlite3_bind_text(ins, k++, vals[v], -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, k++, json_integer_value(json_object_get(rec, "duration_ms")));
		sqlite3_bind_text(ins, k++, last_frame(rec), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(ins, k++, json_object_get(rec, "recovered") != NULL);
		sqlite3_bind_text(ins, k++, str(rec, "retry_of"), -1, SQLITE_TRANSIENT);
		char *stages = stage_outcomes(rec);
		sqlite3_bind_text(ins, k++, stages, -1, SQLITE_TRANSIENT);
		free(stages);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			hil_seterr(err, "index %s: %s", path, sqlite3_errmsg(db));
			free(dir);
			free(path);
			json_decref(rec);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			rc = -1;
			goto out;
		}
		sqlite3_reset(ins);
		(*nindexed)++;
		free(dir);
		free(path);
		json_decref(rec);
	}
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	if (rc < 0)
		hil_seterr(err, "index: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(ins);
	argv_release(&names);
	free(runs);
	return rc == SQLITE_OK ? 0 : -1;
}

int matrix_class_is_bad(const char *cls)
{
	return !strcmp(cls, "regression") || !strcmp(cls, "unexpected-failure");
}

static int is_error(const char *v)
{
	return !strncmp(v, "error:", 6);
}

/* Judge a cell from its runs, newest first. */
static const char *classify(json_t *runs, int *is_new)
{
	json_t *newest = json_array_get(runs, 0);
	const char *v = str(newest, "verdict"), *expected = str(newest, "expected");
	const char *before = NULL; /* the newest earlier verdict that is not a lab error */
	for (size_t i = 1; i < json_array_size(runs) && !before; i++) {
		const char *w = str(json_array_get(runs, i), "verdict");
		if (!is_error(w))
			before = w;
	}
	*is_new = json_array_size(runs) == 1;
	if (is_error(v))
		return "lab-error";
	/* Passed on the automatic retry of a failure: flaky, whatever came
	 * before. */
	if (!strcmp(v, "pass") && *str(newest, "retry_of"))
		return "flaky";
	if (!strcmp(v, "pass"))
		return before && strcmp(before, "pass") ? "fixed" : "pass";
	if (*expected && !strcmp(v, expected))
		return "known-failure";
	if (before && !strcmp(before, "pass"))
		return "regression";
	return "unexpected-failure";
}

static json_t *run_row(sqlite3_stmt *q)
{
	static const char *const cols[] = { "run_id", "run_dir", "verdict", "furthest_stage",
					    "expected", "started_at", "host", "accel", "last_frame" };
	json_t *o = json_object();
	for (int i = 0; i < 9; i++)
		json_object_set_new(o, cols[i], json_string((const char *)sqlite3_column_text(q, i) ?: ""));
	json_object_set_new(o, "duration_ms", json_integer(sqlite3_column_int64(q, 9)));
	json_object_set_new(o, "recovered", json_boolean(sqlite3_column_int(q, 10)));
	json_object_set_new(o, "retry_of", json_string((const char *)sqlite3_column_text(q, 11) ?: ""));
	json_t *stages = json_loads((const char *)sqlite3_column_text(q, 12) ?: "[]", 0, NULL);
	json_object_set_new(o, "stages", stages ? stages : json_array());
	const char *source = (const char *)sqlite3_column_text(q, 13) ?: "";
	json_object_set_new(o, "source", json_string(source));
	json_object_set_new(o, "root", json_string((const char *)sqlite3_column_text(q, 14) ?: ""));
	/* Its page, apart per contributor: run ids are unique per source. */
	json_object_set_new(o, "page",
			    !strncmp(source, MATRIX_CONTRIBUTOR, strlen(MATRIX_CONTRIBUTOR))
				    ? json_sprintf("runs/%s/%s.html", source + strlen(MATRIX_CONTRIBUTOR),
						   str(o, "run_id"))
				    : json_sprintf("runs/%s.html", str(o, "run_id")));
	return o;
}

/* Index a server store: STORE/runs/CONTRIBUTOR/RUN_ID/, each of source
 * contributor:CONTRIBUTOR. */
static int index_store(sqlite3 *db, const char *store, void (*warn)(void *ctx, const char *msg),
		       void *ctx, json_t *skipped, int *nindexed, struct hil_err *err)
{
	char *runs = xasprintf("%s/runs", store);
	struct argv who = ARGV_INIT;
	list_dir(runs, &who);
	free(runs);
	int rc = 0;
	for (size_t i = 0; i < who.n && rc == 0; i++) {
		char *rel = xasprintf("runs/%s", who.v[i]);
		char *source = xasprintf("%s%s", MATRIX_CONTRIBUTOR, who.v[i]);
		rc = index_runs(db, store, rel, source, warn, ctx, skipped, nindexed, err);
		free(source);
		free(rel);
	}
	argv_release(&who);
	return rc;
}

/* A cell's newest run of each source, each judged against that source's
 * own history, the lab's first, then by name. */
static json_t *cell_sources(sqlite3_stmt *srcq, sqlite3_stmt *hist, sqlite3_stmt *cells)
{
	json_t *out = json_array();
	for (int i = 0; i < 4; i++)
		sqlite3_bind_text(srcq, i + 1, (const char *)sqlite3_column_text(cells, i == 0 ? 0 : i + 3),
				  -1, SQLITE_TRANSIENT);
	while (sqlite3_step(srcq) == SQLITE_ROW) {
		for (int i = 0; i < 4; i++)
			sqlite3_bind_text(hist, i + 1,
					  (const char *)sqlite3_column_text(cells, i == 0 ? 0 : i + 3), -1,
					  SQLITE_TRANSIENT);
		sqlite3_bind_text(hist, 5, (const char *)sqlite3_column_text(srcq, 0), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(hist, 6, MATRIX_HISTORY + 1);
		json_t *runs = json_array();
		while (sqlite3_step(hist) == SQLITE_ROW)
			json_array_append_new(runs, run_row(hist));
		sqlite3_reset(hist);
		int is_new = 0;
		const char *cls = classify(runs, &is_new);
		json_t *newest = json_incref(json_array_get(runs, 0));
		json_object_set_new(newest, "class", json_string(cls));
		json_object_set_new(newest, "new", json_boolean(is_new));
		json_array_remove(runs, 0);
		json_object_set_new(newest, "history", runs);
		json_array_append_new(out, newest);
	}
	sqlite3_reset(srcq);
	return out;
}

json_t *matrix_build(const char *results_dir, const char *db_path, const struct catalog *cat,
		     void (*warn)(void *ctx, const char *msg), void *ctx, struct hil_err *err)
{
	struct matrix_source lab = { results_dir, 0 };
	return matrix_build_sources(&lab, 1, db_path, cat, warn, ctx, err);
}

json_t *matrix_build_sources(const struct matrix_source *src, size_t nsrc, const char *db_path,
			     const struct catalog *cat, void (*warn)(void *ctx, const char *msg),
			     void *ctx, struct hil_err *err)
{
	unlink(db_path);
	sqlite3 *db = NULL;
	if (sqlite3_open(db_path, &db) != SQLITE_OK) {
		hil_seterr(err, "cannot create the index %s: %s", db_path,
			   db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	json_t *m = NULL, *skipped = json_array();
	int nindexed = 0;
	sqlite3_stmt *cells = NULL, *hist = NULL, *srcq = NULL;
	if (sqlite3_exec(db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		hil_seterr(err, "index %s: %s", db_path, sqlite3_errmsg(db));
		goto out;
	}
	json_t *jsrc = json_array();
	for (size_t i = 0; i < nsrc; i++) {
		json_array_append_new(jsrc, json_pack("{s:s, s:s}", "dir", src[i].dir, "kind",
						      src[i].is_store ? "store" : "lab"));
		int rc = src[i].is_store
				 ? index_store(db, src[i].dir, warn, ctx, skipped, &nindexed, err)
				 : index_runs(db, src[i].dir, "runs", MATRIX_LAB, warn, ctx, skipped,
					      &nindexed, err);
		if (rc < 0) {
			json_decref(jsrc);
			goto out;
		}
	}
	if (sqlite3_prepare_v2(db,
			       "SELECT card, max(card_name), max(kind), max(pci_id), firmware, guest,"
			       " variant FROM runs GROUP BY card, firmware, guest, variant"
			       " ORDER BY card, firmware, guest, variant",
			       -1, &cells, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT DISTINCT source FROM runs WHERE card=? AND firmware=? AND guest=?"
			       " AND variant=? ORDER BY source != '" MATRIX_LAB "', source",
			       -1, &srcq, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT run_id, dir, verdict, furthest, expected, started_at, host,"
			       " accel, last_frame, duration_ms, recovered, retry_of, stages, source, root"
			       " FROM runs WHERE card=? AND firmware=? AND guest=? AND variant=? AND"
			       " source=? ORDER BY started_at DESC, run_id DESC LIMIT ?",
			       -1, &hist, NULL) != SQLITE_OK) {
		hil_seterr(err, "index %s: %s", db_path, sqlite3_errmsg(db));
		json_decref(jsrc);
		goto out;
	}
	json_t *jcells = json_array(), *summary = json_object(), *disagree = json_array();
	while (sqlite3_step(cells) == SQLITE_ROW) {
		json_t *c = json_object();
		static const char *const keys[] = { "card", "card_name", "kind", "pci_id",
						    "firmware", "guest", "variant" };
		for (int i = 0; i < 7; i++)
			json_object_set_new(c, keys[i],
					    json_string((const char *)sqlite3_column_text(cells, i) ?: ""));
		/* The cell's own fields are its first source's (the lab's when
		 * the lab ran it); "sources" holds each source's newest run. */
		json_t *sources = cell_sources(srcq, hist, cells);
		json_object_update(c, json_array_get(sources, 0));
		int differ = 0;
		for (size_t i = 1; i < json_array_size(sources); i++)
			differ |= !!strcmp(str(json_array_get(sources, i), "verdict"), str(c, "verdict"));
		json_object_set_new(c, "sources", sources);
		json_object_set_new(c, "disagree", json_boolean(differ));
		const char *cls = str(c, "class");
		char *name = cell_key(str(c, "card"), str(c, "firmware"), str(c, "guest"),
				      str(c, "variant"));
		json_object_set_new(c, "name", json_string(name));
		json_object_set_new(c, "column",
				    !strcmp(str(c, "variant"), "default")
					    ? json_sprintf("%s/%s", str(c, "firmware"), str(c, "guest"))
					    : json_sprintf("%s/%s %s", str(c, "firmware"), str(c, "guest"),
							   str(c, "variant")));
		json_t *list = json_object_get(summary, cls);
		if (!list) {
			list = json_array();
			json_object_set_new(summary, cls, list);
		}
		json_array_append_new(list, json_string(name));
		if (differ)
			json_array_append_new(disagree, json_string(name));
		free(name);
		json_array_append_new(jcells, c);
	}
	/* The card files: cards with no measured run yet, and every reported
	 * outcome, marked as reported (never mixed with measured cells). */
	json_t *cards = json_array(), *reported = json_array();
	for (size_t i = 0; cat && i < cat->ncards; i++) {
		const struct card *k = &cat->cards[i];
		char pci[PCI_ID_MAX];
		/* The columns its card file lists cells for (as matrix_out.c
		 * names them), so that a cell never run shows apart from one
		 * the card does not have. */
		json_t *listed = json_array();
		struct cell *cells;
		size_t ncells = plan_cells(k, NULL, &cells);
		for (size_t i = 0; i < ncells; i++)
			json_array_append_new(
				listed, !strcmp(cells[i].variant->name, "default")
					? json_sprintf("%s/%s", cells[i].firmware, cells[i].guest->id)
					: json_sprintf("%s/%s %s", cells[i].firmware, cells[i].guest->id,
						       cells[i].variant->name));
		free(cells);
		json_t *firmware = json_array();
		for (size_t f = 0; f < k->firmwares.n; f++)
			json_array_append_new(firmware, json_string(k->firmwares.v[f]));
		json_array_append_new(cards, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "card", k->id,
						       "card_name", k->name, "kind",
						       card_kind_name(k->kind), "pci_id",
						       pci_id(k->vendor, k->device, pci),
						       "firmware", firmware, "columns", listed));
		for (size_t r = 0; r < k->nreported; r++)
			json_array_append_new(
				reported, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "card", k->id,
						    "what", k->reported[r].what, "result",
						    k->reported[r].result, "note", k->reported[r].note,
						    "source", k->reported_source ? k->reported_source : "",
						    "kind", "reported"));
	}
	char when[32];
	utc_iso8601(when);
	json_t *grid = matrix_grid(jcells, cards, reported);
	m = json_pack("{s:s, s:s, s:s, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "schema",
		      MATRIX_SCHEMA, "generated_at", when, "results", nsrc ? src[0].dir : "",
		      "sources", jsrc, "runs_indexed", nindexed, "skipped", skipped, "cards", cards,
		      "cells", jcells, "reported", reported, "summary", summary, "disagreements",
		      disagree, "grid", grid);
	skipped = NULL;
out:
	sqlite3_finalize(cells);
	sqlite3_finalize(hist);
	sqlite3_finalize(srcq);
	sqlite3_close(db);
	json_decref(skipped);
	return m;
}
