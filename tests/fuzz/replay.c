/* replay: the main() of a fuzz target in builds without libFuzzer (gcc,
 * the ASan build, valgrind): runs LLVMFuzzerTestOneInput once over each
 * file given, and over every file of each directory given (not
 * recursing), as libFuzzer does with -runs=0. A crash is the test's
 * failure; so is a path that cannot be read, or no input at all.
 *
 *   fuzz_NAME PATH...    (ctest: fuzz.replay.NAME over tests/fuzz/corpus/NAME) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "util.h"

#define REPLAY_MAX_INPUT (4u * 1024 * 1024) /* bytes: libFuzzer's -max_len is far less */

static int replay_file(const char *path, size_t *runs)
{
	struct hil_err err;
	size_t len;
	char *data = read_file(path, REPLAY_MAX_INPUT, &len, &err);
	if (!data) {
		fprintf(stderr, "replay: %s\n", err.msg);
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	free(data);
	(*runs)++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* In name order, so that a failure is found again the same way. */
static int replay_dir(const char *dir, size_t *runs)
{
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		return -1;
	}
	struct argv names = ARGV_INIT;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			argv_push(&names, de->d_name);
	closedir(d);
	if (names.n > 1)
		qsort(names.v, names.n, sizeof *names.v, cmp_names);
	int rc = 0;
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		char *path = xasprintf("%s/%s", dir, names.v[i]);
		rc = replay_file(path, runs);
		free(path);
	}
	argv_release(&names);
	return rc;
}

int main(int argc, char **argv)
{
	size_t runs = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			return 1;
		}
		if ((S_ISDIR(st.st_mode) ? replay_dir(argv[i], &runs) : replay_file(argv[i], &runs)) < 0)
			return 1;
	}
	if (!runs) {
		fprintf(stderr, "replay: no input in %s\n", argv[1]);
		return 1;
	}
	printf("replay: %zu inputs, no crash\n", runs);
	return 0;
}
