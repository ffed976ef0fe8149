/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reverse-proxy relay (http_forward). The request head is re-sent from the
 * parsed request; everything after it travels as raw bytes in both
 * directions. Two parsers watch the raw bytes only to find where each message
 * ends: the connection's request parser (in RAW mode it ignores body data) and
 * a response parser for the backend's answer. Data moves with non-blocking
 * send/recv driven by one poll() over both sockets, through two bounded
 * buffers: the connection's input buffer (client to backend) and fwd_buf
 * (backend to client). A side is not read while its buffer is full, which is
 * the back-pressure.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/http_internal.h"

struct fwd_resp {
	http_parser p;
	bool is_head;
	bool done;    /* the final (non-1xx) response, or a 101, is complete */
	bool upgrade; /* 101 Switching Protocols */
	bool got_any; /* any response byte arrived */
	bool in_body; /* the final answer's head is parsed and it has a body */
};

/* Bodies with at least this many bytes left go with splice(2), backend to client. */
#define FWD_SPLICE_MIN (256 * 1024)
#define FWD_PIPE_SIZE (1024 * 1024)

static int resp_on_headers_complete(http_parser *p)
{
	struct fwd_resp *r = p->data;

	/* A response to HEAD has no body whatever its headers say. */
	if (r->is_head && p->status_code >= 200)
		return 1;
	if (p->status_code >= 200)
		r->in_body = true;
	return 0;
}

static int resp_on_message_complete(http_parser *p)
{
	struct fwd_resp *r = p->data;

	/* 1xx informational answers (100 Continue) precede the real one: keep going. */
	if (p->status_code >= 100 && p->status_code < 200 && p->status_code != 101)
		return 0;
	r->done = true;
	r->upgrade = p->status_code == 101;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings resp_settings = {
    .on_headers_complete = resp_on_headers_complete,
    .on_message_complete = resp_on_message_complete,
};

static bool is_hop_by_hop(const char *name, bool upgrade)
{
	static const char *const hop[] = {
	    "Connection", "Keep-Alive",         "Proxy-Connection",   "TE",
	    "Trailer",    "Proxy-Authenticate", "Proxy-Authorization"};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strcasecmp(name, hop[i]) == 0)
			return true;
	return !upgrade && strcasecmp(name, "Upgrade") == 0;
}

/* Is name one of the comma-separated tokens of the request's Connection headers? */
static bool named_by_connection(const struct http_request *req, const char *name)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i < req->n_headers; i++) {
		const char *v = req->headers[i].value;

		if (strcasecmp(req->headers[i].name, "Connection") != 0)
			continue;
		while (*v) {
			size_t n;

			while (*v == ' ' || *v == '\t' || *v == ',')
				v++;
			n = strcspn(v, ", \t");
			if (n == nlen && strncasecmp(v, name, n) == 0)
				return true;
			v += n;
		}
	}
	return false;
}

static bool dropped(const struct http_request *req, const char *name, const char *const *drop)
{
	if (is_hop_by_hop(name, req->upgrade))
		return true;
	for (size_t i = 0; drop && drop[i]; i++)
		if (strcasecmp(name, drop[i]) == 0)
			return true;
	/* "Connection: Upgrade" names it, yet an upgrade must pass it on (RFC 9110 7.8). */
	if (req->upgrade && strcasecmp(name, "Upgrade") == 0)
		return false;
	return named_by_connection(req, name);
}

static int build_head(struct buf *out, const struct http_request *req, const char *const *drop)
{
	int r;

	buf_reset(out);
	r = buf_printf(out, "%s %s HTTP/1.1\r\n", req->method, req->target);
	for (size_t i = 0; r == 0 && i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];

		if (dropped(req, h->name, drop))
			continue;
		r = buf_printf(out, "%s: %s\r\n", h->name, h->value);
	}
	if (r == 0 && req->upgrade)
		r = buf_puts(out, "Connection: Upgrade\r\n");
	if (r == 0)
		r = buf_puts(out, "\r\n");
	return r;
}

