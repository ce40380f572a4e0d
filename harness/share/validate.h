/* validate: the checks an upload bundle must pass, the same code for the
 * results server (on receipt) and for hilrun upload --dry-run (before
 * sending).
 *
 * Given the bundle's bytes, the contributors' public keys and
 * the card catalog, it reports every problem as a finding (findings.h;
 * codes in docs/upload.md):
 *   - the tar itself: names, entry types, the limits (bundle_read);
 *   - manifest.json: canonical, format hilrun-bundle/1, well-formed;
 *   - manifest.sig: the Ed25519 signature of the manifest by the key of
 *     the contributor it names (a contributor with no key is rejected);
 *   - the files against the signed manifest: each present, with its size
 *     and SHA-256, and none that is not signed;
 *   - run.json: schema hilrun-run/1.N (another major is refused), the
 *     required fields, a run id that is a safe directory name and the
 *     manifest's, the record's "contributor" (if it names one) the key's
 *     owner; every artifact it lists present with its size and SHA-256,
 *     and no file it does not list;
 *   - the card: known in the catalog, or a warning card-unknown;
 *   - the content of .png and .jpg/.jpeg files: their magic numbers.
 * A file changed after signing breaks both the manifest and run.json
 * checks (file-sha256 and artifact-sha256); one changed after the run but
 * before signing breaks only the latter.
 *
 * Ownership: everything is borrowed; the findings are added to f. */
#ifndef HIL_VALIDATE_H
#define HIL_VALIDATE_H

#include <stddef.h>
#include "bundle.h"
#include "catalog.h"
#include "findings.h"
#include "keys.h"

/* What an accepted bundle is (filled as far as it could be read). */
struct validated {
	char contributor[KEY_ID_MAX + 1];
	char run_id[BUNDLE_NAME_MAX + 1];
	char card[64];
	size_t bytes;      /* of the bundle */
	size_t artifacts;  /* files besides manifest.json, manifest.sig, run.json */
};

/* Check a bundle. cat may be NULL (the card is then not looked up); lim
 * NULL means bundle_limits_default; out may be NULL. Returns the number of
 * errors added to f: 0 means the upload is to be accepted. */
size_t validate_bundle(const void *data, size_t len, const struct keyring *keys,
		       const struct catalog *cat, const struct bundle_limits *lim,
		       struct findings *f, struct validated *out);

#endif
