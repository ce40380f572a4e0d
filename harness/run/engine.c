/* engine: see engine.h. This file holds the two tables, the stages'
 * bookkeeping, and the actions of the run's life: starting, holds,
 * progress, hangs, and everything QEMU says or does to end a run. The
 * screen checks are in checks.c, the guest's report lines in reports.c. */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "evidence.h"
#include "qemu_argv.h"
#include "sock.h"

/* Guest hang: in the phases where the guest works towards its next
 * checkpoint, the longest it may go with no serial output and no change
 * on the screen (a guest may set its own, catalog.h). */
#define QUIET_POST     20000
#define QUIET_TEXT     15000
#define QUIET_GRAPHICS 20000
/* A screen check must see the screen agree within this: QEMU's idle VNC
 * refresh is up to 3 s. */
#define CHECK_WINDOW   12000
#define END_WINDOW     15000 /* from the last release to QEMU's exit */
#define QUIET_DRIVER   20000 /* an OS guest loading drivers, then writing its console */

const struct phase_info engine_phases[PH_COUNT] = {
	[PH_START] = { "start", NULL, ST_START, PK_START, SCREEN_NONE, 0 },
	[PH_WAIT_POST_HOLD] = { "wait-post-hold", "post", ST_POST, PK_WAIT, SCREEN_WATCH, QUIET_POST },
	[PH_CHECK_POST] = { "check-post", "post", ST_POST, PK_CHECK, SCREEN_CHECK, CHECK_WINDOW },
	[PH_WAIT_TEXT_HOLD] = { "wait-text-hold", "text", ST_TEXT, PK_WAIT, SCREEN_WATCH, QUIET_TEXT },
	[PH_CHECK_TEXT] = { "check-text", "text", ST_TEXT, PK_CHECK, SCREEN_CHECK, CHECK_WINDOW },
	/* calibration is within graphics' span: its frame re-judges post and text */
	[PH_WAIT_CALIB] = { "wait-calib", "calib", ST_GRAPHICS, PK_WAIT, SCREEN_WATCH, QUIET_GRAPHICS },
	[PH_CHECK_CALIB] = { "check-calib", "calib", ST_GRAPHICS, PK_CHECK, SCREEN_CHECK, CHECK_WINDOW },
	[PH_WAIT_GRAPHICS] = { "wait-graphics", "graphics", ST_GRAPHICS, PK_WAIT, SCREEN_WATCH,
			       QUIET_GRAPHICS },
	[PH_CHECK_GRAPHICS] = { "check-graphics", "graphics", ST_GRAPHICS, PK_CHECK, SCREEN_CHECK,
				CHECK_WINDOW },
	[PH_WAIT_DRIVER] = { "wait-driver", "driver", ST_DRIVER, PK_WAIT, SCREEN_WATCH, QUIET_DRIVER },
	[PH_CHECK_DRIVER] = { "check-driver", "driver", ST_DRIVER, PK_CHECK, SCREEN_CHECK, CHECK_WINDOW },
	[PH_WAIT_CONSOLE] = { "wait-console", "console", ST_DRIVER, PK_WAIT, SCREEN_WATCH, QUIET_DRIVER },
	[PH_CHECK_CONSOLE] = { "check-console", "console", ST_DRIVER, PK_CHECK, SCREEN_CHECK,
			       CHECK_WINDOW },
	[PH_WAIT_END] = { "wait-end", NULL, ST_SHUTDOWN, PK_END, SCREEN_WATCH, END_WINDOW },
	[PH_DONE] = { "done", NULL, ST_SHUTDOWN, PK_DONE, SCREEN_NONE, 0 },
};

const char *const engine_event_names[EV_COUNT] = {
	[EV_STARTED] = "started",
	[EV_START_FAILED] = "start-failed",
	[EV_SERIAL] = "serial",
	[EV_LINE] = "line",
	[EV_POST_HOLD] = "post-hold",
	[EV_TEXT_HOLD] = "text-hold",
	[EV_CALIB_HOLD] = "calib-hold",
	[EV_GRAPHICS_HOLD] = "graphics-hold",
	[EV_DRIVER_HOLD] = "driver-hold",
	[EV_CONSOLE_HOLD] = "console-hold",
	[EV_GUEST_END] = "guest-end",
	[EV_FRAME] = "frame",
	[EV_DEADLINE] = "deadline",
	[EV_VM_STOPPED] = "vm-stopped",
	[EV_GUEST_PANICKED] = "guest-panicked",
	[EV_GUEST_RESET] = "guest-reset",
	[EV_QEMU_EXIT] = "qemu-exit",
	[EV_QEMU_HANG] = "qemu-hang",
	[EV_CAPTURE_LOST] = "capture-lost",
	[EV_MONITOR_LOST] = "monitor-lost",
	[EV_SIGNAL] = "signal",
	[EV_HARNESS_ERROR] = "harness-error",
};

