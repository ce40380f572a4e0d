/* grid: see grid.h. */
#include "grid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "record.h"
#include "util.h"

/* The stage columns under each firmware, in order. */
static const struct {
	const char *id, *label;
} stage_cols[] = {
	{ "post", "post" },
	{ "text", "text" },
	{ "graphics", "graphics" },
	{ "driver-linux", "driver (Linux)" },
	{ "driver-windows", "driver (Windows)" },
};
#define NSTAGE_COLS (sizeof stage_cols / sizeof *stage_cols)

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

/* The column of a guest's stage: NULL for stages the grid does not show
 * (start, shutdown: every run has them; its class says how they went). */
static const char *stage_col(const char *guest, const char *stage)
{
	if (!strcmp(stage, "driver")) {
		const struct guest *g = guest_find(guest);
		return g && g->driver_report == DRIVER_WINDOWS ? "driver-windows" : "driver-linux";
	}
	for (size_t i = 0; i < 3; i++)
		if (!strcmp(stage, stage_cols[i].id))
			return stage_cols[i].id;
	return NULL;
}

/* A reported outcome's column under its firmware: a stage, or a driver
 * context (driver:linux… is Linux's; the founding report's win7-vga and
 * vendor are Windows 7's). */
static const char *reported_col(const char *what)
{
	if (!strncmp(what, "driver:", 7))
		return strncmp(what + 7, "linux", 5) ? "driver-windows" : "driver-linux";
	return stage_col("", what);
}

static int firmware_rank(const char *fw)
{
	return !strcmp(fw, "seabios") ? 0 : !strcmp(fw, "ovmf") ? 1 : 2;
}

/* "FIRMWARE STAGECOL": a column's key. */
static char *col_key(const char *firmware, const char *col)
{
	return xasprintf("%s %s", firmware, col);
}

/* The stages a cell's guest proves: the catalog's for a known guest, else
 * the ones its newest run recorded. */
static void guest_stages(const char *guest, json_t *run_stages, struct argv *out)
{
	const struct guest *g = guest_find(guest);
	if (g) {
		stage_set set = 0;
		struct hil_err err;
		if (stage_set_parse(g->stages, &set, &err) == 0)
			for (int s = 0; s < ST_COUNT; s++)
				if (set & STAGE_BIT(s))
					argv_push(out, stage_names[s]);
		return;
	}
	size_t i;
	json_t *st;
	json_array_foreach(run_stages, i, st)
		argv_push(out, str(st, "name"));
}

/* The first object of arr whose key is value, or NULL. */
static json_t *find_by(json_t *arr, const char *key, const char *value)
{
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o)
		if (!strcmp(str(o, key), value))
			return o;
	return NULL;
}

/* The row of (card, row name), created in order of first sight. */
static json_t *row_for(json_t *rows, json_t *card, const char *row)
{
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r)
		if (!strcmp(str(r, "card"), str(card, "card")) && !strcmp(str(r, "row"), row))
			return r;
	r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "card", str(card, "card"), "card_name",
		      str(card, "card_name"), "kind", str(card, "kind"), "pci_id", str(card, "pci_id"),
		      "row", row, "cells", json_object());
	json_array_append_new(rows, r);
	return r;
}

static void add_entry(json_t *row, json_t *used, const char *firmware, const char *col, json_t *entry)
{
	char *key = col_key(firmware, col);
	json_t *cells = json_object_get(row, "cells"), *list = json_object_get(cells, key);
	if (!list) {
		list = json_array();
		json_object_set_new(cells, key, list);
	}
	json_array_append_new(list, entry);
	json_object_set_new(used, firmware, json_true());
	json_object_set_new(used, key, json_true());
	free(key);
}

/* Who measured a run: "lab on HOST" or "contributor:ID on HOST". */
static json_t *by_of(json_t *run)
{
	return json_pack("{s:s, s:s}", "source", str(run, "source"), "host", str(run, "host"));
}

/* One entry per stage column the cell's guest proves. run: a newest run
 * of the cell (the cell itself, or one of its sources), or NULL for a
 * listed cell never run; cell names it and says who else agrees. */
static void place_run(json_t *row, json_t *used, const char *firmware, const char *guest,
		      json_t *run, json_t *cell)
{
	struct argv stages = ARGV_INIT;
	json_t *run_stages = run ? json_object_get(run, "stages") : NULL;
	guest_stages(guest, run_stages, &stages);
	int disagree = cell && json_is_true(json_object_get(cell, "disagree"));
	for (size_t s = 0; s < stages.n; s++) {
		const char *col = stage_col(guest, stages.v[s]);
		if (!col)
			continue;
		json_t *e;
		if (!run) {
			e = json_pack("{s:s, s:s}", "guest", guest, "outcome", "not-run");
		} else {
			json_t *st = find_by(run_stages, "name", stages.v[s]);
			e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "guest", guest, "outcome",
				      st ? str(st, "outcome") : "skip", "verdict", st ? str(st, "verdict") : "",
				      "class", str(run, "class"), "run_id", str(run, "run_id"), "cell",
				      str(cell, "name"), "page", str(run, "page"), "disagree", disagree);
			/* Every source behind this entry: its own when they
			 * disagree, all of them when they agree. */
			json_t *by = json_array();
			if (disagree) {
				json_array_append_new(by, by_of(run));
			} else {
				size_t i;
				json_t *src;
				json_array_foreach(json_object_get(cell, "sources"), i, src)
					json_array_append_new(by, by_of(src));
			}
			json_object_set_new(e, "by", by);
		}
		add_entry(row, used, firmware, col, e);
	}
	argv_release(&stages);
}

