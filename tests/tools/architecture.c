/* architecture: the parts of docs/architecture.md that are taken from the
 * code, so that the page cannot drift from it: the modules in pipeline
 * order, each with what it owns (the first sentence of its header
 * comment), and the engine's tables (phases, transitions, report lines).
 *
 *   architecture SRC                 print the generated blocks
 *   architecture SRC --check FILE    exit 1, naming the block, if FILE differs
 *   architecture SRC --write FILE    rewrite FILE's generated blocks
 *
 * A block sits between "<!-- generated:NAME -->" and "<!-- end -->". Every
 * source file under SRC/harness must be a module listed below (a new file
 * fails --check until it is placed in the pipeline). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "engine.h"
#include "util.h"

/* The pipeline: folders in order, and each folder's modules in the order
 * a run meets them. */
static const struct folder {
	const char *name, *what;
	const char *modules[24];
} pipeline[] = {
	{ "base", "foundations every step uses",
	  { "util", "confine", "sha256", "sock", "proc", "image", "imagefmt" } },
	{ "catalog", "what can be run, and whether a station is ready", { "catalog", "rom", "romdump", "preflight" } },
	{ "plan", "what one invocation runs, and how QEMU is started for each cell",
	  { "plan", "qemu_argv", "accel", "lock" } },
	{ "channels", "what QEMU, the guest and the capture say", { "qmp", "report", "vnc", "snapshot", "feed" } },
	{ "run", "one run, from nothing to its record",
	  { "run", "vm", "start", "supervise", "engine", "engine_int", "checks", "reports", "evidence",
	    "watchdog" } },
	{ "read", "frames to what they show",
	  { "screen", "textmode", "glyphset", "capture", "capture_int", "vec4", "capture_grid", "capture_cells", "capture_px",
	    "capture_fit", "capture_reuse", "capture_learn", "vgafont", "calib", "ocr", "pattern" } },
	{ "judge", "readings and reports to outcomes", { "judge", "windows" } },
	{ "record", "what stays after a run", { "record", "journal", "recover" } },
	{ "publish", "records to the matrix", { "matrix", "grid", "matrix_out" } },
	{ "share", "contributors' runs: signed, checked, sent and stored", { "keys", "bundle", "validate", "findings", "store", "republish", "serve", "send" } },
	{ "cli", "the hilrun command",
	  { "main", "cli", "cmd_run", "fanout", "cmd_matrix", "cmd_decode", "cmd_grab", "cmd_station", "cmd_rom",
	    "cmd_key", "cmd_upload", "cmd_serve" } },
};
#define NFOLDERS (sizeof pipeline / sizeof *pipeline)

static const char *src;

/* The first sentence of a file's top comment, after "NAME: "; NULL if the
 * file has none or only points elsewhere ("see x.h"). Caller frees. */
static char *summary(const char *path)
{
	size_t len;
	struct hil_err err;
	char *text = read_file(path, 1 << 20, &len, &err);
	if (!text)
		return NULL;
	char *end = strstr(text, "*/");
	if (strncmp(text, "/*", 2) || !end) {
		free(text);
		return NULL;
	}
	*end = '\0';
	struct strbuf sb = STRBUF_INIT;
	for (char *line = text + 2, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (*line == ' ' || *line == '*')
			line++;
		if (!*line)
			break; /* the first paragraph only */
		sb_addf(&sb, "%s%s", sb.len ? " " : "", line);
	}
	free(text);
	char *s = sb.buf ? strchr(sb.buf, ':') : NULL;
	char *out = NULL;
	if (s && strncmp(s + 2, "see ", 4)) {
		s += 2;
		char *stop = strstr(s, ". ");
		if (stop)
			stop[1] = '\0';
		out = xstrdup(s);
	}
	sb_release(&sb);
	return out;
}

static int exists(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f)
		fclose(f);
	return f != NULL;
}

static void modules(struct strbuf *out)
{
	for (size_t i = 0; i < NFOLDERS; i++) {
		const struct folder *f = &pipeline[i];
		sb_addf(out, "\n**`%s/`**: %s.\n\n| module | what it owns |\n|---|---|\n", f->name, f->what);
		for (const char *const *m = f->modules; *m; m++) {
			char *h = xasprintf("%s/harness/%s/%s.h", src, f->name, *m);
			char *c = xasprintf("%s/harness/%s/%s.c", src, f->name, *m);
			char *what = exists(h) ? summary(h) : NULL;
			if (!what && exists(c))
				what = summary(c);
			sb_addf(out, "| `%s`%s%s | %s |\n", *m, exists(h) ? " .h" : "", exists(c) ? " .c" : "",
				what ? what : "(no header comment)");
			free(what);
			free(h);
			free(c);
		}
	}
}

