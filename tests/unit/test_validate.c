/* test_validate: the validator the results server and hilrun upload
 * --dry-run share, on a real run directory (tests/fixtures/runs) packed
 * and signed with real keys: the valid bundle; each way of breaking it
 * (signature, contributor, record, artifacts, images, schema, card,
 * limits, hostile entries), each giving its own code and nothing else;
 * every error reported at once; the findings as JSON. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "testutil.h"
#include "validate.h"

static char *dir;
static struct key_secret alice, bob;
static struct keyring keys; /* alice's and bob's public keys */
static struct catalog cat;
static struct bundle run;   /* the fixture run: run.json and ten artifacts */

static void load_key(const char *id, struct key_secret *sk)
{
	struct hil_err err;
	struct key_public pub;
	char *kpath;
	ck_assert_msg(key_new(dir, id, &pub, &kpath, NULL, &err) == 0, "%s", err.msg);
	ck_assert_msg(key_secret_load(kpath, sk, &err) == 0, "%s", err.msg);
	ck_assert_msg(keyring_add(&keys, &pub, &err) == 0, "%s", err.msg);
	free(kpath);
}

static void setup(void)
{
	struct hil_err err;
	dir = test_tmpdir();
	keyring_init(&keys);
	load_key("alice", &alice);
	load_key("bob", &bob);
	char *cards = test_path(test_source_dir(), "cards");
	catalog_init(&cat);
	ck_assert_msg(catalog_load_cards(&cat, cards, &err) == 0, "%s", err.msg);
	free(cards);
	char *path = xasprintf("%s/runs/std-vga-bios-post", test_fixtures_dir());
	struct findings f;
	findings_init(&f);
	bundle_init(&run);
	ck_assert_uint_eq(bundle_from_dir(path, NULL, &run, &f), 0);
	findings_release(&f);
	free(path);
}

static void teardown(void)
{
	bundle_release(&run);
	catalog_release(&cat);
	keyring_release(&keys);
	key_secret_release(&alice);
	key_secret_release(&bob);
	test_rmdir(dir);
	free(dir);
}

static struct bundle_file *get(struct bundle *b, const char *name)
{
	struct bundle_file *x = (struct bundle_file *)bundle_get(b, name);
	ck_assert_msg(x != NULL, "no %s in the bundle", name);
	return x;
}

static void replace(struct bundle *b, const char *name, const void *data, size_t len)
{
	struct bundle_file *x = get(b, name);
	free(x->data);
	x->data = xmalloc(len + 1);
	memcpy(x->data, data, len);
	x->data[len] = 0;
	x->len = len;
}

static void drop(struct bundle *b, const char *name)
{
	struct bundle_file *x = get(b, name);
	free(x->name);
	free(x->data);
	*x = b->v[--b->n];
}

/* run.json edited as JSON: fn changes it, it is written back. */
static void edit_record(struct bundle *b, void (*fn)(json_t *rec))
{
	struct bundle_file *x = get(b, "run.json");
	json_t *rec = json_loadb((const char *)x->data, x->len, 0, NULL);
	ck_assert_ptr_nonnull(rec);
	fn(rec);
	char *text = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
	replace(b, "run.json", text, strlen(text));
	free(text);
	json_decref(rec);
}

static void pack(const struct bundle *b, const struct key_secret *sk, struct strbuf *tar)
{
	struct hil_err err;
	ck_assert_msg(bundle_pack(b, sk, tar, &err) == 0, "%s", err.msg);
}

/* The codes of f, space-separated, errors and warnings in order. */
static char *codes(const struct findings *f)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < f->n; i++)
		sb_addf(&sb, "%s%s", i ? " " : "", f->v[i].code);
	return sb_detach(&sb);
}

/* Validate tar against alice's and bob's keys and the cards; the codes
 * found must be want exactly. */
static void expect(const struct strbuf *tar, const struct bundle_limits *lim, const char *want,
		   struct validated *v)
{
	struct findings f;
	findings_init(&f);
	size_t nerr = validate_bundle(tar->buf, tar->len, &keys, &cat, lim, &f, v);
	char *got = codes(&f);
	char *text = findings_text(&f, "  ");
	ck_assert_msg(!strcmp(got, want), "expected [%s], got [%s]:\n%s", want, got, text);
	ck_assert_uint_eq(nerr, findings_errors(&f));
	free(got), free(text);
	findings_release(&f);
}

