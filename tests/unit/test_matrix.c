/* test_matrix: indexing run records (real record files written with
 * record_commit into a temporary results directory), each cell's class
 * from its history and expectation, records that do not load, the four
 * output files, provenance (the lab's and contributors' runs of one cell),
 * and the results server's republish of it (share/republish.h). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "matrix.h"
#include "record.h"
#include "republish.h"
#include "testutil.h"
#include "util.h"

static char *dir;

static void setup(void)
{
	dir = test_tmpdir();
}

static void teardown(void)
{
	test_rmdir(dir);
	free(dir);
}

/* A record of cell CARD seabios/bios-post VARIANT, started at minute n. */
static const char *retry_of; /* the next run() retries this run id */
static const char *screen_text; /* the next run's post stage's text file */

/* The same into runs_dir (a lab's DIR/runs or a store's runs/ID), run
 * on host. */
static void run_in(const char *runs_dir, const char *host, const char *card, const char *variant,
		   int n, const char *verdict, const char *expected)
{
	struct hil_err err;
	char id[128], when[32];
	snprintf(id, sizeof id, "20261124T00%02d00Z-%s-seabios-bios-post-%s-0000", n, card, variant);
	snprintf(when, sizeof when, "2026-11-24T00:%02d:00.000Z", n);
	char *tmp = xasprintf("%s/.tmp-%s", runs_dir, id), *fin = xasprintf("%s/%s", runs_dir, id);
	ck_assert(mkdir_p(tmp, &err) == 0);
	test_write_str(tmp, "serial.log", "HILRUN/1 guest hello\n");
	json_t *rec = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, "
				"s:s, s:s, s:{s:s}, s:i, s:[{s:s, s:s}]}",
				"schema", RECORD_SCHEMA, "run_id", id, "card", "id", card, "name",
				"Card", "kind", "emulated", "pci_id", "1234:1111", "firmware",
				"seabios", "guest", "bios-post", "variant", variant, "accel", "kvm",
				"verdict", verdict, "expected", expected, "started_at", when,
				"furthest_stage", "post", "host", "hostname", host, "duration_ms",
				4000, "stages", "name", "post", "frame", "post.png");
	if (retry_of)
		json_object_set_new(rec, "retry_of", json_string(retry_of));
	if (screen_text)
		json_object_set_new(json_array_get(json_object_get(rec, "stages"), 0), "screen_text",
				    json_string(screen_text));
	ck_assert_msg(record_commit(rec, tmp, fin, &err) == 0, "%s", err.msg);
	json_decref(rec);
	free(tmp);
	free(fin);
}

static void run(const char *card, const char *variant, int n, const char *verdict,
		const char *expected)
{
	char *runs = xasprintf("%s/runs", dir);
	run_in(runs, "lab1", card, variant, n, verdict, expected);
	free(runs);
}

static int nwarn;
static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
	nwarn++;
}

static json_t *cell(json_t *m, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(m, "cells"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "name")), name))
			return c;
	ck_abort_msg("no cell %s", name);
	return NULL;
}

static const char *cls(json_t *m, const char *name)
{
	return json_string_value(json_object_get(cell(m, name), "class"));
}

