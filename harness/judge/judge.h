/* judge: the rules that turn evidence into stage outcomes.
 *
 * While the screen is read by tesseract (which misreads fixed-font text:
 * "VGA" as "UGA", case slips, dropped characters), a line counts as shown when
 * it appears on the screen with a similarity of at least the stage's
 * threshold: 1 - (edit distance of the best-matching stretch of a screen line)
 * / (length of the expected line), compared case-insensitively with runs of
 * spaces collapsed. The exact decoder of a later issue replaces this with
 * exact, row-accurate matching.
 *
 * Ownership: pure functions; nothing is kept. */
#ifndef HIL_JUDGE_H
#define HIL_JUDGE_H

#include <stddef.h>

#define JUDGE_POST_THRESHOLD 0.80
#define JUDGE_TEXT_THRESHOLD 0.85
/* What SeaBIOS prints first on the screen: "SeaBIOS (version 1.16.2-...)". */
#define JUDGE_SEABIOS_BANNER "SeaBIOS (version"

struct text_match {
	double score;  /* 0..1 */
	int line;      /* 0-based line of the screen text with the best score, -1 if none */
};

/* Best similarity of needle to any stretch of one line (0..1). */
double judge_similarity(const char *line, size_t line_len, const char *needle);
/* Search every line of screen_text; returns 1 if the best score reaches threshold. */
int judge_find(const char *screen_text, const char *needle, double threshold,
	       struct text_match *m);

#endif
