/* run: see run.h. */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calib.h"
#include "image.h"
#include "accel.h"
#include "journal.h"
#include "judge.h"
#include "pattern.h"
#include "proc.h"
#include "qmp.h"
#include "record.h"
#include "report.h"
#include "sock.h"
#include "textmode.h"
#include "vnc.h"
#include "watchdog.h"

/* Windows, in milliseconds, before --timeout-scale (and x3 under TCG). */
#define WIN_CONNECT      10000 /* QEMU connects QMP and serial; VNC handshake */
/* Guest hang: in the phases where the guest works towards its next
 * checkpoint, these are the longest it may go with no serial output and no
 * change on the screen (per stage; a guest may set its own, catalog.h). */
#define QUIET_POST       20000
#define QUIET_TEXT       15000
#define QUIET_GRAPHICS   20000
#define QUIET_CAP        4     /* a busy guest gets this many windows to reach its checkpoint */
#define WATCH_MS         1000  /* how often the screen is looked at while waiting */
#define WATCH_HISTORY    4     /* screens remembered: returning to one is no progress */
/* QEMU hang: its monitor is asked for its status this often, and must
 * answer within QMP_HANG_MS (QEMU's main loop answers in milliseconds even
 * under TCG, so this is not scaled for TCG, only by --timeout-scale). */
#define QMP_PING_MS      2000
#define QMP_HANG_MS      5000
#define WIN_SCREEN_CHECK 12000 /* screen must show it: QEMU's idle VNC refresh is up to 3 s */
/* The guests stop holding after 30 s (docs/report-protocol.md): a check,
 * however scaled, must end before that, or the guest moves on under it. */
#define GUEST_HOLD_MS    30000
#define WIN_CHECK_MAX    (GUEST_HOLD_MS - 5000)
/* QEMU's placeholder at a post hold (the firmware has finished and never
 * set the display up) is settled after this long: no need to wait out the
 * whole window. */
#define WIN_PLACEHOLDER  3000
#define WIN_END          15000 /* from the last release to QEMU's exit */
#define FRAME_RETRY_MS   300   /* pause between two looks at the screen */
/* A frame with at most this many cells the decoder cannot trust keeps its
 * exact reading, with those cells read one by one by tesseract; more, and the
 * whole frame goes to tesseract (it is probably not a clean text screen). */
#define OCR_CELLS_MAX    64
#define STDERR_TAIL_MAX  4096  /* how much of QEMU's stderr goes into the record */
#define GUEST_EXIT_CODE  16    /* what bios-post writes to isa-debug-exit on success */


enum phase {
	PH_WAIT_POST_HOLD, /* guest booting; waiting for "post hold" */
	PH_CHECK_POST,     /* guest holds; the firmware banner must be on screen */
	PH_WAIT_TEXT_HOLD, /* guest printing; collecting "text line" reports */
	PH_CHECK_TEXT,     /* guest holds; every reported line must be on screen */
	PH_WAIT_CALIB,     /* guest drawing its calibration screen, or its pattern */
	PH_CHECK_CALIB,    /* guest holds; learn the card's glyphs from the screen */
	PH_WAIT_GRAPHICS,  /* guest setting its graphics mode and drawing the pattern */
	PH_CHECK_GRAPHICS, /* guest holds; the pattern must be on the screen */
	PH_WAIT_END,       /* guest released; waiting for QEMU to exit */
	PH_DONE,
};


struct run {
	const struct cell *cell;
	const struct run_opts *opts;
	struct run_result *res;
	double scale;
	int64_t t_start;

	char *tmp_dir, *sock_dir;
	char *qmp_path, *serial_path, *vnc_path;
	int qmp_listen, serial_listen;
	int serial_fd;
	FILE *serial_log;
	FILE *events_log;
	struct serial_lines lines;
	struct qmp *qmp;
	struct vnc *vnc;
	struct proc qemu;
	char qemu_version[32];

	enum phase phase;
	int64_t phase_deadline;
	struct stage_result stages[ST_COUNT];

	/* screen checks */
	int frame_pending;      /* a full-frame request is outstanding */
	int64_t next_look;      /* when to ask for the next frame */
	int own_display;        /* frames come from QEMU's own VNC, pixel for pixel
				 * (not through a capture box, which scales) */
	int64_t check_started;
	struct frame last;      /* the last frame looked at in this check */
	char *last_text;        /* what the reader read on it */
	const char *reader;     /* textmode, textmode+tesseract, tesseract: for the record */
	int grid;               /* screen holds a cell-by-cell reading: judge exactly */
	char reader_error[HIL_ERR_MAX];
	struct text_screen *screen; /* the decoded frame, when grid */
	/* Reads every frame of the run in the run's font: keeps a capture's
	 * grid from frame to frame (textmode.h). NULL until first needed. */
	struct textmode_reader *text_reader;
	int looks;

	/* what the guest reported */
	json_t *reports;        /* every report line, parsed */
	json_t *text_lines;     /* [{row, text}] of this text phase */
	json_t *pci;            /* [{bdf, id, class}] */
	int end_code;           /* -1 until "end exit" */
	int protocol_errors;    /* malformed report lines */

	/* calibration: the frames judged so far, re-read with the learned glyphs */
	struct frame judged[ST_COUNT];
	struct calib_layout calib;
	int calib_announced;

	/* graphics: what the guest said it shows ("graphics show") */
	int gfx_announced;
	int gfx_width, gfx_height, gfx_bpp;
	uint32_t gfx_code;
	char gfx_error[160];    /* the guest's own "graphics error", if any */

	int journal_failed;     /* noted once */

	/* watchdogs */
	int64_t last_progress;  /* last serial byte or change on the screen */
	int64_t quiet_window;   /* the waiting phase's window without progress */
	int64_t phase_cap;      /* ... and how long it may last however busy */
	int64_t next_watch;     /* next look at the screen while waiting */
	struct frame watch;     /* the last frame seen while waiting */
	uint64_t watch_hash[WATCH_HISTORY]; /* the last distinct screens */
	unsigned long ping_id;  /* QMP liveness ping in flight, 0 if none */
	int64_t ping_sent, next_ping;
};

static double scaled(struct run *r, int ms)
{
	return ms * r->scale;
}

static int64_t deadline_in(struct run *r, int ms)
{
	return now_ms() + (int64_t)scaled(r, ms);
}

static void set_verdict(struct run *r, enum stage_id s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_verdict(struct run *r, enum stage_id s, const char *fmt, ...)
{
	if (r->stages[s].verdict[0])
		return; /* a stage's first failure is the one that counts */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->stages[s].verdict, sizeof r->stages[s].verdict, fmt, ap);
	va_end(ap);
}

/* An entry in the journal, if the run keeps one; obj is consumed. A journal
 * that cannot be written is noted in the record: the run goes on. */
static void journal_note(struct run *r, const char *e, json_t *obj)
{
	struct hil_err err;
	if (r->opts->journal && journal_append(r->opts->journal, e, obj, &err) < 0 &&
	    !r->journal_failed) {
		r->journal_failed = 1;
		json_array_append_new(json_object_get(r->stages[ST_START].info, "notes"),
				      json_sprintf("journal: %s", err.msg));
	}
	json_decref(obj);
}

static void stage_begin(struct run *r, enum stage_id s)
{
	if (!r->stages[s].t0)
		r->stages[s].t0 = now_ms();
}

/* Decide a stage. detail is a human sentence for the record. */
static void stage_end(struct run *r, enum stage_id s, const char *outcome, const char *detail)
{
	struct stage_result *st = &r->stages[s];
	if (st->outcome)
		return;
	stage_begin(r, s);
	st->outcome = outcome;
	st->t1 = now_ms();
	if (detail)
		json_object_set_new(st->info, "detail", json_string(detail));
	if (r->opts->on_stage)
		r->opts->on_stage(r->opts->on_stage_ctx, stage_names[s], outcome);
	/* A decided stage's evidence reaches the disk before the journal says
	 * so: a host that goes down next leaves a record to recover. */
	if (r->serial_log)
		fsync(fileno(r->serial_log));
	journal_note(r, "stage", json_pack("{s:s, s:s, s:s}", "run_id", r->res->run_id, "stage",
					   stage_names[s], "outcome", outcome));
}

/* Everything not decided when the run ends early is skipped. */
static void skip_rest(struct run *r, const char *why)
{
	for (int s = 0; s < ST_COUNT; s++)
		if (!r->stages[s].outcome)
			stage_end(r, s, "skip", why);
}

static void lab_error(struct run *r, enum stage_id s, const char *reason, const char *detail)
{
	set_verdict(r, s, "error:%s", reason);
	stage_end(r, s, "error", detail);
	skip_rest(r, "not reached: the run ended on a lab or harness error");
	r->phase = PH_DONE;
}

static enum stage_id current_stage(struct run *r)
{
	switch (r->phase) {
	case PH_WAIT_POST_HOLD:
	case PH_CHECK_POST:
		return ST_POST;
	case PH_WAIT_TEXT_HOLD:
	case PH_CHECK_TEXT:
		return ST_TEXT;
	case PH_WAIT_CALIB: /* calibration is within graphics' span */
	case PH_CHECK_CALIB:
	case PH_WAIT_GRAPHICS:
	case PH_CHECK_GRAPHICS:
		return ST_GRAPHICS;
	default:
		return ST_SHUTDOWN;
	}
}

