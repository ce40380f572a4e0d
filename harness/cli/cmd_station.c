/* cmd_station: hilrun station check [--stations FILE] [--json]
 * [--grab-timeout S]: every preflight check, the ROM check and a grab from
 * the capture endpoint on every station of a stations file, as one table
 * (or JSON), with the fixes after it.
 * Never starts QEMU. Exit: the worst of all (0, 2 config, 3 lab).
 *
 * Ownership: the catalog and the JSON document are the command's own. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "feed.h"
#include "preflight.h"
#include "qemu_argv.h"
#include "rom.h"

/* The capture column: one whole frame grabbed from the station's capture
 * endpoint, as a run would watch it (hilrun grab). Its brief is the frame's
 * size and how it came; a device that does not answer is a lab error. */
static void check_capture(const struct station *st, double timeout_s, struct preflight_result *out)
{
	if (!st->capture || !*st->capture) {
		out->code = PREFLIGHT_SKIP; /* the endpoint check says so */
		snprintf(out->brief, sizeof out->brief, "-");
		return;
	}
	struct hil_err err;
	char *shown = feed_endpoint_shown(st->capture);
	enum feed_source source = strncmp(st->capture, "unix:", 5) ? FEED_CAPTURE_DEVICE : FEED_QEMU;
	int64_t deadline = now_ms() + (int64_t)(timeout_s * 1000);
	struct feed *feed = feed_open(st->capture, source, deadline, &err);
	struct frame f;
	frame_init(&f);
	if (!feed || feed_grab(feed, &f, deadline, &err) < 0) {
		out->code = PREFLIGHT_LAB;
		snprintf(out->brief, sizeof out->brief, "%s", feed ? "no frame" : "unreachable");
		struct hil_err why;
		hil_seterr(&why, "%s:%d: no frame from the capture device (%s); is it on, and is its "
			   "address right? (hilrun grab %s shows what it sends)",
			   st->path, st->line, err.msg, shown);
		snprintf(out->msg, sizeof out->msg, "%s", why.msg);
	} else {
		const char *how = feed_describe(feed);
		snprintf(out->brief, sizeof out->brief, "%dx%d %s", f.width, f.height,
			 strstr(how, "HTTP") ? "http" : strstr(how, "JPEG") ? "vnc-jpeg" : "vnc");
		snprintf(out->msg, sizeof out->msg, "%dx%d, %s", f.width, f.height, how);
	}
	frame_release(&f);
	feed_close(feed);
	free(shown);
}

static int exit_of(int pf_code)
{
	return pf_code == PREFLIGHT_CONFIG ? EXIT_USAGE : pf_code == PREFLIGHT_LAB ? EXIT_LAB : EXIT_OK;
}

/* One station's row: every check, ROM and capture. */
struct row {
	const struct station *st;
	struct preflight_result pf[PF_NCHECKS];
	struct preflight_result rom;
	struct preflight_result capture;
	int exit;
};

static void check_station(const struct catalog *cat, const struct station *st, double grab_s,
			  struct row *r)
{
	memset(r, 0, sizeof *r);
	r->st = st;
	const struct card *card = catalog_find_card(cat, st->card);
	if (!card || card->kind != CARD_VFIO) {
		/* nothing to check on the host: an emulated card's station names
		 * only its card (the catalog saw to it), else the station is wrong */
		for (int i = 0; i < PF_NCHECKS; i++)
			snprintf(r->pf[i].brief, sizeof r->pf[i].brief, "-");
		snprintf(r->pf[PF_DEVICE].brief, sizeof r->pf[PF_DEVICE].brief, card ? "emulated" : "no card");
		snprintf(r->rom.brief, sizeof r->rom.brief, "-");
		snprintf(r->capture.brief, sizeof r->capture.brief, "-");
		if (card)
			return;
		r->pf[PF_DEVICE].code = PREFLIGHT_CONFIG;
		snprintf(r->pf[PF_DEVICE].msg, sizeof r->pf[PF_DEVICE].msg,
			 "%s:%d: no card '%s' in the card files", st->path, st->line, st->card);
		r->exit = EXIT_USAGE;
		return;
	}
	struct preflight_target t = { card, st->host, st->capture, &st->companions,
				      qemu_card_memory_mb(card) };
	r->exit = exit_of(preflight_all(&t, r->pf));
	snprintf(r->rom.brief, sizeof r->rom.brief, "none");
	if (st->rom) {
		struct rom_info info;
		struct hil_err err;
		if (rom_check(st->rom, card->vendor, card->device, &info, &err) < 0) {
			r->rom.code = PREFLIGHT_CONFIG;
			snprintf(r->rom.brief, sizeof r->rom.brief, "bad");
			snprintf(r->rom.msg, sizeof r->rom.msg, "%s", err.msg);
			r->exit = exit_worse(r->exit, EXIT_USAGE);
		} else {
			snprintf(r->rom.brief, sizeof r->rom.brief, "ok");
		}
	}
	check_capture(st, grab_s, &r->capture);
	r->exit = exit_worse(r->exit, exit_of(r->capture.code));
}

