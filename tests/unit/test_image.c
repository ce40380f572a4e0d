/* test_image: frame memory functions and PNG read/write, including the
 * broken inputs a harness meets in practice (half-written files, a text
 * file where a frame was expected). Fixtures: tests/fixtures/frames/tiny-*. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "testutil.h"
#include "util.h"

static char tmpdir[] = "/tmp/hil-test-image-XXXXXX";

static char *fixture(const char *name)
{
	return xasprintf("%s/frames/%s", test_fixtures_dir(), name);
}

static char *tmpfile_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void write_bytes(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

static void fill_pattern(struct frame *f)
{
	for (int y = 0; y < f->height; y++)
		for (int x = 0; x < f->width; x++) {
			uint8_t *p = f->rgb + ((size_t)y * f->width + x) * 3;
			p[0] = (uint8_t)(x * 7 + y);
			p[1] = (uint8_t)(y * 13);
			p[2] = (uint8_t)(x ^ y);
		}
}

static const uint8_t *pixel(const struct frame *f, int x, int y)
{
	return f->rgb + ((size_t)y * f->width + x) * 3;
}

#define ck_assert_pixel(f, x, y, r, g, b)                                            \
	do {                                                                         \
		const uint8_t *p_ = pixel((f), (x), (y));                            \
		ck_assert_msg(p_[0] == (r) && p_[1] == (g) && p_[2] == (b),          \
			      "pixel (%d,%d) is %d,%d,%d, expected %d,%d,%d", (x), (y), \
			      p_[0], p_[1], p_[2], (r), (g), (b));                   \
	} while (0)

/* The colours ImageMagick was given for every tiny-* fixture except grey. */
static void check_tiny_colours(const struct frame *f)
{
	ck_assert_int_eq(f->width, 4);
	ck_assert_int_eq(f->height, 2);
	ck_assert_pixel(f, 0, 0, 255, 0, 0);
	ck_assert_pixel(f, 1, 0, 0, 255, 0);
	ck_assert_pixel(f, 2, 0, 0, 0, 255);
	ck_assert_pixel(f, 3, 0, 255, 255, 255);
	ck_assert_pixel(f, 0, 1, 0, 0, 0);
	ck_assert_pixel(f, 1, 1, 255, 255, 0);
	ck_assert_pixel(f, 2, 1, 0, 255, 255);
	ck_assert_pixel(f, 3, 1, 0x80, 0x40, 0x20);
}

static void read_tiny(const char *name)
{
	struct frame f;
	struct hil_err err = { "" };
	char *path = fixture(name);
	frame_init(&f);
	ck_assert_msg(frame_read_png(&f, path, &err) == 0, "%s", err.msg);
	check_tiny_colours(&f);
	frame_release(&f);
	free(path);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	remove_tree(tmpdir);
	strcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX");
}

START_TEST(alloc_limits)
{
	struct frame f;
	frame_init(&f);
	ck_assert_int_eq(frame_alloc(&f, 0, 10), -1);
	ck_assert_int_eq(frame_alloc(&f, 10, 0), -1);
	ck_assert_int_eq(frame_alloc(&f, -1, 10), -1);
	ck_assert_int_eq(frame_alloc(&f, 10, -5), -1);
	ck_assert_int_eq(frame_alloc(&f, FRAME_MAX_DIM + 1, 1), -1);
	ck_assert_int_eq(frame_alloc(&f, 1, FRAME_MAX_DIM + 1), -1);
	ck_assert_int_eq(frame_alloc(&f, 1 << 30, 1 << 30), -1);
	ck_assert_ptr_null(f.rgb);

	ck_assert_int_eq(frame_alloc(&f, FRAME_MAX_DIM, 1), 0);
	ck_assert_int_eq(frame_alloc(&f, 3, 2), 0);
	ck_assert_int_eq(f.width, 3);
	ck_assert_int_eq(f.height, 2);
	for (int i = 0; i < 3 * 2 * 3; i++)
		ck_assert_int_eq(f.rgb[i], 0);

	/* A failed alloc leaves the frame as it was. */
	ck_assert_int_eq(frame_alloc(&f, 0, 0), -1);
	ck_assert_int_eq(f.width, 3);
	ck_assert_ptr_nonnull(f.rgb);

	frame_release(&f);
	ck_assert_ptr_null(f.rgb);
	ck_assert_int_eq(f.width, 0);
	frame_release(&f); /* releasing twice is harmless */
}
END_TEST