/* pack b as sk, validate, expect want. */
static void check(const struct bundle *b, const struct key_secret *sk, const char *want)
{
	struct strbuf tar = STRBUF_INIT;
	pack(b, sk, &tar);
	expect(&tar, NULL, want, NULL);
	sb_release(&tar);
}

/* Read a packed tar back, let fn change its files, write it again as is
 * (not re-signed). */
static void repack(struct strbuf *tar, void (*fn)(struct bundle *b))
{
	struct bundle b;
	struct findings f;
	struct hil_err err;
	bundle_init(&b), findings_init(&f);
	ck_assert_uint_eq(bundle_read(tar->buf, tar->len, NULL, &b, &f), 0);
	fn(&b);
	sb_release(tar);
	ck_assert_msg(bundle_write_tar(&b, tar, &err) == 0, "%s", err.msg);
	bundle_release(&b), findings_release(&f);
}

START_TEST(valid_bundle)
{
	struct strbuf tar = STRBUF_INIT;
	struct validated v;
	pack(&run, &alice, &tar);
	expect(&tar, NULL, "", &v);
	ck_assert_str_eq(v.contributor, "alice");
	ck_assert_str_eq(v.run_id, "20261204T173310Z-std-vga-seabios-bios-post-default-2b0a");
	ck_assert_str_eq(v.card, "std-vga");
	ck_assert_uint_eq(v.artifacts, 10);
	ck_assert_uint_eq(v.bytes, tar.len);
	/* bob's run is bob's. */
	sb_release(&tar);
	pack(&run, &bob, &tar);
	expect(&tar, NULL, "", &v);
	ck_assert_str_eq(v.contributor, "bob");
	sb_release(&tar);
}
END_TEST

static void flip_signature(struct bundle *b)
{
	struct bundle_file *sig = get(b, "manifest.sig");
	sig->data[5] = sig->data[5] == 'A' ? 'B' : 'A';
}

/* The manifest says alice, the signature is bob's. */
static void claim_alice(struct bundle *b)
{
	struct bundle_file *man = get(b, "manifest.json");
	char *p = strstr((char *)man->data, "\"contributor\":\"bob\"");
	ck_assert_ptr_nonnull(p);
	char *text = xasprintf("%.*s\"contributor\":\"alice\"%s", (int)(p - (char *)man->data),
			       (char *)man->data, p + strlen("\"contributor\":\"bob\""));
	replace(b, "manifest.json", text, strlen(text));
	free(text);
}

static void garble_signature(struct bundle *b)
{
	replace(b, "manifest.sig", "c2lnbmF0dXJl\n", 13);
}

static void no_signature(struct bundle *b)
{
	drop(b, "manifest.sig");
}

