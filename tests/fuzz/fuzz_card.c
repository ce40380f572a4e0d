/* fuzz_card: the card-file parser (catalog/catalog.c,
 * catalog_add_card_text) given any text as a card file. A card it
 * accepts must be whole, as catalog.h and the runner rely on: every
 * required field set, emulated or vfio fields as the kind says, an
 * expectation for every cell; a card it refuses must say where, as
 * "FILE:LINE: ...". The same text a second time must be refused as a card
 * already defined. Corpus: tests/fuzz/corpus/card/ (seeds: the cards of
 * cards/ and the card texts of tests/unit/test_catalog.c, seeds.sh). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "fuzz.h"

#define NAME "fuzz.card"

/* An argv is NULL-ended once it holds a word (an empty one has no array). */
static int null_ended(const struct argv *a)
{
	return a->v ? a->v[a->n] == NULL : a->n == 0;
}

static void check_card(const struct catalog *c)
{
	const struct card *card = &c->cards[c->ncards - 1];
	fuzz_check(card->path && !strcmp(card->path, NAME) && card->id && *card->id && card->name,
		   "catalog_add_card_text accepted a card without path, id or name");
	fuzz_check(catalog_find_card(c, card->id) == card, "the card accepted is not found by its id");
	fuzz_check(card->kind == CARD_EMULATED ? card->qemu_device != NULL : card->qemu_device == NULL,
		   "an emulated card without its device, or a vfio card with one");
	fuzz_check(card->firmwares.n && card->guests.n && card->nvariants && card->expect,
		   "a card without firmware, guest, variant or expectation");
	for (size_t i = 0; i < card->firmwares.n; i++)
		fuzz_check(card->firmwares.v[i] && card_has_firmware(card, card->firmwares.v[i]),
			   "a firmware of the card is not found");
	fuzz_check(null_ended(&card->firmwares) && null_ended(&card->guests),
		   "a card's firmware or guest list is not NULL-ended");
	for (size_t i = 0; i < card->nvariants; i++) {
		const struct variant *v = &card->variants[i];
		fuzz_check(v->name && card_find_variant(card, v->name) && null_ended(&v->args),
			   "a variant without name, not found, or its words not NULL-ended");
		for (size_t k = 0; k < v->args.n; k++)
			fuzz_check(v->args.v[k] != NULL, "a variant's word is NULL");
	}
	for (size_t i = 0; i < card->nreported; i++)
		fuzz_check(card->reported[i].what && card->reported[i].result && card->reported[i].note,
			   "a reported outcome with a field NULL");
	fuzz_check(!card->nreported || card->reported_source, "reported outcomes without their source");
	for (size_t i = 0; i < card->ncell_expects; i++)
		fuzz_check(card->cell_expects[i].firmware && card->cell_expects[i].guest &&
				   card->cell_expects[i].verdict,
			   "a cell expectation with a field NULL");
	for (size_t f = 0; f < card->firmwares.n; f++)
		for (size_t g = 0; g < card->guests.n; g++)
			fuzz_check(card_expected(card, card->firmwares.v[f], card->guests.v[g]) != NULL,
				   "a cell of the card has no expected verdict");
	char id[PCI_ID_MAX];
	fuzz_check(strlen(pci_id(card->vendor, card->device, id)) == 9, "the card's PCI id as text");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	struct catalog c;
	struct hil_err err;
	catalog_init(&c);
	err.msg[0] = '\0';
	int rc = catalog_add_card_text(&c, NAME, text, &err);
	fuzz_check(rc == 0 || rc == -1, "catalog_add_card_text: neither 0 nor -1");
	fuzz_check(c.ncards == (rc == 0), "catalog_add_card_text: cards added disagree with its answer");
	if (rc == 0) {
		check_card(&c);
		/* The same card again: its id is taken. */
		fuzz_check(catalog_add_card_text(&c, NAME, text, &err) == -1 && c.ncards == 1 &&
				   fuzz_says_where(&err, NAME) && strstr(err.msg, "already defined"),
			   "a card id defined twice was accepted, or the message does not say so");
	} else {
		fuzz_check(fuzz_says_where(&err, NAME), "a refused card's message is not FILE:LINE: ...");
	}
	if (getenv("HILRUN_FUZZ_VERBOSE"))
		fprintf(stderr, "%s\n", rc == 0 ? "card accepted" : err.msg);
	catalog_release(&c);
	free(text);
	return 0;
}