/* ------------------------------------------------------------------------
 * Stages
 * ------------------------------------------------------------------------ */

int64_t engine_scaled(const struct engine *e, int ms)
{
	return (int64_t)(ms * e->set.scale);
}

void stage_begin(struct engine *e, enum stage_id s)
{
	if (!e->stages[s].t0)
		e->stages[s].t0 = e->now;
}

void stage_end(struct engine *e, enum stage_id s, const char *outcome, const char *detail)
{
	struct stage_result *st = &e->stages[s];
	if (st->outcome)
		return;
	stage_begin(e, s);
	st->outcome = outcome;
	if (!st->t1) /* an undecided stage ended when its guest was released */
		st->t1 = e->now;
	if (detail)
		json_object_set_new(st->info, "detail", json_string(detail));
	if (e->set.on_stage)
		e->set.on_stage(e->set.ctx, s, outcome);
}

void stage_fail(struct engine *e, enum stage_id s, const char *verdict, const char *detail)
{
	if (!e->stages[s].verdict[0])
		snprintf(e->stages[s].verdict, sizeof e->stages[s].verdict, "%s", verdict);
	stage_end(e, s, "fail", detail);
}

const char *stage_fail_verdict(enum stage_id s)
{
	static const char *const verdicts[ST_COUNT] = {
		[ST_START] = "fail:start", [ST_POST] = "fail:no-post", [ST_TEXT] = "fail:text",
		[ST_GRAPHICS] = "fail:graphics", [ST_DRIVER] = "fail:no-driver",
		[ST_SHUTDOWN] = "fail:shutdown",
	};
	return verdicts[s];
}

void skip_rest(struct engine *e, const char *why)
{
	settle_undecided(e, "no later screen decided it");
	for (int s = 0; s < ST_COUNT; s++)
		if ((e->proven & STAGE_BIT(s)) && !e->stages[s].outcome)
			stage_end(e, s, "skip", why);
}

enum step lab_error(struct engine *e, const char *reason, const char *detail)
{
	enum stage_id s = current_stage(e);
	if (!e->stages[s].verdict[0])
		snprintf(e->stages[s].verdict, sizeof e->stages[s].verdict, "error:%s", reason);
	stage_end(e, s, "error", detail);
	skip_rest(e, "not reached: the run ended on a lab or harness error");
	return END;
}

void release_guest(struct engine *e)
{
	struct hil_err err;
	if (sock_write_all(e->set.serial_fd, "A", 1, e->now + 2000, &err) < 0)
		json_array_append_new(json_object_get(stage_info(e, current_stage(e)), "notes"),
				      json_sprintf("could not release the guest: %s", err.msg));
}

void keep_evidence_as(struct engine *e, json_t *info, const char *stem)
{
	if (e->last.rgb) {
		char *name = xasprintf("%s.png", stem);
		if (evidence_frame(e->set.tmp_dir, name, &e->last, info, "frame") == 0)
			json_object_set_new(info, "frame_size",
					    json_sprintf("%dx%d", e->last.width, e->last.height));
		free(name);
	}
	if (e->reading.text) {
		char *name = xasprintf("%s.txt", stem);
		evidence_text(e->set.tmp_dir, name, e->reading.text, info, "screen_text");
		free(name);
	}
	json_object_set_new(info, "reader", json_string(e->reader_name ? e->reader_name : "none"));
	json_object_set_new(info, "looks", json_integer(e->looks));
}

void keep_evidence(struct engine *e, enum stage_id s)
{
	if (e->last.rgb)
		frame_copy(&e->judged[s], &e->last); /* for calibration to read again */
	keep_evidence_as(e, stage_info(e, s), stage_names[s]);
}

/* ------------------------------------------------------------------------
 * Phases
 * ------------------------------------------------------------------------ */

/* The guest-hang window of a waiting phase: the guest's own, or the
 * phase's. */
