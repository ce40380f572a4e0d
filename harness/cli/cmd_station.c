/* cmd_station: hilrun station check [--stations FILE] [--json]: every
 * preflight check, the ROM check and the capture column on every station
 * of a stations file, as one table (or JSON), with the fixes after it.
 * Never starts QEMU. Exit: the worst of all (0, 2 config, 3 lab).
 *
 * Ownership: the catalog and the JSON document are the command's own. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "preflight.h"
#include "qemu_argv.h"
#include "rom.h"

/* The capture column: one whole frame grabbed from the station's capture
 * endpoint. NOT DONE HERE: `hilrun grab` (issue 14) is being written in
 * another branch; at its merge this function becomes a real grab. Until
 * then it says "not checked" and is no failure. Returns an exit class. */
static int check_capture(const struct station *st, char *out, size_t n)
{
	(void)st;
	snprintf(out, n, "not checked");
	return EXIT_OK;
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
	char capture[64];
	int exit;
};

static void check_station(const struct catalog *cat, const struct station *st, struct row *r)
{
	memset(r, 0, sizeof *r);
	r->st = st;
	const struct card *card = catalog_find_card(cat, st->card);
	if (!card || card->kind != CARD_VFIO) {
		/* nothing to check on the host: the station itself is wrong */
		for (int i = 0; i < PF_NCHECKS; i++)
			snprintf(r->pf[i].brief, sizeof r->pf[i].brief, "-");
		r->pf[PF_DEVICE].code = PREFLIGHT_CONFIG;
		snprintf(r->pf[PF_DEVICE].brief, sizeof r->pf[PF_DEVICE].brief, card ? "emulated" : "no card");
		snprintf(r->pf[PF_DEVICE].msg, sizeof r->pf[PF_DEVICE].msg,
			 card ? "%s:%d: card %s is emulated: a station is for a physical (vfio) card"
			      : "%s:%d: no card '%s' in the card files",
			 st->path, st->line, st->card);
		snprintf(r->rom.brief, sizeof r->rom.brief, "-");
		snprintf(r->capture, sizeof r->capture, "-");
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
	r->exit = exit_worse(r->exit, check_capture(st, r->capture, sizeof r->capture));
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
		json_object_set_new(checks, "capture",
				    json_pack("{s:s, s:s, s:s}", "status", "not-checked", "short", r->capture,
					      "message", "a grab from the capture endpoint is not implemented yet"));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o, s:i}", "station", r->st->name,
						     "card", r->st->card, "host", r->st->host, "checks", checks,
						     "exit", r->exit));
	}
	json_t *doc = json_pack("{s:o, s:i}", "stations", arr, "exit", exit);
	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(doc);
}

static void print_table(const struct row *rows, size_t n)
{
	printf("%-10s %-6s %-13s", "STATION", "CARD", "HOST");
	for (int c = 0; c < PF_NCHECKS; c++)
		printf(" %-14s", preflight_check_name(c));
	printf(" %-5s %s\n", "rom", "capture");
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		printf("%-10s %-6s %-13s", r->st->name, r->st->card, r->st->host);
		for (int c = 0; c < PF_NCHECKS; c++)
			printf(" %-14s", r->pf[c].brief);
		printf(" %-5s %s\n", r->rom.brief, r->capture);
	}
	/* what is wrong, and the fix, station by station */
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		int head = 0;
		for (int c = 0; c <= PF_NCHECKS; c++) {
			const struct preflight_result *res = c < PF_NCHECKS ? &r->pf[c] : &r->rom;
			if (res->code >= 0)
				continue;
			if (!head++)
				printf("\n%s (%s at %s):\n", r->st->name, r->st->card, r->st->host);
			printf("  %s: %s\n", c < PF_NCHECKS ? preflight_check_name(c) : "rom", res->msg);
		}
	}
}

int cmd_station(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "stations", required_argument, NULL, 's' },
		{ "cards", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc < 2 || strcmp(argv[1], "check")) {
		say_error("station: expected 'station check [--stations FILE] [--json]'");
		return EXIT_USAGE;
	}
	argc--, argv++;
	int json = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 's')
			s->stations = optarg;
		else if (c == 'c')
			s->cards_dir = optarg;
		else if (c == 'j')
			json = 1;
		else
			return EXIT_USAGE;
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
		check_station(&cat, &cat.stations[i], &rows[i]);
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