/* Non-blocking send. Bytes sent (maybe 0 when the socket is full) or -errno. */
static ssize_t send_some(int fd, struct iovec *iov, int n_iov)
{
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
	ssize_t n;

	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	return n;
}

/* Non-blocking recv. Bytes read, 0 at EOF, -EAGAIN when nothing is there, or -errno. */
static ssize_t recv_some(int fd, char *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, buf, len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EWOULDBLOCK) ? -EAGAIN : -errno;
	return n;
}

/*
 * After a 101: copies bytes both ways until one side closes or fails, then
 * flushes what is pending toward the other side. c->in[fwd_off, in_len) and
 * rb[r_sent, r_len) are already pending.
 */
static void pipe_both(struct http_conn *c, int backend_fd, size_t fwd_off, char *rb, size_t r_sent,
                      size_t r_len)
{
	bool client_eof = false, backend_eof = false;
	struct pollfd pfd[2];
	struct iovec iov;
	ssize_t n;

	for (;;) {
		bool c2b = fwd_off < c->in_len, b2c = r_sent < r_len;

		if ((client_eof && !c2b) || (backend_eof && !b2c))
			return;
		pfd[0] = (struct pollfd){.fd = c->fd};
		pfd[1] = (struct pollfd){.fd = backend_fd};
		if (!client_eof && !backend_eof && c->in_len < HTTP_IN_BUF_SIZE)
			pfd[0].events |= POLLIN;
		if (!client_eof && !backend_eof && r_len < HTTP_FWD_BUF_SIZE)
			pfd[1].events |= POLLIN;
		if (b2c)
			pfd[0].events |= POLLOUT;
		if (c2b)
			pfd[1].events |= POLLOUT;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd[0].revents & POLLIN) {
			n = recv_some(c->fd, c->in + c->in_len, HTTP_IN_BUF_SIZE - c->in_len);
			if (n == 0 || (n < 0 && n != -EAGAIN))
				client_eof = true;
			else if (n > 0)
				c->in_len += (size_t)n;
		} else if (pfd[0].revents & (POLLERR | POLLHUP)) {
			return;
		}
		if (pfd[1].revents & POLLIN) {
			n = recv_some(backend_fd, rb + r_len, HTTP_FWD_BUF_SIZE - r_len);
			if (n == 0 || (n < 0 && n != -EAGAIN))
				backend_eof = true;
			else if (n > 0)
				r_len += (size_t)n;
		} else if (pfd[1].revents & (POLLERR | POLLHUP)) {
			backend_eof = true;
		}
		if (fwd_off < c->in_len && (pfd[1].revents & POLLOUT)) {
			iov = (struct iovec){c->in + fwd_off, c->in_len - fwd_off};
			n = send_some(backend_fd, &iov, 1);
			if (n < 0)
				return;
			fwd_off += (size_t)n;
			if (fwd_off == c->in_len)
				fwd_off = c->in_len = 0;
		}
		if (r_sent < r_len && (pfd[0].revents & POLLOUT)) {
			iov = (struct iovec){rb + r_sent, r_len - r_sent};
			n = send_some(c->fd, &iov, 1);
			if (n < 0)
				return;
			r_sent += (size_t)n;
			if (r_sent == r_len)
				r_sent = r_len = 0;
		}
	}
}

/* A pipe for splice(2) between two sockets, with SIGPIPE held back meanwhile. */
struct splice_pipe {
	int fd[2];
	size_t cap; /* the pipe's size */
	sigset_t pipe_set, old_mask;
	bool had_pipe; /* a SIGPIPE was pending before: leave it */
};

/*
 * splice() has no MSG_NOSIGNAL: a client gone raises SIGPIPE at this thread. Keep it
 * blocked while the pipe is open and take it back at the close (unless one was pending
 * already), so the module's promise that SIGPIPE is never raised holds. 0 or -errno.
 */