static int64_t quiet_window(const struct engine *e, enum phase ph)
{
	const struct guest *g = e->set.cell->guest;
	enum stage_id s = engine_phases[ph].stage;
	int own = s == ST_POST ? g->quiet_ms[0] : s == ST_TEXT ? g->quiet_ms[1] : g->quiet_ms[2];
	return engine_scaled(e, own ? own : engine_phases[ph].window_ms);
}

/* How long a screen check may look: scaled, but within the guest's hold. */
static int64_t check_window(const struct engine *e, enum phase ph)
{
	int64_t w = engine_scaled(e, engine_phases[ph].window_ms);
	return w < ENGINE_CHECK_MAX ? w : ENGINE_CHECK_MAX;
}

/* The one place a run changes phase: the phase's stage begins, its window
 * starts, its use of the screen is set up. */
static void enter(struct engine *e, enum phase ph)
{
	const struct phase_info *p = &engine_phases[ph];
	e->phase = ph;
	switch (p->kind) {
	case PK_WAIT:
		stage_begin(e, p->stage);
		e->quiet_window = quiet_window(e, ph);
		e->deadline = e->now + e->quiet_window;
		e->phase_cap = e->now + ENGINE_QUIET_CAP * e->quiet_window;
		e->next_frame_at = e->now;
		break;
	case PK_CHECK:
		e->check_started = e->now;
		e->deadline = e->now + check_window(e, ph);
		e->next_frame_at = e->now;
		e->looks = 0;
		e->reader_name = NULL;
		frame_release(&e->last);
		reading_release(&e->reading);
		break;
	case PK_END:
		stage_begin(e, p->stage);
		e->deadline = e->now + engine_scaled(e, p->window_ms);
		break;
	case PK_START:
	case PK_DONE:
		e->deadline = INT64_MAX;
		break;
	}
}

int engine_wants_frames(const struct engine *e)
{
	return engine_phases[e->phase].screen != SCREEN_NONE;
}

/* The waiting phase of the guest's checkpoint after the one the run is
 * at (the first, from start); wait-end after the last. */
static enum phase next_checkpoint(const struct engine *e)
{
	const char *at = engine_phases[e->phase].checkpoint;
	int i = 0;
	if (at)
		while (i < e->ncheckpoints && strcmp(engine_phases[e->checkpoints[i]].checkpoint, at))
			i++;
	int next = at ? i + 1 : 0;
	return next < e->ncheckpoints ? e->checkpoints[next] : PH_WAIT_END;
}

/* A guest's checkpoint names (catalog.h) as the waiting phases that begin
 * them. */
static void guest_checkpoints(struct engine *e, const char *names)
{
	for (const char *p = names; p && *p && e->ncheckpoints < ENGINE_CHECKPOINTS_MAX;) {
		size_t n = strcspn(p, " ");
		for (int ph = 0; ph < PH_COUNT; ph++)
			if (engine_phases[ph].kind == PK_WAIT && strlen(engine_phases[ph].checkpoint) == n &&
			    !strncmp(engine_phases[ph].checkpoint, p, n))
				e->checkpoints[e->ncheckpoints++] = (enum phase)ph;
		p += n;
		p += strspn(p, " ");
	}
}

void engine_feed(struct engine *e, const struct event *ev)
{
	const struct transition *t = &engine_table[e->phase][ev->kind];
	if (!t->act)
		return;
	e->now = ev->t;
	/* A check judges only a frame asked for after it began: one asked for
	 * while the guest was still drawing (a watch frame in flight when the
	 * hold line came) can show the screen part-drawn, and a calibration
	 * learned from it has blank glyphs. Ask again at once. */
	if (ev->kind == EV_FRAME && engine_phases[e->phase].kind == PK_CHECK && ev->asked_at &&
	    ev->asked_at < e->check_started) {
		e->next_frame_at = e->now;
		return;
	}
	switch (t->act(e, ev)) {
	case STAY:
		break;
	case NEXT:
		enter(e, t->next == PH_NEXT_CHECKPOINT ? next_checkpoint(e) : t->next);
		break;
	case SHUTDOWN:
		enter(e, PH_WAIT_END);
		break;
	case END:
		settle_undecided(e, "no later screen decided it");
		enter(e, PH_DONE);
		break;
	}
}

void engine_verdict(const struct engine *e, char *out, size_t n)
{
	record_verdict(e->stages, e->proven, out, n);
}

