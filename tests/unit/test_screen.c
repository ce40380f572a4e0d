/* test_screen: reading a frame as a run does (harness/read/screen.c) and
 * the rule that tells a screen drawn in another font (judge_other_font,
 * harness/judge/judge.c), on bios-post's real text screen
 * (tests/fixtures/frames/bios-post-stdvga-text.png) with a decoder font
 * that is not the card's: SeaBIOS's with 'e' blanked, so every e on the
 * screen best matches another glyph, untrusted. Real tesseract reads those
 * cells one by one. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "screen.h"
#include "testutil.h"

static struct vgafont font, odd;
static struct frame text_frame, post_frame;
static struct guest_said said;

static const char *const lines[] = { "hilrun bios-post v1", "Reference guest for VGA passthrough tests",
				     "PCI display 00:02.0 id 1234:1111 class 0300",
				     "Text mode check complete" };

static void load(struct frame *f, const char *name)
{
	struct hil_err err;
	char *path = xasprintf("%s/frames/%s", test_fixtures_dir(), name);
	frame_init(f);
	ck_assert_msg(frame_read(f, path, &err) == 0, "%s", err.msg);
	free(path);
}

static void setup(void)
{
	struct hil_err err;
	ck_assert_msg(vgafont_from_rom(&font, VGAFONT_DEFAULT_ROM, &err) == 0, "%s", err.msg);
	odd = font;
	memset(odd.glyph['e'], 0, sizeof odd.glyph['e']);
	load(&text_frame, "bios-post-stdvga-text.png");
	load(&post_frame, "bios-post-stdvga-post.png");
	said.text_lines = json_array();
	said.pci = json_array();
	for (int i = 0; i < 4; i++)
		json_array_append_new(said.text_lines, json_pack("{s:i, s:s}", "row", 2 * i, "text", lines[i]));
}

static void teardown(void)
{
	frame_release(&text_frame);
	frame_release(&post_frame);
	json_decref(said.text_lines);
	json_decref(said.pci);
}

static int count_e(void)
{
	int n = 0;
	for (int i = 0; i < 4; i++)
		for (const char *p = lines[i]; *p; p++)
			n += *p == 'e';
	return n;
}

/* The decoder alone counts the cells it cannot trust; tesseract then reads
 * each of them, and the screen reads as the guest wrote it. */
START_TEST(doubtful_cells_read_by_tesseract)
{
	struct hil_err err;
	struct ocr *ocr = ocr_open(&err);
	ck_assert_msg(ocr != NULL, "%s", err.msg);
	struct screen_reader sr;
	screen_reader_init(&sr, &odd, ocr, NINTH_QEMU);
	struct reading rd = { 0 };
	json_t *ev = json_object();
	screen_decode(&sr, &text_frame, &rd, ev);
	ck_assert(rd.grid);
	ck_assert_str_eq(rd.reader, "textmode");
	ck_assert_int_eq(rd.doubtful, count_e());
	screen_complete(&sr, &text_frame, &rd, ev);
	ck_assert_str_eq(rd.reader, "textmode+tesseract");
	ck_assert_int_eq(rd.doubtful, 0);
	json_t *cells = json_object_get(ev, "ocr_cells");
	ck_assert_int_eq(json_array_size(cells), count_e());
	size_t i;
	json_t *c;
	json_array_foreach(cells, i, c)
		ck_assert_str_eq(json_string_value(json_object_get(c, "tesseract")), "e");
	struct judgement j = judge_text(&rd, &said, NULL, ev);
	ck_assert_msg(j.ok, "%s", j.why);
	reading_release(&rd);
	json_decref(ev);
	screen_reader_release(&sr);
	ocr_close(ocr);
}
END_TEST

