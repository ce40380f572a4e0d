/* textmode: see textmode.h.
 *
 * Every glyph becomes 16 row masks as wide as the cell (bit cell_w-1 is the
 * leftmost pixel), the 9th column filled in per the rule. A cell is read
 * into two masks, "pixel is the foreground colour" and "pixel is the
 * background colour", and compared with glyphs by AND/popcount. The common
 * case (a clean two-colour cell) is one hash lookup of the foreground mask,
 * or of the background mask when the colours are the other way round.
 *
 * QEMU draws the text cursor by setting its scan lines (13-14 with the BIOS
 * defaults) to the foreground colour over the whole cell width, so a cursor
 * cell is recognised by those rows being solid and the others matching a
 * glyph. For glyphs with nothing on rows 13-14 that is the same as inverting
 * the rows; for ones with descenders it is what the card actually shows.
 *
 * Here: text mode's own frames, framebuffer text, the reader and the text
 * it prints; the glyph tables are glyphset.c's. Captures (scaled,
 * compressed) are read by the capture reader (capture.h), which the reader
 * hands every other frame. */
#include "capture.h"
#include "glyphset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_COLOUR 0xFFFFFFFFu /* no second colour seen yet */

/* What one cell holds: its two colours and where they are. */
struct cellbits {
	uint32_t fg, bg;     /* 0xRRGGBB */
	uint16_t f[CELL_H];  /* pixel == fg */
	uint16_t b[CELL_H];  /* pixel == bg */
	int two_colour;      /* no pixel is of a third colour */
};

