/* glyphset: a font's glyphs as the text decoder matches them, in cells 9
 * or 8 pixels wide: 16 row masks per glyph (bit cw-1 is the leftmost
 * pixel), lit pixels, the distinct glyphs and a hash table to find one by
 * its rows, the rows packed for counting differences; and the rule that
 * breaks ties between readings (better()). Internal to the text decoder
 * (textmode.h): the reader of native frames (textmode.c) and the capture
 * reader (capture*.c) both read cells with it.
 *
 * Ownership: a struct glyphset is plain data, built once per reader by
 * glyphset_build(); the capture reader adds the tables only captures need
 * (twin9, evidence) the first time it reads. */
#ifndef HIL_GLYPHSET_H
#define HIL_GLYPHSET_H

#include <stdint.h>
#include "textmode.h"

#define CELL_H 16
#define CURSOR_FIRST 13
#define CURSOR_LAST 14
#define HASH_SLOTS 512 /* power of two, at least twice the 256 glyphs */

/* A cell's 16 rows packed for counting differences 64 pixels at a time:
 * the first 8 columns of rows 0-7 and 8-15 (a byte per row), and the 9th
 * column (bit r = row r; 0 in 8-pixel cells). */
struct packed {
	uint64_t lo, hi;
	uint16_t nine;
};

struct glyphset {
	int cw;
	uint16_t full; /* all cw bits */
	uint16_t row[256][CELL_H];
	uint8_t lit[256];   /* lit pixels, at most 9 * 16 */
	int nuniq;
	uint8_t uniq[256];  /* canonical codes of the distinct glyphs */
	int16_t slot[HASH_SLOTS]; /* canonical code, or -1 */
	/* Scaled frames only (see nine_twins()): the glyph has a twin that
	 * draws its 8 columns the same, in the same or swapped colours, and
	 * differs only in the 9th. */
	uint8_t twin9[256];
	/* Scaled frames only (see grid_evidence()): the glyph, read exactly,
	 * says the grid is right. */
	uint8_t evidence[256];
	/* Scaled frames only (see glyph_pack()): the rows packed for nearest(). */
	struct packed pk[256];
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

/* Set bits of a 64-bit word, without a library call (no -mpopcnt). */
static inline int pop64(uint64_t x)
{
	x -= x >> 1 & 0x5555555555555555ull;
	x = (x & 0x3333333333333333ull) + (x >> 2 & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
	return (int)((x * 0x0101010101010101ull) >> 56);
}

/* A candidate reading: matching pixels, glyph, and whether the colours are
 * the other way round from how the cell was read. */
struct pick {
	int match, code, swapped;
};

/* Is a better than b? More matching pixels; then the glyph with fewer lit
 * pixels (text is mostly background); then the lower code. */
static inline int better(const struct glyphset *gs, const struct pick *a, const struct pick *b)
{
	if (a->match != b->match)
		return a->match > b->match;
	if (gs->lit[a->code] != gs->lit[b->code])
		return gs->lit[a->code] < gs->lit[b->code];
	return a->code < b->code;
}

/* Fill gs with font's glyphs in cw-pixel cells (9: the 9th column a copy
 * of the 8th for the codes rule says, else blank). */
void glyphset_build(struct glyphset *gs, const struct vgafont *font, int cw,
		    enum ninth_column_rule rule);
/* A glyph's rows packed (struct packed). */
struct packed glyph_pack(const uint16_t *rows, int cw);
/* How far packed rows c are from each distinct glyph (gs->uniq[i]) on
 * the pixels of mask m: the differing pixels of the first 8 columns in
 * d8[i], of the 9th in nine[i]. */
void glyph_distances(const struct glyphset *gs, const struct packed *c, const struct packed *m,
		     int *d8, int *nine);
/* The canonical code of the glyph drawn by rows exactly, or -1. */
int glyph_lookup(const struct glyphset *gs, const uint16_t *rows);

/* Does a glyph mean ink (neither blank nor solid)? */
static inline int inked(const struct glyphset *gs, int code)
{
	return gs->lit[code] > 0 && gs->lit[code] < gs->cw * CELL_H;
}

#endif
