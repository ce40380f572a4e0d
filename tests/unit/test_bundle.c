/* test_bundle: the upload bundle with real libarchive and real files: a
 * real run directory (tests/fixtures/runs) packed, signed and read back
 * byte for byte, the same bytes each time; hostile tars written with
 * libarchive directly (path traversal, absolute and nested names, links,
 * devices, FIFOs, directories, duplicates), each entry's error reported
 * and the good entries kept; the named limits; damaged tars; run
 * directories that cannot be bundled. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bundle.h"
#include "testutil.h"

static char *dir;
static struct key_secret sk;

static void setup(void)
{
	struct hil_err err;
	struct key_public pub;
	char *kpath;
	dir = test_tmpdir();
	char *kdir = test_path(dir, "keys");
	ck_assert_msg(key_new(kdir, "alice", &pub, &kpath, NULL, &err) == 0, "%s", err.msg);
	ck_assert_msg(key_secret_load(kpath, &sk, &err) == 0, "%s", err.msg);
	free(kdir), free(kpath);
}

static void teardown(void)
{
	key_secret_release(&sk);
	test_rmdir(dir);
	free(dir);
}

static char *fixture_run(void)
{
	return xasprintf("%s/runs/std-vga-bios-post", test_fixtures_dir());
}

/* The error codes of f, space-separated, in order. */
static char *codes(const struct findings *f)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < f->n; i++)
		sb_addf(&sb, "%s%s", i ? " " : "", f->v[i].code);
	return sb_detach(&sb);
}

