/* test_preflight: every check of a physical card's station
 * (harness/catalog/preflight.c), failing and passing, against the fixture
 * host trees (tests/fixtures/sysfs/README.md: sysfs, sysfs-noiommu, proc,
 * proc-noiommu, boot, dev-vfio) and the real card files; the exit class and
 * what the message names are asserted. /dev/vfio's EACCES is met for real,
 * by a child that drops to nobody. */
#include <check.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "preflight.h"
#include "testutil.h"

static struct catalog cat;
static struct preflight_result res[PF_NCHECKS];

/* Point every root at a fixture tree ("sysfs", "proc", ...). */
static void roots(const char *sysfs, const char *proc)
{
	char *p = test_path(test_fixtures_dir(), sysfs);
	setenv("HILRUN_SYSFS", p, 1);
	free(p);
	p = test_path(test_fixtures_dir(), proc);
	setenv("HILRUN_PROC", p, 1);
	free(p);
	p = test_path(test_fixtures_dir(), "boot");
	setenv("HILRUN_BOOT", p, 1);
	free(p);
	p = test_path(test_fixtures_dir(), "dev-vfio");
	setenv("HILRUN_DEV_VFIO", p, 1);
	free(p);
}

static void setup(void)
{
	catalog_init(&cat);
	char *dir = test_path(test_source_dir(), "cards");
	struct hil_err err;
	ck_assert_msg(catalog_load_cards(&cat, dir, &err) == 0, "%s", err.msg);
	free(dir);
	roots("sysfs", "proc");
}

static void teardown(void)
{
	catalog_release(&cat);
}

/* preflight_all on card ID at host; returns the worst code. */
static int check(const char *card, const char *host, const char *capture, const struct argv *named)
{
	const struct card *c = catalog_find_card(&cat, card);
	ck_assert_ptr_nonnull(c);
	struct preflight_target t = { c, host, capture, named, 128 };
	return preflight_all(&t, res);
}

#define ck_has(hay, needle) ck_assert_msg(strstr((hay), (needle)) != NULL, "'%s' not in '%s'", (needle), (hay))

static void expect(enum preflight_check c, int code, const char *brief, const char *says)
{
	ck_assert_msg(res[c].code == code, "%s: code %d, expected %d (%s)", preflight_check_name(c),
		      res[c].code, code, res[c].msg);
	ck_assert_str_eq(res[c].brief, brief);
	if (says)
		ck_has(res[c].msg, says);
}

/* Every check but memlock (this process's) passes on the viable station. */
static void expect_ok_but(enum preflight_check failing)
{
	for (int i = 0; i < PF_NCHECKS; i++)
		if (i != (int)failing && i != PF_MEMLOCK)
			ck_assert_msg(res[i].code == 0, "%s: %s", preflight_check_name(i), res[i].msg);
}

START_TEST(viable_station)
{
	check("g98", "0000:01:00.0", "10.0.0.5:5900", NULL);
	expect_ok_but(PF_NCHECKS);
	expect(PF_DEVICE, 0, "ok", NULL);
	expect(PF_COMPANIONS, 0, "none", NULL);
	expect(PF_XVGA, 0, "ok", NULL);
	/* the card with its HDMI audio bound to vfio-pci too */
	check("g98", "0000:0a:00.0", "10.0.0.5:5900", NULL);
	expect_ok_but(PF_NCHECKS);
	expect(PF_COMPANIONS, 0, "ok", NULL);
}
END_TEST

START_TEST(device_failures)
{
	ck_assert_int_eq(check("g98", "0000:0f:00.0", "x:1", NULL), PREFLIGHT_LAB);
	expect(PF_DEVICE, PREFLIGHT_LAB, "absent", "preflight: no PCI device 0000:0f:00.0 on this host");
	expect(PF_GROUP, PREFLIGHT_SKIP, "-", "not checked: the card is not at its address");
	expect(PF_VFIO_DEV, PREFLIGHT_SKIP, "-", NULL);

	ck_assert_int_eq(check("g86", "0000:01:00.0", "x:1", NULL), PREFLIGHT_CONFIG);
	expect(PF_DEVICE, PREFLIGHT_CONFIG, "10de:06e4",
	       "preflight: 0000:01:00.0 is PCI device 10de:06e4, card g86 is 10de:042f (wrong --host or station?)");

	check("g86", "0000:02:00.0", "x:1", NULL);
	expect(PF_DEVICE, PREFLIGHT_LAB, "nouveau",
	       "0000:02:00.0 is bound to nouveau, not vfio-pci (bind it: driverctl set-override 0000:02:00.0 vfio-pci)");
	/* the other device checks still run: the table shows them all */
	expect(PF_GROUP, 0, "ok", NULL);

	check("cedar", "0000:04:00.0", "x:1", NULL);
	expect(PF_DEVICE, PREFLIGHT_LAB, "no driver", "0000:04:00.0 is bound to no driver");
}
END_TEST

