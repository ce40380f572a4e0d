/* cmd_run: hilrun --card ID [...]: one invocation. The options, where a
 * physical card sits (its station), the plan of cells (journalled, so that
 * a host that goes down resumes it), then each cell run (run/run.h) with
 * retries, and a summary. Several cards (--card a,b,c, --all) share one
 * plan and run a worker process per cell, -j at once (fanout.h), each
 * through the one-card path. Also hilrun resume, which runs what the journal says
 * was left undone through the same path.
 *
 * Ownership: an invocation owns its cells, keys, readers, journal, lock
 * and descriptors, and releases them in invocation_release. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "fanout.h"
#include "feed.h"
#include "journal.h"
#include "lock.h"
#include "ocr.h"
#include "plan.h"
#include "preflight.h"
#include "qemu_argv.h"
#include "recover.h"
#include "rom.h"
#include "run.h"
#include "vgafont.h"
#include "watchdog.h"

struct run_args {
	const char *card; /* one id, or several, comma-separated */
	int all, jobs;
	struct cell_filter filter;
	const char *host, *rom, *capture, *accel;
	const char *windows_image;
	const char *font;
	double timeout_scale;
	int json, dry_run, wait, retries;
	const char *watchdog;
};

/* A cell of a larger invocation, run in a worker process: which (the
 * card's others are left to other workers), where the card's cells sit in
 * the whole plan (for their labels), and the pipe its summary, records
 * and live line go to (fanout.h). */
struct part {
	int control_fd;
	size_t first, total;
	const char *only; /* the cell's key */
};

/* While a plan that already exists runs: its id, and the cells it already
 * finished (skipped). The plan is one from the journal being replayed, or
 * a worker's parent's (part). NULL otherwise. */
struct resume {
	const char *plan;
	json_t *finished;
	const struct part *part;
};
static struct resume *resuming;

static int parse_args(int argc, char **argv, struct settings *s, struct run_args *a)
{
	static const struct option longopts[] = {
		{ "card", required_argument, NULL, 'C' },
		{ "all", no_argument, NULL, 'A' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "guest", required_argument, NULL, 'g' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "variant", required_argument, NULL, 'v' },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "accel", required_argument, NULL, 'a' },
		{ "timeout-scale", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "rom", required_argument, NULL, 'r' },
		{ "capture", required_argument, NULL, 'p' },
		{ "stations", required_argument, NULL, 's' },
		{ "cards", required_argument, NULL, 'c' },
		{ "guests", required_argument, NULL, 'G' },
		{ "qemu", required_argument, NULL, 'q' },
		{ "font", required_argument, NULL, 'F' },
		{ "wait", no_argument, NULL, 'w' },
		{ "watchdog", required_argument, NULL, 'W' },
		{ "retries", required_argument, NULL, 'e' },
		{ "windows-image", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	*a = (struct run_args){ .timeout_scale = 1.0, .retries = 1, .jobs = 1 };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "j:", longopts, NULL)) != -1) {
		switch (c) {
		case 'C': a->card = optarg; break;
		case 'A': a->all = 1; break;
		case 'j': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > 64) {
				say_error("-j/--jobs: expected a number of cells at once from 1 to 64, got '%s'",
					  optarg);
				return -1;
			}
			a->jobs = (int)n;
			break;
		}
		case 'g': a->filter.guest = optarg; break;
		case 'f': a->filter.firmware = optarg; break;
		case 'v': a->filter.variant = optarg; break;
		case 'o': s->out_dir = optarg; break;
		case 'J': a->json = 1; break;
		case 'n': a->dry_run = 1; break;
		case 'a': a->accel = optarg; break;
		case 't': {
			char *end;
			a->timeout_scale = strtod(optarg, &end);
			if (*end || a->timeout_scale <= 0 || a->timeout_scale > 100) {
				say_error("--timeout-scale: expected a number between 0 and 100, got '%s'", optarg);
				return -1;
			}
			break;
		}
		case 'H': a->host = optarg; break;
		case 'r': a->rom = optarg; break;
		case 'p': a->capture = optarg; break;
		case 's': s->stations = optarg; break;
		case 'c': s->cards_dir = optarg; break;
		case 'G': s->guest_dir = optarg; break;
		case 'q': s->qemu = optarg; break;
		case 'F': a->font = optarg; break;
		case 'w': a->wait = 1; break;
		case 'W': a->watchdog = optarg; break;
		case 'I': a->windows_image = optarg; break;
		case 'e': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 0 || n > 10) {
				say_error("--retries: expected a number from 0 to 10, got '%s'", optarg);
				return -1;
			}
			a->retries = (int)n;
			break;
		}
		default:
			fputs(usage_text, stderr);
			return -1;
		}
	}
	if (optind < argc) {
		say_error("unexpected argument '%s' (see hilrun help)", argv[optind]);
		return -1;
	}
	if (!a->card && !a->all) {
		say_error("no card given: use --card ID[,ID...] or --all (hilrun list shows the cards)");
		return -1;
	}
	if (a->card && a->all) {
		say_error("--card and --all: give one or the other");
		return -1;
	}
	if (a->accel && strcmp(a->accel, "kvm") && strcmp(a->accel, "tcg")) {
		say_error("--accel: expected 'kvm' or 'tcg', got '%s'", a->accel);
		return -1;
	}
	return 0;
}

