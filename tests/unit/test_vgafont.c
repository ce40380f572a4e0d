/* test_vgafont: the 8x16 font found in real VGA BIOS ROMs (every SeaBIOS
 * VGA BIOS Debian ships), broken ROMs, code page 437 and UTF-8. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vgafont.h"

static const char *const roms[] = { "stdvga", "cirrus", "ati", "qxl", "virtio", "vmware" };

START_TEST(font_found_in_every_seabios_rom)
{
	char *path = xasprintf("/usr/share/seabios/vgabios-%s.bin", roms[_i]);
	struct vgafont f;
	struct hil_err err;
	ck_assert_msg(vgafont_from_rom(&f, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(f.width, 8);
	ck_assert_int_eq(f.height, 16);
	/* 'A' in the IBM VGA 8x16 font. */
	static const uint8_t A[16] = { 0x00, 0x00, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe,
				       0xc6, 0xc6, 0xc6, 0xc6, 0x00, 0x00, 0x00, 0x00 };
	ck_assert_mem_eq(f.glyph['A'], A, 16);
	ck_assert_msg(strstr(f.source, path) == f.source && strstr(f.source, "@0x"), "%s", f.source);
	free(path);
}
END_TEST

START_TEST(not_a_rom)
{
	struct vgafont f;
	struct hil_err err;
	static const uint8_t junk[8192] = { 'x' };
	ck_assert_int_eq(vgafont_from_bytes(&f, junk, sizeof junk, "junk.bin", &err), -1);
	ck_assert_str_eq(err.msg, "junk.bin: not a VGA BIOS ROM (no 0x55AA signature)");
	ck_assert_int_eq(vgafont_from_rom(&f, "/nonexistent.rom", &err), -1);
	ck_assert_str_eq(err.msg, "cannot open /nonexistent.rom: No such file or directory");
}
END_TEST

START_TEST(rom_without_font)
{
	size_t len;
	struct hil_err err;
	char *rom = read_file("/usr/share/seabios/vgabios-stdvga.bin", 1 << 20, &len, &err);
	ck_assert_ptr_nonnull(rom);
	struct vgafont f;
	ck_assert(vgafont_from_bytes(&f, (uint8_t *)rom, len, "stdvga", &err) == 0);
	size_t off = strtoul(strchr(f.source, '@') + 1, NULL, 16);
	/* Wipe the full block glyph: the table no longer looks like a font. */
	memset(rom + off + 0xDB * 16, 0, 16);
	ck_assert_int_eq(vgafont_from_bytes(&f, (uint8_t *)rom, len, "wiped.bin", &err), -1);
	ck_assert_str_eq(err.msg, "wiped.bin: no 8x16 VGA font table found in the ROM");
	free(rom);
}
END_TEST

START_TEST(code_page_437)
{
	ck_assert_uint_eq(cp437_to_unicode('A'), 'A');
	ck_assert_uint_eq(cp437_to_unicode(0x00), 0x20);
	ck_assert_uint_eq(cp437_to_unicode(0x01), 0x263A);
	ck_assert_uint_eq(cp437_to_unicode(0xB3), 0x2502);
	ck_assert_uint_eq(cp437_to_unicode(0xC9), 0x2554);
	ck_assert_uint_eq(cp437_to_unicode(0xDB), 0x2588);
	ck_assert_uint_eq(cp437_to_unicode(0x82), 0x00E9);
	ck_assert_uint_eq(cp437_to_unicode(0xFF), 0x00A0);
	char buf[5] = { 0 };
	ck_assert_int_eq(utf8_encode(0x2554, buf), 3);
	ck_assert_str_eq(buf, "╔");
	memset(buf, 0, sizeof buf);
	ck_assert_int_eq(utf8_encode(0xE9, buf), 2);
	ck_assert_str_eq(buf, "é");
	memset(buf, 0, sizeof buf);
	ck_assert_int_eq(utf8_encode('x', buf), 1);
	ck_assert_str_eq(buf, "x");
	memset(buf, 0, sizeof buf);
	ck_assert_int_eq(utf8_encode(0x1F600, buf), 4);
	ck_assert_str_eq(buf, "\xF0\x9F\x98\x80");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vgafont");
	TCase *tc = tcase_create("font");
	tcase_add_loop_test(tc, font_found_in_every_seabios_rom, 0, (int)(sizeof roms / sizeof *roms));
	tcase_add_test(tc, not_a_rom);
	tcase_add_test(tc, rom_without_font);
	tcase_add_test(tc, code_page_437);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
