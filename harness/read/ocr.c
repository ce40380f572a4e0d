/* ocr: see ocr.h.
 *
 * Why the preprocessing: tesseract's LSTM model is trained on printed
 * documents, dark ink on light paper at a few hundred dpi. A VGA text
 * screen is light-on-dark (or any of 16 x 16 colour pairs), 16 pixels a
 * line, and tesseract's own global thresholding misreads it ("VGA" ->
 * "UGA"). Every character cell has exactly one background colour, so
 * classifying each pixel against its own cell's background turns any
 * colour pair, inverse-video bars included, into black on white. Scaling
 * 3x gives the model glyphs of the height it was trained on. */
#include "ocr.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tesseract/capi.h>

/* A pixel is ink if its squared RGB distance from the background exceeds
 * this. The darkest VGA pairs (blue or dark grey on black) are ~150 apart;
 * capture-box noise on physical cards stays well under 60. */
#define INK_DIST2 (60 * 60)

#define SCALE 3
/* White border (source pixels) around the cropped text: tesseract reads
 * text that touches the image edge badly. */
#define MARGIN 8
/* Tesseract wants a resolution; 3x a 16-pixel line at 300 dpi is about
 * 11 pt text, the size its models know best. */
#define DPI "300"

#define PAPER 255
#define INK 0

struct ocr {
	TessBaseAPI *api;
};

/* tesseract is loaded when first needed, not linked: with the ~40
 * libraries it pulls in it takes ~14 MiB of a process's memory, which
 * `hilrun decode`, `hilrun matrix` and a run's other modules never need.
 * The C API's functions this module calls, looked up once; the library
 * then stays loaded for the life of the process. */
static struct {
	void *lib;
	const char *(*Version)(void);
	TessBaseAPI *(*Create)(void);
	void (*Delete)(TessBaseAPI *);
	int (*Init2)(TessBaseAPI *, const char *, const char *, TessOcrEngineMode);
	int (*SetVariable)(TessBaseAPI *, const char *, const char *);
	void (*SetPageSegMode)(TessBaseAPI *, TessPageSegMode);
	void (*SetImage)(TessBaseAPI *, const unsigned char *, int, int, int, int);
	char *(*GetUTF8Text)(TessBaseAPI *);
	void (*Clear)(TessBaseAPI *);
	void (*End)(TessBaseAPI *);
	void (*DeleteText)(const char *);
	const char *(*GetDatapath)(TessBaseAPI *); /* optional: hilrun --version */
	void (*omp_set_num_threads)(int), (*omp_set_dynamic)(int);
} tess;

static int tess_load(struct hil_err *err)
{
	if (tess.lib)
		return 0;
	/* $HILRUN_TESSERACT_LIB: a tesseract installed elsewhere (or, in
	 * tests, none at all). */
	const char *name = ocr_library();
	void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		hil_seterr(err, "cannot load tesseract (%s): %s", name, dlerror());
		return -1;
	}
	static const struct {
		const char *name;
		size_t at;
	} fns[] = {
#define FN(field, sym) { #sym, offsetof(__typeof__(tess), field) }
		FN(Version, TessVersion),
		FN(Create, TessBaseAPICreate),
		FN(Delete, TessBaseAPIDelete),
		FN(Init2, TessBaseAPIInit2),
		FN(SetVariable, TessBaseAPISetVariable),
		FN(SetPageSegMode, TessBaseAPISetPageSegMode),
		FN(SetImage, TessBaseAPISetImage),
		FN(GetUTF8Text, TessBaseAPIGetUTF8Text),
		FN(Clear, TessBaseAPIClear),
		FN(End, TessBaseAPIEnd),
		FN(DeleteText, TessDeleteText),
#undef FN
	};
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		void *fn = dlsym(lib, fns[i].name);
		if (!fn) {
			hil_seterr(err, "%s has no %s: not a tesseract 4 or 5 C API", name,
				   fns[i].name);
			dlclose(lib);
			memset(&tess, 0, sizeof tess);
			return -1;
		}
		memcpy((char *)&tess + fns[i].at, &fn, sizeof fn);
	}
	/* libgomp, if tesseract was built with OpenMP: found among its
	 * dependencies (limit_openmp_threads()). */
	*(void **)&tess.omp_set_num_threads = dlsym(lib, "omp_set_num_threads");
	*(void **)&tess.omp_set_dynamic = dlsym(lib, "omp_set_dynamic");
	*(void **)&tess.GetDatapath = dlsym(lib, "TessBaseAPIGetDatapath");
	tess.lib = lib;
	return 0;
}

