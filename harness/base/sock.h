/* sock: the unix sockets hilrun listens on before QEMU starts (QMP, serial),
 * so that QEMU connects to us and nothing has to sleep and retry.
 *
 * Ownership: every function returns a file descriptor that the caller owns
 * (close it); sock_listen_unix does not remove the path on close. */
#ifndef HIL_SOCK_H
#define HIL_SOCK_H

#include <stdint.h>
#include "util.h"

/* Bind and listen on path (removing a stale socket there first). */
int sock_listen_unix(const char *path, struct hil_err *err);
/* Accept one connection before deadline; the result is non-blocking.
 * -1 on timeout or error (err says which). */
int sock_accept(int listen_fd, int64_t deadline, const char *what, struct hil_err *err);
int sock_set_nonblock(int fd);
/* Write all of buf, waiting (poll) until deadline. */
int sock_write_all(int fd, const void *buf, size_t len, int64_t deadline, struct hil_err *err);

#endif
