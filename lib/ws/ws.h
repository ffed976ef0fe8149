/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_WS_WS_H
#define WARREN_WS_WS_H

/*
 * WebSocket (RFC 6455) as a byte pipe: just what a TCP tunnel needs (the SSH
 * bridge, docs/SSH.md). No extensions, no subprotocols; text and binary
 * messages are both relayed as bytes (a tunnel never checks UTF-8).
 *
 * Why our own framing and not libwebsockets: lws owns the process's event
 * loop and its fds, while a tunnel is two fds relayed both ways; the framing
 * is these few functions, and tests/fuzz/fuzz-ws.c fuzzes every parser here.
 * HTTP heads (the upgrade request and its answer) are parsed by libhttp-parser.
 *
 * Nothing here logs, allocates behind the caller's back, or keeps globals.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <warren/error.h>

struct buf;

#define WS_HDR_MAX 14 /* the longest frame header: 2 + 8 bytes of length + 4 of mask */
#define WS_CTL_MAX 125

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

/* Close status codes used here. */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_PROTOCOL 1002

/*
 * Writes the header of one frame with a payload of len bytes into out
 * (WS_HDR_MAX bytes of room) and returns its length. mask NULL: unmasked (a
 * server's frames); else the 4 mask bytes are written (a client's frames) and
 * the caller masks the payload with ws_mask().
 */
size_t ws_frame_header(uint8_t *out, bool fin, enum ws_opcode op, uint64_t len,
                       const uint8_t *mask);

/* XORs len bytes with the mask, as if they started at payload offset `offset`. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/*
 * Appends one complete frame (header and masked payload when mask != NULL) to
 * out. 0 or -ENOMEM.
 */
int ws_frame_append(struct buf *out, enum ws_opcode op, const void *data, size_t len,
                    const uint8_t *mask);

/* An incremental frame decoder; embedded, zeroed by ws_decoder_init. */
struct ws_decoder {
	bool server; /* frames must be masked (from a client) or must not (from a server) */
	uint8_t hdr[WS_HDR_MAX];
	size_t n_hdr;
	bool in_frame;   /* the header is complete, the payload runs */
	bool fin;        /* of the current frame */
	uint8_t op;      /* of the current frame */
	bool masked;     /* of the current frame */
	uint8_t mask[4]; /* of the current frame */
	uint64_t len;    /* payload length of the current frame */
	uint64_t pos;    /* payload bytes consumed of the current frame */
	bool in_message; /* a fragmented data message continues */
	uint8_t ctl[WS_CTL_MAX];
	size_t n_ctl;
	bool closed; /* a close frame was decoded: nothing may follow */
};

void ws_decoder_init(struct ws_decoder *d, bool server);

enum ws_event_type {
	WS_EV_NONE,  /* all input consumed, no event yet */
	WS_EV_DATA,  /* payload bytes of a text/binary message (possibly a part) */
	WS_EV_PING,  /* data: the ping's payload, to be echoed in a pong */
	WS_EV_PONG,  /* data: the payload */
	WS_EV_CLOSE, /* code: the status (1005 when the frame had none); data: the reason */
};

struct ws_event {
	enum ws_event_type type;
	const uint8_t *data; /* into the caller's input (DATA) or the decoder (control) */
	size_t len;
	uint16_t code;
};

/*
 * Consumes input until one event is complete or the input ends. Payload
 * bytes are unmasked in place, so a DATA event's bytes point into `data`.
 * Returns the number of bytes consumed (ev->type WS_EV_NONE when they did not
 * complete an event), or -EPROTO on a protocol violation (reserved bits,
 * unknown opcode, fragmented or long control frame, a mask on the wrong side,
 * non-minimal or 2^63+ length, a continuation without a message, bytes after
 * a close, a bad close payload). After -EPROTO the decoder is unusable.
 */
ssize_t ws_decode(struct ws_decoder *d, uint8_t *data, size_t len, struct ws_event *ev);

/* A fresh Sec-WebSocket-Key (base64 of 16 random bytes) into out[25]. 0 or -errno. */
int ws_make_key(char out[25]);
/* Sec-WebSocket-Accept for a key, into out[29] (base64 of SHA-1). 0 or -EINVAL. */
int ws_accept_key(const char *key, char out[29]);

/*
 * An HTTP head (the client's upgrade request, or the server's answer) read
 * incrementally with libhttp-parser. At most WS_HEAD_MAX bytes and
 * WS_HEAD_HEADERS headers; the body of a non-101 answer (an error) is kept
 * up to WS_BODY_MAX bytes for the message.
 */
