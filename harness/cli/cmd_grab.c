/* cmd_grab: hilrun grab ENDPOINT [-o FILE.png] [--json] [--timeout S]:
 * take one whole frame from a capture endpoint, as a run would watch it,
 * and say what it is (size, how it came, how long it took). For setting up
 * a station: is the device reachable, is the card's output on it, at what
 * size.
 *
 * A VNC endpoint other than unix:PATH is asked for the encodings of a
 * capture device (Tight JPEG first), as a run's --capture is; unix:PATH is
 * QEMU's own display, asked for lossless encodings. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "feed.h"
#include "image.h"

/* Write the frame under a temporary name and rename it: a grab cut short
 * never leaves half a PNG under the name asked for. */
static int save_png(const struct frame *f, const char *path, struct hil_err *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int rc = frame_write_png(f, tmp, err);
	if (rc == 0 && rename(tmp, path) < 0) {
		hil_seterr(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		remove(tmp);
	free(tmp);
	return rc;
}

int cmd_grab(int argc, char **argv, struct settings *s)
{
	(void)s;
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	int json = 0;
	double timeout_s = 10;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 't':
			timeout_s = strtod(optarg, &end);
			if (*end || timeout_s <= 0 || timeout_s > 3600) {
				say_error("grab: --timeout takes seconds, e.g. 10 (got '%s')", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		say_error("usage: hilrun grab ENDPOINT [-o FILE.png] [--json] [--timeout S]");
		return EXIT_USAGE;
	}
	const char *endpoint = argv[optind];
	char *shown = feed_endpoint_shown(endpoint);
	enum feed_source source = strncmp(endpoint, "unix:", 5) ? FEED_CAPTURE_DEVICE : FEED_QEMU;
	struct hil_err err;
	int64_t start = now_ms(), deadline = start + (int64_t)(timeout_s * 1000);
	struct feed *feed = feed_open(endpoint, source, deadline, &err);
	if (!feed) {
		say_error("grab: %s", err.msg);
		free(shown);
		return EXIT_LAB;
	}
	int64_t connected = now_ms();
	struct frame f;
	frame_init(&f);
	int rc = EXIT_OK;
	if (feed_grab(feed, &f, deadline, &err) < 0) {
		say_error("grab: %s", err.msg);
		rc = EXIT_LAB;
		goto out;
	}
	int64_t grabbed = now_ms();
	if (out && save_png(&f, out, &err) < 0) {
		say_error("grab: %s", err.msg);
		rc = EXIT_LAB;
		goto out;
	}
	const char *how = feed_describe(feed);
	if (json) {
		json_t *j = json_pack("{s:s, s:i, s:i, s:s, s:I, s:I}", "endpoint", shown, "width",
				      f.width, "height", f.height, "encoding", how, "connect_ms",
				      (json_int_t)(connected - start), "frame_ms",
				      (json_int_t)(grabbed - connected));
		json_object_set_new(j, "file", out ? json_string(out) : json_null());
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		printf("endpoint  %s\nsize      %dx%d\nencoding  %s\nconnect   %lld ms\nframe     %lld ms\n",
		       shown, f.width, f.height, how, (long long)(connected - start),
		       (long long)(grabbed - connected));
		if (out)
			printf("saved     %s\n", out);
	}
out:
	frame_release(&f);
	feed_close(feed);
	free(shown);
	return rc;
}