static int splice_pipe_open(struct splice_pipe *sp)
{
	sigset_t pending;
	int sz;

	if (pipe2(sp->fd, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	sigemptyset(&sp->pipe_set);
	sigaddset(&sp->pipe_set, SIGPIPE);
	sigpending(&pending);
	sp->had_pipe = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &sp->pipe_set, &sp->old_mask);
	sz = fcntl(sp->fd[1], F_SETPIPE_SZ, FWD_PIPE_SIZE);
	if (sz < 0)
		sz = fcntl(sp->fd[1], F_GETPIPE_SZ);
	sp->cap = sz > 0 ? (size_t)sz : 65536;
	return 0;
}

static void splice_pipe_close(struct splice_pipe *sp)
{
	close(sp->fd[0]);
	close(sp->fd[1]);
	if (!sp->had_pipe) {
		struct timespec zero = {0, 0};
		sigset_t pending;

		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE) == 1)
			sigtimedwait(&sp->pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &sp->old_mask, NULL);
}

/*
 * Moves the rest of a Content-Length body, *left bytes, from the backend to
 * the client with splice(2) through a pipe: no copy through user space, which
 * halves the relay's cost for large downloads. Called only when every byte
 * received so far has been sent, so the bytes stay in order. Returns 0 when
 * the whole body went out, 1 when splice cannot be used here (nothing moved:
 * the caller copies as usual), -EPIPE when the backend ended or failed early,
 * -ECONNRESET when the client is gone.
 */
static int splice_body(struct http_conn *c, int backend_fd, uint64_t *left)
{
	struct splice_pipe sp;
	size_t in_pipe = 0, cap;
	bool any = false;
	struct pollfd pfd[2];
	int *p = sp.fd, r = 0;
	ssize_t n;

	if (splice_pipe_open(&sp) < 0)
		return 1;
	cap = sp.cap;
	while (*left > 0 || in_pipe > 0) {
		bool moved = false;

		if (*left > 0 && in_pipe < cap) {
			size_t want = cap - in_pipe;

			if (want > *left)
				want = (size_t)*left;
			n = splice(backend_fd, NULL, p[1], NULL, want,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno == EINVAL && !any) {
				r = 1; /* not spliceable here: the caller copies */
				break;
			}
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				r = -EPIPE;
				break;
			}
			if (n > 0) {
				*left -= (uint64_t)n;
				in_pipe += (size_t)n;
				moved = any = true;
			}
		}
		if (in_pipe > 0) {
			/* The client socket is blocking with SO_SNDTIMEO, as for every reply. */
			n = splice(p[0], NULL, c->fd, NULL, in_pipe,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				r = -ECONNRESET;
				break;
			}
			if (n > 0) {
				in_pipe -= (size_t)n;
				moved = any = true;
			}
		}
		if (moved)
			continue;
		pfd[0] = (struct pollfd){.fd = c->fd, .events = POLLRDHUP};
		pfd[1] = (struct pollfd){.fd = backend_fd};
		if (in_pipe > 0)
			pfd[0].events |= POLLOUT;
		if (*left > 0 && in_pipe < cap)
			pfd[1].events |= POLLIN;
		if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
			r = -ECONNRESET;
			break;
		}
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLRDHUP)) {
			r = -ECONNRESET;
			break;
		}
	}
	splice_pipe_close(&sp);
	return r;
}

/*
 * The request direction: moves the rest of a Content-Length request body, *left
 * bytes, from the client to the backend by splice, when everything received so
 * far went out. Stops early, with the pipe emptied, when the backend answers or
 * hangs up meanwhile (the caller relays that as usual, *left tells how much body
 * is still to come). Returns 0 when *left reached 0 and the pipe is empty, 1 when
 * it stopped early or could not splice (nothing lost), -EPIPE when the backend
 * took no more body (bytes may have been dropped: stop sending it the body),
 * -ECONNRESET when the client went away.
 */
