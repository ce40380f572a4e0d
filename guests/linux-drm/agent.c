/* agent: the init (PID 1) of the linux-drm reference guest. It proves, in
 * the order hilrun checks them (docs/report-protocol.md, linux-drm):
 *   post     the firmware's screen, as the kernel left it;
 *   text     its banner on the firmware's console (vgacon in text mode
 *            under SeaBIOS, efifb's framebuffer console under OVMF);
 *   driver   every PCI display device's driver, loaded as udev would
 *            (modalias against the initramfs's modules.alias, blacklisted
 *            fbdev drivers too), what bound, DRM and fbdev state, the
 *            kernel's probe and firmware errors; then the test pattern
 *            through KMS (a dumb buffer, a mode the connector offers), or
 *            through /dev/fb0 for an fbdev-only driver;
 *   console  the framebuffer console the driver brings, showing the
 *            report's summary;
 * holding at each for hilrun's ack on COM1, and ends the VM through
 * isa-debug-exit. Built static against the kernel's uapi headers (no
 * libdrm). Test knobs, on the kernel command line or as an SMBIOS OEM
 * string (-smbios type=11,value=KNOB, which a card's variant can add):
 * hilrun.trial (say hello and power off: the accelerator trial),
 * hilrun.panic=driver (crash the kernel once the drivers are loaded:
 * pvpanic's test). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/fb.h>
#include <linux/kd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/drm_mode.h>

#define HOLD_SECONDS 30
#define EXIT_PORT 0xf4
#define EXIT_CODE 16
#define MAX_DEVICES 16
#define MAX_MODULES 512
#define LINE_MAX_ 512

static int com1 = -1;
static char kver[128];
static char cmdline[1024];

/* ---------------------------------------------------------------------- */
/* COM1: the report protocol                                               */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[LINE_MAX_];
	int n = snprintf(line, sizeof line, "\r\nHILRUN/1 ");
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n - 3, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 3)
		n = (int)sizeof line - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	if (com1 >= 0 && write(com1, line, (size_t)n) < 0) {
	}
}

/* A report value: bare if it can be, else quoted with \" and \\. */
static const char *val(const char *s)
{
	static char buf[4][LINE_MAX_];
	static int k;
	char *b = buf[k++ % 4], *o = b;
	int bare = *s != 0;
	for (const char *p = s; *p; p++)
		bare &= *p > ' ' && *p < 0x7f && *p != '"';
	if (bare)
		return s;
	*o++ = '"';
	for (const char *p = s; *p && o < b + LINE_MAX_ - 4; p++) {
		if (*p == '"' || *p == '\\')
			*o++ = '\\';
		*o++ = *p >= ' ' && *p < 0x7f ? *p : '?';
	}
	*o++ = '"';
	*o = 0;
	return b;
}

