/* serve: the results server over libmicrohttpd (serve.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "confine.h"
#include "findings.h"
#include "keys.h"
#include "republish.h"
#include "serve.h"
#include "store.h"
#include "validate.h"

#define TAR_TYPE "application/x-tar"
/* The longest method or path a log line quotes. */
#define SERVE_LOG_FIELD_MAX 256

/* A contributor's token bucket: rate_per_minute tokens at most, one
 * earned back every 60 / rate_per_minute seconds. */
struct bucket {
	char id[KEY_ID_MAX + 1];
	double tokens;
	int64_t at_ms;
};

struct server {
	const struct serve_config *cfg;
	struct store store;
	pthread_rwlock_t keys_lock;
	struct keyring keys;
	pthread_mutex_t rate_lock;
	struct bucket *buckets;
	size_t nbuckets, capbuckets;
	struct republish matrix;
};

/* One request's state, from its first call to its completion. */
struct req {
	int64_t t0;
	char *method, *path;
	unsigned status;
	char contributor[KEY_ID_MAX + 1];
	struct strbuf body;
	int upload;  /* POST /api/v1/runs, headers accepted: reading the body */
	const char *dropped; /* why the body was dropped (logged), or NULL */
	unsigned retry_after; /* seconds, sent as Retry-After when not 0 */
};

void serve_config_defaults(struct serve_config *c)
{
	memset(c, 0, sizeof *c);
	c->addr = "127.0.0.1";
	c->port = 8080;
	c->max_contributor_bytes = STORE_CONTRIBUTOR_MAX_DEFAULT;
	c->timeout_s = SERVE_TIMEOUT_DEFAULT;
	c->upload_time_s = SERVE_UPLOAD_TIME_DEFAULT;
	c->max_connections = SERVE_CONNECTIONS_DEFAULT;
	c->rate_per_minute = SERVE_RATE_DEFAULT;
	c->republish_s = REPUBLISH_PERIOD_DEFAULT;
}

int serve_parse_listen(struct serve_config *c, char *arg, struct hil_err *err)
{
	char *colon = strrchr(arg, ':'), *end;
	struct in_addr a;
	if (!colon) {
		hil_seterr(err, "--listen: expected ADDR:PORT, got '%s'", arg);
		return -1;
	}
	*colon = '\0';
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (inet_pton(AF_INET, arg, &a) != 1 || !colon[1] || *end || errno || port == 0 ||
	    port > 65535) {
		*colon = ':';
		hil_seterr(err, "--listen: expected an IPv4 address and a port (127.0.0.1:8080), got '%s'",
			   arg);
		return -1;
	}
	c->addr = arg;
	c->port = (uint16_t)port;
	return 0;
}

static int has_code(const struct findings *f, const char *const *codes)
{
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = 0; codes[j]; j++) {
			size_t n = strlen(codes[j]);
			if (f->v[i].level == FINDING_ERROR &&
			    (codes[j][n - 1] == '-' ? !strncmp(f->v[i].code, codes[j], n)
						     : !strcmp(f->v[i].code, codes[j])))
				return 1;
		}
	return 0;
}

unsigned serve_status_for(const struct findings *f)
{
	/* a code ending in '-' is a prefix */
	static const char *const unreadable[] = { "bundle-", "entry-", "name-", "manifest-",
						  "truncated", "too-many-entries", "file-too-big",
						  NULL };
	static const char *const unknown[] = { "contributor-unknown", NULL };
	static const char *const forged[] = { "signature-", "contributor-mismatch", NULL };
	if (f->dropped || has_code(f, unreadable))
		return MHD_HTTP_BAD_REQUEST;
	if (has_code(f, unknown))
		return MHD_HTTP_UNAUTHORIZED;
	if (has_code(f, forged))
		return MHD_HTTP_FORBIDDEN;
	return MHD_HTTP_UNPROCESSABLE_CONTENT;
}

