/* test_report: the guest report protocol (harness/channels/report.c,
 * docs/report-protocol.md). report_parse on valid lines (bare and quoted
 * values, escapes, \r, the length and pair limits), on firmware output, and
 * on every kind of malformed report line with its exact message; and
 * serial_lines: lines split across feeds, overlong lines, CRLF. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "testutil.h"

static int parse(const char *line, struct report_msg *m, struct hil_err *err)
{
	strcpy(err->msg, "(no message)");
	return report_parse(line, strlen(line), m, err);
}

/* ---- valid report lines ------------------------------------------------ */

START_TEST(parse_hello)
{
	struct report_msg m;
	struct hil_err err;
	ck_assert_int_eq(parse("HILRUN/1 guest hello name=bios-post version=1", &m, &err), 1);
	ck_assert_str_eq(m.stage, "guest");
	ck_assert_str_eq(m.event, "hello");
	ck_assert_uint_eq(m.npairs, 2);
	ck_assert_str_eq(m.key[0], "name");
	ck_assert_str_eq(m.val[0], "bios-post");
	ck_assert_str_eq(m.key[1], "version");
	ck_assert_str_eq(m.val[1], "1");
	ck_assert_str_eq(report_get(&m, "version"), "1");
	ck_assert_str_eq(report_get(&m, "name"), "bios-post");
	ck_assert_ptr_null(report_get(&m, "nam"));
	ck_assert_ptr_null(report_get(&m, "bios-post"));
}
END_TEST

START_TEST(parse_no_pairs_and_cr)
{
	struct report_msg m;
	struct hil_err err;
	ck_assert_int_eq(parse("HILRUN/1 post hold\r", &m, &err), 1);
	ck_assert_str_eq(m.stage, "post");
	ck_assert_str_eq(m.event, "hold");
	ck_assert_uint_eq(m.npairs, 0);

	ck_assert_int_eq(parse("HILRUN/1 pci done count=1   \r", &m, &err), 1);
	ck_assert_uint_eq(m.npairs, 1);
	ck_assert_str_eq(report_get(&m, "count"), "1");
}
END_TEST

START_TEST(parse_quoted)
{
	struct report_msg m;
	struct hil_err err;
	const char *line = "HILRUN/1 text line row=3 text=\"say \\\"hi\\\" \\\\ o=k\" empty=\"\" tail=x";
	ck_assert_msg(parse(line, &m, &err) == 1, "%s", err.msg);
	ck_assert_str_eq(m.stage, "text");
	ck_assert_str_eq(m.event, "line");
	ck_assert_uint_eq(m.npairs, 4);
	ck_assert_str_eq(report_get(&m, "row"), "3");
	ck_assert_str_eq(report_get(&m, "text"), "say \"hi\" \\ o=k");
	ck_assert_str_eq(report_get(&m, "empty"), "");
	ck_assert_str_eq(report_get(&m, "tail"), "x");
}
END_TEST

START_TEST(parse_bare_values)
{
	struct report_msg m;
	struct hil_err err;
	ck_assert_int_eq(parse("HILRUN/1 pci display bdf=00:02.0 id=1234:1111 class=030000 a=b=c e=",
			       &m, &err), 1);
	ck_assert_uint_eq(m.npairs, 5);
	ck_assert_str_eq(report_get(&m, "bdf"), "00:02.0");
	ck_assert_str_eq(report_get(&m, "id"), "1234:1111");
	ck_assert_str_eq(report_get(&m, "class"), "030000");
	ck_assert_str_eq(report_get(&m, "a"), "b=c");
	ck_assert_str_eq(report_get(&m, "e"), "");
}
END_TEST

/* The parser reads len bytes, not up to a NUL. */
START_TEST(parse_respects_len)
{
	static const char buf[] = "HILRUN/1 end exit code=3 junk=\"unterminated";
	struct report_msg m;
	struct hil_err err;
	size_t len = strlen("HILRUN/1 end exit code=3");
	ck_assert_int_eq(report_parse(buf, len, &m, &err), 1);
	ck_assert_uint_eq(m.npairs, 1);
	ck_assert_str_eq(report_get(&m, "code"), "3");
	ck_assert_int_eq(report_parse(buf, sizeof buf - 1, &m, &err), -1);
	ck_assert_str_eq(err.msg, "report line: unterminated quoted value for 'junk'");
}
END_TEST

/* Pieces live in the message's own storage, not in the caller's line. */
START_TEST(parse_copies)
{
	char line[] = "HILRUN/1 guest hello name=bios-post";
	struct report_msg m;
	struct hil_err err;
	ck_assert_int_eq(parse(line, &m, &err), 1);
	memset(line, 'x', sizeof line - 1);
	ck_assert_str_eq(m.stage, "guest");
	ck_assert_str_eq(m.event, "hello");
	ck_assert_str_eq(report_get(&m, "name"), "bios-post");
}
END_TEST

