/* qmp: see qmp.h. */
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

struct qmp {
	int fd;
	int eof;
	struct strbuf in;     /* bytes read, not yet parsed into lines */
	json_t **events;      /* FIFO of queued events */
	size_t nevents, cap;
	json_t *reply;        /* the reply to the command in flight */
	unsigned long next_id;
	char version[32];
};

struct qmp *qmp_new(int fd)
{
	struct qmp *q = xcalloc(1, sizeof *q);
	q->fd = fd;
	sock_set_nonblock(fd);
	sb_init(&q->in);
	return q;
}

void qmp_free(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	sb_release(&q->in);
	for (size_t i = 0; i < q->nevents; i++)
		json_decref(q->events[i]);
	free(q->events);
	json_decref(q->reply);
	free(q);
}

int qmp_fd(const struct qmp *q)
{
	return q->fd;
}

const char *qmp_qemu_version(const struct qmp *q)
{
	return q->version;
}

size_t qmp_pending_events(const struct qmp *q)
{
	return q->nevents;
}

json_t *qmp_pop_event(struct qmp *q)
{
	if (!q->nevents)
		return NULL;
	json_t *ev = q->events[0];
	memmove(q->events, q->events + 1, (q->nevents - 1) * sizeof *q->events);
	q->nevents--;
	return ev;
}

static void queue_event(struct qmp *q, json_t *ev)
{
	if (q->nevents == QMP_EVENTS_MAX)
		json_decref(qmp_pop_event(q));
	if (q->nevents == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 16;
		q->events = xrealloc(q->events, q->cap * sizeof *q->events);
	}
	q->events[q->nevents++] = ev;
}

/* Shorten a line for an error message. */
static void excerpt(const char *s, size_t len, char out[80])
{
	size_t n = len < 60 ? len : 60;
	size_t j = 0;
	for (size_t i = 0; i < n; i++)
		out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (len > n) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = '\0';
}

/* Parse one complete line: events are queued, anything else is a reply. */
static int handle_line(struct qmp *q, const char *line, size_t len, struct hil_err *err)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return 0;
	json_error_t jerr;
	json_t *msg = json_loadb(line, len, 0, &jerr);
	if (!msg || !json_is_object(msg)) {
		char ex[80];
		excerpt(line, len, ex);
		hil_seterr(err, "qmp: QEMU sent a line that is not a JSON object: '%s'", ex);
		json_decref(msg);
		return -1;
	}
	if (json_object_get(msg, "event")) {
		queue_event(q, msg);
		return 0;
	}
	if (json_object_get(msg, "QMP")) {
		json_t *v = json_object_get(json_object_get(json_object_get(msg, "QMP"), "version"), "qemu");
		snprintf(q->version, sizeof q->version, "%lld.%lld.%lld",
			 json_integer_value(json_object_get(v, "major")),
			 json_integer_value(json_object_get(v, "minor")),
			 json_integer_value(json_object_get(v, "micro")));
	}
	json_decref(q->reply);
	q->reply = msg;
	return 0;
}

int qmp_pump(struct qmp *q, struct hil_err *err)
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(q->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			q->eof = 1;
			break;
		}
		sb_add(&q->in, buf, (size_t)n);
		if (q->in.len > QMP_LINE_MAX && !memchr(q->in.buf, '\n', q->in.len)) {
			hil_seterr(err, "qmp: QEMU sent a line longer than %d bytes", QMP_LINE_MAX);
			return -1;
		}
	}
	size_t start = 0;
	int rc = 0;
	while (rc == 0 && start < q->in.len) {
		char *nl = memchr(q->in.buf + start, '\n', q->in.len - start);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (q->in.buf + start));
		rc = handle_line(q, q->in.buf + start, len, err);
		start += len + 1;
	}
	if (start) {
		memmove(q->in.buf, q->in.buf + start, q->in.len - start);
		q->in.len -= start;
		q->in.buf[q->in.len] = '\0';
	}
	if (rc < 0)
		return -1;
	if (q->eof) {
		hil_seterr(err, "qmp: QEMU closed the monitor connection");
		return -1;
	}
	return 0;
}

