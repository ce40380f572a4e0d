/* hilrun: the command line. Subcommands are a table of {name, fn}; a first
 * argument that starts with '-' means "run" (hilrun --card g98).
 *
 * Exit codes (documented in the README):
 *   0  every cell ended as its card file expects
 *   1  a cell failed unexpectedly (the card, firmware, guest or QEMU)
 *   2  usage or configuration error
 *   3  the harness or the lab failed (not the card)
 *   130 interrupted (SIGINT/SIGTERM); records written so far are kept */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "calib.h"
#include "catalog.h"
#include "image.h"
#include "journal.h"
#include "lock.h"
#include "matrix.h"
#include "ocr.h"
#include "plan.h"
#include "preflight.h"
#include "recover.h"
#include "rom.h"
#include "run.h"
#include "textmode.h"
#include "vgafont.h"

#define EXIT_OK 0
#define EXIT_UNEXPECTED 1
#define EXIT_USAGE 2
#define EXIT_LAB 3
#define EXIT_INTERRUPTED 130

struct settings {
	const char *cards_dir;
	const char *guest_dir;
	const char *qemu;
	const char *out_dir;
	const char *stations;
};

static void settings_defaults(struct settings *s)
{
	s->cards_dir = getenv("HILRUN_CARDS") ?: HIL_DEFAULT_CARDS_DIR;
	s->guest_dir = getenv("HILRUN_GUESTS") ?: HIL_DEFAULT_GUEST_DIR;
	s->qemu = getenv("HILRUN_QEMU") ?: "qemu-system-x86_64";
	s->out_dir = "results";
	s->stations = NULL;
}

static void say_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("hilrun: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static const char usage_text[] =
	"usage: hilrun --card ID [--guest G] [--firmware F] [--variant V] [--out DIR] [options]\n"
	"       hilrun resume [--out DIR]\n"
	"       hilrun matrix --results DIR --out OUT [--check] [--cards DIR]\n"
	"       hilrun list [--cards DIR]\n"
	"       hilrun decode IMAGE [--json] [--font ROM|CALIBRATION-FRAME] [--ninth qemu|vga]\n"
	"       hilrun help | version\n"
	"\n"
	"Run options:\n"
	"  --card ID            card to test (see 'hilrun list'); all its cells unless narrowed\n"
	"  --guest G            only this reference guest\n"
	"  --firmware F         only this firmware (seabios, ovmf)\n"
	"  --variant V          only this variant (default, kvm-hidden, ...)\n"
	"  --out DIR            results directory (default: results); runs go to DIR/runs/RUNID\n"
	"  --json               print the run records as a JSON array on stdout\n"
	"  --dry-run            print the QEMU argv of each cell and exit\n"
	"  --accel kvm|tcg      force the accelerator (default: KVM where /dev/kvm works)\n"
	"  --timeout-scale X    multiply every watchdog window by X (slow labs)\n"
	"  --wait               if another hilrun runs the card, wait for it (default: exit 3)\n"
	"  --watchdog DEV       pet a hardware watchdog (/dev/watchdog) while healthy\n"
	"  --retries N          run an unexpected failure again up to N times (default 1):\n"
	"                       a cell that then passes is flaky, not red\n"
	"  --font ROM           VGA BIOS ROM whose 8x16 font the text decoder matches against\n"
	"                       (default: a physical card's --rom, else SeaBIOS's VGA BIOS)\n"
	"Physical (vfio) cards:\n"
	"  --host BDF           host PCI address of the card, e.g. 0000:01:00.0 (a one-off station)\n"
	"  --rom FILE           ROM file to give QEMU (romfile=); checked before use\n"
	"  --capture HOST:PORT  VNC endpoint of the capture device showing the card's output\n"
	"  --stations FILE      stations file naming each physical card's host, capture and ROM\n"
	"Paths:\n"
	"  --cards DIR          card files (default: " HIL_DEFAULT_CARDS_DIR ", or $HILRUN_CARDS)\n"
	"  --guests DIR         built guest images (default: " HIL_DEFAULT_GUEST_DIR ", or $HILRUN_GUESTS)\n"
	"  --qemu BIN           QEMU binary (default: qemu-system-x86_64, or $HILRUN_QEMU)\n"
	"\n"
	"Exit codes: 0 as expected, 1 a cell failed unexpectedly, 2 usage or configuration\n"
	"error, 3 harness or lab failure, 130 interrupted.\n";

static int load_catalog(struct catalog *cat, const struct settings *s)
{
	struct hil_err err;
	catalog_init(cat);
	if (catalog_load_cards(cat, s->cards_dir, &err) < 0 ||
	    (s->stations && catalog_load_stations(cat, s->stations, &err) < 0)) {
		say_error("%s", err.msg);
		catalog_release(cat);
		return -1;
	}
	return 0;
}

static int cmd_list(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "cards", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'c')
			s->cards_dir = optarg;
		else
			return EXIT_USAGE;
	}
	struct catalog cat;
	if (load_catalog(&cat, s) < 0)
		return EXIT_USAGE;
	printf("%-12s %-9s %-10s %s\n", "CARD", "KIND", "PCI ID", "NAME");
	for (size_t i = 0; i < cat.ncards; i++) {
		const struct card *card = &cat.cards[i];
		printf("%-12s %-9s %04x:%04x  %s\n", card->id, card_kind_name(card->kind),
		       card->vendor, card->device, card->name);
	}
	printf("\n%-12s %-9s %s\n", "GUEST", "FIRMWARE", "DESCRIPTION");
	for (size_t i = 0; guest_at(i); i++)
		printf("%-12s %-9s %s\n", guest_at(i)->id, guest_at(i)->firmware,
		       guest_at(i)->description);
	catalog_release(&cat);
	return EXIT_OK;
}