/* Where the cells run: a physical card's station (--host is a one-off
 * one, else the stations file names it); nothing for an emulated card.
 * The lab's Windows image: --windows-image, else the station's. */
struct where {
	const char *host, *rom, *capture;
	const char *station; /* its name for the record, "one-off", or NULL */
	const char *windows_image;
	const struct argv *companions; /* the station's, or NULL */
};

static int locate(const struct catalog *cat, const struct card *card, const struct run_args *a,
		  struct where *w)
{
	*w = (struct where){ a->host, a->rom, a->capture, a->host ? "one-off" : NULL, a->windows_image, NULL };
	if (card->kind == CARD_VFIO) {
		const struct station *st = catalog_find_station(cat, card->id);
		if (st) {
			w->host = w->host ?: st->host;
			w->rom = w->rom ?: st->rom;
			w->capture = w->capture ?: st->capture;
			w->windows_image = w->windows_image ?: st->windows_image;
			w->station = st->name;
			w->companions = &st->companions;
		}
		if (!w->host) {
			say_error("card %s is a physical (vfio) card: give --host BDF or a --stations file with a station for it",
				  card->id);
			return -1;
		}
	} else if (a->host || a->rom) {
		say_error("card %s is emulated: --host and --rom are for physical cards", card->id);
		return -1;
	}
	if (w->windows_image && access(w->windows_image, R_OK) < 0) {
		say_error("Windows image %s: %s", w->windows_image, strerror(errno));
		return -1;
	}
	struct rom_info info;
	struct hil_err err;
	if (w->rom && rom_check(w->rom, card->vendor, card->device, &info, &err) < 0) {
		say_error("%s", err.msg);
		return -1;
	}
	return 0;
}

/* The command line's narrowing names only what the card has: each name
 * of each list (--guest a,b). */
static int check_filter(const struct card *card, const struct cell_filter *f)
{
	static const char *const what[] = { "runs no guest", "runs no firmware", "has no variant" };
	static const char *const lists[] = { "guests", "firmware", "variants" };
	const char *const given[] = { f->guest, f->firmware, f->variant };
	for (int k = 0; k < 3; k++) {
		if (!given[k])
			continue;
		char *list = xstrdup(given[k]), *save = NULL;
		for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
			int has = k == 0 ? card_has_guest(card, name)
				  : k == 1 ? card_has_firmware(card, name)
					   : card_find_variant(card, name) != NULL;
			if (!has) {
				say_error("card %s %s '%s' (%s lists its %s)", card->id, what[k], name,
					  card->path, lists[k]);
				free(list);
				return -1;
			}
		}
		free(list);
	}
	return 0;
}

/* A guest that runs a lab's own image (windows) needs one: asked for by
 * --guest, its absence is an error; else its cells are left out of the
 * plan, said once. Returns -1 on the error. */
static int plan_without_missing_images(struct cell *cells, size_t *n, const struct where *w,
				       const struct cell_filter *f, int quiet)
{
	if (w->windows_image)
		return 0;
	size_t kept = 0, dropped = 0;
	for (size_t i = 0; i < *n; i++) {
		if (cells[i].guest->image)
			cells[kept++] = cells[i];
		else
			dropped++;
	}
	if (!dropped)
		return 0;
	const char *how = "give --windows-image FILE, or 'windows-image' in the card's station";
	if (f->guest) {
		say_error("guest %s runs a lab's own Windows image, and none is named: %s", f->guest, how);
		return -1;
	}
	if (!quiet)
		say_error("note: %zu windows cell%s left out: no Windows image is named (%s)", dropped,
			  dropped == 1 ? "" : "s", how);
	*n = kept;
	return 0;
}

/* --dry-run: each cell's QEMU argv, with placeholders for what a run
 * creates (its socket directory). */
