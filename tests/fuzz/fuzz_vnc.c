/* fuzz_vnc: the VNC client (channels/vnc.c, on libvncclient) given any
 * bytes as what the server says: a thread writes the input on the
 * server's end of a socketpair (in pieces the last byte sizes, so that
 * messages arrive split), then closes its writing side and swallows what
 * the client sends. The client is opened on the other end (vnc_open_fd),
 * as QEMU's display or, when the last byte's top bit is set, as a capture
 * device (Tight JPEG), and does what a run does: vnc_grab, then a full
 * request pumped from a poll loop, vnc_take_frame. The end of the input
 * is EOF, so nothing waits for its deadline; the deadlines are short
 * anyway. A frame handed out must be the screen's size, within
 * FRAME_MAX_DIM, every pixel there. Corpus: tests/fuzz/corpus/vnc/ (seeds:
 * RFB 3.3, 3.7 and 3.8 sessions, in Raw, Tight, ZRLE and the encodings
 * the client never asks for, a resize, refusals, seeds.py). */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vnc.h"

#define DEADLINE_MS 1000
#define FUZZ_VNC_MAX_PIXELS (2560 * 1600)

/* A frame just completed is the screen's size; the last complete frame,
 * taken later, may be of the size before a resize. */
static void check_frame(struct vnc *v, const struct frame *f, int just_completed)
{
	int w = f->width, h = f->height, sw, sh;
	vnc_size(v, &sw, &sh);
	fuzz_check(f->rgb && w >= 1 && h >= 1 && w <= FRAME_MAX_DIM && h <= FRAME_MAX_DIM &&
			   (!just_completed || (w == sw && h == sh)),
		   "vnc: a frame handed out out of range, or a frame just completed not the screen's size");
	size_t n = (size_t)w * (size_t)h * 3;
	unsigned sum = f->rgb[n - 1];
	for (size_t i = 0; i < n; i += 4093)
		sum += f->rgb[i];
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "frame %dx%d (sum %u; screen %dx%d), %s\n", w, h, sum, sw, sh,
			vnc_describe(v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t last = size ? data[size - 1] : 0;
	enum vnc_source source = last & 0x80 ? VNC_CAPTURE_DEVICE : VNC_QEMU;
	struct fuzz_peer peer;
	int fd = fuzz_peer_start(&peer, data, size, 1 + (size_t)(last & 0x3f) * 64);
	struct hil_err err;
	struct vnc *v = vnc_open_fd(fd, "fuzz", source, now_ms() + DEADLINE_MS, &err);
	if (!v) {
		fuzz_check(err.msg[0] != '\0', "vnc_open_fd failed without saying why");
		if (getenv("HILRUN_FUZZ_VERBOSE"))
			fprintf(stderr, "%s\n", err.msg);
		fuzz_peer_join(&peer);
		return 0;
	}
	/* A screen up to FRAME_MAX_DIM a side is the client's to accept, but
	 * a frame of 8192x8192 (one Tight fill in 26 bytes) takes seconds and
	 * 1 GB under ASan: past FUZZ_VNC_MAX_PIXELS only the opening is
	 * fuzzed. (A resize later may still reach it: vnc.options gives
	 * libFuzzer room for those.) */
	int w, h;
	vnc_size(v, &w, &h);
	if ((int64_t)w * h > FUZZ_VNC_MAX_PIXELS) {
		vnc_close(v);
		fuzz_peer_join(&peer);
		return 0;
	}
	struct frame f;
	frame_init(&f);
	if (vnc_grab(v, &f, now_ms() + DEADLINE_MS, &err) == 0)
		check_frame(v, &f, 1);
	else if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "grab: %s\n", err.msg);

	/* the engine's way: a request, then pump when readable */
	if (vnc_request_full(v, &err) == 0) {
		int64_t deadline = now_ms() + DEADLINE_MS;
		for (;;) {
			struct pollfd p = { .fd = vnc_fd(v), .events = POLLIN };
			if (!vnc_has_buffered(v) && poll(&p, 1, ms_left(deadline)) <= 0)
				break;
			int rc = vnc_pump(v, &err);
			if (rc < 0)
				break;
			if (rc == 1) {
				fuzz_check(vnc_take_frame(v, &f) == 0, "vnc_pump completed a frame it cannot hand out");
				check_frame(v, &f, 1);
			}
		}
	}
	if (vnc_take_frame(v, &f) == 0)
		check_frame(v, &f, 0);
	fuzz_check(vnc_describe(v) != NULL, "vnc_describe: NULL");
	frame_release(&f);
	vnc_close(v);
	fuzz_peer_join(&peer);
	return 0;
}