/* Debian's tesseract is built with OpenMP, and its LSTM asks for 10
 * threads per parallel loop whatever the machine has. On 2 cores that
 * made a 720x400 frame take ~950 ms instead of ~100 ms with one thread.
 * OMP_THREAD_LIMIT would fix it but libgomp reads it only at process
 * start. An explicit num_threads(10) overrides omp_set_num_threads, but
 * in "dynamic" mode libgomp caps every team at min(cores, num-threads
 * setting) minus the load average, at least 1: with the setting at 1 that
 * is always 1. (Dynamic mode alone varies the team size with the load and
 * gave multi-second outliers here.) Both settings are per thread,
 * so the rest of the process is unaffected. libgomp is loaded as
 * tesseract's dependency; looking the functions up spares us linking it
 * and does nothing if tesseract was built without OpenMP. */
static void limit_openmp_threads(void)
{
	if (tess.omp_set_num_threads && tess.omp_set_dynamic) {
		tess.omp_set_num_threads(1);
		tess.omp_set_dynamic(1);
	}
}

const char *ocr_library(void)
{
	const char *name = getenv("HILRUN_TESSERACT_LIB");
	return name && *name ? name : HIL_TESSERACT_SONAME;
}

char *ocr_data(void)
{
	struct hil_err err;
	if (tess_load(&err) < 0)
		return xstrdup("none (tesseract not loadable)");
	const char *prefix = getenv("TESSDATA_PREFIX");
	TessBaseAPI *api = tess.Create();
	tess.SetVariable(api, "debug_file", "/dev/null");
	char *s;
	if (tess.Init2(api, NULL, "eng", OEM_LSTM_ONLY) != 0) {
		s = xasprintf("no \"eng\" model in %s", prefix && *prefix ? prefix
				: "the default tessdata directory");
		tess.Delete(api);
		return s;
	}
	const char *path = tess.GetDatapath ? tess.GetDatapath(api) : NULL;
	s = xasprintf("%s (\"eng\" model loaded%s)", path ? path : "?",
		      prefix && *prefix ? ", from $TESSDATA_PREFIX" : "");
	tess.End(api);
	tess.Delete(api);
	return s;
}

const char *ocr_version(void)
{
	struct hil_err err;
	return tess_load(&err) == 0 ? tess.Version() : "not loadable";
}

struct ocr *ocr_open(struct hil_err *err)
{
	if (tess_load(err) < 0)
		return NULL;
	const char *prefix = getenv("TESSDATA_PREFIX");
	TessBaseAPI *api = tess.Create();

	/* debug_file is global in tesseract, so it holds from before Init
	 * on: "Error opening data file" and friends go nowhere; the caller
	 * gets our message instead. */
	tess.SetVariable(api, "debug_file", "/dev/null");
	/* NULL datapath: tesseract uses TESSDATA_PREFIX if set, else its
	 * built-in default (/usr/share/tesseract-ocr/5/tessdata on Debian). */
	if (tess.Init2(api, NULL, "eng", OEM_LSTM_ONLY) != 0) {
		hil_seterr(err, "tesseract: cannot load the \"eng\" model from %s",
			   prefix && *prefix ? prefix : "the default tessdata directory");
		tess.Delete(api);
		return NULL;
	}
	/* These are per-instance parameters, which Init resets: set them
	 * after it. We hand over black-on-white text, so tesseract's retry of
	 * doubtful lines as inverted text only costs time. */
	if (!tess.SetVariable(api, "user_defined_dpi", DPI) ||
	    !tess.SetVariable(api, "tessedit_do_invert", "0")) {
		hil_seterr(err, "tesseract %s: cannot set OCR parameters", tess.Version());
		tess.End(api);
		tess.Delete(api);
		return NULL;
	}
	tess.SetPageSegMode(api, PSM_SINGLE_BLOCK);

	struct ocr *o = xcalloc(1, sizeof *o);
	o->api = api;
	return o;
}

void ocr_close(struct ocr *o)
{
	if (!o)
		return;
	tess.End(o->api);
	tess.Delete(o->api);
	free(o);
}

