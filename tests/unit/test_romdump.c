/* test_romdump: reading a card's ROM through sysfs (harness/catalog/romdump.c)
 * against the fixture tree (tests/fixtures/sysfs: real SeaBIOS ROMs and a
 * real cut of one as each device's `rom`). The kernel's rom attribute is
 * played by the I/O table below, as drivers/pci/pci-sysfs.c has it: a write
 * of exactly "0\n" at offset 0 disables, any other write enables, a read
 * while disabled is EINVAL; faults (EIO mid-read, a short read, EACCES, an
 * enable that does not take) are injected. Every path must end disabled. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "romdump.h"
#include "testutil.h"

#define WRITE_FD 1000

static struct {
	int enabled;
	struct strbuf log;   /* "w:1 r w:0": each open's writes and reads */
	size_t served;
	int open_errno;      /* fail every open with this */
	int read_errno;      /* ... a read past fail_after with this */
	size_t fail_after;
	size_t short_at;     /* end the data here (0: no) */
	int enable_ignored;  /* writes do not enable */
} k;

static int k_open(const char *path, int flags)
{
	if (k.open_errno || access(path, F_OK) < 0) {
		errno = k.open_errno ? k.open_errno : ENOENT;
		return -1;
	}
	if ((flags & O_ACCMODE) == O_WRONLY)
		return WRITE_FD;
	sb_adds(&k.log, "r ");
	return open(path, O_RDONLY | O_CLOEXEC);
}

static ssize_t k_write(int fd, const void *buf, size_t n)
{
	ck_assert_int_eq(fd, WRITE_FD);
	sb_addf(&k.log, "w:%.*s ", (int)(n && ((const char *)buf)[n - 1] == '\n' ? n - 1 : n), (const char *)buf);
	if (n == 2 && ((const char *)buf)[0] == '0')
		k.enabled = 0;
	else if (!k.enable_ignored)
		k.enabled = 1;
	return (ssize_t)n;
}

static ssize_t k_read(int fd, void *buf, size_t n)
{
	if (!k.enabled) {
		errno = EINVAL;
		return -1;
	}
	if (k.read_errno && k.served >= k.fail_after) {
		errno = k.read_errno;
		return -1;
	}
	size_t limit = k.read_errno ? k.fail_after : k.short_at;
	if (limit && n > limit - k.served)
		n = limit - k.served;
	ssize_t got = read(fd, buf, n);
	if (got > 0)
		k.served += (size_t)got;
	return got;
}

static int k_close(int fd)
{
	return fd == WRITE_FD ? 0 : close(fd);
}

static const struct rom_io kernel = { k_open, k_read, k_write, k_close };

static void setup(void)
{
	memset(&k, 0, sizeof k);
	sb_init(&k.log);
	char *p = test_path(test_fixtures_dir(), "sysfs");
	setenv("HILRUN_SYSFS", p, 1);
	free(p);
}

static void teardown(void)
{
	sb_release(&k.log);
}

#define ck_has(hay, needle) ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' not in '%s'", (needle), (hay))

static void expect_disabled(void)
{
	ck_assert_int_eq(k.enabled, 0);
	ck_assert_msg(strstr(sb_str(&k.log), "w:0 ") != NULL, "no disable: %s", sb_str(&k.log));
}

