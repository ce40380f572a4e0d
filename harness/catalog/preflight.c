/* preflight: see preflight.h. */
#include "preflight.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *sysfs_root(void)
{
	const char *r = getenv("HILRUN_SYSFS");
	return r && *r ? r : "/sys";
}

/* Read a sysfs attribute holding one hex number ("0x10de"). */
static int read_hex(const char *path, unsigned *out)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int ok = fscanf(f, "%x", out) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* The last path component of a symlink's target ("vfio-pci"), or NULL. */
static char *link_name(const char *path)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	const char *slash = strrchr(buf, '/');
	return xstrdup(slash ? slash + 1 : buf);
}

int preflight_vfio(const struct card *card, const char *host, const char *capture,
		   struct hil_err *err)
{
	char *dev = xasprintf("%s/bus/pci/devices/%s", sysfs_root(), host);
	char *p = NULL, *driver = NULL, *group = NULL;
	int rc = PREFLIGHT_LAB;
	if (access(dev, F_OK) < 0) {
		hil_seterr(err, "preflight: no PCI device %s on this host (%s: %s)", host, dev,
			   strerror(errno));
		goto out;
	}
	unsigned vendor, device;
	p = xasprintf("%s/vendor", dev);
	int bad = read_hex(p, &vendor) < 0;
	free(p);
	p = xasprintf("%s/device", dev);
	bad |= read_hex(p, &device) < 0;
	if (bad) {
		hil_seterr(err, "preflight: cannot read the PCI ids of %s (%s)", host, dev);
		goto out;
	}
	if (vendor != card->vendor || device != card->device) {
		char have[PCI_ID_MAX], want[PCI_ID_MAX];
		hil_seterr(err, "preflight: %s is PCI device %s, card %s is %s (wrong --host or station?)",
			   host, pci_id(vendor, device, have), card->id,
			   pci_id(card->vendor, card->device, want));
		rc = PREFLIGHT_CONFIG;
		goto out;
	}
	free(p);
	p = xasprintf("%s/driver", dev);
	driver = link_name(p);
	if (!driver || strcmp(driver, "vfio-pci")) {
		if (driver)
			hil_seterr(err, "preflight: %s is bound to %s, not vfio-pci (bind it: driverctl set-override %s vfio-pci)",
				   host, driver, host);
		else
			hil_seterr(err, "preflight: %s is bound to no driver, not vfio-pci (bind it: driverctl set-override %s vfio-pci)",
				   host, host);
		goto out;
	}
	free(p);
	p = xasprintf("%s/iommu_group", dev);
	group = link_name(p);
	if (!group) {
		hil_seterr(err, "preflight: %s has no IOMMU group (is the IOMMU on? intel_iommu=on / amd_iommu=on)",
			   host);
		goto out;
	}
	if (!capture || !*capture) {
		hil_seterr(err, "preflight: card %s needs a capture endpoint for its output (--capture HOST:PORT or 'capture' in its station)",
			   card->id);
		rc = PREFLIGHT_CONFIG;
		goto out;
	}
	rc = 0;
out:
	free(p);
	free(driver);
	free(group);
	free(dev);
	return rc;
}