static uint32_t rgb_at(const struct frame *f, int x, int y)
{
	const uint8_t *p = f->rgb + ((size_t)y * f->width + x) * 3;
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static int is_ink(uint32_t c, uint32_t bg)
{
	int dr = (int)(c >> 16 & 0xff) - (int)(bg >> 16 & 0xff);
	int dg = (int)(c >> 8 & 0xff) - (int)(bg >> 8 & 0xff);
	int db = (int)(c & 0xff) - (int)(bg & 0xff);
	return dr * dr + dg * dg + db * db > INK_DIST2;
}

/* The most frequent colour in a w x h cell at (x0, y0). A cell holds a
 * handful of colours (two in text mode), so a linear tally is enough. */
static uint32_t cell_background(const struct frame *f, int x0, int y0, int w, int h)
{
	uint32_t colour[16 * 16];
	int count[16 * 16], n = 0, best = 0;

	for (int y = y0; y < y0 + h; y++)
		for (int x = x0; x < x0 + w; x++) {
			uint32_t c = rgb_at(f, x, y);
			int i = 0;
			while (i < n && colour[i] != c)
				i++;
			if (i == n) {
				colour[n] = c;
				count[n++] = 0;
			}
			count[i]++;
		}
	for (int i = 1; i < n; i++)
		if (count[i] > count[best])
			best = i;
	return colour[best];
}

/* The dominant colour of the whole frame: a histogram of colours reduced
 * to 5 bits a channel (so that capture noise does not split the
 * background), then the mean of the pixels in the fullest bucket. */
static uint32_t frame_background(const struct frame *f)
{
	uint32_t *hist = xcalloc(1 << 15, sizeof *hist);
	size_t npix = (size_t)f->width * f->height;
	uint64_t sum[3] = { 0, 0, 0 };
	unsigned best = 0;

	for (size_t i = 0; i < npix; i++) {
		const uint8_t *p = f->rgb + i * 3;
		hist[(p[0] >> 3) << 10 | (p[1] >> 3) << 5 | p[2] >> 3]++;
	}
	for (unsigned b = 1; b < 1 << 15; b++)
		if (hist[b] > hist[best])
			best = b;
	for (size_t i = 0; i < npix; i++) {
		const uint8_t *p = f->rgb + i * 3;
		if (((unsigned)(p[0] >> 3) << 10 | (p[1] >> 3) << 5 | p[2] >> 3) == best)
			for (int c = 0; c < 3; c++)
				sum[c] += p[c];
	}
	uint32_t n = hist[best];
	free(hist);
	return (uint32_t)(sum[0] / n) << 16 | (uint32_t)(sum[1] / n) << 8 | (uint32_t)(sum[2] / n);
}

/* Black-on-white map of the frame, one byte a pixel; returns the number
 * of ink pixels. */
static size_t binarise(const struct frame *f, uint8_t *out)
{
	int cw = 0, ch = 16;
	size_t ink = 0;

	if (f->height == 400 && f->width == 720)
		cw = 9;
	else if (f->height == 400 && f->width == 640)
		cw = 8;

	if (cw) {
		for (int y0 = 0; y0 < f->height; y0 += ch)
			for (int x0 = 0; x0 < f->width; x0 += cw) {
				uint32_t bg = cell_background(f, x0, y0, cw, ch);
				for (int y = y0; y < y0 + ch; y++)
					for (int x = x0; x < x0 + cw; x++) {
						int on = is_ink(rgb_at(f, x, y), bg);
						out[(size_t)y * f->width + x] = on ? INK : PAPER;
						ink += on;
					}
			}
	} else {
		uint32_t bg = frame_background(f);
		for (int y = 0; y < f->height; y++)
			for (int x = 0; x < f->width; x++) {
				int on = is_ink(rgb_at(f, x, y), bg);
				out[(size_t)y * f->width + x] = on ? INK : PAPER;
				ink += on;
			}
	}
	return ink;
}

struct box {
	int x0, y0, x1, y1; /* inclusive */
};

static struct box ink_bounds(const uint8_t *map, int w, int h)
{
	struct box b = { w, h, -1, -1 };
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			if (map[(size_t)y * w + x] == INK) {
				if (x < b.x0)
					b.x0 = x;
				if (x > b.x1)
					b.x1 = x;
				if (y < b.y0)
					b.y0 = y;
				if (y > b.y1)
					b.y1 = y;
			}
	return b;
}

/* Tesseract's text, tidied: no trailing spaces on a line, no blank lines
 * at the start or end (it ends every block with an empty line). */
static char *tidy_text(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	size_t keep = 0; /* length up to the end of the last non-blank line */

	while (*s) {
		size_t len = strcspn(s, "\n");
		size_t end = len;
		while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\r'))
			end--;
		if (sb.len > 0)
			sb_add(&sb, "\n", 1);
		sb_add(&sb, s, end);
		if (end > 0)
			keep = sb.len;
		s += len;
		if (*s == '\n')
			s++;
	}
	sb.len = keep;
	if (sb.buf)
		sb.buf[keep] = '\0';
	return sb_detach(&sb);
}

char *ocr_read_cell(struct ocr *o, const struct frame *f, int x, int y, int w, int h,
		    struct hil_err *err)
{
	if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > f->width || y + h > f->height) {
		hil_seterr(err, "ocr: cell %dx%d at %d,%d is outside the %dx%d frame", w, h, x, y,
			   f->width, f->height);
		return NULL;
	}
	struct frame cell;
	frame_init(&cell);
	if (frame_alloc(&cell, w, h) < 0) {
		hil_seterr(err, "ocr: bad cell size %dx%d", w, h);
		return NULL;
	}
	for (int row = 0; row < h; row++)
		memcpy(cell.rgb + (size_t)row * w * 3, f->rgb + ((size_t)(y + row) * f->width + x) * 3,
		       (size_t)w * 3);
	tess.SetPageSegMode(o->api, PSM_SINGLE_CHAR);
	char *text = ocr_read(o, &cell, err);
	tess.SetPageSegMode(o->api, PSM_SINGLE_BLOCK);
	frame_release(&cell);
	return text;
}

