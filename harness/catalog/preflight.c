/* preflight: see preflight.h. */
#include "preflight.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char *root(const char *env, const char *dflt)
{
	const char *r = getenv(env);
	return r && *r ? r : dflt;
}
#define SYSFS() root("HILRUN_SYSFS", "/sys")
#define PROC() root("HILRUN_PROC", "/proc")
#define BOOT() root("HILRUN_BOOT", "/boot")
#define DEV_VFIO() root("HILRUN_DEV_VFIO", "/dev/vfio")

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

/* The first line of a small file, without its newline; NULL if unreadable. */
static char *read_line(const char *path)
{
	struct hil_err err;
	char *text = read_file(path, 64 * 1024, NULL, &err);
	if (text)
		text[strcspn(text, "\n")] = '\0';
	return text;
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

char *pci_dev_path(const char *bdf, const char *name)
{
	return xasprintf("%s/bus/pci/devices/%s%s%s", SYSFS(), bdf, name ? "/" : "", name ? name : "");
}

static char *dev_link(const char *bdf, const char *name)
{
	char *p = pci_dev_path(bdf, name);
	char *l = link_name(p);
	free(p);
	return l;
}

int pci_dev_hex(const char *bdf, const char *name, unsigned *out)
{
	char *p = pci_dev_path(bdf, name);
	int rc = read_hex(p, out);
	free(p);
	return rc;
}

/* "10de:06e4" of a device, or "?" when unreadable. */
static void dev_ids(const char *bdf, char out[PCI_ID_MAX])
{
	unsigned v, d;
	if (pci_dev_hex(bdf, "vendor", &v) < 0 || pci_dev_hex(bdf, "device", &d) < 0)
		snprintf(out, PCI_ID_MAX, "?");
	else
		pci_id(v, d, out);
}

static int fail(struct preflight_result *r, int code, const char *brief, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct preflight_result *r, int code, const char *brief, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
	/* (a table cell: cut to fit) */
	size_t n = strnlen(brief, sizeof r->brief - 1);
	memcpy(r->brief, brief, n);
	r->brief[n] = '\0';
	return r->code = code;
}

static int pass(struct preflight_result *r, const char *brief)
{
	r->msg[0] = '\0';
	return fail(r, 0, brief, "%s", "");
}

/* ---- the device --------------------------------------------------------- */

/* Returns 1 when the device is there and carries the card's ids (the other
 * device checks can run), whatever its driver. */
static int check_device(const struct preflight_target *t, struct preflight_result *r)
{
	char *dev = pci_dev_path(t->host, NULL);
	int present = 0;
	unsigned vendor, device;
	if (access(dev, F_OK) < 0) {
		fail(r, PREFLIGHT_LAB, "absent", "preflight: no PCI device %s on this host (%s: %s)",
		     t->host, dev, strerror(errno));
	} else if (pci_dev_hex(t->host, "vendor", &vendor) < 0 || pci_dev_hex(t->host, "device", &device) < 0) {
		fail(r, PREFLIGHT_LAB, "unreadable", "preflight: cannot read the PCI ids of %s (%s)", t->host, dev);
	} else if (vendor != t->card->vendor || device != t->card->device) {
		char have[PCI_ID_MAX], want[PCI_ID_MAX];
		fail(r, PREFLIGHT_CONFIG, pci_id(vendor, device, have),
		     "preflight: %s is PCI device %s, card %s is %s (wrong --host or station?)", t->host,
		     have, t->card->id, pci_id(t->card->vendor, t->card->device, want));
	} else {
		present = 1;
		char *driver = dev_link(t->host, "driver");
		if (driver && !strcmp(driver, "vfio-pci"))
			pass(r, "ok");
		else if (driver)
			fail(r, PREFLIGHT_LAB, driver,
			     "preflight: %s is bound to %s, not vfio-pci (bind it: driverctl set-override %s vfio-pci)",
			     t->host, driver, t->host);
		else
			fail(r, PREFLIGHT_LAB, "no driver",
			     "preflight: %s is bound to no driver, not vfio-pci (bind it: driverctl set-override %s vfio-pci)",
			     t->host, t->host);
		free(driver);
	}
	free(dev);
	return present;
}

/* ---- the IOMMU ---------------------------------------------------------- */

/* A word of the kernel command line that turns the IOMMU on, or NULL. */
static const char *cmdline_iommu_on(const char *cmdline)
{
	static const char *const on[] = { "intel_iommu=on", "amd_iommu=on", "amd_iommu=force_isolation" };
	char *copy = xstrdup(cmdline), *save = NULL;
	const char *found = NULL;
	for (char *w = strtok_r(copy, " \t\n", &save); w && !found; w = strtok_r(NULL, " \t\n", &save))
		for (size_t i = 0; i < sizeof on / sizeof *on; i++)
			if (!strcmp(w, on[i]))
				found = on[i];
	free(copy);
	return found;
}

static void check_iommu(struct preflight_result *r)
{
	/* Each IOMMU the kernel drives registers in class iommu (dmar0,
	 * ivhd0, ...): none means no device has a group. */
	char *cls = xasprintf("%s/class/iommu", SYSFS());
	DIR *d = opendir(cls);
	int units = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			units++;
	if (d)
		closedir(d);
	if (units) {
		pass(r, "ok");
		free(cls);
		return;
	}
	char *cl_path = xasprintf("%s/cmdline", PROC());
	char *cmdline = read_line(cl_path);
	const char *asked = cmdline ? cmdline_iommu_on(cmdline) : NULL;
	int pt = cmdline && strstr(cmdline, "iommu=pt");
	if (asked)
		fail(r, PREFLIGHT_LAB, "off",
		     "preflight: the IOMMU is off (nothing in %s) though the kernel command line has %s: turn on VT-d (Intel) or AMD-Vi/IOMMU in the firmware setup",
		     cls, asked);
	else
		fail(r, PREFLIGHT_LAB, "off",
		     "preflight: the IOMMU is off (nothing in %s, and %s has no intel_iommu=on or amd_iommu=on%s): add intel_iommu=on (Intel) or amd_iommu=on (AMD) to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub, then update-grub), turn on VT-d/AMD-Vi in the firmware setup, and reboot",
		     cls, cl_path, pt ? "; iommu=pt only sets the mode of an IOMMU that is on" : "");
	free(cmdline);
	free(cl_path);
	free(cls);
}

/* ---- the IOMMU group ---------------------------------------------------- */

/* Why a device in the card's group keeps the group from being viable, or
 * NULL: it is bound to vfio-pci or pci-stub, has no driver, or is a PCI
 * bridge (class 0x0604xx; pcieport drives it without DMA of its own). */
static char *group_offender(const char *bdf)
{
	char *driver = dev_link(bdf, "driver");
	unsigned cls = 0;
	int bridge = pci_dev_hex(bdf, "class", &cls) == 0 && (cls >> 8) == 0x0604;
	char *why = NULL;
	if (driver && strcmp(driver, "vfio-pci") && strcmp(driver, "pci-stub") && !bridge) {
		char ids[PCI_ID_MAX];
		dev_ids(bdf, ids);
		why = xasprintf("%s (%s) is bound to %s", bdf, ids, driver);
	}
	free(driver);
	return why;
}

/* Returns the group's number in group (caller frees) when there is one. */
static void check_group(const struct preflight_target *t, int iommu_on, char **group,
			struct preflight_result *r)
{
	*group = dev_link(t->host, "iommu_group");
	if (!*group) {
		fail(r, PREFLIGHT_LAB, "no group",
		     "preflight: %s has no IOMMU group (%s)", t->host,
		     iommu_on ? "is the IOMMU on? intel_iommu=on / amd_iommu=on"
			      : "the IOMMU is off: see the iommu check");
		return;
	}
	char *dir = xasprintf("%s/kernel/iommu_groups/%s/devices", SYSFS(), *group);
	DIR *d = opendir(dir);
	if (!d) {
		fail(r, PREFLIGHT_LAB, "unreadable", "preflight: cannot list IOMMU group %s (%s: %s)", *group,
		     dir, strerror(errno));
		free(dir);
		return;
	}
	struct strbuf bad = STRBUF_INIT;
	const char *first = NULL;
	struct dirent *e;
	int n = 0;
	char *first_copy = NULL;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, t->host))
			continue;
		char *why = group_offender(e->d_name);
		if (why) {
			sb_addf(&bad, "%s%s", n++ ? "; " : "", why);
			if (!first)
				first = first_copy = xstrdup(e->d_name);
			free(why);
		}
	}
	closedir(d);
	if (!n)
		pass(r, "ok");
	else
		fail(r, PREFLIGHT_LAB, "not viable",
		     "preflight: IOMMU group %s of %s is not viable: %s; every other device in it must be bound to vfio-pci or pci-stub, have no driver, or be a PCIe bridge (bind it: driverctl set-override %s vfio-pci, or move the card to a slot with a group of its own)",
		     *group, t->host, sb_str(&bad), first);
	sb_release(&bad);
	free(first_copy);
	free(dir);
}

