/* test_calib: learning glyphs from the bios-post calibration screen, on a
 * real frame from QEMU's std VGA: every glyph equals the SeaBIOS ROM font,
 * the 9th-column copies seen are QEMU's, and a changed glyph, a wrong
 * geometry or a screen without the grid are told apart. The same from
 * captures of it (ImageMagick: scaled by non-integer factors, JPEG down to
 * q50, bordered in black, grey and blue), and from captures of screens
 * drawn here in a font that is not SeaBIOS's, in 9- and 8-pixel cells. */
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
	ck_assert_str_eq(err.msg, "calibration screen not found in the 1024x768 frame: nothing but its clear colour");
	frame_release(&f);
	ck_assert(frame_alloc(&f, 320, 200) == 0);
	ck_assert_int_eq(calib_learn(&f, &layout, &cal, &err), -1);
	ck_assert_str_eq(err.msg, "calibration frame is 320x200: too small for a capture of an 80x25 screen");
	frame_release(&f);
	/* A capture of another screen: its text is not the calibration grid. */
	char *dir = test_tmpdir();
	char *src = xasprintf("%s/frames/bios-post-stdvga-text.png", test_fixtures_dir());
	char *dst = test_path(dir, "text.jpg");
	static const char *const big[] = { "-resize", "1280x720!", "-quality", "80", NULL };
	test_convert(src, big, dst);
	frame_init(&f);
	ck_assert(frame_read(&f, dst, &err) == 0);
	ck_assert_int_eq(calib_learn(&f, &layout, &cal, &err), -1);
	ck_assert_msg(strstr(err.msg, "calibration screen not found in the 1280x720 frame: the cells not of the "
				      "clear colour span ") == err.msg, "%s", err.msg);
	frame_release(&f);
	test_rmdir(dir);
	free(dir);
	free(src);
	free(dst);
	load(&f);
	struct calib_layout wide = { 4, 60, 2, 16 };
	ck_assert_int_eq(calib_learn(&f, &wide, &cal, &err), -1);
	ck_assert_str_eq(err.msg, "calibration layout does not fit an 80x25 screen");
	frame_release(&f);
}
END_TEST

/* Learn from a capture made of src with ImageMagick arguments args: the
 * font must be want exactly, in cw-pixel cells, with the 9th column
 * copied where ninth[] says. */
static void learn_capture(const char *src, const char *const *args, const struct vgafont *want,
			  int cw, const uint8_t *ninth)
{
	char *dir = test_tmpdir();
	char *dst = test_path(dir, "capture.jpg");
	test_convert(src, args, dst);
	struct frame f;
	struct hil_err err;
	static struct calib_result cal;
	frame_init(&f);
	ck_assert_msg(frame_read(&f, dst, &err) == 0, "%s", err.msg);
	ck_assert_msg(calib_learn(&f, &layout, &cal, &err) == 0, "%s %s: %s", src, args[3], err.msg);
	uint8_t codes[256];
	int n = calib_differences(&cal.font, want, codes, 256);
	ck_assert_msg(n == 0, "%s %s %s: %d glyphs differ, the first %02x", src, args[3], args[5], n,
		      codes[0]);
	ck_assert_int_eq(cal.cell_w, cw);
	for (int c = 0; c < 256; c++)
		ck_assert_msg(cal.ninth_copied[c] == ninth[c], "%s: code %02x", args[3], c);
	/* White on blue, as near as JPEG keeps it. */
	ck_assert(cal.fg[0] > 240 && cal.fg[1] > 240 && cal.fg[2] > 240);
	ck_assert(cal.bg[0] < 16 && cal.bg[1] < 16 && cal.bg[2] > 152 && cal.bg[2] < 184);
	frame_release(&f);
	test_rmdir(dir);
	free(dir);
	free(dst);
}

static const char *const captures[][12] = {
	{ "-filter", "Triangle", "-resize", "200%", "-quality", "100", NULL },
	{ "-filter", "Triangle", "-resize", "1280x720!", "-quality", "80", NULL },
	{ "-bordercolor", "black", "-border", "13x7", "-filter", "Triangle", "-resize", "1920x1080!",
	  "-quality", "70", NULL },
	{ "-filter", "Triangle", "-resize", "1920x1080!", "-quality", "50", NULL },
	{ "-filter", "Triangle", "-resize", "800x600!", "-quality", "70", NULL },
	{ "-bordercolor", "#303030", "-border", "20x11", "-resize", "1280x1024!", "-quality", "70", NULL },
	{ "-bordercolor", "blue", "-border", "8x8", "-filter", "Lanczos", "-resize", "1600x900!",
	  "-quality", "70", NULL },
};