static void open_com1(void)
{
	com1 = open("/dev/ttyS0", O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct termios t;
	if (com1 >= 0 && tcgetattr(com1, &t) == 0) {
		cfmakeraw(&t);
		cfsetspeed(&t, B115200);
		tcsetattr(com1, TCSANOW, &t);
	}
}

/* "STAGE hold[ EXTRA]", then wait for hilrun's ack (any byte) or our own
 * timeout. */
static void hold(const char *stage, const char *extra)
{
	if (com1 < 0)
		return;
	tcflush(com1, TCIFLUSH); /* what came before the hold is not its ack */
	say("%s hold%s%s", stage, extra ? " " : "", extra ? extra : "");
	struct pollfd p = { .fd = com1, .events = POLLIN };
	if (poll(&p, 1, HOLD_SECONDS * 1000) == 1) {
		char c;
		if (read(com1, &c, 1) < 0) {
		}
		usleep(50000); /* and whatever came with it */
		tcflush(com1, TCIFLUSH);
	} else {
		say("%s hold-timeout", stage);
	}
}

/* ---------------------------------------------------------------------- */
/* Small file helpers                                                      */

static int read_text(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t got = read(fd, buf, n - 1);
	close(fd);
	if (got < 0)
		return -1;
	buf[got] = 0;
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = 0;
	return 0;
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n + 4096 > cap)
			buf = realloc(buf, cap *= 2);
		ssize_t got = read(fd, buf + n, cap - n - 1);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/* The basename a sysfs link points to ("driver" -> "bochs-drm"), or "". */
static void link_name(const char *path, char *out, size_t n)
{
	char target[512];
	ssize_t got = readlink(path, target, sizeof target - 1);
	out[0] = 0;
	if (got <= 0)
		return;
	target[got] = 0;
	const char *slash = strrchr(target, '/');
	snprintf(out, n, "%.63s", slash ? slash + 1 : target);
}

/* A test knob: a word of the kernel's command line, or an SMBIOS OEM
 * string (type 11: its strings follow the 5-byte header, NUL-separated). */
static int has_arg(const char *arg)
{
	size_t n = strlen(arg);
	for (const char *p = cmdline; (p = strstr(p, arg)); p += n)
		if ((p == cmdline || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0 || p[n] == '\n'))
			return 1;
	char path[64];
	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof path, "/sys/firmware/dmi/entries/11-%d/raw", i);
		size_t len = 0;
		char *raw = slurp(path, &len);
		int found = 0;
		for (size_t at = 5; raw && at < len && !found; at += strlen(raw + at) + 1)
			found = !strcmp(raw + at, arg);
		free(raw);
		if (found)
			return 1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The console (tty0) and its font                                        */

static int tty0 = -1;

/* Text for the screen: clear it, cursor off, then the lines at rows 0, 2, ... */
static void show_lines(const char *const *lines, int n)
{
	if (tty0 < 0)
		return;
	char buf[4096];
	int len = snprintf(buf, sizeof buf, "\033[?25l\033[2J\033[H");
	for (int i = 0; i < n && len < (int)sizeof buf - 200; i++)
		len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s", lines[i],
				i + 1 < n ? "\r\n\r\n" : "");
	if (write(tty0, buf, (size_t)len) < 0) {
	}
}

/* A framebuffer console draws with the kernel's own 8x16 font, which is
 * not a VGA BIOS's: give it hilrun's (/font.bin, SeaBIOS's VGA BIOS
 * font, taken at build time) so that it reads exactly. Not for vgacon:
 * that would replace the card's own font. */
static int console_font(void)
{
	size_t len = 0;
	char *fbs = slurp("/proc/fb", NULL);
	int framebuffer = fbs && *fbs;
	free(fbs);
	char *font = framebuffer ? slurp("/font.bin", &len) : NULL;
	if (tty0 >= 0 && font && len == 256 * 16) {
		static unsigned char data[256 * 32];
		for (int c = 0; c < 256; c++)
			memcpy(data + c * 32, font + c * 16, 16);
		struct console_font_op op = { .op = KD_FONT_OP_SET, .width = 8, .height = 16,
					      .charcount = 256, .data = data };
		int rc = ioctl(tty0, KDFONTOP, &op);
		if (rc < 0)
			say("console font-error errno=%d", -errno);
		free(font);
		return rc == 0;
	}
	free(font);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Modules, the way udev loads them                                        */

struct alias {
	char *pattern, *module;
};
static struct alias *aliases;
static int naliases;
static char *blacklist; /* fbdev-blacklist.conf */

static void read_aliases(void)
{
	char path[256];
	snprintf(path, sizeof path, "/lib/modules/%s/modules.alias", kver);
	char *text = slurp(path, NULL);
	for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
		char pat[256], mod[128];
		if (sscanf(line, "alias %255s %127s", pat, mod) != 2)
			continue;
		aliases = realloc(aliases, (size_t)(naliases + 1) * sizeof *aliases);
		aliases[naliases].pattern = strdup(pat);
		aliases[naliases++].module = strdup(mod);
	}
	free(text);
	blacklist = slurp("/lib/modprobe.d/fbdev-blacklist.conf", NULL);
}

static int blacklisted(const char *module)
{
	char want[160];
	snprintf(want, sizeof want, "blacklist %s\n", module);
	return blacklist && strstr(blacklist, want);
}

