/* vnc: capture whole frames from a VNC server, in-process, with libvncclient.
 *
 * The server is QEMU's own VNC (emulated cards) or a capture box / IP-KVM
 * (physical cards). The module works around libvncclient 0.9.14's broken
 * ExtendedDesktopSize handling by sending its own SetEncodings without it
 * (but with DesktopSize), so frames stay right across screen-size changes.
 *
 * Ownership: struct vnc owns its rfbClient, socket and framebuffer;
 * vnc_close releases all of them. Frames handed out are copies that the
 * caller owns. libvncclient's logging is global: this module routes it into
 * the last error message of the vnc that is active, never to stderr. */
#ifndef HIL_VNC_H
#define HIL_VNC_H

#include <stdint.h>
#include "image.h"
#include "util.h"

struct vnc;

/* endpoint: "unix:/path/to/socket" or "host:port" (port is the TCP port,
 * not a display number). Connects and completes the RFB handshake before
 * deadline (absolute, now_ms() clock). NULL on error, with err set. */
struct vnc *vnc_open(const char *endpoint, int64_t deadline, struct hil_err *err);

/* What the server is, so the encodings asked for suit it: QEMU's own
 * display is asked for lossless encodings first (ZRLE, then Tight without
 * JPEG, Raw); a capture device (an IP-KVM such as PiKVM, whose server
 * requires Tight with JPEG and has no lossless mode) is asked for Tight
 * first, JPEG at quality level 9 and compression level 1, then ZRLE, Raw.
 * vnc_open is VNC_QEMU. */
enum vnc_source { VNC_QEMU, VNC_CAPTURE_DEVICE };
struct vnc *vnc_open_as(const char *endpoint, enum vnc_source source, int64_t deadline,
			struct hil_err *err);

/* The same on a socket already connected to the server (fd, which it takes
 * over: closed on error and by vnc_close); endpoint names it in messages.
 * It exists for the fuzzer (tests/fuzz/fuzz_vnc.c) and tests, which play
 * the server on the other end of a socketpair. */
struct vnc *vnc_open_fd(int fd, const char *endpoint, enum vnc_source source, int64_t deadline,
			struct hil_err *err);

/* The socket, for the caller's poll loop (POLLIN). */
int vnc_fd(const struct vnc *v);
/* True if libvncclient holds unread bytes: handle them without polling. */
int vnc_has_buffered(const struct vnc *v);

/* Ask for a whole frame (non-incremental request). Rectangles received from
 * now on are counted until they cover the whole screen. */
int vnc_request_full(struct vnc *v, struct hil_err *err);

/* Handle the server messages that are ready (call when vnc_fd is readable or
 * vnc_has_buffered). Returns 1 when a requested whole frame is complete,
 * 0 when not yet, -1 on error (server gone, protocol error) with err set. */
int vnc_pump(struct vnc *v, struct hil_err *err);

/* Copy the last complete frame into out; -1 if there is none yet. */
int vnc_take_frame(struct vnc *v, struct frame *out);

/* Convenience for code that needs no poll loop: request a whole frame and
 * pump until it is complete or deadline passes. 0 ok, -1 error/timeout. */
int vnc_grab(struct vnc *v, struct frame *out, int64_t deadline, struct hil_err *err);

/* Current screen size as the server last announced it. */
void vnc_size(const struct vnc *v, int *width, int *height);

/* How the server sent frames since connecting: "Tight JPEG" once a JPEG
 * rectangle was decoded, else "lossless (ZRLE, Tight or Raw)" (libvncclient
 * does not say which encoding each rectangle came in). */
const char *vnc_describe(const struct vnc *v);

void vnc_close(struct vnc *v);

#endif
