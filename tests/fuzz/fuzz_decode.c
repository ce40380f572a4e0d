/* fuzz_decode: the text decoder (read/textmode.c and the capture reader
 * behind it, read/capture*.c; read/calib.c) given arbitrary frames, by the
 * entry points hilrun decode uses (cli/cmd_decode.c): textmode_decode with
 * the SeaBIOS VGA ROM's font, the screen as text and rows, and, for
 * --font, calib_learn on the same frame with the bios-post layout. A
 * reader used twice on one frame (what a run does frame after frame: the
 * grid kept and checked) must read it the same.
 *
 * The input is a frame: width and height (16-bit little-endian each,
 * taken modulo 769 and 433: text mode's 720x400 and captures a little
 * larger, small enough to stay fast), a byte of options (bit 0: the VGA
 * ninth-column rule, not QEMU's; bit 1: a reader reading it twice instead
 * of textmode_decode; bit 2: calib_learn too), then
 * runs of pixels, each a count byte (1 to 256 pixels) and a colour byte
 * (0-15 the VGA text palette, others spread over RGB), repeated from the
 * start until the frame is full. Corpus: tests/fuzz/corpus/decode/
 * (seeds: the text-mode frames of tests/fixtures/frames/ and the fixture
 * run, in this form, seeds.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "fuzz.h"
#include "textmode.h"
#include "vgafont.h"

/* Under ASan and coverage a frame the capture reader searches takes
 * seconds (0.2 s at 800x500 in a gcc -O2 build): the frames stay close to
 * text mode's 720x400, so that one execution stays under ci/fuzz's
 * -timeout. */
#define MAX_W 768
#define MAX_H 432

static const uint8_t vga[16][3] = {
	{ 0x00, 0x00, 0x00 }, { 0x00, 0x00, 0xa8 }, { 0x00, 0xa8, 0x00 }, { 0x00, 0xa8, 0xa8 },
	{ 0xa8, 0x00, 0x00 }, { 0xa8, 0x00, 0xa8 }, { 0xa8, 0x57, 0x00 }, { 0xa8, 0xa8, 0xa8 },
	{ 0x57, 0x57, 0x57 }, { 0x57, 0x57, 0xff }, { 0x57, 0xff, 0x57 }, { 0x57, 0xff, 0xff },
	{ 0xff, 0x57, 0x57 }, { 0xff, 0x57, 0xff }, { 0xff, 0xff, 0x57 }, { 0xff, 0xff, 0xff },
};

static struct vgafont font;

static void colour(uint8_t c, uint8_t *px)
{
	if (c < 16) {
		memcpy(px, vga[c], 3);
	} else {
		px[0] = (uint8_t)(c * 37);
		px[1] = (uint8_t)(c * 91);
		px[2] = (uint8_t)(c * 53);
	}
}

/* The frame the input describes; -1 if it describes none. */
static int build(const uint8_t *data, size_t size, struct frame *f, uint8_t *opts)
{
	if (size < 7)
		return -1;
	int w = (data[0] | data[1] << 8) % (MAX_W + 1), h = (data[2] | data[3] << 8) % (MAX_H + 1);
	*opts = data[4];
	const uint8_t *runs = data + 5;
	size_t nruns = (size - 5) / 2;
	if (frame_alloc(f, w, h) < 0)
		return -1;
	size_t n = (size_t)w * (size_t)h, at = 0;
	for (size_t r = 0; at < n; r = (r + 1) % nruns) {
		uint8_t px[3];
		colour(runs[2 * r + 1], px);
		for (size_t k = 0; k <= runs[2 * r] && at < n; k++, at++)
			memcpy(f->rgb + 3 * at, px, 3);
	}
	return 0;
}

static void check_screen(const struct text_screen *s)
{
	fuzz_check(s->cols >= 1 && s->cols <= TEXT_COLS_MAX && s->rows >= 1 && s->rows <= TEXT_ROWS_MAX &&
			   s->cell_w > 0 && s->cell_h > 0,
		   "textmode_decode: a screen of no or too many cells");
	for (int r = 0; r < s->rows; r++)
		for (int c = 0; c < s->cols; c++)
			fuzz_check(s->cell[r][c].confidence >= 0 && s->cell[r][c].confidence <= 1,
				   "textmode_decode: a confidence outside 0..1");
	float min = textmode_min_confidence(s);
	fuzz_check(min >= 0 && min <= 1, "textmode_min_confidence outside 0..1");
	/* exactly the size textmode.h asks for, so that ASan sees more */
	char *row = xmalloc(TEXT_COLS_MAX * 3 + 1);
	for (int r = 0; r < s->rows; r++) {
		textmode_row_utf8(s, r, row);
		textmode_row_ascii(s, r, row);
	}
	free(row);
	char *text = textmode_text(s);
	fuzz_check(text != NULL, "textmode_text: NULL");
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "%dx%d cells of %dx%d at %d,%d, min confidence %.3f:\n%s\n", s->cols,
			s->rows, s->cell_w, s->cell_h, s->origin_x, s->origin_y, min, text);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hil_err err;
	if (!font.source[0] && vgafont_from_rom(&font, VGAFONT_DEFAULT_ROM, &err) < 0) {
		fprintf(stderr, "fuzz_decode: %s\n", err.msg);
		abort();
	}
	struct frame f;
	uint8_t opts;
	frame_init(&f);
	if (build(data, size, &f, &opts) < 0) {
		frame_release(&f);
		return 0;
	}
	enum ninth_column_rule rule = opts & 1 ? NINTH_VGA : NINTH_QEMU;
	struct text_screen *scr = xmalloc(sizeof *scr);
	if (opts & 2) {
		/* a reader, frame after frame: the second reading keeps the
		 * grid of the first, and must come to the same text */
		struct textmode_reader *rd = textmode_reader_new(&font, rule, &err);
		fuzz_check(rd != NULL, "textmode_reader_new");
		struct text_screen *again = xmalloc(sizeof *again);
		int rc1 = textmode_read(rd, &f, scr, &err);
		int rc2 = textmode_read(rd, &f, again, &err);
		fuzz_check(rc1 == rc2, "textmode_read: one frame read twice, one read failed");
		if (rc1 == 0) {
			check_screen(again);
			char *t1 = textmode_text(scr), *t2 = textmode_text(again);
			fuzz_check(!strcmp(t1, t2), "textmode_read: one frame read twice, two texts");
			free(t1);
			free(t2);
		}
		free(again);
		textmode_reader_free(rd);
	} else {
		int rc = textmode_decode(&f, &font, rule, scr, &err);
		fuzz_check(rc == 0 || rc == -1 || rc == TEXTMODE_UNSUPPORTED,
			   "textmode_decode: an unknown answer");
		if (rc == 0)
			check_screen(scr);
		else if (getenv("HILRUN_FUZZ_VERBOSE"))
			fprintf(stderr, "%dx%d: %d: %s\n", f.width, f.height, rc, err.msg);
	}
	if (opts & 4) {
		static const struct calib_layout bios_post = { 4, 8, 2, 16 };
		struct calib_result *cal = xmalloc(sizeof *cal);
		if (calib_learn(&f, &bios_post, cal, &err) == 0)
			fuzz_check(cal->cell_w == 8 || cal->cell_w == 9, "calib_learn: a cell neither 8 nor 9 wide");
		free(cal);
	}
	free(scr);
	frame_release(&f);
	return 0;
}
