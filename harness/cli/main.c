/* hilrun: the command line. Subcommands are a table of {name, fn}; a first
 * argument that starts with '-' means "run" (hilrun --card g98). Exit codes
 * are in cli.h. */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ocr.h"

/* Where the card files and guest images are when neither --cards/--guests
 * nor $HILRUN_CARDS/$HILRUN_GUESTS say. Two builds of this file:
 *  - the build tree's hilrun (build/harness/hilrun): the source tree's
 *    cards/ and the build tree's guests/ (HIL_DEFAULT_*_DIR);
 *  - the installed hilrun (HIL_INSTALLED, built apart for `cmake
 *    --install`): DATADIR/hilrun/{cards,guests} found from where the binary
 *    is (HIL_BIN_TO_DATA, e.g. "../share/hilrun" from bin/), so that
 *    `cmake --install --prefix P` works whatever prefix was configured;
 *    HIL_DEFAULT_*_DIR (the configured prefix's) if /proc is missing. */
static const char *default_cards_dir = HIL_DEFAULT_CARDS_DIR;
static const char *default_guest_dir = HIL_DEFAULT_GUEST_DIR;
#ifdef HIL_INSTALLED
static const char *const data_origin = "installed";
#else
static const char *const data_origin = "build tree";
#endif

static void find_default_dirs(void)
{
#ifdef HIL_INSTALLED
	static int found;
	char exe[PATH_MAX], data[PATH_MAX];
	if (found++ || !realpath("/proc/self/exe", exe))
		return;
	char *guess = xasprintf("%s/%s", dirname(exe), HIL_BIN_TO_DATA);
	if (realpath(guess, data)) {
		default_cards_dir = xasprintf("%s/cards", data);
		default_guest_dir = xasprintf("%s/guests", data);
	}
	free(guess);
#endif
}

void settings_defaults(struct settings *s)
{
	find_default_dirs();
	s->cards_dir = getenv("HILRUN_CARDS") ?: default_cards_dir;
	s->guest_dir = getenv("HILRUN_GUESTS") ?: default_guest_dir;
	s->qemu = getenv("HILRUN_QEMU") ?: "qemu-system-x86_64";
	s->out_dir = "results";
	s->stations = NULL;
}

