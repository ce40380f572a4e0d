/* run: see run.h. */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "confine.h"
#include "plan.h"
#include "engine.h"
#include "supervise.h"
#include "vm.h"

#define STDERR_TAIL_MAX 4096 /* how much of QEMU's stderr goes into the record */

struct run {
	const struct cell *cell;
	const struct run_opts *opts;
	struct run_result *res;
	struct vm vm;
	struct engine engine;
	int journal_failed; /* noted once */
	const char *sandbox; /* QEMU's -sandbox, or NULL (sandbox_note says why) */
	char sandbox_note[512];
};

/* An entry in the journal, if the run keeps one; obj is consumed. A journal
 * that cannot be written is noted in the record: the run goes on. */
static void journal_note(struct run *r, const char *e, json_t *obj)
{
	struct hil_err err;
	if (r->opts->journal && journal_append(r->opts->journal, e, obj, &err) < 0 &&
	    !r->journal_failed) {
		r->journal_failed = 1;
		json_array_append_new(json_object_get(r->engine.stages[ST_START].info, "notes"),
				      json_sprintf("journal: %s", err.msg));
	}
	json_decref(obj);
}

/* A stage was decided: its evidence reaches the disk before the journal
 * says so (a host that goes down next leaves a record to recover), then
 * the person watching hears of it. */
static void on_stage(void *ctx, enum stage_id s, const char *outcome)
{
	struct run *r = ctx;
	if (r->vm.serial_log)
		fsync(fileno(r->vm.serial_log));
	journal_note(r, "stage", json_pack("{s:s, s:s, s:s}", "run_id", r->res->run_id, "stage",
					   stage_names[s], "outcome", outcome));
	if (r->opts->on_stage)
		r->opts->on_stage(r->opts->on_stage_ctx, stage_names[s], outcome);
}

/* Unless forced: a physical card under KVM (VFIO passes it to a VM with
 * the host's own virtualisation); an emulated card's cells under the
 * accelerator that boots their guest faster on this host (accel.h); a
 * lab's own image (Windows: minutes under TCG, too long to time) under KVM
 * when /dev/kvm answers. */
static const char *choose_accel(const struct run *r, char *reason, size_t n)
{
	const struct run_opts *o = r->opts;
	const struct guest *g = r->cell->guest;
	if (o->accel) {
		snprintf(reason, n, "chosen with --accel");
		return o->accel;
	}
	if (r->cell->card->kind == CARD_VFIO) {
		snprintf(reason, n, "a physical card runs under KVM");
		return "kvm";
	}
	if (!g->image)
		return accel_probe_dev_kvm(reason, n);
	char *cache = xasprintf("%s/accel-cache.json", o->out_dir);
	char *image = xasprintf("%s/%s", o->guest_dir, g->image);
	char *kernel = g->kernel ? xasprintf("%s/%s", o->guest_dir, g->kernel) : NULL;
	/* What the cell's QEMU boots, with the std VGA for its card; a
	 * kernel guest's agent says hello and powers off (hilrun.trial). */
	char *append = g->cmdline ? xasprintf("%s hilrun.trial", g->cmdline) : NULL;
	struct argv boot = ARGV_INIT;
	argv_push(&boot, "-device");
	argv_push(&boot, "VGA");
	qemu_guest_boot(&boot, g, image, g->media == MEDIA_DISK ? qemu_disk_format(image) : NULL,
			kernel, append);
	const struct accel_timed t = {
		.qemu = o->qemu,
		.firmware_bin = qemu_firmware_bin(r->cell->firmware),
		.guest = g->id,
		.boot = (const char *const *)boot.v,
		.memory_mb = qemu_memory_mb(g, r->cell->firmware),
		.needle = "HILRUN/1 guest hello",
	};
	const char *accel = accel_choose_timed(&t, cache, reason, n);
	argv_release(&boot);
	free(append);
	free(kernel);
	free(image);
	free(cache);
	return accel;
}

