/* matrix_out: the matrix's four files (matrix.h): matrix.json for tools,
 * matrix.md for a README or wiki, junit.xml for any CI system, matrix.html
 * a self-contained page (no network). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "matrix.h"
#include "record.h"

#define THUMB_W 160         /* thumbnail width in matrix.html */
#define PAGE_LOG_MAX 65536  /* serial log bytes shown on a run's page */

/* The matrix's two groups of rows, in order: card kind, heading. */
static const char *const kinds[][2] = { { "vfio", "Physical cards" },
					{ "emulated", "Emulated adapters" } };

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
}

static void xml_escape(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': sb_adds(sb, "&amp;"); break;
		case '<': sb_adds(sb, "&lt;"); break;
		case '>': sb_adds(sb, "&gt;"); break;
		case '"': sb_adds(sb, "&quot;"); break;
		case '\'': sb_adds(sb, "&#39;"); break;
		default: sb_add(sb, s, 1);
		}
	}
}

static void md_escape(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			sb_adds(sb, "\\|");
		else if (*s == '\n')
			sb_adds(sb, " ");
		else
			sb_add(sb, s, 1);
	}
}

/* The columns: every firmware/guest(/variant) any cell has, sorted. */
static json_t *columns(json_t *m)
{
	json_t *set = json_object();
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(m, "cells"), i, c) {
		char *col = !strcmp(str(c, "variant"), "default")
			? xasprintf("%s/%s", str(c, "firmware"), str(c, "guest"))
			: xasprintf("%s/%s %s", str(c, "firmware"), str(c, "guest"), str(c, "variant"));
		json_object_set_new(set, col, json_true());
		json_object_set_new(c, "column", json_string(col));
		free(col);
	}
	json_t *cols = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(set, k, v)
		json_array_append_new(cols, json_string(k));
	json_decref(set);
	/* jansson keeps insertion order; sort for a stable page. */
	size_t n = json_array_size(cols);
	for (size_t a = 0; a < n; a++)
		for (size_t b = a + 1; b < n; b++)
			if (strcmp(json_string_value(json_array_get(cols, a)),
				   json_string_value(json_array_get(cols, b))) > 0) {
				json_t *t = json_incref(json_array_get(cols, a));
				json_array_set(cols, a, json_array_get(cols, b));
				json_array_set_new(cols, b, t);
			}
	return cols;
}

/* The rows: the catalog's cards and any card that only has runs, in order,
 * physical first. */
static json_t *rows(json_t *m, const char *kind)
{
	json_t *out = json_array(), *seen = json_object();
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(m, "cards"), i, c)
		if (!strcmp(str(c, "kind"), kind) && !json_object_get(seen, str(c, "card"))) {
			json_object_set_new(seen, str(c, "card"), json_true());
			json_array_append(out, c);
		}
	json_array_foreach(json_object_get(m, "cells"), i, c)
		if (!strcmp(str(c, "kind"), kind) && !json_object_get(seen, str(c, "card"))) {
			json_object_set_new(seen, str(c, "card"), json_true());
			json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s}", "card", str(c, "card"),
							     "card_name", str(c, "card_name"), "kind", kind,
							     "pci_id", str(c, "pci_id")));
		}
	json_decref(seen);
	return out;
}

/* Does the card's file list this column? (Cards known only from their
 * runs list nothing: every empty cell of theirs is "not run".) */
static int listed(json_t *row, const char *col)
{
	json_t *cols = json_object_get(row, "columns");
	if (!cols)
		return 1;
	size_t i;
	json_t *c;
	json_array_foreach(cols, i, c)
		if (!strcmp(json_string_value(c), col))
			return 1;
	return 0;
}

static json_t *cell_at(json_t *m, const char *card, const char *col)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(m, "cells"), i, c)
		if (!strcmp(str(c, "card"), card) && !strcmp(str(c, "column"), col))
			return c;
	return NULL;
}