/* Queue an answer of len bytes (copied) with its content type. */
static enum MHD_Result answer(struct MHD_Connection *c, struct req *r, unsigned status,
			      const char *type, const void *data, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->retry_after) {
		char secs[16];
		snprintf(secs, sizeof secs, "%u", r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
	}
	enum MHD_Result ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	r->status = status;
	return ret;
}

static enum MHD_Result answer_json(struct MHD_Connection *c, struct req *r, unsigned status,
				   json_t *o)
{
	char *text = json_dumps(o, JSON_INDENT(2));
	char *line = xasprintf("%s\n", text);
	enum MHD_Result ret = answer(c, r, status, "application/json", line, strlen(line));
	free(line);
	free(text);
	json_decref(o);
	return ret;
}

/* A rejection with one finding of its own (not the validator's). */
static enum MHD_Result reject(struct MHD_Connection *c, struct req *r, unsigned status,
			      const char *code, const char *msg)
{
	struct findings f;
	findings_init(&f);
	findings_add(&f, FINDING_ERROR, code, NULL, "%s", msg);
	json_t *o = findings_json(&f);
	json_object_set_new(o, "status", json_string("rejected"));
	findings_release(&f);
	return answer_json(c, r, status, o);
}

/* Take one upload from contributor's bucket: 0, or the seconds until one
 * is there. */
static unsigned rate_take(struct server *s, const char *contributor)
{
	unsigned rate = s->cfg->rate_per_minute;
	if (!rate)
		return 0;
	pthread_mutex_lock(&s->rate_lock);
	struct bucket *b = NULL;
	for (size_t i = 0; i < s->nbuckets && !b; i++)
		if (!strcmp(s->buckets[i].id, contributor))
			b = &s->buckets[i];
	int64_t now = now_ms();
	if (!b) {
		if (s->nbuckets == s->capbuckets) {
			s->capbuckets = s->capbuckets ? 2 * s->capbuckets : 16;
			s->buckets = xrealloc(s->buckets, s->capbuckets * sizeof *s->buckets);
		}
		b = &s->buckets[s->nbuckets++];
		memset(b, 0, sizeof *b);
		snprintf(b->id, sizeof b->id, "%s", contributor);
		b->tokens = rate;
		b->at_ms = now;
	}
	b->tokens = fmin(rate, b->tokens + (double)(now - b->at_ms) * rate / 60000.0);
	b->at_ms = now;
	unsigned wait = 0;
	if (b->tokens >= 1)
		b->tokens -= 1;
	else
		wait = (unsigned)ceil((1 - b->tokens) * 60.0 / rate);
	pthread_mutex_unlock(&s->rate_lock);
	return wait;
}

/* Did the signature check pass (so that the contributor is who the
 * bundle says)? */
static int authenticated(const struct findings *f, const struct validated *v)
{
	static const char *const codes[] = { "signature-", "contributor-", "manifest-", NULL };
	return v->contributor[0] && !has_code(f, codes);
}

