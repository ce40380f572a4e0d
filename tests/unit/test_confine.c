/* Unit tests for confine: opening inside a store, never out of it, both
 * through openat2 and through the realpath fallback. */
#include <fcntl.h>

#include "confine.h"
#include "testutil.h"

typedef int (*open_fn)(const char *root, const char *rel, int flags, mode_t mode,
		       struct hil_err *err);
static const open_fn ways[] = { confine_open, confine_open_resolved };
static const char *const way_names[] = { "openat2", "realpath" };

/* A store (root/) beside a directory outside it, with links of every
 * kind in the store. */
static char *base, *root, *outside;

static void setup(void)
{
	base = test_tmpdir();
	root = test_path(base, "store");
	outside = test_path(base, "outside");
	struct hil_err err;
	ck_assert(mkdir_p(root, &err) == 0);
	ck_assert(mkdir_p(outside, &err) == 0);
	test_write_str(outside, "secret", "not the store's\n");
	test_write_str(root, "run.json", "{}\n");
	char *runs = test_path(root, "runs");
	ck_assert(mkdir_p(runs, &err) == 0);
	test_write_str(runs, "a.json", "inside\n");
	free(runs);
	char *p;
#define LINK(target, name)                                         \
	p = test_path(root, name);                                 \
	ck_assert_msg(symlink(target, p) == 0, "symlink %s", p); \
	free(p)
	LINK("runs/a.json", "inside-link");    /* stays inside */
	LINK("runs", "runs-link");             /* a directory inside */
	LINK("../outside/secret", "out-link"); /* leads out */
	LINK("../outside", "out-dir");         /* a directory out */
	LINK("/etc/hostname", "abs-link");     /* absolute */
	LINK("../outside/new", "dangling-out"); /* to nothing, out */
#undef LINK
}

static void teardown(void)
{
	test_rmdir(base);
	free(base);
	free(root);
	free(outside);
}

static void assert_opens(open_fn f, const char *how, const char *rel, const char *want)
{
	struct hil_err err;
	int fd = f(root, rel, O_RDONLY, 0, &err);
	ck_assert_msg(fd >= 0, "%s: %s: %s", how, rel, err.msg);
	char buf[64] = "";
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

static void assert_refused(open_fn f, const char *how, const char *rel, int flags)
{
	struct hil_err err;
	err.msg[0] = '\0';
	int fd = f(root, rel, flags, 0644, &err);
	ck_assert_msg(fd < 0, "%s: %s opened", how, rel);
	ck_assert_int_eq(errno, EXDEV);
	/* the message names what was refused */
	const char *name = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	ck_assert_msg(strstr(err.msg, name) != NULL, "%s: %s", how, err.msg);
}

START_TEST(inside_opens)
{
	for (int w = 0; w < 2; w++) {
		assert_opens(ways[w], way_names[w], "run.json", "{}\n");
		assert_opens(ways[w], way_names[w], "runs/a.json", "inside\n");
		assert_opens(ways[w], way_names[w], "inside-link", "inside\n");
		assert_opens(ways[w], way_names[w], "runs-link/a.json", "inside\n");
		assert_opens(ways[w], way_names[w], "runs/../run.json", "{}\n");
	}
}
END_TEST

START_TEST(links_out_are_refused)
{
	for (int w = 0; w < 2; w++) {
		assert_refused(ways[w], way_names[w], "out-link", O_RDONLY);
		assert_refused(ways[w], way_names[w], "out-dir/secret", O_RDONLY);
		assert_refused(ways[w], way_names[w], "abs-link", O_RDONLY);
		assert_refused(ways[w], way_names[w], "../outside/secret", O_RDONLY);
		assert_refused(ways[w], way_names[w], "runs/../../outside/secret", O_RDONLY);
		/* writing: through a link out, or creating what a link to
		 * nothing names, outside */
		assert_refused(ways[w], way_names[w], "out-link", O_WRONLY | O_APPEND);
		assert_refused(ways[w], way_names[w], "dangling-out", O_WRONLY | O_CREAT);
		assert_refused(ways[w], way_names[w], "out-dir/new", O_WRONLY | O_CREAT);
		char *made = test_path(outside, "new");
		ck_assert_msg(!test_exists(made), "%s: created %s", way_names[w], made);
		free(made);
	}
	struct hil_err err;
	ck_assert_int_lt(confine_open(root, "/etc/hostname", O_RDONLY, 0, &err), 0);
	ck_assert(strstr(err.msg, "not a path inside") != NULL);
}
END_TEST

START_TEST(missing_is_enoent_and_create_works)
{
	for (int w = 0; w < 2; w++) {
		struct hil_err err;
		ck_assert_int_lt(ways[w](root, "runs/none.json", O_RDONLY, 0, &err), 0);
		ck_assert_int_eq(errno, ENOENT);
		ck_assert(strstr(err.msg, "none.json") != NULL);
		char *rel = xasprintf("runs/new-%d", w);
		int fd = ways[w](root, rel, O_WRONLY | O_CREAT, 0644, &err);
		ck_assert_msg(fd >= 0, "%s: %s", way_names[w], err.msg);
		close(fd);
		char *p = test_path(root, rel);
		ck_assert(test_exists(p));
		free(p);
		free(rel);
	}
}
END_TEST

START_TEST(read_and_mkdir)
{
	struct hil_err err;
	size_t len = 0;
	char *text = confine_read(root, "inside-link", 100, &len, &err);
	ck_assert_msg(text != NULL, "%s", err.msg);
	ck_assert_str_eq(text, "inside\n");
	ck_assert_uint_eq(len, 7);
	free(text);
	ck_assert(confine_read(root, "out-link", 100, &len, &err) == NULL);
	ck_assert(strstr(err.msg, "out-link") != NULL);
	ck_assert(confine_read(root, "run.json", 2, &len, &err) == NULL); /* larger than max */
	ck_assert(strstr(err.msg, "larger than 2 bytes") != NULL);

	ck_assert_msg(confine_mkdir(root, "runs/.tmp-x/deeper", &err) == 0, "%s", err.msg);
	char *p = test_path(root, "runs/.tmp-x/deeper");
	ck_assert(test_exists(p));
	free(p);
	ck_assert_msg(confine_mkdir(root, "runs-link/made", &err) == 0, "%s", err.msg);
	/* a directory reached through a link out is not made there */
	ck_assert_int_lt(confine_mkdir(root, "out-dir/made", &err), 0);
	ck_assert(strstr(err.msg, "out-dir") != NULL);
	p = test_path(outside, "made");
	ck_assert(!test_exists(p));
	free(p);
	/* the root itself is made */
	char *fresh = test_path(base, "fresh/store");
	ck_assert_msg(confine_mkdir(fresh, "runs", &err) == 0, "%s", err.msg);
	free(fresh);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("confine");
	TCase *tc = tcase_create("confine");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inside_opens);
	tcase_add_test(tc, links_out_are_refused);
	tcase_add_test(tc, missing_is_enoent_and_create_works);
	tcase_add_test(tc, read_and_mkdir);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