static const char *class_words(const char *cls)
{
	static const char *const w[][2] = {
		{ "pass", "pass" }, { "fixed", "fixed" }, { "regression", "REGRESSION" },
		{ "known-failure", "known failure" }, { "unexpected-failure", "UNEXPECTED failure" },
		{ "lab-error", "lab error" }, { "flaky", "flaky" },
	};
	for (size_t i = 0; i < sizeof w / sizeof *w; i++)
		if (!strcmp(cls, w[i][0]))
			return w[i][1];
	return cls;
}

static int write_text(const char *dir, const char *name, struct strbuf *sb, struct hil_err *err)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc = write_file_atomic(path, sb->buf ? sb->buf : "", sb->len, err);
	free(path);
	return rc;
}

static void write_md(json_t *m, json_t *cols, struct strbuf *sb)
{
	sb_addf(sb, "# hilrun compatibility matrix\n\nGenerated %s from %d runs in `%s`.\n",
		str(m, "generated_at"), (int)json_integer_value(json_object_get(m, "runs_indexed")),
		str(m, "results"));
	for (int k = 0; k < 2; k++) {
		json_t *rs = rows(m, kinds[k][0]);
		if (!json_array_size(rs)) {
			json_decref(rs);
			continue;
		}
		sb_addf(sb, "\n## %s\n\n| card | PCI id |", kinds[k][1]);
		size_t i, j;
		json_t *col, *r;
		json_array_foreach(cols, j, col)
			sb_addf(sb, " %s |", json_string_value(col));
		sb_adds(sb, "\n|---|---|");
		json_array_foreach(cols, j, col)
			sb_adds(sb, "---|");
		sb_adds(sb, "\n");
		json_array_foreach(rs, i, r) {
			sb_adds(sb, "| ");
			md_escape(sb, str(r, "card_name"));
			sb_addf(sb, " (`%s`) | %s |", str(r, "card"), str(r, "pci_id"));
			json_array_foreach(cols, j, col) {
				json_t *c = cell_at(m, str(r, "card"), json_string_value(col));
				if (!c) {
					sb_adds(sb, listed(r, json_string_value(col)) ? " not run |" : " — |");
					continue;
				}
				sb_addf(sb, " **%s** `%s`, to %s, %.10s |", class_words(str(c, "class")),
					str(c, "verdict"), str(c, "furthest_stage"), str(c, "started_at"));
			}
			sb_adds(sb, "\n");
		}
		json_decref(rs);
	}
	json_t *rep = json_object_get(m, "reported");
	if (json_array_size(rep)) {
		sb_adds(sb, "\n## Reported, not measured\n\n| card | what | result | note | source |\n|---|---|---|---|---|\n");
		size_t i;
		json_t *r;
		json_array_foreach(rep, i, r) {
			sb_addf(sb, "| `%s` | %s | %s | ", str(r, "card"), str(r, "what"), str(r, "result"));
			md_escape(sb, str(r, "note"));
			sb_adds(sb, " | ");
			md_escape(sb, str(r, "source"));
			sb_adds(sb, " |\n");
		}
	}
}

