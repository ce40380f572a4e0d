/* test_calib: learning glyphs from the bios-post calibration screen, on a
 * real frame from QEMU's std VGA: every glyph equals the SeaBIOS ROM font,
 * the 9th-column copies seen are QEMU's, and a changed glyph, a wrong
 * geometry or a screen without the grid are told apart. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "testutil.h"

static const struct calib_layout layout = { 4, 8, 2, 16 };

static void load(struct frame *f)
{
	struct hil_err err;
	char *path = xasprintf("%s/frames/calibration-stdvga.png", test_fixtures_dir());
	frame_init(f);
	ck_assert_msg(frame_read_png(f, path, &err) == 0, "%s", err.msg);
	free(path);
}

START_TEST(learns_the_rom_font)
{
	struct frame f;
	struct hil_err err;
	struct vgafont rom;
	static struct calib_result cal;
	load(&f);
	ck_assert(vgafont_from_rom(&rom, VGAFONT_DEFAULT_ROM, &err) == 0);
	ck_assert_msg(calib_learn(&f, &layout, &cal, &err) == 0, "%s", err.msg);
	uint8_t codes[256];
	ck_assert_int_eq(calib_differences(&cal.font, &rom, codes, 256), 0);
	ck_assert_int_eq(cal.cell_w, 9);
	ck_assert(cal.fg[0] == 255 && cal.fg[1] == 255 && cal.fg[2] == 255);
	ck_assert(cal.bg[0] == 0 && cal.bg[1] == 0 && cal.bg[2] == 168);
	/* QEMU copies column 8 into 9 for 0xB0-0xDF: seen wherever column 8 has ink. */
	for (int c = 0; c < 256; c++) {
		int ink8 = 0;
		for (int y = 0; y < 16; y++)
			ink8 |= rom.glyph[c][y] & 1;
		ck_assert_msg(cal.ninth_copied[c] == (c >= 0xB0 && c <= 0xDF && ink8), "code %02x", c);
	}
	frame_release(&f);
}
END_TEST

START_TEST(a_changed_glyph_is_found)
{
	struct frame f;
	struct hil_err err;
	struct vgafont rom;
	static struct calib_result cal;
	load(&f);
	ck_assert(vgafont_from_rom(&rom, VGAFONT_DEFAULT_ROM, &err) == 0);
	/* Paint one foreground pixel into the 'A' cell's blank top row. */
	int x = (8 + ('A' % 16) * 2) * 9 + 3, y = (4 + 'A' / 16) * 16;
	memset(f.rgb + ((size_t)y * 720 + (size_t)x) * 3, 255, 3);
	ck_assert(calib_learn(&f, &layout, &cal, &err) == 0);
	uint8_t codes[256];
	ck_assert_int_eq(calib_differences(&cal.font, &rom, codes, 256), 1);
	ck_assert_uint_eq(codes[0], 'A');
	ck_assert_uint_eq(cal.font.glyph['A'][0], 0x10);
	frame_release(&f);
}
END_TEST

START_TEST(refuses_what_it_cannot_learn_from)
{
	struct frame f;
	struct hil_err err;
	static struct calib_result cal;
	frame_init(&f);
	ck_assert(frame_alloc(&f, 720, 400) == 0); /* black: no grid */
	ck_assert_int_eq(calib_learn(&f, &layout, &cal, &err), -1);
	ck_assert_str_eq(err.msg, "calibration screen not shown: the space and the full block have the same colour");
	frame_release(&f);
	ck_assert(frame_alloc(&f, 1024, 768) == 0);
	ck_assert_int_eq(calib_learn(&f, &layout, &cal, &err), -1);
	ck_assert_str_eq(err.msg, "calibration frame is 1024x768: this version learns from 720x400 or 640x400 text mode");
	frame_release(&f);
	load(&f);
	struct calib_layout wide = { 4, 60, 2, 16 };
	ck_assert_int_eq(calib_learn(&f, &wide, &cal, &err), -1);
	ck_assert_str_eq(err.msg, "calibration layout does not fit an 80x25 screen");
	frame_release(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("calib");
	TCase *tc = tcase_create("learn");
	tcase_add_test(tc, learns_the_rom_font);
	tcase_add_test(tc, a_changed_glyph_is_found);
	tcase_add_test(tc, refuses_what_it_cannot_learn_from);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
