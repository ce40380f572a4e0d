/* accel: choose the accelerator for an emulated card's cells by
 * measuring, once per boot of the host, and remember it.
 *
 * KVM is not always the faster: under this lab's nested KVM a SeaBIOS
 * boot to the bios-post guest's hello takes ~2 s and under TCG ~0.1 s
 * (every VGA access leaves two hypervisors), OVMF stops at once with "KVM
 * internal error", and Debian's kernel stops after its real-mode setup.
 * So each guest on each firmware gets two timed trial boots (TCG, then KVM
 * for at most TCG's time), from QEMU's start to the guest's hello on its
 * console, and its cells run under the faster. The answer is kept in a
 * small JSON cache (keyed by guest, firmware image, QEMU binary and boot
 * id; trials hold its lock, so cells run side by side wait for one trial
 * and never time each other). An accelerator problem is never a card's
 * failure: the run record says which accelerator ran and why.
 *
 * Ownership: plain data; the cache file is rewritten atomically. */
#ifndef HIL_ACCEL_H
#define HIL_ACCEL_H

#include <stddef.h>

/* How long a timed trial may take to reach the guest's hello. */
#define ACCEL_TIMED_MS 60000

/* What a timed trial boots: the cell's guest (boot: its QEMU options,
 * NULL-terminated) on its firmware, with the std VGA, until its console
 * says needle. */
struct accel_timed {
	const char *qemu, *firmware_bin;
	const char *guest;              /* its id: the cache key and the reason */
	const char *const *boot;
	int memory_mb;
	const char *needle;
};

/* "kvm" or "tcg" for the guest's cells: the faster in the timed trials
 * (TCG without asking when /dev/kvm does not answer). cache_path may be
 * NULL (try every time). reason gets a sentence for the record, with both
 * times and whether the answer came from the cache. */
const char *accel_choose_timed(const struct accel_timed *t, const char *cache_path, char *reason,
			       size_t n);

/* /dev/kvm alone: "kvm" if it opens and answers API version 12. */
const char *accel_probe_dev_kvm(char *reason, size_t n);

/* A trial boot of a firmware image under an accelerator, with no card and
 * nothing to boot: it printed on its console (ran), KVM stopped it with an
 * internal error (stopped), QEMU exited, it stayed silent for window_ms,
 * or the trial itself failed. reason gets a sentence. */
enum accel_trial { TRIAL_RAN, TRIAL_STOPPED, TRIAL_EXITED, TRIAL_SILENT, TRIAL_ERROR };
extern const char *const accel_trial_names[];
enum accel_trial accel_trial(const char *qemu, const char *firmware_bin, const char *accel,
			     int window_ms, char *reason, size_t n);

/* A run's VM stopped with an internal error under accel: does the same
 * firmware stop under it with no card at all (the host's fault, not the
 * card's)? Answered from the cache (an earlier answer on this boot), else
 * by a trial of window_ms, which is remembered.
 * 1 yes (reason says so), 0 no or not known. */
int accel_host_stops(const char *qemu, const char *firmware_bin, const char *accel,
		     const char *cache_path, int window_ms, char *reason, size_t n);

#endif
