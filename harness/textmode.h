/* textmode: read VGA text exactly from a captured frame by matching every
 * character cell against the card's glyphs (an exact decoder; tesseract is
 * only the fallback for cells this cannot match).
 *
 * This version reads frames at text mode's native geometry: 720x400 (80x25
 * cells of 9x16, the 9th column blank, or a copy of the 8th for line-drawing
 * codes) and 640x400 (8x16 cells). Other geometries (scaled captures,
 * framebuffer text) return TEXTMODE_UNSUPPORTED so the caller can fall back.
 *
 * Ownership: struct text_screen is plain data; no allocation. */
#ifndef HIL_TEXTMODE_H
#define HIL_TEXTMODE_H

#include <stdint.h>
#include "image.h"
#include "vgafont.h"
#include "util.h"

#define TEXT_COLS_MAX 132
#define TEXT_ROWS_MAX 60
#define TEXTMODE_UNSUPPORTED (-2)
/* A decoding is trusted when every cell matched at least this well (at
 * most one stray pixel in a 9x16 cell: "e" and "ë" differ by four); a
 * worse one (noise, scaling, a font that is not the card's) is not text to
 * judge by: callers fall back or say so. */
#define TEXTMODE_TRUST 0.99f

/* Which codes have their 8th column repeated into the 9th in 9-pixel cells.
 * QEMU does it for 0xB0-0xDF, real VGA hardware for 0xC0-0xDF. */
enum ninth_column_rule { NINTH_QEMU, NINTH_VGA };

struct text_cell {
	uint8_t code;          /* CP437 code */
	uint8_t fg[3], bg[3];  /* RGB */
	float confidence;      /* fraction of the cell's pixels that match, 0..1 */
	uint8_t cursor;        /* cursor drawn over the cell (rows 13-14 inverted) */
};

struct text_screen {
	int cols, rows;
	int cell_w, cell_h;
	int origin_x, origin_y;  /* where the grid starts in the frame */
	struct text_cell cell[TEXT_ROWS_MAX][TEXT_COLS_MAX];
};

/* Decode the frame. 0 ok; TEXTMODE_UNSUPPORTED if its geometry is not one
 * this version reads (err says which); -1 on other errors. */
int textmode_decode(const struct frame *f, const struct vgafont *font,
		    enum ninth_column_rule rule, struct text_screen *out, struct hil_err *err);

/* Row r as UTF-8 (CP437 mapped to Unicode), trailing spaces trimmed.
 * buf must hold TEXT_COLS_MAX * 3 + 1 bytes. */
void textmode_row_utf8(const struct text_screen *s, int r, char *buf);
/* Row r as raw CP437 codes mapped only for printable ASCII (others '?'),
 * trailing spaces trimmed: what the guest's report lines are compared to. */
void textmode_row_ascii(const struct text_screen *s, int r, char *buf);
/* Lowest confidence over all cells. */
float textmode_min_confidence(const struct text_screen *s);

#endif