static enum MHD_Result upload_done(struct server *s, struct MHD_Connection *c, struct req *r)
{
	struct findings f;
	struct validated v;
	findings_init(&f);
	pthread_rwlock_rdlock(&s->keys_lock);
	validate_bundle(r->body.buf ? r->body.buf : "", r->body.len, &s->keys, s->cfg->cat, NULL, &f,
			&v);
	pthread_rwlock_unlock(&s->keys_lock);
	if (authenticated(&f, &v)) {
		snprintf(r->contributor, sizeof r->contributor, "%s", v.contributor);
		unsigned wait = rate_take(s, v.contributor);
		if (wait) {
			findings_release(&f);
			char *msg = xasprintf("contributor %s sent more than %u uploads a minute: try again in %u s",
					      v.contributor, s->cfg->rate_per_minute, wait);
			r->retry_after = wait;
			enum MHD_Result ret = reject(c, r, MHD_HTTP_TOO_MANY_REQUESTS, "rate-limited", msg);
			free(msg);
			return ret;
		}
	}
	unsigned status;
	const char *what = "rejected";
	struct hil_err err;
	if (findings_errors(&f)) {
		status = serve_status_for(&f);
	} else {
		struct bundle b;
		struct findings ignored;
		bundle_init(&b);
		findings_init(&ignored);
		bundle_read(r->body.buf, r->body.len, NULL, &b, &ignored);
		findings_release(&ignored);
		switch (store_put(&s->store, v.contributor, v.run_id, &b, &err)) {
		case STORE_CREATED:
			status = MHD_HTTP_CREATED, what = "stored";
			republish_poke(&s->matrix);
			break;
		case STORE_EXISTS:
			status = MHD_HTTP_OK, what = "already-stored";
			break;
		case STORE_CONFLICT:
			status = MHD_HTTP_CONFLICT;
			findings_add(&f, FINDING_ERROR, "run-conflict", NULL,
				     "run %s of %s is already stored with other content", v.run_id,
				     v.contributor);
			break;
		case STORE_QUOTA:
			status = MHD_HTTP_FORBIDDEN;
			findings_add(&f, FINDING_ERROR, "contributor-quota", NULL, "%s", err.msg);
			break;
		default:
			status = MHD_HTTP_INTERNAL_SERVER_ERROR;
			fprintf(stderr, "hilrun serve: store: %s\n", err.msg);
			findings_add(&f, FINDING_ERROR, "store-failed", NULL,
				     "the server could not store the run; try again later");
		}
		bundle_release(&b);
	}
	json_t *o = findings_json(&f);
	json_object_set_new(o, "status", json_string(what));
	if (v.run_id[0])
		json_object_set_new(o, "run_id", json_string(v.run_id));
	if (v.contributor[0])
		json_object_set_new(o, "contributor", json_string(v.contributor));
	if (status == MHD_HTTP_CREATED || status == MHD_HTTP_OK) {
		char *url = xasprintf("/runs/%s/%s", v.contributor, v.run_id);
		json_object_set_new(o, "url", json_string(url));
		free(url);
	}
	findings_release(&f);
	return answer_json(c, r, status, o);
}

/* Is name a safe contributor id / run id / file name? */
static int safe_name(const char *name)
{
	const char *code;
	return !bundle_name_problem(name, BUNDLE_NAME_MAX, &code);
}

static const char *type_of(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".png", "image/png" },
		{ ".jpg", "image/jpeg" },
		{ ".jpeg", "image/jpeg" },
		{ ".json", "application/json" },
		{ ".jsonl", "application/json" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".log", "text/plain; charset=utf-8" },
		{ ".sig", "text/plain; charset=utf-8" },
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