START_TEST(dump_matching_ids)
{
	struct rom_dump d;
	struct hil_err err;
	ck_assert_msg(rom_dump_read("0000:0c:00.0", &kernel, &d, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(sb_str(&k.log), "w:1 r w:0 ");
	ck_assert_int_eq(k.enabled, 0);
	size_t len;
	unsigned char *real = test_read("/usr/share/seabios/vgabios-stdvga.bin", &len);
	ck_assert_uint_eq(d.len, len);
	ck_assert(!memcmp(d.data, real, len));
	ck_assert_uint_eq(d.vendor, 0x1234);
	ck_assert_uint_eq(d.device, 0x1111);
	ck_assert_uint_eq(d.info.vendor, 0x1234);
	ck_assert_uint_eq(d.info.device, 0x1111);
	ck_assert_int_eq(d.info.x86_checksum_ok, 1);
	ck_assert_int_eq(d.boot_vga, 0);
	free(real);
	rom_dump_release(&d);
}
END_TEST

START_TEST(dump_other_ids)
{
	struct rom_dump d;
	struct hil_err err;
	ck_assert_msg(rom_dump_read("0000:01:00.0", &kernel, &d, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(d.vendor, 0x10de);
	ck_assert_uint_eq(d.device, 0x06e4);
	ck_assert_uint_eq(d.info.vendor, 0x1234);
	ck_assert_uint_eq(d.info.device, 0x1111);
	rom_dump_release(&d);
}
END_TEST

static void expect_fail(const char *bdf, int code, const char *says)
{
	struct rom_dump d;
	struct hil_err err;
	ck_assert_int_eq(rom_dump_read(bdf, &kernel, &d, &err), code);
	ck_has(err.msg, says);
	ck_assert_ptr_null(d.data);
	ck_assert_uint_eq(d.len, 0);
}

START_TEST(dump_truncated)
{
	/* a real ROM cut at 4 KiB: checked, refused, disabled */
	expect_fail("0000:0b:00.0", ROMDUMP_LAB, "rom dump: the 4096 bytes read are not a usable option ROM: ");
	expect_disabled();
}
END_TEST

START_TEST(dump_short_read)
{
	k.short_at = 39424; /* past the PCIR structure, short of the image */
	expect_fail("0000:0c:00.0", ROMDUMP_LAB, "image 1 claims 39936 bytes but the file has 39424 left");
	ck_assert_str_eq(sb_str(&k.log), "w:1 r w:0 ");
	expect_disabled();
}
END_TEST

START_TEST(dump_read_eio)
{
	k.read_errno = EIO;
	k.fail_after = 8192;
	expect_fail("0000:0c:00.0", ROMDUMP_LAB, "/0000:0c:00.0/rom: Input/output error: the kernel found no valid ROM image");
	struct rom_dump d;
	struct hil_err err;
	k.served = 0;
	rom_dump_read("0000:0c:00.0", &kernel, &d, &err);
	ck_has(err.msg, "(after 8192 bytes)");
	ck_has(err.msg, "the host's boot VGA");
	expect_disabled();
}
END_TEST

START_TEST(dump_enable_ignored)
{
	k.enable_ignored = 1;
	expect_fail("0000:0c:00.0", ROMDUMP_LAB, "the kernel says the ROM is not enabled");
	expect_disabled();
}
END_TEST

START_TEST(dump_no_rom)
{
	/* no rom attribute: nothing enabled, nothing to disable */
	expect_fail("0000:02:00.0", ROMDUMP_LAB, "0000:02:00.0/rom: No such file or directory: the device has no expansion ROM");
	ck_assert_str_eq(sb_str(&k.log), "");
}
END_TEST

START_TEST(dump_eacces)
{
	k.open_errno = EACCES;
	expect_fail("0000:0c:00.0", ROMDUMP_LAB, "Permission denied: the rom attribute is root's (mode 0600): run hilrun rom dump as root");
	ck_assert_str_eq(sb_str(&k.log), "");
}
END_TEST

START_TEST(dump_no_device)
{
	expect_fail("0000:3f:00.0", ROMDUMP_CONFIG, "rom dump: no PCI device 0000:3f:00.0 on this host");
}
END_TEST

static Suite *romdump_suite(void)
{
	Suite *s = suite_create("romdump");
	TCase *tc = tcase_create("sysfs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dump_matching_ids);
	tcase_add_test(tc, dump_other_ids);
	tcase_add_test(tc, dump_truncated);
	tcase_add_test(tc, dump_short_read);
	tcase_add_test(tc, dump_read_eio);
	tcase_add_test(tc, dump_enable_ignored);
	tcase_add_test(tc, dump_no_rom);
	tcase_add_test(tc, dump_eacces);
	tcase_add_test(tc, dump_no_device);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(romdump_suite());
}
