/* bundle: the upload bundle, a signed tar of one run (bundle.h). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle.h"

const struct bundle_limits bundle_limits_default = { BUNDLE_MAX_ENTRIES, BUNDLE_MAX_FILE,
						     BUNDLE_MAX_TOTAL, BUNDLE_NAME_MAX };

void bundle_init(struct bundle *b)
{
	memset(b, 0, sizeof *b);
}

void bundle_release(struct bundle *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].name);
		free(b->v[i].data);
	}
	free(b->v);
	bundle_init(b);
}

/* Take ownership of name and data (data holds len bytes and a NUL). */
static void bundle_take(struct bundle *b, char *name, unsigned char *data, size_t len)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 16;
		b->v = xrealloc(b->v, b->cap * sizeof *b->v);
	}
	b->v[b->n++] = (struct bundle_file){ name, data, len };
}

void bundle_add(struct bundle *b, const char *name, const void *data, size_t len)
{
	unsigned char *copy = xmalloc(len + 1);
	memcpy(copy, data, len);
	copy[len] = 0;
	bundle_take(b, xstrdup(name), copy, len);
}

const struct bundle_file *bundle_get(const struct bundle *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->v[i].name, name))
			return &b->v[i];
	return NULL;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct bundle_file *)a)->name, ((const struct bundle_file *)b)->name);
}

const char *bundle_name_problem(const char *name, size_t max_name, const char **code)
{
	size_t n = strlen(name);
	if (n == 0)
		return *code = "name-empty", "an empty name";
	if (n > max_name)
		return *code = "name-too-long", "a name longer than a bundle allows";
	if (name[0] == '/')
		return *code = "name-absolute", "an absolute path";
	if (!strcmp(name, "..") || !strncmp(name, "../", 3) || strstr(name, "/../") ||
	    (n >= 3 && !strcmp(name + n - 3, "/..")))
		return *code = "name-traversal", "a path that climbs out with '..'";
	if (strchr(name, '/'))
		return *code = "name-slash", "a path with '/': a bundle holds flat file names only";
	if (name[0] == '.')
		return *code = "name-bad-char", "a name starting with '.'";
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") != n)
		return *code = "name-bad-char", "a name with a character outside [A-Za-z0-9._+-]";
	return NULL;
}

int bundle_name_check(const char *name, size_t max_name, struct findings *f)
{
	const char *code, *why = bundle_name_problem(name, max_name, &code);
	if (!why)
		return 0;
	if (!strcmp(code, "name-too-long")) /* never quoted whole */
		findings_add(f, FINDING_ERROR, code, NULL, "a name of %zu bytes (at most %zu): %.40s...",
			     strlen(name), max_name, name);
	else
		findings_add(f, FINDING_ERROR, code, *name ? name : NULL, "%s", why);
	return -1;
}

/* A finding for an entry that is not a regular file; 0 if it is one. */
static int entry_type_check(struct archive_entry *e, const char *name, struct findings *f)
{
	const char *target;
	if ((target = archive_entry_hardlink(e))) {
		findings_add(f, FINDING_ERROR, "entry-link", name, "a hard link (to %.80s)", target);
		return -1;
	}
	switch (archive_entry_filetype(e)) {
	case AE_IFREG:
		return 0;
	case AE_IFLNK:
		target = archive_entry_symlink(e);
		findings_add(f, FINDING_ERROR, "entry-link", name, "a symbolic link (to %.80s)",
			     target ? target : "?");
		return -1;
	case AE_IFCHR:
	case AE_IFBLK:
		findings_add(f, FINDING_ERROR, "entry-device", name, "a device file");
		return -1;
	case AE_IFIFO:
		findings_add(f, FINDING_ERROR, "entry-fifo", name, "a FIFO");
		return -1;
	case AE_IFDIR:
		findings_add(f, FINDING_ERROR, "entry-not-file", name, "a directory");
		return -1;
	default:
		findings_add(f, FINDING_ERROR, "entry-not-file", name,
			     "not a regular file (type 0%o)", (unsigned)archive_entry_filetype(e));
		return -1;
	}
}

/* Size rules for one file of size bytes; total is the running sum. */
static int size_check(const char *name, int64_t size, const struct bundle_limits *lim,
		      size_t *total, int *total_said, struct findings *f)
{
	if (size < 0 || (uint64_t)size > lim->max_file) {
		findings_add(f, FINDING_ERROR, "file-too-big", name,
			     "%lld bytes, more than the %zu a bundle allows for one file", (long long)size,
			     lim->max_file);
		return -1;
	}
	*total += (size_t)size;
	if (*total > lim->max_total) {
		if (!*total_said)
			findings_add(f, FINDING_ERROR, "bundle-too-big", NULL,
				     "the files add up to more than the %zu bytes a bundle allows",
				     lim->max_total);
		*total_said = 1;
		return -1;
	}
	return 0;
}

/* Names seen so far (kept or not), for duplicates. */
static int seen_before(struct argv *seen, const char *name)
{
	for (size_t i = 0; i < seen->n; i++)
		if (!strcmp(seen->v[i], name))
			return 1;
	argv_push(seen, name);
	return 0;
}

