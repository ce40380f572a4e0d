/* matrix_out: the matrix's four files (matrix.h): matrix.json for tools,
 * matrix.md for a README or wiki, junit.xml for any CI system, matrix.html
 * a self-contained page (no network). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confine.h"
#include "matrix.h"
#include "record.h"

#define PAGE_LOG_MAX 65536  /* serial log bytes shown on a run's page */

/* The matrix's two groups of rows, in order: card kind, heading. */
static const char *const kinds[][2] = { { "vfio", "Physical cards" },
					{ "emulated", "Emulated adapters" } };

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k)) ?: "";
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

/* The grid's rows of one kind of card (physical first, then emulated). */
static json_t *rows_of_kind(json_t *m, const char *kind)
{
	json_t *out = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(json_object_get(m, "grid"), "rows"), i, r)
		if (!strcmp(str(r, "kind"), kind))
			json_array_append(out, r);
	return out;
}

/* The grid's columns that some of these rows fill (physical cards run
 * under fewer firmware than the emulated ones). */
static json_t *columns_of(json_t *m, json_t *rows)
{
	json_t *out = json_array();
	size_t i, j;
	json_t *col, *r;
	json_array_foreach(json_object_get(json_object_get(m, "grid"), "columns"), i, col)
		json_array_foreach(rows, j, r)
			if (json_object_get(json_object_get(r, "cells"), str(col, "key"))) {
				json_array_append(out, col);
				break;
			}
	return out;
}

/* How many rows the card of row i has from i on (its name spans them). */
static size_t card_span(json_t *rows, size_t i)
{
	size_t n = 0;
	const char *card = str(json_array_get(rows, i), "card");
	while (i + n < json_array_size(rows) && !strcmp(str(json_array_get(rows, i + n), "card"), card))
		n++;
	return n;
}

/* A stage outcome as one mark. */
static const char *mark(const char *outcome)
{
	return !strcmp(outcome, "pass")	     ? "\u2713"
	       : !strcmp(outcome, "fail")    ? "\u2717"
	       : !strcmp(outcome, "error")   ? "!"
	       : !strcmp(outcome, "not-run") ? "not run"
					     : "\u2013";
}

/* A verdict without its "fail:"/"error:" (the mark says which). */
static const char *short_verdict(const char *v)
{
	const char *colon = strchr(v, ':');
	return colon ? colon + 1 : v;
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

/* Who measured an entry, as "(lab on HOST, contributor:ID on HOST)",
 * and "**disagree**" when its cell's sources do. */
static void md_by(struct strbuf *sb, json_t *e)
{
	size_t i;
	json_t *b;
	json_array_foreach(json_object_get(e, "by"), i, b) {
		sb_adds(sb, i ? ", " : " (");
		md_escape(sb, str(b, "source"));
		sb_adds(sb, " on ");
		md_escape(sb, str(b, "host"));
	}
	if (json_array_size(json_object_get(e, "by")))
		sb_adds(sb, ")");
	if (json_is_true(json_object_get(e, "disagree")))
		sb_adds(sb, " **disagree**");
}

/* One grid cell in words: "bios-post ✓ · linux-drm ✗ driver-probe(-38)". */
static void md_entries(struct strbuf *sb, json_t *list)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		if (i)
			sb_adds(sb, " · ");
		if (*str(e, "what")) { /* reported */
			sb_adds(sb, "*");
			md_escape(sb, str(e, "what"));
			sb_adds(sb, ": ");
			md_escape(sb, str(e, "result"));
			sb_adds(sb, "*");
			continue;
		}
		sb_addf(sb, "%s %s", str(e, "guest"), mark(str(e, "outcome")));
		if (*str(e, "verdict"))
			sb_addf(sb, " %s", short_verdict(str(e, "verdict")));
		if (strcmp(str(e, "outcome"), "pass") && *str(e, "class") && strcmp(str(e, "class"), "pass"))
			sb_addf(sb, " **%s**", class_words(str(e, "class")));
		md_by(sb, e);
	}
}