/* Build "HILRUN/1 text line v=xxx..." of exactly len bytes. */
static char *line_of_len(size_t len)
{
	const char *head = "HILRUN/1 text line v=";
	char *s = xmalloc(len + 1);
	size_t h = strlen(head);
	memcpy(s, head, h);
	memset(s + h, 'x', len - h);
	s[len] = '\0';
	return s;
}

START_TEST(parse_length_limit)
{
	struct report_msg m;
	struct hil_err err;
	char *s = line_of_len(REPORT_LINE_MAX);
	ck_assert_int_eq(parse(s, &m, &err), 1);
	ck_assert_uint_eq(strlen(report_get(&m, "v")), REPORT_LINE_MAX - strlen("HILRUN/1 text line v="));
	free(s);

	/* 512 bytes and the \r that is dropped */
	s = line_of_len(REPORT_LINE_MAX + 1);
	s[REPORT_LINE_MAX] = '\r';
	ck_assert_int_eq(parse(s, &m, &err), 1);
	free(s);

	s = line_of_len(REPORT_LINE_MAX + 1);
	int rc = parse(s, &m, &err);
	free(s);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(err.msg, "report line longer than 512 bytes");
}
END_TEST

START_TEST(parse_pair_limit)
{
	struct strbuf sb = STRBUF_INIT;
	struct report_msg m;
	struct hil_err err;
	sb_adds(&sb, "HILRUN/1 guest many");
	for (int i = 0; i < REPORT_PAIRS_MAX; i++)
		sb_addf(&sb, " k%d=\"v %d\"", i, i);
	ck_assert_int_eq(report_parse(sb.buf, sb.len, &m, &err), 1);
	ck_assert_uint_eq(m.npairs, REPORT_PAIRS_MAX);
	ck_assert_str_eq(report_get(&m, "k15"), "v 15");
	ck_assert_str_eq(m.key[0], "k0");
	sb_adds(&sb, " k16=x");
	int rc = report_parse(sb.buf, sb.len, &m, &err);
	sb_release(&sb);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(err.msg, "report line: more than 16 key=value pairs");
}
END_TEST

/* The most the storage can be asked to hold: 16 pairs of one-letter keys
 * with values filling the line up to 512 bytes. */
START_TEST(parse_full_storage)
{
	struct strbuf sb = STRBUF_INIT;
	struct report_msg m;
	struct hil_err err;
	sb_adds(&sb, "HILRUN/1 s e");
	for (int i = 0; i < REPORT_PAIRS_MAX; i++)
		sb_addf(&sb, " %c=", 'a' + i);
	size_t fill = REPORT_LINE_MAX - sb.len;
	for (size_t i = 0; i < fill; i++)
		sb_adds(&sb, "y");
	ck_assert_uint_eq(sb.len, REPORT_LINE_MAX);
	ck_assert_int_eq(report_parse(sb.buf, sb.len, &m, &err), 1);
	ck_assert_uint_eq(strlen(report_get(&m, "p")), fill);
	ck_assert_str_eq(report_get(&m, "a"), "");
	sb_release(&sb);
}
END_TEST

/* ---- firmware output: not a report ------------------------------------- */

static const char *const not_reports[] = {
	"",
	"\r",
	"SeaBIOS (version 1.16.2-debian-1.16.2-1)",
	"HILRUN",
	"hilrun/1 guest hello",
	" HILRUN/1 guest hello",
	"Booting from Floppy...",
};

START_TEST(not_a_report)
{
	struct report_msg m;
	struct hil_err err;
	ck_assert_int_eq(parse(not_reports[_i], &m, &err), 0);
	ck_assert_str_eq(err.msg, "(no message)");
}
END_TEST

START_TEST(long_firmware_line_is_not_an_error)
{
	char buf[2000];
	memset(buf, '=', sizeof buf);
	struct report_msg m;
	struct hil_err err;
	ck_assert_int_eq(report_parse(buf, sizeof buf, &m, &err), 0);
}
END_TEST

/* ---- malformed report lines -------------------------------------------- */

