/* bundle: the upload bundle of one run directory (docs/upload.md): an
 * uncompressed POSIX tar of the signed manifest, its signature, run.json
 * and the run's artifacts.
 *
 *   manifest.json  the signed message: canonical JSON (sorted keys, compact,
 *                  no newline) {"format": "hilrun-bundle/1", "contributor",
 *                  "run_id", "run_json": {"bytes", "sha256"}, "artifacts":
 *                  [{"name", "bytes", "sha256"}] sorted by name}
 *   manifest.sig   the contributor's detached Ed25519 signature over exactly
 *                  those bytes: 88 characters of base64 and a newline
 *   run.json       the record, byte for byte as the run wrote it
 *   ARTIFACT...    the run's other files, flat, byte for byte
 * Nothing in the signed message depends on the clock or on the tar itself,
 * so a bundle stays verifiable after mirroring, repacking or a late upload.
 * Tar headers are written with mode 0644, owner 0 and mtime 0: the same run
 * packs to the same bytes.
 *
 * Reading (bundle_read) takes bytes from anywhere (the server's request
 * body) and keeps only regular files with safe names, within the limits;
 * every entry that breaks a rule is a finding (findings.h), and reading
 * goes on to the next, so that all of them are reported at once.
 *
 * Ownership: struct bundle owns its files' names and data; bundle_read and
 * bundle_from_dir fill a bundle the caller bundle_init'ed and releases. */
#ifndef HIL_BUNDLE_H
#define HIL_BUNDLE_H

#include <stddef.h>
#include "findings.h"
#include "keys.h"
#include "util.h"

#define BUNDLE_FORMAT "hilrun-bundle/1"
#define BUNDLE_MANIFEST "manifest.json"
#define BUNDLE_SIGNATURE "manifest.sig"
#define BUNDLE_RECORD "run.json"

/* Named maximums of a bundle (and of a run directory to be bundled). */
#define BUNDLE_MAX_ENTRIES 64                  /* a run holds about 15 files */
#define BUNDLE_MAX_FILE (16u * 1024 * 1024)    /* bytes, any one file */
#define BUNDLE_MAX_TOTAL (64u * 1024 * 1024)   /* bytes, all files together */
#define BUNDLE_NAME_MAX 128                    /* bytes of an entry's name */

struct bundle_limits {
	size_t max_entries, max_file, max_total, max_name;
};
extern const struct bundle_limits bundle_limits_default;

struct bundle_file {
	char *name;
	unsigned char *data; /* len bytes, and a NUL after them */
	size_t len;
};

struct bundle {
	struct bundle_file *v;
	size_t n, cap;
};

void bundle_init(struct bundle *b);
void bundle_release(struct bundle *b);
/* Add a copy of data under name (no checks: callers check names). */
void bundle_add(struct bundle *b, const char *name, const void *data, size_t len);
const struct bundle_file *bundle_get(const struct bundle *b, const char *name);

/* Is name a safe flat file name: 1 to max_name bytes of [A-Za-z0-9._+-],
 * not starting with '.'? NULL if so; else why not, and *code is the
 * finding's code (name-empty, name-too-long, name-absolute,
 * name-traversal, name-slash, name-bad-char). The same rule keeps run ids
 * safe as directory names on the server. */
const char *bundle_name_problem(const char *name, size_t max_name, const char **code);
/* bundle_name_problem as a finding about the entry; 0 if the name is safe. */
int bundle_name_check(const char *name, size_t max_name, struct findings *f);

/* Read a tar from memory into b. Returns the number of errors added to f
 * (0: every entry was kept). */
size_t bundle_read(const void *data, size_t len, const struct bundle_limits *lim,
		   struct bundle *b, struct findings *f);

/* Read a run directory (run.json and the files beside it, names starting
 * with '.' skipped as the record writer skips them) into b. What cannot be
 * bundled (a subdirectory, a link, an unsafe name, a file over the
 * limits) is a finding; returns the number of errors added. */
size_t bundle_from_dir(const char *run_dir, const struct bundle_limits *lim, struct bundle *b,
		       struct findings *f);

/* The canonical manifest of b's run.json and other files (every file of b
 * but manifest.json and manifest.sig) for contributor and run_id; caller
 * frees. */
char *bundle_manifest(const struct bundle *b, const char *contributor, const char *run_id);

/* The text of manifest.sig: sk's signature of the manifest's len bytes
 * at manifest, in base64, and a newline. */
#define BUNDLE_SIG_TEXT 90 /* 88 characters, the newline, the NUL */
void bundle_sign(const struct key_secret *sk, const void *manifest, size_t len,
		 char out[BUNDLE_SIG_TEXT]);

/* Pack b's run.json and other files as a signed bundle into out: the
 * manifest (run_id from run.json), its signature by sk, then run.json and
 * the artifacts by name. -1 and err if run.json is missing or has no
 * run_id, or the tar cannot be written. */
int bundle_pack(const struct bundle *b, const struct key_secret *sk, struct strbuf *out,
		struct hil_err *err);

/* Write files as a tar into out, in the order given, with the fixed
 * headers above (tests use it to build bundles the packer would not). */
int bundle_write_tar(const struct bundle *files, struct strbuf *out, struct hil_err *err);

#endif
