/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_AUTH_H
#define WARREND_AUTH_H

/*
 * API keys: "e2b_" followed by 40 lowercase hex characters (the format the
 * Python SDK insists on). Only the SHA-256 of a key (64 lowercase hex) is
 * ever stored; a presented key is hashed and compared in constant time with
 * every stored hash.
 */

#include <stdbool.h>

#define AUTH_KEY_PREFIX "e2b_"
#define AUTH_KEY_LEN 44  /* strlen("e2b_") + 40 */
#define AUTH_HASH_LEN 64 /* hex SHA-256 */

struct store;

/* Writes a fresh random key (AUTH_KEY_LEN chars + NUL) into out. 0 or -errno. */
int auth_key_generate(char out[AUTH_KEY_LEN + 1]);
/* Is key exactly "e2b_" + 40 lowercase hex characters? */
bool auth_key_valid_format(const char *key);
/* Hex SHA-256 of key (any string) into out (AUTH_HASH_LEN chars + NUL). 0 or -EIO. */
int auth_key_hash(const char *key, char out[AUTH_HASH_LEN + 1]);
/* Stores the hash of key (a no-op if present). -EINVAL for a malformed key. */
int auth_key_store(struct store *s, const char *key);
/* 1 when key (may be NULL) matches a stored hash, 0 when not, -errno on a store failure. */
int auth_check(struct store *s, const char *key);

#endif
