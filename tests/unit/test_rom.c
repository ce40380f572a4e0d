/* test_rom: PCI option ROM checks (harness/catalog/rom.c) on the real VGA BIOS
 * images SeaBIOS ships (/usr/share/seabios, or $HILRUN_SEABIOS_DIR) and on
 * broken copies of them written to a temporary directory: truncated, a byte
 * flipped, no 0x55AA, a wrong PCIR pointer, EFI only, ids that do not match
 * the card, a two-image (x86 + EFI) ROM. */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rom.h"
#include "testutil.h"

static const char *seabios_dir(void)
{
	const char *d = getenv("HILRUN_SEABIOS_DIR");
	return d && *d ? d : "/usr/share/seabios";
}

static char *rom_path(const char *name)
{
	return xasprintf("%s/%s", seabios_dir(), name);
}

/* ---- the real ROMs ------------------------------------------------------ */

static const struct {
	const char *file;
	unsigned vendor, device;
	size_t bytes;
} real_roms[] = {
	{ "vgabios-stdvga.bin", 0x1234, 0x1111, 39936 },
	{ "vgabios-cirrus.bin", 0x1013, 0x00b8, 39424 },
	{ "vgabios-qxl.bin", 0x1b36, 0x0100, 39936 },
	{ "vgabios-virtio.bin", 0x1af4, 0x1050, 39936 },
	{ "vgabios-vmware.bin", 0x15ad, 0x0405, 39936 },
	{ "vgabios-bochs-display.bin", 0x1234, 0x1111, 28672 },
};

START_TEST(real_rom_ok)
{
	char *path = rom_path(real_roms[_i].file);
	struct rom_info info;
	struct hil_err err;
	int rc = rom_check(path, real_roms[_i].vendor, real_roms[_i].device, &info, &err);
	ck_assert_msg(rc == 0, "%s", err.msg);
	ck_assert_uint_eq(info.vendor, real_roms[_i].vendor);
	ck_assert_uint_eq(info.device, real_roms[_i].device);
	ck_assert_int_eq(info.images, 1);
	ck_assert_int_eq(info.has_x86, 1);
	ck_assert_int_eq(info.has_efi, 0);
	ck_assert_int_eq(info.x86_checksum_ok, 1);
	/* without ids: no id check, same facts */
	memset(&info, 0xa5, sizeof info);
	ck_assert_int_eq(rom_check(path, 0, 0, &info, &err), 0);
	ck_assert_uint_eq(info.vendor, real_roms[_i].vendor);
	ck_assert_int_eq(info.images, 1);
	free(path);
}
END_TEST

