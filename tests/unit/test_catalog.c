/* test_catalog: card files and stations files (harness/catalog/catalog.c).
 * The real cards/ directory loads with the expected kinds, PCI ids,
 * variants and reported outcomes; every kind of broken card text fails
 * with its exact "FILE:LINE: what was expected" message; comments, CRLF and
 * tabs; catalog_load_cards on temporary directories; stations files. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "testutil.h"

/* A minimal valid emulated card: 9 lines. */
#define EMU "format 1\nid t\nname Test card\nkind emulated\npci-id 1234:1111\n" \
	    "device VGA\nfirmware seabios\nguest bios-post\nvariant default\n"
/* A minimal valid vfio card: 10 lines. */
#define VFIO "format 1\nid t\nname Test card\nkind vfio\npci-id 10de:06e4\n" \
	     "x-vga yes\nrom optional\nfirmware seabios\nguest bios-post\nvariant default\n"

#define UNKNOWN_KEY_TAIL "(expected one of: id, name, kind, pci-id, device, x-vga, rom, " \
			 "firmware, guest, variant, expect, reported, reported-source)"

/* Parse text as t.card into a fresh catalog; returns the rc, err filled. */
static int parse_one(const char *text, struct hil_err *err)
{
	struct catalog c;
	catalog_init(&c);
	strcpy(err->msg, "(no message)");
	int rc = catalog_add_card_text(&c, "t.card", text, err);
	ck_assert_uint_eq(c.ncards, rc == 0 ? 1 : 0);
	catalog_release(&c);
	return rc;
}

/* ---- the real cards ---------------------------------------------------- */

static struct catalog real;

static void real_load(void)
{
	struct hil_err err;
	catalog_init(&real);
	char *dir = xasprintf("%s/cards", test_source_dir());
	int rc = catalog_load_cards(&real, dir, &err);
	free(dir);
	ck_assert_msg(rc == 0, "%s", err.msg);
}

static void real_unload(void)
{
	catalog_release(&real);
}

static const struct {
	const char *id;
	enum card_kind kind;
	unsigned vendor, device;
	const char *qemu_device; /* emulated only */
	size_t nvariants, nreported;
} real_cards[] = {
	/* in file name order, as catalog_load_cards sorts them */
	{ "ati-vga", CARD_EMULATED, 0x1002, 0x5046, "ati-vga", 1, 0 },
	{ "cedar", CARD_VFIO, 0x1002, 0x68f9, NULL, 1, 5 },
	{ "cirrus-vga", CARD_EMULATED, 0x1013, 0x00b8, "cirrus-vga", 1, 0 },
	{ "g72", CARD_VFIO, 0x10de, 0x01d1, NULL, 2, 5 },
	{ "g86", CARD_VFIO, 0x10de, 0x042f, NULL, 2, 5 },
	{ "g98", CARD_VFIO, 0x10de, 0x06e4, NULL, 2, 5 },
	{ "qxl-vga", CARD_EMULATED, 0x1b36, 0x0100, "qxl-vga", 1, 0 },
	{ "rv370", CARD_VFIO, 0x1002, 0x5b63, NULL, 1, 4 },
	{ "std-vga", CARD_EMULATED, 0x1234, 0x1111, "VGA", 1, 0 },
	{ "virtio-vga", CARD_EMULATED, 0x1af4, 0x1050, "virtio-vga", 1, 0 },
	{ "vmware-svga", CARD_EMULATED, 0x15ad, 0x0405, "vmware-svga", 1, 0 },
};
#define NREAL (sizeof real_cards / sizeof *real_cards)

START_TEST(real_cards_all_load)
{
	ck_assert_uint_eq(real.ncards, NREAL);
	for (size_t i = 0; i < NREAL; i++)
		ck_assert_str_eq(real.cards[i].id, real_cards[i].id);
}
END_TEST

START_TEST(real_card_fields)
{
	size_t i = (size_t)_i;
	const struct card *card = catalog_find_card(&real, real_cards[i].id);
	ck_assert_ptr_nonnull(card);
	ck_assert_int_eq(card->kind, real_cards[i].kind);
	ck_assert_uint_eq(card->vendor, real_cards[i].vendor);
	ck_assert_uint_eq(card->device, real_cards[i].device);
	ck_assert_uint_eq(card->nvariants, real_cards[i].nvariants);
	ck_assert_uint_eq(card->nreported, real_cards[i].nreported);
	ck_assert_msg(card->name && card->name[0], "card %s has no name", card->id);
	char *file = xasprintf("%s.card", card->id);
	const char *slash = strrchr(card->path, '/');
	ck_assert_ptr_nonnull(slash);
	ck_assert_str_eq(slash + 1, file);
	free(file);
	if (card->kind == CARD_EMULATED) {
		ck_assert_str_eq(card_kind_name(card->kind), "emulated");
		ck_assert_ptr_nonnull(card->qemu_device);
		ck_assert_str_eq(card->qemu_device, real_cards[i].qemu_device);
		ck_assert_ptr_null(card->reported_source);
	} else {
		ck_assert_str_eq(card_kind_name(card->kind), "vfio");
		ck_assert_ptr_null(card->qemu_device);
		ck_assert_int_eq(card->x_vga, 1);
		ck_assert_int_eq(card->rom, ROM_OPTIONAL);
		ck_assert_ptr_nonnull(card->reported_source);
	}
	ck_assert(card_has_firmware(card, "seabios"));
	ck_assert(card_has_guest(card, "bios-post"));
	/* Emulated cards run both firmware; the physical ones' cards list
	 * SeaBIOS only until a station has tried them under OVMF. */
	const int emulated = card->kind == CARD_EMULATED;
	ck_assert_int_eq(card_has_firmware(card, "ovmf"), emulated);
	ck_assert_int_eq(card_has_guest(card, "uefi-gop"), emulated);
	ck_assert_ptr_nonnull(card_find_variant(card, "default"));
	ck_assert_uint_eq(card_find_variant(card, "default")->args.n, 0);
	ck_assert_str_eq(card->expect, "pass");
}
END_TEST

