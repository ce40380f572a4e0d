/* watchdog: see watchdog.h. */
#include "watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int watchdog_open(const char *dev, struct hil_err *err)
{
	int fd = open(dev, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		hil_seterr(err, "--watchdog %s: %s", dev, strerror(errno));
		return -1;
	}
	watchdog_pet(fd);
	return fd;
}

void watchdog_pet(int fd)
{
	static int64_t last;
	if (fd <= 0 || now_ms() - last < WATCHDOG_PET_MS)
		return;
	last = now_ms();
	/* Any byte but 'V' (the magic close) keeps a Linux watchdog from
	 * firing; a failed write is not worth stopping a run for. */
	if (write(fd, "1", 1) < 0) {
	}
}

int watchdog_close(int fd, struct hil_err *err)
{
	if (fd < 0)
		return 0;
	int rc = 0;
	if (write(fd, "V", 1) < 0) {
		hil_seterr(err, "watchdog: magic close: %s", strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}
