/* cmd_upload: hilrun upload: bundle and sign run directories, then check
 * them here (--dry-run) or send them to a results server (--server).
 *
 *   hilrun upload (--server URL | --dry-run [--save DIR]) [--key FILE]
 *       [--json] [--cards DIR] [--attempts N] [--cacert FILE] RUN_DIR...
 *
 * Each run directory is bundled (share/bundle.h) and signed with the
 * contributor's secret key; then
 *   --dry-run     check it with the results server's own validator
 *                 (share/validate.h) against the key's public half and the
 *                 card catalog: "ok" with the bundle's size and artifact
 *                 count, or every error; warnings either way; --save DIR
 *                 also writes each bundle as DIR/RUN_ID.tar (to look
 *                 into, or to send by other means);
 *   --server URL  POST it to URL/api/v1/runs (share/send.h: transient
 *                 failures tried again with backoff, each retry printed;
 *                 a rejection never) and print the server's answer:
 *                 accepted with the run's URL, already stored, or rejected
 *                 with every finding. --cacert FILE: the CAs an https
 *                 server's certificate is checked against (a lab's own).
 *
 * The key: --key FILE, else the one *.key file in the default key directory
 * ($XDG_CONFIG_HOME/hilrun, else ~/.config/hilrun).
 *
 * Exit codes: 0 every run accepted (or already stored; with --dry-run:
 * would be accepted), 1 some run rejected, 2 usage or configuration error
 * (no key, a key others can read, cards, a URL curl cannot use), 3 the
 * server unreachable (or busy: 5xx, 429) after every attempt.
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
#include "send.h"
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
			const struct keyring *keys, const struct catalog *cat, const char *save_dir,
			struct findings *f, struct validated *v)
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
		if (save_dir && v->run_id[0]) {
			char *path = xasprintf("%s/%s.tar", save_dir, v->run_id);
			if (mkdir_p(save_dir, &err) < 0 ||
			    write_file_atomic(path, tar.buf, tar.len, &err) < 0)
				findings_add(f, FINDING_ERROR, "run-dir", NULL, "%s", err.msg);
			free(path);
		}
		sb_release(&tar);
	}
	bundle_release(&b);
}

/* The --json output: one array, indented. */
static void put_json(json_t *all)
{
	char *text = json_dumps(all, JSON_INDENT(2));
	puts(text);
	free(text);
}

/* The findings of a server's JSON answer, as findings_text prints them. */
static void print_answer_findings(json_t *body)
{
	static const char *const levels[] = { "errors", "warnings" };
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *x;
		json_array_foreach (json_object_get(body, levels[l]), i, x) {
			const char *file = json_string_value(json_object_get(x, "file"));
			printf("  %s %s: %s%s%s\n", l ? "warning" : "error",
			       json_string_value(json_object_get(x, "code")) ?: "?", file ? file : "",
			       file ? ": " : "", json_string_value(json_object_get(x, "message")) ?: "");
		}
	}
}

static void say_retry(void *ctx, int attempt, int attempts, const char *why, int64_t wait_ms)
{
	printf("%s: attempt %d of %d failed (%s): again in %.1f s\n", (const char *)ctx, attempt,
	       attempts, why, (double)wait_ms / 1000);
	fflush(stdout);
}

