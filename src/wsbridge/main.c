/* SPDX-License-Identifier: Apache-2.0 */
/*
 * warren-wsbridge: a WebSocket-to-TCP bridge (docs/SSH.md).
 *
 *   warren-wsbridge serve PORT [HOST:PORT]   in a sandbox: accept WebSocket upgrades on
 *                                            0.0.0.0:PORT, relay each to HOST:PORT
 *                                            (default 127.0.0.1:22, the sandbox's sshd)
 *   warren-wsbridge connect URL [-H LINE]... on a client: stdin/stdout <-> a WebSocket
 *
 * Installed into every sandbox as /opt/warren/bin/warren-wsbridge; the CLI's
 * `warren ssh-proxy` is the same client with warrend's routing headers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "ws/ws.h"

#define BRIDGE_MAX_CONNS 64
#define BRIDGE_HEAD_TIMEOUT_MS 10000
#define BRIDGE_CONNECT_TIMEOUT_MS 5000

static const char usage[] =
    "Usage: warren-wsbridge serve PORT [HOST:PORT]\n"
    "       warren-wsbridge connect URL [-H 'Name: value']...\n"
    "\n"
    "serve    accept WebSocket upgrades on 0.0.0.0:PORT and relay each connection's binary\n"
    "         frames to HOST:PORT (default 127.0.0.1:22)\n"
    "connect  relay stdin/stdout to the WebSocket at URL (http:// or ws://), sending the\n"
    "         extra header lines given with -H (for ssh's ProxyCommand)\n";

static struct sockaddr_in target;
static atomic_int n_conns;

static int parse_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 1 || v > 65535)
		return -EINVAL;
	return (int)v;
}

static int parse_target(const char *s, struct sockaddr_in *ret)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	int port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = parse_port(colon + 1);
	if (port < 0)
		return port;
	memset(ret, 0, sizeof(*ret));
	ret->sin_family = AF_INET;
	ret->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &ret->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static void refuse(int fd, int status, const char *msg)
{
	struct buf b = BUF_INIT;
	struct buf body = BUF_INIT;
	const char *text = status == 400   ? "Bad Request"
	                   : status == 426 ? "Upgrade Required"
	                   : status == 431 ? "Request Header Fields Too Large"
	                   : status == 502 ? "Bad Gateway"
	                   : status == 503 ? "Service Unavailable"
	                                   : "Error";

	/* msg is ours (never client bytes) and has no quote or backslash. */
	if (buf_printf(&body, "{\"code\":%d,\"message\":\"%s\"}", status, msg) < 0 ||
	    buf_printf(&b,
	               "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
	               "%zu\r\n%sConnection: close\r\n\r\n%s",
	               status, text, body.len, status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "",
	               body.data) < 0)
		goto out;
	(void)!send(fd, b.data, b.len, MSG_NOSIGNAL);
out:
	buf_release(&b);
	buf_release(&body);
}

static int connect_target(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&target, sizeof(target)) < 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int r;
		if (errno != EINPROGRESS) {
			r = -errno;
			close(fd);
			return r;
		}
		do
			r = poll(&pfd, 1, BRIDGE_CONNECT_TIMEOUT_MS);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			soerr = r == 0 ? ETIMEDOUT : errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			close(fd);
			return -soerr;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Reads the upgrade request; the bytes after it go to pending. 0, or an HTTP status. */
static int read_request(int fd, char accept[29], struct buf *pending, struct warren_error *err)
{
	int64_t deadline = now_mono_us() + (int64_t)BRIDGE_HEAD_TIMEOUT_MS * 1000;
	struct ws_head *h = ws_head_new(true);
	char rb[4096];
	int status = 400;

	if (!h)
		return 503;
	for (;;) {
		int left = (int)((deadline - now_mono_us()) / 1000);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, left) == 0) {
			snprintf(err->msg, sizeof(err->msg), "no request within %d ms",
			         BRIDGE_HEAD_TIMEOUT_MS);
			goto out;
		}
		ssize_t n = recv(fd, rb, sizeof(rb), 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(err->msg, sizeof(err->msg), "reading the request: %s",
			         strerror(errno));
			goto out;
		}
		ssize_t used = ws_head_feed(h, rb, (size_t)n);
		if (used < 0) {
			snprintf(err->msg, sizeof(err->msg), "%s",
			         used == -EMSGSIZE ? "request head too large"
			                           : "malformed request");
			status = used == -EMSGSIZE ? 431 : 400;
			goto out;
		}
		if (ws_head_done(h)) {
			status = ws_check_request(h, accept, err);
			if (status == 0 && buf_append(pending, rb + used, (size_t)(n - used)) < 0)
				status = 503;
			goto out;
		}
		if (n == 0) {
			snprintf(err->msg, sizeof(err->msg), "the client left mid-request");
			goto out;
		}
	}
