/* cmd_upload: hilrun upload --dry-run [--key FILE] [--json] [--cards DIR]
 * RUN_DIR...: bundle each run directory (share/bundle.h), sign it with the
 * contributor's secret key, and check it with the results server's own
 * validator (share/validate.h) against the key's public half and the card
 * catalog. Prints per run "ok" with the bundle's size and artifact count,
 * or every error; warnings either way.
 *
 * The key: --key FILE, else the one *.key file in the default key directory
 * ($XDG_CONFIG_HOME/hilrun, else ~/.config/hilrun).
 *
 * Sending to a results server is the next step of issue 15: without
 * --dry-run this says so and exits 2.
 *
 * Exit codes: 0 every run would be accepted, 1 some run would be rejected,
 * 2 usage or configuration error (no key, a key others can read, cards).
 *
 * Ownership: the key, the catalog and each bundle are the command's own. */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "cli.h"
#include "keys.h"
#include "validate.h"

/* The one DIR/NAME.key of the default key directory; NULL and err if
 * there are none or several. */
static char *default_key(struct hil_err *err)
{
	char *dir = key_default_dir(err);
	if (!dir)
		return NULL;
	DIR *d = opendir(dir);
	char *found = NULL;
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 4 && e->d_name[0] != '.' && !strcmp(e->d_name + len - 4, ".key") && !n++)
			found = xasprintf("%s/%s", dir, e->d_name);
	}
	if (d)
		closedir(d);
	if (n != 1) {
		hil_seterr(err, n ? "%s holds %d keys: choose one with --key FILE"
				  : "no key in %s: make one with 'hilrun key new --id NAME' (or give --key FILE)",
			   dir, n);
		free(found);
		found = NULL;
	}
	free(dir);
	return found;
}

/* One run: bundled, signed, validated; its findings added to f, the
 * bundle's facts to v. */
static void dry_run_one(const char *run_dir, const struct key_secret *sk,
			const struct keyring *keys, const struct catalog *cat, struct findings *f,
			struct validated *v)
{
	struct bundle b;
	bundle_init(&b);
	memset(v, 0, sizeof *v);
	if (bundle_from_dir(run_dir, NULL, &b, f) == 0) {
		struct strbuf tar = STRBUF_INIT;
		struct hil_err err;
		if (bundle_pack(&b, sk, &tar, &err) < 0)
			findings_add(f, FINDING_ERROR, "run-dir", NULL, "%s", err.msg);
		else
			validate_bundle(tar.buf, tar.len, keys, cat, NULL, f, v);
		sb_release(&tar);
	}
	bundle_release(&b);
}

int cmd_upload(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "cards", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_arg = NULL;
	int dry_run = 0, json = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'n')
			dry_run = 1;
		else if (c == 'k')
			key_arg = optarg;
		else if (c == 'j')
			json = 1;
		else if (c == 'c')
			s->cards_dir = optarg;
		else
			return EXIT_USAGE;
	}
	if (!dry_run) {
		say_error("upload: sending to a results server is not built yet; 'hilrun upload --dry-run RUN_DIR...' bundles, signs and validates runs as the server will");
		return EXIT_USAGE;
	}
	if (optind == argc) {
		say_error("upload: expected one or more run directories (results/runs/RUN_ID)");
		return EXIT_USAGE;
	}
	struct hil_err err;
	char *key_path = key_arg ? xstrdup(key_arg) : default_key(&err);
	struct key_secret sk;
	if (!key_path || key_secret_load(key_path, &sk, &err) < 0) {
		say_error("upload: %s", err.msg);
		free(key_path);
		return EXIT_USAGE;
	}
	free(key_path);
	struct catalog cat;
	if (load_catalog(&cat, s) < 0) {
		key_secret_release(&sk);
		return EXIT_USAGE;
	}
	/* The server holds the contributor's public key; here it is the key's
	 * own public half. */
	struct keyring keys;
	struct key_public pub;
	keyring_init(&keys);
	key_secret_public(&sk, &pub);
	keyring_add(&keys, &pub, &err);

	int exit = EXIT_OK;
	json_t *all = json_array();
	for (int i = optind; i < argc; i++) {
		struct findings f;
		struct validated v;
		findings_init(&f);
		dry_run_one(argv[i], &sk, &keys, &cat, &f, &v);
		size_t nerr = findings_errors(&f);
		if (nerr)
			exit = EXIT_UNEXPECTED;
		if (json) {
			json_t *o = findings_json(&f);
			json_object_set_new(o, "run_dir", json_string(argv[i]));
			json_object_set_new(o, "run_id", json_string(v.run_id));
			json_object_set_new(o, "bytes", json_integer((json_int_t)v.bytes));
			json_object_set_new(o, "artifacts", json_integer((json_int_t)v.artifacts));
			json_array_append_new(all, o);
		} else {
			if (nerr)
				printf("%s: rejected, %zu error%s\n", argv[i], nerr, nerr == 1 ? "" : "s");
			else
				printf("%s: ok, %zu bytes, %zu artifact%s (run %s, card %s, contributor %s)\n",
				       argv[i], v.bytes, v.artifacts, v.artifacts == 1 ? "" : "s", v.run_id,
				       v.card, v.contributor);
			char *text = findings_text(&f, "  ");
			fputs(text, stdout);
			free(text);
		}
		findings_release(&f);
	}
	if (json) {
		char *text = json_dumps(all, JSON_INDENT(2));
		puts(text);
		free(text);
	}
	json_decref(all);
	keyring_release(&keys);
	catalog_release(&cat);
	key_secret_release(&sk);
	return exit;
}
