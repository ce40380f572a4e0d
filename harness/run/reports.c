/* reports: the guest's report lines (docs/report-protocol.md), as the
 * engine hears them. Every line that parses is kept for the record; a
 * malformed one is counted and kept with its error. Then the table below
 * says, for each {stage, event}, what the line tells the run (a handler
 * that notes it) and which engine event it raises, if it moves the run (a
 * hold, the guest's end). A new guest or stage adds rows here. Lines the
 * table does not know are kept and otherwise ignored.
 *
 * Ownership: as engine.h. */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void note_pci_display(struct engine *e, const struct report_msg *m)
{
	json_array_append_new(e->said.pci, json_pack("{s:s, s:s, s:s}", "bdf", report_get(m, "bdf") ?: "",
						     "id", report_get(m, "id") ?: "", "class",
						     report_get(m, "class") ?: ""));
}

static void note_text_line(struct engine *e, const struct report_msg *m)
{
	const char *row = report_get(m, "row"), *text = report_get(m, "text");
	if (row && text)
		json_array_append_new(e->said.text_lines,
				      json_pack("{s:i, s:s}", "row", atoi(row), "text", text));
}

static void note_calib_layout(struct engine *e, const struct report_msg *m)
{
	const char *fr = report_get(m, "first-row"), *fc = report_get(m, "first-col");
	const char *st = report_get(m, "step"), *pr = report_get(m, "per-row");
	e->calib = (struct calib_layout){ fr ? atoi(fr) : -1, fc ? atoi(fc) : -1, st ? atoi(st) : 0,
					  pr ? atoi(pr) : 0 };
	e->calib_announced = 1;
}

static void note_mode_set(struct engine *e, const struct report_msg *m)
{
	json_t *mode = json_object();
	for (size_t i = 0; i < m->npairs; i++)
		json_object_set_new(mode, m->key[i], json_string(m->val[i]));
	json_object_set_new(stage_info(e, ST_GRAPHICS), "mode_set", mode);
}

/* "... error": the guest's own words about a pattern it could not show. */
static void note_error(struct engine *e, const struct report_msg *m, struct shown *x,
		       enum stage_id s)
{
	struct strbuf words = STRBUF_INIT;
	for (size_t i = 0; i < m->npairs; i++)
		sb_addf(&words, "%s%s=%s", i ? " " : "", m->key[i], m->val[i]);
	snprintf(x->error, sizeof x->error, "%s", sb_str(&words));
	json_object_set_new(stage_info(e, s), "guest_error", json_string(sb_str(&words)));
	sb_release(&words);
}

static void note_graphics_error(struct engine *e, const struct report_msg *m)
{
	note_error(e, m, &e->gfx, ST_GRAPHICS);
}

/* "... show": the mode and the code of the pattern to look for. */
static void note_shown(struct engine *e, const struct report_msg *m, struct shown *x,
		       json_t *info)
{
	const char *w = report_get(m, "width"), *h = report_get(m, "height");
	const char *bpp = report_get(m, "bpp"), *code = report_get(m, "code");
	char *end = NULL;
	unsigned long c = code ? strtoul(code, &end, 16) : 0;
	x->width = w ? atoi(w) : 0;
	x->height = h ? atoi(h) : 0;
	x->bpp = bpp ? atoi(bpp) : 0;
	x->code = (uint32_t)c;
	x->announced = x->width > 0 && x->height > 0 && code && end && !*end && strlen(code) == 8;
	json_object_set_new(info, "mode", json_sprintf("%dx%d", x->width, x->height));
	json_object_set_new(info, "bpp", json_integer(x->bpp));
	json_object_set_new(info, "code", json_string(code ? code : ""));
	if (!x->announced)
		snprintf(x->error, sizeof x->error,
			 "its 'show' line gives no usable width, height and code");
	(void)e;
}

static void note_pattern_shown(struct engine *e, const struct report_msg *m)
{
	note_shown(e, m, &e->gfx, stage_info(e, ST_GRAPHICS));
}

