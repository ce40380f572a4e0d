/* checks: the engine's screen checks, the actions of the check phases.
 * While the guest holds, every frame is read (screen.h) and judged
 * (judge.h) against what the guest reported; the first that agrees passes
 * the stage and releases the guest. If none does within the window, the
 * stage fails (or, with no frame at all, the capture is a lab error) and
 * the guest is released anyway: its later stages are still evidence.
 *
 * Calibration: the guest's screen of all 256 codes teaches the run the
 * card's own glyphs; post and text frames that the decoder's font did not
 * read exactly are read and judged again with them.
 *
 * Ownership: as engine.h. */
#include "engine_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "evidence.h"
#include "pattern.h"

/* The screen is QEMU's placeholder while the guest holds: nothing will draw
 * on it now, so the check ends soon rather than at its window's end. What
 * is awaited is QEMU's display catching up, which TCG does not slow. */
static void placeholder_settles(struct engine *e)
{
	const double scale = e->set.display_scale > 0 ? e->set.display_scale : e->set.scale;
	int64_t settled = e->check_started + (int64_t)(ENGINE_PLACEHOLDER_MS * scale);
	if (settled < e->deadline)
		e->deadline = settled;
}

static void look_again(struct engine *e)
{
	e->next_frame_at = e->now + ENGINE_FRAME_RETRY_MS;
}

/* The card's PCI id when the guest lists PCI display devices (the text
 * rule then requires the card among them), else NULL. */
static const char *card_to_see(const struct engine *e, char buf[PCI_ID_MAX])
{
	const struct card *card = e->set.cell->card;
	return e->set.cell->guest->reports_pci ? pci_id(card->vendor, card->device, buf) : NULL;
}

/* Apply stage s's rule to a reading. */
static struct judgement judge_stage(struct engine *e, enum stage_id s, const struct reading *rd,
				    json_t *evidence)
{
	char want[PCI_ID_MAX];
	if (s == ST_POST)
		return judge_post_banner(rd, evidence);
	return judge_text(rd, &e->said, card_to_see(e, want), evidence);
}

/* A stage that a later screen can decide: post and text of a guest that
 * shows a calibration screen, read with an exact decoder. */
static int later_screen_decides(const struct engine *e, enum stage_id s)
{
	return (s == ST_POST || s == ST_TEXT) && e->set.cell->guest->calibrates && e->set.font;
}

/* The screen shows what the guest said in the card's own font: waiting
 * for it to change is pointless. The stage is left undecided (for now it
 * would fail), the guest released, and calibration decides (reread). */
static enum step undecided(struct engine *e, enum stage_id s, const char *words)
{
	keep_evidence(e, s);
	char *d = xasprintf("undecided: %s; judged after calibration", words);
	json_object_set_new(stage_info(e, s), "undecided", json_string(d));
	json_object_set_new(stage_info(e, s), "detail", json_string(d));
	free(d);
	snprintf(e->stages[s].verdict, sizeof e->stages[s].verdict, "%s", stage_fail_verdict(s));
	e->stages[s].t1 = e->now;
	e->undecided[s] = 1;
	/* In the journal too: if the run is cut short now, recovery knows the
	 * stage was not where it stopped. */
	if (e->set.on_stage)
		e->set.on_stage(e->set.ctx, s, "undecided");
	release_guest(e);
	return NEXT;
}

/* A frame at the post or text hold: read it and apply the stage's rule.
 * The exact decoder reads first; a reading it cannot trust, or that does
 * not agree, may be the guest's text in the card's own font (then a later
 * screen decides); else tesseract reads what the decoder could not. */
