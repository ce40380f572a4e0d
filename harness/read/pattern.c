/* pattern: see pattern.h. */
#include "pattern.h"

#include <stdio.h>
#include <string.h>

static const char *const primary_name[8] = { "black", "blue", "green", "cyan",
					     "red",   "magenta", "yellow", "white" };

enum primary pattern_expected(int col, int row, uint32_t code)
{
	static const enum primary bars[8] = { P_WHITE, P_YELLOW, P_CYAN, P_GREEN,
					      P_MAGENTA, P_RED, P_BLUE, P_BLACK };
	if (row < 4)
		return bars[col / 2];
	if (row < 6)
		return (col + row) % 2 ? P_BLACK : P_WHITE;
	if (row < 10) {
		int bit = (row < 8 ? 31 : 15) - col;
		return code >> bit & 1 ? P_WHITE : P_BLUE;
	}
	if (row == 10)
		return col % 2 ? P_GREEN : P_RED;
	return col % 2 ? P_RED : P_GREEN;
}

/* The middle of block (col, row) in frame pixels: the central half of the
 * block on each axis, the block's mode pixels scaled to the frame. */
static void block_middle(int col, int row, int mode_w, int mode_h, const struct frame *f,
			 int *x0, int *x1, int *y0, int *y1)
{
	const double bw = mode_w / PATTERN_COLS, bh = mode_h / PATTERN_ROWS;
	const double fx = (double)f->width / mode_w, fy = (double)f->height / mode_h;
	*x0 = (int)((col * bw + bw / 4) * fx);
	*x1 = (int)((col * bw + 3 * bw / 4) * fx);
	*y0 = (int)((row * bh + bh / 4) * fy);
	*y1 = (int)((row * bh + 3 * bh / 4) * fy);
	if (*x1 <= *x0)
		*x1 = *x0 + 1;
	if (*y1 <= *y0)
		*y1 = *y0 + 1;
}

static enum primary read_block(const struct frame *f, int x0, int x1, int y0, int y1)
{
	unsigned long sum[3] = { 0, 0, 0 }, n = 0;
	for (int y = y0; y < y1 && y < f->height; y++)
		for (int x = x0; x < x1 && x < f->width; x++) {
			const uint8_t *p = f->rgb + ((size_t)y * f->width + x) * 3;
			for (int c = 0; c < 3; c++)
				sum[c] += p[c];
			n++;
		}
	if (!n)
		return P_BLACK;
	int bits = 0;
	for (int c = 0; c < 3; c++)
		bits = bits << 1 | (sum[c] >= 128 * n);
	return (enum primary)bits;
}

