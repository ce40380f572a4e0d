/* test_judge: fuzzy line matching of screen text (harness/judge/judge.c).
 * judge_similarity: exact matches, tesseract-style misreads ("UGA" for
 * "VGA", dropped characters), case, runs of spaces, the needle inside a
 * longer line; judge_find: the best line's index, ties, the threshold
 * boundary, empty and blank screens. judge_driver on report lines as the
 * linux-drm agent writes them: each verdict of the driver stage, and what
 * counts as the card's driver (a DRM card hanging off virtio-pci; an
 * fbdev-only driver). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "judge.h"
#include "testutil.h"

#define TOL 1e-9

static double sim(const char *line, const char *needle)
{
	return judge_similarity(line, strlen(line), needle);
}

START_TEST(sim_exact)
{
	ck_assert_double_eq_tol(sim("SeaBIOS (version", JUDGE_SEABIOS_BANNER), 1.0, TOL);
	ck_assert_double_eq_tol(sim("VGA", "VGA"), 1.0, TOL);
}
END_TEST

START_TEST(sim_misreads)
{
	/* one substitution in three letters */
	ck_assert_double_eq_tol(sim("UGA", "VGA"), 2.0 / 3.0, TOL);
	/* ... in a longer line it costs less */
	ck_assert_double_eq_tol(sim("Standard UGA Graphics Adapter", "Standard VGA Graphics Adapter"),
				1.0 - 1.0 / 29.0, TOL);
	/* a dropped character */
	ck_assert_double_eq_tol(sim("SeaBIS (version 1.16.2)", JUDGE_SEABIOS_BANNER), 1.0 - 1.0 / 16.0, TOL);
	/* an inserted character */
	ck_assert_double_eq_tol(sim("SeaBIOOS (version", JUDGE_SEABIOS_BANNER), 1.0 - 1.0 / 16.0, TOL);
	/* two substitutions: l for I, 0 for O */
	ck_assert_double_eq_tol(sim("Seabl0S (version", JUDGE_SEABIOS_BANNER), 1.0 - 2.0 / 16.0, TOL);
	/* nothing alike */
	ck_assert_double_eq_tol(sim("xyz", "abc"), 0.0, TOL);
	ck_assert_double_eq_tol(sim("", "abc"), 0.0, TOL);
	/* the line shorter than the needle: the missing part counts */
	ck_assert_double_eq_tol(sim("ab", "abcd"), 0.5, TOL);
}
END_TEST

START_TEST(sim_case_insensitive)
{
	ck_assert_double_eq_tol(sim("SEABIOS (VERSION 1.16.2)", JUDGE_SEABIOS_BANNER), 1.0, TOL);
	ck_assert_double_eq_tol(sim("seabios (version", "SEABIOS (VERSION"), 1.0, TOL);
}
END_TEST

START_TEST(sim_collapsed_spaces)
{
	ck_assert_double_eq_tol(sim("SeaBIOS    (version\t1.16", JUDGE_SEABIOS_BANNER), 1.0, TOL);
	ck_assert_double_eq_tol(sim("   SeaBIOS (version   ", "  SeaBIOS   (version "), 1.0, TOL);
	ck_assert_double_eq_tol(sim("Hello world\r", "Hello  world"), 1.0, TOL);
	/* but a space is still a character: "HelloWorld" misses one */
	ck_assert_double_eq_tol(sim("HelloWorld", "Hello World"), 1.0 - 1.0 / 11.0, TOL);
}
END_TEST

START_TEST(sim_needle_inside_line)
{
	ck_assert_double_eq_tol(sim("Machine UUID 1234 SeaBIOS (version 1.16.2-debian-1) extra",
				    JUDGE_SEABIOS_BANNER), 1.0, TOL);
	ck_assert_double_eq_tol(sim("xx hello world yy", "hello world"), 1.0, TOL);
	/* the best stretch is used, wherever it is */
	ck_assert_double_eq_tol(sim("hellp wxrld ... hello wxrld", "hello world"), 1.0 - 1.0 / 11.0, TOL);
}
END_TEST

