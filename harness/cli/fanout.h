/* fanout: an invocation of several cards (hilrun --all, --card a,b,c):
 * one worker process per cell, at most `jobs` at once, each running its
 * cell as a one-card hilrun does, never two of one card at once (a
 * worker's group: the card's lock stays). The next worker to start is the
 * first in the caller's order whose group is idle. Processes rather than
 * threads: a worker that crashes or is killed takes only its cell with
 * it, and the journal recovers that run as it would a dead hilrun's.
 *
 * A worker's stderr and a control pipe come back to the parent, which
 * alone writes to the terminal: each line whole, as it ends; on a terminal
 * also one live line per running cell, kept under them. The workers'
 * summary entries and run records are gathered for one summary (and one
 * --json array) at the end.
 *
 * Control lines, worker to parent, each in one write:
 *   L TEXT   its running cell's live line
 *   S TEXT   a summary entry ("unexpected: KEY (VERDICT)")
 *   R JSON   a run record (compact JSON: no newline), for --json
 *
 * Ownership: fanout_run owns the workers and their pipes until it returns;
 * the result's JSON is the caller's to release. */
#ifndef HIL_FANOUT_H
#define HIL_FANOUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct fanout_opts {
	size_t workers;   /* how many */
	const size_t *group; /* worker i's group: one of a group at a time */
	int jobs;         /* at most this many at once */
	int tty;          /* stderr is a terminal: live lines */
	int signal_fd;    /* SIGINT/SIGTERM/SIGHUP: stop starting, pass it on */
	int watchdog_fd;  /* petted while the parent runs (watchdog.h); <= 0 none */
	/* What worker i runs, in the child process: its exit code. Its
	 * stderr is the pipe; control_fd takes control lines. */
	int (*work)(void *ctx, size_t i, int control_fd);
	void *ctx;
	const char *(*name)(void *ctx, size_t i); /* worker i's cell, for messages */
};

struct fanout_result {
	json_t *summary;  /* array of strings */
	json_t *records;  /* array of run records */
	int exit_code;    /* the worst of the workers' (cli.h exit_worse) */
	int interrupted;  /* a signal stopped the invocation */
	int64_t *ms;      /* each worker's wall time, start to end; -1 not run or died */
};

/* Run every worker; -1 if none could be started (say_error said why). */
int fanout_run(const struct fanout_opts *o, struct fanout_result *res);
void fanout_result_release(struct fanout_result *res);

/* In a worker: one control line of kind 'L', 'S' or 'R'. */
void fanout_send(int control_fd, char kind, const char *text);

#endif
