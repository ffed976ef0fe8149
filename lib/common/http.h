/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_COMMON_HTTP_H
#define WARREN_COMMON_HTTP_H

/*
 * A small HTTP/1.1 server for warrend and the in-sandbox agent, built on the
 * http-parser library (libhttp-parser, nodejs' parser): this module never
 * parses HTTP itself, it drives the parser.
 *
 * Model: one thread per client connection, blocking I/O, keep-alive, no
 * pipelining needed (clients do not pipeline, but a pipelined request is
 * served in order, never lost). For each request the server calls the
 * handler once, after the request head; the handler reads the body as a
 * stream (chunked bodies arrive decoded) and sends exactly one response,
 * either whole (http_reply*) or streamed as chunks (http_stream_*), which is
 * flushed on every write. If a handler returns without replying, the server
 * replies 500. Unread body bytes are discarded after the handler returns
 * (a connection whose body is larger than the drain limit is closed).
 *
 * Limits: request head at most max_header_bytes (431/400 otherwise), at most
 * 100 headers. Every fd is O_CLOEXEC. SIGPIPE is never raised (MSG_NOSIGNAL).
 * A parse error gets a 400 with a JSON body {"code":400,"message":...} and
 * the connection is closed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <warren/error.h>

struct buf;
struct http_conn;
struct http_server;

struct http_header {
	char *name;  /* as received */
	char *value; /* leading/trailing whitespace trimmed */
};

/* Valid during the handler call only; owned by the connection. */
struct http_request {
	char method[16];             /* "GET", "POST", ... */
	char *target;                /* raw request target: "/a/b?x=1" */
	char *path;                  /* target up to '?', not percent-decoded */
	char *query;                 /* after '?', or "" */
	struct http_header *headers; /* in arrival order */
	size_t n_headers;
	int64_t content_length; /* -1 when absent (chunked or no body) */
	bool chunked;           /* Transfer-Encoding: chunked */
	bool keep_alive;        /* the client wants the connection kept */
	bool upgrade;           /* Connection: upgrade was requested */
	int http_minor;         /* 0 or 1 */
};

/* Case-insensitive header lookup: the first value, or NULL. */
const char *http_header_get(const struct http_request *req, const char *name);

/*
 * Reads up to len bytes of the (decoded) request body. Returns the number of
 * bytes read, 0 at the end of the body, or -errno (-ECONNRESET when the client
 * went away, -EBADMSG on a malformed body).
 */
ssize_t http_body_read(struct http_conn *c, void *buf, size_t len);

/* Reads the whole body into out (appended). -EMSGSIZE when longer than max. */
int http_body_read_all(struct http_conn *c, size_t max, struct buf *out);

/*
 * Sends a complete response with Content-Length (also when len == 0, as the
 * SDK needs for empty non-204 answers; 204 and 304 carry no body and no
 * length). extra_headers is NULL or a NULL-terminated array of full header
 * lines without CRLF ("Retry-After: 1"). content_type may be NULL.
 * Returns 0 or -errno (the client is gone).
 */
int http_reply(struct http_conn *c, int status, const char *content_type, const void *body,
               size_t len);
int http_reply_hdrs(struct http_conn *c, int status, const char *const *extra_headers,
                    const char *content_type, const void *body, size_t len);
/* http_reply with a JSON body {"code":<status>,"message":"<msg>"}. */
int http_reply_error(struct http_conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Starts a chunked response; each http_stream_write sends one chunk and flushes. */
int http_stream_start(struct http_conn *c, int status, const char *content_type,
                      const char *const *extra_headers);
int http_stream_write(struct http_conn *c, const void *data, size_t len);
/*
 * Starts a response whose body is streamed with a known length (Content-Length,
 * no chunking): http_stream_write and http_stream_sendfile then send raw bytes,
 * at most length in total (-EMSGSIZE beyond). If http_stream_end comes before
 * all of them were sent, the connection is closed after it (the client sees a
 * truncated body) and it returns -EPIPE. HEAD requests get the head only.
 */
int http_stream_start_sized(struct http_conn *c, int status, const char *content_type,
                            const char *const *extra_headers, uint64_t length);
/*
 * Sends up to len bytes from fd's current offset with sendfile(2), in a sized
 * response only. Returns the number sent (less than len when the file ended),
 * -ECONNRESET / -ETIMEDOUT when the client is gone or stopped reading, or
 * another -errno when reading fd failed (the connection is then still usable
 * for nothing but closing: end the stream).
 */
ssize_t http_stream_sendfile(struct http_conn *c, int fd, size_t len);
/* Sends the last chunk. After this the request is complete. */
int http_stream_end(struct http_conn *c);

/* True once a response has been started or sent for the current request. */
bool http_replied(const struct http_conn *c);

/* The client socket (for poll()ing it for hang-up while a stream waits). */
int http_conn_fd(const struct http_conn *c);
/* Non-blocking check: has the client closed its side? */
bool http_conn_peer_closed(struct http_conn *c);
/* Marks the connection to be closed after the current response. */
void http_conn_close_after(struct http_conn *c);

/*
 * Per-connection user data (e.g. the proxy's pooled backend socket). The
 * connection owns it once set: free_fn (may be NULL) is called with it when
 * the connection ends or when another value replaces it.
 */
void *http_conn_get_data(const struct http_conn *c);
void http_conn_set_data(struct http_conn *c, void *data, void (*free_fn)(void *));

/*
 * Relays the current request to backend_fd (a connected stream socket) and
 * the backend's response back to the client, as a reverse proxy does:
 * the request head is re-sent with the headers in drop_headers removed
 * (case-insensitive names, NULL-terminated; hop-by-hop headers are always
 * handled), then the remaining body bytes and the response are copied as
 * they arrive, both ways at once, with bounded buffers (no whole body is held
 * in memory), using the parser only to find where each message ends.
 * A 101 Switching Protocols answer turns the connection into a two-way
 * byte pipe until either side closes.
 * Returns 1 when the backend connection may be reused for another request,
 * 0 when it must be closed, -errno on failure before any response byte was
 * sent (the caller may then reply with an error).
 */
int http_forward(struct http_conn *c, struct http_request *req, int backend_fd,
                 const char *const *drop_headers);

typedef void (*http_handler_fn)(struct http_conn *c, struct http_request *req, void *userdata);

struct http_server_config {
	const char *host;        /* numeric IPv4/IPv6 address to bind, e.g. "127.0.0.1" */
	uint16_t port;           /* 0 picks a free port (see http_server_port) */
	int listen_fd;           /* >= 0: use this listening socket instead (ownership passes) */
	size_t max_header_bytes; /* 0 means 64 KiB */
	size_t thread_stack;     /* 0 means 256 KiB */
	unsigned max_conns;      /* 0 means 1024; further connections get 503 and close */
	int idle_timeout_ms;     /* keep-alive idle limit; 0 means 60 s */
	http_handler_fn handler;
	void *userdata;
};

/* Binds and listens; the server does not accept until http_server_run(). */
int http_server_new(const struct http_server_config *cfg, struct http_server **ret,
                    struct warren_error *err);
/* Accepts connections in the calling thread until http_server_stop(). */
int http_server_run(struct http_server *s);
/* Async-signal-safe: makes http_server_run return. */
void http_server_stop(struct http_server *s);
/* Stops accepting; waits for connection threads to finish; frees. NULL is fine. */
void http_server_free(struct http_server *s);
uint16_t http_server_port(const struct http_server *s);

/* "Not Found" for 404 etc. */
const char *http_status_text(int status);

#endif
