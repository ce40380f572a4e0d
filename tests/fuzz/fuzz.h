/* fuzz: what the libFuzzer targets of tests/fuzz share (header-only).
 *
 * Each target is one file tests/fuzz/fuzz_NAME.c defining
 * LLVMFuzzerTestOneInput, with its corpus in tests/fuzz/corpus/NAME/ (and
 * a dictionary tests/fuzz/NAME.dict if it has one); tests/CMakeLists.txt
 * lists the names (FUZZ_TARGETS). Built with clang and libFuzzer
 * (HIL_FUZZ=ON, ci/fuzz), or with replay.c's main() in every other build,
 * which runs the corpus as a unit test (fuzz.replay.NAME).
 *
 * A target must free all it allocates (LeakSanitizer and valgrind run
 * it), and report a broken promise of the code under test with
 * fuzz_check, which aborts: libFuzzer then keeps the input as a crash.
 * With $HILRUN_FUZZ_VERBOSE set, each input's findings are printed. */
#ifndef HIL_FUZZ_H
#define HIL_FUZZ_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "catalog.h"
#include "findings.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz: %s\n", what);
		abort();
	}
}

/* The findings as a rejection answers them: the server's JSON body, every
 * finding in it, and upload --dry-run's text. */
static inline void fuzz_findings(const struct findings *f)
{
	json_t *j = findings_json(f);
	char *text = json_dumps(j, JSON_COMPACT);
	size_t errors = findings_errors(f);
	fuzz_check(text != NULL, "findings_json: not serialisable");
	fuzz_check(json_is_true(json_object_get(j, "ok")) == (errors == 0),
		   "findings_json: ok disagrees with the errors");
	fuzz_check(json_array_size(json_object_get(j, "errors")) == errors &&
			   json_array_size(json_object_get(j, "warnings")) + errors ==
				   f->n + (f->dropped ? 1 : 0),
		   "findings_json: a finding is missing from the answer");
	size_t ne = 0, nw = 0;
	for (size_t i = 0; i < f->n; i++) {
		int err = f->v[i].level == FINDING_ERROR;
		json_t *o = json_array_get(json_object_get(j, err ? "errors" : "warnings"),
					   err ? ne++ : nw++);
		fuzz_check(!json_object_get(o, "file") == !f->v[i].file,
			   "findings_json: a finding's file is missing from the answer");
	}
	free(text);
	json_decref(j);
	char *lines = findings_text(f, "  ");
	if (getenv("HILRUN_FUZZ_VERBOSE")) /* what an input comes to */
		fprintf(stderr, "%zu findings:\n%s", f->n, lines);
	free(lines);
}

/* err reads "NAME:LINE: ...": a parser's refusal names file and line. */
static inline int fuzz_says_where(const struct hil_err *err, const char *name)
{
	const size_t n = strlen(name);
	if (strncmp(err->msg, name, n) || err->msg[n] != ':' ||
	    !isdigit((unsigned char)err->msg[n + 1]))
		return 0;
	const char *p = err->msg + n + 1;
	while (isdigit((unsigned char)*p))
		p++;
	return p[0] == ':' && p[1] == ' ';
}

/* The input as a NUL-terminated string (the parsers of text take one);
 * the caller frees it. A NUL in the input ends the text early. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	return xstrndup((const char *)data, size);
}

/* A directory of this process's own for the files a target writes: made
 * on first use, removed with all it holds when the process exits. */
static char fuzz_tmp[64];

static inline void fuzz_tmpdir_remove(void)
{
	remove_tree(fuzz_tmp);
}

static inline const char *fuzz_tmpdir(void)
{
	if (!fuzz_tmp[0]) {
		/* tmpfs where there is one: the code under test fsyncs */
		snprintf(fuzz_tmp, sizeof fuzz_tmp, "/dev/shm/hilrun-fuzz-tmp-XXXXXX");
		if (!mkdtemp(fuzz_tmp)) {
			snprintf(fuzz_tmp, sizeof fuzz_tmp, "/tmp/hilrun-fuzz-tmp-XXXXXX");
			fuzz_check(mkdtemp(fuzz_tmp) != NULL, "mkdtemp");
		}
		atexit(fuzz_tmpdir_remove);
	}
	return fuzz_tmp;
}

/* Write len bytes to path (under fuzz_tmpdir()), replacing it. */
static inline void fuzz_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");
	fuzz_check(f != NULL, "cannot create a file in the temporary directory");
	fuzz_check((!len || fwrite(data, len, 1, f) == 1) && fclose(f) == 0,
		   "cannot write a file in the temporary directory");
}

/* The cards of the source tree ($HILRUN_SOURCE_DIR's, or the build's). */
static inline void fuzz_tree_cards(struct catalog *cat)
{
	const char *src = getenv("HILRUN_SOURCE_DIR");
	char *cards = xasprintf("%s/cards", src && *src ? src : HIL_SOURCE_DIR);
	struct hil_err err;
	if (catalog_load_cards(cat, cards, &err) < 0) {
		fprintf(stderr, "fuzz: %s\n", err.msg);
		abort();
	}
	free(cards);
}

/* A peer for a client under test: fuzz_peer_start gives the client's end
 * of a socketpair; a thread writes data on the other end (in pieces of
 * piece bytes, so that messages arrive split) while reading and
 * discarding what the client sends (a client that writes as it reads,
 * VNC's update requests, would otherwise block with the peer), then shuts
 * down its writing side (the client reads EOF) and reads on until the
 * client closes its end. fuzz_peer_join waits for the thread and closes
 * the peer's end: call it after closing the client's. */
struct fuzz_peer {
	pthread_t thread;
	int fd;
	const uint8_t *data;
	size_t size, piece;
};

static inline void *fuzz_peer_run(void *arg)
{
	struct fuzz_peer *p = arg;
	char buf[4096];
	size_t at = 0;
	int writing = 1;
	for (;;) {
		if (writing && at == p->size) {
			shutdown(p->fd, SHUT_WR);
			writing = 0;
		}
		struct pollfd pfd = { .fd = p->fd, .events = POLLIN | (writing ? POLLOUT : 0) };
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
				break; /* the client closed its end */
		}
		if (writing && (pfd.revents & POLLOUT)) {
			size_t n = p->size - at < p->piece ? p->size - at : p->piece;
			/* MSG_NOSIGNAL: the client may close before all is written */
			ssize_t w = send(p->fd, p->data + at, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				at += (size_t)w;
			else if (w < 0 && errno != EINTR && errno != EAGAIN)
				at = p->size; /* the client is gone: stop writing */
		}
	}
	return NULL;
}

static inline int fuzz_peer_start(struct fuzz_peer *p, const uint8_t *data, size_t size, size_t piece)
{
	int sv[2];
	fuzz_check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	p->fd = sv[1];
	p->data = data;
	p->size = size;
	p->piece = piece ? piece : 1;
	fuzz_check(pthread_create(&p->thread, NULL, fuzz_peer_run, p) == 0, "pthread_create");
	return sv[0];
}

static inline void fuzz_peer_join(struct fuzz_peer *p)
{
	pthread_join(p->thread, NULL);
	close(p->fd);
}

#endif
