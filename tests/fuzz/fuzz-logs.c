/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes as a sandbox's log file (which the
 * sandbox can write at will), through the same parser and selection that
 * GET /sandboxes/{id}/logs uses (logs_set_parse, logs_select), with query
 * settings taken from the first input byte. Checks that every parsed entry
 * lies inside the input and that the selection is in bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logs_set set;
	struct logs_query q = {.cursor_ms = -1, .limit = LOGS_LIMIT_MAX};
	char *text;
	size_t *idx, n;

	if (size == 0)
		return 0;
	q.backward = data[0] & 1;
	q.min_level = (enum log_level)((data[0] >> 1) & 3);
	q.limit = (data[0] & 8) ? 3 : LOGS_LIMIT_MAX;
	q.search = (data[0] & 16) ? "a" : NULL;
	q.cursor_ms = (data[0] & 32) ? 1767225600000LL : -1;
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	if (logs_set_parse(text, size - 1, &set) < 0)
		return 0;
	for (size_t i = 0; i < set.n; i++) {
		const struct logs_entry *e = &set.v[i];
		if (e->message < set.text || e->message + e->message_len > set.text + size - 1 ||
		    e->logger < set.text || e->logger + e->logger_len > set.text + size - 1 ||
		    e->logger_len == 0 || (unsigned)e->level > LOG_ERROR)
			abort();
	}
	idx = calloc(set.n + 1, sizeof(*idx));
	if (idx) {
		n = logs_select(&set, &q, idx);
		if (n > set.n || n > q.limit)
			abort();
		for (size_t i = 0; i < n; i++)
			if (idx[i] >= set.n)
				abort();
	}
	free(idx);
	logs_set_release(&set);
	return 0;
}