static const char *status_name(int code)
{
	return code == 0 ? "ok" : code == PREFLIGHT_SKIP ? "skip" : code == PREFLIGHT_LAB ? "lab" : "config";
}

static json_t *check_json(const struct preflight_result *r)
{
	return json_pack("{s:s, s:s, s:s}", "status", status_name(r->code), "short", r->brief, "message",
			 r->msg);
}

static void print_json(const struct row *rows, size_t n, int exit)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		json_t *checks = json_object();
		for (int c = 0; c < PF_NCHECKS; c++)
			json_object_set_new(checks, preflight_check_name(c), check_json(&r->pf[c]));
		json_object_set_new(checks, "rom", check_json(&r->rom));
		json_object_set_new(checks, "capture", check_json(&r->capture));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o, s:i}", "station", r->st->name,
						     "card", r->st->card, "host", r->st->host ?: "-", "checks", checks,
						     "exit", r->exit));
	}
	json_t *doc = json_pack("{s:o, s:i}", "stations", arr, "exit", exit);
	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(doc);
}

/* One table cell per check; each column as wide as its widest cell. */
static const char *cell_of(const struct row *r, int c)
{
	return c == 0 ? r->st->name : c == 1 ? r->st->card : c == 2 ? (r->st->host ?: "-")
	       : c < 3 + PF_NCHECKS ? r->pf[c - 3].brief : c == 3 + PF_NCHECKS ? r->rom.brief
	       : r->capture.brief;
}

static const char *head_of(int c)
{
	return c == 0 ? "STATION" : c == 1 ? "CARD" : c == 2 ? "HOST"
	       : c < 3 + PF_NCHECKS ? preflight_check_name(c - 3) : c == 3 + PF_NCHECKS ? "rom"
	       : "capture";
}

static void print_table(const struct row *rows, size_t n)
{
	enum { NCOLS = 3 + PF_NCHECKS + 2 };
	int width[NCOLS];
	for (int c = 0; c < NCOLS; c++) {
		width[c] = (int)strlen(head_of(c));
		for (size_t i = 0; i < n; i++)
			if ((int)strlen(cell_of(&rows[i], c)) > width[c])
				width[c] = (int)strlen(cell_of(&rows[i], c));
	}
	for (int c = 0; c < NCOLS; c++)
		printf("%-*s%s", c + 1 < NCOLS ? width[c] : 0, head_of(c), c + 1 < NCOLS ? "  " : "\n");
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < NCOLS; c++)
			printf("%-*s%s", c + 1 < NCOLS ? width[c] : 0, cell_of(&rows[i], c),
			       c + 1 < NCOLS ? "  " : "\n");
	/* what is wrong, and the fix, station by station */
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		int head = 0;
		for (int c = 0; c <= PF_NCHECKS + 1; c++) {
			const struct preflight_result *res = c < PF_NCHECKS ? &r->pf[c]
							     : c == PF_NCHECKS ? &r->rom : &r->capture;
			if (res->code >= 0)
				continue;
			if (!head++)
				printf("\n%s (%s at %s):\n", r->st->name, r->st->card, r->st->host);
			printf("  %s: %s\n", c < PF_NCHECKS ? preflight_check_name(c)
				: c == PF_NCHECKS ? "rom" : "capture", res->msg);
		}
	}
}

int cmd_station(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "stations", required_argument, NULL, 's' },
		{ "cards", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "grab-timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc < 2 || strcmp(argv[1], "check")) {
		say_error("station: expected 'station check [--stations FILE] [--json]'");
		return EXIT_USAGE;
	}
	argc--, argv++;
	int json = 0, c;
	double grab_s = 5;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 's')
			s->stations = optarg;
		else if (c == 'c')
			s->cards_dir = optarg;
		else if (c == 'j')
			json = 1;
		else if (c == 't' && (grab_s = strtod(optarg, &end)) > 0 && !*end && grab_s <= 600)
			continue;
		else {
			if (c == 't')
				say_error("station check: --grab-timeout takes seconds, e.g. 5 (got '%s')", optarg);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		say_error("unexpected argument '%s' (see hilrun help)", argv[optind]);
		return EXIT_USAGE;
	}
	if (!s->stations) {
		say_error("station check: give --stations FILE");
		return EXIT_USAGE;
	}
	struct catalog cat;
	if (load_catalog(&cat, s) < 0)
		return EXIT_USAGE;
	struct row *rows = xcalloc(cat.nstations ? cat.nstations : 1, sizeof *rows);
	int exit = EXIT_OK;
	for (size_t i = 0; i < cat.nstations; i++) {
		check_station(&cat, &cat.stations[i], grab_s, &rows[i]);
		exit = exit_worse(exit, rows[i].exit);
	}
	if (json)
		print_json(rows, cat.nstations, exit);
	else
		print_table(rows, cat.nstations);
	free(rows);
	catalog_release(&cat);
	return exit;
}
