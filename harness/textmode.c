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
 * the rows; for ones with descenders it is what the card actually shows. */
#include "textmode.h"

#include <string.h>

#define CELL_H 16
#define CURSOR_FIRST 13
#define CURSOR_LAST 14
#define HASH_SLOTS 512 /* power of two, at least twice the 256 glyphs */
#define NO_COLOUR 0xFFFFFFFFu

struct glyphset {
	int cw;
	uint16_t full; /* all cw bits */
	uint16_t row[256][CELL_H];
	uint8_t lit[256];   /* lit pixels, at most 9 * 16 */
	int nuniq;
	uint8_t uniq[256];  /* canonical codes of the distinct glyphs */
	int16_t slot[HASH_SLOTS]; /* canonical code, or -1 */
};

/* What one cell holds: its two colours and where they are. */
struct cellbits {
	uint32_t fg, bg;     /* 0xRRGGBB */
	uint16_t f[CELL_H];  /* pixel == fg */
	uint16_t b[CELL_H];  /* pixel == bg */
	int two_colour;      /* no pixel is of a third colour */
};

/* A candidate reading: matching pixels, glyph, and whether the colours are
 * the other way round from struct cellbits'. */
struct pick {
	int match, code, swapped;
};

/* Set bits of a cell row (at most 9): a table, because without -mpopcnt
 * __builtin_popcount is a library call, and it is in the inner loops. */
#define P2(n) n, n + 1, n + 1, n + 2
#define P4(n) P2(n), P2(n + 1), P2(n + 1), P2(n + 2)
#define P6(n) P4(n), P4(n + 1), P4(n + 1), P4(n + 2)
static const uint8_t popcount8[256] = { P6(0), P6(1), P6(1), P6(2) };

static inline int pop(unsigned row)
{
	return popcount8[row & 0xFF] + (row >> 8 & 1);
}

static uint64_t hash_rows(const uint16_t *rows)
{
	uint64_t h = 0;
	for (int i = 0; i < CELL_H; i += 4) {
		uint64_t chunk = (uint64_t)rows[i] | (uint64_t)rows[i + 1] << 16 |
				 (uint64_t)rows[i + 2] << 32 | (uint64_t)rows[i + 3] << 48;
		h = (h ^ chunk) * 0x9E3779B97F4A7C15ull;
		h ^= h >> 29;
	}
	return h;
}

/* The slot that holds rows, or the empty slot where they would go. */
static int find_slot(const struct glyphset *gs, const uint16_t *rows)
{
	unsigned i = (unsigned)(hash_rows(rows) >> 32) & (HASH_SLOTS - 1);
	while (gs->slot[i] >= 0 && memcmp(gs->row[gs->slot[i]], rows, sizeof gs->row[0]))
		i = (i + 1) & (HASH_SLOTS - 1);
	return (int)i;
}

static int ninth_copies(enum ninth_column_rule rule, int code)
{
	return rule == NINTH_QEMU ? code >= 0xB0 && code <= 0xDF : code >= 0xC0 && code <= 0xDF;
}

static void glyphset_build(struct glyphset *gs, const struct vgafont *font, int cw,
			   enum ninth_column_rule rule)
{
	gs->cw = cw;
	gs->full = (uint16_t)((1u << cw) - 1);
	gs->nuniq = 0;
	for (int i = 0; i < HASH_SLOTS; i++)
		gs->slot[i] = -1;

	int space_blank = 1;
	for (int r = 0; r < CELL_H; r++)
		space_blank &= font->glyph[0x20][r] == 0;

	for (int c = 0; c < 256; c++) {
		int lit = 0;
		for (int r = 0; r < CELL_H; r++) {
			unsigned bits = font->glyph[c][r];
			if (cw == 9)
				bits = bits << 1 | (ninth_copies(rule, c) ? bits & 1 : 0);
			gs->row[c][r] = (uint16_t)bits;
			lit += pop(bits);
		}
		gs->lit[c] = (uint8_t)lit;
	}
	/* Identical glyphs read as the lowest code, except that blank ones
	 * read as a space: 0x00 and 0xFF look the same and mean nothing else
	 * on a screen. The row table of the canonical code is what the hash
	 * compares against, so blank goes in under 0x20 first. */
	int order[257], n = 0;
	if (space_blank)
		order[n++] = 0x20;
	for (int c = 0; c < 256; c++)
		if (!(space_blank && c == 0x20))
			order[n++] = c;
	for (int i = 0; i < n; i++) {
		int c = order[i];
		int s = find_slot(gs, gs->row[c]);
		if (gs->slot[s] < 0) {
			gs->slot[s] = (int16_t)c;
			gs->uniq[gs->nuniq++] = (uint8_t)c;
		}
	}
}

static int lookup(const struct glyphset *gs, const uint16_t *rows)
{
	return gs->slot[find_slot(gs, rows)];
}

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

/* Is a better than b? More matching pixels; then the glyph with fewer lit
 * pixels (text is mostly background); then the lower code. */
static int better(const struct glyphset *gs, const struct pick *a, const struct pick *b)
{
	if (a->match != b->match)
		return a->match > b->match;
	if (gs->lit[a->code] != gs->lit[b->code])
		return gs->lit[a->code] < gs->lit[b->code];
	return a->code < b->code;
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
		int code = lookup(gs, rows);
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
		struct pick n = { total, lookup(gs, cb->f), 0 };
		/* read_cell made the background the more frequent colour, so
		 * the other reading has at least as many lit pixels: it can
		 * only win a tie, when the colours split the cell in half. */
		if (n.code >= 0 && 2 * gs->lit[n.code] < total) {
			set_cell(tc, cb, n, total, 0);
			return;
		}
		struct pick s = { total, lookup(gs, cb->b), 1 };
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

int textmode_decode(const struct frame *f, const struct vgafont *font,
		    enum ninth_column_rule rule, struct text_screen *out, struct hil_err *err)
{
	if (!f || !f->rgb || f->width < 1 || f->height < 1) {
		hil_seterr(err, "no frame to decode");
		return -1;
	}
	if (font->width != 8 || font->height != CELL_H) {
		hil_seterr(err, "unsupported font %dx%d (this decoder reads 8x16)", font->width,
			   font->height);
		return -1;
	}
	int cw;
	if (f->width == 720 && f->height == 400) {
		cw = 9;
	} else if (f->width == 640 && f->height == 400) {
		cw = 8;
	} else {
		hil_seterr(err,
			   "unsupported text geometry %dx%d (this decoder reads 720x400 and 640x400)",
			   f->width, f->height);
		return TEXTMODE_UNSUPPORTED;
	}

	/* 25 KiB of tables, rebuilt per call: a few microseconds, and no
	 * state shared between callers. */
	struct glyphset gs;
	glyphset_build(&gs, font, cw, rule);

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
			decode_cell(&gs, &cb, &out->cell[row][col]);
		}
	}
	return 0;
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
