/* snapshot: see snapshot.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "snapshot.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* One fetch may take this long; a device that stalls longer is broken. */
#define SNAPSHOT_FETCH_MS 5000

struct body {
	char *data;
	size_t len, cap;
	int too_big;
};

struct snapshot {
	CURL *curl;           /* used by the opener, then only by the worker */
	char *url;            /* as given (credentials included): for curl only */
	char *shown;          /* redacted, for messages */
	int efd;
	pthread_t worker;
	int worker_started;

	pthread_mutex_t mu;   /* guards what follows */
	pthread_cond_t cv;
	int want, quit;
	int ready, failed;    /* a fetch finished since the last pump */
	struct frame fetched; /* its frame (ready) */
	char fail_msg[512];   /* its error (failed) */
	char described[96];   /* what the last snapshot was */

	struct frame last;    /* owned by the caller's thread */
	int have_last;
};

int snapshot_is_url(const char *endpoint)
{
	return !strncmp(endpoint, "http://", 7) || !strncmp(endpoint, "https://", 8);
}

/* The ":password" of a URL's user info runs from *colon to *at (the '@'
 * before the host); 0 if the URL carries no password. */
static int find_password(const char *url, const char **colon, const char **at)
{
	const char *auth = strstr(url, "://");
	if (!auth)
		return 0;
	auth += 3;
	*at = memrchr(auth, '@', strcspn(auth, "/?#"));
	*colon = *at ? memchr(auth, ':', (size_t)(*at - auth)) : NULL;
	return *colon != NULL;
}

char *snapshot_redact(const char *url)
{
	const char *colon, *at;
	if (!find_password(url, &colon, &at))
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(colon - url), url, at);
}

static size_t on_body(char *ptr, size_t size, size_t n, void *userdata)
{
	struct body *b = userdata;
	size_t add = size * n;
	if (b->len + add > SNAPSHOT_BODY_MAX) {
		b->too_big = 1;
		return 0; /* curl stops the transfer */
	}
	if (b->len + add > b->cap) {
		b->cap = (b->len + add) * 2;
		b->data = xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, ptr, add);
	b->len += add;
	return add;
}

/* curl's progress callback: a snapshot being closed stops its fetch. */
static int on_progress(void *userdata, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	struct snapshot *s = userdata;
	pthread_mutex_lock(&s->mu);
	int quit = s->quit;
	pthread_mutex_unlock(&s->mu);
	return quit;
}

static void say_http_status(struct snapshot *s, long status, const char *ctype, struct hil_err *err)
{
	if (status == 401 || status == 403)
		hil_seterr(err, "%s refused the credentials (HTTP %ld): give them as "
			   "http(s)://USER:PASSWORD@HOST/... or in $HILRUN_CAPTURE_AUTH", s->shown, status);
	else if (status == 404)
		hil_seterr(err, "%s: no snapshot there (HTTP 404; ustreamer serves /snapshot, "
			   "PiKVM /api/streamer/snapshot)", s->shown);
	else
		hil_seterr(err, "%s answered HTTP %ld (%s), not a snapshot", s->shown, status,
			   ctype ? ctype : "no Content-Type");
}

/* One GET and its JPEG decoded into out. The worker calls it without the
 * lock; the opener before the worker exists. */
static int fetch(struct snapshot *s, long timeout_ms, struct frame *out, char *described,
		 size_t described_len, struct hil_err *err)
{
	struct body b = { 0 };
	char curl_msg[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, curl_msg);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L);
	CURLcode rc = curl_easy_perform(s->curl);
	int ret = -1;
	long status = 0;
	char *ctype = NULL;
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(s->curl, CURLINFO_CONTENT_TYPE, &ctype);
	if (b.too_big)
		hil_seterr(err, "%s: the snapshot is larger than %d MiB", s->shown,
			   SNAPSHOT_BODY_MAX >> 20);
	else if (rc != CURLE_OK)
		hil_seterr(err, "%s: %s", s->shown, *curl_msg ? curl_msg : curl_easy_strerror(rc));
	else if (status != 200)
		say_http_status(s, status, ctype, err);
	else if (frame_decode(out, s->shown, b.data, b.len, err) == 0) {
		snprintf(described, described_len, "%s, %zu KiB", ctype ? ctype : "no Content-Type",
			 (b.len + 1023) / 1024);
		ret = 0;
	}
	free(b.data);
	return ret;
}

