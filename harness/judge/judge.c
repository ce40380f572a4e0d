/* judge: see judge.h. */
#include "judge.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Lowercase, collapse runs of spaces, trim. Returns a new string. */
static char *normalise(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t j = 0;
	int space = 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isspace(c)) {
			if (!space)
				out[j++] = ' ';
			space = 1;
			continue;
		}
		out[j++] = (char)tolower(c);
		space = 0;
	}
	while (j && out[j - 1] == ' ')
		j--;
	out[j] = '\0';
	return out;
}

/* Sellers' algorithm: the least edit distance between needle and any
 * substring of text (a match may start and end anywhere in text). */
static size_t substring_distance(const char *text, const char *needle)
{
	size_t m = strlen(needle), n = strlen(text);
	size_t *prev = xmalloc((m + 1) * sizeof *prev), *cur = xmalloc((m + 1) * sizeof *cur);
	for (size_t i = 0; i <= m; i++)
		prev[i] = i;
	size_t best = prev[m];
	for (size_t j = 1; j <= n; j++) {
		cur[0] = 0;
		for (size_t i = 1; i <= m; i++) {
			size_t sub = prev[i - 1] + (needle[i - 1] != text[j - 1]);
			size_t del = prev[i] + 1, ins = cur[i - 1] + 1;
			cur[i] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		if (cur[m] < best)
			best = cur[m];
		size_t *t = prev;
		prev = cur;
		cur = t;
	}
	free(prev);
	free(cur);
	return best;
}

double judge_similarity(const char *line, size_t line_len, const char *needle)
{
	char *l = normalise(line, line_len), *nd = normalise(needle, strlen(needle));
	size_t m = strlen(nd);
	double score = 1.0;
	if (m) {
		size_t d = substring_distance(l, nd);
		score = d >= m ? 0.0 : 1.0 - (double)d / (double)m;
	}
	free(l);
	free(nd);
	return score;
}

int judge_find(const char *screen_text, const char *needle, double threshold,
	       struct text_match *m)
{
	m->score = 0;
	m->line = -1;
	const char *p = screen_text;
	for (int no = 0; p && *p; no++) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		double s = judge_similarity(p, len, needle);
		if (s > m->score) {
			m->score = s;
			m->line = no;
		}
		p = eol ? eol + 1 : NULL;
	}
	return m->score >= threshold;
}