/* Only line_len bytes of the line are looked at. */
START_TEST(sim_line_len)
{
	const char *line = "abcXYZ";
	ck_assert_double_eq_tol(judge_similarity(line, 3, "xyz"), 0.0, TOL);
	ck_assert_double_eq_tol(judge_similarity(line, 6, "xyz"), 1.0, TOL);
	ck_assert_double_eq_tol(judge_similarity(line, 0, "abc"), 0.0, TOL);
}
END_TEST

/* An expected line that is empty (or only spaces) is trivially present. */
START_TEST(sim_empty_needle)
{
	ck_assert_double_eq_tol(sim("anything", ""), 1.0, TOL);
	ck_assert_double_eq_tol(sim("anything", "   "), 1.0, TOL);
}
END_TEST

static const char screen[] =
	"SeaBIOS (version 1.16.2-debian-1.16.2-1)\n"
	"\n"
	"iPXE (https://ipxe.org) 00:03.0 CA00 PCI2.10 PnP PMM+07F8B4A0+07ECB4A0 CA00\n"
	"Booting from Floppy...\n"
	"HILRUN TEXT ROW 4: Standard UGA Graphics Adapter\n"
	"HILRUN TEXT ROW 5: Standard VGA Graphics Adapter"; /* no final newline */

START_TEST(find_best_line)
{
	struct text_match m;
	ck_assert_int_eq(judge_find(screen, JUDGE_SEABIOS_BANNER, JUDGE_POST_THRESHOLD, &m), 1);
	ck_assert_int_eq(m.line, 0);
	ck_assert_double_eq_tol(m.score, 1.0, TOL);

	ck_assert_int_eq(judge_find(screen, "booting from floppy", JUDGE_TEXT_THRESHOLD, &m), 1);
	ck_assert_int_eq(m.line, 3);

	/* the exact line (5, the last, without '\n') beats the misread one (4) */
	ck_assert_int_eq(judge_find(screen, "HILRUN TEXT ROW 5: Standard VGA Graphics Adapter",
				    JUDGE_TEXT_THRESHOLD, &m), 1);
	ck_assert_int_eq(m.line, 5);
	ck_assert_double_eq_tol(m.score, 1.0, TOL);

	/* the misread line alone still counts as shown */
	ck_assert_int_eq(judge_find(screen, "HILRUN TEXT ROW 4: Standard VGA Graphics Adapter",
				    JUDGE_TEXT_THRESHOLD, &m), 1);
	ck_assert_int_eq(m.line, 4);
	ck_assert_double_eq_tol(m.score, 1.0 - 1.0 / 48.0, TOL);
}
END_TEST

START_TEST(find_ties_take_first)
{
	struct text_match m;
	ck_assert_int_eq(judge_find("Hel1o\nHello\nHello\n", "hello", 0.5, &m), 1);
	ck_assert_int_eq(m.line, 1);
	ck_assert_int_eq(judge_find("Hel1o\nHelo\n", "hello", 0.5, &m), 1);
	ck_assert_int_eq(m.line, 0);
	ck_assert_double_eq_tol(m.score, 0.8, TOL);
}
END_TEST

START_TEST(find_threshold)
{
	struct text_match m;
	/* "UGA" for "VGA" alone is below every stage threshold */
	ck_assert_int_eq(judge_find("UGA\n", "VGA", JUDGE_POST_THRESHOLD, &m), 0);
	ck_assert_int_eq(m.line, 0);
	ck_assert_double_eq_tol(m.score, 2.0 / 3.0, TOL);
	/* exactly at the threshold counts: 1 edit in 5 = 0.80, 3 in 20 = 0.85 */
	ck_assert_int_eq(judge_find("abcdx", "abcde", JUDGE_POST_THRESHOLD, &m), 1);
	ck_assert_int_eq(judge_find("abcdefghijklmnopqXYZ", "abcdefghijklmnopqrst", JUDGE_TEXT_THRESHOLD, &m), 1);
	ck_assert_int_eq(judge_find("abcdefghijklmnopWXYZ", "abcdefghijklmnopqrst", JUDGE_TEXT_THRESHOLD, &m), 0);
	ck_assert_double_eq_tol(m.score, 0.8, TOL);
	/* nothing on the screen like it */
	ck_assert_int_eq(judge_find(screen, "Windows 7 Professional", JUDGE_TEXT_THRESHOLD, &m), 0);
	ck_assert_double_lt(m.score, JUDGE_TEXT_THRESHOLD);
}
END_TEST