START_TEST(bad_signature)
{
	static const struct {
		void (*fn)(struct bundle *);
		const char *want;
	} cases[] = {
		{ flip_signature, "signature-invalid" },
		{ claim_alice, "signature-invalid" },
		{ garble_signature, "signature-malformed" },
		{ no_signature, "signature-missing" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct strbuf tar = STRBUF_INIT;
		pack(&run, &bob, &tar);
		repack(&tar, cases[i].fn);
		expect(&tar, NULL, cases[i].want, NULL);
		sb_release(&tar);
	}
}
END_TEST

START_TEST(unknown_contributor)
{
	struct key_secret carol;
	struct hil_err err;
	struct key_public pub;
	char *kpath;
	ck_assert(key_new(dir, "carol", &pub, &kpath, NULL, &err) == 0);
	ck_assert(key_secret_load(kpath, &carol, &err) == 0);
	check(&run, &carol, "contributor-unknown");
	/* Known, then revoked: the keys file no longer has the line. */
	struct keyring only_bob;
	keyring_init(&only_bob);
	ck_assert(keyring_add(&only_bob, keyring_find(&keys, "bob"), &err) == 0);
	struct strbuf tar = STRBUF_INIT;
	pack(&run, &alice, &tar);
	struct findings f;
	findings_init(&f);
	ck_assert_uint_eq(validate_bundle(tar.buf, tar.len, &only_bob, &cat, NULL, &f, NULL), 1);
	ck_assert_str_eq(f.v[0].code, "contributor-unknown");
	ck_assert_ptr_nonnull(strstr(f.v[0].message, "'alice'"));
	findings_release(&f);
	sb_release(&tar);
	keyring_release(&only_bob);
	key_secret_release(&carol);
	free(kpath);
}
END_TEST

static void record_says_bob(json_t *rec)
{
	json_object_set_new(rec, "contributor", json_string("bob"));
}

START_TEST(record_contributor_not_key_owner)
{
	edit_record(&run, record_says_bob);
	check(&run, &alice, "contributor-mismatch");
	check(&run, &bob, "");
}
END_TEST

static void flip_post_png_byte(struct bundle *b)
{
	get(b, "post.png")->data[100] ^= 0x01;
}

START_TEST(tampered_artifact)
{
	/* After signing: not what was signed, not what the record lists. */
	struct strbuf tar = STRBUF_INIT;
	pack(&run, &alice, &tar);
	repack(&tar, flip_post_png_byte);
	expect(&tar, NULL, "file-sha256 artifact-sha256", NULL);
	sb_release(&tar);
	/* Before signing: signed as it is, but not what the record lists. */
	flip_post_png_byte(&run);
	check(&run, &alice, "artifact-sha256");
}
END_TEST

START_TEST(artifact_missing_extra_wrong_size)
{
	drop(&run, "serial.log");
	check(&run, &alice, "artifact-missing");
	bundle_add(&run, "extra.txt", "not from the run\n", 17);
	check(&run, &alice, "artifact-missing artifact-unlisted");
	drop(&run, "extra.txt");
	bundle_add(&run, "serial.log", "short\n", 6);
	check(&run, &alice, "artifact-size");
}
END_TEST

static void drop_qemu_log(struct bundle *b)
{
	drop(b, "qemu.log");
}

static void add_unsigned(struct bundle *b)
{
	bundle_add(b, "smuggled.txt", "x", 1);
}

START_TEST(files_against_manifest)
{
	struct strbuf tar = STRBUF_INIT;
	pack(&run, &alice, &tar);
	repack(&tar, drop_qemu_log);
	expect(&tar, NULL, "file-missing artifact-missing", NULL);
	sb_release(&tar);
	pack(&run, &alice, &tar);
	repack(&tar, add_unsigned);
	expect(&tar, NULL, "file-unsigned artifact-unlisted", NULL);
	sb_release(&tar);
}
END_TEST

START_TEST(image_magic)
{
	replace(&run, "post.png", "GIF89a not a png", 16);
	struct strbuf tar = STRBUF_INIT;
	pack(&run, &alice, &tar);
	struct findings f;
	findings_init(&f);
	validate_bundle(tar.buf, tar.len, &keys, &cat, NULL, &f, NULL);
	const struct finding *bad = findings_find(&f, "bad-image");
	ck_assert_ptr_nonnull(bad);
	ck_assert_str_eq(bad->file, "post.png");
	ck_assert_str_eq(bad->message, "named .png but not a PNG");
	findings_release(&f);
	sb_release(&tar);

	/* JPEG frames (capture devices) by their magic, in any case. */
	bundle_release(&run);
	bundle_init(&run);
	char *path = xasprintf("%s/runs/std-vga-bios-post", test_fixtures_dir());
	findings_init(&f);
	bundle_from_dir(path, NULL, &run, &f);
	findings_release(&f);
	free(path);
	bundle_add(&run, "frame.JPG", "\xff\xd8\xff\xe0 jfif", 9);
	bundle_add(&run, "other.jpeg", "\x89PNG", 4);
	check(&run, &alice, "artifact-unlisted artifact-unlisted bad-image");
}
END_TEST

static void schema_2(json_t *rec)
{
	json_object_set_new(rec, "schema", json_string("hilrun-run/2.0"));
	json_object_del(rec, "verdict"); /* not judged: another major's fields are its own */
}

static void schema_1_9(json_t *rec)
{
	json_object_set_new(rec, "schema", json_string("hilrun-run/1.9"));
}

static void no_verdict_no_stages(json_t *rec)
{
	json_object_del(rec, "verdict");
	json_object_del(rec, "stages");
}

static void cut_record(struct bundle *b)
{
	replace(b, "run.json", "{\"schema\": ", 11);
}

START_TEST(schema_and_fields)
{
	struct bundle_file *rec = get(&run, "run.json");
	char *orig = xstrndup((const char *)rec->data, rec->len);
	edit_record(&run, schema_2);
	check(&run, &alice, "record-schema");
	replace(&run, "run.json", orig, strlen(orig));
	edit_record(&run, schema_1_9);
	check(&run, &alice, "");
	replace(&run, "run.json", orig, strlen(orig));
	edit_record(&run, no_verdict_no_stages);
	check(&run, &alice, "record-missing-field record-missing-field");
	replace(&run, "run.json", orig, strlen(orig));
	struct strbuf tar = STRBUF_INIT;
	pack(&run, &alice, &tar);
	repack(&tar, cut_record);
	expect(&tar, NULL, "file-size record-bad-json", NULL);
	sb_release(&tar);
	free(orig);
}
END_TEST

static void unknown_card(json_t *rec)
{
	json_object_set_new(json_object_get(rec, "card"), "id", json_string("mystery-gpu"));
}

static void other_pci_id(json_t *rec)
{
	json_object_set_new(json_object_get(rec, "card"), "pci_id", json_string("10de:06e4"));
}

START_TEST(card_known_or_flagged)
{
	struct bundle_file *rec = get(&run, "run.json");
	char *orig = xstrndup((const char *)rec->data, rec->len);
	edit_record(&run, unknown_card);
	struct strbuf tar = STRBUF_INIT;
	pack(&run, &alice, &tar);
	struct findings f;
	findings_init(&f);
	ck_assert_uint_eq(validate_bundle(tar.buf, tar.len, &keys, &cat, NULL, &f, NULL), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.v[0].code, "card-unknown");
	ck_assert_int_eq(f.v[0].level, FINDING_WARNING);
	json_t *j = findings_json(&f);
	ck_assert(json_is_true(json_object_get(j, "ok")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "warnings")), 1);
	json_decref(j);
	findings_release(&f);
	/* No catalog: the card is not looked up. */
	findings_init(&f);
	ck_assert_uint_eq(validate_bundle(tar.buf, tar.len, &keys, NULL, NULL, &f, NULL), 0);
	ck_assert_uint_eq(f.n, 0);
	findings_release(&f);
	sb_release(&tar);
	replace(&run, "run.json", orig, strlen(orig));
	edit_record(&run, other_pci_id);
	check(&run, &alice, "card-pci-id-differs");
	free(orig);
}
END_TEST

