/* start: start QEMU for a run and connect what the run talks to (vm.h).
 * QEMU is started paused (-S) and connects to sockets hilrun listens on
 * (libqtest's way: no sleep-and-retry); once the monitor, the serial port
 * and the capture answer, the VM runs. */
#include "vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"
#include "util.h"

void vm_init(struct vm *vm)
{
	memset(vm, 0, sizeof *vm);
	proc_init(&vm->qemu);
	vm->serial_fd = vm->qmp_listen = vm->serial_listen = -1;
	serial_lines_init(&vm->lines, REPORT_LINE_MAX + 1); /* + the '\r' of CRLF */
}

int vm_prepare(struct vm *vm, const char *run_dir, struct hil_err *err)
{
	vm->run_dir = xstrdup(run_dir);
	vm->qemu_log = xasprintf("%s/qemu.log", run_dir);
	/* Unix socket paths are limited to 107 bytes: a short private
	 * directory for them. */
	char tmpl[] = "/tmp/hilrun-XXXXXX";
	if (!mkdtemp(tmpl)) {
		hil_seterr(err, "cannot create a socket directory in /tmp: %s", strerror(errno));
		return -1;
	}
	vm->sock_dir = xstrdup(tmpl);
	vm->qmp_path = xasprintf("%s/qmp.sock", vm->sock_dir);
	vm->serial_path = xasprintf("%s/com1.sock", vm->sock_dir);
	vm->vnc_path = xasprintf("%s/vnc.sock", vm->sock_dir);
	char *p = xasprintf("%s/serial.log", run_dir);
	vm->serial_log = fopen(p, "we");
	free(p);
	p = xasprintf("%s/qmp-events.jsonl", run_dir);
	vm->events_log = fopen(p, "we");
	free(p);
	return 0;
}

void vm_log_event(struct vm *vm, json_t *ev)
{
	char *line = json_dumps(ev, JSON_COMPACT);
	if (line && vm->events_log) {
		fprintf(vm->events_log, "%s\n", line);
		fflush(vm->events_log);
	}
	free(line);
}

void vm_log_events(struct vm *vm)
{
	if (!vm->qmp)
		return;
	struct hil_err err;
	qmp_pump(vm->qmp, &err);
	json_t *ev;
	while ((ev = qmp_pop_event(vm->qmp))) {
		vm_log_event(vm, ev);
		json_decref(ev);
	}
}

void vm_stop(struct vm *vm, int grace_ms)
{
	if (vm->qemu.pid && !vm->qemu.exited)
		proc_stop(&vm->qemu, grace_ms);
}

static void close_log(FILE **f)
{
	if (!*f)
		return;
	fflush(*f);
	fsync(fileno(*f));
	fclose(*f);
	*f = NULL;
}

void vm_close_logs(struct vm *vm)
{
	close_log(&vm->serial_log);
	close_log(&vm->events_log);
}

void vm_release(struct vm *vm)
{
	vm_stop(vm, 3000);
	proc_release(&vm->qemu);
	feed_close(vm->feed);
	qmp_free(vm->qmp);
	if (vm->serial_fd >= 0)
		close(vm->serial_fd);
	if (vm->qmp_listen >= 0)
		close(vm->qmp_listen);
	if (vm->serial_listen >= 0)
		close(vm->serial_listen);
	if (vm->sock_dir)
		remove_tree(vm->sock_dir);
	vm_close_logs(vm);
	serial_lines_release(&vm->lines);
	free(vm->sock_dir);
	free(vm->qmp_path);
	free(vm->serial_path);
	free(vm->vnc_path);
	free(vm->run_dir);
	free(vm->qemu_log);
	memset(vm, 0, sizeof *vm);
}

char *vm_stderr_tail(const struct vm *vm, size_t max)
{
	size_t len = 0;
	struct hil_err err;
	char *all = read_file(vm->qemu_log, 64 << 20, &len, &err);
	if (!all)
		return xstrdup("");
	char *tail = xstrdup(len > max ? all + len - max : all);
	free(all);
	return tail;
}

char *vm_first_error(const struct vm *vm)
{
	size_t len = 0;
	struct hil_err err;
	char *all = read_file(vm->qemu_log, 1 << 20, &len, &err);
	if (!all)
		return NULL;
	/* The first line that says "error"; else the first that is not a
	 * warning (QEMU prefixes its own with "PROGRAM: warning:"). */
	char *found = NULL, *other = NULL;
	for (char *line = all, *next; line && *line && !found; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strcasestr(line, "error"))
			found = line;
		else if (!other && *line && !strstr(line, "warning:"))
			other = line;
	}
	char *words = found ? xstrdup(found) : other ? xstrdup(other) : NULL;
	free(all);
	return words;
}

static void fail(char reason[32], struct strbuf *words, const char *name, const char *what)
{
	snprintf(reason, 32, "%s", name);
	sb_adds(words, what);
}

/* Starting failed. If QEMU exited meanwhile, its stderr says why (a bad
 * option, a host device it cannot open, no KVM): that is the error. */
