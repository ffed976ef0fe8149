/* SPDX-License-Identifier: Apache-2.0 */
#include "common/filesig.h"

#include <errno.h>
#include <inttypes.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void sha256_str(struct sha256_ctx *ctx, const char *s)
{
	sha256_update(ctx, strlen(s), (const uint8_t *)s);
}

void filesig_compute(const char *path, const char *op, const char *user, const char *token,
                     int64_t expiration, char out[FILESIG_LEN + 1])
{
	struct sha256_ctx ctx;
	uint8_t d[SHA256_DIGEST_SIZE];
	char *o = out;

	sha256_init(&ctx);
	sha256_str(&ctx, path ? path : "");
	sha256_str(&ctx, ":");
	sha256_str(&ctx, op);
	sha256_str(&ctx, ":");
	sha256_str(&ctx, user ? user : "");
	sha256_str(&ctx, ":");
	sha256_str(&ctx, token ? token : "");
	if (expiration >= 0) {
		char exp[32];

		snprintf(exp, sizeof(exp), ":%" PRId64, expiration);
		sha256_str(&ctx, exp);
	}
	sha256_digest(&ctx, sizeof(d), d);

	memcpy(o, "v1_", 3);
	o += 3;
	/* 32 bytes: ten full groups of three, then two bytes (three characters, no padding). */
	for (size_t i = 0; i < 30; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];

		*o++ = b64_alphabet[(v >> 18) & 63];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = b64_alphabet[v & 63];
	}
	uint32_t v = (uint32_t)d[30] << 16 | (uint32_t)d[31] << 8;
	*o++ = b64_alphabet[(v >> 18) & 63];
	*o++ = b64_alphabet[(v >> 12) & 63];
	*o++ = b64_alphabet[(v >> 6) & 63];
	*o = '\0';
}

/* A canonical non-negative decimal (no sign, no leading zero, fits int64). */
static int parse_expiration(const char *s, int64_t *ret)
{
	int64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 18)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (*s - '0');
	}
	*ret = v;
	return 0;
}

int filesig_check(const char *signature, const char *expiration_str, const char *path,
                  const char *op, const char *user, const char *token, int64_t now)
{
	char want[FILESIG_LEN + 1];
	int64_t exp = -1;
	unsigned diff = 0;

	if (!signature || !token || !*token)
		return -EACCES;
	if (expiration_str && parse_expiration(expiration_str, &exp) < 0)
		return -EACCES;
	filesig_compute(path, op, user, token, exp, want);
	/* The length of a signature is public (always FILESIG_LEN); its bytes are not. */
	if (strlen(signature) != FILESIG_LEN)
		return -EACCES;
	for (size_t i = 0; i < FILESIG_LEN; i++)
		diff |= (unsigned)(unsigned char)(signature[i] ^ want[i]);
	if (diff != 0)
		return -EACCES;
	if (exp >= 0 && exp < now)
		return -ETIMEDOUT;
	return 0;
}
