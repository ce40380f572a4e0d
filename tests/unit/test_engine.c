/* test_engine: the run engine's table (harness/run/engine.h) with no QEMU.
 * An engine for std-vga's seabios/bios-post cell is driven along the
 * happy path with real frames (tests/fixtures/frames: SeaBIOS's banner,
 * bios-post's text screen and its calibration screen, and the graphics
 * pattern drawn from its spec) and real report lines, to every phase; in
 * each phase every event is fed, and what follows (the phase, each
 * stage's outcome, the verdict, the acks written to the guest) is checked
 * against what this file says each event must do: a statement of the
 * behaviour written apart from the table, so that a wrong row fails.
 * Time is the events' own: windows and the hang's words are checked with
 * made-up times. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog.h"
#include "engine.h"
#include "pattern.h"
#include "report.h"
#include "testutil.h"

#define CODE 0x1234abcdu
#define T0 1000000 /* the engine's clock starts here */
#define EXIT_STATUS(code) ((code) << 8) /* a wait status: exited with code */

static struct catalog cat;
static struct cell cell, os_cell; /* std-vga seabios/bios-post and seabios/linux-drm */
static struct cell uefi_cell;     /* std-vga ovmf/uefi-gop */
static struct cell win_cell;      /* a windows cell, of the card a test says */
static const struct cell *under_test = &cell;
static struct vgafont font, odd_font; /* SeaBIOS's, and one with no 'e' */
static const struct vgafont *decoder_font = &font;
static struct ocr *decoder_ocr; /* tesseract, where a test gives the engine one */
static struct frame post_frame, text_frame, calib_frame, pattern_frame, black, console_frame;
static struct frame placeholder_frame;
static char *dir;
static int guest_end = -1; /* the guest's side of COM1: acks arrive here */
static double window_scale = 1.0, display_scale; /* new_engine()'s (0: window_scale) */

static void read_fixture(struct frame *f, const char *name)
{
	struct hil_err err;
	char *path = xasprintf("%s/frames/%s", test_fixtures_dir(), name);
	frame_init(f);
	ck_assert_msg(frame_read(f, path, &err) == 0, "%s", err.msg);
	free(path);
}

/* The pattern of docs/graphics-pattern.md at 640x480, carrying CODE. */
static void draw_pattern(struct frame *f)
{
	frame_init(f);
	ck_assert_int_eq(frame_alloc(f, 640, 480), 0);
	for (int y = 0; y < 480; y++)
		for (int x = 0; x < 640; x++) {
			enum primary p = pattern_expected(x / 40, y / 40, CODE);
			uint8_t *px = f->rgb + ((size_t)y * 640 + (size_t)x) * 3;
			px[0] = p & 4 ? 0xff : 0, px[1] = p & 2 ? 0xff : 0, px[2] = p & 1 ? 0xff : 0;
		}
}

/* Once for all tests (an unchecked fixture: the forked tests inherit it). */
static void load(void)
{
	struct hil_err err;
	catalog_init(&cat);
	char *cards = test_path(test_source_dir(), "cards");
	ck_assert_msg(catalog_load_cards(&cat, cards, &err) == 0, "%s", err.msg);
	free(cards);
	const struct card *card = catalog_find_card(&cat, "std-vga");
	ck_assert_ptr_nonnull(card);
	cell = (struct cell){ card, "seabios", guest_find("bios-post"), card_find_variant(card, "default") };
	os_cell = (struct cell){ card, "seabios", guest_find("linux-drm"), card_find_variant(card, "default") };
	read_fixture(&console_frame, "fbtext-1024x768.png");
	ck_assert_msg(vgafont_from_rom(&font, VGAFONT_DEFAULT_ROM, &err) == 0, "%s", err.msg);
	/* The decoder's font is not the card's: its 'e' is blank, so the
	 * card's e reads as another glyph it cannot trust. */
	odd_font = font;
	memset(odd_font.glyph['e'], 0, sizeof odd_font.glyph['e']);
	uefi_cell = (struct cell){ card, "ovmf", guest_find("uefi-gop"), card_find_variant(card, "default") };
	read_fixture(&placeholder_frame, "qemu-placeholder.png");
	read_fixture(&post_frame, "bios-post-stdvga-post.png");
	read_fixture(&text_frame, "bios-post-stdvga-text.png");
	read_fixture(&calib_frame, "calibration-stdvga.png");
	draw_pattern(&pattern_frame);
	frame_init(&black);
	ck_assert_int_eq(frame_alloc(&black, 720, 400), 0);
}

static void unload(void)
{
	frame_release(&placeholder_frame);
	frame_release(&post_frame);
	frame_release(&text_frame);
	frame_release(&calib_frame);
	frame_release(&pattern_frame);
	frame_release(&black);
	frame_release(&console_frame);
	catalog_release(&cat);
}

static void setup(void)
{
	dir = test_tmpdir();
	decoder_font = &font;
	decoder_ocr = NULL;
	under_test = &cell;
}

static void teardown(void)
{
	test_rmdir(dir);
	free(dir);
	if (guest_end >= 0)
		close(guest_end);
	guest_end = -1;
}

/* A new engine before QEMU started, its COM1 a socketpair. */
static void new_engine(struct engine *e)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	if (guest_end >= 0)
		close(guest_end);
	guest_end = sv[1];
	const struct engine_setup s = { .cell = under_test, .tmp_dir = dir, .serial_fd = sv[0],
					.scale = window_scale, .display_scale = display_scale,
					.accel = window_scale > 1 ? "tcg" : "kvm", .font = decoder_font,
					.ocr = decoder_ocr, .own_display = 1 };
	engine_init(e, &s, T0);
}

static void done_with(struct engine *e)
{
	close(e->set.serial_fd);
	engine_release(e);
}

/* Acks the guest has received since the last call. */
static int acks(void)
{
	char buf[64];
	ssize_t n = read(guest_end, buf, sizeof buf);
	return n > 0 ? (int)n : 0;
}

static int64_t clock_ms = T0;

