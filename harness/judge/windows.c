/* windows: the driver stage of a lab's Windows image, judged on
 * what hilrun's agent (guests/windows/agent.ps1) reported of each display
 * device: its Device Manager problem code, its service (driver) and
 * whether Windows's basic display driver drives it. The agent reports
 * numbers only; the words for a problem code are hilrun's (cfg.h's
 * CM_PROB_* names), so a localized Windows reads the same.
 *
 * Ownership: as judge.h. */
#include "judge.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Device Manager's problem codes a display device shows most, by the
 * names cfg.h gives them. */
static const struct {
	int code;
	const char *name;
} problem_names[] = {
	{ 1, "CM_PROB_NOT_CONFIGURED" },      { 3, "CM_PROB_OUT_OF_MEMORY" },
	{ 10, "CM_PROB_FAILED_START" },       { 12, "CM_PROB_NORMAL_CONFLICT" },
	{ 14, "CM_PROB_NEED_RESTART" },       { 18, "CM_PROB_REINSTALL" },
	{ 22, "CM_PROB_DISABLED" },           { 24, "CM_PROB_DEVICE_NOT_THERE" },
	{ 28, "CM_PROB_FAILED_INSTALL" },     { 31, "CM_PROB_FAILED_ADD" },
	{ 37, "CM_PROB_FAILED_DRIVER_ENTRY" }, { 39, "CM_PROB_DRIVER_FAILED_LOAD" },
	{ 43, "CM_PROB_FAILED_POST_START" },  { 52, "CM_PROB_UNSIGNED_DRIVER" },
};

/* The cfg.h name of a problem code, or NULL. */
static const char *problem_name(int code)
{
	for (size_t i = 0; i < sizeof problem_names / sizeof *problem_names; i++)
		if (problem_names[i].code == code)
			return problem_names[i].name;
	return NULL;
}

static void because(struct judgement *j, const char *verdict, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void because(struct judgement *j, const char *verdict, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->why, sizeof j->why, fmt, ap);
	va_end(ap);
	snprintf(j->verdict, sizeof j->verdict, "%s", verdict);
	j->ok = 0;
}

static const char *field(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The agent's last report of the card (after a driver install, the one
 * made after it), or NULL. */
static json_t *last_report_of(json_t *devices, const char *card_pci_id)
{
	json_t *found = NULL, *d;
	size_t i;
	json_array_foreach(devices, i, d)
		if (!strcmp(field(d, "id") ?: "", card_pci_id))
			found = d;
	return found;
}

/* Did the agent finish the listing that dev belongs to ("driver done"
 * with the same when=)? */
static int listing_complete(json_t *done, const char *when)
{
	json_t *d;
	size_t i;
	json_array_foreach(done, i, d)
		if (!strcmp(field(d, "when") ?: "", when ?: ""))
			return 1;
	return 0;
}

struct judgement judge_windows_driver(const struct guest_said *g, const char *card_pci_id,
				      json_t *evidence)
{
	struct judgement j = { .ok = 1 };
	json_t *devices = json_object_get(g->driver, "windows_devices");
	json_t *install = json_array_get(json_object_get(g->driver, "install"), 0);
	json_t *installed = json_array_get(json_object_get(g->driver, "installed"), 0);
	json_t *dev = last_report_of(devices, card_pci_id);
	json_object_set_new(evidence, "card_pci_id", json_string(card_pci_id));
	json_object_set_new(evidence, "devices_reported", json_integer((json_int_t)json_array_size(devices)));
	if (install)
		json_object_set_new(evidence, "install",
				    json_pack("{s:s, s:s?}", "package", field(install, "package") ?: "",
					      "result", installed ? field(installed, "result") : NULL));
	if (!dev) {
		int complete = listing_complete(json_object_get(g->driver, "done"), "boot");
		because(&j, "fail:no-driver", "%s%s",
			complete ? "Windows listed no display device " : "the agent's report ended before ",
			complete ? card_pci_id : "it listed the card (no 'driver done' line)");
		return j;
	}
	/* After the lab's install Windows listed its devices again: a card
	 * missing from that listing is gone, whatever it was at boot. */
	if (install && listing_complete(json_object_get(g->driver, "done"), "installed") &&
	    strcmp(field(dev, "when") ?: "", "installed")) {
		because(&j, "fail:no-driver",
			"Windows listed %s at boot, but not after the lab's driver package %s ran", card_pci_id,
			field(install, "package") ?: "");
		return j;
	}
	json_object_set_new(evidence, "device", json_deep_copy(dev));
	const char *service = field(dev, "service") ?: "", *version = field(dev, "version") ?: "";
	const char *problem_text = field(dev, "problem") ?: "";
	char *end = NULL;
	long problem = strtol(problem_text, &end, 10);
	int basic = !strcmp(field(dev, "basic") ?: "", "1");
	json_object_set_new(evidence, "driver", json_string(service));
	json_object_set_new(evidence, "basic_display_driver", json_boolean(basic));
	if (!*problem_text || *end) {
		because(&j, "fail:no-driver", "the agent's report of %s gives no problem code ('%s')",
			card_pci_id, problem_text);
		return j;
	}
	const char *name = problem_name((int)problem);
	const char *status = field(dev, "status");
	char words[160];
	snprintf(words, sizeof words, "problem code %ld%s%s%s%s%s", problem, name ? " (" : "",
		 name ? name : "", name ? ")" : "", status ? ", status " : "", status ? status : "");
	if (problem == 43) {
		because(&j, "fail:code43", "Windows stopped %s after its driver %s %s started: %s",
			card_pci_id, *service ? service : "(none)", version, words);
	} else if (problem != 0) {
		char verdict[64];
		snprintf(verdict, sizeof verdict, "fail:yellow-bang(%ld)", problem);
		because(&j, verdict, "Device Manager shows %s with a yellow bang: %s; service '%s'",
			card_pci_id, words, service);
	} else if (!*service) {
		because(&j, "fail:no-driver", "Windows runs %s with no driver service", card_pci_id);
	} else if (install && basic) {
		because(&j, "fail:no-vendor-driver",
			"the lab's driver package %s ran (exit %s), but Windows's basic display "
			"driver (%s) still drives %s",
			field(install, "package") ?: "", installed ? field(installed, "result") ?: "?" : "unknown",
			service, card_pci_id);
	}
	return j;
}