START_TEST(classes)
{
	run("a", "default", 1, "pass", "pass");
	run("a", "default", 2, "pass", "pass");               /* pass */
	run("b", "default", 1, "pass", "pass");
	run("b", "default", 2, "fail:text", "pass");          /* regression */
	run("c", "default", 1, "fail:text", "pass");
	run("c", "default", 2, "pass", "pass");               /* fixed */
	run("d", "default", 1, "fail:no-post", "fail:no-post");
	run("d", "default", 2, "fail:no-post", "fail:no-post"); /* known failure */
	run("e", "default", 3, "fail:graphics", "pass");      /* new, unexpected */
	run("f", "default", 1, "pass", "pass");
	run("f", "default", 2, "error:capture-lost", "pass"); /* lab error */
	run("g", "default", 1, "pass", "pass");
	run("g", "default", 2, "error:qemu-start", "pass");
	run("g", "default", 3, "fail:host-hang", "pass");     /* regression: errors are not history */
	run("h", "default", 1, "fail:text", "pass");
	run("h", "default", 2, "fail:text", "pass");          /* still failing, unexpected */
	run("a", "kvm-hidden", 1, "pass", "pass");            /* another variant: its own cell */
	run("i", "default", 1, "pass", "pass");
	run("i", "default", 2, "fail:text", "pass");
	retry_of = "20261124T000200Z-i-seabios-bios-post-default-0000";
	run("i", "default", 3, "pass", "pass");               /* flaky: passed on the retry */
	retry_of = NULL;
	/* A record cut short and one of another schema: skipped, named. */
	char *bad = xasprintf("%s/runs/20261124T009900Z-x", dir);
	struct hil_err err;
	ck_assert(mkdir_p(bad, &err) == 0);
	test_write_str(bad, "run.json", "{\"schema\":\"hilrun-run/1\",\"run_id\":\"x\"");
	free(bad);
	bad = xasprintf("%s/runs/20261124T009901Z-y", dir);
	ck_assert(mkdir_p(bad, &err) == 0);
	test_write_str(bad, "run.json", "{\"schema\":\"other/9\"}");
	free(bad);
	/* A good record outside the results, reached through a run directory
	 * that is a link out, and through a run.json that is: skipped, named
	 * (the store never follows a link out of itself). */
	char *elsewhere = test_tmpdir();
	run_in(elsewhere, "lab1", "z", "default", 5, "pass", "pass");
	char *target = xasprintf("%s/20261124T000500Z-z-seabios-bios-post-default-0000", elsewhere);
	char *link = xasprintf("%s/runs/20261124T009902Z-z", dir);
	ck_assert(symlink(target, link) == 0);
	free(link);
	bad = xasprintf("%s/runs/20261124T009903Z-w", dir);
	ck_assert(mkdir_p(bad, &err) == 0);
	link = xasprintf("%s/run.json", bad);
	char *target_rec = xasprintf("%s/run.json", target);
	ck_assert(symlink(target_rec, link) == 0);
	free(target_rec);
	free(link);
	free(bad);
	free(target);

	char *db = test_path(dir, "index.sqlite");
	nwarn = 0;
	json_t *m = matrix_build(dir, db, NULL, warn, NULL, &err);
	ck_assert_msg(m != NULL, "%s", err.msg);
	ck_assert_int_eq(nwarn, 4);
	ck_assert_int_eq(json_array_size(json_object_get(m, "skipped")), 4);
	for (size_t k = 2; k < 4; k++) {
		const char *why = json_string_value(
			json_object_get(json_array_get(json_object_get(m, "skipped"), k), "error"));
		ck_assert_msg(strstr(why, "leads out of") != NULL, "%s", why);
	}
	test_rmdir(elsewhere);
	free(elsewhere);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "runs_indexed")), 20);
	ck_assert_int_eq(json_array_size(json_object_get(m, "cells")), 10);
	ck_assert_str_eq(cls(m, "i seabios/bios-post default"), "flaky");
	ck_assert(!matrix_class_is_bad("flaky"));
	ck_assert_str_eq(cls(m, "a seabios/bios-post default"), "pass");
	ck_assert_str_eq(cls(m, "b seabios/bios-post default"), "regression");
	ck_assert_str_eq(cls(m, "c seabios/bios-post default"), "fixed");
	ck_assert_str_eq(cls(m, "d seabios/bios-post default"), "known-failure");
	ck_assert_str_eq(cls(m, "e seabios/bios-post default"), "unexpected-failure");
	ck_assert(json_is_true(json_object_get(cell(m, "e seabios/bios-post default"), "new")));
	ck_assert(json_is_false(json_object_get(cell(m, "a seabios/bios-post default"), "new")));
	ck_assert_str_eq(cls(m, "f seabios/bios-post default"), "lab-error");
	ck_assert_str_eq(cls(m, "g seabios/bios-post default"), "regression");
	ck_assert_str_eq(cls(m, "h seabios/bios-post default"), "unexpected-failure");
	ck_assert_str_eq(cls(m, "a seabios/bios-post kvm-hidden"), "pass");
	/* The newest run is the cell's, the rest its history, newest first. */
	json_t *g = cell(m, "g seabios/bios-post default");
	ck_assert_str_eq(json_string_value(json_object_get(g, "verdict")), "fail:host-hang");
	ck_assert_int_eq(json_array_size(json_object_get(g, "history")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(g, "history"), 0), "verdict")),
			 "error:qemu-start");
	ck_assert_str_eq(json_string_value(json_object_get(g, "last_frame")), "post.png");
	ck_assert(matrix_class_is_bad("regression") && matrix_class_is_bad("unexpected-failure"));
	ck_assert(!matrix_class_is_bad("known-failure") && !matrix_class_is_bad("lab-error") &&
		  !matrix_class_is_bad("fixed"));

	/* The four files. */
	char *out = test_path(dir, "out");
	ck_assert_msg(matrix_write(m, out, &err) == 0, "%s", err.msg);
	static const char *const files[] = { "matrix.json", "matrix.md", "junit.xml", "matrix.html" };
	for (size_t i = 0; i < 4; i++) {
		char *p = test_path(out, files[i]);
		ck_assert_msg(test_exists(p), "%s missing", p);
		free(p);
	}
	char *jp = test_path(out, "junit.xml");
	size_t len;
	char *junit = (char *)test_read(jp, &len);
	ck_assert_msg(strstr(junit, "tests=\"10\" failures=\"4\" errors=\"1\" skipped=\"1\""), "%s", junit);
	ck_assert(strstr(junit, "<failure message=\"REGRESSION: fail:text\">"));
	free(junit);
	free(jp);
	char *hp = test_path(out, "matrix.html");
	char *html = (char *)test_read(hp, &len);
	/* Every cell's newest run is linked from the grid (once per stage
	 * column its guest proves). */
	json_t *linked = json_object();
	for (const char *p = html; (p = strstr(p, "data-run=\"")); p++) {
		char *id = xstrndup(p + 10, strcspn(p + 10, "\""));
		json_object_set_new(linked, id, json_true());
		free(id);
	}
	ck_assert_int_eq(json_object_size(linked), 10);
	json_decref(linked);
	ck_assert(!strstr(html, "http://") && !strstr(html, "https://")); /* no network */
	free(html);
	free(hp);
	free(out);
	json_decref(m);
	free(db);
}
END_TEST