static void feed(struct engine *e, struct event ev)
{
	ev.t = clock_ms += 10;
	engine_feed(e, &ev);
}

static void say(struct engine *e, const char *line)
{
	char *full = xasprintf("HILRUN/1 %s", line);
	feed(e, (struct event){ .kind = EV_LINE, .text = full, .len = strlen(full) });
	free(full);
}

static void show(struct engine *e, const struct frame *f)
{
	feed(e, (struct event){ .kind = EV_FRAME, .frame = f });
}

/* The OS guest's happy path after text: its drivers, the pattern through
 * them, the driver's console (the framebuffer-text fixture, whose rows 0
 * and 2 are the console lines), the end. */
static void drive_driver(struct engine *e, enum phase target)
{
	ck_assert_int_eq(e->phase, PH_WAIT_DRIVER);
	if (e->phase == target)
		return;
	say(e, "driver module dev=0000:00:02.0 name=bochs blacklisted=0 result=0");
	say(e, "driver bound bdf=00:02.0 driver=bochs-drm");
	say(e, "driver drm card=card0 bdf=00:02.0 name=bochs-drm");
	say(e, "driver done devices=1");
	say(e, "driver show width=640 height=480 bpp=32 code=1234abcd pattern=1 via=kms");
	say(e, "driver hold");
	ck_assert_int_eq(e->phase, PH_CHECK_DRIVER);
	if (e->phase == target)
		return;
	show(e, &pattern_frame);
	ck_assert_int_eq(e->phase, PH_WAIT_CONSOLE);
	if (e->phase == target)
		return;
	say(e, "console line row=0 text=\"hilrun framebuffer text at 1024x768\"");
	say(e, "console line row=2 text=\"VGA BIOS teletype in VBE mode 0x118: 128x48 cells of 8x16\"");
	say(e, "console hold");
	ck_assert_int_eq(e->phase, PH_CHECK_CONSOLE);
	if (e->phase == target)
		return;
	show(e, &console_frame);
	ck_assert_int_eq(e->phase, PH_WAIT_END);
	if (e->phase == target)
		return;
	say(e, "end exit code=16");
	feed(e, (struct event){ .kind = EV_QEMU_EXIT, .status = EXIT_STATUS(33), .text = "exited with status 33" });
	ck_assert_int_eq(e->phase, PH_DONE);
}

/* The happy path, as far as phase target. */
static void drive(struct engine *e, enum phase target)
{
	new_engine(e);
	clock_ms = T0;
	if (e->phase == target)
		return;
	feed(e, (struct event){ .kind = EV_STARTED, .text = "started" });
	ck_assert_int_eq(e->phase, PH_WAIT_POST_HOLD);
	if (e->phase == target)
		return;
	say(e, "guest hello name=bios-post version=1");
	say(e, "post hold");
	ck_assert_int_eq(e->phase, PH_CHECK_POST);
	if (e->phase == target)
		return;
	show(e, &post_frame);
	ck_assert_int_eq(e->phase, PH_WAIT_TEXT_HOLD);
	if (e->phase == target)
		return;
	say(e, "pci display bdf=00:02.0 id=1234:1111 class=030000");
	say(e, "text line row=0 text=\"hilrun bios-post v1\"");
	say(e, "text line row=2 text=\"Reference guest for VGA passthrough tests\"");
	say(e, "text line row=4 text=\"PCI display 00:02.0 id 1234:1111 class 0300\"");
	say(e, "text line row=6 text=\"Text mode check complete\"");
	say(e, "text hold rows=4");
	ck_assert_int_eq(e->phase, PH_CHECK_TEXT);
	if (e->phase == target)
		return;
	show(e, &text_frame);
	if (under_test == &os_cell) {
		drive_driver(e, target);
		return;
	}
	ck_assert_int_eq(e->phase, PH_WAIT_CALIB);
	if (e->phase == target)
		return;
	say(e, "calib show first-row=4 first-col=8 step=2 per-row=16 attr=07");
	say(e, "calib hold");
	ck_assert_int_eq(e->phase, PH_CHECK_CALIB);
	if (e->phase == target)
		return;
	show(e, &calib_frame);
	ck_assert_int_eq(e->phase, PH_WAIT_GRAPHICS);
	if (e->phase == target)
		return;
	say(e, "graphics set mode=0x0111 width=640 height=480 bpp=32 status=0x004f");
	say(e, "graphics show width=640 height=480 bpp=32 code=1234abcd pattern=1");
	say(e, "graphics hold");
	ck_assert_int_eq(e->phase, PH_CHECK_GRAPHICS);
	if (e->phase == target)
		return;
	show(e, &pattern_frame);
	ck_assert_int_eq(e->phase, PH_WAIT_END);
	if (e->phase == target)
		return;
	say(e, "end exit code=16");
	feed(e, (struct event){ .kind = EV_QEMU_EXIT, .status = EXIT_STATUS(33), .text = "exited with status 33" });
	ck_assert_int_eq(e->phase, PH_DONE);
}

static const char *outcomes(const struct engine *e, char *buf, size_t n)
{
	buf[0] = '\0';
	for (int s = 0; s < ST_COUNT; s++)
		if (e->proven & STAGE_BIT(s))
			snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", *buf ? "," : "",
				 e->stages[s].outcome ? e->stages[s].outcome : "-");
	return buf;
}

START_TEST(happy_path_passes)
{
	struct engine e;
	drive(&e, PH_DONE);
	char buf[128], verdict[128];
	engine_verdict(&e, verdict, sizeof verdict);
	ck_assert_str_eq(verdict, "pass");
	ck_assert_str_eq(outcomes(&e, buf, sizeof buf), "pass,pass,pass,pass,pass");
	ck_assert_int_eq(acks(), 4); /* post, text, calibration, graphics */
	ck_assert_str_eq(json_string_value(json_object_get(e.stages[ST_TEXT].info, "reader")), "textmode");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e.stages[ST_TEXT].info,
									     "calibration"),
							    "glyphs_differing_from_font")),
			 0);
	char *png = test_path(dir, "graphics.png");
	ck_assert(test_exists(png));
	free(png);
	done_with(&e);
}
END_TEST

