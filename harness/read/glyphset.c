/* glyphset: see glyphset.h. */
#include "glyphset.h"

#include <string.h>

/* The rows packed for nearest() in captures (capture_cells.c). */
struct packed glyph_pack(const uint16_t *rows, int cw)
{
	struct packed p = { 0, 0, 0 };
	for (int r = 0; r < 16; r++) {
		unsigned main = cw == 9 ? rows[r] >> 1 & 0xFF : rows[r] & 0xFF;
		if (r < 8)
			p.lo |= (uint64_t)main << (8 * r);
		else
			p.hi |= (uint64_t)main << (8 * (r - 8));
		if (cw == 9)
			p.nine |= (uint16_t)((rows[r] & 1) << r);
	}
	return p;
}

/* glyph_distances(), counting bits with the processor's popcnt (hw) or
 * without (pop64()). */
static inline __attribute__((always_inline)) void distances(const struct glyphset *gs,
							      const struct packed *c,
							      const struct packed *m, int *d8,
							      int *nine, int hw)
{
	for (int i = 0; i < gs->nuniq; i++) {
		const struct packed *g = &gs->pk[gs->uniq[i]];
		const uint64_t lo = (g->lo ^ c->lo) & m->lo, hi = (g->hi ^ c->hi) & m->hi;
		const uint64_t n9 = (uint64_t)((g->nine ^ c->nine) & m->nine);
		d8[i] = hw ? __builtin_popcountll(lo) + __builtin_popcountll(hi) : pop64(lo) + pop64(hi);
		nine[i] = hw ? __builtin_popcountll(n9) : pop64(n9);
	}
}

#if defined(__x86_64__)
/* A few instructions a glyph, not a few dozen: the capture reader's
 * nearest glyphs are counted for every cell it reads in full. */
__attribute__((target("popcnt"))) static void distances_popcnt(const struct glyphset *gs,
							       const struct packed *c,
							       const struct packed *m, int *d8,
							       int *nine)
{
	distances(gs, c, m, d8, nine, 1);
}
#endif

void glyph_distances(const struct glyphset *gs, const struct packed *c, const struct packed *m,
		     int *d8, int *nine)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("popcnt")) {
		distances_popcnt(gs, c, m, d8, nine);
		return;
	}
#endif
	distances(gs, c, m, d8, nine, 0);
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

void glyphset_build(struct glyphset *gs, const struct vgafont *font, int cw,
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
		gs->pk[c] = glyph_pack(gs->row[c], cw);
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

int glyph_lookup(const struct glyphset *gs, const uint16_t *rows)
{
	return gs->slot[find_slot(gs, rows)];
}
