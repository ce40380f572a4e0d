/* screen: see screen.h. */
#include "screen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reading_release(struct reading *rd)
{
	free(rd->text);
	memset(rd, 0, sizeof *rd);
}

void screen_reader_init(struct screen_reader *sr, const struct vgafont *font, struct ocr *ocr,
			enum ninth_column_rule rule)
{
	*sr = (struct screen_reader){ .font = font, .ocr = ocr, .rule = rule };
	sr->screen = xmalloc(sizeof *sr->screen);
}

void screen_reader_release(struct screen_reader *sr)
{
	textmode_reader_free(sr->decoder);
	free(sr->screen);
	memset(sr, 0, sizeof *sr);
}

/* Decode f into sr->screen with the reader's font. */
static int decode(struct screen_reader *sr, const struct frame *f, struct hil_err *err)
{
	if (!sr->font) {
		hil_seterr(err, "no font loaded");
		return -1;
	}
	if (!sr->decoder && !(sr->decoder = textmode_reader_new(sr->font, sr->rule, err)))
		return -1;
	return textmode_read(sr->decoder, f, sr->screen, err);
}

char *screen_decode_text(struct screen_reader *sr, const struct frame *f)
{
	struct hil_err err;
	return decode(sr, f, &err) == 0 ? textmode_text(sr->screen) : NULL;
}

/* The decoder matched every cell but a few; read those few with tesseract,
 * one character each, and put what it read into the screen (printable ASCII
 * only: the guests' lines are ASCII). Returns 1 if the screen can now be
 * taken as read, recording each such cell. */
static int read_doubtful_cells(struct screen_reader *sr, const struct frame *f, json_t *evidence)
{
	struct text_screen *scr = sr->screen;
	int doubtful = 0;
	for (int row = 0; row < scr->rows; row++)
		for (int col = 0; col < scr->cols; col++)
			doubtful += scr->cell[row][col].confidence < TEXTMODE_TRUST;
	if (doubtful > SCREEN_OCR_CELLS_MAX || !sr->ocr)
		return 0;
	json_t *cells = json_array();
	for (int row = 0; row < scr->rows; row++) {
		for (int col = 0; col < scr->cols; col++) {
			struct text_cell *c = &scr->cell[row][col];
			if (c->confidence >= TEXTMODE_TRUST)
				continue;
			struct hil_err err;
			char *got = ocr_read_cell(sr->ocr, f, scr->origin_x + col * scr->cell_w,
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
	json_object_set_new(evidence, "ocr_cells", cells);
	return 1;
}

void screen_decode(struct screen_reader *sr, const struct frame *f, struct reading *out,
		   json_t *evidence)
{
	struct hil_err err;
	reading_release(out);
	json_object_del(evidence, "ocr_cells"); /* from an earlier look */
	if (decode(sr, f, &err) < 0) {
		snprintf(out->error, sizeof out->error, "%s", err.msg);
		return;
	}
	const struct text_screen *scr = sr->screen;
	for (int row = 0; row < scr->rows; row++)
		for (int col = 0; col < scr->cols; col++)
			out->doubtful += scr->cell[row][col].confidence < TEXTMODE_TRUST;
	json_object_set_new(evidence, "decoder_confidence", json_real(textmode_min_confidence(scr)));
	json_object_set_new(evidence, "font", json_string(sr->font->source));
	json_object_del(evidence, "fallback_reason");
	out->reader = "textmode";
	out->grid = 1;
	out->screen = scr;
	out->text = textmode_text(scr);
}

void screen_complete(struct screen_reader *sr, const struct frame *f, struct reading *out,
		     json_t *evidence)
{
	struct hil_err err;
	if (out->grid && !out->doubtful)
		return;
	if (out->grid) {
		if (read_doubtful_cells(sr, f, evidence)) {
			free(out->text);
			out->text = textmode_text(sr->screen);
			out->reader = "textmode+tesseract";
			out->doubtful = 0;
			return;
		}
		hil_seterr(&err, "decoder confidence %.3f is below %.2f",
			   textmode_min_confidence(sr->screen), TEXTMODE_TRUST);
	} else {
		hil_seterr(&err, "%s", out->error);
	}
	reading_release(out);
	json_object_set_new(evidence, "fallback_reason", json_string(err.msg));
	json_object_del(evidence, "font");
	out->reader = "tesseract";
	if (!sr->ocr) {
		snprintf(out->error, sizeof out->error, "no tesseract to fall back to (%.400s)", err.msg);
		return;
	}
	out->text = ocr_read(sr->ocr, f, &err);
	if (!out->text)
		snprintf(out->error, sizeof out->error, "%s", err.msg);
}

void screen_read(struct screen_reader *sr, const struct frame *f, struct reading *out,
		 json_t *evidence)
{
	screen_decode(sr, f, out, evidence);
	screen_complete(sr, f, out, evidence);
}
