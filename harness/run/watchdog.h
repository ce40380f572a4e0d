/* watchdog: a hardware watchdog (/dev/watchdog, --watchdog DEV) petted
 * while hilrun is healthy. If the host hangs (the founding report's
 * Catalyst install hung it), or hilrun does, it is no longer petted and
 * reboots the host; the journal then tells the next hilrun what happened.
 * Ending on purpose writes the magic close ('V') so that it does not.
 *
 * Ownership: the caller keeps the descriptor watchdog_open returns and
 * gives it back to watchdog_close. */
#ifndef HIL_WATCHDOG_H
#define HIL_WATCHDOG_H

#include "util.h"

/* How often it is petted, at most. */
#define WATCHDOG_PET_MS 1000

/* Open and pet it once; -1 with err on failure. */
int watchdog_open(const char *dev, struct hil_err *err);
/* Pet it if WATCHDOG_PET_MS have passed since the last time; no-op for
 * fd <= 0 (0 is taken for none: options are often zero-initialised). */
void watchdog_pet(int fd);
/* The magic close, then close; -1 with err if the magic close failed
 * (the host may then reboot when the watchdog fires). */
int watchdog_close(int fd, struct hil_err *err);

#endif
