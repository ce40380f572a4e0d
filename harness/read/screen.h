/* screen: read one frame as text, as a run reads the screen at a check.
 * Cell by cell with the exact decoder (textmode.h) when it finds the grid
 * and trusts every cell, or all but a few (SCREEN_OCR_CELLS_MAX), which
 * tesseract then reads one character each; else the whole frame with
 * tesseract, saying why. A reading is a value: judges take it as input
 * (judge.h) and never look inside the reader.
 *
 * Ownership: struct screen_reader owns its decoder and the screen that
 * its readings point into; the font and tesseract are borrowed. A struct
 * reading owns its text (reading_release); its screen pointer is valid
 * until the next screen_read on the same reader. */
#ifndef HIL_SCREEN_H
#define HIL_SCREEN_H

#include <jansson.h>
#include "image.h"
#include "ocr.h"
#include "textmode.h"
#include "vgafont.h"

/* A frame with at most this many cells the decoder cannot trust keeps its
 * exact reading, with those cells read one by one by tesseract; more, and
 * the whole frame goes to tesseract (it is probably not a clean text
 * screen). */
#define SCREEN_OCR_CELLS_MAX 64

struct reading {
	/* "textmode", "textmode+tesseract", "tesseract" (and "calibration"
	 * for a frame read again with the card's own glyphs) */
	const char *reader;
	int grid;                         /* a cell-by-cell reading: judge exactly, by row */
	int doubtful;                     /* cells of the grid not trusted (screen_decode) */
	const struct text_screen *screen; /* when grid */
	char *text;                       /* the text read; NULL if none could be (error) */
	char error[HIL_ERR_MAX];
};

void reading_release(struct reading *rd);

struct screen_reader {
	const struct vgafont *font;   /* NULL: no exact decoder */
	struct ocr *ocr;              /* NULL: no tesseract */
	enum ninth_column_rule rule;
	struct textmode_reader *decoder; /* NULL until first needed */
	struct text_screen *screen;
};

void screen_reader_init(struct screen_reader *sr, const struct vgafont *font, struct ocr *ocr,
			enum ninth_column_rule rule);
void screen_reader_release(struct screen_reader *sr);

/* Read f into *out (released first): screen_decode, then screen_complete.
 * What the reading rests on goes into evidence: decoder_confidence, font,
 * ocr_cells, fallback_reason. */
void screen_read(struct screen_reader *sr, const struct frame *f, struct reading *out,
		 json_t *evidence);
/* The first half: the exact decoder alone. If it finds the grid, out is a
 * grid reading with its doubtful cells counted (each holds the glyph that
 * matched best); else out has no text and says why in error. */
void screen_decode(struct screen_reader *sr, const struct frame *f, struct reading *out,
		   json_t *evidence);
/* The second half: a grid reading with doubtful cells has them read by
 * tesseract (at most SCREEN_OCR_CELLS_MAX), or the whole frame is read by
 * tesseract, saying why. A trusted grid reading is left as it is. */
void screen_complete(struct screen_reader *sr, const struct frame *f, struct reading *out,
		     json_t *evidence);

/* The exact decoder alone, trusted or not (for a look at what a frame
 * shows, e.g. QEMU's placeholder): the text, or NULL. Caller frees. */
char *screen_decode_text(struct screen_reader *sr, const struct frame *f);

#endif
