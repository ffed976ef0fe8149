/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_COMMON_HTTP_INTERNAL_H
#define WARREN_COMMON_HTTP_INTERNAL_H

/*
 * Internals of the HTTP module shared by http.c and http_forward.c, and the
 * entry point the fuzz target drives. Not for other modules.
 */

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/buf.h"
#include "common/http.h"

#define HTTP_IN_BUF_SIZE (64 * 1024)  /* client input buffer, per connection */
#define HTTP_FWD_BUF_SIZE (64 * 1024) /* backend-to-client relay buffer */
#define HTTP_MAX_HEADERS 100
#define HTTP_DRAIN_LIMIT (1024 * 1024) /* unread body bytes discarded before closing instead */

enum http_mode {
	HTTP_MODE_HEAD, /* parsing a request head */
	HTTP_MODE_BODY, /* decoded body bytes go to body_dst */
	HTTP_MODE_RAW,  /* forwarding: the parser only finds the end of the body */
};

enum http_resp_state {
	HTTP_RESP_NONE,
	HTTP_RESP_STREAMING,
	HTTP_RESP_DONE,
};

struct http_conn {
	int fd;
	struct http_server *srv; /* NULL when served by http_serve_fd() */
	const struct http_server_config *cfg;
	http_parser parser;

	/* Client input: [in_off, in_len) has not been through the parser yet. */
	char *in;
	size_t in_len, in_off;

	/* Request head as the parser delivers it: url\0name\0value\0... */
	struct buf head;
	size_t url_len;
	size_t hdr_off[HTTP_MAX_HEADERS][2];
	size_t n_hdr;
	int last_cb; /* 0: url, 1: header field, 2: header value */
	size_t head_bytes;
	bool head_too_big;
	struct http_header headers[HTTP_MAX_HEADERS];
	struct http_request req;

	bool headers_done;
	bool msg_done;
	enum http_mode mode;
	char *body_dst;
	size_t body_cap, body_got;
	bool body_started;
	bool continue_sent;

	enum http_resp_state resp;
	bool resp_chunked;
	bool resp_sized; /* streamed with a Content-Length: resp_left bytes still owed */
	uint64_t resp_left;
	bool is_head;
	bool close_after;
	bool dead;   /* the client connection is unusable */
	bool broken; /* the request stream cannot be parsed further: reply, then close */

	struct buf out; /* response heads, reused */
	char *fwd_buf;  /* HTTP_FWD_BUF_SIZE, allocated on first forward */

	void *ud;
	void (*ud_free)(void *);

	struct http_conn *prev, *next; /* server's list, under its lock */
};

/* Feeds at most max pending input bytes to the parser. 0, or -EBADMSG. */
int http_conn_feed(struct http_conn *c, size_t max);
/* sendmsg() of all of iov, blocking, MSG_NOSIGNAL. 0 or -errno (marks the conn dead). */
int http_conn_sendv(struct http_conn *c, struct iovec *iov, int n_iov);

/*
 * Serves one client connection on fd (any connected stream socket) in the
 * calling thread until it closes, with cfg's handler and limits. Takes
 * ownership of fd. Used by the server's threads and by the fuzz target.
 */
void http_serve_fd(const struct http_server_config *cfg, int fd);

#endif
