/* validate: every check an upload bundle must pass (validate.h). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "record.h"
#include "validate.h"

#define E FINDING_ERROR
#define W FINDING_WARNING

static int is_sha256_hex(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* {name_key?: string, bytes: integer >= 0, sha256: 64 hex}: the digest
 * objects of the manifest and the record's artifacts. */
static int digest_ok(json_t *o, const char *name_key)
{
	json_t *bytes = json_object_get(o, "bytes");
	return json_is_object(o) && (!name_key || json_is_string(json_object_get(o, name_key))) &&
	       json_is_integer(bytes) && json_integer_value(bytes) >= 0 &&
	       is_sha256_hex(json_string_value(json_object_get(o, "sha256")));
}

/* The size and SHA-256 of file against a digest object: a finding with
 * size_code or sha_code (and what the other side is called) when not. */
static void compare_digest(const struct bundle_file *file, json_t *want, const char *size_code,
			   const char *sha_code, const char *listed_in, struct findings *f)
{
	json_int_t bytes = json_integer_value(json_object_get(want, "bytes"));
	const char *sha = json_string_value(json_object_get(want, "sha256"));
	if ((json_int_t)file->len != bytes) {
		findings_add(f, E, size_code, file->name, "%zu bytes, but %s lists %lld", file->len,
			     listed_in, (long long)bytes);
		return;
	}
	char sum[65];
	sha256_mem(file->data, file->len, sum);
	if (strcmp(sum, sha))
		findings_add(f, E, sha_code, file->name, "sha256 %s, but %s lists %s", sum, listed_in,
			     sha);
}

static int special(const char *name)
{
	return !strcmp(name, BUNDLE_MANIFEST) || !strcmp(name, BUNDLE_SIGNATURE) ||
	       !strcmp(name, BUNDLE_RECORD);
}

/* The entry of array arts whose key is name, or NULL. */
static json_t *find_entry(json_t *arts, const char *key, const char *name)
{
	size_t i;
	json_t *a;
	json_array_foreach (arts, i, a)
		if (!strcmp(json_string_value(json_object_get(a, key)) ?: "", name))
			return a;
	return NULL;
}

/* manifest.json: parsed and checked; NULL (with findings) if it cannot be
 * relied on. */
static json_t *check_manifest(const struct bundle_file *man, const struct bundle_limits *lim,
			      struct findings *f)
{
	json_error_t jerr;
	json_t *m = json_loadb((const char *)man->data, man->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!m) {
		findings_add(f, E, "manifest-bad", BUNDLE_MANIFEST, "not JSON: %d:%d: %s", jerr.line,
			     jerr.column, jerr.text);
		return NULL;
	}
	size_t errors0 = findings_errors(f);
	char *canon = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	if (!canon || strlen(canon) != man->len || memcmp(canon, man->data, man->len))
		findings_add(f, E, "manifest-not-canonical", BUNDLE_MANIFEST,
			     "not in canonical form (compact, sorted keys, no newline): the signed bytes must be the only spelling of the manifest");
	free(canon);
	const char *format = json_string_value(json_object_get(m, "format"));
	if (!format || strcmp(format, BUNDLE_FORMAT))
		findings_add(f, E, "manifest-format", BUNDLE_MANIFEST,
			     "format '%.40s': this hilrun reads %s", format ? format : "(none)",
			     BUNDLE_FORMAT);
	const char *contributor = json_string_value(json_object_get(m, "contributor"));
	struct hil_err err;
	if (!contributor)
		findings_add(f, E, "manifest-bad", BUNDLE_MANIFEST, "no contributor");
	else if (key_id_check(contributor, &err) < 0)
		findings_add(f, E, "manifest-bad", BUNDLE_MANIFEST, "%s", err.msg);
	if (!json_is_string(json_object_get(m, "run_id")))
		findings_add(f, E, "manifest-bad", BUNDLE_MANIFEST, "no run_id");
	if (!digest_ok(json_object_get(m, "run_json"), NULL))
		findings_add(f, E, "manifest-bad", BUNDLE_MANIFEST,
			     "run_json is not {bytes, sha256}");
	json_t *arts = json_object_get(m, "artifacts");
	if (!json_is_array(arts)) {
		findings_add(f, E, "manifest-bad", BUNDLE_MANIFEST, "artifacts is not an array");
	} else {
		size_t i;
		json_t *a;
		const char *prev = NULL;
		json_array_foreach (arts, i, a) {
			const char *name = json_string_value(json_object_get(a, "name")), *code;
			if (!digest_ok(a, "name")) {
				findings_add(f, E, "manifest-bad", BUNDLE_MANIFEST,
					     "artifact %zu is not {name, bytes, sha256}", i);
				prev = NULL;
				continue;
			}
			if (bundle_name_problem(name, lim->max_name, &code) || special(name))
				findings_add(f, E, "manifest-bad", BUNDLE_MANIFEST,
					     "artifact %zu has a name no bundle may hold", i);
			else if (prev && strcmp(prev, name) >= 0)
				findings_add(f, E, "manifest-bad", BUNDLE_MANIFEST,
					     "artifacts are not sorted by name, each once ('%s' after '%s')",
					     name, prev);
			prev = name;
		}
	}
	if (findings_errors(f) != errors0) {
		json_decref(m);
		return NULL;
	}
	return m;
}