/* A trusted reading is complete as it is: no tesseract is asked. */
START_TEST(trusted_reading_needs_no_tesseract)
{
	struct screen_reader sr;
	screen_reader_init(&sr, &font, NULL, NINTH_QEMU);
	struct reading rd = { 0 };
	json_t *ev = json_object();
	screen_read(&sr, &text_frame, &rd, ev);
	ck_assert_str_eq(rd.reader, "textmode");
	ck_assert_ptr_null(json_object_get(ev, "ocr_cells"));
	ck_assert_msg(strstr(rd.text, lines[1]) != NULL, "%s", rd.text);
	reading_release(&rd);
	json_decref(ev);
	screen_reader_release(&sr);
}
END_TEST

/* The guest's lines in another font: every e read as the same other glyph,
 * the rest as themselves. The banner likewise. */
START_TEST(other_font_seen)
{
	struct screen_reader sr;
	screen_reader_init(&sr, &odd, NULL, NINTH_QEMU);
	struct reading rd = { 0 };
	json_t *ev = json_object();
	screen_decode(&sr, &text_frame, &rd, ev);
	struct judgement j = judge_other_font(&rd, &said, 0, ev);
	ck_assert_msg(j.ok, "%s", j.why);
	json_t *of = json_object_get(ev, "other_font");
	ck_assert_int_eq(json_integer_value(json_object_get(of, "differ")), count_e());
	ck_assert_int_eq(json_object_size(json_object_get(of, "read_as")), 1);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(of, "read_as"), "e"));
	ck_assert_msg(strstr(j.why, "e as "), "%s", j.why);
	screen_decode(&sr, &post_frame, &rd, ev);
	j = judge_other_font(&rd, &said, 1, ev);
	ck_assert_msg(j.ok, "%s", j.why);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(ev, "other_font"), "differ")), 2);
	reading_release(&rd);
	json_decref(ev);
	screen_reader_release(&sr);
}
END_TEST

/* Not another font: other text (the banner where the guest's lines should
 * be), a line missing (blank where ink was expected), a reading that
 * agrees with the decoder's own font (nothing to explain), and one
 * character read as two different glyphs. */
START_TEST(other_font_not_seen)
{
	struct screen_reader sr;
	screen_reader_init(&sr, &odd, NULL, NINTH_QEMU);
	struct reading rd = { 0 };
	json_t *ev = json_object();
	screen_decode(&sr, &post_frame, &rd, ev);
	ck_assert(!judge_other_font(&rd, &said, 0, ev).ok); /* a stale frame: the banner */
	screen_decode(&sr, &text_frame, &rd, ev);
	json_array_append_new(said.text_lines, json_pack("{s:i, s:s}", "row", 9, "text", "more text"));
	ck_assert(!judge_other_font(&rd, &said, 0, ev).ok); /* row 9 is blank */
	json_array_remove(said.text_lines, 4);
	/* one 'e' drawn as 'x': the e's are no longer read alike */
	struct text_screen *scr = (struct text_screen *)rd.screen;
	int changed = 0;
	for (int col = 0; col < scr->cols && !changed; col++)
		if (lines[1][col] == 'e') {
			scr->cell[2][col].code = 'x';
			changed = 1;
		}
	ck_assert(changed);
	ck_assert(!judge_other_font(&rd, &said, 0, ev).ok);
	reading_release(&rd);
	screen_reader_release(&sr);
	/* the decoder's own font reads it as written: nothing differs */
	screen_reader_init(&sr, &font, NULL, NINTH_QEMU);
	screen_decode(&sr, &text_frame, &rd, ev);
	ck_assert(!judge_other_font(&rd, &said, 0, ev).ok);
	reading_release(&rd);
	json_decref(ev);
	screen_reader_release(&sr);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("screen");
	TCase *tc = tcase_create("screen");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, doubtful_cells_read_by_tesseract);
	tcase_add_test(tc, trusted_reading_needs_no_tesseract);
	tcase_add_test(tc, other_font_seen);
	tcase_add_test(tc, other_font_not_seen);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
