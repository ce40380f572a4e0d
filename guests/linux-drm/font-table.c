/* font-table ROM OUT: the 4096-byte 8x16 font table (256 glyphs of 16
 * rows) of a VGA BIOS ROM, as hilrun's decoder finds it (vgafont.h). The
 * linux-drm agent gives it to the framebuffer console (KDFONTOP), so that
 * what the console draws reads exactly. A build tool of the guest. */
#include <stdio.h>

#include "vgafont.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: font-table ROM OUT\n");
		return 2;
	}
	struct vgafont font;
	struct hil_err err;
	if (vgafont_from_rom(&font, argv[1], &err) < 0) {
		fprintf(stderr, "font-table: %s\n", err.msg);
		return 1;
	}
	FILE *f = fopen(argv[2], "wb");
	if (!f || fwrite(font.glyph, 1, sizeof font.glyph, f) != sizeof font.glyph || fclose(f)) {
		fprintf(stderr, "font-table: cannot write %s\n", argv[2]);
		return 1;
	}
	return 0;
}
