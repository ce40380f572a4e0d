/* test_keys: contributors' Ed25519 keys with real libsodium and real files:
 * a new pair (modes, the public line, sign and verify), never overwriting a
 * key, the id charset, refusing a secret key others can read or that was
 * pieced together, the keys file's errors with file:line, the default
 * directory. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keys.h"
#include "testutil.h"

static char *dir;

static void setup(void)
{
	dir = test_tmpdir();
}

static void teardown(void)
{
	test_rmdir(dir);
	free(dir);
}

static unsigned file_mode(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

START_TEST(new_pair_signs_and_verifies)
{
	struct key_public pub;
	struct hil_err err;
	char *kpath, *ppath;
	char *kdir = test_path(dir, "conf/hilrun");
	ck_assert_msg(key_new(kdir, "alice", &pub, &kpath, &ppath, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(pub.id, "alice");
	ck_assert_uint_eq(file_mode(kdir), 0700);
	ck_assert_uint_eq(file_mode(kpath), 0600);

	/* The .pub file is the keys file's line, and parses back to the key. */
	size_t len;
	char *text = (char *)test_read(ppath, &len);
	char *line = key_public_line(&pub);
	ck_assert(!strncmp(line, "alice ed25519 ", 14));
	char *want = xasprintf("%s\n", line);
	ck_assert_str_eq(text, want);
	struct key_public back;
	ck_assert_msg(key_public_parse(line, &back, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(back.id, "alice");
	ck_assert(!memcmp(back.pk, pub.pk, sizeof pub.pk));

	struct key_secret sk;
	ck_assert_msg(key_secret_load(kpath, &sk, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(sk.id, "alice");
	struct key_public derived;
	key_secret_public(&sk, &derived);
	ck_assert(!memcmp(derived.pk, pub.pk, sizeof pub.pk));
	unsigned char sig[KEY_SIG_BYTES];
	key_sign(&sk, "message", 7, sig);
	ck_assert(key_verify(&pub, "message", 7, sig));
	ck_assert(!key_verify(&pub, "messagE", 7, sig));
	sig[10] ^= 1;
	ck_assert(!key_verify(&pub, "message", 7, sig));

	/* A second pair is another key. */
	struct key_public pub2;
	ck_assert_msg(key_new(kdir, "bob", &pub2, NULL, NULL, &err) == 0, "%s", err.msg);
	ck_assert(memcmp(pub.pk, pub2.pk, sizeof pub.pk));
	key_secret_release(&sk);
	free(text), free(line), free(want), free(kpath), free(ppath), free(kdir);
}
END_TEST

START_TEST(never_overwrites)
{
	struct key_public pub;
	struct hil_err err;
	char *kpath;
	ck_assert_msg(key_new(dir, "alice", &pub, &kpath, NULL, &err) == 0, "%s", err.msg);
	size_t len1, len2;
	unsigned char *before = test_read(kpath, &len1);
	ck_assert_int_eq(key_new(dir, "alice", &pub, NULL, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "exists") && strstr(err.msg, "never overwritten"), "%s", err.msg);
	unsigned char *after = test_read(kpath, &len2);
	ck_assert_uint_eq(len1, len2);
	ck_assert(!memcmp(before, after, len1));

	/* Only a .pub left there: refused, and no .key left behind. */
	test_write_str(dir, "carol.pub", "carol ed25519 x\n");
	ck_assert_int_eq(key_new(dir, "carol", &pub, NULL, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "carol.pub"), "%s", err.msg);
	char *carol_key = test_path(dir, "carol.key");
	ck_assert(!test_exists(carol_key));
	free(before), free(after), free(kpath), free(carol_key);
}
END_TEST

START_TEST(contributor_ids)
{
	struct hil_err err;
	static const char *const good[] = { "a", "alice", "lab-2.x_y", "0day" };
	static const char *const bad[] = { "", "Alice", "-x", ".x", "../x", "a/b", "a b", "é" };
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ck_assert_msg(key_id_check(good[i], &err) == 0, "%s: %s", good[i], err.msg);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(key_id_check(bad[i], &err) == -1, "'%s' accepted", bad[i]);
	char id[KEY_ID_MAX + 2];
	memset(id, 'a', sizeof id - 1);
	id[KEY_ID_MAX + 1] = 0;
	ck_assert_int_eq(key_id_check(id, &err), -1);
	id[KEY_ID_MAX] = 0;
	ck_assert_int_eq(key_id_check(id, &err), 0);
	/* key new refuses a bad id before writing anything. */
	struct key_public pub;
	ck_assert_int_eq(key_new(dir, "../evil", &pub, NULL, NULL, &err), -1);
	ck_assert_int_eq(test_count_entries(dir), 0);
}
END_TEST

START_TEST(secret_readable_by_others_refused)
{
	struct key_public pub;
	struct key_secret sk;
	struct hil_err err;
	char *kpath;
	ck_assert_msg(key_new(dir, "alice", &pub, &kpath, NULL, &err) == 0, "%s", err.msg);
	static const struct {
		mode_t mode;
		const char *who;
	} cases[] = { { 0640, "its group read" }, { 0604, "others read" },
		      { 0644, "its group and others" }, { 0660, "its group read" } };
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		ck_assert_int_eq(chmod(kpath, cases[i].mode), 0);
		ck_assert_int_eq(key_secret_load(kpath, &sk, &err), -1);
		char *mode = xasprintf("mode %04o", (unsigned)cases[i].mode);
		char *fix = xasprintf("chmod 600 %s", kpath);
		ck_assert_msg(strstr(err.msg, mode) && strstr(err.msg, fix) && strstr(err.msg, cases[i].who),
			      "%s", err.msg);
		free(mode), free(fix);
	}
	ck_assert_int_eq(chmod(kpath, 0400), 0);
	ck_assert_msg(key_secret_load(kpath, &sk, &err) == 0, "%s", err.msg);
	key_secret_release(&sk);
	free(kpath);
}
END_TEST

static void write_secret(const char *name, const char *text)
{
	test_write_str(dir, name, text);
	char *path = test_path(dir, name);
	ck_assert_int_eq(chmod(path, 0600), 0);
	free(path);
}

START_TEST(secret_damaged_refused)
{
	struct key_public a, b;
	struct hil_err err;
	char *apath, *bpath;
	ck_assert(key_new(dir, "alice", &a, &apath, NULL, &err) == 0);
	ck_assert(key_new(dir, "bob", &b, &bpath, NULL, &err) == 0);
	struct key_secret sk;
	ck_assert(key_secret_load(apath, &sk, &err) == 0);
	/* alice's seed with bob's public half: refused. */
	memcpy(sk.sk + 32, b.pk, 32);
	char b64[200];
	sodium_bin2base64(b64, sizeof b64, sk.sk, sizeof sk.sk, sodium_base64_VARIANT_ORIGINAL);
	char *pieced = xasprintf("alice ed25519-secret %s\n", b64);
	write_secret("pieced.key", pieced);
	char *path = test_path(dir, "pieced.key");
	ck_assert_int_eq(key_secret_load(path, &sk, &err), -1);
	ck_assert_msg(strstr(err.msg, "pieced.key:1:") && strstr(err.msg, "public half"), "%s", err.msg);
	free(path);

	/* A public line where a secret one belongs; two lines; a directory. */
	write_secret("pub-as-secret.key", "alice ed25519 bT1UlwXW0xy7DSvJNigd4zNMbYTviSK1bM28keauZj0=\n");
	path = test_path(dir, "pub-as-secret.key");
	ck_assert_int_eq(key_secret_load(path, &sk, &err), -1);
	ck_assert_msg(strstr(err.msg, "expected key type 'ed25519-secret'"), "%s", err.msg);
	free(path);
	size_t len;
	char *good = (char *)test_read(apath, &len);
	char *twice = xasprintf("%s%s", good, good);
	write_secret("twice.key", twice);
	path = test_path(dir, "twice.key");
	ck_assert_int_eq(key_secret_load(path, &sk, &err), -1);
	ck_assert_msg(strstr(err.msg, "one line"), "%s", err.msg);
	free(path);
	ck_assert_int_eq(key_secret_load(dir, &sk, &err), -1);
	ck_assert_msg(strstr(err.msg, "not a regular file"), "%s", err.msg);
	free(pieced), free(good), free(twice), free(apath), free(bpath);
}
END_TEST

START_TEST(keys_file)
{
	struct keyring r;
	struct hil_err err;
	keyring_init(&r);
	const char *text = "# the lab's contributors\n"
			   "\n"
			   "alice ed25519 bT1UlwXW0xy7DSvJNigd4zNMbYTviSK1bM28keauZj0=\r\n"
			   "   # indented comment\n"
			   "bob\ted25519   AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=  \n";
	ck_assert_msg(keyring_add_text(&r, "keys", text, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_ptr_nonnull(keyring_find(&r, "alice"));
	ck_assert_uint_eq(keyring_find(&r, "bob")->pk[31], 31);
	ck_assert_ptr_null(keyring_find(&r, "carol"));
	keyring_release(&r);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "# ok\nalice ed25519\n", "keys:2: expected 'ID ed25519 BASE64', found 2 words" },
		{ "alice ed25519 AAAA extra\n", "keys:1: expected 'ID ed25519 BASE64', found more than three words" },
		{ "\n\nalice rsa bT1UlwXW0xy7DSvJNigd4zNMbYTviSK1bM28keauZj0=\n", "keys:3: expected key type 'ed25519'" },
		{ "alice ed25519 not*base64\n", "keys:1: the ed25519 key of 'alice' is not 32 bytes of base64" },
		{ "alice ed25519 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", "keys:1: the ed25519 key of 'alice' is not 32 bytes" },
		{ "Alice ed25519 bT1UlwXW0xy7DSvJNigd4zNMbYTviSK1bM28keauZj0=\n", "keys:1: contributor id 'Alice'" },
		{ "alice ed25519 bT1UlwXW0xy7DSvJNigd4zNMbYTviSK1bM28keauZj0=\n#\n"
		  "alice ed25519 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		  "keys:3: contributor 'alice' has a key already" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		keyring_init(&r);
		ck_assert_msg(keyring_add_text(&r, "keys", bad[i].text, &err) == -1, "case %zu accepted", i);
		ck_assert_msg(!strncmp(err.msg, bad[i].want, strlen(bad[i].want)), "case %zu: %s", i, err.msg);
		keyring_release(&r);
	}

	/* From a file: errors name it. */
	test_write_str(dir, "lab.keys", "alice ed25519 AAAA\n");
	char *path = test_path(dir, "lab.keys");
	keyring_init(&r);
	ck_assert_int_eq(keyring_load(&r, path, &err), -1);
	char *want = xasprintf("%s:1: ", path);
	ck_assert_msg(!strncmp(err.msg, want, strlen(want)), "%s", err.msg);
	keyring_release(&r);
	free(want), free(path);
	path = test_path(dir, "missing.keys");
	ck_assert_int_eq(keyring_load(&r, path, &err), -1);
	ck_assert_msg(strstr(err.msg, "cannot open"), "%s", err.msg);
	free(path);
}
END_TEST

START_TEST(default_dir)
{
	struct hil_err err;
	char *home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	setenv("XDG_CONFIG_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	char *d = key_default_dir(&err);
	ck_assert_str_eq(d, "/xdg/hilrun");
	free(d);
	setenv("XDG_CONFIG_HOME", "relative", 1); /* not absolute: ignored, as the XDG spec says */
	d = key_default_dir(&err);
	ck_assert_str_eq(d, "/home/u/.config/hilrun");
	free(d);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("HOME");
	ck_assert_ptr_null(key_default_dir(&err));
	ck_assert_msg(strstr(err.msg, "--dir"), "%s", err.msg);
	if (home)
		setenv("HOME", home, 1);
	free(home);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("keys");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, new_pair_signs_and_verifies);
	tcase_add_test(tc, never_overwrites);
	tcase_add_test(tc, contributor_ids);
	tcase_add_test(tc, secret_readable_by_others_refused);
	tcase_add_test(tc, secret_damaged_refused);
	tcase_add_test(tc, keys_file);
	tcase_add_test(tc, default_dir);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