/* What an event must do in a phase: the phase after it, and if it decides
 * a stage, the verdict and the stage outcomes. */
struct expect {
	int ignored;          /* nothing changes */
	enum phase after;
	const char *verdict;  /* the run's verdict so far; NULL: not checked */
	const char *outcomes; /* start,post,text,graphics,shutdown ("-" undecided) */
	int acks;             /* the guest released this many times */
};

/* The stage a phase belongs to, as docs/run-record.md defines the stages. */
static enum stage_id stage_of(enum phase p)
{
	switch (p) {
	case PH_START: return ST_START;
	case PH_WAIT_POST_HOLD: case PH_CHECK_POST: return ST_POST;
	case PH_WAIT_TEXT_HOLD: case PH_CHECK_TEXT: return ST_TEXT;
	case PH_WAIT_END: case PH_DONE: return ST_SHUTDOWN;
	case PH_WAIT_DRIVER: case PH_CHECK_DRIVER: case PH_WAIT_CONSOLE: case PH_CHECK_CONSOLE:
		return ST_DRIVER;
	default: return ST_GRAPHICS;
	}
}

/* The OS guest's phases: the others are bios-post's. */
static int os_phase(enum phase p)
{
	return p == PH_WAIT_DRIVER || p == PH_CHECK_DRIVER || p == PH_WAIT_CONSOLE ||
	       p == PH_CHECK_CONSOLE;
}

/* Outcomes of a run that ended in phase p's stage with outcome o: the
 * stages before passed, the rest skipped. */
static const char *ended(enum phase p, const char *o, char *buf, size_t n)
{
	enum stage_id s = stage_of(p);
	buf[0] = '\0';
	for (int i = 0; i < ST_COUNT; i++)
		/* bios-post proves every stage but the driver; linux-drm all but graphics */
		if (i != (os_phase(p) ? ST_GRAPHICS : ST_DRIVER))
			snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", *buf ? "," : "",
				 i < (int)s ? "pass" : i == (int)s ? o : "skip");
	return buf;
}

static int waiting(enum phase p)
{
	return p == PH_WAIT_POST_HOLD || p == PH_WAIT_TEXT_HOLD || p == PH_WAIT_CALIB ||
	       p == PH_WAIT_GRAPHICS || p == PH_WAIT_DRIVER || p == PH_WAIT_CONSOLE;
}

/* The event kind k as the test feeds it in phase p. */
static struct event event_for(enum event_kind k, enum phase p)
{
	struct event ev = { .kind = k, .text = "words", .reason = "why" };
	switch (k) {
	case EV_LINE: ev.text = "SeaBIOS noise, not a report"; ev.len = strlen(ev.text); break;
	case EV_FRAME:
		ev.frame = p == PH_CHECK_POST ? &post_frame : p == PH_CHECK_TEXT ? &text_frame
			   : p == PH_CHECK_CALIB ? &calib_frame
			   : p == PH_CHECK_GRAPHICS || p == PH_CHECK_DRIVER ? &pattern_frame
			   : p == PH_CHECK_CONSOLE ? &console_frame
			   : &black;
		break;
	case EV_VM_STOPPED: ev.reason = "internal-error"; ev.qemu_said = "KVM internal error. Suberror: 1"; break;
	case EV_GUEST_PANICKED: ev.reason = "pause"; break;
	case EV_GUEST_RESET: ev.reason = "guest-reset"; break;
	case EV_QEMU_EXIT: ev.status = EXIT_STATUS(0); ev.text = "exited with status 0"; ev.qemu_said = ""; break;
	case EV_QEMU_HANG: ev.waited_ms = 5001; ev.window_ms = 5000; ev.text = ""; break;
	case EV_START_FAILED: ev.reason = "qemu-start"; break;
	default: break;
	}
	return ev;
}

/* What the behaviour must be (README, docs/run-record.md, the issue), for
 * every phase and event, written without looking at the table. */