static enum MHD_Result not_found(struct MHD_Connection *c, struct req *r, const char *what)
{
	return answer(c, r, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", what, strlen(what));
}

/* A value from the record as text (escaped); nothing for null. */
static void cell(struct strbuf *sb, json_t *value)
{
	if (json_is_string(value)) {
		sb_add_escaped(sb, json_string_value(value));
	} else if (value && !json_is_null(value)) {
		char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
		sb_add_escaped(sb, text ? text : "");
		free(text);
	}
}

/* A <tr> of a run page: label, then one or two values from the record. */
static void row(struct strbuf *sb, const char *label, json_t *value, json_t *more)
{
	sb_addf(sb, "<tr><th>%s</th><td>", label);
	cell(sb, value);
	if (more) {
		sb_adds(sb, "</td><td>");
		cell(sb, more);
	}
	sb_adds(sb, "</td></tr>\n");
}

static enum MHD_Result run_page(struct server *s, struct MHD_Connection *c, struct req *r,
				const char *contributor, const char *run_id)
{
	char *path = xasprintf("runs/%s/%s/%s", contributor, run_id, BUNDLE_RECORD);
	size_t len;
	struct hil_err err;
	char *text = confine_read(s->store.dir, path, BUNDLE_MAX_FILE, &len, &err);
	json_t *rec = text ? json_loadb(text, len, 0, NULL) : NULL;
	free(text);
	free(path);
	if (!rec)
		return not_found(c, r, "no such run\n");
	struct strbuf sb = STRBUF_INIT;
	sb_adds(&sb, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>run ");
	sb_add_escaped(&sb, run_id);
	sb_adds(&sb, "</title></head><body>\n<h1>run ");
	sb_add_escaped(&sb, run_id);
	sb_adds(&sb, "</h1>\n<table>\n");
	json_t *who = json_string(contributor);
	row(&sb, "contributor", who, NULL);
	json_decref(who);
	json_t *card = json_object_get(rec, "card"), *host = json_object_get(rec, "host");
	row(&sb, "card", json_object_get(card, "id"), NULL);
	row(&sb, "card name", json_object_get(card, "name"), NULL);
	row(&sb, "firmware", json_object_get(rec, "firmware"), NULL);
	row(&sb, "guest", json_object_get(rec, "guest"), NULL);
	row(&sb, "variant", json_object_get(rec, "variant"), NULL);
	row(&sb, "verdict", json_object_get(rec, "verdict"), NULL);
	row(&sb, "finished", json_object_get(rec, "finished_at"), NULL);
	row(&sb, "host", json_object_get(host, "hostname"), NULL);
	row(&sb, "kernel", json_object_get(host, "kernel"), NULL);
	row(&sb, "QEMU", json_object_get(host, "qemu_version"), NULL);
	row(&sb, "hilrun", json_object_get(host, "hilrun_version"), NULL);
	sb_adds(&sb, "</table>\n<h2>stages</h2>\n<table>\n");
	size_t i;
	json_t *st;
	json_array_foreach (json_object_get(rec, "stages"), i, st)
		row(&sb, "stage", json_object_get(st, "name"), json_object_get(st, "outcome"));
	sb_adds(&sb, "</table>\n<h2>files</h2>\n<ul>\n");
	json_t *a;
	json_array_foreach (json_object_get(rec, "artifacts"), i, a) {
		const char *name = json_string_value(json_object_get(a, "path"));
		if (!name || !safe_name(name))
			continue;
		sb_adds(&sb, "<li><a href=\"");
		sb_add_escaped(&sb, run_id);
		sb_adds(&sb, "/");
		sb_add_escaped(&sb, name);
		sb_adds(&sb, "\">");
		sb_add_escaped(&sb, name);
		sb_adds(&sb, "</a></li>\n");
	}
	sb_adds(&sb, "</ul>\n<p><a href=\"/\">the matrix</a></p>\n</body></html>\n");
	json_decref(rec);
	enum MHD_Result ret =
		answer(c, r, MHD_HTTP_OK, "text/html; charset=utf-8", sb.buf, sb.len);
	sb_release(&sb);
	return ret;
}

static enum MHD_Result run_file(struct server *s, struct MHD_Connection *c, struct req *r,
				const char *contributor, const char *run_id, const char *name)
{
	char *path = xasprintf("runs/%s/%s/%s", contributor, run_id, name);
	size_t len;
	struct hil_err err;
	char *data = confine_read(s->store.dir, path, BUNDLE_MAX_FILE, &len, &err);
	free(path);
	if (!data)
		return not_found(c, r, "no such file\n");
	enum MHD_Result ret = answer(c, r, MHD_HTTP_OK, type_of(name), data, len);
	free(data);
	return ret;
}

/* A file of the published matrix (STORE/matrix/NAME; name's parts
 * checked by the caller), or NULL if there is none. */
static char *matrix_file(struct server *s, const char *name, size_t *len)
{
	char *path = xasprintf("%s/%s", REPUBLISH_DIR, name);
	struct hil_err err;
	char *data = confine_read(s->store.dir, path, SERVE_MATRIX_MAX, len, &err);
	free(path);
	return data;
}

static enum MHD_Result matrix_answer(struct server *s, struct MHD_Connection *c, struct req *r,
				     const char *name, const char *type)
{
	size_t len;
	char *data = matrix_file(s, name, &len);
	if (!data)
		return not_found(c, r, "the matrix is not published yet\n");
	enum MHD_Result ret = answer(c, r, MHD_HTTP_OK, type, data, len);
	free(data);
	return ret;
}

static int ends_html(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && !strcmp(name + n - 5, ".html");
}

/* GET /runs/CONTRIBUTOR/RUN_ID[/FILE], and the matrix's run pages:
 * /runs/RUN_ID.html (the lab's), /runs/CONTRIBUTOR/RUN_ID.html */
static enum MHD_Result runs_route(struct server *s, struct MHD_Connection *c, struct req *r,
				  const char *rest)
{
	char *copy = xstrdup(rest), *parts[4] = { 0 };
	size_t n = 0;
	for (char *save, *p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save))
		if (n < 4)
			parts[n++] = p;
	struct hil_err err;
	enum MHD_Result ret;
	size_t len;
	char *page = NULL;
	if (n >= 1 && n <= 2 && safe_name(parts[0]) && (n == 1 || safe_name(parts[1])) &&
	    ends_html(parts[n - 1])) {
		char *name = n == 1 ? xasprintf("runs/%s", parts[0])
				    : xasprintf("runs/%s/%s", parts[0], parts[1]);
		page = matrix_file(s, name, &len);
		free(name);
	}
	if (page)
		ret = answer(c, r, MHD_HTTP_OK, "text/html; charset=utf-8", page, len);
	else if (n < 2 || n > 3 || key_id_check(parts[0], &err) < 0 || !safe_name(parts[1]) ||
	    (n == 3 && !safe_name(parts[2])))
		ret = not_found(c, r, "no such run\n");
	else if (n == 2)
		ret = run_page(s, c, r, parts[0], parts[1]);
	else
		ret = run_file(s, c, r, parts[0], parts[1], parts[2]);
	free(page);
	free(copy);
	return ret;
}

/* s for the log: at most SERVE_LOG_FIELD_MAX bytes, control bytes and
 * spaces as '?' (a request cannot forge or split a log line). */
static char *loggable(const char *s)
{
	char *out = xstrndup(s, SERVE_LOG_FIELD_MAX);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			*p = '?';
	return out;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct server *s = cls;
	struct req *r = *con_cls;
	if (!r) {
		r = xcalloc(1, sizeof *r);
		r->t0 = now_ms();
		r->method = loggable(method);
		r->path = loggable(url);
		*con_cls = r;
		if (!strcmp(url, "/api/v1/runs") && !strcmp(method, "POST")) {
			const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
								       MHD_HTTP_HEADER_CONTENT_TYPE);
			const char *clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
								       MHD_HTTP_HEADER_CONTENT_LENGTH);
			size_t tl = strlen(TAR_TYPE);
			if (!type || strncasecmp(type, TAR_TYPE, tl) || (type[tl] && type[tl] != ';'))
				return reject(c, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "content-type",
					      "a bundle is sent as Content-Type: " TAR_TYPE);
			if (clen && strtoull(clen, NULL, 10) > SERVE_BODY_MAX) {
				char *msg = xasprintf("a bundle is at most %zu bytes; this one says %s",
						      SERVE_BODY_MAX, clen);
				enum MHD_Result ret =
					reject(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "body-too-big", msg);
				free(msg);
				return ret;
			}
			r->upload = 1;
			return MHD_YES;
		}
	}
	if (r->upload) {
		if (*upload_data_size) {
			if (r->body.len + *upload_data_size > SERVE_BODY_MAX) {
				/* no Content-Length (chunked) and too much: drop it */
				r->dropped = " (body over the cap: dropped)";
				r->status = MHD_HTTP_CONTENT_TOO_LARGE;
				return MHD_NO;
			}
			if (now_ms() - r->t0 > (int64_t)s->cfg->upload_time_s * 1000) {
				/* a trickle that never sits idle long enough to
				 * time out */
				r->dropped = " (body too slow: dropped)";
				return MHD_NO;
			}
			sb_add(&r->body, upload_data, *upload_data_size);
			*upload_data_size = 0;
			return MHD_YES;
		}
		r->upload = 0;
		return upload_done(s, c, r);
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		static const char msg[] = "method not allowed\n";
		return answer(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", msg,
			      sizeof msg - 1);
	}
	if (!strcmp(url, "/api/v1/runs")) {
		const char *card = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "card");
		return answer_json(c, r, MHD_HTTP_OK, store_list(&s->store, card));
	}
	if (!strncmp(url, "/runs/", 6))
		return runs_route(s, c, r, url + 6);
	if (!strcmp(url, "/") || !strcmp(url, "/matrix.html"))
		return matrix_answer(s, c, r, "matrix.html", "text/html; charset=utf-8");
	if (!strcmp(url, "/matrix.json"))
		return matrix_answer(s, c, r, "matrix.json", "application/json");
	if (!strcmp(url, "/matrix.md"))
		return matrix_answer(s, c, r, "matrix.md", "text/markdown; charset=utf-8");
	return not_found(c, r, "not found: the matrix is at /, the stored runs at /api/v1/runs\n");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c;
	struct req *r = *con_cls;
	if (!r)
		return;
	static const char *const why[] = {
		[MHD_REQUEST_TERMINATED_COMPLETED_OK] = "",
		[MHD_REQUEST_TERMINATED_WITH_ERROR] = " (dropped)",
		[MHD_REQUEST_TERMINATED_TIMEOUT_REACHED] = " (timed out)",
		[MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN] = " (server stopping)",
		[MHD_REQUEST_TERMINATED_READ_ERROR] = " (client went away)",
		[MHD_REQUEST_TERMINATED_CLIENT_ABORT] = " (client went away)",
	};
	const char *reason = (size_t)toe < sizeof why / sizeof *why && why[toe] ? why[toe] : "";
	if (r->dropped)
		reason = r->dropped;
	char status[16] = "-";
	if (r->status)
		snprintf(status, sizeof status, "%u", r->status);
	fprintf(stderr, "%s %s %s %s %zu %lld ms%s\n", r->method, r->path, status,
		r->contributor[0] ? r->contributor : "-", r->body.len,
		(long long)(now_ms() - r->t0), reason);
	sb_release(&r->body);
	free(r->method);
	free(r->path);
	free(r);
	*con_cls = NULL;
}