START_TEST(iommu_off)
{
	/* the command line asks for it: the firmware setting is what's left */
	roots("sysfs-noiommu", "proc");
	check("g98", "0000:01:00.0", "x:1", NULL);
	expect(PF_IOMMU, PREFLIGHT_LAB, "off", "has intel_iommu=on: turn on VT-d (Intel) or AMD-Vi");
	expect(PF_GROUP, PREFLIGHT_LAB, "no group", "0000:01:00.0 has no IOMMU group (the IOMMU is off");
	expect(PF_VFIO_DEV, PREFLIGHT_SKIP, "-", "no IOMMU group");
	/* it does not: the fix is the command line, and iommu=pt is no switch */
	roots("sysfs-noiommu", "proc-noiommu");
	check("g98", "0000:01:00.0", "x:1", NULL);
	expect(PF_IOMMU, PREFLIGHT_LAB, "off", "has no intel_iommu=on or amd_iommu=on");
	ck_has(res[PF_IOMMU].msg, "iommu=pt only sets the mode");
	ck_has(res[PF_IOMMU].msg, "GRUB_CMDLINE_LINUX");
	/* on */
	roots("sysfs", "proc-noiommu");
	check("g98", "0000:01:00.0", "x:1", NULL);
	expect(PF_IOMMU, 0, "ok", NULL);
}
END_TEST

START_TEST(group_not_viable)
{
	ck_assert_int_eq(check("rv370", "0000:06:00.0", "x:1", NULL), PREFLIGHT_LAB);
	expect_ok_but(PF_GROUP);
	expect(PF_GROUP, PREFLIGHT_LAB, "not viable",
	       "IOMMU group 6 of 0000:06:00.0 is not viable: 0000:07:00.0 (8086:10d3) is bound to e1000e; every other");
	ck_has(res[PF_GROUP].msg, "driverctl set-override 0000:07:00.0 vfio-pci");
	/* the two root ports in the group (pcieport) are fine */
	ck_assert_ptr_null(strstr(res[PF_GROUP].msg, "00:1c"));
}
END_TEST

START_TEST(no_group)
{
	check("g72", "0000:03:00.0", "x:1", NULL);
	expect(PF_GROUP, PREFLIGHT_LAB, "no group",
	       "preflight: 0000:03:00.0 has no IOMMU group (is the IOMMU on? intel_iommu=on / amd_iommu=on)");
	expect(PF_VFIO_DEV, PREFLIGHT_SKIP, "-", NULL);
}
END_TEST

START_TEST(companions)
{
	ck_assert_int_eq(check("cedar", "0000:05:00.0", "x:1", NULL), PREFLIGHT_LAB);
	expect_ok_but(PF_COMPANIONS);
	expect(PF_COMPANIONS, PREFLIGHT_LAB, ".1 bound",
	       "0000:05:00.1 (1002:aa68), function 1 of the card at 0000:05:00.0, is bound to snd_hda_intel, not vfio-pci");
	ck_has(res[PF_COMPANIONS].msg, "'companion 0000:05:00.1'");
	/* named in the station: the lab knows it (its own group 15 is viable) */
	struct argv named = ARGV_INIT;
	argv_push(&named, "0000:05:00.1");
	check("cedar", "0000:05:00.0", "x:1", &named);
	expect_ok_but(PF_NCHECKS);
	expect(PF_COMPANIONS, 0, "ok", NULL);
	/* named but not there */
	argv_push(&named, "0000:05:00.2");
	ck_assert_int_eq(check("cedar", "0000:05:00.0", "x:1", &named), PREFLIGHT_CONFIG);
	expect(PF_COMPANIONS, PREFLIGHT_CONFIG, "not on host",
	       "companion 0000:05:00.2 named in the station is not on this host");
	argv_release(&named);
}
END_TEST

