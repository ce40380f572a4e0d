/* accel: see accel.h. */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

const char *accel_probe_dev_kvm(char *reason, size_t n)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(reason, n, "/dev/kvm: %s; using TCG", strerror(errno));
		return "tcg";
	}
	int version = ioctl(fd, 0xAE00 /* KVM_GET_API_VERSION */, 0);
	close(fd);
	if (version != 12) {
		snprintf(reason, n, "/dev/kvm answered API version %d, not 12; using TCG", version);
		return "tcg";
	}
	snprintf(reason, n, "/dev/kvm opened and answered KVM API version 12");
	return "kvm";
}

/* Boot the firmware under KVM with nothing to boot: 1 if it printed on the
 * serial console (it runs), 0 if KVM stopped it or it stayed silent. */
static int kvm_trial(const char *qemu, const char *firmware_bin, char *reason, size_t n)
{
	struct hil_err err;
	char dir[] = "/tmp/hilrun-accel-XXXXXX";
	if (!mkdtemp(dir)) {
		snprintf(reason, n, "cannot make a directory for the KVM trial: %s; using TCG",
			 strerror(errno));
		return 0;
	}
	char *serial = xasprintf("%s/serial", dir), *log = xasprintf("%s/qemu.log", dir);
	struct argv a = ARGV_INIT;
	argv_push(&a, qemu);
	argv_push(&a, "-nodefaults");
	argv_push(&a, "-no-user-config");
	argv_push(&a, "-machine");
	argv_push(&a, "pc");
	argv_push(&a, "-accel");
	argv_push(&a, "kvm");
	argv_push(&a, "-m");
	argv_push(&a, "256");
	argv_push(&a, "-bios");
	argv_push(&a, firmware_bin);
	argv_push(&a, "-display");
	argv_push(&a, "none");
	argv_push(&a, "-serial");
	argv_pushf(&a, "file:%s", serial);
	struct proc p;
	proc_init(&p);
	int ok = 0;
	const int64_t t0 = now_ms(), deadline = t0 + ACCEL_TRIAL_MS;
	if (proc_spawn(&p, &a, log, &err) < 0) {
		snprintf(reason, n, "KVM trial: %s; using TCG", err.msg);
	} else {
		for (;;) {
			size_t len = 0;
			char *out = read_file(log, 1 << 20, &len, &err);
			int stopped = out && strstr(out, "KVM internal error");
			free(out);
			char *ser = read_file(serial, 1 << 20, &len, &err);
			free(ser);
			if (stopped) {
				snprintf(reason, n,
					 "%s stopped under KVM (\"KVM internal error\", after %lld ms): "
					 "using TCG for it",
					 firmware_bin, (long long)(now_ms() - t0));
				break;
			}
			if (ser && len > 0) {
				snprintf(reason, n, "%s ran under KVM in a trial boot (console after %lld ms)",
					 firmware_bin, (long long)(now_ms() - t0));
				ok = 1;
				break;
			}
			if (proc_poll(&p)) {
				char how[128];
				proc_describe(&p, how, sizeof how);
				snprintf(reason, n, "%s under KVM: QEMU %s in a trial boot; using TCG",
					 firmware_bin, how);
				break;
			}
			if (now_ms() >= deadline) {
				snprintf(reason, n,
					 "%s printed nothing under KVM in %d ms (trial boot): using TCG",
					 firmware_bin, ACCEL_TRIAL_MS);
				break;
			}
			proc_wait(&p, now_ms() + 100);
		}
		proc_stop(&p, 1000);
	}
	proc_release(&p);
	argv_release(&a);
	unlink(serial);
	unlink(log);
	rmdir(dir);
	free(serial);
	free(log);
	return ok;
}

const char *accel_choose(const char *qemu, const char *firmware, const char *firmware_bin,
			 const char *cache_path, char *reason, size_t n)
{
	const char *dev = accel_probe_dev_kvm(reason, n);
	if (strcmp(dev, "kvm") || !strcmp(firmware, "seabios"))
		return dev;

	char boot[64];
	host_boot_id(boot, sizeof boot);
	char *key = xasprintf("%s|%s|%s", firmware_bin, qemu, boot);
	json_t *cache = NULL;
	if (cache_path) {
		json_error_t jerr;
		cache = json_load_file(cache_path, 0, &jerr);
	}
	if (!json_is_object(cache)) {
		json_decref(cache);
		cache = json_object();
	}
	json_t *hit = json_object_get(cache, key);
	const char *accel = json_string_value(json_object_get(hit, "accel"));
	const char *why = json_string_value(json_object_get(hit, "reason"));
	if (accel && why && (!strcmp(accel, "kvm") || !strcmp(accel, "tcg"))) {
		snprintf(reason, n, "%s (remembered in %s)", why, cache_path);
		const char *res = !strcmp(accel, "kvm") ? "kvm" : "tcg";
		json_decref(cache);
		free(key);
		return res;
	}
	const char *res = kvm_trial(qemu, firmware_bin, reason, n) ? "kvm" : "tcg";
	if (cache_path) {
		char when[32];
		utc_iso8601(when);
		json_object_set_new(cache, key, json_pack("{s:s, s:s, s:s}", "accel", res, "reason",
							  reason, "probed_at", when));
		char *text = json_dumps(cache, JSON_INDENT(2) | JSON_SORT_KEYS);
		struct hil_err err;
		if (text)
			write_file_atomic(cache_path, text, strlen(text), &err);
		free(text);
	}
	json_decref(cache);
	free(key);
	return res;
}