static void *worker_main(void *arg)
{
	struct snapshot *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->want && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->quit)
			break;
		s->want = 0;
		pthread_mutex_unlock(&s->mu);

		struct frame f;
		frame_init(&f);
		struct hil_err err;
		char described[sizeof s->described];
		int rc = fetch(s, SNAPSHOT_FETCH_MS, &f, described, sizeof described, &err);

		pthread_mutex_lock(&s->mu);
		if (rc == 0) {
			frame_release(&s->fetched);
			s->fetched = f;
			s->ready = 1;
			memcpy(s->described, described, sizeof described);
		} else {
			snprintf(s->fail_msg, sizeof s->fail_msg, "%s", err.msg);
			s->failed = 1;
		}
		uint64_t one = 1;
		if (write(s->efd, &one, sizeof one) < 0) {
			/* an eventfd counter cannot overflow at one write per fetch */
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A password in the URL wins; else $HILRUN_CAPTURE_AUTH (also when the URL
 * names only the user, as a journalled invocation keeps it); else netrc. */
static void set_credentials(struct snapshot *s)
{
	const char *colon, *at;
	int password_in_url = find_password(s->url, &colon, &at);
	const char *env = getenv("HILRUN_CAPTURE_AUTH");
	if (!password_in_url && env && *env)
		curl_easy_setopt(s->curl, CURLOPT_USERPWD, env);
	else if (!password_in_url)
		curl_easy_setopt(s->curl, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	/* Sent with the first request: a device need not ask first. */
	curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
}

struct snapshot *snapshot_open(const char *url, int64_t deadline, struct hil_err *err)
{
	if (!snapshot_is_url(url)) {
		hil_seterr(err, "%s is not an http:// or https:// URL", url);
		return NULL;
	}
	pthread_once(&curl_once, curl_init_once);
	struct snapshot *s = xcalloc(1, sizeof *s);
	s->url = xstrdup(url);
	s->shown = snapshot_redact(url);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	frame_init(&s->fetched);
	frame_init(&s->last);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->curl = curl_easy_init();
	if (s->efd < 0 || !s->curl) {
		hil_seterr(err, "%s: cannot set up the HTTP client (%s)", s->shown,
			   s->efd < 0 ? strerror(errno) : "curl_easy_init failed");
		snapshot_close(s);
		return NULL;
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, s->url);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS */
	curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "hilrun/" HILRUN_VERSION);
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	const char *ca = getenv("HILRUN_CAPTURE_CA");
	if (ca && *ca)
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, ca);
	set_credentials(s);

	char described[sizeof s->described];
	if (fetch(s, ms_left(deadline), &s->last, described, sizeof described, err) < 0) {
		snapshot_close(s);
		return NULL;
	}
	s->have_last = 1;
	memcpy(s->described, described, sizeof described);
	if (pthread_create(&s->worker, NULL, worker_main, s) != 0) {
		hil_seterr(err, "%s: cannot start the snapshot thread", s->shown);
		snapshot_close(s);
		return NULL;
	}
	s->worker_started = 1;
	return s;
}

int snapshot_fd(const struct snapshot *s)
{
	return s->efd;
}

int snapshot_request_full(struct snapshot *s, struct hil_err *err)
{
	(void)err; /* the fetch reports its own errors through snapshot_pump */
	pthread_mutex_lock(&s->mu);
	s->want = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int snapshot_pump(struct snapshot *s, struct hil_err *err)
{
	uint64_t count;
	if (read(s->efd, &count, sizeof count) < 0 && errno != EAGAIN) {
		hil_seterr(err, "%s: eventfd: %s", s->shown, strerror(errno));
		return -1;
	}
	int rc = 0;
	pthread_mutex_lock(&s->mu);
	if (s->ready) {
		frame_release(&s->last);
		s->last = s->fetched;
		frame_init(&s->fetched);
		s->have_last = 1;
		s->ready = 0;
		rc = 1;
	} else if (s->failed) {
		hil_seterr(err, "%s", s->fail_msg);
		s->failed = 0;
		rc = -1;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int snapshot_take_frame(struct snapshot *s, struct frame *out)
{
	if (!s->have_last)
		return -1;
	frame_copy(out, &s->last);
	return 0;
}

int snapshot_grab(struct snapshot *s, struct frame *out, int64_t deadline, struct hil_err *err)
{
	snapshot_request_full(s, err);
	for (;;) {
		int left = ms_left(deadline);
		if (left <= 0) {
			hil_seterr(err, "%s: no snapshot before the deadline", s->shown);
			return -1;
		}
		struct pollfd p = { .fd = s->efd, .events = POLLIN };
		if (poll(&p, 1, left) < 0 && errno != EINTR) {
			hil_seterr(err, "%s: poll: %s", s->shown, strerror(errno));
			return -1;
		}
		int r = snapshot_pump(s, err);
		if (r < 0)
			return -1;
		if (r == 1)
			return snapshot_take_frame(s, out);
	}
}

void snapshot_size(const struct snapshot *s, int *width, int *height)
{
	if (width)
		*width = s->have_last ? s->last.width : 0;
	if (height)
		*height = s->have_last ? s->last.height : 0;
}

const char *snapshot_url(const struct snapshot *s)
{
	return s->shown;
}

const char *snapshot_describe(const struct snapshot *s)
{
	return s->described;
}

void snapshot_close(struct snapshot *s)
{
	if (!s)
		return;
	if (s->worker_started) {
		pthread_mutex_lock(&s->mu);
		s->quit = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->worker, NULL);
	}
	if (s->curl)
		curl_easy_cleanup(s->curl);
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	frame_release(&s->fetched);
	frame_release(&s->last);
	free(s->url);
	free(s->shown);
	free(s);
}
