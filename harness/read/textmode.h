/* textmode: read VGA text exactly from a captured frame by matching every
 * character cell against the card's glyphs (an exact decoder; tesseract is
 * only the fallback for cells this cannot match).
 *
 * Frames at text mode's native geometry, 720x400 (80x25 cells of 9x16, the
 * 9th column blank, or a copy of the 8th for line-drawing codes) and
 * 640x400 (8x16 cells), are read pixel for pixel.
 *
 * Text a VGA BIOS drew into a linear framebuffer (a VBE mode such as
 * 1024x768: 128x48 cells of 8x16, no 9th column) reads exactly too, from
 * any frame up to 1920x1200: the grid's origin is found, not assumed.
 *
 * Any other frame of at least 720x400 is taken for a capture of an 80x25
 * screen (IP-KVM, HDMI capture box): scaled by any factors of at least 1
 * (x and y may differ), inside a border of up to 5 % of each dimension (of
 * any colour, also the text's background), JPEG-compressed. The decoder
 * finds the cell grid from the frame itself (capture_grid.c says how),
 * samples every cell at its text-mode pixel centres, splits the samples
 * into two colours and matches the result by Hamming distance. Frames
 * smaller than 720x400, and frames in which no grid reads as glyphs, return
 * TEXTMODE_UNSUPPORTED so that the caller can fall back. Frames enlarged
 * less than 1.3 times (either axis; e.g. 800x600) are read but never
 * trusted: thin strokes and dither patterns blur away there.
 *
 * Ownership: struct text_screen is plain data; the decoder allocates
 * scratch memory for scaled frames and frees it before returning. */
#ifndef HIL_TEXTMODE_H
#define HIL_TEXTMODE_H

#include <stdint.h>
#include "image.h"
#include "vgafont.h"
#include "util.h"

#define TEXT_COLS_MAX 240 /* 1920 / 8: framebuffer text */
#define TEXT_ROWS_MAX 75  /* 1200 / 16 */
#define TEXTMODE_UNSUPPORTED (-2)
/* A decoding is trusted when every cell matched at least this well (at
 * most one stray pixel in a 9x16 cell: "e" and "ë" differ by four); a
 * worse one (noise, scaling, a font that is not the card's) is not text to
 * judge by: callers fall back or say so. */
#define TEXTMODE_TRUST 0.99f

/* Which codes have their 8th column repeated into the 9th in 9-pixel cells.
 * QEMU does it for 0xB0-0xDF, real VGA hardware for 0xC0-0xDF. */
enum ninth_column_rule { NINTH_QEMU, NINTH_VGA };

/* Confidence: at native geometry, the fraction of the cell's pixels that
 * match the reading. In a scaled frame, where resampling and compression
 * blur glyph edges, it says how certain the character is: with d the
 * distance in pixels of the binarised cell from the reading and d2 that of
 * the nearest reading that draws the cell differently (a pixel of the 9th
 * column, which has none of its own and takes colour from the next cell,
 * counts a quarter), 1 for d = 0;
 * 1 - d / 200 (0.995, 0.99: trusted) for d <= 2 and d2 - d >= 2 + d;
 * otherwise 0.98 * (d2 - d) / (d2 + d), below TEXTMODE_TRUST; at most 0.98
 * (never trusted) where the two colours differ little in luma (JPEG keeps
 * colour at half resolution: a stroke of a pixel or two can vanish), or
 * where a reading differs from another only in the 9th column. A cell read
 * as one colour has 1, or 0.98 when its two colours were close enough to be
 * a faint glyph or its colour is not one of the 16 palette colours (a
 * dither blurred into the mix of its two colours: then it may read as the
 * nearest mix of 0xB0-0xB2, with 0.5). Confidence is the character's, not
 * its colours'. Colours of a scaled frame are the two colours as sampled
 * (away from their edges) rounded per channel to the VGA levels 0x00, 0x57,
 * 0xA8, 0xFF; where that is not one of the 16 text colours (a thin stroke
 * blurred into its background), both are fitted to the cell's pixels with
 * the glyph drawn as the frame shows it, among the text colours. On
 * ci/bench/decode's random screens about 2 % of glyph cells of a 1280x720
 * JPEG q80 capture still get a colour wrong, mostly a level darker or
 * paler (". : , -", dithers). */
struct text_cell {
	uint8_t code;          /* CP437 code */
	uint8_t fg[3], bg[3];  /* RGB */
	float confidence;      /* see above, 0..1 */
	uint8_t cursor;        /* cursor drawn over the cell (rows 13-14 inverted) */
};

