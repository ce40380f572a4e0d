/* image: see image.h.
 *
 * libpng reports errors by calling our error callback, which must not
 * return: it records the message in the caller's hil_err and longjmps back
 * to the setjmp in frame_read_png / frame_write_png. Everything those
 * functions allocate before a possible longjmp is held in volatile locals,
 * so the cleanup after the jump sees the current values.
 *
 * On error the destination frame is left as it was. */
#include "image.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void frame_init(struct frame *f)
{
	f->width = 0;
	f->height = 0;
	f->rgb = NULL;
}

void frame_release(struct frame *f)
{
	free(f->rgb);
	frame_init(f);
}

static int frame_dims_ok(long width, long height)
{
	return width >= 1 && width <= FRAME_MAX_DIM &&
	       height >= 1 && height <= FRAME_MAX_DIM;
}

/* Bytes of pixel data; only called with checked dimensions, and
 * FRAME_MAX_DIM^2 * 3 fits a size_t on every platform we build for. */
static size_t frame_bytes(int width, int height)
{
	_Static_assert((unsigned long long)FRAME_MAX_DIM * FRAME_MAX_DIM * 3 <= SIZE_MAX,
		       "FRAME_MAX_DIM too large for size_t");
	return (size_t)width * (size_t)height * 3;
}

int frame_alloc(struct frame *f, int width, int height)
{
	if (!frame_dims_ok(width, height))
		return -1;
	uint8_t *rgb = xcalloc(frame_bytes(width, height), 1);
	frame_release(f);
	f->width = width;
	f->height = height;
	f->rgb = rgb;
	return 0;
}

void frame_copy(struct frame *dst, const struct frame *src)
{
	if (dst == src)
		return;
	if (!src->rgb || !frame_dims_ok(src->width, src->height)) {
		frame_release(dst);
		return;
	}
	size_t n = frame_bytes(src->width, src->height);
	uint8_t *rgb = xmalloc(n);
	memcpy(rgb, src->rgb, n);
	frame_release(dst);
	dst->width = src->width;
	dst->height = src->height;
	dst->rgb = rgb;
}

/* What the libpng callbacks need: where to report and what to name. */
struct png_ctx {
	jmp_buf jmp;
	FILE *fp;
	const char *path;
	const char *what; /* "truncated or corrupt PNG", "cannot write PNG" */
	struct hil_err *err;
};

static void png_error_cb(png_structp png, png_const_charp msg)
{
	struct png_ctx *ctx = png_get_error_ptr(png);
	hil_seterr(ctx->err, "%s: %s (libpng: %s)", ctx->path, ctx->what, msg);
	longjmp(ctx->jmp, 1);
}

/* Warnings (unknown chunks, odd sRGB profiles from other tools) are no
 * reason to fail a frame, and a test harness must not chatter on stderr. */