START_TEST(find_empty_screen)
{
	struct text_match m = { .score = 0.5, .line = 7 };
	ck_assert_int_eq(judge_find("", JUDGE_SEABIOS_BANNER, JUDGE_POST_THRESHOLD, &m), 0);
	ck_assert_int_eq(m.line, -1);
	ck_assert_double_eq_tol(m.score, 0.0, TOL);
	m.line = 7;
	ck_assert_int_eq(judge_find("\n\n   \n\n", JUDGE_SEABIOS_BANNER, JUDGE_POST_THRESHOLD, &m), 0);
	ck_assert_int_eq(m.line, -1);
	ck_assert_double_eq_tol(m.score, 0.0, TOL);
}
END_TEST

START_TEST(find_line_numbers)
{
	struct text_match m;
	ck_assert_int_eq(judge_find("\n\n\r\nSeaBIOS (version 1.16\r\n", JUDGE_SEABIOS_BANNER,
				    JUDGE_POST_THRESHOLD, &m), 1);
	ck_assert_int_eq(m.line, 3);
	ck_assert_double_eq_tol(m.score, 1.0, TOL);
}
END_TEST

/* The guest's driver report, from "kind k=v ..." lines (what reports.c
 * notes), for card 1234:1111 at 00:02.0. */
static struct guest_said said_from(const char *const *lines)
{
	struct guest_said g = { .pci = json_array(), .driver = json_object() };
	json_array_append_new(g.pci, json_pack("{s:s, s:s}", "bdf", "00:02.0", "id", "1234:1111"));
	for (; *lines; lines++) {
		char kind[32];
		int n = 0;
		sscanf(*lines, "%31s %n", kind, &n);
		json_t *fact = json_object();
		char key[32], val[64];
		for (const char *p = *lines + n; sscanf(p, "%31[^=]=%63s %n", key, val, &n) == 2; p += n)
			json_object_set_new(fact, key, json_string(val));
		json_t *arr = json_object_get(g.driver, kind);
		if (!arr)
			json_object_set_new(g.driver, kind, arr = json_array());
		json_array_append_new(arr, fact);
	}
	return g;
}

/* The verdict judge_driver gives those lines ("pass" when ok). */
static void expect_driver(const char *const *lines, const char *verdict, const char *driver)
{
	struct guest_said g = said_from(lines);
	json_t *ev = json_object();
	struct judgement j = judge_driver(&g, "1234:1111", ev);
	ck_assert_msg(!strcmp(j.ok ? "pass" : j.verdict, verdict), "%s: got %s (%s)", lines[0] ?: "-",
		      j.ok ? "pass" : j.verdict, j.why);
	const char *d = json_string_value(json_object_get(ev, "driver"));
	ck_assert_msg(driver ? d && !strcmp(d, driver) : !d, "driver %s, expected %s", d ?: "none",
		      driver ?: "none");
	json_decref(ev);
	json_decref(g.pci);
	json_decref(g.driver);
}