/* The project's own card files. */
static void load_real_cards(struct catalog *cat)
{
	struct hil_err err;
	catalog_init(cat);
	char *cards = xasprintf("%s/cards", test_source_dir());
	ck_assert_msg(catalog_load_cards(cat, cards, &err) == 0, "%s", err.msg);
	free(cards);
}

/* Reported outcomes from the card files show, marked as reported; cards
 * with no run are rows too. */
START_TEST(reported)
{
	struct catalog cat;
	struct hil_err err;
	load_real_cards(&cat);
	char *db = test_path(dir, "index.sqlite");
	json_t *m = matrix_build(dir, db, &cat, NULL, NULL, &err); /* no runs at all */
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(json_array_size(json_object_get(m, "cells")), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(m, "cards")), cat.ncards);
	/* Each card says which columns its file lists. */
	size_t k;
	json_t *card, *g98 = NULL;
	json_array_foreach(json_object_get(m, "cards"), k, card)
		if (!strcmp(json_string_value(json_object_get(card, "card")), "g98"))
			g98 = json_object_get(card, "columns");
	ck_assert_ptr_nonnull(g98);
	char *cols = json_dumps(g98, JSON_COMPACT);
	ck_assert_str_eq(cols, "[\"seabios/bios-post\",\"seabios/bios-post kvm-hidden\","
			       "\"seabios/linux-drm\",\"seabios/linux-drm kvm-hidden\","
			       "\"seabios/windows\",\"seabios/windows kvm-hidden\"]");
	free(cols);
	json_t *rep = json_object_get(m, "reported");
	ck_assert_int_gt(json_array_size(rep), 5);
	size_t i;
	json_t *r;
	json_array_foreach(rep, i, r)
		ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "reported");
	json_decref(m);
	free(db);
	catalog_release(&cat);
}
END_TEST