/* Live progress on a terminal: one line per cell, rewritten stage by stage. */
struct progress {
	int tty;
	char label[160];
	struct strbuf stages;
};

static void on_stage(void *ctx, const char *stage, const char *outcome)
{
	struct progress *p = ctx;
	if (!stage) {
		sb_release(&p->stages);
		if (p->tty)
			fprintf(stderr, "%s: starting", p->label);
	} else {
		sb_addf(&p->stages, " %s:%s", stage, outcome);
		if (p->tty)
			fprintf(stderr, "\r\033[K%s:%s", p->label, sb_str(&p->stages));
	}
	if (p->tty)
		fflush(stderr);
}

struct run_args {
	const char *card, *guest, *firmware, *variant;
	const char *host, *rom, *capture, *accel;
	const char *font;
	double timeout_scale;
	int json, dry_run, wait, retries;
	const char *watchdog;
};

/* The worse of two exit codes: interrupted, then an unexpected failure,
 * then a lab error, then as expected. */
static int worse(int a, int b)
{
	static const int order[] = { EXIT_INTERRUPTED, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_LAB, EXIT_OK };
	for (size_t i = 0; i < sizeof order / sizeof *order; i++)
		if (a == order[i] || b == order[i])
			return order[i];
	return a;
}

/* While a plan from the journal is replayed: its id, and the cells it
 * already finished (skipped). NULL otherwise. */
struct resume {
	const char *plan;
	json_t *finished;
};
static struct resume *resuming;

static int cmd_run(int argc, char **argv, struct settings *s);

static void journal_warning(void *ctx, const char *msg)
{
	(void)ctx;
	say_error("warning: %s", msg);
}

static void on_recovered(void *ctx, const struct recovered *r)
{
	int *rc = ctx;
	say_error("recovered %s: %s (%s); record in %s", r->run_id, r->verdict, r->why,
		  r->run_dir);
	*rc = worse(*rc, !strncmp(r->verdict, "error:", 6) ? EXIT_LAB : EXIT_UNEXPECTED);
}

/* What the journal says was left undone: runs whose hilrun or host went
 * down are recorded (recover.c), then the cells their plans did not reach
 * are run, each plan with its own command line in its own directory. */