/* Which codes the card repeats into a 9th pixel column: QEMU's rule for its
 * emulated adapters, real VGA hardware's for passed-through cards. */
static enum ninth_column_rule card_rule(const struct run *r)
{
	return r->cell->card->kind == CARD_EMULATED ? NINTH_QEMU : NINTH_VGA;
}

static char *artifact(struct run *r, const char *name)
{
	return xasprintf("%s/%s", r->tmp_dir, name);
}

static void send_ack(struct run *r)
{
	struct hil_err err;
	if (sock_write_all(r->serial_fd, "A", 1, now_ms() + 2000, &err) < 0)
		json_array_append_new(json_object_get(r->stages[current_stage(r)].info, "notes"),
				      json_sprintf("could not release the guest: %s", err.msg));
}

/* Keep the frame and the text read on it as this stage's evidence. */
static void keep_evidence(struct run *r, enum stage_id s)
{
	json_t *info = r->stages[s].info;
	if (r->last.rgb) {
		frame_copy(&r->judged[s], &r->last); /* for calibration to re-read */
		char *name = xasprintf("%s.png", stage_names[s]);
		char *path = artifact(r, name);
		struct hil_err err;
		if (frame_write_png(&r->last, path, &err) == 0) {
			json_object_set_new(info, "frame", json_string(name));
			json_object_set_new(info, "frame_size",
					    json_sprintf("%dx%d", r->last.width, r->last.height));
		} else {
			json_object_set_new(info, "frame_error", json_string(err.msg));
			unlink(path); /* ours, in the run's directory: no partial file */
		}
		free(path);
		free(name);
	}
	if (r->last_text) {
		char *name = xasprintf("%s.txt", stage_names[s]);
		char *path = artifact(r, name);
		struct hil_err err;
		if (write_file_atomic(path, r->last_text, strlen(r->last_text), &err) == 0)
			json_object_set_new(info, "screen_text", json_string(name));
		free(path);
		free(name);
	}
	json_object_set_new(info, "reader", json_string(r->reader ? r->reader : "none"));
	json_object_set_new(info, "looks", json_integer(r->looks));
}

/* The guest-hang window of a stage: the guest's own, or the default. */
static int64_t quiet_window(struct run *r, enum stage_id s)
{
	const struct guest *g = r->cell->guest;
	int ms = s == ST_POST ? (g->quiet_ms[0] ? g->quiet_ms[0] : QUIET_POST)
		 : s == ST_TEXT ? (g->quiet_ms[1] ? g->quiet_ms[1] : QUIET_TEXT)
				: (g->quiet_ms[2] ? g->quiet_ms[2] : QUIET_GRAPHICS);
	return (int64_t)scaled(r, ms);
}

/* The guest works towards its next checkpoint: the phase lasts as long as
 * it shows progress (serial output, a change on the screen). */
static void wait_phase(struct run *r, enum phase ph)
{
	r->phase = ph;
	r->quiet_window = quiet_window(r, ph == PH_WAIT_POST_HOLD ? ST_POST
					  : ph == PH_WAIT_TEXT_HOLD ? ST_TEXT : ST_GRAPHICS);
	r->phase_deadline = now_ms() + r->quiet_window;
	r->phase_cap = now_ms() + QUIET_CAP * r->quiet_window;
	r->next_watch = now_ms();
}

static int quiet_phase(enum phase ph)
{
	return ph == PH_WAIT_POST_HOLD || ph == PH_WAIT_TEXT_HOLD || ph == PH_WAIT_CALIB ||
	       ph == PH_WAIT_GRAPHICS;
}

static void progress(struct run *r)
{
	r->last_progress = now_ms();
	if (quiet_phase(r->phase)) {
		r->phase_deadline = r->last_progress + r->quiet_window;
		if (r->phase_deadline > r->phase_cap)
			r->phase_deadline = r->phase_cap;
	}
}

/* The guest was released for the last time: QEMU must now exit. */
static void wait_end(struct run *r)
{
	stage_begin(r, ST_SHUTDOWN);
	r->phase = PH_WAIT_END;
	r->phase_deadline = deadline_in(r, WIN_END);
}

/* How long a screen check may look: scaled, but within the guest's hold. */
static int64_t check_window(struct run *r)
{
	double w = scaled(r, WIN_SCREEN_CHECK);
	return (int64_t)(w < WIN_CHECK_MAX ? w : WIN_CHECK_MAX);
}

static void check_begin(struct run *r, enum phase ph)
{
	r->phase = ph;
	r->check_started = now_ms();
	r->phase_deadline = r->check_started + check_window(r);
	r->next_look = now_ms();
	r->frame_pending = 0;
	r->looks = 0;
	frame_release(&r->last);
	free(r->last_text);
	r->last_text = NULL;
}

/* The row of the decoded screen as the guest would have written it. */
static void screen_row(struct run *r, int row, char *buf)
{
	buf[0] = '\0';
	if (row >= 0 && row < r->screen->rows)
		textmode_row_ascii(r->screen, row, buf);
}

/* The post rule: the firmware's banner is on the screen. */
static int judge_post(struct run *r, json_t *info)
{
	if (r->grid) {
		char buf[TEXT_COLS_MAX * 3 + 1];
		json_object_set_new(info, "expected", json_string(JUDGE_SEABIOS_BANNER));
		for (int row = 0; row < r->screen->rows; row++) {
			screen_row(r, row, buf);
			if (strstr(buf, JUDGE_SEABIOS_BANNER)) {
				json_object_set_new(info, "match", json_pack("{s:i, s:s}", "row", row, "text", buf));
				return 1;
			}
		}
		json_object_set_new(info, "match", json_null());
		return 0;
	}
	struct text_match m;
	int ok = judge_find(r->last_text, JUDGE_SEABIOS_BANNER, JUDGE_POST_THRESHOLD, &m);
	json_object_set_new(info, "expected", json_string(JUDGE_SEABIOS_BANNER));
	json_object_set_new(info, "match", json_pack("{s:f, s:i, s:f}", "score", m.score, "line", m.line,
						     "threshold", JUDGE_POST_THRESHOLD));
	return ok;
}

/* The text rule: every line the guest reported is on the screen, and the
 * guest saw the card under test among its PCI display devices. */
static int judge_text(struct run *r, json_t *info, struct strbuf *why)
{
	int ok = 1;
	json_t *matches = json_array();
	size_t i;
	json_t *line;
	if (json_array_size(r->text_lines) == 0) {
		sb_adds(why, "the guest reported no text lines");
		ok = 0;
	}
	if (r->grid) {
		/* Exact: each reported line is the whole text of its row. */
		char buf[TEXT_COLS_MAX * 3 + 1];
		json_array_foreach(r->text_lines, i, line) {
			const char *text = json_string_value(json_object_get(line, "text"));
			int row = (int)json_integer_value(json_object_get(line, "row"));
			screen_row(r, row, buf);
			int found = !strcmp(buf, text);
			json_array_append_new(matches, json_pack("{s:i, s:s, s:s, s:b}", "row", row, "expected",
								 text, "screen", buf, "found", found));
			if (!found) {
				if (ok)
					sb_addf(why, "row %d shows '%s', the guest wrote '%s'", row, buf, text);
				ok = 0;
			}
		}
		json_object_set_new(info, "match_rule", json_string("exact, at the reported row"));
		json_object_set_new(info, "lines", matches);
		return ok;
	}
	json_array_foreach(r->text_lines, i, line) {
		const char *text = json_string_value(json_object_get(line, "text"));
		struct text_match m;
		int found = judge_find(r->last_text, text, JUDGE_TEXT_THRESHOLD, &m);
		json_array_append_new(matches, json_pack("{s:O, s:s, s:f, s:i, s:b}", "row",
							 json_object_get(line, "row"), "expected", text,
							 "score", m.score, "line", m.line, "found", found));
		if (!found) {
			if (ok)
				sb_addf(why, "reported line not on screen: '%s' (best %.2f)", text, m.score);
			ok = 0;
		}
	}
	json_object_set_new(info, "threshold", json_real(JUDGE_TEXT_THRESHOLD));
	json_object_set_new(info, "lines", matches);
	return ok;
}

static void card_seen(struct run *r, json_t *info, struct strbuf *why, int *ok)
{
	char want[16];
	snprintf(want, sizeof want, "%04x:%04x", r->cell->card->vendor, r->cell->card->device);
	int seen = 0;
	size_t i;
	json_t *dev;
	json_array_foreach(r->pci, i, dev)
		seen |= !strcmp(json_string_value(json_object_get(dev, "id")) ?: "", want);
	json_object_set_new(info, "card_pci_id", json_string(want));
	json_object_set_new(info, "card_seen_by_guest", json_boolean(seen));
	if (!seen) {
		if (*ok)
			sb_addf(why, "the guest found no PCI display device %s", want);
		*ok = 0;
	}
}

