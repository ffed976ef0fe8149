/* SPDX-License-Identifier: Apache-2.0 */
#include "auth.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "store.h"

int auth_key_generate(char out[AUTH_KEY_LEN + 1])
{
	memcpy(out, AUTH_KEY_PREFIX, strlen(AUTH_KEY_PREFIX));
	return random_hex(out + strlen(AUTH_KEY_PREFIX),
	                  (AUTH_KEY_LEN - strlen(AUTH_KEY_PREFIX)) / 2);
}

bool auth_key_valid_format(const char *key)
{
	size_t plen = strlen(AUTH_KEY_PREFIX);

	if (!key || strlen(key) != AUTH_KEY_LEN || strncmp(key, AUTH_KEY_PREFIX, plen) != 0)
		return false;
	for (const char *p = key + plen; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

int auth_key_hash(const char *key, char out[AUTH_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (!EVP_Digest(key, strlen(key), md, &md_len, EVP_sha256(), NULL) || md_len != 32)
		return -EIO;
	for (unsigned i = 0; i < md_len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[AUTH_HASH_LEN] = '\0';
	return 0;
}

int auth_key_store(struct store *s, const char *key)
{
	char hash[AUTH_HASH_LEN + 1];
	int r;

	if (!auth_key_valid_format(key))
		return -EINVAL;
	r = auth_key_hash(key, hash);
	if (r < 0)
		return r;
	return store_key_add(s, hash);
}

int auth_check(struct store *s, const char *key)
{
	char hash[AUTH_HASH_LEN + 1];
	int r;

	/* Hashing first makes the comparison independent of the key's length and content. */
	if (!key || strlen(key) > 1024)
		return 0;
	r = auth_key_hash(key, hash);
	if (r < 0)
		return r;
	return store_key_match(s, hash);
}