static void png_warning_cb(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/* Own I/O callbacks instead of png_init_io: libpng's say only "Read Error",
 * which hides whether the file was short or the disk failed. */
static void png_read_cb(png_structp png, png_bytep data, size_t len)
{
	struct png_ctx *ctx = png_get_io_ptr(png);
	size_t got = fread(data, 1, len, ctx->fp);
	if (got == len)
		return;
	if (ferror(ctx->fp))
		png_error(png, strerror(errno));
	png_error(png, "unexpected end of file");
}

static void png_write_cb(png_structp png, png_bytep data, size_t len)
{
	struct png_ctx *ctx = png_get_io_ptr(png);
	if (fwrite(data, 1, len, ctx->fp) != len)
		png_error(png, strerror(errno));
}

static void png_flush_cb(png_structp png)
{
	struct png_ctx *ctx = png_get_io_ptr(png);
	if (fflush(ctx->fp) != 0)
		png_error(png, strerror(errno));
}

int frame_read_png(struct frame *f, const char *path, struct hil_err *err)
{
	struct png_ctx ctx = { .path = path, .what = "truncated or corrupt PNG", .err = err };
	png_structp volatile png = NULL;
	png_infop volatile info = NULL;
	uint8_t *volatile rgb = NULL;
	png_bytep *volatile rows = NULL;
	png_uint_32 width, height;
	int bit_depth, color_type;
	uint8_t sig[8];
	size_t nsig;
	volatile int ret = -1;

	ctx.fp = fopen(path, "rb");
	if (!ctx.fp) {
		hil_seterr(err, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	nsig = fread(sig, 1, sizeof sig, ctx.fp);
	if (ferror(ctx.fp)) {
		hil_seterr(err, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	if (nsig < sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0) {
		hil_seterr(err, "%s: not a PNG file", path);
		goto out;
	}

	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_cb, png_warning_cb);
	if (!png) {
		hil_seterr(err, "%s: cannot set up libpng", path);
		goto out;
	}
	info = png_create_info_struct(png);
	if (!info) {
		hil_seterr(err, "%s: cannot set up libpng", path);
		goto out;
	}
	if (setjmp(ctx.jmp))
		goto out; /* err already set by png_error_cb */

	png_set_read_fn(png, &ctx, png_read_cb);
	png_set_sig_bytes(png, sizeof sig);
	/* libpng rejects larger IHDRs itself, before we allocate anything. */
	png_set_user_limits(png, FRAME_MAX_DIM, FRAME_MAX_DIM);
	png_read_info(png, info);
	png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
	if (!frame_dims_ok(width, height)) {
		hil_seterr(err, "%s: %lux%lu image is larger than %dx%d", path,
			   (unsigned long)width, (unsigned long)height, FRAME_MAX_DIM, FRAME_MAX_DIM);
		goto out;
	}

	/* Whatever came in, turn it into 8-bit RGB without alpha. */
	png_set_expand(png); /* palette -> RGB, grey < 8 bit -> 8 bit, tRNS -> alpha */
#ifdef PNG_READ_SCALE_16_TO_8_SUPPORTED
	png_set_scale_16(png);
#else
	png_set_strip_16(png);
#endif
	png_set_strip_alpha(png);
	if (!(color_type & PNG_COLOR_MASK_COLOR))
		png_set_gray_to_rgb(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	if (png_get_rowbytes(png, info) != (size_t)width * 3 ||
	    png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8) {
		hil_seterr(err, "%s: cannot convert PNG (colour type %d, depth %d) to 8-bit RGB",
			   path, color_type, bit_depth);
		goto out;
	}

	rgb = xmalloc(frame_bytes(width, height));
	rows = xmalloc(height * sizeof *rows);
	for (png_uint_32 y = 0; y < height; y++)
		rows[y] = rgb + (size_t)y * width * 3;
	png_read_image(png, rows);
	png_read_end(png, NULL);

	frame_release(f);
	f->width = width;
	f->height = height;
	f->rgb = rgb;
	rgb = NULL;
	ret = 0;
out:
	if (png) {
		png_structp p = png;
		png_infop i = info;
		png_destroy_read_struct(&p, i ? &i : NULL, NULL);
	}
	free(rows);
	free(rgb);
	fclose(ctx.fp);
	return ret;
}

int frame_write_png(const struct frame *f, const char *path, struct hil_err *err)
{
	struct png_ctx ctx = { .path = path, .what = "cannot write PNG", .err = err };
	png_structp volatile png = NULL;
	png_infop volatile info = NULL;
	png_bytep *volatile rows = NULL;
	volatile int ret = -1;

	if (!f->rgb || !frame_dims_ok(f->width, f->height)) {
		hil_seterr(err, "%s: cannot write an empty or %dx%d frame", path, f->width, f->height);
		return -1;
	}
	ctx.fp = fopen(path, "wb");
	if (!ctx.fp) {
		hil_seterr(err, "%s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_error_cb, png_warning_cb);
	if (!png) {
		hil_seterr(err, "%s: cannot set up libpng", path);
		goto out;
	}
	info = png_create_info_struct(png);
	if (!info) {
		hil_seterr(err, "%s: cannot set up libpng", path);
		goto out;
	}
	if (setjmp(ctx.jmp))
		goto out;

	png_set_write_fn(png, &ctx, png_write_cb, png_flush_cb);
	png_set_IHDR(png, info, f->width, f->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	rows = xmalloc((size_t)f->height * sizeof *rows);
	for (int y = 0; y < f->height; y++)
		rows[y] = f->rgb + (size_t)y * f->width * 3;
	png_write_info(png, info);
	png_write_image(png, rows);
	png_write_end(png, NULL);
	ret = 0;
out:
	if (png) {
		png_structp p = png;
		png_infop i = info;
		png_destroy_write_struct(&p, i ? &i : NULL);
	}
	free(rows);
	/* fclose flushes: a full disk may only show up here. */
	if (fclose(ctx.fp) != 0 && ret == 0) {
		hil_seterr(err, "%s: cannot write PNG: %s", path, strerror(errno));
		ret = -1;
	}
	/* On error a partial file may remain at path: the caller writes to a
	 * temporary name and renames on success (removing a file here could
	 * hit something that is not ours, e.g. a device node). */
	return ret;
}