static const char *const kinds[] = { [PK_START] = "start", [PK_WAIT] = "wait", [PK_CHECK] = "check",
				      [PK_END] = "end", [PK_DONE] = "done" };
static const char *const screens[] = { [SCREEN_NONE] = "-", [SCREEN_WATCH] = "watched",
					[SCREEN_CHECK] = "checked" };

static void phases(struct strbuf *out)
{
	sb_adds(out, "\n| phase | stage | kind | screen | window (ms) |\n|---|---|---|---|---|\n");
	for (int p = 0; p < PH_COUNT; p++) {
		const struct phase_info *ph = &engine_phases[p];
		char window[16] = "-";
		if (ph->window_ms)
			snprintf(window, sizeof window, "%d", ph->window_ms);
		sb_addf(out, "| %s | %s | %s | %s | %s |\n", ph->name, stage_names[ph->stage], kinds[ph->kind],
			screens[ph->screen], window);
	}
}

static const char *next_name(enum phase p)
{
	return p == PH_COUNT ? "-" : p == PH_NEXT_CHECKPOINT ? "the guest's next checkpoint"
							  : engine_phases[p].name;
}

static int same(const struct transition *a, const struct transition *b)
{
	return a->act == b->act && a->next == b->next;
}

static void transitions(struct strbuf *out)
{
	/* Events handled alike in every phase while QEMU runs are listed once. */
	const enum phase first = PH_WAIT_POST_HOLD, last = PH_WAIT_END;
	int common[EV_COUNT] = { 0 };
	sb_addf(out, "\nIn every phase from %s to %s:\n\n| event | action | next |\n|---|---|---|\n",
		engine_phases[first].name, engine_phases[last].name);
	for (int ev = 0; ev < EV_COUNT; ev++) {
		const struct transition *t = &engine_table[first][ev];
		common[ev] = t->act != NULL;
		for (enum phase p = first; p <= last && common[ev]; p++)
			common[ev] = same(&engine_table[p][ev], t);
		if (common[ev])
			sb_addf(out, "| %s | %s | %s |\n", engine_event_names[ev], t->name, next_name(t->next));
	}
	sb_adds(out, "\nAnd in each phase (other events are ignored):\n\n| phase | event | action | next |\n|---|---|---|---|\n");
	for (int p = 0; p < PH_COUNT; p++) {
		int any = 0;
		for (int ev = 0; ev < EV_COUNT; ev++) {
			const struct transition *t = &engine_table[p][ev];
			if (!t->act || (common[ev] && p >= (int)first && p <= (int)last))
				continue;
			sb_addf(out, "| %s | %s | %s | %s |\n", any ? "" : engine_phases[p].name,
				engine_event_names[ev], t->name, next_name(t->next));
			any = 1;
		}
		if (!any)
			sb_addf(out, "| %s | (none) | | |\n", engine_phases[p].name);
	}
}

static void reports(struct strbuf *out)
{
	sb_adds(out, "\n| report line | noted by | raises |\n|---|---|---|\n");
	for (size_t i = 0; i < engine_nreports; i++) {
		const struct report_row *r = &engine_reports[i];
		sb_addf(out, "| `%s %s` | %s | %s |\n", r->stage, r->event, r->note ? r->note_name : "-",
			r->raises == EV_COUNT ? "-" : engine_event_names[r->raises]);
	}
}