static const struct {
	const char *line;
	const char *msg;
} bad[] = {
	{ "HILRUN/2 guest hello", "report line: protocol version 2, this hilrun reads version 1" },
	{ "HILRUN/0 guest hello", "report line: protocol version 0, this hilrun reads version 1" },
	{ "HILRUN/x guest hello", "report line: expected 'HILRUN/<version> ' at the start" },
	{ "HILRUN/1", "report line: expected 'HILRUN/<version> ' at the start" },
	{ "HILRUN/1\r", "report line: expected 'HILRUN/<version> ' at the start" },
	{ "HILRUN/1x guest hello", "report line: expected 'HILRUN/<version> ' at the start" },
	{ "HILRUN/12345 guest hello", "report line: expected 'HILRUN/<version> ' at the start" },
	{ "HILRUN/", "report line: expected 'HILRUN/<version> ' at the start" },
	{ "HILRUN/ guest hello", "report line: expected 'HILRUN/<version> ' at the start" },
	{ "HILRUN/1 guest", "report line: expected a stage name and an event after the prefix" },
	{ "HILRUN/1 Guest hello", "report line: expected a stage name and an event after the prefix" },
	{ "HILRUN/1  guest hello", "report line: expected a stage name and an event after the prefix" },
	{ "HILRUN/1 guest ", "report line: expected an event name after stage 'guest'" },
	{ "HILRUN/1 guest hello!", "report line: expected an event name after stage 'guest'" },
	{ "HILRUN/1 guest Hello", "report line: expected an event name after stage 'guest'" },
	{ "HILRUN/1 guest hello Name=x", "report line: expected key=value at column 22" },
	{ "HILRUN/1 guest hello name", "report line: expected key=value at column 26" },
	{ "HILRUN/1 guest hello name =x", "report line: expected key=value at column 26" },
	{ "HILRUN/1 guest hello a=1 =x", "report line: expected key=value at column 26" },
	{ "HILRUN/1 text line text=\"abc", "report line: unterminated quoted value for 'text'" },
	{ "HILRUN/1 text line text=\"abc\\\"", "report line: unterminated quoted value for 'text'" },
	{ "HILRUN/1 text line text=\"abc\\", "report line: bad escape in value of 'text' (only \\\" and \\\\)" },
	{ "HILRUN/1 text line text=\"a\\nb\"", "report line: bad escape in value of 'text' (only \\\" and \\\\)" },
	{ "HILRUN/1 text line text=\"abc\"def", "report line: expected a space after the quoted value of 'text'" },
	{ "HILRUN/1 text line text=\"a\tb\"", "report line: non-printable byte in value of 'text'" },
	{ "HILRUN/1 text line text=\"caf\xc3\xa9\"", "report line: non-printable byte in value of 'text'" },
	{ "HILRUN/1 text line text=\"a\x7f\"", "report line: non-printable byte in value of 'text'" },
	{ "HILRUN/1 text line a=b\"c", "report line: bad character in value of 'a'" },
	{ "HILRUN/1 text line a=b\x01", "report line: bad character in value of 'a'" },
	{ "HILRUN/1 text line a=\xff", "report line: bad character in value of 'a'" },
	{ "HILRUN/1 text line a=~\x7f", "report line: bad character in value of 'a'" },
};
#define NBAD (sizeof bad / sizeof *bad)

START_TEST(parse_bad)
{
	struct report_msg m;
	struct hil_err err;
	int rc = parse(bad[_i].line, &m, &err);
	ck_assert_msg(rc == -1, "case %d: rc %d", _i, rc);
	ck_assert_msg(!strcmp(err.msg, bad[_i].msg), "case %d:\n  got      '%s'\n  expected '%s'", _i,
		      err.msg, bad[_i].msg);
}
END_TEST

/* ---- serial_lines ------------------------------------------------------ */

#define MAXLINES 16

struct got {
	int n;
	char line[MAXLINES][1024];
	size_t len[MAXLINES];
	int overlong[MAXLINES];
};

static void collect(void *ctx, const char *line, size_t len, int overlong)
{
	struct got *g = ctx;
	ck_assert_int_lt(g->n, MAXLINES);
	ck_assert_uint_lt(len, sizeof g->line[0]);
	memcpy(g->line[g->n], line, len);
	g->line[g->n][len] = '\0';
	g->len[g->n] = len;
	g->overlong[g->n] = overlong;
	g->n++;
}

static void feed(struct serial_lines *s, const char *data, struct got *g)
{
	serial_lines_feed(s, data, strlen(data), collect, g);
}

START_TEST(lines_split_across_feeds)
{
	struct serial_lines s;
	struct got g = { 0 };
	serial_lines_init(&s, REPORT_LINE_MAX);
	feed(&s, "HILRUN/1 gu", &g);
	ck_assert_int_eq(g.n, 0);
	feed(&s, "est hello\nSea", &g);
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.line[0], "HILRUN/1 guest hello");
	ck_assert_int_eq(g.overlong[0], 0);
	feed(&s, "BIOS\n\nlast", &g);
	ck_assert_int_eq(g.n, 3);
	ck_assert_str_eq(g.line[1], "SeaBIOS");
	ck_assert_uint_eq(g.len[2], 0);
	ck_assert_int_eq(g.overlong[2], 0);
	/* "last" has no newline yet: not delivered */
	serial_lines_release(&s);
	ck_assert_ptr_null(s.buf);
	ck_assert_int_eq(g.n, 3);
}
END_TEST