static inline uint32_t pixel(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* The two most frequent colours of a cell that has more than two (never
 * from a card's own text mode; from recoloured or filtered frames): a
 * count per distinct colour, first seen first on ties. */
static void top_two_colours(const uint8_t *p, size_t stride, int cw, uint32_t *first,
			    uint32_t *second)
{
	uint32_t colour[9 * CELL_H];
	int count[9 * CELL_H], n = 0;
	for (int y = 0; y < CELL_H; y++) {
		const uint8_t *q = p + (size_t)y * stride;
		for (int x = 0; x < cw; x++, q += 3) {
			uint32_t c = pixel(q);
			int i = 0;
			while (i < n && colour[i] != c)
				i++;
			if (i == n) {
				colour[n] = c;
				count[n++] = 0;
			}
			count[i]++;
		}
	}
	int a = 0, b = -1;
	for (int i = 1; i < n; i++) {
		if (count[i] > count[a]) {
			b = a;
			a = i;
		} else if (b < 0 || count[i] > count[b]) {
			b = i;
		}
	}
	*first = colour[a];
	*second = b < 0 ? colour[a] : colour[b];
}

/* 8 pixels of colour c as three 64-bit words, to compare a cell's row at
 * a time: most cells are blank, and this is what makes reading them cheap. */
struct run8 {
	uint64_t w[3];
};

static void run8_fill(struct run8 *r, uint32_t c)
{
	uint8_t b[24];
	for (int i = 0; i < 24; i += 3) {
		b[i] = (uint8_t)(c >> 16);
		b[i + 1] = (uint8_t)(c >> 8);
		b[i + 2] = (uint8_t)c;
	}
	memcpy(r->w, b, sizeof b);
}

static inline int row_is(const uint8_t *q, const struct run8 *r, uint32_t c, int cw)
{
	uint64_t w[3];
	memcpy(w, q, sizeof w);
	return w[0] == r->w[0] && w[1] == r->w[1] && w[2] == r->w[2] &&
	       (cw == 8 || pixel(q + 24) == c);
}

/* Read a cell's colours and masks. p is its top left pixel. */
static void read_cell(const uint8_t *p, size_t stride, int cw, struct cellbits *cb)
{
	const uint16_t full = (uint16_t)((1u << cw) - 1);
	uint32_t c0 = pixel(p), c1 = NO_COLOUR;
	struct run8 r0;
	run8_fill(&r0, c0);

	/* The first pixel not of the first colour is the second colour. */
	for (int y = 0; y < CELL_H && c1 == NO_COLOUR; y++) {
		const uint8_t *q = p + (size_t)y * stride;
		if (row_is(q, &r0, c0, cw))
			continue;
		for (int x = 0; x < cw; x++, q += 3)
			if (pixel(q) != c0) {
				c1 = pixel(q);
				break;
			}
	}
	if (c1 == NO_COLOUR) {
		cb->bg = cb->fg = c0;
		cb->two_colour = 1;
		for (int y = 0; y < CELL_H; y++) {
			cb->b[y] = full;
			cb->f[y] = 0;
		}
		return;
	}

	int nb = 0, nf = 0;
	for (int y = 0; y < CELL_H; y++) {
		const uint8_t *q = p + (size_t)y * stride;
		unsigned m0 = 0, m1 = 0;
		if (row_is(q, &r0, c0, cw)) {
			/* Glyphs leave about a third of their rows blank. */
			m0 = full;
		} else {
			for (int x = 0; x < cw; x++, q += 3) {
				uint32_t c = pixel(q);
				m0 = m0 << 1 | (c == c0);
				m1 = m1 << 1 | (c == c1);
			}
		}
		cb->b[y] = (uint16_t)m0;
		cb->f[y] = (uint16_t)m1;
		nb += pop(m0);
		nf += pop(m1);
	}
	cb->bg = c0;
	cb->fg = c1;
	cb->two_colour = nb + nf == cw * CELL_H;

	if (!cb->two_colour) {
		top_two_colours(p, stride, cw, &cb->bg, &cb->fg);
		for (int y = 0; y < CELL_H; y++) {
			const uint8_t *q = p + (size_t)y * stride;
			unsigned mb = 0, mf = 0;
			for (int x = 0; x < cw; x++, q += 3) {
				uint32_t c = pixel(q);
				mb = mb << 1 | (c == cb->bg);
				mf = mf << 1 | (c == cb->fg);
			}
			cb->b[y] = (uint16_t)mb;
			cb->f[y] = (uint16_t)mf;
		}
		return;
	}
	/* The background is the more frequent colour. */
	if (nf > nb) {
		uint32_t t = cb->bg;
		cb->bg = cb->fg;
		cb->fg = t;
		for (int y = 0; y < CELL_H; y++) {
			uint16_t m = cb->b[y];
			cb->b[y] = cb->f[y];
			cb->f[y] = m;
		}
	}
}


/* Matching pixels of glyph rows g against the cell read with lit = on,
 * unlit = off, over the rows in rowmask (bit r = row r). */
static int score(const struct glyphset *gs, const uint16_t *g, const uint16_t *on,
		 const uint16_t *off, unsigned rowmask)
{
	int m = 0;
	for (int r = 0; r < CELL_H; r++)
		if (rowmask >> r & 1)
			m += pop(g[r] & on[r]) + pop(~g[r] & gs->full & off[r]);
	return m;
}

/* The best glyph over all distinct glyphs and both colour orders, rows in
 * rowmask only. */
static struct pick search(const struct glyphset *gs, const struct cellbits *cb, unsigned rowmask)
{
	struct pick best = { -1, 0x20, 0 };
	for (int i = 0; i < gs->nuniq; i++) {
		int c = gs->uniq[i];
		struct pick n = { score(gs, gs->row[c], cb->f, cb->b, rowmask), c, 0 };
		struct pick s = { score(gs, gs->row[c], cb->b, cb->f, rowmask), c, 1 };
		if (better(gs, &n, &best))
			best = n;
		if (better(gs, &s, &best))
			best = s;
	}
	return best;
}

static void put_rgb(uint8_t out[3], uint32_t c)
{
	out[0] = (uint8_t)(c >> 16);
	out[1] = (uint8_t)(c >> 8);
	out[2] = (uint8_t)c;
}

static void set_cell(struct text_cell *tc, const struct cellbits *cb, struct pick p, int total,
		     int cursor)
{
	tc->code = (uint8_t)p.code;
	put_rgb(tc->fg, p.swapped ? cb->bg : cb->fg);
	put_rgb(tc->bg, p.swapped ? cb->fg : cb->bg);
	tc->confidence = (float)p.match / (float)total;
	tc->cursor = (uint8_t)cursor;
}

/* The cursor reading of a cell whose rows 13-14 are solid in the colour of
 * on: the glyph that matches every other row. Among glyphs that differ
 * only there the one with fewer lit pixels wins, which is the one with
 * those rows blank when there is one: the exact lookup with them cleared. */
static int cursor_pick(const struct glyphset *gs, const struct cellbits *cb, int swapped,
		       struct pick *out)
{
	const uint16_t *on = swapped ? cb->b : cb->f;
	const uint16_t *off = swapped ? cb->f : cb->b;
	const int total = gs->cw * CELL_H;

	if (on[CURSOR_FIRST] != gs->full || on[CURSOR_LAST] != gs->full)
		return 0;
	if (cb->two_colour) {
		uint16_t rows[CELL_H];
		memcpy(rows, on, sizeof rows);
		rows[CURSOR_FIRST] = rows[CURSOR_LAST] = 0;
		int code = glyph_lookup(gs, rows);
		if (code >= 0) {
			*out = (struct pick){ total, code, swapped };
			return 1;
		}
	}
	const unsigned rowmask = 0xFFFF & ~(1u << CURSOR_FIRST | 1u << CURSOR_LAST);
	const int want = total - (CURSOR_LAST - CURSOR_FIRST + 1) * gs->cw;
	struct pick best = { -1, 0x20, swapped };
	for (int i = 0; i < gs->nuniq; i++) {
		struct pick p = { score(gs, gs->row[gs->uniq[i]], on, off, rowmask), gs->uniq[i],
				  swapped };
		if (p.match == want && better(gs, &p, &best))
			best = p;
	}
	if (best.match != want)
		return 0;
	best.match = total;
	*out = best;
	return 1;
}

static void decode_cell(const struct glyphset *gs, const struct cellbits *cb,
			struct text_cell *tc)
{
	const int total = gs->cw * CELL_H;

	if (cb->fg == cb->bg) {
		struct pick p = { total, 0x20, 0 };
		set_cell(tc, cb, p, total, 0);
		return;
	}
	if (cb->two_colour) {
		/* Exact: the foreground mask is a glyph, or (colours the other
		 * way round) the background mask is. */
		struct pick n = { total, glyph_lookup(gs, cb->f), 0 };
		/* read_cell made the background the more frequent colour, so
		 * the other reading has at least as many lit pixels: it can
		 * only win a tie, when the colours split the cell in half. */
		if (n.code >= 0 && 2 * gs->lit[n.code] < total) {
			set_cell(tc, cb, n, total, 0);
			return;
		}
		struct pick s = { total, glyph_lookup(gs, cb->b), 1 };
		if (n.code >= 0 && (s.code < 0 || better(gs, &n, &s))) {
			set_cell(tc, cb, n, total, 0);
			return;
		}
		if (s.code >= 0) {
			set_cell(tc, cb, s, total, 0);
			return;
		}
	}
	/* No glyph matches every pixel (a two-colour cell would have been
	 * found above; a third colour never matches), so this is where a
	 * cursor reading may apply. Only one colour can make rows 13-14
	 * solid, so at most one order of the colours qualifies. */
	struct pick p;
	if (cursor_pick(gs, cb, 0, &p) || cursor_pick(gs, cb, 1, &p)) {
		set_cell(tc, cb, p, total, 1);
		return;
	}
	set_cell(tc, cb, search(gs, cb, 0xFFFF), total, 0);
}

/* Is a text row's band of scan lines all one colour? Most rows of a text
 * screen are empty, and memcmp of a line against itself shifted by one
 * pixel (equal everywhere = every pixel the same) is the fastest test. */
static int blank_band(const uint8_t *line, size_t stride)
{
	uint32_t c = pixel(line);
	for (int y = 0; y < CELL_H; y++, line += stride)
		if (pixel(line) != c || memcmp(line, line + 3, stride - 3))
			return 0;
	return 1;
}

/* ------------------------------------------------------------------------
 * Framebuffer text: a VGA BIOS printing (int 10h teletype) in a VBE
 * graphics mode draws its 8x16 font pixel for pixel into the framebuffer,
 * as many cells as fit (1024x768: 128x48), with no 9th column and no
 * cursor. Such a frame reads exactly: every cell is two colours and one of
 * them draws a glyph. The grid is not assumed to start at the corner: of
 * the 8 x 16 possible origins, the first (in order from 0,0) at which
 * every cell reads exactly, and some cell draws a glyph, is the grid. At a
 * wrong origin the first glyph met straddles two cells and fails at once,
 * so the search costs little more than one reading. A resampled capture
 * never reads exactly: it falls through to capture_decode(). */

/* Is this cell exactly a glyph (or one colour)? Sets *inked for a glyph. */
static int cell_exact(const struct glyphset *gs, const uint8_t *p, size_t stride, int *inked)
{
	struct cellbits cb;
	read_cell(p, stride, gs->cw, &cb);
	if (cb.fg == cb.bg)
		return 1;
	if (!cb.two_colour || (glyph_lookup(gs, cb.f) < 0 && glyph_lookup(gs, cb.b) < 0))
		return 0;
	*inked = 1;
	return 1;
}

/* Does every cell of the grid at (ox, oy) read exactly, and is some cell
 * a glyph? uniform[y] is 1 where scan line y is one colour, the colour in
 * line_colour[y]: a band of such lines all alike is a row of spaces. */
static int fb_grid_reads(const struct frame *f, const struct glyphset *gs, int ox, int oy,
			 const uint8_t *uniform, const uint32_t *line_colour)
{
	const size_t stride = (size_t)f->width * 3;
	const int cols = (f->width - ox) / 8, rows = (f->height - oy) / CELL_H;
	int inked = 0;
	for (int r = 0; r < rows; r++) {
		const int y0 = oy + r * CELL_H;
		int blank = 1;
		for (int y = y0; y < y0 + CELL_H && blank; y++)
			blank = uniform[y] && line_colour[y] == line_colour[y0];
		if (blank)
			continue;
		const uint8_t *line = f->rgb + (size_t)y0 * stride + (size_t)ox * 3;
		for (int c = 0; c < cols; c++)
			if (!cell_exact(gs, line + (size_t)c * 8 * 3, stride, &inked))
				return 0;
	}
	return inked;
}

/* 1: framebuffer text found and read into out; 0: not such a frame;
 * -1: out of memory. */
static int decode_framebuffer(const struct frame *f, const struct glyphset *gs,
			      struct text_screen *out, struct hil_err *err)
{
	if (f->width < 8 || f->height < CELL_H)
		return 0;
	const size_t stride = (size_t)f->width * 3;
	uint8_t *uniform = malloc((size_t)f->height);
	uint32_t *line_colour = malloc((size_t)f->height * sizeof *line_colour);
	if (!uniform || !line_colour) {
		free(uniform);
		free(line_colour);
		hil_seterr(err, "out of memory");
		return -1;
	}
	for (int y = 0; y < f->height; y++) {
		const uint8_t *line = f->rgb + (size_t)y * stride;
		line_colour[y] = pixel(line);
		uniform[y] = !memcmp(line, line + 3, stride - 3);
	}

	int found = 0, ox = 0, oy = 0;
	for (int q = 0; q < 8 * CELL_H && !found; q++) {
		ox = q % 8;
		oy = q / 8;
		const int cols = (f->width - ox) / 8, rows = (f->height - oy) / CELL_H;
		if (cols >= 1 && rows >= 1 && cols <= TEXT_COLS_MAX && rows <= TEXT_ROWS_MAX)
			found = fb_grid_reads(f, gs, ox, oy, uniform, line_colour);
	}
	if (found) {
		out->cols = (f->width - ox) / 8;
		out->rows = (f->height - oy) / CELL_H;
		out->cell_w = 8;
		out->cell_h = CELL_H;
		out->origin_x = ox;
		out->origin_y = oy;
		for (int r = 0; r < out->rows; r++) {
			const uint8_t *line = f->rgb + (size_t)(oy + r * CELL_H) * stride +
					      (size_t)ox * 3;
			for (int c = 0; c < out->cols; c++) {
				struct cellbits cb;
				read_cell(line + (size_t)c * 8 * 3, stride, 8, &cb);
				decode_cell(gs, &cb, &out->cell[r][c]);
			}
		}
	}
	free(uniform);
	free(line_colour);
	return found;
}

/* Cells read as a glyph (not one colour) with a confidence below
 * NOT_PIXEL_EXACT, and how many were read as a glyph at all. In a clean
 * frame of text mode's size few are, even in another font; in a JPEG of it
 * most are. */
#define NOT_PIXEL_EXACT 0.9f
static int unsure_glyphs(const struct text_screen *s, int *glyphs)
{
	int n = 0;
	*glyphs = 0;
	for (int r = 0; r < s->rows; r++)
		for (int c = 0; c < s->cols; c++) {
			const struct text_cell *tc = &s->cell[r][c];
			if (!memcmp(tc->fg, tc->bg, 3))
				continue;
			++*glyphs;
			n += tc->confidence < NOT_PIXEL_EXACT;
		}
	return n;
}

/* A reader (textmode.h): the glyph tables of its font, and what it keeps
 * of captures between frames. */
struct textmode_reader {
	struct glyphset gs[2];            /* 9- and 8-pixel cells */
	struct capture_memory *captures;  /* owned */
	struct textmode_stats stats;
};

static int read_capture(struct textmode_reader *rd, const struct frame *f,
			struct text_screen *out, struct hil_err *err)
{
	return capture_decode(rd->captures, rd->gs, f, out, &rd->stats, err);
}

struct textmode_reader *textmode_reader_new(const struct vgafont *font,
					    enum ninth_column_rule rule, struct hil_err *err)
{
	if (font->width != 8 || font->height != CELL_H) {
		hil_seterr(err, "unsupported font %dx%d (this decoder reads 8x16)", font->width,
			   font->height);
		return NULL;
	}
	struct textmode_reader *rd = calloc(1, sizeof *rd);
	if (rd)
		rd->captures = capture_memory_new();
	if (!rd || !rd->captures) {
		free(rd);
		hil_seterr(err, "out of memory");
		return NULL;
	}
	for (int i = 0; i < 2; i++)
		glyphset_build(&rd->gs[i], font, i ? 8 : 9, rule);
	return rd;
}

void textmode_reader_free(struct textmode_reader *rd)
{
	if (!rd)
		return;
	capture_memory_free(rd->captures);
	free(rd);
}

struct textmode_stats textmode_reader_stats(const struct textmode_reader *rd)
{
	return rd->stats;
}

int textmode_read(struct textmode_reader *rd, const struct frame *f, struct text_screen *out,
		  struct hil_err *err)
{
	if (!f || !f->rgb || f->width < 1 || f->height < 1) {
		hil_seterr(err, "no frame to decode");
		return -1;
	}
	int cw;
	if (f->width == 720 && f->height == 400) {
		cw = 9;
	} else if (f->width == 640 && f->height == 400) {
		cw = 8;
	} else {
		/* Anything else is text drawn into a framebuffer, or a
		 * capture of the screen, resampled. A size whose grid the
		 * reader knows is a capture: looked at as one first. */
		const int known = capture_knows(rd->captures, f->width, f->height);
		int rc = known ? read_capture(rd, f, out, err) : TEXTMODE_UNSUPPORTED;
		if (rc != TEXTMODE_UNSUPPORTED)
			return rc;
		struct hil_err fb_err;
		int fb = decode_framebuffer(f, &rd->gs[1], out, &fb_err);
		if (fb) {
			if (fb < 0)
				*err = fb_err;
			return fb < 0 ? -1 : 0;
		}
		return known ? rc : read_capture(rd, f, out, err);
	}
	const struct glyphset *gs = &rd->gs[cw == 9 ? 0 : 1];

	out->cols = f->width / cw;
	out->rows = f->height / CELL_H;
	out->cell_w = cw;
	out->cell_h = CELL_H;
	out->origin_x = 0;
	out->origin_y = 0;

	const size_t stride = (size_t)f->width * 3;
	for (int row = 0; row < out->rows; row++) {
		const uint8_t *line = f->rgb + (size_t)row * CELL_H * stride;
		if (blank_band(line, stride)) {
			struct cellbits cb = { .fg = pixel(line), .bg = pixel(line) };
			struct pick space = { cw * CELL_H, 0x20, 0 };
			for (int col = 0; col < out->cols; col++)
				set_cell(&out->cell[row][col], &cb, space, cw * CELL_H, 0);
			continue;
		}
		for (int col = 0; col < out->cols; col++) {
			struct cellbits cb;
			read_cell(line + (size_t)col * cw * 3, stride, cw, &cb);
			decode_cell(gs, &cb, &out->cell[row][col]);
		}
	}
	/* Text mode's size, but not its pixels (a capture at 1:1, JPEG):
	 * read as a capture, if that reads better. Such a reading is never
	 * trusted (scale 1 < LOW_SCALE). */
	int glyphs, unsure = unsure_glyphs(out, &glyphs);
	if (unsure > 0 && 4 * unsure > glyphs) {
		struct text_screen *alt = malloc(sizeof *alt);
		struct hil_err alt_err;
		int alt_glyphs;
		if (alt && read_capture(rd, f, alt, &alt_err) == 0 &&
		    unsure_glyphs(alt, &alt_glyphs) < unsure)
			memcpy(out, alt, sizeof *out);
		free(alt);
	}
	return 0;
}

int textmode_decode(const struct frame *f, const struct vgafont *font,
		    enum ninth_column_rule rule, struct text_screen *out, struct hil_err *err)
{
	struct textmode_reader *rd = textmode_reader_new(font, rule, err);
	if (!rd)
		return -1;
	int rc = textmode_read(rd, f, out, err);
	textmode_reader_free(rd);
	return rc;
}

/* Index one past the last cell of row r that does not read as a space
 * (0 if none or no such row). 0x00 is a space in UTF-8 but not in ASCII,
 * where it is '?' like every other non-printable code. */
static int row_end(const struct text_screen *s, int r, int utf8)
{
	if (r < 0 || r >= s->rows)
		return 0;
	int end = s->cols;
	while (end > 0) {
		uint8_t code = s->cell[r][end - 1].code;
		if (code != 0x20 && !(utf8 && cp437_to_unicode(code) == 0x20))
			break;
		end--;
	}
	return end;
}

void textmode_row_utf8(const struct text_screen *s, int r, char *buf)
{
	int end = row_end(s, r, 1), n = 0;
	for (int c = 0; c < end; c++)
		n += utf8_encode(cp437_to_unicode(s->cell[r][c].code), buf + n);
	buf[n] = 0;
}

void textmode_row_ascii(const struct text_screen *s, int r, char *buf)
{
	int end = row_end(s, r, 0);
	for (int c = 0; c < end; c++) {
		uint8_t code = s->cell[r][c].code;
		buf[c] = code >= 0x20 && code <= 0x7E ? (char)code : '?';
	}
	buf[end] = 0;
}

char *textmode_text(const struct text_screen *s)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[TEXT_COLS_MAX * 4 + 1];
	size_t keep = 0; /* length up to the last row with text */
	for (int r = 0; r < s->rows; r++) {
		textmode_row_utf8(s, r, buf);
		if (r)
			sb_adds(&sb, "\n");
		sb_adds(&sb, buf);
		if (*buf)
			keep = sb.len;
	}
	char *text = sb_detach(&sb);
	text[keep] = '\0';
	return text;
}

float textmode_min_confidence(const struct text_screen *s)
{
	/* An empty screen has nothing to trust. */
	if (s->rows < 1 || s->cols < 1)
		return 0.0f;
	float min = 1.0f;
	for (int r = 0; r < s->rows; r++)
		for (int c = 0; c < s->cols; c++)
			if (s->cell[r][c].confidence < min)
				min = s->cell[r][c].confidence;
	return min;
}