START_TEST(real_rom_wrong_card)
{
	char *path = rom_path("vgabios-stdvga.bin");
	struct rom_info info;
	struct hil_err err;
	ck_assert_int_eq(rom_check(path, 0x10de, 0x06e4, &info, &err), -1);
	char *want = xasprintf("%s: ROM is for PCI device 1234:1111, the card is 10de:06e4", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	/* same vendor, other device */
	ck_assert_int_eq(rom_check(path, 0x1234, 0x1112, &info, &err), -1);
	want = xasprintf("%s: ROM is for PCI device 1234:1111, the card is 1234:1112", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);

	path = rom_path("vgabios-cirrus.bin");
	ck_assert_int_eq(rom_check(path, 0x10de, 0x06e4, &info, &err), -1);
	want = xasprintf("%s: ROM is for PCI device 1013:00b8, the card is 10de:06e4", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);
}
END_TEST

/* The ISA VGA BIOS has the 0x55AA signature but no PCI data structure. */
START_TEST(real_isa_rom_refused)
{
	char *path = rom_path("vgabios-isavga.bin");
	struct rom_info info;
	struct hil_err err;
	ck_assert_int_eq(rom_check(path, 0, 0, &info, &err), -1);
	char *want = xasprintf("%s: no PCIR structure where the header points (offset 0x0)", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);
}
END_TEST

/* ---- broken copies ------------------------------------------------------ */

static char *tmp;
static unsigned char *std;   /* vgabios-stdvga.bin */
static size_t std_len;
static size_t std_pcir;

static unsigned le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static void copies_setup(void)
{
	tmp = test_tmpdir();
	char *path = rom_path("vgabios-stdvga.bin");
	std = test_read(path, &std_len);
	free(path);
	ck_assert_uint_eq(std_len, 39936);
	std_pcir = le16(std + 0x18);
	ck_assert_uint_eq(std_pcir, 0x99dc);
	ck_assert(!memcmp(std + std_pcir, "PCIR", 4));
}

static void copies_teardown(void)
{
	test_rmdir(tmp);
	free(tmp);
	free(std);
	tmp = NULL;
	std = NULL;
}

/* Write data as tmp/name and rom_check it against 1234:1111. */
static int check_copy(const char *name, const void *data, size_t len, struct rom_info *info,
		      struct hil_err *err, char **path)
{
	test_write(tmp, name, data, len);
	*path = test_path(tmp, name);
	strcpy(err->msg, "(no message)");
	return rom_check(*path, 0x1234, 0x1111, info, err);
}

/* Expect rom_check of the copy to fail with "PATH: what". */
static void expect_error(const char *name, const void *data, size_t len, const char *what)
{
	struct rom_info info;
	struct hil_err err;
	char *path;
	ck_assert_int_eq(check_copy(name, data, len, &info, &err, &path), -1);
	char *want = xasprintf("%s: %s", path, what);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);
}

START_TEST(copy_unchanged_ok)
{
	struct rom_info info;
	struct hil_err err;
	char *path;
	ck_assert_int_eq(check_copy("same.rom", std, std_len, &info, &err, &path), 0);
	free(path);
}
END_TEST

START_TEST(copy_truncated)
{
	expect_error("t1.rom", std, std_len - 512,
		     "image 1 claims 39936 bytes but the file has 39424 left (offset 0x0)");
	expect_error("t2.rom", std, std_len - 1,
		     "image 1 claims 39936 bytes but the file has 39935 left (offset 0x0)");
	/* cut before the PCIR structure ends */
	expect_error("t3.rom", std, std_pcir + 0x17,
		     "no PCIR structure where the header points (offset 0x99dc)");
	expect_error("t4.rom", std, 4096, "no PCIR structure where the header points (offset 0x99dc)");
	expect_error("t5.rom", std, 0x19, "truncated ROM image header (offset 0x0)");
	expect_error("empty.rom", std, 0, "truncated ROM image header (offset 0x0)");
}
END_TEST

START_TEST(copy_byte_flipped)
{
	unsigned char *d = xmalloc(std_len);
	memcpy(d, std, std_len);
	d[0x1000] ^= 0xff;
	struct rom_info info;
	struct hil_err err;
	char *path;
	ck_assert_int_eq(check_copy("flip.rom", d, std_len, &info, &err, &path), -1);
	char *want = xasprintf("%s: x86 image checksum is not zero (corrupt or patched ROM)", path);
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(info.x86_checksum_ok, 0);
	ck_assert_int_eq(info.has_x86, 1);
	ck_assert_uint_eq(info.vendor, 0x1234);
	free(want);
	free(path);

	/* flipping a second byte so that the sum is zero again is accepted:
	 * a checksum, not a signature */
	d[0x1001] = (unsigned char)(d[0x1001] + std[0x1000] - d[0x1000]);
	ck_assert_int_eq(check_copy("flip2.rom", d, std_len, &info, &err, &path), 0);
	free(path);
	free(d);
}
END_TEST

START_TEST(copy_no_signature)
{
	unsigned char *d = xmalloc(std_len);
	memcpy(d, std, std_len);
	d[0] = 0x00;
	expect_error("nosig.rom", d, std_len, "no 0x55AA ROM signature (offset 0x0)");
	d[0] = 0xaa;
	d[1] = 0x55; /* byte-swapped */
	expect_error("swapped.rom", d, std_len, "no 0x55AA ROM signature (offset 0x0)");
	free(d);
}
END_TEST