/* The grid in the frame's pixels: cell (r, c) starts at origin_x + c *
 * cell_w, origin_y + r * cell_h. Exact at native geometry; in a scaled
 * frame each is the real value rounded (cell_w = 9 or 8 times the scale:
 * the error adds up across a row, so this is for display, not to sample). */
struct text_screen {
	int cols, rows;
	int cell_w, cell_h;
	int origin_x, origin_y;  /* where the grid starts in the frame */
	struct text_cell cell[TEXT_ROWS_MAX][TEXT_COLS_MAX];
};

/* Decode the frame. 0 ok; TEXTMODE_UNSUPPORTED if it is not a text screen
 * this version reads (too small, or no character grid found: err says
 * which); -1 on other errors. Native frames take ~30-120 us, scaled ones
 * milliseconds. */
int textmode_decode(const struct frame *f, const struct vgafont *font,
		    enum ninth_column_rule rule, struct text_screen *out, struct hil_err *err);

/* A reader decodes frame after frame in one font: it builds the font's
 * tables once, and keeps the grid it found in a capture for the next frame
 * of the same size (checked first against that frame's own cells: if it
 * reads clearly worse there, the grid is searched again; and if the frame
 * read with it leaves a cell untrusted outside the rows and columns where
 * the grid has read trusted glyphs, it is read again with a grid searched
 * in it, and the reading with fewer untrusted cells kept). Use one per
 * stream of frames (a run, a capture device); textmode_decode() is a
 * reader used once. Ownership: the caller frees it with
 * textmode_reader_free(); it keeps no pointer to the font or frames. */
struct textmode_reader;
struct textmode_stats {
	int grids_searched;  /* captures whose grid was searched for */
	int grids_reused;    /* captures read with the grid of an earlier frame */
	long cells_read;     /* cells of captures read (the rest kept their
			      * reading: their pixels had not changed) */
};
struct textmode_reader *textmode_reader_new(const struct vgafont *font,
					    enum ninth_column_rule rule, struct hil_err *err);
int textmode_read(struct textmode_reader *rd, const struct frame *f, struct text_screen *out,
		  struct hil_err *err);
struct textmode_stats textmode_reader_stats(const struct textmode_reader *rd);
void textmode_reader_free(struct textmode_reader *rd);

/* Learning a card's glyphs from a capture (scaled, compressed, bordered:
 * as above) of a calibration screen: an 80x25 screen cleared to one colour
 * on which code K is drawn at cell (row[K], col[K]) in another pair of
 * colours, the space (0x20) and full block (0xDB) among them. The grid is
 * found from where the calibration cells are (their outer edges, then the
 * glyphs' pixel structure), each cell sampled at its text-mode pixel
 * centres, sharpened as the decoder does, and every sample classed by the
 * nearer of the two colours. Native 720x400 / 640x400 frames are calib.c's
 * business; this is for frames the text decoder reads as captures. */
struct textmode_learning {
	uint8_t row[256], col[256];  /* in: where each code is drawn */
	struct vgafont font;         /* out: the glyphs as the card drew them */
	int cell_w;                  /* out: 9 or 8 */
	uint8_t ninth_copied[256];   /* out: 9-pixel cells whose 9th column repeats the 8th */
	uint8_t fg[3], bg[3];        /* out: the colours found */
	double scale_x, scale_y;     /* out: frame pixels per text-mode pixel */
	double origin_x, origin_y;   /* out: the grid's top left corner in the frame */
};
int textmode_learn_capture(const struct frame *f, struct textmode_learning *l,
			   struct hil_err *err);

/* Row r as UTF-8 (CP437 mapped to Unicode), trailing spaces trimmed.
 * buf must hold TEXT_COLS_MAX * 3 + 1 bytes. */
void textmode_row_utf8(const struct text_screen *s, int r, char *buf);
/* Row r as raw CP437 codes mapped only for printable ASCII (others '?'),
 * trailing spaces trimmed: what the guest's report lines are compared to. */
void textmode_row_ascii(const struct text_screen *s, int r, char *buf);
/* The whole screen as UTF-8: rows as textmode_row_utf8, joined by '\n',
 * trailing blank rows dropped, no final newline. Caller frees. */
char *textmode_text(const struct text_screen *s);
/* Lowest confidence over all cells. */
float textmode_min_confidence(const struct text_screen *s);

#endif
