/* engine: a run's life as a table. The run is in one phase at a time; an
 * event (a guest report line, a frame, a deadline, something QEMU says or
 * does, a signal, the capture lost) is looked up in the table of phase x
 * event, which names the action to take and the phase to go to. Nothing
 * else moves a run from phase to phase. Each phase's stage, window and
 * use of the screen are data in a second table (engine_phases).
 *
 * The engine does no I/O of its own but three things: it writes the ack
 * that releases the guest to the serial descriptor it is given, it keeps
 * evidence files in the run's directory, and it reads frames it is
 * handed. Gathering events (sockets, QEMU's process, timers) is
 * supervise.c's; the record is run.c's. The engine takes the time from
 * the events it is fed, so it can be driven without QEMU
 * (tests/unit/test_engine.c).
 *
 * Ownership: struct engine owns its stage results, evidence JSON, frames
 * and readers; engine_release frees them. struct engine_setup and events
 * are borrowed for the duration of the call. */
#ifndef HIL_ENGINE_H
#define HIL_ENGINE_H

#include <jansson.h>
#include <stdint.h>
#include "calib.h"
#include "image.h"
#include "judge.h"
#include "ocr.h"
#include "plan.h"
#include "record.h"
#include "report.h"
#include "screen.h"
#include "vgafont.h"

enum phase {
	PH_START,          /* QEMU starting; monitor, serial and capture connecting */
	PH_WAIT_POST_HOLD, /* guest booting; waiting for "post hold" */
	PH_CHECK_POST,     /* guest holds; the firmware's output must be on screen */
	PH_WAIT_TEXT_HOLD, /* guest printing; collecting "text line" reports */
	PH_CHECK_TEXT,     /* guest holds; every reported line must be on screen */
	PH_WAIT_CALIB,     /* guest drawing its calibration screen, or its pattern */
	PH_CHECK_CALIB,    /* guest holds; learn the card's glyphs from the screen */
	PH_WAIT_GRAPHICS,  /* guest setting its graphics mode and drawing the pattern */
	PH_CHECK_GRAPHICS, /* guest holds; the pattern must be on the screen */
	PH_WAIT_DRIVER,    /* guest loading display drivers; its pattern through them next */
	PH_CHECK_DRIVER,   /* guest holds; the pattern drawn through the driver must show */
	PH_WAIT_CONSOLE,   /* guest writing to the driver's framebuffer console */
	PH_CHECK_CONSOLE,  /* guest holds; every reported console line must be on screen */
	PH_WAIT_END,       /* guest released for the last time; QEMU must exit */
	PH_DONE,
	PH_COUNT
};

enum event_kind {
	EV_STARTED,        /* QEMU runs; monitor, serial and capture connected */
	EV_START_FAILED,   /* it could not be started or connected: reason, text */
	EV_SERIAL,         /* the guest's serial port said something (progress) */
	EV_LINE,           /* a line from COM1: text, len, overlong (reports.c) */
	/* raised by report lines (reports.c), not gathered: */
	EV_POST_HOLD, EV_TEXT_HOLD, EV_CALIB_HOLD, EV_GRAPHICS_HOLD, EV_DRIVER_HOLD,
	EV_CONSOLE_HOLD, EV_GUEST_END,
	EV_FRAME,          /* a whole frame from the capture: frame */
	EV_DEADLINE,       /* the phase's deadline passed */
	EV_VM_STOPPED,     /* QEMU stopped the VM: reason is query-status's status
			    * (internal-error, io-error, guest-panicked, shutdown, ...) */
	EV_GUEST_PANICKED, /* QEMU's GUEST_PANICKED (pvpanic): reason is its action */
	EV_GUEST_RESET,    /* a RESET or SHUTDOWN the guest caused and never
			    * announced: reason is QEMU's (guest-reset, guest-shutdown) */
	EV_QEMU_EXIT,      /* QEMU's process ended: status, text (how) */
	EV_QEMU_HANG,      /* its monitor did not answer: waited_ms, window_ms, text */
	EV_CAPTURE_LOST,   /* the capture endpoint went away: text */
	EV_MONITOR_LOST,   /* the QMP connection broke while QEMU runs: text */
	EV_SIGNAL,         /* hilrun was asked to stop: text */
	EV_HARNESS_ERROR,  /* hilrun's own loop failed: text */
	EV_COUNT
};