/* Apply stage s's rule to what was read; why gets the first mismatch. */
static int judge_stage(struct run *r, enum stage_id s, json_t *info, struct strbuf *why)
{
	if (s == ST_POST)
		return judge_post(r, info);
	int ok = judge_text(r, info, why);
	if (r->cell->guest->reports_pci)
		card_seen(r, info, why, &ok);
	return ok;
}

/* QEMU shows this, in its own font, on a display no guest code has set up
 * yet: it is not the firmware's output. */
#define QEMU_PLACEHOLDER "Guest has not initialized the display"

/* The screen is QEMU's placeholder while the guest holds: nothing will draw
 * on it now, so the check ends soon rather than at its window's end. */
static void placeholder_settles(struct run *r)
{
	int64_t settled = r->check_started + (int64_t)scaled(r, WIN_PLACEHOLDER);
	if (settled < r->phase_deadline)
		r->phase_deadline = settled;
}

/* The post rule of a guest whose firmware draws no text banner (OVMF: a
 * logo, its boot manager's lines): the firmware drew something. A frame of
 * one colour is nothing drawn; QEMU's placeholder is not the firmware's. */
/* Decode frame f into r->screen with the run's font (r->opts->font set). */
static int read_text(struct run *r, const struct frame *f, struct hil_err *err)
{
	if (!r->text_reader &&
	    !(r->text_reader = textmode_reader_new(r->opts->font, card_rule(r), err)))
		return -1;
	return textmode_read(r->text_reader, f, r->screen, err);
}

static int judge_post_output(struct run *r, json_t *info, struct strbuf *why)
{
	const struct frame *f = &r->last;
	const size_t n = (size_t)f->width * (size_t)f->height;
	size_t differ = 0;
	for (size_t i = 1; i < n; i++)
		differ += memcmp(f->rgb, f->rgb + i * 3, 3) != 0;
	json_object_set_new(info, "rule", json_string("the firmware drew on the screen"));
	json_object_set_new(info, "pixels_not_background", json_integer((json_int_t)differ));
	if (!differ) {
		sb_addf(why, "the %dx%d screen is one colour: nothing drawn", f->width, f->height);
		return 0;
	}
	struct hil_err err;
	if (r->opts->font && read_text(r, f, &err) == 0) {
		char *text = textmode_text(r->screen);
		int placeholder = strstr(text, QEMU_PLACEHOLDER) != NULL;
		free(text);
		if (placeholder) {
			sb_addf(why, "QEMU's placeholder (\"%s\"): the firmware never set up "
				     "the display", QEMU_PLACEHOLDER);
			placeholder_settles(r);
			return 0;
		}
	}
	return 1;
}

/* The decoder matched every cell but a few; read those few with tesseract,
 * one character each, and put what it read into the screen (printable ASCII
 * only: the guest's lines are ASCII). Returns 1 if the screen can now be
 * taken as read ("textmode+tesseract"), recording each such cell. */
static int read_doubtful_cells(struct run *r, json_t *info)
{
	struct text_screen *scr = r->screen;
	int doubtful = 0;
	for (int row = 0; row < scr->rows; row++)
		for (int col = 0; col < scr->cols; col++)
			doubtful += scr->cell[row][col].confidence < TEXTMODE_TRUST;
	if (doubtful > OCR_CELLS_MAX || !r->opts->ocr)
		return 0;
	json_t *cells = json_array();
	for (int row = 0; row < scr->rows; row++) {
		for (int col = 0; col < scr->cols; col++) {
			struct text_cell *c = &scr->cell[row][col];
			if (c->confidence >= TEXTMODE_TRUST)
				continue;
			struct hil_err err;
			char *got = ocr_read_cell(r->opts->ocr, &r->last, scr->origin_x + col * scr->cell_w,
						  scr->origin_y + row * scr->cell_h, scr->cell_w,
						  scr->cell_h, &err);
			char matched[5] = { 0 };
			utf8_encode(cp437_to_unicode(c->code), matched);
			if (got && strlen(got) == 1 && got[0] >= 0x20 && got[0] < 0x7f)
				c->code = (uint8_t)got[0];
			json_array_append_new(cells, json_pack("{s:i, s:i, s:s, s:f, s:s}", "row", row, "col",
							       col, "matched", matched, "confidence",
							       c->confidence, "tesseract", got ? got : err.msg));
			c->confidence = TEXTMODE_TRUST; /* decided, by tesseract */
			free(got);
		}
	}
	json_object_set_new(info, "ocr_cells", cells);
	return 1;
}

/* Read the frame: cell by cell with the text-mode decoder when it finds the
 * grid and trusts every cell (or all but a few, which tesseract then reads
 * one by one); else all of it with tesseract, saying why. Sets r->reader,
 * r->grid and r->last_text. */
static void read_screen(struct run *r, json_t *info)
{
	struct hil_err err;
	json_object_del(info, "ocr_cells"); /* from an earlier look */
	int dec = r->opts->font ? read_text(r, &r->last, &err) : -1;
	if (!r->opts->font)
		hil_seterr(&err, "no font loaded");
	if (dec == 0) {
		float conf = textmode_min_confidence(r->screen);
		json_object_set_new(info, "decoder_confidence", json_real(conf));
		int trusted = conf >= TEXTMODE_TRUST;
		r->reader = "textmode";
		if (!trusted && read_doubtful_cells(r, info)) {
			r->reader = "textmode+tesseract";
			trusted = 1;
		}
		if (trusted) {
			r->grid = 1;
			r->last_text = textmode_text(r->screen);
			json_object_set_new(info, "font", json_string(r->opts->font->source));
			json_object_del(info, "fallback_reason");
			return;
		}
		hil_seterr(&err, "decoder confidence %.3f is below %.2f", conf, TEXTMODE_TRUST);
	}
	json_object_set_new(info, "fallback_reason", json_string(err.msg));
	r->grid = 0;
	r->reader = "tesseract";
	r->last_text = ocr_read(r->opts->ocr, &r->last, &err);
	if (!r->last_text)
		snprintf(r->reader_error, sizeof r->reader_error, "%s", err.msg);
}

/* Read stage s's judged frame again with the card's own glyphs and record
 * it under KEY_reread. If decide is set and that reading is trusted, apply
 * the stage's rule to it: the card's own glyphs are the better witness, so
 * that outcome stands, and the stage's record says if it changed. */
static void reread(struct run *r, enum stage_id s, const struct calib_result *cal, json_t *cinfo,
		   int decide)
{
	const char *name = stage_names[s];
	char key[32];
	snprintf(key, sizeof key, "%s_reread", name);
	struct hil_err err;
	if (!r->judged[s].rgb) {
		json_object_set_new(cinfo, key, json_pack("{s:s}", "error", "no frame was judged"));
		return;
	}
	if (textmode_decode(&r->judged[s], &cal->font, card_rule(r), r->screen, &err) < 0) {
		json_object_set_new(cinfo, key, json_pack("{s:s}", "error", err.msg));
		return;
	}
	float conf = textmode_min_confidence(r->screen);
	char *text = textmode_text(r->screen);
	json_t *rows = json_array();
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		json_array_append_new(rows, json_string(line));
	}
	free(text);
	json_object_set_new(cinfo, key, json_pack("{s:f, s:o}", "confidence", conf, "text", rows));

	struct stage_result *st = &r->stages[s];
	if (!decide || !st->outcome || (strcmp(st->outcome, "pass") && strcmp(st->outcome, "fail")))
		return;
	snprintf(key, sizeof key, "%s_rejudged", name);
	if (conf < TEXTMODE_TRUST) {
		json_object_set_new(cinfo, key, json_pack("{s:s, s:f}", "error",
							 "the learned glyphs do not read this frame with confidence",
							 "confidence", conf));
		return;
	}
	r->grid = 1;
	json_t *info = json_object();
	struct strbuf why = STRBUF_INIT;
	int ok = judge_stage(r, s, info, &why);
	const char *now = ok ? "pass" : "fail";
	json_object_set_new(info, "outcome", json_string(now));
	json_object_set_new(info, "previous", json_string(st->outcome));
	json_object_set_new(info, "confidence", json_real(conf));
	json_object_set_new(st->info, "reader", json_string("calibration"));
	if (strcmp(now, st->outcome)) {
		st->outcome = now;
		json_object_set_new(st->info, "detail",
				    json_sprintf("re-judged with the card's own glyphs (calibration): %s",
						 ok ? "the screen agrees with the guest" : sb_str(&why)));
		r->stages[s].verdict[0] = '\0';
		if (!ok)
			set_verdict(r, s, s == ST_POST ? "fail:no-post" : "fail:text");
	}
	json_object_set_new(cinfo, key, info);
	sb_release(&why);
}

/* The calibration frame: learn the glyphs, record them and what the frames
 * judged earlier read with them, release the guest. */
