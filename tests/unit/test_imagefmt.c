/* test_imagefmt: frame_read sniffs PNG, JPEG and PPM from the content, and
 * refuses truncated, malformed and unknown files with a message naming them.
 * Inputs are a real QEMU frame (PNG), its JPEG made by ImageMagick, and PPMs
 * written here from it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "testutil.h"

static char *tmp;

static void tmp_setup(void)
{
	tmp = test_tmpdir();
}

static void tmp_teardown(void)
{
	test_rmdir(tmp);
	free(tmp);
	tmp = NULL;
}

static char *fixture(const char *name)
{
	return xasprintf("%s/frames/%s", test_fixtures_dir(), name);
}

static void load_png(struct frame *f)
{
	struct hil_err err;
	char *png = fixture("seabios-banner-stdvga.png");
	frame_init(f);
	ck_assert_msg(frame_read(f, png, &err) == 0, "%s", err.msg);
	free(png);
}

/* Write f as P6 with an optional comment in the header; truncate to keep bytes. */
static char *write_ppm(const struct frame *f, const char *name, long keep)
{
	char *path = test_path(tmp, name);
	FILE *out = fopen(path, "w");
	ck_assert_ptr_nonnull(out);
	fprintf(out, "P6\n# written by test_imagefmt\n%d %d\n255\n", f->width, f->height);
	fwrite(f->rgb, 1, (size_t)f->width * (size_t)f->height * 3, out);
	fclose(out);
	if (keep >= 0)
		ck_assert(truncate(path, keep) == 0);
	return path;
}

START_TEST(png_jpeg_and_ppm_read_alike)
{
	struct frame png, jpg, ppm;
	struct hil_err err;
	load_png(&png);
	ck_assert_int_eq(png.width, 720);
	ck_assert_int_eq(png.height, 400);

	char *path = write_ppm(&png, "frame.ppm", -1);
	frame_init(&ppm);
	ck_assert_msg(frame_read(&ppm, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(ppm.width, 720);
	ck_assert_mem_eq(ppm.rgb, png.rgb, (size_t)720 * 400 * 3);
	free(path);

	path = fixture("seabios-banner-stdvga-q80.jpg");
	frame_init(&jpg);
	ck_assert_msg(frame_read(&jpg, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(jpg.width, 720);
	ck_assert_int_eq(jpg.height, 400);
	/* Lossy, but close: mean absolute difference of a few levels. */
	double diff = 0;
	for (size_t i = 0; i < (size_t)720 * 400 * 3; i++)
		diff += abs((int)jpg.rgb[i] - (int)png.rgb[i]);
	diff /= 720.0 * 400 * 3;
	ck_assert_msg(diff < 4.0, "JPEG differs from the PNG by %.2f on average", diff);
	free(path);
	frame_release(&png);
	frame_release(&jpg);
	frame_release(&ppm);
}
END_TEST

START_TEST(broken_files_are_refused)
{
	struct frame png, f;
	struct hil_err err;
	load_png(&png);
	frame_init(&f);

	char *path = write_ppm(&png, "cut.ppm", 5000);
	ck_assert_int_eq(frame_read(&f, path, &err), -1);
	char *want = xasprintf("%s: truncated PPM (4958 of 864000 pixel bytes)", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);

	test_write_str(tmp, "p3.ppm", "P6\n2 2\n65535\n");
	path = test_path(tmp, "p3.ppm");
	ck_assert_int_eq(frame_read(&f, path, &err), -1);
	want = xasprintf("%s: PPM with maxval 65535 (only 255 is read)", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);

	test_write_str(tmp, "bad.ppm", "P6\nwide high\n255\n");
	path = test_path(tmp, "bad.ppm");
	ck_assert_int_eq(frame_read(&f, path, &err), -1);
	want = xasprintf("%s: malformed PPM header", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);

	/* The first 4 KiB of a real JPEG. */
	char *jpg = fixture("seabios-banner-stdvga-q80.jpg");
	size_t len;
	char *bytes = read_file(jpg, 1 << 20, &len, &err);
	ck_assert_ptr_nonnull(bytes);
	test_write(tmp, "cut.jpg", bytes, 4096);
	path = test_path(tmp, "cut.jpg");
	ck_assert_int_eq(frame_read(&f, path, &err), -1);
	ck_assert_msg(strstr(err.msg, path) == err.msg && strstr(err.msg, ": truncated or corrupt JPEG (libjpeg: "),
		      "%s", err.msg);
	free(bytes);
	free(jpg);
	free(path);

	test_write_str(tmp, "notes.txt", "hello, this is text\n");
	path = test_path(tmp, "notes.txt");
	ck_assert_int_eq(frame_read(&f, path, &err), -1);
	want = xasprintf("%s: not a PNG, JPEG or PPM (P6) image", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);

	ck_assert_ptr_null(f.rgb); /* nothing was half-filled */
	frame_release(&png);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("imagefmt");
	TCase *tc = tcase_create("read");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, png_jpeg_and_ppm_read_alike);
	tcase_add_test(tc, broken_files_are_refused);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
