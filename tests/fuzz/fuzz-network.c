/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for warrend's network settings (src/warrend/api_network.c):
 * the bytes as one CIDR string, then as a create "network" object and as an
 * update body. Checks that an accepted CIDR is canonical (host bits clear,
 * prefix <= 32) and that whatever parses serialises again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_network.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct warren_error err = {0};
	struct api_network n;
	struct api_cidr c;
	char *s = malloc(size + 1);
	json_t *j;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (api_cidr_parse(s, &c) == 0) {
		uint32_t host = __builtin_bswap32(c.addr);
		if (c.prefix > 32 || (c.prefix < 32 && (host & (0xffffffffu >> c.prefix))))
			abort();
	}
	free(s);

	if (api_parse_network_update((const char *)data, size, &n, &err) == 0) {
		if (n.n_allow > API_EGRESS_MAX || n.n_deny > API_EGRESS_MAX)
			abort();
		j = api_network_json(&n);
		if (!j)
			abort();
		json_decref(j);
	}
	j = json_loadb((const char *)data, size, 0, NULL);
	if (j) {
		if (api_network_parse(j, false, &n, &err) == 0 && !json_is_object(j))
			abort();
		json_decref(j);
	}
	return 0;
}
