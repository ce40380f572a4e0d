/* vm: what one run talks to. QEMU's process, its monitor (QMP), the
 * guest's COM1 and the capture (feed.h: VNC or HTTP snapshots); start.c starts and connects them,
 * supervise.c gathers their events for the engine.
 *
 * Ownership: struct vm owns its process, connections, listening sockets,
 * socket directory and log files; vm_release closes and removes them
 * (stopping QEMU if it still runs). Paths it is given are copied. */
#ifndef HIL_VM_H
#define HIL_VM_H

#include <stdio.h>
#include "engine.h"
#include "proc.h"
#include "qemu_argv.h"
#include "qmp.h"
#include "report.h"
#include "feed.h"

/* How long QEMU has to connect its monitor and serial port, and the
 * capture to answer, before --timeout-scale (and x3 under TCG). */
#define VM_CONNECT_MS 10000

struct vm {
	struct proc qemu;
	struct qmp *qmp;
	int serial_fd;
	struct feed *feed;               /* the capture: VNC or HTTP snapshots */
	int qmp_listen, serial_listen;
	char *sock_dir;                  /* /tmp/hilrun-XXXXXX: short socket paths */
	char *qmp_path, *serial_path, *vnc_path;
	char *run_dir;                   /* the run's directory (logs go here) */
	char *qemu_log;                  /* QEMU's stdout and stderr */
	FILE *serial_log;                /* every byte from COM1, flushed at once */
	FILE *events_log;                /* every QMP event, a JSON line each */
	char qemu_version[32];
	struct serial_lines lines;
};

void vm_init(struct vm *vm);
/* Make the socket directory (-1 with err if it cannot be made) and open
 * the logs in run_dir (a log that cannot be opened stays NULL: the run
 * ends as a lab error, with a record). */
int vm_prepare(struct vm *vm, const char *run_dir, struct hil_err *err);
/* An event of QEMU's into qmp-events.jsonl. */
void vm_log_event(struct vm *vm, json_t *ev);
/* What QEMU's monitor still holds, logged (after the run). */
void vm_log_events(struct vm *vm);
/* Stop QEMU if it runs (SIGTERM, grace_ms, SIGKILL). */
void vm_stop(struct vm *vm, int grace_ms);
/* Flush, fsync and close the logs (before the record checksums them). */
void vm_close_logs(struct vm *vm);
void vm_release(struct vm *vm);
/* The last bytes (at most max) of QEMU's stderr; caller frees. */
char *vm_stderr_tail(const struct vm *vm, size_t max);
/* QEMU's first error line on stderr ("KVM internal error. Suberror: 1"),
 * or NULL; caller frees. */
char *vm_first_error(const struct vm *vm);

/* What start needs beyond the cell. */
struct vm_start {
	const struct cell *cell;
	struct qemu_env env;     /* sockets are filled in by vm_start */
	const char *capture;     /* VNC endpoint; NULL: QEMU's own display (emulated) */
	double scale;            /* windows are multiplied by it */
};

/* Start QEMU paused, accept its monitor and serial connections, open the
 * capture, then let the VM run (cont). The argv used goes into argv, and
 * what the start stage rests on (guest image, capture endpoint) into
 * info. 0 with the words of success in words; -1 with the error's name
 * (reason: "qemu-start", "capture-unreachable", ...) and words. */
int vm_start(struct vm *vm, const struct vm_start *s, struct argv *argv, json_t *info,
	     char reason[32], struct strbuf *words);

#endif