START_TEST(copy)
{
	struct frame a, b;
	frame_init(&a);
	frame_init(&b);
	ck_assert_int_eq(frame_alloc(&a, 5, 4), 0);
	fill_pattern(&a);
	ck_assert_int_eq(frame_alloc(&b, 1, 1), 0);
	frame_copy(&b, &a);
	ck_assert_int_eq(b.width, 5);
	ck_assert_int_eq(b.height, 4);
	ck_assert_ptr_ne(a.rgb, b.rgb);
	ck_assert_mem_eq(a.rgb, b.rgb, 5 * 4 * 3);
	frame_copy(&b, &b);
	ck_assert_mem_eq(a.rgb, b.rgb, 5 * 4 * 3);

	/* Copying an empty frame empties the destination. */
	frame_release(&a);
	frame_copy(&b, &a);
	ck_assert_ptr_null(b.rgb);
	ck_assert_int_eq(b.width, 0);
}
END_TEST

START_TEST(roundtrip)
{
	static const int sizes[][2] = { { 1, 1 }, { 720, 400 }, { 3, 257 } };
	struct hil_err err = { "" };
	char *path = tmpfile_path("roundtrip.png");
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct frame out, in;
		frame_init(&out);
		frame_init(&in);
		ck_assert_int_eq(frame_alloc(&out, sizes[i][0], sizes[i][1]), 0);
		fill_pattern(&out);
		ck_assert_msg(frame_write_png(&out, path, &err) == 0, "%s", err.msg);
		ck_assert_msg(frame_read_png(&in, path, &err) == 0, "%s", err.msg);
		ck_assert_int_eq(in.width, out.width);
		ck_assert_int_eq(in.height, out.height);
		ck_assert_mem_eq(in.rgb, out.rgb, (size_t)out.width * out.height * 3);
		frame_release(&out);
		frame_release(&in);
	}
	free(path);
}
END_TEST

START_TEST(read_palette)
{
	read_tiny("tiny-palette.png");
}
END_TEST

START_TEST(read_rgb16)
{
	read_tiny("tiny-rgb16.png");
}
END_TEST

START_TEST(read_rgba)
{
	/* The second row is half transparent: alpha is dropped, not blended. */
	read_tiny("tiny-rgba.png");
}
END_TEST

START_TEST(read_interlaced)
{
	read_tiny("tiny-interlaced.png");
}
END_TEST

/* A real frame: QEMU's screendump, recoloured by ImageMagick, which
 * stored it with a 4-bit palette. */