/* The signature over manifest.json by the key of the contributor it names. */
static void check_signature(const struct bundle *b, const char *contributor,
			    const struct keyring *keys, struct findings *f)
{
	const struct key_public *key = keyring_find(keys, contributor);
	if (!key)
		findings_add(f, E, "contributor-unknown", NULL,
			     "no key for contributor '%s': the lab adds the line of their .pub file to its keys file",
			     contributor);
	const struct bundle_file *sig = bundle_get(b, BUNDLE_SIGNATURE);
	if (!sig) {
		findings_add(f, E, "signature-missing", NULL, "no %s", BUNDLE_SIGNATURE);
		return;
	}
	unsigned char bin[KEY_SIG_BYTES];
	size_t got = 0, n = sig->len;
	const char *end = NULL, *text = (const char *)sig->data;
	if (n && text[n - 1] == '\n')
		n--;
	if (sodium_base642bin(bin, sizeof bin, text, n, NULL, &got, &end,
			      sodium_base64_VARIANT_ORIGINAL) < 0 ||
	    got != sizeof bin || end != text + n) {
		findings_add(f, E, "signature-malformed", BUNDLE_SIGNATURE,
			     "not a base64 Ed25519 signature (%d bytes)", KEY_SIG_BYTES);
		return;
	}
	const struct bundle_file *man = bundle_get(b, BUNDLE_MANIFEST);
	if (key && !key_verify(key, man->data, man->len, bin))
		findings_add(f, E, "signature-invalid", BUNDLE_SIGNATURE,
			     "not contributor '%s''s signature of %s", contributor, BUNDLE_MANIFEST);
}

/* The files against the signed manifest. */
static void check_signed_files(const struct bundle *b, json_t *m, struct findings *f)
{
	const struct bundle_file *rec = bundle_get(b, BUNDLE_RECORD);
	if (rec)
		compare_digest(rec, json_object_get(m, "run_json"), "file-size", "file-sha256",
			       BUNDLE_MANIFEST, f);
	json_t *arts = json_object_get(m, "artifacts"), *a;
	size_t i;
	json_array_foreach (arts, i, a) {
		const char *name = json_string_value(json_object_get(a, "name"));
		const struct bundle_file *file = bundle_get(b, name);
		if (!file)
			findings_add(f, E, "file-missing", name, "signed in %s but not in the bundle",
				     BUNDLE_MANIFEST);
		else
			compare_digest(file, a, "file-size", "file-sha256", BUNDLE_MANIFEST, f);
	}
	for (i = 0; i < b->n; i++)
		if (!special(b->v[i].name) && !find_entry(arts, "name", b->v[i].name))
			findings_add(f, E, "file-unsigned", b->v[i].name, "in the bundle but not in %s",
				     BUNDLE_MANIFEST);
}