void engine_init(struct engine *e, const struct engine_setup *setup, int64_t t)
{
	memset(e, 0, sizeof *e);
	e->set = *setup;
	if (e->set.scale <= 0)
		e->set.scale = 1.0;
	e->now = e->t_start = e->last_progress = t;
	struct hil_err err;
	if (stage_set_parse(setup->cell->guest->stages, &e->proven, &err) < 0)
		e->proven = STAGES_FIRMWARE_GUEST; /* catalog.c's table is checked by test_catalog */
	guest_checkpoints(e, setup->cell->guest->checkpoints);
	e->post_rule = guest_post_rule(setup->cell->guest, setup->cell->firmware);
	for (int s = 0; s < ST_COUNT; s++) {
		e->stages[s].info = json_object();
		json_object_set_new(e->stages[s].info, "notes", json_array());
		frame_init(&e->judged[s]);
	}
	frame_init(&e->last);
	frame_init(&e->watch);
	const enum ninth_column_rule rule =
		setup->cell->card->kind == CARD_EMULATED ? NINTH_QEMU : NINTH_VGA;
	screen_reader_init(&e->reader, setup->font, setup->ocr, rule);
	screen_reader_init(&e->guest_reader, setup->guest_font ? setup->guest_font : setup->font,
			   setup->ocr, rule);
	e->reports = json_array();
	e->said.text_lines = json_array();
	e->said.pci = json_array();
	e->said.firmware_fb = json_array();
	e->said.driver = json_object();
	e->console_said.text_lines = json_array();
	e->console_said.pci = json_array();
	e->drv_pattern = e->drv_console = -1;
	e->end_code = -1;
	enter(e, PH_START);
	stage_begin(e, ST_START);
}

void engine_release(struct engine *e)
{
	for (int s = 0; s < ST_COUNT; s++) {
		json_decref(e->stages[s].info);
		frame_release(&e->judged[s]);
	}
	frame_release(&e->last);
	frame_release(&e->watch);
	reading_release(&e->reading);
	screen_reader_release(&e->reader);
	screen_reader_release(&e->guest_reader);
	json_decref(e->reports);
	json_decref(e->said.text_lines);
	json_decref(e->said.pci);
	json_decref(e->said.firmware_fb);
	json_decref(e->said.driver);
	json_decref(e->console_said.text_lines);
	json_decref(e->console_said.pci);
	memset(e, 0, sizeof *e);
}

/* ------------------------------------------------------------------------
 * Actions: starting, holds, progress
 * ------------------------------------------------------------------------ */

static enum step started(struct engine *e, const struct event *ev)
{
	stage_end(e, ST_START, "pass", ev->text);
	return NEXT;
}

static enum step start_failed(struct engine *e, const struct event *ev)
{
	return lab_error(e, ev->reason, ev->text);
}

/* A hold the phase waits for: check the screen. */
static enum step take_hold(struct engine *e, const struct event *ev)
{
	(void)e, (void)ev;
	return NEXT;
}

static enum step take_calib_hold(struct engine *e, const struct event *ev)
{
	(void)ev;
	if (e->calib_announced)
		return NEXT;
	release_guest(e); /* a hold we cannot use: do not make the guest wait */
	return STAY;
}

/* The guest showed no pattern to check (what: why not); its own graphics
 * error, if it reported one, is part of the reason. */
static enum step graphics_not_shown(struct engine *e, const char *what)
{
	char *d = xasprintf("%s%s%s", what, e->gfx.error[0] ? ": " : "", e->gfx.error);
	stage_fail(e, ST_GRAPHICS, "fail:graphics", d);
	free(d);
	return SHUTDOWN;
}

static enum step take_graphics_hold(struct engine *e, const struct event *ev)
{
	(void)ev;
	if (e->gfx.announced)
		return NEXT;
	/* A hold we cannot judge: fail the stage, do not make the guest wait. */
	release_guest(e);
	return graphics_not_shown(e, "the guest held at graphics without announcing its pattern");
}

/* Ending without showing a pattern: the guest could not set a mode (or
 * never tried). */
static enum step ended_without_pattern(struct engine *e, const struct event *ev)
{
	(void)ev;
	return graphics_not_shown(e, "the guest ended without showing its graphics pattern");
}

/* Serial output or a new screen: the guest is alive. While it works
 * towards a checkpoint, its window starts again (up to the phase's cap). */
static void progress(struct engine *e)
{
	e->last_progress = e->now;
	if (engine_phases[e->phase].kind == PK_WAIT) {
		e->deadline = e->last_progress + e->quiet_window;
		if (e->deadline > e->phase_cap)
			e->deadline = e->phase_cap;
	}
}

