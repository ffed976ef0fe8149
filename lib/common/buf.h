/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_COMMON_BUF_H
#define WARREN_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A growable byte buffer, always NUL-terminated after `len` bytes so it can be
 * used as a C string. Embedded: buf_init()/buf_release(). The buffer owns
 * `data`; buf_detach() hands it to the caller (free() it).
 * Appends return 0 or -ENOMEM (then the buffer is unchanged).
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Removes the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Returns the data (never NULL: an empty buffer gives a heap "") and resets b; NULL on ENOMEM. */
char *buf_detach(struct buf *b);

#endif