/* The driver stage's evidence: what the guest found of its drivers. */
static json_t *driver_part(struct engine *e, const char *key)
{
	json_t *part = json_object_get(e->said.driver, key);
	if (!part) {
		part = json_array();
		json_object_set_new(e->said.driver, key, part);
	}
	return part;
}

/* A driver report line as an object of its pairs, into said.driver[key]. */
static void note_driver_fact(struct engine *e, const struct report_msg *m, const char *key)
{
	json_t *o = json_object();
	for (size_t i = 0; i < m->npairs; i++)
		json_object_set_new(o, m->key[i], json_string(m->val[i]));
	json_array_append_new(driver_part(e, key), o);
}

/* One noting function per kind of driver fact, each into its array. */
#define DRIVER_FACT(key)                                                           \
	static void note_driver_##key(struct engine *e, const struct report_msg *m) \
	{                                                                          \
		note_driver_fact(e, m, #key);                                      \
	}
DRIVER_FACT(modules)
DRIVER_FACT(bound)
DRIVER_FACT(unbound)
DRIVER_FACT(drm)
DRIVER_FACT(connectors)
DRIVER_FACT(fb)
DRIVER_FACT(probe_errors)
DRIVER_FACT(firmware_missing)
DRIVER_FACT(deferred)
DRIVER_FACT(done)
DRIVER_FACT(windows_devices)
DRIVER_FACT(install)
DRIVER_FACT(installed)

static void note_driver_shown(struct engine *e, const struct report_msg *m)
{
	json_t *pattern = json_object();
	json_object_set_new(stage_info(e, ST_DRIVER), "pattern", pattern);
	note_shown(e, m, &e->drv, pattern);
	const char *via = report_get(m, "via");
	json_object_set_new(pattern, "via", json_string(via ? via : ""));
}

static void note_driver_error(struct engine *e, const struct report_msg *m)
{
	note_error(e, m, &e->drv, ST_DRIVER);
}

/* "post fb": a framebuffer the firmware left, as the guest's OS found it. */
static void note_firmware_fb(struct engine *e, const struct report_msg *m)
{
	json_array_append_new(e->said.firmware_fb,
			      json_pack("{s:s, s:s}", "index", report_get(m, "index") ?: "",
					"name", report_get(m, "name") ?: ""));
}

/* "text console": which console shows the text and in whose font. */
static void note_text_console(struct engine *e, const struct report_msg *m)
{
	const char *font = report_get(m, "font");
	e->text_in_guest_font = font && !strcmp(font, "hilrun");
	json_object_set_new(stage_info(e, ST_TEXT), "console",
			    json_pack("{s:s, s:s}", "driver", report_get(m, "driver") ?: "",
				      "font", font ? font : ""));
}

static void note_console_line(struct engine *e, const struct report_msg *m)
{
	const char *row = report_get(m, "row"), *text = report_get(m, "text");
	if (row && text)
		json_array_append_new(e->console_said.text_lines,
				      json_pack("{s:i, s:s}", "row", atoi(row), "text", text));
}

static void note_end_code(struct engine *e, const struct report_msg *m)
{
	const char *code = report_get(m, "code");
	e->end_code = code ? atoi(code) : -1;
}

/* "end poweroff": the guest powers the VM off (ACPI): QEMU exits 0. */
static void note_end_poweroff(struct engine *e, const struct report_msg *m)
{
	(void)m;
	e->end_poweroff = 1;
}

#define R(stage, event, note, raises) { stage, event, note, raises, #note }
const struct report_row engine_reports[] = {
	R("pci", "display", note_pci_display, EV_COUNT),
	R("post", "hold", NULL, EV_POST_HOLD),
	R("text", "line", note_text_line, EV_COUNT),
	R("text", "hold", NULL, EV_TEXT_HOLD),
	R("calib", "show", note_calib_layout, EV_COUNT),
	R("calib", "hold", NULL, EV_CALIB_HOLD),
	R("graphics", "set", note_mode_set, EV_COUNT),
	R("graphics", "error", note_graphics_error, EV_COUNT),
	R("graphics", "show", note_pattern_shown, EV_COUNT),
	R("graphics", "hold", NULL, EV_GRAPHICS_HOLD),
	R("post", "fb", note_firmware_fb, EV_COUNT),
	R("text", "console", note_text_console, EV_COUNT),
	R("driver", "module", note_driver_modules, EV_COUNT),
	R("driver", "bound", note_driver_bound, EV_COUNT),
	R("driver", "unbound", note_driver_unbound, EV_COUNT),
	R("driver", "drm", note_driver_drm, EV_COUNT),
	R("driver", "connector", note_driver_connectors, EV_COUNT),
	R("driver", "fb", note_driver_fb, EV_COUNT),
	R("driver", "probe-error", note_driver_probe_errors, EV_COUNT),
	R("driver", "firmware-missing", note_driver_firmware_missing, EV_COUNT),
	R("driver", "deferred", note_driver_deferred, EV_COUNT),
	R("driver", "show", note_driver_shown, EV_COUNT),
	R("driver", "error", note_driver_error, EV_COUNT),
	R("driver", "hold", NULL, EV_DRIVER_HOLD),
	R("driver", "done", note_driver_done, EV_COUNT),
	R("driver", "windows-device", note_driver_windows_devices, EV_COUNT),
	R("driver", "install", note_driver_install, EV_COUNT),
	R("driver", "installed", note_driver_installed, EV_COUNT),
	R("console", "line", note_console_line, EV_COUNT),
	R("console", "hold", NULL, EV_CONSOLE_HOLD),
	R("end", "exit", note_end_code, EV_GUEST_END),
	R("end", "poweroff", note_end_poweroff, EV_GUEST_END),
};
const size_t engine_nreports = sizeof engine_reports / sizeof *engine_reports;

/* A malformed report line: counted, and kept (its first 120 bytes) with
 * what is wrong with it. */
static void protocol_error(struct engine *e, const struct event *ev, const char *why)
{
	e->protocol_errors++;
	json_t *rep = json_pack("{s:s, s:s, s:s%}", "stage", "protocol", "event", "error", "line",
				ev->text, ev->len > 120 ? (size_t)120 : ev->len);
	json_object_set_new(rep, "error", json_string(why));
	json_array_append_new(e->reports, rep);
}

enum step hear_line(struct engine *e, const struct event *ev)
{
	struct report_msg m;
	struct hil_err err;
	int rc;
	if (ev->overlong) {
		rc = strncmp(ev->text, REPORT_PREFIX, strlen(REPORT_PREFIX)) ? 0 : -1;
		hil_seterr(&err, "report line longer than %d bytes", REPORT_LINE_MAX);
	} else {
		rc = report_parse(ev->text, ev->len, &m, &err);
	}
	if (rc < 0)
		protocol_error(e, ev, err.msg);
	if (rc != 1)
		return STAY; /* firmware output, or not a report that parses */

	json_t *rep = json_pack("{s:s, s:s, s:I}", "stage", m.stage, "event", m.event, "t_ms",
				(json_int_t)(ev->t - e->t_start));
	for (size_t i = 0; i < m.npairs; i++)
		json_object_set_new(rep, m.key[i], json_string(m.val[i]));
	json_array_append_new(e->reports, rep);

	for (size_t i = 0; i < engine_nreports; i++) {
		const struct report_row *row = &engine_reports[i];
		if (strcmp(row->stage, m.stage) || strcmp(row->event, m.event))
			continue;
		if (row->note)
			row->note(e, &m);
		if (row->raises != EV_COUNT)
			engine_feed(e, &(struct event){ .kind = row->raises, .t = ev->t });
		break;
	}
	return STAY;
}