#define WS_HEAD_MAX 16384
#define WS_HEAD_HEADERS 64
#define WS_BODY_MAX 4096

struct ws_head;

/* request: parse a request (server side), else a response. NULL on ENOMEM. */
struct ws_head *ws_head_new(bool request);
void ws_head_free(struct ws_head *h);

/*
 * Feeds bytes. Returns the number consumed: for an upgrade (request with
 * Upgrade, or a 101 answer) the bytes after the head are not consumed, they
 * are the first WebSocket bytes. len 0 means the peer closed. -EAGAIN is never
 * returned; check ws_head_done(). -EBADMSG on malformed HTTP, -EMSGSIZE past
 * the limits.
 */
ssize_t ws_head_feed(struct ws_head *h, const char *data, size_t len);
/* True once the head (and for a non-101 answer, its body) is complete. */
bool ws_head_done(const struct ws_head *h);
/* Response status (0 for requests); the request method ("GET"); a header (first, any case). */
int ws_head_status(const struct ws_head *h);
const char *ws_head_method(const struct ws_head *h);
const char *ws_head_get(const struct ws_head *h, const char *name);
/* The answer's body so far (NUL-terminated, at most WS_BODY_MAX bytes). */
const char *ws_head_body(const struct ws_head *h);
/* True when the parser saw a complete upgrade (Upgrade + Connection: upgrade, 101 for answers). */
bool ws_head_upgrade(const struct ws_head *h);

/*
 * Server side: checks a complete request head is a WebSocket upgrade and fills
 * accept[29]. Returns 0, or the HTTP status to refuse it with (400 malformed,
 * 426 not a WebSocket request or another version), with err set.
 */
int ws_check_request(const struct ws_head *h, char accept[29], struct warren_error *err);
/* Client side: checks a complete answer is the 101 for `key`. 0 or -EPROTO with err set. */
int ws_check_response(const struct ws_head *h, const char *key, struct warren_error *err);

/*
 * Relays bytes between a WebSocket connection and a pair of plain fds until
 * both directions have ended: bytes read from in_fd go out as binary frames
 * (masked when `client`), payload of received data frames is written to
 * out_fd. in_fd and out_fd may be the same socket (the server side of a
 * tunnel). `pending` are WebSocket bytes already read after the handshake.
 * A close frame is a half-close, as TCP's FIN: EOF on in_fd sends one; a
 * received one ends out_fd (shutdown(SHUT_WR) for a socket; a non-socket
 * out_fd other than in_fd is closed, the only fd this call may close) while
 * in_fd is still relayed to its EOF. The call returns once both closes have
 * passed, or close_wait_ms after ours when the peer's never comes. Pings are
 * answered with pongs. Buffers are bounded (64 KiB each way, 1 MiB of pongs).
 * The fds are made non-blocking during the call and restored.
 * Returns 0 after a clean close, -ECONNRESET when the WebSocket ended without
 * a close frame, -EPROTO on a protocol error (a close 1002 is sent), -errno.
 */
struct ws_relay {
	int ws_fd;
	int in_fd;
	int out_fd;
	bool client;
	const uint8_t *pending;
	size_t n_pending;
	int close_wait_ms; /* after our close, how long to wait for the peer's; 0: 10000 */
};
int ws_relay_run(const struct ws_relay *r);

/*
 * Splits "http://host[:port][/path]" (also ws://; IPv6 as [addr]) into its
 * parts: port defaults to 80, path to "/". https:// and wss:// give
 * -EPROTONOSUPPORT (no TLS here), anything else -EINVAL.
 */
struct ws_url {
	char host[256];
	char port[8];
	char path[1024];
	char host_header[272]; /* host[:port] as sent in Host */
};
int ws_url_parse(const char *url, struct ws_url *ret);

/*
 * Client side of the handshake: connects to url's host (TCP, timeout_ms for
 * the connection and the answer), sends GET with the upgrade headers plus
 * extra_headers (NULL-terminated full lines without CRLF, e.g.
 * "E2b-Sandbox-Id: abc"; may be NULL), and checks the answer. On success
 * *ret_fd is the connected socket (O_CLOEXEC, the caller closes it) and the
 * WebSocket bytes that came with the answer are appended to pending. On an
 * error answer: -EPROTO, err says "HTTP <status>: <the body's message>".
 */
int ws_client_connect(const struct ws_url *url, const char *const *extra_headers, int timeout_ms,
                      int *ret_fd, struct buf *pending, struct warren_error *err);

#endif
