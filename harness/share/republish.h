/* republish: the results server's matrix (docs/upload.md, "The matrix"):
 * built from the lab's results directories and the store
 * (publish/matrix.h), written into STORE/matrix/, and built again after
 * accepted uploads, at most once per period.
 *
 * STORE/matrix is a symbolic link to a generation STORE/matrix.d/G/,
 * written whole first; the link is replaced by rename(2), so a reader sees
 * one whole matrix or the one before, never half of one. The generation
 * before is removed after.
 *
 * A thread does the work: republish_start builds once at once (in the
 * thread), republish_poke asks for another (coalesced: pokes within the
 * period make one build, at the period's end), republish_stop waits for a
 * build under way and ends the thread.
 *
 * Ownership: the strings, the directories and the catalog are borrowed
 * for the republisher's life. */
#ifndef HIL_REPUBLISH_H
#define HIL_REPUBLISH_H

#include <pthread.h>
#include <stdint.h>
#include "catalog.h"
#include "matrix.h"

#define REPUBLISH_PERIOD_DEFAULT 10 /* seconds between two builds at least */
#define REPUBLISH_DIR "matrix"      /* STORE/matrix: the link served */

struct republish {
	struct matrix_source src[MATRIX_SOURCES_MAX];
	size_t nsrc;
	const char *store_dir;
	const struct catalog *cat;
	unsigned period_s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wanted, stop, started;
	unsigned long generation; /* builds done (the test waits on the log) */
};

/* The lab's results directories (may be none) and the store. */
void republish_init(struct republish *r, const char *store_dir, const char *const *results,
		    size_t nresults, const struct catalog *cat, unsigned period_s);
int republish_start(struct republish *r, struct hil_err *err);
void republish_poke(struct republish *r);
void republish_stop(struct republish *r);

/* One build now, in the caller's thread: 0, or -1 and err. */
int republish_now(struct republish *r, struct hil_err *err);

#endif
