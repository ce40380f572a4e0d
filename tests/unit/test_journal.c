/* test_journal: the run journal (format, reading past damage, liveness of
 * its writers) and recovery of the runs it shows unfinished: records that
 * are whole, verdicts by boot id, nothing recovered twice. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "record.h"
#include "recover.h"
#include "testutil.h"
#include "util.h"

static char *dir;

static void setup(void)
{
	dir = test_tmpdir();
	setenv("HILRUN_BOOT_ID", "boot-now", 1);
}

static void teardown(void)
{
	unsetenv("HILRUN_BOOT_ID");
	test_rmdir(dir);
	free(dir);
}

static int nwarn;
static char lastwarn[512];
static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	nwarn++;
	snprintf(lastwarn, sizeof lastwarn, "%s", msg);
}

static void append(struct journal *j, const char *e, json_t *obj)
{
	struct hil_err err;
	ck_assert_msg(journal_append(j, e, obj, &err) == 0, "%s", err.msg);
	json_decref(obj);
}

START_TEST(write_and_read)
{
	struct journal j;
	struct hil_err err;
	ck_assert_msg(journal_open(&j, dir, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(j.boot_id, "boot-now");
	append(&j, "plan", json_pack("{s:s, s:[s], s:s, s:[s,s]}", "plan", "P1", "argv", "--card",
				     "cwd", "/", "cells", "c a/b d", "c e/f d"));
	append(&j, "start", json_pack("{s:s, s:s, s:s}", "plan", "P1", "cell", "c a/b d", "run_id", "R1"));
	append(&j, "stage", json_pack("{s:s, s:s, s:s}", "run_id", "R1", "stage", "start", "outcome", "pass"));
	append(&j, "finish", json_pack("{s:s, s:s, s:s, s:s}", "plan", "P1", "cell", "c a/b d",
				       "run_id", "R1", "verdict", "pass"));
	nwarn = 0;
	json_t *st = journal_read(j.path, warn, NULL, &err);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(nwarn, 0);
	json_t *run = json_object_get(json_object_get(st, "runs"), "R1");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(run, "stages"), "start")),
			 "pass");
	ck_assert(json_is_object(json_object_get(run, "finish")));
	json_t *plan = json_object_get(json_object_get(st, "plans"), "P1");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(plan, "finished"), "c a/b d")),
			 "R1");
	ck_assert(json_is_false(json_object_get(plan, "done")));
	/* Our own entries: written by a live process. */
	ck_assert(journal_writer_alive(json_object_get(run, "start"), "boot-now"));
	ck_assert(!journal_writer_alive(json_object_get(run, "start"), "boot-other"));
	json_decref(st);
	append(&j, "plan-done", json_pack("{s:s}", "plan", "P1"));
	st = journal_read(j.path, NULL, NULL, &err);
	ck_assert(json_is_true(json_object_get(json_object_get(json_object_get(st, "plans"), "P1"), "done")));
	json_decref(st);
	journal_close(&j);

	/* No journal yet is an empty one. */
	char *none = test_path(dir, "none.jsonl");
	st = journal_read(none, NULL, NULL, &err);
	ck_assert_int_eq(json_object_size(json_object_get(st, "runs")), 0);
	json_decref(st);
	free(none);
}
END_TEST

/* A line cut short by a crash, or garbage, is skipped with a warning
 * naming the file and line; everything else is still read. */
START_TEST(damaged_lines)
{
	struct journal j;
	struct hil_err err;
	ck_assert(journal_open(&j, dir, &err) == 0);
	append(&j, "start", json_pack("{s:s}", "run_id", "R1"));
	journal_close(&j);
	char *path = test_path(dir, JOURNAL_FILE);
	FILE *f = fopen(path, "a");
	fputs("not json at all\n{\"no_event\":1}\n", f);
	fclose(f);
	ck_assert(journal_open(&j, dir, &err) == 0);
	append(&j, "start", json_pack("{s:s}", "run_id", "R2"));
	journal_close(&j);
	f = fopen(path, "a");
	fputs("{\"e\":\"finish\",\"run_id\":\"R2\"", f); /* no newline: cut short */
	fclose(f);
	nwarn = 0;
	json_t *st = journal_read(path, warn, NULL, &err);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(nwarn, 3);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "bad_lines")), 3);
	char *want = xasprintf("%s:5: cut short (no newline: written when something went down?); line skipped", path);
	ck_assert_str_eq(lastwarn, want);
	free(want);
	json_t *runs = json_object_get(st, "runs");
	ck_assert_int_eq(json_object_size(runs), 2);
	ck_assert(json_is_null(json_object_get(json_object_get(runs, "R2"), "finish")));
	json_decref(st);
	free(path);
}
END_TEST