static int recover_and_resume(struct journal *j, int *resumed_plans)
{
	struct hil_err err;
	int rc = EXIT_OK;
	*resumed_plans = 0;
	/* One hilrun recovers at a time: two must not record the same orphan. */
	char *dir = xstrdup(j->path);
	*strrchr(dir, '/') = '\0';
	char *lockpath = xasprintf("%s/locks/journal.lock", dir);
	char *lockdir = xasprintf("%s/locks", dir);
	int lfd = mkdir_p(lockdir, &err) == 0 ? open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
	if (lfd >= 0)
		flock(lfd, LOCK_EX);
	json_t *st = journal_read(j->path, journal_warning, NULL, &err);
	if (!st) {
		say_error("%s", err.msg);
		rc = EXIT_LAB;
	} else if (recover_orphans(j, dir, st, on_recovered, &rc, &err) < 0) {
		say_error("could not record an interrupted run: %s", err.msg);
		rc = worse(rc, EXIT_LAB);
	}
	json_decref(st);
	st = journal_read(j->path, NULL, NULL, &err);
	if (lfd >= 0)
		close(lfd);
	free(lockpath);
	free(lockdir);
	free(dir);
	if (!st)
		return worse(rc, EXIT_LAB);

	size_t i;
	json_t *pid;
	json_array_foreach(json_object_get(st, "order"), i, pid) {
		const char *id = json_string_value(pid);
		json_t *p = json_object_get(json_object_get(st, "plans"), id);
		json_t *plan = json_object_get(p, "plan"), *finished = json_object_get(p, "finished");
		if (json_is_true(json_object_get(p, "done")) || journal_writer_alive(plan, j->boot_id))
			continue;
		size_t left = 0, k;
		json_t *cell;
		json_array_foreach(json_object_get(plan, "cells"), k, cell)
			left += !json_object_get(finished, json_string_value(cell));
		if (!left) {
			json_t *done = json_pack("{s:s}", "plan", id);
			journal_append(j, "plan-done", done, &err);
			json_decref(done);
			continue;
		}
		json_t *args = json_object_get(plan, "argv");
		const char *cwd = json_string_value(json_object_get(plan, "cwd"));
		say_error("resuming plan %s: %zu of %zu cells left (hilrun run in %s)", id, left,
			  json_array_size(json_object_get(plan, "cells")), cwd ? cwd : ".");
		int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cwd && chdir(cwd) < 0) {
			say_error("cannot resume plan %s: %s: %s", id, cwd, strerror(errno));
			rc = worse(rc, EXIT_LAB);
			if (here >= 0)
				close(here);
			continue;
		}
		int argc = (int)json_array_size(args) + 1;
		char **argv = xcalloc((size_t)argc + 1, sizeof *argv);
		argv[0] = xstrdup("hilrun");
		json_t *w;
		json_array_foreach(args, k, w)
			argv[k + 1] = xstrdup(json_string_value(w) ?: "");
		struct settings s2;
		settings_defaults(&s2);
		struct resume r = { id, finished };
		resuming = &r;
		int prc = cmd_run(argc, argv, &s2);
		resuming = NULL;
		rc = worse(rc, prc);
		if (prc == EXIT_USAGE) {
			/* Its command line no longer runs (a card file changed or
			 * went away): give the plan up rather than fail on it at
			 * every start from now on. */
			say_error("plan %s given up: its command line is no longer valid here", id);
			json_t *done = json_pack("{s:s, s:s}", "plan", id, "abandoned",
						 "its command line no longer runs (configuration error)");
			journal_append(j, "plan-done", done, &err);
			json_decref(done);
		}
		(*resumed_plans)++;
		for (int a = 0; a < argc; a++)
			free(argv[a]);
		free(argv);
		if (here >= 0) {
			if (fchdir(here) < 0)
				say_error("cannot return to the working directory: %s", strerror(errno));
			close(here);
		}
		if (prc == EXIT_INTERRUPTED)
			break;
	}
	json_decref(st);
	return rc;
}

