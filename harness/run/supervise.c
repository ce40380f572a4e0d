/* supervise: see supervise.h. */
#include "supervise.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "accel.h"
#include "watchdog.h"

/* A VM stopped by an internal error: the accelerator trial of its firmware
 * may take this long, at most (OVMF under a nested KVM that cannot run it
 * stops in tens of milliseconds; one that runs prints within ~2 s). */
#define HOST_TRIAL_MS 3000
/* When a connection breaks, QEMU may be exiting: give it this long. */
#define EXIT_GRACE_MS 2000

struct loop {
	struct vm *vm;
	struct engine *e;
	const struct supervise_opts *o;
	int frame_pending;      /* a whole-frame request is outstanding */
	int64_t frame_asked_at; /* when the last one was sent */
	unsigned long ping_id;  /* query-status in flight, 0 if none */
	int64_t ping_sent, next_ping, hang_ms;
	int status_wanted;      /* QEMU said STOP: ask for the status now */
	int64_t stop_seen;      /* when that STOP arrived, 0 if none */
	int serial_open;
	int interrupted;
};

static void feed(struct loop *l, struct event ev)
{
	if (!ev.t)
		ev.t = now_ms();
	engine_feed(l->e, &ev);
}

static void on_line(void *ctx, const char *line, size_t len, int overlong)
{
	struct loop *l = ctx;
	feed(l, (struct event){ .kind = EV_LINE, .text = line, .len = len, .overlong = overlong });
}

/* Read what the serial port has: to serial.log (flushed at once: if hilrun
 * dies, what the guest said is on disk for the recovered record), then to
 * the engine, as progress and as lines. */
static void pump_serial(struct loop *l)
{
	char buf[4096];
	while (l->serial_open && !engine_done(l->e)) {
		ssize_t n = read(l->vm->serial_fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			l->serial_open = 0; /* QEMU closed it: it is exiting */
			return;
		}
		fwrite(buf, 1, (size_t)n, l->vm->serial_log);
		fflush(l->vm->serial_log);
		feed(l, (struct event){ .kind = EV_SERIAL });
		serial_lines_feed(&l->vm->lines, buf, (size_t)n, on_line, l);
	}
}

/* A QMP event: logged, and what it says about the VM handed on. */
static void on_qmp_event(struct loop *l, json_t *ev)
{
	vm_log_event(l->vm, ev);
	const char *name = json_string_value(json_object_get(ev, "event")) ?: "";
	json_t *data = json_object_get(ev, "data");
	if (!strcmp(name, "STOP")) {
		/* hilrun never stops the VM after starting it: ask why. */
		l->status_wanted = 1;
		if (!l->stop_seen)
			l->stop_seen = now_ms();
	} else if (!strcmp(name, "GUEST_PANICKED")) {
		feed(l, (struct event){ .kind = EV_GUEST_PANICKED,
					.reason = json_string_value(json_object_get(data, "action")) });
	} else if ((!strcmp(name, "RESET") || !strcmp(name, "SHUTDOWN")) &&
		   json_is_true(json_object_get(data, "guest"))) {
		/* Caused by the guest (a triple fault under -no-reboot is a
		 * SHUTDOWN "guest-reset"); one hilrun or a person caused is
		 * judged by how QEMU exits. */
		feed(l, (struct event){ .kind = EV_GUEST_RESET,
					.reason = json_string_value(json_object_get(data, "reason")) });
	}
}

static void pump_events(struct loop *l)
{
	json_t *ev;
	while ((ev = qmp_pop_event(l->vm->qmp))) {
		if (!engine_done(l->e))
			on_qmp_event(l, ev);
		else
			vm_log_event(l->vm, ev);
		json_decref(ev);
	}
}

/* query-status answered: a VM that is not running was stopped by QEMU. */
static void on_status(struct loop *l, json_t *ret)
{
	const char *status = json_string_value(json_object_get(ret, "status"));
	if (!ret || json_is_true(json_object_get(ret, "running")) || !status) {
		if (!l->status_wanted)
			l->stop_seen = 0; /* a STOP and a RESUME since: running again */
		return;
	}
	char *said = vm_first_error(l->vm);
	char trial[512] = "";
	const char *host_fault = NULL;
	if (!strcmp(status, "internal-error")) {
		/* Long enough for the firmware alone to stop as this VM did. */
		int64_t took = (l->stop_seen ? l->stop_seen : now_ms()) - l->e->t_start;
		int64_t window = 3 * took;
		window = window < 1000 ? 1000 : window > HOST_TRIAL_MS ? HOST_TRIAL_MS : window;
		if (accel_host_stops(l->o->qemu, l->o->firmware_bin, l->o->accel, l->o->accel_cache,
				     (int)window, trial, sizeof trial))
			host_fault = trial;
	}
	feed(l, (struct event){ .kind = EV_VM_STOPPED, .reason = status, .qemu_said = said,
				.host_fault = host_fault, .t_first = l->stop_seen });
	free(said);
}