START_TEST(driver_verdicts)
{
	const char *const bochs[] = { "modules dev=0000:00:02.0 name=bochs",
				      "bound bdf=00:02.0 driver=bochs-drm",
				      "drm card=card0 bdf=00:02.0 name=bochs-drm", NULL };
	expect_driver(bochs, "pass", "bochs-drm");
	/* virtio-gpu: the PCI device is virtio-pci's, the DRM card virtio_gpu's */
	const char *const virtio[] = { "bound bdf=00:02.0 driver=virtio-pci",
				       "drm card=card0 bdf=00:02.0 name=virtio_gpu", NULL };
	expect_driver(virtio, "pass", "virtio_gpu");
	/* virtio-pci alone is no display driver */
	const char *const virtio_only[] = { "modules dev=0000:00:02.0 name=virtio_pci",
					    "bound bdf=00:02.0 driver=virtio-pci", NULL };
	expect_driver(virtio_only, "fail:no-driver", "virtio-pci");
	/* an fbdev-only driver */
	const char *const fbdev[] = { "bound bdf=00:02.0 driver=aty128fb", NULL };
	expect_driver(fbdev, "pass", "aty128fb");
	/* the kernel's probe error, with its errno */
	const char *const probe[] = { "modules dev=0000:00:02.0 name=vmwgfx",
				      "probe_errors dev=0000:00:02.0 driver=vmwgfx errno=-38", NULL };
	expect_driver(probe, "fail:driver-probe(-38)", NULL);
	/* firmware the guest does not carry */
	const char *const firmware[] = { "modules dev=0000:00:02.0 name=radeon",
					 "firmware_missing name=radeon/R100_cp.bin errno=-2", NULL };
	expect_driver(firmware, "fail:driver-firmware", NULL);
	/* a module that loads and binds nothing (-ENODEV, said nowhere) */
	const char *const silent[] = { "modules dev=0000:00:02.0 name=bochs", NULL };
	expect_driver(silent, "fail:no-driver", NULL);
	/* no module matches at all */
	const char *const none[] = { NULL };
	expect_driver(none, "fail:no-driver", NULL);
	/* a probe deferred for good */
	const char *const deferred[] = { "deferred dev=0000:00:02.0", NULL };
	expect_driver(deferred, "fail:no-driver", NULL);
	/* a probe error on another device does not count against this card */
	const char *const other[] = { "probe_errors dev=0000:00:03.0 driver=x errno=-5",
				      "bound bdf=00:02.0 driver=bochs-drm",
				      "drm card=card0 bdf=00:02.0 name=bochs-drm", NULL };
	expect_driver(other, "pass", "bochs-drm");
}
END_TEST

START_TEST(driver_card_not_seen)
{
	struct guest_said g = { .pci = json_array(), .driver = json_object() };
	json_t *ev = json_object();
	struct judgement j = judge_driver(&g, "10de:06e4", ev);
	ck_assert(!j.ok);
	ck_assert_str_eq(j.verdict, "fail:no-driver");
	ck_assert_msg(strstr(j.why, "no PCI display device 10de:06e4"), "%s", j.why);
	json_decref(ev);
	json_decref(g.pci);
	json_decref(g.driver);
}
END_TEST

static Suite *judge_suite(void)
{
	Suite *s = suite_create("judge");
	TCase *tc = tcase_create("similarity");
	tcase_add_test(tc, sim_exact);
	tcase_add_test(tc, sim_misreads);
	tcase_add_test(tc, sim_case_insensitive);
	tcase_add_test(tc, sim_collapsed_spaces);
	tcase_add_test(tc, sim_needle_inside_line);
	tcase_add_test(tc, sim_line_len);
	tcase_add_test(tc, sim_empty_needle);
	suite_add_tcase(s, tc);

	tc = tcase_create("find");
	tcase_add_test(tc, find_best_line);
	tcase_add_test(tc, find_ties_take_first);
	tcase_add_test(tc, find_threshold);
	tcase_add_test(tc, find_empty_screen);
	tcase_add_test(tc, find_line_numbers);
	suite_add_tcase(s, tc);

	tc = tcase_create("driver");
	tcase_add_test(tc, driver_verdicts);
	tcase_add_test(tc, driver_card_not_seen);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(judge_suite());
}
