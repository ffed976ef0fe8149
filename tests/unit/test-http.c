/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP server, http_forward and warrend's proxy, over real loopback
 * sockets. Synchronisation between a handler and the test goes through pipes
 * (never sleeps): a test that expects streaming waits for the first chunk
 * before it lets the handler produce the second one, so buffering anywhere
 * on the path would hang (and time out through SO_RCVTIMEO) instead of pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/filesig.h"
#include "common/http.h"
#include "../../src/warrend/proxy.h"

#define UPLOAD_SIZE (3 * 1024 * 1024)

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + (i >> 9) + 3);
}

/* ---- shared test state ------------------------------------------------------------------ */

struct tstate {
	int gate[2];   /* test -> handler: one byte lets a waiting handler go on */
	int notify[2]; /* handler -> test: results as text lines */
	uint16_t backend_port;
	atomic_int backend_conns;
	struct proxy *proxy;
};

static void gate_wait(struct tstate *t)
{
	char ch;

	(void)!read(t->gate[0], &ch, 1);
}

static void gate_open(struct tstate *t)
{
	assert_int_equal(write(t->gate[1], "g", 1), 1);
}

static void __attribute__((format(printf, 2, 3))) notifyf(struct tstate *t, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	(void)!write(t->notify[1], line, (size_t)n);
}

static void notify_read(struct tstate *t, char *out, size_t len)
{
	struct pollfd pfd = {.fd = t->notify[0], .events = POLLIN};
	ssize_t n;

	assert_int_equal(poll(&pfd, 1, 10000), 1);
	n = read(t->notify[0], out, len - 1);
	assert_true(n > 0);
	out[n] = '\0';
}

/* ---- servers ---------------------------------------------------------------------------- */

struct srv {
	struct http_server *s;
	pthread_t thread;
	uint16_t port;
};

static void *srv_run(void *arg)
{
	http_server_run(arg);
	return NULL;
}

static void srv_start_max(struct srv *v, http_handler_fn fn, void *ud, size_t max_header_bytes,
                          unsigned max_conns)
{
	struct http_server_config cfg = {
	    .host = "127.0.0.1",
	    .listen_fd = -1,
	    .max_header_bytes = max_header_bytes,
	    .max_conns = max_conns,
	    .handler = fn,
	    .userdata = ud,
	    .idle_timeout_ms = 10000,
	};
	struct warren_error err = {0};

	assert_int_equal(http_server_new(&cfg, &v->s, &err), 0);
	v->port = http_server_port(v->s);
	assert_true(v->port > 0);
	assert_int_equal(pthread_create(&v->thread, NULL, srv_run, v->s), 0);
}

static void srv_start(struct srv *v, http_handler_fn fn, void *ud, size_t max_header_bytes)
{
	srv_start_max(v, fn, ud, max_header_bytes, 0);
}

static void srv_stop(struct srv *v)
{
	http_server_stop(v->s);
	pthread_join(v->thread, NULL);
	http_server_free(v->s);
}

