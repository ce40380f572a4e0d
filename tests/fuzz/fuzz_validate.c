/* fuzz_validate: the record validator (share/validate.c, validate_bundle)
 * given bundles whose signature holds, so that every input reaches the
 * checks of the manifest, the record, the card and the artifacts (a
 * fuzzer cannot forge Ed25519: fuzz_bundle covers the raw tar).
 *
 * The input is a list of files, each a line "@@@ NAME" and then its bytes
 * up to the next "\n@@@ " or the end:
 *
 *   @@@ run.json
 *   {"schema": "hilrun-run/1.3", ...}
 *   @@@ post.png
 *   <bytes>
 *
 * The target packs them as hilrun upload does: with no manifest.json
 * among them, the canonical manifest of the files (bundle_manifest) for
 * contributor "fuzz" and run.json's run_id; with no manifest.sig, the
 * manifest signed by a fixed key, which the keyring holds for "fuzz" and
 * for the contributor the manifest names. Then validate_bundle, against
 * the cards of the source tree, with the server's limits, and the
 * findings as the server answers them. Corpus: tests/fuzz/corpus/validate/
 * (tests/fuzz/README.md). */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "fuzz.h"
#include "validate.h"

#ifndef HIL_SOURCE_DIR
#error "HIL_SOURCE_DIR must name the source tree"
#endif

#define MARK "@@@ "
#define FUZZ_MAX_FILES (BUNDLE_MAX_ENTRIES + 2)

static struct catalog cat;
static struct key_secret key; /* "fuzz"'s, from a fixed seed */

static void setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	struct hil_err err;
	fuzz_check(keys_sodium_init(&err) == 0, "sodium_init");
	unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
	memset(seed, 0x5e, sizeof seed);
	crypto_sign_seed_keypair(pk, key.sk, seed);
	strcpy(key.id, "fuzz");
	const char *src = getenv("HILRUN_SOURCE_DIR");
	char *cards = xasprintf("%s/cards", src && *src ? src : HIL_SOURCE_DIR);
	catalog_init(&cat);
	if (catalog_load_cards(&cat, cards, &err) < 0) {
		fprintf(stderr, "fuzz_validate: %s\n", err.msg);
		abort();
	}
	free(cards);
}

/* The input's files into b: names as given (the reader judges them). */
static void split(const uint8_t *data, size_t size, struct bundle *b)
{
	const char *p = (const char *)data, *end = p + size;
	size_t mark = strlen(MARK);
	if (size < mark || memcmp(p, MARK, mark))
		return;
	while (p < end && b->n < FUZZ_MAX_FILES) {
		p += mark; /* at a mark */
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return;
		char *name = xstrndup(p, (size_t)(nl - p));
		const char *body = nl + 1;
		const char *next = memmem(body, (size_t)(end - body), "\n" MARK, mark + 1);
		size_t len = (size_t)((next ? next : end) - body);
		bundle_add(b, name, body, len);
		free(name);
		if (!next)
			return;
		p = next + 1;
	}
}

static char *run_id_of(const struct bundle_file *rec)
{
	json_t *j = rec ? json_loadb((const char *)rec->data, rec->len, 0, NULL) : NULL;
	const char *id = json_string_value(json_object_get(j, "run_id"));
	char *copy = xstrdup(id ? id : "no-run-id");
	json_decref(j);
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	struct bundle b;
	bundle_init(&b);
	split(data, size, &b);

	/* manifest.json: the input's, or the one the packer would write */
	if (!bundle_get(&b, BUNDLE_MANIFEST)) {
		char *run_id = run_id_of(bundle_get(&b, BUNDLE_RECORD));
		char *m = bundle_manifest(&b, key.id, run_id);
		bundle_add(&b, BUNDLE_MANIFEST, m, strlen(m));
		free(m);
		free(run_id);
	}
	const struct bundle_file *man = bundle_get(&b, BUNDLE_MANIFEST);
	struct keyring keys;
	struct key_public pub;
	struct hil_err err;
	keyring_init(&keys);
	key_secret_public(&key, &pub);
	keyring_add(&keys, &pub, &err);
	json_t *mj = json_loadb((const char *)man->data, man->len, 0, NULL);
	const char *who = json_string_value(json_object_get(mj, "contributor"));
	if (who && strcmp(who, key.id) && key_id_check(who, &err) == 0) {
		strcpy(pub.id, who);
		keyring_add(&keys, &pub, &err);
	}
	json_decref(mj);
	if (!bundle_get(&b, BUNDLE_SIGNATURE)) {
		char sig[BUNDLE_SIG_TEXT];
		bundle_sign(&key, man->data, man->len, sig);
		bundle_add(&b, BUNDLE_SIGNATURE, sig, strlen(sig));
	}

	struct strbuf tar = STRBUF_INIT;
	if (bundle_write_tar(&b, &tar, &err) == 0) {
		struct findings f;
		struct validated v;
		findings_init(&f);
		size_t errors = validate_bundle(tar.buf, tar.len, &keys, &cat, NULL, &f, &v);
		fuzz_check(errors == findings_errors(&f), "validate_bundle: its count is not the findings'");
		fuzz_check(v.bytes == tar.len, "validate_bundle: the bundle's size");
		if (!errors) {
			/* accepted: what the store then relies on */
			const char *code;
			fuzz_check(!bundle_name_problem(v.run_id, BUNDLE_NAME_MAX, &code) &&
					   key_id_check(v.contributor, &err) == 0,
				   "validate_bundle accepted a run id or contributor unsafe as a directory");
		}
		fuzz_findings(&f);
		findings_release(&f);
	}
	sb_release(&tar);
	keyring_release(&keys);
	bundle_release(&b);
	return 0;
}
