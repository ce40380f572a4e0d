/* upload-bench: the server's work per upload, in-process: reading a bundle
 * against validating it.
 *
 *   upload-bench KEYS_FILE CARDS_DIR REPEATS BUNDLE...
 *
 * For each bundle (a tar from hilrun upload --dry-run --save) prints one
 * JSON line {"bundle", "bytes", "files", "read_ms", "validate_ms",
 * "sha256_ms", "verify_ms"}: the mean over REPEATS of bundle_read
 * (unpacking the tar into memory: what any server accepting the bundle
 * must do) and of validate_bundle (what hilrun serve does on receipt: the
 * same read, then the manifest, the Ed25519 signature, every SHA-256, the
 * record, the card, the frames' headers), each after one untimed call; and
 * two of the validator's parts alone, to tell where its time goes: the
 * SHA-256 of every file once (it checks each against the manifest and
 * again against run.json) and the signature's verification. A bundle that
 * does not validate is an error (exit 1): the bench times accepted
 * uploads. Used by ci/bench/upload. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "validate.h"

static double clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static size_t read_once(const char *data, size_t len)
{
	struct bundle b;
	struct findings f;
	bundle_init(&b), findings_init(&f);
	size_t errors = bundle_read(data, len, NULL, &b, &f);
	size_t n = errors ? 0 : b.n;
	bundle_release(&b), findings_release(&f);
	return n;
}

static size_t validate_once(const char *data, size_t len, const struct keyring *keys,
			    const struct catalog *cat, char **text, struct validated *v)
{
	struct findings f;
	findings_init(&f);
	size_t errors = validate_bundle(data, len, keys, cat, NULL, &f, v);
	if (text)
		*text = findings_text(&f, "  ");
	findings_release(&f);
	return errors;
}

/* Two parts of the validator's work on a valid bundle, alone, each the
 * mean of repeats, as JSON fields into out: the SHA-256 of every file
 * once, and the check of the signature by key. */
static void parts(const char *data, size_t len, const struct key_public *key, int repeats,
		  char *out, size_t n)
{
	struct bundle b;
	struct findings f;
	bundle_init(&b), findings_init(&f);
	bundle_read(data, len, NULL, &b, &f);
	const struct bundle_file *man = bundle_get(&b, BUNDLE_MANIFEST);
	const struct bundle_file *sig = bundle_get(&b, BUNDLE_SIGNATURE);
	unsigned char bin[KEY_SIG_BYTES];
	size_t got;
	sodium_base642bin(bin, sizeof bin, (const char *)sig->data, sig->len - 1, NULL, &got, NULL,
			  sodium_base64_VARIANT_ORIGINAL);
	char sum[65];
	double t0 = clock_ms();
	for (int r = 0; r < repeats; r++)
		for (size_t i = 0; i < b.n; i++)
			sha256_mem(b.v[i].data, b.v[i].len, sum);
	double t1 = clock_ms();
	int ok = 0;
	for (int r = 0; r < repeats; r++)
		ok += key_verify(key, man->data, man->len, bin);
	double t2 = clock_ms();
	snprintf(out, n, "\"sha256_ms\": %.4f, \"verify_ms\": %.4f, \"verified\": %s",
		 (t1 - t0) / repeats, (t2 - t1) / repeats, ok == repeats ? "true" : "false");
	bundle_release(&b), findings_release(&f);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: upload-bench KEYS_FILE CARDS_DIR REPEATS BUNDLE...\n");
		return 2;
	}
	struct hil_err err;
	struct keyring keys;
	struct catalog cat;
	keyring_init(&keys);
	catalog_init(&cat);
	if (keyring_load(&keys, argv[1], &err) < 0 || catalog_load_cards(&cat, argv[2], &err) < 0) {
		fprintf(stderr, "upload-bench: %s\n", err.msg);
		return 2;
	}
	int repeats = atoi(argv[3]);
	if (repeats < 1)
		repeats = 1;
	int rc = 0;
	for (int i = 4; i < argc && rc == 0; i++) {
		size_t len;
		char *data = read_file(argv[i], SIZE_MAX, &len, &err), *why = NULL;
		if (!data) {
			fprintf(stderr, "upload-bench: %s\n", err.msg);
			rc = 2;
			break;
		}
		size_t files = read_once(data, len);
		struct validated v;
		if (!files || validate_once(data, len, &keys, &cat, &why, &v)) {
			fprintf(stderr, "upload-bench: %s does not validate:\n%s", argv[i], why ? why : "");
			rc = 1;
		} else {
			double t0 = clock_ms();
			for (int r = 0; r < repeats; r++)
				read_once(data, len);
			double t1 = clock_ms();
			for (int r = 0; r < repeats; r++)
				validate_once(data, len, &keys, &cat, NULL, NULL);
			double t2 = clock_ms();
			char more[128];
			parts(data, len, keyring_find(&keys, v.contributor), repeats, more, sizeof more);
			printf("{\"bundle\": \"%s\", \"bytes\": %zu, \"files\": %zu, \"read_ms\": %.4f, \"validate_ms\": %.4f, %s}\n",
			       argv[i], len, files, (t1 - t0) / repeats, (t2 - t1) / repeats, more);
		}
		free(why);
		free(data);
	}
	catalog_release(&cat);
	keyring_release(&keys);
	return rc;
}