/* The handler of the directly tested server (and of the backend behind the forwarder). */
static void app_handler(struct http_conn *c, struct http_request *req, void *ud)
{
	struct tstate *t = ud;
	struct buf b = BUF_INIT;
	char hdr[128];
	const char *extra[] = {hdr, NULL};
	int r;

	if (!http_conn_get_data(c)) {
		/* Counts distinct client connections (the proxy's pooling is visible here). */
		http_conn_set_data(c, (void *)1, NULL);
		atomic_fetch_add(&t->backend_conns, 1);
	}
	if (strcmp(req->path, "/echo") == 0) {
		r = http_body_read_all(c, 16 << 20, &b);
		snprintf(hdr, sizeof(hdr), "X-Info: %s %s q=%s chunked=%d", req->method, req->path,
		         req->query, req->chunked);
		if (r < 0)
			http_reply_error(c, 400, "body: %d", r);
		else
			http_reply_hdrs(c, 200, extra, "application/octet-stream", b.data, b.len);
	} else if (strcmp(req->path, "/verify") == 0) {
		/* Reads the body in odd-sized pieces and checks every byte against the pattern. */
		char piece[1000];
		size_t total = 0, bad = 0;
		ssize_t n;

		while ((n = http_body_read(c, piece, sizeof(piece) - (total % 7))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				bad += (uint8_t)piece[i] != pattern(total + (size_t)i);
			total += (size_t)n;
		}
		buf_printf(&b, "total=%zu bad=%zu err=%zd", total, bad, n);
		http_reply(c, 200, "text/plain", b.data, b.len);
	} else if (strcmp(req->path, "/empty") == 0) {
		http_reply(c, 200, NULL, NULL, 0);
	} else if (strcmp(req->path, "/big") == 0 || strcmp(req->path, "/short") == 0) {
		/* A sized body streamed in odd pieces (the forwarder splices large ones);
		 * /short announces more than it sends, then the connection closes. */
		char piece[70001];
		size_t off = 0,
		       end = strcmp(req->path, "/short") == 0 ? UPLOAD_SIZE / 2 : UPLOAD_SIZE;

		http_stream_start_sized(c, 200, "application/octet-stream", NULL, UPLOAD_SIZE);
		while (off < end) {
			size_t n = end - off < sizeof(piece) ? end - off : sizeof(piece);

			for (size_t i = 0; i < n; i++)
				piece[i] = (char)pattern(off + i);
			if (http_stream_write(c, piece, n) < 0)
				break;
			off += n;
		}
		http_stream_end(c);
	} else if (strcmp(req->path, "/stream") == 0) {
		http_stream_start(c, 200, "text/plain", NULL);
		http_stream_write(c, "first", 5);
		gate_wait(t);
		http_stream_write(c, "second", 6);
		http_stream_end(c);
	} else if (strcmp(req->path, "/waitclose") == 0) {
		/* A stream that waits for the client to go away, as a command stream does. */
		struct pollfd pfd = {.fd = http_conn_fd(c), .events = POLLRDHUP};

		http_stream_start(c, 200, "text/plain", NULL);
		http_stream_write(c, "first", 5);
		r = poll(&pfd, 1, 10000);
		notifyf(t, "closed=%d", r == 1 && http_conn_peer_closed(c));
	} else if (strcmp(req->path, "/readbody") == 0) {
		char tmp[4096];
		ssize_t n;

		while ((n = http_body_read(c, tmp, sizeof(tmp))) > 0)
			;
		notifyf(t, "readbody %zd", n);
		http_reply(c, 200, NULL, NULL, 0);
	} else if (strcmp(req->path, "/none") == 0) {
		/* no reply: the server answers 500 */
	} else {
		http_reply_error(c, 404, "no route for %s", req->path);
	}
	buf_release(&b);
}

/* ---- a small client --------------------------------------------------------------------- */

struct resp {
	int status;
	struct buf headers; /* "name: value\n" lines */
	struct buf body;
	bool complete;
};

struct client {
	int fd;
	http_parser p;
	char buf[65536];
	size_t len, off;
	struct resp r;
	bool last_was_value;
	bool eof;
	bool head; /* the next response answers HEAD */
};

static int c_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct client *cl = p->data;

	if (cl->last_was_value || cl->r.headers.len == 0)
		buf_puts(&cl->r.headers, cl->r.headers.len ? "\n" : "");
	cl->last_was_value = false;
	return buf_append(&cl->r.headers, at, len);
}

static int c_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct client *cl = p->data;

	if (!cl->last_was_value)
		buf_puts(&cl->r.headers, ": ");
	cl->last_was_value = true;
	return buf_append(&cl->r.headers, at, len);
}

static int c_on_headers_complete(http_parser *p)
{
	struct client *cl = p->data;

	cl->r.status = p->status_code;
	buf_puts(&cl->r.headers, "\n");
	return cl->head ? 1 : 0;
}

static int c_on_body(http_parser *p, const char *at, size_t len)
{
	struct client *cl = p->data;

	return buf_append(&cl->r.body, at, len);
}

static int c_on_message_complete(http_parser *p)
{
	struct client *cl = p->data;

	cl->r.complete = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings client_settings = {
    .on_header_field = c_on_header_field,
    .on_header_value = c_on_header_value,
    .on_headers_complete = c_on_headers_complete,
    .on_body = c_on_body,
    .on_message_complete = c_on_message_complete,
};

static void client_open(struct client *cl, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = 10};

	memset(cl, 0, sizeof(*cl));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(cl->fd >= 0);
	/* A test that would hang fails after 10 s instead. */
	setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	http_parser_init(&cl->p, HTTP_RESPONSE);
	cl->p.data = cl;
}

static void client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	cl->fd = -1;
	buf_release(&cl->r.headers);
	buf_release(&cl->r.body);
}