/* One run sent to server: its exit code. */
static int send_one(const char *run_dir, const char *server, const struct send_options *opts,
		    const struct key_secret *sk, json_t *all)
{
	struct bundle b;
	struct findings f;
	struct strbuf tar = STRBUF_INIT;
	struct hil_err err;
	bundle_init(&b);
	findings_init(&f);
	if (bundle_from_dir(run_dir, NULL, &b, &f) == 0 && bundle_pack(&b, sk, &tar, &err) < 0)
		findings_add(&f, FINDING_ERROR, "run-dir", NULL, "%s", err.msg);
	bundle_release(&b);
	if (findings_errors(&f)) {
		/* cannot even be bundled: rejected here, never sent */
		json_t *o = findings_json(&f);
		json_object_set_new(o, "run_dir", json_string(run_dir));
		json_object_set_new(o, "status", json_string("not-sent"));
		if (all) {
			json_array_append_new(all, o);
		} else {
			printf("%s: rejected before sending, %zu error%s\n", run_dir, findings_errors(&f),
			       findings_errors(&f) == 1 ? "" : "s");
			print_answer_findings(o);
			json_decref(o);
		}
		findings_release(&f);
		sb_release(&tar);
		return EXIT_UNEXPECTED;
	}
	findings_release(&f);
	fflush(stdout);
	struct send_answer a;
	enum send_outcome out = send_bundle(server, tar.buf, tar.len, opts, &a,
					    all ? NULL : say_retry, (void *)run_dir);
	sb_release(&tar);
	int rc;
	const char *url = json_string_value(json_object_get(a.body, "url"));
	size_t slen = strlen(server);
	while (slen && server[slen - 1] == '/')
		slen--;
	char *where = url ? xasprintf("%.*s%s", (int)slen, server, url) : xstrdup("?");
	if (out == SEND_BAD_URL) {
		say_error("upload: %s: %s", server, a.error);
		rc = EXIT_USAGE;
	} else if (out == SEND_UNREACHABLE) {
		printf("%s: server unreachable after %d attempt%s: %s\n", run_dir, a.attempts,
		       a.attempts == 1 ? "" : "s", a.error);
		rc = EXIT_LAB;
	} else if (a.http_status == 201 || a.http_status == 200) {
		if (!all)
			printf("%s: %s %s\n", run_dir,
			       a.http_status == 201 ? "accepted:" : "already stored:", where);
		rc = EXIT_OK;
	} else {
		if (!all) {
			printf("%s: rejected (HTTP %ld)\n", run_dir, a.http_status);
			if (json_is_object(a.body))
				print_answer_findings(a.body);
			else
				printf("  the server's answer was not JSON\n");
		}
		rc = EXIT_UNEXPECTED;
	}
	if (all) {
		json_t *o = json_is_object(a.body) ? json_incref(a.body) : json_object();
		json_object_set_new(o, "run_dir", json_string(run_dir));
		json_object_set_new(o, "http_status", json_integer(a.http_status));
		json_object_set_new(o, "attempts", json_integer(a.attempts));
		if (out != SEND_ANSWERED)
			json_object_set_new(o, "error", json_string(a.error));
		json_array_append_new(all, o);
	}
	if (!all && json_is_object(a.body) && (a.http_status == 201 || a.http_status == 200))
		print_answer_findings(a.body); /* the warnings of an accepted run */
	free(where);
	send_answer_release(&a);
	return rc;
}

int cmd_upload(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "cards", required_argument, NULL, 'c' },
		{ "server", required_argument, NULL, 's' },
		{ "attempts", required_argument, NULL, 'a' },
		{ "save", required_argument, NULL, 'S' },
		{ "cacert", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_arg = NULL, *server = NULL, *save_dir = NULL;
	int dry_run = 0, json = 0, c;
	struct send_options opts = { SEND_ATTEMPTS_DEFAULT, NULL };
	char *end;
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
		else if (c == 's')
			server = optarg;
		else if (c == 'S')
			save_dir = optarg;
		else if (c == 'A')
			opts.cacert = optarg;
		else if (c == 'a') {
			long n = strtol(optarg, &end, 10);
			if (!*optarg || *end || n < 1 || n > 100) {
				say_error("upload: --attempts: expected a number from 1 to 100, got '%s'", optarg);
				return EXIT_USAGE;
			}
			opts.attempts = (int)n;
		} else
			return EXIT_USAGE;
	}
	if (!dry_run == !server) {
		say_error("upload: expected --server URL (send) or --dry-run (check here), one of them");
		return EXIT_USAGE;
	}
	if (save_dir && !dry_run) {
		say_error("upload: --save DIR goes with --dry-run");
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
	if (server) {
		int exit = EXIT_OK;
		json_t *all = json ? json_array() : NULL;
		for (int i = optind; i < argc; i++)
			exit = exit_worse(exit, send_one(argv[i], server, &opts, &sk, all));
		if (all)
			put_json(all);
		json_decref(all);
		key_secret_release(&sk);
		return exit;
	}
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
		dry_run_one(argv[i], &sk, &keys, &cat, save_dir, &f, &v);
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
	if (json)
		put_json(all);
	json_decref(all);
	keyring_release(&keys);
	catalog_release(&cat);
	key_secret_release(&sk);
	return exit;
}
