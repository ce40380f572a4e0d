/* test_store: the results server's store on a real directory: a run
 * stored whole and byte for byte under runs/CONTRIBUTOR/RUN_ID, the same
 * run again "already stored", the same run id with another manifest a
 * conflict that leaves the stored run alone, the contributor cap,
 * leftovers under tmp removed at open and the usage counted again, and
 * the list filtered by card. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
	dir = test_tmpdir();
}

static void teardown(void)
{
	test_rmdir(dir);
	free(dir);
}

/* A small run as a validated bundle would hold it. */
static void small_run(struct bundle *b, const char *manifest, const char *card)
{
	bundle_init(b);
	bundle_add(b, BUNDLE_MANIFEST, manifest, strlen(manifest));
	bundle_add(b, BUNDLE_SIGNATURE, "sig\n", 4);
	char *rec = xasprintf("{\"card\": {\"id\": \"%s\"}, \"verdict\": \"pass\", "
			      "\"host\": {\"hostname\": \"lab1\"}}",
			      card);
	bundle_add(b, BUNDLE_RECORD, rec, strlen(rec));
	free(rec);
	bundle_add(b, "serial.log", "hello\n", 6);
}

static int same_file(const char *path, const char *want)
{
	size_t len;
	struct hil_err err;
	char *have = read_file(path, 1 << 20, &len, &err);
	int same = have && len == strlen(want) && !memcmp(have, want, len);
	free(have);
	return same;
}

START_TEST(put_whole_again_and_conflict)
{
	struct store s;
	struct hil_err err;
	struct bundle b, other;
	ck_assert_msg(store_open(&s, dir, STORE_CONTRIBUTOR_MAX_DEFAULT, NULL, &err) == 0, "%s", err.msg);
	small_run(&b, "{\"m\":1}", "std-vga");
	ck_assert_int_eq(store_put(&s, "alice", "run-1", &b, &err), STORE_CREATED);
	char *p = xasprintf("%s/runs/alice/run-1/serial.log", dir);
	ck_assert(same_file(p, "hello\n"));
	free(p);
	p = xasprintf("%s/runs/alice/run-1/manifest.json", dir);
	ck_assert(same_file(p, "{\"m\":1}"));
	free(p);
	uint64_t used = store_usage(&s, "alice");
	ck_assert_uint_gt(used, 0);

	ck_assert_int_eq(store_put(&s, "alice", "run-1", &b, &err), STORE_EXISTS);
	ck_assert_uint_eq(store_usage(&s, "alice"), used);
	small_run(&other, "{\"m\":2}", "std-vga");
	ck_assert_int_eq(store_put(&s, "alice", "run-1", &other, &err), STORE_CONFLICT);
	p = xasprintf("%s/runs/alice/run-1/manifest.json", dir);
	ck_assert(same_file(p, "{\"m\":1}"));
	free(p);
	/* the same run id is another run for another contributor */
	ck_assert_int_eq(store_put(&s, "bob", "run-1", &other, &err), STORE_CREATED);
	p = xasprintf("%s/tmp", dir);
	ck_assert_int_eq(test_count_entries(p), 0);
	free(p);
	bundle_release(&b);
	bundle_release(&other);
	store_close(&s);
}
END_TEST

START_TEST(contributor_cap)
{
	struct store s;
	struct hil_err err;
	struct bundle b, c;
	small_run(&b, "{\"m\":1}", "std-vga");
	small_run(&c, "{\"m\":2}", "std-vga");
	uint64_t one = 0;
	for (size_t i = 0; i < b.n; i++)
		one += b.v[i].len;
	ck_assert_int_eq(store_open(&s, dir, one + 1, NULL, &err), 0);
	ck_assert_int_eq(store_put(&s, "alice", "run-1", &b, &err), STORE_CREATED);
	ck_assert_int_eq(store_put(&s, "alice", "run-2", &c, &err), STORE_QUOTA);
	ck_assert_msg(strstr(err.msg, "contributor alice stores"), "%s", err.msg);
	ck_assert_int_eq(store_put(&s, "bob", "run-2", &c, &err), STORE_CREATED);
	store_close(&s);
	/* counted again from the disk at open */
	ck_assert_int_eq(store_open(&s, dir, one + 1, NULL, &err), 0);
	ck_assert_uint_eq(store_usage(&s, "alice"), one);
	ck_assert_int_eq(store_put(&s, "alice", "run-2", &c, &err), STORE_QUOTA);
	char *p = xasprintf("%s/runs/alice/run-2", dir);
	ck_assert_int_ne(access(p, F_OK), 0);
	free(p);
	store_close(&s);
	bundle_release(&b);
	bundle_release(&c);
}
END_TEST

START_TEST(leftovers_removed_at_open)
{
	struct store s;
	struct hil_err err;
	size_t removed = 99;
	char *t = xasprintf("%s/tmp/put-half", dir);
	struct hil_err e2;
	ck_assert(mkdir_p(t, &e2) == 0);
	char *f = xasprintf("%s/run.json", t);
	ck_assert(write_file_atomic(f, "{", 1, &e2) == 0);
	ck_assert_int_eq(store_open(&s, dir, STORE_CONTRIBUTOR_MAX_DEFAULT, &removed, &err), 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert_int_ne(access(t, F_OK), 0);
	store_close(&s);
	free(f);
	free(t);
}
END_TEST

START_TEST(list_by_card)
{
	struct store s;
	struct hil_err err;
	struct bundle a, b;
	ck_assert_int_eq(store_open(&s, dir, STORE_CONTRIBUTOR_MAX_DEFAULT, NULL, &err), 0);
	small_run(&a, "{\"m\":1}", "std-vga");
	small_run(&b, "{\"m\":2}", "g98");
	ck_assert_int_eq(store_put(&s, "bob", "run-b", &b, &err), STORE_CREATED);
	ck_assert_int_eq(store_put(&s, "alice", "run-a", &a, &err), STORE_CREATED);
	json_t *all = store_list(&s, NULL), *vga = store_list(&s, "std-vga");
	ck_assert_uint_eq(json_array_size(all), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(all, 0), "contributor")),
			 "alice");
	ck_assert_uint_eq(json_array_size(vga), 1);
	json_t *r = json_array_get(vga, 0);
	ck_assert_str_eq(json_string_value(json_object_get(r, "url")), "/runs/alice/run-a");
	ck_assert_str_eq(json_string_value(json_object_get(r, "verdict")), "pass");
	ck_assert_str_eq(json_string_value(json_object_get(r, "host")), "lab1");
	json_decref(all);
	json_decref(vga);
	bundle_release(&a);
	bundle_release(&b);
	store_close(&s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, put_whole_again_and_conflict);
	tcase_add_test(tc, contributor_cap);
	tcase_add_test(tc, leftovers_removed_at_open);
	tcase_add_test(tc, list_by_card);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
