/* judge: see judge.h. */
#include "judge.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vgafont.h"

/* Lowercase, collapse runs of spaces, trim. Returns a new string. */
static char *normalise(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t j = 0;
	int space = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isspace(c)) {
			if (!space)
				out[j++] = ' ';
			space = 1;
			continue;
		}
		out[j++] = (char)tolower(c);
		space = 0;
	}
	while (j && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
	return out;
}

/* Sellers' algorithm: the least edit distance between needle and any
 * substring of text (a match may start and end anywhere in text). */
static size_t substring_distance(const char *text, const char *needle)
{
	size_t m = strlen(needle), n = strlen(text);
	size_t *prev = xmalloc((m + 1) * sizeof *prev), *cur = xmalloc((m + 1) * sizeof *cur);
	for (size_t i = 0; i <= m; i++)
		prev[i] = i;
	size_t best = prev[m];
	for (size_t j = 1; j <= n; j++) {
		cur[0] = 0;
		for (size_t i = 1; i <= m; i++) {
			size_t sub = prev[i - 1] + (needle[i - 1] != text[j - 1]);
			size_t del = prev[i] + 1, ins = cur[i - 1] + 1;
			cur[i] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		if (cur[m] < best)
			best = cur[m];
		size_t *t = prev;
		prev = cur;
		cur = t;
	}
	free(prev);
	free(cur);
	return best;
}

double judge_similarity(const char *line, size_t line_len, const char *needle)
{
	char *l = normalise(line, line_len), *nd = normalise(needle, strlen(needle));
	size_t m = strlen(nd);
	double score = 1.0;
	if (m) {
		size_t d = substring_distance(l, nd);
		score = d >= m ? 0.0 : 1.0 - (double)d / (double)m;
	}
	free(l);
	free(nd);
	return score;
}

int judge_find(const char *screen_text, const char *needle, double threshold,
	       struct text_match *m)
{
	m->score = 0;
	m->line = -1;
	const char *p = screen_text;
	for (int no = 0; p && *p; no++) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		double s = judge_similarity(p, len, needle);
		if (s > m->score) {
			m->score = s;
			m->line = no;
		}
		p = eol ? eol + 1 : NULL;
	}
	return m->score >= threshold;
}

static void because(struct judgement *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void because(struct judgement *j, const char *fmt, ...)
{
	j->ok = 0;
	if (j->why[0])
		return; /* the first mismatch is the one that counts */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->why, sizeof j->why, fmt, ap);
	va_end(ap);
}

/* Row r of an exact reading as the guest would have written it. */
static void screen_row(const struct reading *rd, int row, char *buf)
{
	buf[0] = '\0';
	if (row >= 0 && row < rd->screen->rows)
		textmode_row_ascii(rd->screen, row, buf);
}

struct judgement judge_post_banner(const struct reading *rd, json_t *evidence)
{
	struct judgement j = { .ok = 1 };
	json_object_set_new(evidence, "expected", json_string(JUDGE_SEABIOS_BANNER));
	if (rd->grid) {
		char buf[TEXT_COLS_MAX * 3 + 1];
		for (int row = 0; row < rd->screen->rows; row++) {
			screen_row(rd, row, buf);
			if (strstr(buf, JUDGE_SEABIOS_BANNER)) {
				json_object_set_new(evidence, "match",
						    json_pack("{s:i, s:s}", "row", row, "text", buf));
				return j;
			}
		}
		json_object_set_new(evidence, "match", json_null());
		because(&j, "no row of the screen shows the firmware's banner");
		return j;
	}
	struct text_match m;
	if (!judge_find(rd->text, JUDGE_SEABIOS_BANNER, JUDGE_POST_THRESHOLD, &m))
		because(&j, "the firmware's banner is not on the screen (best %.2f)", m.score);
	json_object_set_new(evidence, "match", json_pack("{s:f, s:i, s:f}", "score", m.score, "line",
							 m.line, "threshold", JUDGE_POST_THRESHOLD));
	return j;
}