START_TEST(run_dir_round_trip)
{
	char *run = fixture_run();
	struct bundle b, back;
	struct findings f;
	struct hil_err err;
	bundle_init(&b), bundle_init(&back), findings_init(&f);
	ck_assert_uint_eq(bundle_from_dir(run, NULL, &b, &f), 0);
	ck_assert_uint_eq(f.n, 0);
	ck_assert_uint_eq(b.n, 11); /* run.json and ten artifacts */

	struct strbuf tar = STRBUF_INIT, again = STRBUF_INIT;
	ck_assert_msg(bundle_pack(&b, &sk, &tar, &err) == 0, "%s", err.msg);
	ck_assert_msg(bundle_pack(&b, &sk, &again, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(tar.len, again.len); /* the same run packs to the same bytes */
	ck_assert(!memcmp(tar.buf, again.buf, tar.len));

	ck_assert_uint_eq(bundle_read(tar.buf, tar.len, NULL, &back, &f), 0);
	ck_assert_uint_eq(back.n, 13);
	ck_assert_str_eq(back.v[0].name, BUNDLE_MANIFEST);
	ck_assert_str_eq(back.v[1].name, BUNDLE_SIGNATURE);
	ck_assert_str_eq(back.v[2].name, BUNDLE_RECORD);
	for (size_t i = 3; i + 1 < back.n; i++)
		ck_assert_int_lt(strcmp(back.v[i].name, back.v[i + 1].name), 0);
	for (size_t i = 0; i < b.n; i++) {
		const struct bundle_file *x = bundle_get(&back, b.v[i].name);
		ck_assert_ptr_nonnull(x);
		ck_assert_uint_eq(x->len, b.v[i].len);
		ck_assert(!memcmp(x->data, b.v[i].data, x->len));
	}

	/* The manifest: canonical, and its digests are the files' own. */
	const struct bundle_file *man = bundle_get(&back, BUNDLE_MANIFEST);
	ck_assert(!memcmp(man->data, "{\"artifacts\":[{\"bytes\":", 23));
	json_t *m = json_loadb((const char *)man->data, man->len, 0, NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(json_string_value(json_object_get(m, "format")), BUNDLE_FORMAT);
	ck_assert_str_eq(json_string_value(json_object_get(m, "contributor")), "alice");
	ck_assert_str_eq(json_string_value(json_object_get(m, "run_id")),
			 "20261204T173310Z-std-vga-seabios-bios-post-default-2b0a");
	char *path = test_path(run, "run.json"), sum[65];
	ck_assert(sha256_file(path, sum, &err) == 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "run_json"), "sha256")), sum);
	json_t *arts = json_object_get(m, "artifacts");
	ck_assert_uint_eq(json_array_size(arts), 10);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arts, 0), "name")),
			 "calibration.png");
	free(path);
	path = test_path(run, "calibration.png");
	ck_assert(sha256_file(path, sum, &err) == 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arts, 0), "sha256")), sum);
	/* The signature is over exactly those bytes. */
	const struct bundle_file *sig = bundle_get(&back, BUNDLE_SIGNATURE);
	ck_assert_uint_eq(sig->len, 89);
	ck_assert_int_eq(sig->data[88], '\n');
	unsigned char bin[64];
	size_t got;
	ck_assert_int_eq(sodium_base642bin(bin, sizeof bin, (const char *)sig->data, 88, NULL, &got,
					   NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	struct key_public pub;
	key_secret_public(&sk, &pub);
	ck_assert(key_verify(&pub, man->data, man->len, bin));

	json_decref(m);
	free(path), free(run);
	sb_release(&tar), sb_release(&again);
	bundle_release(&b), bundle_release(&back), findings_release(&f);
}
END_TEST

/* A hostile tar, written entry by entry with libarchive. */
struct tarw {
	struct archive *a;
	struct strbuf sb;
};

static la_ssize_t tarw_cb(struct archive *a, void *ctx, const void *buf, size_t n)
{
	(void)a;
	sb_add(ctx, buf, n);
	return (la_ssize_t)n;
}

static void tarw_open(struct tarw *t)
{
	sb_init(&t->sb);
	t->a = archive_write_new();
	ck_assert_int_eq(archive_write_set_format_pax_restricted(t->a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open(t->a, &t->sb, NULL, tarw_cb, NULL), ARCHIVE_OK);
}

/* type AE_IFREG with data; AE_IFLNK with link as the target; hardlink
 * when link is given with type 0. */
static void tarw_add(struct tarw *t, const char *name, unsigned type, const char *data,
		     const char *link)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_perm(e, 0644);
	if (type == 0) {
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_hardlink(e, link);
	} else {
		archive_entry_set_filetype(e, type);
	}
	if (type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	if (type == AE_IFCHR)
		archive_entry_set_rdev(e, makedev(1, 3));
	size_t len = data ? strlen(data) : 0;
	archive_entry_set_size(e, (la_int64_t)len);
	/* a name not in the locale's charset is written as its bytes, with a warning */
	ck_assert_int_ge(archive_write_header(t->a, e), ARCHIVE_WARN);
	if (len)
		ck_assert_int_eq(archive_write_data(t->a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
}

static void tarw_close(struct tarw *t)
{
	ck_assert_int_eq(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
}

START_TEST(hostile_entries_all_reported)
{
	struct tarw t;
	tarw_open(&t);
	tarw_add(&t, "ok.txt", AE_IFREG, "fine", NULL);
	tarw_add(&t, "../x", AE_IFREG, "climb", NULL);
	tarw_add(&t, "/etc/passwd", AE_IFREG, "root", NULL);
	tarw_add(&t, "a/b", AE_IFREG, "nested", NULL);
	tarw_add(&t, "sub/../../y", AE_IFREG, "climb", NULL);
	tarw_add(&t, ".hidden", AE_IFREG, "h", NULL);
	tarw_add(&t, "link", AE_IFLNK, NULL, "/etc/passwd");
	tarw_add(&t, "hard", 0, NULL, "ok.txt");
	tarw_add(&t, "null", AE_IFCHR, NULL, NULL);
	tarw_add(&t, "disk", AE_IFBLK, NULL, NULL);
	tarw_add(&t, "pipe", AE_IFIFO, NULL, NULL);
	tarw_add(&t, "dir", AE_IFDIR, NULL, NULL);
	tarw_add(&t, "dup.txt", AE_IFREG, "first", NULL);
	tarw_add(&t, "dup.txt", AE_IFREG, "second", NULL);
	tarw_add(&t, "last.txt", AE_IFREG, "end", NULL);
	tarw_close(&t);

	struct bundle b;
	struct findings f;
	bundle_init(&b), findings_init(&f);
	ck_assert_uint_eq(bundle_read(t.sb.buf, t.sb.len, NULL, &b, &f), 12); /* one per bad entry */
	char *c = codes(&f);
	ck_assert_str_eq(c, "name-traversal name-absolute name-slash name-traversal name-bad-char "
			    "entry-link entry-link entry-device entry-device entry-fifo "
			    "entry-not-file name-duplicate");
	ck_assert_uint_eq(f.n, 12);
	ck_assert_uint_eq(findings_errors(&f), 12);
	ck_assert_str_eq(f.v[0].file, "../x");
	ck_assert_str_eq(f.v[1].file, "/etc/passwd");
	ck_assert_str_eq(f.v[2].file, "a/b");
	ck_assert_str_eq(f.v[5].file, "link");
	ck_assert_msg(strstr(f.v[5].message, "symbolic link (to /etc/passwd)"), "%s", f.v[5].message);
	ck_assert_msg(strstr(f.v[6].message, "hard link (to ok.txt)"), "%s", f.v[6].message);
	ck_assert_str_eq(f.v[11].file, "dup.txt");
	/* What is kept: the good entries, the first dup.txt. */
	ck_assert_uint_eq(b.n, 3);
	ck_assert_str_eq(b.v[0].name, "ok.txt");
	ck_assert_str_eq((const char *)bundle_get(&b, "dup.txt")->data, "first");
	ck_assert_str_eq((const char *)bundle_get(&b, "last.txt")->data, "end");
	ck_assert_ptr_null(bundle_get(&b, "../x"));
	free(c);
	sb_release(&t.sb);
	bundle_release(&b), findings_release(&f);
}
END_TEST

/* A name's bytes need not be UTF-8, and a message may quote a name cut
 * short inside a character: the findings are kept as UTF-8 ('?' for what
 * is not), so that the server's JSON answer holds each of them, file and
 * all (fuzz_bundle found a name-bad-char finding that lost its file). */
START_TEST(findings_of_names_not_utf8)
{
	char target[100];
	memset(target, 'a', 79);
	strcpy(target + 79, "\xc3\xa9"); /* e-acute, its first byte the 80th: cut by %.80s */
	struct tarw t;
	tarw_open(&t);
	tarw_add(&t, "caf\xe9.txt", AE_IFREG, "latin-1", NULL);
	tarw_add(&t, "s", AE_IFLNK, NULL, target);
	tarw_close(&t);
	struct bundle b;
	struct findings f;
	bundle_init(&b), findings_init(&f);
	ck_assert_uint_eq(bundle_read(t.sb.buf, t.sb.len, NULL, &b, &f), 2);
	char *c = codes(&f);
	ck_assert_str_eq(c, "name-bad-char entry-link");
	ck_assert_str_eq(f.v[0].file, "caf?.txt");
	ck_assert_ptr_nonnull(strstr(f.v[1].message, "aaaa?)"));
	json_t *j = findings_json(&f), *e;
	size_t i;
	ck_assert_uint_eq(json_array_size(json_object_get(j, "errors")), 2);
	json_array_foreach (json_object_get(j, "errors"), i, e)
		ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "file")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "errors"), 0), "file")),
			 "caf?.txt");
	json_decref(j);
	free(c);
	sb_release(&t.sb);
	bundle_release(&b), findings_release(&f);
}
END_TEST

