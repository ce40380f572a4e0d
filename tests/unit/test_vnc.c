/* test_vnc: vnc.c against a real QEMU (its own VNC server on a unix or TCP
 * socket, a VGA card, no boot device: SeaBIOS POSTs into 720x400 text mode
 * and keeps retrying; or a one-sector disk that paints every text colour).
 * Frames are checked against QEMU's own screendump, so a decoding or
 * colour-conversion error shows as a pixel mismatch. A scripted fake RFB
 * server (below) covers what QEMU never does: frames in pieces, resizes
 * mid-frame, oversized screens, passwords, truncated and stalled streams.
 *
 * Environment: HILRUN_QEMU (default qemu-system-x86_64); KVM is used when
 * /dev/kvm is usable, TCG otherwise.
 *
 * Cleanup even on failure: each QEMU gets PR_SET_PDEATHSIG(SIGKILL), so it
 * dies with the forked test process whatever way that ends; the successful
 * path kills and reaps it in the checked teardown; the per-case temporary
 * directory is removed by an unchecked teardown, which runs in the runner
 * process after failures too. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image.h"
#include "util.h"
#include "vnc.h"

/* QEMU slows its VNC refresh to 3 s when the screen is idle, so a single
 * grab may take that long. */
#define GRAB_MS 10000

static char tmpdir[] = "/tmp/hil-test-vnc-XXXXXX";

struct qemu {
	pid_t pid;
	char *dir;
	char *endpoint; /* what vnc_open gets */
	char *qmp_path;
	int qmp_fd;
	char rbuf[65536];
	size_t rlen;
};

static struct qemu qemu = { .pid = -1, .qmp_fd = -1 };

static void tmpdir_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmpdir_teardown(void)
{
	/* No-fork mode: a failed test left its QEMU to this process. */
	if (qemu.pid > 0) {
		kill(qemu.pid, SIGKILL);
		waitpid(qemu.pid, NULL, 0);
		qemu.pid = -1;
	}
	remove_tree(tmpdir);
	strcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX");
}

static void qemu_stop(void)
{
	if (qemu.qmp_fd >= 0)
		close(qemu.qmp_fd);
	if (qemu.pid > 0) {
		kill(qemu.pid, SIGKILL);
		waitpid(qemu.pid, NULL, 0);
	}
	free(qemu.dir);
	free(qemu.endpoint);
	free(qemu.qmp_path);
	memset(&qemu, 0, sizeof qemu);
	qemu.pid = -1;
	qemu.qmp_fd = -1;
}

static int is_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static char *qemu_log(void)
{
	char *path = xasprintf("%s/qemu.log", qemu.dir);
	char *log = read_file(path, 1 << 16, NULL, NULL);
	free(path);
	return log ? log : xstrdup("(no log)");
}

/* Reads one line from QMP into a new string; fails the test on timeout. */
static char *qmp_read_line(void)
{
	for (;;) {
		char *nl = memchr(qemu.rbuf, '\n', qemu.rlen);
		if (nl) {
			size_t n = (size_t)(nl - qemu.rbuf) + 1;
			char *line = xstrndup(qemu.rbuf, n - 1);
			memmove(qemu.rbuf, qemu.rbuf + n, qemu.rlen - n);
			qemu.rlen -= n;
			return line;
		}
		ck_assert_msg(qemu.rlen < sizeof qemu.rbuf, "qmp line too long");
		ssize_t r = read(qemu.qmp_fd, qemu.rbuf + qemu.rlen, sizeof qemu.rbuf - qemu.rlen);
		ck_assert_msg(r > 0, "qmp read: %s", r < 0 ? strerror(errno) : "eof");
		qemu.rlen += (size_t)r;
	}
}

/* Runs a QMP command (a JSON object on one line); returns its reply line,
 * skipping asynchronous events. Fails the test on an error reply. */
static char *qmp(const char *json)
{
	size_t len = strlen(json);
	ck_assert_int_eq(write(qemu.qmp_fd, json, len), (ssize_t)len);
	ck_assert_int_eq(write(qemu.qmp_fd, "\n", 1), 1);
	for (;;) {
		char *line = qmp_read_line();
		if (strstr(line, "\"return\""))
			return line;
		ck_assert_msg(!strstr(line, "\"error\""), "qmp %s: %s", json, line);
		free(line); /* an event */
	}
}