/* ---- companion functions ------------------------------------------------ */

static int named(const struct argv *companions, const char *bdf)
{
	for (size_t i = 0; companions && i < companions->n; i++)
		if (!strcmp(companions->v[i], bdf))
			return 1;
	return 0;
}

static void check_companions(const struct preflight_target *t, struct preflight_result *r)
{
	/* A named companion must exist. */
	for (size_t i = 0; t->companions && i < t->companions->n; i++) {
		char *p = pci_dev_path(t->companions->v[i], NULL);
		int there = access(p, F_OK) == 0;
		free(p);
		if (!there) {
			fail(r, PREFLIGHT_CONFIG, "not on host",
			     "preflight: companion %s named in the station is not on this host (a typo, or the card is in another slot?)",
			     t->companions->v[i]);
			return;
		}
	}
	/* Every other function of the card's slot: DDDD:BB:SS.F. */
	char *dir = xasprintf("%s/bus/pci/devices", SYSFS());
	DIR *d = opendir(dir);
	free(dir);
	struct dirent *e;
	int bad = 0, n = 0;
	while (d && (e = readdir(d)) && !bad) {
		if (strncmp(e->d_name, t->host, 10) || !strcmp(e->d_name, t->host) || strlen(e->d_name) != 12)
			continue;
		n++;
		if (named(t->companions, e->d_name))
			continue;
		char *driver = dev_link(e->d_name, "driver");
		if (!driver || strcmp(driver, "vfio-pci")) {
			char ids[PCI_ID_MAX], brief[64];
			dev_ids(e->d_name, ids);
			snprintf(brief, sizeof brief, "%s %s", e->d_name + 10, driver ? "bound" : "unbound");
			fail(r, PREFLIGHT_LAB, brief,
			     "preflight: %s (%s), function %s of the card at %s, is %s%s, not vfio-pci: bind it (driverctl set-override %s vfio-pci) or name it in the station ('companion %s')",
			     e->d_name, ids, e->d_name + 11, t->host, driver ? "bound to " : "bound to no driver",
			     driver ? driver : "", e->d_name, e->d_name);
			bad = 1;
		}
		free(driver);
	}
	if (d)
		closedir(d);
	if (!bad)
		pass(r, n ? "ok" : "none");
}

