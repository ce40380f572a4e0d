/* store: accepted runs on disk, written whole or not at all (store.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confine.h"
#include "store.h"

/* Largest run.json store_list reads (the bundle's per-file cap). */
#define STORE_RECORD_MAX BUNDLE_MAX_FILE

static int is_entry(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* The names in dir (no dot files), sorted; -1 if dir cannot be read. */
static int names_in(const char *dir, struct dirent ***out)
{
	return scandir(dir, out, is_entry, alphasort);
}

static void names_free(struct dirent **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static struct store_usage *usage_slot(struct store *s, const char *contributor)
{
	for (size_t i = 0; i < s->nuse; i++)
		if (!strcmp(s->use[i].contributor, contributor))
			return &s->use[i];
	if (s->nuse == s->capuse) {
		s->capuse = s->capuse ? 2 * s->capuse : 16;
		s->use = xrealloc(s->use, s->capuse * sizeof *s->use);
	}
	s->use[s->nuse] = (struct store_usage){ xstrdup(contributor), 0 };
	return &s->use[s->nuse++];
}

/* The sizes of the regular files directly in dir. */
static uint64_t dir_bytes(const char *dir)
{
	uint64_t sum = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
	return sum;
}

/* fn(ctx, DIR/runs/C/R, C, R) for each stored run, sorted by C then R. */
static void for_each_run(struct store *s,
			 void (*fn)(void *ctx, const char *rdir, const char *contributor,
				    const char *run_id),
			 void *ctx)
{
	char *runs = xasprintf("%s/runs", s->dir);
	struct dirent **who;
	int nwho = names_in(runs, &who);
	for (int i = 0; i < nwho; i++) {
		char *cdir = xasprintf("%s/%s", runs, who[i]->d_name);
		struct dirent **rv;
		int nr = names_in(cdir, &rv);
		for (int j = 0; j < nr; j++) {
			char *rdir = xasprintf("%s/%s", cdir, rv[j]->d_name);
			fn(ctx, rdir, who[i]->d_name, rv[j]->d_name);
			free(rdir);
		}
		if (nr >= 0)
			names_free(rv, nr);
		free(cdir);
	}
	if (nwho >= 0)
		names_free(who, nwho);
	free(runs);
}

static void count_run(void *ctx, const char *rdir, const char *contributor, const char *run_id)
{
	(void)run_id;
	struct store *s = ctx;
	usage_slot(s, contributor)->bytes += dir_bytes(rdir);
}

int store_open(struct store *s, const char *dir, uint64_t max_contributor_bytes, size_t *removed,
	       struct hil_err *err)
{
	memset(s, 0, sizeof *s);
	s->dir = xstrdup(dir);
	s->max_contributor_bytes = max_contributor_bytes;
	pthread_mutex_init(&s->lock, NULL);
	char *runs = xasprintf("%s/runs", dir), *tmp = xasprintf("%s/tmp", dir);
	int rc = -1;
	if (mkdir_p(runs, err) < 0 || mkdir_p(tmp, err) < 0)
		goto out;
	size_t gone = 0;
	struct dirent **v;
	int n = names_in(tmp, &v);
	if (n < 0) {
		hil_seterr(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", tmp, v[i]->d_name);
		remove_tree(p);
		free(p);
		gone++;
	}
	names_free(v, n);
	fsync_dir(tmp);
	if (removed)
		*removed = gone;

	for_each_run(s, count_run, s);
	rc = 0;
out:
	free(runs);
	free(tmp);
	if (rc < 0)
		store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	for (size_t i = 0; i < s->nuse; i++)
		free(s->use[i].contributor);
	free(s->use);
	free(s->dir);
	if (s->dir || s->use)
		pthread_mutex_destroy(&s->lock);
	memset(s, 0, sizeof *s);
}

char *store_run_dir(const struct store *s, const char *contributor, const char *run_id)
{
	return xasprintf("%s/runs/%s/%s", s->dir, contributor, run_id);
}

uint64_t store_usage(struct store *s, const char *contributor)
{
	pthread_mutex_lock(&s->lock);
	uint64_t n = usage_slot(s, contributor)->bytes;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Write one file of a run: created (never replaced), written, fsync'ed. */
static int put_file(const char *dir, const struct bundle_file *f, struct hil_err *err)
{
	char *path = xasprintf("%s/%s", dir, f->name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int rc = -1;
	if (fd < 0 || write_all(fd, f->data, f->len) < 0 || fsync(fd) < 0)
		hil_seterr(err, "%s: %s", path, strerror(errno));
	else
		rc = 0;
	if (fd >= 0 && close(fd) < 0 && rc == 0) {
		hil_seterr(err, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(path);
	return rc;
}

/* What is stored at final against manifest m: EXISTS, CONFLICT, or
 * CREATED when nothing is there. */
static enum store_result compare_stored(const char *final, const struct bundle_file *m)
{
	struct stat st;
	if (lstat(final, &st) < 0 && errno == ENOENT)
		return STORE_CREATED;
	char *path = xasprintf("%s/%s", final, BUNDLE_MANIFEST);
	size_t len = 0;
	struct hil_err ignored;
	char *have = read_file(path, BUNDLE_MAX_FILE, &len, &ignored);
	enum store_result r =
		have && m && len == m->len && !memcmp(have, m->data, len) ? STORE_EXISTS : STORE_CONFLICT;
	free(have);
	free(path);
	return r;
}

static uint64_t bundle_bytes(const struct bundle *b)
{
	uint64_t n = 0;
	for (size_t i = 0; i < b->n; i++)
		n += b->v[i].len;
	return n;
}

enum store_result store_put(struct store *s, const char *contributor, const char *run_id,
			    const struct bundle *b, struct hil_err *err)
{
	char *final = store_run_dir(s, contributor, run_id);
	char *cdir = xasprintf("%s/runs/%s", s->dir, contributor);
	char *runs = xasprintf("%s/runs", s->dir);
	char *tmp = xasprintf("%s/tmp/put-XXXXXX", s->dir);
	int made_tmp = 0;
	uint64_t bytes = bundle_bytes(b);
	pthread_mutex_lock(&s->lock);
	enum store_result r = compare_stored(final, bundle_get(b, BUNDLE_MANIFEST));
	struct store_usage *u = usage_slot(s, contributor);
	if (r != STORE_CREATED)
		goto out;
	if (u->bytes + bytes > s->max_contributor_bytes) {
		hil_seterr(err, "contributor %s stores %llu bytes; %llu more would pass the cap of %llu",
			   contributor, (unsigned long long)u->bytes, (unsigned long long)bytes,
			   (unsigned long long)s->max_contributor_bytes);
		r = STORE_QUOTA;
		goto out;
	}
	r = STORE_FAILED;
	if (!mkdtemp(tmp)) {
		hil_seterr(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	made_tmp = 1;
	for (size_t i = 0; i < b->n; i++)
		if (put_file(tmp, &b->v[i], err) < 0)
			goto out;
	if (fsync_dir(tmp) < 0) {
		hil_seterr(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	struct stat st;
	int new_cdir = lstat(cdir, &st) < 0;
	if (new_cdir && mkdir(cdir, 0755) < 0 && errno != EEXIST) {
		hil_seterr(err, "%s: %s", cdir, strerror(errno));
		goto out;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) < 0) {
		hil_seterr(err, "rename %s to %s: %s", tmp, final, strerror(errno));
		if (new_cdir)
			rmdir(cdir);
		goto out;
	}
	made_tmp = 0;
	fsync_dir(cdir);
	if (new_cdir)
		fsync_dir(runs);
	u->bytes += bytes;
	r = STORE_CREATED;
out:
	if (made_tmp)
		remove_tree(tmp);
	pthread_mutex_unlock(&s->lock);
	free(tmp);
	free(runs);
	free(cdir);
	free(final);
	return r;
}

static json_t *list_entry(const struct store *s, const char *contributor, const char *run_id);

struct list_ctx {
	const struct store *s;
	json_t *all;
	const char *card;
};

static void list_run(void *ctx, const char *rdir, const char *contributor, const char *run_id)
{
	struct list_ctx *l = ctx;
	(void)rdir;
	json_t *o = list_entry(l->s, contributor, run_id);
	const char *c = json_string_value(json_object_get(o, "card"));
	if (!l->card || (c && !strcmp(c, l->card)))
		json_array_append(l->all, o);
	json_decref(o);
}

/* One run of the list, from its run.json. */
static json_t *list_entry(const struct store *s, const char *contributor, const char *run_id)
{
	char *path = xasprintf("runs/%s/%s/%s", contributor, run_id, BUNDLE_RECORD);
	size_t len;
	struct hil_err ignored;
	char *text = confine_read(s->dir, path, STORE_RECORD_MAX, &len, &ignored);
	json_t *rec = text ? json_loadb(text, len, 0, NULL) : NULL;
	json_t *card = json_object_get(json_object_get(rec, "card"), "id");
	json_t *verdict = json_object_get(rec, "verdict");
	json_t *host = json_object_get(json_object_get(rec, "host"), "hostname");
	char *url = xasprintf("/runs/%s/%s", contributor, run_id);
	json_t *o = json_pack("{s:s, s:s, s:O?, s:O?, s:O?, s:s}", "contributor", contributor,
			      "run_id", run_id, "card", json_is_string(card) ? card : NULL, "verdict",
			      json_is_string(verdict) ? verdict : NULL, "host",
			      json_is_string(host) ? host : NULL, "url", url);
	free(url);
	json_decref(rec);
	free(text);
	free(path);
	return o;
}

json_t *store_list(struct store *s, const char *card)
{
	struct list_ctx ctx = { s, json_array(), card };
	for_each_run(s, list_run, &ctx);
	return ctx.all;
}