static enum step serial_output(struct engine *e, const struct event *ev)
{
	(void)ev;
	progress(e);
	return STAY;
}

/* A frame that arrived while the guest works: a change from the last ones
 * is progress. */
static enum step watch_screen(struct engine *e, const struct event *ev)
{
	const struct frame *f = ev->frame;
	uint64_t h = 1469598103934665603ull ^ (uint64_t)f->width << 32 ^ (uint64_t)f->height;
	const size_t n = (size_t)f->width * (size_t)f->height * 3;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t w = 0;
		memcpy(&w, f->rgb + i, n - i < 8 ? n - i : 8);
		h = (h ^ w) * 1099511628211ull;
	}
	/* A screen that only alternates between states it showed lately (a
	 * blinking cursor) is not progress. */
	int seen = 0;
	for (int i = 0; i < ENGINE_WATCH_HISTORY; i++)
		seen |= e->watch_hash[i] == h && e->watch.rgb;
	if (!seen) {
		progress(e);
		memmove(e->watch_hash + 1, e->watch_hash,
			(ENGINE_WATCH_HISTORY - 1) * sizeof *e->watch_hash);
		e->watch_hash[0] = h;
	}
	frame_copy(&e->watch, f);
	e->next_frame_at = e->now + ENGINE_WATCH_MS;
	return STAY;
}

/* ------------------------------------------------------------------------
 * Actions: the run ends (hangs, QEMU, the lab)
 * ------------------------------------------------------------------------ */

/* The frame to keep when the run ends: in a check, the last frame read;
 * while the guest works, the last one watched. */
static void keep_last_seen(struct engine *e, enum stage_id s)
{
	int checking = engine_phases[e->phase].kind == PK_CHECK;
	if (e->watch.rgb && (!checking || !e->last.rgb)) {
		frame_copy(&e->last, &e->watch);
		reading_release(&e->reading);
		e->reader_name = "none";
		e->looks = 0;
	}
	keep_evidence(e, s);
}

/* The guest made no progress for its window: a hang, with the last frame
 * seen kept as the stage's evidence and how late it was declared. */
static enum step guest_hung(struct engine *e, const struct event *ev)
{
	(void)ev;
	enum stage_id s = current_stage(e);
	const int64_t quiet = e->now - e->last_progress;
	keep_last_seen(e, s);
	json_object_set_new(stage_info(e, s), "hang",
			    json_pack("{s:I, s:I, s:I}", "window_ms", (json_int_t)e->quiet_window,
				      "quiet_ms", (json_int_t)quiet, "declared_after_window_ms",
				      (json_int_t)(quiet - e->quiet_window)));
	if (e->phase == PH_WAIT_CALIB && !e->calib_announced &&
	    e->set.cell->guest->calibrates)
		json_object_set_new(stage_info(e, ST_TEXT), "calibration",
				    json_pack("{s:s}", "error", "the guest hung before its calibration screen"));
	char *d = quiet >= e->quiet_window
		? xasprintf("no serial output and no change on the screen for %.1f s (window "
			    "%.0f s): the guest hung before its %s checkpoint",
			    (double)quiet / 1000, (double)e->quiet_window / 1000, stage_names[s])
		: xasprintf("the guest kept busy (serial output or screen changes) but did not "
			    "reach its %s checkpoint in %.0f s",
			    stage_names[s], (double)(ENGINE_QUIET_CAP * e->quiet_window) / 1000);
	stage_fail(e, s, "fail:guest-hang", d);
	free(d);
	skip_rest(e, "not reached: the guest hung");
	return END;
}

static enum step shutdown_timed_out(struct engine *e, const struct event *ev)
{
	(void)ev;
	char *d = xasprintf("QEMU did not exit within %.0f s after the guest was released",
			    (double)engine_scaled(e, END_WINDOW) / 1000);
	stage_fail(e, ST_SHUTDOWN, "fail:shutdown", d);
	free(d);
	return END;
}

/* A crash: a signal, an assertion, or an exit status the guest cannot
 * cause (isa-debug-exit gives odd ones, the guest's own shutdown 0): QEMU
 * exits 1 on its own fatal errors. */
static int qemu_crashed(const struct event *ev)
{
	const char *tail = ev->qemu_said ? ev->qemu_said : "";
	int abnormal = WIFEXITED(ev->status) && WEXITSTATUS(ev->status) != 0 &&
		       WEXITSTATUS(ev->status) % 2 == 0;
	return WIFSIGNALED(ev->status) || abnormal || strstr(tail, "Assertion") ||
	       strstr(tail, "assertion");
}

