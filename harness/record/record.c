/* record: see record.h. */
#include "record.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "confine.h"

const char *const stage_names[ST_COUNT] = { "start", "post", "text", "graphics", "driver",
					     "shutdown" };

int stage_set_parse(const char *names, stage_set *out, struct hil_err *err)
{
	*out = 0;
	for (const char *p = names; *p;) {
		size_t n = strcspn(p, " ");
		int found = -1;
		for (int s = 0; s < ST_COUNT && found < 0; s++)
			if (strlen(stage_names[s]) == n && !strncmp(stage_names[s], p, n))
				found = s;
		if (found < 0) {
			hil_seterr(err, "'%.*s' is not a stage (start, post, text, graphics, driver, shutdown)",
				   (int)n, p);
			return -1;
		}
		*out |= STAGE_BIT(found);
		p += n;
		p += strspn(p, " ");
	}
	return 0;
}

void record_verdict(const struct stage_result st[ST_COUNT], stage_set set, char *out, size_t n)
{
	for (int s = 0; s < ST_COUNT; s++) {
		if (!(set & STAGE_BIT(s)))
			continue;
		const char *o = st[s].outcome;
		if (o && (!strcmp(o, "fail") || !strcmp(o, "error"))) {
			if (st[s].verdict[0])
				snprintf(out, n, "%s", st[s].verdict);
			else
				snprintf(out, n, "%s:%s", o, stage_names[s]);
			return;
		}
	}
	snprintf(out, n, "pass");
}

const char *record_furthest_stage(const struct stage_result st[ST_COUNT], stage_set set)
{
	const char *name = "none";
	for (int s = 0; s < ST_COUNT; s++) {
		if (!(set & STAGE_BIT(s)))
			continue;
		if (!st[s].outcome || strcmp(st[s].outcome, "pass"))
			break;
		name = stage_names[s];
	}
	return name;
}

json_t *record_card(const struct card *card)
{
	char pci[PCI_ID_MAX];
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", card->id, "name", card->name, "kind",
			 card_kind_name(card->kind), "pci_id", pci_id(card->vendor, card->device, pci),
			 "file", card->path);
}