static int cmd_run(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "card", required_argument, NULL, 'C' },
		{ "guest", required_argument, NULL, 'g' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "variant", required_argument, NULL, 'v' },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
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
		{ NULL, 0, NULL, 0 },
	};
	struct run_args a = { .timeout_scale = 1.0, .retries = 1 };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'C': a.card = optarg; break;
		case 'g': a.guest = optarg; break;
		case 'f': a.firmware = optarg; break;
		case 'v': a.variant = optarg; break;
		case 'o': s->out_dir = optarg; break;
		case 'j': a.json = 1; break;
		case 'n': a.dry_run = 1; break;
		case 'a': a.accel = optarg; break;
		case 't': {
			char *end;
			a.timeout_scale = strtod(optarg, &end);
			if (*end || a.timeout_scale <= 0 || a.timeout_scale > 100) {
				say_error("--timeout-scale: expected a number between 0 and 100, got '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'H': a.host = optarg; break;
		case 'r': a.rom = optarg; break;
		case 'p': a.capture = optarg; break;
		case 's': s->stations = optarg; break;
		case 'c': s->cards_dir = optarg; break;
		case 'G': s->guest_dir = optarg; break;
		case 'q': s->qemu = optarg; break;
		case 'F': a.font = optarg; break;
		case 'w': a.wait = 1; break;
		case 'W': a.watchdog = optarg; break;
		case 'e': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 0 || n > 10) {
				say_error("--retries: expected a number from 0 to 10, got '%s'", optarg);
				return EXIT_USAGE;
			}
			a.retries = (int)n;
			break;
		}
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		say_error("unexpected argument '%s' (see hilrun help)", argv[optind]);
		return EXIT_USAGE;
	}
	if (!a.card) {
		say_error("no card given: use --card ID (hilrun list shows the cards)");
		return EXIT_USAGE;
	}
	if (a.accel && strcmp(a.accel, "kvm") && strcmp(a.accel, "tcg")) {
		say_error("--accel: expected 'kvm' or 'tcg', got '%s'", a.accel);
		return EXIT_USAGE;
	}

	struct catalog cat;
	if (load_catalog(&cat, s) < 0)
		return EXIT_USAGE;
	int exit_code = EXIT_USAGE;
	const struct card *card = catalog_find_card(&cat, a.card);
	if (!card) {
		say_error("no card '%s' in %s (hilrun list shows the cards)", a.card, s->cards_dir);
		goto out;
	}
	if (a.guest && !card_has_guest(card, a.guest)) {
		say_error("card %s does not run guest '%s' (%s lists its guests)", card->id, a.guest, card->path);
		goto out;
	}
	if (a.firmware && !card_has_firmware(card, a.firmware)) {
		say_error("card %s does not run firmware '%s' (%s lists its firmware)", card->id, a.firmware, card->path);
		goto out;
	}
	if (a.variant && !card_find_variant(card, a.variant)) {
		say_error("card %s has no variant '%s' (%s lists its variants)", card->id, a.variant, card->path);
		goto out;
	}

	/* Where a physical card sits: --host is a one-off station, else the
	 * stations file names it. */
	const struct station *station = NULL;
	const char *host = a.host, *rom = a.rom, *capture = a.capture;
	if (card->kind == CARD_VFIO) {
		station = catalog_find_station(&cat, card->id);
		if (!host && station)
			host = station->host;
		if (!rom && station)
			rom = station->rom;
		if (!capture && station)
			capture = station->capture;
		if (!host) {
			say_error("card %s is a physical (vfio) card: give --host BDF or a --stations file with a station for it",
			      card->id);
			goto out;
		}
	} else if (a.host || a.rom) {
		say_error("card %s is emulated: --host and --rom are for physical cards", card->id);
		goto out;
	}
	if (rom) {
		struct rom_info info;
		struct hil_err err;
		if (rom_check(rom, card->vendor, card->device, &info, &err) < 0) {
			say_error("%s", err.msg);
			goto out;
		}
	}

	/* The cells: firmware x guest x variant, as the card file lists them. */
	struct cell *cells = NULL;
	size_t ncells = 0;
	for (size_t f = 0; f < card->firmwares.n; f++) {
		if (a.firmware && strcmp(a.firmware, card->firmwares.v[f]))
			continue;
		for (size_t g = 0; g < card->guests.n; g++) {
			const struct guest *guest = guest_find(card->guests.v[g]);
			if ((a.guest && strcmp(a.guest, guest->id)) || strcmp(guest->firmware, card->firmwares.v[f]))
				continue;
			for (size_t v = 0; v < card->nvariants; v++) {
				if (a.variant && strcmp(a.variant, card->variants[v].name))
					continue;
				cells = xrealloc(cells, (ncells + 1) * sizeof *cells);
				cells[ncells++] = (struct cell){ card, card->firmwares.v[f], guest, &card->variants[v] };
			}
		}
	}
	if (!ncells) {
		say_error("card %s has no cell matching the options given", card->id);
		free(cells);
		goto out;
	}

	if (a.dry_run) {
		exit_code = EXIT_OK;
		for (size_t i = 0; i < ncells; i++) {
			struct argv qa = ARGV_INIT;
			struct hil_err err;
			char *image = xasprintf("%s/%s", s->guest_dir, cells[i].guest->image);
			struct plan_env env = {
				.qemu = s->qemu,
				.accel = a.accel ? a.accel : "kvm",
				.guest_image = image,
				.qmp_socket = "/tmp/hilrun-XXXXXX/qmp.sock",
				.serial_socket = "/tmp/hilrun-XXXXXX/com1.sock",
				.vnc_socket = "/tmp/hilrun-XXXXXX/vnc.sock",
				.host = host,
				.rom = rom,
				.start_paused = 1,
			};
			if (plan_argv(&qa, &cells[i], &env, &err) < 0) {
				say_error("%s", err.msg);
				exit_code = EXIT_USAGE;
			} else {
				char *line = argv_to_display(&qa);
				printf("# %s %s/%s %s\n%s\n", card->id, cells[i].firmware, cells[i].guest->id,
				       cells[i].variant->name, line);
				free(line);
			}
			free(image);
			argv_release(&qa);
		}
		free(cells);
		goto out;
	}

	if (card->kind == CARD_VFIO) {
		struct hil_err perr;
		int pf = preflight_vfio(card, host, capture, &perr);
		if (pf < 0) {
			say_error("%s", perr.msg);
			free(cells);
			exit_code = pf == PREFLIGHT_CONFIG ? EXIT_USAGE : EXIT_LAB;
			goto out;
		}
	}

	struct hil_err err;
	struct ocr *ocr = ocr_open(&err);
	if (!ocr) {
		say_error("cannot load the text reader: %s", err.msg);
		free(cells);
		exit_code = EXIT_LAB;
		goto out;
	}
	/* The decoder's glyphs: --font; else a physical card's own ROM file
	 * (its VGA BIOS draws the text: its font reads it exactly); else the
	 * installed SeaBIOS VGA BIOS. A card ROM with no 8x16 font we can
	 * find falls back to SeaBIOS's, said so. */
	struct vgafont font;
	const char *font_rom = a.font ? a.font : rom ? rom : VGAFONT_DEFAULT_ROM;
	int font_ok = vgafont_from_rom(&font, font_rom, &err) == 0;
	if (!font_ok && !a.font && rom) {
		say_error("warning: no 8x16 font in the card's ROM (%s); reading text with %s", err.msg,
			  VGAFONT_DEFAULT_ROM);
		font_ok = vgafont_from_rom(&font, VGAFONT_DEFAULT_ROM, &err) == 0;
	}
	if (!font_ok) {
		say_error("cannot load the VGA font: %s", err.msg);
		ocr_close(ocr);
		free(cells);
		exit_code = EXIT_LAB;
		goto out;
	}
	/* The journal: first what an earlier hilrun left undone, then this
	 * invocation's plan. */
	struct hil_err jerr;
	struct journal journal;
	if (journal_open(&journal, s->out_dir, &jerr) < 0) {
		say_error("%s", jerr.msg);
		ocr_close(ocr);
		free(cells);
		exit_code = EXIT_LAB;
		goto out;
	}
	int earlier = EXIT_OK;
	if (!resuming) {
		int nplans;
		earlier = recover_and_resume(&journal, &nplans);
		if (earlier == EXIT_INTERRUPTED) {
			journal_close(&journal);
			ocr_close(ocr);
			free(cells);
			exit_code = earlier;
			goto out;
		}
	}
	struct strbuf cmdline = STRBUF_INIT;
	for (int i = 0; i < argc; i++)
		sb_addf(&cmdline, "%s%s", i ? " " : "", argv[i]);
	struct card_lock lock;
	char holder[512];
	int lr = card_lock(&lock, s->out_dir, card->id, a.wait, sb_str(&cmdline), holder,
			   sizeof holder, &jerr);
	if (lr != 0) {
		if (lr > 0)
			say_error("card %s is being run by %s; wait for it to finish, or give --wait "
				  "to queue behind it",
				  card->id, holder);
		else
			say_error("%s", jerr.msg);
		sb_release(&cmdline);
		journal_close(&journal);
		ocr_close(ocr);
		free(cells);
		exit_code = worse(earlier, EXIT_LAB);
		goto out;
	}
	char plan_id[64];
	if (resuming) {
		snprintf(plan_id, sizeof plan_id, "%s", resuming->plan);
	} else {
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
		snprintf(plan_id, sizeof plan_id, "%s-%ld", stamp, (long)getpid());
	}
	char **keys = xcalloc(ncells, sizeof *keys);
	json_t *jcells = json_array(), *jargv = json_array();
	for (size_t i = 0; i < ncells; i++) {
		keys[i] = xasprintf("%s %s/%s %s", card->id, cells[i].firmware, cells[i].guest->id,
				    cells[i].variant->name);
		json_array_append_new(jcells, json_string(keys[i]));
	}
	for (int i = 1; i < argc; i++)
		json_array_append_new(jargv, json_string(argv[i]));
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		snprintf(cwd, sizeof cwd, ".");
	if (!resuming) {
		json_t *pl = json_pack("{s:s, s:o, s:s, s:o}", "plan", plan_id, "argv", jargv, "cwd",
				       cwd, "cells", jcells);
		if (journal_append(&journal, "plan", pl, &jerr) < 0)
			say_error("warning: %s (the run goes on, unjournalled)", jerr.msg);
		json_decref(pl);
	} else {
		json_decref(jargv);
		json_decref(jcells);
	}

	/* A hardware watchdog, petted from here on while hilrun is healthy: if
	 * the host hangs (or hilrun does), it stops being petted and reboots
	 * the host; the journal then tells the next hilrun what happened. */
	int wdfd = -1, wd_failed = 0;
	if (a.watchdog) {
		wdfd = open(a.watchdog, O_WRONLY | O_CLOEXEC);
		if (wdfd < 0) {
			say_error("--watchdog %s: %s", a.watchdog, strerror(errno));
			wd_failed = 1;
		}
		run_pet_watchdog(wdfd);
	}

	/* SIGINT/SIGTERM arrive as a file descriptor in the run's poll loop, so
	 * an interrupted run still ends QEMU and writes its record. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);

	struct progress prog = { .tty = isatty(2) };
	sb_init(&prog.stages);
	json_t *records = json_array(), *summary = json_array();
	int any_unexpected = 0, any_lab = wd_failed, interrupted = 0;
	for (size_t i = 0; i < ncells && !interrupted && !wd_failed; i++) {
		snprintf(prog.label, sizeof prog.label, "[%zu/%zu] %s %s/%s %s", i + 1, ncells, card->id,
			 cells[i].firmware, cells[i].guest->id, cells[i].variant->name);
		if (resuming && json_object_get(resuming->finished, keys[i])) {
			fprintf(stderr, "%s: done before (%s)\n", prog.label,
				json_string_value(json_object_get(resuming->finished, keys[i])));
			continue;
		}
		struct run_opts ro = {
			.out_dir = s->out_dir,
			.guest_dir = s->guest_dir,
			.qemu = s->qemu,
			.accel = a.accel,
			.host = host,
			.rom = rom,
			.capture = capture,
			.station = station ? station->name : (a.host ? "one-off" : NULL),
			.timeout_scale = a.timeout_scale,
			.ocr = ocr,
			.font = &font,
			.signal_fd = sfd,
			.on_stage = on_stage,
			.on_stage_ctx = &prog,
			.journal = &journal,
			.plan_id = plan_id,
			.cell_key = keys[i],
			.watchdog_fd = wdfd,
		};
		/* An unexpected failure is tried again (--retries): one that
		 * passes then is flaky, recorded as such, and not red. */
		char *failed_run = NULL;
		for (int attempt = 0;; attempt++) {
			ro.retry_of = failed_run;
			struct run_result res;
			int rc = run_cell(&cells[i], &ro, &res, &err);
			const char *want = card_expected(card, cells[i].firmware, cells[i].guest->id);
			int as_expected = rc == 0 && !strcmp(res.verdict, want);
			int lab = !strncmp(res.verdict, "error:", 6);
			int retry = !as_expected && !lab && !res.interrupted && attempt < a.retries;
			interrupted = res.interrupted;
			if (prog.tty)
				fputs("\r\033[K", stderr);
			fprintf(stderr, "%s: %s%s  %.1fs  %s\n", prog.label, res.verdict,
				as_expected ? (failed_run && !strcmp(res.verdict, "pass") ? " (flaky: passed on retry)" : "")
				: lab ? " (lab/harness error)" : retry ? " (unexpected: retrying)" : " (unexpected)",
				res.seconds, res.run_dir ? res.run_dir : "(no record)");
			if (rc < 0)
				say_error("the run record could not be written: %s", err.msg);
			if (res.record && rc == 0)
				json_array_append(records, res.record);
			if (!retry) {
				if (!as_expected && !lab)
					any_unexpected = 1;
				if (lab)
					any_lab = 1;
				const char *what = as_expected ? (failed_run ? "flaky" : NULL)
						   : lab ? "lab error" : "unexpected";
				if (what)
					json_array_append_new(summary, json_sprintf("%s: %s (%s)", what, keys[i],
										    res.verdict));
				run_result_release(&res);
				break;
			}
			free(failed_run);
			failed_run = xstrdup(res.run_id);
			run_result_release(&res);
		}
		free(failed_run);
	}
	/* What needs a look, named, after the per-cell lines. */
	size_t si;
	json_t *sl;
	json_array_foreach(summary, si, sl)
		fprintf(stderr, "%s %s\n", si ? "          " : "summary:", json_string_value(sl));
	json_decref(summary);
	if (a.json) {
		json_dumpf(records, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputc('\n', stdout);
	}
	json_decref(records);
	sb_release(&prog.stages);
	ocr_close(ocr);
	/* Interrupted on purpose is done too: the next hilrun does not resume
	 * what a person stopped. */
	json_t *done = json_pack("{s:s, s:b}", "plan", plan_id, "interrupted", interrupted);
	if (journal_append(&journal, "plan-done", done, &jerr) < 0)
		say_error("warning: %s", jerr.msg);
	json_decref(done);
	for (size_t i = 0; i < ncells; i++)
		free(keys[i]);
	free(keys);
	card_unlock(&lock);
	sb_release(&cmdline);
	journal_close(&journal);
	if (wdfd >= 0) {
		/* The magic close: hilrun ends on purpose, do not reboot. */
		if (write(wdfd, "V", 1) < 0)
			say_error("warning: --watchdog %s: %s", a.watchdog, strerror(errno));
		close(wdfd);
	}
	free(cells);
	if (sfd >= 0)
		close(sfd);
	exit_code = interrupted ? EXIT_INTERRUPTED
		    : any_unexpected ? EXIT_UNEXPECTED
		    : any_lab ? EXIT_LAB : EXIT_OK;
	exit_code = worse(exit_code, earlier);
out:
	catalog_release(&cat);
	return exit_code;
}

