/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 6455 framing, keys and the upgrade heads (contract in ws.h). */
#include "ws/ws.h"

#include <errno.h>
#include <http_parser.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/util.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ---- frames ----------------------------------------------------------------------------- */

size_t ws_frame_header(uint8_t *out, bool fin, enum ws_opcode op, uint64_t len, const uint8_t *mask)
{
	size_t n = 2;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | (op & 0x0f));
	out[1] = mask ? 0x80 : 0;
	if (len < 126) {
		out[1] |= (uint8_t)len;
	} else if (len <= 0xffff) {
		out[1] |= 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] |= 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	if (mask) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		data[i] ^= mask[(offset + i) & 3];
}

int ws_frame_append(struct buf *out, enum ws_opcode op, const void *data, size_t len,
                    const uint8_t *mask)
{
	uint8_t hdr[WS_HDR_MAX];
	size_t n = ws_frame_header(hdr, true, op, len, mask);
	size_t old = out->len;
	int r;

	r = buf_reserve(out, n + len);
	if (r < 0)
		return r;
	buf_append(out, hdr, n);
	if (len)
		buf_append(out, data, len);
	if (mask)
		ws_mask((uint8_t *)out->data + old + n, len, mask, 0);
	return 0;
}

void ws_decoder_init(struct ws_decoder *d, bool server)
{
	memset(d, 0, sizeof(*d));
	d->server = server;
}

/* Bytes the header in d->hdr needs in all, or 0 when it cannot tell yet. */
static size_t hdr_need(const struct ws_decoder *d)
{
	size_t n = 2;

	if (d->n_hdr < 2)
		return 0;
	if ((d->hdr[1] & 0x7f) == 126)
		n += 2;
	else if ((d->hdr[1] & 0x7f) == 127)
		n += 8;
	if (d->hdr[1] & 0x80)
		n += 4;
	return n;
}

static int hdr_finish(struct ws_decoder *d)
{
	uint8_t b0 = d->hdr[0], b1 = d->hdr[1];
	size_t off = 2;
	uint64_t len = b1 & 0x7f;

	if (b0 & 0x70)
		return -EPROTO; /* RSV bits: no extension was negotiated */
	d->fin = b0 & 0x80;
	d->op = b0 & 0x0f;
	d->masked = b1 & 0x80;
	if (d->masked != d->server)
		return -EPROTO;
	if (len == 126) {
		len = (uint64_t)d->hdr[2] << 8 | d->hdr[3];
		if (len < 126)
			return -EPROTO;
		off = 4;
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | d->hdr[2 + i];
		if (len >> 63 || len <= 0xffff)
			return -EPROTO;
		off = 10;
	}
	if (d->masked)
		memcpy(d->mask, d->hdr + off, 4);
	d->len = len;
	d->pos = 0;
	switch (d->op) {
	case WS_OP_CONT:
		if (!d->in_message)
			return -EPROTO;
		break;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (d->in_message)
			return -EPROTO;
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!d->fin || len > WS_CTL_MAX)
			return -EPROTO;
		d->n_ctl = 0;
		break;
	default:
		return -EPROTO;
	}
	if (d->op == WS_OP_CONT || d->op == WS_OP_TEXT || d->op == WS_OP_BINARY)
		d->in_message = !d->fin;
	d->in_frame = true;
	return 0;
}

/* The event of a complete control frame. */
static int ctl_event(struct ws_decoder *d, struct ws_event *ev)
{
	ev->data = d->ctl;
	ev->len = d->n_ctl;
	if (d->op == WS_OP_PING) {
		ev->type = WS_EV_PING;
	} else if (d->op == WS_OP_PONG) {
		ev->type = WS_EV_PONG;
	} else {
		ev->type = WS_EV_CLOSE;
		ev->code = 1005;
		if (d->n_ctl == 1)
			return -EPROTO;
		if (d->n_ctl >= 2) {
			ev->code = (uint16_t)(d->ctl[0] << 8 | d->ctl[1]);
			/* Codes a peer may send (RFC 6455 7.4.1/7.4.2): 1000-1003, 1007-1011,
			 * 3000-4999. */
			if (!((ev->code >= 1000 && ev->code <= 1003) ||
			      (ev->code >= 1007 && ev->code <= 1011) ||
			      (ev->code >= 3000 && ev->code <= 4999)))
				return -EPROTO;
			ev->data = d->ctl + 2;
			ev->len = d->n_ctl - 2;
		}
		d->closed = true;
	}
	return 0;
}

