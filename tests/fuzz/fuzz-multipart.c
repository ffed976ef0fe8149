/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the streaming multipart parser (src/agent/multipart.c).
 * Input: byte 0 = piece size for feeding (1..256, 0 = all at once), byte 1 =
 * boundary length (1..70), then the boundary (bytes mapped to valid boundary
 * characters), then the body. The same body is parsed twice, whole and in
 * pieces: the results (status, part count, data bytes and a checksum of them)
 * must agree, and no part may yield more data bytes than the body holds. Also
 * fuzzes the Content-Type boundary extraction with the raw body as a header value.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

struct acc {
	size_t parts, ends, bytes;
	uint64_t sum;
};

static int on_begin(void *ud, const struct mp_part *p)
{
	struct acc *a = ud;

	if (p->name)
		(void)strlen(p->name);
	if (p->filename)
		(void)strlen(p->filename);
	a->parts++;
	return 0;
}

static int on_data(void *ud, const char *d, size_t len)
{
	struct acc *a = ud;

	if (len == 0)
		abort();
	for (size_t i = 0; i < len; i++)
		a->sum = a->sum * 31 + (unsigned char)d[i];
	a->bytes += len;
	return 0;
}

static int on_end(void *ud)
{
	struct acc *a = ud;

	a->ends++;
	return 0;
}

static const struct mp_callbacks cbs = {on_begin, on_data, on_end};

static int run(const char *boundary, const uint8_t *body, size_t len, size_t step, struct acc *a)
{
	static struct mp_parser p;
	int r = mp_init(&p, boundary, &cbs, a);

	if (r < 0)
		abort();
	for (size_t off = 0; off < len && r == 0;) {
		size_t n = step && step < len - off ? step : len - off;

		r = mp_feed(&p, (const char *)body + off, n);
		off += n;
	}
	return r == 0 ? mp_finish(&p) : r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char bchars[] =
	    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "'()+_,-./:=?";
	char boundary[MP_MAX_BOUNDARY + 1], out[MP_MAX_BOUNDARY + 1];
	struct acc whole = {0}, pieces = {0};
	size_t step, blen;
	int r1, r2;

	if (size < 2)
		return 0;
	step = data[0];
	blen = 1 + data[1] % MP_MAX_BOUNDARY;
	if (size < 2 + blen)
		return 0;
	for (size_t i = 0; i < blen; i++)
		boundary[i] = bchars[data[2 + i] % (sizeof(bchars) - 1)];
	boundary[blen] = '\0';
	data += 2 + blen;
	size -= 2 + blen;

	r1 = run(boundary, data, size, 0, &whole);
	r2 = run(boundary, data, size, step, &pieces);
	if (r1 != r2 || whole.parts != pieces.parts || whole.ends != pieces.ends ||
	    whole.bytes != pieces.bytes || whole.sum != pieces.sum)
		abort();
	if (whole.bytes > size || whole.ends > whole.parts)
		abort();

	if (size < 512) {
		char ct[512];

		memcpy(ct, data, size);
		ct[size] = '\0';
		if (strlen(ct) == size)
			(void)mp_boundary_from_content_type(ct, out);
	}
	return 0;
}