/* hilrun resume [--out DIR]: record the runs a dead hilrun or a downed host
 * left behind and run the cells their plans did not reach. */
static int cmd_resume(int argc, char **argv, struct settings *s)
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

/* hilrun matrix --results DIR --out OUT [--check]: index the run records,
 * write the matrix's files, and name every cell that got worse. */
static int cmd_matrix(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "results", required_argument, NULL, 'R' },
		{ "out", required_argument, NULL, 'o' },
		{ "cards", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *results = "results", *out = NULL;
	int check = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'R': results = optarg; break;
		case 'o': out = optarg; break;
		case 'c': s->cards_dir = optarg; break;
		case 'k': check = 1; break;
		default: fputs(usage_text, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		say_error("matrix: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!out) {
		say_error("matrix: give --out DIR (where matrix.html, .md, .json and junit.xml go)");
		return EXIT_USAGE;
	}
	struct catalog cat;
	if (load_catalog(&cat, s) < 0)
		return EXIT_USAGE;
	struct hil_err err;
	if (mkdir_p(out, &err) < 0) {
		say_error("%s", err.msg);
		catalog_release(&cat);
		return EXIT_LAB;
	}
	char *db = xasprintf("%s/index.sqlite", out);
	json_t *m = matrix_build(results, db, &cat, journal_warning, NULL, &err);
	free(db);
	catalog_release(&cat);
	if (!m) {
		say_error("%s", err.msg);
		return EXIT_LAB;
	}
	int rc = EXIT_OK;
	if (matrix_write(m, out, &err) < 0) {
		say_error("%s", err.msg);
		rc = EXIT_LAB;
	}
	json_t *summary = json_object_get(m, "summary");
	fprintf(stderr, "matrix: %lld runs, %zu cells, %zu records skipped; %s/matrix.html\n",
		json_integer_value(json_object_get(m, "runs_indexed")),
		json_array_size(json_object_get(m, "cells")),
		json_array_size(json_object_get(m, "skipped")), out);
	const char *cls;
	json_t *names;
	json_object_foreach(summary, cls, names) {
		fprintf(stderr, "  %-18s %zu", cls, json_array_size(names));
		if (matrix_class_is_bad(cls) || !strcmp(cls, "fixed")) {
			size_t i;
			json_t *n;
			json_array_foreach(names, i, n)
				fprintf(stderr, "%s %s", i ? "," : ":", json_string_value(n));
			if (check && matrix_class_is_bad(cls))
				rc = worse(rc, EXIT_UNEXPECTED);
		}
		fputc('\n', stderr);
	}
	json_decref(m);
	return rc;
}

/* The decoded screen as JSON: its geometry, rows of text, and every cell. */
static json_t *screen_json(const struct text_screen *scr, const char *image, const char *font)
{
	char buf[TEXT_COLS_MAX * 4 + 1];
	json_t *text = json_array(), *cells = json_array();
	for (int r = 0; r < scr->rows; r++) {
		textmode_row_utf8(scr, r, buf);
		json_array_append_new(text, json_string(buf));
		json_t *row = json_array();
		for (int c = 0; c < scr->cols; c++) {
			const struct text_cell *cell = &scr->cell[r][c];
			char ch[5] = { 0 };
			utf8_encode(cp437_to_unicode(cell->code), ch);
			char fg[8], bg[8];
			snprintf(fg, sizeof fg, "#%02x%02x%02x", cell->fg[0], cell->fg[1], cell->fg[2]);
			snprintf(bg, sizeof bg, "#%02x%02x%02x", cell->bg[0], cell->bg[1], cell->bg[2]);
			json_t *jc = json_pack("{s:s, s:i, s:s, s:s, s:f}", "ch", ch, "code", cell->code,
					       "fg", fg, "bg", bg, "confidence", cell->confidence);
			if (cell->cursor)
				json_object_set_new(jc, "cursor", json_true());
			json_array_append_new(row, jc);
		}
		json_array_append_new(cells, row);
	}
	return json_pack("{s:s, s:s, s:s, s:i, s:i, s:[i,i], s:[i,i], s:f, s:o, s:o}", "image", image,
			 "reader", "textmode", "font", font, "cols", scr->cols, "rows", scr->rows, "cell",
			 scr->cell_w, scr->cell_h, "origin", scr->origin_x, scr->origin_y,
			 "min_confidence", textmode_min_confidence(scr), "text", text, "cells", cells);
}

/* --font takes a VGA BIOS ROM, or a calibration frame (an image of the
 * bios-post calibration screen, e.g. a run's calibration.png). */
static int load_font(struct vgafont *font, const char *path, struct hil_err *err)
{
	struct hil_err rom_err;
	if (vgafont_from_rom(font, path, &rom_err) == 0)
		return 0;
	struct frame f;
	frame_init(&f);
	if (frame_read(&f, path, err) < 0) {
		hil_seterr(err, "%s (and not an image either: %s)", rom_err.msg, err->msg);
		return -1;
	}
	static const struct calib_layout bios_post = { 4, 8, 2, 16 };
	struct calib_result *cal = xmalloc(sizeof *cal);
	int rc = calib_learn(&f, &bios_post, cal, err);
	if (rc == 0) {
		*font = cal->font;
		snprintf(font->source, sizeof font->source, "calibration frame %s", path);
	} else {
		char why[HIL_ERR_MAX];
		snprintf(why, sizeof why, "%s", err->msg);
		hil_seterr(err, "%s: not a VGA BIOS ROM, and no calibration screen: %s", path, why);
	}
	free(cal);
	frame_release(&f);
	return rc;
}

static int cmd_decode(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "font", required_argument, NULL, 'f' },
		{ "ninth", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	(void)s;
	int json = 0, c;
	const char *font_rom = VGAFONT_DEFAULT_ROM;
	enum ninth_column_rule rule = NINTH_QEMU;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'f': font_rom = optarg; break;
		case 'n':
			if (!strcmp(optarg, "qemu"))
				rule = NINTH_QEMU;
			else if (!strcmp(optarg, "vga"))
				rule = NINTH_VGA;
			else {
				say_error("--ninth: expected 'qemu' or 'vga', got '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		say_error("decode: expected one image file (PNG, JPEG or PPM)");
		return EXIT_USAGE;
	}
	const char *image = argv[optind];
	struct hil_err err;
	struct frame f;
	frame_init(&f);
	if (frame_read(&f, image, &err) < 0) {
		say_error("%s", err.msg);
		return EXIT_USAGE;
	}
	struct vgafont font;
	if (load_font(&font, font_rom, &err) < 0) {
		say_error("%s", err.msg);
		frame_release(&f);
		return EXIT_USAGE;
	}
	struct text_screen *scr = xmalloc(sizeof *scr);
	int rc = textmode_decode(&f, &font, rule, scr, &err);
	int exit_code = EXIT_OK;
	if (rc < 0) {
		say_error("%s: %s", image, err.msg);
		exit_code = EXIT_USAGE;
	} else if (json) {
		json_t *j = screen_json(scr, image, font.source);
		json_dumpf(j, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
	} else {
		char *text = textmode_text(scr);
		if (*text)
			puts(text);
		free(text);
	}
	if (rc == 0 && textmode_min_confidence(scr) < TEXTMODE_TRUST) {
		/* Printed above for inspection, but not a reading to rely on. */
		say_error("%s: low confidence (worst cell %.2f, trusted from %.2f): not a clean text-mode frame in this font",
			  image, textmode_min_confidence(scr), TEXTMODE_TRUST);
		exit_code = EXIT_UNEXPECTED;
	}
	free(scr);
	frame_release(&f);
	return exit_code;
}

static int cmd_help(int argc, char **argv, struct settings *s)
{
	(void)argc, (void)argv, (void)s;
	fputs(usage_text, stdout);
	return EXIT_OK;
}

static int cmd_version(int argc, char **argv, struct settings *s)
{
	(void)argc, (void)argv, (void)s;
	printf("hilrun %s (tesseract %s)\n", HILRUN_VERSION, ocr_version());
	return EXIT_OK;
}

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv, struct settings *s);
} commands[] = {
	{ "run", cmd_run },
	{ "list", cmd_list },
	{ "resume", cmd_resume },
	{ "matrix", cmd_matrix },
	{ "decode", cmd_decode },
	{ "help", cmd_help },
	{ "version", cmd_version },
};

int main(int argc, char **argv)
{
	struct settings s;
	settings_defaults(&s);
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (argv[1][0] == '-') {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
			return cmd_help(argc, argv, &s);
		if (!strcmp(argv[1], "--version"))
			return cmd_version(argc, argv, &s);
		return cmd_run(argc, argv, &s);
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1, &s);
	say_error("unknown command '%s' (see hilrun help)", argv[1]);
	return EXIT_USAGE;
}