static void write_junit(json_t *m, struct strbuf *sb)
{
	json_t *cells = json_object_get(m, "cells");
	size_t n = json_array_size(cells), failures = 0, errors = 0, skipped = 0, i;
	json_t *c;
	json_array_foreach(cells, i, c) {
		const char *cls = str(c, "class");
		failures += matrix_class_is_bad(cls);
		errors += !strcmp(cls, "lab-error");
		skipped += !strcmp(cls, "known-failure");
	}
	sb_addf(sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<testsuite name=\"hilrun-matrix\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
		    "skipped=\"%zu\" timestamp=\"%s\">\n",
		n, failures, errors, skipped, str(m, "generated_at"));
	json_array_foreach(cells, i, c) {
		const char *cls = str(c, "class");
		sb_adds(sb, "  <testcase classname=\"");
		xml_escape(sb, str(c, "card"));
		sb_adds(sb, "\" name=\"");
		xml_escape(sb, str(c, "name"));
		sb_addf(sb, "\" time=\"%.3f\">", (double)json_integer_value(json_object_get(c, "duration_ms")) / 1000);
		const char *tag = matrix_class_is_bad(cls) ? "failure"
				  : !strcmp(cls, "lab-error") ? "error"
				  : !strcmp(cls, "known-failure") ? "skipped" : NULL;
		if (tag) {
			sb_addf(sb, "<%s message=\"", tag);
			xml_escape(sb, class_words(cls));
			sb_adds(sb, ": ");
			xml_escape(sb, str(c, "verdict"));
			sb_adds(sb, "\">");
			xml_escape(sb, str(c, "run_dir"));
			sb_addf(sb, "</%s>", tag);
		}
		sb_adds(sb, "</testcase>\n");
	}
	sb_adds(sb, "</testsuite>\n");
}

static void base64(struct strbuf *sb, const unsigned char *p, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		char q[4] = { t[v >> 18 & 63], t[v >> 12 & 63], i + 1 < n ? t[v >> 6 & 63] : '=',
			      i + 2 < n ? t[v & 63] : '=' };
		sb_add(sb, q, 4);
	}
}

/* The cell's last frame, shrunk to THUMB_W wide (box filter), as a data:
 * URI, so that matrix.html stays one file. Nothing if it cannot be read. */
static void thumbnail(struct strbuf *sb, const char *results_abs, json_t *c, const char *tmp_png)
{
	if (!*str(c, "last_frame"))
		return;
	char *path = xasprintf("%s/%s/%s", results_abs, str(c, "run_dir"), str(c, "last_frame"));
	struct frame f, t;
	struct hil_err err;
	frame_init(&f);
	frame_init(&t);
	if (frame_read(&f, path, &err) == 0 && f.width >= THUMB_W) {
		int th = f.height * THUMB_W / f.width;
		if (th < 1)
			th = 1;
		if (frame_alloc(&t, THUMB_W, th) == 0) {
			for (int y = 0; y < th; y++)
				for (int x = 0; x < THUMB_W; x++) {
					int x0 = x * f.width / THUMB_W, x1 = (x + 1) * f.width / THUMB_W;
					int y0 = y * f.height / th, y1 = (y + 1) * f.height / th;
					unsigned long sum[3] = { 0, 0, 0 }, k = 0;
					for (int yy = y0; yy < y1; yy++)
						for (int xx = x0; xx < x1; xx++, k++)
							for (int ch = 0; ch < 3; ch++)
								sum[ch] += f.rgb[((size_t)yy * f.width + xx) * 3 + ch];
					for (int ch = 0; ch < 3; ch++)
						t.rgb[((size_t)y * THUMB_W + x) * 3 + ch] = (uint8_t)(k ? sum[ch] / k : 0);
				}
			size_t len = 0;
			char *png = frame_write_png(&t, tmp_png, &err) == 0
					    ? read_file(tmp_png, 1 << 20, &len, &err) : NULL;
			if (png) {
				sb_adds(sb, "<br><img class=\"thumb\" alt=\"last frame\" src=\"data:image/png;base64,");
				base64(sb, (const unsigned char *)png, len);
				sb_adds(sb, "\">");
			}
			free(png);
			unlink(tmp_png);
		}
	}
	frame_release(&f);
	frame_release(&t);
	free(path);
}

static void html_file(struct strbuf *sb, const char *path, size_t max)
{
	size_t len = 0;
	struct hil_err err;
	char *text = read_file(path, 64 << 20, &len, &err);
	if (!text) {
		sb_adds(sb, "<p class=\"none\">(not in this record)</p>");
		return;
	}
	sb_adds(sb, "<pre>");
	if (len > max) {
		sb_addf(sb, "[first %zu of %zu bytes]\n", max, len);
		text[max] = '\0';
	}
	xml_escape(sb, text);
	sb_adds(sb, "</pre>");
	free(text);
}

