/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for lib/ws's parsers: arbitrary bytes as WebSocket frames
 * (decoded as a server and as a client, whole and in pieces whose sizes come
 * from the input), and as an upgrade request and an upgrade answer, both
 * checked as the bridge and the client check them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "ws/ws.h"

static void decode(const uint8_t *data, size_t len, bool server, size_t step)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct ws_decoder d;
	size_t off = 0;

	memcpy(copy, data, len);
	ws_decoder_init(&d, server);
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		size_t used = 0;
		while (used < n) {
			struct ws_event ev;
			ssize_t r = ws_decode(&d, copy + off + used, n - used, &ev);
			if (r < 0)
				goto out;
			/* Event data must lie inside the input or the decoder. */
			if (ev.type == WS_EV_DATA &&
			    (ev.data < copy + off + used ||
			     ev.data + ev.len > copy + off + used + (size_t)r))
				abort();
			if (ev.type != WS_EV_DATA && ev.type != WS_EV_NONE && ev.len > WS_CTL_MAX)
				abort();
			used += (size_t)r;
			if (r == 0 && ev.type == WS_EV_NONE)
				break;
		}
		off += n;
	}
out:
	free(copy);
}

static void head(const uint8_t *data, size_t len, bool request, size_t step)
{
	struct ws_head *h = ws_head_new(request);
	struct warren_error err;
	char accept[29];
	size_t off = 0;

	if (!h)
		return;
	while (off < len && !ws_head_done(h)) {
		size_t n = len - off < step ? len - off : step;
		ssize_t r = ws_head_feed(h, (const char *)data + off, n);
		if (r < 0)
			goto out;
		if ((size_t)r > n)
			abort();
		off += n;
	}
	if (!ws_head_done(h))
		ws_head_feed(h, "", 0);
	if (ws_head_done(h)) {
		if (request)
			ws_check_request(h, accept, &err);
		else
			ws_check_response(h, "dGhlIHNhbXBsZSBub25jZQ==", &err);
		(void)ws_head_get(h, "Sec-WebSocket-Key");
		(void)strlen(ws_head_body(h));
	}
out:
	ws_head_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t step;

	if (len < 1)
		return 0;
	step = (size_t)(data[0] % 16) + 1;
	data++;
	len--;
	decode(data, len, true, len ? len : 1);
	decode(data, len, false, step);
	head(data, len, true, len ? len : 1);
	head(data, len, false, step);
	return 0;
}
