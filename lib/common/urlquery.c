/* SPDX-License-Identifier: Apache-2.0 */
#include "common/urlquery.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int urlq_decode(const char *s, size_t len, int plus_is_space, char **ret)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '%') {
			if (len - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
				free(out);
				return -EINVAL;
			}
			ch = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			if (ch == '\0') {
				free(out);
				return -EINVAL;
			}
			i += 2;
		} else if (ch == '+' && plus_is_space) {
			ch = ' ';
		} else if (ch == '\0') {
			free(out);
			return -EINVAL;
		}
		*o++ = ch;
	}
	*o = '\0';
	*ret = out;
	return 0;
}

int urlq_get(const char *query, const char *name, char **ret)
{
	const char *p = query ? query : "";

	while (*p) {
		const char *end = strchr(p, '&');
		const char *eq;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *key = NULL;
		int r;

		eq = memchr(p, '=', n);
		r = urlq_decode(p, eq ? (size_t)(eq - p) : n, 1, &key);
		if (r < 0)
			return r;
		if (strcmp(key, name) == 0) {
			free(key);
			if (!eq)
				return urlq_decode("", 0, 1, ret);
			return urlq_decode(eq + 1, n - (size_t)(eq + 1 - p), 1, ret);
		}
		free(key);
		p += n;
		if (*p == '&')
			p++;
	}
	return -ENOENT;
}