static void on_calib_frame(struct run *r)
{
	struct hil_err err;
	struct calib_result *cal = xmalloc(sizeof *cal);
	json_t *info = json_object();
	if (calib_learn(&r->last, &r->calib, cal, &err) < 0) {
		/* Perhaps a stale frame: look again until the window closes. */
		json_object_set_new(r->stages[ST_TEXT].info, "calibration",
				    json_pack("{s:s, s:i}", "error", err.msg, "looks", r->looks));
		r->next_look = now_ms() + FRAME_RETRY_MS;
		free(cal);
		json_decref(info);
		return;
	}
	char *path = artifact(r, "calibration.png");
	if (frame_write_png(&r->last, path, &err) == 0)
		json_object_set_new(info, "frame", json_string("calibration.png"));
	else
		unlink(path);
	free(path);
	uint8_t diff[256];
	int ndiff = r->opts->font ? calib_differences(&cal->font, r->opts->font, diff, 256) : -1;
	json_t *codes = json_array();
	for (int i = 0; i < ndiff && i < 256; i++)
		json_array_append_new(codes, json_sprintf("%02x", diff[i]));
	struct strbuf ninth = STRBUF_INIT;
	for (int c = 0; c < 256; c++) {
		if (!cal->ninth_copied[c])
			continue;
		int e = c;
		while (e + 1 < 256 && cal->ninth_copied[e + 1])
			e++;
		sb_addf(&ninth, "%s%02x-%02x", ninth.len ? "," : "", c, e);
		c = e;
	}
	json_object_set_new(info, "glyphs_differing_from_font", json_integer(ndiff));
	json_object_set_new(info, "differing_codes", codes);
	json_object_set_new(info, "ninth_column_copied", json_string(sb_str(&ninth)));
	json_object_set_new(info, "colours", json_pack("{s:[i,i,i], s:[i,i,i]}", "fg", cal->fg[0], cal->fg[1],
							   cal->fg[2], "bg", cal->bg[0], cal->bg[1], cal->bg[2]));
	/* Where the decoder's font is not the card's, or the decoder could not
	 * read a stage's frame by itself, the card's own glyphs judge it again. */
	for (enum stage_id st = ST_POST; st <= ST_TEXT; st++) {
		const char *reader = json_string_value(json_object_get(r->stages[st].info, "reader"));
		reread(r, st, cal, info, ndiff != 0 || !reader || strcmp(reader, "textmode"));
	}
	json_object_set_new(info, "looks", json_integer(r->looks));
	sb_release(&ninth);
	json_object_set_new(r->stages[ST_TEXT].info, "calibration", info);
	free(cal);
	send_ack(r);
	wait_phase(r, PH_WAIT_GRAPHICS);
}

/* A screen check ended (decided either way): release the guest and wait
 * for its next checkpoint. */
static void check_done(struct run *r, enum stage_id s)
{
	send_ack(r);
	if (s == ST_GRAPHICS) {
		wait_end(r);
		return;
	}
	wait_phase(r, s == ST_POST ? PH_WAIT_TEXT_HOLD : PH_WAIT_CALIB);
	stage_begin(r, s == ST_POST ? ST_TEXT : ST_GRAPHICS);
}

/* The pattern frame: the mode's size (a capture device's frame may be
 * scaled), every block as the spec says, this run's code. */
static void on_graphics_frame(struct run *r)
{
	json_t *info = r->stages[ST_GRAPHICS].info;
	struct pattern_result pr;
	struct hil_err err;
	int rc = pattern_check(&r->last, r->gfx_width, r->gfx_height, r->gfx_code, r->own_display,
			       &pr, &err);
	r->reader = "pattern";
	if (rc < 0) {
		json_object_set_new(info, "last_mismatch", json_string(err.msg));
	} else if (rc == 0) {
		json_object_set_new(info, "last_mismatch", json_string(pr.why));
		json_object_set_new(info, "bad_blocks", json_integer(pr.bad_blocks));
		json_object_set_new(info, "code_on_screen", json_sprintf("%08x", pr.code_read));
	}
	if (rc != 1) {
		r->next_look = now_ms() + FRAME_RETRY_MS;
		return;
	}
	json_object_del(info, "last_mismatch");
	json_object_set_new(info, "bad_blocks", json_integer(0));
	json_object_set_new(info, "code_on_screen", json_sprintf("%08x", pr.code_read));
	keep_evidence(r, ST_GRAPHICS);
	char *d = xasprintf("the %dx%d pattern with this run's code %08x is on the screen",
			    r->gfx_width, r->gfx_height, r->gfx_code);
	stage_end(r, ST_GRAPHICS, "pass", d);
	free(d);
	check_done(r, ST_GRAPHICS);
}

/* A whole frame arrived during a check: read it and apply the rule. */
static void on_frame(struct run *r)
{
	r->frame_pending = 0;
	r->looks++;
	if (vnc_take_frame(r->vnc, &r->last) < 0)
		return;
	if (r->phase == PH_CHECK_CALIB) {
		on_calib_frame(r);
		return;
	}
	if (r->phase == PH_CHECK_GRAPHICS) {
		on_graphics_frame(r);
		return;
	}
	free(r->last_text);
	r->last_text = NULL;
	enum stage_id s = current_stage(r);
	json_t *info = r->stages[s].info;
	struct strbuf why = STRBUF_INIT;
	int ok;
	if (s == ST_POST && r->cell->guest->post == POST_FIRMWARE_OUTPUT) {
		/* Nothing to read: what counts is that something was drawn. */
		r->reader = "none";
		r->last_text = xstrdup("");
		ok = judge_post_output(r, info, &why);
	} else {
		read_screen(r, info);
		if (!r->last_text) {
			lab_error(r, current_stage(r), "reader", r->reader_error);
			sb_release(&why);
			return;
		}
		ok = judge_stage(r, s, info, &why);
	}
	if (ok) {
		keep_evidence(r, s);
		stage_end(r, s, "pass",
			  s != ST_POST ? "every reported line is on the screen"
			  : r->cell->guest->post == POST_FIRMWARE_OUTPUT
				  ? "the firmware drew on the screen"
				  : "the firmware's banner is on the screen");
		check_done(r, s);
	} else {
		json_object_set_new(info, "last_mismatch", json_string(sb_str(&why)));
		r->next_look = now_ms() + FRAME_RETRY_MS;
		if (r->grid && r->last_text && strstr(r->last_text, QEMU_PLACEHOLDER))
			placeholder_settles(r);
	}
	sb_release(&why);
}

/* Beside a frame that is not the pattern: where it differs. */
static void keep_pattern_diff(struct run *r, json_t *info)
{
	struct pattern_result pr;
	struct hil_err err;
	if (pattern_check(&r->last, r->gfx_width, r->gfx_height, r->gfx_code, 0, &pr, &err) < 0)
		return;
	struct frame diff;
	frame_init(&diff);
	pattern_diff(&r->last, r->gfx_width, r->gfx_height, &pr, &diff);
	char *path = artifact(r, "graphics-diff.png");
	if (frame_write_png(&diff, path, &err) == 0) {
		json_object_set_new(info, "diff_frame", json_string("graphics-diff.png"));
	} else {
		json_object_set_new(info, "diff_frame_error", json_string(err.msg));
		unlink(path);
	}
	free(path);
	frame_release(&diff);
}

/* The screen never agreed with the guest within the window. */
static void check_timeout(struct run *r)
{
	enum stage_id s = current_stage(r);
	keep_evidence(r, s);
	json_t *info = r->stages[s].info;
	if (s == ST_GRAPHICS && r->last.rgb)
		keep_pattern_diff(r, info);
	char *detail;
	if (!r->looks)
		detail = xasprintf("no whole frame arrived from the capture within %.0f s",
				   (double)check_window(r) / 1000);
	else if (s == ST_POST && r->cell->guest->post == POST_SEABIOS_BANNER)
		detail = xasprintf("the firmware's banner was not on the screen in %d looks", r->looks);
	else
		detail = xasprintf("%s (%d looks)",
				   json_string_value(json_object_get(info, "last_mismatch")) ?: "mismatch",
				   r->looks);
	if (!r->looks) {
		lab_error(r, s, "capture-timeout", detail);
		free(detail);
		return;
	}
	set_verdict(r, s, "fail:%s", s == ST_POST ? "no-post" : stage_names[s]);
	stage_end(r, s, "fail", detail);
	free(detail);
	/* Release the guest anyway: its later stages are still evidence. */
	check_done(r, s);
}

/* The guest showed no pattern to check (what: why not); its own graphics
 * error, if it reported one, is part of the reason. */
static void graphics_not_shown(struct run *r, const char *what)
{
	char *d = xasprintf("%s%s%s", what, r->gfx_error[0] ? ": " : "", r->gfx_error);
	set_verdict(r, ST_GRAPHICS, "fail:graphics");
	stage_end(r, ST_GRAPHICS, "fail", d);
	free(d);
	wait_end(r);
}

/* The guest's graphics reports: the mode it set, its own errors, what it
 * shows, and its hold. */