void say_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("hilrun: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int load_catalog(struct catalog *cat, const struct settings *s)
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

int exit_worse(int a, int b)
{
	static const int order[] = { EXIT_INTERRUPTED, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_LAB, EXIT_OK };
	for (size_t i = 0; i < sizeof order / sizeof *order; i++)
		if (a == order[i] || b == order[i])
			return order[i];
	return a;
}

const char *usage_text;

static const char usage_format[] =
	"usage: hilrun --card ID[,ID...] | --all [-j N] [--guest G] [--firmware F] [--variant V]\n"
	"              [--out DIR] [options]\n"
	"       hilrun resume [--out DIR]\n"
	"       hilrun matrix [--results DIR]... [--store DIR]... --out OUT [--check] [--cards DIR]\n"
	"       hilrun list [--cards DIR]\n"
	"       hilrun decode IMAGE [--json] [--font ROM|CALIBRATION-FRAME] [--ninth qemu|vga]\n"
	"       hilrun grab ENDPOINT [-o|--output FILE.png] [--json] [--timeout S]\n"
	"       hilrun station check [--stations FILE] [--json] [--grab-timeout S] [--cards DIR]\n"
	"       hilrun rom dump BDF -o|--output FILE [--cards DIR]\n"
	"       hilrun key new --id NAME [--dir DIR]\n"
	"       hilrun upload --server URL [--key FILE] [--json] [--attempts N] [--cacert FILE] RUN_DIR...\n"
	"       hilrun upload --dry-run [--save DIR] [--key FILE] [--json] [--cards DIR] RUN_DIR...\n"
	"       hilrun serve --store DIR --keys FILE [--listen ADDR:PORT] [serve options]\n"
	"       hilrun help | version (where the cards, guests and tesseract come from)\n"
	"See hilrun(1) for all of it.\n"
	"\n"
	"Run options:\n"
	"  --card ID[,ID...]    card(s) to test (see 'hilrun list'); all their cells unless narrowed\n"
	"  --all                every emulated card and every card with a station (--stations)\n"
	"  -j, --jobs N         run up to N cells at once (never two of one card; default 1)\n"
	"  --guest G[,G...]     only these reference guests\n"
	"  --firmware F[,F...]  only this firmware (seabios, ovmf)\n"
	"  --variant V[,V...]   only these variants (default, kvm-hidden, ...)\n"
	"  --out DIR            results directory (default: results); runs go to DIR/runs/RUNID\n"
	"  --json               print the run records as a JSON array on stdout\n"
	"  --dry-run            print the QEMU argv of each cell and exit\n"
	"  --accel kvm|tcg      force the accelerator (default: physical cards KVM, emulated\n"
	"                       ones the faster in timed trial boots, once per host boot)\n"
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
	"  --capture ENDPOINT   the capture device showing the card's output: its VNC server\n"
	"                       (HOST:PORT) or its JPEG snapshot URL (http(s)://[USER:PASS@]HOST/...)\n"
	"  --stations FILE      stations file naming each physical card's host, capture and ROM\n"
	"  --windows-image FILE the lab's Windows image with hilrun's agent (guest windows;\n"
	"                       booted with snapshot=on: never changed); default: the station's\n"
	"Paths:\n"
	"  --cards DIR          card files (default: $HILRUN_CARDS, else %s)\n"
	"  --guests DIR         built guest images (default: $HILRUN_GUESTS, else %s)\n"
	"  --qemu BIN           QEMU binary (default: qemu-system-x86_64, or $HILRUN_QEMU)\n"
	"\n"
	"Sharing results (docs/upload.md):\n"
	"  key new              make an Ed25519 key pair: ID.key (secret, 0600) and ID.pub in\n"
	"                       --dir (default $XDG_CONFIG_HOME/hilrun, else ~/.config/hilrun)\n"
	"  upload --server URL  bundle, sign and send each run directory to a results server;\n"
	"                       transient failures are tried again (--attempts, default 5);\n"
	"                       exit 0 all accepted or already stored, 1 some rejected, 2 usage\n"
	"                       or key error, 3 the server unreachable\n"
	"  upload --dry-run     bundle, sign and validate each run directory as the results\n"
	"                       server will (--save DIR: each bundle as DIR/RUN_ID.tar);\n"
	"                       exit 0 all ok, 1 some rejected, 2 usage or key error\n"
	"  serve                the results server: --store DIR --keys FILE --listen ADDR:PORT\n"
	"                       [--max-contributor-bytes N] [--rate UPLOADS-A-MINUTE]\n"
	"                       [--timeout S] [--upload-time S] [--max-connections N]\n"
	"                       [--tls-cert F --tls-key F] [--cards DIR] [--results DIR]...\n"
	"                       [--republish S]; SIGHUP reloads the keys\n"
	"\n"
	"Exit codes: 0 as expected, 1 a cell failed unexpectedly, 2 usage or configuration\n"
	"error, 3 harness or lab failure, 130 interrupted.\n";

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
		char id[PCI_ID_MAX];
		printf("%-12s %-9s %s  %s\n", card->id, card_kind_name(card->kind),
		       pci_id(card->vendor, card->device, id), card->name);
	}
	printf("\n%-12s %-9s %s\n", "GUEST", "FIRMWARE", "DESCRIPTION");
	for (size_t i = 0; guest_at(i); i++)
		printf("%-12s %-9s %s\n", guest_at(i)->id, guest_at(i)->firmware,
		       guest_at(i)->description);
	catalog_release(&cat);
	return EXIT_OK;
}

static int cmd_help(int argc, char **argv, struct settings *s)
{
	(void)argc, (void)argv, (void)s;
	fputs(usage_text, stdout);
	return EXIT_OK;
}

static int cmd_version(int argc, char **argv, struct settings *s)
{
	(void)argc, (void)argv;
	/* Where this hilrun's data comes from: a lab checks what it runs. */
	printf("hilrun %s (tesseract %s)\n", HILRUN_VERSION, ocr_version());
	printf("cards:     %s (%s)\n", s->cards_dir,
	       getenv("HILRUN_CARDS") ? "$HILRUN_CARDS" : data_origin);
	printf("guests:    %s (%s)\n", s->guest_dir,
	       getenv("HILRUN_GUESTS") ? "$HILRUN_GUESTS" : data_origin);
	printf("tesseract: %s (%s)\n", ocr_version(), ocr_library());
	char *data = ocr_data();
	printf("tessdata:  %s\n", data);
	free(data);
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
	{ "grab", cmd_grab },
	{ "station", cmd_station },
	{ "rom", cmd_rom },
	{ "key", cmd_key },
	{ "upload", cmd_upload },
	{ "serve", cmd_serve },
	{ "help", cmd_help },
	{ "version", cmd_version },
};

int main(int argc, char **argv)
{
	struct settings s;
	settings_defaults(&s);
	usage_text = xasprintf(usage_format, default_cards_dir, default_guest_dir);
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