static struct expect expected(enum phase p, enum event_kind k, char *buf, size_t n)
{
	const struct expect ignored = { .ignored = 1 };
	const enum stage_id s = stage_of(p);
	if (p == PH_START) {
		if (k == EV_STARTED)
			return (struct expect){ .after = PH_WAIT_POST_HOLD, .verdict = "pass",
						.outcomes = "pass,-,-,-,-" };
		if (k == EV_START_FAILED)
			return (struct expect){ .after = PH_DONE, .verdict = "error:qemu-start",
						.outcomes = "error,skip,skip,skip,skip" };
		return ignored;
	}
	switch (k) {
	case EV_STARTED:
	case EV_START_FAILED:
		return ignored;
	case EV_SERIAL:
	case EV_LINE:
		return (struct expect){ .after = p };
	case EV_POST_HOLD:
		return p == PH_WAIT_POST_HOLD ? (struct expect){ .after = PH_CHECK_POST } : ignored;
	case EV_TEXT_HOLD:
		return p == PH_WAIT_TEXT_HOLD ? (struct expect){ .after = PH_CHECK_TEXT } : ignored;
	case EV_CALIB_HOLD: /* with no "calib show" yet: released, nothing to learn */
		return p == PH_WAIT_CALIB ? (struct expect){ .after = PH_WAIT_CALIB, .acks = 1 } : ignored;
	case EV_GRAPHICS_HOLD: /* with no "graphics show" yet: nothing to judge, fail */
		if (p == PH_WAIT_CALIB || p == PH_WAIT_GRAPHICS)
			return (struct expect){ .after = PH_WAIT_END, .verdict = "fail:graphics",
						.outcomes = "pass,pass,pass,fail,-", .acks = 1 };
		return ignored;
	case EV_DRIVER_HOLD: /* with no "driver show" yet: released, no pattern to check */
		return p == PH_WAIT_DRIVER ? (struct expect){ .after = PH_WAIT_DRIVER, .acks = 1 } : ignored;
	case EV_CONSOLE_HOLD: /* from the driver's phase too: no pattern came */
		return p == PH_WAIT_DRIVER || p == PH_WAIT_CONSOLE ? (struct expect){ .after = PH_CHECK_CONSOLE }
								    : ignored;
	case EV_GUEST_END:
		if (p == PH_WAIT_CALIB || p == PH_WAIT_GRAPHICS)
			return (struct expect){ .after = PH_WAIT_END, .verdict = "fail:graphics",
						.outcomes = "pass,pass,pass,fail,-" };
		/* ended before reporting a driver; or with it bound, before its console */
		if (p == PH_WAIT_DRIVER || p == PH_WAIT_CONSOLE)
			return (struct expect){ .after = PH_WAIT_END,
						.verdict = p == PH_WAIT_DRIVER ? "fail:no-driver"
									       : "fail:driver-modeset",
						.outcomes = "pass,pass,pass,fail,-" };
		return ignored;
	case EV_FRAME:
		switch (p) {
		case PH_CHECK_POST: return (struct expect){ .after = PH_WAIT_TEXT_HOLD, .acks = 1,
							    .outcomes = "pass,pass,-,-,-", .verdict = "pass" };
		case PH_CHECK_TEXT: return (struct expect){ .after = PH_WAIT_CALIB, .acks = 1,
							    .outcomes = "pass,pass,pass,-,-", .verdict = "pass" };
		case PH_CHECK_CALIB: return (struct expect){ .after = PH_WAIT_GRAPHICS, .acks = 1 };
		case PH_CHECK_GRAPHICS: return (struct expect){ .after = PH_WAIT_END, .acks = 1,
								.outcomes = "pass,pass,pass,pass,-" };
		case PH_CHECK_DRIVER: return (struct expect){ .after = PH_WAIT_CONSOLE, .acks = 1,
							      .outcomes = "pass,pass,pass,-,-" };
		case PH_CHECK_CONSOLE: return (struct expect){ .after = PH_WAIT_END, .acks = 1, .verdict = "pass",
							       .outcomes = "pass,pass,pass,pass,-" };
		default: return (struct expect){ .after = p }; /* watched */
		}
	case EV_DEADLINE:
		if (waiting(p))
			return (struct expect){ .after = PH_DONE, .verdict = "fail:guest-hang",
						.outcomes = ended(p, "fail", buf, n) };
		if (p == PH_CHECK_CALIB)
			return (struct expect){ .after = PH_WAIT_GRAPHICS, .acks = 1 };
		if (p == PH_WAIT_END)
			return (struct expect){ .after = PH_DONE, .verdict = "fail:shutdown",
						.outcomes = "pass,pass,pass,pass,fail" };
		/* a check with no frame at all: the capture, not the card */
		return (struct expect){ .after = PH_DONE, .verdict = "error:capture-timeout",
					.outcomes = ended(p, "error", buf, n) };
	case EV_VM_STOPPED:
		return (struct expect){ .after = PH_DONE, .verdict = "fail:vm-stopped(internal-error)",
					.outcomes = ended(p, "fail", buf, n) };
	case EV_GUEST_PANICKED:
		return (struct expect){ .after = PH_DONE, .verdict = "fail:guest-panic",
					.outcomes = ended(p, "fail", buf, n) };
	case EV_GUEST_RESET: /* after the guest announced its end, a shutdown is expected */
		if (p == PH_WAIT_END)
			return ignored;
		return (struct expect){ .after = PH_DONE, .verdict = "fail:vm-stopped(guest-reset)",
					.outcomes = ended(p, "fail", buf, n) };
	case EV_QEMU_EXIT: {
		static const char *const verdicts[ST_COUNT] = {
			[ST_POST] = "fail:no-post", [ST_TEXT] = "fail:text",
			[ST_GRAPHICS] = "fail:graphics", [ST_DRIVER] = "fail:no-driver",
			[ST_SHUTDOWN] = "fail:shutdown",
		};
		return (struct expect){ .after = PH_DONE, .verdict = verdicts[s],
					.outcomes = ended(p, "fail", buf, n) };
	}
	case EV_QEMU_HANG:
		return (struct expect){ .after = PH_DONE, .verdict = "fail:qemu-hang",
					.outcomes = ended(p, "fail", buf, n) };
	case EV_CAPTURE_LOST:
		return (struct expect){ .after = PH_DONE, .verdict = "error:capture-lost",
					.outcomes = ended(p, "error", buf, n) };
	case EV_MONITOR_LOST:
		return (struct expect){ .after = PH_DONE, .verdict = "error:qmp",
					.outcomes = ended(p, "error", buf, n) };
	case EV_SIGNAL:
		return (struct expect){ .after = PH_DONE, .verdict = "error:interrupted",
					.outcomes = ended(p, "error", buf, n) };
	case EV_HARNESS_ERROR:
		return (struct expect){ .after = PH_DONE, .verdict = "error:harness",
					.outcomes = ended(p, "error", buf, n) };
	case EV_COUNT:
		break;
	}
	return ignored;
}

/* What an event did to an engine. */
struct result {
	enum phase phase;
	int64_t deadline;
	int acks;
	char verdict[128], outcomes[128];
};

/* Feed ev to a copy of e and say what it did. The copy is a child process
 * (fork is the snapshot: driving an engine to a phase writes evidence
 * files, too slow to repeat for every event); the child reports through a
 * pipe and ends at once. */
static struct result try_event(struct engine *e, const struct event *ev)
{
	struct result r;
	int pfd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(pfd[0]);
		feed(e, *ev);
		memset(&r, 0, sizeof r);
		r.phase = e->phase;
		r.deadline = e->deadline;
		r.acks = acks();
		engine_verdict(e, r.verdict, sizeof r.verdict);
		outcomes(e, r.outcomes, sizeof r.outcomes);
		_exit(write(pfd[1], &r, sizeof r) == sizeof r ? 0 : 1);
	}
	close(pfd[1]);
	ssize_t got = read(pfd[0], &r, sizeof r);
	close(pfd[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == sizeof r,
		      "the child feeding %s died (status %d)", engine_event_names[ev->kind], status);
	return r;
}

