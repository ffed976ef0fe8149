/* SPDX-License-Identifier: Apache-2.0 */
/* lib/ws: RFC 6455 framing, the upgrade heads, URLs and the tunnel relay. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "ws/ws.h"

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Decodes all of data (fed in pieces of `step` bytes) and appends what it meant to out:
 * data bytes as they are, "P<payload>" ping, "O<payload>" pong, "C<code>:<reason>". */
static ssize_t decode_all(bool server, const uint8_t *in, size_t len, size_t step, struct buf *out)
{
	struct ws_decoder d;
	uint8_t *copy = malloc(len ? len : 1);
	size_t off = 0;

	memcpy(copy, in, len);
	ws_decoder_init(&d, server);
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		size_t used = 0;
		while (used < n) {
			struct ws_event ev;
			ssize_t r = ws_decode(&d, copy + off + used, n - used, &ev);
			if (r < 0) {
				free(copy);
				return r;
			}
			used += (size_t)r;
			switch (ev.type) {
			case WS_EV_DATA:
				buf_append(out, ev.data, ev.len);
				break;
			case WS_EV_PING:
				buf_puts(out, "P");
				buf_append(out, ev.data, ev.len);
				break;
			case WS_EV_PONG:
				buf_puts(out, "O");
				buf_append(out, ev.data, ev.len);
				break;
			case WS_EV_CLOSE:
				buf_printf(out, "C%u:", ev.code);
				buf_append(out, ev.data, ev.len);
				break;
			case WS_EV_NONE:
				break;
			}
			if (r == 0 && ev.type == WS_EV_NONE)
				break;
		}
		off += n;
	}
	free(copy);
	return 0;
}

/* Frames with an explicit fin bit (ws_frame_append always sets it). */
static void frame(struct buf *b, bool fin, enum ws_opcode op, const void *p, size_t n, bool masked)
{
	uint8_t hdr[WS_HDR_MAX];
	size_t h = ws_frame_header(hdr, fin, op, n, masked ? MASK : NULL);
	size_t at = b->len + h;

	buf_append(b, hdr, h);
	buf_append(b, p, n);
	if (masked)
		ws_mask((uint8_t *)b->data + at, n, MASK, 0);
}

static void test_header_lengths(void **state)
{
	static const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 1u << 20};
	(void)state;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (int masked = 0; masked < 2; masked++) {
			uint8_t *payload = malloc(lens[i] + 1);
			struct buf b = BUF_INIT, got = BUF_INIT;
			for (uint64_t k = 0; k < lens[i]; k++)
				payload[k] = (uint8_t)(k * 7 + 1);
			assert_int_equal(ws_frame_append(&b, WS_OP_BINARY, payload, lens[i],
			                                 masked ? MASK : NULL),
			                 0);
			size_t want_hdr =
			    2 + (lens[i] >= 126 ? (lens[i] > 65535 ? 8 : 2) : 0) + (masked ? 4 : 0);
			assert_int_equal(b.len, want_hdr + lens[i]);
			assert_int_equal(decode_all(masked, (uint8_t *)b.data, b.len, 4096, &got),
			                 0);
			assert_int_equal(got.len, lens[i]);
			if (lens[i])
				assert_memory_equal(got.data, payload, lens[i]);
			buf_release(&b);
			buf_release(&got);
			free(payload);
		}
	}
}

/* A fragmented message with a ping between its parts, a pong, then a close: the same events
 * however the bytes are split. */