static int splice_request(struct http_conn *c, int backend_fd, uint64_t *left)
{
	struct splice_pipe sp;
	size_t in_pipe = 0, cap;
	bool any = false, stop = false;
	struct pollfd pfd[2];
	int *p = sp.fd, r = 0;
	ssize_t n;

	if (splice_pipe_open(&sp) < 0)
		return 1;
	cap = sp.cap;
	while ((*left > 0 && !stop) || in_pipe > 0) {
		pfd[0] = (struct pollfd){.fd = c->fd, .events = POLLRDHUP};
		pfd[1] = (struct pollfd){.fd = backend_fd, .events = POLLIN};
		if (*left > 0 && !stop && in_pipe < cap)
			pfd[0].events |= POLLIN;
		if (in_pipe > 0)
			pfd[1].events |= POLLOUT;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = in_pipe > 0 ? -EPIPE : 1;
			break;
		}
		/* An answer (or a hang-up) from the backend: finish what is in the pipe, then stop.
		 */
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			stop = true;
		if ((pfd[1].revents & (POLLHUP | POLLERR)) && in_pipe > 0) {
			r = -EPIPE;
			break;
		}
		if (in_pipe > 0 && (pfd[1].revents & POLLOUT)) {
			n = splice(p[0], NULL, backend_fd, NULL, in_pipe,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				r = -EPIPE;
				break;
			}
			if (n > 0)
				in_pipe -= (size_t)n;
		}
		if ((pfd[0].events & POLLIN) && (pfd[0].revents & (POLLIN | POLLRDHUP))) {
			size_t want = cap - in_pipe;

			if (want > *left)
				want = (size_t)*left;
			n = splice(c->fd, NULL, p[1], NULL, want,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno == EINVAL && !any) {
				r = 1;
				break;
			}
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				r = -ECONNRESET;
				break;
			}
			if (n > 0) {
				*left -= (uint64_t)n;
				in_pipe += (size_t)n;
				any = true;
			}
		} else if (pfd[0].revents & (POLLERR | POLLHUP)) {
			r = -ECONNRESET;
			break;
		}
	}
	if (r == 0 && *left > 0)
		r = 1;
	splice_pipe_close(&sp);
	return r;
}

