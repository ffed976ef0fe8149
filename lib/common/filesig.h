/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_COMMON_FILESIG_H
#define WARREN_COMMON_FILESIG_H

/*
 * envd's signatures for /files URLs (WIRE.md §3.6), as the SDK's
 * uploadUrl()/downloadUrl() make them:
 *
 *   raw       = "<path>:<op>:<user>:<token>" [+ ":<expiration>"]   op = "read" | "write"
 *   signature = "v1_" + base64(sha256(raw)) without '=' padding
 *
 * path and user are the decoded query values ("" when absent); expiration is
 * the decimal Unix time in seconds of signature_expiration. Used by the agent
 * (to authorize) and by warrend (to route a signed URL to the one sandbox whose
 * token validates it).
 */

#include <stddef.h>
#include <stdint.h>

#define FILESIG_LEN 46 /* "v1_" + 43 base64 characters */

/* Writes the signature (NUL-terminated) into out[FILESIG_LEN + 1]. expiration < 0: none. */
void filesig_compute(const char *path, const char *op, const char *user, const char *token,
                     int64_t expiration, char out[FILESIG_LEN + 1]);

/*
 * Checks a request's signature. expiration_str is the raw signature_expiration
 * value or NULL when absent; now is the current Unix time. The comparison takes
 * the same time whatever the signature's bytes. Returns 0 when valid, -EACCES
 * when the signature does not match (or expiration_str is not a canonical
 * decimal number), -ETIMEDOUT when it matches but has expired.
 */
int filesig_check(const char *signature, const char *expiration_str, const char *path,
                  const char *op, const char *user, const char *token, int64_t now);

#endif
