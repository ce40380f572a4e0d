/* test_record: the run record (harness/record/record.c) and the file helpers it
 * stands on: util.c's write_file_atomic and read_file, sha256.c's
 * sha256_file. Run ids, host facts, record_commit (artifacts with their
 * SHA-256 and size, the .tmp- directory renamed into place), record_load and
 * its errors; atomic writes leaving no temporary file; SHA-256 test vectors
 * across the padding and read-buffer boundaries. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "testutil.h"

static char *tmp;

static void tmp_setup(void)
{
	tmp = test_tmpdir();
}

static void tmp_teardown(void)
{
	test_rmdir(tmp);
	free(tmp);
	tmp = NULL;
}

/* n copies of byte c */
static char *repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- sha256_file -------------------------------------------------------- */

static const struct {
	char c;       /* the file is n copies of c, or text if set */
	size_t n;
	const char *text;
	const char *sum;
} vectors[] = {
	{ 0, 0, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ 0, 0, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ 0, 0, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	/* around the one-block padding limit */
	{ 'a', 55, NULL, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
	{ 'a', 56, NULL, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
	{ 'a', 63, NULL, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
	{ 'a', 64, NULL, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
	/* around sha256_file's 64 KiB read buffer */
	{ 'a', 65536, NULL, "bf718b6f653bebc184e1479f1935b8da974d701b893afcf49e701f3e2f9f9c5a" },
	{ 'a', 65537, NULL, "008ffc88d3c96a9f307524eb361e47c5222a887fc45fa0c1fb8d429c5c23b430" },
	/* FIPS 180-2 appendix B.3 */
	{ 'a', 1000000, NULL, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
};

START_TEST(sha256_vectors)
{
	char *data = vectors[_i].text ? xstrdup(vectors[_i].text) : repeat(vectors[_i].c, vectors[_i].n);
	test_write(tmp, "v", data, strlen(data));
	free(data);
	char *path = test_path(tmp, "v");
	char sum[65];
	struct hil_err err;
	memset(sum, 'z', sizeof sum);
	int rc = sha256_file(path, sum, &err);
	free(path);
	ck_assert_msg(rc == 0, "%s", err.msg);
	ck_assert_str_eq(sum, vectors[_i].sum);
}
END_TEST

START_TEST(sha256_binary)
{
	unsigned char bytes[768];
	for (size_t i = 0; i < sizeof bytes; i++)
		bytes[i] = (unsigned char)i;
	test_write(tmp, "bin", bytes, sizeof bytes);
	char *path = test_path(tmp, "bin");
	char sum[65];
	struct hil_err err;
	ck_assert_int_eq(sha256_file(path, sum, &err), 0);
	ck_assert_str_eq(sum, "f3a25aa93aa2fbba28d79260535bbd6a5eb0fc1c24a8b0f04e12b484c1dfe363");
	free(path);
}
END_TEST

START_TEST(sha256_errors)
{
	char *path = test_path(tmp, "none");
	char sum[65];
	struct hil_err err;
	ck_assert_int_eq(sha256_file(path, sum, &err), -1);
	char *want = xasprintf("cannot open %s: No such file or directory", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);

	ck_assert_int_eq(sha256_file(tmp, sum, &err), -1);
	want = xasprintf("cannot read %s: Is a directory", tmp);
	ck_assert_str_eq(err.msg, want);
	free(want);
}
END_TEST

/* ---- write_file_atomic / read_file ------------------------------------ */

START_TEST(atomic_write_and_read)
{
	char *path = test_path(tmp, "out.json");
	struct hil_err err;
	ck_assert_msg(write_file_atomic(path, "{\"a\": 1}\n", 9, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(test_count_entries(tmp), 1);
	size_t len = 0;
	char *text = read_file(path, 1024, &len, &err);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, 9);
	ck_assert_str_eq(text, "{\"a\": 1}\n");
	free(text);

	/* replacing: the new content, still no temporary file */
	ck_assert_int_eq(write_file_atomic(path, "x", 1, &err), 0);
	ck_assert_int_eq(test_count_entries(tmp), 1);
	text = read_file(path, 1024, NULL, &err);
	ck_assert_str_eq(text, "x");
	free(text);

	/* empty file */
	ck_assert_int_eq(write_file_atomic(path, "", 0, &err), 0);
	text = read_file(path, 1024, &len, &err);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(text, "");
	free(text);
	struct stat st;
	mode_t mask = umask(0);
	umask(mask);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644 & ~mask);
	free(path);
}
END_TEST

START_TEST(atomic_write_large_binary)
{
	size_t n = 300000;
	unsigned char *data = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 8));
	char *path = test_path(tmp, "big.bin");
	struct hil_err err;
	ck_assert_int_eq(write_file_atomic(path, data, n, &err), 0);
	size_t len;
	char *back = read_file(path, n, &len, &err);
	ck_assert_msg(back != NULL, "%s", err.msg);
	ck_assert_uint_eq(len, n);
	ck_assert(!memcmp(back, data, n));
	ck_assert_int_eq(back[n], '\0');
	free(back);
	free(data);
	free(path);
}
END_TEST

START_TEST(atomic_write_missing_dir)
{
	char *path = xasprintf("%s/no-such-dir/out.json", tmp);
	struct hil_err err;
	ck_assert_int_eq(write_file_atomic(path, "x", 1, &err), -1);
	char *want = xasprintf("cannot create %s.tmp.%ld: No such file or directory", path, (long)getpid());
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(test_count_entries(tmp), 0);
	free(want);
	free(path);
}
END_TEST

/* rename fails (the target is a directory): the temporary file goes away. */
START_TEST(atomic_write_rename_fails)
{
	char *path = test_path(tmp, "target");
	ck_assert_int_eq(mkdir(path, 0755), 0);
	test_write_str(path, "keep", "k");
	struct hil_err err;
	ck_assert_int_eq(write_file_atomic(path, "x", 1, &err), -1);
	char *want = xasprintf("cannot rename %s.tmp.%ld to %s: Is a directory", path, (long)getpid(), path);
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(test_count_entries(tmp), 1);
	ck_assert_int_eq(test_count_entries(path), 1);
	free(want);
	free(path);
}
END_TEST

START_TEST(read_file_limits)
{
	test_write(tmp, "f", "ab\0cd", 5);
	char *path = test_path(tmp, "f");
	struct hil_err err;
	size_t len = 0;
	char *text = read_file(path, 5, &len, &err);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, 5);
	ck_assert(!memcmp(text, "ab\0cd", 6));
	free(text);

	ck_assert_ptr_null(read_file(path, 4, &len, &err));
	char *want = xasprintf("%s: larger than 4 bytes", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);

	path = test_path(tmp, "none");
	ck_assert_ptr_null(read_file(path, 100, &len, &err));
	want = xasprintf("cannot open %s: No such file or directory", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);

	ck_assert_ptr_null(read_file(tmp, 100, &len, &err));
	want = xasprintf("cannot read %s: Is a directory", tmp);
	ck_assert_str_eq(err.msg, want);
	free(want);
}
END_TEST

/* ---- run ids and host facts -------------------------------------------- */

START_TEST(run_id_shape)
{
	regex_t re;
	ck_assert_int_eq(regcomp(&re, "^([0-9]{8}T[0-9]{6}Z)-std-vga-seabios-bios-post-default-[0-9a-f]{4}$",
				 REG_EXTENDED), 0);
	time_t before = time(NULL);
	char *ids[8];
	for (int i = 0; i < 8; i++)
		ids[i] = record_new_run_id("std-vga", "seabios", "bios-post", "default");
	time_t after = time(NULL);
	int distinct = 0;
	for (int i = 0; i < 8; i++) {
		regmatch_t mt[2];
		int rc = regexec(&re, ids[i], 2, mt, 0);
		ck_assert_msg(rc == 0, "run id '%s' has the wrong shape", ids[i]);
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		ck_assert_ptr_nonnull(strptime(ids[i], "%Y%m%dT%H%M%SZ", &tm));
		time_t t = timegm(&tm);
		ck_assert_msg(t >= before && t <= after, "run id '%s' is not now (UTC)", ids[i]);
		if (i && strcmp(ids[i], ids[0]))
			distinct = 1;
	}
	ck_assert_msg(distinct, "8 run ids in a row are all %s", ids[0]);
	for (int i = 0; i < 8; i++)
		free(ids[i]);
	regfree(&re);

	char *id = record_new_run_id("g98", "seabios", "bios-post", "kvm-hidden");
	ck_assert_uint_eq(strlen(id), strlen("20261123T224501Z-g98-seabios-bios-post-kvm-hidden-3fa2"));
	ck_assert(strstr(id, "Z-g98-seabios-bios-post-kvm-hidden-") == id + 15);
	free(id);
}
END_TEST

START_TEST(host_facts)
{
	unsetenv("HILRUN_BOOT_ID");
	json_t *h = record_host_facts();
	ck_assert_ptr_nonnull(h);
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	struct utsname u;
	uname(&u);
	ck_assert_str_eq(json_string_value(json_object_get(h, "hostname")), host);
	ck_assert_str_eq(json_string_value(json_object_get(h, "kernel")), u.release);
	ck_assert_str_eq(json_string_value(json_object_get(h, "machine")), u.machine);
	const char *boot = json_string_value(json_object_get(h, "boot_id"));
	ck_assert_ptr_nonnull(boot);
	size_t len;
	struct hil_err err;
	char *real = read_file("/proc/sys/kernel/random/boot_id", 100, &len, &err);
	if (real) {
		real[strcspn(real, "\n")] = '\0';
		ck_assert_str_eq(boot, real);
		ck_assert_uint_eq(strlen(boot), 36);
		free(real);
	}
	json_decref(h);

	setenv("HILRUN_BOOT_ID", "pretend-reboot-1", 1);
	h = record_host_facts();
	unsetenv("HILRUN_BOOT_ID");
	ck_assert_str_eq(json_string_value(json_object_get(h, "boot_id")), "pretend-reboot-1");
	json_decref(h);
}
END_TEST

/* ---- record_commit / record_load ---------------------------------------- */

static json_t *minimal_record(const char *run_id)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}]}",
			 "schema", RECORD_SCHEMA, "run_id", run_id,
			 "card", "id", "std-vga", "kind", "emulated",
			 "firmware", "seabios", "guest", "bios-post", "variant", "default",
			 "accel", "tcg", "verdict", "pass",
			 "stages", "name", "start", "outcome", "pass");
}