/* The path of module (name with - or _) and its dependencies, from
 * modules.dep; deps in load order. Returns how many (0: not found). */
static int module_paths(const char *module, char paths[][256], int max)
{
	char path[256], want[160];
	snprintf(path, sizeof path, "/lib/modules/%s/modules.dep", kver);
	snprintf(want, sizeof want, "%s", module);
	for (char *p = want; *p; p++)
		if (*p == '-')
			*p = '_';
	char *text = slurp(path, NULL);
	int n = 0;
	for (char *line = text ? strtok(text, "\n") : NULL; line && !n; line = strtok(NULL, "\n")) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		const char *base = strrchr(line, '/');
		base = base ? base + 1 : line;
		char name[160];
		snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
		for (char *p = name; *p; p++)
			if (*p == '-')
				*p = '_';
		if (strcmp(name, want))
			continue;
		/* dependencies are listed deepest last: load them in reverse */
		char *deps[64];
		int nd = 0;
		for (char *d = strtok(colon + 1, " "); d && nd < 64; d = strtok(NULL, " "))
			deps[nd++] = d;
		for (int i = nd - 1; i >= 0 && n < max - 1; i--)
			snprintf(paths[n++], 256, "/lib/modules/%s/%s", kver, deps[i]);
		snprintf(paths[n++], 256, "/lib/modules/%s/%s", kver, line);
		break;
	}
	free(text);
	return n;
}

/* Load module and what it needs; 0, or the first -errno that is not
 * "already loaded". */
static int load_module(const char *module)
{
	static char paths[64][256];
	int n = module_paths(module, paths, 64);
	if (!n)
		return -ENOENT;
	int rc = 0;
	for (int i = 0; i < n; i++) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = rc ? rc : -errno;
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			rc = rc ? rc : -errno;
		close(fd);
	}
	return rc;
}

/* Modaliases already handled, so that coldplug ends. */
static char handled[MAX_MODULES][256];
static int nhandled;

static int handled_before(const char *modalias)
{
	for (int i = 0; i < nhandled; i++)
		if (!strcmp(handled[i], modalias))
			return 1;
	if (nhandled < MAX_MODULES)
		snprintf(handled[nhandled++], sizeof handled[0], "%.255s", modalias);
	return 0;
}

/* Every module matching modalias, loaded; reported against dev. */
static int load_for(const char *dev, const char *modalias)
{
	int loaded = 0;
	char done[16][128];
	int ndone = 0;
	for (int i = 0; i < naliases; i++) {
		if (fnmatch(aliases[i].pattern, modalias, 0))
			continue;
		int seen = 0;
		for (int k = 0; k < ndone; k++)
			seen |= !strcmp(done[k], aliases[i].module);
		if (seen || ndone == 16)
			continue;
		snprintf(done[ndone++], sizeof done[0], "%s", aliases[i].module);
		int rc = load_module(aliases[i].module);
		say("driver module dev=%s name=%s blacklisted=%d result=%d", dev, aliases[i].module,
		    blacklisted(aliases[i].module) ? 1 : 0, rc);
		loaded++;
	}
	return loaded;
}

/* Coldplug, as udev does it: every device's modalias, until a pass finds
 * no new one (virtio-gpu's device appears only once virtio-pci is loaded). */
