/* test_accel: the accelerator choice per firmware, with real QEMU and real
 * OVMF. What KVM does is the host's business (on this lab's nested KVM OVMF
 * stops at once; on a lab host it runs), so the tests assert what holds on
 * any host: one of kvm/tcg with a reason, SeaBIOS decided by /dev/kvm
 * alone, the answer remembered per boot id, a firmware QEMU cannot start
 * never chosen for KVM. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "accel.h"
#include "qemutest.h"
#include "testutil.h"
#include "util.h"

#define OVMF "/usr/share/ovmf/OVMF.fd"

START_TEST(seabios_needs_only_dev_kvm)
{
	char r1[320], r2[320];
	const char *a = accel_choose(qemutest_binary(), "seabios", "/usr/share/seabios/bios-256k.bin",
				     NULL, r1, sizeof r1);
	const char *b = accel_probe_dev_kvm(r2, sizeof r2);
	ck_assert_str_eq(a, b);
	ck_assert_str_eq(r1, r2);
}
END_TEST

START_TEST(ovmf_probed_once_per_boot)
{
	char *dir = test_tmpdir();
	char *cache = test_path(dir, "accel-cache.json");
	char reason[320];
	char dev_reason[320];
	const char *dev = accel_probe_dev_kvm(dev_reason, sizeof dev_reason);
	setenv("HILRUN_BOOT_ID", "test-boot-1", 1);
	int64_t t0 = now_ms();
	const char *first = accel_choose(qemutest_binary(), "ovmf", OVMF, cache, reason, sizeof reason);
	int64_t probe_ms = now_ms() - t0;
	ck_assert(!strcmp(first, "kvm") || !strcmp(first, "tcg"));
	if (!strcmp(dev, "tcg")) {
		/* No usable /dev/kvm: nothing to try, nothing remembered. */
		ck_assert_str_eq(first, "tcg");
		ck_assert(!test_exists(cache));
	} else {
		ck_assert_msg(strstr(reason, OVMF) != NULL, "%s", reason);
		ck_assert_msg(strstr(reason, "remembered") == NULL, "%s", reason);
		ck_assert(test_exists(cache));
		printf("accel: OVMF under KVM on this host: %s (%s, %lld ms)\n", first, reason,
		       (long long)probe_ms);
		/* The same boot: the cache answers, with no trial. */
		const char *again = accel_choose(qemutest_binary(), "ovmf", OVMF, cache, reason,
						 sizeof reason);
		ck_assert_str_eq(again, first);
		ck_assert_msg(strstr(reason, "(remembered in ") != NULL, "%s", reason);
		/* Another boot of the host: tried again. */
		setenv("HILRUN_BOOT_ID", "test-boot-2", 1);
		const char *other = accel_choose(qemutest_binary(), "ovmf", OVMF, cache, reason,
						 sizeof reason);
		ck_assert_str_eq(other, first);
		ck_assert_msg(strstr(reason, "remembered") == NULL, "%s", reason);
		size_t len;
		unsigned char *text = test_read(cache, &len);
		ck_assert(strstr((char *)text, "test-boot-1") && strstr((char *)text, "test-boot-2"));
		free(text);
		/* A cache that is not JSON is ignored and rewritten. */
		test_write_str(dir, "accel-cache.json", "{not json");
		other = accel_choose(qemutest_binary(), "ovmf", OVMF, cache, reason, sizeof reason);
		ck_assert_str_eq(other, first);
	}
	unsetenv("HILRUN_BOOT_ID");
	test_rmdir(dir);
	free(cache);
	free(dir);
}
END_TEST

/* A firmware image QEMU cannot load never passes the KVM trial. */
START_TEST(unloadable_firmware_gets_tcg)
{
	char reason[320], dev_reason[320];
	const char *dev = accel_probe_dev_kvm(dev_reason, sizeof dev_reason);
	ck_assert_str_eq(accel_choose(qemutest_binary(), "ovmf", "/nonexistent/OVMF.fd", NULL,
				      reason, sizeof reason),
			 "tcg");
	/* Where /dev/kvm answers, the trial ran and QEMU refused the image;
	 * elsewhere /dev/kvm's answer is the reason. */
	if (!strcmp(dev, "kvm"))
		ck_assert_msg(strstr(reason, "QEMU exited") != NULL, "%s", reason);
	else
		ck_assert_str_eq(reason, dev_reason);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("accel");
	TCase *tc = tcase_create("accel");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_test(tc, seabios_needs_only_dev_kvm);
	tcase_add_test(tc, ovmf_probed_once_per_boot);
	tcase_add_test(tc, unloadable_firmware_gets_tcg);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