static void write_md(json_t *m, struct strbuf *sb)
{
	sb_addf(sb, "# hilrun compatibility matrix\n\nGenerated %s from %d runs in `%s`. Each column is "
		    "a stage under one firmware; each entry is a guest that proves it (✓ pass, ✗ fail, "
		    "! error, – not reached). Rows marked *reported* are outcomes somebody reported, "
		    "not measured here.\n",
		str(m, "generated_at"), (int)json_integer_value(json_object_get(m, "runs_indexed")),
		str(m, "results"));
	for (int k = 0; k < 2; k++) {
		json_t *rs = rows_of_kind(m, kinds[k][0]);
		if (!json_array_size(rs)) {
			json_decref(rs);
			continue;
		}
		json_t *cols = columns_of(m, rs);
		sb_addf(sb, "\n## %s\n\n| card | PCI id | row |", kinds[k][1]);
		size_t i, j;
		json_t *col, *r;
		json_array_foreach(cols, j, col)
			sb_addf(sb, " %s %s |", str(col, "firmware"), str(col, "label"));
		sb_adds(sb, "\n|---|---|---|");
		json_array_foreach(cols, j, col)
			sb_adds(sb, "---|");
		sb_adds(sb, "\n");
		json_array_foreach(rs, i, r) {
			sb_adds(sb, "| ");
			md_escape(sb, str(r, "card_name"));
			sb_addf(sb, " (`%s`) | %s | %s%s%s |", str(r, "card"), str(r, "pci_id"),
				!strcmp(str(r, "row"), "reported") ? "*" : "", str(r, "row"),
				!strcmp(str(r, "row"), "reported") ? "*" : "");
			json_array_foreach(cols, j, col) {
				json_t *list = json_object_get(json_object_get(r, "cells"), str(col, "key"));
				sb_adds(sb, " ");
				if (list)
					md_entries(sb, list);
				else
					sb_adds(sb, "—");
				sb_adds(sb, " |");
			}
			sb_adds(sb, "\n");
		}
		json_decref(cols);
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
		sb_add_escaped(sb, str(c, "card"));
		sb_adds(sb, "\" name=\"");
		sb_add_escaped(sb, str(c, "name"));
		sb_addf(sb, "\" time=\"%.3f\">", (double)json_integer_value(json_object_get(c, "duration_ms")) / 1000);
		const char *tag = matrix_class_is_bad(cls) ? "failure"
				  : !strcmp(cls, "lab-error") ? "error"
				  : !strcmp(cls, "known-failure") ? "skipped" : NULL;
		if (tag) {
			sb_addf(sb, "<%s message=\"", tag);
			sb_add_escaped(sb, class_words(cls));
			sb_adds(sb, ": ");
			sb_add_escaped(sb, str(c, "verdict"));
			sb_adds(sb, "\">");
			sb_add_escaped(sb, str(c, "run_dir"));
			sb_addf(sb, "</%s>", tag);
		}
		sb_adds(sb, "</testcase>\n");
	}
	sb_adds(sb, "</testsuite>\n");
}

/* The file run_dir/name of the store at root, beneath it (confine.h). */
static void html_file(struct strbuf *sb, const char *root, const char *run_dir, const char *name,
		      size_t max)
{
	size_t len = 0;
	struct hil_err err;
	char *rel = xasprintf("%s/%s", run_dir, name);
	char *text = confine_read(root, rel, 64 << 20, &len, &err);
	free(rel);
	if (!text) {
		sb_adds(sb, "<p class=\"none\">(not in this record)</p>");
		return;
	}
	sb_adds(sb, "<pre>");
	if (len > max) {
		sb_addf(sb, "[first %zu of %zu bytes]\n", max, len);
		text[max] = '\0';
	}
	sb_add_escaped(sb, text);
	sb_adds(sb, "</pre>");
	free(text);
}

/* A file name from a record, read or linked only if it names a file in
 * the run's own directory: a contributor writes the record, and the
 * server's pages must not show its other files. */
static int plain_name(const char *name)
{
	return *name && *name != '.' && !strchr(name, '/');
}

/* Where a run page finds a file of its run: file://DIR/NAME on this
 * machine; served (a results server's matrix), a contributor's run's
 * RUN_ID/NAME next to the page (the server's /runs/C/RUN_ID/NAME), and a
 * lab's run's nowhere (0: not linked). */