static json_t *stages_json(const struct stage_result *st, stage_set set, int64_t t_start)
{
	json_t *arr = json_array();
	for (int s = 0; s < ST_COUNT; s++) {
		if (!(set & STAGE_BIT(s)))
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(stage_names[s]));
		const char *outcome = st[s].outcome ? st[s].outcome : "skip";
		json_object_set_new(o, "outcome", json_string(outcome));
		/* A stage that failed or erred says how, as the run's verdict
		 * would if it were the first ("fail:driver-probe(-38)"). */
		if (!strcmp(outcome, "fail") || !strcmp(outcome, "error"))
			json_object_set_new(o, "verdict", st[s].verdict[0]
								  ? json_string(st[s].verdict)
								  : json_sprintf("%s:%s", outcome, stage_names[s]));
		json_object_set_new(o, "started_ms",
				    st[s].t0 ? json_integer(st[s].t0 - t_start) : json_null());
		json_object_set_new(o, "duration_ms", st[s].t0 && st[s].t1
								? json_integer(st[s].t1 - st[s].t0)
								: json_null());
		if (st[s].info)
			json_object_update(o, st[s].info);
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *record_build(const struct record_facts *f)
{
	char verdict[128];
	if (f->verdict)
		snprintf(verdict, sizeof verdict, "%s", f->verdict);
	else
		record_verdict(f->stages, f->stage_set, verdict, sizeof verdict);
	const char *expected = f->expected ? f->expected : "pass";
	json_t *rec = json_object();
	json_object_set_new(rec, "schema", json_string(RECORD_SCHEMA));
	json_object_set_new(rec, "run_id", json_string(f->run_id));
	json_object_set(rec, "card", f->card ? f->card : json_null());
	json_object_set_new(rec, "firmware", string_or_null(f->firmware));
	json_object_set_new(rec, "guest", string_or_null(f->guest));
	json_object_set_new(rec, "variant", string_or_null(f->variant));
	json_object_set_new(rec, "station", string_or_null(f->station));
	json_object_set_new(rec, "accel", string_or_null(f->accel));
	json_object_set_new(rec, "accel_reason", string_or_null(f->accel_reason));
	json_object_set_new(rec, "host", record_host_facts());
	json_object_set_new(rec, "started_at", string_or_null(f->started_at));
	json_object_set_new(rec, "finished_at", string_or_null(f->finished_at));
	json_object_set_new(rec, "duration_ms",
			    f->duration_ms >= 0 ? json_integer(f->duration_ms) : json_null());
	json_object_set_new(rec, "stages", stages_json(f->stages, f->stage_set, f->t_start));
	json_object_set_new(rec, "verdict", json_string(verdict));
	json_object_set_new(rec, "furthest_stage",
			    json_string(record_furthest_stage(f->stages, f->stage_set)));
	json_object_set_new(rec, "expected", json_string(expected));
	json_object_set_new(rec, "as_expected", json_boolean(!strcmp(verdict, expected)));
	return rec;
}

json_t *record_host_facts(void)
{
	char host[256] = "", boot_id[64];
	struct utsname u;
	gethostname(host, sizeof host - 1);
	uname(&u);
	host_boot_id(boot_id, sizeof boot_id);
	return json_pack("{s:s, s:s, s:s, s:s}", "hostname", host, "kernel", u.release,
			 "machine", u.machine, "boot_id", boot_id);
}

char *record_new_run_id(const char *card, const char *firmware, const char *guest,
			const char *variant)
{
	char stamp[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	unsigned short r = 0;
	if (getrandom(&r, sizeof r, 0) != sizeof r)
		r = (unsigned short)(getpid() ^ now_ms());
	return xasprintf("%s-%s-%s-%s-%s-%04x", stamp, card, firmware, guest, variant, r);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int record_commit(json_t *rec, const char *tmp_dir, const char *final_dir, struct hil_err *err)
{
	DIR *d = opendir(tmp_dir);
	if (!d) {
		hil_seterr(err, "cannot open run directory %s: %s", tmp_dir, strerror(errno));
		return -1;
	}
	struct argv names = ARGV_INIT;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && strcmp(e->d_name, RECORD_FILE))
			argv_push(&names, e->d_name);
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof *names.v, cmp_str);
	json_t *arts = json_array();
	for (size_t i = 0; i < names.n; i++) {
		char *path = xasprintf("%s/%s", tmp_dir, names.v[i]);
		char sum[65];
		struct stat st;
		int bad = 0;
		if (stat(path, &st) < 0) {
			hil_seterr(err, "cannot stat %s: %s", path, strerror(errno));
			bad = 1;
		} else if (sha256_file(path, sum, err) < 0) {
			bad = 1;
		}
		if (bad) {
			free(path);
			json_decref(arts);
			argv_release(&names);
			return -1;
		}
		json_array_append_new(arts, json_pack("{s:s, s:I, s:s}", "path", names.v[i],
						      "bytes", (json_int_t)st.st_size, "sha256", sum));
		free(path);
	}
	argv_release(&names);
	json_object_set_new(rec, "artifacts", arts);

	char *text = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
	struct strbuf sb = STRBUF_INIT;
	sb_adds(&sb, text);
	sb_adds(&sb, "\n");
	free(text);
	char *path = xasprintf("%s/%s", tmp_dir, RECORD_FILE);
	int rc = write_file_atomic(path, sb.buf, sb.len, err);
	free(path);
	sb_release(&sb);
	if (rc < 0)
		return -1;
	if (rename(tmp_dir, final_dir) < 0) {
		hil_seterr(err, "cannot rename %s to %s: %s", tmp_dir, final_dir, strerror(errno));
		return -1;
	}
	char *parent = xstrdup(final_dir);
	char *slash = strrchr(parent, '/');
	if (slash) {
		*slash = '\0';
		fsync_dir(*parent ? parent : "/");
	}
	free(parent);
	return 0;
}

int record_commit_or_shed(json_t *rec, const char *tmp_dir, const char *final_dir,
			  struct hil_err *err)
{
	if (record_commit(rec, tmp_dir, final_dir, err) == 0)
		return 0;
	if (!strstr(err->msg, strerror(ENOSPC)))
		return -1;
	json_t *dropped = json_array();
	const char *measured = json_string_value(json_object_get(rec, "verdict"));
	json_object_set_new(rec, "verdict_before_disk_full", json_string(measured ? measured : ""));
	json_object_set_new(rec, "verdict", json_string("error:disk-full"));
	json_object_set_new(rec, "as_expected", json_false());
	json_object_set_new(rec, "disk_full", json_pack("{s:s, s:o}", "error", err->msg,
							"dropped_artifacts", dropped));
	for (;;) {
		/* The largest artifact left (never serial.log: the guest's own words). */
		char *victim = NULL;
		off_t size = -1;
		DIR *d = opendir(tmp_dir);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.' || !strcmp(e->d_name, "serial.log") ||
			    !strcmp(e->d_name, RECORD_FILE))
				continue;
			char *p = xasprintf("%s/%s", tmp_dir, e->d_name);
			struct stat st;
			if (stat(p, &st) == 0 && st.st_size > size) {
				size = st.st_size;
				free(victim);
				victim = xstrdup(e->d_name);
			}
			free(p);
		}
		if (d)
			closedir(d);
		if (!victim)
			break;
		char *p = xasprintf("%s/%s", tmp_dir, victim);
		unlink(p);
		free(p);
		json_array_append_new(dropped, json_pack("{s:s, s:I}", "path", victim, "bytes",
							 (json_int_t)size));
		free(victim);
		if (record_commit(rec, tmp_dir, final_dir, err) == 0)
			return 0;
	}
	return record_commit(rec, tmp_dir, final_dir, err);
}