static void coldplug(void)
{
	static const char *const buses[] = { "pci", "virtio" };
	for (int pass = 0, found = 1; found && pass < 8; pass++) {
		found = 0;
		for (size_t b = 0; b < sizeof buses / sizeof *buses; b++) {
			char dir[128];
			snprintf(dir, sizeof dir, "/sys/bus/%s/devices", buses[b]);
			DIR *d = opendir(dir);
			struct dirent *e;
			while (d && (e = readdir(d))) {
				if (e->d_name[0] == '.')
					continue;
				char path[512], modalias[256];
				snprintf(path, sizeof path, "%s/%s/modalias", dir, e->d_name);
				if (read_text(path, modalias, sizeof modalias) < 0 || handled_before(modalias))
					continue;
				found = 1;
				load_for(e->d_name, modalias);
			}
			if (d)
				closedir(d);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* What the kernel said: probe and firmware failures                       */

static void kernel_log(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	char rec[2048];
	ssize_t n;
	while (fd >= 0 && (n = read(fd, rec, sizeof rec - 1)) > 0) {
		rec[n] = 0;
		char *msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		msg[strcspn(msg, "\n")] = 0;
		char a[128], b[128], name[256];
		int err;
		/* 6.1: "DRIVER DEV: probe of DEV failed with error N" */
		const char *p = strstr(msg, "probe of ");
		if (p && sscanf(p, "probe of %127s failed with error %d", a, &err) == 2) {
			char drv[128] = "";
			sscanf(msg, "%127s", drv);
			drv[strcspn(drv, ":")] = 0; /* "vmwgfx: probe of ..." */
			say("driver probe-error dev=%s driver=%s errno=%d", val(a), val(drv), err);
			continue;
		}
		/* later kernels: "DEV: probe with driver D failed with error N" */
		p = strstr(msg, "probe with driver ");
		if (p && sscanf(p, "probe with driver %127s failed with error %d", b, &err) == 2) {
			sscanf(msg, "%127[^:]", a);
			say("driver probe-error dev=%s driver=%s errno=%d", val(a), val(b), err);
			continue;
		}
		p = strstr(msg, "Direct firmware load for ");
		if (p && sscanf(p, "Direct firmware load for %255s failed with error %d", name, &err) == 2) {
			say("driver firmware-missing name=%s errno=%d", val(name), err);
			continue;
		}
	}
	if (fd >= 0)
		close(fd);
	/* Probes the driver core deferred and never resolved. */
	char *deferred = slurp("/sys/kernel/debug/devices_deferred", NULL);
	for (char *line = deferred ? strtok(deferred, "\n") : NULL; line; line = strtok(NULL, "\n")) {
		char dev[128];
		if (sscanf(line, "%127s", dev) == 1)
			say("driver deferred dev=%s", val(dev));
	}
	free(deferred);
}

/* ---------------------------------------------------------------------- */
/* PCI display devices, what bound, DRM and fbdev                         */

struct display {
	char bdf[32];   /* 0000:00:02.0 */
	char id[16];    /* 1234:1111 */
	char driver[64];
};
static struct display devices[MAX_DEVICES];
static int ndevices;

static void find_displays(void)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	while (d && (e = readdir(d)) && ndevices < MAX_DEVICES) {
		char path[512], cls[32], ven[32], dev[32];
		snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/class", e->d_name);
		if (read_text(path, cls, sizeof cls) < 0 || strncmp(cls, "0x03", 4))
			continue;
		struct display *x = &devices[ndevices++];
		snprintf(x->bdf, sizeof x->bdf, "%.31s", e->d_name);
		snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/vendor", e->d_name);
		read_text(path, ven, sizeof ven);
		snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/device", e->d_name);
		read_text(path, dev, sizeof dev);
		snprintf(x->id, sizeof x->id, "%.4s:%.4s", ven + 2, dev + 2);
		say("pci display bdf=%s id=%s class=%s", x->bdf + 5, x->id, cls + 2);
	}
	if (d)
		closedir(d);
}

/* Which display a DRM card belongs to: its device link, or its parent's
 * (virtio-gpu's card hangs off the virtio device). */
static struct display *card_display(const char *card)
{
	char path[256], target[1024];
	snprintf(path, sizeof path, "/sys/class/drm/%.31s/device", card);
	if (!realpath(path, target))
		return NULL;
	for (int i = 0; i < ndevices; i++)
		if (strstr(target, devices[i].bdf))
			return &devices[i];
	return NULL;
}

static const char *connector_type(unsigned t)
{
	static const char *const names[] = { "Unknown", "VGA", "DVI-I", "DVI-D", "DVI-A", "Composite",
					     "SVIDEO", "LVDS", "Component", "DIN", "DP", "HDMI-A",
					     "HDMI-B", "TV", "eDP", "Virtual", "DSI", "DPI" };
	return t < sizeof names / sizeof *names ? names[t] : "Other";
}

/* The KMS card the pattern goes through, and its choice of mode. */
struct kms {
	int fd;
	char card[32];
	uint32_t connector, crtc;
	struct drm_mode_modeinfo mode;
	int have_mode;
};

static void report_drm(struct kms *k)
{
	DIR *d = opendir("/dev/dri");
	struct dirent *e;
	k->fd = -1;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "card", 4))
			continue;
		char path[128];
		snprintf(path, sizeof path, "/dev/dri/%.100s", e->d_name);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		char name[64] = "";
		struct drm_version v = { .name = name, .name_len = sizeof name - 1 };
		ioctl(fd, DRM_IOCTL_VERSION, &v);
		struct display *x = card_display(e->d_name);
		say("driver drm card=%s bdf=%s name=%s", e->d_name, x ? x->bdf + 5 : "none", val(name));
		struct drm_mode_card_res res = { 0 };
		uint32_t conns[16], crtcs[16], encs[16], fbs[16];
		if (ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res) == 0) {
			res.count_connectors = res.count_connectors > 16 ? 16 : res.count_connectors;
			res.count_crtcs = res.count_crtcs > 16 ? 16 : res.count_crtcs;
			res.count_encoders = res.count_encoders > 16 ? 16 : res.count_encoders;
			res.count_fbs = res.count_fbs > 16 ? 16 : res.count_fbs;
			res.connector_id_ptr = (uintptr_t)conns;
			res.crtc_id_ptr = (uintptr_t)crtcs;
			res.encoder_id_ptr = (uintptr_t)encs;
			res.fb_id_ptr = (uintptr_t)fbs;
			ioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res);
		}
		int keep = 0;
		for (uint32_t c = 0; c < res.count_connectors; c++) {
			struct drm_mode_get_connector conn = { .connector_id = conns[c] };
			if (ioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &conn) < 0)
				continue;
			struct drm_mode_modeinfo modes[64];
			uint32_t cencs[16];
			uint32_t nmodes = conn.count_modes > 64 ? 64 : conn.count_modes;
			conn.count_modes = nmodes;
			conn.count_encoders = conn.count_encoders > 16 ? 16 : conn.count_encoders;
			conn.count_props = 0;
			conn.modes_ptr = (uintptr_t)modes;
			conn.encoders_ptr = (uintptr_t)cencs;
			if (ioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &conn) < 0)
				continue;
			const char *status = conn.connection == 1 ? "connected"
					     : conn.connection == 2 ? "disconnected" : "unknown";
			int pref = -1, vga = -1;
			for (uint32_t m = 0; m < conn.count_modes; m++) {
				if (modes[m].type & DRM_MODE_TYPE_PREFERRED && pref < 0)
					pref = (int)m;
				if (modes[m].hdisplay == 640 && modes[m].vdisplay == 480 && vga < 0)
					vga = (int)m;
			}
			say("driver connector card=%s id=%u type=%s status=%s modes=%u preferred=%dx%d",
			    e->d_name, conn.connector_id, connector_type(conn.connector_type), status,
			    conn.count_modes, pref >= 0 ? modes[pref].hdisplay : 0,
			    pref >= 0 ? modes[pref].vdisplay : 0);
			if (k->fd >= 0 || conn.connection != 1 || !conn.count_modes)
				continue;
			/* the pattern's mode: 640x480 as bios-post prefers, else the preferred */
			int m = vga >= 0 ? vga : pref >= 0 ? pref : 0;
			k->mode = modes[m];
			k->have_mode = 1;
			k->connector = conn.connector_id;
			struct drm_mode_get_encoder enc = { .encoder_id = conn.encoder_id ? conn.encoder_id
										    : cencs[0] };
			ioctl(fd, DRM_IOCTL_MODE_GETENCODER, &enc);
			k->crtc = enc.crtc_id;
			for (uint32_t i = 0; !k->crtc && i < res.count_crtcs; i++)
				if (enc.possible_crtcs & (1u << i))
					k->crtc = crtcs[i];
			snprintf(k->card, sizeof k->card, "%.31s", e->d_name);
			keep = 1;
		}
		if (keep)
			k->fd = fd;
		else
			close(fd);
	}
	if (d)
		closedir(d);
}

