/* run: one run of one cell, from nothing to its record. It chooses the
 * accelerator, journals the start (so that a host or hilrun going down
 * leaves a run to recover), starts QEMU (start.c), lets the engine
 * (engine.h) decide the stages from the events supervise.c gathers, and
 * writes the record (record.h) with the run's evidence.
 *
 * Outcome rules: `fail` is about the thing under test (card, firmware,
 * guest, QEMU); `error` is about the harness or the lab (capture
 * unreachable, guest image missing, record not writable). See
 * docs/run-record.md and docs/architecture.md.
 *
 * Ownership: struct run_result owns its strings and record; release it with
 * run_result_release. struct run_opts only borrows. */
#ifndef HIL_RUN_H
#define HIL_RUN_H

#include <jansson.h>
#include "journal.h"
#include "record.h"
#include "ocr.h"
#include "qemu_argv.h"
#include "vgafont.h"
#include "util.h"

struct run_opts {
	const char *out_dir;    /* runs go to OUT/runs/RUNID */
	const char *guest_dir;  /* where guest images are */
	const char *windows_image; /* the lab's Windows image (guest windows), or NULL */
	const char *qemu;       /* QEMU binary */
	const char *accel;      /* "kvm", "tcg", or NULL to choose */
	const char *host;       /* vfio: host PCI address */
	const char *rom;        /* vfio: ROM file or NULL */
	const char *capture;    /* vfio: VNC endpoint of the capture device */
	const char *station;    /* station name for the record, or NULL */
	double timeout_scale;   /* multiplies every window; 1.0 by default */
	struct ocr *ocr;        /* the fallback reader, loaded once per process */
	const struct vgafont *font; /* glyphs for the exact text-mode decoder */
	const struct vgafont *guest_font; /* glyphs an OS guest gives its framebuffer console
					   * (hilrun's: SeaBIOS's VGA BIOS font), or NULL */
	int signal_fd;          /* signalfd for SIGINT/SIGTERM, or -1 */
	int watchdog_fd;        /* a hardware watchdog to pet while healthy, or -1 (0 is
				 * taken for -1: opts are often zero-initialised) */
	/* Called as each stage ends (outcome "pass", "fail", "error", "skip")
	 * and with stage NULL when the run starts. */
	void (*on_stage)(void *ctx, const char *stage, const char *outcome);
	void *on_stage_ctx;
	/* The journal (may be NULL): the run writes its start, each stage's
	 * outcome and its finish, under this plan and cell key. */
	struct journal *journal;
	const char *plan_id, *cell_key;
	/* This run retries a failed one of the same cell (its run id), or NULL. */
	const char *retry_of;
};

struct run_result {
	char *run_id;
	char *run_dir;       /* final directory, NULL if the record could not be written */
	char verdict[128];   /* "pass", "fail:text", "error:capture-unreachable", ... */
	int interrupted;     /* a signal ended the run */
	double seconds;      /* wall time of the run */
	json_t *record;
};

void run_result_release(struct run_result *r);

/* Runs the cell and writes its record. Returns 0 when a record was written
 * (whatever the verdict), -1 when not even that was possible (err says why;
 * r->verdict is an error verdict). */
int run_cell(const struct cell *cell, const struct run_opts *opts, struct run_result *r,
	     struct hil_err *err);

#endif
