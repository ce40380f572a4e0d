/* proc: see proc.h. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void proc_init(struct proc *p)
{
	p->pid = 0;
	p->pidfd = -1;
	p->exited = 0;
	p->status = 0;
}

static int pidfd_open_compat(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

int proc_spawn(struct proc *p, const struct argv *argv, const char *log_path,
	       struct hil_err *err)
{
	int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0) {
		hil_seterr(err, "cannot create %s: %s", log_path, strerror(errno));
		return -1;
	}
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int errpipe[2];
	if (nullfd < 0 || pipe2(errpipe, O_CLOEXEC) < 0) {
		hil_seterr(err, "cannot set up child process: %s", strerror(errno));
		close(logfd);
		if (nullfd >= 0)
			close(nullfd);
		return -1;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		hil_seterr(err, "fork: %s", strerror(errno));
		close(logfd);
		close(nullfd);
		close(errpipe[0]);
		close(errpipe[1]);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127); /* hilrun died before we set the death signal */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(nullfd, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		execvp(argv->v[0], argv->v);
		int e = errno;
		ssize_t unused = write(errpipe[1], &e, sizeof e);
		(void)unused;
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	close(errpipe[1]);
	int child_errno = 0;
	ssize_t n;
	do
		n = read(errpipe[0], &child_errno, sizeof child_errno);
	while (n < 0 && errno == EINTR);
	close(errpipe[0]);
	p->pid = pid;
	p->exited = 0;
	if (n == (ssize_t)sizeof child_errno) {
		waitpid(pid, &p->status, 0);
		p->exited = 1;
		hil_seterr(err, "cannot run %s: %s", argv->v[0], strerror(child_errno));
		return -1;
	}
	p->pidfd = pidfd_open_compat(pid);
	return 0;
}

int proc_poll(struct proc *p)
{
	if (!p->pid || p->exited)
		return 1;
	pid_t r = waitpid(p->pid, &p->status, WNOHANG);
	if (r == p->pid) {
		p->exited = 1;
		return 1;
	}
	return 0;
}

int proc_wait(struct proc *p, int64_t deadline)
{
	while (!proc_poll(p)) {
		int left = ms_left(deadline);
		if (left == 0)
			return 0;
		if (p->pidfd >= 0) {
			struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
			poll(&pfd, 1, left);
		} else {
			usleep(left < 20 ? (useconds_t)left * 1000 : 20000);
		}
	}
	return 1;
}

int proc_stop(struct proc *p, int grace_ms)
{
	if (proc_poll(p))
		return 1;
	kill(p->pid, SIGTERM);
	if (proc_wait(p, now_ms() + grace_ms))
		return 1;
	kill(p->pid, SIGKILL);
	proc_wait(p, now_ms() + 10000);
	return 0;
}

void proc_describe(const struct proc *p, char *out, size_t n)
{
	if (!p->exited)
		snprintf(out, n, "still running");
	else if (WIFEXITED(p->status))
		snprintf(out, n, "exited with status %d", WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		snprintf(out, n, "killed by signal %d (%s)%s", WTERMSIG(p->status),
			 strsignal(WTERMSIG(p->status)), WCOREDUMP(p->status) ? ", core dumped" : "");
	else
		snprintf(out, n, "ended with wait status 0x%x", p->status);
}

void proc_release(struct proc *p)
{
	if (p->pid && !p->exited)
		proc_stop(p, 2000);
	if (p->pidfd >= 0)
		close(p->pidfd);
	proc_init(p);
}