/* A record of g98's seabios/windows cell whose driver stage failed with
 * Code 43 (schema 1.2: the stage says its verdict); and one of std-vga's
 * seabios/bios-post from schema 1.1, whose failed stages say nothing. */
static void commit(const char *id, json_t *rec)
{
	struct hil_err err;
	char *tmp = xasprintf("%s/runs/.tmp-%s", dir, id), *fin = xasprintf("%s/runs/%s", dir, id);
	ck_assert(mkdir_p(tmp, &err) == 0);
	ck_assert_msg(record_commit(rec, tmp, fin, &err) == 0, "%s", err.msg);
	json_decref(rec);
	free(tmp);
	free(fin);
}

static void old_run(void)
{
	const char *id = "20261124T000500Z-std-vga-seabios-bios-post-default-0000";
	commit(id, json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, "
			     "s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}",
			     "schema", "hilrun-run/1.1", "run_id", id, "card", "id", "std-vga", "name",
			     "QEMU standard VGA", "kind", "emulated", "pci_id", "1234:1111", "firmware",
			     "seabios", "guest", "bios-post", "variant", "default", "accel", "kvm",
			     "verdict", "fail:guest-hang", "expected", "pass", "started_at",
			     "2026-11-24T00:05:00.000Z", "stages", "name", "start", "outcome", "pass",
			     "name", "post", "outcome", "fail", "name", "text", "outcome", "fail"));
}

static void windows_run(void)
{
	const char *id = "20261124T001000Z-g98-seabios-windows-default-0000";
	commit(id, json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, "
			     "s:s, s:[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s}]}",
			     "schema", RECORD_SCHEMA, "run_id", id, "card", "id", "g98", "name",
			     "GeForce 8400 GS (G98)", "kind", "vfio", "pci_id", "10de:06e4", "firmware",
			     "seabios", "guest", "windows", "variant", "default", "accel", "kvm",
			     "verdict", "fail:code43", "expected", "pass", "started_at",
			     "2026-11-24T00:10:00.000Z", "stages", "name", "start", "outcome", "pass",
			     "name", "driver", "outcome", "fail", "verdict", "fail:code43", "name",
			     "shutdown", "outcome", "pass"));
}

/* The grid's entries at (card, row, column key). */
static json_t *grid_at(json_t *m, const char *card, const char *row, const char *key)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(json_object_get(m, "grid"), "rows"), i, r)
		if (!strcmp(json_string_value(json_object_get(r, "card")), card) &&
		    !strcmp(json_string_value(json_object_get(r, "row")), row))
			return json_object_get(json_object_get(r, "cells"), key);
	return NULL;
}

/* The matrix by stage: a measured windows cell and the 2013 report's
 * Windows outcomes in the same column; post under SeaBIOS holds each
 * guest that proves it; cells never run are marked so; a failed stage
 * of a record before 1.2 takes the run's verdict. */
