/* accel: see accel.h. */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

/* The trial: firmware_bin under accel with nothing to boot, or booting a
 * guest (extra: its QEMU options, NULL-terminated) whose console must say
 * needle (NULL: anything) to count as running; *took_ms how long it took
 * to decide. */
static enum accel_trial trial(const char *qemu, const char *firmware_bin, const char *accel,
			      const char *const *extra, int memory_mb, const char *needle,
			      int window_ms, int64_t *took_ms, char *reason, size_t n)
{
	struct hil_err err;
	*took_ms = 0;
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
	argv_pushf(&a, "%d", memory_mb);
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
				snprintf(reason, n, "%s stopped under %s %s (\"KVM internal error\", after %lld ms)",
					 firmware_bin, accel,
					 extra ? "in a trial boot of the guest" : "with no card and nothing to boot",
					 (long long)(now_ms() - t0));
				res = TRIAL_STOPPED;
				break;
			}
			if (said) {
				snprintf(reason, n, "%s ran under %s in a trial boot (console after %lld ms)",
					 firmware_bin, accel, (long long)(now_ms() - t0));
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
				snprintf(reason, n, "%s printed %s under %s in %d ms (trial boot)",
					 firmware_bin, needle ? "no sign of the guest" : "nothing", accel,
					 window_ms);
				res = TRIAL_SILENT;
				break;
			}
			/* Timed trials compare a few hundred ms: look often. */
			proc_wait(&p, now_ms() + (needle ? 10 : 100));
		}
		*took_ms = now_ms() - t0;
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
	int64_t took;
	return trial(qemu, firmware_bin, accel, NULL, 256, NULL, window_ms, &took, reason, n);
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

int accel_host_stops(const char *qemu, const char *firmware_bin, const char *accel,
		     const char *cache_path, int window_ms, char *reason, size_t n)
{
	if (!accel || strcmp(accel, "kvm"))
		return 0; /* only KVM stops a VM with an internal error */
	json_t *cache = cache_load(cache_path);
	char *key = cache_key("stops|", firmware_bin, qemu);
	json_t *hit = json_object_get(cache, key);
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

/* Held while the cache is read, trials run and the answer is stored: cells
 * run side by side (hilrun -j) wait for one trial rather than each run
 * their own, and trials never time each other. -1 if it cannot be had
 * (then each goes ahead alone). */
static int cache_lock(const char *cache_path)
{
	if (!cache_path)
		return -1;
	char *path = xasprintf("%s.lock", cache_path);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(path);
	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void seconds(char *buf, size_t n, int64_t ms)
{
	snprintf(buf, n, "%.2f s", ms / 1000.0);
}

const char *accel_choose_timed(const struct accel_timed *t, const char *cache_path, char *reason,
			       size_t n)
{
	const char *dev = accel_probe_dev_kvm(reason, n);
	if (strcmp(dev, "kvm"))
		return dev;
	int lock = cache_lock(cache_path);
	char *prefix = xasprintf("timed|%s|", t->guest);
	char *key = cache_key(prefix, t->firmware_bin, t->qemu);
	free(prefix);
	json_t *cache = cache_load(cache_path);
	json_t *hit = json_object_get(cache, key);
	const char *known = json_string_value(json_object_get(hit, "accel"));
	const char *why = json_string_value(json_object_get(hit, "reason"));
	const char *res;
	if (known && why && (!strcmp(known, "kvm") || !strcmp(known, "tcg"))) {
		snprintf(reason, n, "%s (remembered in %s)", why, cache_path);
		res = !strcmp(known, "kvm") ? "kvm" : "tcg";
	} else {
		/* TCG first: it runs on any host, and its time bounds KVM's
		 * trial (KVM still silent by then is the slower, or stuck). */
		char tcg_words[512], kvm_words[512], tcg_s[32], kvm_s[32];
		int64_t tcg_ms, kvm_ms;
		enum accel_trial tt = trial(t->qemu, t->firmware_bin, "tcg", t->boot, t->memory_mb,
					    t->needle, ACCEL_TIMED_MS, &tcg_ms, tcg_words,
					    sizeof tcg_words);
		const int tcg_ran = tt == TRIAL_RAN;
		enum accel_trial kt = trial(t->qemu, t->firmware_bin, "kvm", t->boot, t->memory_mb,
					    t->needle, tcg_ran ? (int)tcg_ms : ACCEL_TIMED_MS, &kvm_ms,
					    kvm_words, sizeof kvm_words);
		seconds(tcg_s, sizeof tcg_s, tcg_ms);
		seconds(kvm_s, sizeof kvm_s, kvm_ms);
		const char *lead = "timed trial boots of the guest";
		if (kt == TRIAL_RAN) {
			res = "kvm";
			if (tcg_ran)
				snprintf(reason, n, "%s %s on %s to its hello: kvm %s, tcg %s: kvm is faster",
					 lead, t->guest, t->firmware_bin, kvm_s, tcg_s);
			else
				snprintf(reason, n, "%s %s on %s to its hello: kvm %s; tcg did not get there (%s)",
					 lead, t->guest, t->firmware_bin, kvm_s, tcg_words);
		} else if (tcg_ran) {
			res = "tcg";
			if (kt == TRIAL_SILENT)
				snprintf(reason, n, "%s %s on %s to its hello: tcg %s, kvm not there by then: "
					 "tcg is faster", lead, t->guest, t->firmware_bin, tcg_s);
			else
				snprintf(reason, n, "%s %s on %s to its hello: tcg %s; kvm: %s", lead, t->guest,
					 t->firmware_bin, tcg_s, kvm_words);
		} else {
			/* Neither: the cell will say why; KVM is what /dev/kvm offers. */
			res = "kvm";
			snprintf(reason, n, "%s %s on %s reached its hello under neither accelerator "
				 "(tcg: %s; kvm: %s): using KVM", lead, t->guest, t->firmware_bin,
				 tcg_words, kvm_words);
		}
		/* Kept only if something ran: a guest image not built yet, say,
		 * teaches nothing about this host. */
		if (tcg_ran || kt == TRIAL_RAN) {
			char when[32];
			utc_iso8601(when);
			json_object_set_new(cache, key,
					    json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "accel", res,
						      "reason", reason, "tcg", accel_trial_names[tt],
						      "kvm", accel_trial_names[kt], "tcg_ms",
						      (json_int_t)tcg_ms, "kvm_ms", (json_int_t)kvm_ms,
						      "probed_at", when));
			cache_store(cache_path, cache);
		}
	}
	json_decref(cache);
	free(key);
	if (lock >= 0)
		close(lock);
	return res;
}
