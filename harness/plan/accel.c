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

const char *const accel_trial_names[] = { "ran", "stopped", "exited", "silent", "error" };

/* The trial: firmware_bin under accel with nothing to boot, or with a
 * kernel (extra, NULL-terminated, QEMU options) whose console must say
 * needle (NULL: anything) to count as running. */
static enum accel_trial trial(const char *qemu, const char *firmware_bin, const char *accel,
			      const char *const *extra, const char *needle, int window_ms,
			      char *reason, size_t n)
{
	struct hil_err err;
	char dir[] = "/tmp/hilrun-accel-XXXXXX";
	if (!mkdtemp(dir)) {
		snprintf(reason, n, "cannot make a directory for the %s trial: %s", accel,
			 strerror(errno));
		return TRIAL_ERROR;
	}
	char *serial = xasprintf("%s/serial", dir), *log = xasprintf("%s/qemu.log", dir);
	struct argv a = ARGV_INIT;
	argv_push(&a, qemu);
	argv_push(&a, "-nodefaults");
	argv_push(&a, "-no-user-config");
	argv_push(&a, "-machine");
	argv_push(&a, "pc");
	argv_push(&a, "-accel");
	argv_push(&a, accel);
	argv_push(&a, "-m");
	argv_push(&a, extra ? "512" : "256");
	argv_push(&a, "-bios");
	argv_push(&a, firmware_bin);
	argv_push(&a, "-display");
	argv_push(&a, "none");
	argv_push(&a, "-serial");
	argv_pushf(&a, "file:%s", serial);
	for (const char *const *x = extra; x && *x; x++)
		argv_push(&a, *x);
	struct proc p;
	proc_init(&p);
	enum accel_trial res = TRIAL_ERROR;
	const int64_t t0 = now_ms(), deadline = t0 + window_ms;
	if (proc_spawn(&p, &a, log, &err) < 0) {
		snprintf(reason, n, "%s trial: %s", accel, err.msg);
	} else {
		for (;;) {
			size_t len = 0;
			char *out = read_file(log, 1 << 20, &len, &err);
			int stopped = out && strstr(out, "KVM internal error");
			free(out);
			char *ser = read_file(serial, 1 << 20, &len, &err);
			int said = ser && len > 0 && (!needle || strstr(ser, needle));
			free(ser);
			if (stopped) {
				snprintf(reason, n,
					 "%s stopped under %s with no card and nothing to boot (\"KVM "
					 "internal error\", after %lld ms)",
					 firmware_bin, accel, (long long)(now_ms() - t0));
				res = TRIAL_STOPPED;
				break;
			}
			if (said) {
				snprintf(reason, n, "%s%s ran under %s in a trial boot (console after %lld ms)",
					 extra ? "the guest's kernel on " : "", firmware_bin, accel,
					 (long long)(now_ms() - t0));
				res = TRIAL_RAN;
				break;
			}
			if (proc_poll(&p)) {
				char how[128];
				proc_describe(&p, how, sizeof how);
				snprintf(reason, n, "%s under %s: QEMU %s in a trial boot", firmware_bin,
					 accel, how);
				res = TRIAL_EXITED;
				break;
			}
			if (now_ms() >= deadline) {
				snprintf(reason, n, "%s%s printed %s under %s in %d ms (trial boot)",
					 extra ? "the guest's kernel on " : "", firmware_bin,
					 needle ? "no sign of the guest" : "nothing", accel, window_ms);
				res = TRIAL_SILENT;
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
	return res;
}

enum accel_trial accel_trial(const char *qemu, const char *firmware_bin, const char *accel,
			     int window_ms, char *reason, size_t n)
{
	return trial(qemu, firmware_bin, accel, NULL, NULL, window_ms, reason, n);
}

static json_t *cache_load(const char *cache_path)
{
	json_error_t jerr;
	json_t *cache = cache_path ? json_load_file(cache_path, 0, &jerr) : NULL;
	if (!json_is_object(cache)) {
		json_decref(cache);
		cache = json_object();
	}
	return cache;
}

static void cache_store(const char *cache_path, json_t *cache)
{
	if (!cache_path)
		return;
	char *text = json_dumps(cache, JSON_INDENT(2) | JSON_SORT_KEYS);
	struct hil_err err;
	if (text)
		write_file_atomic(cache_path, text, strlen(text), &err);
	free(text);
}

/* The cache's key for a firmware image under a QEMU binary on this boot. */
static char *cache_key(const char *prefix, const char *firmware_bin, const char *qemu)
{
	char boot[64];
	host_boot_id(boot, sizeof boot);
	return xasprintf("%s%s|%s|%s", prefix, firmware_bin, qemu, boot);
}

const char *accel_choose(const char *qemu, const char *firmware, const char *firmware_bin,
			 const char *cache_path, char *reason, size_t n)
{
	const char *dev = accel_probe_dev_kvm(reason, n);
	if (strcmp(dev, "kvm") || !strcmp(firmware, "seabios"))
		return dev;

	char *key = cache_key("", firmware_bin, qemu);
	json_t *cache = cache_load(cache_path);
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
	char words[256];
	enum accel_trial t = accel_trial(qemu, firmware_bin, "kvm", ACCEL_TRIAL_MS, words, sizeof words);
	const char *res = t == TRIAL_RAN ? "kvm" : "tcg";
	snprintf(reason, n, "%s%s", words, t == TRIAL_RAN ? "" : ": using TCG for it");
	char when[32];
	utc_iso8601(when);
	json_object_set_new(cache, key, json_pack("{s:s, s:s, s:s, s:s}", "accel", res, "reason", reason,
						  "trial", accel_trial_names[t], "probed_at", when));
	cache_store(cache_path, cache);
	json_decref(cache);
	free(key);
	return res;
}

int accel_host_stops(const char *qemu, const char *firmware_bin, const char *accel,
		     const char *cache_path, int window_ms, char *reason, size_t n)
{
	if (!accel || strcmp(accel, "kvm"))
		return 0; /* only KVM stops a VM with an internal error */
	json_t *cache = cache_load(cache_path);
	/* accel_choose's own trial of this firmware answers it, if it ran. */
	char *key = cache_key("", firmware_bin, qemu);
	json_t *hit = json_object_get(cache, key);
	free(key);
	const char *trial = json_string_value(json_object_get(hit, "trial"));
	if (trial && (!strcmp(trial, "stopped") || !strcmp(trial, "ran"))) {
		snprintf(reason, n, "%s (remembered in %s)",
			 json_string_value(json_object_get(hit, "reason")) ?: trial, cache_path);
		int stops = !strcmp(trial, "stopped");
		json_decref(cache);
		return stops;
	}
	key = cache_key("stops|", firmware_bin, qemu);
	hit = json_object_get(cache, key);
	if (json_is_boolean(json_object_get(hit, "stops"))) {
		snprintf(reason, n, "%s (remembered in %s)",
			 json_string_value(json_object_get(hit, "reason")) ?: "", cache_path);
		int stops = json_is_true(json_object_get(hit, "stops"));
		json_decref(cache);
		free(key);
		return stops;
	}
	enum accel_trial t = accel_trial(qemu, firmware_bin, accel, window_ms, reason, n);
	if (t != TRIAL_ERROR) {
		char when[32];
		utc_iso8601(when);
		json_object_set_new(cache, key, json_pack("{s:b, s:s, s:s}", "stops", t == TRIAL_STOPPED,
							  "reason", reason, "probed_at", when));
		cache_store(cache_path, cache);
	}
	json_decref(cache);
	free(key);
	return t == TRIAL_STOPPED;
}

const char *accel_choose_kernel(const char *qemu, const char *firmware, const char *firmware_bin,
				const char *kernel, const char *initrd, const char *cache_path,
				char *reason, size_t n)
{
	const char *accel = accel_choose(qemu, firmware, firmware_bin, cache_path, reason, n);
	if (strcmp(accel, "kvm"))
		return accel;
	char *prefix = xasprintf("kernel|%s|", kernel);
	char *full = cache_key(prefix, firmware_bin, qemu);
	free(prefix);
	json_t *cache = cache_load(cache_path);
	json_t *hit = json_object_get(cache, full);
	const char *known = json_string_value(json_object_get(hit, "accel"));
	const char *why = json_string_value(json_object_get(hit, "reason"));
	if (known && why && (!strcmp(known, "kvm") || !strcmp(known, "tcg"))) {
		snprintf(reason, n, "%s (remembered in %s)", why, cache_path);
		const char *res = !strcmp(known, "kvm") ? "kvm" : "tcg";
		json_decref(cache);
		free(full);
		return res;
	}
	char *initrd_opt = xstrdup(initrd);
	const char *const extra[] = { "-kernel", kernel, "-initrd", initrd_opt, "-append",
				      "console=ttyS0,115200 hilrun.trial", NULL };
	char words[512];
	enum accel_trial t = trial(qemu, firmware_bin, "kvm", extra, "HILRUN/1 guest hello",
				   ACCEL_KERNEL_TRIAL_MS, words, sizeof words);
	free(initrd_opt);
	const char *res = t == TRIAL_RAN ? "kvm" : "tcg";
	snprintf(reason, n, "%s%s", words, t == TRIAL_RAN ? "" : ": using TCG for it");
	char when[32];
	utc_iso8601(when);
	json_object_set_new(cache, full, json_pack("{s:s, s:s, s:s, s:s}", "accel", res, "reason", reason,
						   "trial", accel_trial_names[t], "probed_at", when));
	cache_store(cache_path, cache);
	json_decref(cache);
	free(full);
	return res;
}
