/* recover: see recover.h. */
#include "recover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record.h"

static int recover_one(struct journal *j, const char *out_dir, const char *run_id, json_t *run,
		       void (*seen)(void *ctx, const struct recovered *r), void *ctx,
		       struct hil_err *err)
{
	json_t *start = json_object_get(run, "start"), *stages = json_object_get(run, "stages");
	const char *then = json_string_value(json_object_get(start, "boot_id")) ?: "unknown";
	const int host_down = strcmp(then, j->boot_id) != 0;
	const char *tmp = json_string_value(json_object_get(start, "tmp_dir"));
	char *tmp_dir = tmp ? xstrdup(tmp) : xasprintf("%s/runs/.tmp-%s", out_dir, run_id);
	char *final_dir = xasprintf("%s/runs/%s", out_dir, run_id);
	char *why = host_down
		? xasprintf("the host went down during the run: it started under boot id %s, the "
			    "host now runs boot id %s",
			    then, j->boot_id)
		: xasprintf("hilrun (pid %lld) died during the run, on this boot of the host "
			    "(%s)",
			    (long long)json_integer_value(json_object_get(start, "pid")), then);

	/* Stages: as the journal kept them, the first undecided one is where
	 * it stopped, later ones never ran. */
	struct stage_result st[ST_COUNT] = { { 0 } };
	stage_set proven = STAGES_FIRMWARE_GUEST;
	const char *names = json_string_value(json_object_get(start, "stages"));
	struct hil_err perr;
	if (names && stage_set_parse(names, &proven, &perr) < 0)
		proven = STAGES_FIRMWARE_GUEST;
	int stopped = 0;
	for (int s = 0; s < ST_COUNT; s++) {
		if (!(proven & STAGE_BIT(s)))
			continue;
		const char *o = json_string_value(json_object_get(stages, stage_names[s]));
		const char *detail = o ? "decided before the run was cut short (from the journal)"
				     : !stopped ? why
						: "not reached: the run was cut short";
		if (o && !strcmp(o, "undecided")) {
			/* Released to a later screen (the card's own font) that the
			 * run never reached: not proven either way. */
			o = "skip";
			detail = "left undecided, its frame read in another font than the card's, for "
				 "calibration to decide; the run was cut short first";
		}
		if (!o && !stopped) {
			stopped = 1;
			o = host_down ? "fail" : "error";
			snprintf(st[s].verdict, sizeof st[s].verdict, "%s",
				 host_down ? "fail:host-hang" : "error:harness-died");
		}
		st[s].outcome = o ? o : "skip";
		st[s].info = json_pack("{s:[], s:s}", "notes", "detail", detail);
	}
	char when[32];
	utc_iso8601(when);
	const struct record_facts facts = {
		.run_id = run_id,
		.card = json_object_get(start, "card"),
		.firmware = json_string_value(json_object_get(start, "firmware")),
		.guest = json_string_value(json_object_get(start, "guest")),
		.variant = json_string_value(json_object_get(start, "variant")),
		.station = json_string_value(json_object_get(start, "station")),
		.accel = json_string_value(json_object_get(start, "accel")),
		.accel_reason = json_string_value(json_object_get(start, "accel_reason")),
		.expected = json_string_value(json_object_get(start, "expected")),
		.started_at = json_string_value(json_object_get(start, "t")),
		.duration_ms = -1,
		.stages = st,
		.stage_set = proven,
		/* Every stage passed, but the record itself was not written:
		 * what cut the run short still happened during it. */
		.verdict = stopped ? NULL : host_down ? "fail:host-hang" : "error:harness-died",
	};
	json_t *rec = record_build(&facts);
	for (int s = 0; s < ST_COUNT; s++)
		json_decref(st[s].info);
	char verdict[128];
	snprintf(verdict, sizeof verdict, "%s", json_string_value(json_object_get(rec, "verdict")));
	json_object_set_new(rec, "guest_reports", json_array());
	json_object_set_new(rec, "qemu_argv", json_array());
	json_object_set_new(rec, "recovered",
			    json_pack("{s:s, s:s, s:s, s:s, s:I}", "reason", why, "at", when,
				      "boot_id_at_start", then, "boot_id_now", j->boot_id,
				      "by_pid", (json_int_t)j->pid));
	json_object_set(json_object_get(rec, "recovered"), "sock_dir",
			json_object_get(start, "sock_dir") ?: json_null());

