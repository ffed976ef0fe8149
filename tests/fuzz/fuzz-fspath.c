/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the agent's path expansion and cleaning (fsops_expand),
 * which turns a client's path into the absolute path the kernel resolves.
 * Input: "<path>\0<home>\0<workdir>" (missing parts are empty). Checks the
 * contract: the result is absolute, has no "." or ".." component, no "//",
 * no trailing '/', and cleaning it again changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fsops.h"

static void check(const char *out)
{
	char again[FSOPS_PATH_MAX];
	size_t n = strlen(out);

	if (out[0] != '/')
		abort();
	if (n > 1 && out[n - 1] == '/')
		abort();
	if (strstr(out, "//") || strstr(out, "/./") || strstr(out, "/../"))
		abort();
	if ((n >= 2 && strcmp(out + n - 2, "/.") == 0) ||
	    (n >= 3 && strcmp(out + n - 3, "/..") == 0))
		abort();
	memcpy(again, out, n + 1);
	if (fsops_clean(again) != 0 || strcmp(again, out) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 3), out[FSOPS_PATH_MAX];
	const char *path, *home, *workdir;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	path = buf;
	home = path + strlen(path) + 1;
	workdir = home <= buf + size ? home + strlen(home) + 1 : buf + size + 2;
	if (home > buf + size)
		home = buf + size + 1;
	if (workdir > buf + size + 2)
		workdir = buf + size + 2;
	if (fsops_expand(path, home, workdir, out, sizeof(out)) == 0)
		check(out);
	free(buf);
	return 0;
}
