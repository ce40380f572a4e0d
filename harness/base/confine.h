/* confine: opening a file of a store (a results directory, OUT, or the
 * results server's store) without ever leaving it.
 *
 * Others can write into a store: a contributor's upload lands in the
 * server's, a lab's CI shares OUT between jobs. A symbolic link placed
 * there must not make hilrun read, serve or write a file elsewhere (the
 * server handing out /etc/shadow as a run's artifact; the journal appended
 * to a file of the user's). So every path inside a store is opened
 * beneath its root: links that stay inside work (the server's matrix/
 * link to its newest build), a link that leads out, an absolute link, or
 * a ".." out of the root is refused with an error naming the path.
 *
 * Through openat2(RESOLVE_BENEATH), which the kernel checks as it
 * resolves (no race); where that is missing (a kernel before 5.6, a
 * seccomp filter, valgrind 3.19, which says "unhandled syscall 437"), by
 * resolving the path first (realpath) and opening what it resolved to
 * without following a last link (a race with a writer of the store
 * remains there: stores are not world-writable).
 *
 * Ownership: returns file descriptors and buffers the caller owns. */
#ifndef HIL_CONFINE_H
#define HIL_CONFINE_H

#include <stddef.h>
#include <sys/types.h>

#include "util.h"

/* open(root/rel, flags, mode), never resolving outside root; -1 and err
 * (naming root/rel) if it would, or if open fails. rel is relative. */
int confine_open(const char *root, const char *rel, int flags, mode_t mode, struct hil_err *err);

/* confine_open() as it is where openat2 is missing (realpath first):
 * tests run both. */
int confine_open_resolved(const char *root, const char *rel, int flags, mode_t mode,
			  struct hil_err *err);

/* The whole of root/rel (at most max bytes, NUL-terminated; its length in
 * *len if len), opened with confine_open(); NULL and err if not. */
char *confine_read(const char *root, const char *rel, size_t max, size_t *len,
		   struct hil_err *err);

/* Directory root/rel made if missing (its parents and root too, mode
 * 0755), and beneath root: 0, or -1 and err. */
int confine_mkdir(const char *root, const char *rel, struct hil_err *err);

#endif
