/* serve: the results server (hilrun serve; docs/upload.md, "The server").
 * libmicrohttpd, one thread per connection, over HTTP, or HTTPS when given
 * a certificate and key (PEM files, at most SERVE_PEM_MAX bytes each),
 * answering:
 *
 *   POST /api/v1/runs          a bundle (Content-Type: application/x-tar),
 *                              read up to SERVE_BODY_MAX bytes, validated
 *                              at once with the validator (validate.h)
 *                              against the keys, stored (store.h)
 *   GET  /api/v1/runs?card=ID  the stored runs as JSON
 *   GET  /runs/C/R             a run's page (HTML, every value escaped)
 *   GET  /runs/C/R/FILE        one of its files, as stored
 *   GET  /                     the matrix (republish.h): matrix.html
 *   GET  /matrix.{html,md,json} its files
 *   GET  /runs/R.html, /runs/C/R.html  its run pages (the lab's, C's)
 *
 * Answers to uploads are JSON: findings_json (findings.h) and "status",
 * plus "url", "contributor" and "run_id" when stored. Status codes:
 * 201 stored, 200 already stored, 400 the tar or manifest cannot be
 * read, 401 no key for the contributor, 403 a bad signature (or the
 * record's contributor is not the key's) or the contributor's store cap,
 * 409 the run id is stored with other content, 413 a body over
 * SERVE_BODY_MAX, 415 not application/x-tar, 422 any other finding,
 * 429 the contributor's rate (with Retry-After), 500 the store failed.
 *
 * serve_run blocks SIGHUP, SIGINT and SIGTERM and reads them from a
 * signalfd in its own loop: SIGHUP reloads the keys file (a file that
 * fails to parse keeps the keys in use, and FILE:LINE is logged),
 * SIGINT/SIGTERM stop the server: no new connections, and those under
 * way get SERVE_STOP_GRACE_MS to be answered. One line per request goes
 * to stderr: method, path, status, contributor, body bytes, milliseconds.
 *
 * Ownership: the config's strings and catalog are borrowed for the
 * server's life. */
#ifndef HIL_SERVE_H
#define HIL_SERVE_H

#include <stdint.h>
#include "bundle.h"
#include "catalog.h"
#include "util.h"

/* The largest request body read: a bundle at its limits, with its tar
 * headers and padding. Past it: 413, the rest unread. */
#define SERVE_BODY_MAX ((size_t)BUNDLE_MAX_TOTAL + (BUNDLE_MAX_ENTRIES + 4) * 1024 + 10240)
/* Defaults of hilrun serve's options. */
#define SERVE_TIMEOUT_DEFAULT 30       /* seconds a connection may sit idle */
#define SERVE_UPLOAD_TIME_DEFAULT 600  /* seconds an upload's body may take in all */
#define SERVE_CONNECTIONS_DEFAULT 64   /* connections at once */
#define SERVE_RATE_DEFAULT 60          /* uploads per contributor per minute */
#define SERVE_PEM_MAX (1024 * 1024)    /* bytes of a certificate (chain) or key file */
#define SERVE_STOP_GRACE_MS 10000      /* how long a stop waits for requests under way */
#define SERVE_MATRIX_MAX (64 * 1024 * 1024) /* bytes of a matrix file served */

struct serve_config {
	const char *store_dir;
	const char *keys_path;
	const char *addr; /* IPv4 address to listen on */
	uint16_t port;
	uint64_t max_contributor_bytes;
	unsigned timeout_s;
	unsigned upload_time_s; /* a body still arriving after this is dropped */
	unsigned max_connections;
	unsigned rate_per_minute; /* 0: no rate limit */
	const char *tls_cert, *tls_key; /* PEM files: HTTPS (both or neither) */
	const struct catalog *cat; /* cards known (NULL: not looked up) */
	const char *const *results; /* lab results directories in the matrix */
	size_t nresults;
	unsigned republish_s; /* seconds between two builds of the matrix at least */
};

void serve_config_defaults(struct serve_config *c);
/* "ADDR:PORT" into c; -1 and err if it is not an IPv4 address and port. */
int serve_parse_listen(struct serve_config *c, char *arg, struct hil_err *err);

/* Serve until SIGINT or SIGTERM: 0; -1 and err if it cannot start (the
 * store, the keys file, the certificate or key, the address). */
int serve_run(const struct serve_config *c, struct hil_err *err);

/* The HTTP status for a rejected upload's findings (see above). */
unsigned serve_status_for(const struct findings *f);

#endif
