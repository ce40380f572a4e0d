/* test_pattern: the graphics pattern reader (docs/graphics-pattern.md).
 * Frames are drawn here from the spec's table, with the primaries or, as
 * in mode 13h, the bright EGA colours; captures are made from them with
 * ImageMagick (scaled, JPEG), as a capture box would send them. Real QEMU
 * frames of the guests' patterns are read by the integration tests. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "pattern.h"
#include "testutil.h"
#include "util.h"

#define CODE 0x1a2b3c4du

/* The pattern as a guest draws it; ega: mode 13h's palette colours. */
static void draw(struct frame *f, int w, int h, uint32_t code, int ega)
{
	frame_init(f);
	ck_assert_int_eq(frame_alloc(f, w, h), 0);
	const int bw = w / PATTERN_COLS, bh = h / PATTERN_ROWS;
	for (int y = 0; y < bh * PATTERN_ROWS; y++)
		for (int x = 0; x < bw * PATTERN_COLS; x++) {
			enum primary p = pattern_expected(x / bw, y / bh, code);
			uint8_t *px = f->rgb + ((size_t)y * w + x) * 3;
			const uint8_t hi = 0xFF, lo = ega && p != P_BLACK ? 0x55 : 0x00;
			px[0] = p & 4 ? hi : lo;
			px[1] = p & 2 ? hi : lo;
			px[2] = p & 1 ? hi : lo;
		}
}

static void paint_block(struct frame *f, int w, int h, int col, int row, const uint8_t rgb[3])
{
	const int bw = w / PATTERN_COLS, bh = h / PATTERN_ROWS;
	for (int y = row * bh; y < (row + 1) * bh; y++)
		for (int x = col * bw; x < (col + 1) * bw; x++)
			memcpy(f->rgb + ((size_t)y * w + x) * 3, rgb, 3);
}

START_TEST(table)
{
	/* Spot checks of the spec's table. */
	ck_assert_int_eq(pattern_expected(0, 0, 0), P_WHITE);
	ck_assert_int_eq(pattern_expected(3, 2, 0), P_YELLOW);
	ck_assert_int_eq(pattern_expected(13, 3, 0), P_BLUE);
	ck_assert_int_eq(pattern_expected(15, 0, 0), P_BLACK);
	ck_assert_int_eq(pattern_expected(0, 4, 0), P_WHITE);
	ck_assert_int_eq(pattern_expected(1, 4, 0), P_BLACK);
	ck_assert_int_eq(pattern_expected(0, 5, 0), P_BLACK);
	ck_assert_int_eq(pattern_expected(0, 6, 0x80000000u), P_WHITE);
	ck_assert_int_eq(pattern_expected(0, 7, 0x7fffffffu), P_BLUE);
	ck_assert_int_eq(pattern_expected(15, 9, 1), P_WHITE);
	ck_assert_int_eq(pattern_expected(14, 8, 1), P_BLUE);
	ck_assert_int_eq(pattern_expected(0, 10, 0), P_RED);
	ck_assert_int_eq(pattern_expected(1, 11, 0), P_RED);
	ck_assert_int_eq(pattern_expected(0, 11, 0), P_GREEN);
}
END_TEST

START_TEST(native_modes)
{
	static const int modes[][3] = { { 640, 480, 0 }, { 800, 600, 0 }, { 1024, 768, 0 },
					{ 320, 200, 1 } };
	for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
		struct frame f;
		struct pattern_result res;
		struct hil_err err = { "" };
		draw(&f, modes[i][0], modes[i][1], CODE, modes[i][2]);
		ck_assert_int_eq(pattern_check(&f, modes[i][0], modes[i][1], CODE, 1, &res, &err), 1);
		ck_assert_int_eq(res.bad_blocks, 0);
		ck_assert(res.code_ok);
		ck_assert_uint_eq(res.code_read, CODE);
		ck_assert_str_eq(res.why, "");
		frame_release(&f);
	}
}
END_TEST

