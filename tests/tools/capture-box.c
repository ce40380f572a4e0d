/* capture-box: a stand-in for the capture device of a physical card's
 * station, for tests. It watches a VNC server (QEMU's display) with hilrun's
 * own client, and serves what it sees on its own VNC port the way an HDMI/VGA
 * capture box or IP-KVM does: at one fixed output size whatever the mode,
 * scaled by non-integer factors (bilinear, aspect not kept), framed by a
 * black border, and JPEG-compressed.
 *
 *   capture-box --from ENDPOINT [--listen PORT] [--http PORT [--auth USER:PASS]]
 *               --size WxH [--border XxY] [--quality Q] [--tight-only]
 *
 * --tight-only serves as PiKVM's kvmd-vnc does: Tight with JPEG or nothing.
 * A client whose preferred encoding is not Tight, or that sends no JPEG
 * quality level, is refused (disconnected before its first update), and
 * the box says so on stderr; one that asks is named there with its level.
 *
 * --http serves JPEG snapshots of the same output as ustreamer does (PiKVM's
 * and TinyPilot's streamer): GET /snapshot answers image/jpeg at the
 * --quality (default 80 there), with X-UStreamer-Width/Height; any other
 * path is 404. --auth requires HTTP basic authentication (401 otherwise).
 * Each request is logged on stderr with its status.
 *
 * ENDPOINT is host:port or unix:PATH, as hilrun's --capture takes it. Until
 * the source answers (QEMU is started later, by hilrun) and after it goes,
 * the output is black, as a box without signal shows; the box keeps trying.
 * It serves 127.0.0.1 only and runs until SIGTERM or SIGINT.
 *
 * Ownership: everything lives in main's locals and is released on exit. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rfb/rfb.h>
#include <jpeglib.h>
#include <microhttpd.h>
#include <pthread.h>
#include "image.h"
#include "vnc.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *fmt, const char *what)
{
	fprintf(stderr, "capture-box: ");
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
	exit(2);
}

static void parse_pair(const char *s, const char *opt, int *a, int *b, int min)
{
	char *end;
	long x = strtol(s, &end, 10);
	if (*end != 'x')
		die("expected WxH after %s", opt);
	long y = strtol(end + 1, &end, 10);
	if (*end || x < min || y < min || x > 4096 || y > 4096)
		die("expected WxH after %s", opt);
	*a = (int)x;
	*b = (int)y;
}

/* Where output coordinate i (of n across) samples a source of size m:
 * the pixel before, the one after (clamped) and the weight of the latter,
 * pixel centres aligned as image libraries align them. */
static void tap(int i, int n, int m, int *p1, int *p2, double *w)
{
	double u = (i + 0.5) * m / n - 0.5;
	if (u < 0)
		u = 0;
	*p1 = (int)u;
	*p2 = *p1 + 1 < m ? *p1 + 1 : *p1;
	*w = u - *p1;
}

/* Bilinear resampling of src onto a w x h rectangle of dst at (x0, y0). */
static void scale_into(const struct frame *src, struct frame *dst, int x0, int y0, int w, int h)
{
	for (int y = 0; y < h; y++) {
		int y1, y2;
		double wy;
		tap(y, h, src->height, &y1, &y2, &wy);
		uint8_t *out = dst->rgb + ((size_t)(y0 + y) * dst->width + x0) * 3;
		for (int x = 0; x < w; x++) {
			int x1, x2;
			double wx;
			tap(x, w, src->width, &x1, &x2, &wx);
			const uint8_t *a = src->rgb + ((size_t)y1 * src->width + x1) * 3;
			const uint8_t *b = src->rgb + ((size_t)y1 * src->width + x2) * 3;
			const uint8_t *c = src->rgb + ((size_t)y2 * src->width + x1) * 3;
			const uint8_t *d = src->rgb + ((size_t)y2 * src->width + x2) * 3;
			for (int k = 0; k < 3; k++) {
				double top = a[k] + (b[k] - a[k]) * wx, bottom = c[k] + (d[k] - c[k]) * wx;
				out[x * 3 + k] = (uint8_t)(top + (bottom - top) * wy + 0.5);
			}
		}
	}
}