static void report_fb(void)
{
	char *fbs = slurp("/proc/fb", NULL);
	for (char *line = fbs ? strtok(fbs, "\n") : NULL; line; line = strtok(NULL, "\n")) {
		int index;
		char name[128];
		if (sscanf(line, "%d %127[^\n]", &index, name) == 2)
			say("driver fb index=%d name=%s", index, val(name));
	}
	free(fbs);
}

/* ---------------------------------------------------------------------- */
/* The pattern (docs/graphics-pattern.md)                                 */

static uint32_t run_code(void)
{
	uint32_t code = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	while (!code && fd >= 0 && read(fd, &code, sizeof code) == sizeof code) {
	}
	if (fd >= 0)
		close(fd);
	return code ? code : 0x48494c52;
}

/* Primary of block (col, row) as 3 bits (red 4, green 2, blue 1). */
static int pattern_at(int col, int row, uint32_t code)
{
	static const int bars[8] = { 7, 6, 3, 2, 5, 4, 1, 0 };
	if (row < 4)
		return bars[col / 2];
	if (row < 6)
		return (col + row) % 2 ? 0 : 7;
	if (row < 10)
		return code >> ((row < 8 ? 31 : 15) - col) & 1 ? 7 : 1;
	if (row == 10)
		return col % 2 ? 2 : 4;
	return col % 2 ? 4 : 2;
}

