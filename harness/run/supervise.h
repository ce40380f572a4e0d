/* supervise: the one poll() loop of a run. It gathers events from the
 * guest's serial port, QEMU's monitor (its events, and a query-status
 * ping that also tells a frozen QEMU), the capture, QEMU's process
 * (pidfd), a signalfd and the engine's deadlines, and hands each to the
 * engine (engine.h); it decides nothing about the run itself. Every wait
 * has a monotonic deadline.
 *
 * What QEMU says about the VM becomes an event at once: a STOP is followed
 * by a query-status, whose status (internal-error, io-error, ...) is the
 * event's reason; GUEST_PANICKED, and a RESET or SHUTDOWN the guest caused,
 * are events of their own. A VM stopped by an internal error is checked
 * against the accelerator trial (accel.h): if the same firmware alone
 * stops under the same accelerator, the event says the host is at fault.
 *
 * Ownership: borrows the vm and the engine. */
#ifndef HIL_SUPERVISE_H
#define HIL_SUPERVISE_H

#include "engine.h"
#include "vm.h"

/* QEMU hang: its monitor is asked for its status this often, and must
 * answer within SUPERVISE_QMP_HANG_MS (QEMU's main loop answers in
 * milliseconds even under TCG, so this is scaled only by --timeout-scale). */
#define SUPERVISE_PING_MS 2000
#define SUPERVISE_QMP_HANG_MS 5000

struct supervise_opts {
	int signal_fd;         /* SIGINT/SIGTERM/SIGHUP, or -1 */
	int watchdog_fd;       /* petted while the loop runs, or -1 */
	double timeout_scale;  /* --timeout-scale */
	/* For the accelerator trial of a VM stopped by an internal error: */
	const char *qemu, *firmware_bin, *accel, *accel_cache;
};

/* Run the loop until the engine is done. Returns 1 if a signal ended it. */
int supervise(struct vm *vm, struct engine *e, const struct supervise_opts *o);

#endif