START_TEST(limits)
{
	struct bundle_limits lim = { .max_entries = 4, .max_file = 10, .max_total = 25, .max_name = 8 };
	struct tarw t;
	tarw_open(&t);
	tarw_add(&t, "a", AE_IFREG, "0123456789", NULL);    /* 10: at the limit */
	tarw_add(&t, "b", AE_IFREG, "0123456789x", NULL);   /* 11: over */
	tarw_add(&t, "c", AE_IFREG, "0123456789", NULL);    /* total 20 */
	tarw_add(&t, "d", AE_IFREG, "0123456789", NULL);    /* total 30: over */
	tarw_add(&t, "e", AE_IFREG, "1", NULL);             /* entry 5: over */
	tarw_close(&t);
	struct bundle b;
	struct findings f;
	bundle_init(&b), findings_init(&f);
	ck_assert_uint_eq(bundle_read(t.sb.buf, t.sb.len, &lim, &b, &f), 3);
	char *c = codes(&f);
	ck_assert_str_eq(c, "file-too-big bundle-too-big too-many-entries");
	ck_assert_str_eq(f.v[0].file, "b");
	ck_assert_ptr_nonnull(strstr(f.v[0].message, "11 bytes"));
	ck_assert_uint_eq(b.n, 2);
	free(c);
	sb_release(&t.sb);
	bundle_release(&b), findings_release(&f);

	/* A long name is refused and never quoted whole. */
	tarw_open(&t);
	tarw_add(&t, "name-of-nine-plus", AE_IFREG, "x", NULL);
	tarw_close(&t);
	bundle_init(&b), findings_init(&f);
	ck_assert_uint_eq(bundle_read(t.sb.buf, t.sb.len, &lim, &b, &f), 1);
	ck_assert_str_eq(f.v[0].code, "name-too-long");
	ck_assert_ptr_null(f.v[0].file);
	sb_release(&t.sb);
	bundle_release(&b), findings_release(&f);

	/* The defaults are the named maximums. */
	ck_assert_uint_eq(bundle_limits_default.max_file, BUNDLE_MAX_FILE);
	ck_assert_uint_eq(bundle_limits_default.max_total, BUNDLE_MAX_TOTAL);
	ck_assert_uint_eq(bundle_limits_default.max_entries, BUNDLE_MAX_ENTRIES);
	ck_assert_uint_eq(bundle_limits_default.max_name, BUNDLE_NAME_MAX);
}
END_TEST

