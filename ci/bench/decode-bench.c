/* decode-bench: time a reader on frames, in-process, and print what it read.
 *
 *   decode-bench textmode|tesseract REPEATS FRAME...
 *
 * For each frame prints one JSON line: {"frame", "reader", "ms" (mean over
 * REPEATS reads, the file read excluded), "text" (rows joined by '\n')}; the
 * first line reports the reader's one-off load time. Used by ci/bench/decode,
 * which computes character error rates from the text. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image.h"
#include "ocr.h"
#include "textmode.h"
#include "vgafont.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "textmode") && strcmp(argv[1], "tesseract"))) {
		fprintf(stderr, "usage: decode-bench textmode|tesseract REPEATS FRAME...\n");
		return 2;
	}
	int tess = !strcmp(argv[1], "tesseract");
	int repeats = atoi(argv[2]);
	if (repeats < 1)
		repeats = 1;
	struct hil_err err;
	struct vgafont font;
	struct ocr *ocr = NULL;
	double t0 = now_s();
	if (tess ? !(ocr = ocr_open(&err)) : vgafont_from_rom(&font, VGAFONT_DEFAULT_ROM, &err) < 0) {
		fprintf(stderr, "decode-bench: %s\n", err.msg);
		return 1;
	}
	printf("{\"reader\": \"%s\", \"load_ms\": %.3f}\n", argv[1], (now_s() - t0) * 1e3);
	struct text_screen *scr = xmalloc(sizeof *scr);
	for (int i = 3; i < argc; i++) {
		struct frame f;
		frame_init(&f);
		if (frame_read(&f, argv[i], &err) < 0) {
			fprintf(stderr, "decode-bench: %s\n", err.msg);
			return 1;
		}
		char *text = NULL;
		const char *status = "ok";
		double start = now_s();
		for (int k = 0; k < repeats; k++) {
			free(text);
			text = NULL;
			if (tess) {
				text = ocr_read(ocr, &f, &err);
			} else {
				int rc = textmode_decode(&f, &font, NINTH_QEMU, scr, &err);
				if (rc == 0) {
					text = textmode_text(scr);
					if (textmode_min_confidence(scr) < TEXTMODE_TRUST)
						status = "low-confidence";
				}
			}
			if (!text) {
				status = err.msg;
				break;
			}
		}
		double ms = (now_s() - start) * 1e3 / repeats;
		json_t *line = json_pack("{s:s, s:s, s:f, s:s, s:s}", "frame", argv[i], "reader", argv[1],
					 "ms", ms, "status", status, "text", text ? text : "");
		char *s = json_dumps(line, JSON_COMPACT);
		puts(s);
		fflush(stdout);
		free(s);
		json_decref(line);
		free(text);
		frame_release(&f);
	}
	free(scr);
	ocr_close(ocr);
	return 0;
}