START_TEST(real_g98)
{
	const struct card *g98 = catalog_find_card(&real, "g98");
	ck_assert_ptr_nonnull(g98);
	ck_assert_str_eq(g98->name, "GeForce 8400 GS (G98)");
	const struct variant *v = card_find_variant(g98, "kvm-hidden");
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->args.n, 2);
	ck_assert_str_eq(v->args.v[0], "-cpu");
	ck_assert_str_eq(v->args.v[1], "host,kvm=off,hv-vendor-id=hilrunhilrun");
	ck_assert_ptr_null(v->args.v[2]);
	ck_assert_ptr_null(card_find_variant(g98, "kvm"));

	ck_assert_str_eq(g98->reported_source,
			 "2013 founding report: VFIO VGA passthrough of five cards under SeaBIOS and Windows 7");
	ck_assert_uint_eq(g98->nreported, 5);
	ck_assert_str_eq(g98->reported[0].what, "post");
	ck_assert_str_eq(g98->reported[0].result, "pass");
	ck_assert_str_eq(g98->reported[0].note, "");
	ck_assert_int_eq(g98->reported[0].line, 19);
	ck_assert_str_eq(g98->reported[3].what, "driver:win7-vga");
	ck_assert_str_eq(g98->reported[3].result, "fail:yellow-bang");
	ck_assert_str_eq(g98->reported[3].note, "Device Manager showed a yellow bang");
	ck_assert_str_eq(g98->reported[4].what, "driver:vendor");
	ck_assert_str_eq(g98->reported[4].result, "fail:code43");
	ck_assert_str_eq(g98->reported[4].note, "NVIDIA's driver reported Code 43");
	ck_assert_int_eq(g98->reported[4].line, 23);
}
END_TEST

START_TEST(real_cedar_and_rv370)
{
	const struct card *cedar = catalog_find_card(&real, "cedar");
	ck_assert_ptr_nonnull(cedar);
	ck_assert_str_eq(cedar->reported[4].what, "driver:vendor");
	ck_assert_str_eq(cedar->reported[4].result, "fail:host-hang");
	ck_assert_str_eq(cedar->reported[4].note, "installing AMD Catalyst hung the host");
	ck_assert_ptr_null(card_find_variant(cedar, "kvm-hidden"));
	const struct card *rv370 = catalog_find_card(&real, "rv370");
	ck_assert_ptr_nonnull(rv370);
	ck_assert_str_eq(rv370->reported[3].result, "fail:driver");
	ck_assert_ptr_null(catalog_find_card(&real, "g99"));
	ck_assert_ptr_null(catalog_find_station(&real, "g98"));
}
END_TEST

START_TEST(guests_builtin)
{
	const struct guest *g = guest_find("bios-post");
	ck_assert_ptr_nonnull(g);
	ck_assert_str_eq(g->firmware, "seabios");
	ck_assert_int_eq(g->post, POST_SEABIOS_BANNER);
	ck_assert(g->reports_pci);
	ck_assert_ptr_eq(guest_at(0), g);
	const struct guest *u = guest_find("uefi-gop");
	ck_assert_ptr_nonnull(u);
	ck_assert_str_eq(u->firmware, "ovmf");
	ck_assert_int_eq(u->post, POST_FIRMWARE_OUTPUT);
	ck_assert_ptr_eq(guest_at(1), u);
	const struct guest *l = guest_find("linux-drm");
	ck_assert_ptr_nonnull(l);
	ck_assert(guest_runs_under(l, "seabios") && guest_runs_under(l, "ovmf"));
	ck_assert(!guest_runs_under(l, "ovm") && !guest_runs_under(g, "ovmf"));
	ck_assert_int_eq(l->media, MEDIA_KERNEL);
	ck_assert_int_eq(guest_post_rule(l, "seabios"), POST_SEABIOS_BANNER);
	ck_assert_int_eq(guest_post_rule(l, "ovmf"), POST_FIRMWARE_FB);
	ck_assert_ptr_eq(guest_at(2), l);
	const struct guest *w = guest_find("windows");
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_null(w->image); /* the lab names its own */
	ck_assert_int_eq(w->driver_report, DRIVER_WINDOWS);
	ck_assert_ptr_eq(guest_at(3), w);
	ck_assert_ptr_null(guest_at(4));
	ck_assert_ptr_null(guest_find("dos"));
}
END_TEST

/* ---- good card texts --------------------------------------------------- */

