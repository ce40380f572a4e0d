/* util: small shared helpers: errors, allocation, growable strings and argv,
 * monotonic deadlines, atomic file writes.
 *
 * Ownership: every struct here owns the memory it points to and frees it in
 * its *_release; a released struct is re-initialised and can be reused.
 * Allocation failure aborts (a lab harness that cannot allocate 1 KiB cannot
 * do anything useful, and half-handled OOM paths hide real bugs). */
#ifndef HIL_UTIL_H
#define HIL_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HIL_ERR_MAX 512

/* An error message, lowercase, no final full stop, e.g.
 * "cards/g98.card:4: expected 'vfio' or 'emulated' after 'kind'". */
struct hil_err {
	char msg[HIL_ERR_MAX];
};

void hil_seterr(struct hil_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct strbuf {
	char *buf; /* always NUL-terminated once anything was added */
	size_t len, cap;
};
#define STRBUF_INIT { NULL, 0, 0 }
void sb_init(struct strbuf *sb);
void sb_release(struct strbuf *sb);
void sb_add(struct strbuf *sb, const void *data, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *sb_str(struct strbuf *sb); /* "" when empty */
/* text with & < > " ' as entities (HTML and XML alike). */
void sb_add_escaped(struct strbuf *sb, const char *text);
char *sb_detach(struct strbuf *sb);    /* caller frees; sb is reset */

/* Make s valid UTF-8 in place, as JSON strings must be: each byte that is
 * not part of a well-formed sequence (a stray continuation, a sequence cut
 * short, an overlong form, a surrogate, past U+10FFFF) becomes '?'.
 * Returns s. */
char *utf8_repair(char *s);

/* A NULL-terminated argument vector, as execv wants it. */
struct argv {
	char **v;
	size_t n, cap;
};
#define ARGV_INIT { NULL, 0, 0 }
void argv_init(struct argv *a);
void argv_release(struct argv *a);
void argv_push(struct argv *a, const char *s);
void argv_pushf(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The argv as one line for humans: words with shell metacharacters quoted. */
char *argv_to_display(const struct argv *a);

/* Monotonic milliseconds; deadlines are absolute values of this clock. */
int64_t now_ms(void);
/* Milliseconds left until deadline, clamped to [0, INT32_MAX], for poll(). */
int ms_left(int64_t deadline);
/* Wall-clock time as ISO 8601 UTC with milliseconds. */
void utc_iso8601(char out[32]);
/* The host's boot id (/proc/sys/kernel/random/boot_id), or $HILRUN_BOOT_ID
 * if set: tests pretend the host rebooted with it. "unknown" if unreadable.
 * The journal, its recovery, the accelerator cache and the run record all
 * key on this one value. */
void host_boot_id(char *out, size_t n);

/* Write data to path atomically: temporary file in the same directory,
 * fsync, rename, fsync of the directory. On error nothing is left at path
 * that was not there before. */
int write_file_atomic(const char *path, const void *data, size_t len, struct hil_err *err);
/* write() all len bytes, again after EINTR or a short write: 0, or -1
 * with errno (EIO for a write that wrote nothing). */
int write_all(int fd, const void *data, size_t len);
/* read() until n bytes or the end of the file, again after EINTR: the
 * bytes read (less than n only at the end), or -1 with errno. */
ssize_t read_full(int fd, void *buf, size_t n);
/* Read a whole file up to max bytes (NUL-terminated); caller frees. */
char *read_file(const char *path, size_t max, size_t *len_out, struct hil_err *err);
/* The same from an open fd, to its end (path names it in errors). */
char *read_fd(int fd, const char *path, size_t max, size_t *len_out, struct hil_err *err);
int mkdir_p(const char *path, struct hil_err *err);
/* fsync a directory so that a rename inside it is durable. */
int fsync_dir(const char *path);
/* Remove a directory tree (used for temporary run directories). */
int remove_tree(const char *path);
/* SHA-256 of a file, as 64 hex digits. */
int sha256_file(const char *path, char out[65], struct hil_err *err);
/* SHA-256 of len bytes in memory, as 64 hex digits. */
void sha256_mem(const void *data, size_t len, char out[65]);

#endif