struct judgement judge_post_drawn(const struct frame *f, const char *decoded, json_t *evidence)
{
	struct judgement j = { .ok = 1 };
	const size_t n = (size_t)f->width * (size_t)f->height;
	size_t differ = 0;
	for (size_t i = 1; i < n; i++)
		differ += memcmp(f->rgb, f->rgb + i * 3, 3) != 0;
	json_object_set_new(evidence, "rule", json_string("the firmware drew on the screen"));
	json_object_set_new(evidence, "pixels_not_background", json_integer((json_int_t)differ));
	if (!differ) {
		because(&j, "the %dx%d screen is one colour: nothing drawn", f->width, f->height);
	} else if (decoded && strstr(decoded, JUDGE_QEMU_PLACEHOLDER)) {
		because(&j, "QEMU's placeholder (\"%s\"): the firmware never set up the display",
			JUDGE_QEMU_PLACEHOLDER);
		j.placeholder = 1;
	}
	return j;
}

/* The guest saw the card under test among its PCI display devices. */
static void card_seen(const struct guest_said *g, const char *want, json_t *evidence,
		      struct judgement *j)
{
	int seen = 0;
	size_t i;
	json_t *dev;
	json_array_foreach(g->pci, i, dev)
		seen |= !strcmp(json_string_value(json_object_get(dev, "id")) ?: "", want);
	json_object_set_new(evidence, "card_pci_id", json_string(want));
	json_object_set_new(evidence, "card_seen_by_guest", json_boolean(seen));
	if (!seen)
		because(j, "the guest found no PCI display device %s", want);
}

struct judgement judge_text(const struct reading *rd, const struct guest_said *g,
			    const char *card_pci_id, json_t *evidence)
{
	struct judgement j = { .ok = 1 };
	json_t *matches = json_array();
	size_t i;
	json_t *line;
	if (json_array_size(g->text_lines) == 0)
		because(&j, "the guest reported no text lines");
	if (rd->grid) {
		/* Exact: each reported line is the whole text of its row. */
		char buf[TEXT_COLS_MAX * 3 + 1];
		json_array_foreach(g->text_lines, i, line) {
			const char *text = json_string_value(json_object_get(line, "text"));
			int row = (int)json_integer_value(json_object_get(line, "row"));
			screen_row(rd, row, buf);
			int found = !strcmp(buf, text);
			json_array_append_new(matches, json_pack("{s:i, s:s, s:s, s:b}", "row", row,
								 "expected", text, "screen", buf,
								 "found", found));
			if (!found)
				because(&j, "row %d shows '%s', the guest wrote '%s'", row, buf, text);
		}
		json_object_set_new(evidence, "match_rule", json_string("exact, at the reported row"));
	} else {
		json_array_foreach(g->text_lines, i, line) {
			const char *text = json_string_value(json_object_get(line, "text"));
			struct text_match m;
			int found = judge_find(rd->text, text, JUDGE_TEXT_THRESHOLD, &m);
			json_array_append_new(matches,
					      json_pack("{s:O, s:s, s:f, s:i, s:b}", "row",
							json_object_get(line, "row"), "expected", text,
							"score", m.score, "line", m.line, "found", found));
			if (!found)
				because(&j, "reported line not on screen: '%s' (best %.2f)", text, m.score);
		}
		json_object_set_new(evidence, "threshold", json_real(JUDGE_TEXT_THRESHOLD));
	}
	json_object_set_new(evidence, "lines", matches);
	if (card_pci_id)
		card_seen(g, card_pci_id, evidence, &j);
	return j;
}

/* Expected characters and the glyph codes read for them, across a screen. */
struct font_map {
	int seen[128];       /* expected character -> code read + 1 (0: not yet seen) */
	int cells, differ;   /* expected cells with ink; of those, read otherwise */
};

/* Compare expected text against the grid reading of row at col; 1 if it
 * is consistent with the map so far (which it extends), 0 if not (the map
 * is then not to be trusted further: callers start again from a copy). */
