/* vnc: see vnc.h.
 *
 * How a whole frame is captured: vnc_request_full clears a coverage bitmap
 * (one bit per pixel) and sends a non-incremental update request. Every
 * rectangle libvncclient decodes marks its pixels; when, at the end of an
 * update message, every pixel has been written since the request, the
 * framebuffer is converted into v->last. A resize reallocates the
 * framebuffer, clears the bitmap and asks again for the new size.
 *
 * libvncclient 0.9.14 workarounds:
 * - rfbInitClient's SetEncodings always advertises ExtendedDesktopSize
 *   (-308); QEMU prefers it and announces resizes with screen id 0, which
 *   0.9.14 ignores, so later rectangles do not fit the framebuffer. It also
 *   advertises QEMU's extended key events, whose acknowledgement reaches
 *   GotFrameBufferUpdate as a screen-sized "rectangle" without pixels.
 *   So we do not call rfbInitClient: we connect the socket ourselves
 *   (precise errors, the deadline), let the exported
 *   InitialiseRFBConnection do the handshake (versions, security,
 *   ServerInit), and send our own SetPixelFormat and SetEncodings (lossless
 *   first for QEMU, Tight JPEG first for a capture device) plus DesktopSize
 *   (-223), whose resizes 0.9.14 handles. The
 *   server never hears of anything else, so every rectangle that reaches
 *   GotFrameBufferUpdate carries pixels.
 * - Its ZRLE decoder runs the lossy ZYWRLE filter over raw tiles unless
 *   appData.qualityLevel is 9. The library sets 9 itself when a ZRLE
 *   rectangle arrives; we set it from the start too, so that no version
 *   that forgets can blur a frame.
 * - write() to a closed socket raises SIGPIPE; every call that may write
 *   runs with SIGPIPE blocked, and a SIGPIPE it raised is discarded.
 *
 * Not thread-safe per struct vnc; different threads may each use their own
 * (the captured library message is thread-local). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "vnc.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfbclient.h>

/* Bound for one read of a message that arrived only partly; libvncclient
 * blocks inside HandleRFBServerMessage until the rest is there. */
#define VNC_READ_TIMEOUT_S 5
/* Messages handled per vnc_pump call, so a chatty server cannot starve the
 * caller's loop. */
#define VNC_PUMP_MAX_MESSAGES 64

struct vnc {
	rfbClient *cl;
	char *endpoint; /* as given, for messages */

	/* The framebuffer libvncclient decodes into (cl->frameBuffer points
	 * here). We own it: rfbClientCleanup does not free it. */
	uint8_t *fb;
	int fb_width, fb_height;

	/* Coverage since the last full request: one bit per pixel. */
	uint64_t *mask;
	size_t mask_words; /* per row */
	int64_t covered;   /* bits set in mask */

	int want_full;   /* a full frame is requested and not complete yet */
	int completed;   /* a requested full frame completed during this pump */
	int resized;     /* the framebuffer was reallocated */
	int asked_password;

	struct frame last; /* last complete frame, RGB */
	int have_last;

	int broken; /* connection unusable; broken_msg says why */
	char broken_msg[HIL_ERR_MAX];
};

/* Tag for rfbClientSetClientData: any unique address. */
static char vnc_client_tag;

/* ---- library log capture ---- */

static _Thread_local char lib_msg_buf[256];

static void lib_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(lib_msg_buf, sizeof lib_msg_buf, fmt, ap);
	va_end(ap);
	size_t n = strlen(lib_msg_buf);
	while (n && isspace((unsigned char)lib_msg_buf[n - 1]))
		lib_msg_buf[--n] = '\0';
	/* Our messages are lowercase; keep acronyms such as "VNC". */
	if (isupper((unsigned char)lib_msg_buf[0]) && islower((unsigned char)lib_msg_buf[1]))
		lib_msg_buf[0] = (char)tolower((unsigned char)lib_msg_buf[0]);
}

/* Call before every call into libvncclient: its logging is global, and
 * someone may have pointed it elsewhere since. */
