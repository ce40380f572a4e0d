/* accel: choose the accelerator per firmware, once, and remember it.
 *
 * KVM where it works, TCG where it does not. /dev/kvm answering is not
 * enough: under some nested KVM hosts OVMF stops at once with "KVM internal
 * error" (an instruction the nested hypervisor cannot emulate), while
 * SeaBIOS runs. So a firmware other than SeaBIOS gets a trial boot under
 * KVM (no disk, no display) the first time it is needed on this boot of
 * the host, and the answer is kept in a small JSON cache (keyed by
 * firmware image, QEMU binary and boot id) so that later runs do not pay
 * for it. An accelerator problem is never a card's failure: the run record
 * says which accelerator ran and why.
 *
 * Ownership: plain data; the cache file is rewritten atomically. */
#ifndef HIL_ACCEL_H
#define HIL_ACCEL_H

#include <stddef.h>

/* How long the KVM trial boot may take before its silence counts as a
 * failure. OVMF prints to the serial console within ~2 s under working KVM. */
#define ACCEL_TRIAL_MS 10000

/* "kvm" or "tcg" for a cell of this firmware (firmware_bin: its image).
 * cache_path may be NULL (probe every time). reason gets a sentence for
 * the record, including whether the answer came from the cache. */
const char *accel_choose(const char *qemu, const char *firmware, const char *firmware_bin,
			 const char *cache_path, char *reason, size_t n);

/* An OS guest's kernel may not run where its firmware does (under this
 * lab's nested KVM Debian's kernel stops after its real-mode setup): KVM
 * only if a trial boot of that kernel and initramfs under KVM reaches the
 * guest's agent ("guest hello") within ACCEL_KERNEL_TRIAL_MS. Remembered
 * as accel_choose's answers are. */
#define ACCEL_KERNEL_TRIAL_MS 10000
const char *accel_choose_kernel(const char *qemu, const char *firmware, const char *firmware_bin,
				const char *kernel, const char *initrd, const char *cache_path,
				char *reason, size_t n);

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
 * card's)? Answered from the cache (accel_choose's trial, or an earlier
 * answer on this boot), else by a trial of window_ms, which is remembered.
 * 1 yes (reason says so), 0 no or not known. */
int accel_host_stops(const char *qemu, const char *firmware_bin, const char *accel,
		     const char *cache_path, int window_ms, char *reason, size_t n);

#endif