/* ---- x-vga -------------------------------------------------------------- */

/* The CONFIG_VFIO_PCI_VGA line of a kernel config text (plain or gzip):
 * 1 "=y", 0 not set, -1 the file cannot be read. */
static int config_has_vga(const char *path)
{
	gzFile f = gzopen(path, "rb"); /* reads plain files as they are */
	if (!f)
		return -1;
	char line[512];
	int yes = 0;
	while (!yes && gzgets(f, line, sizeof line))
		yes = !strcmp(line, "CONFIG_VFIO_PCI_VGA=y\n");
	gzclose(f);
	return yes;
}

static void check_xvga(const struct preflight_target *t, struct preflight_result *r)
{
	if (!t->card->x_vga) {
		pass(r, "not needed");
		return;
	}
	/* The running kernel's config: /boot/config-RELEASE, else
	 * /proc/config.gz (CONFIG_IKCONFIG_PROC). */
	char *rel_path = xasprintf("%s/sys/kernel/osrelease", PROC());
	char *release = read_line(rel_path);
	char *boot_cfg = xasprintf("%s/config-%s", BOOT(), release ? release : "?");
	char *proc_cfg = xasprintf("%s/config.gz", PROC());
	const char *cfg = boot_cfg;
	int has = release && access(boot_cfg, R_OK) == 0 ? config_has_vga(boot_cfg) : -1;
	if (has < 0) {
		cfg = proc_cfg;
		has = config_has_vga(proc_cfg);
	}
	char *param = xasprintf("%s/module/vfio_pci/parameters/disable_vga", SYSFS());
	char *module = xasprintf("%s/module/vfio_pci", SYSFS());
	char *disable = NULL;
	if (has < 0) {
		fail(r, PREFLIGHT_LAB, "no kconfig",
		     "preflight: card %s needs x-vga=on, and whether the host kernel (%s) has CONFIG_VFIO_PCI_VGA cannot be told: neither %s nor %s can be read (install the kernel's config file in %s)",
		     t->card->id, release ? release : "release unknown", boot_cfg, proc_cfg, BOOT());
	} else if (!has) {
		fail(r, PREFLIGHT_LAB, "no VGA kconfig",
		     "preflight: card %s needs x-vga=on, and the host kernel (%s) is built without CONFIG_VFIO_PCI_VGA (%s): QEMU would stop with 'vfio: Device does not support requested feature x-vga'; boot a kernel built with it (Debian's, Fedora's and Ubuntu's are)",
		     t->card->id, release ? release : "release unknown", cfg);
	} else if (!(disable = read_line(param))) {
		if (access(module, F_OK) < 0)
			fail(r, PREFLIGHT_LAB, "no vfio-pci",
			     "preflight: vfio-pci is not loaded (no %s): modprobe vfio-pci", module);
		else
			fail(r, PREFLIGHT_LAB, "no disable_vga",
			     "preflight: the loaded vfio-pci has no disable_vga parameter (%s), so it was built without VGA support: x-vga=on cannot work; load the vfio-pci of a kernel built with CONFIG_VFIO_PCI_VGA",
			     param);
	} else if (strcmp(disable, "N")) {
		fail(r, PREFLIGHT_LAB, "disable_vga",
		     "preflight: vfio-pci is loaded with disable_vga=%s (%s): x-vga=on cannot work; put 'options vfio-pci disable_vga=0' in /etc/modprobe.d/vfio.conf, update the initramfs (update-initramfs -u) and reboot (or reload vfio-pci)",
		     disable, param);
	} else {
		pass(r, "ok");
	}
	free(disable);
	free(module);
	free(param);
	free(proc_cfg);
	free(boot_cfg);
	free(release);
	free(rel_path);
}

