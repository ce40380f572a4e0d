/* report: see report.h. */
#include "report.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* Copy a name token (stage, event, key) into storage; advances *p. */
static const char *take_name(const char **p, const char *end, char **out)
{
	const char *s = *p;
	while (*p < end && is_name_char(**p))
		(*p)++;
	if (*p == s)
		return NULL;
	char *dst = *out;
	memcpy(dst, s, (size_t)(*p - s));
	dst[*p - s] = '\0';
	*out += (*p - s) + 1;
	return dst;
}

int report_parse(const char *line, size_t len, struct report_msg *m, struct hil_err *err)
{
	size_t plen = strlen(REPORT_PREFIX);
	if (len && line[len - 1] == '\r')
		len--;
	if (len < plen || memcmp(line, REPORT_PREFIX, plen))
		return 0;
	if (len > REPORT_LINE_MAX) {
		hil_seterr(err, "report line longer than %d bytes", REPORT_LINE_MAX);
		return -1;
	}
	const char *p = line + plen, *end = line + len;
	memset(m, 0, offsetof(struct report_msg, storage));
	char *out = m->storage;

	int version = 0;
	const char *vstart = p;
	while (p < end && isdigit((unsigned char)*p) && p - vstart < 4)
		version = version * 10 + (*p++ - '0');
	if (p == vstart || p == end || *p != ' ') {
		hil_seterr(err, "report line: expected 'HILRUN/<version> ' at the start");
		return -1;
	}
	if (version != REPORT_VERSION) {
		hil_seterr(err, "report line: protocol version %d, this hilrun reads version %d",
			   version, REPORT_VERSION);
		return -1;
	}
	p++;
	if (!(m->stage = take_name(&p, end, &out)) || p == end || *p != ' ') {
		hil_seterr(err, "report line: expected a stage name and an event after the prefix");
		return -1;
	}
	p++;
	if (!(m->event = take_name(&p, end, &out)) || (p < end && *p != ' ')) {
		hil_seterr(err, "report line: expected an event name after stage '%s'", m->stage);
		return -1;
	}
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		if (m->npairs == REPORT_PAIRS_MAX) {
			hil_seterr(err, "report line: more than %d key=value pairs", REPORT_PAIRS_MAX);
			return -1;
		}
		const char *key = take_name(&p, end, &out);
		if (!key || p == end || *p != '=') {
			hil_seterr(err, "report line: expected key=value at column %zu",
				   (size_t)(p - line) + 1);
			return -1;
		}
		p++;
		char *val = out;
		if (p < end && *p == '"') {
			p++;
			for (;;) {
				if (p == end) {
					hil_seterr(err, "report line: unterminated quoted value for '%s'", key);
					return -1;
				}
				char c = *p++;
				if (c == '"')
					break;
				if (c == '\\') {
					if (p == end || (*p != '"' && *p != '\\')) {
						hil_seterr(err, "report line: bad escape in value of '%s' (only \\\" and \\\\)", key);
						return -1;
					}
					c = *p++;
				}
				if (c < 0x20 || c > 0x7e) {
					hil_seterr(err, "report line: non-printable byte in value of '%s'", key);
					return -1;
				}
				*out++ = c;
			}
			if (p < end && *p != ' ') {
				hil_seterr(err, "report line: expected a space after the quoted value of '%s'", key);
				return -1;
			}
		} else {
			while (p < end && *p != ' ') {
				if (*p == '"' || *p < 0x20 || *p > 0x7e) {
					hil_seterr(err, "report line: bad character in value of '%s'", key);
					return -1;
				}
				*out++ = *p++;
			}
		}
		*out++ = '\0';
		m->key[m->npairs] = key;
		m->val[m->npairs] = val;
		m->npairs++;
	}
	return 1;
}

const char *report_get(const struct report_msg *m, const char *key)
{
	for (size_t i = 0; i < m->npairs; i++)
		if (!strcmp(m->key[i], key))
			return m->val[i];
	return NULL;
}

void serial_lines_init(struct serial_lines *s, size_t max)
{
	s->buf = xmalloc(max + 1);
	s->len = 0;
	s->max = max;
	s->discarding = 0;
}

void serial_lines_release(struct serial_lines *s)
{
	free(s->buf);
	s->buf = NULL;
	s->len = 0;
}

void serial_lines_feed(struct serial_lines *s, const char *data, size_t n,
		       void (*fn)(void *ctx, const char *line, size_t len, int overlong),
		       void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		char c = data[i];
		if (c == '\n') {
			if (!s->discarding)
				fn(ctx, s->buf, s->len, 0);
			s->len = 0;
			s->discarding = 0;
			continue;
		}
		if (s->discarding)
			continue;
		if (s->len == s->max) {
			/* Report what we have as overlong, then drop to the newline. */
			fn(ctx, s->buf, s->len, 1);
			s->len = 0;
			s->discarding = 1;
			continue;
		}
		s->buf[s->len++] = c;
	}
}