	/* QEMU died with hilrun (parent-death signal); its sockets did not. */
	const char *sock_dir = json_string_value(json_object_get(start, "sock_dir"));
	if (sock_dir && !strncmp(sock_dir, "/tmp/hilrun-", 12))
		remove_tree(sock_dir);

	/* Committed, but the finish line never made it (the journal's disk
	 * was full, or hilrun died between the two): the record stands. */
	char *committed = xasprintf("%s/%s", final_dir, RECORD_FILE);
	json_t *done = json_load_file(committed, 0, NULL);
	free(committed);
	if (done) {
		const char *v = json_string_value(json_object_get(done, "verdict")) ?: "unknown";
		json_t *fin = json_pack("{s:s, s:s, s:s}", "run_id", run_id, "verdict", v, "run_dir",
					final_dir);
		json_object_set(fin, "plan", json_object_get(start, "plan") ?: json_null());
		json_object_set(fin, "cell", json_object_get(start, "cell") ?: json_null());
		int rc = journal_append(j, "finish", fin, err);
		json_decref(fin);
		json_decref(done);
		json_decref(rec);
		free(why);
		free(final_dir);
		free(tmp_dir);
		return rc;
	}

	int rc = 0;
	struct stat sb;
	if (stat(tmp_dir, &sb) < 0 && mkdir_p(tmp_dir, err) < 0)
		rc = -1;
	if (rc == 0 && record_commit_or_shed(rec, tmp_dir, final_dir, err) < 0)
		rc = -1;
	if (rc == 0) {
		json_t *fin = json_pack("{s:s, s:s, s:s, s:b}", "run_id", run_id, "verdict", verdict,
					"run_dir", final_dir, "recovered", 1);
		json_object_set(fin, "plan", json_object_get(start, "plan") ?: json_null());
		json_object_set(fin, "cell", json_object_get(start, "cell") ?: json_null());
		rc = journal_append(j, "finish", fin, err);
		json_decref(fin);
		if (rc == 0 && seen) {
			struct recovered r = { run_id,
					       json_string_value(json_object_get(start, "cell")) ?: "",
					       verdict, final_dir, why };
			seen(ctx, &r);
		}
	}
	json_decref(rec);
	free(why);
	free(final_dir);
	free(tmp_dir);
	return rc;
}

int recover_orphans(struct journal *j, const char *out_dir, json_t *state,
		    void (*seen)(void *ctx, const struct recovered *r), void *ctx,
		    struct hil_err *err)
{
	int n = 0, failed = 0;
	const char *run_id;
	json_t *run;
	json_object_foreach(json_object_get(state, "runs"), run_id, run)
	{
		json_t *start = json_object_get(run, "start");
		if (!start || !json_is_null(json_object_get(run, "finish")))
			continue;
		if (journal_writer_alive(start, j->boot_id))
			continue; /* another hilrun is running it now */
		if (recover_one(j, out_dir, run_id, run, seen, ctx, err) < 0)
			failed = 1;
		else
			n++;
	}
	return failed ? -1 : n;
}