/* Start QEMU and hand the engine its first event; then the loop. */
static void run_vm(struct run *r, const char *accel, double scale, struct argv *argv)
{
	const struct run_opts *o = r->opts;
	struct engine *e = &r->engine;
	char reason[32];
	struct strbuf words = STRBUF_INIT;
	const struct guest *g = r->cell->guest;
	char *image = plan_guest_image(r->cell, o->guest_dir, o->windows_image);
	char *kernel = g->kernel ? xasprintf("%s/%s", o->guest_dir, g->kernel) : NULL;
	const struct vm_start start = {
		.cell = r->cell,
		.env = { .qemu = o->qemu, .accel = accel, .guest_image = image, .guest_kernel = kernel,
			 .guest_image_format = g->media == MEDIA_DISK ? qemu_disk_format(image) : NULL,
			 .host = o->host, .rom = o->rom, .sandbox = r->sandbox },
		.capture = o->capture,
		.scale = scale,
	};
	if (!r->vm.serial_log || !r->vm.events_log) {
		engine_feed(e, &(struct event){ .kind = EV_START_FAILED, .t = now_ms(), .reason = "record",
						.text = "cannot create the run's log files" });
	} else if (vm_start(&r->vm, &start, argv, e->stages[ST_START].info, reason, &words) < 0) {
		engine_feed(e, &(struct event){ .kind = EV_START_FAILED, .t = now_ms(), .reason = reason,
						.text = sb_str(&words) });
	} else {
		e->set.serial_fd = r->vm.serial_fd; /* connected only now */
		engine_feed(e, &(struct event){ .kind = EV_STARTED, .t = now_ms(), .text = sb_str(&words) });
		char *cache = xasprintf("%s/accel-cache.json", o->out_dir);
		const struct supervise_opts so = {
			.signal_fd = o->signal_fd,
			.watchdog_fd = o->watchdog_fd,
			.timeout_scale = o->timeout_scale,
			.qemu = o->qemu,
			.firmware_bin = qemu_firmware_bin(r->cell->firmware),
			.accel = accel,
			.accel_cache = cache,
		};
		r->res->interrupted = supervise(&r->vm, e, &so);
		free(cache);
	}
	sb_release(&words);
	free(image);
	free(kernel);
}

/* The QEMU argv as words in the record and as one line a person can paste. */
static void keep_argv(struct run *r, json_t *rec, const struct argv *argv)
{
	json_t *words = json_array();
	for (size_t i = 0; i < argv->n; i++)
		json_array_append_new(words, json_string(argv->v[i]));
	json_object_set_new(rec, "qemu_argv", words);
	char *display = argv_to_display(argv);
	char *line = xasprintf("%s\n", display);
	char *path = xasprintf("%s/qemu-argv.txt", r->vm.run_dir);
	struct hil_err err;
	write_file_atomic(path, line, strlen(line), &err);
	free(path);
	free(line);
	free(display);
}

/* The record: what record_build states of every run, and what only a run
 * that ran knows. */
static json_t *build_record(struct run *r, const char *started_at, const char *accel,
			    const char *accel_reason, double scale, const struct argv *argv)
{
	const struct cell *cell = r->cell;
	const struct engine *e = &r->engine;
	char finished_at[32];
	utc_iso8601(finished_at);
	json_t *card = record_card(cell->card);
	const struct record_facts facts = {
		.run_id = r->res->run_id,
		.card = card,
		.firmware = cell->firmware,
		.guest = cell->guest->id,
		.variant = cell->variant->name,
		.station = r->opts->station,
		.accel = accel,
		.accel_reason = accel_reason,
		.expected = card_expected(cell->card, cell->firmware, cell->guest->id),
		.started_at = started_at,
		.finished_at = finished_at,
		.t_start = e->t_start,
		.duration_ms = now_ms() - e->t_start,
		.stages = e->stages,
		.stage_set = e->proven,
	};
	json_t *rec = record_build(&facts);
	json_decref(card);
	char qemu_exit[128] = "not started";
	if (r->vm.qemu.pid)
		proc_describe(&r->vm.qemu, qemu_exit, sizeof qemu_exit);
	json_object_set_new(rec, "firmware_file", json_string(qemu_firmware_bin(cell->firmware) ?: ""));
	json_object_set_new(rec, "retry_of", r->opts->retry_of ? json_string(r->opts->retry_of) : json_null());
	json_object_set_new(rec, "timeout_scale", json_real(scale));
	json_object_set_new(rec, "sandbox", r->sandbox ? json_string(r->sandbox) : json_null());
	if (!r->sandbox)
		json_object_set_new(rec, "sandbox_note", json_string(r->sandbox_note));
	json_t *host = json_object_get(rec, "host");
	json_object_set_new(host, "qemu_version", json_string(r->vm.qemu_version));
	json_object_set_new(host, "tesseract_version", json_string(ocr_version()));
	json_object_set_new(host, "hilrun_version", json_string(HILRUN_VERSION));
	json_object_set_new(rec, "font", r->opts->font ? json_string(r->opts->font->source) : json_null());
	json_object_set(rec, "guest_reports", e->reports);
	json_object_set(rec, "guest_pci_display", e->said.pci);
	json_object_set_new(rec, "protocol_errors", json_integer(e->protocol_errors));
	char *tail = r->vm.qemu.pid ? vm_stderr_tail(&r->vm, STDERR_TAIL_MAX) : xstrdup("");
	json_object_set_new(rec, "qemu", json_pack("{s:s, s:s, s:s}", "version", r->vm.qemu_version,
						   "exit", qemu_exit, "stderr_tail", tail));
	free(tail);
	keep_argv(r, rec, argv);
	return rec;
}