static int map_row(struct font_map *m, const struct text_screen *scr, int row, int col,
		   const char *expected, size_t n)
{
	if (row < 0 || row >= scr->rows || col < 0 || col + (int)n > scr->cols)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char want = (unsigned char)expected[i];
		unsigned got = scr->cell[row][col + (int)i].code;
		int want_ink = want != ' ', got_ink = got != ' ' && got != 0 && got != 0xFF;
		if (want >= 128 || want_ink != got_ink)
			return 0;
		if (!want_ink)
			continue;
		if (m->seen[want] && m->seen[want] != (int)got + 1)
			return 0; /* one character, two glyphs: not a font */
		m->seen[want] = (int)got + 1;
		m->cells++;
		m->differ += got != want;
	}
	return 1;
}

/* The substitutions of a map in words: "S read as 5 (2 cells)". */
static void map_words(const struct font_map *m, struct judgement *j, json_t *evidence)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *subs = json_object();
	for (int c = 33; c < 127; c++) {
		if (!m->seen[c] || m->seen[c] - 1 == c)
			continue;
		char ch[5] = { 0 }, key[2] = { (char)c, 0 };
		utf8_encode(cp437_to_unicode((uint8_t)(m->seen[c] - 1)), ch);
		sb_addf(&sb, "%s%c as %s", sb.len ? ", " : "", c, ch);
		json_object_set_new(subs, key, json_string(ch));
	}
	snprintf(j->why, sizeof j->why,
		 "the card's glyphs differ from the decoder's font in %d of %d cells (%s)", m->differ,
		 m->cells, sb_str(&sb));
	json_object_set_new(evidence, "other_font",
			    json_pack("{s:i, s:i, s:o}", "cells", m->cells, "differ", m->differ,
				      "read_as", subs));
	sb_release(&sb);
}

struct judgement judge_other_font(const struct reading *rd, const struct guest_said *g,
				  int banner, json_t *evidence)
{
	struct judgement j = { 0 };
	if (!rd->grid)
		return j;
	const struct text_screen *scr = rd->screen;
	struct font_map m = { .cells = 0 };
	int ok = 0;
	if (banner) {
		/* Anywhere on a row, as the post rule looks for it. */
		const size_t n = strlen(JUDGE_SEABIOS_BANNER);
		for (int row = 0; row < scr->rows && !ok; row++)
			for (int col = 0; col + (int)n <= scr->cols && !ok; col++) {
				m = (struct font_map){ .cells = 0 };
				ok = map_row(&m, scr, row, col, JUDGE_SEABIOS_BANNER, n) && m.differ &&
				     2 * m.differ <= m.cells;
			}
	} else {
		/* Each reported line is the whole of its row. */
		size_t i;
		json_t *line;
		ok = json_array_size(g->text_lines) > 0;
		json_array_foreach(g->text_lines, i, line) {
			const char *text = json_string_value(json_object_get(line, "text")) ?: "";
			int row = (int)json_integer_value(json_object_get(line, "row"));
			ok = ok && map_row(&m, scr, row, 0, text, strlen(text));
			/* ... and nothing after it on the row */
			for (int col = (int)strlen(text); ok && row >= 0 && row < scr->rows && col < scr->cols;
			     col++)
				ok = scr->cell[row][col].code == ' ' || scr->cell[row][col].code == 0;
		}
		ok = ok && m.differ && 2 * m.differ <= m.cells;
	}
	if (ok) {
		j.ok = 1;
		map_words(&m, &j, evidence);
	}
	return j;
}

struct judgement judge_post_fb(const char *decoded, const struct guest_said *g, json_t *evidence)
{
	struct judgement j = { .ok = 1 };
	json_object_set_new(evidence, "rule",
			    json_string("the firmware set up a framebuffer the guest's OS took over"));
	json_object_set(evidence, "firmware_fb", g->firmware_fb ? g->firmware_fb : json_null());
	if (decoded && strstr(decoded, JUDGE_QEMU_PLACEHOLDER)) {
		because(&j, "QEMU's placeholder (\"%s\"): the firmware never set up the display",
			JUDGE_QEMU_PLACEHOLDER);
		j.placeholder = 1;
	} else if (!json_array_size(g->firmware_fb)) {
		because(&j, "the guest found no framebuffer the firmware set up (its /proc/fb was "
			    "empty before any driver loaded)");
	}
	return j;
}