/* Every phase x every event: the table does what expected() says. */
START_TEST(every_phase_every_event)
{
	int checked = 0;
	for (enum phase p = PH_START; p < PH_DONE; p++) {
		struct engine e;
		under_test = os_phase(p) ? &os_cell : &cell;
		drive(&e, p);
		acks();
		char before[128];
		outcomes(&e, before, sizeof before);
		for (enum event_kind k = 0; k < EV_COUNT; k++) {
			char want_outcomes[128];
			struct expect x = expected(p, k, want_outcomes, sizeof want_outcomes);
			struct event ev = event_for(k, p);
			struct result r = try_event(&e, &ev);
			const char *where = engine_phases[p].name, *what = engine_event_names[k];
			if (x.ignored) {
				ck_assert_msg(r.phase == p, "%s + %s: moved to %s, expected nothing",
					      where, what, engine_phases[r.phase].name);
				ck_assert_msg(r.deadline == e.deadline, "%s + %s: deadline moved", where, what);
				ck_assert_str_eq(r.outcomes, before);
			} else {
				ck_assert_msg(r.phase == x.after, "%s + %s: went to %s, expected %s", where,
					      what, engine_phases[r.phase].name, engine_phases[x.after].name);
			}
			if (x.outcomes)
				ck_assert_msg(!strcmp(r.outcomes, x.outcomes),
					      "%s + %s: outcomes %s, expected %s", where, what, r.outcomes,
					      x.outcomes);
			if (x.verdict)
				ck_assert_msg(!strcmp(r.verdict, x.verdict), "%s + %s: verdict %s, expected %s",
					      where, what, r.verdict, x.verdict);
			ck_assert_msg(r.acks == x.acks, "%s + %s: %d acks, expected %d", where, what,
				      r.acks, x.acks);
			/* A run that ended has every stage decided. */
			if (r.phase == PH_DONE)
				ck_assert_msg(!strchr(r.outcomes, '-'), "%s + %s: undecided stage left: %s",
					      where, what, r.outcomes);
			checked++;
		}
		done_with(&e);
	}
	ck_assert_int_eq(checked, PH_DONE * EV_COUNT);
}
END_TEST

/* Serial output and a changing screen keep a waiting guest's window open,
 * up to the cap; a screen that only blinks does not. */
START_TEST(progress_extends_the_window)
{
	struct engine e;
	drive(&e, PH_WAIT_TEXT_HOLD);
	const int64_t window = e.quiet_window;
	ck_assert_int_eq(window, 15000);
	clock_ms += 5000;
	feed(&e, (struct event){ .kind = EV_SERIAL });
	ck_assert_int_eq(e.deadline, clock_ms + window);
	show(&e, &black);
	int64_t after_black = e.deadline;
	ck_assert_int_eq(after_black, clock_ms + window); /* a new screen */
	clock_ms += 1000;
	show(&e, &text_frame);
	show(&e, &black); /* back to a screen seen lately: no progress */
	ck_assert_int_eq(e.deadline, clock_ms - 10 + window);
	for (int i = 0; i < 100; i++) {
		clock_ms += 10000;
		feed(&e, (struct event){ .kind = EV_SERIAL });
	}
	ck_assert_int_eq(e.deadline, e.phase_cap); /* busy, but no longer than the cap */
	feed(&e, (struct event){ .kind = EV_DEADLINE });
	char verdict[128];
	engine_verdict(&e, verdict, sizeof verdict);
	ck_assert_str_eq(verdict, "fail:guest-hang");
	const char *detail = json_string_value(json_object_get(e.stages[ST_TEXT].info, "detail"));
	ck_assert_msg(strstr(detail, "kept busy"), "%s", detail);
	done_with(&e);
}
END_TEST

/* A check judges only a frame asked for after it began: the calibration
 * screen seen in a watch frame asked for while the guest was still drawing
 * it is not learned from (it may be part-drawn); another is asked for at
 * once, and that one is. */
START_TEST(check_ignores_frames_asked_before_it)
{
	struct engine e;
	drive(&e, PH_CHECK_CALIB);
	const int64_t started = e.check_started;
	feed(&e, (struct event){ .kind = EV_FRAME, .frame = &calib_frame, .asked_at = started - 1 });
	ck_assert_int_eq(e.phase, PH_CHECK_CALIB);
	ck_assert_int_eq(e.next_frame_at, clock_ms);
	ck_assert_ptr_null(json_object_get(e.stages[ST_TEXT].info, "calibration"));
	feed(&e, (struct event){ .kind = EV_FRAME, .frame = &calib_frame, .asked_at = started });
	ck_assert_int_eq(e.phase, PH_WAIT_GRAPHICS);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e.stages[ST_TEXT].info,
									       "calibration"),
							   "glyphs_differing_from_font")),
			 0);
	done_with(&e);
}
END_TEST

/* QEMU's placeholder at OVMF's post hold (ati-vga: no driver) settles the
 * check ENGINE_PLACEHOLDER_MS after it began, scaled as the display is:
 * under TCG (windows x3) still 3 s, not 9. */
START_TEST(placeholder_settles_unslowed_by_tcg)
{
	under_test = &uefi_cell;
	window_scale = 3.0;
	for (int k = 0; k < 2; k++) {
		display_scale = k ? 1.0 : 0; /* 0: as every window */
		struct engine e;
		new_engine(&e);
		clock_ms = T0;
		feed(&e, (struct event){ .kind = EV_STARTED, .text = "started" });
		say(&e, "guest hello name=uefi-gop version=1");
		say(&e, "post hold");
		ck_assert_int_eq(e.phase, PH_CHECK_POST);
		const int64_t started = e.check_started;
		ck_assert_int_gt(e.deadline, started + 9000); /* the check's own window */
		show(&e, &placeholder_frame);
		ck_assert_int_eq(e.phase, PH_CHECK_POST);
		ck_assert_int_eq(e.deadline, started + (k ? 3000 : 9000));
		feed(&e, (struct event){ .kind = EV_DEADLINE });
		char verdict[128];
		engine_verdict(&e, verdict, sizeof verdict);
		ck_assert_str_eq(verdict, "fail:no-post");
		done_with(&e);
	}
	window_scale = 1.0;
	display_scale = 0;
}
END_TEST