/* QEMU has exited: what it still had to say first (serial, events), then
 * the exit itself. */
static void qemu_exited(struct loop *l)
{
	pump_serial(l);
	struct hil_err err;
	qmp_pump(l->vm->qmp, &err); /* to its end: QEMU is gone */
	pump_events(l);
	if (engine_done(l->e))
		return;
	char how[128];
	proc_describe(&l->vm->qemu, how, sizeof how);
	char *tail = vm_stderr_tail(l->vm, 4096);
	feed(l, (struct event){ .kind = EV_QEMU_EXIT, .status = l->vm->qemu.status, .text = how,
				.qemu_said = tail });
	free(tail);
}

/* The capture failed: if QEMU is exiting, that is what happened. */
static void capture_trouble(struct loop *l, const char *why)
{
	if (proc_wait(&l->vm->qemu, now_ms() + EXIT_GRACE_MS))
		qemu_exited(l);
	else
		feed(l, (struct event){ .kind = EV_CAPTURE_LOST, .text = why });
}

/* The process state of QEMU from /proc, for the words of a hang. */
static void process_state(pid_t pid, char *out, size_t n)
{
	out[0] = '\0';
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char buf[512];
	size_t got = fread(buf, 1, sizeof buf - 1, f);
	buf[got] = '\0';
	fclose(f);
	const char *p = strrchr(buf, ')');
	if (p && p[1] == ' ' && p[2])
		snprintf(out, n, "; its process state is %c%s", p[2], p[2] == 'T' ? " (stopped)" : "");
}

static void ask_for_frame(struct loop *l)
{
	struct hil_err err;
	if (!engine_wants_frames(l->e) || l->frame_pending || now_ms() < l->e->next_frame_at)
		return;
	if (feed_request_full(l->vm->feed, &err) < 0) {
		capture_trouble(l, err.msg);
	} else {
		l->frame_pending = 1;
		l->frame_asked_at = now_ms();
	}
}

/* QEMU's monitor must answer: a frozen QEMU answers nothing. */
static void ping(struct loop *l)
{
	struct hil_err err;
	if (l->ping_id || (now_ms() < l->next_ping && !l->status_wanted))
		return;
	l->status_wanted = 0;
	l->ping_id = qmp_send(l->vm->qmp, "query-status", now_ms() + 1000, &err);
	l->ping_sent = now_ms();
}

static int64_t wake_time(const struct loop *l)
{
	int64_t wake = l->e->deadline;
	if (engine_wants_frames(l->e) && !l->frame_pending && l->e->next_frame_at < wake)
		wake = l->e->next_frame_at;
	int64_t ping_due = l->ping_id ? l->ping_sent + l->hang_ms : l->next_ping;
	return ping_due < wake ? ping_due : wake;
}

static void on_signal(struct loop *l)
{
	struct signalfd_siginfo si;
	if (read(l->o->signal_fd, &si, sizeof si) != sizeof si)
		return;
	char *d = xasprintf("hilrun received %s", strsignal((int)si.ssi_signo));
	l->interrupted = 1;
	feed(l, (struct event){ .kind = EV_SIGNAL, .text = d });
	free(d);
}

static void on_monitor(struct loop *l)
{
	struct hil_err err;
	if (qmp_pump(l->vm->qmp, &err) < 0 && !proc_poll(&l->vm->qemu)) {
		/* The monitor broke while QEMU runs: a garbage line, or QEMU
		 * closing it. Give QEMU a moment to finish exiting. */
		if (!proc_wait(&l->vm->qemu, now_ms() + EXIT_GRACE_MS)) {
			feed(l, (struct event){ .kind = EV_MONITOR_LOST, .text = err.msg });
			return;
		}
	}
	pump_events(l);
	json_t *ret = NULL;
	if (l->ping_id && qmp_take_reply(l->vm->qmp, l->ping_id, &ret)) {
		l->ping_id = 0;
		l->next_ping = now_ms() + SUPERVISE_PING_MS;
		if (!engine_done(l->e))
			on_status(l, ret);
		json_decref(ret);
	}
}