static void test_stream_any_split(void **state)
{
	struct buf in = BUF_INIT;
	(void)state;

	frame(&in, false, WS_OP_BINARY, "hel", 3, true);
	frame(&in, true, WS_OP_PING, "pi", 2, true);
	frame(&in, false, WS_OP_CONT, "lo ", 3, true);
	frame(&in, true, WS_OP_CONT, "world", 5, true);
	frame(&in, true, WS_OP_PONG, "", 0, true);
	frame(&in, true, WS_OP_TEXT, "t", 1, true);
	frame(&in, true, WS_OP_CLOSE,
	      "\x03\xe8"
	      "bye",
	      5, true);
	for (size_t step = 1; step <= in.len; step++) {
		struct buf got = BUF_INIT;
		assert_int_equal(decode_all(true, (uint8_t *)in.data, in.len, step, &got), 0);
		assert_string_equal(got.data, "helPpilo worldOtC1000:bye");
		buf_release(&got);
	}
	buf_release(&in);
}

static void expect_proto(bool server, const void *bytes, size_t n)
{
	struct buf got = BUF_INIT;
	assert_int_equal(decode_all(server, bytes, n, n, &got), -EPROTO);
	buf_release(&got);
}

static void test_protocol_errors(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;

	expect_proto(false, "\xc2\x00", 2);                 /* RSV1 */
	expect_proto(false, "\x83\x00", 2);                 /* opcode 3 */
	expect_proto(false, "\x8b\x00", 2);                 /* opcode 0xb */
	expect_proto(false, "\x82\x80\x01\x02\x03\x04", 6); /* masked from a server */
	expect_proto(true, "\x82\x00", 2);                  /* unmasked from a client */
	expect_proto(false, "\x09\x00", 2);                 /* fragmented ping */
	expect_proto(false, "\x89\x7e\x00\x7e", 4);         /* ping of 126 bytes */
	expect_proto(false, "\x82\x7e\x00\x10", 4);         /* 16 in the 16-bit form */
	expect_proto(false, "\x82\x7f\x00\x00\x00\x00\x00\x00\xff\xff", 10); /* 65535 in 64 bits */
	expect_proto(false, "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10); /* 2^63 */
	expect_proto(false, "\x80\x00", 2);         /* continuation first */
	expect_proto(false, "\x02\x00\x82\x00", 4); /* data inside a message */
	expect_proto(false, "\x88\x01\x03", 3);     /* 1-byte close */
	expect_proto(false, "\x88\x02\x03\xed", 4); /* close 1005 on the wire */
	expect_proto(false, "\x88\x02\x03\xe7", 4); /* close 999 */
	expect_proto(false, "\x88\x00\x82\x00", 4); /* a frame after close */
	/* A close without a code reads as 1005. */
	frame(&b, true, WS_OP_CLOSE, "", 0, false);
	struct buf got = BUF_INIT;
	assert_int_equal(decode_all(false, (uint8_t *)b.data, b.len, 1, &got), 0);
	assert_string_equal(got.data, "C1005:");
	buf_release(&got);
	buf_release(&b);
}

static void test_accept_key(void **state)
{
	char acc[29], key[25], again[25];
	(void)state;

	/* RFC 6455 section 1.3. */
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc), 0);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(ws_make_key(key), 0);
	assert_int_equal(strlen(key), 24);
	assert_int_equal(ws_make_key(again), 0);
	assert_string_not_equal(key, again);
}

static const char good_req[] = "GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\n"
                               "Connection: keep-alive, Upgrade\r\n"
                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n";

/* Feeds s byte by byte; returns the consumed count at completion (or an error). */
static ssize_t feed_bytes(struct ws_head *h, const char *s, size_t len)
{
	size_t total = 0;

	for (size_t i = 0; i < len && !ws_head_done(h); i++) {
		ssize_t n = ws_head_feed(h, s + i, 1);
		if (n < 0)
			return n;
		total += (size_t)n;
	}
	return (ssize_t)total;
}