/* Compress f to JPEG at quality q and decompress it again, in place: the
 * loss a capture box's encoder adds. */
static void jpeg_encode(const struct frame *f, int q, unsigned char **data, unsigned long *len)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr jerr;
	c.err = jpeg_std_error(&jerr); /* errors exit: a test tool may die loudly */
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, data, len);
	c.image_width = (JDIMENSION)f->width;
	c.image_height = (JDIMENSION)f->height;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, q, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)f->rgb + (size_t)c.next_scanline * f->width * 3;
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
}

static void jpeg_round_trip(struct frame *f, int q)
{
	unsigned char *data = NULL;
	unsigned long len = 0;
	jpeg_encode(f, q, &data, &len);
	struct jpeg_error_mgr jerr;
	struct jpeg_decompress_struct d;
	d.err = jpeg_std_error(&jerr);
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, data, len);
	jpeg_read_header(&d, TRUE);
	d.out_color_space = JCS_RGB;
	jpeg_start_decompress(&d);
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = f->rgb + (size_t)d.output_scanline * f->width * 3;
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
	free(data);
}

/* What the box's scaler outputs for a source frame (or for no signal: src
 * NULL), before its encoder. */
static void render(const struct frame *src, struct frame *out, int bx, int by)
{
	memset(out->rgb, 0, (size_t)out->width * out->height * 3);
	if (src)
		scale_into(src, out, bx, by, out->width - 2 * bx, out->height - 2 * by);
}

/* --http: the snapshot served, replaced whole under the lock. */
struct http_box {
	pthread_mutex_t mu;
	unsigned char *jpeg;
	unsigned long len;
	int width, height;
	const char *auth; /* "user:pass", or NULL */
};

static void http_update(struct http_box *hb, const struct frame *scaled, int q)
{
	unsigned char *data = NULL;
	unsigned long len = 0;
	jpeg_encode(scaled, q, &data, &len);
	pthread_mutex_lock(&hb->mu);
	free(hb->jpeg);
	hb->jpeg = data;
	hb->len = len;
	hb->width = scaled->width;
	hb->height = scaled->height;
	pthread_mutex_unlock(&hb->mu);
}