/* ---- boot VGA ----------------------------------------------------------- */

static void check_boot_vga(const struct preflight_target *t, struct preflight_result *r)
{
	/* Only VGA-class devices have boot_vga; "1" on the device the
	 * firmware initialised and the host console drew on. */
	char *p = pci_dev_path(t->host, "boot_vga");
	char *v = read_line(p);
	if (v && !strcmp(v, "1"))
		fail(r, PREFLIGHT_LAB, "boot VGA",
		     "preflight: %s is the host's boot VGA (%s is 1): the host's firmware and console use it, and its ROM is the shadowed copy the host's BIOS ran; make another card (or the onboard graphics) the primary display in the firmware setup, or move this card to another slot",
		     t->host, p);
	else
		pass(r, "ok");
	free(v);
	free(p);
}

/* ---- /dev/vfio/GROUP ---------------------------------------------------- */

static void check_vfio_dev(const char *group, struct preflight_result *r)
{
	char *path = xasprintf("%s/%s", DEV_VFIO(), group);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		pass(r, "ok");
		free(path);
		return;
	}
	int e = errno;
	struct stat st;
	if (e == EACCES && stat(path, &st) == 0) {
		struct passwd *me = getpwuid(geteuid());
		char user[64], owner[64], grp[64];
		snprintf(user, sizeof user, "%s", me ? me->pw_name : "this user");
		struct passwd *o = getpwuid(st.st_uid);
		if (o)
			snprintf(owner, sizeof owner, "%s", o->pw_name);
		else
			snprintf(owner, sizeof owner, "%u", (unsigned)st.st_uid);
		struct group *g = getgrgid(st.st_gid);
		if (g)
			snprintf(grp, sizeof grp, "%s", g->gr_name);
		else
			snprintf(grp, sizeof grp, "%u", (unsigned)st.st_gid);
		if (st.st_mode & S_IRGRP && st.st_mode & S_IWGRP)
			fail(r, PREFLIGHT_LAB, "EACCES",
			     "preflight: %s (uid %u) cannot open %s: it is %s:%s, mode %04o: add the user to group %s (usermod -aG %s %s, then log in again)",
			     user, (unsigned)geteuid(), path, owner, grp, (unsigned)(st.st_mode & 07777), grp,
			     grp, user);
		else
			fail(r, PREFLIGHT_LAB, "EACCES",
			     "preflight: %s (uid %u) cannot open %s: it is %s:%s, mode %04o, closed to the group: have udev give it to the lab's group (SUBSYSTEM==\"vfio\", GROUP=\"kvm\", MODE=\"0660\" in /etc/udev/rules.d/) and add the user to it, or run hilrun as %s",
			     user, (unsigned)geteuid(), path, owner, grp, (unsigned)(st.st_mode & 07777), owner);
	} else if (e == ENOENT) {
		fail(r, PREFLIGHT_LAB, "ENOENT",
		     "preflight: no %s: vfio-pci does not hold IOMMU group %s (bind the card to vfio-pci) or the vfio modules are not loaded (modprobe vfio-pci)",
		     path, group);
	} else if (e == EBUSY) {
		fail(r, PREFLIGHT_LAB, "EBUSY",
		     "preflight: %s is busy: another process (a QEMU still running?) holds IOMMU group %s",
		     path, group);
	} else {
		fail(r, PREFLIGHT_LAB, "error", "preflight: cannot open %s: %s", path, strerror(e));
	}
	free(path);
}