/* SIGHUP: the keys file again; the old keys stay if it does not parse. */
static void reload_keys(struct server *s)
{
	struct keyring fresh, old;
	struct hil_err err;
	keyring_init(&fresh);
	if (keyring_load(&fresh, s->cfg->keys_path, &err) < 0) {
		fprintf(stderr, "hilrun serve: keys not reloaded, the old ones stay: %s\n", err.msg);
		keyring_release(&fresh);
		return;
	}
	pthread_rwlock_wrlock(&s->keys_lock);
	old = s->keys;
	s->keys = fresh;
	pthread_rwlock_unlock(&s->keys_lock);
	fprintf(stderr, "hilrun serve: keys reloaded from %s: %zu key%s\n", s->cfg->keys_path,
		fresh.n, fresh.n == 1 ? "" : "s");
	keyring_release(&old);
}

int serve_run(const struct serve_config *cfg, struct hil_err *err)
{
	struct server s;
	memset(&s, 0, sizeof s);
	s.cfg = cfg;
	keyring_init(&s.keys);
	if (keyring_load(&s.keys, cfg->keys_path, err) < 0) {
		keyring_release(&s.keys);
		return -1;
	}
	size_t removed = 0;
	if (store_open(&s.store, cfg->store_dir, cfg->max_contributor_bytes, &removed, err) < 0) {
		keyring_release(&s.keys);
		return -1;
	}
	char *cert = NULL, *key = NULL;
	if (cfg->tls_cert && (!(cert = read_file(cfg->tls_cert, SERVE_PEM_MAX, NULL, err)) ||
			      !(key = read_file(cfg->tls_key, SERVE_PEM_MAX, NULL, err)))) {
		free(cert);
		store_close(&s.store);
		keyring_release(&s.keys);
		return -1;
	}
	pthread_rwlock_init(&s.keys_lock, NULL);
	pthread_mutex_init(&s.rate_lock, NULL);
	republish_init(&s.matrix, cfg->store_dir, cfg->results, cfg->nresults, cfg->cat,
		       cfg->republish_s);

	/* blocked before MHD's threads start, so that they inherit the mask
	 * and the signals come only to the signalfd */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	/* the matrix once now, in its own thread (with the signals blocked),
	 * then after uploads */
	struct hil_err merr;
	if (republish_start(&s.matrix, &merr) < 0)
		fprintf(stderr, "hilrun serve: %s: the matrix is not published\n", merr.msg);

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(cfg->port) };
	inet_pton(AF_INET, cfg->addr, &sa.sin_addr);
	struct MHD_Daemon *d = NULL;
	struct MHD_OptionItem tls[] = { { MHD_OPTION_HTTPS_MEM_CERT, 0, cert },
					{ MHD_OPTION_HTTPS_MEM_KEY, 0, key },
					{ MHD_OPTION_END, 0, NULL } };
	if (sfd >= 0)
		d = MHD_start_daemon(
			MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_USE_ITC |
				(cert ? MHD_USE_TLS : 0),
			0, NULL, NULL, on_request, &s, MHD_OPTION_SOCK_ADDR, &sa,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_ARRAY,
			cert ? tls : tls + 2, MHD_OPTION_END);
	int rc = -1;
	if (!d) {
		hil_seterr(err, "cannot listen on %s:%u%s%s", cfg->addr, (unsigned)cfg->port,
			   sfd < 0 ? ": signalfd: " : " (libmicrohttpd said why above)",
			   sfd < 0 ? strerror(errno) : "");
		goto out;
	}
	fprintf(stderr,
		"hilrun serve: listening on %s:%u (%s), store %s (%zu leftover%s removed from tmp), %zu key%s\n",
		cfg->addr, (unsigned)cfg->port, cert ? "https" : "http", cfg->store_dir, removed, removed == 1 ? "" : "s",
		s.keys.n, s.keys.n == 1 ? "" : "s");
	for (;;) {
		struct signalfd_siginfo si;
		ssize_t n = read(sfd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof si) {
			hil_seterr(err, "signalfd: %s", strerror(errno));
			break;
		}
		if (si.ssi_signo == SIGHUP) {
			reload_keys(&s);
			continue;
		}
		fprintf(stderr, "hilrun serve: %s: stopping\n", strsignal((int)si.ssi_signo));
		rc = 0;
		break;
	}
	/* no new connections; those under way get SERVE_STOP_GRACE_MS to be
	 * answered */
	MHD_socket listen_fd = MHD_quiesce_daemon(d);
	if (listen_fd != MHD_INVALID_SOCKET)
		close(listen_fd);
	int64_t deadline = now_ms() + SERVE_STOP_GRACE_MS;
	const union MHD_DaemonInfo *info;
	while ((info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS)) &&
	       info->num_connections > 0 && ms_left(deadline) > 0)
		poll(NULL, 0, 20);
	MHD_stop_daemon(d);
out:
	republish_stop(&s.matrix);
	if (sfd >= 0)
		close(sfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_destroy(&s.rate_lock);
	pthread_rwlock_destroy(&s.keys_lock);
	free(s.buckets);
	if (key)
		sodium_memzero(key, strlen(key));
	free(key);
	free(cert);
	store_close(&s.store);
	keyring_release(&s.keys);
	return rc;
}
