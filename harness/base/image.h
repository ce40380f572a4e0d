/* image: an RGB frame in memory and its PNG form.
 *
 * Ownership: a struct frame owns its pixel buffer; frame_release frees it
 * and leaves an empty frame. Functions that fill a frame release what it
 * held before. */
#ifndef HIL_IMAGE_H
#define HIL_IMAGE_H

#include <stdint.h>
#include "util.h"

/* Largest frame we accept from anywhere (VNC server, file): a bound on
 * what a broken or hostile peer can make us allocate. */
#define FRAME_MAX_DIM 8192

struct frame {
	int width, height;
	uint8_t *rgb; /* width * height * 3 bytes, rows top to bottom, R G B */
};

void frame_init(struct frame *f);
void frame_release(struct frame *f);
/* Allocate width x height, zeroed; -1 if a dimension is out of range. */
int frame_alloc(struct frame *f, int width, int height);
void frame_copy(struct frame *dst, const struct frame *src);

int frame_write_png(const struct frame *f, const char *path, struct hil_err *err);
/* Reads 8-bit or 16-bit, grey, palette, RGB or RGBA PNGs into RGB. */
int frame_read_png(struct frame *f, const char *path, struct hil_err *err);

/* Any of PNG, JPEG or binary PPM (P6, maxval 255), sniffed from the
 * content (imagefmt.c). On error f is left as it was. */
int frame_read(struct frame *f, const char *path, struct hil_err *err);
/* A JPEG or binary PPM in memory (an HTTP snapshot); name is for messages. */
int frame_decode(struct frame *f, const char *name, const void *data, size_t len,
		 struct hil_err *err);

#endif