enum step check_screen(struct engine *e, const struct event *ev)
{
	enum stage_id s = current_stage(e);
	json_t *info = stage_info(e, s);
	e->looks++;
	frame_copy(&e->last, ev->frame);
	struct judgement j = { 0 };
	if (s == ST_POST && e->post_rule != POST_SEABIOS_BANNER) {
		/* Nothing to read: what counts is that something was drawn. */
		reading_release(&e->reading);
		e->reading.text = xstrdup("");
		e->reader_name = "none";
		char *decoded = screen_decode_text(&e->reader, &e->last);
		j = e->post_rule == POST_FIRMWARE_FB ? judge_post_fb(decoded, &e->said, info)
						     : judge_post_drawn(&e->last, decoded, info);
		free(decoded);
	} else {
		/* The text of an OS guest's framebuffer console is in its own
		 * font; the firmware's console is in the card's. */
		struct screen_reader *sr = s == ST_TEXT && e->text_in_guest_font ? &e->guest_reader
										 : &e->reader;
		screen_decode(sr, &e->last, &e->reading, info);
		e->reader_name = e->reading.reader;
		int exact = e->reading.grid && !e->reading.doubtful;
		if (exact)
			j = judge_stage(e, s, &e->reading, info);
		if (!j.ok && later_screen_decides(e, s)) {
			struct judgement font = judge_other_font(&e->reading, &e->said, s == ST_POST, info);
			if (font.ok)
				return undecided(e, s, font.why);
		}
		if (!exact) {
			screen_complete(sr, &e->last, &e->reading, info);
			e->reader_name = e->reading.reader;
			if (!e->reading.text)
				return lab_error(e, "reader", e->reading.error);
			j = judge_stage(e, s, &e->reading, info);
		}
		if (!j.ok && e->reading.grid && strstr(e->reading.text, JUDGE_QEMU_PLACEHOLDER))
			j.placeholder = 1;
	}
	if (!j.ok) {
		json_object_set_new(info, "last_mismatch", json_string(j.why));
		if (j.placeholder)
			placeholder_settles(e);
		look_again(e);
		return STAY;
	}
	keep_evidence(e, s);
	stage_end(e, s, "pass",
		  s != ST_POST				     ? "every reported line is on the screen"
		  : e->post_rule == POST_FIRMWARE_OUTPUT ? "the firmware drew on the screen"
		  : e->post_rule == POST_FIRMWARE_FB	 ? "the firmware set up a framebuffer the guest took over"
							: "the firmware's banner is on the screen");
	release_guest(e);
	return NEXT;
}

/* The stage's reading is now rd, the one its outcome rests on, with the
 * evidence it was read and judged on: STAGE.txt, the record's reading
 * fields and the run page show it. The first reading is kept beside it,
 * marked superseded (STAGE-superseded.txt, "superseded"), saying why. */
static void supersede(struct engine *e, enum stage_id s, const struct reading *rd,
		      const json_t *evidence, const char *why)
{
	static const char *const reading_keys[] = {
		"reader", "font", "decoder_confidence", "ocr_cells", "fallback_reason", "screen_text",
		"expected", "match", "lines", "match_rule", "threshold", "card_pci_id",
		"card_seen_by_guest", "last_mismatch", "other_font",
	};
	json_t *info = stage_info(e, s), *old = json_object();
	for (size_t i = 0; i < sizeof reading_keys / sizeof *reading_keys; i++) {
		json_t *v = json_object_get(info, reading_keys[i]);
		if (v) {
			json_object_set(old, reading_keys[i], v);
			json_object_del(info, reading_keys[i]);
		}
	}
	char *txt = xasprintf("%s.txt", stage_names[s]);
	char *first = xasprintf("%s-superseded.txt", stage_names[s]);
	if (json_object_get(old, "screen_text")) {
		char *from = xasprintf("%s/%s", e->set.tmp_dir, txt);
		char *to = xasprintf("%s/%s", e->set.tmp_dir, first);
		if (rename(from, to) == 0)
			json_object_set_new(old, "screen_text", json_string(first));
		else
			json_object_del(old, "screen_text");
		free(from);
		free(to);
	}
	json_object_set_new(old, "why", json_string(why));
	json_object_set_new(info, "superseded", old);
	if (rd->text)
		evidence_text(e->set.tmp_dir, txt, rd->text, info, "screen_text");
	json_object_set_new(info, "reader", json_string(rd->reader ? rd->reader : "none"));
	json_object_update(info, (json_t *)evidence);
	free(txt);
	free(first);
}

/* Read stage s's judged frame again with the card's own glyphs and record
 * it under STAGE_reread. If decide is set and that reading is trusted,
 * apply the stage's rule to it: the card's own glyphs are the better
 * witness, so that outcome stands, and the stage's record says if it
 * changed. */
