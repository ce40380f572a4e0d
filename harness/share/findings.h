/* findings: what a check of an upload found: errors (the upload is
 * rejected) and warnings (it is accepted, flagged), each with a stable
 * machine-readable code, the bundle entry it is about (if any) and a
 * message for people. The bundle reader and the validator add to one list,
 * so that a contributor learns every problem at once; the server (later)
 * answers a rejection with findings_json, hilrun upload --dry-run prints
 * them. The codes are listed in docs/upload.md.
 *
 * A finding's file and message are kept as UTF-8 (utf8_repair: bytes
 * that are not become '?'), so that every finding reaches the JSON answer.
 *
 * A list holds at most FINDINGS_MAX findings: past that, one more error
 * "too-many-findings" says how many were dropped (a hostile bundle cannot
 * make an answer of unbounded size).
 *
 * Ownership: struct findings owns its entries and their strings;
 * findings_json returns a new reference the caller json_decrefs. */
#ifndef HIL_FINDINGS_H
#define HIL_FINDINGS_H

#include <jansson.h>
#include <stddef.h>

#define FINDINGS_MAX 200

enum finding_level { FINDING_ERROR, FINDING_WARNING };

struct finding {
	enum finding_level level;
	const char *code; /* a string literal: "file-sha256" */
	char *file;       /* the entry it is about, or NULL */
	char *message;    /* lowercase, no final full stop */
};

struct findings {
	struct finding *v;
	size_t n, cap;
	size_t dropped; /* past FINDINGS_MAX */
};

void findings_init(struct findings *f);
void findings_release(struct findings *f);
/* Add one; file may be NULL. code must outlive the list (a literal). */
void findings_add(struct findings *f, enum finding_level level, const char *code, const char *file,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
size_t findings_errors(const struct findings *f);
/* The first finding with this code, or NULL (tests, callers that branch). */
const struct finding *findings_find(const struct findings *f, const char *code);
/* {"ok": bool, "errors": [{code, file?, message}], "warnings": [...]};
 * "ok" is true when there is no error. */
json_t *findings_json(const struct findings *f);
/* "error CODE: FILE: MESSAGE" (or "warning ..."; no FILE when there is
 * none), one finding a line, each line prefixed with indent. */
char *findings_text(const struct findings *f, const char *indent);

#endif