static void on_graphics_report(struct run *r, const struct report_msg *m)
{
	json_t *info = r->stages[ST_GRAPHICS].info;
	if (!strcmp(m->event, "set")) {
		json_t *mode = json_object();
		for (size_t i = 0; i < m->npairs; i++)
			json_object_set_new(mode, m->key[i], json_string(m->val[i]));
		json_object_set_new(info, "mode_set", mode);
	} else if (!strcmp(m->event, "error")) {
		struct strbuf e = STRBUF_INIT;
		for (size_t i = 0; i < m->npairs; i++)
			sb_addf(&e, "%s%s=%s", i ? " " : "", m->key[i], m->val[i]);
		snprintf(r->gfx_error, sizeof r->gfx_error, "%s", sb_str(&e));
		json_object_set_new(info, "guest_error", json_string(sb_str(&e)));
		sb_release(&e);
	} else if (!strcmp(m->event, "show")) {
		const char *w = report_get(m, "width"), *h = report_get(m, "height");
		const char *bpp = report_get(m, "bpp"), *code = report_get(m, "code");
		char *end = NULL;
		unsigned long c = code ? strtoul(code, &end, 16) : 0;
		r->gfx_width = w ? atoi(w) : 0;
		r->gfx_height = h ? atoi(h) : 0;
		r->gfx_bpp = bpp ? atoi(bpp) : 0;
		r->gfx_code = (uint32_t)c;
		r->gfx_announced = r->gfx_width > 0 && r->gfx_height > 0 && code && end && !*end &&
				   strlen(code) == 8;
		json_object_set_new(info, "mode", json_sprintf("%dx%d", r->gfx_width, r->gfx_height));
		json_object_set_new(info, "bpp", json_integer(r->gfx_bpp));
		json_object_set_new(info, "code", json_string(code ? code : ""));
		if (!r->gfx_announced)
			snprintf(r->gfx_error, sizeof r->gfx_error,
				 "its 'graphics show' line gives no usable width, height and code");
	} else if (!strcmp(m->event, "hold")) {
		if (r->phase != PH_WAIT_CALIB && r->phase != PH_WAIT_GRAPHICS)
			return;
		if (r->gfx_announced) {
			check_begin(r, PH_CHECK_GRAPHICS);
			return;
		}
		/* A hold we cannot judge: fail the stage, do not make the guest wait. */
		send_ack(r);
		graphics_not_shown(r, "the guest held at graphics without announcing its pattern");
	}
}

static void on_report(struct run *r, const struct report_msg *m)
{
	json_t *rep = json_pack("{s:s, s:s, s:I}", "stage", m->stage, "event", m->event, "t_ms",
				(json_int_t)(now_ms() - r->t_start));
	for (size_t i = 0; i < m->npairs; i++)
		json_object_set_new(rep, m->key[i], json_string(m->val[i]));
	json_array_append_new(r->reports, rep);

	if (!strcmp(m->stage, "pci") && !strcmp(m->event, "display")) {
		json_array_append_new(r->pci, json_pack("{s:s, s:s, s:s}", "bdf",
							report_get(m, "bdf") ?: "", "id",
							report_get(m, "id") ?: "", "class",
							report_get(m, "class") ?: ""));
	} else if (!strcmp(m->stage, "post") && !strcmp(m->event, "hold")) {
		if (r->phase == PH_WAIT_POST_HOLD)
			check_begin(r, PH_CHECK_POST);
	} else if (!strcmp(m->stage, "text") && !strcmp(m->event, "line")) {
		const char *row = report_get(m, "row"), *text = report_get(m, "text");
		if (row && text)
			json_array_append_new(r->text_lines,
					      json_pack("{s:i, s:s}", "row", atoi(row), "text", text));
	} else if (!strcmp(m->stage, "text") && !strcmp(m->event, "hold")) {
		if (r->phase == PH_WAIT_TEXT_HOLD)
			check_begin(r, PH_CHECK_TEXT);
	} else if (!strcmp(m->stage, "calib") && !strcmp(m->event, "show")) {
		const char *fr = report_get(m, "first-row"), *fc = report_get(m, "first-col");
		const char *st = report_get(m, "step"), *pr = report_get(m, "per-row");
		r->calib = (struct calib_layout){ fr ? atoi(fr) : -1, fc ? atoi(fc) : -1,
						  st ? atoi(st) : 0, pr ? atoi(pr) : 0 };
		r->calib_announced = 1;
	} else if (!strcmp(m->stage, "calib") && !strcmp(m->event, "hold")) {
		if (r->phase == PH_WAIT_CALIB && r->calib_announced) {
			check_begin(r, PH_CHECK_CALIB);
		} else if (r->phase == PH_WAIT_CALIB) {
			send_ack(r); /* a hold we cannot use: do not make the guest wait */
		}
	} else if (!strcmp(m->stage, "graphics")) {
		on_graphics_report(r, m);
	} else if (!strcmp(m->stage, "end") && !strcmp(m->event, "exit")) {
		if (r->phase == PH_WAIT_CALIB || r->phase == PH_WAIT_GRAPHICS) {
			/* Ending without showing a pattern: the guest could not
			 * set a mode (or never tried). */
			graphics_not_shown(r, "the guest ended without showing its graphics pattern");
		}
		const char *code = report_get(m, "code");
		r->end_code = code ? atoi(code) : -1;
	}
}

static void on_serial_line(void *ctx, const char *line, size_t len, int overlong)
{
	struct run *r = ctx;
	struct report_msg m;
	struct hil_err err;
	int rc = overlong ? (strncmp(line, REPORT_PREFIX, strlen(REPORT_PREFIX)) ? 0 : -1)
			  : report_parse(line, len, &m, &err);
	if (overlong && rc < 0)
		hil_seterr(&err, "report line longer than %d bytes", REPORT_LINE_MAX);
	if (rc < 0) {
		r->protocol_errors++;
		json_t *rep = json_pack("{s:s, s:s, s:s%}", "stage", "protocol", "event", "error",
					"line", line, len > 120 ? (size_t)120 : len);
		json_object_set_new(rep, "error", json_string(err.msg));
		json_array_append_new(r->reports, rep);
		return;
	}
	if (rc == 1)
		on_report(r, &m);
}

/* Read what the serial port has; 0 on EOF. */
static int pump_serial(struct run *r)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(r->serial_fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : 0;
		if (n == 0)
			return 0;
		/* Flushed at once: if hilrun dies, what the guest said is on
		 * disk for the recovered record. */
		fwrite(buf, 1, (size_t)n, r->serial_log);
		fflush(r->serial_log);
		progress(r);
		serial_lines_feed(&r->lines, buf, (size_t)n, on_serial_line, r);
	}
}

static void pump_events(struct run *r)
{
	json_t *ev;
	while ((ev = qmp_pop_event(r->qmp))) {
		char *line = json_dumps(ev, JSON_COMPACT);
		fprintf(r->events_log, "%s\n", line);
		fflush(r->events_log);
		free(line);
		json_decref(ev);
	}
}

static char *stderr_tail(struct run *r)
{
	char *path = artifact(r, "qemu.log");
	size_t len = 0;
	struct hil_err err;
	char *all = read_file(path, 64 << 20, &len, &err);
	free(path);
	if (!all)
		return xstrdup("");
	char *tail = xstrdup(len > STDERR_TAIL_MAX ? all + len - STDERR_TAIL_MAX : all);
	free(all);
	return tail;
}

/* QEMU has exited: decide what that means in the current phase. */
static void on_qemu_exit(struct run *r)
{
	/* The guest's last lines may be in the socket still. */
	while (pump_serial(r) > 0)
		;
	char how[128];
	proc_describe(&r->qemu, how, sizeof how);
	int status = r->qemu.status;
	int expected = qemu_guest_exit_status(GUEST_EXIT_CODE);
	char *tail = stderr_tail(r);
	/* A crash: a signal, an assertion, or an exit status the guest cannot
	 * cause (isa-debug-exit gives odd ones, the guest's own shutdown 0):
	 * QEMU exits 1 on its own fatal errors. */
	int abnormal = WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
		       WEXITSTATUS(status) % 2 == 0;
	int crashed = WIFSIGNALED(status) || abnormal || strstr(tail, "Assertion") ||
		      strstr(tail, "assertion");

	if (crashed) {
		char *d = xasprintf("QEMU %s%s", how, *tail ? "; its last output is in the record (qemu.stderr_tail)" : "");
		set_verdict(r, current_stage(r), "fail:qemu-crash");
		stage_end(r, current_stage(r), "fail", d);
		free(d);
		skip_rest(r, "not reached: QEMU crashed");
	} else if (r->phase == PH_WAIT_END && WIFEXITED(status) && WEXITSTATUS(status) == expected &&
		   r->end_code == GUEST_EXIT_CODE) {
		char *d = xasprintf("the guest ended the VM with code %d; QEMU %s", r->end_code, how);
		stage_end(r, ST_SHUTDOWN, "pass", d);
		free(d);
	} else {
		char *d = r->phase == PH_WAIT_END
			? xasprintf("QEMU %s, expected exit status %d after the guest's 'end exit code=%d'",
				    how, expected, GUEST_EXIT_CODE)
			: xasprintf("QEMU %s before the guest finished (%s)", how,
				    r->phase == PH_WAIT_POST_HOLD ? "no post hold yet" : "mid-run");
		enum stage_id s = current_stage(r);
		set_verdict(r, s, "fail:%s", s == ST_POST ? "no-post" : stage_names[s]);
		stage_end(r, s, "fail", d);
		free(d);
		skip_rest(r, "not reached: QEMU exited");
	}
	free(tail);
	r->phase = PH_DONE;
}