void run_result_release(struct run_result *res)
{
	free(res->run_id);
	free(res->run_dir);
	json_decref(res->record);
	memset(res, 0, sizeof *res);
}

int run_cell(const struct cell *cell, const struct run_opts *opts, struct run_result *res,
	     struct hil_err *err)
{
	struct run r = { .cell = cell, .opts = opts, .res = res };
	memset(res, 0, sizeof *res);
	const int64_t t_start = now_ms();
	res->run_id = record_new_run_id(cell->card->id, cell->firmware, cell->guest->id,
					cell->variant->name);
	char started_at[32];
	utc_iso8601(started_at);
	if (opts->on_stage)
		opts->on_stage(opts->on_stage_ctx, NULL, NULL);

	/* Assembled in OUT/runs/.tmp-RUNID, renamed whole to OUT/runs/RUNID. */
	char *tmp_dir = xasprintf("%s/runs/.tmp-%s", opts->out_dir, res->run_id);
	char *final_dir = xasprintf("%s/runs/%s", opts->out_dir, res->run_id);
	char *tmp_rel = xasprintf("runs/.tmp-%s", res->run_id);
	vm_init(&r.vm);
	/* beneath OUT (confine.h): never a run written through a link out */
	const int made = confine_mkdir(opts->out_dir, tmp_rel, err);
	free(tmp_rel);
	if (made < 0 || vm_prepare(&r.vm, tmp_dir, err) < 0) {
		snprintf(res->verdict, sizeof res->verdict, "error:record");
		vm_release(&r.vm);
		free(tmp_dir);
		free(final_dir);
		return -1;
	}

	char accel_reason[320];
	const char *accel = choose_accel(&r, accel_reason, sizeof accel_reason);
	r.sandbox = qemu_sandbox(opts->qemu, r.sandbox_note, sizeof r.sandbox_note);
	const double timeout_scale = opts->timeout_scale > 0 ? opts->timeout_scale : 1.0;
	double scale = timeout_scale;
	if (!strcmp(accel, "tcg"))
		scale *= 3; /* software emulation is slower: widen every window */
	const struct engine_setup setup = {
		.cell = cell,
		.tmp_dir = tmp_dir,
		.serial_fd = -1,
		.scale = scale,
		.display_scale = timeout_scale,
		.accel = accel,
		.font = opts->font,
		.guest_font = opts->guest_font,
		.ocr = opts->ocr,
		/* Frames from QEMU's own VNC are read pixel for pixel; a capture
		 * box's are scaled. */
		.own_display = !opts->capture && cell->card->kind == CARD_EMULATED,
		.on_stage = on_stage,
		.ctx = &r,
	};
	engine_init(&r.engine, &setup, t_start);

	/* In the journal before QEMU starts: if the host or hilrun goes down
	 * from here on, the next hilrun finds this run and records it. */
	journal_note(&r, "start",
		     json_pack("{s:s?, s:s?, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s?, "
			       "s:s}",
			       "plan", opts->plan_id, "cell", opts->cell_key, "run_id", res->run_id,
			       "tmp_dir", tmp_dir, "sock_dir", r.vm.sock_dir, "card",
			       record_card(cell->card), "firmware", cell->firmware, "guest",
			       cell->guest->id, "stages", cell->guest->stages, "variant",
			       cell->variant->name, "accel", accel,
			       "accel_reason", accel_reason, "station", opts->station, "expected",
			       card_expected(cell->card, cell->firmware, cell->guest->id)));

	struct argv argv = ARGV_INIT;
	run_vm(&r, accel, scale, &argv);
	vm_stop(&r.vm, 3000);
	vm_log_events(&r.vm);

	res->seconds = (double)(now_ms() - t_start) / 1000.0;
	res->record = build_record(&r, started_at, accel, accel_reason, scale, &argv);
	argv_release(&argv);
	vm_close_logs(&r.vm); /* before their checksums */
	int rc = 0;
	if (record_commit_or_shed(res->record, tmp_dir, final_dir, err) < 0) {
		snprintf(res->verdict, sizeof res->verdict, "error:record");
		rc = -1;
	} else {
		res->run_dir = xstrdup(final_dir);
		snprintf(res->verdict, sizeof res->verdict, "%s",
			 json_string_value(json_object_get(res->record, "verdict")));
	}
	journal_note(&r, "finish",
		     json_pack("{s:s?, s:s?, s:s, s:s, s:s?}", "plan", opts->plan_id, "cell",
			       opts->cell_key, "run_id", res->run_id, "verdict", res->verdict,
			       "run_dir", res->run_dir));
	engine_release(&r.engine);
	vm_release(&r.vm);
	free(tmp_dir);
	free(final_dir);
	return rc;
}