/* An orphan: a run started by a process that is gone. */
static void orphan(struct journal *j, const char *run_id, const char *boot, int with_tmp)
{
	char *tmp = xasprintf("%s/runs/.tmp-%s", dir, run_id);
	if (with_tmp) {
		struct hil_err err;
		ck_assert(mkdir_p(tmp, &err) == 0);
		test_write_str(tmp, "serial.log", "HILRUN/1 post hold\n");
	}
	/* Written as if by another process: pid 1's start time is not 12345. */
	json_t *start = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
				  "e", "start", "plan", "P", "cell", "c seabios/bios-post default",
				  "run_id", run_id, "card", "id", "c", "firmware", "seabios", "guest",
				  "bios-post", "variant", "default", "accel", "kvm", "tmp_dir", tmp,
				  "pid", (json_int_t)1, "pid_start", (json_int_t)12345, "boot_id", boot);
	char *line = json_dumps(start, JSON_COMPACT);
	FILE *f = fopen(j->path, "a");
	fprintf(f, "%s\n{\"e\":\"stage\",\"run_id\":\"%s\",\"stage\":\"start\",\"outcome\":\"pass\"}\n"
		   "{\"e\":\"stage\",\"run_id\":\"%s\",\"stage\":\"post\",\"outcome\":\"pass\"}\n",
		line, run_id, run_id);
	fclose(f);
	free(line);
	json_decref(start);
	free(tmp);
}

static int nseen;
static void seen(void *ctx, const struct recovered *r)
{
	(void)ctx;
	(void)r;
	nseen++;
}

static json_t *load(const char *run_id)
{
	struct hil_err err;
	char *p = xasprintf("%s/runs/%s/run.json", dir, run_id);
	json_t *rec = record_load(p, &err);
	ck_assert_msg(rec != NULL, "%s", err.msg);
	free(p);
	return rec;
}

START_TEST(recovery)
{
	struct journal j;
	struct hil_err err;
	ck_assert(journal_open(&j, dir, &err) == 0);
	orphan(&j, "R-died", "boot-now", 1);    /* hilrun died on this boot */
	orphan(&j, "R-host", "boot-before", 0); /* the host went down; no tmp dir left */
	json_t *st = journal_read(j.path, NULL, NULL, &err);
	nseen = 0;
	ck_assert_int_eq(recover_orphans(&j, dir, st, seen, NULL, &err), 2);
	ck_assert_int_eq(nseen, 2);
	json_decref(st);

	json_t *rec = load("R-died");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "verdict")), "error:harness-died");
	const char *want[] = { "pass", "pass", "error", "skip", "skip" };
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(json_string_value(json_object_get(
					 json_array_get(json_object_get(rec, "stages"), i), "outcome")),
				 want[i]);
	ck_assert_str_eq(json_string_value(json_object_get(rec, "furthest_stage")), "post");
	/* The serial log it had is part of the record, with its checksum. */
	json_t *arts = json_object_get(rec, "artifacts");
	ck_assert_int_eq(json_array_size(arts), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arts, 0), "path")), "serial.log");
	json_decref(rec);

	rec = load("R-host");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "verdict")), "fail:host-hang");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rec, "recovered"), "boot_id_at_start")),
			 "boot-before");
	json_decref(rec);

	/* Recovered once: the finish lines are there, a second pass finds nothing. */
	st = journal_read(j.path, NULL, NULL, &err);
	ck_assert_int_eq(recover_orphans(&j, dir, st, NULL, NULL, &err), 0);
	json_decref(st);

	/* Committed, but the finish line was lost: the record stands as it is. */
	orphan(&j, "R-done", "boot-now", 1);
	char *tmp = xasprintf("%s/runs/.tmp-R-done", dir), *fin = xasprintf("%s/runs/R-done", dir);
	json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[]}", "schema", RECORD_SCHEMA,
			      "run_id", "R-done", "card", "c", "firmware", "seabios", "guest", "bios-post",
			      "variant", "default", "accel", "kvm", "verdict", "pass", "stages");
	ck_assert(record_commit(r, tmp, fin, &err) == 0);
	json_decref(r);
	st = journal_read(j.path, NULL, NULL, &err);
	ck_assert_int_eq(recover_orphans(&j, dir, st, NULL, NULL, &err), 1);
	json_decref(st);
	rec = load("R-done");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "verdict")), "pass");
	ck_assert_ptr_null(json_object_get(rec, "recovered"));
	json_decref(rec);
	free(tmp);
	free(fin);
	journal_close(&j);
}
END_TEST

/* A run cut short while post and text waited for calibration to decide
 * them (the card's own font): they are not where it stopped, and not
 * proven either way. */