static enum step qemu_crash(struct engine *e, const struct event *ev)
{
	char *d = xasprintf("QEMU %s%s", ev->text,
			    ev->qemu_said && *ev->qemu_said
				    ? "; its last output is in the record (qemu.stderr_tail)"
				    : "");
	stage_fail(e, current_stage(e), "fail:qemu-crash", d);
	free(d);
	skip_rest(e, "not reached: QEMU crashed");
	return END;
}

/* QEMU exited before the guest said it would end the VM. */
static enum step qemu_exited_early(struct engine *e, const struct event *ev)
{
	if (qemu_crashed(ev))
		return qemu_crash(e, ev);
	enum stage_id s = current_stage(e);
	char *d = xasprintf("QEMU %s before the guest finished (%s)", ev->text,
			    e->phase == PH_WAIT_POST_HOLD ? "no post hold yet" : "mid-run");
	stage_fail(e, s, stage_fail_verdict(s), d);
	free(d);
	skip_rest(e, "not reached: QEMU exited");
	return END;
}

/* QEMU exited after the guest's last release: with the status the guest's
 * end promised ("end exit code=16": isa-debug-exit's status; "end
 * poweroff": 0), the shutdown stage passes. */
static enum step qemu_exited_at_end(struct engine *e, const struct event *ev)
{
	if (qemu_crashed(ev))
		return qemu_crash(e, ev);
	const int expected = e->end_poweroff ? 0 : qemu_guest_exit_status(ENGINE_GUEST_EXIT_CODE);
	char promise[48];
	if (e->end_poweroff)
		snprintf(promise, sizeof promise, "end poweroff");
	else
		snprintf(promise, sizeof promise, "end exit code=%d", ENGINE_GUEST_EXIT_CODE);
	if (WIFEXITED(ev->status) && WEXITSTATUS(ev->status) == expected &&
	    (e->end_poweroff || e->end_code == ENGINE_GUEST_EXIT_CODE)) {
		char *d = xasprintf("the guest ended the VM ('%s'); QEMU %s", promise, ev->text);
		stage_end(e, ST_SHUTDOWN, "pass", d);
		free(d);
		return END;
	}
	char *d = xasprintf("QEMU %s, expected exit status %d after the guest's '%s'", ev->text,
			    expected, promise);
	stage_fail(e, ST_SHUTDOWN, "fail:shutdown", d);
	free(d);
	skip_rest(e, "not reached: QEMU exited");
	return END;
}

/* QEMU's monitor stopped answering: QEMU is hung (stopped, deadlocked).
 * Nothing it shows can be trusted now: the run ends here (the supervisor
 * kills QEMU). */
static enum step qemu_hung(struct engine *e, const struct event *ev)
{
	enum stage_id s = current_stage(e);
	keep_last_seen(e, s);
	json_object_set_new(stage_info(e, s), "qemu_hang",
			    json_pack("{s:I, s:I, s:I}", "window_ms", (json_int_t)ev->window_ms,
				      "waited_ms", (json_int_t)ev->waited_ms, "declared_after_window_ms",
				      (json_int_t)(ev->waited_ms - ev->window_ms)));
	char *d = xasprintf("QEMU's monitor did not answer query-status for %.1f s (window %.0f "
			    "s)%s; QEMU was killed",
			    (double)ev->waited_ms / 1000, (double)ev->window_ms / 1000,
			    ev->text ? ev->text : "");
	stage_fail(e, s, "fail:qemu-hang", d);
	free(d);
	skip_rest(e, "not reached: QEMU hung");
	return END;
}

/* QEMU itself says the VM is no longer running: judged at once, in QEMU's
 * words, with the last frame watched and how soon it was decided. */
static enum step vm_ended(struct engine *e, const struct event *ev, const char *verdict,
			  const char *what)
{
	enum stage_id s = current_stage(e);
	keep_last_seen(e, s);
	json_t *info = json_pack("{s:s, s:s, s:I, s:I}", "event", engine_event_names[ev->kind],
				 "reason", ev->reason ? ev->reason : "", "after_start_ms",
				 (json_int_t)(ev->t - e->t_start), "decided_after_ms",
				 (json_int_t)(ev->t_first ? ev->t - ev->t_first : 0));
	if (ev->qemu_said)
		json_object_set_new(info, "qemu_error", json_string(ev->qemu_said));
	json_object_set_new(stage_info(e, s), "vm_stopped", info);
	char *d = xasprintf("%s%s%s%s", what, ev->qemu_said ? ": QEMU says \"" : "",
			    ev->qemu_said ? ev->qemu_said : "", ev->qemu_said ? "\"" : "");
	stage_fail(e, s, verdict, d);
	free(d);
	skip_rest(e, "not reached: the VM stopped");
	return END;
}

