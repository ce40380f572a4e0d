/* test_accel: the accelerator choice for emulated cards, by timed trial
 * boots of the real bios-post guest on real SeaBIOS under real QEMU. Which
 * accelerator wins is the host's business (on this lab's nested KVM, TCG
 * by ~20x; on a lab host, KVM), so the tests assert what holds on any
 * host: one of kvm/tcg with both times in the reason, the answer
 * remembered per boot id, cells side by side waiting for one trial, a
 * firmware QEMU cannot start never timed as a win. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accel.h"
#include "qemutest.h"
#include "testutil.h"
#include "util.h"

#define SEABIOS "/usr/share/seabios/bios-256k.bin"
#define DRIVE "if=ide,format=raw,snapshot=on,file=" HIL_GUEST_DIR "/bios-post/bios-post.img"

static const char *const bios_post_boot[] = { "-device", "VGA", "-drive", DRIVE,
					      "-boot", "order=c,strict=on", NULL };

static struct accel_timed bios_post(const char *firmware_bin)
{
	return (struct accel_timed){ qemutest_binary(), firmware_bin, "bios-post", bios_post_boot,
				     128, "HILRUN/1 guest hello" };
}

START_TEST(timed_once_per_boot)
{
	char *dir = test_tmpdir();
	char *cache = test_path(dir, "accel-cache.json");
	char reason[640], dev_reason[320];
	const char *dev = accel_probe_dev_kvm(dev_reason, sizeof dev_reason);
	const struct accel_timed t = bios_post(SEABIOS);
	setenv("HILRUN_BOOT_ID", "test-boot-1", 1);
	int64_t t0 = now_ms();
	const char *first = accel_choose_timed(&t, cache, reason, sizeof reason);
	int64_t took = now_ms() - t0;
	ck_assert(!strcmp(first, "kvm") || !strcmp(first, "tcg"));
	if (!strcmp(dev, "tcg")) {
		/* No usable /dev/kvm: nothing to time, nothing remembered. */
		ck_assert_str_eq(first, "tcg");
		ck_assert_str_eq(reason, dev_reason);
		ck_assert(!test_exists(cache));
	} else {
		printf("accel: bios-post on SeaBIOS: %s (%s; %lld ms)\n", first, reason,
		       (long long)took);
		ck_assert_msg(strstr(reason, "timed trial boots of the guest bios-post on " SEABIOS) &&
				      strstr(reason, "tcg ") && strstr(reason, " s"),
			      "%s", reason);
		ck_assert_msg(strstr(reason, !strcmp(first, "kvm") ? "kvm is faster" : "tcg is faster"),
			      "%s", reason);
		ck_assert_msg(strstr(reason, "remembered") == NULL, "%s", reason);
		size_t len;
		char *text = (char *)test_read(cache, &len);
		ck_assert_msg(strstr(text, "\"tcg_ms\"") && strstr(text, "\"kvm_ms\"") &&
				      strstr(text, "timed|bios-post|"),
			      "%s", text);
		free(text);
		/* The same boot: the cache answers, at once. */
		t0 = now_ms();
		const char *again = accel_choose_timed(&t, cache, reason, sizeof reason);
		ck_assert_str_eq(again, first);
		ck_assert_msg(strstr(reason, "(remembered in ") != NULL, "%s", reason);
		ck_assert_int_lt(now_ms() - t0, 100);
		/* Another boot of the host: timed again, both boots kept. */
		setenv("HILRUN_BOOT_ID", "test-boot-2", 1);
		accel_choose_timed(&t, cache, reason, sizeof reason);
		ck_assert_msg(strstr(reason, "remembered") == NULL, "%s", reason);
		text = (char *)test_read(cache, &len);
		ck_assert(strstr(text, "test-boot-1") && strstr(text, "test-boot-2"));
		free(text);
		/* A cache that is not JSON is ignored and rewritten. */
		test_write_str(dir, "accel-cache.json", "{not json");
		accel_choose_timed(&t, cache, reason, sizeof reason);
		ck_assert_msg(strstr(reason, "remembered") == NULL, "%s", reason);
		text = (char *)test_read(cache, &len);
		ck_assert(strstr(text, "test-boot-2") && !strstr(text, "not json"));
		free(text);
	}
	unsetenv("HILRUN_BOOT_ID");
	test_rmdir(dir);
	free(cache);
	free(dir);
}
END_TEST

/* Two cells side by side (hilrun -j) needing the same answer: one trial,
 * the other waits for it and finds it remembered. */
START_TEST(side_by_side_one_trial)
{
	char dev_reason[320];
	if (strcmp(accel_probe_dev_kvm(dev_reason, sizeof dev_reason), "kvm"))
		return; /* nothing is timed, nor locked, without /dev/kvm (timed_once_per_boot) */
	char *dir = test_tmpdir();
	char *cache = test_path(dir, "accel-cache.json");
	const struct accel_timed t = bios_post(SEABIOS);
	setenv("HILRUN_BOOT_ID", "test-boot-3", 1);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	char reason[640];
	const char *a = accel_choose_timed(&t, cache, reason, sizeof reason);
	int remembered = strstr(reason, "remembered") != NULL;
	if (pid == 0) {
		char c = remembered ? 'r' : a[0];
		int ok = write(fds[1], &c, 1) == 1;
		free(cache); /* the parent removes the directory */
		free(dir);
		_exit(ok ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	char child;
	ck_assert_int_eq(read(fds[0], &child, 1), 1);
	close(fds[0]);
	close(fds[1]);
	/* Exactly one of the two ran the trials. */
	ck_assert_msg(remembered != (child == 'r'), "parent %s, child %c", reason, child);
	unsetenv("HILRUN_BOOT_ID");
	test_rmdir(dir);
	free(cache);
	free(dir);
}
END_TEST

/* A firmware image QEMU cannot load wins no trial. */
START_TEST(unloadable_firmware_wins_nothing)
{
	char reason[640], dev_reason[320];
	const char *dev = accel_probe_dev_kvm(dev_reason, sizeof dev_reason);
	const struct accel_timed t = bios_post("/nonexistent/bios.bin");
	char *dir = test_tmpdir();
	char *cache = test_path(dir, "accel-cache.json");
	const char *a = accel_choose_timed(&t, cache, reason, sizeof reason);
	if (!strcmp(dev, "kvm")) {
		ck_assert_str_eq(a, "kvm");
		ck_assert_msg(strstr(reason, "reached its hello under neither accelerator") &&
				      strstr(reason, "QEMU exited"),
			      "%s", reason);
		ck_assert(!test_exists(cache)); /* nothing learned, nothing kept */
	} else {
		ck_assert_str_eq(a, "tcg");
		ck_assert_str_eq(reason, dev_reason);
	}
	test_rmdir(dir);
	free(cache);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("accel");
	TCase *tc = tcase_create("accel");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_test(tc, timed_once_per_boot);
	tcase_add_test(tc, side_by_side_one_trial);
	tcase_add_test(tc, unloadable_firmware_wins_nothing);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
