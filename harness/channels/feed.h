/* feed: the frames of the screen under test, from whatever a run watches.
 *
 * An endpoint is QEMU's own display ("unix:/path", VNC), a capture device's
 * VNC server ("HOST:PORT"), or a capture device's HTTP(S) snapshot URL
 * ("http://...", "https://...", snapshot.h). The run's loop and `hilrun
 * grab` see one interface: a descriptor to poll, whole-frame requests, and
 * frames.
 *
 * Ownership: struct feed owns its vnc or snapshot; feed_close releases it.
 * Frames handed out are copies that the caller owns. */
#ifndef HIL_FEED_H
#define HIL_FEED_H

#include <stdint.h>
#include "image.h"
#include "util.h"

/* What the endpoint is, so that a VNC server is asked for the encodings
 * that suit it (vnc.h): QEMU's display, or a capture device. */
enum feed_source { FEED_QEMU, FEED_CAPTURE_DEVICE };

struct feed;

struct feed *feed_open(const char *endpoint, enum feed_source source, int64_t deadline,
		       struct hil_err *err);
int feed_fd(const struct feed *f);
/* True if bytes are buffered in the client: handle them without polling. */
int feed_has_buffered(const struct feed *f);
int feed_request_full(struct feed *f, struct hil_err *err);
/* 1 a requested whole frame is complete, 0 not yet, -1 error (err set). */
int feed_pump(struct feed *f, struct hil_err *err);
int feed_take_frame(struct feed *f, struct frame *out);
int feed_grab(struct feed *f, struct frame *out, int64_t deadline, struct hil_err *err);
void feed_size(const struct feed *f, int *width, int *height);
/* How frames arrive: "VNC, Tight JPEG", "VNC, lossless (ZRLE, Tight or
 * Raw)", "HTTP snapshot, image/jpeg, 183 KiB". */
const char *feed_describe(struct feed *f);
void feed_close(struct feed *f);

/* The endpoint as records and messages show it: no password (caller
 * frees). Any text with a URL in it may be given (an argument such as
 * --capture=URL): everything but the password is kept. */
char *feed_endpoint_shown(const char *endpoint);

#endif
