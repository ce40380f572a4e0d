/* report: the guest report protocol on COM1 (docs/report-protocol.md).
 *
 * Lines starting "HILRUN/" are reports; everything else is firmware output.
 * A report line longer than REPORT_LINE_MAX is an error, never truncated into
 * something that parses.
 *
 * Ownership: struct report_msg holds copies of the line's pieces in its own
 * fixed storage (no heap); pointers into it live as long as the struct.
 * struct serial_lines owns its buffer. */
#ifndef HIL_REPORT_H
#define HIL_REPORT_H

#include <stddef.h>
#include "util.h"

#define REPORT_LINE_MAX 512
#define REPORT_PAIRS_MAX 16
#define REPORT_PREFIX "HILRUN/"
#define REPORT_VERSION 1

struct report_msg {
	const char *stage;
	const char *event;
	size_t npairs;
	const char *key[REPORT_PAIRS_MAX];
	const char *val[REPORT_PAIRS_MAX];
	char storage[REPORT_LINE_MAX + 2 * REPORT_PAIRS_MAX + 8];
};

/* Parse one line (without its '\n'). 1: a report, in *m; 0: not a report
 * (firmware output); -1: a report line that is malformed (err says why). */
int report_parse(const char *line, size_t len, struct report_msg *m, struct hil_err *err);
/* The value of key, or NULL. */
const char *report_get(const struct report_msg *m, const char *key);

/* Splits a byte stream into lines. Lines over max bytes are cut off: the
 * caller is told (overlong) and the rest up to '\n' is discarded. */
struct serial_lines {
	char *buf;
	size_t len, max;
	int discarding;
};
void serial_lines_init(struct serial_lines *s, size_t max);
void serial_lines_release(struct serial_lines *s);
/* Feed bytes; for each complete line calls fn(ctx, line, len, overlong). */
void serial_lines_feed(struct serial_lines *s, const char *data, size_t n,
		       void (*fn)(void *ctx, const char *line, size_t len, int overlong),
		       void *ctx);

#endif