static void reread(struct engine *e, enum stage_id s, const struct calib_result *cal,
		   json_t *cinfo, int decide)
{
	const char *name = stage_names[s];
	char key[32];
	snprintf(key, sizeof key, "%s_reread", name);
	if (!e->judged[s].rgb) {
		json_object_set_new(cinfo, key, json_pack("{s:s}", "error", "no frame was judged"));
		return;
	}
	struct hil_err err;
	struct text_screen *screen = xmalloc(sizeof *screen);
	if (textmode_decode(&e->judged[s], &cal->font, e->reader.rule, screen, &err) < 0) {
		json_object_set_new(cinfo, key, json_pack("{s:s}", "error", err.msg));
		free(screen);
		return;
	}
	struct reading rd = { .reader = "calibration", .grid = 1, .screen = screen,
			      .text = textmode_text(screen) };
	float conf = textmode_min_confidence(screen);
	json_t *rows = json_array();
	for (const char *line = rd.text; line;) {
		const char *nl = strchr(line, '\n');
		json_array_append_new(rows, nl ? json_stringn(line, (size_t)(nl - line))
					       : json_string(line));
		line = nl ? nl + 1 : NULL;
	}
	json_object_set_new(cinfo, key, json_pack("{s:f, s:o}", "confidence", conf, "text", rows));

	struct stage_result *st = &e->stages[s];
	const int open = e->undecided[s];
	const int decided = st->outcome && (!strcmp(st->outcome, "pass") || !strcmp(st->outcome, "fail"));
	snprintf(key, sizeof key, "%s_rejudged", name);
	if (!decide || !(open || decided)) {
		/* nothing to decide */
	} else if (conf < TEXTMODE_TRUST) {
		json_object_set_new(cinfo, key,
				    json_pack("{s:s, s:f}", "error",
					      "the learned glyphs do not read this frame with confidence",
					      "confidence", conf));
	} else {
		json_t *evidence = json_object();
		struct judgement j = judge_stage(e, s, &rd, evidence);
		const char *now = j.ok ? "pass" : "fail";
		json_t *info = json_deep_copy(evidence);
		json_object_set_new(info, "outcome", json_string(now));
		json_object_set_new(info, "previous", json_string(open ? "undecided" : st->outcome));
		json_object_set_new(info, "confidence", json_real(conf));
		json_object_set_new(cinfo, key, info);
		if (!j.ok)
			json_object_set_new(evidence, "last_mismatch", json_string(j.why));
		json_object_set_new(evidence, "font", json_string("the card's own glyphs (calibration)"));
		json_object_set_new(evidence, "decoder_confidence", json_real(conf));
		supersede(e, s, &rd, evidence,
			  "read with the decoder's font, which is not the card's: the card's own glyphs "
			  "(calibration) read the frame again");
		json_decref(evidence);
		char *d = xasprintf("re-judged with the card's own glyphs (calibration): %s",
				    j.ok ? "the screen agrees with the guest" : j.why);
		if (open || strcmp(now, st->outcome)) {
			st->verdict[0] = '\0';
			if (!j.ok)
				snprintf(st->verdict, sizeof st->verdict, "%s", stage_fail_verdict(s));
		}
		if (open) {
			e->undecided[s] = 0;
			stage_end(e, s, now, d);
		} else if (strcmp(now, st->outcome)) {
			st->outcome = now;
			json_object_set_new(st->info, "detail", json_string(d));
		}
		free(d);
	}
	reading_release(&rd);
	free(screen);
}

void settle_undecided(struct engine *e, const char *why)
{
	for (enum stage_id s = ST_POST; s <= ST_TEXT; s++) {
		if (!e->undecided[s])
			continue;
		/* No later screen decided it: judge its frame as a stage with no
		 * later screen is judged, tesseract reading what the decoder's
		 * font could not. */
		e->undecided[s] = 0;
		const char *was = json_string_value(json_object_get(stage_info(e, s), "undecided"));
		struct reading rd = { 0 };
		json_t *evidence = json_object();
		struct judgement j = { 0 };
		screen_read(&e->reader, &e->judged[s], &rd, evidence);
		if (rd.text)
			j = judge_stage(e, s, &rd, evidence);
		else
			snprintf(j.why, sizeof j.why, "it could not be read: %.200s", rd.error);
		if (!j.ok)
			json_object_set_new(evidence, "last_mismatch", json_string(j.why));
		supersede(e, s, &rd, evidence, "the decoder's glyphs alone, before the frame was read "
					       "again as a stage no later screen decides");
		char *d = xasprintf("%s; %s; read again with %s: %s", was ? was : "undecided", why,
				    rd.reader ? rd.reader : "no reader",
				    j.ok ? "the screen agrees with the guest" : j.why);
		if (j.ok)
			e->stages[s].verdict[0] = '\0';
		stage_end(e, s, j.ok ? "pass" : "fail", d);
		free(d);
		json_decref(evidence);
		reading_release(&rd);
	}
}