static void gzip_file(const char *src, const char *dst)
{
	size_t len;
	unsigned char *data = test_read(src, &len);
	gzFile f = gzopen(dst, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(gzwrite(f, data, (unsigned)len), (int)len);
	ck_assert_int_eq(gzclose(f), Z_OK);
	free(data);
}

START_TEST(xvga)
{
	/* the running kernel's config is Debian's, with CONFIG_VFIO_PCI_VGA=y */
	check("g98", "0000:01:00.0", "x:1", NULL);
	expect(PF_XVGA, 0, "ok", NULL);
	/* a kernel whose /proc/config.gz (this lab machine's, real) has no VFIO */
	roots("sysfs", "proc-noiommu");
	check("g98", "0000:01:00.0", "x:1", NULL);
	expect(PF_XVGA, PREFLIGHT_LAB, "no VGA kconfig",
	       "card g98 needs x-vga=on, and the host kernel (6.18.44-fc-v1252) is built without CONFIG_VFIO_PCI_VGA (");
	ck_has(res[PF_XVGA].msg, "proc-noiommu/config.gz");
	ck_has(res[PF_XVGA].msg, "vfio: Device does not support requested feature x-vga");
	/* vfio-pci loaded with disable_vga=Y */
	roots("sysfs-noiommu", "proc");
	check("g98", "0000:01:00.0", "x:1", NULL);
	expect(PF_XVGA, PREFLIGHT_LAB, "disable_vga", "vfio-pci is loaded with disable_vga=Y");
	ck_has(res[PF_XVGA].msg, "options vfio-pci disable_vga=0");
	/* a card that does not need x-vga is not held to it */
	struct card c = *catalog_find_card(&cat, "g98");
	c.x_vga = 0;
	struct preflight_target t = { &c, "0000:01:00.0", "x:1", NULL, 128 };
	preflight_all(&t, res);
	expect(PF_XVGA, 0, "not needed", NULL);
}
END_TEST

START_TEST(xvga_config_sources)
{
	/* no /boot/config-RELEASE: /proc/config.gz, read through zlib */
	char *tmp = test_tmpdir();
	char *proc = test_path(tmp, "proc");
	ck_assert_int_eq(mkdir(proc, 0755), 0);
	char *sys = xasprintf("%s/sys/kernel", proc);
	struct hil_err err;
	ck_assert_int_eq(mkdir_p(sys, &err), 0);
	test_write_str(sys, "osrelease", "6.1.0-other\n");
	setenv("HILRUN_PROC", proc, 1);
	check("g98", "0000:01:00.0", "x:1", NULL);
	expect(PF_XVGA, PREFLIGHT_LAB, "no kconfig", "whether the host kernel (6.1.0-other) has CONFIG_VFIO_PCI_VGA cannot be told");
	ck_has(res[PF_XVGA].msg, "boot/config-6.1.0-other");
	char *debian = xasprintf("%s/boot/config-6.1.0-57-amd64", test_fixtures_dir());
	char *gz = test_path(proc, "config.gz");
	gzip_file(debian, gz);
	check("g98", "0000:01:00.0", "x:1", NULL);
	expect(PF_XVGA, 0, "ok", NULL);
	/* vfio-pci not loaded at all */
	setenv("HILRUN_SYSFS", tmp, 1);
	check("g98", "0000:01:00.0", "x:1", NULL);
	expect(PF_XVGA, PREFLIGHT_LAB, "no vfio-pci", "vfio-pci is not loaded (no ");
	test_rmdir(tmp);
	free(gz);
	free(debian);
	free(sys);
	free(proc);
	free(tmp);
}
END_TEST

START_TEST(boot_vga)
{
	ck_assert_int_eq(check("g72", "0000:08:00.0", "x:1", NULL), PREFLIGHT_LAB);
	expect_ok_but(PF_BOOT_VGA);
	expect(PF_BOOT_VGA, PREFLIGHT_LAB, "boot VGA", "0000:08:00.0 is the host's boot VGA (");
	ck_has(res[PF_BOOT_VGA].msg, "primary display in the firmware setup");
}
END_TEST

START_TEST(vfio_dev_missing)
{
	check("g86", "0000:09:00.0", "x:1", NULL);
	expect_ok_but(PF_VFIO_DEV);
	expect(PF_VFIO_DEV, PREFLIGHT_LAB, "ENOENT", "dev-vfio/9: vfio-pci does not hold IOMMU group 9");
	ck_has(res[PF_VFIO_DEV].msg, "modprobe vfio-pci");
}
END_TEST

/* /dev/vfio/1 is root's (the fixture file, mode 0644): nobody cannot open
 * it read-write. Run in a child that drops to nobody; it sends back the
 * check's brief and message. */
START_TEST(vfio_dev_eacces)
{
	if (geteuid() != 0) {
		fprintf(stderr, "vfio_dev_eacces: not root, cannot drop to nobody: skipped\n");
		return;
	}
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		check("g98", "0000:01:00.0", "x:1", NULL);
		dprintf(fds[1], "%d|%s|%s", res[PF_VFIO_DEV].code, res[PF_VFIO_DEV].brief, res[PF_VFIO_DEV].msg);
		_exit(0);
	}
	close(fds[1]);
	char buf[1024] = "";
	size_t got = 0;
	ssize_t n;
	while ((n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed: %s", buf);
	char *want = xasprintf("%d|EACCES|preflight: ", PREFLIGHT_LAB);
	ck_assert_msg(!strncmp(buf, want, strlen(want)), "%s", buf);
	ck_has(buf, "(uid 65534) cannot open ");
	ck_has(buf, "dev-vfio/1: it is root:root, mode 0644, closed to the group: have udev give it");
	free(want);
}
END_TEST

START_TEST(memlock)
{
	struct preflight_result r;
	/* Debian's default 8 MiB against the windows guest's 2048 MiB */
	ck_assert_int_eq(preflight_memlock(8 << 20, 0, 2048, &r), PREFLIGHT_LAB);
	ck_assert_str_eq(r.brief, "8<3072 MiB");
	ck_has(r.msg, "the memlock limit is 8192 KiB, and vfio pins all 2048 MiB of the guest's RAM plus up to 1024 MiB");
	ck_has(r.msg, "/etc/security/limits.conf");
	ck_has(r.msg, "LimitMEMLOCK=infinity");
	ck_has(r.msg, "ulimit -l unlimited");
	/* the margin is counted: just below fails, exactly enough passes */
	ck_assert_int_eq(preflight_memlock((3072ULL << 20) - 1, 0, 2048, &r), PREFLIGHT_LAB);
	ck_assert_int_eq(preflight_memlock(3072ULL << 20, 0, 2048, &r), 0);
	ck_assert_str_eq(r.brief, "3072 MiB");
	ck_assert_int_eq(preflight_memlock(RLIM_INFINITY, 0, 2048, &r), 0);
	ck_assert_str_eq(r.brief, "unlimited");
	ck_assert_int_eq(preflight_memlock(0, 1, 2048, &r), 0);
	ck_assert_str_eq(r.brief, "CAP_IPC_LOCK");
}
END_TEST

/* The real limit of a process without CAP_IPC_LOCK (nobody's, lowered to 4 MiB). */
START_TEST(memlock_of_this_process)
{
	if (geteuid() != 0) {
		fprintf(stderr, "memlock_of_this_process: not root: skipped\n");
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { 4 << 20, 4 << 20 }; /* lowered: raising needs CAP_SYS_RESOURCE */
		if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0 || setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
		    setuid(65534) < 0)
			_exit(2);
		check("g98", "0000:01:00.0", "x:1", NULL);
		_exit(res[PF_MEMLOCK].code == PREFLIGHT_LAB && !strcmp(res[PF_MEMLOCK].brief, "4<1152 MiB") ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "nobody's 4 MiB limit passed");
}
END_TEST

START_TEST(endpoint_and_worst)
{
	check("g98", "0000:01:00.0", NULL, NULL);
	expect(PF_ENDPOINT, PREFLIGHT_CONFIG, "none named", "preflight: card g98 needs a capture endpoint");
	/* a configuration error outranks a lab error (exit 2 over 3) */
	ck_assert_int_eq(check("g72", "0000:08:00.0", "", NULL), PREFLIGHT_CONFIG);
	/* preflight_vfio says the first failure, in check order */
	const struct card *c = catalog_find_card(&cat, "g72");
	struct preflight_target t = { c, "0000:08:00.0", NULL, NULL, 128 };
	struct hil_err err;
	ck_assert_int_eq(preflight_vfio(&t, &err), PREFLIGHT_LAB);
	ck_has(err.msg, "is the host's boot VGA");
}
END_TEST

static Suite *preflight_suite(void)
{
	Suite *s = suite_create("preflight");
	TCase *tc = tcase_create("checks");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, viable_station);
	tcase_add_test(tc, device_failures);
	tcase_add_test(tc, iommu_off);
	tcase_add_test(tc, group_not_viable);
	tcase_add_test(tc, no_group);
	tcase_add_test(tc, companions);
	tcase_add_test(tc, xvga);
	tcase_add_test(tc, xvga_config_sources);
	tcase_add_test(tc, boot_vga);
	tcase_add_test(tc, vfio_dev_missing);
	tcase_add_test(tc, vfio_dev_eacces);
	tcase_add_test(tc, memlock);
	tcase_add_test(tc, memlock_of_this_process);
	tcase_add_test(tc, endpoint_and_worst);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(preflight_suite());
}
