/* test_serve: the server's pure parts: the HTTP status a rejection's
 * findings get (the first matching row of docs/upload.md's table wins),
 * the escaping its run pages use (util's sb_add_escaped), and --listen
 * ADDR:PORT. The server itself runs for real in
 * tests/integration/serve.sh. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "testutil.h"

/* The status for findings with these error codes. */
static unsigned status_of(const char *const *codes)
{
	struct findings f;
	findings_init(&f);
	for (size_t i = 0; codes[i]; i++)
		findings_add(&f, FINDING_ERROR, codes[i], NULL, "x");
	findings_add(&f, FINDING_WARNING, "card-unknown", NULL, "a warning never decides");
	unsigned st = serve_status_for(&f);
	findings_release(&f);
	return st;
}

START_TEST(status_for_findings)
{
	ck_assert_uint_eq(status_of((const char *[]){ "artifact-sha256", NULL }), 422);
	ck_assert_uint_eq(status_of((const char *[]){ "signature-invalid", "artifact-sha256", NULL }), 403);
	ck_assert_uint_eq(status_of((const char *[]){ "contributor-mismatch", NULL }), 403);
	ck_assert_uint_eq(status_of((const char *[]){ "signature-invalid", "contributor-unknown", NULL }), 401);
	ck_assert_uint_eq(status_of((const char *[]){ "contributor-unknown", "name-traversal", NULL }), 400);
	ck_assert_uint_eq(status_of((const char *[]){ "entry-link", NULL }), 400);
	ck_assert_uint_eq(status_of((const char *[]){ "bundle-damaged", NULL }), 400);
	ck_assert_uint_eq(status_of((const char *[]){ "manifest-missing", NULL }), 400);
	ck_assert_uint_eq(status_of((const char *[]){ "record-schema", NULL }), 422);
	struct findings f;
	findings_init(&f);
	for (int i = 0; i < FINDINGS_MAX + 5; i++)
		findings_add(&f, FINDING_ERROR, "artifact-sha256", NULL, "x");
	ck_assert_uint_eq(serve_status_for(&f), 400);
	findings_release(&f);
}
END_TEST

START_TEST(escaping)
{
	struct strbuf sb = STRBUF_INIT;
	sb_add_escaped(&sb, "<script>alert(\"x\" & 'y')</script>");
	ck_assert_str_eq(sb_str(&sb),
			 "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
	sb_release(&sb);
}
END_TEST

START_TEST(listen_address)
{
	struct serve_config c;
	struct hil_err err;
	serve_config_defaults(&c);
	char ok[] = "127.0.0.1:8081", noport[] = "127.0.0.1", name[] = "localhost:80",
	     big[] = "0.0.0.0:65536", empty[] = "127.0.0.1:";
	ck_assert_int_eq(serve_parse_listen(&c, ok, &err), 0);
	ck_assert_str_eq(c.addr, "127.0.0.1");
	ck_assert_uint_eq(c.port, 8081);
	ck_assert_int_eq(serve_parse_listen(&c, noport, &err), -1);
	ck_assert_msg(strstr(err.msg, "expected ADDR:PORT"), "%s", err.msg);
	ck_assert_int_eq(serve_parse_listen(&c, name, &err), -1);
	ck_assert_int_eq(serve_parse_listen(&c, big, &err), -1);
	ck_assert_int_eq(serve_parse_listen(&c, empty, &err), -1);
	ck_assert_str_eq(empty, "127.0.0.1:");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("serve");
	TCase *tc = tcase_create("serve");
	tcase_add_test(tc, status_for_findings);
	tcase_add_test(tc, escaping);
	tcase_add_test(tc, listen_address);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