static enum step vm_stopped(struct engine *e, const struct event *ev)
{
	const char *status = ev->reason ? ev->reason : "unknown";
	if (ev->host_fault) {
		/* The same firmware stops under this accelerator with no card at
		 * all: the host's accelerator, not the card (not retried). */
		enum stage_id s = current_stage(e);
		json_object_set_new(stage_info(e, s), "vm_stopped",
				    json_pack("{s:s, s:s, s:s?, s:s, s:I, s:I}", "event", "vm-stopped",
					      "reason", status, "qemu_error", ev->qemu_said,
					      "accel_trial", ev->host_fault, "after_start_ms",
					      (json_int_t)(ev->t - e->t_start), "decided_after_ms",
					      (json_int_t)(ev->t_first ? ev->t - ev->t_first : 0)));
		char *reason = xasprintf("accel(%s)", e->set.accel ? e->set.accel : "unknown");
		char *d = xasprintf("QEMU stopped the VM (%s%s%s) under %s, and %s: the host's "
				    "accelerator fails this firmware, not the card",
				    status, ev->qemu_said ? ": " : "", ev->qemu_said ? ev->qemu_said : "",
				    e->set.accel ? e->set.accel : "its accelerator", ev->host_fault);
		enum step st = lab_error(e, reason, d);
		free(reason);
		free(d);
		return st;
	}
	char *verdict = xasprintf("fail:vm-stopped(%s)", status);
	char *what = xasprintf("QEMU stopped the VM (%s)", status);
	enum step st = vm_ended(e, ev, verdict, what);
	free(what);
	free(verdict);
	return st;
}

static enum step guest_panicked(struct engine *e, const struct event *ev)
{
	char *what = xasprintf("the guest panicked (QEMU's GUEST_PANICKED%s%s)",
			       ev->reason ? ", action " : "", ev->reason ? ev->reason : "");
	enum step st = vm_ended(e, ev, "fail:guest-panic", what);
	free(what);
	return st;
}

static enum step guest_reset(struct engine *e, const struct event *ev)
{
	const char *reason = ev->reason ? ev->reason : "unknown";
	char *verdict = xasprintf("fail:vm-stopped(%s)", reason);
	char *what = xasprintf("the guest reset or shut down the VM (%s) without announcing it",
			       reason);
	enum step st = vm_ended(e, ev, verdict, what);
	free(what);
	free(verdict);
	return st;
}

static enum step capture_lost(struct engine *e, const struct event *ev)
{
	return lab_error(e, "capture-lost", ev->text);
}

static enum step monitor_lost(struct engine *e, const struct event *ev)
{
	return lab_error(e, "qmp", ev->text);
}

static enum step interrupted(struct engine *e, const struct event *ev)
{
	return lab_error(e, "interrupted", ev->text);
}

static enum step harness_failed(struct engine *e, const struct event *ev)
{
	return lab_error(e, "harness", ev->text);
}

/* ------------------------------------------------------------------------
 * The table: phase x event -> action, next phase. A new guest or stage
 * adds phases and rows here (and report lines in reports.c).
 * ------------------------------------------------------------------------ */

#define T(act, next) { act, next, #act }
#define NONE PH_COUNT /* the action never says NEXT */

/* Every phase while QEMU runs: the guest's serial port, and everything
 * that ends a run whatever the guest was doing. */
#define RUNNING(on_exit)                                           \
	[EV_SERIAL] = T(serial_output, NONE),                      \
	[EV_LINE] = T(hear_line, NONE),                            \
	[EV_VM_STOPPED] = T(vm_stopped, NONE),                     \
	[EV_GUEST_PANICKED] = T(guest_panicked, NONE),             \
	[EV_QEMU_EXIT] = T(on_exit, NONE),                         \
	[EV_QEMU_HANG] = T(qemu_hung, NONE),                       \
	[EV_CAPTURE_LOST] = T(capture_lost, NONE),                 \
	[EV_MONITOR_LOST] = T(monitor_lost, NONE),                 \
	[EV_SIGNAL] = T(interrupted, NONE),                        \
	[EV_HARNESS_ERROR] = T(harness_failed, NONE)