/* OUT/runs/RUN_ID.html: a cell's newest run, everything its record holds:
 * each stage with its timing and frame, the text read, the serial log,
 * QEMU's argv, and the cell's history with the changes marked. */
static int write_run_page(json_t *c, const char *results_abs, const char *out_dir,
			  struct hil_err *err)
{
	char *rdir = xasprintf("%s/%s", results_abs, str(c, "run_dir"));
	char *recpath = xasprintf("%s/%s", rdir, RECORD_FILE);
	json_t *rec = json_load_file(recpath, 0, NULL);
	struct strbuf sb = STRBUF_INIT;
	sb_adds(&sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
	xml_escape(&sb, str(c, "name"));
	sb_adds(&sb, "</title><style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
		     "th,td{border:1px solid #bbb;padding:.3em;vertical-align:top}pre{background:#f4f4f4;"
		     "padding:.5em;overflow:auto;max-height:30em}.changed{background:#ffe08a}"
		     "img{max-width:48em;border:1px solid #888}</style></head><body>\n<h1>");
	xml_escape(&sb, str(c, "name"));
	sb_adds(&sb, "</h1>\n<p><b>");
	xml_escape(&sb, class_words(str(c, "class")));
	sb_adds(&sb, "</b>: ");
	xml_escape(&sb, str(c, "verdict"));
	sb_adds(&sb, " (expected ");
	xml_escape(&sb, str(c, "expected"));
	sb_adds(&sb, "), run ");
	xml_escape(&sb, str(c, "run_id"));
	sb_adds(&sb, " on ");
	xml_escape(&sb, str(c, "host"));
	sb_addf(&sb, " (%s), <a href=\"file://", str(c, "accel"));
	xml_escape(&sb, recpath);
	sb_adds(&sb, "\">run.json</a></p>\n<h2>Stages</h2>\n<table><tr><th>stage</th><th>outcome</th>"
		     "<th>started</th><th>took</th><th>detail</th><th>reader</th></tr>\n");
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(rec, "stages"), i, st) {
		sb_adds(&sb, "<tr><td>");
		xml_escape(&sb, str(st, "name"));
		sb_adds(&sb, "</td><td>");
		xml_escape(&sb, str(st, "outcome"));
		sb_addf(&sb, "</td><td>%lld ms</td><td>%lld ms</td><td>",
			json_integer_value(json_object_get(st, "started_ms")),
			json_integer_value(json_object_get(st, "duration_ms")));
		xml_escape(&sb, str(st, "detail"));
		sb_adds(&sb, "</td><td>");
		xml_escape(&sb, str(st, "reader"));
		sb_adds(&sb, "</td></tr>\n");
	}
	sb_adds(&sb, "</table>\n");
	json_array_foreach(json_object_get(rec, "stages"), i, st) {
		const char *frame = str(st, "frame");
		if (!*frame)
			continue;
		sb_adds(&sb, "<h3>");
		xml_escape(&sb, str(st, "name"));
		sb_adds(&sb, "</h3><img alt=\"frame\" src=\"file://");
		xml_escape(&sb, rdir);
		sb_adds(&sb, "/");
		xml_escape(&sb, frame);
		sb_adds(&sb, "\">");
		const char *text = str(st, "screen_text");
		if (*text) {
			char *p = xasprintf("%s/%s", rdir, text);
			html_file(&sb, p, PAGE_LOG_MAX);
			free(p);
		}
		/* A first reading that the verdict did not rest on, marked so. */
		json_t *old = json_object_get(st, "superseded");
		const char *first = str(old, "screen_text");
		if (*first) {
			sb_adds(&sb, "<details><summary>superseded reading (");
			xml_escape(&sb, str(old, "reader"));
			sb_adds(&sb, "): ");
			xml_escape(&sb, str(old, "why"));
			sb_adds(&sb, "</summary>");
			char *p = xasprintf("%s/%s", rdir, first);
			html_file(&sb, p, PAGE_LOG_MAX);
			free(p);
			sb_adds(&sb, "</details>");
		}
	}
	sb_adds(&sb, "<h2>Serial log</h2>");
	char *p = xasprintf("%s/serial.log", rdir);
	html_file(&sb, p, PAGE_LOG_MAX);
	free(p);
	sb_adds(&sb, "<h2>QEMU</h2>");
	p = xasprintf("%s/qemu-argv.txt", rdir);
	html_file(&sb, p, PAGE_LOG_MAX);
	free(p);
	sb_adds(&sb, "<h2>History</h2>\n<table><tr><th>run</th><th>verdict</th><th>started</th><th>host</th></tr>\n");
	const char *newer = str(c, "verdict");
	json_t *h;
	json_array_foreach(json_object_get(c, "history"), i, h) {
		int changed = strcmp(str(h, "verdict"), newer) != 0;
		sb_addf(&sb, "<tr%s><td>", changed ? " class=\"changed\" title=\"changed after this run\"" : "");
		xml_escape(&sb, str(h, "run_id"));
		sb_adds(&sb, "</td><td>");
		xml_escape(&sb, str(h, "verdict"));
		sb_adds(&sb, changed ? " &rarr; changed</td><td>" : "</td><td>");
		xml_escape(&sb, str(h, "started_at"));
		sb_adds(&sb, "</td><td>");
		xml_escape(&sb, str(h, "host"));
		sb_adds(&sb, "</td></tr>\n");
		newer = str(h, "verdict");
	}
	sb_adds(&sb, "</table></body></html>\n");
	char *name = xasprintf("runs/%s.html", str(c, "run_id"));
	int rc = write_text(out_dir, name, &sb, err);
	free(name);
	sb_release(&sb);
	json_decref(rec);
	free(recpath);
	free(rdir);
	return rc;
}

