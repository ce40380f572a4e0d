/* keys: contributors' Ed25519 keys (libsodium) and the files that hold
 * them (docs/upload.md).
 *
 * A contributor id is 1 to 64 characters of [a-z0-9._-], starting with a
 * letter or digit: it becomes a directory name on the results server.
 *
 *   ID.pub   one line "ID ed25519 BASE64\n": the 32-byte public key. It is
 *            exactly the line the server's keys file holds for ID.
 *   ID.key   one line "ID ed25519-secret BASE64\n": libsodium's 64-byte
 *            secret key (seed, then the public key). Created mode 0600
 *            with O_EXCL: an existing key is never overwritten. A secret
 *            key file that group or others may read is refused, with the
 *            mode and the chmod that mends it.
 *   keys file   the server's: one public line per contributor; blank lines
 *            and lines starting with '#' are skipped; a duplicate id is an
 *            error; every error is "FILE:LINE: message".
 *
 * Keys live in $XDG_CONFIG_HOME/hilrun, else $HOME/.config/hilrun
 * (key_default_dir); hilrun key new --dir DIR puts them elsewhere.
 *
 * Ownership: struct keyring owns its keys; struct key_secret holds the
 * secret in place and key_secret_release wipes it. Paths returned are the
 * caller's to free. */
#ifndef HIL_KEYS_H
#define HIL_KEYS_H

#include <stddef.h>
#include "util.h"

#define KEY_ID_MAX 64
#define KEY_PUBLIC_BYTES 32
#define KEY_SECRET_BYTES 64
#define KEY_SIG_BYTES 64
/* Longest line a key file or keys file may hold. */
#define KEY_LINE_MAX 512
/* Largest keys file read (some thousand contributors). */
#define KEYS_FILE_MAX (1024 * 1024)

struct key_public {
	char id[KEY_ID_MAX + 1];
	unsigned char pk[KEY_PUBLIC_BYTES];
};

struct key_secret {
	char id[KEY_ID_MAX + 1];
	unsigned char sk[KEY_SECRET_BYTES];
};

struct keyring {
	struct key_public *v;
	size_t n, cap;
};

/* libsodium's sodium_init; -1 and err if it cannot start. Every function
 * here that needs libsodium calls it. */
int keys_sodium_init(struct hil_err *err);

/* 0 if id is a valid contributor id; else -1 and err says why. */
int key_id_check(const char *id, struct hil_err *err);

/* $XDG_CONFIG_HOME/hilrun or $HOME/.config/hilrun; NULL and err if
 * neither variable is set. */
char *key_default_dir(struct hil_err *err);

/* Make a key pair for id in dir (created 0700 if missing): dir/ID.key
 * (0600) and dir/ID.pub. Refuses if either file exists; nothing is left
 * behind on error. *key_path, *pub_path (may be NULL) get the paths. */
int key_new(const char *dir, const char *id, struct key_public *pub, char **key_path,
	    char **pub_path, struct hil_err *err);

/* Read a secret key file: refused when group or others may read it, when
 * it is not one well-formed line, or when its public half is not the
 * seed's. */
int key_secret_load(const char *path, struct key_secret *sk, struct hil_err *err);
void key_secret_release(struct key_secret *sk);
void key_secret_public(const struct key_secret *sk, struct key_public *pub);

/* "ID ed25519 BASE64" (no newline); caller frees. */
char *key_public_line(const struct key_public *pub);
/* Parse one such line (without its newline); err has no file:line. */
int key_public_parse(const char *line, struct key_public *pub, struct hil_err *err);

/* Detached Ed25519 signature over msg. */
void key_sign(const struct key_secret *sk, const void *msg, size_t len,
	      unsigned char sig[KEY_SIG_BYTES]);
/* 1 if sig is pub's signature over msg, else 0. */
int key_verify(const struct key_public *pub, const void *msg, size_t len,
	       const unsigned char sig[KEY_SIG_BYTES]);

void keyring_init(struct keyring *r);
void keyring_release(struct keyring *r);
/* Add a key; -1 and err if its id is already there. */
int keyring_add(struct keyring *r, const struct key_public *pub, struct hil_err *err);
/* Parse a keys file's text (name is used in "NAME:LINE: ..." errors). */
int keyring_add_text(struct keyring *r, const char *name, const char *text, struct hil_err *err);
int keyring_load(struct keyring *r, const char *path, struct hil_err *err);
const struct key_public *keyring_find(const struct keyring *r, const char *id);

#endif
