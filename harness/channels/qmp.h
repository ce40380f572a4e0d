/* qmp: a client of QEMU's QMP monitor, on a socket QEMU connected to us.
 *
 * Follows libqtest: read the greeting, send qmp_capabilities, give every
 * command an id, keep asynchronous events in a queue apart from replies.
 * Input lines have a named maximum (QMP_LINE_MAX); a line that is not a JSON
 * object is a protocol error that names the line.
 *
 * Ownership: struct qmp owns its socket (closed by qmp_free), its buffers and
 * the queued events. qmp_execute's *ret and qmp_pop_event's result are new
 * references the caller must json_decref. */
#ifndef HIL_QMP_H
#define HIL_QMP_H

#include <jansson.h>
#include <stdint.h>
#include "util.h"

#define QMP_LINE_MAX (1024 * 1024)
#define QMP_EVENTS_MAX 4096 /* older events are dropped past this */

struct qmp;

/* Takes ownership of fd (made non-blocking). */
struct qmp *qmp_new(int fd);
void qmp_free(struct qmp *q);
int qmp_fd(const struct qmp *q);

/* Greeting + capabilities negotiation, before deadline. */
int qmp_handshake(struct qmp *q, int64_t deadline, struct hil_err *err);
/* "7.2.22" from the greeting, or "" before the handshake. */
const char *qmp_qemu_version(const struct qmp *q);

/* Run a command and wait for its reply (matched by id). args is borrowed
 * and may be NULL; *ret (may be NULL) receives the "return" value. A QMP
 * error reply sets err to "qmp CMD: CLASS: DESC" and returns -1. Events that
 * arrive meanwhile are queued. */
int qmp_execute(struct qmp *q, const char *cmd, json_t *args, json_t **ret,
		int64_t deadline, struct hil_err *err);

/* Read what is ready without blocking, queueing events: for the caller's
 * poll loop when qmp_fd is readable. 0 ok, -1 on EOF (QEMU gone) or a
 * protocol error. */
int qmp_pump(struct qmp *q, struct hil_err *err);

/* Send a command without waiting for its reply (for a poll loop, e.g. a
 * liveness ping). Returns its id, or 0 on error (err). Only one command may
 * be in flight: a later qmp_execute drops this reply. */
unsigned long qmp_send(struct qmp *q, const char *cmd, int64_t deadline, struct hil_err *err);
/* After qmp_pump: 1 if the reply to id has arrived (it is consumed, its
 * "return" value in *ret if ret is not NULL: a new reference, NULL for an
 * error reply), 0 if not yet. Replies to other ids are dropped. */
int qmp_take_reply(struct qmp *q, unsigned long id, json_t **ret);

/* Oldest queued event (an object with "event", "data", "timestamp"), or NULL. */
json_t *qmp_pop_event(struct qmp *q);
size_t qmp_pending_events(const struct qmp *q);

#endif
