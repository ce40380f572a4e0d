/* catalog: card files, station files and the built-in reference guests.
 *
 * A card file (cards/ID.card, format in docs/card-format.md) is parsed into a
 * struct card; a stations file into struct station entries. Every parse error
 * reads "FILE:LINE: what was expected".
 *
 * Ownership: struct catalog owns its cards and stations and every string in
 * them; catalog_release frees all. Pointers returned by catalog_find_* and
 * guest_find stay valid until catalog_release (guests: forever, they are
 * static). */
#ifndef HIL_CATALOG_H
#define HIL_CATALOG_H

#include <stddef.h>
#include "util.h"

#define CARD_FILE_MAX (64 * 1024)   /* larger card files are refused */
#define CARD_LINE_MAX 1024          /* longer lines are refused */
#define CARD_FORMAT_VERSION 1

enum card_kind { CARD_EMULATED, CARD_VFIO };
enum rom_need { ROM_NONE, ROM_OPTIONAL, ROM_REQUIRED };

struct variant {
	char *name;
	struct argv args; /* extra QEMU arguments, already split into words */
};

/* An outcome somebody reported, not one hilrun measured. */
struct reported {
	char *what;   /* e.g. "post", "driver:win7-vga", "driver:vendor" */
	char *result; /* e.g. "pass", "fail:code43", "fail:host-hang" */
	char *note;   /* free text, may be "" */
	int line;
};

/* An expectation for one firmware/guest pair of a card (every variant). */
struct cell_expect {
	char *firmware, *guest, *verdict;
	int line;
};

struct card {
	char *path;   /* file it came from */
	char *id;
	char *name;
	enum card_kind kind;
	unsigned vendor, device; /* PCI id */
	char *qemu_device;       /* emulated: the -device driver name */
	int x_vga;               /* vfio: needs x-vga=on */
	enum rom_need rom;       /* vfio: ROM file need */
	struct argv firmwares;   /* "seabios", "ovmf" */
	struct argv guests;      /* guest ids */
	struct variant *variants;
	size_t nvariants;
	struct reported *reported;
	size_t nreported;
	char *reported_source;   /* where the reported outcomes come from */
	char *expect;            /* expected verdict of every measured cell */
	struct cell_expect *cell_expects; /* ... except these */
	size_t ncell_expects;
};

struct station {             /* an emulated card's has only card (and its name) */
	char *path;
	int line;
	char *name;
	char *card;        /* card id */
	char *host;        /* host PCI address, e.g. 0000:01:00.0; NULL: an emulated card */
	char *capture;     /* VNC endpoint of the capture device */
	char *rom;         /* ROM file, or NULL */
	char *power_cycle; /* command a controller runs to power-cycle the host */
	char *windows_image; /* the lab's Windows image with hilrun's agent, or NULL */
	struct argv companions; /* the card's other functions (HDMI audio) the lab names */
	int companion_line;     /* where the first 'companion' line is, for messages */
};

struct catalog {
	struct card *cards;
	size_t ncards;
	struct station *stations;
	size_t nstations;
};

/* How the guest is booted. A disk, not a floppy: under this lab's nested
 * KVM SeaBIOS loses floppy IRQs (floppy_wait_irq timeouts, 5-8 s and
 * sometimes a hang); the same image boots as an IDE disk in ~3.5 s. An OS
 * guest boots a kernel and initramfs directly (-kernel/-initrd/-append). */
enum guest_media { MEDIA_DISK, MEDIA_KERNEL };

/* What the post stage looks for on the screen at the guest's "post hold". */
enum post_rule {
	POST_SEABIOS_BANNER,   /* SeaBIOS's banner line, read as text */
	POST_FIRMWARE_OUTPUT,  /* anything the firmware drew: the frame is not one colour */
	POST_FIRMWARE_FB,      /* the firmware set up a framebuffer the guest's OS took
				* over (it reports it, "post fb"), and the screen is
				* not QEMU's placeholder: an OS that cleared it */
};

struct guest {
	const char *id;
	const char *description;
	const char *firmware;    /* the firmware it runs under, space-separated */
	enum guest_media media;
	const char *image;       /* file in the guest directory: the disk, or the initramfs;
				  * NULL: a lab's own image (windows: --windows-image) */
	const char *kernel;      /* MEDIA_KERNEL: the kernel, in the guest directory */
	const char *cmdline;     /* MEDIA_KERNEL: the kernel's command line */
	int memory_mb;           /* 0: what the firmware needs */
	enum post_rule post;     /* the post rule under SeaBIOS ... */
	enum post_rule post_uefi;/* ... and under OVMF */
	int reports_pci;         /* lists PCI display devices: text requires the card among them */
	int calibrates;          /* shows a calibration screen after text ("calib show"):
				  * a later screen that can decide post and text */
	enum driver_report {     /* what its driver stage is judged on */
		DRIVER_NONE,
		DRIVER_LINUX,    /* the linux-drm agent's report, pattern and console */
		DRIVER_WINDOWS,  /* the Windows agent's report of each display device */
	} driver_report;
	/* The stages it proves (a record lists these), and the checkpoints it
	 * holds at, in order: space-separated names (engine.h). */
	const char *stages, *checkpoints;
	/* Guest hang windows (ms without serial output or a change on the
	 * screen) before post, text, graphics; 0: the runner's defaults. */
	int quiet_ms[3];
};

/* Does the guest run under this firmware? */
int guest_runs_under(const struct guest *g, const char *firmware);
/* Its post rule under this firmware. */
enum post_rule guest_post_rule(const struct guest *g, const char *firmware);

void catalog_init(struct catalog *c);
void catalog_release(struct catalog *c);
/* Load every *.card in dir, sorted by file name. */
int catalog_load_cards(struct catalog *c, const char *dir, struct hil_err *err);
/* Parse one card from text; name is used in messages (FILE:LINE). */
int catalog_add_card_text(struct catalog *c, const char *name, const char *text,
			  struct hil_err *err);
/* A station of a card already loaded as emulated names only its card (no
 * host, capture, ROM...): load the cards first. Any other station needs
 * 'card' and 'host'. */
int catalog_load_stations(struct catalog *c, const char *path, struct hil_err *err);
int catalog_add_stations_text(struct catalog *c, const char *name, const char *text,
			      struct hil_err *err);

const struct card *catalog_find_card(const struct catalog *c, const char *id);
const struct station *catalog_find_station(const struct catalog *c, const char *card_id);
const struct variant *card_find_variant(const struct card *card, const char *name);
int card_has_firmware(const struct card *card, const char *fw);
int card_has_guest(const struct card *card, const char *guest);
/* The verdict a cell of this firmware and guest should have. */
const char *card_expected(const struct card *card, const char *firmware, const char *guest);
const char *card_kind_name(enum card_kind k);
/* A PCI id as hilrun writes it everywhere: "10de:06e4". Returns out. */
#define PCI_ID_MAX 10
char *pci_id(unsigned vendor, unsigned device, char out[PCI_ID_MAX]);

const struct guest *guest_find(const char *id);
const struct guest *guest_at(size_t i); /* NULL past the end */

#endif