/* A measured cell's entries: one set per source when its sources
 * disagree (none is picked), else its newest run's. */
static void place_cell(json_t *row, json_t *used, const char *firmware, const char *guest, json_t *cell)
{
	if (!cell || !json_is_true(json_object_get(cell, "disagree"))) {
		place_run(row, used, firmware, guest, cell, cell);
		return;
	}
	size_t i;
	json_t *src;
	json_array_foreach(json_object_get(cell, "sources"), i, src)
		place_run(row, used, firmware, guest, src, cell);
}

static json_t *measured_at(json_t *cells, const char *card, const char *column)
{
	size_t i;
	json_t *c;
	json_array_foreach(cells, i, c)
		if (!strcmp(str(c, "card"), card) && !strcmp(str(c, "column"), column))
			return c;
	return NULL;
}

/* The column set, in order: firmware by rank then name, stages in order. */
static json_t *grid_columns(json_t *used)
{
	struct argv fws = ARGV_INIT;
	const char *k;
	json_t *v;
	json_object_foreach(used, k, v)
		if (!strchr(k, ' '))
			argv_push(&fws, k);
	for (size_t a = 0; a < fws.n; a++)
		for (size_t b = a + 1; b < fws.n; b++) {
			int ra = firmware_rank(fws.v[a]), rb = firmware_rank(fws.v[b]);
			if (rb < ra || (rb == ra && strcmp(fws.v[b], fws.v[a]) < 0)) {
				char *t = fws.v[a];
				fws.v[a] = fws.v[b];
				fws.v[b] = t;
			}
		}
	json_t *cols = json_array();
	for (size_t f = 0; f < fws.n; f++)
		for (size_t s = 0; s < NSTAGE_COLS; s++) {
			char *key = col_key(fws.v[f], stage_cols[s].id);
			if (json_object_get(used, key))
				json_array_append_new(cols, json_pack("{s:s, s:s, s:s, s:s}", "key", key,
								      "firmware", fws.v[f], "stage",
								      stage_cols[s].id, "label",
								      stage_cols[s].label));
			free(key);
		}
	argv_release(&fws);
	return cols;
}

json_t *matrix_grid(json_t *cells, json_t *cards, json_t *reported)
{
	json_t *rows = json_array(), *used = json_object(), *placed = json_object();
	size_t i;
	json_t *c;
	/* The card files' rows first, in their order, with what they list:
	 * each cell measured or not run, in the order the file lists them. */
	json_array_foreach(cards, i, c) {
		size_t j;
		json_t *col;
		json_array_foreach(json_object_get(c, "columns"), j, col) {
			/* "FIRMWARE/GUEST" or "FIRMWARE/GUEST VARIANT" */
			const char *name = json_string_value(col);
			const char *slash = strchr(name, '/'), *space = strchr(name, ' ');
			if (!slash)
				continue;
			char *firmware = xstrndup(name, (size_t)(slash - name));
			char *guest = space ? xstrndup(slash + 1, (size_t)(space - slash - 1)) : xstrdup(slash + 1);
			json_t *row = row_for(rows, c, space ? space + 1 : "default");
			json_t *cell = measured_at(cells, str(c, "card"), name);
			place_cell(row, used, firmware, guest, cell);
			if (cell)
				json_object_set_new(placed, str(cell, "name"), json_true());
			free(firmware);
			free(guest);
		}
	}
	/* Measured cells the card files do not list (or cards they do not
	 * have), in their card's variant row. */
	json_array_foreach(cells, i, c) {
		if (json_object_get(placed, str(c, "name")))
			continue;
		json_t *card = find_by(cards, "card", str(c, "card")) ?: c;
		place_cell(row_for(rows, card, str(c, "variant")), used, str(c, "firmware"), str(c, "guest"), c);
	}
	/* The reported outcomes: a row of their own under the card's. */
	json_array_foreach(reported, i, c) {
		json_t *card = find_by(cards, "card", str(c, "card"));
		const char *col = reported_col(str(c, "what"));
		if (!card || !col)
			continue;
		const char *fw = json_string_value(json_array_get(json_object_get(card, "firmware"), 0));
		json_t *row = row_for(rows, card, "reported");
		json_object_set_new(row, "source", json_string(str(c, "source")));
		add_entry(row, used, fw ? fw : "seabios", col,
			  json_pack("{s:s, s:s, s:s}", "what", str(c, "what"), "result", str(c, "result"),
				    "note", str(c, "note")));
	}
	/* A card's rows together: variants in order of first sight, then its
	 * reported row. */
	json_t *ordered = json_array();
	json_array_foreach(rows, i, c) {
		size_t j;
		json_t *r;
		int first = 1;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(str(json_array_get(rows, k), "card"), str(c, "card")))
				first = 0;
		if (!first)
			continue;
		for (int pass = 0; pass < 2; pass++)
			json_array_foreach(rows, j, r)
				if (!strcmp(str(r, "card"), str(c, "card")) &&
				    (strcmp(str(r, "row"), "reported") == 0) == pass)
					json_array_append(ordered, r);
	}
	json_t *grid = json_pack("{s:o, s:o}", "columns", grid_columns(used), "rows", ordered);
	json_decref(rows);
	json_decref(used);
	json_decref(placed);
	return grid;
}