char *ocr_read(struct ocr *o, const struct frame *f, struct hil_err *err)
{
	if (!f->rgb || f->width < 1 || f->height < 1 || f->width > FRAME_MAX_DIM ||
	    f->height > FRAME_MAX_DIM) {
		hil_seterr(err, "ocr: cannot read an empty or %dx%d frame", f->width, f->height);
		return NULL;
	}

	uint8_t *map = xmalloc((size_t)f->width * f->height);
	if (binarise(f, map) == 0) {
		/* A blank screen: nothing to read, and no need to spend most of
		 * a second asking tesseract. */
		free(map);
		return xstrdup("");
	}

	/* Only the part with ink goes to tesseract: its layout analysis time
	 * grows with the area, and boot screens are mostly empty. */
	struct box b = ink_bounds(map, f->width, f->height);
	int sw = b.x1 - b.x0 + 1 + 2 * MARGIN, sh = b.y1 - b.y0 + 1 + 2 * MARGIN;
	int ow = sw * SCALE, oh = sh * SCALE;
	uint8_t *img = xmalloc((size_t)ow * oh);
	for (int sy = 0; sy < sh; sy++) {
		uint8_t *row = img + (size_t)sy * SCALE * ow;
		int y = b.y0 - MARGIN + sy;
		for (int sx = 0; sx < sw; sx++) {
			int x = b.x0 - MARGIN + sx;
			uint8_t v = PAPER;
			if (x >= 0 && x < f->width && y >= 0 && y < f->height)
				v = map[(size_t)y * f->width + x];
			memset(row + (size_t)sx * SCALE, v, SCALE);
		}
		for (int k = 1; k < SCALE; k++)
			memcpy(row + (size_t)k * ow, row, ow);
	}
	free(map);

	/* Per thread: the caller may read from another thread than it opened. */
	limit_openmp_threads();
	/* SetImage copies the pixels, so img can go right away. */
	tess.SetImage(o->api, img, ow, oh, 1, ow);
	free(img);
	char *raw = tess.GetUTF8Text(o->api);
	if (!raw) {
		hil_seterr(err, "tesseract %s: recognition failed on a %dx%d frame", tess.Version(),
			   f->width, f->height);
		tess.Clear(o->api);
		return NULL;
	}
	char *text = tidy_text(raw);
	tess.DeleteText(raw);
	/* Drop the image and results now rather than at the next read. */
	tess.Clear(o->api);
	return text;
}
