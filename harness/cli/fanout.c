/* fanout: see fanout.h. */
#include "fanout.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"
#include "watchdog.h"

struct worker {
	pid_t pid;                 /* 0: not started, or reaped */
	int started;
	int64_t t0;                /* when it started */
	int err_fd, ctl_fd;        /* -1 at end of file */
	struct strbuf err, ctl;    /* each pipe's line in progress */
	char *live;                /* its running cell's live line */
	int summarised;            /* sent a summary entry */
};

struct fanout {
	const struct fanout_opts *o;
	struct fanout_result *res;
	struct worker *w;
	int shown; /* live lines on the terminal, under the cursor's line */
};

static int term_width(void)
{
	struct winsize ws;
	return ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col : 80;
}

static void live_clear(struct fanout *f)
{
	if (f->shown)
		fprintf(stderr, "\033[%dA\r\033[J", f->shown);
	f->shown = 0;
}

/* One line per running cell, cut to the terminal's width (a line that
 * wrapped would throw the count live_clear moves up by). */
static void live_draw(struct fanout *f)
{
	if (!f->o->tty)
		return;
	const size_t max = (size_t)term_width() - 1;
	for (size_t i = 0; i < f->o->workers; i++) {
		const char *l = f->w[i].live;
		if (!f->w[i].pid || !l)
			continue;
		size_t n = strlen(l);
		if (n > max)
			for (n = max; n && ((unsigned char)l[n] & 0xC0) == 0x80; n--)
				; /* not inside a UTF-8 character */
		fprintf(stderr, "%.*s\n", (int)n, l);
		f->shown++;
	}
	fflush(stderr);
}

static void say_line(struct fanout *f, const char *line)
{
	live_clear(f);
	fprintf(stderr, "%s\n", line);
	live_draw(f);
}

static void summarise(struct fanout *f, size_t i, char *text)
{
	json_array_append_new(f->res->summary, json_string(utf8_repair(text)));
	f->w[i].summarised = 1;
}

static void err_line(struct fanout *f, size_t i, char *line)
{
	(void)i;
	say_line(f, line);
}

static void control_line(struct fanout *f, size_t i, char *line)
{
	struct worker *w = &f->w[i];
	char *text = line[0] && line[1] == ' ' ? line + 2 : NULL;
	json_error_t jerr;
	json_t *rec;
	switch (text ? line[0] : 0) {
	case 'L':
		free(w->live);
		w->live = xstrdup(text);
		if (f->o->tty) {
			live_clear(f);
			live_draw(f);
		}
		break;
	case 'S':
		summarise(f, i, text);
		break;
	case 'R':
		if ((rec = json_loads(text, 0, &jerr)))
			json_array_append_new(f->res->records, rec);
		else
			say_line(f, "hilrun: a worker's run record is not JSON: left out of --json");
		break;
	default: {
		char *msg = xasprintf("hilrun: the worker running card %s sent a garbled control line",
				      f->o->name(f->o->ctx, i));
		say_line(f, msg);
		free(msg);
	}
	}
}

/* Read what *fd has and hand each whole line on; at end of file the last
 * line (even without its newline), and *fd closed and -1. */
static void drain(struct fanout *f, size_t i, int *fd, struct strbuf *buf,
		  void (*on_line)(struct fanout *, size_t, char *))
{
	char chunk[4096];
	ssize_t n = read(*fd, chunk, sizeof chunk);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		sb_add(buf, chunk, (size_t)n);
		char *start = buf->buf, *nl;
		while ((nl = memchr(start, '\n', buf->len - (size_t)(start - buf->buf)))) {
			*nl = '\0';
			on_line(f, i, start);
			start = nl + 1;
		}
		size_t rest = buf->len - (size_t)(start - buf->buf);
		memmove(buf->buf, start, rest);
		buf->len = rest;
		buf->buf[rest] = '\0';
		return;
	}
	if (buf->len)
		on_line(f, i, buf->buf);
	sb_release(buf);
	close(*fd);
	*fd = -1;
}

