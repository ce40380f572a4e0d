/* store: the results server's store of accepted runs (docs/upload.md).
 *
 *   DIR/runs/CONTRIBUTOR/RUN_ID/   one accepted run: manifest.json,
 *                                  manifest.sig, run.json and the run's
 *                                  artifacts, byte for byte as uploaded
 *   DIR/tmp/put-XXXXXX/            a run being written; whatever is left
 *                                  there (a server killed mid-write) is
 *                                  removed by store_open and never served
 *
 * A run is written whole under DIR/tmp (each file and the directory
 * fsync'ed), then renamed into DIR/runs in one step (renameat2 with
 * RENAME_NOREPLACE), so a reader sees a run whole or not at all. The
 * contributor id and run id must already be safe names (the validator's
 * key_id_check and bundle_name_problem).
 *
 * A run stored again is compared by its manifest.json bytes: the same
 * bytes are "already stored", others a conflict. Each contributor may
 * store at most max_contributor_bytes (the sum of their stored files).
 * store_put and store_list may be called from several threads: one mutex
 * orders the puts and the usage counts.
 *
 * Ownership: struct store owns its path and its usage table; store_list
 * returns a new reference the caller json_decrefs. */
#ifndef HIL_STORE_H
#define HIL_STORE_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include "bundle.h"
#include "util.h"

/* Default cap on the bytes one contributor may store (hilrun serve
 * --max-contributor-bytes). */
#define STORE_CONTRIBUTOR_MAX_DEFAULT (1024ull * 1024 * 1024)

struct store_usage {
	char *contributor;
	uint64_t bytes;
};

struct store {
	char *dir;
	uint64_t max_contributor_bytes;
	pthread_mutex_t lock;
	struct store_usage *use;
	size_t nuse, capuse;
};

enum store_result {
	STORE_CREATED,  /* stored now */
	STORE_EXISTS,   /* the same run (manifest bytes) was already stored */
	STORE_CONFLICT, /* this run id is stored with another manifest */
	STORE_QUOTA,    /* the contributor would store more than allowed */
	STORE_FAILED,   /* the disk said no (err says why): the store is unchanged */
};

/* Open (and create) DIR/runs and DIR/tmp, remove everything under
 * DIR/tmp (*removed, may be NULL, counts the entries), and count each
 * contributor's stored bytes. */
int store_open(struct store *s, const char *dir, uint64_t max_contributor_bytes, size_t *removed,
	       struct hil_err *err);
void store_close(struct store *s);

/* Store bundle b (its every file: the validated bundle) as contributor's
 * run_id. */
enum store_result store_put(struct store *s, const char *contributor, const char *run_id,
			    const struct bundle *b, struct hil_err *err);

/* The bytes contributor has stored. */
uint64_t store_usage(struct store *s, const char *contributor);

/* DIR/runs/CONTRIBUTOR/RUN_ID; caller frees. */
char *store_run_dir(const struct store *s, const char *contributor, const char *run_id);

/* Every stored run whose card id is card (NULL: all), sorted by
 * contributor then run id: [{contributor, run_id, card, verdict, host,
 * url}], host being run.json's host.hostname and url
 * "/runs/CONTRIBUTOR/RUN_ID". A run whose run.json cannot be read is
 * listed with null fields. */
json_t *store_list(struct store *s, const char *card);

#endif
