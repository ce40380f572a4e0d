/* keys: Ed25519 key pairs, key files and the keys file (keys.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"

#define B64 sodium_base64_VARIANT_ORIGINAL
#define PUBLIC_TYPE "ed25519"
#define SECRET_TYPE "ed25519-secret"

int keys_sodium_init(struct hil_err *err)
{
	if (sodium_init() < 0) {
		hil_seterr(err, "libsodium cannot start (sodium_init failed)");
		return -1;
	}
	return 0;
}

int key_id_check(const char *id, struct hil_err *err)
{
	size_t n = strlen(id);
	if (n == 0 || n > KEY_ID_MAX) {
		hil_seterr(err, "contributor id '%.80s' must be 1 to %d characters", id, KEY_ID_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			 (i > 0 && (c == '.' || c == '_' || c == '-'));
		if (!ok) {
			hil_seterr(err,
				   "contributor id '%s': expected [a-z0-9] then [a-z0-9._-] (it names a directory on the server)",
				   id);
			return -1;
		}
	}
	return 0;
}

char *key_default_dir(struct hil_err *err)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg && xdg[0] == '/')
		return xasprintf("%s/hilrun", xdg);
	if (home && *home)
		return xasprintf("%s/.config/hilrun", home);
	hil_seterr(err, "neither $XDG_CONFIG_HOME nor $HOME is set: name the key directory with --dir");
	return NULL;
}

/* "ID TYPE BASE64" with [ \t]+ between the words (trailing blanks
 * allowed): the id checked, the key decoded to exactly binlen bytes. */
static int parse_line(const char *line, const char *type, char id[KEY_ID_MAX + 1],
		      unsigned char *bin, size_t binlen, struct hil_err *err)
{
	const char *w[3];
	size_t wl[3];
	int nw = 0;
	const char *p = line;
	for (;;) {
		p += strspn(p, " \t");
		if (!*p)
			break;
		size_t l = strcspn(p, " \t");
		if (nw == 3) {
			hil_seterr(err, "expected 'ID %s BASE64', found more than three words", type);
			return -1;
		}
		w[nw] = p, wl[nw] = l, nw++;
		p += l;
	}
	if (nw != 3) {
		hil_seterr(err, "expected 'ID %s BASE64', found %d word%s", type, nw, nw == 1 ? "" : "s");
		return -1;
	}
	if (wl[0] > KEY_ID_MAX) {
		hil_seterr(err, "contributor id longer than %d characters", KEY_ID_MAX);
		return -1;
	}
	memcpy(id, w[0], wl[0]);
	id[wl[0]] = '\0';
	if (key_id_check(id, err) < 0)
		return -1;
	if (wl[1] != strlen(type) || memcmp(w[1], type, wl[1])) {
		hil_seterr(err, "expected key type '%s' after '%s', found '%.*s'", type, id,
			   (int)(wl[1] > 40 ? 40 : wl[1]), w[1]);
		return -1;
	}
	size_t got = 0;
	const char *end = NULL;
	if (sodium_base642bin(bin, binlen, w[2], wl[2], NULL, &got, &end, B64) < 0 || got != binlen ||
	    end != w[2] + wl[2]) {
		hil_seterr(err, "the %s key of '%s' is not %zu bytes of base64", type, id, binlen);
		return -1;
	}
	return 0;
}

int key_public_parse(const char *line, struct key_public *pub, struct hil_err *err)
{
	return parse_line(line, PUBLIC_TYPE, pub->id, pub->pk, sizeof pub->pk, err);
}

static char *key_line(const char *id, const char *type, const unsigned char *bin, size_t len)
{
	char b64[sodium_base64_ENCODED_LEN(KEY_SECRET_BYTES, B64)];
	sodium_bin2base64(b64, sizeof b64, bin, len, B64);
	char *line = xasprintf("%s %s %s", id, type, b64);
	sodium_memzero(b64, sizeof b64);
	return line;
}

