/* confine: see confine.h. */
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* "a" is "root" or beneath it. */
static int beneath(const char *root, const char *a)
{
	const size_t n = strlen(root);
	if (n == 1 && root[0] == '/')
		return 1;
	return !strncmp(a, root, n) && (a[n] == '/' || a[n] == '\0');
}

/* The fallback (confine.h): root/rel resolved first. A missing last
 * component (a file to create) is resolved through its parent and must
 * not be a dangling link; anything else missing is reported as missing. */
int confine_open_resolved(const char *root, const char *rel, int flags, mode_t mode,
			  struct hil_err *err)
{
	char rroot[PATH_MAX], target[PATH_MAX];
	char *path = xasprintf("%s/%s", root, rel);
	int fd = -1, e = EXDEV; /* errno on return: EXDEV for a path that leads out */
	if (!realpath(root, rroot)) {
		e = errno;
		hil_seterr(err, "cannot open %s: %s", root, strerror(errno));
		goto out;
	}
	if (!realpath(path, target)) {
		e = errno;
		struct stat st;
		char *slash = strrchr(path, '/'), dir[PATH_MAX];
		const int dangling = e == ENOENT && lstat(path, &st) == 0;
		if (e != ENOENT || !(flags & O_CREAT) || dangling) {
			if (dangling) { /* a link to nothing: it may lead out */
				e = EXDEV;
				hil_seterr(err, "%s: a symbolic link to nothing: not followed", path);
			} else {
				hil_seterr(err, "cannot open %s: %s", path, strerror(e));
			}
			goto out;
		}
		*slash = '\0';
		if (!realpath(path, dir)) {
			e = errno;
			hil_seterr(err, "cannot open %s: %s", path, strerror(e));
			goto out;
		}
		if (snprintf(target, sizeof target, "%s/%s", dir, slash + 1) >= (int)sizeof target) {
			e = ENAMETOOLONG;
			hil_seterr(err, "%s/%s: path too long", dir, slash + 1);
			goto out;
		}
		*slash = '/';
	}
	if (!beneath(rroot, target)) {
		e = EXDEV;
		hil_seterr(err, "%s leads out of %s (to %s): not followed", path, root, target);
		goto out;
	}
	fd = open(target, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	e = fd < 0 ? errno : 0;
	if (fd < 0)
		hil_seterr(err, "cannot open %s: %s", path, strerror(e));
out:
	free(path);
	errno = e;
	return fd;
}

int confine_open(const char *root, const char *rel, int flags, mode_t mode, struct hil_err *err)
{
	if (rel[0] == '/') {
		hil_seterr(err, "%s: not a path inside %s", rel, root);
		errno = EXDEV;
		return -1;
	}
	int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		const int e = errno;
		hil_seterr(err, "cannot open %s: %s", root, strerror(e));
		errno = e;
		return -1;
	}
	struct open_how how = { .flags = (unsigned long long)(flags | O_CLOEXEC),
				.mode = flags & (O_CREAT | O_TMPFILE) ? mode : 0,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	int fd;
	do
		fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof how);
	while (fd < 0 && errno == EAGAIN); /* a rename raced the check: try again */
	const int e = errno;
	close(dfd);
	if (fd >= 0)
		return fd;
	if (e == ENOSYS || e == EPERM) /* no openat2 here, or a seccomp filter refused it */
		return confine_open_resolved(root, rel, flags, mode, err);
	if (e == EXDEV)
		hil_seterr(err, "%s/%s leads out of %s: not followed (a symbolic link out, or an absolute one)",
			   root, rel, root);
	else if (e == ELOOP)
		hil_seterr(err, "%s/%s: too many symbolic links, or a /proc link: not followed", root,
			   rel);
	else
		hil_seterr(err, "cannot open %s/%s: %s", root, rel, strerror(e));
	errno = e;
	return -1;
}

char *confine_read(const char *root, const char *rel, size_t max, size_t *len,
		   struct hil_err *err)
{
	int fd = confine_open(root, rel, O_RDONLY, 0, err);
	if (fd < 0)
		return NULL;
	char *path = xasprintf("%s/%s", root, rel);
	char *data = read_fd(fd, path, max, len, err);
	free(path);
	close(fd);
	return data;
}

int confine_mkdir(const char *root, const char *rel, struct hil_err *err)
{
	if (mkdir_p(root, err) < 0)
		return -1;
	char *p = xstrdup(rel);
	int rc = 0;
	for (char *s = p;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		const char end = *s;
		*s = '\0';
		int fd = confine_open(root, p, O_PATH | O_DIRECTORY, 0, err);
		if (fd < 0 && errno == ENOENT) {
			char *full = xasprintf("%s/%s", root, p);
			if (mkdir(full, 0755) < 0 && errno != EEXIST) {
				hil_seterr(err, "cannot create %s: %s", full, strerror(errno));
				free(full);
				rc = -1;
				break;
			}
			free(full);
			fd = confine_open(root, p, O_PATH | O_DIRECTORY, 0, err);
		}
		if (fd < 0) {
			rc = -1;
			break;
		}
		close(fd);
		if (!end)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}