/* The codes as ranges, "b0-df,f0-f2". */
static void code_ranges(const uint8_t *set, struct strbuf *out)
{
	for (int c = 0; c < 256; c++) {
		if (!set[c])
			continue;
		int last = c;
		while (last + 1 < 256 && set[last + 1])
			last++;
		sb_addf(out, "%s%02x-%02x", out->len ? "," : "", c, last);
		c = last;
	}
}

/* The calibration frame: learn the glyphs, record them and what the frames
 * judged earlier read with them, release the guest. Calibration is
 * evidence within the text stage, not a stage of its own. */
enum step learn_calibration(struct engine *e, const struct event *ev)
{
	struct hil_err err;
	e->looks++;
	frame_copy(&e->last, ev->frame);
	struct calib_result *cal = xmalloc(sizeof *cal);
	if (calib_learn(&e->last, &e->calib, cal, &err) < 0) {
		/* Perhaps a stale frame: look again until the window closes. */
		json_object_set_new(stage_info(e, ST_TEXT), "calibration",
				    json_pack("{s:s, s:i}", "error", err.msg, "looks", e->looks));
		free(cal);
		look_again(e);
		return STAY;
	}
	json_t *info = json_object();
	evidence_frame(e->set.tmp_dir, "calibration.png", &e->last, info, "frame");
	uint8_t diff[256];
	const struct vgafont *font = e->set.font;
	int ndiff = font ? calib_differences(&cal->font, font, diff, 256) : -1;
	json_t *codes = json_array();
	for (int i = 0; i < ndiff && i < 256; i++)
		json_array_append_new(codes, json_sprintf("%02x", diff[i]));
	struct strbuf ninth = STRBUF_INIT;
	code_ranges(cal->ninth_copied, &ninth);
	json_object_set_new(info, "glyphs_differing_from_font", json_integer(ndiff));
	json_object_set_new(info, "differing_codes", codes);
	json_object_set_new(info, "ninth_column_copied", json_string(sb_str(&ninth)));
	json_object_set_new(info, "colours",
			    json_pack("{s:[i,i,i], s:[i,i,i]}", "fg", cal->fg[0], cal->fg[1], cal->fg[2],
				      "bg", cal->bg[0], cal->bg[1], cal->bg[2]));
	sb_release(&ninth);
	/* Where the decoder's font is not the card's, or the decoder could not
	 * read a stage's frame by itself, or a stage was left undecided, the
	 * card's own glyphs judge it again. */
	for (enum stage_id s = ST_POST; s <= ST_TEXT; s++) {
		const char *reader = json_string_value(json_object_get(stage_info(e, s), "reader"));
		reread(e, s, cal, info,
		       ndiff != 0 || !reader || strcmp(reader, "textmode") || e->undecided[s]);
	}
	settle_undecided(e, "the card's glyphs learned from the calibration screen did not read its "
			    "frame with confidence");
	json_object_set_new(info, "looks", json_integer(e->looks));
	json_object_set_new(stage_info(e, ST_TEXT), "calibration", info);
	free(cal);
	release_guest(e);
	return NEXT;
}

/* Look for the pattern x announced in the frame of ev: the mode's size (a
 * capture device's frame may be scaled), every block as the spec says,
 * this run's code. 1 if it is there; else 0, with where it differs in info. */
static int look_for_pattern(struct engine *e, const struct event *ev, const struct shown *x,
			    json_t *info)
{
	struct pattern_result pr;
	struct hil_err err;
	e->looks++;
	frame_copy(&e->last, ev->frame);
	reading_release(&e->reading);
	e->reader_name = "pattern";
	int rc = pattern_check(&e->last, x->width, x->height, x->code, e->set.own_display, &pr, &err);
	if (rc < 0) {
		json_object_set_new(info, "last_mismatch", json_string(err.msg));
	} else {
		if (rc == 0)
			json_object_set_new(info, "last_mismatch", json_string(pr.why));
		else
			json_object_del(info, "last_mismatch");
		json_object_set_new(info, "bad_blocks", json_integer(rc ? 0 : pr.bad_blocks));
		json_object_set_new(info, "code_on_screen", json_sprintf("%08x", pr.code_read));
	}
	if (rc != 1)
		look_again(e);
	return rc == 1;
}

