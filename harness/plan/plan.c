/* plan: see plan.h. */
#include "plan.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int filter_names(const char *list, const char *id)
{
	if (!list)
		return 1;
	const size_t n = strlen(id);
	for (const char *p = list; *p; p += strcspn(p, ","), p += *p == ',')
		if (strcspn(p, ",") == n && !strncmp(p, id, n))
			return 1;
	return 0;
}

size_t plan_cells(const struct card *card, const struct cell_filter *filter, struct cell **out)
{
	static const struct cell_filter any;
	const struct cell_filter *f = filter ? filter : &any;
	size_t n = 0;
	*out = NULL;
	for (size_t fw = 0; fw < card->firmwares.n; fw++) {
		const char *firmware = card->firmwares.v[fw];
		if (!filter_names(f->firmware, firmware))
			continue;
		for (size_t g = 0; g < card->guests.n; g++) {
			const struct guest *guest = guest_find(card->guests.v[g]);
			if (!guest || !guest_runs_under(guest, firmware) ||
			    !filter_names(f->guest, guest->id))
				continue;
			for (size_t v = 0; v < card->nvariants; v++) {
				if (!filter_names(f->variant, card->variants[v].name))
					continue;
				*out = xrealloc(*out, (n + 1) * sizeof **out);
				(*out)[n++] = (struct cell){ card, firmware, guest, &card->variants[v] };
			}
		}
	}
	return n;
}

char *cell_key(const char *card, const char *firmware, const char *guest, const char *variant)
{
	return xasprintf("%s %s/%s %s", card, firmware, guest, variant);
}

char *plan_cell_key(const struct cell *c)
{
	return cell_key(c->card->id, c->firmware, c->guest->id, c->variant->name);
}

void plan_new_id(char *out, size_t n)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(out, n, "%s-%ld", stamp, (long)getpid());
}

json_t *plan_entry(const char *plan_id, int argc, char **argv, char *const *keys, size_t nkeys)
{
	json_t *jargv = json_array(), *jcells = json_array();
	for (int i = 1; i < argc; i++)
		json_array_append_new(jargv, json_string(argv[i]));
	for (size_t i = 0; i < nkeys; i++)
		json_array_append_new(jcells, json_string(keys[i]));
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		snprintf(cwd, sizeof cwd, ".");
	return json_pack("{s:s, s:o, s:s, s:o}", "plan", plan_id, "argv", jargv, "cwd", cwd, "cells",
			 jcells);
}

char *plan_guest_image(const struct cell *c, const char *guest_dir, const char *lab_image)
{
	return c->guest->image ? xasprintf("%s/%s", guest_dir, c->guest->image)
			       : xstrdup(lab_image ? lab_image : "");
}