static void write_html(json_t *m, json_t *cols, const char *results_abs, const char *out_dir,
		       struct strbuf *sb)
{
	sb_adds(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<title>hilrun compatibility matrix</title><style>"
		    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
		    "th,td{border:1px solid #bbb;padding:.4em;vertical-align:top;font-size:90%}"
		    "td.cell{min-width:11em}.pass{background:#c8f0c8}.fixed{background:#a8e8ff}"
		    ".regression{background:#ff9a9a}.unexpected-failure{background:#ffb0b0}"
		    ".known-failure{background:#f4e2a0}.lab-error{background:#dddddd}.flaky{background:#f0c8f0}"
		    ".reported{background:#fff;border-style:dashed}.none{color:#888}"
		    "img.thumb{width:160px;border:1px solid #888;margin-top:.3em}"
		    "small{color:#333}</style></head><body>\n<h1>hilrun compatibility matrix</h1>\n");
	sb_adds(sb, "<p>Generated ");
	xml_escape(sb, str(m, "generated_at"));
	sb_addf(sb, " from %d runs.</p>\n", (int)json_integer_value(json_object_get(m, "runs_indexed")));
	for (int k = 0; k < 2; k++) {
		json_t *rs = rows(m, kinds[k][0]);
		if (!json_array_size(rs)) {
			json_decref(rs);
			continue;
		}
		sb_addf(sb, "<h2>%s</h2>\n<table class=\"matrix\"><tr><th>card</th><th>PCI id</th>",
			kinds[k][1]);
		size_t i, j;
		json_t *col, *r;
		json_array_foreach(cols, j, col) {
			sb_adds(sb, "<th>");
			xml_escape(sb, json_string_value(col));
			sb_adds(sb, "</th>");
		}
		sb_adds(sb, "<th>reported</th></tr>\n");
		json_array_foreach(rs, i, r) {
			sb_adds(sb, "<tr><td>");
			xml_escape(sb, str(r, "card_name"));
			sb_adds(sb, "<br><code>");
			xml_escape(sb, str(r, "card"));
			sb_addf(sb, "</code></td><td>%s</td>", str(r, "pci_id"));
			json_array_foreach(cols, j, col) {
				json_t *c = cell_at(m, str(r, "card"), json_string_value(col));
				if (!c) {
					sb_addf(sb, "<td class=\"none\">%s</td>",
						listed(r, json_string_value(col)) ? "not run" : "&mdash;");
					continue;
				}
				sb_adds(sb, "<td class=\"cell ");
				xml_escape(sb, str(c, "class"));
				sb_adds(sb, "\" data-cell=\"1\"><a href=\"runs/");
				xml_escape(sb, str(c, "run_id"));
				sb_adds(sb, ".html\"><b>");
				xml_escape(sb, class_words(str(c, "class")));
				sb_adds(sb, "</b></a><br>");
				xml_escape(sb, str(c, "verdict"));
				sb_adds(sb, "<br><small>to ");
				xml_escape(sb, str(c, "furthest_stage"));
				sb_adds(sb, " &middot; ");
				xml_escape(sb, str(c, "started_at"));
				sb_adds(sb, " &middot; ");
				xml_escape(sb, str(c, "host"));
				sb_addf(sb, " &middot; %zu earlier</small>",
					json_array_size(json_object_get(c, "history")));
				char *tmp = xasprintf("%s/.thumb.png", out_dir);
				thumbnail(sb, results_abs, c, tmp);
				free(tmp);
				sb_adds(sb, "</td>");
			}
			sb_adds(sb, "<td class=\"reported\">");
			size_t q;
			json_t *rep;
			json_array_foreach(json_object_get(m, "reported"), q, rep) {
				if (strcmp(str(rep, "card"), str(r, "card")))
					continue;
				sb_adds(sb, "<div>reported: ");
				xml_escape(sb, str(rep, "what"));
				sb_adds(sb, " ");
				xml_escape(sb, str(rep, "result"));
				sb_adds(sb, "</div>");
			}
			sb_adds(sb, "</td></tr>\n");
		}
		sb_adds(sb, "</table>\n");
		json_decref(rs);
	}
	sb_adds(sb, "</body></html>\n");
}