static int start_failed(struct vm *vm, char reason[32], struct strbuf *words, const char *name,
			const char *what)
{
	if (!proc_wait(&vm->qemu, now_ms() + 1000)) {
		fail(reason, words, name, what);
		return -1;
	}
	char *tail = vm_stderr_tail(vm, 4096);
	char how[128];
	proc_describe(&vm->qemu, how, sizeof how);
	snprintf(reason, 32, "qemu-start");
	sb_addf(words, "QEMU %s while starting: %s", how, *tail ? tail : "(no output)");
	free(tail);
	return -1;
}

int vm_start(struct vm *vm, const struct vm_start *s, struct argv *argv, json_t *info,
	     char reason[32], struct strbuf *words)
{
	struct hil_err err;
	const struct cell *cell = s->cell;
	json_object_set_new(info, "guest_image", json_string(s->env.guest_image));
	if (s->env.guest_kernel)
		json_object_set_new(info, "guest_kernel", json_string(s->env.guest_kernel));
	const char *missing = access(s->env.guest_image, R_OK) < 0 ? s->env.guest_image
			      : s->env.guest_kernel && access(s->env.guest_kernel, R_OK) < 0
				      ? s->env.guest_kernel
				      : NULL;
	if (missing) {
		snprintf(reason, 32, "guest-image-missing");
		if (!*missing)
			sb_addf(words, "guest %s runs a lab's own image, and none was named "
				       "(--windows-image FILE, or the station's windows-image)",
				cell->guest->id);
		else
			sb_addf(words, "guest image %s: %s (%s)", missing, strerror(errno),
				cell->guest->image ? "build it: cmake --build build"
						   : "the lab's image, as its station or --windows-image names it");
		return -1;
	}
	vm->qmp_listen = sock_listen_unix(vm->qmp_path, &err);
	vm->serial_listen = vm->qmp_listen < 0 ? -1 : sock_listen_unix(vm->serial_path, &err);
	if (vm->serial_listen < 0) {
		fail(reason, words, "harness", err.msg);
		return -1;
	}
	struct qemu_env env = s->env;
	env.qmp_socket = vm->qmp_path;
	env.serial_socket = vm->serial_path;
	env.vnc_socket = vm->vnc_path;
	env.start_paused = 1;
	if (qemu_argv(argv, cell, &env, &err) < 0) {
		fail(reason, words, "configuration", err.msg);
		return -1;
	}
	if (proc_spawn(&vm->qemu, argv, vm->qemu_log, &err) < 0) {
		fail(reason, words, "qemu-missing", err.msg);
		return -1;
	}

	/* QEMU connects its chardevs while it starts; if it exits instead, its
	 * stderr says why (bad option, missing device, no KVM). */
	int64_t dl = now_ms() + (int64_t)(VM_CONNECT_MS * s->scale);
	int qfd = sock_accept(vm->qmp_listen, dl, "QEMU's QMP connection", &err);
	int sfd = qfd < 0 ? -1 : sock_accept(vm->serial_listen, dl, "QEMU's serial connection", &err);
	if (sfd < 0) {
		if (qfd >= 0)
			close(qfd);
		return start_failed(vm, reason, words, "qemu-start", err.msg);
	}
	vm->qmp = qmp_new(qfd);
	vm->serial_fd = sfd;
	if (qmp_handshake(vm->qmp, dl, &err) < 0)
		return start_failed(vm, reason, words, "qmp", err.msg);
	snprintf(vm->qemu_version, sizeof vm->qemu_version, "%s", qmp_qemu_version(vm->qmp));

	/* An emulated card is watched through QEMU's own VNC socket, unless a
	 * capture endpoint is given (a capture box filming the VM's display, or
	 * a proxy in front of QEMU's VNC). */
	char *endpoint = s->capture ? xstrdup(s->capture)
			 : cell->card->kind == CARD_EMULATED ? xasprintf("unix:%s", vm->vnc_path)
							     : xstrdup("");
	char *shown = feed_endpoint_shown(endpoint); /* never a password in a record */
	json_object_set_new(info, "capture", json_string(shown));
	free(shown);
	if (!*endpoint) {
		free(endpoint);
		fail(reason, words, "no-capture",
		     "a physical card needs a capture endpoint (--capture ENDPOINT or 'capture' in its station)");
		return -1;
	}
	/* Watched through a capture device (--capture, a station's), or QEMU's
	 * own display: each is asked for the encodings that suit it. */
	vm->feed = feed_open(endpoint, s->capture ? FEED_CAPTURE_DEVICE : FEED_QEMU,
			     now_ms() + (int64_t)(VM_CONNECT_MS * s->scale), &err);
	free(endpoint);
	if (!vm->feed) {
		fail(reason, words, "capture-unreachable", err.msg);
		return -1;
	}
	if (qmp_execute(vm->qmp, "cont", NULL, NULL, now_ms() + (int64_t)(VM_CONNECT_MS * s->scale),
			&err) < 0) {
		fail(reason, words, "qmp", err.msg);
		return -1;
	}
	sb_addf(words, "QEMU %s started (%s), monitor, serial and capture connected",
		vm->qemu_version, env.accel);
	return 0;
}