struct event {
	enum event_kind kind;
	int64_t t;                 /* monotonic ms when it was gathered */
	int64_t t_first;           /* EV_VM_STOPPED: when its first sign (QEMU's STOP
				    * event) arrived; 0: at t */
	const char *text;          /* the line; or what happened, in words */
	size_t len;                /* EV_LINE: bytes of text */
	int overlong;              /* EV_LINE: cut at REPORT_LINE_MAX */
	const char *reason;        /* EV_START_FAILED: the error's name ("qemu-start");
				    * QEMU events: QEMU's reason or status */
	const char *qemu_said;     /* QEMU's first error line on stderr (EV_QEMU_EXIT:
				    * the tail of its stderr), or NULL */
	const char *host_fault;    /* EV_VM_STOPPED: why the same firmware alone stops
				    * under the same accelerator (the host is at
				    * fault), or NULL if it does not */
	const struct frame *frame; /* EV_FRAME */
	int64_t asked_at;          /* EV_FRAME: when it was asked for; 0: not known */
	int status;                /* EV_QEMU_EXIT: wait status */
	int64_t waited_ms, window_ms; /* EV_QEMU_HANG */
};

/* What a phase is and does (engine_phases[phase]). */
enum phase_kind {
	PK_START,  /* QEMU being started (no window: connecting has its own) */
	PK_WAIT,   /* the guest works towards a checkpoint: it must show progress
		    * (serial output, a change on the screen) within its window */
	PK_CHECK,  /* the guest holds: the screen must agree within the window */
	PK_END,    /* QEMU must exit within the window */
	PK_DONE,
};
enum screen_use {
	SCREEN_NONE,
	SCREEN_WATCH, /* looked at every ENGINE_WATCH_MS: a change is progress, the
		       * last frame is the evidence of a hang */
	SCREEN_CHECK, /* every frame is read and judged */
};
struct phase_info {
	const char *name;
	const char *checkpoint; /* the guest's checkpoint a wait/check pair serves
				 * (catalog.h's guest checkpoints), or NULL */
	enum stage_id stage;  /* the stage it belongs to */
	enum phase_kind kind;
	enum screen_use screen;
	int window_ms;        /* before scaling; a guest may set its own quiet windows */
};
extern const struct phase_info engine_phases[PH_COUNT];

/* What an action did; where the run goes from here. */
enum step {
	STAY,     /* same phase */
	NEXT,     /* the transition's next phase */
	SHUTDOWN, /* the guest was released for the last time: PH_WAIT_END */
	END,      /* the run is over: PH_DONE */
};
struct engine;
struct transition {
	enum step (*act)(struct engine *e, const struct event *ev);
	enum phase next;
	const char *name; /* of the action, for docs/architecture.md */
};
/* A transition's next phase that depends on the guest: the waiting phase
 * of its next checkpoint (catalog.h), or wait-end after its last. */
#define PH_NEXT_CHECKPOINT ((enum phase)(PH_COUNT + 1))
/* The table: engine_table[phase][event]; act NULL: the event is ignored. */
extern const struct transition engine_table[PH_COUNT][EV_COUNT];
extern const char *const engine_event_names[EV_COUNT];

/* The guest's report lines the engine knows (reports.c): what each tells
 * the run (note) and the event it raises, if it moves the run (EV_COUNT:
 * none). Lines not in the table are kept in the record and ignored. */
struct report_msg;
struct report_row {
	const char *stage, *event;
	void (*note)(struct engine *e, const struct report_msg *m); /* NULL: nothing to note */
	enum event_kind raises;
	const char *note_name; /* for docs/architecture.md */
};
extern const struct report_row engine_reports[];
extern const size_t engine_nreports;

/* Windows, in milliseconds, before --timeout-scale (and x3 under TCG). */
#define ENGINE_QUIET_CAP     4     /* a busy guest gets this many quiet windows */
#define ENGINE_WATCH_MS      1000  /* the screen is looked at this often while waiting */
#define ENGINE_WATCH_HISTORY 4     /* screens remembered: returning to one is no progress */
#define ENGINE_FRAME_RETRY_MS 300  /* pause between two looks at the screen */
/* The guests stop holding after 30 s (docs/report-protocol.md): a check,
 * however scaled, must end before that, or the guest moves on under it. */
#define ENGINE_GUEST_HOLD_MS 30000
#define ENGINE_CHECK_MAX     (ENGINE_GUEST_HOLD_MS - 5000)
/* QEMU's placeholder at a post hold (the firmware has finished and never
 * set the display up) is settled after this long. */
#define ENGINE_PLACEHOLDER_MS 3000
#define ENGINE_GUEST_EXIT_CODE 16  /* what the guests write to isa-debug-exit on success */