int matrix_write(json_t *m, const char *out_dir, struct hil_err *err)
{
	if (mkdir_p(out_dir, err) < 0)
		return -1;
	json_t *cols = columns(m);
	char results_abs[PATH_MAX];
	if (!realpath(str(m, "results"), results_abs))
		snprintf(results_abs, sizeof results_abs, "%s", str(m, "results"));
	struct strbuf json = STRBUF_INIT, md = STRBUF_INIT, junit = STRBUF_INIT, html = STRBUF_INIT;
	char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
	sb_adds(&json, text);
	sb_adds(&json, "\n");
	free(text);
	write_md(m, cols, &md);
	write_junit(m, &junit);
	write_html(m, cols, results_abs, out_dir, &html);
	char *runs_dir = xasprintf("%s/runs", out_dir);
	int pages_ok = mkdir_p(runs_dir, err) == 0;
	free(runs_dir);
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(m, "cells"), i, c)
		if (pages_ok && write_run_page(c, results_abs, out_dir, err) < 0)
			pages_ok = 0;
	int rc = !pages_ok || write_text(out_dir, "matrix.json", &json, err) < 0 ||
			 write_text(out_dir, "matrix.md", &md, err) < 0 ||
			 write_text(out_dir, "junit.xml", &junit, err) < 0 ||
			 write_text(out_dir, "matrix.html", &html, err) < 0
		 ? -1 : 0;
	sb_release(&json);
	sb_release(&md);
	sb_release(&junit);
	sb_release(&html);
	json_decref(cols);
	return rc;
}