START_TEST(card_full_vfio)
{
	static const char text[] =
		"# a comment line\n"
		"format 1   # trailing comment\n"
		"id\tmy-card-2\n"
		"name   Card#1  rev  B   # the name keeps its '#', loses the comment\n"
		"kind vfio\n"
		"pci-id 10DE:06e4\n"
		"x-vga no\n"
		"rom required\n"
		"firmware seabios ovmf\n"
		"guest bios-post\n"
		"guest uefi-gop\n"
		"variant default\n"
		"variant kvm-hidden -cpu host,kvm=off   -machine q35\n"
		"expect fail:no-post\n"
		"expect ovmf/uefi-gop   fail:graphics\n"
		"reported-source  somebody's notes\n"
		"reported post pass\n"
		"reported driver:vendor  fail:code43   driver  said   43\n";
	struct catalog c;
	struct hil_err err;
	catalog_init(&c);
	ck_assert_msg(catalog_add_card_text(&c, "my.card", text, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(c.ncards, 1);
	const struct card *card = catalog_find_card(&c, "my-card-2");
	ck_assert_ptr_nonnull(card);
	ck_assert_str_eq(card->path, "my.card");
	ck_assert_str_eq(card->name, "Card#1  rev  B");
	ck_assert_int_eq(card->kind, CARD_VFIO);
	ck_assert_uint_eq(card->vendor, 0x10de);
	ck_assert_uint_eq(card->device, 0x06e4);
	ck_assert_int_eq(card->x_vga, 0);
	ck_assert_int_eq(card->rom, ROM_REQUIRED);
	ck_assert_uint_eq(card->firmwares.n, 2);
	ck_assert(card_has_firmware(card, "ovmf"));
	ck_assert_uint_eq(card->nvariants, 2);
	const struct variant *v = card_find_variant(card, "kvm-hidden");
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->args.n, 4);
	ck_assert_str_eq(v->args.v[0], "-cpu");
	ck_assert_str_eq(v->args.v[1], "host,kvm=off");
	ck_assert_str_eq(v->args.v[2], "-machine");
	ck_assert_str_eq(v->args.v[3], "q35");
	ck_assert_str_eq(card->expect, "fail:no-post");
	ck_assert_str_eq(card_expected(card, "ovmf", "uefi-gop"), "fail:graphics");
	ck_assert_str_eq(card_expected(card, "seabios", "bios-post"), "fail:no-post");
	ck_assert_str_eq(card_expected(card, "ovmf", "bios-post"), "fail:no-post");
	ck_assert_str_eq(card->reported_source, "somebody's notes");
	ck_assert_uint_eq(card->nreported, 2);
	ck_assert_str_eq(card->reported[1].what, "driver:vendor");
	ck_assert_str_eq(card->reported[1].result, "fail:code43");
	ck_assert_str_eq(card->reported[1].note, "driver  said   43");
	ck_assert_int_eq(card->reported[1].line, 18);
	catalog_release(&c);
	ck_assert_uint_eq(c.ncards, 0);
	ck_assert_ptr_null(c.cards);
}
END_TEST

START_TEST(card_crlf_and_tabs)
{
	static const char text[] =
		"format 1\r\n"
		"id t\r\n"
		"name\tTab\tName\t\r\n"
		"kind emulated\r\n"
		"pci-id 1234:1111\t# comment after a tab\r\n"
		"device VGA\r\n"
		"firmware seabios\r\n"
		"guest bios-post\r\n"
		"variant default"; /* no final newline */
	struct catalog c;
	struct hil_err err;
	catalog_init(&c);
	ck_assert_msg(catalog_add_card_text(&c, "t.card", text, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(c.cards[0].name, "Tab Name");
	ck_assert_str_eq(c.cards[0].qemu_device, "VGA");
	ck_assert_uint_eq(c.cards[0].device, 0x1111);
	catalog_release(&c);
}
END_TEST

/* A '#' glued to a word is part of the word; so a glued '#' in the key's
 * place is a key of its own, not a comment. */
START_TEST(card_hash_inside_word)
{
	struct hil_err err;
	ck_assert_int_eq(parse_one(EMU "variant#x default\n", &err), -1);
	ck_assert_str_eq(err.msg, "t.card:10: unknown key 'variant#x' " UNKNOWN_KEY_TAIL);
	ck_assert_int_eq(parse_one(EMU "  # indented comment\n\t#tab comment\n", &err), 0);
}
END_TEST

START_TEST(card_line_at_limit)
{
	/* "name " + 1019 x = 1024 bytes: accepted; one more byte: refused. */
	struct strbuf sb = STRBUF_INIT;
	sb_adds(&sb, "format 1\nid t\nname ");
	for (int i = 0; i < CARD_LINE_MAX - 5; i++)
		sb_adds(&sb, "x");
	sb_adds(&sb, "\nkind emulated\npci-id 1234:1111\ndevice VGA\nfirmware seabios\n"
		     "guest bios-post\nvariant default\n");
	struct hil_err err;
	int rc = parse_one(sb_str(&sb), &err);
	ck_assert_msg(rc == 0, "%s", err.msg);
	sb_release(&sb);

	sb_adds(&sb, "format 1\nid t\nname ");
	for (int i = 0; i < CARD_LINE_MAX - 4; i++)
		sb_adds(&sb, "x");
	sb_adds(&sb, "\nkind emulated\n");
	rc = parse_one(sb_str(&sb), &err);
	sb_release(&sb);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(err.msg, "t.card:3: line longer than 1024 bytes");
}
END_TEST

START_TEST(card_duplicate_id_across_texts)
{
	struct catalog c;
	struct hil_err err;
	catalog_init(&c);
	ck_assert_int_eq(catalog_add_card_text(&c, "a.card", EMU, &err), 0);
	ck_assert_int_eq(catalog_add_card_text(&c, "b.card", "\n" EMU, &err), -1);
	ck_assert_str_eq(err.msg, "b.card:3: card id 't' is already defined in a.card");
	ck_assert_uint_eq(c.ncards, 1);
	ck_assert_str_eq(c.cards[0].path, "a.card");
	catalog_release(&c);
}
END_TEST

/* ---- broken card texts ------------------------------------------------- */

static const struct {
	const char *text;
	const char *msg;
} bad_cards[] = {
	/* format line */
	{ "", "t.card:1: expected 'format 1' as the first line (file is empty)" },
	{ "# only comments\n\n   \n", "t.card:1: expected 'format 1' as the first line (file is empty)" },
	{ "id t\nformat 1\n", "t.card:1: expected 'format 1' as the first line" },
	{ "\n# leading comment\nformat 2\n", "t.card:3: expected format version 1, got '2'" },
	{ "format 1.0\n", "t.card:1: expected format version 1, got '1.0'" },
	{ "format 1 2\n", "t.card:1: expected format version 1, got '1 2'" },
	{ "format\n", "t.card:1: expected format version 1, got ''" },
	/* single-valued keys */
	{ "format 1\nid Test\n", "t.card:2: expected a card id of lowercase letters, digits and '-', got 'Test'" },
	{ "format 1\nid a b\n", "t.card:2: expected one card id after 'id'" },
	{ "format 1\nname\n", "t.card:2: expected the card's name after 'name'" },
	{ "format 1\nid t\nname Test card\nkind gpu\n",
	  "t.card:4: expected 'vfio' or 'emulated' after 'kind', got 'gpu'" },
	{ "format 1\nkind vfio emulated\n",
	  "t.card:2: expected 'vfio' or 'emulated' after 'kind', got 'vfio emulated'" },
	{ "format 1\nid t\npci-id 10de-06e4\n",
	  "t.card:3: expected a PCI id like 10de:06e4 after 'pci-id', got '10de-06e4'" },
	{ "format 1\npci-id 10de:6e4\n",
	  "t.card:2: expected a PCI id like 10de:06e4 after 'pci-id', got '10de:6e4'" },
	{ "format 1\npci-id 10de:06g4\n",
	  "t.card:2: expected a PCI id like 10de:06e4 after 'pci-id', got '10de:06g4'" },
	{ "format 1\npci-id 10de:06e4 1234:1111\n",
	  "t.card:2: expected a PCI id like 10de:06e4 after 'pci-id', got '10de:06e4 1234:1111'" },
	{ "format 1\ndevice VGA cirrus-vga\n", "t.card:2: expected one QEMU device name (e.g. VGA) after 'device'" },
	{ "format 1\nx-vga on\n", "t.card:2: expected 'yes' or 'no' after 'x-vga', got 'on'" },
	{ "format 1\nrom sometimes\n",
	  "t.card:2: expected 'none', 'optional' or 'required' after 'rom', got 'sometimes'" },
	{ "format 1\nexpect maybe\n",
	  "t.card:2: expected a verdict (pass, fail:REASON, error:REASON) after 'expect', got 'maybe'" },
	{ "format 1\nexpect fail:\n",
	  "t.card:2: expected a verdict (pass, fail:REASON, error:REASON) after 'expect', got 'fail:'" },
	{ "format 1\nexpect ovmf fail:graphics\n",
	  "t.card:2: expected 'expect FIRMWARE/GUEST VERDICT' (e.g. 'expect ovmf/uefi-gop "
	  "fail:graphics'), got 'ovmf fail:graphics'" },
	{ "format 1\nexpect ovmf/uefi-gop maybe\n",
	  "t.card:2: expected 'expect FIRMWARE/GUEST VERDICT' (e.g. 'expect ovmf/uefi-gop "
	  "fail:graphics'), got 'ovmf/uefi-gop maybe'" },
	{ "format 1\nexpect ovmf/uefi-gop pass\nexpect ovmf/uefi-gop fail:text\n",
	  "t.card:3: 'expect ovmf/uefi-gop' given twice (first at line 2)" },
	{ EMU "expect ovmf/uefi-gop pass\n",
	  "t.card:10: 'expect ovmf/uefi-gop': the card does not list that firmware and guest" },
	{ "format 1\nreported-source\n",
	  "t.card:2: expected where the reported outcomes come from after 'reported-source'" },
	/* duplicates */
	{ EMU "name Other\n", "t.card:10: 'name' given twice (first at line 3)" },
	{ "format 1\nid t\n\n# again:\nid t\n", "t.card:5: 'id' given twice (first at line 2)" },
	{ EMU "firmware ovmf seabios\n", "t.card:10: firmware 'seabios' listed twice" },
	{ EMU "guest bios-post\n", "t.card:10: guest 'bios-post' listed twice" },
	{ EMU "variant default -m 64\n", "t.card:10: variant 'default' defined twice" },
	/* list keys */
	{ "format 1\nfirmware bios\n", "t.card:2: expected 'seabios' or 'ovmf' after 'firmware', got 'bios'" },
	{ "format 1\nfirmware seabios ovmf seabios\n",
	  "t.card:2: expected 'seabios' and/or 'ovmf' after 'firmware'" },
	{ "format 1\nguest dos\n", "t.card:2: expected a known guest (bios-post, uefi-gop, linux-drm, windows) after 'guest', got 'dos'" },
	{ "format 1\nguest\n", "t.card:2: expected one guest id after 'guest'" },
	{ "format 1\nvariant fast cpu host\n",
	  "t.card:2: expected QEMU options (starting with '-') after variant 'fast', got 'cpu'" },
	{ "format 1\nvariant Fast -cpu host\n",
	  "t.card:2: expected a variant name (lowercase letters, digits, '-') and then its QEMU arguments" },
	{ "format 1\nvariant\n",
	  "t.card:2: expected a variant name (lowercase letters, digits, '-') and then its QEMU arguments" },
	{ "format 1\nreported post ok\n",
	  "t.card:2: expected 'reported WHAT VERDICT [NOTE]' (e.g. 'reported post pass'), got 'post ok'" },
	{ "format 1\nreported post\n",
	  "t.card:2: expected 'reported WHAT VERDICT [NOTE]' (e.g. 'reported post pass'), got 'post'" },
	{ EMU "colour red\n", "t.card:10: unknown key 'colour' " UNKNOWN_KEY_TAIL },
	/* bytes */
	{ "format 1\nid t\x01\n", "t.card:2: unexpected control byte 0x01" },
	{ "format 1\n\nname a\x7f" "b\n", "t.card:3: unexpected control byte 0x7f" },
	{ "format 1\x1b\n", "t.card:1: unexpected control byte 0x1b" },
	/* missing keys: reported at the last non-comment line */
	{ "format 1\nname X\nkind emulated\npci-id 1234:1111\n", "t.card:4: missing 'id'" },
	{ "format 1\nid t\nkind emulated\npci-id 1234:1111\n", "t.card:4: missing 'name'" },
	{ "format 1\nid t\nname T\npci-id 1234:1111\n", "t.card:4: missing 'kind'" },
	{ "format 1\nid t\nname Test card\nkind emulated\ndevice VGA\nfirmware seabios\n"
	  "guest bios-post\nvariant default\n# trailing comment\n\n",
	  "t.card:8: missing 'pci-id'" },
	{ "format 1\nid t\nname Test card\nkind emulated\npci-id 1234:1111\nfirmware seabios\n"
	  "guest bios-post\nvariant default\n",
	  "t.card:8: missing 'device' (an emulated card needs its QEMU device name)" },
	{ "format 1\nid t\nname Test card\nkind vfio\npci-id 10de:06e4\nrom optional\n"
	  "firmware seabios\nguest bios-post\nvariant default\n",
	  "t.card:9: missing 'x-vga' (yes or no)" },
	{ "format 1\nid t\nname Test card\nkind vfio\npci-id 10de:06e4\nx-vga yes\n"
	  "firmware seabios\nguest bios-post\nvariant default\n",
	  "t.card:9: missing 'rom' (none, optional or required)" },
	{ "format 1\nid t\nname Test card\nkind emulated\npci-id 1234:1111\ndevice VGA\n"
	  "guest bios-post\nvariant default\n",
	  "t.card:8: missing 'firmware'" },
	{ "format 1\nid t\nname Test card\nkind emulated\npci-id 1234:1111\ndevice VGA\n"
	  "firmware seabios\nvariant default\n",
	  "t.card:8: missing 'guest'" },
	{ "format 1\nid t\nname Test card\nkind emulated\npci-id 1234:1111\ndevice VGA\n"
	  "firmware seabios\nguest bios-post\n",
	  "t.card:8: missing 'variant' (at least 'variant default')" },
	/* kind-specific keys */
	{ EMU "x-vga yes\n", "t.card:10: 'x-vga' and 'rom' are for vfio cards only" },
	{ EMU "\nrom none\n", "t.card:11: 'x-vga' and 'rom' are for vfio cards only" },
	{ VFIO "device VGA\n", "t.card:11: 'device' is for emulated cards only" },
	{ EMU "reported post pass\n", "t.card:10: 'reported' outcomes need a 'reported-source'" },
};
#define NBAD (sizeof bad_cards / sizeof *bad_cards)

START_TEST(card_bad)
{
	struct hil_err err;
	int rc = parse_one(bad_cards[_i].text, &err);
	ck_assert_msg(rc == -1, "case %d parsed", _i);
	ck_assert_msg(!strcmp(err.msg, bad_cards[_i].msg), "case %d:\n  got      '%s'\n  expected '%s'",
		      _i, err.msg, bad_cards[_i].msg);
}
END_TEST

START_TEST(card_good_variants_of_base)
{
	struct hil_err err;
	ck_assert_msg(parse_one(EMU, &err) == 0, "%s", err.msg);
	ck_assert_msg(parse_one(VFIO, &err) == 0, "%s", err.msg);
	ck_assert_msg(parse_one(VFIO "expect error:x\nreported-source me\nreported text fail:x note\n",
				&err) == 0, "%s", err.msg);
}
END_TEST

/* ---- catalog_load_cards on a temporary directory ------------------------ */

static char *tmp;

static void tmp_setup(void)
{
	tmp = test_tmpdir();
}

static void tmp_teardown(void)
{
	test_rmdir(tmp);
	free(tmp);
	tmp = NULL;
}

static int load_dir(const char *dir, struct hil_err *err, size_t *ncards)
{
	struct catalog c;
	catalog_init(&c);
	strcpy(err->msg, "(no message)");
	int rc = catalog_load_cards(&c, dir, err);
	*ncards = c.ncards;
	catalog_release(&c);
	return rc;
}

START_TEST(dir_loads_sorted_and_skips_others)
{
	test_write_str(tmp, "t.card", EMU);
	test_write_str(tmp, "a.card", "format 1\nid a\nname A\nkind emulated\npci-id 1013:00b8\n"
				      "device cirrus-vga\nfirmware seabios\nguest bios-post\nvariant default\n");
	test_write_str(tmp, ".hidden.card", "garbage\n");
	test_write_str(tmp, "notes.txt", "garbage\n");
	test_write_str(tmp, "x.card~", "garbage\n");
	struct catalog c;
	struct hil_err err;
	catalog_init(&c);
	ck_assert_msg(catalog_load_cards(&c, tmp, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(c.ncards, 2);
	ck_assert_str_eq(c.cards[0].id, "a");
	ck_assert_str_eq(c.cards[1].id, "t");
	char *path = test_path(tmp, "t.card");
	ck_assert_str_eq(c.cards[1].path, path);
	free(path);
	catalog_release(&c);
}
END_TEST

START_TEST(dir_id_must_match_file_name)
{
	test_write_str(tmp, "foo.card", EMU);
	struct hil_err err;
	size_t n;
	ck_assert_int_eq(load_dir(tmp, &err, &n), -1);
	char *want = xasprintf("%s/foo.card:1: card id 't' does not match the file name (expected foo.card)", tmp);
	ck_assert_str_eq(err.msg, want);
	free(want);
}
END_TEST

START_TEST(dir_duplicate_id)
{
	test_write_str(tmp, "t.card", EMU);
	test_write_str(tmp, "u.card", "# same id as t.card\n" EMU);
	struct hil_err err;
	size_t n;
	ck_assert_int_eq(load_dir(tmp, &err, &n), -1);
	char *want = xasprintf("%s/u.card:3: card id 't' is already defined in %s/t.card", tmp, tmp);
	ck_assert_str_eq(err.msg, want);
	free(want);
}
END_TEST

START_TEST(dir_error_names_the_file)
{
	test_write_str(tmp, "t.card", "format 1\nid t\nname Test card\nkind gpu\n");
	struct hil_err err;
	size_t n;
	ck_assert_int_eq(load_dir(tmp, &err, &n), -1);
	char *want = xasprintf("%s/t.card:4: expected 'vfio' or 'emulated' after 'kind', got 'gpu'", tmp);
	ck_assert_str_eq(err.msg, want);
	free(want);
}
END_TEST

START_TEST(dir_file_too_large)
{
	struct strbuf sb = STRBUF_INIT;
	sb_adds(&sb, EMU);
	while (sb.len <= CARD_FILE_MAX)
		sb_adds(&sb, "# padding padding padding padding padding padding padding padding\n");
	test_write(tmp, "t.card", sb.buf, sb.len);
	sb_release(&sb);
	struct hil_err err;
	size_t n;
	ck_assert_int_eq(load_dir(tmp, &err, &n), -1);
	char *want = xasprintf("%s/t.card: larger than 65536 bytes", tmp);
	ck_assert_str_eq(err.msg, want);
	free(want);
}
END_TEST

START_TEST(dir_empty)
{
	test_write_str(tmp, "README", "no cards here\n");
	struct hil_err err;
	size_t n;
	ck_assert_int_eq(load_dir(tmp, &err, &n), -1);
	ck_assert_uint_eq(n, 0);
	char *want = xasprintf("no card files (*.card) in %s", tmp);
	ck_assert_str_eq(err.msg, want);
	free(want);
}
END_TEST

START_TEST(dir_missing)
{
	char *dir = test_path(tmp, "nope");
	struct hil_err err;
	size_t n;
	ck_assert_int_eq(load_dir(dir, &err, &n), -1);
	char *want = xasprintf("cannot open card directory %s: No such file or directory", dir);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(dir);
}
END_TEST

/* ---- stations ---------------------------------------------------------- */

static const char good_stations[] =
	"format 1\n"
	"station bench-1            # starts a station\n"
	"card g98                   # card id\n"
	"host 0000:01:00.0          # host PCI address of the card\n"
	"capture 10.0.0.5:5900      # VNC endpoint\n"
	"rom /srv/roms/g98.rom\n"
	"power-cycle ipmitool -H bmc1 chassis power cycle   # optional\n"
	"windows-image /srv/images/win7-agent.qcow2\n"
	"\n"
	"station bench-2\n"
	"host 0000:0A:1f.7\n"
	"card cedar\n"
	"companion 0000:0A:1f.1     # its HDMI audio\n"
	"companion 0000:0A:1f.2 0000:0A:1f.3\n";

START_TEST(stations_good)
{
	struct catalog c;
	struct hil_err err;
	catalog_init(&c);
	ck_assert_msg(catalog_add_stations_text(&c, "lab.stations", good_stations, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(c.nstations, 2);
	const struct station *s = catalog_find_station(&c, "g98");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->path, "lab.stations");
	ck_assert_int_eq(s->line, 2);
	ck_assert_str_eq(s->name, "bench-1");
	ck_assert_str_eq(s->host, "0000:01:00.0");
	ck_assert_str_eq(s->capture, "10.0.0.5:5900");
	ck_assert_str_eq(s->rom, "/srv/roms/g98.rom");
	ck_assert_str_eq(s->power_cycle, "ipmitool -H bmc1 chassis power cycle");
	ck_assert_str_eq(s->windows_image, "/srv/images/win7-agent.qcow2");
	s = catalog_find_station(&c, "cedar");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->name, "bench-2");
	ck_assert_int_eq(s->line, 10);
	ck_assert_str_eq(s->host, "0000:0A:1f.7");
	ck_assert_ptr_null(s->rom);
	ck_assert_ptr_null(s->capture);
	ck_assert_ptr_null(s->power_cycle);
	ck_assert_ptr_null(s->windows_image);
	ck_assert_uint_eq(s->companions.n, 3);
	ck_assert_str_eq(s->companions.v[0], "0000:0A:1f.1");
	ck_assert_str_eq(s->companions.v[2], "0000:0A:1f.3");
	ck_assert_int_eq(s->companion_line, 13);
	ck_assert_uint_eq(catalog_find_station(&c, "g98")->companions.n, 0);
	ck_assert_ptr_null(catalog_find_station(&c, "g86"));
	catalog_release(&c);
}
END_TEST

START_TEST(stations_load_file)
{
	test_write_str(tmp, "lab.stations", good_stations);
	char *path = test_path(tmp, "lab.stations");
	struct catalog c;
	struct hil_err err;
	catalog_init(&c);
	ck_assert_msg(catalog_load_stations(&c, path, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(c.nstations, 2);
	ck_assert_str_eq(c.stations[0].path, path);
	catalog_release(&c);

	char *missing = test_path(tmp, "none.stations");
	catalog_init(&c);
	ck_assert_int_eq(catalog_load_stations(&c, missing, &err), -1);
	char *want = xasprintf("cannot open %s: No such file or directory", missing);
	ck_assert_str_eq(err.msg, want);
	catalog_release(&c);
	free(want);
	free(missing);
	free(path);
}
END_TEST

static const struct {
	const char *text;
	const char *msg;
} bad_stations[] = {
	{ "", "s.txt:1: expected 'format 1' as the first line (file is empty)" },
	{ "format 2\n", "s.txt:1: expected 'format 1' as the first line" },
	{ "station a\n", "s.txt:1: expected 'format 1' as the first line" },
	{ "format 1\ncard g98\n", "s.txt:2: expected 'station NAME' before 'card'" },
	{ "format 1\nstation a\ncard g98\nhost 01:00.0\n",
	  "s.txt:4: expected a host PCI address like 0000:01:00.0 after 'host', got '01:00.0'" },
	{ "format 1\nstation a\ncard g98\nhost 0000:01:00:0\n",
	  "s.txt:4: expected a host PCI address like 0000:01:00.0 after 'host', got '0000:01:00:0'" },
	{ "format 1\nstation a\ncard g98\n", "s.txt:2: station 'a' needs 'card' and 'host'" },
	{ "format 1\n\nstation a\nhost 0000:01:00.0\n", "s.txt:3: station 'a' needs 'card' and 'host'" },
	{ "format 1\nstation a\ncard g98\nhost 0000:01:00.0\nstation b\ncard g86\n",
	  "s.txt:5: station 'b' needs 'card' and 'host'" },
	{ "format 1\nstation a\ncard g98\ncard g86\n", "s.txt:4: 'card' given twice for station 'a'" },
	{ "format 1\nstation a\nslot 3\n",
	  "s.txt:3: unknown key 'slot' (expected one of: station, card, host, capture, rom, power-cycle, windows-image, companion)" },
	{ "format 1\nstation a\ncard g98\nhost 0000:01:00.0\ncompanion 01:00.1\n",
	  "s.txt:5: expected a PCI address like 0000:01:00.1 after 'companion', got '01:00.1'" },
	{ "format 1\nstation a\ncard g98\nhost 0000:01:00.0\ncompanion\n",
	  "s.txt:5: expected the PCI addresses of the card's other functions after 'companion'" },
	{ "format 1\nstation a\ncard g98\nhost 0000:01:00.0\ncompanion 0000:01:00.1\ncompanion 0000:02:00.1\n",
	  "s.txt:6: companion 0000:02:00.1 is not another function of the card at 0000:01:00.0 (expected 0000:01:00.F)" },
	{ "format 1\nstation a\ncard g98\nhost 0000:01:00.0\ncompanion 0000:01:00.0\n",
	  "s.txt:5: companion 0000:01:00.0 is not another function of the card at 0000:01:00.0 (expected 0000:01:00.F)" },
	/* the host after the companion: said at the companion's line */
	{ "format 1\nstation a\ncard g98\ncompanion 0000:01:00.1\nhost 0000:03:00.0\n",
	  "s.txt:4: companion 0000:01:00.1 is not another function of the card at 0000:03:00.0 (expected 0000:03:00.F)" },
	{ "format 1\nstation a b\n", "s.txt:2: expected one station name after 'station'" },
	{ "format 1\nstation a\ncard g98 g86\n", "s.txt:3: expected one value after 'card'" },
	{ "format 1\nstation a\npower-cycle\n", "s.txt:3: expected a command after 'power-cycle'" },
	{ "format 1\nstation a\x02\n", "s.txt:2: unexpected control byte 0x02" },
};
#define NBADST (sizeof bad_stations / sizeof *bad_stations)

START_TEST(stations_bad)
{
	struct catalog c;
	struct hil_err err;
	catalog_init(&c);
	strcpy(err.msg, "(no message)");
	int rc = catalog_add_stations_text(&c, "s.txt", bad_stations[_i].text, &err);
	catalog_release(&c);
	ck_assert_msg(rc == -1, "case %d parsed", _i);
	ck_assert_msg(!strcmp(err.msg, bad_stations[_i].msg), "case %d:\n  got      '%s'\n  expected '%s'",
		      _i, err.msg, bad_stations[_i].msg);
}
END_TEST

/* An emulated card's station names only its card: it says which lab host
 * runs the card (a lab engine's builder), nothing a run would use. The
 * catalog knows the card's kind only when the cards are loaded first. */
static void with_cards(struct catalog *c)
{
	struct hil_err err;
	catalog_init(c);
	ck_assert_msg(catalog_add_card_text(c, "t.card", EMU, &err) == 0, "%s", err.msg);
	ck_assert_msg(catalog_add_card_text(c, "p.card", "format 1\nid p\nname Physical\nkind vfio\n"
					    "pci-id 10de:06e4\nx-vga yes\nrom none\nfirmware seabios\n"
					    "guest bios-post\nvariant default\n", &err) == 0, "%s", err.msg);
}

START_TEST(stations_emulated_card)
{
	struct catalog c;
	struct hil_err err;
	with_cards(&c);
	ck_assert_msg(catalog_add_stations_text(&c, "lab.stations",
						"format 1\nstation emu-1\ncard t\n"
						"station bench-1\ncard p\nhost 0000:01:00.0\n", &err) == 0,
		      "%s", err.msg);
	const struct station *s = catalog_find_station(&c, "t");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->name, "emu-1");
	ck_assert_ptr_null(s->host);
	ck_assert_ptr_null(s->capture);
	ck_assert_str_eq(catalog_find_station(&c, "p")->host, "0000:01:00.0");
	catalog_release(&c);
}
END_TEST

static const struct {
	const char *text;
	const char *msg;
} bad_emulated[] = {
	{ "format 1\nstation e\ncard t\nhost 0000:01:00.0\n",
	  "s.txt:2: station 'e': card t is emulated, its station names only its card (no 'host')" },
	{ "format 1\nstation e\ncard t\ncapture 10.0.0.5:5900\n",
	  "s.txt:2: station 'e': card t is emulated, its station names only its card (no 'capture')" },
	{ "format 1\nstation e\ncard t\nrom /srv/t.rom\n",
	  "s.txt:2: station 'e': card t is emulated, its station names only its card (no 'rom')" },
	{ "format 1\nstation e\ncard t\nwindows-image /srv/w.qcow2\n",
	  "s.txt:2: station 'e': card t is emulated, its station names only its card (no 'windows-image')" },
	{ "format 1\nstation e\ncard t\npower-cycle ipmitool power cycle\n",
	  "s.txt:2: station 'e': card t is emulated, its station names only its card (no 'power-cycle')" },
	{ "format 1\nstation e\ncard t\ncompanion 0000:01:00.1\n",
	  "s.txt:2: station 'e': card t is emulated, its station names only its card (no 'companion')" },
	/* a physical card, or one the catalog does not hold, still needs its host */
	{ "format 1\nstation e\ncard t\nstation b\ncard p\n", "s.txt:4: station 'b' needs 'card' and 'host'" },
	{ "format 1\nstation x\ncard nosuch\n", "s.txt:2: station 'x' needs 'card' and 'host'" },
};
#define NBADEMU (sizeof bad_emulated / sizeof *bad_emulated)

START_TEST(stations_emulated_bad)
{
	struct catalog c;
	struct hil_err err;
	with_cards(&c);
	strcpy(err.msg, "(no message)");
	int rc = catalog_add_stations_text(&c, "s.txt", bad_emulated[_i].text, &err);
	catalog_release(&c);
	ck_assert_msg(rc == -1, "case %d parsed", _i);
	ck_assert_msg(!strcmp(err.msg, bad_emulated[_i].msg), "case %d:\n  got      '%s'\n  expected '%s'",
		      _i, err.msg, bad_emulated[_i].msg);
}
END_TEST

static Suite *catalog_suite(void)
{
	Suite *s = suite_create("catalog");
	TCase *tc = tcase_create("real-cards");
	tcase_add_checked_fixture(tc, real_load, real_unload);
	tcase_add_test(tc, real_cards_all_load);
	tcase_add_loop_test(tc, real_card_fields, 0, (int)NREAL);
	tcase_add_test(tc, real_g98);
	tcase_add_test(tc, real_cedar_and_rv370);
	tcase_add_test(tc, guests_builtin);
	suite_add_tcase(s, tc);

	tc = tcase_create("card-text");
	tcase_add_test(tc, card_full_vfio);
	tcase_add_test(tc, card_crlf_and_tabs);
	tcase_add_test(tc, card_hash_inside_word);
	tcase_add_test(tc, card_line_at_limit);
	tcase_add_test(tc, card_duplicate_id_across_texts);
	tcase_add_test(tc, card_good_variants_of_base);
	tcase_add_loop_test(tc, card_bad, 0, (int)NBAD);
	suite_add_tcase(s, tc);

	tc = tcase_create("card-dir");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_test(tc, dir_loads_sorted_and_skips_others);
	tcase_add_test(tc, dir_id_must_match_file_name);
	tcase_add_test(tc, dir_duplicate_id);
	tcase_add_test(tc, dir_error_names_the_file);
	tcase_add_test(tc, dir_file_too_large);
	tcase_add_test(tc, dir_empty);
	tcase_add_test(tc, dir_missing);
	tcase_add_test(tc, stations_load_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("stations");
	tcase_add_test(tc, stations_good);
	tcase_add_loop_test(tc, stations_bad, 0, (int)NBADST);
	tcase_add_test(tc, stations_emulated_card);
	tcase_add_loop_test(tc, stations_emulated_bad, 0, (int)NBADEMU);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(catalog_suite());
}