/* ---- memlock ------------------------------------------------------------ */

int preflight_memlock(uint64_t limit, int cap_ipc_lock, int memory_mb, struct preflight_result *r)
{
	uint64_t need_mb = (uint64_t)memory_mb + PREFLIGHT_MEMLOCK_MARGIN_MB;
	if (cap_ipc_lock)
		return pass(r, "CAP_IPC_LOCK");
	if (limit == (uint64_t)RLIM_INFINITY)
		return pass(r, "unlimited");
	if (limit >= need_mb << 20) {
		char brief[64];
		snprintf(brief, sizeof brief, "%llu MiB", (unsigned long long)(limit >> 20));
		return pass(r, brief);
	}
	char brief[64];
	snprintf(brief, sizeof brief, "%llu<%llu MiB", (unsigned long long)(limit >> 20),
		 (unsigned long long)need_mb);
	return fail(r, PREFLIGHT_LAB, brief,
		    "preflight: the memlock limit is %llu KiB, and vfio pins all %d MiB of the guest's RAM plus up to %d MiB QEMU maps besides: at least %llu MiB are needed; raise it for the lab's user ('@kvm - memlock unlimited' in /etc/security/limits.conf, LimitMEMLOCK=infinity in a systemd unit, or ulimit -l unlimited as root in the shell that starts hilrun)",
		    (unsigned long long)(limit >> 10), memory_mb, PREFLIGHT_MEMLOCK_MARGIN_MB,
		    (unsigned long long)need_mb);
}