/* The card the record names: known in the catalog, or flagged. */
static void check_card(json_t *card, const struct catalog *cat, struct validated *out,
		       struct findings *f)
{
	const char *id = json_string_value(json_object_get(card, "id"));
	if (!id) {
		findings_add(f, E, "record-bad-field", BUNDLE_RECORD, "card has no id");
		return;
	}
	snprintf(out->card, sizeof out->card, "%s", id);
	if (!cat)
		return;
	const struct card *known = catalog_find_card(cat, id);
	if (!known) {
		findings_add(f, W, "card-unknown", BUNDLE_RECORD,
			     "card '%.64s' is not in the catalog: the result is kept, flagged as an unknown card",
			     id);
		return;
	}
	char pci[PCI_ID_MAX];
	const char *rec_pci = json_string_value(json_object_get(card, "pci_id"));
	pci_id(known->vendor, known->device, pci);
	if (rec_pci && strcmp(rec_pci, pci))
		findings_add(f, W, "card-pci-id-differs", BUNDLE_RECORD,
			     "card '%s' has PCI id %.16s in the record, %s in the catalog", id, rec_pci,
			     pci);
}

/* run.json's artifacts against the files of the bundle. */
static void check_artifacts(const struct bundle *b, json_t *arts, struct findings *f)
{
	if (!json_is_array(arts)) {
		findings_add(f, E, "record-bad-field", BUNDLE_RECORD, "artifacts is not an array");
		return;
	}
	size_t i;
	json_t *a;
	json_array_foreach (arts, i, a) {
		const char *path = json_string_value(json_object_get(a, "path"));
		if (!digest_ok(a, "path")) {
			findings_add(f, E, "record-bad-field", BUNDLE_RECORD,
				     "artifact %zu is not {path, bytes, sha256}", i);
			continue;
		}
		if (find_entry(arts, "path", path) != a) {
			findings_add(f, E, "record-bad-field", BUNDLE_RECORD,
				     "artifact '%.64s' is listed twice", path);
			continue;
		}
		const struct bundle_file *file = special(path) ? NULL : bundle_get(b, path);
		if (!file)
			findings_add(f, E, "artifact-missing", BUNDLE_RECORD,
				     "lists '%.64s', which the bundle does not hold", path);
		else
			compare_digest(file, a, "artifact-size", "artifact-sha256", BUNDLE_RECORD, f);
	}
	for (i = 0; i < b->n; i++)
		if (!special(b->v[i].name) && !find_entry(arts, "path", b->v[i].name))
			findings_add(f, E, "artifact-unlisted", b->v[i].name,
				     "in the bundle but not among run.json's artifacts");
}

/* run.json: schema, required fields, ids, card, artifacts. */
static void check_record(const struct bundle *b, const struct bundle_file *rec, json_t *m,
			 const struct catalog *cat, const struct bundle_limits *lim,
			 struct validated *out, struct findings *f)
{
	json_error_t jerr;
	json_t *r = json_loadb((const char *)rec->data, rec->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!r) {
		findings_add(f, E, "record-bad-json", BUNDLE_RECORD, "%d:%d: %s", jerr.line,
			     jerr.column, jerr.text);
		return;
	}
	const char *schema = json_string_value(json_object_get(r, "schema"));
	if (!record_schema_known(schema)) {
		findings_add(f, E, "record-schema", BUNDLE_RECORD,
			     "schema '%.40s': this hilrun reads %s and %s.N", schema ? schema : "(none)",
			     RECORD_SCHEMA_MAJOR, RECORD_SCHEMA_MAJOR);
		json_decref(r);
		return; /* another major: its fields are not ours to judge */
	}
	for (size_t i = 0; record_required[i]; i++)
		if (!json_object_get(r, record_required[i]))
			findings_add(f, E, "record-missing-field", BUNDLE_RECORD, "no '%s'",
				     record_required[i]);
	const char *run_id = json_string_value(json_object_get(r, "run_id")), *code;
	if (json_object_get(r, "run_id") && !run_id)
		findings_add(f, E, "record-bad-field", BUNDLE_RECORD, "run_id is not a string");
	if (run_id) {
		const char *why = bundle_name_problem(run_id, lim->max_name, &code);
		if (why)
			findings_add(f, E, "run-id-bad", BUNDLE_RECORD,
				     "run_id '%.64s' is %s: it names a directory on the server", run_id,
				     why);
		const char *signed_id = m ? json_string_value(json_object_get(m, "run_id")) : NULL;
		if (signed_id && strcmp(signed_id, run_id))
			findings_add(f, E, "run-id-mismatch", BUNDLE_RECORD,
				     "run_id '%.64s', but %s signs '%.64s'", run_id, BUNDLE_MANIFEST,
				     signed_id);
	}
	json_t *who = json_object_get(r, "contributor");
	const char *signer = m ? json_string_value(json_object_get(m, "contributor")) : NULL;
	if (who && !json_is_null(who) &&
	    (!json_is_string(who) || (signer && strcmp(json_string_value(who), signer))))
		findings_add(f, E, "contributor-mismatch", BUNDLE_RECORD,
			     "the record's contributor '%.64s' is not the key's owner '%s'",
			     json_is_string(who) ? json_string_value(who) : "(not a string)",
			     signer ? signer : "?");
	if (json_object_get(r, "card"))
		check_card(json_object_get(r, "card"), cat, out, f);
	if (json_object_get(r, "artifacts"))
		check_artifacts(b, json_object_get(r, "artifacts"), f);
	json_decref(r);
}

