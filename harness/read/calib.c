/* calib: see calib.h. */
#include "calib.h"
#include "textmode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t *px(const struct frame *f, int x, int y)
{
	return f->rgb + ((size_t)y * (size_t)f->width + (size_t)x) * 3;
}

static int dist2(const uint8_t *a, const uint8_t *b)
{
	int d = 0;
	for (int i = 0; i < 3; i++)
		d += (a[i] - b[i]) * (a[i] - b[i]);
	return d;
}

/* A capture of the screen (scaled, compressed, bordered): capture_learn.c
 * finds the grid and reads the cells. */
static int learn_from_capture(const struct frame *f, const struct calib_layout *l,
			      struct calib_result *out, struct hil_err *err)
{
	struct textmode_learning *tl = calloc(1, sizeof *tl);
	if (!tl) {
		hil_seterr(err, "out of memory");
		return -1;
	}
	for (int n = 0; n < 256; n++) {
		tl->row[n] = (uint8_t)(l->first_row + n / l->per_row);
		tl->col[n] = (uint8_t)(l->first_col + (n % l->per_row) * l->step);
	}
	int rc = textmode_learn_capture(f, tl, err);
	if (rc == 0) {
		memset(out, 0, sizeof *out);
		out->font = tl->font;
		out->cell_w = tl->cell_w;
		memcpy(out->ninth_copied, tl->ninth_copied, sizeof out->ninth_copied);
		memcpy(out->fg, tl->fg, 3);
		memcpy(out->bg, tl->bg, 3);
	}
	free(tl);
	return rc;
}

int calib_learn(const struct frame *f, const struct calib_layout *l, struct calib_result *out,
		struct hil_err *err)
{
	if (l->per_row < 1 || l->step < 1 || l->first_row < 0 || l->first_col < 0 ||
	    l->first_row + (255 / l->per_row) >= 25 ||
	    l->first_col + (l->per_row - 1) * l->step >= 80) {
		hil_seterr(err, "calibration layout does not fit an 80x25 screen");
		return -1;
	}
	int cw;
	if (f->width == 720 && f->height == 400)
		cw = 9;
	else if (f->width == 640 && f->height == 400)
		cw = 8;
	else
		return learn_from_capture(f, l, out, err);
	memset(out, 0, sizeof *out);
	out->cell_w = cw;
	int x_of[256], y_of[256];
	for (int n = 0; n < 256; n++) {
		x_of[n] = (l->first_col + (n % l->per_row) * l->step) * cw;
		y_of[n] = (l->first_row + n / l->per_row) * 16;
	}
	memcpy(out->bg, px(f, x_of[0x20], y_of[0x20]), 3);
	memcpy(out->fg, px(f, x_of[0xDB], y_of[0xDB]), 3);
	if (dist2(out->fg, out->bg) < 48 * 48) {
		hil_seterr(err, "calibration screen not shown: the space and the full block have the same colour");
		return -1;
	}
	for (int n = 0; n < 256; n++) {
		int ninth_same = 1, ink8 = 0;
		for (int y = 0; y < 16; y++) {
			uint8_t row = 0;
			for (int x = 0; x < 8; x++) {
				const uint8_t *p = px(f, x_of[n] + x, y_of[n] + y);
				if (dist2(p, out->fg) < dist2(p, out->bg))
					row |= (uint8_t)(0x80 >> x);
			}
			out->font.glyph[n][y] = row;
			if (cw == 9) {
				const uint8_t *p8 = px(f, x_of[n] + 7, y_of[n] + y);
				const uint8_t *p9 = px(f, x_of[n] + 8, y_of[n] + y);
				int lit8 = dist2(p8, out->fg) < dist2(p8, out->bg);
				int lit9 = dist2(p9, out->fg) < dist2(p9, out->bg);
				ink8 |= lit8;
				ninth_same &= lit8 == lit9;
			}
		}
		out->ninth_copied[n] = cw == 9 && ink8 && ninth_same;
	}
	/* The references the colours came from must read back as themselves. */
	for (int y = 0; y < 16; y++) {
		if (out->font.glyph[0x20][y] != 0x00 || out->font.glyph[0xDB][y] != 0xFF) {
			hil_seterr(err, "calibration screen unreadable: space or full block is not uniform");
			return -1;
		}
	}
	out->font.width = 8;
	out->font.height = 16;
	snprintf(out->font.source, sizeof out->font.source, "calibration screen");
	return 0;
}

int calib_differences(const struct vgafont *learned, const struct vgafont *ref, uint8_t *codes,
		      int max)
{
	int n = 0;
	for (int c = 0; c < 256; c++) {
		if (memcmp(learned->glyph[c], ref->glyph[c], 16)) {
			if (n < max)
				codes[n] = (uint8_t)c;
			n++;
		}
	}
	return n;
}
