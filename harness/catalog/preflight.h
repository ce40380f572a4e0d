/* preflight: check a physical card's station before QEMU is started, so a
 * lab mistake (wrong address, card bound to its vendor driver, no IOMMU
 * group, no capture) is reported as a configuration or lab error with the
 * fix, never as a card failure.
 *
 * The sysfs root is /sys unless $HILRUN_SYSFS names another tree (tests use
 * fixture trees under tests/fixtures/sysfs).
 *
 * Ownership: plain values; nothing is kept. */
#ifndef HIL_PREFLIGHT_H
#define HIL_PREFLIGHT_H

#include "catalog.h"
#include "util.h"

#define PREFLIGHT_LAB (-1)    /* the host is not ready: device absent, wrong driver, no IOMMU */
#define PREFLIGHT_CONFIG (-2) /* the configuration is wrong: ids do not match, no capture */

/* 0 ok, or PREFLIGHT_LAB / PREFLIGHT_CONFIG with err set. */
int preflight_vfio(const struct card *card, const char *host, const char *capture,
		   struct hil_err *err);

#endif