/* The pattern into a linear buffer of w x h pixels (32, 16 or 8 bpp:
 * XRGB, RGB565, or the primaries' palette indices). */
static void draw_pattern(uint8_t *base, uint32_t pitch, int w, int h, int bpp, uint32_t code)
{
	const int bw = w / 16, bh = h / 12;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int c = x / bw < 16 && y / bh < 12 ? pattern_at(x / bw, y / bh, code) : 0;
			if (bpp == 32)
				((uint32_t *)(base + (size_t)y * pitch))[x] =
					(c & 4 ? 0xff0000u : 0) | (c & 2 ? 0xff00u : 0) | (c & 1 ? 0xffu : 0);
			else if (bpp == 8)
				base[(size_t)y * pitch + (size_t)x] = (uint8_t)c;
			else
				((uint16_t *)(base + (size_t)y * pitch))[x] =
					(uint16_t)((c & 4 ? 0xf800 : 0) | (c & 2 ? 0x07e0 : 0) | (c & 1 ? 0x1f : 0));
		}
}

/* Through KMS: a dumb buffer in the chosen mode, set on the CRTC. */
static int pattern_kms(struct kms *k, uint32_t code)
{
	struct drm_mode_create_dumb cd = { .width = k->mode.hdisplay, .height = k->mode.vdisplay,
					   .bpp = 32 };
	if (ioctl(k->fd, DRM_IOCTL_MODE_CREATE_DUMB, &cd) < 0)
		return -errno;
	struct drm_mode_fb_cmd fb = { .width = cd.width, .height = cd.height, .pitch = cd.pitch,
				      .bpp = 32, .depth = 24, .handle = cd.handle };
	if (ioctl(k->fd, DRM_IOCTL_MODE_ADDFB, &fb) < 0)
		return -errno;
	struct drm_mode_map_dumb map = { .handle = cd.handle };
	if (ioctl(k->fd, DRM_IOCTL_MODE_MAP_DUMB, &map) < 0)
		return -errno;
	uint8_t *p = mmap(NULL, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, k->fd, (off_t)map.offset);
	if (p == MAP_FAILED)
		return -errno;
	draw_pattern(p, cd.pitch, (int)cd.width, (int)cd.height, 32, code);
	struct drm_mode_crtc crtc = { .crtc_id = k->crtc, .fb_id = fb.fb_id,
				      .set_connectors_ptr = (uintptr_t)&k->connector,
				      .count_connectors = 1, .mode = k->mode, .mode_valid = 1 };
	if (ioctl(k->fd, DRM_IOCTL_MODE_SETCRTC, &crtc) < 0)
		return -errno;
	return 0;
}

