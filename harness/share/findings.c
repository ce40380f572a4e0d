/* findings: errors and warnings with stable codes (findings.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "findings.h"
#include "util.h"

void findings_init(struct findings *f)
{
	memset(f, 0, sizeof *f);
}

void findings_release(struct findings *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].file);
		free(f->v[i].message);
	}
	free(f->v);
	findings_init(f);
}

void findings_add(struct findings *f, enum finding_level level, const char *code, const char *file,
		  const char *fmt, ...)
{
	if (f->n >= FINDINGS_MAX) {
		f->dropped++;
		return;
	}
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 8;
		f->v = xrealloc(f->v, f->cap * sizeof *f->v);
	}
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	/* A name from a tar, or a message quoting one (perhaps cut short by
	 * a %.Ns), may be any bytes: JSON holds UTF-8 only. */
	f->v[f->n++] = (struct finding){ level, code, file ? utf8_repair(xstrdup(file)) : NULL,
					 utf8_repair(msg) };
}

size_t findings_errors(const struct findings *f)
{
	size_t n = f->dropped ? 1 : 0;
	for (size_t i = 0; i < f->n; i++)
		n += f->v[i].level == FINDING_ERROR;
	return n;
}

const struct finding *findings_find(const struct findings *f, const char *code)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].code, code))
			return &f->v[i];
	return NULL;
}

static json_t *finding_json(const char *code, const char *file, const char *message)
{
	json_t *o = json_pack("{s:s, s:s}", "code", code, "message", message);
	if (file)
		json_object_set_new(o, "file", json_string(file));
	return o;
}

json_t *findings_json(const struct findings *f)
{
	json_t *errors = json_array(), *warnings = json_array();
	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(f->v[i].level == FINDING_ERROR ? errors : warnings,
				      finding_json(f->v[i].code, f->v[i].file, f->v[i].message));
	if (f->dropped) {
		char *msg = xasprintf("%zu more findings not listed (at most %d are)", f->dropped,
				      FINDINGS_MAX);
		json_array_append_new(errors, finding_json("too-many-findings", NULL, msg));
		free(msg);
	}
	return json_pack("{s:b, s:o, s:o}", "ok", findings_errors(f) == 0, "errors", errors,
			 "warnings", warnings);
}

char *findings_text(const struct findings *f, const char *indent)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < f->n; i++) {
		const struct finding *x = &f->v[i];
		sb_addf(&sb, "%s%s %s: %s%s%s\n", indent,
			x->level == FINDING_ERROR ? "error" : "warning", x->code, x->file ? x->file : "",
			x->file ? ": " : "", x->message);
	}
	if (f->dropped)
		sb_addf(&sb, "%serror too-many-findings: %zu more findings not listed\n", indent,
			f->dropped);
	return sb_detach(&sb);
}
