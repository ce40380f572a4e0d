/* judge: the rules that turn evidence into stage outcomes. A rule takes a
 * reading of the screen (screen.h) and what the guest reported, and
 * returns a judgement with its words; the evidence it rests on goes into
 * a JSON object for the record. Rules keep nothing and touch no run.
 *
 * A screen read cell by cell (reading.grid) is judged exactly: a reported
 * line must be the whole text of its row. While the screen is read by
 * tesseract (which misreads fixed-font text:
 * "VGA" as "UGA", case slips, dropped characters), a line counts as shown when
 * it appears on the screen with a similarity of at least the stage's
 * threshold: 1 - (edit distance of the best-matching stretch of a screen line)
 * / (length of the expected line), compared case-insensitively with runs of
 * spaces collapsed.
 *
 * Ownership: pure functions; nothing is kept. Inputs are borrowed. */
#ifndef HIL_JUDGE_H
#define HIL_JUDGE_H

#include <jansson.h>
#include <stddef.h>
#include "image.h"
#include "screen.h"

#define JUDGE_POST_THRESHOLD 0.80
#define JUDGE_TEXT_THRESHOLD 0.85
/* What SeaBIOS prints first on the screen: "SeaBIOS (version 1.16.2-...)". */
#define JUDGE_SEABIOS_BANNER "SeaBIOS (version"

struct text_match {
	double score;  /* 0..1 */
	int line;      /* 0-based line of the screen text with the best score, -1 if none */
};

/* Best similarity of needle to any stretch of one line (0..1). */
double judge_similarity(const char *line, size_t line_len, const char *needle);
/* Search every line of screen_text; returns 1 if the best score reaches threshold. */
int judge_find(const char *screen_text, const char *needle, double threshold,
	       struct text_match *m);

/* What the guest reported that the rules compare the screen to. */
struct guest_said {
	json_t *text_lines; /* [{row, text}]: its "text line" reports */
	json_t *pci;        /* [{bdf, id, class}]: its "pci display" reports */
	json_t *firmware_fb;/* [{index, name}]: framebuffers the firmware left ("post fb") */
	json_t *driver;     /* what an OS guest found of the drivers ("driver ..."):
			     * {modules, bound, unbound, drm, connectors, fb,
			     * probe_errors, firmware_missing, deferred}; a Windows
			     * guest's {windows_devices, done, install, installed} */
};

struct judgement {
	int ok;
	char why[256];   /* when not ok: the first mismatch, in words */
	int placeholder; /* the screen is QEMU's placeholder: nothing will draw on it now */
	char verdict[64];/* when not ok, a verdict more precise than the stage's, or "" */
};

/* QEMU shows this, in its own font, on a display no guest code has set up
 * yet: it is not the firmware's output. */
#define JUDGE_QEMU_PLACEHOLDER "Guest has not initialized the display"

/* post, SeaBIOS: the firmware's banner is on the screen. */
struct judgement judge_post_banner(const struct reading *rd, json_t *evidence);
/* post, a firmware that draws no text banner (OVMF: a logo, its boot
 * manager's lines): it drew something. A frame of one colour is nothing
 * drawn; QEMU's placeholder (decoded: the frame's text as the exact
 * decoder reads it, or NULL) is not the firmware's. */
struct judgement judge_post_drawn(const struct frame *f, const char *decoded, json_t *evidence);
/* post, an OS guest under UEFI: the firmware set up a framebuffer the
 * guest's OS took over and cleared (it reported it), and the screen is
 * not QEMU's placeholder. */
struct judgement judge_post_fb(const char *decoded, const struct guest_said *g, json_t *evidence);
/* driver: the card's driver, as the guest reported it: the card among its
 * PCI display devices, a driver bound to it (a DRM card or framebuffer
 * that belongs to it), no probe error for it. Verdicts: fail:no-driver,
 * fail:driver-probe(ERRNO), fail:driver-firmware. Evidence: what bound. */
struct judgement judge_driver(const struct guest_said *g, const char *card_pci_id, json_t *evidence);
/* driver, a lab's Windows image (judge/windows.c): the agent's last report
 * of the card. Problem code 43 is fail:code43, any other nonzero code
 * fail:yellow-bang(N); the basic display driver still on the card after
 * the lab's driver package was installed, fail:no-vendor-driver; the card
 * not listed, fail:no-driver. Evidence: the device as reported, the
 * install. */
struct judgement judge_windows_driver(const struct guest_said *g, const char *card_pci_id,
				      json_t *evidence);
/* text: every line the guest reported is on the screen; and if card_pci_id
 * is given, the guest saw that card among its PCI display devices. */
struct judgement judge_text(const struct reading *rd, const struct guest_said *g,
			    const char *card_pci_id, json_t *evidence);

/* Does the screen show what the guest (or the firmware's banner, for
 * post) said, drawn in another font than the decoder's? rd is a grid
 * reading by the exact decoder alone (screen_decode: each cell the glyph
 * that matched best, trusted or not). Yes when, at the expected cells,
 * every cell read differently from what was expected holds a glyph where
 * one was expected (no blank for ink, no ink for blank), each expected
 * character is always read as the same glyph, and at least half of them
 * are read as themselves: the card's font draws some characters its own
 * way. Then a screen that teaches the card's glyphs (calibration) can
 * decide the stage; j.why names the cells and the substitutions. Not a
 * pass: it only says that waiting for this screen to change is pointless.
 * banner: the post rule's banner (anywhere on a row), else the text rule's
 * reported lines (whole rows). */
struct judgement judge_other_font(const struct reading *rd, const struct guest_said *g,
				  int banner, json_t *evidence);

#endif