static const char *art_str(json_t *art, const char *key)
{
	const char *s = json_string_value(json_object_get(art, key));
	ck_assert_msg(s != NULL, "artifact has no string '%s'", key);
	return s;
}

START_TEST(commit_and_load)
{
	char *runs = test_path(tmp, "runs");
	struct hil_err err;
	ck_assert_int_eq(mkdir_p(runs, &err), 0);
	char *run_id = record_new_run_id("std-vga", "seabios", "bios-post", "default");
	char *tmp_dir = xasprintf("%s/.tmp-%s", runs, run_id);
	char *final_dir = xasprintf("%s/%s", runs, run_id);
	ck_assert_int_eq(mkdir(tmp_dir, 0755), 0);

	char *million = repeat('a', 1000000);
	test_write_str(tmp_dir, "serial.log", "abc");
	test_write_str(tmp_dir, "post.txt", "");
	test_write_str(tmp_dir, "qemu.log", million);
	test_write_str(tmp_dir, ".hidden", "not an artifact");
	test_write_str(tmp_dir, RECORD_FILE, "stale, replaced");
	free(million);

	json_t *rec = minimal_record(run_id);
	ck_assert_msg(record_commit(rec, tmp_dir, final_dir, &err) == 0, "%s", err.msg);

	/* the .tmp- directory became the run directory */
	ck_assert(!test_exists(tmp_dir));
	ck_assert_int_eq(test_count_entries(runs), 1);
	ck_assert_int_eq(test_count_entries(final_dir), 5);
	char *runjson = xasprintf("%s/%s", final_dir, RECORD_FILE);
	size_t len;
	char *text = read_file(runjson, 1 << 20, &len, &err);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(text[0], '{');
	ck_assert_int_eq(text[len - 1], '\n');
	free(text);

	/* artifacts: sorted by name, run.json and dot files left out */
	json_t *arts = json_object_get(rec, "artifacts");
	ck_assert(json_is_array(arts));
	ck_assert_uint_eq(json_array_size(arts), 3);

	json_t *loaded = record_load(runjson, &err);
	ck_assert_msg(loaded != NULL, "%s", err.msg);
	ck_assert_str_eq(json_string_value(json_object_get(loaded, "run_id")), run_id);
	ck_assert(json_equal(json_object_get(loaded, "artifacts"), arts));
	arts = json_object_get(loaded, "artifacts");
	ck_assert_uint_eq(json_array_size(arts), 3);
	json_t *a = json_array_get(arts, 0);
	ck_assert_str_eq(art_str(a, "path"), "post.txt");
	ck_assert_int_eq(json_integer_value(json_object_get(a, "bytes")), 0);
	ck_assert_str_eq(art_str(a, "sha256"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	a = json_array_get(arts, 1);
	ck_assert_str_eq(art_str(a, "path"), "qemu.log");
	ck_assert(json_is_integer(json_object_get(a, "bytes")));
	ck_assert_int_eq(json_integer_value(json_object_get(a, "bytes")), 1000000);
	ck_assert_str_eq(art_str(a, "sha256"), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	a = json_array_get(arts, 2);
	ck_assert_str_eq(art_str(a, "path"), "serial.log");
	ck_assert_int_eq(json_integer_value(json_object_get(a, "bytes")), 3);
	ck_assert_str_eq(art_str(a, "sha256"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* every other field as given */
	ck_assert_str_eq(json_string_value(json_object_get(loaded, "schema")), RECORD_SCHEMA);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(loaded, "card"), "id")), "std-vga");

	json_decref(loaded);
	json_decref(rec);
	free(runjson);
	free(final_dir);
	free(tmp_dir);
	free(run_id);
	free(runs);
}
END_TEST

START_TEST(commit_empty_run)
{
	char *tmp_dir = test_path(tmp, ".tmp-x");
	char *final_dir = test_path(tmp, "x");
	ck_assert_int_eq(mkdir(tmp_dir, 0755), 0);
	json_t *rec = minimal_record("x");
	struct hil_err err;
	ck_assert_msg(record_commit(rec, tmp_dir, final_dir, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(json_array_size(json_object_get(rec, "artifacts")), 0);
	ck_assert_int_eq(test_count_entries(final_dir), 1);
	json_decref(rec);
	free(tmp_dir);
	free(final_dir);
}
END_TEST

START_TEST(commit_errors)
{
	char *tmp_dir = test_path(tmp, ".tmp-none");
	char *final_dir = test_path(tmp, "none");
	json_t *rec = minimal_record("none");
	struct hil_err err;
	ck_assert_int_eq(record_commit(rec, tmp_dir, final_dir, &err), -1);
	char *want = xasprintf("cannot open run directory %s: No such file or directory", tmp_dir);
	ck_assert_str_eq(err.msg, want);
	ck_assert(!test_exists(final_dir));
	free(want);

	/* an artifact that cannot be read */
	ck_assert_int_eq(mkdir(tmp_dir, 0755), 0);
	char *sub = test_path(tmp_dir, "sub");
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	err.msg[0] = '\0';
	ck_assert_int_eq(record_commit(rec, tmp_dir, final_dir, &err), -1);
	want = xasprintf("cannot read %s: Is a directory", sub);
	ck_assert_str_eq(err.msg, want);
	ck_assert(test_exists(tmp_dir));
	ck_assert(!test_exists(final_dir));
	free(want);
	free(sub);
	json_decref(rec);
	free(tmp_dir);
	free(final_dir);
}
END_TEST

/* Write text as tmp/name and record_load it; expect "PATH<sep>what". */
static void expect_load_error(const char *name, const char *text, const char *sep, const char *what)
{
	test_write_str(tmp, name, text);
	char *path = test_path(tmp, name);
	struct hil_err err;
	strcpy(err.msg, "(no message)");
	json_t *rec = record_load(path, &err);
	json_decref(rec);
	ck_assert_ptr_null(rec);
	char *want = xasprintf("%s%s%s", path, sep, what);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);
}

START_TEST(load_bad_json)
{
	expect_load_error("trunc.json", "{\n  \"schema\": \"hilrun-run/1\",\n  \"run_id\": \"x\"", ":3: ",
			  "'}' expected near end of file");
	expect_load_error("empty.json", "", ":1: ", "'[' or '{' expected near end of file");
	expect_load_error("dup.json", "{\"a\":1,\"a\":2}\n", ":1: ", "duplicate object key near '\"a\"'");
}
END_TEST

START_TEST(load_bad_schema)
{
	expect_load_error("s1.json", "{\"schema\": \"hilrun-run/2\"}", ": ",
			  "expected schema 'hilrun-run/1', got 'hilrun-run/2'");
	expect_load_error("s2.json", "{\"run_id\": \"x\"}", ": ", "expected schema 'hilrun-run/1', got '(none)'");
	expect_load_error("s3.json", "{\"schema\": 1}", ": ", "expected schema 'hilrun-run/1', got '(none)'");
	expect_load_error("s4.json", "[\"hilrun-run/1\"]", ": ", "expected schema 'hilrun-run/1', got '(none)'");
}
END_TEST

/* Records of any 1.x load (1 is 1.0, written before 1.1); lookalikes of
 * another major do not. */
START_TEST(load_minor_versions)
{
	static const char *const minors[] = { "hilrun-run/1", "hilrun-run/1.1", "hilrun-run/1.12" };
	for (size_t i = 0; i < sizeof minors / sizeof *minors; i++) {
		char *text = xasprintf("{\"schema\": \"%s\", \"run_id\": \"r\", \"card\": {}, "
				       "\"firmware\": \"seabios\", \"guest\": \"bios-post\", "
				       "\"variant\": \"default\", \"accel\": \"tcg\", \"verdict\": \"pass\", "
				       "\"stages\": [], \"artifacts\": []}",
				       minors[i]);
		test_write_str(tmp, "minor.json", text);
		char *path = test_path(tmp, "minor.json");
		struct hil_err err;
		json_t *rec = record_load(path, &err);
		ck_assert_msg(rec != NULL, "%s: %s", minors[i], err.msg);
		json_decref(rec);
		free(path);
		free(text);
	}
	expect_load_error("m1.json", "{\"schema\": \"hilrun-run/10\"}", ": ",
			  "expected schema 'hilrun-run/1', got 'hilrun-run/10'");
	expect_load_error("m2.json", "{\"schema\": \"hilrun-run/1.x\"}", ": ",
			  "expected schema 'hilrun-run/1', got 'hilrun-run/1.x'");
	expect_load_error("m3.json", "{\"schema\": \"hilrun-run/1.\"}", ": ",
			  "expected schema 'hilrun-run/1', got 'hilrun-run/1.'");
}
END_TEST

static const char *const required[] = { "run_id", "card", "firmware", "guest", "variant",
					"accel", "verdict", "stages", "artifacts" };

START_TEST(load_missing_field)
{
	json_t *rec = minimal_record("x");
	json_object_set_new(rec, "artifacts", json_array());
	char *text = json_dumps(rec, JSON_INDENT(2));
	test_write_str(tmp, "ok.json", text);
	free(text);
	char *path = test_path(tmp, "ok.json");
	struct hil_err err;
	json_t *ok = record_load(path, &err);
	ck_assert_msg(ok != NULL, "%s", err.msg);
	json_decref(ok);
	free(path);

	ck_assert_int_eq(json_object_del(rec, required[_i]), 0);
	text = json_dumps(rec, JSON_INDENT(2));
	json_decref(rec);
	char *what = xasprintf("missing '%s'", required[_i]);
	expect_load_error("missing.json", text, ": ", what);
	free(what);
	free(text);
}
END_TEST

/* A run_id that is no plain file name (the matrix writes
 * OUT/runs/RUN_ID.html) is refused: found while writing fuzz_record, a
 * record with run_id "../../x" had the matrix write its page outside OUT. */
START_TEST(load_run_id_not_a_name)
{
	static const char *const ids[] = { "", "../../x", "a/b", ".hidden", "..", "/abs" };
	json_t *rec = minimal_record("x");
	json_object_set_new(rec, "artifacts", json_array());
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		json_object_set_new(rec, "run_id", json_string(ids[i]));
		char *text = json_dumps(rec, JSON_INDENT(2));
		expect_load_error("id.json", text, ": ",
				  "expected a run_id that names one file (not empty, no '/', not starting with '.')");
		free(text);
	}
	json_object_set_new(rec, "run_id", json_integer(7));
	char *text = json_dumps(rec, JSON_INDENT(2));
	expect_load_error("id.json", text, ": ",
			  "expected a run_id that names one file (not empty, no '/', not starting with '.')");
	free(text);
	json_decref(rec);
}
END_TEST

/* ---- regressions: bugs found by these tests, since fixed ---------------- */

/* record.c record_commit: when stat() of an artifact fails, the message is
 * only set if err->msg is empty, so a stale (or, from the callers' usual
 * uninitialised struct hil_err, garbage) message is reported instead. A
 * dangling symlink in the run directory makes stat() fail. */
START_TEST(commit_stat_error_message)
{
	char *tmp_dir = test_path(tmp, ".tmp-y");
	char *final_dir = test_path(tmp, "y");
	ck_assert_int_eq(mkdir(tmp_dir, 0755), 0);
	char *link = test_path(tmp_dir, "dangling");
	ck_assert_int_eq(symlink("/nonexistent/target", link), 0);
	json_t *rec = minimal_record("y");
	struct hil_err err;
	strcpy(err.msg, "stale message from an earlier call");
	int rc = record_commit(rec, tmp_dir, final_dir, &err);
	json_decref(rec);
	char *want = xasprintf("cannot stat %s: No such file or directory", link);
	int same = !strcmp(err.msg, want);
	char got[HIL_ERR_MAX];
	snprintf(got, sizeof got, "%s", err.msg);
	free(want);
	free(link);
	free(tmp_dir);
	free(final_dir);
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(same, "record_commit reported '%s' for an artifact it cannot stat", got);
}
END_TEST

/* record.c record_load: a file that cannot be opened is reported as
 * "PATH:-1: unable to open PATH: ..." (jansson's line -1 for I/O errors). */
START_TEST(load_missing_file_message)
{
	char *path = test_path(tmp, "none.json");
	struct hil_err err;
	json_t *rec = record_load(path, &err);
	json_decref(rec);
	char *want = xasprintf("cannot open %s: No such file or directory", path);
	int same = !strcmp(err.msg, want);
	free(want);
	free(path);
	ck_assert_ptr_null(rec);
	ck_assert_msg(same, "record_load of a missing file reported '%s'", err.msg);
}
END_TEST

static Suite *record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("files");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_loop_test(tc, sha256_vectors, 0, (int)(sizeof vectors / sizeof *vectors));
	tcase_add_test(tc, sha256_binary);
	tcase_add_test(tc, sha256_errors);
	tcase_add_test(tc, atomic_write_and_read);
	tcase_add_test(tc, atomic_write_large_binary);
	tcase_add_test(tc, atomic_write_missing_dir);
	tcase_add_test(tc, atomic_write_rename_fails);
	tcase_add_test(tc, read_file_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("record");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, run_id_shape);
	tcase_add_test(tc, host_facts);
	tcase_add_test(tc, commit_and_load);
	tcase_add_test(tc, commit_empty_run);
	tcase_add_test(tc, commit_errors);
	tcase_add_test(tc, load_bad_json);
	tcase_add_test(tc, load_bad_schema);
	tcase_add_test(tc, load_minor_versions);
	tcase_add_test(tc, load_run_id_not_a_name);
	tcase_add_loop_test(tc, load_missing_field, 0, (int)(sizeof required / sizeof *required));
	suite_add_tcase(s, tc);

	tc = tcase_create("regressions");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, commit_stat_error_message);
	tcase_add_test(tc, load_missing_file_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(record_suite());
}