out:
	ws_head_free(h);
	return status;
}

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct warren_error err = {0};
	struct buf pending = BUF_INIT;
	struct buf ok = BUF_INIT;
	char accept[29], msg[320];
	int tfd = -1, status;

	if (atomic_fetch_add(&n_conns, 1) >= BRIDGE_MAX_CONNS) {
		refuse(fd, 503, "too many connections");
		goto out;
	}
	status = read_request(fd, accept, &pending, &err);
	if (status != 0) {
		refuse(fd, status, err.msg);
		goto out;
	}
	tfd = connect_target();
	if (tfd < 0) {
		char addr[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &target.sin_addr, addr, sizeof(addr));
		snprintf(msg, sizeof(msg), "nothing answers on %s:%u in the sandbox (%s)", addr,
		         ntohs(target.sin_port), strerror(-tfd));
		refuse(fd, 502, msg);
		goto out;
	}
	if (buf_printf(&ok,
	               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
	               "Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
	               accept) < 0 ||
	    write_full(fd, ok.data, ok.len) < 0)
		goto out;
	struct ws_relay rc = {.ws_fd = fd,
	                      .in_fd = tfd,
	                      .out_fd = tfd,
	                      .client = false,
	                      .pending = (const uint8_t *)pending.data,
	                      .n_pending = pending.len};
	int r = ws_relay_run(&rc);
	if (r < 0 && r != -ECONNRESET)
		fprintf(stderr, "warren-wsbridge: connection ended: %s\n", strerror(-r));
out:
	atomic_fetch_sub(&n_conns, 1);
	if (tfd >= 0)
		close(tfd);
	close(fd);
	buf_release(&pending);
	buf_release(&ok);
	return NULL;
}

static int cmd_serve(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
	pthread_attr_t attr;
	int port, lfd, one = 1;

	if (argc < 2 || argc > 3) {
		fputs(usage, stderr);
		return 2;
	}
	port = parse_port(argv[1]);
	if (port < 0) {
		fprintf(stderr, "warren-wsbridge: bad port '%s'\n", argv[1]);
		return 2;
	}
	if (parse_target(argc > 2 ? argv[2] : "127.0.0.1:22", &target) < 0) {
		fprintf(stderr, "warren-wsbridge: bad target '%s' (IPv4:PORT)\n", argv[2]);
		return 2;
	}
	sa.sin_port = htons((uint16_t)port);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
		fprintf(stderr, "warren-wsbridge: listening on port %d: %s\n", port,
		        strerror(errno));
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		pthread_t t;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
			    errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				if (errno != EINTR && errno != ECONNABORTED)
					usleep(100 * 1000);
				continue;
			}
			fprintf(stderr, "warren-wsbridge: accept: %s\n", strerror(errno));
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, &attr, serve_conn, (void *)(intptr_t)fd) != 0) {
			refuse(fd, 503, "out of threads");
			close(fd);
		}
	}
}

static int cmd_connect(int argc, char **argv)
{
	const char *headers[33];
	size_t n_headers = 0;
	const char *url_s = NULL;
	struct ws_url url;
	struct warren_error err = {0};
	struct buf pending = BUF_INIT;
	int fd = -1, r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-H") == 0 && i + 1 < argc) {
			if (n_headers == 32 || !strchr(argv[i + 1], ':') ||
			    strpbrk(argv[i + 1], "\r\n")) {
				fprintf(stderr, "warren-wsbridge: bad header '%s'\n", argv[i + 1]);
				return 2;
			}
			headers[n_headers++] = argv[++i];
		} else if (!url_s && argv[i][0] != '-') {
			url_s = argv[i];
		} else {
			fputs(usage, stderr);
			return 2;
		}
	}
	headers[n_headers] = NULL;
	if (!url_s) {
		fputs(usage, stderr);
		return 2;
	}
	r = ws_url_parse(url_s, &url);
	if (r < 0) {
		fprintf(stderr, "warren-wsbridge: %s URL '%s'\n",
		        r == -EPROTONOSUPPORT ? "no TLS support for" : "bad", url_s);
		return 2;
	}
	r = ws_client_connect(&url, headers, 30000, &fd, &pending, &err);
	if (r < 0) {
		fprintf(stderr, "warren-wsbridge: %s: %s\n", url_s, err.msg);
		return 1;
	}
	struct ws_relay rc = {.ws_fd = fd,
	                      .in_fd = STDIN_FILENO,
	                      .out_fd = STDOUT_FILENO,
	                      .client = true,
	                      .pending = (const uint8_t *)pending.data,
	                      .n_pending = pending.len};
	r = ws_relay_run(&rc);
	close(fd);
	buf_release(&pending);
	if (r < 0 && r != -ECONNRESET) {
		fprintf(stderr, "warren-wsbridge: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "connect") == 0)
		return cmd_connect(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	return 2;
}