struct engine_setup {
	const struct cell *cell;
	const char *tmp_dir;         /* the run's directory: evidence goes here */
	int serial_fd;               /* COM1, where the ack that releases the guest goes;
				      * -1 until QEMU is connected (run.c sets it then) */
	double scale;                /* every window is multiplied by it */
	double display_scale;        /* ... but one waiting on QEMU's display rather than
				      * on the guest: --timeout-scale alone (no x3 under
				      * TCG, which slows the guest, not the display);
				      * 0: scale */
	const char *accel;           /* "kvm" or "tcg", for the words of a verdict */
	const struct vgafont *font;  /* the decoder's glyphs; NULL: tesseract only */
	const struct vgafont *guest_font; /* the glyphs an OS guest gives its framebuffer
					   * console (hilrun's); NULL: font */
	struct ocr *ocr;             /* NULL: no tesseract */
	int own_display;             /* frames are QEMU's own display, pixel for pixel
				      * (not a capture device's, which scales) */
	/* Called as each stage is decided (outcome "pass", "fail", "error",
	 * "skip"), and with "undecided" when a stage is left for a later
	 * screen to decide: the run fsyncs its logs and journals it. May be
	 * NULL. */
	void (*on_stage)(void *ctx, enum stage_id s, const char *outcome);
	void *ctx;
};

#define ENGINE_CHECKPOINTS_MAX 8

struct engine {
	struct engine_setup set;
	stage_set proven;        /* the guest's stages: the others are not in its record */
	enum post_rule post_rule;/* the guest's, under the cell's firmware */
	enum phase checkpoints[ENGINE_CHECKPOINTS_MAX]; /* the guest's, as waiting phases */
	int ncheckpoints;
	enum phase phase;
	int64_t now;             /* time of the event being handled */
	int64_t t_start;
	int64_t deadline;        /* of the phase (engine_phases[].window_ms, scaled) */
	int64_t next_frame_at;   /* when the supervisor should ask for a frame */
	struct stage_result stages[ST_COUNT];
	/* Released before it was decided: a later screen (calibration) will
	 * decide it; if none does, it ends as its provisional verdict says. */
	int undecided[ST_COUNT];

	/* the screen check in progress */
	int looks;               /* frames read in it */
	struct frame last;       /* the last frame read in it */
	struct screen_reader reader;
	struct reading reading;  /* of the last frame */
	const char *reader_name; /* for the record: textmode, tesseract, pattern, none */
	struct frame judged[ST_COUNT]; /* each stage's judged frame, for calibration */
	int64_t check_started;

	/* what the guest reported (reports.c) */
	json_t *reports;         /* every report line, parsed */
	struct guest_said said;
	struct guest_said console_said; /* the console checkpoint's lines */
	int text_in_guest_font;  /* the text screen is a framebuffer console in the guest's
				  * font ("text console ... font=hilrun") */
	struct screen_reader guest_reader; /* the guest's console font, where it sets one */
	int end_code;            /* -1 until "end exit" */
	int end_poweroff;        /* "end poweroff": QEMU is to exit with status 0 */
	int protocol_errors;     /* malformed report lines */
	struct calib_layout calib;
	int calib_announced;
	struct shown {           /* a pattern the guest says it shows ("... show") */
		int announced;   /* with a usable width, height and code */
		int width, height, bpp;
		uint32_t code;
		char error[160]; /* the guest's own error about it, if any */
	} gfx, drv;              /* in the graphics stage; through the driver */
	/* the driver stage (OS guests): what its checks found */
	int drv_pattern, drv_console; /* 1 shown, 0 not, -1 not checked */
	char drv_words[256];     /* why not, first */

	/* the guest-hang watchdog */
	int64_t last_progress;   /* last serial byte or change on the screen */
	int64_t quiet_window;    /* the waiting phase's window without progress */
	int64_t phase_cap;       /* ... and how long it may last however busy */
	struct frame watch;      /* the last frame seen while waiting */
	uint64_t watch_hash[ENGINE_WATCH_HISTORY];
};

void engine_init(struct engine *e, const struct engine_setup *setup, int64_t t);
void engine_release(struct engine *e);
/* Handle one event: look it up in the table, act, move on. */
void engine_feed(struct engine *e, const struct event *ev);
static inline int engine_done(const struct engine *e)
{
	return e->phase == PH_DONE;
}
/* Does the phase look at the screen (watch or check)? */
int engine_wants_frames(const struct engine *e);
/* The run's verdict so far (record_verdict of its stages). */
void engine_verdict(const struct engine *e, char *out, size_t n);

#endif
