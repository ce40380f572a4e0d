/* feed: see feed.h. A thin dispatch: each call goes to the vnc or the
 * snapshot the feed was opened on. */
#include "feed.h"

#include <stdio.h>
#include <stdlib.h>

#include "snapshot.h"
#include "vnc.h"

struct feed {
	struct vnc *vnc;           /* one of these two */
	struct snapshot *snapshot;
	char described[128];
};

struct feed *feed_open(const char *endpoint, enum feed_source source, int64_t deadline,
		       struct hil_err *err)
{
	struct feed *f = xcalloc(1, sizeof *f);
	if (snapshot_is_url(endpoint))
		f->snapshot = snapshot_open(endpoint, deadline, err);
	else
		f->vnc = vnc_open_as(endpoint, source == FEED_QEMU ? VNC_QEMU : VNC_CAPTURE_DEVICE,
				     deadline, err);
	if (!f->vnc && !f->snapshot) {
		free(f);
		return NULL;
	}
	return f;
}

int feed_fd(const struct feed *f)
{
	return f->vnc ? vnc_fd(f->vnc) : snapshot_fd(f->snapshot);
}

int feed_has_buffered(const struct feed *f)
{
	return f->vnc && vnc_has_buffered(f->vnc);
}

int feed_request_full(struct feed *f, struct hil_err *err)
{
	return f->vnc ? vnc_request_full(f->vnc, err) : snapshot_request_full(f->snapshot, err);
}

int feed_pump(struct feed *f, struct hil_err *err)
{
	return f->vnc ? vnc_pump(f->vnc, err) : snapshot_pump(f->snapshot, err);
}

int feed_take_frame(struct feed *f, struct frame *out)
{
	return f->vnc ? vnc_take_frame(f->vnc, out) : snapshot_take_frame(f->snapshot, out);
}

int feed_grab(struct feed *f, struct frame *out, int64_t deadline, struct hil_err *err)
{
	return f->vnc ? vnc_grab(f->vnc, out, deadline, err)
		      : snapshot_grab(f->snapshot, out, deadline, err);
}

void feed_size(const struct feed *f, int *width, int *height)
{
	if (f->vnc)
		vnc_size(f->vnc, width, height);
	else
		snapshot_size(f->snapshot, width, height);
}

const char *feed_describe(struct feed *f)
{
	if (f->vnc)
		snprintf(f->described, sizeof f->described, "VNC, %s", vnc_describe(f->vnc));
	else
		snprintf(f->described, sizeof f->described, "HTTP snapshot, %s",
			 snapshot_describe(f->snapshot));
	return f->described;
}

void feed_close(struct feed *f)
{
	if (!f)
		return;
	vnc_close(f->vnc);
	snapshot_close(f->snapshot);
	free(f);
}

char *feed_endpoint_shown(const char *endpoint)
{
	return snapshot_redact(endpoint);
}
