/* proc: start a child from an argv and end it cleanly.
 *
 * The child runs in its own process group (a ^C on the terminal reaches
 * hilrun, which decides how QEMU ends), dies with hilrun (PR_SET_PDEATHSIG),
 * has stdin on /dev/null and stdout+stderr in a log file. An exec failure
 * is reported through a CLOEXEC pipe, so "QEMU binary missing" is an error
 * at spawn time, not a mysterious exit status later.
 *
 * Ownership: struct proc owns its pidfd; proc_release closes it and, if the
 * child still runs, kills and reaps it. */
#ifndef HIL_PROC_H
#define HIL_PROC_H

#include <stdint.h>
#include <sys/types.h>
#include "util.h"

struct proc {
	pid_t pid;    /* 0 when no child */
	int pidfd;    /* readable (POLLIN) when the child has exited; -1 if none */
	int exited;   /* set once reaped */
	int status;   /* wait status once reaped */
};

void proc_init(struct proc *p);
/* log_path: file that receives the child's stdout and stderr (created). */
int proc_spawn(struct proc *p, const struct argv *argv, const char *log_path,
	       struct hil_err *err);
/* Reap if it has exited: 1 reaped (now or before), 0 still running. */
int proc_poll(struct proc *p);
/* Wait for exit until deadline: 1 reaped, 0 timeout. */
int proc_wait(struct proc *p, int64_t deadline);
/* SIGTERM, wait up to grace_ms, then SIGKILL; always reaps. Returns 1 if
 * the child ended on SIGTERM (or was already gone), 0 if it needed SIGKILL. */
int proc_stop(struct proc *p, int grace_ms);
/* "exited with status 33", "killed by signal 9 (Killed)". */
void proc_describe(const struct proc *p, char *out, size_t n);
void proc_release(struct proc *p);

#endif