ssize_t ws_decode(struct ws_decoder *d, uint8_t *data, size_t len, struct ws_event *ev)
{
	size_t used = 0;
	int r;

	ev->type = WS_EV_NONE;
	ev->data = NULL;
	ev->len = 0;
	ev->code = 0;
	while (used < len) {
		if (d->closed)
			return -EPROTO;
		if (!d->in_frame) {
			size_t need = hdr_need(d);
			if (need == 0)
				need = 2;
			while (d->n_hdr < need && used < len) {
				d->hdr[d->n_hdr++] = data[used++];
				if (d->n_hdr == 2)
					need = hdr_need(d);
			}
			if (d->n_hdr < need)
				return (ssize_t)used;
			r = hdr_finish(d);
			d->n_hdr = 0;
			if (r < 0)
				return r;
			/* An empty frame: a control frame is complete, empty data is skipped. */
			if (d->len == 0) {
				d->in_frame = false;
				if (d->op >= WS_OP_CLOSE) {
					r = ctl_event(d, ev);
					if (r < 0)
						return r;
					return (ssize_t)used;
				}
			}
			continue;
		}
		uint64_t left = d->len - d->pos;
		size_t n = len - used < left ? len - used : (size_t)left;
		if (d->masked)
			ws_mask(data + used, n, d->mask, d->pos);
		d->pos += n;
		if (d->op >= WS_OP_CLOSE) {
			memcpy(d->ctl + d->n_ctl, data + used, n);
			d->n_ctl += n;
			used += n;
			if (d->pos == d->len) {
				d->in_frame = false;
				r = ctl_event(d, ev);
				if (r < 0)
					return r;
				return (ssize_t)used;
			}
			continue;
		}
		ev->type = WS_EV_DATA;
		ev->data = data + used;
		ev->len = n;
		used += n;
		if (d->pos == d->len)
			d->in_frame = false;
		return (ssize_t)used;
	}
	return (ssize_t)used;
}

/* ---- keys ------------------------------------------------------------------------------- */

int ws_make_key(char out[25])
{
	uint8_t raw[16];
	struct buf b = BUF_INIT;
	int r;

	r = random_bytes(raw, sizeof(raw));
	if (r < 0)
		return r;
	r = b64_encode_buf(&b, raw, sizeof(raw));
	if (r < 0)
		return r;
	memcpy(out, b.data, 25); /* 24 characters and the NUL */
	buf_release(&b);
	return 0;
}

int ws_accept_key(const char *key, char out[29])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	char in[128];
	struct buf b = BUF_INIT;
	int n;

	n = snprintf(in, sizeof(in), "%s%s", key, WS_GUID);
	if (n < 0 || (size_t)n >= sizeof(in))
		return -EINVAL;
	if (!EVP_Digest(in, (size_t)n, md, &md_len, EVP_sha1(), NULL) || md_len != 20)
		return -EINVAL;
	if (b64_encode_buf(&b, md, md_len) < 0)
		return -ENOMEM;
	memcpy(out, b.data, 29); /* 28 characters and the NUL */
	buf_release(&b);
	return 0;
}

/* ---- heads ------------------------------------------------------------------------------ */

struct ws_head {
	http_parser p;
	bool request;
	bool head_done;
	bool msg_done;
	bool upgrade;
	bool in_value;
	size_t n_bytes; /* head bytes fed */
	int status;
	char method[16];
	struct buf names[WS_HEAD_HEADERS];
	struct buf values[WS_HEAD_HEADERS];
	size_t n_headers;
	struct buf body;
	int error; /* set by a callback: -EMSGSIZE or -ENOMEM */
};

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct ws_head *h = p->data;

	if (h->in_value || h->n_headers == 0) {
		if (h->n_headers == WS_HEAD_HEADERS) {
			h->error = -EMSGSIZE;
			return -1;
		}
		h->n_headers++;
		h->in_value = false;
	}
	if (buf_append(&h->names[h->n_headers - 1], at, len) < 0) {
		h->error = -ENOMEM;
		return -1;
	}
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct ws_head *h = p->data;

	h->in_value = true;
	if (buf_append(&h->values[h->n_headers - 1], at, len) < 0) {
		h->error = -ENOMEM;
		return -1;
	}
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct ws_head *h = p->data;

	h->head_done = true;
	h->upgrade = p->upgrade;
	h->status = h->request ? 0 : (int)p->status_code;
	snprintf(h->method, sizeof(h->method), "%s",
	         h->request ? http_method_str((enum http_method)p->method) : "");
	/* A request's body is never needed; an error answer's is the message. */
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct ws_head *h = p->data;
	size_t room = WS_BODY_MAX - h->body.len;

	if (buf_append(&h->body, at, len < room ? len : room) < 0) {
		h->error = -ENOMEM;
		return -1;
	}
	return 0;
}