size_t bundle_read(const void *data, size_t len, const struct bundle_limits *lim,
		   struct bundle *b, struct findings *f)
{
	if (!lim)
		lim = &bundle_limits_default;
	size_t errors0 = findings_errors(f), total = 0, nentries = 0;
	int total_said = 0;
	struct argv seen = ARGV_INIT;
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	struct archive_entry *e;
	int r = archive_read_open_memory(a, data, len);
	while (r == ARCHIVE_OK) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_WARN)
			r = ARCHIVE_OK;
		if (r != ARCHIVE_OK)
			break;
		if (++nentries > lim->max_entries) {
			findings_add(f, FINDING_ERROR, "too-many-entries", NULL,
				     "more than %zu entries (the rest were not read)", lim->max_entries);
			break;
		}
		const char *path = archive_entry_pathname(e);
		char *name = xstrdup(path ? path : "");
		/* tar spells a directory "dir/": judge its name without the '/' */
		size_t nlen = strlen(name);
		if (archive_entry_filetype(e) == AE_IFDIR && nlen > 1 && name[nlen - 1] == '/')
			name[nlen - 1] = '\0';
		int bad = bundle_name_check(name, lim->max_name, f) < 0;
		if (!bad && seen_before(&seen, name)) {
			findings_add(f, FINDING_ERROR, "name-duplicate", name,
				     "a second entry with this name");
			bad = 1;
		}
		bad |= entry_type_check(e, strlen(name) <= lim->max_name ? name : NULL, f) < 0;
		int64_t size = archive_entry_size(e);
		/* A bad entry's data is skipped by the next header read. */
		if (bad || size_check(name, size, lim, &total, &total_said, f) < 0) {
			free(name);
			continue;
		}
		unsigned char *buf = xmalloc((size_t)size + 1);
		size_t got = 0;
		la_ssize_t n;
		while (got < (size_t)size &&
		       (n = archive_read_data(a, buf + got, (size_t)size - got)) > 0)
			got += (size_t)n;
		if (got != (size_t)size) {
			free(buf);
			free(name);
			r = ARCHIVE_FATAL;
			break;
		}
		buf[size] = 0;
		bundle_take(b, name, buf, (size_t)size);
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
		const char *why = archive_error_string(a);
		findings_add(f, FINDING_ERROR, "bundle-damaged", NULL, "not a whole tar archive: %s",
			     why ? why : "truncated");
	}
	archive_read_free(a);
	argv_release(&seen);
	return findings_errors(f) - errors0;
}

size_t bundle_from_dir(const char *run_dir, const struct bundle_limits *lim, struct bundle *b,
		       struct findings *f)
{
	if (!lim)
		lim = &bundle_limits_default;
	size_t errors0 = findings_errors(f), total = 0, nentries = 0;
	int total_said = 0;
	DIR *d = opendir(run_dir);
	if (!d) {
		findings_add(f, FINDING_ERROR, "run-dir", NULL, "cannot open %s: %s", run_dir,
			     strerror(errno));
		return 1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (name[0] == '.')
			continue;
		/* The bundle adds manifest.json and manifest.sig. */
		if (++nentries + 2 > lim->max_entries) {
			findings_add(f, FINDING_ERROR, "too-many-entries", NULL,
				     "%s holds more than the %zu files a bundle allows beside its manifest and signature",
				     run_dir, lim->max_entries - 2);
			break;
		}
		if (bundle_name_check(name, lim->max_name, f) < 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			findings_add(f, FINDING_ERROR, "run-dir", name, "cannot stat: %s", strerror(errno));
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			findings_add(f, FINDING_ERROR, "entry-link", name,
				     "a symbolic link: a run directory holds its own files");
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			findings_add(f, FINDING_ERROR, "entry-not-file", name, "not a regular file");
			continue;
		}
		if (size_check(name, st.st_size, lim, &total, &total_said, f) < 0)
			continue;
		char *path = xasprintf("%s/%s", run_dir, name);
		size_t len;
		struct hil_err err;
		char *data = read_file(path, lim->max_file, &len, &err);
		free(path);
		if (!data) {
			findings_add(f, FINDING_ERROR, "run-dir", name, "%s", err.msg);
			continue;
		}
		bundle_take(b, xstrdup(name), (unsigned char *)data, len);
	}
	closedir(d);
	if (b->n > 1)
		qsort(b->v, b->n, sizeof *b->v, cmp_file);
	if (!bundle_get(b, BUNDLE_RECORD))
		findings_add(f, FINDING_ERROR, "record-missing", NULL, "%s has no %s", run_dir,
			     BUNDLE_RECORD);
	return findings_errors(f) - errors0;
}

static int signed_part(const char *name)
{
	return strcmp(name, BUNDLE_MANIFEST) && strcmp(name, BUNDLE_SIGNATURE);
}

