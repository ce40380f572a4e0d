/* test_qemu_argv: the QEMU argv builder. Emulated and physical (vfio) cards, the
 * variants, the configuration errors; and the physical cards' argv checked
 * by real QEMU option parsing: QEMU must accept every option and fail only
 * where it opens the host device (there is no card to pass through here). */
#include <check.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog.h"
#include "qemu_argv.h"
#include "qemutest.h"
#include "testutil.h"

static struct catalog cat;

static void load(void)
{
	struct hil_err err;
	catalog_init(&cat);
	const char *src = getenv("HILRUN_SOURCE_DIR") ?: HIL_SOURCE_DIR;
	char *dir = xasprintf("%s/cards", src);
	ck_assert_msg(catalog_load_cards(&cat, dir, &err) == 0, "%s", err.msg);
	free(dir);
}

static void unload(void)
{
	catalog_release(&cat);
}

static struct qemu_env env_for(const char *host, const char *rom)
{
	return (struct qemu_env){
		.qemu = "qemu-system-x86_64",
		.accel = "kvm",
		.guest_image = "/g/bios-post.img",
		.qmp_socket = "/s/qmp.sock",
		.serial_socket = "/s/com1.sock",
		.vnc_socket = "/s/vnc.sock",
		.host = host,
		.rom = rom,
		.start_paused = 1,
		.sandbox = QEMU_SANDBOX,
	};
}

/* Index of the word pair (opt, val) in argv, or -1. */
static int find_pair(const struct argv *a, const char *opt, const char *val)
{
	for (size_t i = 0; i + 1 < a->n; i++)
		if (!strcmp(a->v[i], opt) && !strcmp(a->v[i + 1], val))
			return (int)i;
	return -1;
}

static struct cell cell_of(const char *card_id, const char *variant)
{
	const struct card *card = catalog_find_card(&cat, card_id);
	ck_assert_ptr_nonnull(card);
	const struct variant *v = card_find_variant(card, variant);
	ck_assert_ptr_nonnull(v);
	return (struct cell){ card, "seabios", guest_find("bios-post"), v };
}

