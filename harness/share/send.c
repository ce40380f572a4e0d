/* send: a bundle to a results server, with retries (send.h). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "send.h"
#include "util.h"

#define SEND_PATH "/api/v1/runs"

struct body {
	struct strbuf sb;
	int over;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct body *b = ctx;
	if (b->sb.len + size * n > SEND_ANSWER_MAX) {
		b->over = 1;
		return 0;
	}
	sb_add(&b->sb, data, size * n);
	return size * n;
}

static int transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0)
		;
}

void send_answer_release(struct send_answer *a)
{
	json_decref(a->body);
	memset(a, 0, sizeof *a);
}

enum send_outcome send_bundle(const char *server, const void *tar, size_t len,
			      const struct send_options *o, struct send_answer *a,
			      send_retry_fn *on_retry, void *ctx)
{
	int attempts = o->attempts > 0 ? o->attempts : SEND_ATTEMPTS_DEFAULT;
	memset(a, 0, sizeof *a);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *curl = curl_easy_init();
	size_t slen = strlen(server);
	while (slen && server[slen - 1] == '/')
		slen--;
	char *url = xasprintf("%.*s" SEND_PATH, (int)slen, server);
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/x-tar");
	char curl_msg[CURL_ERROR_SIZE];
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, tar);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_msg);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)SEND_CONNECT_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long)SEND_STALL_S);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "hilrun/" HILRUN_VERSION);
	if (o->cacert)
		curl_easy_setopt(curl, CURLOPT_CAINFO, o->cacert);
	enum send_outcome out = SEND_UNREACHABLE;
	int64_t backoff = SEND_BACKOFF_FIRST_MS;
	for (int i = 1; i <= attempts; i++) {
		struct body b = { STRBUF_INIT, 0 };
		curl_msg[0] = '\0';
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
		CURLcode rc = curl_easy_perform(curl);
		a->attempts = i;
		int64_t wait = backoff;
		if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && b.over)) {
			curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a->http_status);
			json_decref(a->body);
			a->body = b.sb.len ? json_loadb(b.sb.buf, b.sb.len, 0, NULL) : NULL;
			if (a->http_status >= 300 && a->http_status < 400) {
				/* never followed: a POST is not sent on to elsewhere */
				char *to = NULL;
				curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &to);
				size_t n = to ? strlen(to) : 0, tail = strlen(SEND_PATH);
				if (n > tail && !strcmp(to + n - tail, SEND_PATH))
					n -= tail; /* the server's address, as --server wants it */
				snprintf(a->error, sizeof a->error,
					 "HTTP %ld: the server sends uploads to %.*s: give that as --server",
					 a->http_status, (int)n, to ? to : "");
				if (!to)
					snprintf(a->error, sizeof a->error,
						 "HTTP %ld: the server redirects uploads elsewhere",
						 a->http_status);
				sb_release(&b.sb);
				out = SEND_BAD_URL;
				break;
			}
			if (a->http_status != 429 && a->http_status < 500) {
				sb_release(&b.sb);
				out = SEND_ANSWERED;
				break;
			}
			snprintf(a->error, sizeof a->error, "HTTP %ld", a->http_status);
			struct curl_header *h;
			if (a->http_status == 429 &&
			    curl_easy_header(curl, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
				long secs = strtol(h->value, NULL, 10);
				if (secs > SEND_RETRY_AFTER_MAX_S)
					secs = SEND_RETRY_AFTER_MAX_S;
				if (secs * 1000 > wait)
					wait = secs * 1000;
				snprintf(a->error, sizeof a->error, "HTTP 429, Retry-After %ld s", secs);
			}
			/* the last answer stays the answer if no attempt is left */
			out = SEND_ANSWERED;
		} else {
			snprintf(a->error, sizeof a->error, "%s", curl_msg[0] ? curl_msg : curl_easy_strerror(rc));
			out = transient_curl(rc) ? SEND_UNREACHABLE : SEND_BAD_URL;
		}
		sb_release(&b.sb);
		if (out == SEND_BAD_URL || i == attempts)
			break;
		if (on_retry)
			on_retry(ctx, i, attempts, a->error, wait);
		sleep_ms(wait);
		backoff = backoff * 2 > SEND_BACKOFF_MAX_MS ? SEND_BACKOFF_MAX_MS : backoff * 2;
	}
	/* a 5xx or 429 on the last attempt: the server is there but will not
	 * take it now, which is the lab's problem, not the run's */
	if (out == SEND_ANSWERED && (a->http_status == 429 || a->http_status >= 500))
		out = SEND_UNREACHABLE;
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	free(url);
	return out;
}