static int dry_run(const struct cell *cells, size_t n, const struct settings *s,
		   const struct run_args *a, const struct where *w)
{
	int rc = EXIT_OK;
	for (size_t i = 0; i < n; i++) {
		struct argv qa = ARGV_INIT;
		struct hil_err err;
		char note[512];
		char *image = plan_guest_image(&cells[i], s->guest_dir, w->windows_image);
		char *kernel = cells[i].guest->kernel
				       ? xasprintf("%s/%s", s->guest_dir, cells[i].guest->kernel)
				       : NULL;
		struct qemu_env env = {
			.qemu = s->qemu,
			.accel = a->accel ? a->accel : "kvm",
			.guest_image = image,
			.guest_kernel = kernel,
			.guest_image_format = cells[i].guest->media == MEDIA_DISK ? qemu_disk_format(image) : NULL,
			.qmp_socket = "/tmp/hilrun-XXXXXX/qmp.sock",
			.serial_socket = "/tmp/hilrun-XXXXXX/com1.sock",
			.vnc_socket = "/tmp/hilrun-XXXXXX/vnc.sock",
			.host = w->host,
			.rom = w->rom,
			.start_paused = 1,
			.sandbox = qemu_sandbox(s->qemu, note, sizeof note),
		};
		if (qemu_argv(&qa, &cells[i], &env, &err) < 0) {
			say_error("%s", err.msg);
			rc = EXIT_USAGE;
		} else {
			char *line = argv_to_display(&qa);
			printf("# %s %s/%s %s\n%s\n", cells[i].card->id, cells[i].firmware,
			       cells[i].guest->id, cells[i].variant->name, line);
			free(line);
		}
		free(image);
		free(kernel);
		argv_release(&qa);
	}
	return rc;
}

/* The text readers: tesseract, and the decoder's glyphs: --font; else a
 * physical card's own ROM file (its VGA BIOS draws the text: its font
 * reads it exactly); else the installed SeaBIOS VGA BIOS. A card ROM with
 * no 8x16 font we can find falls back to SeaBIOS's, said so. An OS
 * guest's framebuffer console draws with SeaBIOS's (the linux-drm agent
 * gives it that font): guest_font. */
static int open_readers(const struct run_args *a, const char *rom, struct ocr **ocr,
			struct vgafont *font, struct vgafont *guest_font)
{
	struct hil_err err;
	*ocr = ocr_open(&err);
	if (!*ocr) {
		say_error("cannot load the text reader: %s", err.msg);
		return -1;
	}
	const char *font_rom = a->font ? a->font : rom ? rom : VGAFONT_DEFAULT_ROM;
	int font_ok = vgafont_from_rom(font, font_rom, &err) == 0;
	if (!font_ok && !a->font && rom) {
		say_error("warning: no 8x16 font in the card's ROM (%s); reading text with %s", err.msg,
			  VGAFONT_DEFAULT_ROM);
		font_ok = vgafont_from_rom(font, VGAFONT_DEFAULT_ROM, &err) == 0;
	}
	if (font_ok && vgafont_from_rom(guest_font, VGAFONT_DEFAULT_ROM, &err) < 0)
		font_ok = 0;
	if (!font_ok) {
		say_error("cannot load the VGA font: %s", err.msg);
		ocr_close(*ocr);
		*ocr = NULL;
		return -1;
	}
	return 0;
}

/* Live progress: on a terminal, one line per cell, rewritten stage by
 * stage; in a worker, that line goes to the parent, which shows it. */
struct progress {
	int tty;
	int live_fd; /* a worker's control pipe, or -1 */
	char label[160];
	struct strbuf stages;
};

static void on_stage(void *ctx, const char *stage, const char *outcome)
{
	struct progress *p = ctx;
	if (!stage)
		sb_release(&p->stages);
	else
		sb_addf(&p->stages, " %s:%s", stage, outcome);
	if (p->live_fd >= 0) {
		char *line = xasprintf("%s:%s", p->label, stage ? sb_str(&p->stages) : " starting");
		fanout_send(p->live_fd, 'L', line);
		free(line);
	}
	if (!p->tty)
		return;
	if (!stage)
		fprintf(stderr, "%s: starting", p->label);
	else
		fprintf(stderr, "\r\033[K%s:%s", p->label, sb_str(&p->stages));
	fflush(stderr);
}

/* One invocation's cells and what they share while they run. */
struct invocation {
	const struct card *card;
	struct cell *cells;
	char **keys;
	size_t ncells;
	const struct run_args *a;
	struct where where;
	struct ocr *ocr;
	struct vgafont font;
	struct vgafont guest_font; /* what an OS guest's framebuffer console draws with */
	struct journal journal;
	int journal_open;
	struct card_lock lock;
	int locked;
	char plan_id[64];
	int wdfd, sfd;
	struct progress prog;
	json_t *records, *summary;
	int any_unexpected, any_lab, interrupted;
};

static void invocation_release(struct invocation *inv)
{
	struct hil_err err;
	if (inv->locked)
		card_unlock(&inv->lock);
	if (inv->journal_open)
		journal_close(&inv->journal);
	ocr_close(inv->ocr);
	if (watchdog_close(inv->wdfd, &err) < 0)
		say_error("warning: %s", err.msg);
	if (inv->sfd >= 0)
		close(inv->sfd);
	for (size_t i = 0; inv->keys && i < inv->ncells; i++)
		free(inv->keys[i]);
	free(inv->keys);
	free(inv->cells);
	json_decref(inv->records);
	json_decref(inv->summary);
	sb_release(&inv->prog.stages);
}

/* SIGINT/SIGTERM/SIGHUP arrive as a file descriptor in the run's poll
 * loop, so an interrupted run still ends QEMU and writes its record. */