static int start(struct fanout *f, size_t i)
{
	struct worker *w = &f->w[i];
	int errp[2], ctlp[2];
	if (pipe2(errp, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(ctlp, O_CLOEXEC) < 0) {
		close(errp[0]);
		close(errp[1]);
		return -1;
	}
	fflush(NULL); /* nothing buffered is written twice */
	const pid_t parent = getpid();
	const pid_t pid = fork();
	if (pid == 0) {
		/* A worker does not outlive its parent: killed with it, it
		 * ends its cell as on SIGTERM, record written. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(EXIT_INTERRUPTED);
		dup2(errp[1], 2);
		close(errp[0]);
		close(errp[1]);
		close(ctlp[0]);
		int rc = f->o->work(f->o->ctx, i, ctlp[1]);
		fflush(NULL);
		_exit(rc);
	}
	close(errp[1]);
	close(ctlp[1]);
	if (pid < 0) {
		close(errp[0]);
		close(ctlp[0]);
		return -1;
	}
	*w = (struct worker){ .pid = pid, .started = 1, .t0 = now_ms(), .err_fd = errp[0],
			      .ctl_fd = ctlp[0] };
	return 0;
}

/* Both pipes at end of file: the worker has ended, or is about to. */
static void reap(struct fanout *f, size_t i)
{
	struct worker *w = &f->w[i];
	const char *cell = f->o->name(f->o->ctx, i);
	int status = 0, rc;
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status)) {
		rc = WEXITSTATUS(status);
		if (rc != EXIT_INTERRUPTED) /* a cell cut short says nothing of its length */
			f->res->ms[i] = now_ms() - w->t0;
		if (rc != EXIT_OK && !w->summarised) {
			char *s = xasprintf("%s: exit %d, before its cell ended (see above)", cell, rc);
			summarise(f, i, s);
			free(s);
		}
	} else {
		rc = EXIT_LAB;
		char *s = xasprintf("lab error: %s: its worker was killed by signal %d; the next "
				    "hilrun records the run it left",
				    cell, WTERMSIG(status));
		summarise(f, i, s);
		say_line(f, s);
		free(s);
	}
	f->res->exit_code = exit_worse(f->res->exit_code, rc);
	w->pid = 0;
	free(w->live);
	w->live = NULL;
	live_clear(f);
	live_draw(f);
}

/* The first worker not yet started whose group has none running;
 * f->o->workers if there is none. */
static size_t startable(const struct fanout *f)
{
	const struct fanout_opts *o = f->o;
	for (size_t i = 0; i < o->workers; i++) {
		if (f->w[i].started)
			continue;
		int busy = 0;
		for (size_t k = 0; o->group && k < o->workers && !busy; k++)
			busy = f->w[k].pid && o->group[k] == o->group[i];
		if (!busy)
			return i;
	}
	return o->workers;
}

/* A signal for the invocation: no cell starts any more; the running ones
 * end their cells as a one-card hilrun would (records written). */
static void interrupt(struct fanout *f)
{
	struct signalfd_siginfo si;
	if (read(f->o->signal_fd, &si, sizeof si) != sizeof si || f->res->interrupted)
		return;
	f->res->interrupted = 1;
	for (size_t i = 0; i < f->o->workers; i++)
		if (f->w[i].pid)
			kill(f->w[i].pid, SIGTERM);
	say_line(f, "hilrun: interrupted: the running cells are stopping (their records are "
		    "written); no further cell starts");
}

int fanout_run(const struct fanout_opts *o, struct fanout_result *res)
{
	*res = (struct fanout_result){ json_array(), json_array(), EXIT_OK, 0,
				       xcalloc(o->workers, sizeof *res->ms) };
	for (size_t i = 0; i < o->workers; i++)
		res->ms[i] = -1;
	struct fanout f = { o, res, xcalloc(o->workers, sizeof *f.w), 0 };
	struct pollfd *pfd = xcalloc(1 + 2 * o->workers, sizeof *pfd);
	size_t *owner = xcalloc(1 + 2 * o->workers, sizeof *owner);
	size_t running = 0, started = 0;
	for (;;) {
		size_t next;
		while (!res->interrupted && running < (size_t)o->jobs &&
		       (next = startable(&f)) < o->workers) {
			if (start(&f, next) == 0) {
				running++;
				started++;
				continue;
			}
			f.w[next].started = 1; /* not again */
			char *s = xasprintf("lab error: %s: no worker could be started: %s",
					    o->name(o->ctx, next), strerror(errno));
			summarise(&f, next, s);
			say_line(&f, s);
			free(s);
			res->exit_code = exit_worse(res->exit_code, EXIT_LAB);
		}
		if (!running)
			break;
		size_t np = 0;
		pfd[np++] = (struct pollfd){ .fd = o->signal_fd, .events = POLLIN };
		for (size_t i = 0; i < o->workers; i++) {
			if (!f.w[i].pid)
				continue;
			if (f.w[i].err_fd >= 0) {
				owner[np] = i;
				pfd[np++] = (struct pollfd){ .fd = f.w[i].err_fd, .events = POLLIN };
			}
			if (f.w[i].ctl_fd >= 0) {
				owner[np] = i;
				pfd[np++] = (struct pollfd){ .fd = f.w[i].ctl_fd, .events = POLLIN };
			}
		}
		poll(pfd, np, WATCHDOG_PET_MS);
		watchdog_pet(o->watchdog_fd);
		if (o->signal_fd >= 0 && (pfd[0].revents & POLLIN))
			interrupt(&f);
		for (size_t k = 1; k < np; k++) {
			if (!pfd[k].revents)
				continue;
			struct worker *w = &f.w[owner[k]];
			if (pfd[k].fd == w->err_fd)
				drain(&f, owner[k], &w->err_fd, &w->err, err_line);
			else
				drain(&f, owner[k], &w->ctl_fd, &w->ctl, control_line);
		}
		for (size_t i = 0; i < o->workers; i++)
			if (f.w[i].pid && f.w[i].err_fd < 0 && f.w[i].ctl_fd < 0) {
				reap(&f, i);
				running--;
			}
	}
	live_clear(&f);
	free(owner);
	free(pfd);
	free(f.w);
	return started ? 0 : -1;
}

void fanout_result_release(struct fanout_result *res)
{
	json_decref(res->summary);
	json_decref(res->records);
	res->summary = res->records = NULL;
	free(res->ms);
	res->ms = NULL;
}

void fanout_send(int control_fd, char kind, const char *text)
{
	struct strbuf line = STRBUF_INIT;
	sb_addf(&line, "%c ", kind);
	for (const char *p = text; *p; p++)
		sb_add(&line, *p == '\n' ? " " : p, 1); /* one line, whatever the text */
	sb_adds(&line, "\n");
	write_all(control_fd, line.buf, line.len);
	sb_release(&line);
}