static void evil_run_id(json_t *rec)
{
	json_object_set_new(rec, "run_id", json_string("../../etc"));
}

START_TEST(run_id_is_a_safe_name)
{
	edit_record(&run, evil_run_id);
	check(&run, &alice, "run-id-bad");
}
END_TEST

START_TEST(size_limits)
{
	struct strbuf tar = STRBUF_INIT;
	pack(&run, &alice, &tar);
	/* calibration.png is 6846 bytes, run.json 9958: both over 6000 */
	struct bundle_limits lim = bundle_limits_default;
	lim.max_file = 6000;
	expect(&tar, &lim, "file-too-big file-too-big record-missing file-missing", NULL);
	lim = bundle_limits_default;
	lim.max_total = 20000; /* the files add up to about 36 KB */
	struct findings f;
	findings_init(&f);
	ck_assert_uint_gt(validate_bundle(tar.buf, tar.len, &keys, &cat, &lim, &f, NULL), 0);
	ck_assert_ptr_nonnull(findings_find(&f, "bundle-too-big"));
	findings_release(&f);
	sb_release(&tar);
}
END_TEST

static void pretty_manifest(struct bundle *b)
{
	struct bundle_file *man = get(b, "manifest.json");
	json_t *m = json_loadb((const char *)man->data, man->len, 0, NULL);
	char *text = json_dumps(m, JSON_INDENT(1) | JSON_SORT_KEYS);
	replace(b, "manifest.json", text, strlen(text));
	/* re-signed: the signature is good, the spelling is not canonical */
	char sig[BUNDLE_SIG_TEXT];
	bundle_sign(&alice, text, strlen(text), sig);
	replace(b, "manifest.sig", sig, strlen(sig));
	free(text);
	json_decref(m);
}