static void client_send(struct client *cl, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(cl->fd, p, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void client_sends(struct client *cl, const char *s)
{
	client_send(cl, s, strlen(s));
}

/* Feeds buffered bytes to the parser; reads more when needed. until(): stop condition. */
static void client_pump(struct client *cl, bool (*until)(struct client *, const void *),
                        const void *arg)
{
	for (;;) {
		if (cl->off < cl->len) {
			size_t n = http_parser_execute(&cl->p, &client_settings, cl->buf + cl->off,
			                               cl->len - cl->off);

			cl->off += n;
			if (HTTP_PARSER_ERRNO(&cl->p) == HPE_PAUSED)
				http_parser_pause(&cl->p, 0);
			else
				assert_int_equal(HTTP_PARSER_ERRNO(&cl->p), HPE_OK);
		}
		if (until(cl, arg))
			return;
		if (cl->off == cl->len) {
			ssize_t n;

			cl->off = cl->len = 0;
			n = recv(cl->fd, cl->buf, sizeof(cl->buf), 0);
			assert_true(n >= 0); /* < 0: timed out, the test failed */
			if (n == 0) {
				cl->eof = true;
				http_parser_execute(&cl->p, &client_settings, NULL, 0);
				assert_true(until(cl, arg));
				return;
			}
			cl->len = (size_t)n;
		}
	}
}

static bool until_complete(struct client *cl, const void *arg)
{
	return cl->r.complete;
}

static bool until_body_has(struct client *cl, const void *arg)
{
	return cl->r.body.data && strstr(cl->r.body.data, arg);
}

static void client_reset_resp(struct client *cl)
{
	buf_reset(&cl->r.headers);
	buf_reset(&cl->r.body);
	cl->r.complete = false;
	cl->r.status = 0;
	cl->last_was_value = false;
}

static void client_read_response(struct client *cl)
{
	client_reset_resp(cl);
	client_pump(cl, until_complete, NULL);
}

static bool has_header(struct client *cl, const char *line)
{
	return cl->r.headers.data && strcasestr(cl->r.headers.data, line) != NULL;
}

/* True when the server closed the connection (EOF within the receive timeout). */
static bool client_sees_eof(struct client *cl)
{
	char tmp[256];
	ssize_t n;

	if (cl->off < cl->len)
		return false;
	while ((n = recv(cl->fd, tmp, sizeof(tmp), 0)) > 0)
		;
	return n == 0;
}

/* ---- fixtures --------------------------------------------------------------------------- */

struct fixture {
	struct tstate t;
	struct srv app;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(pipe2(f->t.gate, O_CLOEXEC), 0);
	assert_int_equal(pipe2(f->t.notify, O_CLOEXEC), 0);
	srv_start(&f->app, app_handler, &f->t, 4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	srv_stop(&f->app);
	close(f->t.gate[0]);
	close(f->t.gate[1]);
	close(f->t.notify[0]);
	close(f->t.notify[1]);
	free(f);
	return 0;
}

/* ---- server tests ----------------------------------------------------------------------- */

static void test_keepalive(void **state)
{
	struct fixture *f = *state;
	struct client cl;

	client_open(&cl, f->app.port);
	client_sends(&cl, "POST /echo?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_string_equal(cl.r.body.data, "hello");
	assert_true(has_header(&cl, "X-Info: POST /echo q=a=1 chunked=0"));
	assert_false(has_header(&cl, "Connection: close"));

	/* Second request on the same connection. */
	client_sends(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_string_equal(cl.r.body.data, "abc");

	/* Two pipelined requests in one write: both answered, in order. */
	client_sends(&cl, "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\n12"
	                  "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\n34");
	client_read_response(&cl);
	assert_string_equal(cl.r.body.data, "12");
	client_read_response(&cl);
	assert_string_equal(cl.r.body.data, "34");

	/* An unread body is drained: the next request still parses. */
	client_sends(&cl, "POST /empty HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
	                  "GET /echo HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_string_equal(cl.r.body.data, "");

	/* Connection: close is honoured. */
	client_sends(&cl, "GET /empty HTTP/1.1\r\nConnection: close\r\n\r\n");
	client_read_response(&cl);
	assert_true(has_header(&cl, "Connection: close"));
	assert_true(client_sees_eof(&cl));
	client_close(&cl);
}

static void test_chunked_body(void **state)
{
	struct fixture *f = *state;
	/* Chunk sizes, extensions, a trailer; written in pieces that split every token. */
	const char *pieces[] = {
	    "POST /echo?q HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "5",
	    "\r",
	    "\nhel",
	    "lo\r\n",
	    "1",
	    "0;ext=1\r\n0123456789abcdef\r",
	    "\n",
	    "3\r\n, w\r\n",
	    "0\r\nX-Trailer: t\r\n",
	    NULL,
	    "\r\n",
	};
	/* A long trailer: the request's strings must survive it (they did not once). */
	char trailer[3000];

	memset(trailer, 'a', sizeof(trailer));
	memcpy(trailer, "X-Long: ", 8);
	memcpy(trailer + sizeof(trailer) - 3, "\r\n", 3); /* includes the NUL */
	pieces[10] = trailer;
	struct client cl;

	client_open(&cl, f->app.port);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		client_sends(&cl, pieces[i]);
		/* Each piece is its own segment: TCP_NODELAY on our side is not needed for
		 * that, separate send() calls on a loopback socket arrive as separate reads
		 * often enough; the parser handles any split either way. */
	}
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_string_equal(cl.r.body.data, "hello0123456789abcdef, w");
	assert_true(has_header(&cl, "X-Info: POST /echo q=q chunked=1"));

	/* The same connection goes on after a chunked body. */
	client_sends(&cl, "GET /empty HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	client_close(&cl);
}

static void test_chunked_big_verify(void **state)
{
	struct fixture *f = *state;
	size_t chunk = 10007, off = 0;
	struct client cl;
	char line[32];
	uint8_t *data = malloc(UPLOAD_SIZE);

	for (size_t i = 0; i < UPLOAD_SIZE; i++)
		data[i] = pattern(i);
	client_open(&cl, f->app.port);
	client_sends(&cl, "POST /verify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	while (off < UPLOAD_SIZE) {
		size_t n = UPLOAD_SIZE - off < chunk ? UPLOAD_SIZE - off : chunk;

		snprintf(line, sizeof(line), "%zx\r\n", n);
		client_sends(&cl, line);
		client_send(&cl, data + off, n);
		client_sends(&cl, "\r\n");
		off += n;
	}
	client_sends(&cl, "0\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	snprintf(line, sizeof(line), "total=%d bad=0 err=0", UPLOAD_SIZE);
	assert_string_equal(cl.r.body.data, line);
	client_close(&cl);
	free(data);
}

static void test_empty_and_none(void **state)
{
	struct fixture *f = *state;
	struct client cl;

	client_open(&cl, f->app.port);
	client_sends(&cl, "GET /empty HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_true(has_header(&cl, "Content-Length: 0"));
	assert_int_equal(cl.r.body.len, 0);

	client_sends(&cl, "GET /none HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 500);
	assert_non_null(strstr(cl.r.body.data, "\"code\":500"));

	client_sends(&cl, "GET /nowhere HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 404);
	assert_true(has_header(&cl, "Content-Type: application/json"));
	client_close(&cl);
}

static void test_stream(void **state)
{
	struct fixture *f = *state;
	struct client cl;

	client_open(&cl, f->app.port);
	client_sends(&cl, "GET /stream HTTP/1.1\r\n\r\n");
	client_reset_resp(&cl);
	/* The handler blocks before "second" until the gate opens: "first" must arrive alone. */
	client_pump(&cl, until_body_has, "first");
	assert_false(cl.r.complete);
	assert_true(has_header(&cl, "Transfer-Encoding: chunked"));
	gate_open(&f->t);
	client_pump(&cl, until_complete, NULL);
	assert_string_equal(cl.r.body.data, "firstsecond");

	/* Keep-alive after a stream. */
	client_sends(&cl, "GET /empty HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	client_close(&cl);
}

static void test_oversized_header(void **state)
{
	struct fixture *f = *state;
	struct client cl;
	struct buf req = BUF_INIT;

	buf_puts(&req, "GET /empty HTTP/1.1\r\nX-Big: ");
	for (int i = 0; i < 8000; i++)
		buf_puts(&req, "a");
	buf_puts(&req, "\r\n\r\n");
	client_open(&cl, f->app.port);
	client_send(&cl, req.data, req.len);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 431);
	assert_true(has_header(&cl, "Connection: close"));
	assert_true(client_sees_eof(&cl));
	client_close(&cl);

	/* Too many headers. */
	buf_reset(&req);
	buf_puts(&req, "GET /empty HTTP/1.1\r\n");
	for (int i = 0; i < 150; i++)
		buf_printf(&req, "X-%d: 1\r\n", i);
	buf_puts(&req, "\r\n");
	client_open(&cl, f->app.port);
	client_send(&cl, req.data, req.len);
	client_read_response(&cl);
	assert_true(cl.r.status == 431 || cl.r.status == 400);
	client_close(&cl);

	/* The server still serves. */
	client_open(&cl, f->app.port);
	client_sends(&cl, "GET /empty HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	client_close(&cl);
	buf_release(&req);
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = {
	    "GARBAGE / HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
	    "POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	    "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	    "GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n",
	};
	struct client cl;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		client_open(&cl, f->app.port);
		client_sends(&cl, bad[i]);
		client_read_response(&cl);
		assert_int_equal(cl.r.status, 400);
		assert_true(has_header(&cl, "Content-Type: application/json"));
		assert_non_null(strstr(cl.r.body.data, "{\"code\":400,\"message\":\""));
		assert_true(client_sees_eof(&cl));
		client_close(&cl);
	}
}

static void test_disconnect_mid_body(void **state)
{
	struct fixture *f = *state;
	struct client cl;
	char line[64];

	client_open(&cl, f->app.port);
	client_sends(&cl, "POST /readbody HTTP/1.1\r\nContent-Length: 100000\r\n\r\n0123456789");
	client_close(&cl);
	notify_read(&f->t, line, sizeof(line));
	assert_string_equal(line, "readbody -104"); /* -ECONNRESET */

	client_open(&cl, f->app.port);
	client_sends(&cl, "POST /readbody HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab");
	client_close(&cl);
	notify_read(&f->t, line, sizeof(line));
	assert_string_equal(line, "readbody -104");

	client_open(&cl, f->app.port);
	client_sends(&cl, "GET /empty HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	client_close(&cl);
}

static void test_max_conns(void **state)
{
	struct fixture *f = *state;
	struct srv small;
	struct client a, b;

	srv_start_max(&small, app_handler, &f->t, 0, 1);
	client_open(&a, small.port);
	client_sends(&a, "GET /empty HTTP/1.1\r\n\r\n");
	client_read_response(&a);
	assert_int_equal(a.r.status, 200);

	/* The one slot is taken by a: b is turned away, a keeps working. */
	client_open(&b, small.port);
	client_read_response(&b);
	assert_int_equal(b.r.status, 503);
	assert_non_null(strstr(b.r.body.data, "\"code\":503"));
	client_close(&b);
	client_sends(&a, "GET /empty HTTP/1.1\r\n\r\n");
	client_read_response(&a);
	assert_int_equal(a.r.status, 200);
	client_close(&a);
	srv_stop(&small);
}

/* ---- forwarding ------------------------------------------------------------------------- */

struct fwd_fixture {
	struct tstate t;
	struct srv backend;
	struct srv front;
	struct srv proxied;
	int raw_fd; /* a listening socket for hand-written backend answers */
	uint16_t raw_port;
	pthread_t raw_thread;
	const char *raw_answer;
	char raw_head[2048]; /* the last request head the raw backend received */
};

static int connect_port(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The front server: forwards every request to the port named by X-Backend-Port. */
static void front_handler(struct http_conn *c, struct http_request *req, void *ud)
{
	struct fwd_fixture *f = ud;
	const char *port = http_header_get(req, "X-Backend-Port");
	const char *drop[] = {"X-Backend-Port", NULL};
	int fd = connect_port(port ? (uint16_t)atoi(port) : f->backend.port);
	int r;

	if (fd < 0) {
		http_reply_error(c, 502, "connect");
		return;
	}
	r = http_forward(c, req, fd, drop);
	if (r < 0 && !http_replied(c))
		http_reply_error(c, 502, "forward: %d", r);
	close(fd);
}

static int resolve(void *ud, const char *id, struct in_addr *ret)
{
	if (strcmp(id, "sbx1") != 0)
		return -ENOENT;
	ret->s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

static void proxied_handler(struct http_conn *c, struct http_request *req, void *ud)
{
	struct fwd_fixture *f = ud;

	if (proxy_wants(f->t.proxy, req))
		proxy_handle(f->t.proxy, c, req);
	else
		http_reply_error(c, 404, "control plane");
}

/* Accepts connections and answers each with raw_answer, then closes. */
static void *raw_backend(void *arg)
{
	struct fwd_fixture *f = arg;
	char tmp[4096];
	int fd;

	while ((fd = accept4(f->raw_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		struct buf in = BUF_INIT;
		ssize_t n;

		while (!(in.data && strstr(in.data, "\r\n\r\n")) &&
		       (n = recv(fd, tmp, sizeof(tmp), 0)) > 0)
			buf_append(&in, tmp, (size_t)n);
		snprintf(f->raw_head, sizeof(f->raw_head), "%s", in.data ? in.data : "");
		(void)!send(fd, f->raw_answer, strlen(f->raw_answer), MSG_NOSIGNAL);
		close(fd);
		buf_release(&in);
	}
	return NULL;
}

static int fwd_setup(void **state)
{
	struct fwd_fixture *f = calloc(1, sizeof(*f));
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	assert_int_equal(pipe2(f->t.gate, O_CLOEXEC), 0);
	assert_int_equal(pipe2(f->t.notify, O_CLOEXEC), 0);
	f->t.proxy = proxy_new(resolve, NULL, "example.test");
	assert_non_null(f->t.proxy);
	srv_start(&f->backend, app_handler, &f->t, 0);
	srv_start(&f->front, front_handler, f, 0);
	srv_start(&f->proxied, proxied_handler, f, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->raw_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(f->raw_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->raw_fd, 16), 0);
	assert_int_equal(getsockname(f->raw_fd, (struct sockaddr *)&sa, &sl), 0);
	f->raw_port = ntohs(sa.sin_port);
	f->raw_answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
	assert_int_equal(pthread_create(&f->raw_thread, NULL, raw_backend, f), 0);
	*state = f;
	return 0;
}

static int fwd_teardown(void **state)
{
	struct fwd_fixture *f = *state;

	shutdown(f->raw_fd, SHUT_RDWR);
	pthread_join(f->raw_thread, NULL);
	close(f->raw_fd);
	srv_stop(&f->proxied);
	srv_stop(&f->front);
	srv_stop(&f->backend);
	proxy_free(f->t.proxy);
	close(f->t.gate[0]);
	close(f->t.gate[1]);
	close(f->t.notify[0]);
	close(f->t.notify[1]);
	free(f);
	return 0;
}

static void upload_chunked(struct client *cl, const char *head)
{
	uint8_t *data = malloc(UPLOAD_SIZE);
	size_t off = 0, chunk = 65536 + 13;
	char line[32];

	for (size_t i = 0; i < UPLOAD_SIZE; i++)
		data[i] = pattern(i);
	client_sends(cl, head);
	while (off < UPLOAD_SIZE) {
		size_t n = UPLOAD_SIZE - off < chunk ? UPLOAD_SIZE - off : chunk;

		snprintf(line, sizeof(line), "%zx\r\n", n);
		client_sends(cl, line);
		client_send(cl, data + off, n);
		client_sends(cl, "\r\n");
		off += n;
	}
	client_sends(cl, "0\r\n\r\n");
	free(data);
}

static void test_forward_upload(void **state)
{
	struct fwd_fixture *f = *state;
	struct client cl;
	char want[64];

	snprintf(want, sizeof(want), "total=%d bad=0 err=0", UPLOAD_SIZE);
	client_open(&cl, f->front.port);
	upload_chunked(&cl, "POST /verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	                    "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_string_equal(cl.r.body.data, want);

	/* Keep-alive through the forwarder, with a Content-Length body and the query kept. */
	client_sends(&cl, "PUT /echo?x=%20y HTTP/1.1\r\nContent-Length: 4\r\n\r\nwxyz");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_string_equal(cl.r.body.data, "wxyz");
	assert_true(has_header(&cl, "X-Info: PUT /echo q=x=%20y chunked=0"));

	/* HEAD: the answer has a length but no body. */
	cl.head = true;
	client_sends(&cl, "HEAD /echo HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	cl.head = false;
	assert_int_equal(cl.r.status, 200);
	client_sends(&cl, "GET /empty HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_true(has_header(&cl, "Content-Length: 0"));
	client_close(&cl);
}

static bool until_eof(struct client *cl, const void *arg)
{
	return cl->eof;
}

/* A large sized answer through the forwarder (spliced), then keep-alive; a short one closes. */
static void test_forward_big_sized(void **state)
{
	struct fwd_fixture *f = *state;
	struct client cl;
	size_t bad = 0;

	client_open(&cl, f->front.port);
	for (int round = 0; round < 2; round++) {
		client_sends(&cl, "GET /big HTTP/1.1\r\n\r\n");
		client_read_response(&cl);
		assert_int_equal(cl.r.status, 200);
		assert_int_equal(cl.r.body.len, UPLOAD_SIZE);
		for (size_t i = 0; i < UPLOAD_SIZE; i++)
			bad += (uint8_t)cl.r.body.data[i] != pattern(i);
		assert_int_equal(bad, 0);
	}
	/* The connection is still usable for a small request after two spliced bodies. */
	client_sends(&cl, "PUT /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_string_equal(cl.r.body.data, "abc");
	/* A backend that ends early: the client sees a truncated body and the close. */
	client_sends(&cl, "GET /short HTTP/1.1\r\n\r\n");
	client_reset_resp(&cl);
	client_pump(&cl, until_eof, NULL);
	assert_false(cl.r.complete);
	assert_int_equal(cl.r.body.len, UPLOAD_SIZE / 2);
	client_close(&cl);

	/* A client that leaves in the middle of a spliced body: the relay ends (teardown would
	 * hang on a stuck thread) and the server goes on serving. */
	client_open(&cl, f->front.port);
	client_sends(&cl, "GET /big HTTP/1.1\r\n\r\n");
	assert_true(recv(cl.fd, cl.buf, sizeof(cl.buf), MSG_WAITALL) > 0);
	client_close(&cl);
	client_open(&cl, f->front.port);
	client_sends(&cl, "GET /empty HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	client_close(&cl);
}

static void upload_sized(struct client *cl, const char *path)
{
	uint8_t *data = malloc(UPLOAD_SIZE);
	char head[160];

	for (size_t i = 0; i < UPLOAD_SIZE; i++)
		data[i] = pattern(i);
	snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nContent-Length: %d\r\n\r\n", path,
	         UPLOAD_SIZE);
	client_sends(cl, head);
	client_send(cl, data, UPLOAD_SIZE);
	free(data);
}

/* Large Content-Length uploads through the forwarder (spliced), keep-alive after them. */
static void test_forward_big_upload(void **state)
{
	struct fwd_fixture *f = *state;
	struct client cl;
	char want[64];

	snprintf(want, sizeof(want), "total=%d bad=0 err=0", UPLOAD_SIZE);
	client_open(&cl, f->front.port);
	for (int round = 0; round < 2; round++) {
		upload_sized(&cl, "/verify");
		client_read_response(&cl);
		assert_int_equal(cl.r.status, 200);
		assert_string_equal(cl.r.body.data, want);
	}
	client_sends(&cl, "PUT /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_string_equal(cl.r.body.data, "xyz");
	client_close(&cl);
}

static void test_forward_stream(void **state)
{
	struct fwd_fixture *f = *state;
	struct client cl;

	client_open(&cl, f->front.port);
	client_sends(&cl, "GET /stream HTTP/1.1\r\n\r\n");
	client_reset_resp(&cl);
	client_pump(&cl, until_body_has, "first");
	assert_false(cl.r.complete);
	gate_open(&f->t);
	client_pump(&cl, until_complete, NULL);
	assert_string_equal(cl.r.body.data, "firstsecond");
	client_close(&cl);
}

static void test_forward_eof(void **state)
{
	struct fwd_fixture *f = *state;
	struct client cl;
	char req[128];

	snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\nX-Backend-Port: %u\r\n\r\n", f->raw_port);
	client_open(&cl, f->front.port);
	client_sends(&cl, req);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_string_equal(cl.r.body.data, "until the end");
	assert_true(cl.eof || client_sees_eof(&cl));
	client_close(&cl);

	/* A backend that closes without answering: the forwarder may still reply itself. */
	f->raw_answer = "";
	client_open(&cl, f->front.port);
	client_sends(&cl, req);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 502);
	client_close(&cl);
}

static void test_forward_upgrade(void **state)
{
	struct fwd_fixture *f = *state;
	struct client cl;
	char req[160];

	f->raw_answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n"
	                "\r\nraw-bytes";
	snprintf(
	    req, sizeof(req),
	    "GET /ws HTTP/1.1\r\nUpgrade: x\r\nConnection: Upgrade\r\nX-Backend-Port: %u\r\n\r\n",
	    f->raw_port);
	client_open(&cl, f->front.port);
	client_sends(&cl, req);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 101);
	assert_true(cl.p.upgrade);
	/* The backend saw the upgrade: "Connection: Upgrade" names Upgrade, yet it must pass. */
	assert_non_null(strstr(f->raw_head, "\r\nUpgrade: x\r\n"));
	assert_non_null(strstr(f->raw_head, "\r\nConnection: Upgrade\r\n"));
	/* What follows the 101 is relayed raw, then the backend's close ends the pipe. */
	while (cl.len - cl.off < 9) {
		ssize_t n = recv(cl.fd, cl.buf + cl.len, sizeof(cl.buf) - cl.len, 0);

		assert_true(n > 0);
		cl.len += (size_t)n;
	}
	assert_memory_equal(cl.buf + cl.off, "raw-bytes", 9);
	cl.off = cl.len;
	assert_true(client_sees_eof(&cl));
	client_close(&cl);
}

static void test_forward_stream_client_gone(void **state)
{
	struct fwd_fixture *f = *state;
	struct client cl;
	char line[64];

	/* The client leaves while a forwarded stream idles: the backend must see it. */
	client_open(&cl, f->front.port);
	client_sends(&cl, "GET /waitclose HTTP/1.1\r\n\r\n");
	client_reset_resp(&cl);
	client_pump(&cl, until_body_has, "first");
	client_close(&cl);
	notify_read(&f->t, line, sizeof(line));
	assert_string_equal(line, "closed=1");
}

static void test_forward_client_gone(void **state)
{
	struct fwd_fixture *f = *state;
	struct client cl;
	char line[64];

	/* The client leaves mid-body: the backend must see the end of its connection. */
	client_open(&cl, f->front.port);
	client_sends(&cl, "POST /readbody HTTP/1.1\r\nContent-Length: 100000\r\n\r\nabc");
	client_close(&cl);
	notify_read(&f->t, line, sizeof(line));
	assert_string_equal(line, "readbody -104");

	client_open(&cl, f->front.port);
	client_sends(&cl, "GET /empty HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	client_close(&cl);
}

/* Two sandboxes with tokens; sbx1 resolves to loopback, where nothing listens on 49983. */
static int fake_find_signed(void *ud, const char *signature, const char *expiration,
                            const char *path, const char *op, const char *user, char ret_id[65])
{
	static const char *const sbx[][2] = {{"other", "tok-other"}, {"sbx1", "tok-sbx1"}};

	for (size_t i = 0; i < 2; i++) {
		int r = filesig_check(signature, expiration, path, op, user, sbx[i][1], 0);

		if (r == 0 || r == -ETIMEDOUT) {
			strcpy(ret_id, sbx[i][0]);
			return 0;
		}
	}
	return -ENOENT;
}

static void test_proxy_signed_url(void **state)
{
	struct fwd_fixture *f = *state;
	struct client cl;
	char sig[FILESIG_LEN + 1], req[512], enc[3 * FILESIG_LEN + 1];
	size_t o = 0;

	client_open(&cl, f->proxied.port);
	/* Without a lookup a signed URL is the control plane's. */
	client_sends(&cl, "GET /files?path=a&signature=v1_x HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 404);

	proxy_set_signed_lookup(f->t.proxy, fake_find_signed, NULL);
	client_sends(&cl, "GET /files?path=a&signature=v1_x HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 401);
	assert_non_null(strstr(cl.r.body.data, "invalid signature"));
	client_sends(&cl, "GET /files?path=%zz&signature=v1_x HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 400);
	/* Unsigned /files and other paths stay the control plane's. */
	client_sends(&cl, "GET /files?path=a HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 404);
	client_sends(&cl, "GET /filesx?signature=v1_x HTTP/1.1\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 404);

	/* sbx1's signature (for write, user root, with an expiration) routes to sbx1: the 502
	 * names it. The same signature on a GET (op read) matches nobody. */
	filesig_compute("/home/user/a b", "write", "root", "tok-sbx1", 4000000000, sig);
	for (const char *p = sig; *p; p++)
		o += (size_t)snprintf(enc + o, sizeof(enc) - o,
		                      isalnum((unsigned char)*p) ? "%c" : "%%%02X", *p);
	snprintf(req, sizeof(req),
	         "POST /files?username=root&path=%%2Fhome%%2Fuser%%2Fa+b&signature=%s"
	         "&signature_expiration=4000000000 HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
	         enc);
	client_sends(&cl, req);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 502);
	assert_non_null(strstr(cl.r.body.data, "\"sandboxId\":\"sbx1\""));
	client_close(&cl);
	client_open(&cl, f->proxied.port);
	snprintf(req, sizeof(req),
	         "GET /files?username=root&path=%%2Fhome%%2Fuser%%2Fa+b&signature=%s"
	         "&signature_expiration=4000000000 HTTP/1.1\r\n\r\n",
	         enc);
	client_sends(&cl, req);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 401);
	client_close(&cl);
}

static void test_proxy(void **state)
{
	struct fwd_fixture *f = *state;
	struct client cl;
	char req[256];
	int before;

	client_open(&cl, f->proxied.port);
	/* Unknown sandbox: the reference proxy's exact answer. */
	client_sends(&cl, "GET /health HTTP/1.1\r\nE2b-Sandbox-Id: nosuch\r\n"
	                  "E2b-Sandbox-Port: 49983\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 502);
	assert_true(has_header(&cl, "Content-Type: application/json"));
	assert_string_equal(cl.r.body.data, "{\"sandboxId\":\"nosuch\",\"message\":"
	                                    "\"The sandbox was not found\",\"code\":502}");

	client_sends(&cl,
	             "GET / HTTP/1.1\r\nE2b-Sandbox-Id: sbx1\r\nE2b-Sandbox-Port: 0x10\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 400);
	assert_non_null(strstr(cl.r.body.data, "\"code\":400"));

	client_sends(&cl, "GET / HTTP/1.1\r\nE2b-Sandbox-Id: ../etc\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 400);

	/* Not data plane. */
	client_sends(&cl, "GET /sandboxes HTTP/1.1\r\nHost: localhost\r\n\r\n");
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 404);

	/* Two requests to the same sandbox and port share one backend connection. */
	before = atomic_load(&f->t.backend_conns);
	snprintf(req, sizeof(req),
	         "POST /echo HTTP/1.1\r\nE2b-Sandbox-Id: sbx1\r\nE2b-Sandbox-Port: %u\r\n"
	         "Content-Length: 2\r\n\r\nok",
	         f->backend.port);
	client_sends(&cl, req);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_string_equal(cl.r.body.data, "ok");
	client_sends(&cl, req);
	client_read_response(&cl);
	assert_string_equal(cl.r.body.data, "ok");
	assert_int_equal(atomic_load(&f->t.backend_conns), before + 1);

	/* Host routing: <port>-<id>.<domain>. */
	snprintf(req, sizeof(req), "GET /empty HTTP/1.1\r\nHost: %u-sbx1.example.test:3000\r\n\r\n",
	         f->backend.port);
	client_sends(&cl, req);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 200);
	assert_true(has_header(&cl, "Content-Length: 0"));

	/* Wrong domain: not data plane. */
	snprintf(req, sizeof(req), "GET /empty HTTP/1.1\r\nHost: %u-sbx1.other.test\r\n\r\n",
	         f->backend.port);
	client_sends(&cl, req);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 404);

	/* A known sandbox whose port refuses connections: 502 as well. */
	snprintf(req, sizeof(req),
	         "GET / HTTP/1.1\r\nE2b-Sandbox-Id: sbx1\r\n"
	         "E2b-Sandbox-Port: 1\r\n\r\n");
	client_sends(&cl, req);
	client_read_response(&cl);
	assert_int_equal(cl.r.status, 502);
	client_close(&cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunked_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunked_big_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_and_none, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversized_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disconnect_mid_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_conns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forward_upload, fwd_setup, fwd_teardown),
	    cmocka_unit_test_setup_teardown(test_forward_stream, fwd_setup, fwd_teardown),
	    cmocka_unit_test_setup_teardown(test_forward_eof, fwd_setup, fwd_teardown),
	    cmocka_unit_test_setup_teardown(test_forward_client_gone, fwd_setup, fwd_teardown),
	    cmocka_unit_test_setup_teardown(test_forward_upgrade, fwd_setup, fwd_teardown),
	    cmocka_unit_test_setup_teardown(test_forward_stream_client_gone, fwd_setup,
	                                    fwd_teardown),
	    cmocka_unit_test_setup_teardown(test_proxy, fwd_setup, fwd_teardown),
	    cmocka_unit_test_setup_teardown(test_forward_big_sized, fwd_setup, fwd_teardown),
	    cmocka_unit_test_setup_teardown(test_forward_big_upload, fwd_setup, fwd_teardown),
	    cmocka_unit_test_setup_teardown(test_proxy_signed_url, fwd_setup, fwd_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