START_TEST(grid_by_stage)
{
	struct catalog cat;
	struct hil_err err;
	load_real_cards(&cat);
	windows_run();
	old_run();
	char *db = test_path(dir, "index.sqlite");
	json_t *m = matrix_build(dir, db, &cat, NULL, NULL, &err);
	ck_assert_msg(m != NULL, "%s", err.msg);

	json_t *cols = json_object_get(json_object_get(m, "grid"), "columns");
	char *keys = NULL;
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *c;
	json_array_foreach(cols, i, c)
		sb_addf(&sb, "%s%s", i ? "," : "", json_string_value(json_object_get(c, "key")));
	keys = sb_detach(&sb);
	ck_assert_str_eq(keys, "seabios post,seabios text,seabios graphics,seabios driver-linux,"
			       "seabios driver-windows,ovmf post,ovmf text,ovmf graphics,ovmf driver-linux");
	free(keys);

	json_t *win = grid_at(m, "g98", "default", "seabios driver-windows");
	ck_assert_int_eq(json_array_size(win), 1);
	json_t *e = json_array_get(win, 0);
	ck_assert_str_eq(json_string_value(json_object_get(e, "outcome")), "fail");
	ck_assert_str_eq(json_string_value(json_object_get(e, "verdict")), "fail:code43");
	ck_assert_str_eq(json_string_value(json_object_get(e, "class")), "unexpected-failure");
	json_t *said = grid_at(m, "g98", "reported", "seabios driver-windows");
	ck_assert_int_eq(json_array_size(said), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(said, 0), "what")), "driver:win7-vga");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(said, 1), "what")), "driver:vendor");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(said, 1), "result")), "fail:code43");
	json_t *post = grid_at(m, "g98", "reported", "seabios post");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(post, 0), "result")), "pass");
	/* Never run: bios-post and linux-drm each prove post. */
	json_t *g98post = grid_at(m, "g98", "kvm-hidden", "seabios post");
	ck_assert_int_eq(json_array_size(g98post), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(g98post, 0), "guest")), "bios-post");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(g98post, 1), "guest")), "linux-drm");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(g98post, 1), "outcome")), "not-run");
	/* The rows of a card: its variants, then what was reported. */
	json_t *rows = json_object_get(json_object_get(m, "grid"), "rows");
	const char *order[3];
	size_t n = 0;
	json_array_foreach(rows, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "card")), "g98") && n < 3)
			order[n++] = json_string_value(json_object_get(c, "row"));
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(order[0], "default");
	ck_assert_str_eq(order[1], "kvm-hidden");
	ck_assert_str_eq(order[2], "reported");
	/* A 1.1 record's failed stages: the first takes the run's verdict. */
	json_t *bp = json_array_get(grid_at(m, "std-vga", "default", "seabios post"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(bp, "guest")), "bios-post");
	ck_assert_str_eq(json_string_value(json_object_get(bp, "verdict")), "fail:guest-hang");
	bp = json_array_get(grid_at(m, "std-vga", "default", "seabios text"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(bp, "verdict")), "fail:text");
	bp = json_array_get(grid_at(m, "std-vga", "default", "seabios graphics"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(bp, "outcome")), "skip"); /* not recorded */

	char *out = test_path(dir, "out");
	ck_assert_msg(matrix_write(m, out, &err) == 0, "%s", err.msg);
	char *hp = test_path(out, "matrix.html");
	size_t len;
	char *html = (char *)test_read(hp, &len);
	ck_assert(strstr(html, "windows &#10007; code43") || strstr(html, "windows \u2717 code43"));
	ck_assert(strstr(html, "data-reported=\"1\""));
	free(html);
	free(hp);
	char *mp = test_path(out, "matrix.md");
	char *md = (char *)test_read(mp, &len);
	ck_assert_msg(strstr(md, "| *reported* |"), "%s", md);
	ck_assert_msg(strstr(md, "*driver:win7-vga: fail:yellow-bang* · *driver:vendor: fail:code43*"), "%s", md);
	free(md);
	free(mp);
	free(out);
	json_decref(m);
	free(db);
	catalog_release(&cat);
}
END_TEST

static const char *sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

/* Runs of one cell from the lab and from contributors of a store: each
 * source judged on its own history, each shown with its source and host,
 * and a cell whose sources' newest verdicts differ flagged, none picked. */
