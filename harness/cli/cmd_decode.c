/* cmd_decode: hilrun decode IMAGE [--json] [--font ROM|CALIBRATION-FRAME]
 * [--ninth qemu|vga]: read one frame with the exact text decoder, as a run
 * would, and print its text (or every cell as JSON). For setting up a
 * station and for looking at a run's evidence. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "cli.h"
#include "image.h"
#include "textmode.h"
#include "vgafont.h"

/* The decoded screen as JSON: its geometry, rows of text, and every cell. */
static json_t *screen_json(const struct text_screen *scr, const char *image, const char *font)
{
	char buf[TEXT_COLS_MAX * 4 + 1];
	json_t *text = json_array(), *cells = json_array();
	for (int r = 0; r < scr->rows; r++) {
		textmode_row_utf8(scr, r, buf);
		json_array_append_new(text, json_string(buf));
		json_t *row = json_array();
		for (int c = 0; c < scr->cols; c++) {
			const struct text_cell *cell = &scr->cell[r][c];
			char ch[5] = { 0 };
			utf8_encode(cp437_to_unicode(cell->code), ch);
			char fg[8], bg[8];
			snprintf(fg, sizeof fg, "#%02x%02x%02x", cell->fg[0], cell->fg[1], cell->fg[2]);
			snprintf(bg, sizeof bg, "#%02x%02x%02x", cell->bg[0], cell->bg[1], cell->bg[2]);
			json_t *jc = json_pack("{s:s, s:i, s:s, s:s, s:f}", "ch", ch, "code", cell->code,
					       "fg", fg, "bg", bg, "confidence", cell->confidence);
			if (cell->cursor)
				json_object_set_new(jc, "cursor", json_true());
			json_array_append_new(row, jc);
		}
		json_array_append_new(cells, row);
	}
	return json_pack("{s:s, s:s, s:s, s:i, s:i, s:[i,i], s:[i,i], s:f, s:o, s:o}", "image", image,
			 "reader", "textmode", "font", font, "cols", scr->cols, "rows", scr->rows, "cell",
			 scr->cell_w, scr->cell_h, "origin", scr->origin_x, scr->origin_y,
			 "min_confidence", textmode_min_confidence(scr), "text", text, "cells", cells);
}

/* --font takes a VGA BIOS ROM, or a calibration frame (an image of the
 * bios-post calibration screen, e.g. a run's calibration.png). */
static int load_font(struct vgafont *font, const char *path, struct hil_err *err)
{
	struct hil_err rom_err;
	if (vgafont_from_rom(font, path, &rom_err) == 0)
		return 0;
	struct frame f;
	frame_init(&f);
	if (frame_read(&f, path, err) < 0) {
		hil_seterr(err, "%s (and not an image either: %s)", rom_err.msg, err->msg);
		return -1;
	}
	static const struct calib_layout bios_post = { 4, 8, 2, 16 };
	struct calib_result *cal = xmalloc(sizeof *cal);
	int rc = calib_learn(&f, &bios_post, cal, err);
	if (rc == 0) {
		*font = cal->font;
		snprintf(font->source, sizeof font->source, "calibration frame %s", path);
	} else {
		char why[HIL_ERR_MAX];
		snprintf(why, sizeof why, "%s", err->msg);
		hil_seterr(err, "%s: not a VGA BIOS ROM, and no calibration screen: %s", path, why);
	}
	free(cal);
	frame_release(&f);
	return rc;
}

int cmd_decode(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "font", required_argument, NULL, 'f' },
		{ "ninth", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	(void)s;
	int json = 0, c;
	const char *font_rom = VGAFONT_DEFAULT_ROM;
	enum ninth_column_rule rule = NINTH_QEMU;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'f': font_rom = optarg; break;
		case 'n':
			if (!strcmp(optarg, "qemu"))
				rule = NINTH_QEMU;
			else if (!strcmp(optarg, "vga"))
				rule = NINTH_VGA;
			else {
				say_error("--ninth: expected 'qemu' or 'vga', got '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		say_error("decode: expected one image file (PNG, JPEG or PPM)");
		return EXIT_USAGE;
	}
	const char *image = argv[optind];
	struct hil_err err;
	struct frame f;
	frame_init(&f);
	if (frame_read(&f, image, &err) < 0) {
		say_error("%s", err.msg);
		return EXIT_USAGE;
	}
	struct vgafont font;
	if (load_font(&font, font_rom, &err) < 0) {
		say_error("%s", err.msg);
		frame_release(&f);
		return EXIT_USAGE;
	}
	struct text_screen *scr = xmalloc(sizeof *scr);
	int rc = textmode_decode(&f, &font, rule, scr, &err);
	int exit_code = EXIT_OK;
	if (rc < 0) {
		say_error("%s: %s", image, err.msg);
		exit_code = EXIT_USAGE;
	} else if (json) {
		json_t *j = screen_json(scr, image, font.source);
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		char *text = textmode_text(scr);
		if (*text)
			puts(text);
		free(text);
	}
	if (rc == 0 && textmode_min_confidence(scr) < TEXTMODE_TRUST) {
		/* Printed above for inspection, but not a reading to rely on. */
		say_error("%s: low confidence (worst cell %.2f, trusted from %.2f): not a clean text-mode frame in this font",
			  image, textmode_min_confidence(scr), TEXTMODE_TRUST);
		exit_code = EXIT_UNEXPECTED;
	}
	free(scr);
	frame_release(&f);
	return exit_code;
}

