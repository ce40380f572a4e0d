/* catalog: see catalog.h; the file format is in docs/card-format.md. */
#include "catalog.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct guest guests[] = {
	{
		.id = "bios-post",
		.description = "boot sector (disk image): PCI display list, VGA text in mode 3, a VBE "
			       "graphics mode; reported on COM1",
		.firmware = "seabios",
		.media = MEDIA_DISK,
		.image = "bios-post/bios-post.img",
		.post = POST_SEABIOS_BANNER,
		.post_uefi = POST_SEABIOS_BANNER,
		.reports_pci = 1,
		.calibrates = 1,
		.stages = "start post text graphics shutdown",
		.checkpoints = "post text calib graphics",
	},
	{
		.id = "uefi-gop",
		.description = "EFI application (FAT disk image): UEFI console text, the Graphics Output "
			       "Protocol's modes, a GOP graphics mode; reported on COM1",
		.firmware = "ovmf",
		.media = MEDIA_DISK,
		.image = "uefi-gop/uefi-gop.img",
		.post = POST_FIRMWARE_OUTPUT,
		.post_uefi = POST_FIRMWARE_OUTPUT,
		.stages = "start post text graphics shutdown",
		.checkpoints = "post text graphics",
		.quiet_ms = { 30000, 0, 0 }, /* OVMF's boot may sit quiet longer */
	},
	{
		.id = "linux-drm",
		.description = "Debian's Linux kernel and an initramfs whose init is hilrun's agent: "
			       "each display device's driver loaded as udev would, its DRM/fbdev "
			       "state and errors, a KMS pattern, the framebuffer console; reported "
			       "on COM1",
		.firmware = "seabios ovmf",
		.media = MEDIA_KERNEL,
		.image = "linux-drm/initrd.img",
		.kernel = "linux-drm/vmlinuz",
		/* Kernel messages stay off the screen and (nearly) off COM1; the
		 * cursor is off, so the screen changes only when the agent draws. */
		.cmdline = "console=ttyS0,115200 loglevel=1 vt.global_cursor_default=0 "
			   "fbcon=font:VGA8x16",
		.memory_mb = 512,
		.post = POST_SEABIOS_BANNER,
		.post_uefi = POST_FIRMWARE_FB,
		.reports_pci = 1,
		.driver_report = DRIVER_LINUX,
		.stages = "start post text driver shutdown",
		.checkpoints = "post text driver console",
		.quiet_ms = { 60000, 0, 0 }, /* the kernel boots before the first report */
	},
	{
		.id = "windows",
		.description = "a lab's own Windows image with hilrun's agent (guests/windows): each "
			       "display device's driver, problem code and version; reported on COM1",
		.firmware = "seabios ovmf",
		.media = MEDIA_DISK,
		.image = NULL, /* the lab's: --windows-image, or its station's windows-image */
		.memory_mb = 2048,
		.driver_report = DRIVER_WINDOWS,
		.stages = "start driver shutdown",
		.checkpoints = "driver",
		/* Windows boots, and its agent starts 30 s after, before a report */
		.quiet_ms = { 0, 0, 180000 },
	},
};