START_TEST(provenance)
{
	struct hil_err err;
	char *lab = xasprintf("%s/runs", dir);
	char *bob = xasprintf("%s/store/runs/bob", dir), *amy = xasprintf("%s/store/runs/amy", dir);
	/* a: the lab passes, bob agrees. */
	run_in(lab, "lab1", "a", "default", 1, "pass", "pass");
	run_in(bob, "bobs-<b>box</b>", "a", "default", 2, "pass", "pass");
	/* b: the lab passes twice, then bob fails: no regression of the lab's,
	 * and bob's own first run is new. The same run id as the lab's. */
	run_in(lab, "lab1", "b", "default", 1, "pass", "pass");
	run_in(lab, "lab1", "b", "default", 2, "pass", "pass");
	run_in(bob, "bobs-<b>box</b>", "b", "default", 3, "fail:text", "pass");
	run_in(amy, "amyhost", "b", "default", 2, "pass", "pass");
	/* c: contributors only, disagreeing; amy's record names a file
	 * outside her run as its text. */
	test_write_str(dir, "secret", "TOPSECRET\n");
	screen_text = "../../../../secret";
	run_in(amy, "amyhost", "c", "default", 1, "fail:no-post", "pass");
	screen_text = NULL;
	run_in(bob, "bobs-<b>box</b>", "c", "default", 1, "pass", "pass");
	char *db = test_path(dir, "index.sqlite"), *store = test_path(dir, "store");
	struct matrix_source src[] = { { dir, 0 }, { store, 1 } };
	json_t *m = matrix_build_sources(src, 2, db, NULL, NULL, NULL, &err);
	ck_assert_msg(m != NULL, "%s", err.msg);
	ck_assert_str_eq(sget(m, "schema"), "hilrun-matrix/1.1");
	ck_assert_int_eq(json_integer_value(json_object_get(m, "runs_indexed")), 8);
	ck_assert_int_eq(json_array_size(json_object_get(m, "cells")), 3);

	json_t *a = cell(m, "a seabios/bios-post default");
	ck_assert_str_eq(sget(a, "class"), "pass");
	ck_assert(json_is_false(json_object_get(a, "disagree")));
	json_t *as = json_object_get(a, "sources");
	ck_assert_int_eq(json_array_size(as), 2);
	ck_assert_str_eq(sget(json_array_get(as, 0), "source"), "lab");
	ck_assert_str_eq(sget(json_array_get(as, 0), "host"), "lab1");
	ck_assert_str_eq(sget(json_array_get(as, 1), "source"), "contributor:bob");
	ck_assert_str_eq(sget(json_array_get(as, 1), "host"), "bobs-<b>box</b>");

	json_t *b = cell(m, "b seabios/bios-post default");
	ck_assert(json_is_true(json_object_get(b, "disagree")));
	json_t *bs = json_object_get(b, "sources");
	ck_assert_int_eq(json_array_size(bs), 3);
	/* The lab first, its own class and history; then by name. */
	ck_assert_str_eq(sget(b, "source"), "lab");
	ck_assert_str_eq(sget(b, "class"), "pass");
	ck_assert_int_eq(json_array_size(json_object_get(b, "history")), 1);
	ck_assert_str_eq(sget(json_array_get(bs, 1), "source"), "contributor:amy");
	ck_assert_str_eq(sget(json_array_get(bs, 2), "source"), "contributor:bob");
	ck_assert_str_eq(sget(json_array_get(bs, 2), "class"), "unexpected-failure");
	ck_assert(json_is_true(json_object_get(json_array_get(bs, 2), "new")));
	ck_assert_str_eq(sget(json_array_get(bs, 2), "page"),
			 "runs/bob/20261124T000300Z-b-seabios-bios-post-default-0000.html");
	ck_assert_str_eq(sget(json_array_get(bs, 0), "page"),
			 "runs/20261124T000200Z-b-seabios-bios-post-default-0000.html");
	ck_assert(!json_object_get(m, "summary") ||
		  !json_object_get(json_object_get(m, "summary"), "regression"));

	json_t *c = cell(m, "c seabios/bios-post default");
	ck_assert(json_is_true(json_object_get(c, "disagree")));
	ck_assert_str_eq(sget(c, "source"), "contributor:amy");
	json_t *dis = json_object_get(m, "disagreements");
	ck_assert_int_eq(json_array_size(dis), 2);

	char *out = test_path(dir, "out");
	ck_assert_msg(matrix_write(m, out, &err) == 0, "%s", err.msg);
	size_t len;
	char *hp = test_path(out, "matrix.html");
	char *html = (char *)test_read(hp, &len);
	/* The host is the contributor's text: escaped. */
	ck_assert_msg(!strstr(html, "<b>box"), "%s", html);
	ck_assert(strstr(html, "contributor:bob on bobs-&lt;b&gt;box&lt;/b&gt;"));
	ck_assert(strstr(html, "lab on lab1"));
	ck_assert(strstr(html, "contributor:amy on amyhost"));
	ck_assert(strstr(html, "sources disagree"));
	ck_assert(strstr(html, "href=\"runs/bob/20261124T000300Z-b-seabios-bios-post-default-0000.html\""));
	free(html);
	free(hp);
	/* Every source's newest run has its page. */
	char *pp = test_path(out, "runs/bob/20261124T000300Z-b-seabios-bios-post-default-0000.html");
	char *page = (char *)test_read(pp, &len);
	ck_assert(strstr(page, "contributor:bob"));
	ck_assert(!strstr(page, "<b>box"));
	free(page);
	free(pp);
	pp = test_path(out, "runs/20261124T000200Z-b-seabios-bios-post-default-0000.html");
	ck_assert(test_exists(pp));
	free(pp);
	/* A record's file names stay inside its run. */
	pp = test_path(out, "runs/amy/20261124T000100Z-c-seabios-bios-post-default-0000.html");
	page = (char *)test_read(pp, &len);
	ck_assert(!strstr(page, "TOPSECRET"));
	ck_assert(strstr(page, "file://")); /* not served: frames on this machine */
	free(page);
	free(pp);
	/* Served: a contributor's frames next to the page, no file:// link. */
	char *served = test_path(dir, "served");
	ck_assert_msg(matrix_write_served(m, served, 1, &err) == 0, "%s", err.msg);
	pp = test_path(served, "runs/bob/20261124T000300Z-b-seabios-bios-post-default-0000.html");
	page = (char *)test_read(pp, &len);
	ck_assert_msg(strstr(page, "src=\"20261124T000300Z-b-seabios-bios-post-default-0000/post.png\""), "%s", page);
	ck_assert(!strstr(page, "file://"));
	free(page);
	free(pp);
	free(served);
	char *mp = test_path(out, "matrix.md");
	char *md = (char *)test_read(mp, &len);
	ck_assert_msg(strstr(md, "(contributor:amy on amyhost) **disagree**"), "%s", md);
	ck_assert_msg(strstr(md, "(lab on lab1, contributor:bob on "), "%s", md);
	free(md);
	free(mp);
	free(out);
	json_decref(m);
	free(store);
	free(db);
	free(amy);
	free(bob);
	free(lab);
}
END_TEST