int pattern_check(const struct frame *f, int mode_w, int mode_h, uint32_t code, int exact_size,
		  struct pattern_result *res, struct hil_err *err)
{
	memset(res, 0, sizeof *res);
	if (!f || !f->rgb || f->width < 1 || f->height < 1) {
		hil_seterr(err, "no frame to check");
		return -1;
	}
	if (mode_w < PATTERN_COLS || mode_h < PATTERN_ROWS) {
		hil_seterr(err, "mode %dx%d is too small for the pattern's %dx%d blocks", mode_w,
			   mode_h, PATTERN_COLS, PATTERN_ROWS);
		return -1;
	}
	/* QEMU shows mode 13h's 320x200 pixels doubled (640x400): a whole
	 * multiple of the mode on each axis is the mode's own frame. */
	res->size_ok = !exact_size || (f->width % mode_w == 0 && f->height % mode_h == 0 &&
				       f->width / mode_w <= 2 && f->height / mode_h <= 2);
	int first_col = 0, first_row = 0;
	for (int r = 0; r < PATTERN_ROWS; r++)
		for (int c = 0; c < PATTERN_COLS; c++) {
			int x0, x1, y0, y1;
			block_middle(c, r, mode_w, mode_h, f, &x0, &x1, &y0, &y1);
			res->got[r][c] = (uint8_t)read_block(f, x0, x1, y0, y1);
			res->want[r][c] = (uint8_t)pattern_expected(c, r, code);
			if (res->got[r][c] != res->want[r][c] && !res->bad_blocks++) {
				first_col = c;
				first_row = r;
			}
		}
	/* The code as shown: both rows of a bit must agree. */
	int code_blocks_ok = 1;
	for (int r = 6; r < 10; r++)
		for (int c = 0; c < PATTERN_COLS; c++) {
			uint8_t g = res->got[r][c];
			if (g != P_WHITE && g != P_BLUE)
				code_blocks_ok = 0;
			if (r % 2 == 0) {
				int bit = (r < 8 ? 31 : 15) - c;
				if (g == P_WHITE && res->got[r + 1][c] == P_WHITE)
					res->code_read |= 1u << bit;
			}
		}
	res->code_ok = code_blocks_ok && res->code_read == code;
	if (!res->size_ok) {
		snprintf(res->why, sizeof res->why, "frame is %dx%d, the mode set is %dx%d",
			 f->width, f->height, mode_w, mode_h);
		return 0;
	}
	int outside_code = 0;
	for (int r = 0; r < PATTERN_ROWS; r++)
		for (int c = 0; c < PATTERN_COLS; c++)
			outside_code += (r < 6 || r > 9) && res->got[r][c] != res->want[r][c];
	if (res->bad_blocks && !outside_code && code_blocks_ok) {
		snprintf(res->why, sizeof res->why,
			 "the pattern shows code %08x, the guest reported %08x: not this run's "
			 "frame",
			 res->code_read, code);
		return 0;
	}
	if (res->bad_blocks) {
		snprintf(res->why, sizeof res->why,
			 "%d of %d blocks differ from the pattern; the first, (%d,%d), reads %s, "
			 "want %s",
			 res->bad_blocks, PATTERN_COLS * PATTERN_ROWS, first_col, first_row,
			 primary_name[res->got[first_row][first_col]],
			 primary_name[res->want[first_row][first_col]]);
		return 0;
	}
	return 1;
}

static void put(struct frame *f, int x, int y, const uint8_t c[3])
{
	if (x >= 0 && y >= 0 && x < f->width && y < f->height)
		memcpy(f->rgb + ((size_t)y * f->width + x) * 3, c, 3);
}

void pattern_diff(const struct frame *f, int mode_w, int mode_h,
		  const struct pattern_result *res, struct frame *out)
{
	frame_copy(out, f);
	for (size_t i = 0; i < (size_t)out->width * out->height * 3; i++)
		out->rgb[i] = (uint8_t)(out->rgb[i] / 3 + 40);
	const double fx = (double)f->width / mode_w, fy = (double)f->height / mode_h;
	const int bw = mode_w / PATTERN_COLS, bh = mode_h / PATTERN_ROWS;
	static const uint8_t black[3] = { 0, 0, 0 }, white[3] = { 255, 255, 255 };
	for (int r = 0; r < PATTERN_ROWS; r++)
		for (int c = 0; c < PATTERN_COLS; c++) {
			if (res->got[r][c] == res->want[r][c])
				continue;
			int x0 = (int)(c * bw * fx), x1 = (int)((c + 1) * bw * fx) - 1;
			int y0 = (int)(r * bh * fy), y1 = (int)((r + 1) * bh * fy) - 1;
			/* A dashed outline, visible on any colour. */
			for (int x = x0; x <= x1; x++)
				for (int t = 0; t < 2; t++) {
					const uint8_t *k = (x / 4) % 2 ? black : white;
					put(out, x, y0 + t, k);
					put(out, x, y1 - t, k);
				}
			for (int y = y0; y <= y1; y++)
				for (int t = 0; t < 2; t++) {
					const uint8_t *k = (y / 4) % 2 ? black : white;
					put(out, x0 + t, y, k);
					put(out, x1 - t, y, k);
				}
			int mx0, mx1, my0, my1;
			block_middle(c, r, mode_w, mode_h, f, &mx0, &mx1, &my0, &my1);
			const uint8_t want[3] = { res->want[r][c] & 4 ? 255 : 0,
						  res->want[r][c] & 2 ? 255 : 0,
						  res->want[r][c] & 1 ? 255 : 0 };
			for (int y = my0; y < my1; y++)
				for (int x = mx0; x < mx1; x++)
					put(out, x, y, want);
		}
}