static void on_capture(struct loop *l)
{
	struct hil_err err;
	int got = feed_pump(l->vm->feed, &err);
	if (got < 0) {
		capture_trouble(l, err.msg);
		return;
	}
	if (got != 1)
		return;
	l->frame_pending = 0;
	struct frame f;
	frame_init(&f);
	if (feed_take_frame(l->vm->feed, &f) == 0)
		feed(l, (struct event){ .kind = EV_FRAME, .frame = &f, .asked_at = l->frame_asked_at });
	frame_release(&f);
}

int supervise(struct vm *vm, struct engine *e, const struct supervise_opts *o)
{
	struct loop l = {
		.vm = vm,
		.e = e,
		.o = o,
		.next_ping = now_ms() + SUPERVISE_PING_MS,
		.hang_ms = (int64_t)(SUPERVISE_QMP_HANG_MS * (o->timeout_scale > 0 ? o->timeout_scale : 1.0)),
		.serial_open = 1,
	};
	pump_events(&l); /* what QEMU said while it started (a STOP right after cont) */
	while (!engine_done(e)) {
		watchdog_pet(o->watchdog_fd);
		ask_for_frame(&l);
		ping(&l);
		if (engine_done(e))
			break;

		struct pollfd pfd[5];
		int n = 0, i_serial = -1, i_qmp, i_feed, i_sig = -1;
		if (l.serial_open)
			pfd[i_serial = n++] = (struct pollfd){ .fd = vm->serial_fd, .events = POLLIN };
		pfd[i_qmp = n++] = (struct pollfd){ .fd = qmp_fd(vm->qmp), .events = POLLIN };
		pfd[i_feed = n++] = (struct pollfd){ .fd = feed_fd(vm->feed), .events = POLLIN };
		if (vm->qemu.pidfd >= 0)
			pfd[n++] = (struct pollfd){ .fd = vm->qemu.pidfd, .events = POLLIN };
		if (o->signal_fd >= 0)
			pfd[i_sig = n++] = (struct pollfd){ .fd = o->signal_fd, .events = POLLIN };
		int timeout = feed_has_buffered(vm->feed) || qmp_pending_events(vm->qmp)
				      ? 0 : ms_left(wake_time(&l));
		if (vm->qemu.pidfd < 0 && timeout > 100)
			timeout = 100; /* no pidfd: notice QEMU's exit by polling */
		if (o->watchdog_fd > 0 && timeout > WATCHDOG_PET_MS)
			timeout = WATCHDOG_PET_MS;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			feed(&l, (struct event){ .kind = EV_HARNESS_ERROR, .text = strerror(errno) });
			break;
		}

		if (i_sig >= 0 && (pfd[i_sig].revents & POLLIN))
			on_signal(&l);
		if (!engine_done(e) && i_serial >= 0 && (pfd[i_serial].revents & (POLLIN | POLLHUP)))
			pump_serial(&l);
		if (!engine_done(e) && ((pfd[i_qmp].revents & (POLLIN | POLLHUP)) ||
					qmp_pending_events(vm->qmp)))
			on_monitor(&l);
		if (!engine_done(e) && proc_poll(&vm->qemu)) {
			qemu_exited(&l);
			break;
		}
		if (!engine_done(e) &&
		    ((pfd[i_feed].revents & (POLLIN | POLLHUP | POLLERR)) || feed_has_buffered(vm->feed)))
			on_capture(&l);
		/* QEMU's answer may have come while hilrun was busy with a frame
		 * (seconds, in a sanitizer build on a loaded host): read what the
		 * monitor holds before calling QEMU hung. */
		if (!engine_done(e) && l.ping_id && now_ms() >= l.ping_sent + l.hang_ms) {
			struct pollfd q = { .fd = qmp_fd(vm->qmp), .events = POLLIN };
			if (poll(&q, 1, 0) > 0)
				on_monitor(&l);
		}
		if (!engine_done(e) && l.ping_id && now_ms() >= l.ping_sent + l.hang_ms &&
		    !proc_poll(&vm->qemu)) {
			char state[64];
			process_state(vm->qemu.pid, state, sizeof state);
			feed(&l, (struct event){ .kind = EV_QEMU_HANG, .text = state,
						 .waited_ms = now_ms() - l.ping_sent,
						 .window_ms = l.hang_ms });
			vm_stop(vm, 1000); /* nothing it shows can be trusted now */
		}
		if (!engine_done(e) && now_ms() >= e->deadline)
			feed(&l, (struct event){ .kind = EV_DEADLINE });
	}
	return l.interrupted;
}
