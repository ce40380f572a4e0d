/* lock: see lock.h. */
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "confine.h"

int card_lock(struct card_lock *l, const char *out_dir, const char *card_id, int wait,
	      const char *cmdline, char *holder, size_t n, struct hil_err *err)
{
	l->fd = -1;
	char *dir = xasprintf("%s/locks", out_dir);
	char *path = xasprintf("%s/%s.lock", dir, card_id);
	char *rel = xasprintf("locks/%s.lock", card_id);
	int rc = -1;
	if (confine_mkdir(out_dir, "locks", err) < 0)
		goto out;
	int fd = confine_open(out_dir, rel, O_RDWR | O_CREAT, 0644, err);
	if (fd < 0) {
		char *why = xstrdup(err->msg);
		hil_seterr(err, "the card lock: %s", why);
		free(why);
		goto out;
	}
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			char buf[512] = "";
			ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
			buf[got > 0 ? got : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			snprintf(holder, n, "%s", buf[0] ? buf : "another process (it wrote nothing)");
			close(fd);
			rc = 1;
			goto out;
		}
		hil_seterr(err, "cannot lock %s: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	char when[32];
	utc_iso8601(when);
	char *who = xasprintf("hilrun pid %ld since %s (%s)\n", (long)getpid(), when, cmdline);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, who, strlen(who), 0) < 0) {
		/* The lock holds without the note; a waiter just cannot name us. */
	}
	free(who);
	l->fd = fd;
	rc = 0;
out:
	free(rel);
	free(path);
	free(dir);
	return rc;
}

void card_unlock(struct card_lock *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