/* The guest made no progress for its window: a hang, with the last frame
 * seen kept as the stage's evidence and how late it was declared. */
static void guest_hang(struct run *r)
{
	enum stage_id s = current_stage(r);
	const int64_t now = now_ms(), quiet = now - r->last_progress;
	if (r->watch.rgb) {
		frame_copy(&r->last, &r->watch);
		free(r->last_text);
		r->last_text = NULL;
		r->reader = "none";
		r->looks = 0;
	}
	keep_evidence(r, s);
	json_t *info = r->stages[s].info;
	json_object_set_new(info, "hang", json_pack("{s:I, s:I, s:I}", "window_ms",
						    (json_int_t)r->quiet_window, "quiet_ms",
						    (json_int_t)quiet, "declared_after_window_ms",
						    (json_int_t)(quiet - r->quiet_window)));
	if (r->phase == PH_WAIT_CALIB && !r->calib_announced &&
	    r->cell->guest->post == POST_SEABIOS_BANNER)
		json_object_set_new(r->stages[ST_TEXT].info, "calibration",
				    json_pack("{s:s}", "error", "the guest hung before its calibration screen"));
	char *d = quiet >= r->quiet_window
		? xasprintf("no serial output and no change on the screen for %.1f s (window "
			    "%.0f s): the guest hung before its %s checkpoint",
			    (double)quiet / 1000, (double)r->quiet_window / 1000, stage_names[s])
		: xasprintf("the guest kept busy (serial output or screen changes) but did not "
			    "reach its %s checkpoint in %.0f s",
			    stage_names[s], (double)(QUIET_CAP * r->quiet_window) / 1000);
	set_verdict(r, s, "fail:guest-hang");
	stage_end(r, s, "fail", d);
	free(d);
	skip_rest(r, "not reached: the guest hung");
	r->phase = PH_DONE;
}

static void on_deadline(struct run *r)
{
	switch (r->phase) {
	case PH_WAIT_POST_HOLD:
	case PH_WAIT_TEXT_HOLD:
	case PH_WAIT_CALIB:
	case PH_WAIT_GRAPHICS:
		guest_hang(r);
		break;
	case PH_CHECK_POST:
	case PH_CHECK_TEXT:
	case PH_CHECK_GRAPHICS:
		check_timeout(r);
		break;
	case PH_CHECK_CALIB: {
		/* Calibration is evidence, not a stage of its own: note that it
		 * could not be read, release the guest, and see how the run ends. */
		json_t *cinfo = json_object_get(r->stages[ST_TEXT].info, "calibration");
		if (!cinfo)
			json_object_set_new(r->stages[ST_TEXT].info, "calibration",
					    json_pack("{s:s}", "error",
						      "no calibration frame could be read in time"));
		send_ack(r);
		wait_phase(r, PH_WAIT_GRAPHICS);
		break;
	}
	case PH_WAIT_END: {
		char *d = xasprintf("QEMU did not exit within %.0f s after the guest was released",
				    scaled(r, WIN_END) / 1000);
		set_verdict(r, ST_SHUTDOWN, "fail:shutdown");
		stage_end(r, ST_SHUTDOWN, "fail", d);
		free(d);
		r->phase = PH_DONE;
		break;
	}
	case PH_DONE:
		break;
	}
}

/* A frame that arrived while the guest works: a change from the last one
 * is progress. */
static void on_watch_frame(struct run *r)
{
	r->frame_pending = 0;
	struct frame f;
	frame_init(&f);
	if (vnc_take_frame(r->vnc, &f) < 0)
		return;
	uint64_t h = 1469598103934665603ull ^ (uint64_t)f.width << 32 ^ (uint64_t)f.height;
	const size_t n = (size_t)f.width * (size_t)f.height * 3;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t w = 0;
		memcpy(&w, f.rgb + i, n - i < 8 ? n - i : 8);
		h = (h ^ w) * 1099511628211ull;
	}
	/* A screen that only alternates between states it showed lately (a
	 * blinking cursor) is not progress. */
	int seen = 0;
	for (int i = 0; i < WATCH_HISTORY; i++)
		seen |= r->watch_hash[i] == h && r->watch.rgb;
	if (!seen) {
		progress(r);
		memmove(r->watch_hash + 1, r->watch_hash, (WATCH_HISTORY - 1) * sizeof *r->watch_hash);
		r->watch_hash[0] = h;
	}
	frame_release(&r->watch);
	r->watch = f;
}

/* QEMU's monitor stopped answering: QEMU is hung (stopped, deadlocked).
 * Nothing it shows can be trusted now: the run ends here, QEMU is killed. */
static void qemu_hang(struct run *r, int64_t hang_ms)
{
	enum stage_id s = current_stage(r);
	const int64_t waited = now_ms() - r->ping_sent;
	char state[64] = "";
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)r->qemu.pid);
	FILE *f = fopen(path, "re");
	if (f) {
		char buf[512];
		size_t got = fread(buf, 1, sizeof buf - 1, f);
		buf[got] = '\0';
		const char *p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2])
			snprintf(state, sizeof state, "; its process state is %c%s", p[2],
				 p[2] == 'T' ? " (stopped)" : "");
		fclose(f);
	}
	if (r->watch.rgb && !r->last.rgb)
		frame_copy(&r->last, &r->watch);
	keep_evidence(r, s);
	json_object_set_new(r->stages[s].info, "qemu_hang",
			    json_pack("{s:I, s:I, s:I}", "window_ms", (json_int_t)hang_ms,
				      "waited_ms", (json_int_t)waited, "declared_after_window_ms",
				      (json_int_t)(waited - hang_ms)));
	char *d = xasprintf("QEMU's monitor did not answer query-status for %.1f s (window %.0f "
			    "s)%s; QEMU was killed",
			    (double)waited / 1000, (double)hang_ms / 1000, state);
	set_verdict(r, s, "fail:qemu-hang");
	stage_end(r, s, "fail", d);
	free(d);
	skip_rest(r, "not reached: QEMU hung");
	r->phase = PH_DONE;
	proc_stop(&r->qemu, 1000);
}

static void supervise(struct run *r)
{
	struct hil_err err;
	while (r->phase != PH_DONE) {
		watchdog_pet(r->opts->watchdog_fd);
		int checking = r->phase == PH_CHECK_POST || r->phase == PH_CHECK_TEXT ||
			       r->phase == PH_CHECK_CALIB || r->phase == PH_CHECK_GRAPHICS;
		if (checking && !r->frame_pending && now_ms() >= r->next_look) {
			if (vnc_request_full(r->vnc, &err) < 0) {
				if (proc_poll(&r->qemu)) {
					on_qemu_exit(r);
					break;
				}
				lab_error(r, current_stage(r), "capture-lost", err.msg);
				break;
			}
			r->frame_pending = 1;
		}
		/* While the guest works, the screen is looked at too: a change
		 * is progress, and the last frame is the evidence of a hang. */
		int watching = !checking && r->phase != PH_DONE;
		if (watching && !r->frame_pending && now_ms() >= r->next_watch) {
			if (vnc_request_full(r->vnc, &err) == 0)
				r->frame_pending = 1;
			r->next_watch = now_ms() + WATCH_MS;
		}
		/* QEMU's monitor must answer: a frozen QEMU answers nothing. */
		if (!r->ping_id && now_ms() >= r->next_ping) {
			r->ping_id = qmp_send(r->qmp, "query-status", now_ms() + 1000, &err);
			r->ping_sent = now_ms();
		}

		struct pollfd pfd[5];
		int n = 0, i_serial = -1, i_qmp = -1, i_vnc = -1, i_proc = -1, i_sig = -1;
		pfd[i_serial = n++] = (struct pollfd){ .fd = r->serial_fd, .events = POLLIN };
		pfd[i_qmp = n++] = (struct pollfd){ .fd = qmp_fd(r->qmp), .events = POLLIN };
		pfd[i_vnc = n++] = (struct pollfd){ .fd = vnc_fd(r->vnc), .events = POLLIN };
		if (r->qemu.pidfd >= 0)
			pfd[i_proc = n++] = (struct pollfd){ .fd = r->qemu.pidfd, .events = POLLIN };
		if (r->opts->signal_fd >= 0)
			pfd[i_sig = n++] = (struct pollfd){ .fd = r->opts->signal_fd, .events = POLLIN };

		int64_t wake = r->phase_deadline;
		if (checking && !r->frame_pending && r->next_look < wake)
			wake = r->next_look;
		if (watching && !r->frame_pending && r->next_watch < wake)
			wake = r->next_watch;
		const int64_t hang_ms = (int64_t)(QMP_HANG_MS * (r->opts->timeout_scale > 0 ? r->opts->timeout_scale : 1.0));
		int64_t ping_due = r->ping_id ? r->ping_sent + hang_ms : r->next_ping;
		if (ping_due < wake)
			wake = ping_due;
		int timeout = vnc_has_buffered(r->vnc) ? 0 : ms_left(wake);
		if (r->qemu.pidfd < 0 && timeout > 100)
			timeout = 100; /* no pidfd: notice QEMU's exit by polling */
		if (r->opts->watchdog_fd > 0 && timeout > WATCHDOG_PET_MS)
			timeout = WATCHDOG_PET_MS;
		int rc = poll(pfd, (nfds_t)n, timeout);
		if (rc < 0 && errno != EINTR) {
			lab_error(r, current_stage(r), "harness", strerror(errno));
			break;
		}

		if (i_sig >= 0 && (pfd[i_sig].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(r->opts->signal_fd, &si, sizeof si) == sizeof si) {
				char *d = xasprintf("hilrun received %s", strsignal((int)si.ssi_signo));
				r->res->interrupted = 1;
				lab_error(r, current_stage(r), "interrupted", d);
				free(d);
				break;
			}
		}
		if (pfd[i_serial].revents & (POLLIN | POLLHUP))
			pump_serial(r);
		if (r->phase == PH_DONE)
			break;
		if (pfd[i_qmp].revents & (POLLIN | POLLHUP)) {
			if (qmp_pump(r->qmp, &err) < 0 && !proc_poll(&r->qemu)) {
				/* The monitor broke while QEMU runs: a garbage line, or
				 * QEMU closing it. Give QEMU a moment to finish exiting. */
				if (!proc_wait(&r->qemu, now_ms() + 2000)) {
					lab_error(r, current_stage(r), "qmp", err.msg);
					break;
				}
			}
			pump_events(r);
			if (r->ping_id && qmp_take_reply(r->qmp, r->ping_id)) {
				r->ping_id = 0;
				r->next_ping = now_ms() + QMP_PING_MS;
			}
		}
		if (proc_poll(&r->qemu)) {
			pump_events(r);
			on_qemu_exit(r);
			break;
		}
		if ((pfd[i_vnc].revents & (POLLIN | POLLHUP | POLLERR)) || vnc_has_buffered(r->vnc)) {
			int got = vnc_pump(r->vnc, &err);
			if (got < 0) {
				if (proc_wait(&r->qemu, now_ms() + 2000)) {
					on_qemu_exit(r);
					break;
				}
				lab_error(r, current_stage(r), "capture-lost", err.msg);
				break;
			}
			if (got == 1 && (r->phase == PH_CHECK_POST || r->phase == PH_CHECK_TEXT ||
					 r->phase == PH_CHECK_CALIB || r->phase == PH_CHECK_GRAPHICS))
				on_frame(r);
			else if (got == 1)
				on_watch_frame(r);
		}
		(void)i_proc;
		if (r->phase != PH_DONE && r->ping_id && now_ms() >= r->ping_sent + hang_ms &&
		    !proc_poll(&r->qemu)) {
			qemu_hang(r, hang_ms);
			break;
		}
		if (r->phase != PH_DONE && now_ms() >= r->phase_deadline)
			on_deadline(r);
	}
}

