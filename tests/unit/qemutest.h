/* qemutest: start a real QEMU for a test, with its QMP monitor connected to a
 * socket the test listens on (QEMU connects to us, as in hilrun itself).
 * Header-only; used by test_qmp.c and test_plan.c.
 *
 * Ownership: struct qemutest owns the temp dir, the QEMU process and the
 * accepted QMP fd until qemutest_stop. */
#ifndef HIL_QEMUTEST_H
#define HIL_QEMUTEST_H

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "accel.h"
#include "sock.h"
#include "testutil.h"
#include "util.h"

struct qemutest {
	char dir[64];
	struct proc qemu;
	int qmp_fd;
	char *log;
};

static inline const char *qemutest_binary(void)
{
	const char *q = getenv("HILRUN_QEMU");
	return q && *q ? q : "qemu-system-x86_64";
}

/* Start QEMU paused with extra words appended to a minimal argv. */
static inline void qemutest_start(struct qemutest *t, const char *const *extra)
{
	struct hil_err err;
	strcpy(t->dir, "/tmp/hiltest-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	char *qmp = xasprintf("%s/qmp.sock", t->dir);
	int lfd = sock_listen_unix(qmp, &err);
	ck_assert_msg(lfd >= 0, "%s", err.msg);
	char reason[160];
	struct argv a = ARGV_INIT;
	argv_push(&a, qemutest_binary());
	argv_push(&a, "-nodefaults");
	argv_push(&a, "-no-user-config");
	argv_push(&a, "-machine");
	argv_pushf(&a, "pc,accel=%s", accel_probe_dev_kvm(reason, sizeof reason));
	argv_push(&a, "-m");
	argv_push(&a, "32");
	argv_push(&a, "-display");
	argv_push(&a, "none");
	argv_push(&a, "-chardev");
	argv_pushf(&a, "socket,id=qmp,path=%s", qmp);
	argv_push(&a, "-mon");
	argv_push(&a, "chardev=qmp,mode=control");
	argv_push(&a, "-S");
	for (size_t i = 0; extra && extra[i]; i++)
		argv_push(&a, extra[i]);
	t->log = xasprintf("%s/qemu.log", t->dir);
	proc_init(&t->qemu);
	ck_assert_msg(proc_spawn(&t->qemu, &a, t->log, &err) == 0, "%s", err.msg);
	t->qmp_fd = sock_accept(lfd, now_ms() + 10000, "QEMU's QMP connection", &err);
	ck_assert_msg(t->qmp_fd >= 0, "%s", err.msg);
	close(lfd);
	argv_release(&a);
	free(qmp);
}

static inline void qemutest_stop(struct qemutest *t)
{
	proc_release(&t->qemu);
	remove_tree(t->dir);
	free(t->log);
	t->log = NULL;
}

#endif