START_TEST(manifest_must_be_canonical)
{
	struct strbuf tar = STRBUF_INIT;
	pack(&run, &alice, &tar);
	repack(&tar, pretty_manifest);
	expect(&tar, NULL, "manifest-not-canonical", NULL);
	sb_release(&tar);
}
END_TEST

static void add_traversal(struct bundle *b)
{
	bundle_add(b, "../escape.txt", "x", 1);
}

START_TEST(hostile_entry_and_every_error)
{
	/* A hostile name, a tampered frame, a record naming bob, a fake PNG:
	 * every one reported in one answer. */
	edit_record(&run, record_says_bob);
	replace(&run, "text.png", "not a png", 9);
	struct strbuf tar = STRBUF_INIT;
	pack(&run, &alice, &tar);
	repack(&tar, add_traversal);
	expect(&tar, NULL, "name-traversal contributor-mismatch artifact-size bad-image", NULL);
	struct findings f;
	findings_init(&f);
	validate_bundle(tar.buf, tar.len, &keys, &cat, NULL, &f, NULL);
	json_t *j = findings_json(&f);
	ck_assert(json_is_false(json_object_get(j, "ok")));
	json_t *errs = json_object_get(j, "errors");
	ck_assert_uint_eq(json_array_size(errs), 4);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(errs, 0), "file")),
			 "../escape.txt");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(errs, 0), "code")),
			 "name-traversal");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(json_array_get(errs, 0), "message")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(errs, 1), "file")),
			 "run.json");
	json_decref(j);
	findings_release(&f);
	sb_release(&tar);
}
END_TEST

START_TEST(findings_capped)
{
	struct findings f;
	findings_init(&f);
	for (int i = 0; i < FINDINGS_MAX + 50; i++)
		findings_add(&f, FINDING_ERROR, "name-slash", "a/b", "a path with '/'");
	ck_assert_uint_eq(f.n, FINDINGS_MAX);
	ck_assert_uint_eq(findings_errors(&f), FINDINGS_MAX + 1);
	json_t *j = findings_json(&f);
	json_t *errs = json_object_get(j, "errors");
	ck_assert_uint_eq(json_array_size(errs), FINDINGS_MAX + 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(errs, FINDINGS_MAX), "code")),
			 "too-many-findings");
	json_decref(j);
	char *text = findings_text(&f, "");
	ck_assert_ptr_nonnull(strstr(text, "error name-slash: a/b: a path with '/'\n"));
	ck_assert_ptr_nonnull(strstr(text, "error too-many-findings: 50 more"));
	free(text);
	findings_release(&f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("validate");
	tcase_add_unchecked_fixture(tc, test_tmproot_setup, test_tmproot_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, valid_bundle);
	tcase_add_test(tc, bad_signature);
	tcase_add_test(tc, unknown_contributor);
	tcase_add_test(tc, record_contributor_not_key_owner);
	tcase_add_test(tc, tampered_artifact);
	tcase_add_test(tc, artifact_missing_extra_wrong_size);
	tcase_add_test(tc, files_against_manifest);
	tcase_add_test(tc, image_magic);
	tcase_add_test(tc, schema_and_fields);
	tcase_add_test(tc, card_known_or_flagged);
	tcase_add_test(tc, run_id_is_a_safe_name);
	tcase_add_test(tc, size_limits);
	tcase_add_test(tc, manifest_must_be_canonical);
	tcase_add_test(tc, hostile_entry_and_every_error);
	tcase_add_test(tc, findings_capped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
