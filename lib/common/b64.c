/* SPDX-License-Identifier: Apache-2.0 */
#include "common/b64.h"

#include <errno.h>
#include <stdint.h>

#include "common/buf.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

int b64_encode_buf(struct buf *out, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t n = b64_encoded_len(len), i;
	char *o;
	int r;

	if (len > (SIZE_MAX / 4) * 3 - 3)
		return -ENOMEM;
	r = buf_reserve(out, n + 1);
	if (r < 0)
		return r;
	o = out->data + out->len;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64_alphabet[v >> 18 & 63];
		*o++ = b64_alphabet[v >> 12 & 63];
		*o++ = b64_alphabet[v >> 6 & 63];
		*o++ = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = b64_alphabet[v >> 18 & 63];
		*o++ = b64_alphabet[v >> 12 & 63];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = b64_alphabet[v >> 18 & 63];
		*o++ = b64_alphabet[v >> 12 & 63];
		*o++ = b64_alphabet[v >> 6 & 63];
		*o++ = '=';
	}
	out->len += n;
	out->data[out->len] = '\0';
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int b64_decode_buf(struct buf *out, const char *in, size_t len)
{
	size_t n_pad = 0, n_data, i;
	uint32_t acc = 0;
	int bits = 0, r;
	char *o;

	/* At most two trailing '=', and only where the data length needs them. */
	while (n_pad < len && n_pad < 2 && in[len - 1 - n_pad] == '=')
		n_pad++;
	n_data = len - n_pad;
	if (n_pad > 0 && len % 4 != 0)
		return -EINVAL;
	if (n_data % 4 == 1)
		return -EINVAL;
	if (n_pad > 0 && (n_data % 4 == 0 || 4 - n_data % 4 != n_pad))
		return -EINVAL;
	r = buf_reserve(out, n_data / 4 * 3 + 3 + 1);
	if (r < 0)
		return r;
	o = out->data + out->len;
	for (i = 0; i < n_data; i++) {
		int v = b64_value((unsigned char)in[i]);
		if (v < 0) {
			out->data[out->len] = '\0';
			return -EINVAL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (char)(acc >> bits & 0xff);
		}
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}