static void lib_enter(void)
{
	rfbClientLog = lib_log;
	rfbClientErr = lib_log;
	lib_msg_buf[0] = '\0';
}

/* The library's last message, or fallback if it said nothing. */
static const char *lib_msg(const char *fallback)
{
	return lib_msg_buf[0] ? lib_msg_buf : fallback;
}

/* ---- SIGPIPE ---- */

struct sigpipe_guard {
	sigset_t old_mask;
	int was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t pipe_set, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old_mask);
}

static void sigpipe_unblock(struct sigpipe_guard *g)
{
	int saved_errno = errno;
	if (!g->was_pending) {
		sigset_t pipe_set, pending;
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE)) {
			struct timespec zero = { 0, 0 };
			while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
				;
		}
	}
	pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL);
	errno = saved_errno;
}

/* ---- errors ---- */

static int fail(struct vnc *v, struct hil_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Mark the connection broken with "vnc <endpoint>: <what>"; later calls
 * report the same message. Returns -1. */
static int fail(struct vnc *v, struct hil_err *err, const char *fmt, ...)
{
	if (!v->broken) {
		v->broken = 1;
		int n = snprintf(v->broken_msg, sizeof v->broken_msg, "vnc %s: ", v->endpoint);
		if (n >= 0 && (size_t)n < sizeof v->broken_msg) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(v->broken_msg + n, sizeof v->broken_msg - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	hil_seterr(err, "%s", v->broken_msg);
	return -1;
}

static int report_broken(const struct vnc *v, struct hil_err *err)
{
	hil_seterr(err, "%s", v->broken_msg);
	return -1;
}

/* strerror, lowercased like our own messages ("connection refused"). */
static const char *errstr(int e, char buf[128])
{
	snprintf(buf, 128, "%s", strerror(e));
	if (isupper((unsigned char)buf[0]) && islower((unsigned char)buf[1]))
		buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

/* ---- endpoint ---- */

struct endpoint {
	int is_unix;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char host[256];
	char port[8];
};

static int parse_endpoint(const char *s, struct endpoint *ep, struct hil_err *err)
{
	memset(ep, 0, sizeof *ep);
	if (!s || !*s) {
		hil_seterr(err, "vnc endpoint is empty (expected unix:/path or host:port)");
		return -1;
	}
	if (!strncmp(s, "unix:", 5)) {
		const char *path = s + 5;
		if (!*path) {
			hil_seterr(err, "vnc endpoint '%s': missing socket path after 'unix:'", s);
			return -1;
		}
		if (strlen(path) >= sizeof ep->path) {
			hil_seterr(err, "vnc endpoint '%s': socket path longer than %zu bytes", s,
				   sizeof ep->path - 1);
			return -1;
		}
		ep->is_unix = 1;
		strcpy(ep->path, path);
		return 0;
	}
	const char *colon = strrchr(s, ':');
	if (!colon) {
		hil_seterr(err, "vnc endpoint '%s': expected unix:/path or host:port", s);
		return -1;
	}
	const char *host = s;
	size_t host_len = (size_t)(colon - s);
	/* "[::1]:5900" */
	if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
		host++;
		host_len -= 2;
	}
	if (host_len == 0) {
		hil_seterr(err, "vnc endpoint '%s': missing host before the port", s);
		return -1;
	}
	if (host_len >= sizeof ep->host) {
		hil_seterr(err, "vnc endpoint '%s': host name too long", s);
		return -1;
	}
	const char *port = colon + 1;
	if (!*port) {
		hil_seterr(err, "vnc endpoint '%s': missing port after ':' (a TCP port, 1-65535)", s);
		return -1;
	}
	if (strspn(port, "0123456789") != strlen(port)) {
		hil_seterr(err, "vnc endpoint '%s': port '%s' is not a number", s, port);
		return -1;
	}
	if (strlen(port) > 5 || atoi(port) < 1 || atoi(port) > 65535) {
		hil_seterr(err, "vnc endpoint '%s': port %s out of range (1-65535)", s, port);
		return -1;
	}
	memcpy(ep->host, host, host_len);
	ep->host[host_len] = '\0';
	snprintf(ep->port, sizeof ep->port, "%d", atoi(port));
	return 0;
}

/* Wait for a non-blocking connect to finish; 0 or an errno value. */
static int finish_connect(int fd, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	for (;;) {
		int r = poll(&p, 1, ms_left(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return ETIMEDOUT;
		break;
	}
	int soerr = 0;
	socklen_t len = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return errno;
	return soerr;
}

/* A connected non-blocking socket (libvncclient needs it non-blocking for
 * its read timeout to work), or -1 with err set. */
static int connect_endpoint(const char *name, const struct endpoint *ep, int64_t deadline,
			    struct hil_err *err)
{
	char ebuf[128];
	if (ep->is_unix) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		strcpy(sa.sun_path, ep->path);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			hil_seterr(err, "vnc %s: cannot create socket: %s", name, errstr(errno, ebuf));
			return -1;
		}
		int e = 0;
		for (;;) {
			if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
				e = 0;
				break;
			}
			e = errno;
			if (e == EINTR)
				continue;
			/* A full listen backlog: the server is busy, not gone. */
			if (e == EAGAIN && ms_left(deadline) > 0) {
				struct timespec ts = { 0, 10 * 1000 * 1000 };
				nanosleep(&ts, NULL);
				continue;
			}
			if (e == EINPROGRESS)
				e = finish_connect(fd, deadline);
			break;
		}
		if (e) {
			hil_seterr(err, "vnc %s: %s", name,
				   e == ETIMEDOUT || e == EAGAIN ? "connect timed out" : errstr(e, ebuf));
			close(fd);
			return -1;
		}
		return fd;
	}

	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	/* getaddrinfo cannot be bounded by the deadline; endpoints are
	 * normally numeric or in /etc/hosts. */
	int gai = getaddrinfo(ep->host, ep->port, &hints, &res);
	if (gai) {
		hil_seterr(err, "vnc %s: cannot resolve '%s': %s", name, ep->host,
			   gai == EAI_SYSTEM ? errstr(errno, ebuf) : gai_strerror(gai));
		return -1;
	}
	int last_err = ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		if (fd < 0) {
			last_err = errno;
			continue;
		}
		int e = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			e = errno;
			if (e == EINPROGRESS || e == EINTR)
				e = finish_connect(fd, deadline);
		}
		if (!e) {
			freeaddrinfo(res);
			return fd;
		}
		close(fd);
		last_err = e;
		if (e == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	hil_seterr(err, "vnc %s: %s", name,
		   last_err == ETIMEDOUT ? "connect timed out" : errstr(last_err, ebuf));
	return -1;
}

/* ---- coverage and pixels ---- */

static void coverage_reset(struct vnc *v)
{
	if (v->mask)
		memset(v->mask, 0, v->mask_words * (size_t)v->fb_height * sizeof *v->mask);
	v->covered = 0;
}

static void coverage_mark(struct vnc *v, int x, int y, int w, int h)
{
	if (x < 0) {
		w += x;
		x = 0;
	}
	if (y < 0) {
		h += y;
		y = 0;
	}
	if (x + w > v->fb_width)
		w = v->fb_width - x;
	if (y + h > v->fb_height)
		h = v->fb_height - y;
	if (w <= 0 || h <= 0 || !v->mask)
		return;
	int x_end = x + w;
	for (int row = y; row < y + h; row++) {
		uint64_t *words = v->mask + (size_t)row * v->mask_words;
		for (int wi = x / 64; wi <= (x_end - 1) / 64; wi++) {
			int base = wi * 64;
			int from = (x > base ? x : base) - base;
			int to = (x_end < base + 64 ? x_end : base + 64) - base;
			uint64_t bits = to - from == 64 ? ~(uint64_t)0
							 : (((uint64_t)1 << (to - from)) - 1) << from;
			v->covered += __builtin_popcountll(bits & ~words[wi]);
			words[wi] |= bits;
		}
	}
}

static uint8_t scale_channel(uint32_t value, uint16_t max)
{
	if (max == 255 || max == 0)
		return (uint8_t)value;
	return (uint8_t)((value * 255 + max / 2) / max);
}

/* The framebuffer (32 bpp in the pixel format we asked for) as RGB. */
static void snapshot(struct vnc *v)
{
	const rfbPixelFormat *pf = &v->cl->format;
	if (frame_alloc(&v->last, v->fb_width, v->fb_height) < 0)
		return; /* cannot happen: dimensions were checked on resize */
	const uint32_t *src = (const uint32_t *)v->fb;
	uint8_t *dst = v->last.rgb;
	size_t n = (size_t)v->fb_width * (size_t)v->fb_height;
	for (size_t i = 0; i < n; i++) {
		uint32_t p = src[i];
		*dst++ = scale_channel((p >> pf->redShift) & pf->redMax, pf->redMax);
		*dst++ = scale_channel((p >> pf->greenShift) & pf->greenMax, pf->greenMax);
		*dst++ = scale_channel((p >> pf->blueShift) & pf->blueMax, pf->blueMax);
	}
	v->have_last = 1;
}

/* ---- libvncclient callbacks ---- */

static struct vnc *vnc_of(rfbClient *cl)
{
	return rfbClientGetClientData(cl, &vnc_client_tag);
}

static rfbBool cb_malloc_framebuffer(rfbClient *cl)
{
	struct vnc *v = vnc_of(cl);
	int w = cl->width, h = cl->height;

	free(v->fb);
	free(v->mask);
	v->fb = NULL;
	v->mask = NULL;
	cl->frameBuffer = NULL;
	v->fb_width = v->fb_height = 0;
	v->covered = 0;
	v->resized = 1;
	if (w < 1 || h < 1 || w > FRAME_MAX_DIM || h > FRAME_MAX_DIM ||
	    cl->format.bitsPerPixel != 32) {
		fail(v, NULL, "server announced a %dx%d screen at %d bpp (limit %dx%d, 32 bpp)", w, h,
		     cl->format.bitsPerPixel, FRAME_MAX_DIM, FRAME_MAX_DIM);
		/* With a zero size every rectangle is "too large" for the
		 * library, so nothing is written through the NULL buffer. */
		cl->width = cl->height = 0;
		return FALSE;
	}
	v->fb = xcalloc((size_t)w * (size_t)h, 4);
	v->mask_words = ((size_t)w + 63) / 64;
	v->mask = xcalloc(v->mask_words * (size_t)h, sizeof *v->mask);
	v->fb_width = w;
	v->fb_height = h;
	cl->frameBuffer = v->fb;
	/* What the library's own incremental requests ask for. */
	cl->updateRect.x = cl->updateRect.y = 0;
	cl->updateRect.w = w;
	cl->updateRect.h = h;
	return TRUE;
}

/* Every rectangle that reaches here carries pixels: the only pseudo-
 * encoding we announce (DesktopSize) is handled before this is called. */
static void cb_got_update(rfbClient *cl, int x, int y, int w, int h)
{
	struct vnc *v = vnc_of(cl);
	if (v->want_full)
		coverage_mark(v, x, y, w, h);
}

/* A frame is whole only at the end of an update message, so that it is
 * not cut between two rectangles of the same update. A server may answer
 * one request with several messages; the rest comes in answer to the
 * incremental request the library sends after each update. */
static void cb_finished_update(rfbClient *cl)
{
	struct vnc *v = vnc_of(cl);
	if (v->want_full && v->fb && v->covered == (int64_t)v->fb_width * v->fb_height) {
		snapshot(v);
		v->want_full = 0;
		v->completed = 1;
	}
}

static char *cb_get_password(rfbClient *cl)
{
	vnc_of(cl)->asked_password = 1;
	return NULL;
}

/* ---- protocol ---- */

static int write_to_server(struct vnc *v, const uint8_t *msg, size_t len, const char *what,
			   struct hil_err *err)
{
	struct sigpipe_guard g;
	lib_enter();
	sigpipe_block(&g);
	rfbBool ok = WriteToRFBServer(v->cl, (const char *)msg, (unsigned)len);
	sigpipe_unblock(&g);
	if (!ok)
		return fail(v, err, "cannot send %s: %s", what, lib_msg("write failed"));
	return 0;
}

static void put_be16(uint8_t *p, uint16_t x)
{
	p[0] = (uint8_t)(x >> 8);
	p[1] = (uint8_t)x;
}

static void put_be32(uint8_t *p, uint32_t x)
{
	put_be16(p, (uint16_t)(x >> 16));
	put_be16(p + 2, (uint16_t)x);
}

/* The pixel format rfbGetClient chose (32 bpp, depth 24, true colour,
 * host byte order), which the library's decoders assume. */
static int send_pixel_format(struct vnc *v, struct hil_err *err)
{
	const rfbPixelFormat *pf = &v->cl->format;
	uint8_t msg[sz_rfbSetPixelFormatMsg] = { rfbSetPixelFormat };
	uint8_t *f = msg + 4; /* after type and padding */
	f[0] = pf->bitsPerPixel;
	f[1] = pf->depth;
	f[2] = pf->bigEndian;
	f[3] = pf->trueColour;
	put_be16(f + 4, pf->redMax);
	put_be16(f + 6, pf->greenMax);
	put_be16(f + 8, pf->blueMax);
	f[10] = pf->redShift;
	f[11] = pf->greenShift;
	f[12] = pf->blueShift;
	return write_to_server(v, msg, sizeof msg, "pixel format", err);
}

/* The server picks the first encoding it supports. Tight is lossless
 * unless the client sends a quality level (JPEG), so QEMU, asked without
 * one, never blurs a frame; a capture device that only speaks Tight JPEG
 * gets the highest quality level. DesktopSize: resizes 0.9.14 handles. */
static const uint32_t encodings_qemu[] = {
	rfbEncodingZRLE, rfbEncodingTight, rfbEncodingRaw, rfbEncodingNewFBSize,
};
static const uint32_t encodings_capture_device[] = {
	rfbEncodingTight, rfbEncodingZRLE, rfbEncodingRaw, rfbEncodingNewFBSize,
	rfbEncodingQualityLevel9, rfbEncodingCompressLevel1,
};

static int send_encodings(struct vnc *v, enum vnc_source source, struct hil_err *err)
{
	const uint32_t *enc = source == VNC_QEMU ? encodings_qemu : encodings_capture_device;
	const size_t n = source == VNC_QEMU ? sizeof encodings_qemu / sizeof *encodings_qemu
					    : sizeof encodings_capture_device / sizeof *encodings_capture_device;
	uint8_t msg[sz_rfbSetEncodingsMsg + 4 * 8] = { rfbSetEncodings };
	put_be16(msg + 2, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		put_be32(msg + sz_rfbSetEncodingsMsg + 4 * i, enc[i]);
	return write_to_server(v, msg, sz_rfbSetEncodingsMsg + 4 * n, "encodings", err);
}

static int send_full_request(struct vnc *v, struct hil_err *err)
{
	struct sigpipe_guard g;
	lib_enter();
	sigpipe_block(&g);
	rfbBool ok = SendFramebufferUpdateRequest(v->cl, 0, 0, v->cl->width, v->cl->height, FALSE);
	sigpipe_unblock(&g);
	if (!ok)
		return fail(v, err, "cannot send update request: %s", lib_msg("write failed"));
	return 0;
}

static int fd_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, 0);
	while (r < 0 && errno == EINTR);
	/* POLLHUP / POLLERR too: the read will tell what happened. */
	return r > 0;
}

/* Handle one server message. */
static int handle_message(struct vnc *v, struct hil_err *err)
{
	struct sigpipe_guard g;

	lib_enter();
	sigpipe_block(&g);
	rfbBool ok = HandleRFBServerMessage(v->cl);
	sigpipe_unblock(&g);

	if (v->broken)
		return report_broken(v, err);
	if (!ok)
		return fail(v, err, "connection lost: %s", lib_msg("protocol error"));
	if (v->resized) {
		/* Coverage of the old size means nothing now, and the request
		 * we are waiting for was for the old size. */
		coverage_reset(v);
		v->resized = 0;
		if (v->want_full && send_full_request(v, err) < 0)
			return -1;
	}
	return 0;
}

/* libvncclient 0.9.14 creates a TurboJPEG decoder for the first Tight
 * JPEG rectangle and rfbClientCleanup never destroys it (8 KiB lost per
 * connection). The decoder comes from the TurboJPEG wrapper bundled in
 * libvncclient (Debian's links libjpeg, not libturbojpeg) and exported
 * from it, so it is destroyed with that same tjDestroy; turbojpeg.h is not
 * included because hilrun does not link libturbojpeg. */
int tjDestroy(void *handle);

static void release_jpeg_decoder(rfbClient *cl)
{
#ifdef LIBVNCSERVER_HAVE_LIBJPEG
	if (cl->tjhnd) {
		tjDestroy(cl->tjhnd);
		cl->tjhnd = NULL; /* a version that destroys it in cleanup finds none */
	}
#else
	(void)cl;
#endif
}

/* ---- public ---- */

struct vnc *vnc_open(const char *endpoint, int64_t deadline, struct hil_err *err)
{
	return vnc_open_as(endpoint, VNC_QEMU, deadline, err);
}

struct vnc *vnc_open_as(const char *endpoint, enum vnc_source source, int64_t deadline,
			struct hil_err *err)
{
	struct endpoint ep;
	if (parse_endpoint(endpoint, &ep, err) < 0)
		return NULL;
	int fd = connect_endpoint(endpoint, &ep, deadline, err);
	if (fd < 0)
		return NULL;
	return vnc_open_fd(fd, endpoint, source, deadline, err);
}

struct vnc *vnc_open_fd(int fd, const char *endpoint, enum vnc_source source, int64_t deadline,
			struct hil_err *err)
{
	lib_enter();
	rfbClient *cl = rfbGetClient(8, 3, 4); /* 32 bpp, depth 24, true colour */
	if (!cl) {
		hil_seterr(err, "vnc %s: %s", endpoint, lib_msg("cannot allocate client"));
		close(fd);
		return NULL;
	}
	struct vnc *v = xcalloc(1, sizeof *v);
	v->cl = cl;
	v->endpoint = xstrdup(endpoint);
	frame_init(&v->last);

	rfbClientSetClientData(cl, &vnc_client_tag, v);
	cl->sock = fd; /* rfbClientCleanup closes it from now on */
	cl->programName = "hilrun";
	cl->appData.shareDesktop = TRUE; /* never kick out a human's viewer */
	cl->appData.viewOnly = TRUE;
	cl->appData.qualityLevel = 9; /* no ZYWRLE filtering of ZRLE tiles */
	cl->appData.enableJPEG = source == VNC_CAPTURE_DEVICE;
	cl->MallocFrameBuffer = cb_malloc_framebuffer;
	cl->GotFrameBufferUpdate = cb_got_update;
	cl->FinishedFrameBufferUpdate = cb_finished_update;
	cl->GetPassword = cb_get_password; /* the default reads the terminal */
	int secs = (ms_left(deadline) + 999) / 1000;
	cl->connectTimeout = (unsigned)(secs > 0 ? secs : 1);
	cl->readTimeout = (unsigned)(secs > 0 ? secs : 1); /* 0 would mean never */

	struct sigpipe_guard g;
	lib_enter();
	sigpipe_block(&g);
	rfbBool ok = InitialiseRFBConnection(cl);
	sigpipe_unblock(&g);
	if (!ok) {
		if (v->asked_password)
			hil_seterr(err, "vnc %s: server requires a password, which hilrun does not support",
				   endpoint);
		else
			hil_seterr(err, "vnc %s: rfb handshake failed: %s", endpoint,
				   lib_msg("no reason given"));
		vnc_close(v);
		return NULL;
	}
	cl->readTimeout = VNC_READ_TIMEOUT_S;
	cl->width = cl->si.framebufferWidth;
	cl->height = cl->si.framebufferHeight;
	if (!cl->MallocFrameBuffer(cl) || send_pixel_format(v, err) < 0 ||
	    send_encodings(v, source, err) < 0) {
		hil_seterr(err, "%s", v->broken_msg);
		vnc_close(v);
		return NULL;
	}
	v->resized = 0; /* the first allocation is no resize */
	return v;
}

int vnc_fd(const struct vnc *v)
{
	return v->cl->sock;
}

int vnc_has_buffered(const struct vnc *v)
{
	return v->cl->buffered > 0;
}

int vnc_request_full(struct vnc *v, struct hil_err *err)
{
	if (v->broken)
		return report_broken(v, err);
	coverage_reset(v);
	v->want_full = 1;
	v->completed = 0;
	return send_full_request(v, err);
}

int vnc_pump(struct vnc *v, struct hil_err *err)
{
	if (v->broken)
		return report_broken(v, err);
	for (int i = 0; i < VNC_PUMP_MAX_MESSAGES; i++) {
		/* HandleRFBServerMessage would block waiting for a message. */
		if (!v->cl->buffered && !fd_readable(v->cl->sock))
			break;
		if (handle_message(v, err) < 0)
			return -1;
		if (v->completed) {
			v->completed = 0;
			return 1;
		}
	}
	return 0;
}

int vnc_take_frame(struct vnc *v, struct frame *out)
{
	if (!v->have_last)
		return -1;
	frame_copy(out, &v->last);
	return 0;
}

static int grab_timed_out(const struct vnc *v, struct hil_err *err)
{
	int64_t total = (int64_t)v->fb_width * v->fb_height;
	hil_seterr(err, "vnc %s: timed out waiting for a whole %dx%d frame (%d%% received)",
		   v->endpoint, v->fb_width, v->fb_height,
		   total ? (int)(v->covered * 100 / total) : 0);
	return -1;
}

int vnc_grab(struct vnc *v, struct frame *out, int64_t deadline, struct hil_err *err)
{
	if (vnc_request_full(v, err) < 0)
		return -1;
	for (;;) {
		if (!vnc_has_buffered(v)) {
			struct pollfd p = { .fd = vnc_fd(v), .events = POLLIN };
			int r = poll(&p, 1, ms_left(deadline));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				char ebuf[128];
				hil_seterr(err, "vnc %s: poll: %s", v->endpoint, errstr(errno, ebuf));
				return -1;
			}
			/* Also when data keeps coming but never completes a
			 * frame: poll then never times out by itself. */
			if (r == 0 || ms_left(deadline) == 0)
				return grab_timed_out(v, err);
		}
		/* A message that arrived in part is read to its end within
		 * readTimeout; keep that near the deadline (0 means never). */
		int secs = (ms_left(deadline) + 999) / 1000;
		v->cl->readTimeout = (unsigned)(secs > 0 ? secs : 1);
		int r = vnc_pump(v, err);
		v->cl->readTimeout = VNC_READ_TIMEOUT_S;
		if (r < 0)
			return -1;
		if (r == 1)
			return vnc_take_frame(v, out);
	}
}

void vnc_size(const struct vnc *v, int *width, int *height)
{
	if (width)
		*width = v->fb_width;
	if (height)
		*height = v->fb_height;
}

const char *vnc_describe(const struct vnc *v)
{
#ifdef LIBVNCSERVER_HAVE_LIBJPEG
	if (v->cl->tjhnd)
		return "Tight JPEG";
#endif
	return "lossless (ZRLE, Tight or Raw)";
}

void vnc_close(struct vnc *v)
{
	if (!v)
		return;
	if (v->cl) {
		lib_enter();
		v->cl->frameBuffer = NULL; /* ours, freed below */
		release_jpeg_decoder(v->cl);
		rfbClientCleanup(v->cl);   /* closes the socket */
	}
	free(v->fb);
	free(v->mask);
	frame_release(&v->last);
	free(v->endpoint);
	free(v);
}
