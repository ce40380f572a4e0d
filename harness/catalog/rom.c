/* rom: see rom.h. */
#include "rom.h"

#include "catalog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static unsigned le16(const uint8_t *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

int rom_check(const char *path, unsigned vendor, unsigned device, struct rom_info *info,
	      struct hil_err *err)
{
	size_t len;
	uint8_t *data = (uint8_t *)read_file(path, ROM_FILE_MAX, &len, err);
	if (!data)
		return -1;
	int rc = rom_check_bytes(path, data, len, vendor, device, info, err);
	free(data);
	return rc;
}

int rom_check_bytes(const char *path, const unsigned char *data, size_t len, unsigned vendor,
		    unsigned device, struct rom_info *info, struct hil_err *err)
{
	memset(info, 0, sizeof *info);
	info->x86_checksum_ok = 1;
	size_t off = 0;
	int rc = -1;
	for (;;) {
		if (off + 0x1a > len) {
			hil_seterr(err, "%s: truncated ROM image header (offset 0x%zx)", path, off);
			goto out;
		}
		if (data[off] != 0x55 || data[off + 1] != 0xaa) {
			hil_seterr(err, "%s: no 0x55AA ROM signature (offset 0x%zx)", path, off);
			goto out;
		}
		size_t pcir = off + le16(data + off + 0x18);
		if (pcir + 0x18 > len || memcmp(data + pcir, "PCIR", 4)) {
			hil_seterr(err, "%s: no PCIR structure where the header points (offset 0x%zx)",
				   path, pcir);
			goto out;
		}
		unsigned v = le16(data + pcir + 4), d = le16(data + pcir + 6);
		size_t img_len = (size_t)le16(data + pcir + 0x10) * 512;
		int code_type = data[pcir + 0x14], last = data[pcir + 0x15] & 0x80;
		if (info->images == 0) {
			info->vendor = v;
			info->device = d;
		}
		info->images++;
		if (img_len == 0 || off + img_len > len) {
			hil_seterr(err, "%s: image %d claims %zu bytes but the file has %zu left (offset 0x%zx)",
				   path, info->images, img_len, len - off, off);
			goto out;
		}
		if (code_type == 0) {
			info->has_x86 = 1;
			uint8_t sum = 0;
			for (size_t i = 0; i < img_len; i++)
				sum = (uint8_t)(sum + data[off + i]);
			if (sum)
				info->x86_checksum_ok = 0;
		} else if (code_type == 3) {
			info->has_efi = 1;
		}
		off += img_len;
		if (last || off >= len || info->images >= 16)
			break;
	}
	if ((vendor || device) && (info->vendor != vendor || info->device != device)) {
		char rom_id[PCI_ID_MAX], card_id[PCI_ID_MAX];
		hil_seterr(err, "%s: ROM is for PCI device %s, the card is %s", path,
			   pci_id(info->vendor, info->device, rom_id), pci_id(vendor, device, card_id));
		goto out;
	}
	if (!info->has_x86) {
		hil_seterr(err, "%s: no x86 BIOS image in the ROM (SeaBIOS needs one)", path);
		goto out;
	}
	if (!info->x86_checksum_ok) {
		hil_seterr(err, "%s: x86 image checksum is not zero (corrupt or patched ROM)", path);
		goto out;
	}
	rc = 0;
out:
	return rc;
}