static int has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	return n > s && !strcasecmp(name + n - s, suffix);
}

/* A frame's bytes are what its name says. */
static void check_content(const struct bundle_file *file, struct findings *f)
{
	static const unsigned char png[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	static const unsigned char jpeg[3] = { 0xff, 0xd8, 0xff };
	if (has_suffix(file->name, ".png") && (file->len < sizeof png || memcmp(file->data, png, sizeof png)))
		findings_add(f, E, "bad-image", file->name, "named .png but not a PNG");
	if ((has_suffix(file->name, ".jpg") || has_suffix(file->name, ".jpeg")) &&
	    (file->len < sizeof jpeg || memcmp(file->data, jpeg, sizeof jpeg)))
		findings_add(f, E, "bad-image", file->name, "named .jpg but not a JPEG");
}

size_t validate_bundle(const void *data, size_t len, const struct keyring *keys,
		       const struct catalog *cat, const struct bundle_limits *lim,
		       struct findings *f, struct validated *out)
{
	struct validated local;
	if (!out)
		out = &local;
	memset(out, 0, sizeof *out);
	out->bytes = len;
	if (!lim)
		lim = &bundle_limits_default;
	size_t errors0 = findings_errors(f);
	struct hil_err err;
	if (keys_sodium_init(&err) < 0) {
		findings_add(f, E, "internal", NULL, "%s", err.msg);
		return 1;
	}
	struct bundle b;
	bundle_init(&b);
	bundle_read(data, len, lim, &b, f);

	const struct bundle_file *man = bundle_get(&b, BUNDLE_MANIFEST);
	const struct bundle_file *rec = bundle_get(&b, BUNDLE_RECORD);
	json_t *m = NULL;
	if (!man)
		findings_add(f, E, "manifest-missing", NULL, "no %s", BUNDLE_MANIFEST);
	else
		m = check_manifest(man, lim, f);
	if (!rec)
		findings_add(f, E, "record-missing", NULL, "no %s", BUNDLE_RECORD);
	if (m) {
		const char *who = json_string_value(json_object_get(m, "contributor"));
		snprintf(out->contributor, sizeof out->contributor, "%s", who);
		snprintf(out->run_id, sizeof out->run_id, "%s",
			 json_string_value(json_object_get(m, "run_id")));
		check_signature(&b, who, keys, f);
		check_signed_files(&b, m, f);
	}
	if (rec)
		check_record(&b, rec, m, cat, lim, out, f);
	for (size_t i = 0; i < b.n; i++) {
		if (special(b.v[i].name))
			continue;
		out->artifacts++;
		check_content(&b.v[i], f);
	}
	json_decref(m);
	bundle_release(&b);
	return findings_errors(f) - errors0;
}