START_TEST(learns_from_a_capture)
{
	struct vgafont rom;
	struct hil_err err;
	ck_assert(vgafont_from_rom(&rom, VGAFONT_DEFAULT_ROM, &err) == 0);
	uint8_t ninth[256];
	for (int c = 0; c < 256; c++) {
		int ink8 = 0;
		for (int y = 0; y < 16; y++)
			ink8 |= rom.glyph[c][y] & 1;
		ninth[c] = c >= 0xB0 && c <= 0xDF && ink8;
	}
	char *src = xasprintf("%s/frames/calibration-stdvga.png", test_fixtures_dir());
	learn_capture(src, captures[_i], &rom, 9, ninth);
	free(src);
}
END_TEST

/* A calibration screen as a card with font ft would draw it: cw-pixel
 * cells, the 9th column copied for 0xC0-0xDF (real VGA's rule), white on
 * blue on black. */
static void draw_calibration(struct frame *f, const struct vgafont *ft, int cw)
{
	frame_init(f);
	ck_assert(frame_alloc(f, 80 * cw, 400) == 0);
	memset(f->rgb, 0, (size_t)f->width * 400 * 3);
	for (int k = 0; k < 256; k++) {
		int x0 = (8 + (k % 16) * 2) * cw, y0 = (4 + k / 16) * 16;
		for (int y = 0; y < 16; y++)
			for (int x = 0; x < cw; x++) {
				int bit = x < 8 ? ft->glyph[k][y] >> (7 - x) & 1
						: (k >= 0xC0 && k <= 0xDF) && (ft->glyph[k][y] & 1);
				uint8_t *p = f->rgb + ((size_t)(y0 + y) * f->width + (size_t)(x0 + x)) * 3;
				p[0] = p[1] = bit ? 255 : 0;
				p[2] = bit ? 255 : 168;
			}
	}
}

START_TEST(learns_a_card_font_from_a_capture)
{
	/* Not SeaBIOS's font: every glyph but the space and the full block
	 * mirrored left to right, 'A' a box with a dot, 'B' a checkerboard. */
	struct vgafont ft, rom;
	struct hil_err err;
	ck_assert(vgafont_from_rom(&rom, VGAFONT_DEFAULT_ROM, &err) == 0);
	ft = rom;
	for (int c = 0; c < 256; c++)
		for (int y = 0; y < 16 && c != 0x20 && c != 0xDB; y++) {
			uint8_t r = rom.glyph[c][y], m = 0;
			for (int b = 0; b < 8; b++)
				m |= (uint8_t)((r >> b & 1) << (7 - b));
			ft.glyph[c][y] = m;
		}
	for (int y = 0; y < 16; y++) {
		ft.glyph['A'][y] = y == 2 || y == 13 ? 0x7E : y > 2 && y < 13 ? (y == 7 ? 0x52 : 0x42) : 0;
		ft.glyph['B'][y] = y & 1 ? 0xAA : 0x55;
	}
	for (int cw = 9; cw >= 8; cw--) {
		struct frame f;
		draw_calibration(&f, &ft, cw);
		char *dir = test_tmpdir();
		char *src = test_path(dir, "calibration.png");
		ck_assert(frame_write_png(&f, src, &err) == 0);
		uint8_t ninth[256];
		for (int c = 0; c < 256; c++) {
			int ink8 = 0;
			for (int y = 0; y < 16; y++)
				ink8 |= ft.glyph[c][y] & 1;
			ninth[c] = cw == 9 && c >= 0xC0 && c <= 0xDF && ink8;
		}
		/* 2x, 1280x720 q80, 1920x1080 q70 with a border. */
		for (int i = 0; i < 3; i++)
			learn_capture(src, captures[i], &ft, cw, ninth);
		frame_release(&f);
		test_rmdir(dir);
		free(dir);
		free(src);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("calib");
	TCase *tc = tcase_create("learn");
	tcase_add_test(tc, learns_the_rom_font);
	tcase_add_test(tc, a_changed_glyph_is_found);
	tcase_add_test(tc, refuses_what_it_cannot_learn_from);
	tcase_add_loop_test(tc, learns_from_a_capture, 0, (int)(sizeof captures / sizeof *captures));
	tcase_add_test(tc, learns_a_card_font_from_a_capture);
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