/* A check whose frames never agree fails its stage at the deadline and
 * releases the guest; the run goes on (graphics is still evidence). */
START_TEST(check_fails_then_goes_on)
{
	struct engine e;
	drive(&e, PH_CHECK_TEXT);
	show(&e, &post_frame); /* the banner, not the guest's lines */
	ck_assert_int_eq(e.phase, PH_CHECK_TEXT);
	ck_assert_int_eq(e.next_frame_at, clock_ms + ENGINE_FRAME_RETRY_MS);
	feed(&e, (struct event){ .kind = EV_DEADLINE });
	ck_assert_int_eq(e.phase, PH_WAIT_CALIB);
	ck_assert_int_eq(acks(), 1 + 1); /* post's, and this one */
	char verdict[128];
	engine_verdict(&e, verdict, sizeof verdict);
	ck_assert_str_eq(verdict, "fail:text");
	const char *detail = json_string_value(json_object_get(e.stages[ST_TEXT].info, "detail"));
	ck_assert_msg(strstr(detail, "row 0 shows") && strstr(detail, "(1 looks)"), "%s", detail);
	done_with(&e);
}
END_TEST

/* The VM stopped with an internal error: the card's failure in QEMU's
 * words, or, when the firmware alone stops under the same accelerator,
 * the host's (a lab error naming the accelerator). */
START_TEST(vm_stopped_blames_host_or_card)
{
	struct engine e;
	drive(&e, PH_WAIT_POST_HOLD);
	feed(&e, (struct event){ .kind = EV_VM_STOPPED, .reason = "internal-error", .t_first = T0 + 5,
				 .qemu_said = "KVM internal error. Suberror: 1",
				 .host_fault = "OVMF.fd stopped under kvm with no card" });
	char verdict[128];
	engine_verdict(&e, verdict, sizeof verdict);
	ck_assert_str_eq(verdict, "error:accel(kvm)");
	const char *detail = json_string_value(json_object_get(e.stages[ST_POST].info, "detail"));
	ck_assert_msg(strstr(detail, "KVM internal error. Suberror: 1") && strstr(detail, "not the card"),
		      "%s", detail);
	done_with(&e);

	drive(&e, PH_CHECK_TEXT);
	feed(&e, (struct event){ .kind = EV_VM_STOPPED, .reason = "io-error", .t_first = clock_ms });
	engine_verdict(&e, verdict, sizeof verdict);
	ck_assert_str_eq(verdict, "fail:vm-stopped(io-error)");
	json_t *vs = json_object_get(e.stages[ST_TEXT].info, "vm_stopped");
	ck_assert_str_eq(json_string_value(json_object_get(vs, "reason")), "io-error");
	ck_assert_int_eq(json_integer_value(json_object_get(vs, "decided_after_ms")), 10);
	done_with(&e);
}
END_TEST

/* The guest's own report lines: a malformed one is counted and kept, a
 * graphics hold without a pattern fails graphics at once, and a calib
 * hold without a layout is released without a check. */
START_TEST(report_lines)
{
	struct engine e;
	drive(&e, PH_WAIT_CALIB);
	acks();
	say(&e, "text line row=x");            /* parses: a report (bad row is the judge's) */
	feed(&e, (struct event){ .kind = EV_LINE, .text = "HILRUN/1 Bad", .len = 12 });
	ck_assert_int_eq(e.protocol_errors, 1);
	say(&e, "calib hold");                 /* no "calib show": nothing to learn from */
	ck_assert_int_eq(e.phase, PH_WAIT_CALIB);
	ck_assert_int_eq(acks(), 1);
	say(&e, "graphics error reason=set-mode mode=0x0111 status=0x014f");
	say(&e, "graphics hold");
	ck_assert_int_eq(e.phase, PH_WAIT_END);
	const char *detail = json_string_value(json_object_get(e.stages[ST_GRAPHICS].info, "detail"));
	ck_assert_msg(strstr(detail, "without announcing its pattern: reason=set-mode"), "%s", detail);
	ck_assert_int_eq(acks(), 1);
	say(&e, "end exit code=16");
	feed(&e, (struct event){ .kind = EV_QEMU_EXIT, .status = EXIT_STATUS(33), .text = "exited" });
	char verdict[128], buf[128];
	engine_verdict(&e, verdict, sizeof verdict);
	ck_assert_str_eq(verdict, "fail:graphics");
	ck_assert_str_eq(outcomes(&e, buf, sizeof buf), "pass,pass,pass,fail,pass");
	ck_assert_int_eq(json_array_size(e.reports), 8 + 6); /* the happy path's, and these */
	done_with(&e);
}
END_TEST

/* QEMU's end: killed by a signal is a crash in any phase; the guest's
 * promised exit status passes shutdown, another fails it. */
START_TEST(qemu_exit)
{
	struct engine e;
	char verdict[128];
	drive(&e, PH_CHECK_GRAPHICS);
	feed(&e, (struct event){ .kind = EV_QEMU_EXIT, .status = 9, .text = "killed by signal 9" });
	engine_verdict(&e, verdict, sizeof verdict);
	ck_assert_str_eq(verdict, "fail:qemu-crash");
	done_with(&e);
	drive(&e, PH_WAIT_END);
	say(&e, "end exit code=16");
	feed(&e, (struct event){ .kind = EV_QEMU_EXIT, .status = EXIT_STATUS(3), .text = "exited with status 3" });
	engine_verdict(&e, verdict, sizeof verdict);
	ck_assert_str_eq(verdict, "fail:shutdown");
	done_with(&e);
}
END_TEST