enum step check_pattern(struct engine *e, const struct event *ev)
{
	if (!look_for_pattern(e, ev, &e->gfx, stage_info(e, ST_GRAPHICS)))
		return STAY;
	keep_evidence(e, ST_GRAPHICS);
	char *d = xasprintf("the %dx%d pattern with this run's code %08x is on the screen",
			    e->gfx.width, e->gfx.height, e->gfx.code);
	stage_end(e, ST_GRAPHICS, "pass", d);
	free(d);
	release_guest(e);
	return NEXT;
}

/* Beside a frame that is not the pattern x: where it differs, as
 * STEM-diff.png. */
static void keep_pattern_diff(struct engine *e, const struct shown *x, json_t *info,
			      const char *stem)
{
	struct pattern_result pr;
	struct hil_err err;
	if (pattern_check(&e->last, x->width, x->height, x->code, 0, &pr, &err) < 0)
		return;
	struct frame diff;
	frame_init(&diff);
	pattern_diff(&e->last, x->width, x->height, &pr, &diff);
	char *name = xasprintf("%s-diff.png", stem);
	evidence_frame(e->set.tmp_dir, name, &diff, info, "diff_frame");
	free(name);
	frame_release(&diff);
}

/* The screen never agreed with the guest within the window. */
enum step check_timed_out(struct engine *e, const struct event *ev)
{
	(void)ev;
	enum stage_id s = current_stage(e);
	json_t *info = stage_info(e, s);
	keep_evidence(e, s);
	if (s == ST_GRAPHICS && e->last.rgb)
		keep_pattern_diff(e, &e->gfx, info, "graphics");
	if (!e->looks) {
		char *d = xasprintf("no whole frame arrived from the capture within %.0f s",
				    (double)(e->deadline - e->check_started) / 1000);
		enum step st = lab_error(e, "capture-timeout", d);
		free(d);
		return st;
	}
	char *d = s == ST_POST && e->post_rule == POST_SEABIOS_BANNER
		? xasprintf("the firmware's banner was not on the screen in %d looks", e->looks)
		: xasprintf("%s (%d looks)",
			    json_string_value(json_object_get(info, "last_mismatch")) ?: "mismatch",
			    e->looks);
	stage_fail(e, s, stage_fail_verdict(s), d);
	free(d);
	/* Release the guest anyway: its later stages are still evidence. */
	release_guest(e);
	return NEXT;
}

/* No calibration frame could be read: note it, release the guest, and see
 * how the run ends. */
enum step calibration_timed_out(struct engine *e, const struct event *ev)
{
	(void)ev;
	json_t *text = stage_info(e, ST_TEXT);
	if (!json_object_get(text, "calibration"))
		json_object_set_new(text, "calibration",
				    json_pack("{s:s}", "error", "no calibration frame could be read in time"));
	settle_undecided(e, "no calibration screen could be read");
	release_guest(e);
	return NEXT;
}

/* ---------------------------------------------------------------------- */
/* The driver stage of an OS guest: its drivers as it reported them, the
 * pattern it drew through the card's driver, the driver's framebuffer
 * console. Decided once all three are known (or the guest ends early). */