/* A frame that is not the pattern: never passes, and says why. */
START_TEST(mismatches)
{
	struct frame f;
	struct pattern_result res;
	struct hil_err err = { "" };
	draw(&f, 640, 480, CODE, 0);

	/* Another run's code: every block is right but the code's. */
	ck_assert_int_eq(pattern_check(&f, 640, 480, CODE ^ 0x10000u, 1, &res, &err), 0);
	ck_assert_int_eq(res.bad_blocks, 2); /* both rows of the bit */
	ck_assert_uint_eq(res.code_read, CODE);
	ck_assert_msg(strstr(res.why, "shows code 1a2b3c4d, the guest reported 1a2a3c4d"), "%s",
		      res.why);

	/* The mode's size is wrong for a frame that must be native... */
	ck_assert_int_eq(pattern_check(&f, 800, 600, CODE, 1, &res, &err), 0);
	ck_assert_str_eq(res.why, "frame is 640x480, the mode set is 800x600");
	ck_assert_int_eq(pattern_check(&f, 213, 160, CODE, 1, &res, &err), 0);
	ck_assert_str_eq(res.why, "frame is 640x480, the mode set is 213x160");
	/* ...but twice the mode, as QEMU shows 320x200 (640x400), is its own. */
	ck_assert_int_eq(pattern_check(&f, 320, 240, CODE, 1, &res, &err), 1);

	/* One bar block gone black. */
	static const uint8_t black[3] = { 0, 0, 0 };
	paint_block(&f, 640, 480, 10, 1, black);
	ck_assert_int_eq(pattern_check(&f, 640, 480, CODE, 1, &res, &err), 0);
	ck_assert_int_eq(res.bad_blocks, 1);
	ck_assert_str_eq(res.why, "1 of 192 blocks differ from the pattern; the first, (10,1), "
				  "reads black, want red");

	/* Where it differs: the block outlined, its middle in the colour it
	 * should have; the rest of the frame dimmed. */
	struct frame diff;
	frame_init(&diff);
	pattern_diff(&f, 640, 480, &res, &diff);
	ck_assert_int_eq(diff.width, 640);
	const uint8_t *mid = diff.rgb + ((size_t)(1 * 40 + 20) * 640 + 10 * 40 + 20) * 3;
	ck_assert_uint_eq(mid[0], 255);
	ck_assert_uint_eq(mid[1], 0);
	ck_assert_uint_eq(mid[2], 0);
	const uint8_t *edge = diff.rgb + ((size_t)(1 * 40) * 640 + 10 * 40) * 3;
	ck_assert(edge[0] == edge[1] && edge[1] == edge[2] && (edge[0] == 0 || edge[0] == 255));
	const uint8_t *white_bar = diff.rgb + ((size_t)20 * 640 + 20) * 3;
	ck_assert_uint_lt(white_bar[0], 255); /* dimmed */
	frame_release(&diff);

	/* A blank screen. */
	memset(f.rgb, 0, (size_t)640 * 480 * 3);
	ck_assert_int_eq(pattern_check(&f, 640, 480, CODE, 1, &res, &err), 0);
	ck_assert_int_gt(res.bad_blocks, 100);
	ck_assert(!res.code_ok);
	frame_release(&f);

	/* Bad arguments. */
	draw(&f, 640, 480, CODE, 0);
	ck_assert_int_eq(pattern_check(&f, 8, 8, CODE, 0, &res, &err), -1);
	ck_assert_str_eq(err.msg, "mode 8x8 is too small for the pattern's 16x12 blocks");
	struct frame empty;
	frame_init(&empty);
	ck_assert_int_eq(pattern_check(&empty, 640, 480, CODE, 0, &res, &err), -1);
	frame_release(&f);
}
END_TEST

/* Captures: the 640x480 pattern scaled to capture sizes and JPEG-compressed
 * reads the same when scaling is allowed. */
START_TEST(captures)
{
	static const char *const args[][8] = {
		{ "-filter", "Triangle", "-resize", "1280x720!", "-quality", "70", NULL },
		{ "-filter", "Triangle", "-resize", "1920x1080!", "-quality", "70", NULL },
		{ "-resize", "801x599!", "-quality", "50", NULL },
	};
	struct frame f;
	struct hil_err err = { "" };
	draw(&f, 640, 480, CODE, 0);
	char *dir = test_tmpdir();
	char *src = test_path(dir, "pattern.png");
	ck_assert_msg(frame_write_png(&f, src, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < sizeof args / sizeof *args; i++) {
		char *dst = xasprintf("%s/capture-%zu.jpg", dir, i);
		test_convert(src, args[i], dst);
		struct frame c;
		frame_init(&c);
		ck_assert_msg(frame_read(&c, dst, &err) == 0, "%s", err.msg);
		struct pattern_result res;
		ck_assert_msg(pattern_check(&c, 640, 480, CODE, 0, &res, &err) == 1, "%s: %s", dst,
			      res.why);
		ck_assert_uint_eq(res.code_read, CODE);
		/* The same capture where the mode's own size is required. */
		ck_assert_int_eq(pattern_check(&c, 640, 480, CODE, 1, &res, &err), 0);
		frame_release(&c);
		free(dst);
	}
	test_rmdir(dir);
	free(src);
	free(dir);
	frame_release(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pattern");
	TCase *tc = tcase_create("pattern");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_test(tc, table);
	tcase_add_test(tc, native_modes);
	tcase_add_test(tc, mismatches);
	tcase_add_test(tc, captures);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
