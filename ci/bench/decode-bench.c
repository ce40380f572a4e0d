/* decode-bench: time a reader on frames, in-process, and print what it read.
 *
 *   decode-bench textmode|stream|tesseract|floor REPEATS FRAME...
 *
 * For each frame prints one JSON line: {"frame", "reader", "ms" (mean over
 * REPEATS reads, the file read excluded), "text" (rows joined by '\n'), and
 * for the decoder "colours" (each cell's foreground and background as
 * 12 hex digits, row by row, cell by cell) and "trusted" (one '1' or '0' a
 * cell, in the same order: its confidence reaches TEXTMODE_TRUST)}; the
 * first line reports the reader's one-off load time. Used by ci/bench/decode,
 * which computes character error rates from the text.
 *
 * textmode decodes each frame from nothing (textmode_decode). stream is the
 * decoder as a run uses it on a capture: one reader for all the frames, in
 * order, so that a frame finds the grid of the frame before it of its size
 * (the first frame of a size is preceded, untimed, by the next frame of that
 * size: a stream already running). Its lines add "grids_searched" and
 * "grids_reused" over the timed reads: the grid is checked against every
 * frame and searched again when it reads worse.
 *
 * floor reads nothing: it loads, once, the frame pixel nearest the centre
 * of each text-mode pixel of 80x25 cells of 9x16 spread over the frame, and
 * adds them up. Any reader that looks at every glyph pixel does at least
 * that: the fastest a decoder of the frame could be. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image.h"
#include "ocr.h"
#include "textmode.h"
#include "vgafont.h"

static volatile unsigned long floor_sum; /* keeps the loads from being optimised away */

static void touch_glyph_pixels(const struct frame *f)
{
	enum { W = 80 * 9, H = 25 * 16 };
	static size_t xo[W];
	for (int i = 0; i < W; i++)
		xo[i] = (size_t)((i + 0.5) * f->width / W) * 3;
	unsigned long sum = 0;
	for (int r = 0; r < 25; r++)
		for (int c = 0; c < 80; c++)
			for (int y = 0; y < 16; y++) {
				const uint8_t *line =
					f->rgb + (size_t)((r * 16 + y + 0.5) * f->height / H) * f->width * 3;
				for (int i = 0; i < 9; i++) {
					const uint8_t *p = line + xo[c * 9 + i];
					sum += p[0] + p[1] + p[2];
				}
			}
	floor_sum += sum;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "textmode") && strcmp(argv[1], "stream") &&
			 strcmp(argv[1], "tesseract") && strcmp(argv[1], "floor"))) {
		fprintf(stderr, "usage: decode-bench textmode|stream|tesseract|floor REPEATS FRAME...\n");
		return 2;
	}
	int tess = !strcmp(argv[1], "tesseract"), stream = !strcmp(argv[1], "stream");
	int floor_only = !strcmp(argv[1], "floor");
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
	struct textmode_reader *rd = stream ? textmode_reader_new(&font, NINTH_QEMU, &err) : NULL;
	if (stream && !rd) {
		fprintf(stderr, "decode-bench: %s\n", err.msg);
		return 1;
	}
	int last_w = 0, last_h = 0;
	for (int i = 3; i < argc; i++) {
		struct frame f;
		frame_init(&f);
		if (frame_read(&f, argv[i], &err) < 0) {
			fprintf(stderr, "decode-bench: %s\n", err.msg);
			return 1;
		}
		if (stream && (f.width != last_w || f.height != last_h)) {
			for (int j = i + 1; j < argc; j++) {
				struct frame g;
				frame_init(&g);
				int same = frame_read(&g, argv[j], &err) == 0 && g.width == f.width &&
					   g.height == f.height;
				if (same)
					textmode_read(rd, &g, scr, &err);
				frame_release(&g);
				if (same)
					break;
			}
			last_w = f.width;
			last_h = f.height;
		}
		struct textmode_stats before = stream ? textmode_reader_stats(rd) : (struct textmode_stats){ 0, 0 };
		char *text = NULL;
		const char *status = "ok";
		double start = now_s();
		for (int k = 0; k < repeats; k++) {
			free(text);
			text = NULL;
			if (tess) {
				text = ocr_read(ocr, &f, &err);
			} else if (floor_only) {
				touch_glyph_pixels(&f);
				text = xstrdup("");
			} else {
				int rc = stream ? textmode_read(rd, &f, scr, &err) :
						  textmode_decode(&f, &font, NINTH_QEMU, scr, &err);
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
		if (!tess && !floor_only && text) {
			char *hex = xmalloc((size_t)scr->rows * scr->cols * 12 + 1), *o = hex;
			for (int r = 0; r < scr->rows; r++)
				for (int c = 0; c < scr->cols; c++) {
					const struct text_cell *tc = &scr->cell[r][c];
					o += sprintf(o, "%02x%02x%02x%02x%02x%02x", tc->fg[0], tc->fg[1],
						     tc->fg[2], tc->bg[0], tc->bg[1], tc->bg[2]);
				}
			json_object_set_new(line, "colours", json_string(hex));
			free(hex);
			char *trust = xmalloc((size_t)scr->rows * scr->cols + 1), *t = trust;
			for (int r = 0; r < scr->rows; r++)
				for (int c = 0; c < scr->cols; c++)
					*t++ = scr->cell[r][c].confidence >= TEXTMODE_TRUST ? '1' : '0';
			*t = 0;
			json_object_set_new(line, "trusted", json_string(trust));
			free(trust);
		}
		if (stream) {
			struct textmode_stats after = textmode_reader_stats(rd);
			json_object_set_new(line, "grids_searched",
					    json_integer(after.grids_searched - before.grids_searched));
			json_object_set_new(line, "grids_reused",
					    json_integer(after.grids_reused - before.grids_reused));
		}
		char *s = json_dumps(line, JSON_COMPACT);
		puts(s);
		fflush(stdout);
		free(s);
		json_decref(line);
		free(text);
		frame_release(&f);
	}
	free(scr);
	textmode_reader_free(rd);
	ocr_close(ocr);
	return 0;
}