/* Starting failed. If QEMU exited meanwhile, its stderr says why (a bad
 * option, a host device it cannot open, no KVM): that is the error. */
static void start_failed(struct run *r, const char *reason, const char *what)
{
	if (!proc_wait(&r->qemu, now_ms() + 1000)) {
		lab_error(r, ST_START, reason, what);
		return;
	}
	char *tail = stderr_tail(r);
	char how[128];
	proc_describe(&r->qemu, how, sizeof how);
	char *d = xasprintf("QEMU %s while starting: %s", how, *tail ? tail : "(no output)");
	lab_error(r, ST_START, "qemu-start", d);
	free(d);
	free(tail);
}

/* Set up sockets, start QEMU paused, connect QMP, serial and capture, cont. */
static int start(struct run *r, struct argv *argv, const char *accel)
{
	struct hil_err err;
	const struct cell *cell = r->cell;
	stage_begin(r, ST_START);

	char *image = xasprintf("%s/%s", r->opts->guest_dir, cell->guest->image);
	json_object_set_new(r->stages[ST_START].info, "guest_image", json_string(image));
	if (access(image, R_OK) < 0) {
		char *d = xasprintf("guest image %s: %s (build it: cmake --build build)", image,
				    strerror(errno));
		lab_error(r, ST_START, "guest-image-missing", d);
		free(d);
		free(image);
		return -1;
	}

	r->qmp_listen = sock_listen_unix(r->qmp_path, &err);
	r->serial_listen = r->qmp_listen < 0 ? -1 : sock_listen_unix(r->serial_path, &err);
	if (r->serial_listen < 0) {
		lab_error(r, ST_START, "harness", err.msg);
		free(image);
		return -1;
	}

	struct qemu_env env = {
		.qemu = r->opts->qemu,
		.accel = accel,
		.guest_image = image,
		.qmp_socket = r->qmp_path,
		.serial_socket = r->serial_path,
		.vnc_socket = r->vnc_path,
		.host = r->opts->host,
		.rom = r->opts->rom,
		.start_paused = 1,
	};
	if (qemu_argv(argv, cell, &env, &err) < 0) {
		lab_error(r, ST_START, "configuration", err.msg);
		free(image);
		return -1;
	}
	free(image);
	json_t *jargv = json_array();
	for (size_t i = 0; i < argv->n; i++)
		json_array_append_new(jargv, json_string(argv->v[i]));
	json_object_set_new(r->res->record, "qemu_argv", jargv);

	char *log = artifact(r, "qemu.log");
	int rc = proc_spawn(&r->qemu, argv, log, &err);
	free(log);
	if (rc < 0) {
		lab_error(r, ST_START, "qemu-missing", err.msg);
		return -1;
	}

	/* QEMU connects its chardevs while it starts; if it exits instead, its
	 * stderr says why (bad option, missing device, no KVM). */
	int64_t dl = deadline_in(r, WIN_CONNECT);
	int qfd = sock_accept(r->qmp_listen, dl, "QEMU's QMP connection", &err);
	int sfd = qfd < 0 ? -1 : sock_accept(r->serial_listen, dl, "QEMU's serial connection", &err);
	if (sfd < 0) {
		if (qfd >= 0)
			close(qfd);
		start_failed(r, "qemu-start", err.msg);
		return -1;
	}
	r->qmp = qmp_new(qfd);
	r->serial_fd = sfd;
	if (qmp_handshake(r->qmp, dl, &err) < 0) {
		start_failed(r, "qmp", err.msg);
		return -1;
	}
	snprintf(r->qemu_version, sizeof r->qemu_version, "%s", qmp_qemu_version(r->qmp));

	/* An emulated card is watched through QEMU's own VNC socket, unless a
	 * capture endpoint is given (a capture box filming the VM's display, or
	 * a proxy in front of QEMU's VNC). */
	r->own_display = !r->opts->capture && cell->card->kind == CARD_EMULATED;
	char *endpoint = r->opts->capture ? xstrdup(r->opts->capture)
			 : r->own_display ? xasprintf("unix:%s", r->vnc_path)
					  : xstrdup("");
	json_object_set_new(r->stages[ST_START].info, "capture", json_string(endpoint));
	if (!*endpoint) {
		lab_error(r, ST_START, "no-capture",
			  "a physical card needs a capture endpoint (--capture HOST:PORT or 'capture' in its station)");
		free(endpoint);
		return -1;
	}
	r->vnc = vnc_open(endpoint, deadline_in(r, WIN_CONNECT), &err);
	free(endpoint);
	if (!r->vnc) {
		lab_error(r, ST_START, "capture-unreachable", err.msg);
		return -1;
	}
	if (qmp_execute(r->qmp, "cont", NULL, NULL, deadline_in(r, WIN_CONNECT), &err) < 0) {
		lab_error(r, ST_START, "qmp", err.msg);
		return -1;
	}
	pump_events(r);
	char *d = xasprintf("QEMU %s started (%s), monitor, serial and capture connected",
			    r->qemu_version, accel);
	stage_end(r, ST_START, "pass", d);
	free(d);
	stage_begin(r, ST_POST);
	r->last_progress = now_ms();
	r->next_ping = now_ms() + QMP_PING_MS;
	wait_phase(r, PH_WAIT_POST_HOLD);
	return 0;
}

static void cleanup(struct run *r)
{
	if (r->qemu.pid && !r->qemu.exited)
		proc_stop(&r->qemu, 3000);
	proc_release(&r->qemu);
	vnc_close(r->vnc);
	qmp_free(r->qmp);
	if (r->serial_fd >= 0)
		close(r->serial_fd);
	if (r->qmp_listen >= 0)
		close(r->qmp_listen);
	if (r->serial_listen >= 0)
		close(r->serial_listen);
	if (r->sock_dir)
		remove_tree(r->sock_dir);
	if (r->serial_log)
		fclose(r->serial_log);
	if (r->events_log)
		fclose(r->events_log);
	serial_lines_release(&r->lines);
	frame_release(&r->last);
	frame_release(&r->watch);
	for (int s = 0; s < ST_COUNT; s++)
		frame_release(&r->judged[s]);
	free(r->last_text);
	free(r->screen);
	textmode_reader_free(r->text_reader);
	for (int s = 0; s < ST_COUNT; s++)
		json_decref(r->stages[s].info);
	json_decref(r->reports);
	json_decref(r->text_lines);
	json_decref(r->pci);
	free(r->tmp_dir);
	free(r->sock_dir);
	free(r->qmp_path);
	free(r->serial_path);
	free(r->vnc_path);
}

