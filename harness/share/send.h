/* send: one bundle POSTed to a results server (hilrun upload --server;
 * docs/upload.md) with libcurl, again after transient failures.
 *
 * Transient: no connection (refused, reset, DNS), a timeout, a reply cut
 * short, a 5xx, a 429. Each is tried again after a delay that doubles from
 * SEND_BACKOFF_FIRST_MS up to SEND_BACKOFF_MAX_MS; a 429's Retry-After (in
 * seconds, at most SEND_RETRY_AFTER_MAX_S) is waited for instead when it is
 * longer. At most o->attempts tries (SEND_ATTEMPTS_DEFAULT). Any other
 * answer, a 4xx rejection above all, is final and never sent again.
 *
 * Ownership: struct send_answer owns its body (json_decref'ed by
 * send_answer_release). */
#ifndef HIL_SEND_H
#define HIL_SEND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SEND_ATTEMPTS_DEFAULT 5
#define SEND_BACKOFF_FIRST_MS 500
#define SEND_BACKOFF_MAX_MS 8000
#define SEND_RETRY_AFTER_MAX_S 120
/* The largest answer read from a server (every finding of a rejection). */
#define SEND_ANSWER_MAX (1024 * 1024)
#define SEND_CONNECT_TIMEOUT_S 10
/* A transfer slower than 1 byte/s for this long is a timeout. */
#define SEND_STALL_S 60

enum send_outcome {
	SEND_ANSWERED,    /* the server answered, finally: see http_status */
	SEND_UNREACHABLE, /* every attempt failed transiently (lab error) */
	SEND_BAD_URL,     /* the URL, protocol or certificate cannot be used, or
			   * the server redirects (never followed): a usage
			   * error, error says why */
};

struct send_answer {
	long http_status;
	json_t *body;     /* the answer's JSON, or NULL if it was not JSON */
	char error[256];  /* the last transient failure, for people */
	int attempts;
};

/* Called before each retry: why the attempt failed, and the wait. */
typedef void send_retry_fn(void *ctx, int attempt, int attempts, const char *why, int64_t wait_ms);

struct send_options {
	int attempts;       /* tries at most (SEND_ATTEMPTS_DEFAULT) */
	const char *cacert; /* PEM file of the CAs an https server's
			     * certificate is checked against (NULL: the
			     * system's) */
};

/* POST tar (len bytes) to SERVER/api/v1/runs. */
enum send_outcome send_bundle(const char *server, const void *tar, size_t len,
			      const struct send_options *o, struct send_answer *a,
			      send_retry_fn *on_retry, void *ctx);
void send_answer_release(struct send_answer *a);

#endif