START_TEST(copy_bad_pcir_pointer)
{
	unsigned char *d = xmalloc(std_len);
	memcpy(d, std, std_len);
	d[0x18] = 0x00;
	d[0x19] = 0x01;
	expect_error("ptr.rom", d, std_len, "no PCIR structure where the header points (offset 0x100)");
	d[0x18] = 0xff;
	d[0x19] = 0xff;
	expect_error("ptr2.rom", d, std_len, "no PCIR structure where the header points (offset 0xffff)");
	memcpy(d, std, std_len);
	memcpy(d + std_pcir, "PCIX", 4);
	expect_error("pcix.rom", d, std_len, "no PCIR structure where the header points (offset 0x99dc)");
	free(d);
}
END_TEST

START_TEST(copy_zero_length)
{
	unsigned char *d = xmalloc(std_len);
	memcpy(d, std, std_len);
	d[std_pcir + 0x10] = 0;
	d[std_pcir + 0x11] = 0;
	expect_error("zero.rom", d, std_len, "image 1 claims 0 bytes but the file has 39936 left (offset 0x0)");
	free(d);
}
END_TEST

START_TEST(copy_efi_only)
{
	unsigned char *d = xmalloc(std_len);
	memcpy(d, std, std_len);
	d[std_pcir + 0x14] = 3; /* code type: EFI */
	struct rom_info info;
	struct hil_err err;
	char *path;
	ck_assert_int_eq(check_copy("efi.rom", d, std_len, &info, &err, &path), -1);
	char *want = xasprintf("%s: no x86 BIOS image in the ROM (SeaBIOS needs one)", path);
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(info.has_efi, 1);
	ck_assert_int_eq(info.has_x86, 0);
	free(want);
	free(path);
	free(d);
}
END_TEST

/* Trailing bytes after the image flagged last are not looked at. */
START_TEST(copy_trailing_after_last)
{
	unsigned char *d = xcalloc(1, std_len + 2048);
	memcpy(d, std, std_len);
	memset(d + std_len, 0xff, 2048);
	struct rom_info info;
	struct hil_err err;
	char *path;
	ck_assert_int_eq(check_copy("trail.rom", d, std_len + 2048, &info, &err, &path), 0);
	ck_assert_int_eq(info.images, 1);
	free(path);
	free(d);
}
END_TEST

/* A 512-byte EFI image header with a PCIR structure at 0x1c. */
static void make_efi_image(unsigned char *p, unsigned vendor, unsigned device, int last)
{
	memset(p, 0, 512);
	p[0] = 0x55;
	p[1] = 0xaa;
	p[2] = 1;
	p[0x18] = 0x1c;
	memcpy(p + 0x1c, "PCIR", 4);
	p[0x1c + 4] = vendor & 0xff;
	p[0x1c + 5] = vendor >> 8;
	p[0x1c + 6] = device & 0xff;
	p[0x1c + 7] = device >> 8;
	p[0x1c + 0x0a] = 0x18; /* structure length */
	p[0x1c + 0x10] = 1;    /* 1 x 512 bytes */
	p[0x1c + 0x14] = 3;    /* EFI */
	p[0x1c + 0x15] = last ? 0x80 : 0;
}

/* The real x86 image with its last-image flag cleared (and the checksum
 * kept at zero), followed by an EFI image: a hybrid ROM as GPUs ship. */
static unsigned char *make_hybrid(size_t *len, int efi_last)
{
	*len = std_len + 512;
	unsigned char *d = xmalloc(*len);
	memcpy(d, std, std_len);
	ck_assert_uint_eq(d[std_pcir + 0x15] & 0x80, 0x80);
	d[std_pcir + 0x15] &= 0x7f;
	d[std_len - 1] = (unsigned char)(d[std_len - 1] + 0x80);
	make_efi_image(d + std_len, 0x1234, 0x1111, efi_last);
	return d;
}

