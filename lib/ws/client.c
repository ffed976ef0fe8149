/* SPDX-License-Identifier: Apache-2.0 */
/* The client side of the WebSocket handshake (contract in ws.h). */
#include "ws/ws.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/util.h"

int ws_url_parse(const char *url, struct ws_url *ret)
{
	struct ws_url u;
	const char *p, *host_end, *hp_end;
	size_t n;

	memset(&u, 0, sizeof(u));
	if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncasecmp(url, "ws://", 5) == 0)
		p = url + 5;
	else if (strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "wss://", 6) == 0)
		return -EPROTONOSUPPORT;
	else
		return -EINVAL;
	hp_end = p + strcspn(p, "/?#");
	if (*p == '[') {
		host_end = memchr(p, ']', (size_t)(hp_end - p));
		if (!host_end)
			return -EINVAL;
		n = (size_t)(host_end - p - 1);
		if (n == 0 || n >= sizeof(u.host))
			return -EINVAL;
		memcpy(u.host, p + 1, n);
		host_end++;
	} else {
		host_end = memchr(p, ':', (size_t)(hp_end - p));
		if (!host_end)
			host_end = hp_end;
		n = (size_t)(host_end - p);
		if (n == 0 || n >= sizeof(u.host))
			return -EINVAL;
		memcpy(u.host, p, n);
	}
	if (host_end < hp_end) {
		if (*host_end != ':')
			return -EINVAL;
		n = (size_t)(hp_end - host_end - 1);
		if (n == 0 || n > 5 || strspn(host_end + 1, "0123456789") < n)
			return -EINVAL;
		memcpy(u.port, host_end + 1, n);
		if (atoi(u.port) < 1 || atoi(u.port) > 65535)
			return -EINVAL;
	} else {
		strcpy(u.port, "80");
	}
	if (*hp_end == '/')
		n = strcspn(hp_end, "#");
	else
		n = 0;
	if (n >= sizeof(u.path))
		return -EINVAL;
	if (n == 0)
		strcpy(u.path, "/");
	else
		memcpy(u.path, hp_end, n);
	/* Control characters or spaces would break the request line. */
	for (const char *c = u.path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return -EINVAL;
	for (const char *c = u.host; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '/' || *c == '@')
			return -EINVAL;
	n = (size_t)(hp_end - p);
	memcpy(u.host_header, p, n); /* at most host + [] + :port */
	*ret = u;
	return 0;
}

static int tcp_connect(const struct ws_url *u, int timeout_ms, struct warren_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int r, last = ECONNREFUSED;

	r = getaddrinfo(u->host, u->port, &hints, &ai);
	if (r != 0)
		return err_set(err, EHOSTUNREACH, "resolving %s: %s", u->host, gai_strerror(r));
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		                a->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			last = errno;
			close(fd);
			continue;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		do
			r = poll(&pfd, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			soerr = ETIMEDOUT;
		else if (r < 0)
			soerr = errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			last = soerr;
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		freeaddrinfo(ai);
		return fd;
	}
	freeaddrinfo(ai);
	return err_set(err, last, "connecting to %s port %s: %s", u->host, u->port, strerror(last));
}

/* Sends all of b on a non-blocking socket within the deadline. */
static int send_all(int fd, const char *p, size_t n, int64_t deadline_us)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			int left = (int)((deadline_us - now_mono_us()) / 1000);
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			if (left <= 0 || poll(&pfd, 1, left) == 0)
				return -ETIMEDOUT;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The "message" of a JSON error body, else the body itself (one line, trimmed). */
static void error_message(const char *body, char *out, size_t size)
{
	json_t *j = json_loads(body, 0, NULL);
	const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
	size_t n;

	snprintf(out, size, "%s", m ? m : body);
	json_decref(j);
	for (n = 0; out[n]; n++)
		if ((unsigned char)out[n] < ' ')
			out[n] = ' ';
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
}

int ws_client_connect(const struct ws_url *url, const char *const *extra_headers, int timeout_ms,
                      int *ret_fd, struct buf *pending, struct warren_error *err)
{
	int64_t deadline = now_mono_us() + (int64_t)timeout_ms * 1000;
	_cleanup_close_ int fd = -1;
	struct buf req = BUF_INIT;
	struct ws_head *h = NULL;
	char key[25], rb[4096];
	int r;

	r = ws_make_key(key);
	if (r < 0)
		return err_set(err, -r, "making a key: %s", strerror(-r));
	fd = tcp_connect(url, timeout_ms, err);
	if (fd < 0)
		return fd;
	r = buf_printf(&req,
	               "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: "
	               "Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
	               url->path, url->host_header, key);
	for (size_t i = 0; r >= 0 && extra_headers && extra_headers[i]; i++)
		r = buf_printf(&req, "%s\r\n", extra_headers[i]);
	if (r >= 0)
		r = buf_puts(&req, "\r\n");
	if (r < 0) {
		err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	r = send_all(fd, req.data, req.len, deadline);
	if (r < 0) {
		err_set(err, -r, "sending the upgrade request: %s", strerror(-r));
		goto out;
	}
	h = ws_head_new(false);
	if (!h) {
		r = err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	while (!ws_head_done(h)) {
		int left = (int)((deadline - now_mono_us()) / 1000);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, left) == 0) {
			r = err_set(err, ETIMEDOUT, "no answer to the upgrade request within %d ms",
			            timeout_ms);
			goto out;
		}
		ssize_t n = recv(fd, rb, sizeof(rb), 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = err_set(err, errno, "reading the answer: %s", strerror(errno));
			goto out;
		}
		ssize_t used = ws_head_feed(h, rb, (size_t)n);
		if (used < 0) {
			r = err_set(err, EPROTO, "malformed answer to the upgrade request");
			goto out;
		}
		if (ws_head_done(h)) {
			if (ws_head_upgrade(h) &&
			    buf_append(pending, rb + used, (size_t)n - (size_t)used) < 0) {
				r = err_set(err, ENOMEM, "out of memory");
				goto out;
			}
			break;
		}
		if (n == 0) {
			r = err_set(err, ECONNRESET, "the connection closed before an answer came");
			goto out;
		}
	}
	if (ws_head_status(h) != 101) {
		char msg[300];
		error_message(ws_head_body(h), msg, sizeof(msg));
		r = err_set(err, EPROTO, "HTTP %d: %s", ws_head_status(h),
		            *msg ? msg : "(no message)");
		goto out;
	}
	r = ws_check_response(h, key, err);
	if (r < 0)
		goto out;
	*ret_fd = TAKE_FD(fd);
	r = 0;
out:
	ws_head_free(h);
	buf_release(&req);
	return r;
}