/* Every .c and .h under harness/ is one of the pipeline's modules. */
static int all_placed(void)
{
	int ok = 1;
	char *root = xasprintf("%s/harness", src);
	DIR *d = opendir(root);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		const struct folder *f = NULL;
		for (size_t i = 0; i < NFOLDERS; i++)
			if (!strcmp(pipeline[i].name, e->d_name))
				f = &pipeline[i];
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "CMakeLists.txt"))
			continue;
		if (!f) {
			fprintf(stderr, "architecture: harness/%s is not a folder of the pipeline\n", e->d_name);
			ok = 0;
			continue;
		}
		char *sub = xasprintf("%s/%s", root, e->d_name);
		DIR *sd = opendir(sub);
		struct dirent *se;
		while (sd && (se = readdir(sd))) {
			size_t n = strlen(se->d_name);
			if (n < 3 || (strcmp(se->d_name + n - 2, ".c") && strcmp(se->d_name + n - 2, ".h")))
				continue;
			int found = 0;
			for (const char *const *m = f->modules; *m && !found; m++)
				found = strlen(*m) == n - 2 && !strncmp(*m, se->d_name, n - 2);
			if (!found) {
				fprintf(stderr, "architecture: harness/%s/%s is in no module of "
						"tests/tools/architecture.c's pipeline\n",
					e->d_name, se->d_name);
				ok = 0;
			}
		}
		if (sd)
			closedir(sd);
		free(sub);
	}
	if (d)
		closedir(d);
	free(root);
	return ok;
}

static void guests(struct strbuf *out)
{
	sb_adds(out, "\n| guest | firmware | stages it proves | checkpoints, in order |\n|---|---|---|---|\n");
	for (size_t i = 0; guest_at(i); i++) {
		const struct guest *g = guest_at(i);
		sb_addf(out, "| %s | %s | %s | %s |\n", g->id, g->firmware, g->stages, g->checkpoints);
	}
}

static const struct block {
	const char *name;
	void (*gen)(struct strbuf *out);
} blocks[] = {
	{ "modules", modules },
	{ "phases", phases },
	{ "transitions", transitions },
	{ "reports", reports },
	{ "guests", guests },
};

/* FILE with each generated block replaced; *differs names the first that
 * changed. NULL if a block's markers are missing. */
static char *regenerate(const char *text, const char **differs)
{
	struct strbuf out = STRBUF_INIT;
	const char *p = text;
	*differs = NULL;
	for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) {
		char *open = xasprintf("<!-- generated:%s -->\n", blocks[i].name);
		const char *a = strstr(p, open), *b = a ? strstr(a, "<!-- end -->") : NULL;
		if (!b) {
			fprintf(stderr, "architecture: no block %s (%.*s ... <!-- end -->)\n", blocks[i].name,
				(int)strlen(open) - 1, open);
			free(open);
			sb_release(&out);
			return NULL;
		}
		a += strlen(open);
		sb_add(&out, p, (size_t)(a - p));
		struct strbuf gen = STRBUF_INIT;
		blocks[i].gen(&gen);
		sb_adds(&gen, "\n");
		if (!*differs && ((size_t)(b - a) != gen.len || memcmp(a, gen.buf, gen.len)))
			*differs = blocks[i].name;
		sb_add(&out, gen.buf, gen.len);
		sb_release(&gen);
		free(open);
		p = b;
	}
	sb_adds(&out, p);
	return out.buf ? out.buf : xstrdup("");
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: architecture SRC [--check|--write FILE]\n");
		return 2;
	}
	src = argv[1];
	if (argc == 2) {
		struct strbuf out = STRBUF_INIT;
		for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++) {
			sb_addf(&out, "<!-- generated:%s -->\n", blocks[i].name);
			blocks[i].gen(&out);
			sb_adds(&out, "\n<!-- end -->\n");
		}
		fputs(sb_str(&out), stdout);
		sb_release(&out);
		return all_placed() ? 0 : 1;
	}
	size_t len;
	struct hil_err err;
	char *text = read_file(argv[3], 1 << 20, &len, &err);
	if (!text) {
		fprintf(stderr, "architecture: %s\n", err.msg);
		return 2;
	}
	const char *differs;
	char *fresh = regenerate(text, &differs);
	int rc = fresh && all_placed() ? 0 : 1;
	if (fresh && !strcmp(argv[2], "--write")) {
		if (write_file_atomic(argv[3], fresh, strlen(fresh), &err) < 0) {
			fprintf(stderr, "architecture: %s\n", err.msg);
			rc = 2;
		}
	} else if (fresh && differs) {
		fprintf(stderr,
			"architecture: %s: block '%s' is not what the code says; run "
			"build/tests/architecture %s --write %s\n",
			argv[3], differs, src, argv[3]);
		rc = 1;
	}
	free(fresh);
	free(text);
	return rc;
}