static int add_file_url(struct strbuf *sb, json_t *c, const char *rdir, const char *name, int served)
{
	if (!served) {
		sb_adds(sb, "file://");
		sb_add_escaped(sb, rdir);
		sb_adds(sb, "/");
	} else if (!strncmp(str(c, "source"), MATRIX_CONTRIBUTOR, strlen(MATRIX_CONTRIBUTOR))) {
		sb_add_escaped(sb, str(c, "run_id"));
		sb_adds(sb, "/");
	} else {
		return 0;
	}
	sb_add_escaped(sb, name);
	return 1;
}

/* OUT/runs/RUN_ID.html (a contributor's: OUT/runs/ID/RUN_ID.html): a
 * cell's newest run of one source, everything its record holds:
 * each stage with its timing and frame, the text read, the serial log,
 * QEMU's argv, and the cell's history with the changes marked. */
static int write_run_page(json_t *c, const char *cell, const char *out_dir, int served,
			  struct hil_err *err)
{
	char root[PATH_MAX];
	if (!realpath(str(c, "root"), root))
		snprintf(root, sizeof root, "%s", str(c, "root"));
	const char *run_dir = str(c, "run_dir");
	char *rdir = xasprintf("%s/%s", root, run_dir);
	char *recrel = xasprintf("%s/%s", run_dir, RECORD_FILE);
	size_t reclen = 0;
	struct hil_err recerr;
	char *rectext = confine_read(root, recrel, 64 << 20, &reclen, &recerr);
	json_t *rec = rectext ? json_loadb(rectext, reclen, 0, NULL) : NULL;
	free(rectext);
	struct strbuf sb = STRBUF_INIT;
	sb_adds(&sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
	sb_add_escaped(&sb, cell);
	sb_adds(&sb, "</title><style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
		     "th,td{border:1px solid #bbb;padding:.3em;vertical-align:top}pre{background:#f4f4f4;"
		     "padding:.5em;overflow:auto;max-height:30em}.changed{background:#ffe08a}"
		     "img{max-width:48em;border:1px solid #888}</style></head><body>\n<h1>");
	sb_add_escaped(&sb, cell);
	sb_adds(&sb, "</h1>\n<p><b>");
	sb_add_escaped(&sb, class_words(str(c, "class")));
	sb_adds(&sb, "</b>: ");
	sb_add_escaped(&sb, str(c, "verdict"));
	sb_adds(&sb, " (expected ");
	sb_add_escaped(&sb, str(c, "expected"));
	sb_adds(&sb, "), run ");
	sb_add_escaped(&sb, str(c, "run_id"));
	sb_adds(&sb, " by <span class=\"source\">");
	sb_add_escaped(&sb, str(c, "source"));
	sb_adds(&sb, "</span> on ");
	sb_add_escaped(&sb, str(c, "host"));
	sb_adds(&sb, " (");
	sb_add_escaped(&sb, str(c, "accel"));
	sb_adds(&sb, ")");
	struct strbuf url = STRBUF_INIT;
	if (add_file_url(&url, c, rdir, RECORD_FILE, served))
		sb_addf(&sb, ", <a href=\"%s\">run.json</a>", url.buf);
	sb_release(&url);
	sb_adds(&sb, "</p>\n<h2>Stages</h2>\n<table><tr><th>stage</th><th>outcome</th>"
		     "<th>started</th><th>took</th><th>detail</th><th>reader</th></tr>\n");
	size_t i;
	json_t *st;
	json_array_foreach(json_object_get(rec, "stages"), i, st) {
		sb_adds(&sb, "<tr><td>");
		sb_add_escaped(&sb, str(st, "name"));
		sb_adds(&sb, "</td><td>");
		sb_add_escaped(&sb, str(st, "outcome"));
		sb_addf(&sb, "</td><td>%lld ms</td><td>%lld ms</td><td>",
			json_integer_value(json_object_get(st, "started_ms")),
			json_integer_value(json_object_get(st, "duration_ms")));
		sb_add_escaped(&sb, str(st, "detail"));
		sb_adds(&sb, "</td><td>");
		sb_add_escaped(&sb, str(st, "reader"));
		sb_adds(&sb, "</td></tr>\n");
	}
	sb_adds(&sb, "</table>\n");
	json_array_foreach(json_object_get(rec, "stages"), i, st) {
		const char *frame = str(st, "frame");
		if (!plain_name(frame))
			continue;
		sb_adds(&sb, "<h3>");
		sb_add_escaped(&sb, str(st, "name"));
		sb_adds(&sb, "</h3>");
		struct strbuf src = STRBUF_INIT;
		if (add_file_url(&src, c, rdir, frame, served))
			sb_addf(&sb, "<img alt=\"frame\" src=\"%s\">", src.buf);
		else
			sb_adds(&sb, "<p class=\"none\">(the frame stays with the lab's records)</p>");
		sb_release(&src);
		const char *text = str(st, "screen_text");
		if (plain_name(text))
			html_file(&sb, root, run_dir, text, PAGE_LOG_MAX);
		/* A first reading that the verdict did not rest on, marked so. */
		json_t *old = json_object_get(st, "superseded");
		const char *first = str(old, "screen_text");
		if (plain_name(first)) {
			sb_adds(&sb, "<details><summary>superseded reading (");
			sb_add_escaped(&sb, str(old, "reader"));
			sb_adds(&sb, "): ");
			sb_add_escaped(&sb, str(old, "why"));
			sb_adds(&sb, "</summary>");
			html_file(&sb, root, run_dir, first, PAGE_LOG_MAX);
			sb_adds(&sb, "</details>");
		}
	}
	sb_adds(&sb, "<h2>Serial log</h2>");
	html_file(&sb, root, run_dir, "serial.log", PAGE_LOG_MAX);
	sb_adds(&sb, "<h2>QEMU</h2>");
	html_file(&sb, root, run_dir, "qemu-argv.txt", PAGE_LOG_MAX);
	sb_adds(&sb, "<h2>History</h2>\n<table><tr><th>run</th><th>verdict</th><th>started</th><th>host</th></tr>\n");
	const char *newer = str(c, "verdict");
	json_t *h;
	json_array_foreach(json_object_get(c, "history"), i, h) {
		int changed = strcmp(str(h, "verdict"), newer) != 0;
		sb_addf(&sb, "<tr%s><td>", changed ? " class=\"changed\" title=\"changed after this run\"" : "");
		sb_add_escaped(&sb, str(h, "run_id"));
		sb_adds(&sb, "</td><td>");
		sb_add_escaped(&sb, str(h, "verdict"));
		sb_adds(&sb, changed ? " &rarr; changed</td><td>" : "</td><td>");
		sb_add_escaped(&sb, str(h, "started_at"));
		sb_adds(&sb, "</td><td>");
		sb_add_escaped(&sb, str(h, "host"));
		sb_adds(&sb, "</td></tr>\n");
		newer = str(h, "verdict");
	}
	sb_adds(&sb, "</table></body></html>\n");
	/* A contributor's pages go in runs/CONTRIBUTOR/. */
	char *page_dir = xasprintf("%s/%s", out_dir, str(c, "page"));
	*strrchr(page_dir, '/') = '\0';
	int rc = mkdir_p(page_dir, err) < 0 ? -1 : write_text(out_dir, str(c, "page"), &sb, err);
	free(page_dir);
	sb_release(&sb);
	json_decref(rec);
	free(recrel);
	free(rdir);
	return rc;
}

/* One grid cell: a chip per entry. A measured one links to its run's
 * page, in its stage outcome's colour, with its verdict if it did not
 * pass and its cell's class if that is red or known; a reported one is
 * marked so, its note and source in its title. */
static void html_entries(struct strbuf *sb, json_t *list, const char *source)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		if (*str(e, "what")) {
			sb_adds(sb, "<span class=\"chip reported\" data-reported=\"1\" title=\"");
			sb_add_escaped(sb, str(e, "note"));
			sb_adds(sb, " (");
			sb_add_escaped(sb, source);
			sb_adds(sb, ")\">");
			sb_add_escaped(sb, str(e, "what"));
			sb_adds(sb, ": ");
			sb_add_escaped(sb, str(e, "result"));
			sb_adds(sb, "</span>");
			continue;
		}
		const char *outcome = str(e, "outcome"), *cls = str(e, "class");
		if (!strcmp(outcome, "not-run")) {
			sb_adds(sb, "<span class=\"chip not-run\">");
			sb_add_escaped(sb, str(e, "guest"));
			sb_adds(sb, " not run</span>");
			continue;
		}
		int disagree = json_is_true(json_object_get(e, "disagree"));
		sb_adds(sb, "<a class=\"chip st-");
		sb_add_escaped(sb, outcome);
		if (matrix_class_is_bad(cls))
			sb_adds(sb, " bad");
		if (disagree)
			sb_adds(sb, " disagree");
		sb_adds(sb, "\" data-run=\"");
		sb_add_escaped(sb, str(e, "run_id"));
		sb_adds(sb, "\" href=\"");
		sb_add_escaped(sb, str(e, "page"));
		sb_adds(sb, "\" title=\"");
		sb_add_escaped(sb, str(e, "cell"));
		sb_adds(sb, ": ");
		sb_add_escaped(sb, class_words(cls));
		sb_adds(sb, "\">");
		sb_add_escaped(sb, str(e, "guest"));
		sb_addf(sb, " %s", mark(outcome));
		if (*str(e, "verdict")) {
			sb_adds(sb, " ");
			sb_add_escaped(sb, short_verdict(str(e, "verdict")));
		}
		/* The cell's class where it shows: on the stages that did not
		 * pass (a known failure's passed stages are plain passes), and
		 * on a fixed or flaky cell's passes. */
		int pass = !strcmp(outcome, "pass");
		if ((!pass && strcmp(cls, "pass")) || (pass && (!strcmp(cls, "flaky") || !strcmp(cls, "fixed")))) {
			sb_adds(sb, " <b>");
			sb_add_escaped(sb, class_words(cls));
			sb_adds(sb, "</b>");
		}
		/* Whose it is, and on which host. */
		size_t k;
		json_t *b;
		json_array_foreach(json_object_get(e, "by"), k, b) {
			sb_adds(sb, "<small class=\"by\">");
			sb_add_escaped(sb, str(b, "source"));
			sb_adds(sb, " on ");
			sb_add_escaped(sb, str(b, "host"));
			sb_adds(sb, "</small>");
		}
		if (disagree)
			sb_adds(sb, "<small class=\"by\"><b>sources disagree</b></small>");
		sb_adds(sb, "</a>");
	}
}

