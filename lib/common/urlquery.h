/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_COMMON_URLQUERY_H
#define WARREN_COMMON_URLQUERY_H

#include <stddef.h>

/*
 * Query strings as browsers and URLSearchParams write them
 * (application/x-www-form-urlencoded): "a=1&b=x%2Fy+z". Values are
 * percent-decoded and '+' becomes a space. A decoded NUL byte is refused, so a
 * value is always a C string.
 */

/*
 * Finds the first parameter called name (compared after decoding) in query
 * (the part after '?', without it) and returns its decoded value in *ret
 * (malloc'd, the caller frees; "" for "name" or "name="). Returns 0, -ENOENT
 * when absent, -EINVAL when a name or value is malformed (bad %XX, %00), or
 * -ENOMEM. *ret is untouched on failure.
 */
int urlq_get(const char *query, const char *name, char **ret);

/*
 * Decodes len bytes of a percent-encoded component into a new string.
 * plus_is_space: '+' decodes to ' ' (query strings). 0, -EINVAL, -ENOMEM.
 */
int urlq_decode(const char *s, size_t len, int plus_is_space, char **ret);

#endif
