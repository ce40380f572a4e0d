/* fuzz_qmp: the QMP client (channels/qmp.c) given any bytes as what QEMU
 * says on the monitor socket: a thread writes the input on the server's
 * end of a socketpair (in pieces the last byte sizes, so lines arrive
 * split), then closes its writing side and swallows the client's
 * commands. The client does what a run does: the handshake, two
 * commands (one with arguments), a command sent and its reply taken from
 * qmp_pump's poll loop, then every queued event. The end of the input is
 * EOF, so no call waits for its deadline; the deadlines are short anyway.
 * qmp.h's promises: a queued event is an object with "event"; the version
 * is "MAJOR.MINOR.MICRO" after a handshake. Corpus:
 * tests/fuzz/corpus/qmp/ (seeds: a greeting and replies around the
 * fixture run's qmp-events.jsonl, seeds.py). */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "qmp.h"

#define DEADLINE_MS 1000

static void execute(struct qmp *q, const char *cmd, json_t *args)
{
	struct hil_err err;
	json_t *ret = (json_t *)&ret; /* must be set either way */
	int rc = qmp_execute(q, cmd, args, &ret, now_ms() + DEADLINE_MS, &err);
	fuzz_check(rc == 0 ? ret != NULL : ret == NULL,
		   "qmp_execute: *ret NULL after success, or set after an error");
	json_decref(ret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_peer peer;
	int fd = fuzz_peer_start(&peer, data, size, size ? 1 + (size_t)(data[size - 1] % 64) * 8 : 1);
	struct qmp *q = qmp_new(fd);
	struct hil_err err;
	if (qmp_handshake(q, now_ms() + DEADLINE_MS, &err) == 0)
		fuzz_check(strlen(qmp_qemu_version(q)) >= 5, "qmp_handshake: no version after it");
	execute(q, "query-status", NULL);
	json_t *args = json_pack("{s:s}", "typename", "VGA");
	execute(q, "qom-list-types", args);
	json_decref(args);

	/* a liveness ping, as the engine's poll loop sends it */
	unsigned long id = qmp_send(q, "query-status", now_ms() + DEADLINE_MS, &err);
	int64_t deadline = now_ms() + DEADLINE_MS;
	for (;;) {
		struct pollfd p = { .fd = qmp_fd(q), .events = POLLIN };
		if (poll(&p, 1, ms_left(deadline)) <= 0 || qmp_pump(q, &err) < 0)
			break;
	}
	json_t *ret = NULL;
	if (id && qmp_take_reply(q, id, &ret) == 1)
		json_decref(ret);
	else
		fuzz_check(ret == NULL, "qmp_take_reply: *ret set for a reply not taken");

	size_t pending = qmp_pending_events(q);
	fuzz_check(pending <= QMP_EVENTS_MAX, "qmp: more events queued than its limit");
	json_t *ev;
	while ((ev = qmp_pop_event(q))) {
		fuzz_check(json_is_object(ev) && json_object_get(ev, "event"),
			   "qmp_pop_event: an event that is not an object with \"event\"");
		fuzz_check(qmp_pending_events(q) == --pending, "qmp_pending_events: miscounted");
		json_decref(ev);
	}
	fuzz_check(pending == 0, "qmp_pop_event: NULL while events are pending");
	qmp_free(q);
	fuzz_peer_join(&peer);
	return 0;
}