START_TEST(lines_byte_by_byte)
{
	static const char text[] = "HILRUN/1 text line row=0 text=\"a b\"\r\nHILRUN/1 text hold rows=1\r\n";
	struct serial_lines s;
	struct got g = { 0 };
	serial_lines_init(&s, REPORT_LINE_MAX);
	for (size_t i = 0; i < sizeof text - 1; i++)
		serial_lines_feed(&s, text + i, 1, collect, &g);
	serial_lines_release(&s);
	ck_assert_int_eq(g.n, 2);
	ck_assert_str_eq(g.line[0], "HILRUN/1 text line row=0 text=\"a b\"\r");
	ck_assert_str_eq(g.line[1], "HILRUN/1 text hold rows=1\r");
}
END_TEST

START_TEST(lines_crlf_parse)
{
	struct serial_lines s;
	struct got g = { 0 };
	serial_lines_init(&s, REPORT_LINE_MAX);
	feed(&s, "HILRUN/1 post hold\r\nSeaBIOS\r\n", &g);
	serial_lines_release(&s);
	ck_assert_int_eq(g.n, 2);
	ck_assert_uint_eq(g.len[0], strlen("HILRUN/1 post hold\r"));
	struct report_msg m;
	struct hil_err err;
	ck_assert_int_eq(report_parse(g.line[0], g.len[0], &m, &err), 1);
	ck_assert_str_eq(m.event, "hold");
	ck_assert_int_eq(report_parse(g.line[1], g.len[1], &m, &err), 0);
}
END_TEST

START_TEST(lines_exactly_max)
{
	struct serial_lines s;
	struct got g = { 0 };
	serial_lines_init(&s, 8);
	feed(&s, "01234567\nab\n", &g);
	serial_lines_release(&s);
	ck_assert_int_eq(g.n, 2);
	ck_assert_str_eq(g.line[0], "01234567");
	ck_assert_int_eq(g.overlong[0], 0);
	ck_assert_str_eq(g.line[1], "ab");
}
END_TEST

START_TEST(lines_overlong)
{
	struct serial_lines s;
	struct got g = { 0 };
	serial_lines_init(&s, 8);
	feed(&s, "0123", &g);
	feed(&s, "45678", &g);
	/* the 9th byte made it overlong: reported at once, cut to 8 bytes */
	ck_assert_int_eq(g.n, 1);
	ck_assert_str_eq(g.line[0], "01234567");
	ck_assert_int_eq(g.overlong[0], 1);
	feed(&s, "9abcdefghijklmnop", &g);
	ck_assert_int_eq(g.n, 1);
	feed(&s, "qrst\nok\n", &g);
	serial_lines_release(&s);
	ck_assert_int_eq(g.n, 2);
	ck_assert_str_eq(g.line[1], "ok");
	ck_assert_int_eq(g.overlong[1], 0);
}
END_TEST

/* A maximal report line as the guest sends it (with \r\n) must reach the
 * parser whole: the line splitter needs room for the \r that the parser
 * drops. */
START_TEST(lines_max_report_with_crlf)
{
	struct serial_lines s;
	struct got g = { 0 };
	char *line = line_of_len(REPORT_LINE_MAX);
	serial_lines_init(&s, REPORT_LINE_MAX + 1);
	feed(&s, line, &g);
	feed(&s, "\r\n", &g);
	serial_lines_release(&s);
	free(line);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.overlong[0], 0);
	struct report_msg m;
	struct hil_err err;
	ck_assert_int_eq(report_parse(g.line[0], g.len[0], &m, &err), 1);
}
END_TEST

static Suite *report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, parse_hello);
	tcase_add_test(tc, parse_no_pairs_and_cr);
	tcase_add_test(tc, parse_quoted);
	tcase_add_test(tc, parse_bare_values);
	tcase_add_test(tc, parse_respects_len);
	tcase_add_test(tc, parse_copies);
	tcase_add_test(tc, parse_length_limit);
	tcase_add_test(tc, parse_pair_limit);
	tcase_add_test(tc, parse_full_storage);
	tcase_add_loop_test(tc, not_a_report, 0, (int)(sizeof not_reports / sizeof *not_reports));
	tcase_add_test(tc, long_firmware_line_is_not_an_error);
	tcase_add_loop_test(tc, parse_bad, 0, (int)NBAD);
	suite_add_tcase(s, tc);

	tc = tcase_create("serial-lines");
	tcase_add_test(tc, lines_split_across_feeds);
	tcase_add_test(tc, lines_byte_by_byte);
	tcase_add_test(tc, lines_crlf_parse);
	tcase_add_test(tc, lines_exactly_max);
	tcase_add_test(tc, lines_overlong);
	tcase_add_test(tc, lines_max_report_with_crlf);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(report_suite());
}
