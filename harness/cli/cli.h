/* cli: what hilrun's subcommands share: exit codes, where things are, how
 * errors are said. Each subcommand is a cmd_NAME(argc, argv, settings) in
 * a file of its own (cmd_*.c); main.c holds the table of them.
 *
 * Exit codes (documented in the README):
 *   0  every cell ended as its card file expects
 *   1  a cell failed unexpectedly (the card, firmware, guest or QEMU)
 *   2  usage or configuration error
 *   3  the harness or the lab failed (not the card)
 *   130 interrupted (SIGINT/SIGTERM/SIGHUP); records written so far are kept
 *
 * Ownership: settings borrow their strings (argv, the environment). */
#ifndef HIL_CLI_H
#define HIL_CLI_H

#include "catalog.h"

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

void settings_defaults(struct settings *s);
/* hilrun help: the default paths filled in by main(). */
extern const char *usage_text;

/* "hilrun: MESSAGE" on stderr. */
void say_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The cards (and the stations file, if one is set); says why not. */
int load_catalog(struct catalog *cat, const struct settings *s);
/* The worse of two exit codes: interrupted, then an unexpected failure,
 * then a usage error, then a lab error, then as expected. */
int exit_worse(int a, int b);

int cmd_run(int argc, char **argv, struct settings *s);
int cmd_resume(int argc, char **argv, struct settings *s);
int cmd_matrix(int argc, char **argv, struct settings *s);
int cmd_decode(int argc, char **argv, struct settings *s);
int cmd_grab(int argc, char **argv, struct settings *s);
int cmd_station(int argc, char **argv, struct settings *s);
int cmd_rom(int argc, char **argv, struct settings *s);
int cmd_key(int argc, char **argv, struct settings *s);
int cmd_upload(int argc, char **argv, struct settings *s);
int cmd_serve(int argc, char **argv, struct settings *s);

#endif
