/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 server on libhttp-parser. One thread per connection; the parser is
 * paused at headers-complete (so the handler runs before any body byte is
 * consumed) and at message-complete (so a pipelined request stays in the
 * input buffer). Body reads feed the parser at most as many raw bytes as the
 * caller's buffer holds, so decoded bytes always fit without a second buffer.
 */
#include "common/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/http_internal.h"

struct http_server {
	struct http_server_config cfg;
	int listen_fd;
	int stop_fd; /* eventfd, written by http_server_stop */
	volatile sig_atomic_t stopping;
	uint16_t port;
	pthread_attr_t attr;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct http_conn *conns; /* under lock */
	unsigned n_conns;        /* under lock */
};

/* ---- parser callbacks ------------------------------------------------------------------- */

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (buf_append(&c->head, at, len) < 0)
		return -1;
	c->url_len += len;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	/* Trailers of a chunked body: ignored (the request's pointers into head stay valid). */
	if (c->headers_done)
		return 0;
	if (c->last_cb != 1) {
		if (c->n_hdr == HTTP_MAX_HEADERS) {
			c->head_too_big = true;
			return -1;
		}
		/* Terminates the url or the previous value. */
		if (buf_append(&c->head, "", 1) < 0)
			return -1;
		c->hdr_off[c->n_hdr][0] = c->head.len;
		c->hdr_off[c->n_hdr][1] = (size_t)-1;
		c->n_hdr++;
		c->last_cb = 1;
	}
	return buf_append(&c->head, at, len) < 0 ? -1 : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (c->headers_done)
		return 0;
	if (c->last_cb != 2) {
		if (c->n_hdr == 0)
			return -1;
		if (buf_append(&c->head, "", 1) < 0)
			return -1;
		c->hdr_off[c->n_hdr - 1][1] = c->head.len;
		c->last_cb = 2;
	}
	return buf_append(&c->head, at, len) < 0 ? -1 : 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	c->headers_done = true;
	c->req.keep_alive = http_should_keep_alive(p);
	c->req.upgrade = p->upgrade;
	c->req.http_minor = p->http_major == 1 ? p->http_minor : 0;
	c->req.chunked = (p->flags & F_CHUNKED) != 0;
	if (c->req.chunked || p->content_length == (uint64_t)-1 ||
	    p->content_length > (uint64_t)INT64_MAX)
		c->req.content_length = -1;
	else
		c->req.content_length = (int64_t)p->content_length;
	snprintf(c->req.method, sizeof(c->req.method), "%s",
	         http_method_str((enum http_method)p->method));
	http_parser_pause(p, 1);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (c->mode != HTTP_MODE_BODY)
		return 0;
	/* Cannot overflow: at most body_cap raw bytes are fed per read (see http_body_read). */
	if (len > c->body_cap - c->body_got)
		return -1;
	memcpy(c->body_dst + c->body_got, at, len);
	c->body_got += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	c->msg_done = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings req_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- connection I/O --------------------------------------------------------------------- */

static int idle_timeout(const struct http_conn *c)
{
	return c->cfg->idle_timeout_ms > 0 ? c->cfg->idle_timeout_ms : 60000;
}

static size_t max_header_bytes(const struct http_conn *c)
{
	return c->cfg->max_header_bytes ? c->cfg->max_header_bytes : 64 * 1024;
}

int http_conn_feed(struct http_conn *c, size_t max)
{
	size_t avail = c->in_len - c->in_off;
	size_t n;
	enum http_errno e;

	if (avail > max)
		avail = max;
	/* A zero length would tell the parser the connection ended. */
	if (avail == 0)
		return 0;
	n = http_parser_execute(&c->parser, &req_settings, c->in + c->in_off, avail);
	c->in_off += n;
	e = HTTP_PARSER_ERRNO(&c->parser);
	if (e == HPE_PAUSED) {
		http_parser_pause(&c->parser, 0);
		return 0;
	}
	if (e != HPE_OK) {
		if (e == HPE_HEADER_OVERFLOW)
			c->head_too_big = true;
		return -EBADMSG;
	}
	return 0;
}

