/* imagefmt: read a frame from any file format a capture may be saved in:
 * PNG (image.c), JPEG (libjpeg, what IP-KVMs send), and PPM (QEMU's
 * screendump default). The format is sniffed from the first bytes, never
 * guessed from the name. */
#include <errno.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t without including them */

#include "image.h"

#define IMAGE_FILE_MAX (64 * 1024 * 1024)

struct jpeg_fail {
	struct jpeg_error_mgr mgr;
	jmp_buf jump;
	int warned;
	char msg[JMSG_LENGTH_MAX];
};

static void jpeg_fail_exit(j_common_ptr cinfo)
{
	struct jpeg_fail *jf = (struct jpeg_fail *)cinfo->err;
	jf->mgr.format_message(cinfo, jf->msg);
	longjmp(jf->jump, 1);
}

/* libjpeg only warns about corrupt or truncated data ("Premature end of
 * JPEG file") and fills the rest with grey: a half frame that would be read
 * as if whole. Keep the first warning; the read fails on it. */
static void jpeg_warning(j_common_ptr cinfo, int level)
{
	struct jpeg_fail *jf = (struct jpeg_fail *)cinfo->err;
	if (level < 0 && !jf->warned) {
		jf->warned = 1;
		jf->mgr.format_message(cinfo, jf->msg);
	}
}

static int read_jpeg(struct frame *f, const char *path, const unsigned char *data, size_t len,
		     struct hil_err *err)
{
	struct jpeg_decompress_struct cinfo;
	struct jpeg_fail jf;
	struct frame tmp;
	frame_init(&tmp);
	cinfo.err = jpeg_std_error(&jf.mgr);
	jf.mgr.error_exit = jpeg_fail_exit;
	jf.mgr.emit_message = jpeg_warning;
	jf.warned = 0;
	if (setjmp(jf.jump)) {
		hil_seterr(err, "%s: truncated or corrupt JPEG (libjpeg: %s)", path, jf.msg);
		jpeg_destroy_decompress(&cinfo);
		frame_release(&tmp);
		return -1;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, (unsigned long)len);
	jpeg_read_header(&cinfo, TRUE);
	if (cinfo.image_width > FRAME_MAX_DIM || cinfo.image_height > FRAME_MAX_DIM) {
		hil_seterr(err, "%s: JPEG of %ux%u is larger than %d pixels a side", path,
			   cinfo.image_width, cinfo.image_height, FRAME_MAX_DIM);
		jpeg_destroy_decompress(&cinfo);
		return -1;
	}
	cinfo.out_color_space = JCS_RGB;
	jpeg_start_decompress(&cinfo);
	if (frame_alloc(&tmp, (int)cinfo.output_width, (int)cinfo.output_height) < 0) {
		hil_seterr(err, "%s: bad JPEG dimensions", path);
		jpeg_destroy_decompress(&cinfo);
		return -1;
	}
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = tmp.rgb + (size_t)cinfo.output_scanline * (size_t)tmp.width * 3;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	if (jf.warned) {
		hil_seterr(err, "%s: truncated or corrupt JPEG (libjpeg: %s)", path, jf.msg);
		frame_release(&tmp);
		return -1;
	}
	frame_release(f);
	*f = tmp;
	return 0;
}

/* The next PPM header number, skipping whitespace and comments. */
static int ppm_number(const unsigned char **p, const unsigned char *end, long *out)
{
	for (;;) {
		while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
			(*p)++;
		if (*p < end && **p == '#') {
			while (*p < end && **p != '\n')
				(*p)++;
			continue;
		}
		break;
	}
	long v = 0;
	int digits = 0;
	while (*p < end && **p >= '0' && **p <= '9' && digits < 9) {
		v = v * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	*out = v;
	return digits ? 0 : -1;
}

static int read_ppm(struct frame *f, const char *path, const unsigned char *data, size_t len,
		    struct hil_err *err)
{
	const unsigned char *p = data + 2, *end = data + len;
	long w, h, maxval;
	if (ppm_number(&p, end, &w) < 0 || ppm_number(&p, end, &h) < 0 ||
	    ppm_number(&p, end, &maxval) < 0 || p == end) {
		hil_seterr(err, "%s: malformed PPM header", path);
		return -1;
	}
	if (maxval != 255) {
		hil_seterr(err, "%s: PPM with maxval %ld (only 255 is read)", path, maxval);
		return -1;
	}
	p++; /* the single whitespace byte after maxval */
	struct frame tmp;
	frame_init(&tmp);
	if (w < 1 || h < 1 || w > FRAME_MAX_DIM || h > FRAME_MAX_DIM ||
	    frame_alloc(&tmp, (int)w, (int)h) < 0) {
		hil_seterr(err, "%s: PPM of %ldx%ld is out of range", path, w, h);
		return -1;
	}
	size_t need = (size_t)w * (size_t)h * 3;
	if ((size_t)(end - p) < need) {
		hil_seterr(err, "%s: truncated PPM (%zu of %zu pixel bytes)", path, (size_t)(end - p), need);
		frame_release(&tmp);
		return -1;
	}
	memcpy(tmp.rgb, p, need);
	frame_release(f);
	*f = tmp;
	return 0;
}

int frame_decode(struct frame *f, const char *name, const void *data, size_t len,
		 struct hil_err *err)
{
	const unsigned char *d = data;
	if (len >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
		return read_jpeg(f, name, d, len, err);
	if (len >= 2 && d[0] == 'P' && d[1] == '6')
		return read_ppm(f, name, d, len, err);
	char head[17];
	size_t n = 0;
	for (; n < len && n < 16; n++)
		head[n] = d[n] >= 0x20 && d[n] < 0x7f ? (char)d[n] : '.';
	head[n] = '\0';
	hil_seterr(err, "%s: not a JPEG or PPM (P6) image (%zu bytes starting \"%s\")", name, len,
		   head);
	return -1;
}

int frame_read(struct frame *f, const char *path, struct hil_err *err)
{
	size_t len;
	char *data = read_file(path, IMAGE_FILE_MAX, &len, err);
	if (!data)
		return -1;
	const unsigned char *d = (const unsigned char *)data;
	int rc;
	if (len >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
		rc = frame_read_png(f, path, err);
	else if ((len >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) ||
		 (len >= 2 && d[0] == 'P' && d[1] == '6'))
		rc = frame_decode(f, path, d, len, err);
	else {
		hil_seterr(err, "%s: not a PNG, JPEG or PPM (P6) image", path);
		rc = -1;
	}
	free(data);
	return rc;
}
