/* fuzz_stations: the stations-file parser (catalog/catalog.c,
 * catalog_add_stations_text) given any text as a stations file, with the
 * cards of the source tree loaded first (as hilrun loads them), so that a
 * station of an emulated card is told from a physical one. A file it
 * accepts must hold whole stations, as catalog.h says: each names its
 * card, and either the card is emulated and the station says nothing more,
 * or it has a host; a file it refuses must say where, "FILE:LINE: ...".
 * Corpus: tests/fuzz/corpus/stations/ (seeds: tests/fixtures/stations/
 * and the stations texts of tests/unit/test_catalog.c, seeds.sh). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "fuzz.h"

#define NAME "fuzz.stations"

static struct catalog tree; /* the cards, loaded once */

static void check_station(const struct catalog *c, const struct station *s)
{
	fuzz_check(s->path && !strcmp(s->path, NAME) && s->line > 0 && s->name && s->card,
		   "an accepted station without path, line, name or card");
	const struct card *card = catalog_find_card(c, s->card);
	if (card && card->kind == CARD_EMULATED)
		fuzz_check(!s->host && !s->capture && !s->rom && !s->power_cycle && !s->windows_image &&
				   !s->companions.n,
			   "an emulated card's station names more than its card");
	else
		fuzz_check(s->host != NULL, "a physical card's station without its host");
	fuzz_check((s->companions.v ? s->companions.v[s->companions.n] == NULL : !s->companions.n) && (!s->companions.n || s->companion_line > 0),
		   "a station's companions not NULL-ended, or without their line");
	for (size_t i = 0; i < s->companions.n; i++)
		fuzz_check(s->companions.v[i] && strcmp(s->companions.v[i], s->host),
			   "a companion that is the card itself");
	fuzz_check(catalog_find_station(c, s->card) != NULL, "a station is not found by its card");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!tree.ncards) {
		catalog_init(&tree);
		fuzz_tree_cards(&tree);
	}
	char *text = fuzz_text(data, size);
	/* The tree's cards, borrowed: only the stations are this input's. */
	struct catalog c = tree;
	c.stations = NULL;
	c.nstations = 0;
	struct hil_err err;
	err.msg[0] = '\0';
	int rc = catalog_add_stations_text(&c, NAME, text, &err);
	fuzz_check(rc == 0 || rc == -1, "catalog_add_stations_text: neither 0 nor -1");
	fuzz_check(c.cards == tree.cards && c.ncards == tree.ncards,
		   "catalog_add_stations_text changed the cards");
	if (rc == 0)
		for (size_t i = 0; i < c.nstations; i++)
			check_station(&c, &c.stations[i]);
	else
		fuzz_check(fuzz_says_where(&err, NAME), "a refused stations file's message is not FILE:LINE: ...");
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "%s (%zu stations)\n", rc == 0 ? "accepted" : err.msg, c.nstations);
	c.cards = NULL;
	c.ncards = 0;
	catalog_release(&c);
	free(text);
	return 0;
}