/* Reads more client input after the unparsed bytes. 0, -ECONNRESET at EOF, -ETIMEDOUT, -errno. */
static int conn_fill(struct http_conn *c, int timeout_ms)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	ssize_t n;
	int r;

	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (c->in_len == HTTP_IN_BUF_SIZE) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	for (;;) {
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(c->fd, c->in + c->in_len, HTTP_IN_BUF_SIZE - c->in_len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		c->in_len += (size_t)n;
		return 0;
	}
}

int http_conn_sendv(struct http_conn *c, struct iovec *iov, int n_iov)
{
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
	ssize_t n;

	if (c->dead)
		return -ECONNRESET;
	while (msg.msg_iovlen > 0) {
		if (msg.msg_iov->iov_len == 0) {
			msg.msg_iov++;
			msg.msg_iovlen--;
			continue;
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN here means SO_SNDTIMEO expired: the client stopped reading. */
			int r = (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -errno;
			c->dead = true;
			return r;
		}
		while (n > 0 && msg.msg_iovlen > 0) {
			if ((size_t)n >= msg.msg_iov->iov_len) {
				n -= (ssize_t)msg.msg_iov->iov_len;
				msg.msg_iov->iov_len = 0;
				msg.msg_iov++;
				msg.msg_iovlen--;
			} else {
				msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
				msg.msg_iov->iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}

/* ---- request head ----------------------------------------------------------------------- */

static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/* Turns the accumulated head into c->req. 0 or -ENOMEM. */
static int conn_make_request(struct http_conn *c)
{
	size_t path_off, query_off, qpos;
	const char *q;

	/* Terminate the last string; a trailing field without value gets "". */
	if (buf_append(&c->head, "", 1) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_hdr; i++) {
		if (c->hdr_off[i][1] == (size_t)-1) {
			c->hdr_off[i][1] = c->head.len;
			if (buf_append(&c->head, "", 1) < 0)
				return -ENOMEM;
		}
	}
	/* Reserve first: the copies below read from head.data itself. */
	if (buf_reserve(&c->head, c->url_len + 2) < 0)
		return -ENOMEM;
	q = memchr(c->head.data, '?', c->url_len);
	qpos = q ? (size_t)(q - c->head.data) : c->url_len;
	path_off = c->head.len;
	if (buf_append(&c->head, c->head.data, qpos) < 0 || buf_append(&c->head, "", 1) < 0)
		return -ENOMEM;
	query_off = c->head.len;
	if (q && buf_append(&c->head, c->head.data + qpos + 1, c->url_len - qpos - 1) < 0)
		return -ENOMEM;
	if (buf_append(&c->head, "", 1) < 0)
		return -ENOMEM;

	/* No more appends: pointers into head.data are stable from here. */
	c->req.target = c->head.data;
	c->req.path = c->head.data + path_off;
	c->req.query = c->head.data + query_off;
	for (size_t i = 0; i < c->n_hdr; i++) {
		c->headers[i].name = c->head.data + c->hdr_off[i][0];
		c->headers[i].value = trim(c->head.data + c->hdr_off[i][1]);
	}
	c->req.headers = c->headers;
	c->req.n_headers = c->n_hdr;
	c->is_head = strcmp(c->req.method, "HEAD") == 0;
	return 0;
}

/* Reads and parses a request head. 0; -ENODATA at a clean EOF before a request; -E2BIG over the
 * limits; -EBADMSG malformed; other -errno. */
static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int conn_read_head(struct http_conn *c)
{
	size_t max = max_header_bytes(c);
	int64_t deadline = 0;
	size_t before;
	int r, timeout;

	for (;;) {
		if (c->in_off < c->in_len) {
			if (c->head_bytes >= max)
				return -E2BIG;
			before = c->in_off;
			r = http_conn_feed(c, max - c->head_bytes);
			c->head_bytes += c->in_off - before;
			if (r < 0)
				return c->head_too_big ? -E2BIG : r;
			if (c->headers_done)
				return 0;
			if (c->in_off < c->in_len)
				continue;
		}
		/* Between requests the idle limit applies; once a head has begun, the whole
		 * head must arrive within that time (no trickling a byte at a time). */
		timeout = idle_timeout(c);
		if (c->head_bytes > 0) {
			if (!deadline)
				deadline = mono_ms() + timeout;
			timeout = (int)(deadline - mono_ms());
			if (timeout <= 0)
				return -ETIMEDOUT;
		}
		r = conn_fill(c, timeout);
		if (r == -ECONNRESET && c->head_bytes == 0)
			return -ENODATA;
		if (r < 0)
			return r;
	}
}

static void conn_reset_request(struct http_conn *c)
{
	buf_reset(&c->head);
	c->url_len = 0;
	c->n_hdr = 0;
	c->last_cb = 0;
	c->head_bytes = 0;
	c->head_too_big = false;
	memset(&c->req, 0, sizeof(c->req));
	c->req.content_length = -1;
	c->req.http_minor = 1;
	c->req.target = c->req.path = c->req.query = (char *)"";
	c->headers_done = false;
	c->msg_done = false;
	c->mode = HTTP_MODE_HEAD;
	c->body_dst = NULL;
	c->body_cap = c->body_got = 0;
	c->body_started = false;
	c->continue_sent = false;
	c->resp = HTTP_RESP_NONE;
	c->resp_chunked = false;
	c->resp_sized = false;
	c->resp_left = 0;
	c->is_head = false;
	c->broken = false;
}

const char *http_header_get(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

/* ---- request body ----------------------------------------------------------------------- */

static bool expects_continue(const struct http_conn *c)
{
	const char *e = http_header_get(&c->req, "Expect");

	return e && c->req.http_minor >= 1 && strcasecmp(e, "100-continue") == 0;
}

ssize_t http_body_read(struct http_conn *c, void *buf, size_t len)
{
	int r;

	if (c->msg_done)
		return 0;
	if (c->dead)
		return -ECONNRESET;
	if (c->broken)
		return -EBADMSG;
	if (!c->headers_done || c->mode == HTTP_MODE_RAW)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (!c->continue_sent && c->resp == HTTP_RESP_NONE && expects_continue(c)) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		struct iovec iov = {(void *)cont, sizeof(cont) - 1};

		c->continue_sent = true;
		r = http_conn_sendv(c, &iov, 1);
		if (r < 0)
			return r;
	}
	c->body_started = true;
	c->mode = HTTP_MODE_BODY;
	c->body_dst = buf;
	c->body_cap = len;
	c->body_got = 0;
	for (;;) {
		if (c->in_off == c->in_len) {
			r = conn_fill(c, idle_timeout(c));
			if (r == -ETIMEDOUT) {
				/* The client may still read an error reply. */
				c->broken = true;
				c->body_dst = NULL;
				return r;
			}
			if (r < 0) {
				c->dead = true;
				c->body_dst = NULL;
				return -ECONNRESET;
			}
		}
		/* Feeding at most len raw bytes bounds the decoded bytes to len. */
		r = http_conn_feed(c, len);
		if (r < 0) {
			c->broken = true;
			c->body_dst = NULL;
			return -EBADMSG;
		}
		if (c->body_got > 0 || c->msg_done)
			break;
	}
	c->body_dst = NULL;
	return (ssize_t)c->body_got;
}

int http_body_read_all(struct http_conn *c, size_t max, struct buf *out)
{
	size_t total = 0;
	ssize_t n;

	for (;;) {
		if (buf_reserve(out, 16384) < 0)
			return -ENOMEM;
		n = http_body_read(c, out->data + out->len, out->cap - out->len - 1);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		total += (size_t)n;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		if (total > max)
			return -EMSGSIZE;
	}
}

/* ---- responses -------------------------------------------------------------------------- */

static const struct {
	int code;
	const char *text;
} status_texts[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Payload Too Large"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {422, "Unprocessable Entity"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {507, "Insufficient Storage"},
};

const char *http_status_text(int status)
{
	for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
		if (status_texts[i].code == status)
			return status_texts[i].text;
	return "Unknown";
}

static bool conn_will_close(const struct http_conn *c)
{
	return c->close_after || c->dead || c->broken || !c->req.keep_alive || c->req.upgrade;
}

/* Builds a response head into c->out. length < 0: no Content-Length. */
static int conn_build_head(struct http_conn *c, int status, const char *content_type,
                           const char *const *extra, long long length, bool chunked)
{
	int r;

	buf_reset(&c->out);
	r = buf_printf(&c->out, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));
	if (r == 0 && content_type)
		r = buf_printf(&c->out, "Content-Type: %s\r\n", content_type);
	for (size_t i = 0; r == 0 && extra && extra[i]; i++)
		r = buf_printf(&c->out, "%s\r\n", extra[i]);
	if (r == 0 && length >= 0)
		r = buf_printf(&c->out, "Content-Length: %lld\r\n", length);
	if (r == 0 && chunked)
		r = buf_puts(&c->out, "Transfer-Encoding: chunked\r\n");
	if (r == 0 && conn_will_close(c))
		r = buf_puts(&c->out, "Connection: close\r\n");
	else if (r == 0 && c->req.http_minor == 0)
		r = buf_puts(&c->out, "Connection: keep-alive\r\n");
	if (r == 0)
		r = buf_puts(&c->out, "\r\n");
	return r;
}

int http_reply_hdrs(struct http_conn *c, int status, const char *const *extra_headers,
                    const char *content_type, const void *body, size_t len)
{
	bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
	struct iovec iov[2];
	int r;

	if (c->resp != HTTP_RESP_NONE)
		return -EALREADY;
	c->resp = HTTP_RESP_DONE;
	if (c->dead)
		return -ECONNRESET;
	r = conn_build_head(c, status, content_type, extra_headers, no_body ? -1 : (long long)len,
	                    false);
	if (r < 0)
		return r;
	iov[0] = (struct iovec){c->out.data, c->out.len};
	iov[1] = (struct iovec){(void *)body, (no_body || c->is_head || !body) ? 0 : len};
	return http_conn_sendv(c, iov, 2);
}

int http_reply(struct http_conn *c, int status, const char *content_type, const void *body,
               size_t len)
{
	return http_reply_hdrs(c, status, NULL, content_type, body, len);
}

static int json_escape(struct buf *b, const char *s)
{
	int r = 0;

	for (; *s && r == 0; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			r = buf_printf(b, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			r = buf_printf(b, "\\u%04x", ch);
		else
			r = buf_append(b, s, 1);
	}
	return r;
}

int http_reply_error(struct http_conn *c, int status, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	char msg[512];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r = buf_printf(&b, "{\"code\":%d,\"message\":\"", status);
	if (r == 0)
		r = json_escape(&b, msg);
	if (r == 0)
		r = buf_puts(&b, "\"}");
	if (r == 0)
		r = http_reply(c, status, "application/json", b.data, b.len);
	buf_release(&b);
	return r;
}

int http_stream_start(struct http_conn *c, int status, const char *content_type,
                      const char *const *extra_headers)
{
	struct iovec iov;
	int r;

	if (c->resp != HTTP_RESP_NONE)
		return -EALREADY;
	c->resp = HTTP_RESP_STREAMING;
	if (c->dead)
		return -ECONNRESET;
	/* An HTTP/1.0 client cannot read chunks: the body then ends when we close. */
	c->resp_chunked = c->req.http_minor >= 1;
	if (!c->resp_chunked)
		c->close_after = true;
	r = conn_build_head(c, status, content_type, extra_headers, -1, c->resp_chunked);
	if (r < 0)
		return r;
	iov = (struct iovec){c->out.data, c->out.len};
	return http_conn_sendv(c, &iov, 1);
}

int http_stream_start_sized(struct http_conn *c, int status, const char *content_type,
                            const char *const *extra_headers, uint64_t length)
{
	struct iovec iov;
	int r;

	if (c->resp != HTTP_RESP_NONE)
		return -EALREADY;
	if (length > INT64_MAX)
		return -EINVAL;
	c->resp = HTTP_RESP_STREAMING;
	if (c->dead)
		return -ECONNRESET;
	c->resp_sized = true;
	c->resp_left = c->is_head ? 0 : length;
	r = conn_build_head(c, status, content_type, extra_headers, (long long)length, false);
	if (r < 0)
		return r;
	iov = (struct iovec){c->out.data, c->out.len};
	return http_conn_sendv(c, &iov, 1);
}

ssize_t http_stream_sendfile(struct http_conn *c, int fd, size_t len)
{
	size_t sent = 0;

	if (c->resp != HTTP_RESP_STREAMING || !c->resp_sized)
		return -EINVAL;
	if (c->dead)
		return -ECONNRESET;
	if (len > c->resp_left)
		return -EMSGSIZE;
	while (sent < len) {
		size_t want = len - sent;
		ssize_t n = sendfile(c->fd, fd, NULL, want > (1u << 30) ? (1u << 30) : want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* SO_SNDTIMEO expired: the client stopped reading. */
			c->dead = true;
			return -ETIMEDOUT;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			c->dead = true;
			return -ECONNRESET;
		}
		if (n < 0)
			return -errno; /* the file's side failed: the client is intact */
		if (n == 0)
			break; /* the file ended early */
		sent += (size_t)n;
		c->resp_left -= (uint64_t)n;
	}
	return (ssize_t)sent;
}

int http_stream_write(struct http_conn *c, const void *data, size_t len)
{
	char size[24];
	struct iovec iov[3];
	int r;

	if (c->resp != HTTP_RESP_STREAMING)
		return -EINVAL;
	if (c->dead)
		return -ECONNRESET;
	/* A zero-length chunk would end the body. */
	if (len == 0 || c->is_head)
		return 0;
	if (c->resp_sized) {
		if (len > c->resp_left)
			return -EMSGSIZE;
		iov[0] = (struct iovec){(void *)data, len};
		r = http_conn_sendv(c, iov, 1);
		if (r == 0)
			c->resp_left -= len;
		return r;
	}
	if (!c->resp_chunked) {
		iov[0] = (struct iovec){(void *)data, len};
		return http_conn_sendv(c, iov, 1);
	}
	iov[0] = (struct iovec){size, (size_t)snprintf(size, sizeof(size), "%zx\r\n", len)};
	iov[1] = (struct iovec){(void *)data, len};
	iov[2] = (struct iovec){(void *)"\r\n", 2};
	return http_conn_sendv(c, iov, 3);
}

int http_stream_end(struct http_conn *c)
{
	struct iovec iov = {(void *)"0\r\n\r\n", 5};

	if (c->resp != HTTP_RESP_STREAMING)
		return -EINVAL;
	c->resp = HTTP_RESP_DONE;
	if (c->dead)
		return -ECONNRESET;
	if (c->resp_sized && c->resp_left > 0) {
		/* Fewer bytes than announced: only closing tells the client. */
		c->close_after = true;
		return -EPIPE;
	}
	if (!c->resp_chunked || c->is_head)
		return 0;
	return http_conn_sendv(c, &iov, 1);
}

bool http_replied(const struct http_conn *c)
{
	return c->resp != HTTP_RESP_NONE;
}

int http_conn_fd(const struct http_conn *c)
{
	return c->fd;
}

bool http_conn_peer_closed(struct http_conn *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLRDHUP};

	if (c->dead)
		return true;
	if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return true;
	return false;
}

void http_conn_close_after(struct http_conn *c)
{
	c->close_after = true;
}

void *http_conn_get_data(const struct http_conn *c)
{
	return c->ud;
}

void http_conn_set_data(struct http_conn *c, void *data, void (*free_fn)(void *))
{
	if (c->ud && c->ud_free && c->ud != data)
		c->ud_free(c->ud);
	c->ud = data;
	c->ud_free = free_fn;
}

/* ---- connection loop -------------------------------------------------------------------- */

static struct http_conn *conn_new(const struct http_server_config *cfg, int fd)
{
	struct http_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->in = malloc(HTTP_IN_BUF_SIZE);
	if (!c->in) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->cfg = cfg;
	buf_init(&c->head);
	buf_init(&c->out);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	return c;
}

static void conn_free(struct http_conn *c)
{
	if (!c)
		return;
	if (c->ud && c->ud_free)
		c->ud_free(c->ud);
	if (c->fd >= 0)
		close(c->fd);
	buf_release(&c->head);
	buf_release(&c->out);
	free(c->fwd_buf);
	free(c->in);
	free(c);
}

/*
 * Closing a socket with unread input makes the kernel send a reset, which can
 * destroy a response the client has not read yet (an error reply sent before
 * the request was read). So: half-close, then discard input for a bounded
 * time and size until the client closes too.
 */
static void conn_linger(struct http_conn *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	struct timespec now, end;
	size_t total = 0;
	char tmp[4096];
	ssize_t n;
	int left;

	if (shutdown(c->fd, SHUT_WR) < 0)
		return;
	/* At most 2 s in all, however slowly the client trickles. */
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 2;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left =
		    (int)((end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000);
		if (left <= 0 || total >= HTTP_DRAIN_LIMIT || poll(&pfd, 1, left) <= 0)
			break;
		n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

static int conn_drain(struct http_conn *c)
{
	char tmp[8192];
	size_t total = 0;
	ssize_t n;

	while (!c->msg_done) {
		n = http_body_read(c, tmp, sizeof(tmp));
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > HTTP_DRAIN_LIMIT)
			return -EMSGSIZE;
	}
	return 0;
}

static void conn_serve(struct http_conn *c)
{
	bool linger = false;
	int r;

	for (;;) {
		conn_reset_request(c);
		r = conn_read_head(c);
		if (r == -E2BIG || r == -EBADMSG) {
			c->close_after = true;
			if (r == -E2BIG)
				http_reply_error(c, 431, "request header too large");
			else
				http_reply_error(
				    c, 400, "malformed request: %s",
				    http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
			linger = true;
			break;
		}
		if (r < 0)
			break;
		if (conn_make_request(c) < 0) {
			c->close_after = true;
			http_reply_error(c, 500, "out of memory");
			linger = true;
			break;
		}

		c->cfg->handler(c, &c->req, c->cfg->userdata);

		if (c->dead)
			break;
		if (c->resp == HTTP_RESP_NONE)
			http_reply_error(c, 500, "the handler sent no response");
		else if (c->resp == HTTP_RESP_STREAMING)
			break; /* the client sees a truncated stream, as it should */
		if (c->mode == HTTP_MODE_RAW)
			c->mode = HTTP_MODE_BODY;
		if (!c->msg_done) {
			/* A client waiting for 100 Continue may never send the body. */
			if (conn_will_close(c) || (expects_continue(c) && !c->continue_sent) ||
			    conn_drain(c) < 0) {
				linger = true;
				break;
			}
		}
		if (conn_will_close(c)) {
			linger = c->in_off < c->in_len;
			break;
		}
	}
	if (linger && !c->dead)
		conn_linger(c);
}

void http_serve_fd(const struct http_server_config *cfg, int fd)
{
	struct http_conn *c = conn_new(cfg, fd);

	if (!c) {
		close(fd);
		return;
	}
	conn_serve(c);
	conn_free(c);
}

/* ---- server ----------------------------------------------------------------------------- */

static void *conn_thread(void *arg)
{
	struct http_conn *c = arg;
	struct http_server *s = c->srv;

	conn_serve(c);

	pthread_mutex_lock(&s->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&s->lock);

	conn_free(c);

	pthread_mutex_lock(&s->lock);
	s->n_conns--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int parse_addr(const char *host, uint16_t port, struct sockaddr_storage *ss,
                      socklen_t *ret_len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*ret_len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*ret_len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

int http_server_new(const struct http_server_config *cfg, struct http_server **ret,
                    struct warren_error *err)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *host;
	int one = 1, r;

	if (!cfg->handler)
		return err_set(err, EINVAL, "http server: no handler");
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(err, ENOMEM, "http server: out of memory");
	s->cfg = *cfg;
	s->listen_fd = -1;
	s->stop_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_attr_init(&s->attr);
	pthread_attr_setdetachstate(&s->attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&s->attr, cfg->thread_stack ? cfg->thread_stack : 256 * 1024);

	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		r = err_set(err, errno, "http server: eventfd: %s", strerror(errno));
		goto out_free;
	}

	if (cfg->listen_fd >= 0) {
		s->listen_fd = cfg->listen_fd;
		if (fcntl(s->listen_fd, F_SETFD, FD_CLOEXEC) < 0 ||
		    fcntl(s->listen_fd, F_SETFL, fcntl(s->listen_fd, F_GETFL) | O_NONBLOCK) < 0) {
			r = err_set(err, errno, "http server: listening fd: %s", strerror(errno));
			goto out_free;
		}
	} else {
		host = cfg->host ? cfg->host : "127.0.0.1";
		if (parse_addr(host, cfg->port, &ss, &sl) < 0) {
			r = err_set(err, EINVAL, "http server: '%s' is not a numeric address",
			            host);
			goto out_free;
		}
		s->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s->listen_fd < 0) {
			r = err_set(err, errno, "http server: socket: %s", strerror(errno));
			goto out_free;
		}
		setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s->listen_fd, (struct sockaddr *)&ss, sl) < 0) {
			r = err_set(err, errno, "http server: binding %s:%u: %s", host,
			            (unsigned)cfg->port, strerror(errno));
			goto out_free;
		}
		if (listen(s->listen_fd, 511) < 0) {
			r = err_set(err, errno, "http server: listen: %s", strerror(errno));
			goto out_free;
		}
	}
	sl = sizeof(ss);
	if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	*ret = s;
	return 0;

out_free:
	http_server_free(s);
	return r;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

static void reject_busy(int fd)
{
	static const char body[] = "{\"code\":503,\"message\":\"too many open connections\"}";
	char msg[256];
	int n;

	n = snprintf(msg, sizeof(msg),
	             "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
	             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	             sizeof(body) - 1, body);
	(void)!send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void accept_one(struct http_server *s)
{
	unsigned max = s->cfg.max_conns ? s->cfg.max_conns : 1024;
	int timeout = s->cfg.idle_timeout_ms > 0 ? s->cfg.idle_timeout_ms : 60000;
	struct timeval tv = {.tv_sec = timeout / 1000, .tv_usec = (timeout % 1000) * 1000};
	struct http_conn *c;
	pthread_t tid;
	int fd, one = 1;

	fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Out of descriptors: back off briefly instead of spinning on poll. */
			struct pollfd pfd = {.fd = s->stop_fd, .events = POLLIN};
			poll(&pfd, 1, 100);
		}
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A client that stops reading must not hold a thread forever. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	pthread_mutex_lock(&s->lock);
	if (s->n_conns >= max) {
		pthread_mutex_unlock(&s->lock);
		reject_busy(fd);
		return;
	}
	c = conn_new(&s->cfg, fd);
	if (!c) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return;
	}
	c->srv = s;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	if (pthread_create(&tid, &s->attr, conn_thread, c) != 0) {
		s->conns = c->next;
		if (s->conns)
			s->conns->prev = NULL;
		s->n_conns--;
		pthread_mutex_unlock(&s->lock);
		conn_free(c);
		return;
	}
	pthread_mutex_unlock(&s->lock);
}

int http_server_run(struct http_server *s)
{
	struct pollfd pfd[2] = {
	    {.fd = s->listen_fd, .events = POLLIN},
	    {.fd = s->stop_fd, .events = POLLIN},
	};

	while (!s->stopping) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & POLLIN)
			accept_one(s);
	}
	return 0;
}

void http_server_stop(struct http_server *s)
{
	uint64_t one = 1;
	int saved = errno;

	s->stopping = 1;
	(void)!write(s->stop_fd, &one, sizeof(one));
	errno = saved;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	pthread_mutex_lock(&s->lock);
	while (s->n_conns > 0) {
		/* Wakes connection threads blocked on their client; handlers that poll
		 * the client fd see the hang-up. Repeated because a thread may be between
		 * requests when the first shutdown arrives. */
		for (struct http_conn *c = s->conns; c; c = c->next)
			shutdown(c->fd, SHUT_RDWR);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_attr_destroy(&s->attr);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