static void write_html(json_t *m, struct strbuf *sb)
{
	sb_adds(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<title>hilrun compatibility matrix</title><style>"
		    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
		    "th,td{border:1px solid #bbb;padding:.3em;vertical-align:top;font-size:88%}"
		    "th.fw{background:#eee}td.row{white-space:nowrap;color:#444}"
		    ".chip{display:block;margin:.1em 0;padding:.1em .3em;border-radius:.3em;"
		    "white-space:nowrap;text-decoration:none;color:#000}"
		    ".st-pass{background:#c8f0c8}.st-fail{background:#f4c4b0}.st-error{background:#ddd}"
		    ".st-skip{background:#f2f2f2;color:#777}.bad{outline:2px solid #d00}"
		    ".not-run{color:#888}.reported{border:1px dashed #888;font-style:italic}"
		    "tr.reported td{background:#fafaf4}.none{color:#aaa}"
		    ".by{display:block;color:#444}.disagree{outline:2px dashed #a0a}"
		    "</style></head><body>\n<h1>hilrun compatibility matrix</h1>\n");
	sb_adds(sb, "<p>Generated ");
	sb_add_escaped(sb, str(m, "generated_at"));
	sb_addf(sb, " from %d runs. Each column is a stage under one firmware; each entry is a guest "
		    "that proves it (&#10003; pass, &#10007; fail, ! error, &ndash; not reached), "
		    "linking to its run, with whose result it is (the lab or a contributor) and the host it ran on; "
		    "where the newest results of different sources disagree, each is shown. Dashed entries "
		    "were reported, not measured.</p>\n",
		(int)json_integer_value(json_object_get(m, "runs_indexed")));
	for (int k = 0; k < 2; k++) {
		json_t *rs = rows_of_kind(m, kinds[k][0]);
		if (!json_array_size(rs)) {
			json_decref(rs);
			continue;
		}
		json_t *cols = columns_of(m, rs);
		sb_addf(sb, "<h2>%s</h2>\n<table class=\"matrix\"><tr><th rowspan=\"2\">card</th>"
			    "<th rowspan=\"2\">PCI id</th><th rowspan=\"2\">row</th>",
			kinds[k][1]);
		/* Firmware over its stages. */
		size_t i, j, span = 0;
		json_t *col, *r;
		json_array_foreach(cols, j, col) {
			span++;
			json_t *next = json_array_get(cols, j + 1);
			if (next && !strcmp(str(next, "firmware"), str(col, "firmware")))
				continue;
			sb_addf(sb, "<th class=\"fw\" colspan=\"%zu\">", span);
			sb_add_escaped(sb, str(col, "firmware"));
			sb_adds(sb, "</th>");
			span = 0;
		}
		sb_adds(sb, "</tr>\n<tr>");
		json_array_foreach(cols, j, col) {
			sb_adds(sb, "<th>");
			sb_add_escaped(sb, str(col, "label"));
			sb_adds(sb, "</th>");
		}
		sb_adds(sb, "</tr>\n");
		json_array_foreach(rs, i, r) {
			int reported = !strcmp(str(r, "row"), "reported");
			sb_addf(sb, "<tr%s>", reported ? " class=\"reported\"" : "");
			if (!i || strcmp(str(json_array_get(rs, i - 1), "card"), str(r, "card"))) {
				size_t n = card_span(rs, i);
				sb_addf(sb, "<td rowspan=\"%zu\">", n);
				sb_add_escaped(sb, str(r, "card_name"));
				sb_adds(sb, "<br><code>");
				sb_add_escaped(sb, str(r, "card"));
				sb_addf(sb, "</code></td><td rowspan=\"%zu\">%s</td>", n, str(r, "pci_id"));
			}
			sb_adds(sb, "<td class=\"row\">");
			if (reported) {
				sb_adds(sb, "<span title=\"");
				sb_add_escaped(sb, str(r, "source"));
				sb_adds(sb, "\">reported</span>");
			} else {
				sb_add_escaped(sb, str(r, "row"));
			}
			sb_adds(sb, "</td>");
			json_array_foreach(cols, j, col) {
				json_t *list = json_object_get(json_object_get(r, "cells"), str(col, "key"));
				if (!list) {
					sb_adds(sb, "<td class=\"none\">&mdash;</td>");
					continue;
				}
				sb_adds(sb, "<td>");
				html_entries(sb, list, str(r, "source"));
				sb_adds(sb, "</td>");
			}
			sb_adds(sb, "</tr>\n");
		}
		sb_adds(sb, "</table>\n");
		json_decref(cols);
		json_decref(rs);
	}
	sb_adds(sb, "</body></html>\n");
}

