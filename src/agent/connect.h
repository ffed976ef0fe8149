/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_CONNECT_H
#define WARREN_AGENT_CONNECT_H

/*
 * The Connect protocol (JSON codec) as the E2B SDK speaks it (WIRE.md §3.2):
 * envelope framing for server streams, error codes and their HTTP statuses,
 * and reply helpers for unary and streaming handlers.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct http_conn;
struct http_request;

#define CONNECT_FLAG_COMPRESSED 0x01
#define CONNECT_FLAG_END_STREAM 0x02
#define CONNECT_ENVELOPE_HDR 5

/*
 * An RPC failure: code is a static Connect code string ("not_found", ...),
 * message a human text. Filled by the service, sent by the transport.
 */
struct rpc_error {
	const char *code;
	char message[256];
};

/* Fills e (code, printf message) and returns -1 for `return rpc_fail(...)`. */
int rpc_fail(struct rpc_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parses a request body that must be exactly one uncompressed message
 * envelope. On success sets *ret_msg and *ret_len (pointing into body) and returns 0;
 * otherwise -EINVAL with a message in e (invalid_argument).
 */
int connect_unenvelope(const char *body, size_t len, const char **ret_msg, size_t *ret_len,
                       struct rpc_error *e);

/* Appends one envelope: flags, BE32 length, payload. 0 or -ENOMEM / -EMSGSIZE. */
int connect_envelope(struct buf *out, uint8_t flags, const void *payload, size_t len);

/* Appends the end-stream payload: {} when e is NULL, else {"error":{...}}. */
int connect_end_stream_json(struct buf *out, const struct rpc_error *e);

/* Appends s as a JSON string literal (quotes, escapes; invalid UTF-8 bytes become U+FFFD). */
int json_quote(struct buf *out, const char *s);

/* Unary replies: 200 application/json with body, or the mapped status with {"code","message"}. */
int rpc_reply_json(struct http_conn *c, const char *json, size_t len);
int rpc_reply_error(struct http_conn *c, const struct rpc_error *e);

/*
 * A server stream in progress. connect_stream_start sends the 200 head;
 * connect_stream_send sends one message envelope; connect_stream_end sends the
 * end-stream envelope (error or {}) and the last chunk. Each returns 0 or
 * -errno when the client is gone (then the caller stops sending).
 */
int connect_stream_start(struct http_conn *c);
int connect_stream_send(struct http_conn *c, const char *json, size_t len);
int connect_stream_end(struct http_conn *c, const struct rpc_error *e);

/* Request helpers shared by the services. */
/* Is the Content-Type want (case-insensitive), alone or followed by parameters? */
bool connect_content_type_is(const struct http_request *req, const char *want);
/* A header such as Connect-Timeout-Ms: a decimal of at most 10 digits, else dflt. */
int64_t connect_header_int(const struct http_request *req, const char *name, int64_t dflt);
/*
 * Reads the whole request body (at most max bytes) into out. 0, or -1 with e
 * filled: resource_exhausted when larger, invalid_argument when unreadable.
 */
int connect_read_body(struct http_conn *c, size_t max, struct buf *out, struct rpc_error *e);

#endif