/* The first thing that went wrong in the driver stage, in words. */
static void driver_words(struct engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void driver_words(struct engine *e, const char *fmt, ...)
{
	if (e->drv_words[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->drv_words, sizeof e->drv_words, fmt, ap);
	va_end(ap);
}

/* A Windows guest's driver stage: the agent's report of the card is all
 * there is (no pattern or console of its own). */
static void decide_windows_driver(struct engine *e, const char *card_pci_id)
{
	json_t *info = stage_info(e, ST_DRIVER);
	struct judgement j = judge_windows_driver(&e->said, card_pci_id, info);
	if (!j.ok) {
		stage_fail(e, ST_DRIVER, j.verdict, j.why);
		return;
	}
	json_t *dev = json_object_get(info, "device");
	const char *version = json_string_value(json_object_get(dev, "version"));
	char *d = xasprintf("%s%s%s drives %s with problem code 0%s",
			    json_string_value(json_object_get(info, "driver")), version && *version ? " " : "",
			    version ? version : "", card_pci_id,
			    json_is_true(json_object_get(info, "basic_display_driver"))
				    ? " (Windows's basic display driver)"
				    : "");
	stage_end(e, ST_DRIVER, "pass", d);
	free(d);
}

static void decide_driver(struct engine *e)
{
	json_t *info = stage_info(e, ST_DRIVER);
	char want[PCI_ID_MAX];
	const struct card *card = e->set.cell->card;
	if (e->set.cell->guest->driver_report == DRIVER_WINDOWS) {
		decide_windows_driver(e, pci_id(card->vendor, card->device, want));
		return;
	}
	struct judgement j = judge_driver(&e->said, pci_id(card->vendor, card->device, want), info);
	if (!j.ok) {
		stage_fail(e, ST_DRIVER, j.verdict[0] ? j.verdict : "fail:no-driver", j.why);
		return;
	}
	if (e->drv_pattern < 0)
		driver_words(e, "the guest showed no pattern through the driver%s%s",
			     e->drv.error[0] ? ": " : "", e->drv.error);
	if (e->drv_console < 0)
		driver_words(e, "the guest wrote nothing to the driver's console");
	if (e->drv_pattern != 1 || e->drv_console != 1) {
		stage_fail(e, ST_DRIVER, "fail:driver-modeset", e->drv_words);
		return;
	}
	char *d = xasprintf("%s is bound; the %dx%d pattern through it and its console are on the "
			    "screen",
			    json_string_value(json_object_get(info, "driver")) ?: "the driver",
			    e->drv.width, e->drv.height);
	stage_end(e, ST_DRIVER, "pass", d);
	free(d);
}

enum step take_driver_hold(struct engine *e, const struct event *ev)
{
	(void)ev;
	if (e->drv.announced)
		return NEXT;
	/* A hold with no pattern to look for: not shown; the console may
	 * still come. */
	e->drv_pattern = 0;
	driver_words(e, "the guest held without announcing a pattern%s%s", e->drv.error[0] ? ": " : "",
		     e->drv.error);
	release_guest(e);
	return STAY;
}

enum step check_driver_pattern(struct engine *e, const struct event *ev)
{
	json_t *pattern = json_object_get(stage_info(e, ST_DRIVER), "pattern");
	if (!look_for_pattern(e, ev, &e->drv, pattern))
		return STAY;
	keep_evidence_as(e, pattern, "driver");
	e->drv_pattern = 1;
	release_guest(e);
	return NEXT;
}

enum step driver_pattern_timed_out(struct engine *e, const struct event *ev)
{
	(void)ev;
	json_t *pattern = json_object_get(stage_info(e, ST_DRIVER), "pattern");
	keep_evidence_as(e, pattern, "driver");
	if (!e->looks)
		return lab_error(e, "capture-timeout", "no whole frame arrived from the capture");
	if (e->last.rgb)
		keep_pattern_diff(e, &e->drv, pattern, "driver");
	e->drv_pattern = 0;
	driver_words(e, "the pattern drawn through the driver was not on the screen: %s (%d looks)",
		     json_string_value(json_object_get(pattern, "last_mismatch")) ?: "mismatch", e->looks);
	release_guest(e);
	return NEXT;
}

static json_t *console_info(struct engine *e)
{
	json_t *info = stage_info(e, ST_DRIVER), *c = json_object_get(info, "console");
	if (!c) {
		c = json_object();
		json_object_set_new(info, "console", c);
	}
	return c;
}

enum step check_console(struct engine *e, const struct event *ev)
{
	json_t *info = console_info(e);
	e->looks++;
	frame_copy(&e->last, ev->frame);
	screen_read(&e->guest_reader, &e->last, &e->reading, info);
	e->reader_name = e->reading.reader;
	if (!e->reading.text)
		return lab_error(e, "reader", e->reading.error);
	struct judgement j = judge_text(&e->reading, &e->console_said, NULL, info);
	if (!j.ok) {
		json_object_set_new(info, "last_mismatch", json_string(j.why));
		look_again(e);
		return STAY;
	}
	keep_evidence_as(e, info, "console");
	e->drv_console = 1;
	release_guest(e);
	decide_driver(e);
	return NEXT;
}

enum step console_timed_out(struct engine *e, const struct event *ev)
{
	(void)ev;
	json_t *info = console_info(e);
	keep_evidence_as(e, info, "console");
	if (!e->looks)
		return lab_error(e, "capture-timeout", "no whole frame arrived from the capture");
	e->drv_console = 0;
	driver_words(e, "the driver's console did not show what the guest wrote: %s (%d looks)",
		     json_string_value(json_object_get(info, "last_mismatch")) ?: "mismatch", e->looks);
	release_guest(e);
	decide_driver(e);
	return NEXT;
}

/* The guest ended before its console was checked: decide on what it
 * showed (decide_driver says what it did not). */
enum step driver_ended(struct engine *e, const struct event *ev)
{
	(void)ev;
	decide_driver(e);
	return SHUTDOWN;
}