const char *const record_required[] = { "run_id", "card",  "firmware", "guest",     "variant",
					 "accel",  "verdict", "stages", "artifacts", NULL };

int record_schema_known(const char *schema)
{
	const size_t n = strlen(RECORD_SCHEMA_MAJOR);
	if (!schema || strncmp(schema, RECORD_SCHEMA_MAJOR, n))
		return 0;
	if (!schema[n])
		return 1;
	if (schema[n] != '.' || !schema[n + 1])
		return 0;
	for (const char *p = schema + n + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

/* rec checked as record_load() says (path names it); NULL if not, rec
 * freed. */
static json_t *record_check(json_t *rec, const char *path, struct hil_err *err)
{
	const char *schema = json_string_value(json_object_get(rec, "schema"));
	if (!record_schema_known(schema)) {
		hil_seterr(err, "%s: expected schema '%s', got '%s'", path, RECORD_SCHEMA_MAJOR,
			   schema ? schema : "(none)");
		json_decref(rec);
		return NULL;
	}
	for (size_t i = 0; record_required[i]; i++) {
		if (!json_object_get(rec, record_required[i])) {
			hil_seterr(err, "%s: missing '%s'", path, record_required[i]);
			json_decref(rec);
			return NULL;
		}
	}
	/* The matrix names the run's page after it (OUT/runs/RUN_ID.html):
	 * one plain file name, never a path out of OUT/runs/. */
	const char *id = json_string_value(json_object_get(rec, "run_id"));
	if (!id || !*id || *id == '.' || strchr(id, '/')) {
		hil_seterr(err, "%s: expected a run_id that names one file (not empty, no '/', "
				"not starting with '.')", path);
		json_decref(rec);
		return NULL;
	}
	return rec;
}

json_t *record_load(const char *path, struct hil_err *err)
{
	json_error_t jerr;
	json_t *rec = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!rec) {
		if (jerr.line < 0) /* jansson's mark for "could not open the file" */
			hil_seterr(err, "cannot open %s: %s", path, strerror(errno));
		else
			hil_seterr(err, "%s:%d: %s", path, jerr.line, jerr.text);
		return NULL;
	}
	return record_check(rec, path, err);
}

json_t *record_load_in(const char *root, const char *rel, struct hil_err *err)
{
	size_t len;
	char *text = confine_read(root, rel, RECORD_MAX, &len, err);
	if (!text)
		return NULL;
	char *path = xasprintf("%s/%s", root, rel);
	json_error_t jerr;
	json_t *rec = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!rec)
		hil_seterr(err, "%s:%d: %s", path, jerr.line, jerr.text);
	else
		rec = record_check(rec, path, err);
	free(path);
	return rec;
}