static int http_authorised(struct http_box *hb, struct MHD_Connection *c)
{
	if (!hb->auth)
		return 1;
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(c, &pass);
	int ok = 0;
	if (user && pass) {
		char *given = NULL;
		if (asprintf(&given, "%s:%s", user, pass) >= 0)
			ok = !strcmp(given, hb->auth);
		free(given);
	}
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result http_answer(void *cls, struct MHD_Connection *c, const char *url,
				   const char *method, const char *version, const char *upload,
				   size_t *upload_size, void **state)
{
	(void)version, (void)upload, (void)upload_size, (void)state;
	struct http_box *hb = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	int status;
	if (!http_authorised(hb, c)) {
		static const char denied[] = "authentication required\n";
		r = MHD_create_response_from_buffer(sizeof denied - 1, (void *)denied,
						    MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_basic_auth_fail_response(c, "capture-box", r);
		status = 401;
	} else if (strcmp(method, "GET") || strcmp(url, "/snapshot")) {
		static const char missing[] = "not here: GET /snapshot\n";
		r = MHD_create_response_from_buffer(sizeof missing - 1, (void *)missing,
						    MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_response(c, status = 404, r);
	} else {
		char w[16], h[16];
		pthread_mutex_lock(&hb->mu);
		r = MHD_create_response_from_buffer(hb->len, hb->jpeg, MHD_RESPMEM_MUST_COPY);
		snprintf(w, sizeof w, "%d", hb->width);
		snprintf(h, sizeof h, "%d", hb->height);
		pthread_mutex_unlock(&hb->mu);
		MHD_add_response_header(r, "Content-Type", "image/jpeg");
		MHD_add_response_header(r, "X-UStreamer-Width", w);
		MHD_add_response_header(r, "X-UStreamer-Height", h);
		ret = MHD_queue_response(c, status = 200, r);
	}
	MHD_destroy_response(r);
	fprintf(stderr, "capture-box: http %s %s: %d\n", method, url, status);
	return ret;
}

/* libvncserver's default 32-bit format: red in the lowest byte. */
static void publish(rfbScreenInfoPtr screen, const struct frame *f)
{
	uint8_t *fb = (uint8_t *)screen->frameBuffer;
	for (size_t i = 0; i < (size_t)f->width * f->height; i++) {
		fb[i * 4 + 0] = f->rgb[i * 3 + 0];
		fb[i * 4 + 1] = f->rgb[i * 3 + 1];
		fb[i * 4 + 2] = f->rgb[i * 3 + 2];
		fb[i * 4 + 3] = 0;
	}
	rfbMarkRectAsModified(screen, 0, 0, f->width, f->height);
}

/* --tight-only: libvncserver calls this before each update it sends. */
static void tight_jpeg_or_nothing(rfbClientPtr cl)
{
	if (cl->preferredEncoding == rfbEncodingTight && cl->tightQualityLevel >= 0) {
		if (!cl->clientData) {
			fprintf(stderr, "capture-box: client %s asks for Tight with JPEG, quality level %d\n",
				cl->host, cl->tightQualityLevel);
			cl->clientData = cl; /* said once */
		}
		return;
	}
	fprintf(stderr,
		"capture-box: refusing client %s: it does not ask for Tight with JPEG (preferred "
		"encoding %d, quality level %d)\n",
		cl->host, cl->preferredEncoding, cl->tightQualityLevel);
	rfbCloseClient(cl);
}

/* Scale a source frame (NULL: no signal) and serve it: encoded once for the
 * snapshot, and through a JPEG round trip for the VNC clients. */
static void show(rfbScreenInfoPtr screen, struct http_box *hb, const struct frame *src,
		 struct frame *scaled, struct frame *out, int bx, int by, int q)
{
	render(src, scaled, bx, by);
	if (hb)
		http_update(hb, scaled, q);
	if (!screen)
		return;
	frame_copy(out, scaled);
	if (src && q < 100)
		jpeg_round_trip(out, q);
	publish(screen, out);
}

static void quiet(const char *fmt, ...)
{
	(void)fmt;
}

int main(int argc, char **argv)
{
	const char *from = NULL;
	int port = 0, http_port = 0, w = 0, h = 0, bx = 0, by = 0, q = -1, tight_only = 0;
	const char *auth = NULL;
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i];
		if (!strcmp(opt, "--tight-only")) {
			tight_only = 1;
			continue;
		}
		if (i + 1 >= argc)
			die("%s needs a value", opt);
		const char *val = argv[++i];
		if (!strcmp(opt, "--from"))
			from = val;
		else if (!strcmp(opt, "--listen"))
			port = atoi(val);
		else if (!strcmp(opt, "--http"))
			http_port = atoi(val);
		else if (!strcmp(opt, "--auth"))
			auth = val;
		else if (!strcmp(opt, "--size"))
			parse_pair(val, opt, &w, &h, 16);
		else if (!strcmp(opt, "--border"))
			parse_pair(val, opt, &bx, &by, 0);
		else if (!strcmp(opt, "--quality"))
			q = atoi(val);
		else
			die("unknown option %s", opt);
	}
	if (!from || (port <= 0 && http_port <= 0) || port > 65535 || http_port > 65535 || !w)
		die("%s", "usage: capture-box --from ENDPOINT [--listen PORT] [--http PORT [--auth USER:PASS]] --size WxH [--border XxY] [--quality Q] [--tight-only]");
	if (q < 0)
		q = http_port ? 80 : 100; /* ustreamer's default quality is 80 */
	if (q < 1 || q > 100 || 2 * bx >= w - 16 || 2 * by >= h - 16)
		die("%s", "bad --quality or --border");

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	rfbLog = rfbErr = quiet;
	int no_argc = 0;
	rfbScreenInfoPtr screen = NULL; /* the VNC server (--listen) */
	if (port > 0) {
		screen = rfbGetScreen(&no_argc, NULL, w, h, 8, 3, 4);
		screen->frameBuffer = calloc((size_t)w * h, 4);
		screen->port = port;
		screen->ipv6port = 0;
		screen->listenInterface = htonl(INADDR_LOOPBACK);
		screen->alwaysShared = TRUE;
		screen->cursor = NULL; /* else libvncserver paints its arrow at (0, 0) */
		if (tight_only)
			screen->displayHook = tight_jpeg_or_nothing;
		rfbInitServer(screen);
		if (screen->listenSock == RFB_INVALID_SOCKET) {
			char p[16];
			snprintf(p, sizeof p, "%d", port);
			die("cannot listen on 127.0.0.1:%s", p);
		}
	}
	struct http_box hb = { .auth = auth };
	pthread_mutex_init(&hb.mu, NULL);
	struct frame out, scaled, src, last;
	frame_init(&out);
	frame_init(&scaled);
	frame_init(&src);
	frame_init(&last);
	frame_alloc(&out, w, h);
	frame_alloc(&scaled, w, h);
	struct MHD_Daemon *httpd = NULL;
	if (http_port > 0) {
		http_update(&hb, &scaled, q); /* black until the source answers */
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)http_port),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
					 (uint16_t)http_port, NULL, NULL, http_answer, &hb,
					 MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
		if (!httpd) {
			char p[16];
			snprintf(p, sizeof p, "%d", http_port);
			die("cannot serve HTTP on 127.0.0.1:%s", p);
		}
	}
	if (port > 0)
		fprintf(stderr, "capture-box: serving %dx%d on 127.0.0.1:%d%s, watching %s\n", w, h,
			port, tight_only ? " (Tight JPEG only)" : "", from);
	if (httpd)
		fprintf(stderr, "capture-box: serving %dx%d snapshots at http://127.0.0.1:%d/snapshot%s, "
			"JPEG q%d, watching %s\n", w, h, http_port, auth ? " (basic auth)" : "", q, from);
	struct vnc *v = NULL;
	int64_t next_try = 0;
	while (!stop) {
		if (screen)
			rfbProcessEvents(screen, 20000);
		else
			usleep(20000);
		struct hil_err err;
		if (!v && now_ms() >= next_try) {
			v = vnc_open(from, now_ms() + 1000, &err);
			next_try = now_ms() + 200;
		}
		if (!v)
			continue;
		if (vnc_grab(v, &src, now_ms() + 2000, &err) < 0) {
			fprintf(stderr, "capture-box: source lost (%s): no signal\n", err.msg);
			vnc_close(v);
			v = NULL;
			frame_release(&last);
			show(screen, httpd ? &hb : NULL, NULL, &scaled, &out, bx, by, q);
			continue;
		}
		/* Re-encode only what changed: a box's encoder is busy, ours need not be. */
		if (last.rgb && last.width == src.width && last.height == src.height &&
		    !memcmp(last.rgb, src.rgb, (size_t)src.width * src.height * 3))
			continue;
		frame_copy(&last, &src);
		show(screen, httpd ? &hb : NULL, &src, &scaled, &out, bx, by, q);
	}
	if (v)
		vnc_close(v);
	if (httpd)
		MHD_stop_daemon(httpd);
	free(hb.jpeg);
	pthread_mutex_destroy(&hb.mu);
	frame_release(&out);
	frame_release(&scaled);
	frame_release(&src);
	frame_release(&last);
	if (screen) {
		rfbShutdownServer(screen, TRUE);
		free(screen->frameBuffer);
		rfbScreenCleanup(screen);
	}
	return 0;
}
