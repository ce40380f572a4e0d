/* journal: see journal.h. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confine.h"

unsigned long long journal_pid_start(long pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char buf[1024];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Field 22 (starttime), counted after the command's closing ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned long long start = 0;
	int field = 2;
	for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " "))
		if (++field == 22) {
			start = strtoull(tok, NULL, 10);
			break;
		}
	return start;
}

int journal_open(struct journal *j, const char *out_dir, struct hil_err *err)
{
	memset(j, 0, sizeof *j);
	j->fd = -1;
	if (mkdir_p(out_dir, err) < 0)
		return -1;
	/* What a run writes in OUT, each beneath it (confine.h): a link
	 * placed there that leads out stops the run before anything is
	 * written through it. */
	static const char *const written[] = { "runs", "locks", "accel-cache.json",
						"accel-cache.json.lock", "cell-times.json", NULL };
	for (size_t i = 0; written[i]; i++) {
		int fd = confine_open(out_dir, written[i], O_PATH, 0, err);
		if (fd < 0 && errno != ENOENT)
			return -1;
		if (fd >= 0)
			close(fd);
	}
	j->path = xasprintf("%s/%s", out_dir, JOURNAL_FILE);
	j->fd = confine_open(out_dir, JOURNAL_FILE, O_WRONLY | O_APPEND | O_CREAT, 0644, err);
	if (j->fd < 0) {
		char *why = xstrdup(err->msg);
		hil_seterr(err, "the journal: %s", why);
		free(why);
		free(j->path);
		j->path = NULL;
		return -1;
	}
	fsync_dir(out_dir);
	host_boot_id(j->boot_id, sizeof j->boot_id);
	j->pid = (long)getpid();
	j->pid_start = journal_pid_start(j->pid);
	return 0;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	free(j->path);
	j->path = NULL;
}

int journal_append(struct journal *j, const char *e, json_t *obj, struct hil_err *err)
{
	if (j->fd < 0) {
		hil_seterr(err, "journal not open");
		return -1;
	}
	char when[32];
	utc_iso8601(when);
	json_t *line = json_pack("{s:s, s:s, s:I, s:I, s:s}", "e", e, "t", when, "pid",
				 (json_int_t)j->pid, "pid_start", (json_int_t)j->pid_start,
				 "boot_id", j->boot_id);
	if (obj)
		json_object_update_missing(line, obj);
	char *text = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(line);
	struct strbuf sb = STRBUF_INIT;
	sb_adds(&sb, text);
	sb_adds(&sb, "\n");
	free(text);
	/* One write: concurrent hilruns append whole lines. */
	ssize_t n = write(j->fd, sb.buf, sb.len);
	int rc = 0;
	if (n < 0 || (size_t)n != sb.len) {
		hil_seterr(err, "cannot append to the journal %s: %s", j->path,
			   n < 0 ? strerror(errno) : "short write");
		rc = -1;
	} else if (fsync(j->fd) < 0) {
		hil_seterr(err, "cannot fsync the journal %s: %s", j->path, strerror(errno));
		rc = -1;
	}
	sb_release(&sb);
	return rc;
}

static json_t *obj_at(json_t *parent, const char *key)
{
	json_t *o = json_object_get(parent, key);
	if (!o) {
		o = json_object();
		json_object_set_new(parent, key, o);
	}
	return o;
}

static void apply(json_t *st, json_t *ev)
{
	const char *e = json_string_value(json_object_get(ev, "e"));
	const char *run_id = json_string_value(json_object_get(ev, "run_id"));
	const char *plan = json_string_value(json_object_get(ev, "plan"));
	json_t *runs = obj_at(st, "runs"), *plans = obj_at(st, "plans");
	if (!strcmp(e, "plan") && plan) {
		json_t *p = obj_at(plans, plan);
		json_object_set(p, "plan", ev);
		obj_at(p, "finished");
		if (!json_object_get(p, "done"))
			json_object_set_new(p, "done", json_false());
		json_array_append_new(json_object_get(st, "order"), json_string(plan));
	} else if (!strcmp(e, "start") && run_id) {
		json_t *r = obj_at(runs, run_id);
		json_object_set(r, "start", ev);
		obj_at(r, "stages");
		if (!json_object_get(r, "finish"))
			json_object_set_new(r, "finish", json_null());
	} else if (!strcmp(e, "stage") && run_id) {
		const char *stage = json_string_value(json_object_get(ev, "stage"));
		const char *outcome = json_string_value(json_object_get(ev, "outcome"));
		if (stage && outcome)
			json_object_set_new(obj_at(obj_at(runs, run_id), "stages"), stage,
					    json_string(outcome));
	} else if (!strcmp(e, "finish") && run_id) {
		json_object_set(obj_at(runs, run_id), "finish", ev);
		const char *cell = json_string_value(json_object_get(ev, "cell"));
		if (plan && cell)
			json_object_set_new(obj_at(obj_at(plans, plan), "finished"), cell,
					    json_string(run_id));
	} else if (!strcmp(e, "plan-done") && plan) {
		json_object_set_new(obj_at(plans, plan), "done", json_true());
	}
}

json_t *journal_read(const char *path, void (*warn)(void *ctx, const char *msg), void *ctx,
		     struct hil_err *err)
{
	json_t *st = json_pack("{s:{}, s:{}, s:[], s:i}", "runs", "plans", "order", "bad_lines", 0);
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return st;
		hil_seterr(err, "cannot read the journal %s: %s", path, strerror(errno));
		json_decref(st);
		return NULL;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int no = 0, bad = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		no++;
		int complete = len > 0 && line[len - 1] == '\n';
		json_error_t jerr;
		json_t *ev = complete && len <= JOURNAL_LINE_MAX
				     ? json_loadb(line, (size_t)len, 0, &jerr) : NULL;
		const char *e = json_string_value(json_object_get(ev, "e"));
		if (!json_is_object(ev) || !e) {
			bad++;
			if (warn) {
				char *msg = xasprintf("%s:%d: %s; line skipped", path, no,
						      !complete ? "cut short (no newline: written when "
								  "something went down?)"
						      : len > JOURNAL_LINE_MAX ? "longer than a journal line may be"
						      : "not a journal entry");
				warn(ctx, msg);
				free(msg);
			}
			json_decref(ev);
			continue;
		}
		apply(st, ev);
		json_decref(ev);
	}
	free(line);
	fclose(f);
	json_object_set_new(st, "bad_lines", json_integer(bad));
	return st;
}

int journal_writer_alive(json_t *entry, const char *boot_id)
{
	const char *b = json_string_value(json_object_get(entry, "boot_id"));
	if (!b || strcmp(b, boot_id))
		return 0;
	long pid = (long)json_integer_value(json_object_get(entry, "pid"));
	unsigned long long start =
		(unsigned long long)json_integer_value(json_object_get(entry, "pid_start"));
	return pid > 0 && journal_pid_start(pid) == start && start != 0;
}