START_TEST(recovery_of_undecided)
{
	struct journal j;
	struct hil_err err;
	ck_assert(journal_open(&j, dir, &err) == 0);
	orphan(&j, "R-undecided", "boot-before", 1);
	FILE *f = fopen(j.path, "a");
	fprintf(f, "{\"e\":\"stage\",\"run_id\":\"R-undecided\",\"stage\":\"post\",\"outcome\":\"undecided\"}\n"
		   "{\"e\":\"stage\",\"run_id\":\"R-undecided\",\"stage\":\"text\",\"outcome\":\"undecided\"}\n");
	fclose(f);
	json_t *st = journal_read(j.path, NULL, NULL, &err);
	ck_assert_int_eq(recover_orphans(&j, dir, st, NULL, NULL, &err), 1);
	json_decref(st);
	json_t *rec = load("R-undecided");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "verdict")), "fail:host-hang");
	const char *want[] = { "pass", "skip", "skip", "fail", "skip" };
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(json_string_value(json_object_get(
					 json_array_get(json_object_get(rec, "stages"), i), "outcome")),
				 want[i]);
	const char *detail = json_string_value(
		json_object_get(json_array_get(json_object_get(rec, "stages"), 1), "detail"));
	ck_assert_msg(strstr(detail, "left undecided"), "%s", detail);
	json_decref(rec);
	journal_close(&j);
}
END_TEST

/* The Windows guest's driver install hangs the host (the founding report's
 * Catalyst on the HD 5450): the run is recovered after the reboot with
 * the driver stage, where it stopped, as fail:host-hang. */
START_TEST(recovery_of_a_windows_driver_install)
{
	struct journal j;
	struct hil_err err;
	ck_assert(journal_open(&j, dir, &err) == 0);
	FILE *f = fopen(j.path, "a");
	fprintf(f, "{\"e\":\"start\",\"plan\":\"P\",\"cell\":\"cedar seabios/windows default\","
		   "\"run_id\":\"R-win\",\"card\":{\"id\":\"cedar\"},\"firmware\":\"seabios\","
		   "\"guest\":\"windows\",\"variant\":\"default\",\"accel\":\"kvm\","
		   "\"stages\":\"start driver shutdown\",\"tmp_dir\":\"%s/runs/.tmp-R-win\","
		   "\"pid\":1,\"pid_start\":12345,\"boot_id\":\"boot-before\"}\n"
		   "{\"e\":\"stage\",\"run_id\":\"R-win\",\"stage\":\"start\",\"outcome\":\"pass\"}\n",
		dir);
	fclose(f);
	json_t *st = journal_read(j.path, NULL, NULL, &err);
	ck_assert_int_eq(recover_orphans(&j, dir, st, NULL, NULL, &err), 1);
	json_decref(st);
	json_t *rec = load("R-win");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "verdict")), "fail:host-hang");
	json_t *stages = json_object_get(rec, "stages");
	ck_assert_int_eq(json_array_size(stages), 3);
	const char *want[][2] = { { "start", "pass" }, { "driver", "fail" }, { "shutdown", "skip" } };
	for (size_t i = 0; i < 3; i++) {
		json_t *s = json_array_get(stages, i);
		ck_assert_str_eq(json_string_value(json_object_get(s, "name")), want[i][0]);
		ck_assert_str_eq(json_string_value(json_object_get(s, "outcome")), want[i][1]);
	}
	json_decref(rec);
	journal_close(&j);
}
END_TEST

/* OUT's journal, or its runs/, a link out of OUT: nothing opened, nothing
 * written there, and the error names it. */
START_TEST(links_out_of_out_refused)
{
	char *out = test_path(dir, "out"), *elsewhere = test_path(dir, "elsewhere");
	struct hil_err err;
	ck_assert(mkdir_p(out, &err) == 0 && mkdir_p(elsewhere, &err) == 0);
	char *journal = test_path(out, JOURNAL_FILE), *target = test_path(elsewhere, "j");
	ck_assert(symlink(target, journal) == 0);
	struct journal j;
	ck_assert_int_lt(journal_open(&j, out, &err), 0);
	ck_assert_msg(strstr(err.msg, "the journal") && strstr(err.msg, JOURNAL_FILE), "%s", err.msg);
	ck_assert(!test_exists(target));
	ck_assert(unlink(journal) == 0);
	char *runs = test_path(out, "runs");
	ck_assert(symlink(elsewhere, runs) == 0);
	ck_assert_int_lt(journal_open(&j, out, &err), 0);
	ck_assert_msg(strstr(err.msg, "runs") && strstr(err.msg, "leads out"), "%s", err.msg);
	ck_assert(!test_exists(journal));
	/* a link that stays inside is fine */
	ck_assert(unlink(runs) == 0);
	char *inside = test_path(out, "runs.real");
	ck_assert(mkdir_p(inside, &err) == 0);
	ck_assert(symlink("runs.real", runs) == 0);
	ck_assert_msg(journal_open(&j, out, &err) == 0, "%s", err.msg);
	journal_close(&j);
	free(inside);
	free(runs);
	free(journal);
	free(target);
	free(out);
	free(elsewhere);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, write_and_read);
	tcase_add_test(tc, damaged_lines);
	tcase_add_test(tc, recovery);
	tcase_add_test(tc, recovery_of_undecided);
	tcase_add_test(tc, recovery_of_a_windows_driver_install);
	tcase_add_test(tc, links_out_of_out_refused);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
