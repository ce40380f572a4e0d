/* cmd_matrix: hilrun matrix --results DIR --out OUT [--check]: index the
 * run records, write the matrix's files (publish/matrix.h), and name every
 * cell that got worse. --results and --store (a results server's store,
 * its runs the contributors') may each be given more than once. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "matrix.h"

static void matrix_warning(void *ctx, const char *msg)
{
	(void)ctx;
	say_error("warning: %s", msg);
}

int cmd_matrix(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "results", required_argument, NULL, 'R' },
		{ "store", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "cards", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	struct matrix_source src[MATRIX_SOURCES_MAX];
	size_t nsrc = 0;
	int check = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'R':
		case 's':
			if (nsrc == MATRIX_SOURCES_MAX) {
				say_error("matrix: at most %d --results and --store in all", MATRIX_SOURCES_MAX);
				return EXIT_USAGE;
			}
			src[nsrc++] = (struct matrix_source){ optarg, c == 's' };
			break;
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
	if (!nsrc)
		src[nsrc++] = (struct matrix_source){ "results", 0 };
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
	json_t *m = matrix_build_sources(src, nsrc, db, &cat, matrix_warning, NULL, &err);
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
				rc = exit_worse(rc, EXIT_UNEXPECTED);
		}
		fputc('\n', stderr);
	}
	json_t *differ = json_object_get(m, "disagreements");
	if (json_array_size(differ)) {
		fprintf(stderr, "  %-18s %zu", "sources disagree", json_array_size(differ));
		size_t i;
		json_t *n;
		json_array_foreach(differ, i, n)
			fprintf(stderr, "%s %s", i ? "," : ":", json_string_value(n));
		fputc('\n', stderr);
	}
	json_decref(m);
	return rc;
}