/* CAP_IPC_LOCK (14) in this process's effective set: it may lock memory
 * past RLIMIT_MEMLOCK, and so may the QEMU it starts (root's does). */
static int have_cap_ipc_lock(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long eff = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	return (eff >> 14) & 1;
}

static void check_memlock(const struct preflight_target *t, struct preflight_result *r)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0) {
		fail(r, PREFLIGHT_LAB, "error", "preflight: getrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));
		return;
	}
	preflight_memlock(rl.rlim_cur, have_cap_ipc_lock(), t->memory_mb, r);
}

/* ---- all ---------------------------------------------------------------- */

static void skip(struct preflight_result *r, const char *why)
{
	r->code = PREFLIGHT_SKIP;
	snprintf(r->brief, sizeof r->brief, "-");
	snprintf(r->msg, sizeof r->msg, "not checked: %s", why);
}

const char *preflight_check_name(enum preflight_check c)
{
	static const char *const names[PF_NCHECKS] = {
		"device", "iommu", "group", "companions", "x-vga", "boot-vga", "vfio-dev", "memlock", "endpoint",
	};
	return c < PF_NCHECKS ? names[c] : "?";
}

int preflight_all(const struct preflight_target *t, struct preflight_result res[PF_NCHECKS])
{
	memset(res, 0, sizeof *res * PF_NCHECKS);
	int card_there = check_device(t, &res[PF_DEVICE]);
	check_iommu(&res[PF_IOMMU]);
	char *group = NULL;
	if (card_there) {
		check_group(t, res[PF_IOMMU].code == 0, &group, &res[PF_GROUP]);
		check_companions(t, &res[PF_COMPANIONS]);
		check_boot_vga(t, &res[PF_BOOT_VGA]);
		if (group)
			check_vfio_dev(group, &res[PF_VFIO_DEV]);
		else
			skip(&res[PF_VFIO_DEV], "the card has no IOMMU group");
	} else {
		const char *why = "the card is not at its address";
		skip(&res[PF_GROUP], why);
		skip(&res[PF_COMPANIONS], why);
		skip(&res[PF_BOOT_VGA], why);
		skip(&res[PF_VFIO_DEV], why);
	}
	free(group);
	check_xvga(t, &res[PF_XVGA]);
	check_memlock(t, &res[PF_MEMLOCK]);
	if (t->capture && *t->capture)
		pass(&res[PF_ENDPOINT], "ok");
	else
		fail(&res[PF_ENDPOINT], PREFLIGHT_CONFIG, "none named",
		     "preflight: card %s needs a capture endpoint for its output (--capture ENDPOINT or 'capture' in its station)",
		     t->card->id);
	int worst = 0;
	for (int i = 0; i < PF_NCHECKS; i++)
		if (res[i].code == PREFLIGHT_CONFIG || (res[i].code == PREFLIGHT_LAB && worst == 0))
			worst = res[i].code;
	return worst;
}

int preflight_vfio(const struct preflight_target *t, struct hil_err *err)
{
	struct preflight_result *res = xcalloc(PF_NCHECKS, sizeof *res);
	preflight_all(t, res);
	int rc = 0;
	for (int i = 0; i < PF_NCHECKS && !rc; i++) {
		if (res[i].code < 0) {
			rc = res[i].code;
			hil_seterr(err, "%s", res[i].msg);
		}
	}
	free(res);
	return rc;
}