int guest_runs_under(const struct guest *g, const char *firmware)
{
	size_t n = strlen(firmware);
	for (const char *p = g->firmware; (p = strstr(p, firmware)); p += n)
		if ((p == g->firmware || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
	return 0;
}

enum post_rule guest_post_rule(const struct guest *g, const char *firmware)
{
	return strcmp(firmware, "seabios") ? g->post_uefi : g->post;
}

const struct guest *guest_find(const char *id)
{
	for (size_t i = 0; i < sizeof guests / sizeof *guests; i++)
		if (!strcmp(guests[i].id, id))
			return &guests[i];
	return NULL;
}

const struct guest *guest_at(size_t i)
{
	return i < sizeof guests / sizeof *guests ? &guests[i] : NULL;
}

static const char *const known_firmwares[] = { "seabios", "ovmf" };

const char *card_kind_name(enum card_kind k)
{
	return k == CARD_VFIO ? "vfio" : "emulated";
}

char *pci_id(unsigned vendor, unsigned device, char out[PCI_ID_MAX])
{
	snprintf(out, PCI_ID_MAX, "%04x:%04x", vendor & 0xffff, device & 0xffff);
	return out;
}

void catalog_init(struct catalog *c)
{
	memset(c, 0, sizeof *c);
}

static void card_release(struct card *card)
{
	free(card->path);
	free(card->id);
	free(card->name);
	free(card->qemu_device);
	argv_release(&card->firmwares);
	argv_release(&card->guests);
	for (size_t i = 0; i < card->nvariants; i++) {
		free(card->variants[i].name);
		argv_release(&card->variants[i].args);
	}
	free(card->variants);
	for (size_t i = 0; i < card->nreported; i++) {
		free(card->reported[i].what);
		free(card->reported[i].result);
		free(card->reported[i].note);
	}
	free(card->reported);
	free(card->reported_source);
	free(card->expect);
	for (size_t i = 0; i < card->ncell_expects; i++) {
		free(card->cell_expects[i].firmware);
		free(card->cell_expects[i].guest);
		free(card->cell_expects[i].verdict);
	}
	free(card->cell_expects);
}

const char *card_expected(const struct card *card, const char *firmware, const char *guest)
{
	for (size_t i = 0; i < card->ncell_expects; i++)
		if (!strcmp(card->cell_expects[i].firmware, firmware) &&
		    !strcmp(card->cell_expects[i].guest, guest))
			return card->cell_expects[i].verdict;
	return card->expect;
}

static void station_release(struct station *s)
{
	free(s->path);
	free(s->name);
	free(s->card);
	free(s->host);
	free(s->capture);
	free(s->rom);
	free(s->power_cycle);
	free(s->windows_image);
	argv_release(&s->companions);
}

void catalog_release(struct catalog *c)
{
	for (size_t i = 0; i < c->ncards; i++)
		card_release(&c->cards[i]);
	free(c->cards);
	for (size_t i = 0; i < c->nstations; i++)
		station_release(&c->stations[i]);
	free(c->stations);
	catalog_init(c);
}

/* One logical line of a card or stations file: the key and the words after it.
 * rest points at the (trimmed) text after the key, for free-text values. */
struct line {
	int no;
	char *key;
	char *rest;
	struct argv words; /* the words after the key */
};

/* Split text into lines; calls fn for each non-empty, non-comment line.
 * A '#' starts a comment at the start of a line or after whitespace. */
typedef int (*line_fn)(void *ctx, const char *file, struct line *l, struct hil_err *err);

static int for_each_line(const char *file, const char *text, line_fn fn, void *ctx,
			 struct hil_err *err)
{
	int no = 0;
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		no++;
		if (len > CARD_LINE_MAX) {
			hil_seterr(err, "%s:%d: line longer than %d bytes", file, no, CARD_LINE_MAX);
			return -1;
		}
		char *buf = xstrndup(p, len);
		p += len + (eol ? 1 : 0);
		for (char *s = buf; *s; s++) {
			if (*s == '#' && (s == buf || isspace((unsigned char)s[-1]))) {
				*s = '\0';
				break;
			}
			if (*s == '\r' || *s == '\t')
				*s = ' ';
			else if ((unsigned char)*s < 0x20 || *s == 0x7f) {
				hil_seterr(err, "%s:%d: unexpected control byte 0x%02x",
					   file, no, (unsigned char)*s);
				free(buf);
				return -1;
			}
		}
		char *s = buf;
		while (*s == ' ')
			s++;
		char *end = s + strlen(s);
		while (end > s && end[-1] == ' ')
			*--end = '\0';
		if (!*s) {
			free(buf);
			continue;
		}
		struct line l = { .no = no };
		argv_init(&l.words);
		char *k = s;
		while (*s && *s != ' ')
			s++;
		l.key = xstrndup(k, (size_t)(s - k));
		while (*s == ' ')
			s++;
		l.rest = xstrdup(s);
		while (*s) {
			char *w = s;
			while (*s && *s != ' ')
				s++;
			char save = *s;
			*s = '\0';
			argv_push(&l.words, w);
			*s = save;
			while (*s == ' ')
				s++;
		}
		free(buf);
		int rc = fn(ctx, file, &l, err);
		free(l.key);
		free(l.rest);
		argv_release(&l.words);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int is_word(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-')
			return 0;
	return 1;
}

static int parse_pci_id(const char *s, unsigned *vendor, unsigned *device)
{
	if (strlen(s) != 9 || s[4] != ':')
		return -1;
	for (int i = 0; i < 9; i++)
		if (i != 4 && !isxdigit((unsigned char)s[i]))
			return -1;
	*vendor = (unsigned)strtoul(s, NULL, 16);
	*device = (unsigned)strtoul(s + 5, NULL, 16);
	return 0;
}

/* Host PCI address: DDDD:BB:DD.F */
static int is_pci_address(const char *s)
{
	static const char shape[] = "xxxx:xx:xx.x";
	if (strlen(s) != sizeof shape - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != shape[i])
			return 0;
	}
	return 1;
}

struct card_ctx {
	struct card *card;
	int seen_format;
	int line_of[16]; /* line where each single-valued key was set */
	int last_line;
};

enum single_key { K_ID, K_NAME, K_KIND, K_PCI, K_DEVICE, K_XVGA, K_ROM, K_EXPECT, K_SOURCE, K_NKEYS };
static const char *const single_keys[K_NKEYS] = {
	"id", "name", "kind", "pci-id", "device", "x-vga", "rom", "expect", "reported-source",
};

static int want_words(const char *file, const struct line *l, size_t min, size_t max,
		      const char *what, struct hil_err *err)
{
	if (l->words.n < min || l->words.n > max) {
		hil_seterr(err, "%s:%d: expected %s after '%s'", file, l->no, what, l->key);
		return -1;
	}
	return 0;
}

static int is_verdict(const char *s)
{
	if (!strcmp(s, "pass"))
		return 1;
	if (!strncmp(s, "fail:", 5) || !strncmp(s, "error:", 6))
		return s[strcspn(s, ":") + 1] != '\0';
	return 0;
}

static int card_line(void *vctx, const char *file, struct line *l, struct hil_err *err)
{
	struct card_ctx *ctx = vctx;
	struct card *card = ctx->card;
	ctx->last_line = l->no;

	if (!ctx->seen_format) {
		if (strcmp(l->key, "format")) {
			hil_seterr(err, "%s:%d: expected 'format %d' as the first line", file, l->no,
				   CARD_FORMAT_VERSION);
			return -1;
		}
		if (l->words.n != 1 || atoi(l->words.v[0]) != CARD_FORMAT_VERSION ||
		    strspn(l->words.v[0], "0123456789") != strlen(l->words.v[0])) {
			hil_seterr(err, "%s:%d: expected format version %d, got '%s'", file, l->no,
				   CARD_FORMAT_VERSION, l->rest);
			return -1;
		}
		ctx->seen_format = 1;
		return 0;
	}

	/* expect FIRMWARE/GUEST VERDICT: one cell's expectation (repeatable);
	 * the one-word form is the card-wide default (once). */
	if (!strcmp(l->key, "expect") && l->words.n == 2) {
		const char *cellname = l->words.v[0], *slash = strchr(cellname, '/');
		if (!slash || slash == cellname || !slash[1] || strchr(slash + 1, '/') ||
		    !is_verdict(l->words.v[1])) {
			hil_seterr(err, "%s:%d: expected 'expect FIRMWARE/GUEST VERDICT' (e.g. 'expect "
					"ovmf/uefi-gop fail:graphics'), got '%s'",
				   file, l->no, l->rest);
			return -1;
		}
		struct card *card = ctx->card;
		for (size_t i = 0; i < card->ncell_expects; i++)
			if (strlen(card->cell_expects[i].firmware) == (size_t)(slash - cellname) &&
			    !strncmp(card->cell_expects[i].firmware, cellname, (size_t)(slash - cellname)) &&
			    !strcmp(card->cell_expects[i].guest, slash + 1)) {
				hil_seterr(err, "%s:%d: 'expect %s' given twice (first at line %d)", file,
					   l->no, cellname, card->cell_expects[i].line);
				return -1;
			}
		card->cell_expects = xrealloc(card->cell_expects,
					      (card->ncell_expects + 1) * sizeof *card->cell_expects);
		card->cell_expects[card->ncell_expects++] = (struct cell_expect){
			xstrndup(cellname, (size_t)(slash - cellname)), xstrdup(slash + 1),
			xstrdup(l->words.v[1]), l->no
		};
		return 0;
	}
	for (int k = 0; k < K_NKEYS; k++) {
		if (strcmp(l->key, single_keys[k]))
			continue;
		if (ctx->line_of[k]) {
			hil_seterr(err, "%s:%d: '%s' given twice (first at line %d)", file, l->no,
				   l->key, ctx->line_of[k]);
			return -1;
		}
		ctx->line_of[k] = l->no;
		switch (k) {
		case K_ID:
			if (want_words(file, l, 1, 1, "one card id", err) < 0)
				return -1;
			if (!is_word(l->words.v[0])) {
				hil_seterr(err, "%s:%d: expected a card id of lowercase letters, digits and '-', got '%s'",
					   file, l->no, l->words.v[0]);
				return -1;
			}
			card->id = xstrdup(l->words.v[0]);
			return 0;
		case K_NAME:
			if (want_words(file, l, 1, SIZE_MAX, "the card's name", err) < 0)
				return -1;
			card->name = xstrdup(l->rest);
			return 0;
		case K_KIND:
			if (l->words.n == 1 && !strcmp(l->words.v[0], "vfio"))
				card->kind = CARD_VFIO;
			else if (l->words.n == 1 && !strcmp(l->words.v[0], "emulated"))
				card->kind = CARD_EMULATED;
			else {
				hil_seterr(err, "%s:%d: expected 'vfio' or 'emulated' after 'kind', got '%s'",
					   file, l->no, l->rest);
				return -1;
			}
			return 0;
		case K_PCI:
			if (l->words.n != 1 || parse_pci_id(l->words.v[0], &card->vendor, &card->device) < 0) {
				hil_seterr(err, "%s:%d: expected a PCI id like 10de:06e4 after 'pci-id', got '%s'",
					   file, l->no, l->rest);
				return -1;
			}
			return 0;
		case K_DEVICE:
			if (want_words(file, l, 1, 1, "one QEMU device name (e.g. VGA)", err) < 0)
				return -1;
			card->qemu_device = xstrdup(l->words.v[0]);
			return 0;
		case K_XVGA:
			if (l->words.n == 1 && !strcmp(l->words.v[0], "yes"))
				card->x_vga = 1;
			else if (l->words.n == 1 && !strcmp(l->words.v[0], "no"))
				card->x_vga = 0;
			else {
				hil_seterr(err, "%s:%d: expected 'yes' or 'no' after 'x-vga', got '%s'",
					   file, l->no, l->rest);
				return -1;
			}
			return 0;
		case K_ROM:
			if (l->words.n == 1 && !strcmp(l->words.v[0], "none"))
				card->rom = ROM_NONE;
			else if (l->words.n == 1 && !strcmp(l->words.v[0], "optional"))
				card->rom = ROM_OPTIONAL;
			else if (l->words.n == 1 && !strcmp(l->words.v[0], "required"))
				card->rom = ROM_REQUIRED;
			else {
				hil_seterr(err, "%s:%d: expected 'none', 'optional' or 'required' after 'rom', got '%s'",
					   file, l->no, l->rest);
				return -1;
			}
			return 0;
		case K_EXPECT:
			if (l->words.n != 1 || !is_verdict(l->words.v[0])) {
				hil_seterr(err, "%s:%d: expected a verdict (pass, fail:REASON, error:REASON) after 'expect', got '%s'",
					   file, l->no, l->rest);
				return -1;
			}
			card->expect = xstrdup(l->words.v[0]);
			return 0;
		case K_SOURCE:
			if (want_words(file, l, 1, SIZE_MAX, "where the reported outcomes come from", err) < 0)
				return -1;
			card->reported_source = xstrdup(l->rest);
			return 0;
		}
	}

	if (!strcmp(l->key, "firmware")) {
		if (want_words(file, l, 1, 2, "'seabios' and/or 'ovmf'", err) < 0)
			return -1;
		for (size_t i = 0; i < l->words.n; i++) {
			const char *fw = l->words.v[i];
			int known = 0;
			for (size_t j = 0; j < sizeof known_firmwares / sizeof *known_firmwares; j++)
				known |= !strcmp(fw, known_firmwares[j]);
			if (!known) {
				hil_seterr(err, "%s:%d: expected 'seabios' or 'ovmf' after 'firmware', got '%s'",
					   file, l->no, fw);
				return -1;
			}
			if (card_has_firmware(card, fw)) {
				hil_seterr(err, "%s:%d: firmware '%s' listed twice", file, l->no, fw);
				return -1;
			}
			argv_push(&card->firmwares, fw);
		}
		return 0;
	}
	if (!strcmp(l->key, "guest")) {
		if (want_words(file, l, 1, 1, "one guest id", err) < 0)
			return -1;
		if (!guest_find(l->words.v[0])) {
			struct strbuf known = STRBUF_INIT;
			for (size_t i = 0; guest_at(i); i++)
				sb_addf(&known, "%s%s", i ? ", " : "", guest_at(i)->id);
			hil_seterr(err, "%s:%d: expected a known guest (%s) after 'guest', got '%s'",
				   file, l->no, sb_str(&known), l->words.v[0]);
			sb_release(&known);
			return -1;
		}
		if (card_has_guest(card, l->words.v[0])) {
			hil_seterr(err, "%s:%d: guest '%s' listed twice", file, l->no, l->words.v[0]);
			return -1;
		}
		argv_push(&card->guests, l->words.v[0]);
		return 0;
	}
	if (!strcmp(l->key, "variant")) {
		if (l->words.n < 1 || !is_word(l->words.v[0])) {
			hil_seterr(err, "%s:%d: expected a variant name (lowercase letters, digits, '-') and then its QEMU arguments",
				   file, l->no);
			return -1;
		}
		if (card_find_variant(card, l->words.v[0])) {
			hil_seterr(err, "%s:%d: variant '%s' defined twice", file, l->no, l->words.v[0]);
			return -1;
		}
		if (l->words.n > 1 && l->words.v[1][0] != '-') {
			hil_seterr(err, "%s:%d: expected QEMU options (starting with '-') after variant '%s', got '%s'",
				   file, l->no, l->words.v[0], l->words.v[1]);
			return -1;
		}
		card->variants = xrealloc(card->variants, (card->nvariants + 1) * sizeof *card->variants);
		struct variant *v = &card->variants[card->nvariants++];
		v->name = xstrdup(l->words.v[0]);
		argv_init(&v->args);
		for (size_t i = 1; i < l->words.n; i++)
			argv_push(&v->args, l->words.v[i]);
		return 0;
	}
	if (!strcmp(l->key, "reported")) {
		if (l->words.n < 2 || !is_verdict(l->words.v[1])) {
			hil_seterr(err, "%s:%d: expected 'reported WHAT VERDICT [NOTE]' (e.g. 'reported post pass'), got '%s'",
				   file, l->no, l->rest);
			return -1;
		}
		card->reported = xrealloc(card->reported, (card->nreported + 1) * sizeof *card->reported);
		struct reported *r = &card->reported[card->nreported++];
		r->what = xstrdup(l->words.v[0]);
		r->result = xstrdup(l->words.v[1]);
		const char *note = l->rest + strlen(l->words.v[0]);
		while (*note == ' ')
			note++;
		note += strlen(l->words.v[1]);
		while (*note == ' ')
			note++;
		r->note = xstrdup(note);
		r->line = l->no;
		return 0;
	}
	hil_seterr(err, "%s:%d: unknown key '%s' (expected one of: id, name, kind, pci-id, device, x-vga, rom, firmware, guest, variant, expect, reported, reported-source)",
		   file, l->no, l->key);
	return -1;
}

static int card_check(struct card_ctx *ctx, const char *file, struct hil_err *err)
{
	struct card *card = ctx->card;
	int at = ctx->last_line;
	if (!ctx->seen_format) {
		hil_seterr(err, "%s:1: expected 'format %d' as the first line (file is empty)", file,
			   CARD_FORMAT_VERSION);
		return -1;
	}
	static const int required[] = { K_ID, K_NAME, K_KIND, K_PCI };
	for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
		if (!ctx->line_of[required[i]]) {
			hil_seterr(err, "%s:%d: missing '%s'", file, at, single_keys[required[i]]);
			return -1;
		}
	}
	if (card->kind == CARD_EMULATED) {
		if (!card->qemu_device) {
			hil_seterr(err, "%s:%d: missing 'device' (an emulated card needs its QEMU device name)", file, at);
			return -1;
		}
		if (ctx->line_of[K_XVGA] || ctx->line_of[K_ROM]) {
			int l = ctx->line_of[K_XVGA] ? ctx->line_of[K_XVGA] : ctx->line_of[K_ROM];
			hil_seterr(err, "%s:%d: 'x-vga' and 'rom' are for vfio cards only", file, l);
			return -1;
		}
	} else {
		if (card->qemu_device) {
			hil_seterr(err, "%s:%d: 'device' is for emulated cards only", file, ctx->line_of[K_DEVICE]);
			return -1;
		}
		if (!ctx->line_of[K_XVGA]) {
			hil_seterr(err, "%s:%d: missing 'x-vga' (yes or no)", file, at);
			return -1;
		}
		if (!ctx->line_of[K_ROM]) {
			hil_seterr(err, "%s:%d: missing 'rom' (none, optional or required)", file, at);
			return -1;
		}
	}
	if (!card->firmwares.n) {
		hil_seterr(err, "%s:%d: missing 'firmware'", file, at);
		return -1;
	}
	if (!card->guests.n) {
		hil_seterr(err, "%s:%d: missing 'guest'", file, at);
		return -1;
	}
	if (!card->nvariants) {
		hil_seterr(err, "%s:%d: missing 'variant' (at least 'variant default')", file, at);
		return -1;
	}
	if (card->nreported && !card->reported_source) {
		hil_seterr(err, "%s:%d: 'reported' outcomes need a 'reported-source'", file, at);
		return -1;
	}
	if (!card->expect)
		card->expect = xstrdup("pass");
	for (size_t i = 0; i < card->ncell_expects; i++) {
		const struct cell_expect *e = &card->cell_expects[i];
		if (!card_has_firmware(card, e->firmware) || !card_has_guest(card, e->guest)) {
			hil_seterr(err, "%s:%d: 'expect %s/%s': the card does not list that firmware "
					"and guest",
				   file, e->line, e->firmware, e->guest);
			return -1;
		}
	}
	return 0;
}

int catalog_add_card_text(struct catalog *c, const char *name, const char *text,
			  struct hil_err *err)
{
	struct card card;
	memset(&card, 0, sizeof card);
	argv_init(&card.firmwares);
	argv_init(&card.guests);
	struct card_ctx ctx = { .card = &card };
	if (for_each_line(name, text, card_line, &ctx, err) < 0 || card_check(&ctx, name, err) < 0) {
		card_release(&card);
		return -1;
	}
	if (catalog_find_card(c, card.id)) {
		hil_seterr(err, "%s:%d: card id '%s' is already defined in %s", name, ctx.line_of[K_ID],
			   card.id, catalog_find_card(c, card.id)->path);
		card_release(&card);
		return -1;
	}
	card.path = xstrdup(name);
	c->cards = xrealloc(c->cards, (c->ncards + 1) * sizeof *c->cards);
	c->cards[c->ncards++] = card;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int catalog_load_cards(struct catalog *c, const char *dir, struct hil_err *err)
{
	DIR *d = opendir(dir);
	if (!d) {
		hil_seterr(err, "cannot open card directory %s: %m", dir);
		return -1;
	}
	struct argv names = ARGV_INIT;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n > 5 && !strcmp(e->d_name + n - 5, ".card") && e->d_name[0] != '.')
			argv_push(&names, e->d_name);
	}
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof *names.v, cmp_str);
	int rc = 0;
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		char *path = xasprintf("%s/%s", dir, names.v[i]);
		char *text = read_file(path, CARD_FILE_MAX, NULL, err);
		if (!text) {
			rc = -1;
		} else {
			rc = catalog_add_card_text(c, path, text, err);
			if (rc == 0) {
				/* The file name is the id: cards/g98.card holds card g98. */
				const struct card *card = &c->cards[c->ncards - 1];
				size_t n = strlen(names.v[i]) - 5;
				if (strlen(card->id) != n || strncmp(card->id, names.v[i], n)) {
					hil_seterr(err, "%s:1: card id '%s' does not match the file name (expected %.*s.card)",
						   path, card->id, (int)n, names.v[i]);
					rc = -1;
				}
			}
		}
		free(text);
		free(path);
	}
	argv_release(&names);
	if (rc == 0 && c->ncards == 0) {
		hil_seterr(err, "no card files (*.card) in %s", dir);
		rc = -1;
	}
	return rc;
}