START_TEST(emulated_card_argv)
{
	struct cell c = cell_of("std-vga", "default");
	struct qemu_env env = env_for(NULL, NULL);
	struct argv a = ARGV_INIT;
	struct hil_err err;
	ck_assert_msg(qemu_argv(&a, &c, &env, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(a.v[0], "qemu-system-x86_64");
	ck_assert_int_eq(find_pair(&a, "-sandbox", QEMU_SANDBOX), 3); /* first, after the defaults */
	ck_assert_int_ge(find_pair(&a, "-device", "VGA"), 0);
	ck_assert_int_ge(find_pair(&a, "-vnc", "unix:/s/vnc.sock"), 0);
	ck_assert_int_ge(find_pair(&a, "-machine", "pc,accel=kvm"), 0);
	ck_assert_int_ge(find_pair(&a, "-chardev", "socket,id=qmp,path=/s/qmp.sock"), 0);
	ck_assert_int_ge(find_pair(&a, "-chardev", "socket,id=com1,path=/s/com1.sock"), 0);
	ck_assert_int_ge(find_pair(&a, "-drive", "if=ide,format=raw,snapshot=on,file=/g/bios-post.img"), 0);
	ck_assert_int_ge(find_pair(&a, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"), 0);
	ck_assert_int_ge(find_pair(&a, "-device", "pvpanic"), 0);
	ck_assert_int_ge(find_pair(&a, "-action", "panic=pause"), 0);
	ck_assert_int_eq(find_pair(&a, "-vga", "none"), -1);
	ck_assert_str_eq(a.v[a.n - 1], "-S");
	ck_assert_ptr_null(a.v[a.n]);
	argv_release(&a);
}
END_TEST

/* The OVMF cell: the combined OVMF image as -bios, more memory, the
 * uefi-gop image as the disk; a physical card's OVMF argv is parsed by
 * real QEMU in real_qemu_accepts_every_vfio_argv. */
START_TEST(ovmf_cell_argv)
{
	struct cell c = cell_of("std-vga", "default");
	c.firmware = "ovmf";
	c.guest = guest_find("uefi-gop");
	ck_assert_ptr_nonnull(c.guest);
	struct qemu_env env = env_for(NULL, NULL);
	env.guest_image = "/g/uefi-gop.img";
	struct argv a = ARGV_INIT;
	struct hil_err err;
	ck_assert_msg(qemu_argv(&a, &c, &env, &err) == 0, "%s", err.msg);
	ck_assert_int_ge(find_pair(&a, "-bios", "/usr/share/ovmf/OVMF.fd"), 0);
	ck_assert_int_ge(find_pair(&a, "-m", "256"), 0);
	ck_assert_int_ge(find_pair(&a, "-drive", "if=ide,format=raw,snapshot=on,file=/g/uefi-gop.img"), 0);
	ck_assert_int_ge(find_pair(&a, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"), 0);
	argv_release(&a);
}
END_TEST

START_TEST(vfio_card_argv_with_variant_and_rom)
{
	struct cell c = cell_of("g98", "kvm-hidden");
	struct qemu_env env = env_for("0000:01:00.0", "/roms/g98.rom");
	struct argv a = ARGV_INIT;
	struct hil_err err;
	ck_assert_msg(qemu_argv(&a, &c, &env, &err) == 0, "%s", err.msg);
	ck_assert_int_ge(find_pair(&a, "-vga", "none"), 0);
	ck_assert_int_ge(find_pair(&a, "-device", "vfio-pci,host=0000:01:00.0,x-vga=on,romfile=/roms/g98.rom"), 0);
	ck_assert_int_ge(find_pair(&a, "-cpu", "host,kvm=off,hv-vendor-id=hilrunhilrun"), 0);
	for (size_t i = 0; i < a.n; i++)
		ck_assert_msg(strcmp(a.v[i], "-vnc"), "a passed-through card has no QEMU VNC");
	argv_release(&a);

	c = cell_of("g98", "default");
	env = env_for("0000:01:00.0", NULL);
	ck_assert(qemu_argv(&a, &c, &env, &err) == 0);
	ck_assert_int_ge(find_pair(&a, "-device", "vfio-pci,host=0000:01:00.0,x-vga=on"), 0);
	for (size_t i = 0; i < a.n; i++)
		ck_assert_msg(strcmp(a.v[i], "-cpu"), "the default variant adds no -cpu");
	argv_release(&a);
}
END_TEST

START_TEST(configuration_errors)
{
	struct argv a = ARGV_INIT;
	struct hil_err err;
	struct cell c = cell_of("g98", "default");
	struct qemu_env env = env_for(NULL, NULL);
	ck_assert_int_eq(qemu_argv(&a, &c, &env, &err), -1);
	ck_assert_str_eq(err.msg, "card g98 is a physical (vfio) card: it needs a station (--host BDF or a stations file)");
	argv_release(&a);

	c.firmware = "coreboot";
	env = env_for("0000:01:00.0", NULL);
	ck_assert_int_eq(qemu_argv(&a, &c, &env, &err), -1);
	ck_assert_str_eq(err.msg, "firmware 'coreboot' is not supported (seabios, ovmf)");
	argv_release(&a);

	/* A card file that requires a ROM. */
	struct catalog one;
	catalog_init(&one);
	ck_assert(catalog_add_card_text(&one, "r.card",
					"format 1\nid r\nname R\nkind vfio\npci-id 10de:0001\n"
					"x-vga yes\nrom required\nfirmware seabios\nguest bios-post\n"
					"variant default\n", &err) == 0);
	struct cell rc = { &one.cards[0], "seabios", guest_find("bios-post"), &one.cards[0].variants[0] };
	ck_assert_int_eq(qemu_argv(&a, &rc, &env, &err), -1);
	ck_assert_str_eq(err.msg, "card r needs a ROM file (rom required in r.card): give --rom FILE or 'rom' in its station");
	argv_release(&a);
	catalog_release(&one);
}
END_TEST

/* Run argv (with its sockets listened on) and return QEMU's output. */
static char *qemu_output(struct argv *a, int *status)
{
	struct hil_err err;
	struct qemutest t;
	strcpy(t.dir, "/tmp/hiltest-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t.dir));
	char *qmp = xasprintf("%s/qmp.sock", t.dir), *com = xasprintf("%s/com1.sock", t.dir);
	int l1 = sock_listen_unix(qmp, &err), l2 = sock_listen_unix(com, &err);
	ck_assert(l1 >= 0 && l2 >= 0);
	/* A blank floppy, and the argv's chardevs pointed at our sockets. */
	char *img = xasprintf("%s/blank.img", t.dir);
	FILE *f = fopen(img, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert(ftruncate(fileno(f), 1474560) == 0);
	fclose(f);
	/* Without a usable /dev/kvm (a host without nested virtualisation)
	 * QEMU stops at KVM before it reaches the devices: the same argv is
	 * parsed under TCG then, -cpu host (KVM's alone) as max with the
	 * same properties, and said so. */
	const int no_kvm = access("/dev/kvm", R_OK | W_OK) != 0;
	static int said;
	if (no_kvm && !said++)
		fprintf(stderr, "test_qemu_argv: no usable /dev/kvm here: QEMU parses the argvs under "
				"TCG (accel=tcg, -cpu host as max)\n");
	for (size_t i = 0; i < a->n; i++) {
		char *kvm = strstr(a->v[i], "accel=kvm");
		if (no_kvm && kvm)
			memcpy(kvm, "accel=tcg", 9);
		if (no_kvm && i > 0 && !strcmp(a->v[i - 1], "-cpu") && !strncmp(a->v[i], "host", 4)) {
			char *max = xasprintf("max%s", a->v[i] + 4);
			free(a->v[i]);
			a->v[i] = max;
		}
		if (!strcmp(a->v[i], "if=ide,format=raw,snapshot=on,file=/g/bios-post.img")) {
			free(a->v[i]);
			a->v[i] = xasprintf("if=ide,format=raw,snapshot=on,file=%s", img);
		}
		if (!strcmp(a->v[i], "socket,id=qmp,path=/s/qmp.sock")) {
			free(a->v[i]);
			a->v[i] = xasprintf("socket,id=qmp,path=%s", qmp);
		} else if (!strcmp(a->v[i], "socket,id=com1,path=/s/com1.sock")) {
			free(a->v[i]);
			a->v[i] = xasprintf("socket,id=com1,path=%s", com);
		}
	}
	free(a->v[0]);
	a->v[0] = xstrdup(qemutest_binary());
	char *log = xasprintf("%s/qemu.log", t.dir);
	struct proc p;
	proc_init(&p);
	ck_assert_msg(proc_spawn(&p, a, log, &err) == 0, "%s", err.msg);
	ck_assert_msg(proc_wait(&p, now_ms() + 20000), "QEMU kept running: it should fail at the host device");
	*status = p.status;
	char *out = read_file(log, 1 << 20, NULL, &err);
	ck_assert_ptr_nonnull(out);
	proc_release(&p);
	close(l1);
	close(l2);
	remove_tree(t.dir);
	free(qmp);
	free(com);
	free(log);
	free(img);
	return out;
}

START_TEST(real_qemu_accepts_every_vfio_argv)
{
	static const char *const ids[] = { "cedar", "rv370", "g98", "g86", "g72" };
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		const struct card *card = catalog_find_card(&cat, ids[i]);
		/* Every variant under SeaBIOS, then the default under OVMF. */
		for (size_t v = 0; v <= card->nvariants; v++) {
			struct cell c = cell_of(ids[i], card->variants[v % card->nvariants].name);
			if (v == card->nvariants) {
				c.firmware = "ovmf";
				c.guest = guest_find("uefi-gop");
			}
			/* A real ROM file, so romfile= is exercised too. */
			struct qemu_env env = env_for("0000:01:00.0", "/usr/share/seabios/vgabios-stdvga.bin");
			struct argv a = ARGV_INIT;
			struct hil_err err;
			ck_assert(qemu_argv(&a, &c, &env, &err) == 0);
			int status;
			char *out = qemu_output(&a, &status);
			/* Parse errors name an option or property; none may appear. */
			ck_assert_msg(!strstr(out, "not found") && !strstr(out, "expects") &&
				      !strstr(out, "invalid") && !strstr(out, "Invalid") &&
				      !strstr(out, "unsupported"),
				      "%s/%s/%s: QEMU rejected an option: %s", ids[i], c.firmware, c.variant->name, out);
			/* It fails where it opens the device: or, with -cpu host
			 * under this machine's nested KVM, a step earlier, when
			 * KVM refuses MSR 0x10a (QEMU asserts; a real lab host
			 * does not). Either way every option was parsed. */
			int at_device = strstr(out, "vfio /sys/bus/pci/devices/0000:01:00.0: no such host device") != NULL;
			int nested_msr = strstr(out, "failed to set MSR 0x10a") != NULL &&
					 find_pair(&a, "-cpu", "host,kvm=off,hv-vendor-id=hilrunhilrun") >= 0;
			ck_assert_msg(at_device || nested_msr, "%s/%s/%s: unexpected QEMU failure: %s", ids[i],
				      c.firmware, c.variant->name, out);
			ck_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
			free(out);
			argv_release(&a);
		}
	}
}
END_TEST

START_TEST(real_qemu_rejects_a_bad_property)
{
	/* The control for the test above: the same check sees a parse error. */
	struct cell c = cell_of("g98", "default");
	struct qemu_env env = env_for("0000:01:00.0", NULL);
	struct argv a = ARGV_INIT;
	struct hil_err err;
	ck_assert(qemu_argv(&a, &c, &env, &err) == 0);
	int i = find_pair(&a, "-device", "vfio-pci,host=0000:01:00.0,x-vga=on");
	ck_assert_int_ge(i, 0);
	free(a.v[i + 1]);
	a.v[i + 1] = xstrdup("vfio-pci,host=0000:01:00.0,x-vga=maybe");
	int status;
	char *out = qemu_output(&a, &status);
	ck_assert_msg(strstr(out, "Parameter 'x-vga' expects"), "%s", out);
	free(out);
	argv_release(&a);
}
END_TEST

/* The windows guest boots the lab's image as it is: its format told from
 * its first bytes, snapshot=on, 2 GiB; real QEMU opens a real qcow2 so
 * (and fails only at the host device), and a qcow2 read as raw is the
 * control: QEMU opens it, the detection is what tells. */
/* This QEMU (Debian's, with seccomp) takes the sandbox; one built without
 * seccomp refuses -sandbox in its own words (what QEMU 7.2's vl.c says,
 * played by a script: Debian ships no such build), and the run is to go
 * ahead without it, saying why. A NULL env.sandbox leaves no -sandbox. */
START_TEST(sandbox_when_qemu_has_seccomp)
{
	char note[512] = "";
	ck_assert_str_eq(qemu_sandbox("qemu-system-x86_64", note, sizeof note), QEMU_SANDBOX);
	char *dir = test_tmpdir();
	char *fake = test_path(dir, "qemu-without-seccomp");
	test_write_str(dir, "qemu-without-seccomp",
		       "#!/bin/sh\necho 'qemu-system-x86_64: -sandbox support is not enabled in this "
		       "QEMU binary' >&2\nexit 1\n");
	ck_assert_int_eq(chmod(fake, 0755), 0);
	ck_assert_ptr_null(qemu_sandbox(fake, note, sizeof note));
	ck_assert_msg(strstr(note, "no seccomp sandbox: QEMU exited with status 1 to -sandbox: "
				   "qemu-system-x86_64: -sandbox support is not enabled") &&
			      strstr(note, "went ahead without -sandbox"),
		      "%s", note);
	struct cell c = cell_of("std-vga", "default");
	struct qemu_env env = env_for(NULL, NULL);
	env.sandbox = NULL;
	struct argv a = ARGV_INIT;
	struct hil_err err;
	ck_assert_msg(qemu_argv(&a, &c, &env, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < a.n; i++)
		ck_assert_str_ne(a.v[i], "-sandbox");
	argv_release(&a);
	test_rmdir(dir);
	free(fake);
	free(dir);
}
END_TEST

START_TEST(windows_guest_boots_the_labs_image)
{
	char *dir = test_tmpdir();
	char *qcow = test_path(dir, "win7 agent.qcow2"), *raw = test_path(dir, "win7.img");
	char *cmd = xasprintf("qemu-img create -q -f qcow2 '%s' 64M && truncate -s 64M '%s'", qcow, raw);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_str_eq(qemu_disk_format(qcow), "qcow2");
	ck_assert_str_eq(qemu_disk_format(raw), "raw");
	ck_assert_str_eq(qemu_disk_format("/nonexistent/image"), "raw");

	struct cell c = cell_of("g98", "default");
	c.guest = guest_find("windows");
	struct qemu_env env = env_for("0000:01:00.0", NULL);
	env.guest_image = qcow;
	env.guest_image_format = qemu_disk_format(qcow);
	struct argv a = ARGV_INIT;
	struct hil_err err;
	ck_assert(qemu_argv(&a, &c, &env, &err) == 0);
	char *drive = xasprintf("if=ide,format=qcow2,snapshot=on,file=%s", qcow);
	ck_assert_int_ge(find_pair(&a, "-drive", drive), 0);
	ck_assert_int_ge(find_pair(&a, "-m", "2048"), 0);
	ck_assert_int_ge(find_pair(&a, "-boot", "order=c,strict=on"), 0);
	int status;
	char *out = qemu_output(&a, &status);
	ck_assert_msg(strstr(out, "vfio /sys/bus/pci/devices/0000:01:00.0: no such host device") &&
		      !strstr(out, "qcow2") && !strstr(out, "format"),
		      "QEMU did not get as far as the device: %s", out);
	free(out);
	argv_release(&a);

	/* The raw file said to be qcow2: QEMU refuses it, naming the format. */
	env.guest_image = raw;
	env.guest_image_format = "qcow2";
	ck_assert(qemu_argv(&a, &c, &env, &err) == 0);
	out = qemu_output(&a, &status);
	ck_assert_msg(strstr(out, "qcow2"), "%s", out);
	free(out);
	argv_release(&a);

	free(drive);
	free(cmd);
	test_rmdir(dir);
	free(dir);
	free(qcow);
	free(raw);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("argv");
	tcase_add_checked_fixture(tc, load, unload);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, emulated_card_argv);
	tcase_add_test(tc, vfio_card_argv_with_variant_and_rom);
	tcase_add_test(tc, ovmf_cell_argv);
	tcase_add_test(tc, configuration_errors);
	tcase_add_test(tc, real_qemu_accepts_every_vfio_argv);
	tcase_add_test(tc, real_qemu_rejects_a_bad_property);
	tcase_add_test(tc, windows_guest_boots_the_labs_image);
	tcase_add_test(tc, sandbox_when_qemu_has_seccomp);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
