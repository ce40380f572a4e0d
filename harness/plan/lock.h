/* lock: one run per card (per station) at a time.
 *
 * OUT/locks/CARD.lock is held with flock() for as long as hilrun runs the
 * card's cells; the kernel drops it when the process ends, however it
 * ends, so a crashed hilrun never leaves a stale lock. The holder writes
 * who it is into the file (pid, start time, command), so that a second
 * hilrun can say who holds the card.
 *
 * Ownership: struct card_lock owns its descriptor; card_unlock closes it. */
#ifndef HIL_LOCK_H
#define HIL_LOCK_H

#include "util.h"

struct card_lock {
	int fd;
};

/* Take the card's lock. wait: block until it is free; else return 1 at
 * once if another process holds it, with holder describing it. 0 taken,
 * -1 on error (err). */
int card_lock(struct card_lock *l, const char *out_dir, const char *card_id, int wait,
	      const char *cmdline, char *holder, size_t n, struct hil_err *err);
void card_unlock(struct card_lock *l);

#endif
