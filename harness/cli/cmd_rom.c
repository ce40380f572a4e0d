/* cmd_rom: hilrun rom dump BDF -o FILE [--cards DIR]: the card's ROM read
 * through sysfs (catalog/romdump.h), checked, compared with the device's
 * own PCI ids (and the card file that has them), and written to FILE
 * atomically; nothing is written when the read or the checks fail.
 *
 * Ownership: the dump and the catalog are the command's own. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "romdump.h"

int cmd_rom(int argc, char **argv, struct settings *s)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "cards", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc < 2 || strcmp(argv[1], "dump")) {
		say_error("rom: expected 'rom dump BDF -o FILE [--cards DIR]'");
		return EXIT_USAGE;
	}
	argc--, argv++;
	const char *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		if (c == 'o')
			out = optarg;
		else if (c == 'c')
			s->cards_dir = optarg;
		else
			return EXIT_USAGE;
	}
	if (optind + 1 != argc || !out) {
		say_error("rom dump: expected one PCI address and -o FILE (hilrun rom dump 0000:01:00.0 -o card.rom)");
		return EXIT_USAGE;
	}
	const char *bdf = argv[optind];
	struct catalog cat;
	if (load_catalog(&cat, s) < 0)
		return EXIT_USAGE;
	struct rom_dump d;
	struct hil_err err;
	int rc = rom_dump_read(bdf, &rom_io_posix, &d, &err);
	if (rc < 0) {
		say_error("%s; nothing written to %s", err.msg, out);
		catalog_release(&cat);
		return rc == ROMDUMP_CONFIG ? EXIT_USAGE : EXIT_LAB;
	}
	int exit = EXIT_OK;
	if (write_file_atomic(out, d.data, d.len, &err) < 0) {
		say_error("rom dump: %s", err.msg);
		exit = EXIT_LAB;
		goto done;
	}
	char rom_id[PCI_ID_MAX], dev_id[PCI_ID_MAX];
	pci_id(d.info.vendor, d.info.device, rom_id);
	pci_id(d.vendor, d.device, dev_id);
	printf("%s: %zu bytes from %s, %d image%s (%s%s%s), x86 checksum %s\n", out, d.len, bdf,
	       d.info.images, d.info.images == 1 ? "" : "s", d.info.has_x86 ? "x86" : "",
	       d.info.has_x86 && d.info.has_efi ? " + " : "", d.info.has_efi ? "EFI" : "",
	       d.info.x86_checksum_ok ? "ok" : "bad");
	const struct card *card = NULL;
	for (size_t i = 0; i < cat.ncards && !card; i++)
		if (cat.cards[i].vendor == d.vendor && cat.cards[i].device == d.device)
			card = &cat.cards[i];
	if (d.info.vendor == d.vendor && d.info.device == d.device)
		printf("PCIR ids %s are the device's%s%s%s\n", rom_id, card ? " (card " : "",
		       card ? card->id : "", card ? ")" : "; no card file has them");
	else
		printf("PCIR ids %s are not the device's (%s%s%s): hilrun --rom checks them against the card and would refuse this file\n",
		       rom_id, dev_id, card ? ", card " : "", card ? card->id : "");
	if (d.boot_vga)
		printf("note: %s is the host's boot VGA: the kernel gave its shadow copy (0xC0000), which its BIOS may have changed while it ran\n",
		       bdf);
done:
	rom_dump_release(&d);
	catalog_release(&cat);
	return exit;
}
