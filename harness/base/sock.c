/* sock: see sock.h. */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sock_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int sock_listen_unix(const char *path, struct hil_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path) {
		hil_seterr(err, "socket path too long (max %zu bytes): %s", sizeof sa.sun_path - 1, path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		hil_seterr(err, "socket: %s", strerror(errno));
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1) < 0) {
		hil_seterr(err, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int sock_accept(int listen_fd, int64_t deadline, const char *what, struct hil_err *err)
{
	for (;;) {
		struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
		int n = poll(&pfd, 1, ms_left(deadline));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			hil_seterr(err, "waiting for %s: %s", what, strerror(errno));
			return -1;
		}
		if (n == 0) {
			hil_seterr(err, "%s did not connect in time", what);
			return -1;
		}
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0)
			return fd;
		if (errno != EINTR && errno != EAGAIN) {
			hil_seterr(err, "accepting %s: %s", what, strerror(errno));
			return -1;
		}
	}
}

int sock_write_all(int fd, const void *buf, size_t len, int64_t deadline, struct hil_err *err)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int left = ms_left(deadline);
			if (left == 0 || poll(&pfd, 1, left) == 0) {
				hil_seterr(err, "write timed out");
				return -1;
			}
			continue;
		}
		hil_seterr(err, "write: %s", n < 0 ? strerror(errno) : "connection closed");
		return -1;
	}
	return 0;
}