/* Is /dev/fb0 an fbdev-only driver's, on one of the display devices
 * (not the firmware's efifb, a platform device)? */
static int card_fb(void)
{
	char target[1024];
	if (access("/sys/class/drm/card0", F_OK) == 0 ||
	    !realpath("/sys/class/graphics/fb0/device", target))
		return 0;
	for (int i = 0; i < ndevices; i++)
		if (strstr(target, devices[i].bdf))
			return 1;
	return 0;
}

/* An 8-bit mode: the eight primaries as palette entries 0-7 (3 bits:
 * red 4, green 2, blue 1), so a pixel's value is its primary. */
static int primaries_palette(int fd)
{
	uint16_t r[8], g[8], b[8];
	for (int i = 0; i < 8; i++) {
		r[i] = i & 4 ? 0xffff : 0;
		g[i] = i & 2 ? 0xffff : 0;
		b[i] = i & 1 ? 0xffff : 0;
	}
	struct fb_cmap cmap = { .start = 0, .len = 8, .red = r, .green = g, .blue = b };
	return ioctl(fd, FBIOPUTCMAP, &cmap);
}

/* Through /dev/fb0 (an fbdev-only driver), in its current resolution: 32
 * or 16 bits per pixel if it takes them, else 8 with a palette. */
static int pattern_fbdev(uint32_t code, int *w, int *h, int *bpp)
{
	int fd = open("/dev/fb0", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct fb_var_screeninfo var;
	struct fb_fix_screeninfo fix;
	if (ioctl(fd, FBIOGET_VSCREENINFO, &var) < 0) {
		close(fd);
		return -errno;
	}
	static const int depths[] = { 32, 16, 8 };
	for (size_t i = 0; i < sizeof depths / sizeof *depths; i++) {
		struct fb_var_screeninfo want = var;
		want.bits_per_pixel = (unsigned)depths[i];
		want.xoffset = want.yoffset = 0;
		if ((int)var.bits_per_pixel == depths[i] || ioctl(fd, FBIOPUT_VSCREENINFO, &want) == 0)
			break;
	}
	if (ioctl(fd, FBIOGET_VSCREENINFO, &var) < 0 || ioctl(fd, FBIOGET_FSCREENINFO, &fix) < 0) {
		close(fd);
		return -errno;
	}
	*w = (int)var.xres, *h = (int)var.yres, *bpp = (int)var.bits_per_pixel;
	if (*bpp == 8 && primaries_palette(fd) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	if (*bpp != 32 && *bpp != 16 && *bpp != 8) {
		close(fd);
		return -EINVAL;
	}
	uint8_t *p = mmap(NULL, fix.smem_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	draw_pattern(p + (size_t)var.yoffset * fix.line_length, fix.line_length, *w, *h, *bpp, code);
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------------- */

static void end(void)
{
	say("end exit code=%d", EXIT_CODE);
	usleep(100000);
	if (ioperm(EXIT_PORT, 1, 1) == 0)
		outb(EXIT_CODE, EXIT_PORT);
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

int main(void)
{
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	open_com1();
	struct utsname u;
	uname(&u);
	snprintf(kver, sizeof kver, "%s", u.release);
	read_text("/proc/cmdline", cmdline, sizeof cmdline);
	say("guest hello name=linux-drm version=1 kernel=%s", val(kver));
	if (has_arg("hilrun.trial"))
		end();
	read_aliases();
	/* A guest kernel's panic reaches hilrun through QEMU's pvpanic device. */
	load_module("pvpanic-mmio");
	load_module("pvpanic-pci");

	/* post: the firmware's screen as the kernel left it, and the
	 * framebuffer the firmware set up, if any (efifb under OVMF) */
	char *fbs = slurp("/proc/fb", NULL);
	for (char *line = fbs ? strtok(fbs, "\n") : NULL; line; line = strtok(NULL, "\n")) {
		int index;
		char name[128];
		if (sscanf(line, "%d %127[^\n]", &index, name) == 2)
			say("post fb index=%d name=%s", index, val(name));
	}
	free(fbs);
	hold("post", NULL);

	/* text: the banner on the firmware's console, before any display
	 * driver; the PCI display devices (text requires the card among them) */
	find_displays();
	tty0 = open("/dev/tty0", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (console_font())
		say("text console driver=fb font=hilrun");
	else
		say("text console driver=vgacon font=card");
	char kline[160];
	snprintf(kline, sizeof kline, "Linux %s, no display driver loaded", kver);
	const char *const banner[] = { "hilrun linux-drm v1", "Reference guest for display drivers",
				       kline, "Text check on the firmware's console" };
	show_lines(banner, 4);
	for (int i = 0; i < 4; i++)
		say("text line row=%d text=%s", 2 * i, val(banner[i]));
	hold("text", "rows=4");

	/* driver: every PCI display device's driver, loaded as udev would */
	coldplug();
	usleep(500000); /* let asynchronous probes and fbcon settle */
	for (int i = 0; i < ndevices; i++) {
		char path[256];
		snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/driver", devices[i].bdf);
		link_name(path, devices[i].driver, sizeof devices[i].driver);
		if (*devices[i].driver)
			say("driver bound bdf=%s driver=%s", devices[i].bdf + 5, val(devices[i].driver));
		else
			say("driver unbound bdf=%s", devices[i].bdf + 5);
	}
	struct kms k = { .fd = -1 };
	report_drm(&k);
	report_fb();
	kernel_log();
	say("driver done devices=%d", ndevices);
	if (has_arg("hilrun.panic=driver")) {
		int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && write(fd, "c", 1) < 0) {
		}
	}

	/* driver: the pattern through the driver */
	uint32_t code = run_code();
	int w = 0, h = 0, bpp = 32, rc;
	const char *via = "kms";
	if (tty0 >= 0)
		ioctl(tty0, KDSETMODE, KD_GRAPHICS); /* the console keeps off the screen */
	if (k.fd >= 0 && k.have_mode) {
		w = k.mode.hdisplay, h = k.mode.vdisplay;
		rc = pattern_kms(&k, code);
	} else if (card_fb()) {
		via = "fbdev";
		rc = pattern_fbdev(code, &w, &h, &bpp);
	} else {
		rc = -ENODEV;
	}
	if (rc == 0) {
		say("driver set via=%s width=%d height=%d bpp=%d status=0", via, w, h, bpp);
		say("driver show width=%d height=%d bpp=%d code=%08x pattern=1 via=%s", w, h, bpp, code, via);
		hold("driver", NULL);
	} else {
		say("driver error reason=modeset via=%s errno=%d", via, rc);
	}
	if (k.fd >= 0)
		close(k.fd); /* the framebuffer console takes the screen back */
	if (tty0 >= 0)
		ioctl(tty0, KDSETMODE, KD_TEXT);

	/* console: the driver's framebuffer console, showing the summary */
	if (access("/dev/fb0", F_OK) == 0) {
		console_font();
		char l1[160], l2[160], l3[160];
		snprintf(l1, sizeof l1, "%d display device(s)", ndevices);
		snprintf(l2, sizeof l2, "%.20s %.10s driver %.63s", ndevices ? devices[0].bdf + 5 : "-",
			 ndevices ? devices[0].id : "-", ndevices && *devices[0].driver ? devices[0].driver : "none");
		snprintf(l3, sizeof l3, "pattern %s %dx%d %s", rc == 0 ? "shown" : "not shown", w, h, via);
		const char *const lines[] = { "hilrun linux-drm v1: console", l1, l2, l3 };
		show_lines(lines, 4);
		for (int i = 0; i < 4; i++)
			say("console line row=%d text=%s", 2 * i, val(lines[i]));
		hold("console", "rows=4");
	} else {
		say("console error reason=no-framebuffer");
	}
	end();
	return 0;
}
