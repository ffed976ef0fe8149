/* SPDX-License-Identifier: Apache-2.0 */
#include "connect.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/connect_code.h"
#include "common/http.h"

int rpc_fail(struct rpc_error *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return -1;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

int connect_unenvelope(const char *body, size_t len, const char **ret_msg, size_t *ret_len,
                       struct rpc_error *e)
{
	const unsigned char *p = (const unsigned char *)body;
	uint32_t n;

	if (len < CONNECT_ENVELOPE_HDR) {
		rpc_fail(e, "invalid_argument", "protocol error: incomplete envelope");
		return -EINVAL;
	}
	if (p[0] & CONNECT_FLAG_COMPRESSED) {
		rpc_fail(e, "invalid_argument",
		         "protocol error: compressed messages are not supported");
		return -EINVAL;
	}
	if (p[0] != 0) {
		rpc_fail(e, "invalid_argument", "protocol error: unexpected envelope flags 0x%02x",
		         p[0]);
		return -EINVAL;
	}
	n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (n != len - CONNECT_ENVELOPE_HDR) {
		rpc_fail(e, "invalid_argument",
		         "protocol error: envelope length %u does not match body (%zu bytes)", n,
		         len - CONNECT_ENVELOPE_HDR);
		return -EINVAL;
	}
	*ret_msg = body + CONNECT_ENVELOPE_HDR;
	*ret_len = n;
	return 0;
}

int connect_envelope(struct buf *out, uint8_t flags, const void *payload, size_t len)
{
	unsigned char h[CONNECT_ENVELOPE_HDR];
	int r;

	if (len > UINT32_MAX)
		return -EMSGSIZE;
	h[0] = flags;
	h[1] = (unsigned char)(len >> 24);
	h[2] = (unsigned char)(len >> 16);
	h[3] = (unsigned char)(len >> 8);
	h[4] = (unsigned char)len;
	r = buf_reserve(out, sizeof(h) + len);
	if (r < 0)
		return r;
	buf_append(out, h, sizeof(h));
	buf_append(out, payload, len);
	return 0;
}

int json_quote(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int r = buf_puts(out, "\"");

	while (r >= 0 && *p) {
		unsigned char c = *p;
		size_t n = 0;

		if (c == '"' || c == '\\') {
			char esc[3] = {'\\', (char)c, 0};
			r = buf_puts(out, esc);
			p++;
			continue;
		}
		if (c < 0x20) {
			r = buf_printf(out, "\\u%04x", c);
			p++;
			continue;
		}
		if (c < 0x80)
			n = 1;
		else if ((c & 0xe0) == 0xc0 && c >= 0xc2)
			n = 2;
		else if ((c & 0xf0) == 0xe0)
			n = 3;
		else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
			n = 4;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				n = 0;
		if (n == 0) {
			r = buf_puts(out, "\\ufffd");
			p++;
			continue;
		}
		r = buf_append(out, p, n);
		p += n;
	}
	if (r >= 0)
		r = buf_puts(out, "\"");
	return r;
}

int connect_end_stream_json(struct buf *out, const struct rpc_error *e)
{
	int r;

	if (!e)
		return buf_puts(out, "{}");
	r = buf_puts(out, "{\"error\":{\"code\":");
	if (r >= 0)
		r = json_quote(out, e->code ? e->code : "unknown");
	if (r >= 0)
		r = buf_puts(out, ",\"message\":");
	if (r >= 0)
		r = json_quote(out, e->message);
	if (r >= 0)
		r = buf_puts(out, "}}");
	return r;
}

int rpc_reply_json(struct http_conn *c, const char *json, size_t len)
{
	return http_reply(c, 200, "application/json", json, len);
}

int rpc_reply_error(struct http_conn *c, const struct rpc_error *e)
{
	struct buf b = BUF_INIT;
	int r;

	r = buf_puts(&b, "{\"code\":");
	if (r >= 0)
		r = json_quote(&b, e->code ? e->code : "unknown");
	if (r >= 0)
		r = buf_puts(&b, ",\"message\":");
	if (r >= 0)
		r = json_quote(&b, e->message);
	if (r >= 0)
		r = buf_puts(&b, "}");
	if (r >= 0)
		r = http_reply(c, connect_code_status(e->code), "application/json", b.data, b.len);
	else
		r = http_reply(c, 500, "application/json",
		               "{\"code\":\"internal\",\"message\":\"out of memory\"}", 45);
	buf_release(&b);
	return r;
}

int connect_stream_start(struct http_conn *c)
{
	return http_stream_start(c, 200, "application/connect+json", NULL);
}

int connect_stream_send(struct http_conn *c, const char *json, size_t len)
{
	struct buf b = BUF_INIT;
	int r;

	r = connect_envelope(&b, 0, json, len);
	if (r >= 0)
		r = http_stream_write(c, b.data, b.len);
	buf_release(&b);
	return r;
}

int connect_stream_end(struct http_conn *c, const struct rpc_error *e)
{
	struct buf payload = BUF_INIT, b = BUF_INIT;
	int r;

	r = connect_end_stream_json(&payload, e);
	if (r >= 0)
		r = connect_envelope(&b, CONNECT_FLAG_END_STREAM, payload.data, payload.len);
	if (r >= 0)
		r = http_stream_write(c, b.data, b.len);
	if (r >= 0)
		r = http_stream_end(c);
	buf_release(&payload);
	buf_release(&b);
	return r;
}

bool connect_content_type_is(const struct http_request *req, const char *want)
{
	const char *ct = http_header_get(req, "Content-Type");
	size_t n = strlen(want);

	if (!ct || strncasecmp(ct, want, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

int64_t connect_header_int(const struct http_request *req, const char *name, int64_t dflt)
{
	const char *v = http_header_get(req, name);
	int64_t n = 0;

	if (!v || !*v || strlen(v) > 10)
		return dflt;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return dflt;
		n = n * 10 + (*p - '0');
	}
	return n;
}

int connect_read_body(struct http_conn *c, size_t max, struct buf *out, struct rpc_error *e)
{
	int r = http_body_read_all(c, max, out);

	if (r == -EMSGSIZE)
		return rpc_fail(e, "resource_exhausted", "request message larger than %zu bytes",
		                max);
	if (r < 0)
		return rpc_fail(e, "invalid_argument", "reading request body: %s", strerror(-r));
	return 0;
}