/* The facts in said.driver[key] whose field is value. */
static json_t *facts_for(const struct guest_said *g, const char *key, const char *field,
			 const char *value)
{
	json_t *out = json_array();
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(g->driver, key), i, f) {
		const char *v = json_string_value(json_object_get(f, field));
		/* devices are "0000:00:02.0" in the kernel's words, "00:02.0" in
		 * the guest's reports of PCI */
		if (v && (!strcmp(v, value) || (strlen(v) > strlen(value) &&
						!strcmp(v + strlen(v) - strlen(value), value) &&
						v[strlen(v) - strlen(value) - 1] == ':')))
			json_array_append(out, f);
	}
	return out;
}

struct judgement judge_driver(const struct guest_said *g, const char *card_pci_id, json_t *evidence)
{
	struct judgement j = { .ok = 1 };
	const char *bdf = NULL;
	size_t i;
	json_t *dev;
	json_array_foreach(g->pci, i, dev)
		if (!strcmp(json_string_value(json_object_get(dev, "id")) ?: "", card_pci_id))
			bdf = json_string_value(json_object_get(dev, "bdf"));
	json_object_set_new(evidence, "card_pci_id", json_string(card_pci_id));
	if (!bdf) {
		because(&j, "the guest found no PCI display device %s", card_pci_id);
		snprintf(j.verdict, sizeof j.verdict, "fail:no-driver");
		return j;
	}
	json_object_set_new(evidence, "card_bdf", json_string(bdf));
	json_t *modules = facts_for(g, "modules", "dev", bdf), *bound = facts_for(g, "bound", "bdf", bdf);
	json_t *drm = facts_for(g, "drm", "bdf", bdf), *probe = facts_for(g, "probe_errors", "dev", bdf);
	json_t *deferred = facts_for(g, "deferred", "dev", bdf);
	json_t *firmware = json_object_get(g->driver, "firmware_missing");
	const char *pci_driver = json_string_value(json_object_get(json_array_get(bound, 0), "driver"));
	const char *drm_name = json_string_value(json_object_get(json_array_get(drm, 0), "name"));
	/* The card's driver: its DRM card's (virtio-gpu's hangs off virtio-pci),
	 * else what bound to the PCI device (an fbdev-only driver). */
	const char *driver = drm_name ? drm_name : pci_driver;
	json_object_set_new(evidence, "modules", modules);
	json_object_set_new(evidence, "pci_driver", pci_driver ? json_string(pci_driver) : json_null());
	json_object_set_new(evidence, "drm", drm);
	json_object_set_new(evidence, "driver", driver ? json_string(driver) : json_null());
	if (json_array_size(probe)) {
		json_t *first = json_array_get(probe, 0);
		const char *err = json_string_value(json_object_get(first, "errno")) ?: "?";
		because(&j, "%s's probe of %s failed with error %s",
			json_string_value(json_object_get(first, "driver")) ?: "a driver", bdf, err);
		snprintf(j.verdict, sizeof j.verdict, "fail:driver-probe(%s)", err);
	} else if (json_array_size(firmware) && !drm_name) {
		json_t *first = json_array_get(firmware, 0);
		because(&j, "the driver's firmware %s could not be loaded (error %s)",
			json_string_value(json_object_get(first, "name")) ?: "?",
			json_string_value(json_object_get(first, "errno")) ?: "?");
		snprintf(j.verdict, sizeof j.verdict, "fail:driver-firmware");
	} else if (json_array_size(deferred) && !driver) {
		because(&j, "the probe of %s was deferred and never completed", bdf);
		snprintf(j.verdict, sizeof j.verdict, "fail:no-driver");
	} else if (!driver || (!drm_name && (!strcmp(driver, "virtio-pci") || !strcmp(driver, "pcieport")))) {
		if (json_array_size(modules))
			because(&j, "%s loaded, but no driver bound to %s (a probe that failed "
				    "silently, -ENODEV)",
				json_string_value(json_object_get(json_array_get(modules, 0), "name")) ?: "a module",
				bdf);
		else
			because(&j, "no module of the guest's matches %s", bdf);
		snprintf(j.verdict, sizeof j.verdict, "fail:no-driver");
	}
	json_object_set_new(evidence, "probe_errors", probe);
	json_object_set_new(evidence, "deferred", deferred);
	json_decref(bound);
	return j;
}