START_TEST(damaged)
{
	struct bundle src, b;
	struct findings f;
	struct hil_err err;
	bundle_init(&src);
	char big[3000];
	memset(big, 'x', sizeof big);
	bundle_add(&src, "big.txt", big, sizeof big);
	struct strbuf tar = STRBUF_INIT;
	ck_assert(bundle_write_tar(&src, &tar, &err) == 0);
	/* Cut inside the file's data. */
	bundle_init(&b), findings_init(&f);
	ck_assert_uint_eq(bundle_read(tar.buf, 512 + 1000, NULL, &b, &f), 1);
	ck_assert_str_eq(f.v[0].code, "bundle-damaged");
	ck_assert_uint_eq(b.n, 0);
	bundle_release(&b), findings_release(&f);
	/* Not a tar at all. */
	bundle_init(&b), findings_init(&f);
	ck_assert_uint_eq(bundle_read("{\"json\": true}", 14, NULL, &b, &f), 1);
	ck_assert_str_eq(f.v[0].code, "bundle-damaged");
	bundle_release(&b), findings_release(&f);
	/* Nothing at all: no files, nothing kept (the validator then says
	 * what is missing). */
	bundle_init(&b), findings_init(&f);
	bundle_read("", 0, NULL, &b, &f);
	ck_assert_uint_eq(b.n, 0);
	bundle_release(&b), findings_release(&f);
	sb_release(&tar);
	bundle_release(&src);
}
END_TEST

START_TEST(run_dir_that_cannot_be_bundled)
{
	char *run = test_path(dir, "run");
	char *sub = test_path(run, "sub");
	ck_assert_int_eq(mkdir(run, 0755), 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	test_write_str(run, "serial.log", "hello\n");
	test_write_str(run, ".tmp-leftover", "skipped like the record writer skips it");
	char *link = test_path(run, "passwd");
	ck_assert_int_eq(symlink("/etc/passwd", link), 0);
	struct bundle b;
	struct findings f;
	bundle_init(&b), findings_init(&f);
	ck_assert_uint_eq(bundle_from_dir(run, NULL, &b, &f), 3);
	ck_assert_ptr_nonnull(findings_find(&f, "entry-link"));
	ck_assert_str_eq(findings_find(&f, "entry-link")->file, "passwd");
	ck_assert_str_eq(findings_find(&f, "entry-not-file")->file, "sub");
	ck_assert_ptr_nonnull(findings_find(&f, "record-missing"));
	ck_assert_uint_eq(b.n, 1);
	ck_assert_str_eq(b.v[0].name, "serial.log");
	bundle_release(&b), findings_release(&f);

	/* Room for the manifest and its signature is kept. */
	struct bundle_limits lim = bundle_limits_default;
	lim.max_entries = 4;
	char *two = test_path(dir, "two");
	ck_assert_int_eq(mkdir(two, 0755), 0);
	test_write_str(two, "run.json", "{}");
	test_write_str(two, "serial.log", "hello\n");
	bundle_init(&b), findings_init(&f);
	ck_assert_uint_eq(bundle_from_dir(two, &lim, &b, &f), 0);
	bundle_release(&b), findings_release(&f);
	test_write_str(two, "qemu.log", "three\n");
	bundle_init(&b), findings_init(&f);
	ck_assert_uint_ge(bundle_from_dir(two, &lim, &b, &f), 1);
	ck_assert_ptr_nonnull(findings_find(&f, "too-many-entries"));
	bundle_release(&b), findings_release(&f);

	bundle_init(&b), findings_init(&f);
	char *none = test_path(dir, "none");
	ck_assert_uint_eq(bundle_from_dir(none, NULL, &b, &f), 1);
	ck_assert_str_eq(f.v[0].code, "run-dir");
	bundle_release(&b), findings_release(&f);
	free(run), free(sub), free(link), free(none), free(two);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bundle");
	TCase *tc = tcase_create("bundle");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, run_dir_round_trip);
	tcase_add_test(tc, hostile_entries_all_reported);
	tcase_add_test(tc, findings_of_names_not_utf8);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, damaged);
	tcase_add_test(tc, run_dir_that_cannot_be_bundled);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
