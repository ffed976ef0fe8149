/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_COMMON_B64_H
#define WARREN_COMMON_B64_H

#include <stddef.h>

struct buf;

/* Bytes needed to encode len bytes with padding, without the NUL. */
size_t b64_encoded_len(size_t len);

/*
 * Standard base64 (RFC 4648 §4, '+' '/', '=' padding). Appends the encoding of
 * data to out. Returns 0 or -ENOMEM (out unchanged).
 */
int b64_encode_buf(struct buf *out, const void *data, size_t len);

/*
 * Decodes standard or url-safe base64 ('-' '_'), padded or not, into out
 * (appended). Whitespace is not accepted. Returns 0, -EINVAL on malformed
 * input (bad character, impossible length, misplaced padding, non-zero
 * trailing bits are tolerated), or -ENOMEM. out is unchanged on failure.
 */
int b64_decode_buf(struct buf *out, const char *in, size_t len);

#endif