/* Wait until a reply is held (q->reply) or the deadline passes. */
static int wait_reply(struct qmp *q, int64_t deadline, const char *what, struct hil_err *err)
{
	while (!q->reply) {
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		int n = poll(&pfd, 1, ms_left(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			hil_seterr(err, "qmp: no answer to %s in time", what);
			return -1;
		}
		if (qmp_pump(q, err) < 0 && !q->reply)
			return -1;
	}
	return 0;
}

int qmp_handshake(struct qmp *q, int64_t deadline, struct hil_err *err)
{
	if (wait_reply(q, deadline, "the greeting", err) < 0)
		return -1;
	if (!json_object_get(q->reply, "QMP")) {
		hil_seterr(err, "qmp: expected the QMP greeting, got something else");
		return -1;
	}
	json_decref(q->reply);
	q->reply = NULL;
	return qmp_execute(q, "qmp_capabilities", NULL, NULL, deadline, err);
}

unsigned long qmp_send(struct qmp *q, const char *cmd, int64_t deadline, struct hil_err *err)
{
	unsigned long id = ++q->next_id;
	char line[160];
	snprintf(line, sizeof line, "{\"execute\":\"%s\",\"id\":%lu}\n", cmd, id);
	struct hil_err werr;
	if (sock_write_all(q->fd, line, strlen(line), deadline, &werr) < 0) {
		hil_seterr(err, "qmp %s: %s", cmd, werr.msg);
		return 0;
	}
	return id;
}

int qmp_take_reply(struct qmp *q, unsigned long id, json_t **ret)
{
	if (ret)
		*ret = NULL;
	if (!q->reply)
		return 0;
	json_t *rid = json_object_get(q->reply, "id");
	int mine = json_is_integer(rid) && (unsigned long)json_integer_value(rid) == id;
	json_t *value = json_object_get(q->reply, "return");
	if (mine && ret && value)
		*ret = json_incref(value);
	json_decref(q->reply);
	q->reply = NULL;
	return mine;
}

int qmp_execute(struct qmp *q, const char *cmd, json_t *args, json_t **ret,
		int64_t deadline, struct hil_err *err)
{
	if (ret)
		*ret = NULL;
	unsigned long id = ++q->next_id;
	json_t *msg = json_pack("{s:s, s:I}", "execute", cmd, "id", (json_int_t)id);
	if (args)
		json_object_set(msg, "arguments", args);
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	struct strbuf line = STRBUF_INIT;
	sb_adds(&line, text);
	sb_adds(&line, "\n");
	free(text);
	struct hil_err werr;
	if (sock_write_all(q->fd, line.buf, line.len, deadline, &werr) < 0) {
		hil_seterr(err, "qmp %s: %s", cmd, werr.msg);
		sb_release(&line);
		return -1;
	}
	sb_release(&line);

	for (;;) {
		if (wait_reply(q, deadline, cmd, err) < 0)
			return -1;
		json_t *reply = q->reply;
		q->reply = NULL;
		json_t *rid = json_object_get(reply, "id");
		if (!json_is_integer(rid) || (unsigned long)json_integer_value(rid) != id) {
			/* A reply to an earlier command that timed out: drop it. */
			json_decref(reply);
			continue;
		}
		json_t *e = json_object_get(reply, "error");
		if (e) {
			hil_seterr(err, "qmp %s: %s: %s", cmd,
				   json_string_value(json_object_get(e, "class")) ?: "?",
				   json_string_value(json_object_get(e, "desc")) ?: "?");
			json_decref(reply);
			return -1;
		}
		if (!json_object_get(reply, "return")) {
			hil_seterr(err, "qmp %s: reply has neither 'return' nor 'error'", cmd);
			json_decref(reply);
			return -1;
		}
		if (ret)
			*ret = json_incref(json_object_get(reply, "return"));
		json_decref(reply);
		return 0;
	}
}
