/* testutil: small helpers shared by the unit tests: the source directory,
 * temporary directories, writing fixture files, and a main() helper.
 * Header-only.
 *
 * Ownership: test_tmpdir, test_path and test_read return memory the
 * caller frees; test_tmproot is owned by its fixture pair. */
#ifndef HIL_TESTUTIL_H
#define HIL_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#ifndef HIL_SOURCE_DIR
#error "HIL_SOURCE_DIR must name the source tree"
#endif

/* The source tree: $HILRUN_SOURCE_DIR, else the one this was built from. */
static inline const char *test_source_dir(void)
{
	const char *s = getenv("HILRUN_SOURCE_DIR");
	return s && *s ? s : HIL_SOURCE_DIR;
}

/* The fixture tree: $HILRUN_FIXTURES, else the source tree's tests/fixtures. */
static inline const char *test_fixtures_dir(void)
{
	const char *env = getenv("HILRUN_FIXTURES");
	return env && *env ? env : HIL_FIXTURES_DIR;
}

/* Per-TCase root for temporary directories. Register test_tmproot_setup /
 * test_tmproot_teardown as an unchecked fixture: they run in the runner's
 * own process, so the root goes away even when a forked test fails before
 * its checked teardown. */
static char *test_tmproot;

static inline char *test_mkdtemp(const char *base)
{
	char *dir = xasprintf("%s/hiltest-XXXXXX", base);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s failed", dir);
	return dir;
}

static inline void test_tmproot_setup(void)
{
	const char *base = getenv("TMPDIR");
	test_tmproot = test_mkdtemp(base && *base ? base : "/tmp");
}

static inline void test_tmproot_teardown(void)
{
	if (test_tmproot)
		remove_tree(test_tmproot);
	free(test_tmproot);
	test_tmproot = NULL;
}

/* A new empty directory (under the TCase's root if there is one, else
 * under $TMPDIR or /tmp); caller removes it with test_rmdir and frees. */
static inline char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	return test_mkdtemp(test_tmproot ? test_tmproot : base && *base ? base : "/tmp");
}

static inline void test_rmdir(const char *dir)
{
	if (dir)
		remove_tree(dir);
}

/* dir/name, caller frees. */
static inline char *test_path(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* Write len bytes to dir/name (plain stdio, not the code under test). */
static inline void test_write(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = test_path(dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot create %s", path);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	free(path);
}

static inline void test_write_str(const char *dir, const char *name, const char *text)
{
	test_write(dir, name, text, strlen(text));
}

/* The whole file (plain stdio, not the code under test); caller frees. */
static inline unsigned char *test_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	unsigned char *data = xmalloc((size_t)n + 1);
	ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	data[n] = 0;
	*len = (size_t)n;
	return data;
}

static inline int test_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Number of directory entries other than . and .. (-1 if unreadable). */
static inline int test_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Run ImageMagick's convert SRC ARGS... DST (an argv, no shell); the test
 * fails if convert is missing or fails. */
static inline void test_convert(const char *src, const char *const *args, const char *dst)
{
	const char *argv[20];
	int n = 0;
	argv[n++] = "convert";
	argv[n++] = src;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n++] = dst;
	argv[n] = NULL;
	fflush(stdout);
	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork failed");
	if (pid == 0) {
		execvp("convert", (char *const *)argv);
		_exit(errno == ENOENT ? 127 : 126);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 127),
		      "convert (ImageMagick) not found: install imagemagick (ci/setup does)");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "convert %s -> %s failed",
		      src, dst);
}

/* Run a suite (CK_NORMAL; CK_FORK from the environment); 1 if any failed. */
static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

#endif
