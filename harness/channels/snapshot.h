/* snapshot: whole frames from a capture device's HTTP(S) snapshot URL, with
 * libcurl: ustreamer's /snapshot (PiKVM's /api/streamer/snapshot,
 * TinyPilot), or any URL that answers a GET with one JPEG of the screen.
 *
 * Credentials: user:password in the URL, else $HILRUN_CAPTURE_AUTH
 * ("user:password"), else ~/.netrc; sent as HTTP basic authentication, which
 * PiKVM's API accepts. The password is never written anywhere: records,
 * messages and the journal show the URL without it ("http://user@host/..."),
 * so resuming such a run needs the password in the environment or netrc. HTTPS is verified against the system's CAs, or the CA
 * file in $HILRUN_CAPTURE_CA (an IP-KVM's self-signed certificate).
 * Messages and snapshot_url() never show the password.
 *
 * One worker thread fetches and decodes a snapshot when asked; the caller's
 * poll loop waits on snapshot_fd (an eventfd), as it waits on a VNC socket.
 *
 * Ownership: struct snapshot owns its thread, curl handle, eventfd and last
 * frame; snapshot_close joins and frees all. Frames handed out are copies. */
#ifndef HIL_SNAPSHOT_H
#define HIL_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include "image.h"
#include "util.h"

/* Bound on one snapshot's body: a 4K JPEG at the highest quality fits. */
#define SNAPSHOT_BODY_MAX (32 * 1024 * 1024)

struct snapshot;

/* Is this endpoint an HTTP(S) snapshot URL? */
int snapshot_is_url(const char *endpoint);

/* Fetches one snapshot before deadline (absolute, now_ms() clock), so a
 * wrong URL, refused credentials or a body that is not a JPEG are reported
 * here; then starts the worker. NULL on error, with err set. */
struct snapshot *snapshot_open(const char *url, int64_t deadline, struct hil_err *err);

int snapshot_fd(const struct snapshot *s);
/* Ask for a frame (a new snapshot); fetched in the background. */
int snapshot_request_full(struct snapshot *s, struct hil_err *err);
/* Call when snapshot_fd is readable: 1 a requested frame is complete,
 * 0 not yet, -1 the fetch failed (err says how). */
int snapshot_pump(struct snapshot *s, struct hil_err *err);
/* Copy the last complete frame into out; -1 if there is none. */
int snapshot_take_frame(struct snapshot *s, struct frame *out);
int snapshot_grab(struct snapshot *s, struct frame *out, int64_t deadline, struct hil_err *err);
void snapshot_size(const struct snapshot *s, int *width, int *height);
/* The URL without its password (snapshot_redact), for records and messages. */
const char *snapshot_url(const struct snapshot *s);
/* What the last snapshot was: "image/jpeg, 183 KiB". */
const char *snapshot_describe(const struct snapshot *s);
void snapshot_close(struct snapshot *s);

/* url without the password in it, if any (caller frees). */
char *snapshot_redact(const char *url);

#endif