START_TEST(copy_hybrid_x86_efi)
{
	size_t len;
	unsigned char *d = make_hybrid(&len, 1);
	struct rom_info info;
	struct hil_err err;
	char *path;
	ck_assert_msg(check_copy("hybrid.rom", d, len, &info, &err, &path) == 0, "%s", err.msg);
	ck_assert_int_eq(info.images, 2);
	ck_assert_int_eq(info.has_x86, 1);
	ck_assert_int_eq(info.has_efi, 1);
	ck_assert_int_eq(info.x86_checksum_ok, 1);
	ck_assert_uint_eq(info.vendor, 0x1234);
	free(path);

	/* the file ending after an image not flagged last is fine too */
	free(d);
	d = make_hybrid(&len, 0);
	ck_assert_msg(check_copy("hybrid2.rom", d, len, &info, &err, &path) == 0, "%s", err.msg);
	ck_assert_int_eq(info.images, 2);
	free(path);

	/* the second image broken: named by its offset */
	d[std_len] = 0;
	expect_error("hybrid3.rom", d, len, "no 0x55AA ROM signature (offset 0x9c00)");
	make_efi_image(d + std_len, 0x1234, 0x1111, 1);
	d[std_len + 0x1c + 0x10] = 2; /* claims 1024 bytes, has 512 */
	expect_error("hybrid4.rom", d, len, "image 2 claims 1024 bytes but the file has 512 left (offset 0x9c00)");
	free(d);
}
END_TEST

/* The ids checked are the first image's. */
START_TEST(copy_hybrid_ids_of_first_image)
{
	size_t len;
	unsigned char *d = make_hybrid(&len, 1);
	make_efi_image(d + std_len, 0x10de, 0x06e4, 1);
	struct rom_info info;
	struct hil_err err;
	char *path;
	ck_assert_int_eq(check_copy("ids.rom", d, len, &info, &err, &path), 0);
	ck_assert_uint_eq(info.vendor, 0x1234);
	ck_assert_uint_eq(info.device, 0x1111);
	free(path);
	free(d);
}
END_TEST

START_TEST(file_missing)
{
	char *path = test_path(tmp, "none.rom");
	struct rom_info info;
	struct hil_err err;
	ck_assert_int_eq(rom_check(path, 0x1234, 0x1111, &info, &err), -1);
	char *want = xasprintf("cannot open %s: No such file or directory", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);
}
END_TEST

START_TEST(file_too_large)
{
	char *path = test_path(tmp, "huge.rom");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, std, std_len), (ssize_t)std_len);
	ck_assert_int_eq(ftruncate(fd, ROM_FILE_MAX + 1), 0);
	close(fd);
	struct rom_info info;
	struct hil_err err;
	ck_assert_int_eq(rom_check(path, 0x1234, 0x1111, &info, &err), -1);
	char *want = xasprintf("%s: larger than 16777216 bytes", path);
	ck_assert_str_eq(err.msg, want);
	free(want);
	free(path);
}
END_TEST

static Suite *rom_suite(void)
{
	Suite *s = suite_create("rom");
	TCase *tc = tcase_create("real");
	tcase_add_loop_test(tc, real_rom_ok, 0, (int)(sizeof real_roms / sizeof *real_roms));
	tcase_add_test(tc, real_rom_wrong_card);
	tcase_add_test(tc, real_isa_rom_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("copies");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, copies_setup, copies_teardown);
	tcase_add_test(tc, copy_unchanged_ok);
	tcase_add_test(tc, copy_truncated);
	tcase_add_test(tc, copy_byte_flipped);
	tcase_add_test(tc, copy_no_signature);
	tcase_add_test(tc, copy_bad_pcir_pointer);
	tcase_add_test(tc, copy_zero_length);
	tcase_add_test(tc, copy_efi_only);
	tcase_add_test(tc, copy_trailing_after_last);
	tcase_add_test(tc, copy_hybrid_x86_efi);
	tcase_add_test(tc, copy_hybrid_ids_of_first_image);
	tcase_add_test(tc, file_missing);
	tcase_add_test(tc, file_too_large);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(rom_suite());
}
