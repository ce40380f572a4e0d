/* analog: what a VGA (analog) output does to a text-mode frame before a
 * capture box's scaler sees it. Deterministic: the strengths are drawn
 * from SEED.
 *
 *   analog [--smear] [--ring] [--phase] [--black] [--seed N] IN.png OUT.png
 *
 * IN is a native frame (720x400 or 640x400); OUT is the same size: the
 * line as the box's ADC sampled it, one sample per source pixel, as a VGA
 * capture does at the mode's pixel clock. Scaling and JPEG are left to the
 * caller (ImageMagick, as for the digital variants of ci/bench/decode).
 * Each row is made a continuous signal (16 steps per pixel) and:
 *   --smear  low-passed by one RC pole, time constant 0.45-0.7 source
 *            pixels (1.2-1.9 output pixels at 1920x1080): limited bandwidth;
 *   --ring   given, at each edge, a damped overshoot of 10-20 % of the
 *            step, peaking 0.5-0.75 source pixels (1.3-2 output pixels) to
 *            its right, then an undershoot a third of that: ringing or a
 *            ghost of the cable;
 *   --phase  sampled over one pixel's width starting 0.3-0.5 of a pixel
 *            late: each sample is (1 - p) of its column and p of the next;
 *   --black  raised by a black level drifting from 0-4 levels at the top
 *            to 10-15 at the bottom (each channel, clipped at 255);
 *   --noise SIGMA --take N
 *            given the ADC's noise: Gaussian, SIGMA levels, drawn afresh
 *            for each take N of the same chain (ci/bench/decode's streams:
 *            the same screen captured frame after frame).
 * With no effect OUT is IN. Prints the strengths drawn, one line.
 *
 * Ownership: main's locals only. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

#define K 16 /* steps of the continuous signal per source pixel */

static uint64_t rng;

/* A uniform draw in [lo, hi) (splitmix64). */
static double draw(double lo, double hi)
{
	uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return lo + (hi - lo) * (double)(z >> 11) / 9007199254740992.0;
}

/* A normal draw (Box-Muller). */
static double gauss(void)
{
	const double u = draw(1e-12, 1), v = draw(0, 1);
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

int main(int argc, char **argv)
{
	int smear = 0, ring = 0, phase = 0, black = 0;
	unsigned long seed = 1, take = 0;
	double noise = 0;
	const char *in = NULL, *out = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smear"))
			smear = 1;
		else if (!strcmp(argv[i], "--ring"))
			ring = 1;
		else if (!strcmp(argv[i], "--phase"))
			phase = 1;
		else if (!strcmp(argv[i], "--black"))
			black = 1;
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--noise") && i + 1 < argc)
			noise = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--take") && i + 1 < argc)
			take = strtoul(argv[++i], NULL, 0);
		else if (!in)
			in = argv[i];
		else if (!out)
			out = argv[i];
		else
			in = NULL, i = argc;
	}
	if (!in || !out) {
		fprintf(stderr, "usage: analog [--smear] [--ring] [--phase] [--black] [--seed N] "
				"[--noise SIGMA --take N] IN.png OUT.png\n");
		return 2;
	}
	/* Every strength is drawn whichever effects are on, so that one seed
	 * gives the same strengths to each effect alone and to all together. */
	rng = seed;
	const double tau = draw(0.45, 0.7), amp = draw(0.10, 0.20), period = draw(2.0, 3.0),
		     late = draw(0.3, 0.5), top = draw(0.0, 4.0), bottom = draw(10.0, 15.0);
	printf("smear %.3f px, ring %.0f%% period %.2f px, phase %.2f px, black %.1f..%.1f%s%s%s%s",
	       tau, amp * 100, period, late, top, bottom, smear ? " [smear]" : "",
	       ring ? " [ring]" : "", phase ? " [phase]" : "", black ? " [black]" : "");
	if (noise > 0)
		printf(", noise %.1f take %lu", noise, take);
	printf("\n");
	rng = seed ^ (take + 1) * 0xD1B54A32D192ED03ull; /* the noise: its own draws */

	struct hil_err err;
	struct frame f;
	frame_init(&f);
	if (frame_read(&f, in, &err) < 0) {
		fprintf(stderr, "analog: %s\n", err.msg);
		return 1;
	}
	const int w = f.width, n = w * K, span = 6 * K; /* ringing is spent after 6 pixels */
	/* The overshoot after a unit step, t steps right of it: a damped
	 * sine, normalised to peak at amp. */
	double *h = calloc(span, sizeof *h), peak = 0;
	for (int t = 0; t < span; t++) {
		double u = (t + 0.5) / K;
		h[t] = exp(-u / (period / 2)) * sin(2 * M_PI * u / period);
		peak = h[t] > peak ? h[t] : peak;
	}
	for (int t = 0; t < span; t++)
		h[t] *= amp / peak;
	double *u = malloc(sizeof(double) * (n + K)), *v = malloc(sizeof(double) * (n + K));
	const double a = 1 - exp(-1.0 / (tau * K));
	for (int y = 0; y < f.height; y++) {
		const double lift = black ? top + (bottom - top) * y / (f.height - 1) : 0;
		for (int ch = 0; ch < 3; ch++) {
			uint8_t *row = f.rgb + (size_t)y * w * 3 + ch;
			for (int i = 0; i < n + K; i++) /* the line's end holds its last pixel */
				u[i] = row[(i / K < w ? i / K : w - 1) * 3];
			if (smear)
				for (int i = 1; i < n + K; i++)
					u[i] = u[i - 1] + a * (u[i] - u[i - 1]);
			memcpy(v, u, sizeof(double) * (n + K));
			if (ring)
				for (int i = 1; i < n + K; i++) {
					double step = u[i] - u[i - 1];
					if (fabs(step) < 0.01) /* a smeared edge's tail */
						continue;
					for (int t = 0; t < span && i + t < n + K; t++)
						v[i + t] += step * h[t];
				}
			const int off = phase ? (int)lround(late * K) : 0;
			for (int x = 0; x < w; x++) {
				double s = 0;
				for (int i = 0; i < K; i++)
					s += v[x * K + off + i];
				s = s / K + lift + (noise > 0 ? noise * gauss() : 0);
				row[x * 3] = (uint8_t)(s < 0 ? 0 : s > 255 ? 255 : lround(s));
			}
		}
	}
	int rc = 0;
	if (frame_write_png(&f, out, &err) < 0) {
		fprintf(stderr, "analog: %s\n", err.msg);
		rc = 1;
	}
	free(h);
	free(u);
	free(v);
	frame_release(&f);
	return rc;
}