static json_t *file_digest(const struct bundle_file *file, const char *name_key)
{
	char sum[65];
	sha256_mem(file->data, file->len, sum);
	json_t *o = json_pack("{s:I, s:s}", "bytes", (json_int_t)file->len, "sha256", sum);
	if (name_key)
		json_object_set_new(o, name_key, json_string(file->name));
	return o;
}

char *bundle_manifest(const struct bundle *b, const char *contributor, const char *run_id)
{
	struct bundle_file *sorted = xmalloc((b->n ? b->n : 1) * sizeof *sorted);
	size_t n = 0;
	for (size_t i = 0; i < b->n; i++)
		if (signed_part(b->v[i].name))
			sorted[n++] = b->v[i];
	if (n > 1)
		qsort(sorted, n, sizeof *sorted, cmp_file);
	json_t *arts = json_array(), *record = json_null();
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(sorted[i].name, BUNDLE_RECORD)) {
			json_decref(record);
			record = file_digest(&sorted[i], NULL);
		} else {
			json_array_append_new(arts, file_digest(&sorted[i], "name"));
		}
	}
	free(sorted);
	json_t *m = json_pack("{s:s, s:s, s:s, s:o, s:o}", "format", BUNDLE_FORMAT, "contributor",
			      contributor, "run_id", run_id, "run_json", record, "artifacts", arts);
	char *text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	return text;
}

static la_ssize_t tar_to_strbuf(struct archive *a, void *ctx, const void *buf, size_t n)
{
	(void)a;
	sb_add(ctx, buf, n);
	return (la_ssize_t)n;
}

int bundle_write_tar(const struct bundle *files, struct strbuf *out, struct hil_err *err)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	int rc = -1;
	if (archive_write_open(a, out, NULL, tar_to_strbuf, NULL) != ARCHIVE_OK)
		goto out;
	for (size_t i = 0; i < files->n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, files->v[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)files->v[i].len);
		archive_entry_set_mtime(e, 0, 0);
		int ok = archive_write_header(a, e) == ARCHIVE_OK &&
			 archive_write_data(a, files->v[i].data, files->v[i].len) ==
				 (la_ssize_t)files->v[i].len;
		archive_entry_free(e);
		if (!ok)
			goto out;
	}
	if (archive_write_close(a) == ARCHIVE_OK)
		rc = 0;
out:
	if (rc < 0)
		hil_seterr(err, "cannot write the bundle: %s",
			   archive_error_string(a) ? archive_error_string(a) : "libarchive failed");
	archive_write_free(a);
	return rc;
}

void bundle_sign(const struct key_secret *sk, const void *manifest, size_t len,
		 char out[BUNDLE_SIG_TEXT])
{
	_Static_assert(BUNDLE_SIG_TEXT ==
			       sodium_base64_ENCODED_LEN(KEY_SIG_BYTES, sodium_base64_VARIANT_ORIGINAL) + 1,
		       "BUNDLE_SIG_TEXT: base64 of a signature, a newline and a NUL");
	unsigned char sig[KEY_SIG_BYTES];
	key_sign(sk, manifest, len, sig);
	sodium_bin2base64(out, BUNDLE_SIG_TEXT - 1, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	strcat(out, "\n");
}

int bundle_pack(const struct bundle *b, const struct key_secret *sk, struct strbuf *out,
		struct hil_err *err)
{
	const struct bundle_file *rec = bundle_get(b, BUNDLE_RECORD);
	if (!rec) {
		hil_seterr(err, "no %s to bundle", BUNDLE_RECORD);
		return -1;
	}
	json_t *j = json_loadb((const char *)rec->data, rec->len, 0, NULL);
	const char *run_id = json_string_value(json_object_get(j, "run_id"));
	if (!run_id) {
		hil_seterr(err, "%s: no run_id", BUNDLE_RECORD);
		json_decref(j);
		return -1;
	}
	char *manifest = bundle_manifest(b, sk->id, run_id);
	json_decref(j);
	char sig64[BUNDLE_SIG_TEXT];
	bundle_sign(sk, manifest, strlen(manifest), sig64);

	/* manifest.json, manifest.sig, run.json, then the artifacts by name:
	 * the parts borrowed, not copied. */
	struct bundle order;
	bundle_init(&order);
	order.cap = b->n + 2;
	order.v = xmalloc(order.cap * sizeof *order.v);
	order.v[order.n++] = (struct bundle_file){ BUNDLE_MANIFEST, (unsigned char *)manifest,
						   strlen(manifest) };
	order.v[order.n++] = (struct bundle_file){ BUNDLE_SIGNATURE, (unsigned char *)sig64,
						   strlen(sig64) };
	order.v[order.n++] = *rec;
	size_t first = order.n;
	for (size_t i = 0; i < b->n; i++)
		if (signed_part(b->v[i].name) && &b->v[i] != rec)
			order.v[order.n++] = b->v[i];
	qsort(order.v + first, order.n - first, sizeof *order.v, cmp_file);
	int rc = bundle_write_tar(&order, out, err);
	free(order.v);
	free(manifest);
	return rc;
}
