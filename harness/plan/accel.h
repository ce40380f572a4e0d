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

/* /dev/kvm alone: "kvm" if it opens and answers API version 12. */
const char *accel_probe_dev_kvm(char *reason, size_t n);

#endif