static int on_complete(http_parser *p)
{
	struct ws_head *h = p->data;

	h->msg_done = true;
	/* An upgrade's bytes after the head are not HTTP: the parser stops there by itself
	 * (pausing here would leave the head's last byte unconsumed). */
	if (!h->upgrade)
		http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings head_settings = {
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

struct ws_head *ws_head_new(bool request)
{
	struct ws_head *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->request = request;
	http_parser_init(&h->p, request ? HTTP_REQUEST : HTTP_RESPONSE);
	h->p.data = h;
	return h;
}

void ws_head_free(struct ws_head *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < WS_HEAD_HEADERS; i++) {
		buf_release(&h->names[i]);
		buf_release(&h->values[i]);
	}
	buf_release(&h->body);
	free(h);
}

ssize_t ws_head_feed(struct ws_head *h, const char *data, size_t len)
{
	size_t n;
	enum http_errno e;

	if (h->msg_done || (h->head_done && (h->upgrade || h->request)))
		return 0;
	if (!h->head_done && len > WS_HEAD_MAX - h->n_bytes)
		len = WS_HEAD_MAX - h->n_bytes + 1; /* one byte past the limit is enough to tell */
	n = http_parser_execute(&h->p, &head_settings, data, len);
	e = HTTP_PARSER_ERRNO(&h->p);
	if (h->error)
		return h->error;
	if (e == HPE_PAUSED) {
		http_parser_pause(&h->p, 0);
		e = HPE_OK;
	}
	if (e != HPE_OK)
		return -EBADMSG;
	if (!h->head_done) {
		h->n_bytes += n;
		if (h->n_bytes > WS_HEAD_MAX)
			return -EMSGSIZE;
	}
	/* The peer closed: an answer without a length ends here. */
	if (len == 0 && h->head_done)
		h->msg_done = true;
	return (ssize_t)n;
}

bool ws_head_done(const struct ws_head *h)
{
	if (!h->head_done)
		return false;
	if (h->request || h->upgrade)
		return true;
	return h->msg_done;
}

int ws_head_status(const struct ws_head *h)
{
	return h->status;
}

const char *ws_head_method(const struct ws_head *h)
{
	return h->method;
}

const char *ws_head_get(const struct ws_head *h, const char *name)
{
	for (size_t i = 0; i < h->n_headers; i++)
		if (h->names[i].data && strcasecmp(h->names[i].data, name) == 0)
			return h->values[i].data ? h->values[i].data : "";
	return NULL;
}

const char *ws_head_body(const struct ws_head *h)
{
	return h->body.data ? h->body.data : "";
}

bool ws_head_upgrade(const struct ws_head *h)
{
	return h->upgrade;
}

/* Whether a comma-separated header value lists token (any case). */
static bool has_token(const char *v, const char *token)
{
	size_t tl = strlen(token);

	while (v && *v) {
		v += strspn(v, " \t,");
		size_t n = strcspn(v, ",");
		size_t m = n;
		while (m > 0 && (v[m - 1] == ' ' || v[m - 1] == '\t'))
			m--;
		if (m == tl && strncasecmp(v, token, tl) == 0)
			return true;
		v += n;
	}
	return false;
}

int ws_check_request(const struct ws_head *h, char accept[29], struct warren_error *err)
{
	const char *key = ws_head_get(h, "Sec-WebSocket-Key");
	const char *ver = ws_head_get(h, "Sec-WebSocket-Version");
	struct buf raw = BUF_INIT;
	int r;

	if (strcmp(h->method, "GET") != 0) {
		err_set(err, EINVAL, "only GET can open a WebSocket");
		return 426;
	}
	if (!has_token(ws_head_get(h, "Upgrade"), "websocket") ||
	    !has_token(ws_head_get(h, "Connection"), "upgrade")) {
		err_set(err, EINVAL, "this port only speaks WebSocket (Upgrade: websocket)");
		return 426;
	}
	if (!ver || strcmp(ver, "13") != 0) {
		err_set(err, EINVAL, "unsupported Sec-WebSocket-Version (13 only)");
		return 426;
	}
	if (!key || strlen(key) != 24) {
		err_set(err, EINVAL, "missing or malformed Sec-WebSocket-Key");
		return 400;
	}
	r = b64_decode_buf(&raw, key, strlen(key));
	size_t n = raw.len;
	buf_release(&raw);
	if (r < 0 || n != 16) {
		err_set(err, EINVAL, "malformed Sec-WebSocket-Key");
		return 400;
	}
	if (ws_accept_key(key, accept) < 0) {
		err_set(err, EINVAL, "malformed Sec-WebSocket-Key");
		return 400;
	}
	return 0;
}

int ws_check_response(const struct ws_head *h, const char *key, struct warren_error *err)
{
	char want[29];
	const char *got = ws_head_get(h, "Sec-WebSocket-Accept");

	if (h->status != 101 || !h->upgrade)
		return err_set(err, EPROTO, "HTTP %d instead of 101 Switching Protocols",
		               h->status);
	if (!has_token(ws_head_get(h, "Upgrade"), "websocket"))
		return err_set(err, EPROTO, "the answer upgrades to another protocol");
	if (ws_accept_key(key, want) < 0 || !got || strcmp(got, want) != 0)
		return err_set(err, EPROTO, "wrong Sec-WebSocket-Accept in the answer");
	if (ws_head_get(h, "Sec-WebSocket-Extensions"))
		return err_set(err, EPROTO, "the answer names extensions nobody asked for");
	return 0;
}