static void say(const struct resume_hooks *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct resume_hooks *h, const char *fmt, ...)
{
	char msg[HIL_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (h->say)
		h->say(h->ctx, msg);
}

static void journal_warning(void *ctx, const char *msg)
{
	say(ctx, "warning: %s", msg);
}

/* One failure among several: said at once, the first kept in err. */
static void failed(const struct resume_hooks *h, struct hil_err *err, int *rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void failed(const struct resume_hooks *h, struct hil_err *err, int *rc, const char *fmt, ...)
{
	char msg[HIL_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	say(h, "%s", msg);
	if (*rc == 0)
		hil_seterr(err, "%s", msg);
	*rc = -1;
}

/* Orphans first, under the journal lock: two hilruns must not record the
 * same orphan. Returns the journal as it reads afterwards, or NULL. */
static json_t *recover_locked(struct journal *j, const char *out_dir,
			      const struct resume_hooks *h, struct hil_err *err, int *rc)
{
	struct hil_err e;
	char *lockdir = xasprintf("%s/locks", out_dir);
	char *lockpath = xasprintf("%s/journal.lock", lockdir);
	int lfd = mkdir_p(lockdir, &e) == 0 ? open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
	if (lfd >= 0)
		flock(lfd, LOCK_EX);
	json_t *st = journal_read(j->path, journal_warning, (void *)h, &e);
	if (!st)
		failed(h, err, rc, "%s", e.msg);
	else if (recover_orphans(j, out_dir, st, h->recovered, h->ctx, &e) < 0)
		failed(h, err, rc, "could not record an interrupted run: %s", e.msg);
	json_decref(st);
	st = journal_read(j->path, NULL, NULL, &e);
	if (!st)
		failed(h, err, rc, "%s", e.msg);
	if (lfd >= 0)
		close(lfd);
	free(lockpath);
	free(lockdir);
	return st;
}

static void plan_done(struct journal *j, json_t *entry)
{
	struct hil_err e;
	journal_append(j, "plan-done", entry, &e);
	json_decref(entry);
}

int recover_and_resume_plans(struct journal *j, const struct resume_hooks *h, int *resumed,
		       struct hil_err *err)
{
	int rc = 0;
	*resumed = 0;
	char *out_dir = xstrdup(j->path);
	*strrchr(out_dir, '/') = '\0';
	json_t *st = recover_locked(j, out_dir, h, err, &rc);
	free(out_dir);
	if (!st)
		return -1;

	size_t i;
	json_t *pid;
	json_array_foreach(json_object_get(st, "order"), i, pid) {
		const char *id = json_string_value(pid);
		json_t *p = json_object_get(json_object_get(st, "plans"), id);
		json_t *plan = json_object_get(p, "plan"), *finished = json_object_get(p, "finished");
		if (json_is_true(json_object_get(p, "done")) || journal_writer_alive(plan, j->boot_id))
			continue;
		size_t left = 0, k;
		json_t *cell;
		json_array_foreach(json_object_get(plan, "cells"), k, cell)
			left += !json_object_get(finished, json_string_value(cell));
		if (!left) {
			plan_done(j, json_pack("{s:s}", "plan", id));
			continue;
		}
		json_t *args = json_object_get(plan, "argv");
		const char *cwd = json_string_value(json_object_get(plan, "cwd"));
		say(h, "resuming plan %s: %zu of %zu cells left (hilrun run in %s)", id, left,
		    json_array_size(json_object_get(plan, "cells")), cwd ? cwd : ".");
		int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cwd && chdir(cwd) < 0) {
			failed(h, err, &rc, "cannot resume plan %s: %s: %s", id, cwd, strerror(errno));
			if (here >= 0)
				close(here);
			continue;
		}
		int argc = (int)json_array_size(args) + 1;
		char **argv = xcalloc((size_t)argc + 1, sizeof *argv);
		argv[0] = xstrdup("hilrun");
		json_t *w;
		json_array_foreach(args, k, w)
			argv[k + 1] = xstrdup(json_string_value(w) ?: "");
		enum resume_result res = h->run_plan(h->ctx, id, finished, argc, argv);
		if (res == RESUME_INVALID) {
			/* Its command line no longer runs (a card file changed or
			 * went away): give the plan up rather than fail on it at
			 * every start from now on. */
			say(h, "plan %s given up: its command line is no longer valid here", id);
			plan_done(j, json_pack("{s:s, s:s}", "plan", id, "abandoned",
					       "its command line no longer runs (configuration error)"));
		}
		(*resumed)++;
		for (int a = 0; a < argc; a++)
			free(argv[a]);
		free(argv);
		if (here >= 0) {
			if (fchdir(here) < 0)
				failed(h, err, &rc, "cannot return to the working directory: %s",
				       strerror(errno));
			close(here);
		}
		if (res == RESUME_INTERRUPTED)
			break;
	}
	json_decref(st);
	return rc;
}