static char *file_text(const char *name)
{
	size_t len;
	char *path = test_path(dir, name);
	char *text = (char *)test_read(path, &len);
	free(path);
	return text;
}

/* A card whose font is not the decoder's: post and text do not make the
 * guest wait (each is left undecided after one look), and calibration
 * decides both with the card's own glyphs; STAGE.txt is that reading, the
 * first is kept marked superseded. */
START_TEST(own_font_decided_by_calibration)
{
	decoder_font = &odd_font;
	struct engine e;
	drive(&e, PH_WAIT_CALIB);
	ck_assert_int_eq(acks(), 2);
	for (enum stage_id s = ST_POST; s <= ST_TEXT; s++) {
		ck_assert_ptr_null(e.stages[s].outcome);
		ck_assert(e.undecided[s]);
		ck_assert_int_eq(json_integer_value(json_object_get(e.stages[s].info, "looks")), 1);
		const char *why = json_string_value(json_object_get(e.stages[s].info, "undecided"));
		ck_assert_msg(why && strstr(why, "e as ") && strstr(why, "judged after calibration"), "%s", why);
	}
	char *first = file_text("post.txt");
	ck_assert_msg(!strstr(first, "SeaBIOS (version"), "%s", first); /* misread: no 'e' */
	free(first);
	say(&e, "calib show first-row=4 first-col=8 step=2 per-row=16 attr=07");
	say(&e, "calib hold");
	show(&e, &calib_frame);
	ck_assert_int_eq(e.phase, PH_WAIT_GRAPHICS);
	char buf[128];
	ck_assert_str_eq(outcomes(&e, buf, sizeof buf), "pass,pass,pass,-,-");
	for (enum stage_id s = ST_POST; s <= ST_TEXT; s++) {
		json_t *info = e.stages[s].info;
		ck_assert_str_eq(json_string_value(json_object_get(info, "reader")), "calibration");
		json_t *old = json_object_get(info, "superseded");
		ck_assert_str_eq(json_string_value(json_object_get(old, "reader")), "textmode");
		char *name = xasprintf("%s-superseded.txt", stage_names[s]);
		ck_assert_str_eq(json_string_value(json_object_get(old, "screen_text")), name);
		free(name);
	}
	char *post = file_text("post.txt"), *text = file_text("text.txt");
	ck_assert_msg(!strncmp(post, "SeaBIOS (version 1.16.2", 23), "%s", post);
	ck_assert_msg(strstr(text, "Reference guest for VGA passthrough tests"), "%s", text);
	free(post);
	free(text);
	/* The stage's time ended when the guest was released, not at calibration. */
	ck_assert_int_lt(e.stages[ST_POST].t1, e.stages[ST_TEXT].t0 + 1);
	done_with(&e);
}
END_TEST

/* Left undecided, and no calibration screen came (the guest hung before
 * it): each stage is judged on its frame as one no later screen decides,
 * tesseract reading the cells the decoder's font cannot. Without
 * tesseract that reading fails, and so does the stage. */
START_TEST(own_font_without_calibration)
{
	struct hil_err err;
	struct ocr *ocr = ocr_open(&err);
	ck_assert_msg(ocr != NULL, "%s", err.msg);
	decoder_font = &odd_font;
	for (int with_ocr = 1; with_ocr >= 0; with_ocr--) {
		decoder_ocr = with_ocr ? ocr : NULL;
		struct engine e;
		drive(&e, PH_WAIT_CALIB);
		feed(&e, (struct event){ .kind = EV_DEADLINE });
		char verdict[128], buf[128];
		engine_verdict(&e, verdict, sizeof verdict);
		ck_assert_str_eq(verdict, with_ocr ? "fail:guest-hang" : "fail:no-post");
		ck_assert_str_eq(outcomes(&e, buf, sizeof buf),
				 with_ocr ? "pass,pass,pass,fail,skip" : "pass,fail,fail,fail,skip");
		const char *detail = json_string_value(json_object_get(e.stages[ST_TEXT].info, "detail"));
		ck_assert_msg(strstr(detail, "no later screen decided it"), "%s", detail);
		if (with_ocr)
			ck_assert_str_eq(json_string_value(json_object_get(e.stages[ST_TEXT].info, "reader")),
					 "textmode+tesseract");
		done_with(&e);
	}
	ocr_close(ocr);
}
END_TEST

/* The Windows agent's fixture set (tests/fixtures/windows): each file is
 * COM1 as the agent writes it, split into lines as a run splits them, fed
 * to a windows cell of the card it names; then QEMU's exit, status 0. The
 * driver stage's verdict and words are the file's own "# expect:" and
 * "# words:". */
static void fixture_line(void *ctx, const char *line, size_t len, int overlong)
{
	struct engine *e = ctx;
	feed(e, (struct event){ .kind = EV_LINE, .text = line, .len = len, .overlong = overlong });
}

/* The value of the fixture's "# key: value" line, or NULL (a new string). */
static char *fixture_says(const char *text, const char *key)
{
	char *tag = xasprintf("# %s: ", key);
	const char *p = strstr(text, tag);
	char *v = p ? xstrndup(p + strlen(tag), strcspn(p + strlen(tag), "\r\n")) : NULL;
	free(tag);
	return v;
}

