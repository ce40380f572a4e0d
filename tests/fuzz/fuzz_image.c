/* fuzz_image: the image readers (base/image.c's PNG, imagefmt.c's JPEG and
 * PPM) given any bytes: as a file, through frame_read (the format sniffed
 * from the magic, as hilrun decode and the validator read frames), and in
 * memory through frame_decode (an HTTP snapshot). A frame read must be
 * whole: its dimensions within FRAME_MAX_DIM and its pixels all there
 * (ASan and valgrind see a short buffer when the target sums them); a
 * failed read must leave the frame as it was, as image.h says.
 *
 * JPEGs whose header declares more than FUZZ_JPEG_MAX_PIXELS (but not
 * more than the reader's own FRAME_MAX_DIM a side, which it refuses at
 * once) are skipped: libjpeg decodes a truncated one whole, grey filled,
 * and a few bytes could make each execution take a second. Corpus:
 * tests/fuzz/corpus/image/ (seeds: the frames of tests/fixtures/frames/
 * and the fixture run, small ones as they are, PPMs and cut-short ones,
 * seeds.py). */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "fuzz.h"
#include "image.h"

#define FUZZ_JPEG_MAX_PIXELS (1920 * 1080) /* a capture box's frame */

struct jpeg_quiet {
	struct jpeg_error_mgr mgr;
	jmp_buf jump;
};

static void jpeg_quiet_exit(j_common_ptr cinfo)
{
	longjmp(((struct jpeg_quiet *)cinfo->err)->jump, 1);
}

static void jpeg_quiet_message(j_common_ptr cinfo, int level)
{
	(void)cinfo;
	(void)level;
}

/* Does the JPEG's header declare a frame too large to decode quickly? */
static int jpeg_too_slow(const uint8_t *data, size_t size)
{
	struct jpeg_decompress_struct cinfo;
	struct jpeg_quiet q;
	cinfo.err = jpeg_std_error(&q.mgr);
	q.mgr.error_exit = jpeg_quiet_exit;
	q.mgr.emit_message = jpeg_quiet_message;
	volatile int slow = 0;
	if (setjmp(q.jump) == 0) {
		jpeg_create_decompress(&cinfo);
		jpeg_mem_src(&cinfo, data, (unsigned long)size);
		jpeg_read_header(&cinfo, TRUE);
		slow = cinfo.image_width <= FRAME_MAX_DIM && cinfo.image_height <= FRAME_MAX_DIM &&
		       (uint64_t)cinfo.image_width * cinfo.image_height > FUZZ_JPEG_MAX_PIXELS;
	}
	jpeg_destroy_decompress(&cinfo);
	return slow;
}

/* A frame that was read: within the limits, every pixel readable. */
static void check_frame(const struct frame *f, const char *what)
{
	fuzz_check(f->rgb && f->width >= 1 && f->height >= 1 && f->width <= FRAME_MAX_DIM &&
			   f->height <= FRAME_MAX_DIM,
		   what);
	size_t n = (size_t)f->width * (size_t)f->height * 3;
	unsigned sum = 0;
	for (size_t i = 0; i < n; i += 61)
		sum += f->rgb[i];
	sum += f->rgb[n - 1];
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "%s: %dx%d (sum %u)\n", what, f->width, f->height, sum);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF &&
	    jpeg_too_slow(data, size))
		return 0;
	static char *path;
	if (!path)
		path = xasprintf("%s/frame", fuzz_tmpdir());
	fuzz_write(path, data, size);

	/* A frame that held something before: a failed read leaves it so. */
	struct frame f, g;
	struct hil_err err;
	frame_init(&f);
	frame_init(&g);
	frame_alloc(&f, 3, 2);
	frame_alloc(&g, 3, 2);
	uint8_t *was_f = f.rgb, *was_g = g.rgb;

	if (frame_read(&f, path, &err) == 0)
		check_frame(&f, "frame_read: a frame out of range or without its pixels");
	else
		fuzz_check(f.rgb == was_f && f.width == 3 && f.height == 2 && err.msg[0],
			   "frame_read failed but changed the frame, or did not say why");
	if (frame_decode(&g, "fuzz", data, size, &err) == 0) {
		check_frame(&g, "frame_decode: a frame out of range or without its pixels");
		/* the same bytes, the same frame, however they came */
		fuzz_check(f.width == g.width && f.height == g.height &&
				   !memcmp(f.rgb, g.rgb, (size_t)f.width * f.height * 3),
			   "frame_read and frame_decode read the same bytes differently");
	} else {
		fuzz_check(g.rgb == was_g && g.width == 3 && g.height == 2 && err.msg[0],
			   "frame_decode failed but changed the frame, or did not say why");
	}
	frame_release(&f);
	frame_release(&g);
	return 0;
}
