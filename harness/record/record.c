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
	const char *schema = json_string_value(json_object_get(rec, "schema"));
	if (!schema || strcmp(schema, RECORD_SCHEMA)) {
		hil_seterr(err, "%s: expected schema '%s', got '%s'", path, RECORD_SCHEMA,
			   schema ? schema : "(none)");
		json_decref(rec);
		return NULL;
	}
	static const char *const required[] = { "run_id", "card", "firmware", "guest", "variant",
						"accel", "verdict", "stages", "artifacts" };
	for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
		if (!json_object_get(rec, required[i])) {
			hil_seterr(err, "%s: missing '%s'", path, required[i]);
			json_decref(rec);
			return NULL;
		}
	}
	return rec;
}