static void qmp_connect(void)
{
	qemu.qmp_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(qemu.qmp_fd, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", qemu.qmp_path);
	/* QEMU makes the socket file before it listens on it: refused for
	 * a moment, under load. */
	int64_t deadline = now_ms() + 10000;
	while (connect(qemu.qmp_fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		ck_assert_msg(errno == ECONNREFUSED && ms_left(deadline) > 0, "qmp connect %s: %s",
			      qemu.qmp_path, strerror(errno));
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	/* A blocking socket, but never blocked for ever. */
	struct timeval tv = { 10, 0 };
	setsockopt(qemu.qmp_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char *greeting = qmp_read_line();
	ck_assert_msg(strstr(greeting, "\"QMP\""), "qmp greeting: %s", greeting);
	free(greeting);
	free(qmp("{\"execute\":\"qmp_capabilities\"}"));
}

/* Starts QEMU, paused (-S). vnc_arg is QEMU's -vnc value, or NULL for a
 * unix socket in the case directory; disk, if not NULL, a raw disk image
 * to boot from. */
static void qemu_start(const char *vnc_arg, const char *disk)
{
	static int seq;
	ck_assert_int_lt(qemu.pid, 0);
	qemu.dir = xasprintf("%s/q%d-%d", tmpdir, (int)getpid(), seq++);
	ck_assert_int_eq(mkdir(qemu.dir, 0700), 0);
	char *vnc_path = xasprintf("%s/vnc.sock", qemu.dir);
	qemu.qmp_path = xasprintf("%s/qmp.sock", qemu.dir);
	qemu.endpoint = xasprintf("unix:%s", vnc_path);

	const char *bin = getenv("HILRUN_QEMU");
	struct argv a = ARGV_INIT;
	argv_push(&a, bin && *bin ? bin : "qemu-system-x86_64");
	argv_push(&a, "-nodefaults");
	argv_push(&a, "-no-user-config");
	argv_push(&a, "-machine");
	argv_push(&a, "pc");
	argv_push(&a, "-accel");
	argv_push(&a, access("/dev/kvm", R_OK | W_OK) == 0 ? "kvm" : "tcg");
	argv_push(&a, "-m");
	argv_push(&a, "32");
	argv_push(&a, "-device");
	argv_push(&a, "VGA");
	argv_push(&a, "-display");
	argv_push(&a, "none");
	argv_push(&a, "-vnc");
	if (vnc_arg)
		argv_push(&a, vnc_arg);
	else
		argv_pushf(&a, "unix:%s", vnc_path);
	argv_push(&a, "-qmp");
	argv_pushf(&a, "unix:%s,server=on,wait=off", qemu.qmp_path);
	argv_push(&a, "-S");
	if (disk) {
		argv_push(&a, "-drive");
		argv_pushf(&a, "file=%s,format=raw,if=ide", disk);
	}
	char *log_path = xasprintf("%s/qemu.log", qemu.dir);

	pid_t parent = getpid();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* Dies with the test process, however that ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_RDONLY);
		if (fd < 0 || null < 0)
			_exit(127);
		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(a.v[0], a.v);
		dprintf(2, "exec %s: %s\n", a.v[0], strerror(errno));
		_exit(127);
	}
	qemu.pid = pid;
	argv_release(&a);
	free(log_path);

	int64_t deadline = now_ms() + 10000;
	while (!is_socket(qemu.qmp_path) || (!vnc_arg && !is_socket(vnc_path))) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			qemu.pid = -1;
			ck_abort_msg("qemu exited early: %s", qemu_log());
		}
		ck_assert_msg(ms_left(deadline) > 0, "qemu sockets did not appear: %s", qemu_log());
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	free(vnc_path);
	qmp_connect();
}

static void qemu_teardown(void)
{
	qemu_stop();
}

/* ---- frames ---- */

static int frame_is_one_colour(const struct frame *f)
{
	size_t n = (size_t)f->width * f->height * 3;
	for (size_t i = 3; i < n; i++)
		if (f->rgb[i] != f->rgb[i % 3])
			return 0;
	return 1;
}

/* Counts pixels darker than 64 and lighter than 160 (mean of R, G, B). */
static void count_dark_light(const struct frame *f, long *dark, long *light)
{
	*dark = *light = 0;
	size_t n = (size_t)f->width * f->height;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = f->rgb + i * 3;
		int lum = (p[0] + p[1] + p[2]) / 3;
		*dark += lum < 64;
		*light += lum > 160;
	}
}

/* QEMU's screendump (binary PPM, maxval 255) as a frame. */
static void screendump(struct frame *out)
{
	char *path = xasprintf("%s/screen.ppm", qemu.dir);
	char *cmd = xasprintf("{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"%s\"}}",
			      path);
	free(qmp(cmd));
	free(cmd);
	size_t len;
	struct hil_err err = { "" };
	char *data = read_file(path, 64 << 20, &len, &err);
	ck_assert_msg(data, "%s", err.msg);
	int w, h, maxval, off = 0;
	ck_assert_msg(sscanf(data, "P6 %d %d %d%n", &w, &h, &maxval, &off) == 3,
		      "%s: not a binary ppm", path);
	ck_assert_int_eq(maxval, 255);
	off++; /* the single whitespace after maxval */
	ck_assert_uint_eq(len, (size_t)off + (size_t)w * h * 3);
	ck_assert_int_eq(frame_alloc(out, w, h), 0);
	memcpy(out->rgb, data + off, (size_t)w * h * 3);
	free(data);
	free(path);
}

/* -1 if equal, else the index of the first differing pixel. */
static long first_difference(const struct frame *a, const struct frame *b)
{
	if (a->width != b->width || a->height != b->height)
		return 0;
	size_t n = (size_t)a->width * a->height;
	for (size_t i = 0; i < n; i++)
		if (memcmp(a->rgb + i * 3, b->rgb + i * 3, 3))
			return (long)i;
	return -1;
}

/* Grabs until the frame equals QEMU's screendump taken right after it:
 * with the guest stopped the screen is still, but QEMU may finish a display
 * refresh in between, so allow a few tries. */
static void assert_matches_screendump(struct vnc *v, struct frame *grabbed)
{
	struct frame dump;
	struct hil_err err = { "" };
	long diff = 0;
	frame_init(&dump);
	for (int attempt = 0; attempt < 3 && diff != -1; attempt++) {
		ck_assert_msg(vnc_grab(v, grabbed, now_ms() + GRAB_MS, &err) == 0, "%s", err.msg);
		screendump(&dump);
		diff = first_difference(grabbed, &dump);
	}
	ck_assert_msg(diff == -1, "vnc frame %dx%d differs from screendump %dx%d at pixel %ld",
		      grabbed->width, grabbed->height, dump.width, dump.height, diff);
	frame_release(&dump);
}

static struct vnc *open_qemu_vnc(void)
{
	struct hil_err err = { "" };
	struct vnc *v = vnc_open(qemu.endpoint, now_ms() + 5000, &err);
	ck_assert_msg(v, "vnc_open: %s", err.msg);
	return v;
}

