/* ocr: read the text on a frame with tesseract's C API.
 *
 * The model is loaded once per struct ocr (about 65 ms); keep one for the
 * whole process and use it from one thread. Frames are preprocessed the way
 * fixed-font screens need: each character cell binarised against its own
 * background (the 9x16 / 8x16 grid when the frame is 720x400 / 640x400,
 * otherwise the whole frame against its dominant colour), then scaled 3x
 * nearest-neighbour, then read with page segmentation mode 6.
 *
 * Ownership: struct ocr owns the tesseract instance; text returned by
 * ocr_read is the caller's to free. */
#ifndef HIL_OCR_H
#define HIL_OCR_H

#include "image.h"
#include "util.h"

struct ocr;

/* NULL on error (no tessdata, no "eng" model), with err set. */
struct ocr *ocr_open(struct hil_err *err);
/* The text of the frame, lines separated by '\n', trailing blank lines and
 * trailing spaces removed. NULL on error. */
char *ocr_read(struct ocr *o, const struct frame *f, struct hil_err *err);
/* Read one character cell (x, y, w, h in the frame) as a single character
 * (page segmentation mode 10): for the cells the exact decoder cannot match.
 * Returns what tesseract read (usually one character, possibly "" or more);
 * NULL on error. */
char *ocr_read_cell(struct ocr *o, const struct frame *f, int x, int y, int w, int h,
		    struct hil_err *err);
/* tesseract's version string, for the run record. */
const char *ocr_version(void);
/* The library loaded: $HILRUN_TESSERACT_LIB, else the soname built against. */
const char *ocr_library(void);
/* Where tesseract finds its "eng" model, as it says after loading it
 * (hilrun --version); or why it cannot. The caller frees it. */
char *ocr_data(void);
void ocr_close(struct ocr *o);

#endif