START_TEST(windows_fixtures)
{
	char *dir_path = xasprintf("%s/windows", test_fixtures_dir());
	static const char *const files[] = {
		"win7-std-vga-basic.serial", "win7-g98-yellow-bang.serial", "win7-g98-code43.serial",
		"win7-cedar-no-vendor-driver.serial", "win7-cedar-catalyst.serial",
		"win10-g86-code10-status.serial", "win10-rv370-absent.serial",
		"win7-g72-cut-short.serial", "win7-no-agent.serial", "win7-g98-gone-after-install.serial",
	};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		char *path = test_path(dir_path, files[i]);
		size_t len;
		char *text = (char *)test_read(path, &len);
		char *card_id = fixture_says(text, "card"), *want = fixture_says(text, "expect");
		char *words = fixture_says(text, "words"), *vm_event = fixture_says(text, "vm-event");
		ck_assert_msg(card_id && want && words, "%s: no card, expect or words", files[i]);
		const struct card *card = catalog_find_card(&cat, card_id);
		ck_assert_msg(card, "%s: no card %s", files[i], card_id);
		win_cell = (struct cell){ card, "seabios", guest_find("windows"), &card->variants[0] };
		under_test = &win_cell;
		struct engine e;
		new_engine(&e);
		clock_ms = T0;
		feed(&e, (struct event){ .kind = EV_STARTED, .text = "started" });
		ck_assert_int_eq(e.phase, PH_WAIT_DRIVER);
		struct serial_lines lines;
		serial_lines_init(&lines, REPORT_LINE_MAX);
		serial_lines_feed(&lines, text, len, fixture_line, &e);
		serial_lines_release(&lines);
		if (vm_event)
			feed(&e, (struct event){ .kind = EV_GUEST_RESET, .reason = vm_event });
		feed(&e, (struct event){ .kind = EV_QEMU_EXIT, .status = EXIT_STATUS(0), .text = "exited with status 0" });
		ck_assert_msg(e.phase == PH_DONE, "%s: ended in %s", files[i], engine_phases[e.phase].name);
		const char *detail = json_string_value(json_object_get(e.stages[ST_DRIVER].info, "detail"));
		ck_assert_msg(detail && strstr(detail, words), "%s: driver detail '%s', expected '%s'",
			      files[i], detail, words);
		char verdict[128], buf[128];
		engine_verdict(&e, verdict, sizeof verdict);
		ck_assert_msg(!strcmp(verdict, want), "%s: verdict %s, expected %s", files[i], verdict, want);
		/* Powered off as promised: shutdown passes whatever the driver did. */
		if (!vm_event)
			ck_assert_msg(!strcmp(e.stages[ST_SHUTDOWN].outcome, "pass"), "%s: shutdown %s",
				      files[i], outcomes(&e, buf, sizeof buf));
		if (strstr(files[i], "cut-short"))
			ck_assert_int_eq(e.protocol_errors, 1);
		done_with(&e);
		free(card_id), free(want), free(words), free(vm_event), free(text), free(path);
	}
	free(dir_path);
}
END_TEST

/* "end poweroff" promises QEMU's exit status 0: another status fails
 * shutdown, as "end exit" does. */
START_TEST(windows_poweroff_status)
{
	const struct card *card = catalog_find_card(&cat, "std-vga");
	win_cell = (struct cell){ card, "ovmf", guest_find("windows"), &card->variants[0] };
	under_test = &win_cell;
	for (int status = 0; status <= 1; status++) {
		struct engine e;
		new_engine(&e);
		clock_ms = T0;
		feed(&e, (struct event){ .kind = EV_STARTED, .text = "started" });
		say(&e, "driver windows-device when=boot pnp=x id=1234:1111 service=BasicDisplay version=10 problem=0 basic=1");
		say(&e, "driver done when=boot devices=1");
		say(&e, "end poweroff");
		ck_assert_int_eq(e.phase, PH_WAIT_END);
		feed(&e, (struct event){ .kind = EV_QEMU_EXIT, .status = EXIT_STATUS(status), .text = "exited" });
		char verdict[128];
		engine_verdict(&e, verdict, sizeof verdict);
		ck_assert_str_eq(verdict, status ? "fail:shutdown" : "pass");
		if (status) {
			const char *d = json_string_value(json_object_get(e.stages[ST_SHUTDOWN].info, "detail"));
			ck_assert_msg(strstr(d, "expected exit status 0 after the guest's 'end poweroff'"), "%s", d);
		}
		done_with(&e);
	}
}
END_TEST

/* Every guest's stages and checkpoints are names the engine knows, and
 * its checkpoints run in the order of their phases. */
START_TEST(guest_tables_known)
{
	for (size_t i = 0; guest_at(i); i++) {
		const struct guest *g = guest_at(i);
		stage_set set;
		struct hil_err err;
		ck_assert_msg(stage_set_parse(g->stages, &set, &err) == 0, "%s: %s", g->id, err.msg);
		ck_assert_msg(set & STAGE_BIT(ST_START) && set & STAGE_BIT(ST_SHUTDOWN), "%s", g->id);
		struct cell c = cell;
		c.guest = g;
		int words = 0;
		for (const char *p = g->checkpoints; *p; p += strspn(p, " "), words++)
			p += strcspn(p, " ");
		struct engine e;
		const struct engine_setup s = { .cell = &c, .tmp_dir = dir, .serial_fd = -1 };
		engine_init(&e, &s, T0);
		ck_assert_msg(e.ncheckpoints == words, "%s: %d of %d checkpoints known", g->id,
			      e.ncheckpoints, words);
		for (int k = 1; k < e.ncheckpoints; k++)
			ck_assert_msg(e.checkpoints[k - 1] < e.checkpoints[k], "%s: checkpoints out of order", g->id);
		engine_release(&e);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("engine");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_unchecked_fixture(tc, load, unload);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, happy_path_passes);
	tcase_add_test(tc, every_phase_every_event);
	tcase_add_test(tc, progress_extends_the_window);
	tcase_add_test(tc, check_fails_then_goes_on);
	tcase_add_test(tc, placeholder_settles_unslowed_by_tcg);
	tcase_add_test(tc, check_ignores_frames_asked_before_it);
	tcase_add_test(tc, vm_stopped_blames_host_or_card);
	tcase_add_test(tc, report_lines);
	tcase_add_test(tc, qemu_exit);
	tcase_add_test(tc, guest_tables_known);
	tcase_add_test(tc, own_font_decided_by_calibration);
	tcase_add_test(tc, own_font_without_calibration);
	tcase_add_test(tc, windows_fixtures);
	tcase_add_test(tc, windows_poweroff_status);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