/* ---- cases ---- */

/* Guest paused before it touched the card: QEMU shows its 640x480 "Guest
 * has not initialized the display (yet)." text on black. */
START_TEST(test_grab_before_guest_init)
{
	qemu_start(NULL, NULL);
	struct vnc *v = open_qemu_vnc();
	struct frame f;
	struct hil_err err = { "" };
	frame_init(&f);

	ck_assert_msg(vnc_take_frame(v, &f) < 0, "a frame before any was requested");
	ck_assert_msg(vnc_grab(v, &f, now_ms() + GRAB_MS, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(f.width, 640);
	ck_assert_int_eq(f.height, 480);
	int w, h;
	vnc_size(v, &w, &h);
	ck_assert_int_eq(w, 640);
	ck_assert_int_eq(h, 480);
	ck_assert_msg(!frame_is_one_colour(&f), "placeholder text missing: frame is one colour");

	/* The same pixels QEMU itself has, so decoding and RGB order are right. */
	assert_matches_screendump(v, &f);

	/* vnc_take_frame hands out a copy of that last frame. */
	struct frame copy;
	frame_init(&copy);
	ck_assert_int_eq(vnc_take_frame(v, &copy), 0);
	ck_assert_int_eq(first_difference(&copy, &f), -1);
	ck_assert_ptr_ne(copy.rgb, f.rgb);

	frame_release(&copy);
	frame_release(&f);
	vnc_close(v);
}
END_TEST

/* The guest starts: the screen goes from 640x480 to SeaBIOS's 720x400 text
 * mode during the session. Frames after the switch must have the new size
 * and be whole (the resize path and the coverage reset). */
START_TEST(test_text_mode_after_resize)
{
	qemu_start(NULL, NULL);
	struct vnc *v = open_qemu_vnc();
	struct frame f;
	struct hil_err err = { "" };
	frame_init(&f);

	ck_assert_msg(vnc_grab(v, &f, now_ms() + GRAB_MS, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(f.width, 640);
	ck_assert_int_eq(f.height, 480);

	free(qmp("{\"execute\":\"cont\"}"));
	int64_t deadline = now_ms() + 15000;
	int grabs = 0;
	while (f.width != 720 || f.height != 400) {
		ck_assert_msg(ms_left(deadline) > 0, "still %dx%d after %d grabs", f.width, f.height,
			      grabs);
		ck_assert_msg(vnc_grab(v, &f, deadline, &err) == 0, "grab %d: %s", grabs, err.msg);
		grabs++;
	}
	int w, h;
	vnc_size(v, &w, &h);
	ck_assert_int_eq(w, 720);
	ck_assert_int_eq(h, 400);
	long dark, light;
	count_dark_light(&f, &dark, &light);
	ck_assert_msg(dark > 0 && light > 0, "text mode frame: %ld dark, %ld light pixels", dark,
		      light);

	/* Stopped, the text screen (and the cursor's blink phase, on the
	 * virtual clock) holds still: compare with QEMU's own view. */
	free(qmp("{\"execute\":\"stop\"}"));
	assert_matches_screendump(v, &f);
	ck_assert_int_eq(f.width, 720);
	ck_assert_int_eq(f.height, 400);

	frame_release(&f);
	vnc_close(v);
}
END_TEST

/* A boot sector that fills the 80x25 text screen with full blocks (0xDB)
 * in attributes 0, 1, 2, ... 255, 0, ... and halts: every EGA colour, as
 * foreground and background, so swapped channels cannot go unnoticed. */
static const uint8_t colour_boot_code[] = {
	0xb8, 0x00, 0xb8, /* mov ax, 0xb800 */
	0x8e, 0xc0,       /* mov es, ax */
	0x31, 0xff,       /* xor di, di */
	0xb9, 0xd0, 0x07, /* mov cx, 2000 */
	0xb4, 0x00,       /* mov ah, 0 (attribute) */
	0xb0, 0xdb,       /* mov al, 0xdb (full block) */
	0xab,             /* next: stosw */
	0xfe, 0xc4,       /* inc ah */
	0xe2, 0xfb,       /* loop next */
	0xfa,             /* cli */
	0xf4,             /* halt: hlt */
	0xeb, 0xfd,       /* jmp halt */
};

static char *write_colour_disk(void)
{
	uint8_t sector[512] = { 0 };
	memcpy(sector, colour_boot_code, sizeof colour_boot_code);
	sector[510] = 0x55;
	sector[511] = 0xaa;
	char *path = xasprintf("%s/colour-%d.img", tmpdir, (int)getpid());
	struct hil_err err = { "" };
	ck_assert_msg(write_file_atomic(path, sector, sizeof sector, &err) == 0, "%s", err.msg);
	return path;
}

/* The RGB at the middle of text cell (col, row) of a 720x400 screen. */
static const uint8_t *cell_pixel(const struct frame *f, int col, int row)
{
	int x = col * 9 + 4, y = row * 16 + 8;
	return f->rgb + ((size_t)y * f->width + x) * 3;
}

static int level(uint8_t c)
{
	return c == 0 ? 0 : c < 0x80 ? 1 : c < 0xff ? 2 : 3;
}

/* Text in every colour: the frame has QEMU's pixels (screendump) and the
 * EGA colours land in the right channels. */
START_TEST(test_colours)
{
	char *disk = write_colour_disk();
	qemu_start(NULL, disk);
	struct vnc *v = open_qemu_vnc();
	struct frame f;
	struct hil_err err = { "" };
	frame_init(&f);

	free(qmp("{\"execute\":\"cont\"}"));
	/* Wait for the guest to get there (SeaBIOS shows its grey banner
	 * first): cell 1 turns a colour, whichever. */
	int64_t deadline = now_ms() + 15000;
	for (;;) {
		ck_assert_msg(vnc_grab(v, &f, deadline, &err) == 0, "%s", err.msg);
		const uint8_t *p = f.width == 720 && f.height == 400 ? cell_pixel(&f, 1, 0) : NULL;
		if (p && (p[0] != p[1] || p[1] != p[2]))
			break;
		ck_assert_msg(ms_left(deadline) > 0, "no colour screen: %dx%d", f.width, f.height);
	}
	free(qmp("{\"execute\":\"stop\"}"));
	assert_matches_screendump(v, &f);

	/* Levels, not exact values (the palette is the VGA BIOS's business):
	 * 0 zero, 1 dim (< 0x80), 2 normal (0x80-0xfe), 3 bright (0xff). */
	static const struct {
		int cell;
		const char *name;
		int r, g, b;
	} expect[] = {
		{ 0, "black", 0, 0, 0 },	{ 1, "blue", 0, 0, 2 },
		{ 2, "green", 0, 2, 0 },	{ 4, "red", 2, 0, 0 },
		{ 6, "brown", 2, 1, 0 },	{ 8, "dark grey", 1, 1, 1 },
		{ 9, "light blue", 1, 1, 3 },	{ 12, "light red", 3, 1, 1 },
		{ 14, "yellow", 3, 3, 1 },	{ 15, "white", 3, 3, 3 },
	};
	for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
		const uint8_t *p = cell_pixel(&f, expect[i].cell, 0);
		ck_assert_msg(level(p[0]) == expect[i].r && level(p[1]) == expect[i].g &&
				      level(p[2]) == expect[i].b,
			      "cell %d should be %s, is %02x%02x%02x", expect[i].cell, expect[i].name,
			      p[0], p[1], p[2]);
	}

	/* Asked as a capture device is (Tight first, JPEG quality level 9),
	 * QEMU, whose VNC is not lossy unless told, answers in Tight without
	 * JPEG: libvncclient's Tight decoder gives the same exact pixels. */
	struct vnc *tight = vnc_open_as(qemu.endpoint, VNC_CAPTURE_DEVICE, now_ms() + 5000, &err);
	ck_assert_msg(tight, "vnc_open_as: %s", err.msg);
	struct frame t;
	frame_init(&t);
	assert_matches_screendump(tight, &t);
	ck_assert_int_eq(first_difference(&t, &f), -1);
	frame_release(&t);
	vnc_close(tight);

	frame_release(&f);
	vnc_close(v);
	free(disk);
}
END_TEST

/* ---- a scripted RFB server ----
 *
 * QEMU answers a full request with one screen-sized rectangle, so it never
 * exercises the coverage logic (frames sent in pieces, overlaps, a resize
 * in the middle of a frame) nor broken servers. This one is a forked child
 * that speaks just enough RFB 3.8 (Raw only) to play a script; it also
 * checks what the client announces. It exits 0 when all went as planned. */

#define FAKE_IO_MS 5000

struct fake {
	pid_t pid;
	char *endpoint;
};

static int fake_read(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, FAKE_IO_MS) != 1)
			return -1;
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int fake_write(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void be16(uint8_t *p, unsigned x)
{
	p[0] = (uint8_t)(x >> 8);
	p[1] = (uint8_t)x;
}

static void be32(uint8_t *p, uint32_t x)
{
	be16(p, x >> 16);
	be16(p + 2, x & 0xffff);
}

static unsigned get_be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The test pattern; a seed tells frames apart. */
static void pattern(int x, int y, int seed, uint8_t rgb[3])
{
	rgb[0] = (uint8_t)(x * 3 + seed);
	rgb[1] = (uint8_t)(y * 5 + seed * 7);
	rgb[2] = (uint8_t)((x ^ y) + seed * 13);
}

/* Version, security (type 1 None, or what security says), ClientInit,
 * ServerInit for width x height. */
static int fake_handshake(int fd, int width, int height, uint8_t security)
{
	uint8_t buf[64];
	if (fake_write(fd, "RFB 003.008\n", 12) || fake_read(fd, buf, 12))
		return -1;
	uint8_t types[2] = { 1, security };
	if (fake_write(fd, types, 2) || fake_read(fd, buf, 1) || buf[0] != security)
		return -1;
	if (security == 2) { /* VNC auth: a challenge the client must answer */
		memset(buf, 0x42, 16);
		if (fake_write(fd, buf, 16))
			return -1;
		fake_read(fd, buf, 16);
		return 1; /* the client has nothing to answer with */
	}
	uint8_t ok[4] = { 0 };
	if (fake_write(fd, ok, 4) || fake_read(fd, buf, 1))
		return -1;
	/* ServerInit: size, pixel format (32 bpp, depth 24, little endian,
	 * true colour, 255 max, shifts 16/8/0), name "fake". */
	uint8_t si[24 + 4] = { 0 };
	be16(si, (unsigned)width);
	be16(si + 2, (unsigned)height);
	si[4] = 32;
	si[5] = 24;
	si[7] = 1;
	be16(si + 8, 255);
	be16(si + 10, 255);
	be16(si + 12, 255);
	si[14] = 16;
	si[15] = 8;
	be32(si + 20, 4);
	memcpy(si + 24, "fake", 4);
	return fake_write(fd, si, sizeof si);
}

/* What the client announces: our pixel format, and DesktopSize but not
 * ExtendedDesktopSize (which 0.9.14 mishandles) among the encodings. */
static int fake_expect_setup(int fd, uint8_t pf_out[16])
{
	uint8_t msg[4 + 4 * 64];
	if (fake_read(fd, msg, 20) || msg[0] != 0)
		return -1;
	memcpy(pf_out, msg + 4, 16);
	if (pf_out[0] != 32 || pf_out[1] != 24 || !pf_out[3])
		return -1;
	if (fake_read(fd, msg, 4) || msg[0] != 2)
		return -1;
	unsigned n = get_be16(msg + 2);
	if (n > 64 || fake_read(fd, msg + 4, 4 * n))
		return -1;
	int desktop_size = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t e = (uint32_t)get_be16(msg + 4 + 4 * i) << 16 | get_be16(msg + 6 + 4 * i);
		if (e == 0xFFFFFECCu || e == 0xFFFFFEFEu) /* -308, -258 */
			return -1;
		desktop_size |= e == 0xFFFFFF21u; /* -223 */
	}
	return desktop_size ? 0 : -1;
}

/* Reads client messages up to a non-incremental update request for the
 * whole width x height (skipping others, e.g. for an older size). */
static int fake_wait_full_request(int fd, int width, int height)
{
	for (;;) {
		uint8_t m[20];
		if (fake_read(fd, m, 1))
			return -1;
		if (m[0] != 3)
			return -1; /* only update requests expected here */
		if (fake_read(fd, m + 1, 9))
			return -1;
		if (!m[1] && !get_be16(m + 2) && !get_be16(m + 4) &&
		    (int)get_be16(m + 6) == width && (int)get_be16(m + 8) == height)
			return 0;
	}
}

static int fake_update_header(int fd, unsigned nrects)
{
	uint8_t h[4] = { 0, 0 };
	be16(h + 2, nrects);
	return fake_write(fd, h, 4);
}

static int fake_rect_header(int fd, int x, int y, int w, int h, uint32_t encoding)
{
	uint8_t r[12];
	be16(r, (unsigned)x);
	be16(r + 2, (unsigned)y);
	be16(r + 4, (unsigned)w);
	be16(r + 6, (unsigned)h);
	be32(r + 8, encoding);
	return fake_write(fd, r, 12);
}

/* A Raw rectangle of the pattern in the client's pixel format; only the
 * first `bytes` of its pixel data when bytes >= 0. */
static int fake_raw_rect(int fd, const uint8_t pf[16], int x, int y, int w, int h, int seed,
			 long bytes)
{
	if (fake_rect_header(fd, x, y, w, h, 0))
		return -1;
	size_t n = (size_t)w * h * 4;
	uint8_t *px = xmalloc(n);
	for (int j = 0; j < h; j++)
		for (int i = 0; i < w; i++) {
			uint8_t rgb[3];
			pattern(x + i, y + j, seed, rgb);
			uint32_t v = (uint32_t)rgb[0] << pf[10] | (uint32_t)rgb[1] << pf[11] |
				     (uint32_t)rgb[2] << pf[12];
			uint8_t *p = px + ((size_t)j * w + i) * 4;
			for (int b = 0; b < 4; b++)
				p[b] = (uint8_t)(pf[2] ? v >> (24 - 8 * b) : v >> (8 * b));
		}
	int rc = fake_write(fd, px, bytes >= 0 && (size_t)bytes < n ? (size_t)bytes : n);
	free(px);
	return rc;
}

/* Waits for the client to hang up. */
static int fake_wait_close(int fd)
{
	uint8_t b[256];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	for (;;) {
		if (poll(&pfd, 1, FAKE_IO_MS) != 1)
			return -1;
		ssize_t r = read(fd, b, sizeof b);
		if (r == 0)
			return 0;
		if (r < 0)
			return -1;
	}
}

enum fake_script {
	FAKE_SPLIT_FRAME,    /* a frame in overlapping pieces, several messages */
	FAKE_RESIZE_MIDWAY,  /* DesktopSize in the middle of a frame */
	FAKE_RESIZE_TOO_BIG, /* DesktopSize beyond FRAME_MAX_DIM */
	FAKE_HUGE_SCREEN,    /* ServerInit beyond FRAME_MAX_DIM */
	FAKE_PASSWORD,       /* VNC authentication only */
	FAKE_TRUNCATED,      /* half a rectangle, then close */
	FAKE_STALLED,        /* half a rectangle, then silence */
};

static int fake_play(int fd, enum fake_script script)
{
	uint8_t pf[16];
	int w = 64, h = 32;
	if (script == FAKE_HUGE_SCREEN)
		return fake_handshake(fd, 9000, 16, 1) ? -1 : fake_wait_close(fd);
	if (script == FAKE_PASSWORD)
		return fake_handshake(fd, w, h, 2) == 1 ? fake_wait_close(fd) : -1;
	if (fake_handshake(fd, w, h, 1) || fake_expect_setup(fd, pf) ||
	    fake_wait_full_request(fd, w, h))
		return -1;
	switch (script) {
	case FAKE_SPLIT_FRAME:
		/* 40 columns twice (a naive pixel count would call the frame
		 * whole after that), then the remaining 24 in two halves. */
		if (fake_update_header(fd, 1) || fake_raw_rect(fd, pf, 0, 0, 40, 32, 1, -1) ||
		    fake_update_header(fd, 1) || fake_raw_rect(fd, pf, 0, 0, 40, 32, 1, -1) ||
		    fake_update_header(fd, 2) || fake_raw_rect(fd, pf, 40, 0, 24, 16, 1, -1) ||
		    fake_raw_rect(fd, pf, 40, 16, 24, 16, 1, -1))
			return -1;
		return fake_wait_close(fd);
	case FAKE_RESIZE_MIDWAY:
		if (fake_update_header(fd, 1) || fake_raw_rect(fd, pf, 0, 0, 64, 16, 1, -1) ||
		    fake_update_header(fd, 1) || fake_rect_header(fd, 0, 0, 80, 40, 0xFFFFFF21u) ||
		    fake_wait_full_request(fd, 80, 40) || fake_update_header(fd, 1) ||
		    fake_raw_rect(fd, pf, 0, 0, 80, 40, 2, -1))
			return -1;
		return fake_wait_close(fd);
	case FAKE_RESIZE_TOO_BIG:
		if (fake_update_header(fd, 1) || fake_rect_header(fd, 0, 0, 8193, 8, 0xFFFFFF21u))
			return -1;
		return fake_wait_close(fd);
	case FAKE_TRUNCATED:
		fake_update_header(fd, 1);
		fake_raw_rect(fd, pf, 0, 0, 64, 32, 1, 64 * 16 * 4);
		return 0; /* close */
	case FAKE_STALLED:
		fake_update_header(fd, 1);
		fake_raw_rect(fd, pf, 0, 0, 64, 32, 1, 64 * 16 * 4);
		return fake_wait_close(fd);
	default:
		return -1;
	}
}

static void fake_start(struct fake *f, enum fake_script script)
{
	static int seq;
	char *path = xasprintf("%s/fake-%d-%d.sock", tmpdir, (int)getpid(), seq++);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	f->endpoint = xasprintf("unix:%s", path);
	free(path);
	pid_t parent = getpid();
	f->pid = fork();
	ck_assert_int_ge(f->pid, 0);
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(2);
		signal(SIGPIPE, SIG_IGN);
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		if (poll(&pfd, 1, FAKE_IO_MS) != 1)
			_exit(3);
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			_exit(4);
		_exit(fake_play(fd, script) ? 1 : 0);
	}
	close(lfd);
}

/* The server's verdict: 0 if it played its script to the end. */
static int fake_finish(struct fake *f)
{
	int status = -1;
	int64_t deadline = now_ms() + FAKE_IO_MS + 1000;
	while (waitpid(f->pid, &status, WNOHANG) == 0) {
		if (ms_left(deadline) == 0) {
			kill(f->pid, SIGKILL);
			waitpid(f->pid, &status, 0);
			break;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	free(f->endpoint);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void assert_pattern(const struct frame *f, int seed)
{
	for (int y = 0; y < f->height; y++)
		for (int x = 0; x < f->width; x++) {
			uint8_t want[3];
			pattern(x, y, seed, want);
			const uint8_t *got = f->rgb + ((size_t)y * f->width + x) * 3;
			ck_assert_msg(!memcmp(got, want, 3),
				      "pixel %d,%d is %02x%02x%02x, want %02x%02x%02x", x, y, got[0],
				      got[1], got[2], want[0], want[1], want[2]);
		}
}

/* A frame sent in overlapping pieces over three messages is whole only
 * after the last one: every pixel must be the server's. */
START_TEST(test_fake_split_frame)
{
	struct fake fk;
	fake_start(&fk, FAKE_SPLIT_FRAME);
	struct hil_err err = { "" };
	struct vnc *v = vnc_open(fk.endpoint, now_ms() + 5000, &err);
	ck_assert_msg(v, "%s", err.msg);
	struct frame f;
	frame_init(&f);
	ck_assert_msg(vnc_grab(v, &f, now_ms() + 5000, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(f.width, 64);
	ck_assert_int_eq(f.height, 32);
	assert_pattern(&f, 1);
	frame_release(&f);
	vnc_close(v);
	ck_assert_int_eq(fake_finish(&fk), 0);
}
END_TEST

/* A resize while a frame is half received: the frame comes whole at the
 * new size, from a request for the new size. */
START_TEST(test_fake_resize_midway)
{
	struct fake fk;
	fake_start(&fk, FAKE_RESIZE_MIDWAY);
	struct hil_err err = { "" };
	struct vnc *v = vnc_open(fk.endpoint, now_ms() + 5000, &err);
	ck_assert_msg(v, "%s", err.msg);
	struct frame f;
	frame_init(&f);
	ck_assert_msg(vnc_grab(v, &f, now_ms() + 5000, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(f.width, 80);
	ck_assert_int_eq(f.height, 40);
	assert_pattern(&f, 2);
	int w, h;
	vnc_size(v, &w, &h);
	ck_assert_int_eq(w, 80);
	ck_assert_int_eq(h, 40);
	frame_release(&f);
	vnc_close(v);
	ck_assert_int_eq(fake_finish(&fk), 0);
}
END_TEST

START_TEST(test_fake_resize_too_big)
{
	struct fake fk;
	fake_start(&fk, FAKE_RESIZE_TOO_BIG);
	struct hil_err err = { "" };
	struct vnc *v = vnc_open(fk.endpoint, now_ms() + 5000, &err);
	ck_assert_msg(v, "%s", err.msg);
	struct frame f;
	frame_init(&f);
	ck_assert_int_eq(vnc_grab(v, &f, now_ms() + 5000, &err), -1);
	ck_assert_msg(strstr(err.msg, fk.endpoint) && strstr(err.msg, "8193x8 screen"), "%s",
		      err.msg);
	ck_assert_int_eq(vnc_pump(v, &err), -1);
	vnc_close(v);
	ck_assert_int_eq(fake_finish(&fk), 0);
}
END_TEST

START_TEST(test_fake_huge_screen)
{
	struct fake fk;
	fake_start(&fk, FAKE_HUGE_SCREEN);
	struct hil_err err = { "" };
	ck_assert_ptr_null(vnc_open(fk.endpoint, now_ms() + 5000, &err));
	ck_assert_msg(strstr(err.msg, fk.endpoint) && strstr(err.msg, "9000x16 screen"), "%s",
		      err.msg);
	ck_assert_int_eq(fake_finish(&fk), 0);
}
END_TEST

START_TEST(test_fake_password)
{
	struct fake fk;
	fake_start(&fk, FAKE_PASSWORD);
	struct hil_err err = { "" };
	ck_assert_ptr_null(vnc_open(fk.endpoint, now_ms() + 5000, &err));
	char *want = xasprintf("vnc %s: server requires a password, which hilrun does not support",
			       fk.endpoint);
	ck_assert_str_eq(err.msg, want);
	free(want);
	ck_assert_int_eq(fake_finish(&fk), 0);
}
END_TEST

/* The server closes in the middle of a rectangle. */
START_TEST(test_fake_truncated)
{
	struct fake fk;
	fake_start(&fk, FAKE_TRUNCATED);
	struct hil_err err = { "" };
	struct vnc *v = vnc_open(fk.endpoint, now_ms() + 5000, &err);
	ck_assert_msg(v, "%s", err.msg);
	struct frame f;
	frame_init(&f);
	int64_t start = now_ms();
	ck_assert_int_eq(vnc_grab(v, &f, start + 5000, &err), -1);
	ck_assert_int_lt(now_ms() - start, 1000);
	ck_assert_msg(strstr(err.msg, fk.endpoint) && strstr(err.msg, "connection lost"), "%s",
		      err.msg);
	vnc_close(v);
	ck_assert_int_eq(fake_finish(&fk), 0);
}
END_TEST

/* The server stops in the middle of a rectangle and stays connected:
 * the grab gives up near its deadline, not at libvncclient's whim. */
START_TEST(test_fake_stalled)
{
	struct fake fk;
	fake_start(&fk, FAKE_STALLED);
	struct hil_err err = { "" };
	struct vnc *v = vnc_open(fk.endpoint, now_ms() + 5000, &err);
	ck_assert_msg(v, "%s", err.msg);
	struct frame f;
	frame_init(&f);
	int64_t start = now_ms();
	ck_assert_int_eq(vnc_grab(v, &f, start + 1500, &err), -1);
	int64_t took = now_ms() - start;
	ck_assert_msg(took >= 1000 && took < 3500, "gave up after %lld ms", (long long)took);
	ck_assert_msg(strstr(err.msg, fk.endpoint) && strstr(err.msg, "timed out"), "%s",
		      err.msg);
	vnc_close(v);
	ck_assert_int_eq(fake_finish(&fk), 0);
}
END_TEST

START_TEST(test_missing_socket)
{
	char *endpoint = xasprintf("unix:%s/no-such.sock", tmpdir);
	struct hil_err err = { "" };
	int64_t start = now_ms();
	struct vnc *v = vnc_open(endpoint, start + 5000, &err);
	ck_assert_ptr_null(v);
	ck_assert_msg(strstr(err.msg, endpoint), "error does not name the endpoint: %s", err.msg);
	ck_assert_msg(strstr(err.msg, "no such file"), "unexpected error: %s", err.msg);
	ck_assert_int_lt(now_ms() - start, 1000);
	free(endpoint);
}
END_TEST

START_TEST(test_connection_refused_tcp)
{
	/* Port 1 (tcpmux) on loopback: nothing listens there. */
	struct hil_err err = { "" };
	struct vnc *v = vnc_open("127.0.0.1:1", now_ms() + 5000, &err);
	ck_assert_ptr_null(v);
	ck_assert_str_eq(err.msg, "vnc 127.0.0.1:1: connection refused");
}
END_TEST

/* A server that accepts and never speaks: vnc_open must give up near its
 * deadline (libvncclient's read timeout has whole seconds). */
START_TEST(test_silent_server_deadline)
{
	char *path = xasprintf("%s/silent.sock", tmpdir);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);

	char *endpoint = xasprintf("unix:%s", path);
	struct hil_err err = { "" };
	int64_t start = now_ms();
	struct vnc *v = vnc_open(endpoint, start + 1500, &err);
	int64_t took = now_ms() - start;
	ck_assert_ptr_null(v);
	ck_assert_msg(took >= 1000 && took < 4000, "gave up after %lld ms", (long long)took);
	ck_assert_msg(strstr(err.msg, endpoint) && strstr(err.msg, "timed out"), "%s", err.msg);
	close(lfd);
	free(endpoint);
	free(path);
}
END_TEST

/* QEMU dies while we are connected, idle: the socket turns readable (EOF)
 * and vnc_pump reports it; every later call reports it too. */
START_TEST(test_server_killed_pump)
{
	qemu_start(NULL, NULL);
	struct vnc *v = open_qemu_vnc();
	struct frame f;
	struct hil_err err = { "" };
	frame_init(&f);
	ck_assert_msg(vnc_grab(v, &f, now_ms() + GRAB_MS, &err) == 0, "%s", err.msg);

	kill(qemu.pid, SIGKILL);
	waitpid(qemu.pid, NULL, 0);
	qemu.pid = -1;

	struct pollfd p = { .fd = vnc_fd(v), .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	int64_t start = now_ms();
	ck_assert_int_eq(vnc_pump(v, &err), -1);
	ck_assert_msg(strstr(err.msg, qemu.endpoint), "error does not name the endpoint: %s",
		      err.msg);
	ck_assert_msg(strstr(err.msg, "connection lost"), "unexpected error: %s", err.msg);

	err.msg[0] = '\0';
	ck_assert_int_eq(vnc_grab(v, &f, now_ms() + 3000, &err), -1);
	ck_assert_msg(strstr(err.msg, "connection lost"), "unexpected error: %s", err.msg);
	ck_assert_int_lt(now_ms() - start, 1000);
	/* The last good frame is still there. */
	ck_assert_int_eq(vnc_take_frame(v, &f), 0);
	ck_assert_int_eq(f.width, 640);

	frame_release(&f);
	vnc_close(v);
}
END_TEST

/* QEMU dies and the next thing we do is write (the request of vnc_grab):
 * no SIGPIPE may kill us, and the grab must fail well before its deadline. */
START_TEST(test_server_killed_grab)
{
	qemu_start(NULL, NULL);
	struct vnc *v = open_qemu_vnc();
	struct frame f;
	struct hil_err err = { "" };
	frame_init(&f);
	ck_assert_msg(vnc_grab(v, &f, now_ms() + GRAB_MS, &err) == 0, "%s", err.msg);

	kill(qemu.pid, SIGKILL);
	waitpid(qemu.pid, NULL, 0);
	qemu.pid = -1;

	int64_t start = now_ms();
	ck_assert_int_eq(vnc_grab(v, &f, start + 3000, &err), -1);
	ck_assert_int_lt(now_ms() - start, 2000);
	ck_assert_msg(strstr(err.msg, qemu.endpoint), "error does not name the endpoint: %s",
		      err.msg);
	ck_assert_int_eq(vnc_request_full(v, &err), -1);
	ck_assert_int_eq(vnc_pump(v, &err), -1);

	frame_release(&f);
	vnc_close(v);
}
END_TEST

START_TEST(test_malformed_endpoints)
{
	static const struct {
		const char *endpoint, *expect;
	} cases[] = {
		{ "", "vnc endpoint is empty (expected unix:/path or host:port)" },
		{ "host:", "vnc endpoint 'host:': missing port after ':' (a TCP port, 1-65535)" },
		{ "host:99999", "vnc endpoint 'host:99999': port 99999 out of range (1-65535)" },
		{ "host:0", "vnc endpoint 'host:0': port 0 out of range (1-65535)" },
		{ "host:59x", "vnc endpoint 'host:59x': port '59x' is not a number" },
		{ "host:-1", "vnc endpoint 'host:-1': port '-1' is not a number" },
		{ ":5900", "vnc endpoint ':5900': missing host before the port" },
		{ "localhost", "vnc endpoint 'localhost': expected unix:/path or host:port" },
		{ "unix:", "vnc endpoint 'unix:': missing socket path after 'unix:'" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct hil_err err = { "" };
		ck_assert_ptr_null(vnc_open(cases[i].endpoint, now_ms() + 1000, &err));
		ck_assert_str_eq(err.msg, cases[i].expect);
	}

	struct hil_err err = { "" };
	ck_assert_ptr_null(vnc_open(NULL, now_ms() + 1000, &err));
	ck_assert_str_eq(err.msg, "vnc endpoint is empty (expected unix:/path or host:port)");

	char long_path[300];
	memset(long_path, 'a', sizeof long_path);
	memcpy(long_path, "unix:/", 6);
	long_path[sizeof long_path - 1] = '\0';
	ck_assert_ptr_null(vnc_open(long_path, now_ms() + 1000, &err));
	ck_assert_msg(strstr(err.msg, "socket path longer than 107 bytes"), "%s", err.msg);
}
END_TEST

/* "host:port" over TCP on loopback; QEMU picks a free display. */
START_TEST(test_tcp_endpoint)
{
	qemu_start("127.0.0.1:40,to=99", NULL);
	char *reply = qmp("{\"execute\":\"query-vnc\"}");
	char *service = strstr(reply, "\"service\": \"");
	ck_assert_msg(service, "query-vnc: %s", reply);
	int port = atoi(service + strlen("\"service\": \""));
	ck_assert_int_ge(port, 5940);
	free(reply);

	char *endpoint = xasprintf("127.0.0.1:%d", port);
	struct hil_err err = { "" };
	struct vnc *v = vnc_open(endpoint, now_ms() + 5000, &err);
	ck_assert_msg(v, "vnc_open: %s", err.msg);
	struct frame f;
	frame_init(&f);
	ck_assert_msg(vnc_grab(v, &f, now_ms() + GRAB_MS, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(f.width, 640);
	ck_assert_int_eq(f.height, 480);
	ck_assert(!frame_is_one_colour(&f));

	frame_release(&f);
	vnc_close(v);
	free(endpoint);
}
END_TEST

static Suite *vnc_suite(void)
{
	Suite *s = suite_create("vnc");

	TCase *tc = tcase_create("qemu");
	tcase_add_unchecked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_add_checked_fixture(tc, NULL, qemu_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_grab_before_guest_init);
	tcase_add_test(tc, test_text_mode_after_resize);
	tcase_add_test(tc, test_colours);
	tcase_add_test(tc, test_server_killed_pump);
	tcase_add_test(tc, test_server_killed_grab);
	tcase_add_test(tc, test_tcp_endpoint);
	suite_add_tcase(s, tc);

	tc = tcase_create("fake-server");
	tcase_add_unchecked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fake_split_frame);
	tcase_add_test(tc, test_fake_resize_midway);
	tcase_add_test(tc, test_fake_resize_too_big);
	tcase_add_test(tc, test_fake_huge_screen);
	tcase_add_test(tc, test_fake_password);
	tcase_add_test(tc, test_fake_truncated);
	tcase_add_test(tc, test_fake_stalled);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_unchecked_fixture(tc, tmpdir_setup, tmpdir_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_missing_socket);
	tcase_add_test(tc, test_connection_refused_tcp);
	tcase_add_test(tc, test_silent_server_deadline);
	tcase_add_test(tc, test_malformed_endpoints);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(vnc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