/* A companion is another function of the card's own slot: DDDD:BB:SS.F
 * with the host's DDDD:BB:SS. */
static int bad_companion(const char *file, int line, const char *fn, const char *host,
			 struct hil_err *err)
{
	if (!strncmp(fn, host, 10) && strcmp(fn, host))
		return 0;
	hil_seterr(err, "%s:%d: companion %s is not another function of the card at %s (expected %.10s.F)",
		   file, line, fn, host, host);
	return -1;
}

struct station_ctx {
	struct catalog *c;
	int seen_format;
	struct station *cur;
};

static int station_line(void *vctx, const char *file, struct line *l, struct hil_err *err)
{
	struct station_ctx *ctx = vctx;
	if (!ctx->seen_format) {
		if (strcmp(l->key, "format") || l->words.n != 1 || strcmp(l->words.v[0], "1")) {
			hil_seterr(err, "%s:%d: expected 'format 1' as the first line", file, l->no);
			return -1;
		}
		ctx->seen_format = 1;
		return 0;
	}
	if (!strcmp(l->key, "station")) {
		if (want_words(file, l, 1, 1, "one station name", err) < 0)
			return -1;
		struct catalog *c = ctx->c;
		c->stations = xrealloc(c->stations, (c->nstations + 1) * sizeof *c->stations);
		ctx->cur = &c->stations[c->nstations++];
		memset(ctx->cur, 0, sizeof *ctx->cur);
		ctx->cur->path = xstrdup(file);
		ctx->cur->line = l->no;
		ctx->cur->name = xstrdup(l->words.v[0]);
		return 0;
	}
	if (!ctx->cur) {
		hil_seterr(err, "%s:%d: expected 'station NAME' before '%s'", file, l->no, l->key);
		return -1;
	}
	char **slot = NULL;
	int free_text = 0;
	if (!strcmp(l->key, "companion")) {
		/* Repeatable: one or more addresses a line; checked against the
		 * host once the station is whole. */
		if (want_words(file, l, 1, 7, "the PCI addresses of the card's other functions", err) < 0)
			return -1;
		for (size_t i = 0; i < l->words.n; i++) {
			if (!is_pci_address(l->words.v[i])) {
				hil_seterr(err, "%s:%d: expected a PCI address like 0000:01:00.1 after 'companion', got '%s'",
					   file, l->no, l->words.v[i]);
				return -1;
			}
			if (ctx->cur->host && bad_companion(file, l->no, l->words.v[i], ctx->cur->host, err) < 0)
				return -1;
			argv_push(&ctx->cur->companions, l->words.v[i]);
		}
		if (!ctx->cur->companion_line)
			ctx->cur->companion_line = l->no;
		return 0;
	}
	if (!strcmp(l->key, "card"))
		slot = &ctx->cur->card;
	else if (!strcmp(l->key, "host"))
		slot = &ctx->cur->host;
	else if (!strcmp(l->key, "capture"))
		slot = &ctx->cur->capture;
	else if (!strcmp(l->key, "rom"))
		slot = &ctx->cur->rom;
	else if (!strcmp(l->key, "power-cycle"))
		slot = &ctx->cur->power_cycle, free_text = 1;
	else if (!strcmp(l->key, "windows-image"))
		slot = &ctx->cur->windows_image;
	else {
		hil_seterr(err, "%s:%d: unknown key '%s' (expected one of: station, card, host, capture, rom, power-cycle, windows-image, companion)",
			   file, l->no, l->key);
		return -1;
	}
	if (*slot) {
		hil_seterr(err, "%s:%d: '%s' given twice for station '%s'", file, l->no, l->key, ctx->cur->name);
		return -1;
	}
	if (want_words(file, l, 1, free_text ? SIZE_MAX : 1, free_text ? "a command" : "one value", err) < 0)
		return -1;
	if (slot == &ctx->cur->host && !is_pci_address(l->words.v[0])) {
		hil_seterr(err, "%s:%d: expected a host PCI address like 0000:01:00.0 after 'host', got '%s'",
			   file, l->no, l->words.v[0]);
		return -1;
	}
	*slot = xstrdup(free_text ? l->rest : l->words.v[0]);
	return 0;
}

