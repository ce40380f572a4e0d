/* matrix_out: the matrix's four files (matrix.h): matrix.json for tools,
 * matrix.md for a README or wiki, junit.xml for any CI system, matrix.html
 * a self-contained page (no network). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matrix.h"

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
		{ "lab-error", "lab error" },
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
	static const char *const kinds[][2] = { { "vfio", "Physical cards" },
						{ "emulated", "Emulated adapters" } };
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
					sb_adds(sb, " — |");
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

static void write_html(json_t *m, json_t *cols, const char *results_abs, struct strbuf *sb)
{
	sb_adds(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<title>hilrun compatibility matrix</title><style>"
		    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
		    "th,td{border:1px solid #bbb;padding:.4em;vertical-align:top;font-size:90%}"
		    "td.cell{min-width:11em}.pass{background:#c8f0c8}.fixed{background:#a8e8ff}"
		    ".regression{background:#ff9a9a}.unexpected-failure{background:#ffb0b0}"
		    ".known-failure{background:#f4e2a0}.lab-error{background:#dddddd}"
		    ".reported{background:#fff;border-style:dashed}.none{color:#888}"
		    "small{color:#333}</style></head><body>\n<h1>hilrun compatibility matrix</h1>\n");
	sb_adds(sb, "<p>Generated ");
	xml_escape(sb, str(m, "generated_at"));
	sb_addf(sb, " from %d runs.</p>\n", (int)json_integer_value(json_object_get(m, "runs_indexed")));
	static const char *const kinds[][2] = { { "vfio", "Physical cards" },
						{ "emulated", "Emulated adapters" } };
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
					sb_adds(sb, "<td class=\"none\">not run</td>");
					continue;
				}
				sb_adds(sb, "<td class=\"cell ");
				xml_escape(sb, str(c, "class"));
				sb_addf(sb, "\" data-cell=\"1\"><a href=\"file://%s/", results_abs);
				xml_escape(sb, str(c, "run_dir"));
				sb_adds(sb, "/run.json\"><b>");
				xml_escape(sb, class_words(str(c, "class")));
				sb_adds(sb, "</b></a><br>");
				xml_escape(sb, str(c, "verdict"));
				sb_adds(sb, "<br><small>to ");
				xml_escape(sb, str(c, "furthest_stage"));
				sb_adds(sb, " &middot; ");
				xml_escape(sb, str(c, "started_at"));
				sb_adds(sb, " &middot; ");
				xml_escape(sb, str(c, "host"));
				sb_addf(sb, " &middot; %zu earlier</small></td>",
					json_array_size(json_object_get(c, "history")));
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
	write_html(m, cols, results_abs, &html);
	int rc = write_text(out_dir, "matrix.json", &json, err) < 0 ||
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