static int signals_as_fd(void)
{
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Run cell i, and again while it fails unexpectedly (--retries): one that
 * then passes is flaky, recorded as such, and not red. */
static void run_with_retries(struct invocation *inv, size_t i, const struct settings *s)
{
	const struct run_args *a = inv->a;
	const struct cell *cell = &inv->cells[i];
	struct run_opts ro = {
		.out_dir = s->out_dir,
		.guest_dir = s->guest_dir,
		.windows_image = inv->where.windows_image,
		.qemu = s->qemu,
		.accel = a->accel,
		.host = inv->where.host,
		.rom = inv->where.rom,
		.capture = inv->where.capture,
		.station = inv->where.station,
		.timeout_scale = a->timeout_scale,
		.ocr = inv->ocr,
		.font = &inv->font,
		.guest_font = &inv->guest_font,
		.signal_fd = inv->sfd,
		.on_stage = on_stage,
		.on_stage_ctx = &inv->prog,
		.journal = inv->journal_open ? &inv->journal : NULL,
		.plan_id = inv->plan_id,
		.cell_key = inv->keys[i],
		.watchdog_fd = inv->wdfd,
	};
	const char *want = card_expected(inv->card, cell->firmware, cell->guest->id);
	char *failed_run = NULL;
	for (int attempt = 0;; attempt++) {
		ro.retry_of = failed_run;
		struct run_result res;
		struct hil_err err;
		int rc = run_cell(cell, &ro, &res, &err);
		int as_expected = rc == 0 && !strcmp(res.verdict, want);
		int lab = !strncmp(res.verdict, "error:", 6);
		int retry = !as_expected && !lab && !res.interrupted && attempt < a->retries;
		inv->interrupted = res.interrupted;
		if (inv->prog.tty)
			fputs("\r\033[K", stderr);
		const char *note = as_expected ? (failed_run && !strcmp(res.verdict, "pass")
						  ? " (flaky: passed on retry)" : "")
				   : lab   ? " (lab/harness error)"
				   : retry ? " (unexpected: retrying)"
					   : " (unexpected)";
		fprintf(stderr, "%s: %s%s  %.1fs  %s\n", inv->prog.label, res.verdict, note, res.seconds,
			res.run_dir ? res.run_dir : "(no record)");
		if (rc < 0)
			say_error("the run record could not be written: %s", err.msg);
		if (res.record && rc == 0)
			json_array_append(inv->records, res.record);
		if (!retry) {
			inv->any_unexpected |= !as_expected && !lab;
			inv->any_lab |= lab;
			const char *what = as_expected ? (failed_run ? "flaky" : NULL)
					   : lab       ? "lab error"
							: "unexpected";
			if (what)
				json_array_append_new(inv->summary, json_sprintf("%s: %s (%s)", what,
										 inv->keys[i], res.verdict));
			run_result_release(&res);
			break;
		}
		free(failed_run);
		failed_run = xstrdup(res.run_id);
		run_result_release(&res);
	}
	free(failed_run);
}

static void say_hook(void *ctx, const char *msg)
{
	(void)ctx;
	say_error("%s", msg);
}

static void on_recovered(void *ctx, const struct recovered *r)
{
	int *rc = ctx;
	say_error("recovered %s: %s (%s); record in %s", r->run_id, r->verdict, r->why, r->run_dir);
	*rc = exit_worse(*rc, !strncmp(r->verdict, "error:", 6) ? EXIT_LAB : EXIT_UNEXPECTED);
}

/* A plan the journal says was not finished: its command line again. */
static enum resume_result run_plan(void *ctx, const char *plan_id, json_t *finished, int argc,
				   char **argv)
{
	int *rc = ctx;
	struct settings s;
	settings_defaults(&s);
	struct resume r = { plan_id, finished, NULL };
	resuming = &r;
	int prc = cmd_run(argc, argv, &s);
	resuming = NULL;
	*rc = exit_worse(*rc, prc);
	return prc == EXIT_USAGE ? RESUME_INVALID
	       : prc == EXIT_INTERRUPTED ? RESUME_INTERRUPTED
					 : RESUME_RAN;
}

/* What the journal says was left undone; the worst exit code of it. */
static int recover_and_resume(struct journal *j, int *plans)
{
	int rc = EXIT_OK;
	struct resume_hooks h = { on_recovered, say_hook, run_plan, &rc };
	struct hil_err err;
	if (recover_and_resume_plans(j, &h, plans, &err) < 0)
		rc = exit_worse(rc, EXIT_LAB);
	return rc;
}

/* The invocation as the journal and the card lock keep it: without a
 * capture URL's password (snapshot.h: a resume takes it from the
 * environment). */
static char **kept_argv(int argc, char **argv)
{
	char **kept = xcalloc((size_t)argc + 1, sizeof *kept);
	for (int i = 0; i < argc; i++)
		kept[i] = feed_endpoint_shown(argv[i]); /* also --capture=URL */
	return kept;
}

static void free_kept(char **kept, int argc)
{
	for (int i = 0; i < argc; i++)
		free(kept[i]);
	free(kept);
}

/* The journal, and what an earlier hilrun left undone (unless this runs a
 * plan that exists). Returns 0, or the exit code to give up with. */
static int open_journal(struct journal *j, const struct settings *s, int *earlier)
{
	struct hil_err err;
	if (journal_open(j, s->out_dir, &err) < 0) {
		say_error("%s", err.msg);
		return EXIT_LAB;
	}
	if (!resuming) {
		int nplans;
		*earlier = recover_and_resume(j, &nplans);
		if (*earlier == EXIT_INTERRUPTED)
			return EXIT_INTERRUPTED;
	}
	return 0;
}

/* The plan's id: a new one, journalled with the invocation and every cell
 * key, or the existing plan's. */
static void start_plan(struct journal *j, int argc, char **kept, char **keys, size_t nkeys,
		       char *plan_id, size_t n)
{
	if (resuming) {
		snprintf(plan_id, n, "%s", resuming->plan);
		return;
	}
	struct hil_err err;
	plan_new_id(plan_id, n);
	json_t *pl = plan_entry(plan_id, argc, kept, keys, nkeys);
	if (journal_append(j, "plan", pl, &err) < 0)
		say_error("warning: %s (the run goes on, unjournalled)", err.msg);
	json_decref(pl);
}

static void end_plan(struct journal *j, const char *plan_id, int interrupted)
{
	/* Interrupted on purpose is done too: the next hilrun does not resume
	 * what a person stopped. */
	struct hil_err err;
	json_t *done = json_pack("{s:s, s:b}", "plan", plan_id, "interrupted", interrupted);
	if (journal_append(j, "plan-done", done, &err) < 0)
		say_error("warning: %s", err.msg);
	json_decref(done);
}

/* Journal (and what an earlier hilrun left undone), the card's lock, the
 * plan, the watchdog, the signals: everything the cells need before the
 * first starts. Returns 0, or the exit code to give up with. */
static int prepare(struct invocation *inv, int argc, char **argv, const struct settings *s,
		   int *earlier)
{
	const struct run_args *a = inv->a;
	struct hil_err err;
	int rc = open_journal(&inv->journal, s, earlier);
	inv->journal_open = rc != EXIT_LAB;
	if (rc)
		return rc;
	char **kept = kept_argv(argc, argv);
	char holder[512];
	struct strbuf cmdline = STRBUF_INIT;
	for (int i = 0; i < argc; i++)
		sb_addf(&cmdline, "%s%s", i ? " " : "", kept[i]);
	int lr = card_lock(&inv->lock, s->out_dir, inv->card->id, a->wait, sb_str(&cmdline), holder,
			   sizeof holder, &err);
	sb_release(&cmdline);
	if (lr != 0) {
		if (lr > 0)
			say_error("card %s is being run by %s; wait for it to finish, or give --wait "
				  "to queue behind it",
				  inv->card->id, holder);
		else
			say_error("%s", err.msg);
		free_kept(kept, argc);
		return EXIT_LAB;
	}
	inv->locked = 1;

	/* Petted from here on while hilrun is healthy (watchdog.h). */
	if (a->watchdog && (inv->wdfd = watchdog_open(a->watchdog, &err)) < 0) {
		say_error("%s", err.msg);
		free_kept(kept, argc);
		return EXIT_LAB;
	}

	inv->keys = xcalloc(inv->ncells, sizeof *inv->keys);
	for (size_t i = 0; i < inv->ncells; i++)
		inv->keys[i] = plan_cell_key(&inv->cells[i]);
	start_plan(&inv->journal, argc, kept, inv->keys, inv->ncells, inv->plan_id,
		   sizeof inv->plan_id);
	free_kept(kept, argc);
	inv->sfd = signals_as_fd();
	return 0;
}

/* What needs a look, named, after the per-cell lines. */
static void print_summary(json_t *summary)
{
	size_t i;
	json_t *line;
	json_array_foreach(summary, i, line)
		fprintf(stderr, "%s %s\n", i ? "          " : "summary:", json_string_value(line));
}

static void print_records(json_t *records)
{
	json_dumpf(records, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
}

/* One card's cells: the whole invocation, or (resuming->part) a worker's
 * share of several cards' plan. */
static int run_card(const struct card *card, const struct run_args *a, const struct catalog *cat,
		    const struct settings *s, int argc, char **argv)
{
	const struct part *part = resuming ? resuming->part : NULL;
	struct invocation inv = { .card = card, .a = a, .wdfd = -1, .sfd = -1, .records = json_array(),
				  .summary = json_array(),
				  .prog = { .tty = isatty(2), .live_fd = part ? part->control_fd : -1 } };
	sb_init(&inv.prog.stages);
	int exit_code = EXIT_USAGE, earlier = EXIT_OK;
	/* --all narrows each card to what it has (run_cards). */
	if ((!part || !a->all) && check_filter(inv.card, &a->filter) < 0)
		goto out;
	if (locate(cat, inv.card, a, &inv.where) < 0)
		goto out;
	inv.ncells = plan_cells(inv.card, &a->filter, &inv.cells);
	if (plan_without_missing_images(inv.cells, &inv.ncells, &inv.where, &a->filter, part != NULL) < 0)
		goto out;
	if (!inv.ncells) {
		say_error("card %s has no cell matching the options given", inv.card->id);
		goto out;
	}
	if (a->dry_run) {
		exit_code = dry_run(inv.cells, inv.ncells, s, a, &inv.where);
		goto out;
	}
	if (inv.card->kind == CARD_VFIO) {
		struct hil_err err;
		struct preflight_target t = { inv.card, inv.where.host, inv.where.capture,
					      inv.where.companions, 0 };
		for (size_t i = 0; i < inv.ncells; i++) {
			int mb = qemu_memory_mb(inv.cells[i].guest, inv.cells[i].firmware);
			t.memory_mb = mb > t.memory_mb ? mb : t.memory_mb;
		}
		int pf = preflight_vfio(&t, &err);
		if (pf < 0) {
			say_error("%s", err.msg);
			exit_code = pf == PREFLIGHT_CONFIG ? EXIT_USAGE : EXIT_LAB;
			goto out;
		}
	}
	exit_code = EXIT_LAB;
	if (open_readers(a, inv.where.rom, &inv.ocr, &inv.font, &inv.guest_font) < 0)
		goto out;
	int rc = prepare(&inv, argc, argv, s, &earlier);
	if (rc) {
		exit_code = exit_worse(rc, earlier);
		goto out;
	}

	const size_t first = part ? part->first : 0, total = part ? part->total : inv.ncells;
	for (size_t i = 0; i < inv.ncells && !inv.interrupted; i++) {
		snprintf(inv.prog.label, sizeof inv.prog.label, "[%zu/%zu] %s", first + i + 1, total,
			 inv.keys[i]);
		if (part && strcmp(inv.keys[i], part->only))
			continue;
		if (resuming && json_object_get(resuming->finished, inv.keys[i])) {
			fprintf(stderr, "%s: done before (%s)\n", inv.prog.label,
				json_string_value(json_object_get(resuming->finished, inv.keys[i])));
			continue;
		}
		run_with_retries(&inv, i, s);
	}
	if (part) {
		/* The parent says it all, with the other cards'. */
		size_t i;
		json_t *x;
		json_array_foreach(inv.summary, i, x)
			fanout_send(part->control_fd, 'S', json_string_value(x));
		json_array_foreach(inv.records, i, x) {
			char *text = a->json ? json_dumps(x, JSON_COMPACT) : NULL;
			if (text)
				fanout_send(part->control_fd, 'R', text);
			free(text);
		}
	} else {
		print_summary(inv.summary);
		if (a->json)
			print_records(inv.records);
		end_plan(&inv.journal, inv.plan_id, inv.interrupted);
	}
	exit_code = inv.interrupted ? EXIT_INTERRUPTED
		    : inv.any_unexpected ? EXIT_UNEXPECTED
		    : inv.any_lab ? EXIT_LAB : EXIT_OK;
	exit_code = exit_worse(exit_code, earlier);
out:
	invocation_release(&inv);
	return exit_code;
}

/* Several cards' invocation: each card's cells planned and checked here
 * (a bad option or card fails before anything runs), one plan journalled
 * for all, then a worker per cell (fanout.h), the longest first as the
 * last runs took (OUT/cell-times.json), never two of one card at once. */
struct several {
	const struct card **cards;
	size_t *first; /* each card's first cell in the plan */
	size_t ncards, ncells;
	char **keys;   /* the plan's cells */
	size_t *card_of;
	size_t *order; /* worker i runs cell order[i] */
	size_t *group; /* worker i's card */
	const struct run_args *a;
	const struct catalog *cat;
	const struct settings *s;
	int argc;
	char **argv;
	char plan_id[64];
};

static const char *several_cell(void *ctx, size_t i)
{
	const struct several *v = ctx;
	return v->keys[v->order[i]];
}

/* In the worker process: its cell, through the one-card path. */
static int several_work(void *ctx, size_t i, int control_fd)
{
	struct several *v = ctx;
	const size_t cell = v->order[i], card = v->card_of[cell];
	const struct part part = { control_fd, v->first[card], v->ncells, v->keys[cell] };
	json_t *none = json_object();
	struct resume r = { v->plan_id, resuming ? resuming->finished : none, &part };
	resuming = &r;
	struct run_args a = *v->a;
	a.watchdog = NULL; /* the parent pets it */
	int rc = run_card(v->cards[card], &a, v->cat, v->s, v->argc, v->argv);
	json_decref(none);
	return rc;
}

/* How long each cell's worker took last time, by key: what orders them. */
#define CELL_TIMES "cell-times.json"

static json_t *cell_times_load(const char *out_dir)
{
	char *path = xasprintf("%s/" CELL_TIMES, out_dir);
	json_error_t jerr;
	json_t *t = json_load_file(path, 0, &jerr);
	free(path);
	if (!json_is_object(t)) {
		json_decref(t);
		t = json_object();
	}
	return t;
}

static void cell_times_store(const char *out_dir, json_t *t)
{
	char *path = xasprintf("%s/" CELL_TIMES, out_dir);
	char *text = json_dumps(t, JSON_INDENT(2) | JSON_SORT_KEYS);
	struct hil_err err;
	if (text && write_file_atomic(path, text, strlen(text), &err) < 0)
		say_error("warning: %s", err.msg);
	free(text);
	free(path);
}

/* A cell to run and how long it took last time (INT64_MAX: never timed,
 * so it goes first: it may be long). */
struct timed_cell {
	int64_t ms;
	size_t cell;
};

/* Longest first; equal times in plan order. */
static int longest_first(const void *pa, const void *pb)
{
	const struct timed_cell *a = pa, *b = pb;
	if (a->ms != b->ms)
		return a->ms > b->ms ? -1 : 1;
	return a->cell < b->cell ? -1 : a->cell > b->cell;
}

/* The workers: the plan's cells not finished before, longest first. The
 * finished ones are said here, as a one-card hilrun says them. */
static size_t order_cells(struct several *v, json_t *times)
{
	size_t n = 0;
	struct timed_cell *todo = xcalloc(v->ncells, sizeof *todo);
	for (size_t c = 0; c < v->ncells; c++) {
		const json_t *done = resuming ? json_object_get(resuming->finished, v->keys[c]) : NULL;
		if (done) {
			fprintf(stderr, "[%zu/%zu] %s: done before (%s)\n", c + 1, v->ncells, v->keys[c],
				json_string_value(done));
			continue;
		}
		const json_t *ms = json_object_get(times, v->keys[c]);
		todo[n++] = (struct timed_cell){ json_is_integer(ms) ? json_integer_value(ms) : INT64_MAX, c };
	}
	qsort(todo, n, sizeof *todo, longest_first);
	v->order = xcalloc(v->ncells, sizeof *v->order);
	v->group = xcalloc(v->ncells, sizeof *v->group);
	for (size_t i = 0; i < n; i++) {
		v->order[i] = todo[i].cell;
		v->group[i] = v->card_of[todo[i].cell];
	}
	free(todo);
	return n;
}

static int run_cards(struct several *v)
{
	const struct run_args *a = v->a;
	const struct settings *s = v->s;
	/* The plan: every card's cells; the cards --all brings with no cell
	 * the options select are left out. */
	size_t kept_cards = 0;
	int rc = EXIT_USAGE, earlier = EXIT_OK, wdfd = -1, sfd = -1;
	struct journal j = { .fd = -1 };
	v->first = xcalloc(v->ncards, sizeof *v->first);
	for (size_t c = 0; c < v->ncards; c++) {
		const struct card *card = v->cards[c];
		struct where w;
		struct cell *cells = NULL;
		if (!a->all && check_filter(card, &a->filter) < 0)
			goto out;
		if (locate(v->cat, card, a, &w) < 0)
			goto out;
		size_t n = plan_cells(card, &a->filter, &cells);
		if (plan_without_missing_images(cells, &n, &w, &a->filter, 0) < 0) {
			free(cells);
			goto out;
		}
		if (!n && !a->all) {
			say_error("card %s has no cell matching the options given", card->id);
			free(cells);
			goto out;
		}
		if (n) {
			if (a->dry_run && dry_run(cells, n, s, a, &w) != EXIT_OK) {
				free(cells);
				goto out;
			}
			v->keys = xrealloc(v->keys, (v->ncells + n) * sizeof *v->keys);
			v->card_of = xrealloc(v->card_of, (v->ncells + n) * sizeof *v->card_of);
			for (size_t i = 0; i < n; i++) {
				v->keys[v->ncells + i] = plan_cell_key(&cells[i]);
				v->card_of[v->ncells + i] = kept_cards;
			}
			v->first[kept_cards] = v->ncells;
			v->cards[kept_cards++] = card;
			v->ncells += n;
		}
		free(cells);
	}
	v->ncards = kept_cards;
	if (!v->ncards) {
		say_error("no card has a cell matching the options given");
		goto out;
	}
	if (a->dry_run) {
		rc = EXIT_OK;
		goto out;
	}

	rc = open_journal(&j, s, &earlier);
	if (rc)
		goto out;
	char **kept = kept_argv(v->argc, v->argv);
	start_plan(&j, v->argc, kept, v->keys, v->ncells, v->plan_id, sizeof v->plan_id);
	free_kept(kept, v->argc);
	struct hil_err err;
	rc = EXIT_LAB;
	if (a->watchdog && (wdfd = watchdog_open(a->watchdog, &err)) < 0) {
		say_error("%s", err.msg);
		goto out;
	}
	sfd = signals_as_fd();
	/* Asked once, here: every worker inherits the answer (qemu_sandbox()
	 * keeps it), rather than each starting a QEMU to ask. */
	char note[512];
	qemu_sandbox(s->qemu, note, sizeof note);
	json_t *times = cell_times_load(s->out_dir);
	const struct fanout_opts fo = {
		.workers = order_cells(v, times), .group = v->group, .jobs = a->jobs, .tty = isatty(2),
		.signal_fd = sfd, .watchdog_fd = wdfd, .work = several_work, .ctx = v,
		.name = several_cell,
	};
	struct fanout_result res;
	if (!fo.workers || fanout_run(&fo, &res) == 0)
		end_plan(&j, v->plan_id, fo.workers ? res.interrupted : 0);
	if (!fo.workers) {
		json_decref(times);
		rc = earlier;
		goto out;
	}
	for (size_t i = 0; i < fo.workers; i++)
		if (res.ms[i] >= 0)
			json_object_set_new(times, v->keys[v->order[i]], json_integer(res.ms[i]));
	cell_times_store(s->out_dir, times);
	json_decref(times);
	print_summary(res.summary);
	if (a->json)
		print_records(res.records);
	rc = exit_worse(res.exit_code, earlier);
	if (res.interrupted)
		rc = EXIT_INTERRUPTED;
	fanout_result_release(&res);
out:
	if (watchdog_close(wdfd, &err) < 0)
		say_error("warning: %s", err.msg);
	if (sfd >= 0)
		close(sfd);
	if (j.fd >= 0)
		journal_close(&j);
	for (size_t i = 0; i < v->ncells; i++)
		free(v->keys[i]);
	free(v->keys);
	free(v->card_of);
	free(v->order);
	free(v->group);
	free(v->first);
	return rc;
}

/* --all: every card with a station, and every emulated card; --card a,b,c:
 * those, each once. NULL (said why) if one is unknown. */
static const struct card **pick_cards(const struct catalog *cat, const struct run_args *a,
				      const struct settings *s, size_t *n)
{
	const struct card **cards = xcalloc(cat->ncards + 1, sizeof *cards);
	*n = 0;
	if (a->all) {
		for (size_t i = 0; i < cat->ncards; i++)
			if (cat->cards[i].kind != CARD_VFIO || catalog_find_station(cat, cat->cards[i].id))
				cards[(*n)++] = &cat->cards[i];
		return cards;
	}
	char *list = xstrdup(a->card), *save = NULL;
	for (char *id = strtok_r(list, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
		const struct card *card = catalog_find_card(cat, id);
		if (!card) {
			say_error("no card '%s' in %s (hilrun list shows the cards)", id, s->cards_dir);
			goto bad;
		}
		for (size_t i = 0; i < *n; i++)
			if (cards[i] == card) {
				say_error("--card: %s is named twice", id);
				goto bad;
			}
		if (*n == cat->ncards) {
			say_error("--card: more cards named than there are");
			goto bad;
		}
		cards[(*n)++] = card;
	}
	free(list);
	if (!*n) {
		say_error("--card: no card id in '%s'", a->card);
		free(cards);
		return NULL;
	}
	return cards;
bad:
	free(list);
	free(cards);
	return NULL;
}

int cmd_run(int argc, char **argv, struct settings *s)
{
	struct run_args a;
	if (parse_args(argc, argv, s, &a) < 0)
		return EXIT_USAGE;
	struct catalog cat;
	if (load_catalog(&cat, s) < 0)
		return EXIT_USAGE;
	size_t n;
	const struct card **cards = pick_cards(&cat, &a, s, &n);
	int rc = EXIT_USAGE;
	if (cards && n == 1) {
		rc = run_card(cards[0], &a, &cat, s, argc, argv);
	} else if (cards && n) {
		struct several v = { .cards = cards, .ncards = n, .a = &a, .cat = &cat, .s = s,
				     .argc = argc, .argv = argv };
		rc = run_cards(&v);
	} else if (cards) {
		say_error("--all: no card here (no emulated card, no station)");
	}
	free(cards);
	catalog_release(&cat);
	return rc;
}

/* hilrun resume [--out DIR]: record the runs a dead hilrun or a downed host
 * left behind and run the cells their plans did not reach. */
int cmd_resume(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'o') {
			s->out_dir = optarg;
		} else {
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		say_error("resume: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	struct journal j;
	struct hil_err err;
	if (journal_open(&j, s->out_dir, &err) < 0) {
		say_error("%s", err.msg);
		return EXIT_LAB;
	}
	int plans = 0;
	int rc = recover_and_resume(&j, &plans);
	if (!plans)
		say_error("resume: no unfinished plan in %s", j.path);
	journal_close(&j);
	return rc;
}