int catalog_add_stations_text(struct catalog *c, const char *name, const char *text,
			      struct hil_err *err)
{
	struct station_ctx ctx = { .c = c };
	size_t first = c->nstations;
	if (for_each_line(name, text, station_line, &ctx, err) < 0)
		return -1;
	if (!ctx.seen_format) {
		hil_seterr(err, "%s:1: expected 'format 1' as the first line (file is empty)", name);
		return -1;
	}
	for (size_t i = first; i < c->nstations; i++) {
		struct station *s = &c->stations[i];
		const struct card *card = s->card ? catalog_find_card(c, s->card) : NULL;
		if (card && card->kind == CARD_EMULATED) {
			/* QEMU's own display is an emulated card's capture and the VM
			 * is all its hardware: its station only says which lab host
			 * runs it (for a lab's engine), and a value here would be
			 * silently ignored by a run. */
			const char *extra = s->host ? "host" : s->capture ? "capture" : s->rom ? "rom"
					  : s->power_cycle ? "power-cycle" : s->windows_image ? "windows-image"
					  : s->companions.n ? "companion" : NULL;
			if (extra) {
				hil_seterr(err, "%s:%d: station '%s': card %s is emulated, its station names only its card (no '%s')",
					   name, s->line, s->name, s->card, extra);
				return -1;
			}
			continue;
		}
		if (!s->card || !s->host) {
			hil_seterr(err, "%s:%d: station '%s' needs 'card' and 'host'", name, s->line, s->name);
			return -1;
		}
		/* ('host' after 'companion': checked here, at the first companion line) */
		for (size_t j = 0; j < s->companions.n; j++)
			if (bad_companion(name, s->companion_line, s->companions.v[j], s->host, err) < 0)
				return -1;
	}
	return 0;
}