static void test_request_heads(void **state)
{
	struct warren_error err = {0};
	char accept[29];
	(void)state;

	/* Byte by byte, with frame bytes behind the head: they are not consumed. */
	char with_tail[sizeof(good_req) + 4];
	memcpy(with_tail, good_req, sizeof(good_req) - 1);
	memcpy(with_tail + sizeof(good_req) - 1, "\x82\x80", 2);
	struct ws_head *h = ws_head_new(true);
	assert_int_equal(feed_bytes(h, with_tail, sizeof(good_req) + 1), sizeof(good_req) - 1);
	assert_true(ws_head_done(h));
	assert_true(ws_head_upgrade(h));
	assert_int_equal(ws_check_request(h, accept, &err), 0);
	assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ws_head_free(h);

	/* All at once, the same boundary. */
	h = ws_head_new(true);
	assert_int_equal(ws_head_feed(h, with_tail, sizeof(good_req) + 1), sizeof(good_req) - 1);
	ws_head_free(h);

	static const struct {
		const char *req;
		int status;
	} bad[] = {
	    {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 426},
	    {"POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nContent-Length: "
	     "0\r\n\r\n",
	     426},
	    {"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
	     "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	     426},
	    {"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
	     "Sec-WebSocket-Version: 13\r\n\r\n",
	     400},
	    {"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
	     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n\r\n",
	     400},
	    {"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
	     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n\r\n",
	     400},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h = ws_head_new(true);
		assert_true(ws_head_feed(h, bad[i].req, strlen(bad[i].req)) > 0);
		assert_true(ws_head_done(h));
		assert_int_equal(ws_check_request(h, accept, &err), bad[i].status);
		assert_true(err.msg[0] != '\0');
		ws_head_free(h);
	}

	/* Garbage and oversized heads are errors, not crashes. */
	h = ws_head_new(true);
	assert_int_equal(ws_head_feed(h, "\x01\x02 nonsense\r\n\r\n", 15), -EBADMSG);
	ws_head_free(h);
	h = ws_head_new(true);
	struct buf big = BUF_INIT;
	buf_puts(&big, "GET / HTTP/1.1\r\n");
	while (big.len < WS_HEAD_MAX + 100)
		buf_puts(&big, "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
	ssize_t r = 0;
	for (size_t off = 0; off < big.len && r >= 0; off += 1000) {
		size_t n = big.len - off < 1000 ? big.len - off : 1000;
		r = ws_head_feed(h, big.data + off, n);
	}
	assert_true(r == -EMSGSIZE || r == -EBADMSG);
	assert_false(ws_head_done(h));
	buf_release(&big);
	ws_head_free(h);
}

static void test_response_heads(void **state)
{
	struct warren_error err = {0};
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	(void)state;

	const char ok[] =
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	    "\r\n\r\n\x82\x01X";
	struct ws_head *h = ws_head_new(false);
	assert_int_equal(feed_bytes(h, ok, sizeof(ok) - 1), sizeof(ok) - 4);
	assert_int_equal(ws_head_status(h), 101);
	assert_int_equal(ws_check_response(h, key, &err), 0);
	assert_int_equal(ws_check_response(h, "AAAAAAAAAAAAAAAAAAAAAA==", &err), -EPROTO);
	ws_head_free(h);

	/* An error answer keeps its body for the message (sized, then delimited by EOF). */
	const char e502[] =
	    "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 20\r\n\r\n{\"message\":\"gone\"}  ";
	h = ws_head_new(false);
	assert_true(ws_head_feed(h, e502, sizeof(e502) - 1) > 0);
	assert_true(ws_head_done(h));
	assert_int_equal(ws_head_status(h), 502);
	assert_string_equal(ws_head_body(h), "{\"message\":\"gone\"}  ");
	assert_int_equal(ws_check_response(h, key, &err), -EPROTO);
	ws_head_free(h);

	const char eof[] = "HTTP/1.1 400 Bad Request\r\n\r\nno";
	h = ws_head_new(false);
	assert_true(ws_head_feed(h, eof, sizeof(eof) - 1) > 0);
	assert_false(ws_head_done(h));
	assert_int_equal(ws_head_feed(h, "", 0), 0);
	assert_true(ws_head_done(h));
	assert_string_equal(ws_head_body(h), "no");
	ws_head_free(h);

	/* A 101 to something else is refused. */
	const char other[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
	                     "Connection: Upgrade\r\n\r\n";
	h = ws_head_new(false);
	assert_true(ws_head_feed(h, other, sizeof(other) - 1) > 0);
	assert_int_equal(ws_check_response(h, key, &err), -EPROTO);
	ws_head_free(h);
}

static void test_urls(void **state)
{
	struct ws_url u;
	(void)state;

	assert_int_equal(ws_url_parse("http://127.0.0.1:3000", &u), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "3000");
	assert_string_equal(u.path, "/");
	assert_string_equal(u.host_header, "127.0.0.1:3000");
	assert_int_equal(ws_url_parse("ws://[::1]:81/a/b?c=d", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "81");
	assert_string_equal(u.path, "/a/b?c=d");
	assert_string_equal(u.host_header, "[::1]:81");
	assert_int_equal(ws_url_parse("HTTP://example", &u), 0);
	assert_string_equal(u.port, "80");
	assert_int_equal(ws_url_parse("https://x", &u), -EPROTONOSUPPORT);
	assert_int_equal(ws_url_parse("wss://x", &u), -EPROTONOSUPPORT);
	assert_int_equal(ws_url_parse("ftp://x", &u), -EINVAL);
	assert_int_equal(ws_url_parse("http://", &u), -EINVAL);
	assert_int_equal(ws_url_parse("http://x:0", &u), -EINVAL);
	assert_int_equal(ws_url_parse("http://x:70000", &u), -EINVAL);
	assert_int_equal(ws_url_parse("http://x:8a", &u), -EINVAL);
	assert_int_equal(ws_url_parse("http://x/a b", &u), -EINVAL);
	assert_int_equal(ws_url_parse("http://u@x/", &u), -EINVAL);
}

/* ---- the relay, as a client, against a scripted server on a socketpair ---- */

struct relay_run {
	struct ws_relay cfg;
	int ret;
};

static void *relay_thread(void *arg)
{
	struct relay_run *rr = arg;
	rr->ret = ws_relay_run(&rr->cfg);
	return NULL;
}

/* Reads from fd until `want` events were decoded (server-side decoder: frames are masked). */
static void read_events(int fd, struct ws_decoder *d, struct buf *got, size_t min_len)
{
	uint8_t b[65536];

	while (got->len < min_len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		assert_true(poll(&p, 1, 10000) == 1);
		ssize_t n = read(fd, b, sizeof(b));
		assert_true(n > 0);
		size_t used = 0;
		while (used < (size_t)n) {
			struct ws_event ev;
			ssize_t r = ws_decode(d, b + used, (size_t)n - used, &ev);
			assert_true(r >= 0);
			used += (size_t)r;
			if (ev.type == WS_EV_DATA)
				buf_append(got, ev.data, ev.len);
			else if (ev.type == WS_EV_CLOSE)
				buf_printf(got, "<close %u>", ev.code);
			else if (ev.type == WS_EV_PONG)
				buf_puts(got, "<pong>");
		}
	}
}

static void test_relay_client(void **state)
{
	int sp[2], in[2], out[2];
	struct relay_run rr = {0};
	struct ws_decoder d;
	struct buf got = BUF_INIT, frames = BUF_INIT;
	pthread_t t;
	char rb[64];
	(void)state;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	/* Bytes that came with the handshake answer are relayed first. */
	struct buf pending = BUF_INIT;
	frame(&pending, true, WS_OP_BINARY, "early ", 6, false);
	rr.cfg = (struct ws_relay){.ws_fd = sp[0],
	                           .in_fd = in[0],
	                           .out_fd = out[1],
	                           .client = true,
	                           .pending = (const uint8_t *)pending.data,
	                           .n_pending = pending.len};
	assert_int_equal(pthread_create(&t, NULL, relay_thread, &rr), 0);
	ws_decoder_init(&d, true);

	/* Client -> server: stdin bytes become masked binary frames. */
	assert_int_equal(write(in[1], "hello", 5), 5);
	read_events(sp[1], &d, &got, 5);
	assert_memory_equal(got.data, "hello", 5);

	/* Server -> client: data (split across frames) and a ping, answered with a pong. */
	frame(&frames, false, WS_OP_BINARY, "wor", 3, false);
	frame(&frames, true, WS_OP_PING, "p", 1, false);
	frame(&frames, true, WS_OP_CONT, "ld", 2, false);
	assert_int_equal(write(sp[1], frames.data, frames.len), (ssize_t)frames.len);
	size_t have = 0;
	while (have < 11) {
		ssize_t n = read(out[0], rb + have, sizeof(rb) - have);
		assert_true(n > 0);
		have += (size_t)n;
	}
	assert_memory_equal(rb, "early world", 11);
	buf_reset(&got);
	read_events(sp[1], &d, &got, strlen("<pong>"));
	assert_string_equal(got.data, "<pong>");

	/* stdin EOF: a close frame, while the other direction stays open (half-close). */
	close(in[1]);
	buf_reset(&got);
	read_events(sp[1], &d, &got, strlen("<close 1000>"));
	assert_string_equal(got.data, "<close 1000>");
	buf_reset(&frames);
	frame(&frames, true, WS_OP_BINARY, "late", 4, false);
	frame(&frames, true, WS_OP_CLOSE, "\x03\xe8", 2, false);
	assert_int_equal(write(sp[1], frames.data, frames.len), (ssize_t)frames.len);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(rr.ret, 0);
	/* "late" arrived, then the end: the relay closed its non-socket out_fd. */
	have = 0;
	for (;;) {
		ssize_t n = read(out[0], rb + have, sizeof(rb) - have);
		assert_true(n >= 0);
		if (n == 0)
			break;
		have += (size_t)n;
	}
	assert_int_equal(have, 4);
	assert_memory_equal(rb, "late", 4);

	close(sp[0]);
	close(sp[1]);
	close(in[0]);
	close(out[0]);
	buf_release(&got);
	buf_release(&frames);
	buf_release(&pending);
}

/* A peer that breaks the protocol gets a close 1002 and the relay ends with -EPROTO. */
static void test_relay_protocol_error(void **state)
{
	int sp[2], io[2];
	struct relay_run rr = {0};
	pthread_t t;
	(void)state;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io), 0);
	/* Server side of a tunnel: in_fd == out_fd. */
	rr.cfg =
	    (struct ws_relay){.ws_fd = sp[0], .in_fd = io[0], .out_fd = io[0], .client = false};
	assert_int_equal(pthread_create(&t, NULL, relay_thread, &rr), 0);
	/* Unmasked from a client: a violation. */
	assert_int_equal(write(sp[1], "\x82\x01X", 3), 3);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(rr.ret, -EPROTO);
	uint8_t b[16];
	ssize_t n = read(sp[1], b, sizeof(b));
	assert_int_equal(n, 4);
	assert_memory_equal(b, "\x88\x02\x03\xea", 4);
	/* The TCP side was shut for writing: its reader sees EOF. */
	assert_int_equal(read(io[1], b, sizeof(b)), 0);
	close(sp[0]);
	close(sp[1]);
	close(io[0]);
	close(io[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_lengths),
	    cmocka_unit_test(test_stream_any_split),
	    cmocka_unit_test(test_protocol_errors),
	    cmocka_unit_test(test_accept_key),
	    cmocka_unit_test(test_request_heads),
	    cmocka_unit_test(test_response_heads),
	    cmocka_unit_test(test_urls),
	    cmocka_unit_test(test_relay_client),
	    cmocka_unit_test(test_relay_protocol_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