/* ... and while the guest has not announced its end. */
#define GUEST_RUNNING                                              \
	RUNNING(qemu_exited_early),                                \
	[EV_GUEST_RESET] = T(guest_reset, NONE)
/* The guest works towards a checkpoint: its screen is watched, and it
 * must show progress before the deadline. */
#define WAITING                                                    \
	GUEST_RUNNING,                                             \
	[EV_FRAME] = T(watch_screen, NONE),                        \
	[EV_DEADLINE] = T(guest_hung, NONE)

const struct transition engine_table[PH_COUNT][EV_COUNT] = {
	[PH_START] = {
		[EV_STARTED] = T(started, PH_NEXT_CHECKPOINT),
		[EV_START_FAILED] = T(start_failed, NONE),
	},
	[PH_WAIT_POST_HOLD] = {
		WAITING,
		[EV_POST_HOLD] = T(take_hold, PH_CHECK_POST),
	},
	[PH_CHECK_POST] = {
		GUEST_RUNNING,
		[EV_FRAME] = T(check_screen, PH_NEXT_CHECKPOINT),
		[EV_DEADLINE] = T(check_timed_out, PH_NEXT_CHECKPOINT),
	},
	[PH_WAIT_TEXT_HOLD] = {
		WAITING,
		[EV_TEXT_HOLD] = T(take_hold, PH_CHECK_TEXT),
	},
	[PH_CHECK_TEXT] = {
		GUEST_RUNNING,
		[EV_FRAME] = T(check_screen, PH_NEXT_CHECKPOINT),
		[EV_DEADLINE] = T(check_timed_out, PH_NEXT_CHECKPOINT),
	},
	[PH_WAIT_CALIB] = {
		WAITING,
		[EV_CALIB_HOLD] = T(take_calib_hold, PH_CHECK_CALIB),
		[EV_GRAPHICS_HOLD] = T(take_graphics_hold, PH_CHECK_GRAPHICS),
		[EV_GUEST_END] = T(ended_without_pattern, NONE),
	},
	[PH_CHECK_CALIB] = {
		GUEST_RUNNING,
		[EV_FRAME] = T(learn_calibration, PH_NEXT_CHECKPOINT),
		[EV_DEADLINE] = T(calibration_timed_out, PH_NEXT_CHECKPOINT),
	},
	[PH_WAIT_GRAPHICS] = {
		WAITING,
		[EV_GRAPHICS_HOLD] = T(take_graphics_hold, PH_CHECK_GRAPHICS),
		[EV_GUEST_END] = T(ended_without_pattern, NONE),
	},
	[PH_CHECK_GRAPHICS] = {
		GUEST_RUNNING,
		[EV_FRAME] = T(check_pattern, PH_NEXT_CHECKPOINT),
		[EV_DEADLINE] = T(check_timed_out, PH_NEXT_CHECKPOINT),
	},
	[PH_WAIT_DRIVER] = {
		WAITING,
		[EV_DRIVER_HOLD] = T(take_driver_hold, PH_CHECK_DRIVER),
		[EV_CONSOLE_HOLD] = T(take_hold, PH_CHECK_CONSOLE),
		[EV_GUEST_END] = T(driver_ended, NONE),
	},
	[PH_CHECK_DRIVER] = {
		GUEST_RUNNING,
		[EV_FRAME] = T(check_driver_pattern, PH_NEXT_CHECKPOINT),
		[EV_DEADLINE] = T(driver_pattern_timed_out, PH_NEXT_CHECKPOINT),
	},
	[PH_WAIT_CONSOLE] = {
		WAITING,
		[EV_CONSOLE_HOLD] = T(take_hold, PH_CHECK_CONSOLE),
		[EV_GUEST_END] = T(driver_ended, NONE),
	},
	[PH_CHECK_CONSOLE] = {
		GUEST_RUNNING,
		[EV_FRAME] = T(check_console, PH_NEXT_CHECKPOINT),
		[EV_DEADLINE] = T(console_timed_out, PH_NEXT_CHECKPOINT),
	},
	[PH_WAIT_END] = {
		RUNNING(qemu_exited_at_end),
		[EV_FRAME] = T(watch_screen, NONE),
		[EV_DEADLINE] = T(shutdown_timed_out, NONE),
	},
	[PH_DONE] = { { 0 } },
};