int catalog_load_stations(struct catalog *c, const char *path, struct hil_err *err)
{
	char *text = read_file(path, CARD_FILE_MAX, NULL, err);
	if (!text)
		return -1;
	int rc = catalog_add_stations_text(c, path, text, err);
	free(text);
	return rc;
}

const struct card *catalog_find_card(const struct catalog *c, const char *id)
{
	for (size_t i = 0; i < c->ncards; i++)
		if (!strcmp(c->cards[i].id, id))
			return &c->cards[i];
	return NULL;
}

const struct station *catalog_find_station(const struct catalog *c, const char *card_id)
{
	for (size_t i = 0; i < c->nstations; i++)
		if (!strcmp(c->stations[i].card, card_id))
			return &c->stations[i];
	return NULL;
}

const struct variant *card_find_variant(const struct card *card, const char *name)
{
	for (size_t i = 0; i < card->nvariants; i++)
		if (!strcmp(card->variants[i].name, name))
			return &card->variants[i];
	return NULL;
}

static int list_has(const struct argv *a, const char *s)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->v[i], s))
			return 1;
	return 0;
}

int card_has_firmware(const struct card *card, const char *fw)
{
	return list_has(&card->firmwares, fw);
}

int card_has_guest(const struct card *card, const char *guest)
{
	return list_has(&card->guests, guest);
}
