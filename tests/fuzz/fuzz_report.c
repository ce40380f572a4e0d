/* fuzz_report: the report protocol's reader (channels/report.c) given any
 * bytes as a guest's serial output: serial_lines_feed splits them into
 * lines (fed whole, then again in pieces whose sizes the first byte
 * chooses, as reads from a pty come), and each line goes through
 * report_parse, as the runner does (run/start.c's limit). A report it
 * parses must keep the promises of report.h: stage and event are names,
 * at most REPORT_PAIRS_MAX pairs, every value printable and found by
 * report_get; the lines must be the same however the bytes came. The
 * report_msg is on the heap, its exact size, so that ASan sees a write
 * past its storage. Corpus: tests/fuzz/corpus/report/ (seeds: the
 * fixture run's serial.log and the lines of tests/unit/test_report.c,
 * seeds.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "report.h"

#define LINE_MAX_FED (REPORT_LINE_MAX + 1) /* run/start.c's: + the '\r' of CRLF */

struct seen {
	struct report_msg *m;
	uint64_t hash; /* of the lines and what became of them, in order */
	size_t lines;
};

static int is_name(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

static void mix(struct seen *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		s->hash = (s->hash ^ b[i]) * 0x100000001b3ull;
}

static void on_line(void *ctx, const char *line, size_t len, int overlong)
{
	struct seen *s = ctx;
	fuzz_check(len <= LINE_MAX_FED && !memchr(line, '\n', len) && (!overlong || len == LINE_MAX_FED),
		   "serial_lines_feed: a line over its limit, holding a newline, or cut short early");
	struct hil_err err;
	err.msg[0] = '\0';
	int rc = overlong ? 2 : report_parse(line, len, s->m, &err);
	if (rc == 1) {
		const struct report_msg *m = s->m;
		fuzz_check(is_name(m->stage) && is_name(m->event) && m->npairs <= REPORT_PAIRS_MAX,
			   "report_parse: a stage or event that is no name, or too many pairs");
		for (size_t i = 0; i < m->npairs; i++) {
			fuzz_check(is_name(m->key[i]) && m->val[i], "report_parse: a key that is no name");
			for (const char *v = m->val[i]; *v; v++)
				fuzz_check(*v >= 0x20 && *v <= 0x7e, "report_parse: a value not printable");
			const char *got = report_get(m, m->key[i]);
			fuzz_check(got != NULL, "report_get does not find a key report_parse gave");
		}
	} else if (rc == -1) {
		fuzz_check(err.msg[0] != '\0', "report_parse refused a line without saying why");
	} else {
		fuzz_check(rc == 0 || rc == 2, "report_parse: neither 1, 0 nor -1");
	}
	mix(s, &len, sizeof len);
	mix(s, line, len);
	mix(s, &rc, sizeof rc);
	s->lines++;
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "line %zu: %d %s\n", s->lines, rc, rc == -1 ? err.msg : "");
}

static void feed(const uint8_t *data, size_t size, size_t piece, struct seen *s)
{
	struct serial_lines sl;
	serial_lines_init(&sl, LINE_MAX_FED);
	for (size_t at = 0; at < size; at += piece)
		serial_lines_feed(&sl, (const char *)data + at, size - at < piece ? size - at : piece,
				  on_line, s);
	serial_lines_release(&sl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole = { xmalloc(sizeof *whole.m), 0, 0 };
	struct seen pieces = { xmalloc(sizeof *pieces.m), 0, 0 };
	feed(data, size, size ? size : 1, &whole);
	feed(data, size, size ? 1 + data[0] % 97 : 1, &pieces);
	fuzz_check(whole.lines == pieces.lines && whole.hash == pieces.hash,
		   "serial_lines_feed: the lines depend on how the bytes came");
	/* report_parse on the whole input as one line, whatever its length */
	struct hil_err err;
	report_parse((const char *)data, size, whole.m, &err);
	free(whole.m);
	free(pieces.m);
	return 0;
}