int matrix_write(json_t *m, const char *out_dir, struct hil_err *err)
{
	return matrix_write_served(m, out_dir, 0, err);
}

int matrix_write_served(json_t *m, const char *out_dir, int served, struct hil_err *err)
{
	if (mkdir_p(out_dir, err) < 0)
		return -1;
	struct strbuf json = STRBUF_INIT, md = STRBUF_INIT, junit = STRBUF_INIT, html = STRBUF_INIT;
	char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
	sb_adds(&json, text);
	sb_adds(&json, "\n");
	free(text);
	write_md(m, &md);
	write_junit(m, &junit);
	write_html(m, &html);
	char *runs_dir = xasprintf("%s/runs", out_dir);
	int pages_ok = mkdir_p(runs_dir, err) == 0;
	free(runs_dir);
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(m, "cells"), i, c) {
		size_t j;
		json_t *src;
		json_array_foreach(json_object_get(c, "sources"), j, src)
			if (pages_ok && write_run_page(src, str(c, "name"), out_dir, served, err) < 0)
				pages_ok = 0;
	}
	int rc = !pages_ok || write_text(out_dir, "matrix.json", &json, err) < 0 ||
			 write_text(out_dir, "matrix.md", &md, err) < 0 ||
			 write_text(out_dir, "junit.xml", &junit, err) < 0 ||
			 write_text(out_dir, "matrix.html", &html, err) < 0
		 ? -1 : 0;
	sb_release(&json);
	sb_release(&md);
	sb_release(&junit);
	sb_release(&html);
	return rc;
}
