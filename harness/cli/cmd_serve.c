/* cmd_serve: hilrun serve: the results server (share/serve.h) until SIGINT
 * or SIGTERM; SIGHUP reloads the keys file.
 *
 *   hilrun serve --store DIR --keys FILE [--listen ADDR:PORT] [--cards DIR]
 *       [--max-contributor-bytes N] [--rate N] [--timeout S]
 *       [--upload-time S] [--max-connections N]
 *       [--tls-cert FILE --tls-key FILE] [--results DIR]... [--republish S]
 *
 * Over HTTPS when given a certificate and key. The matrix at / holds the
 * store's runs and those of each --results DIR (the lab's), built again at
 * most every S seconds (default 10) after accepted uploads.
 *
 * Exit codes: 0 stopped by a signal, 2 usage or configuration error (the
 * keys file, the cards, the address), 3 the server could not start or
 * failed (the store, the certificate or key, the port taken).
 *
 * Ownership: the catalog is the command's own; the config borrows argv. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keys.h"
#include "matrix.h"
#include "serve.h"

/* A whole decimal number from min to max, or -1 and a message. */
static int number_arg(const char *opt, const char *arg, unsigned long long min,
		      unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (!*arg || *end || errno || v < min || v > max || arg[0] == '-') {
		say_error("serve: %s: expected a number from %llu to %llu, got '%s'", opt, min, max, arg);
		return -1;
	}
	*out = v;
	return 0;
}

int cmd_serve(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "keys", required_argument, NULL, 'k' },
		{ "listen", required_argument, NULL, 'l' },
		{ "cards", required_argument, NULL, 'c' },
		{ "max-contributor-bytes", required_argument, NULL, 'b' },
		{ "rate", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "upload-time", required_argument, NULL, 'u' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "results", required_argument, NULL, 'R' },
		{ "republish", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct serve_config cfg;
	struct hil_err err;
	const char *results[MATRIX_SOURCES_MAX - 1];
	unsigned long long v;
	int c;
	serve_config_defaults(&cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': cfg.store_dir = optarg; break;
		case 'k': cfg.keys_path = optarg; break;
		case 'c': s->cards_dir = optarg; break;
		case 'C': cfg.tls_cert = optarg; break;
		case 'K': cfg.tls_key = optarg; break;
		case 'R':
			if (cfg.nresults == MATRIX_SOURCES_MAX - 1) {
				say_error("serve: at most %d --results", MATRIX_SOURCES_MAX - 1);
				return EXIT_USAGE;
			}
			results[cfg.nresults++] = optarg;
			cfg.results = results;
			break;
		case 'p':
			if (number_arg("--republish", optarg, 0, 86400, &v) < 0)
				return EXIT_USAGE;
			cfg.republish_s = (unsigned)v;
			break;
		case 'l':
			if (serve_parse_listen(&cfg, optarg, &err) < 0) {
				say_error("serve: %s", err.msg);
				return EXIT_USAGE;
			}
			break;
		case 'b':
			if (number_arg("--max-contributor-bytes", optarg, 1, UINT64_MAX, &v) < 0)
				return EXIT_USAGE;
			cfg.max_contributor_bytes = v;
			break;
		case 'r':
			if (number_arg("--rate", optarg, 0, 100000, &v) < 0)
				return EXIT_USAGE;
			cfg.rate_per_minute = (unsigned)v;
			break;
		case 't':
			if (number_arg("--timeout", optarg, 1, 3600, &v) < 0)
				return EXIT_USAGE;
			cfg.timeout_s = (unsigned)v;
			break;
		case 'u':
			if (number_arg("--upload-time", optarg, 1, 86400, &v) < 0)
				return EXIT_USAGE;
			cfg.upload_time_s = (unsigned)v;
			break;
		case 'm':
			if (number_arg("--max-connections", optarg, 1, 10000, &v) < 0)
				return EXIT_USAGE;
			cfg.max_connections = (unsigned)v;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc || !cfg.store_dir || !cfg.keys_path) {
		say_error("serve: expected --store DIR --keys FILE [--listen ADDR:PORT]");
		return EXIT_USAGE;
	}
	if (!cfg.tls_cert != !cfg.tls_key) {
		say_error("serve: --tls-cert FILE and --tls-key FILE go together");
		return EXIT_USAGE;
	}
	/* the keys file is checked here too, so that a bad one is a usage
	 * error, not a lab one */
	struct keyring keys;
	keyring_init(&keys);
	int bad = keyring_load(&keys, cfg.keys_path, &err) < 0;
	keyring_release(&keys);
	if (bad) {
		say_error("serve: %s", err.msg);
		return EXIT_USAGE;
	}
	struct catalog cat;
	if (load_catalog(&cat, s) < 0)
		return EXIT_USAGE;
	cfg.cat = &cat;
	int rc = serve_run(&cfg, &err);
	if (rc < 0)
		say_error("serve: %s", err.msg);
	catalog_release(&cat);
	return rc < 0 ? EXIT_LAB : EXIT_OK;
}