void run_result_release(struct run_result *res)
{
	free(res->run_id);
	free(res->run_dir);
	json_decref(res->record);
	memset(res, 0, sizeof *res);
}

int run_cell(const struct cell *cell, const struct run_opts *opts, struct run_result *res,
	     struct hil_err *err)
{
	struct run r = {
		.cell = cell,
		.opts = opts,
		.res = res,
		.scale = opts->timeout_scale > 0 ? opts->timeout_scale : 1.0,
		.t_start = now_ms(),
		.qmp_listen = -1,
		.serial_listen = -1,
		.serial_fd = -1,
		.end_code = -1,
	};
	memset(res, 0, sizeof *res);
	proc_init(&r.qemu);
	frame_init(&r.last);
	frame_init(&r.watch);
	for (int s = 0; s < ST_COUNT; s++)
		frame_init(&r.judged[s]);
	serial_lines_init(&r.lines, REPORT_LINE_MAX + 1); /* + the '\r' of CRLF */
	for (int s = 0; s < ST_COUNT; s++) {
		r.stages[s].info = json_object();
		json_object_set_new(r.stages[s].info, "notes", json_array());
	}
	r.screen = xmalloc(sizeof *r.screen);
	r.reports = json_array();
	r.text_lines = json_array();
	r.pci = json_array();
	res->record = json_object();
	res->run_id = record_new_run_id(cell->card->id, cell->firmware, cell->guest->id,
					cell->variant->name);
	char started_at[32];
	utc_iso8601(started_at);
	if (opts->on_stage)
		opts->on_stage(opts->on_stage_ctx, NULL, NULL);

	/* Where the run is assembled, and a short private directory for the
	 * sockets (unix socket paths are limited to 107 bytes). */
	char *runs = xasprintf("%s/runs", opts->out_dir);
	r.tmp_dir = xasprintf("%s/.tmp-%s", runs, res->run_id);
	char sock_tmpl[] = "/tmp/hilrun-XXXXXX";
	int setup_ok = mkdir_p(r.tmp_dir, err) == 0;
	if (setup_ok && !mkdtemp(sock_tmpl)) {
		hil_seterr(err, "cannot create a socket directory in /tmp: %s", strerror(errno));
		setup_ok = 0;
	}
	if (!setup_ok) {
		snprintf(res->verdict, sizeof res->verdict, "error:record");
		free(runs);
		cleanup(&r);
		return -1;
	}
	r.sock_dir = xstrdup(sock_tmpl);
	r.qmp_path = xasprintf("%s/qmp.sock", r.sock_dir);
	r.serial_path = xasprintf("%s/com1.sock", r.sock_dir);
	r.vnc_path = xasprintf("%s/vnc.sock", r.sock_dir);
	char *p = artifact(&r, "serial.log");
	r.serial_log = fopen(p, "we");
	free(p);
	p = artifact(&r, "qmp-events.jsonl");
	r.events_log = fopen(p, "we");
	free(p);

	char accel_reason[320];
	const char *accel;
	if (opts->accel) {
		accel = opts->accel;
		snprintf(accel_reason, sizeof accel_reason, "chosen with --accel");
	} else {
		char *cache = xasprintf("%s/accel-cache.json", opts->out_dir);
		accel = accel_choose(opts->qemu, cell->firmware, qemu_firmware_bin(cell->firmware),
				     cache, accel_reason, sizeof accel_reason);
		free(cache);
	}
	if (!strcmp(accel, "tcg"))
		r.scale *= 3; /* software emulation is slower: widen every window */

	/* In the journal before QEMU starts: if the host or hilrun goes down
	 * from here on, the next hilrun finds this run and records it. */
	journal_note(&r, "start",
		     json_pack("{s:s?, s:s?, s:s, s:s, s:s, s:o, s:s, s:s, "
			       "s:s, s:s, s:s, s:s?, s:s}",
			       "plan", opts->plan_id, "cell", opts->cell_key, "run_id", res->run_id,
			       "tmp_dir", r.tmp_dir, "sock_dir", r.sock_dir, "card",
			       record_card(cell->card), "firmware", cell->firmware, "guest",
			       cell->guest->id, "variant", cell->variant->name, "accel", accel,
			       "accel_reason", accel_reason, "station", opts->station, "expected",
			       card_expected(cell->card, cell->firmware, cell->guest->id)));

	struct argv argv = ARGV_INIT;
	if (!r.serial_log || !r.events_log)
		lab_error(&r, ST_START, "record", "cannot create the run's log files");
	else if (start(&r, &argv, accel) == 0)
		supervise(&r);
	if (r.qemu.pid && !r.qemu.exited)
		proc_stop(&r.qemu, 3000);
	if (r.qmp)
		pump_events(&r);

	/* The record. */
	char finished_at[32];
	utc_iso8601(finished_at);
	res->seconds = (double)(now_ms() - r.t_start) / 1000.0;
	json_t *card = record_card(cell->card);
	const struct record_facts facts = {
		.run_id = res->run_id,
		.card = card,
		.firmware = cell->firmware,
		.guest = cell->guest->id,
		.variant = cell->variant->name,
		.station = opts->station,
		.accel = accel,
		.accel_reason = accel_reason,
		.expected = card_expected(cell->card, cell->firmware, cell->guest->id),
		.started_at = started_at,
		.finished_at = finished_at,
		.t_start = r.t_start,
		.duration_ms = now_ms() - r.t_start,
		.stages = r.stages,
	};
	json_t *rec = record_build(&facts);
	json_decref(card);
	json_object_update(rec, res->record); /* what start() recorded: qemu_argv */
	json_decref(res->record);
	res->record = rec;
	snprintf(res->verdict, sizeof res->verdict, "%s",
		 json_string_value(json_object_get(rec, "verdict")));
	char qemu_exit[128] = "not started";
	if (r.qemu.pid)
		proc_describe(&r.qemu, qemu_exit, sizeof qemu_exit);
	json_object_set_new(rec, "firmware_file", json_string(qemu_firmware_bin(cell->firmware) ?: ""));
	json_object_set_new(rec, "retry_of", opts->retry_of ? json_string(opts->retry_of) : json_null());
	json_object_set_new(rec, "timeout_scale", json_real(r.scale));
	json_t *host = json_object_get(rec, "host");
	json_object_set_new(host, "qemu_version", json_string(r.qemu_version));
	json_object_set_new(host, "tesseract_version", json_string(ocr_version()));
	json_object_set_new(host, "hilrun_version", json_string(HILRUN_VERSION));
	json_object_set_new(rec, "font", opts->font ? json_string(opts->font->source) : json_null());
	json_object_set_new(rec, "guest_reports", json_incref(r.reports));
	json_object_set_new(rec, "guest_pci_display", json_incref(r.pci));
	json_object_set_new(rec, "protocol_errors", json_integer(r.protocol_errors));
	char *tail = r.qemu.pid ? stderr_tail(&r) : xstrdup("");
	json_object_set_new(rec, "qemu", json_pack("{s:s, s:s, s:s}", "version", r.qemu_version,
						   "exit", qemu_exit, "stderr_tail", tail));
	free(tail);
	if (!json_object_get(rec, "qemu_argv"))
		json_object_set_new(rec, "qemu_argv", json_array());

	/* argv as words (JSON) and as one line a person can paste. */
	char *display = argv_to_display(&argv);
	struct strbuf line = STRBUF_INIT;
	sb_adds(&line, display);
	sb_adds(&line, "\n");
	free(display);
	p = artifact(&r, "qemu-argv.txt");
	write_file_atomic(p, line.buf, line.len, err);
	free(p);
	sb_release(&line);
	argv_release(&argv);

	if (r.serial_log) {
		fflush(r.serial_log);
		fsync(fileno(r.serial_log));
	}
	if (r.events_log) {
		fflush(r.events_log);
		fsync(fileno(r.events_log));
	}
	char *final_dir = xasprintf("%s/%s", runs, res->run_id);
	free(runs);
	int rc = 0;
	/* Close the log files before checksumming them. */
	if (r.serial_log) {
		fclose(r.serial_log);
		r.serial_log = NULL;
	}
	if (r.events_log) {
		fclose(r.events_log);
		r.events_log = NULL;
	}
	if (record_commit_or_shed(rec, r.tmp_dir, final_dir, err) < 0) {
		snprintf(res->verdict, sizeof res->verdict, "error:record");
		free(final_dir);
		rc = -1;
	} else {
		res->run_dir = final_dir;
		snprintf(res->verdict, sizeof res->verdict, "%s",
			 json_string_value(json_object_get(rec, "verdict")));
	}
	journal_note(&r, "finish",
		     json_pack("{s:s?, s:s?, s:s, s:s, s:s?}", "plan", opts->plan_id, "cell",
			       opts->cell_key, "run_id", res->run_id, "verdict", res->verdict,
			       "run_dir", res->run_dir));
	cleanup(&r);
	return rc;
}
