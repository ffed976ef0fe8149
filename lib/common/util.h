/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_COMMON_UTIL_H
#define WARREN_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* Cleanup attributes: the variable is released when it leaves scope. */
static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Moves ownership of a value out of a cleanup variable. */
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _t = (fd);                                                                     \
		(fd) = -1;                                                                         \
		_t;                                                                                \
	})
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _t = (p);                                                            \
		(p) = NULL;                                                                        \
		_t;                                                                                \
	})

/* Writes/reads exactly len bytes, retrying on EINTR and short counts. 0 or -errno
 * (read_full returns -EPIPE at a premature end of file). */
int write_full(int fd, const void *data, size_t len);
int read_full(int fd, void *data, size_t len);

/* Reads a whole small file (at most max bytes) into a NUL-terminated heap string. */
int read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);
/* Writes a string to an existing file (cgroup and /proc knobs). */
int write_file(const char *path, const char *data);

/* mkdir -p with mode for each created component. */
int mkdir_p(const char *path, mode_t mode);
/* rm -rf relative to dirfd, never following symlinks, staying on one filesystem. */
int rm_rf_at(int dirfd, const char *name);
int rm_rf(const char *path);

/* Monotonic and wall clocks in milliseconds / microseconds. */
int64_t now_mono_us(void);
int64_t now_real_ms(void);

/* Fills buf with cryptographically random bytes (getrandom). */
int random_bytes(void *buf, size_t len);
/* Writes 2*len lowercase hex chars + NUL for len random bytes into out. */
int random_hex(char *out, size_t len);
/* A sandbox id: n chars (n < size) of [a-z0-9], NUL-terminated. */
int random_id(char *out, size_t n);

/* Constant-time comparison of two NUL-terminated strings. */
bool streq_ct(const char *a, const char *b);

#endif