int http_forward(struct http_conn *c, struct http_request *req, int backend_fd,
                 const char *const *drop_headers)
{
	struct fwd_resp fr = {0};
	size_t hd_off = 0, fwd_off, r_len = 0, r_parsed = 0, r_sent = 0;
	bool c2b_broken = false, backend_eof = false, sent_any = false, req_splice_tried = false;
	struct pollfd pfd[2];
	struct iovec iov[2];
	char *rb;
	ssize_t n;
	int r;

	if (c->resp != HTTP_RESP_NONE || c->body_started || !c->headers_done)
		return -EINVAL;
	if (c->dead)
		return -ECONNRESET;
	if (!c->fwd_buf) {
		c->fwd_buf = malloc(HTTP_FWD_BUF_SIZE);
		if (!c->fwd_buf)
			return -ENOMEM;
	}
	rb = c->fwd_buf;
	r = build_head(&c->out, req, drop_headers);
	if (r < 0)
		return r;

	http_parser_init(&fr.p, HTTP_RESPONSE);
	fr.p.data = &fr;
	fr.is_head = c->is_head;
	c->body_started = true;
	c->mode = HTTP_MODE_RAW;
	/* Client bytes in [fwd_off, in_off) are parsed request body not yet sent. The parser
	 * stopped at headers-complete on the head's final LF, which is not body: skip it. */
	fwd_off = c->in_off + 1;
	if (!c->msg_done && http_conn_feed(c, (size_t)-1) < 0)
		goto bad_request;
	if (fwd_off > c->in_off)
		fwd_off = c->in_off; /* not reached: the LF is always there, but never underflow */

	for (;;) {
		bool head_pending = hd_off < c->out.len;
		bool c2b = !c2b_broken && (head_pending || fwd_off < c->in_off);
		bool want_client_read, want_backend_read;

		/* Optimistic writes first: sockets are usually writable, which saves a poll. */
		if (c2b) {
			int k = 0;

			if (head_pending)
				iov[k++] =
				    (struct iovec){c->out.data + hd_off, c->out.len - hd_off};
			if (fwd_off < c->in_off)
				iov[k++] = (struct iovec){c->in + fwd_off, c->in_off - fwd_off};
			n = send_some(backend_fd, iov, k);
			if (n < 0) {
				/* The backend may still have answered (an early error reply). */
				c2b_broken = true;
			} else {
				size_t h = c->out.len - hd_off;

				if ((size_t)n <= h || !head_pending) {
					if (head_pending)
						hd_off += (size_t)n;
					else
						fwd_off += (size_t)n;
				} else {
					hd_off = c->out.len;
					fwd_off += (size_t)n - h;
				}
			}
			head_pending = hd_off < c->out.len;
			c2b = !c2b_broken && (head_pending || fwd_off < c->in_off);
		}
		if (r_sent < r_parsed) {
			iov[0] = (struct iovec){rb + r_sent, r_parsed - r_sent};
			n = send_some(c->fd, iov, 1);
			if (n < 0)
				goto client_gone;
			if (n > 0)
				sent_any = true;
			r_sent += (size_t)n;
		}

		if (fr.done && r_sent == r_parsed)
			break;
		/*
		 * A large Content-Length body with everything so far relayed and the request
		 * delivered: the rest goes by splice. The parser is left mid-body; the message
		 * is complete once the counted bytes are out.
		 */
		if (fr.in_body && !fr.done && !fr.upgrade && r_sent == r_len && r_parsed == r_len &&
		    !(fr.p.flags & F_CHUNKED) && fr.p.content_length != UINT64_MAX &&
		    fr.p.content_length >= FWD_SPLICE_MIN && !c2b && c->msg_done && !backend_eof) {
			uint64_t left = fr.p.content_length;

			r = splice_body(c, backend_fd, &left);
			if (r == 0) {
				fr.done = true;
				sent_any = true;
				r_sent = r_parsed = r_len = 0;
				break;
			}
			if (r == -ECONNRESET)
				goto client_gone;
			if (r == -EPIPE)
				goto truncated;
		}
		/*
		 * The same for a large Content-Length request body (an upload): once the head and
		 * every buffered byte went out and no answer has come, the rest is spliced. The
		 * request parser is bypassed: it gets the count still to come, and a fresh start
		 * for the next request when the body is complete.
		 */
		if (!req_splice_tried && !c2b && !c2b_broken && !c->msg_done && !req->upgrade &&
		    !fr.got_any && !backend_eof && hd_off == c->out.len && fwd_off == c->in_off &&
		    c->in_off == c->in_len && c->headers_done && !(c->parser.flags & F_CHUNKED) &&
		    c->parser.content_length != UINT64_MAX &&
		    c->parser.content_length >= FWD_SPLICE_MIN) {
			uint64_t left = c->parser.content_length;

			r = splice_request(c, backend_fd, &left);
			req_splice_tried = true;
			c->parser.content_length = left;
			if (r == 0) {
				c->msg_done = true;
				http_parser_init(&c->parser, HTTP_REQUEST);
				c->parser.data = c;
				fwd_off = c->in_off = c->in_len = 0;
			} else if (r == -ECONNRESET) {
				goto client_gone;
			} else if (r == -EPIPE) {
				c2b_broken = true;
			}
			continue;
		}
		if (backend_eof && !fr.done) {
			/* The backend closed before a complete answer. */
			if (!sent_any) {
				r = -ECONNRESET;
				goto fail_before_response;
			}
			goto truncated;
		}

		/* Compact the client buffer when its free space is at the end only. */
		if (fwd_off == c->in_len) {
			fwd_off = c->in_off = c->in_len = 0;
		} else if (c->in_len == HTTP_IN_BUF_SIZE && fwd_off > 0) {
			memmove(c->in, c->in + fwd_off, c->in_len - fwd_off);
			c->in_len -= fwd_off;
			c->in_off -= fwd_off;
			fwd_off = 0;
		}
		if (r_sent == r_len) {
			r_sent = r_parsed = r_len = 0;
		} else if (r_len == HTTP_FWD_BUF_SIZE && r_sent > 0) {
			memmove(rb, rb + r_sent, r_len - r_sent);
			r_len -= r_sent;
			r_parsed -= r_sent;
			r_sent = 0;
		}

		want_client_read = !c->msg_done && c->in_len < HTTP_IN_BUF_SIZE;
		want_backend_read = !fr.done && !backend_eof && r_len < HTTP_FWD_BUF_SIZE;
		pfd[0] = (struct pollfd){.fd = c->fd, .events = POLLRDHUP};
		pfd[1] = (struct pollfd){.fd = backend_fd};
		if (want_client_read)
			pfd[0].events |= POLLIN;
		if (r_sent < r_parsed)
			pfd[0].events |= POLLOUT;
		if (want_backend_read)
			pfd[1].events |= POLLIN;
		if (c2b)
			pfd[1].events |= POLLOUT;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			if (!sent_any)
				goto fail_before_response;
			goto client_gone;
		}

		if (pfd[0].revents & (POLLERR | POLLHUP))
			goto client_gone;
		if (want_client_read && (pfd[0].revents & (POLLIN | POLLRDHUP))) {
			n = recv_some(c->fd, c->in + c->in_len, HTTP_IN_BUF_SIZE - c->in_len);
			if (n == 0 || (n < 0 && n != -EAGAIN))
				goto client_gone;
			if (n > 0) {
				c->in_len += (size_t)n;
				if (http_conn_feed(c, (size_t)-1) < 0)
					goto bad_request;
			}
		} else if (pfd[0].revents & POLLRDHUP) {
			/* The whole request was read and the client hung up: nobody waits. */
			goto client_gone;
		}

		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv_some(backend_fd, rb + r_len, HTTP_FWD_BUF_SIZE - r_len);
			if (n == 0 || (n < 0 && n != -EAGAIN)) {
				backend_eof = true;
				/* Tells the parser the stream ended: completes an EOF-delimited
				 * body. */
				if (fr.got_any && !fr.done)
					http_parser_execute(&fr.p, &resp_settings, NULL, 0);
			} else if (n > 0) {
				size_t k;

				fr.got_any = true;
				r_len += (size_t)n;
				k = http_parser_execute(&fr.p, &resp_settings, rb + r_parsed,
				                        r_len - r_parsed);
				r_parsed += k;
				if (HTTP_PARSER_ERRNO(&fr.p) == HPE_PAUSED) {
					http_parser_pause(&fr.p, 0);
				} else if (HTTP_PARSER_ERRNO(&fr.p) != HPE_OK) {
					if (!sent_any) {
						r = -EPROTO;
						goto fail_before_response;
					}
					goto truncated;
				}
			}
		}
	}

	/* The response went out whole. */
	c->resp = HTTP_RESP_DONE;
	c->mode = HTTP_MODE_BODY;
	if (fr.upgrade) {
		/* Both sides switch protocols: everything after the two heads is raw. */
		pipe_both(c, backend_fd, c2b_broken ? c->in_len : fwd_off, rb, r_parsed, r_len);
		c->dead = true;
		return 0;
	}
	if (!http_should_keep_alive(&fr.p) || req->http_minor == 0)
		/* The client read "Connection: close" or an EOF-delimited body. */
		c->close_after = true;
	if (!http_should_keep_alive(&fr.p) || backend_eof || c2b_broken || !c->msg_done ||
	    fwd_off != c->in_off || hd_off != c->out.len || r_parsed != r_len)
		return 0;
	return 1;

truncated:
	/* Part of a response went out: the only honest signal left is closing. */
	c->resp = HTTP_RESP_DONE;
	c->mode = HTTP_MODE_BODY;
	c->dead = true;
	return 0;

client_gone:
	c->resp = HTTP_RESP_DONE;
	c->mode = HTTP_MODE_BODY;
	c->dead = true;
	return 0;

bad_request:
	c->mode = HTTP_MODE_BODY;
	c->close_after = true;
	if (sent_any)
		goto truncated;
	/* The parser is in error: no body can be drained, the connection closes. */
	c->msg_done = true;
	return -EBADMSG;

fail_before_response:
	c->mode = HTTP_MODE_BODY;
	/* Some request body may have been consumed already; the rest is drained or the
	 * connection is closed by the server loop. */
	if (!c->msg_done)
		c->close_after = true;
	return r;
}
