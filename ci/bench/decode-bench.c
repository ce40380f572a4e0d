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
 * textmode decodes each frame from nothing (textmode_decode), REPEATS
 * times. stream is the decoder as a run uses it on a capture: one reader
 * reads the frames in the order given, round after round (REPEATS timed
 * rounds after one untimed: a stream already running), so that each frame
 * follows the one before it in the list (the last follows the first): it
 * finds that frame's grid, and its cells that have not changed since.
 * Its lines add, over the timed reads: "grids_searched" and
 * "grids_reused" (the grid is checked against every frame that changed
 * much and searched again when it reads worse) and "cells_read" (per read:
 * the other cells kept the reading of the frame before).
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
	const int nframes = argc - 3;
	struct frame *frames = xmalloc(sizeof(struct frame) * (size_t)nframes);
	for (int i = 0; i < nframes; i++) {
		frame_init(&frames[i]);
		if (frame_read(&frames[i], argv[i + 3], &err) < 0) {
			fprintf(stderr, "decode-bench: %s\n", err.msg);
			return 1;
		}
	}
	/* Per frame: the time of its reads, the stream's counts over them,
	 * and what its last read said. */
	double *ms = xmalloc(sizeof(double) * (size_t)nframes);
	struct textmode_stats *counts = xmalloc(sizeof(struct textmode_stats) * (size_t)nframes);
	char **text = xmalloc(sizeof(char *) * (size_t)nframes), **colours = xmalloc(sizeof(char *) * (size_t)nframes);
	char **trusted = xmalloc(sizeof(char *) * (size_t)nframes);
	const char **status = xmalloc(sizeof(char *) * (size_t)nframes);
	for (int i = 0; i < nframes; i++) {
		ms[i] = 0;
		counts[i] = (struct textmode_stats){ 0, 0, 0 };
		text[i] = colours[i] = trusted[i] = NULL;
		status[i] = "ok";
	}
	/* Rounds: textmode and the others read each frame REPEATS times in a
	 * row; stream reads the list REPEATS times over, after one round
	 * untimed. */
	const int rounds = stream ? repeats + 1 : 1, reads = stream ? 1 : repeats;
	for (int round = 0; round < rounds; round++)
		for (int i = 0; i < nframes; i++) {
			const struct frame *f = &frames[i];
			const int timed = !stream || round > 0;
			struct textmode_stats before = stream ? textmode_reader_stats(rd) : counts[i];
			double start = now_s();
			for (int k = 0; k < reads; k++) {
				free(text[i]);
				text[i] = NULL;
				status[i] = "ok";
				if (tess) {
					text[i] = ocr_read(ocr, f, &err);
				} else if (floor_only) {
					touch_glyph_pixels(f);
					text[i] = xstrdup("");
				} else {
					int rc = stream ? textmode_read(rd, f, scr, &err) :
							  textmode_decode(f, &font, NINTH_QEMU, scr, &err);
					if (rc == 0) {
						text[i] = textmode_text(scr);
						if (textmode_min_confidence(scr) < TEXTMODE_TRUST)
							status[i] = "low-confidence";
					}
				}
				if (!text[i]) {
					status[i] = xstrdup(err.msg);
					break;
				}
			}
			if (!timed)
				continue;
			ms[i] += (now_s() - start) * 1e3 / (stream ? repeats : reads);
			if (stream) {
				struct textmode_stats after = textmode_reader_stats(rd);
				counts[i].grids_searched += after.grids_searched - before.grids_searched;
				counts[i].grids_reused += after.grids_reused - before.grids_reused;
				counts[i].cells_read += after.cells_read - before.cells_read;
			}
			if (tess || floor_only || !text[i])
				continue;
			free(colours[i]);
			free(trusted[i]);
			char *hex = colours[i] = xmalloc((size_t)scr->rows * scr->cols * 12 + 1), *o = hex;
			char *t = trusted[i] = xmalloc((size_t)scr->rows * scr->cols + 1);
			for (int r = 0; r < scr->rows; r++)
				for (int c = 0; c < scr->cols; c++) {
					const struct text_cell *tc = &scr->cell[r][c];
					o += sprintf(o, "%02x%02x%02x%02x%02x%02x", tc->fg[0], tc->fg[1],
						     tc->fg[2], tc->bg[0], tc->bg[1], tc->bg[2]);
					*t++ = tc->confidence >= TEXTMODE_TRUST ? '1' : '0';
				}
			*t = 0;
		}
	for (int i = 0; i < nframes; i++) {
		json_t *line = json_pack("{s:s, s:s, s:f, s:s, s:s}", "frame", argv[i + 3], "reader",
					 argv[1], "ms", ms[i], "status", status[i], "text",
					 text[i] ? text[i] : "");
		if (colours[i]) {
			json_object_set_new(line, "colours", json_string(colours[i]));
			json_object_set_new(line, "trusted", json_string(trusted[i]));
		}
		if (stream) {
			json_object_set_new(line, "grids_searched", json_integer(counts[i].grids_searched));
			json_object_set_new(line, "grids_reused", json_integer(counts[i].grids_reused));
			json_object_set_new(line, "cells_read",
					    json_real((double)counts[i].cells_read / repeats));
		}
		char *out = json_dumps(line, JSON_COMPACT);
		puts(out);
		free(out);
		json_decref(line);
		free(text[i]);
		free(colours[i]);
		free(trusted[i]);
		frame_release(&frames[i]);
	}
	fflush(stdout);
	free(frames);
	free(ms);
	free(counts);
	free(text);
	free(colours);
	free(trusted);
	free(status);
	free(scr);
	textmode_reader_free(rd);
	ocr_close(ocr);
	return 0;
}