char *key_public_line(const struct key_public *pub)
{
	return key_line(pub->id, PUBLIC_TYPE, pub->pk, sizeof pub->pk);
}

void key_secret_public(const struct key_secret *sk, struct key_public *pub)
{
	memcpy(pub->id, sk->id, sizeof pub->id);
	crypto_sign_ed25519_sk_to_pk(pub->pk, sk->sk);
}

void key_secret_release(struct key_secret *sk)
{
	sodium_memzero(sk, sizeof *sk);
}

void key_sign(const struct key_secret *sk, const void *msg, size_t len,
	      unsigned char sig[KEY_SIG_BYTES])
{
	crypto_sign_detached(sig, NULL, msg, len, sk->sk);
}

int key_verify(const struct key_public *pub, const void *msg, size_t len,
	       const unsigned char sig[KEY_SIG_BYTES])
{
	return crypto_sign_verify_detached(sig, msg, len, pub->pk) == 0;
}

/* Create path with O_EXCL and mode; -1 and err if it exists. */
static int create_excl(const char *path, mode_t mode, struct hil_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		hil_seterr(err, "cannot create %s: %s%s", path, strerror(errno),
			   errno == EEXIST ? " (a key is never overwritten: choose another id or --dir)" : "");
	return fd;
}

static int write_line(int fd, const char *path, const char *line, struct hil_err *err)
{
	if (write_all(fd, line, strlen(line)) < 0 || write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
		hil_seterr(err, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* dir, its parents as mkdir_p makes them, dir itself 0700. */
static int make_key_dir(const char *dir, struct hil_err *err)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	if (errno == ENOENT) {
		char *copy = xstrdup(dir);
		int rc = mkdir_p(dirname(copy), err);
		free(copy);
		if (rc < 0)
			return -1;
		if (mkdir(dir, 0700) == 0 || errno == EEXIST)
			return 0;
	}
	hil_seterr(err, "cannot create directory %s: %s", dir, strerror(errno));
	return -1;
}

int key_new(const char *dir, const char *id, struct key_public *pub, char **key_path,
	    char **pub_path, struct hil_err *err)
{
	if (keys_sodium_init(err) < 0 || key_id_check(id, err) < 0 || make_key_dir(dir, err) < 0)
		return -1;
	char *kpath = xasprintf("%s/%s.key", dir, id), *ppath = xasprintf("%s/%s.pub", dir, id);
	struct key_secret sk;
	snprintf(sk.id, sizeof sk.id, "%s", id);
	snprintf(pub->id, sizeof pub->id, "%s", id);
	crypto_sign_keypair(pub->pk, sk.sk);
	char *sline = key_line(id, SECRET_TYPE, sk.sk, sizeof sk.sk), *pline = key_public_line(pub);
	int kfd = -1, pfd = -1, rc = -1;
	if ((kfd = create_excl(kpath, 0600, err)) < 0)
		goto out;
	if ((pfd = create_excl(ppath, 0644, err)) < 0) {
		unlink(kpath);
		goto out;
	}
	if (write_line(kfd, kpath, sline, err) < 0 || write_line(pfd, ppath, pline, err) < 0) {
		unlink(kpath);
		unlink(ppath);
		goto out;
	}
	fsync_dir(dir);
	rc = 0;
out:
	if (kfd >= 0)
		close(kfd);
	if (pfd >= 0)
		close(pfd);
	sodium_memzero(sline, strlen(sline));
	free(sline);
	free(pline);
	key_secret_release(&sk);
	if (rc == 0 && key_path)
		*key_path = kpath;
	else
		free(kpath);
	if (rc == 0 && pub_path)
		*pub_path = ppath;
	else
		free(ppath);
	return rc;
}

int key_secret_load(const char *path, struct key_secret *sk, struct hil_err *err)
{
	memset(sk, 0, sizeof *sk);
	if (keys_sodium_init(err) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		hil_seterr(err, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		hil_seterr(err, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		hil_seterr(err, "%s: mode %04o lets %s read the secret key: run chmod 600 %s", path,
			   (unsigned)(st.st_mode & 07777),
			   (st.st_mode & 070) && (st.st_mode & 07) ? "its group and others"
			   : st.st_mode & 070			   ? "its group"
								   : "others",
			   path);
		close(fd);
		return -1;
	}
	char buf[KEY_LINE_MAX + 2]; /* on the stack, wiped: no copies of the secret */
	ssize_t got = read_full(fd, buf, sizeof buf - 1);
	close(fd);
	if (got < 0) {
		hil_seterr(err, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	size_t len = (size_t)got;
	buf[len] = '\0';
	int rc = -1;
	if (len > KEY_LINE_MAX) {
		hil_seterr(err, "%s: longer than a key file (%d bytes)", path, KEY_LINE_MAX);
		goto out;
	}
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (strchr(buf, '\n')) {
		hil_seterr(err, "%s: expected one line 'ID %s BASE64'", path, SECRET_TYPE);
		goto out;
	}
	struct hil_err e;
	if (parse_line(buf, SECRET_TYPE, sk->id, sk->sk, sizeof sk->sk, &e) < 0) {
		hil_seterr(err, "%s:1: %s", path, e.msg);
		goto out;
	}
	/* The public half must be the seed's (a file pieced together from two
	 * keys would sign with one and claim the other). */
	unsigned char pk[KEY_PUBLIC_BYTES], sk2[KEY_SECRET_BYTES];
	crypto_sign_seed_keypair(pk, sk2, sk->sk);
	int same = sodium_memcmp(sk2, sk->sk, sizeof sk2) == 0;
	sodium_memzero(sk2, sizeof sk2);
	if (!same) {
		hil_seterr(err, "%s:1: the public half of the key is not the seed's: the file is damaged",
			   path);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(buf, sizeof buf);
	if (rc < 0)
		key_secret_release(sk);
	return rc;
}

void keyring_init(struct keyring *r)
{
	memset(r, 0, sizeof *r);
}

void keyring_release(struct keyring *r)
{
	free(r->v);
	keyring_init(r);
}

const struct key_public *keyring_find(const struct keyring *r, const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].id, id))
			return &r->v[i];
	return NULL;
}

int keyring_add(struct keyring *r, const struct key_public *pub, struct hil_err *err)
{
	if (keyring_find(r, pub->id)) {
		hil_seterr(err, "contributor '%s' has a key already", pub->id);
		return -1;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 8;
		r->v = xrealloc(r->v, r->cap * sizeof *r->v);
	}
	r->v[r->n++] = *pub;
	return 0;
}

int keyring_add_text(struct keyring *r, const char *name, const char *text, struct hil_err *err)
{
	int lineno = 0;
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		lineno++;
		const char *line = p;
		p += len + (p[len] == '\n');
		if (len > KEY_LINE_MAX) {
			hil_seterr(err, "%s:%d: line longer than %d bytes", name, lineno, KEY_LINE_MAX);
			return -1;
		}
		char buf[KEY_LINE_MAX + 1];
		memcpy(buf, line, len);
		buf[len] = '\0';
		if (len && buf[len - 1] == '\r')
			buf[--len] = '\0';
		const char *s = buf + strspn(buf, " \t");
		if (!*s || *s == '#')
			continue;
		struct key_public pub;
		struct hil_err e;
		if (key_public_parse(s, &pub, &e) < 0 || keyring_add(r, &pub, &e) < 0) {
			hil_seterr(err, "%s:%d: %s", name, lineno, e.msg);
			return -1;
		}
	}
	return 0;
}

int keyring_load(struct keyring *r, const char *path, struct hil_err *err)
{
	char *text = read_file(path, KEYS_FILE_MAX, NULL, err);
	if (!text)
		return -1;
	int rc = keyring_add_text(r, path, text, err);
	free(text);
	return rc;
}