/* The results server's matrix (share/republish.h): each build a whole
 * generation behind the STORE/matrix link, the one before removed; a
 * build after an upload has it. */
START_TEST(republish)
{
	struct hil_err err;
	char *store = test_path(dir, "store"), *amy = xasprintf("%s/store/runs/amy", dir);
	char *lab = xasprintf("%s/runs", dir);
	run_in(lab, "lab1", "a", "default", 1, "pass", "pass");
	const char *results[] = { dir };
	struct republish r;
	republish_init(&r, store, results, 1, NULL, 0);
	ck_assert_msg(republish_now(&r, &err) == 0, "%s", err.msg);
	char *link = test_path(store, "matrix"), *html = test_path(store, "matrix/matrix.html");
	char first[256];
	ssize_t n = readlink(link, first, sizeof first - 1);
	ck_assert(n > 0);
	first[n] = '\0';
	ck_assert_msg(!strncmp(first, "matrix.d/", 9), "%s", first);
	size_t len;
	char *text = (char *)test_read(html, &len);
	ck_assert(strstr(text, "lab on lab1") && !strstr(text, "contributor:amy"));
	free(text);
	run_in(amy, "amyhost", "a", "default", 2, "fail:text", "pass");
	ck_assert_msg(republish_now(&r, &err) == 0, "%s", err.msg);
	text = (char *)test_read(html, &len);
	ck_assert(strstr(text, "contributor:amy on amyhost") && strstr(text, "sources disagree"));
	free(text);
	char *old = xasprintf("%s/%s", store, first);
	ck_assert_msg(!test_exists(old), "%s is left", old);
	free(old);
	char *page = test_path(store, "matrix/runs/amy/20261124T000200Z-a-seabios-bios-post-default-0000.html");
	ck_assert(test_exists(page));
	free(page);
	free(html);
	free(link);
	free(lab);
	free(amy);
	free(store);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("matrix");
	TCase *tc = tcase_create("matrix");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, classes);
	tcase_add_test(tc, reported);
	tcase_add_test(tc, grid_by_stage);
	tcase_add_test(tc, provenance);
	tcase_add_test(tc, republish);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
