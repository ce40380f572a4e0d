/* capture: the capture reader as the text reader (textmode.c) calls it.
 * Frames that are neither text mode's own geometry nor framebuffer text
 * are read as captures of an 80x25 screen: scaled, compressed, bordered
 * (how: capture_int.h). Internal to the text decoder; its API is
 * textmode.h, the glyph tables both read with are glyphset.h.
 *
 * Ownership: struct capture_memory belongs to capture.c, and the reader
 * that holds it frees it with capture_memory_free(). */
#ifndef HIL_CAPTURE_H
#define HIL_CAPTURE_H

#include "glyphset.h"
#include "textmode.h"

/* What a reader keeps of captures between frames: the grid found in the
 * last frame of a size, and where it has read well. */
struct capture_memory;
struct capture_memory *capture_memory_new(void);
void capture_memory_free(struct capture_memory *m);
/* Has m a grid for frames of this size? */
int capture_knows(const struct capture_memory *m, int width, int height);
/* Read f as a capture of an 80x25 screen with the glyphs gs[0] (9-pixel
 * cells) and gs[1] (8-pixel), keeping its grid in m; as textmode_read().
 * gs gains the tables only captures need, the first time. */
int capture_decode(struct capture_memory *m, struct glyphset gs[2], const struct frame *f,
		   struct text_screen *out, struct textmode_stats *stats, struct hil_err *err);

#endif
