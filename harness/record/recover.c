/* recover: see recover.h. */
#include "recover.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "record.h"
#include "run.h"

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
	json_t *arr = json_array();
	char verdict[128] = "";
	const char *furthest = "none";
	int stopped = 0;
	for (int s = 0; s < RUN_STAGE_COUNT; s++) {
		const char *name = run_stage_names[s];
		const char *o = json_string_value(json_object_get(stages, name));
		json_t *st = json_pack("{s:s, s:n, s:n, s:[]}", "name", name, "started_ms",
				       "duration_ms", "notes");
		if (o) {
			json_object_set_new(st, "outcome", json_string(o));
			json_object_set_new(st, "detail",
					    json_string("decided before the run was cut short "
							"(from the journal)"));
			if (!verdict[0] && strcmp(o, "pass") && strcmp(o, "skip"))
				snprintf(verdict, sizeof verdict, "%s:%s", o, name);
			if (!strcmp(o, "pass") && !stopped && !verdict[0])
				furthest = name;
		} else if (!stopped) {
			stopped = 1;
			json_object_set_new(st, "outcome", json_string(host_down ? "fail" : "error"));
			json_object_set_new(st, "detail", json_string(why));
			if (!verdict[0])
				snprintf(verdict, sizeof verdict, "%s",
					 host_down ? "fail:host-hang" : "error:harness-died");
		} else {
			json_object_set_new(st, "outcome", json_string("skip"));
			json_object_set_new(st, "detail",
					    json_string("not reached: the run was cut short"));
		}
		json_array_append_new(arr, st);
	}
	if (!verdict[0]) /* every stage passed; the record itself was not written */
		snprintf(verdict, sizeof verdict, "%s",
			 host_down ? "fail:host-hang" : "error:harness-died");

	const char *expected = json_string_value(json_object_get(start, "expected")) ?: "pass";
	char when[32];
	utc_iso8601(when);
	json_t *rec = json_object();
	json_object_set_new(rec, "schema", json_string(RECORD_SCHEMA));
	json_object_set_new(rec, "run_id", json_string(run_id));
	json_object_set(rec, "card", json_object_get(start, "card") ?: json_null());
	static const char *const copied[] = { "firmware", "guest", "variant", "accel",
					      "accel_reason", "station" };
	for (size_t i = 0; i < sizeof copied / sizeof *copied; i++)
		json_object_set(rec, copied[i], json_object_get(start, copied[i]) ?: json_null());
	json_object_set_new(rec, "host", record_host_facts());
	json_object_set(rec, "started_at", json_object_get(start, "t"));
	json_object_set_new(rec, "finished_at", json_null());
	json_object_set_new(rec, "duration_ms", json_null());
	json_object_set_new(rec, "stages", arr);
	json_object_set_new(rec, "verdict", json_string(verdict));
	json_object_set_new(rec, "furthest_stage", json_string(furthest));
	json_object_set_new(rec, "expected", json_string(expected));
	json_object_set_new(rec, "as_expected", json_boolean(!strcmp(verdict, expected)));
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
	if (rc == 0 && record_commit(rec, tmp_dir, final_dir, err) < 0)
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