START_TEST(read_real_frame)
{
	struct frame f, back;
	struct hil_err err = { "" };
	char *path = fixture("seabios-colours.png");
	char *copy = tmpfile_path("copy.png");
	frame_init(&f);
	frame_init(&back);
	ck_assert_msg(frame_read_png(&f, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(f.width, 720);
	ck_assert_int_eq(f.height, 400);
	ck_assert_pixel(&f, 80, 47, 0x00, 0x00, 0xaa);  /* blue band */
	ck_assert_pixel(&f, 700, 10, 0xaa, 0x00, 0x00); /* red band */
	ck_assert_pixel(&f, 700, 300, 0xaa, 0xaa, 0xaa); /* grey rest */

	ck_assert_msg(frame_write_png(&f, copy, &err) == 0, "%s", err.msg);
	ck_assert_msg(frame_read_png(&back, copy, &err) == 0, "%s", err.msg);
	ck_assert_mem_eq(back.rgb, f.rgb, 720 * 400 * 3);
	frame_release(&back);
	frame_release(&f);
	free(copy);
	free(path);
}
END_TEST

START_TEST(read_grey)
{
	static const uint8_t grey[8] = { 54, 182, 18, 255, 0, 236, 200, 75 };
	struct frame f;
	struct hil_err err = { "" };
	char *path = fixture("tiny-grey.png");
	frame_init(&f);
	ck_assert_msg(frame_read_png(&f, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(f.width, 4);
	ck_assert_int_eq(f.height, 2);
	for (int i = 0; i < 8; i++)
		ck_assert_pixel(&f, i % 4, i / 4, grey[i], grey[i], grey[i]);
	frame_release(&f);
	free(path);
}
END_TEST

/* Expect frame_read_png(path) to fail with a message that names the file
 * and contains want; the frame passed in must come back untouched. */
static void expect_read_error(const char *path, const char *want)
{
	struct frame f;
	struct hil_err err = { "" };
	frame_init(&f);
	ck_assert_int_eq(frame_alloc(&f, 2, 2), 0);
	uint8_t *before = f.rgb;
	ck_assert_int_eq(frame_read_png(&f, path, &err), -1);
	ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0, "message does not name %s: %s",
		      path, err.msg);
	ck_assert_msg(strstr(err.msg, want), "expected '%s' in: %s", want, err.msg);
	ck_assert_ptr_eq(f.rgb, before);
	ck_assert_int_eq(f.width, 2);
	frame_release(&f);
}

START_TEST(read_truncated)
{
	struct frame f;
	struct hil_err err = { "" };
	char *path = tmpfile_path("full.png"), *half = tmpfile_path("half.png");
	frame_init(&f);
	ck_assert_int_eq(frame_alloc(&f, 64, 64), 0);
	fill_pattern(&f);
	ck_assert_msg(frame_write_png(&f, path, &err) == 0, "%s", err.msg);
	frame_release(&f);

	size_t len;
	char *data = read_file(path, 1 << 20, &len, &err);
	ck_assert_msg(data != NULL, "%s", err.msg);
	write_bytes(half, data, len / 2);
	expect_read_error(half, "truncated or corrupt PNG");
	expect_read_error(half, "unexpected end of file");

	/* Only the signature and part of IHDR. */
	write_bytes(half, data, 12);
	expect_read_error(half, "truncated or corrupt PNG");
	/* Shorter than the signature is not recognisable as PNG at all. */
	write_bytes(half, data, 5);
	expect_read_error(half, "not a PNG file");
	write_bytes(half, data, 0);
	expect_read_error(half, "not a PNG file");

	free(data);
	free(path);
	free(half);
}
END_TEST

START_TEST(read_corrupt_crc)
{
	struct frame f;
	struct hil_err err = { "" };
	char *path = tmpfile_path("crc.png");
	frame_init(&f);
	ck_assert_int_eq(frame_alloc(&f, 16, 16), 0);
	fill_pattern(&f);
	ck_assert_msg(frame_write_png(&f, path, &err) == 0, "%s", err.msg);
	frame_release(&f);

	size_t len;
	char *data = read_file(path, 1 << 20, &len, &err);
	ck_assert_msg(data != NULL, "%s", err.msg);
	char *idat = memmem(data, len, "IDAT", 4);
	ck_assert_ptr_nonnull(idat);
	idat[6] ^= 0x55; /* inside the compressed data: CRC no longer matches */
	write_bytes(path, data, len);
	expect_read_error(path, "truncated or corrupt PNG (libpng: ");
	free(data);
	free(path);
}
END_TEST

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

START_TEST(read_too_large)
{
	/* A valid signature and IHDR that claims 100000 x 1: must be refused
	 * before anything that size is allocated. */
	uint8_t png[8 + 25] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	uint8_t *ihdr = png + 8;
	put_be32(ihdr, 13);
	memcpy(ihdr + 4, "IHDR", 4);
	put_be32(ihdr + 8, 100000);
	put_be32(ihdr + 12, 1);
	ihdr[16] = 8; /* depth */
	ihdr[17] = 2; /* RGB */
	put_be32(ihdr + 21, crc32_png(ihdr + 4, 17));
	char *path = tmpfile_path("huge.png");
	write_bytes(path, png, sizeof png);
	expect_read_error(path, "truncated or corrupt PNG (libpng: ");
	free(path);
}
END_TEST

START_TEST(read_not_png)
{
	char *path = tmpfile_path("notes.txt");
	const char text[] = "this is not a frame\nbut it is long enough to have a header\n";
	write_bytes(path, text, sizeof text - 1);
	expect_read_error(path, "not a PNG file");
	free(path);
}
END_TEST

START_TEST(read_missing)
{
	char *path = tmpfile_path("no-such-frame.png");
	expect_read_error(path, "cannot open: No such file or directory");
	free(path);
}
END_TEST

START_TEST(write_errors)
{
	struct frame f;
	struct hil_err err = { "" };
	char *path = tmpfile_path("no-such-dir/out.png");
	frame_init(&f);
	ck_assert_int_eq(frame_write_png(&f, path, &err), -1);
	ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "empty"), "%s", err.msg);

	ck_assert_int_eq(frame_alloc(&f, 4, 4), 0);
	ck_assert_int_eq(frame_write_png(&f, path, &err), -1);
	ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0 && strstr(err.msg, "cannot create"),
		      "%s", err.msg);
	free(path);

	/* A full device: the error shows up in a write or only at fclose. */
	if (access("/dev/full", W_OK) == 0) {
		ck_assert_int_eq(frame_write_png(&f, "/dev/full", &err), -1);
		ck_assert_msg(strncmp(err.msg, "/dev/full: cannot write PNG", 27) == 0, "%s",
			      err.msg);
		ck_assert_msg(strstr(err.msg, "No space left on device"), "%s", err.msg);
	}
	frame_release(&f);
}
END_TEST

static Suite *image_suite(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, alloc_limits);
	tcase_add_test(tc, copy);
	tcase_add_test(tc, roundtrip);
	tcase_add_test(tc, read_palette);
	tcase_add_test(tc, read_rgb16);
	tcase_add_test(tc, read_rgba);
	tcase_add_test(tc, read_interlaced);
	tcase_add_test(tc, read_grey);
	tcase_add_test(tc, read_real_frame);
	tcase_add_test(tc, read_truncated);
	tcase_add_test(tc, read_corrupt_crc);
	tcase_add_test(tc, read_too_large);
	tcase_add_test(tc, read_not_png);
	tcase_add_test(tc, read_missing);
	tcase_add_test(tc, write_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(image_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
