/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes as one client connection of the HTTP
 * server (request heads, chunked and sized bodies, pipelining, garbage), fed
 * through a socketpair into the same per-connection code the server threads
 * run (http_serve_fd). The handler reads bodies in odd sizes, replies whole
 * or streamed, and for paths under /f forwards the request to an in-process
 * backend (http_forward) whose answer is also taken from the input.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/http.h"
#include "common/http_internal.h"

struct peer {
	int fd;
	const uint8_t *data;
	size_t len;
	size_t split; /* write in pieces of this size */
};

/* Writes the input, half-closes, then reads everything the other side answers. */
static void *peer_run(void *arg)
{
	struct peer *p = arg;
	char tmp[4096];
	size_t off = 0;

	while (off < p->len) {
		size_t n = p->len - off < p->split ? p->len - off : p->split;
		ssize_t w = send(p->fd, p->data + off, n, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	shutdown(p->fd, SHUT_WR);
	while (recv(p->fd, tmp, sizeof(tmp), 0) > 0)
		;
	close(p->fd);
	return NULL;
}

struct ctx {
	const uint8_t *backend_answer;
	size_t backend_len;
};

static void handler(struct http_conn *c, struct http_request *req, void *ud)
{
	struct ctx *x = ud;
	char piece[1 + 3 * 17];
	size_t total = 0;
	ssize_t n;

	(void)http_header_get(req, "Content-Type");
	if (strncmp(req->path, "/f", 2) == 0) {
		int sv[2];
		pthread_t t;
		struct peer backend;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return;
		backend = (struct peer){sv[1], x->backend_answer, x->backend_len, 977};
		if (pthread_create(&t, NULL, peer_run, &backend) != 0) {
			close(sv[0]);
			close(sv[1]);
			return;
		}
		if (http_forward(c, req, sv[0], NULL) < 0 && !http_replied(c))
			http_reply_error(c, 502, "forward failed");
		/* Closing our end lets the backend peer finish (it reads until EOF). */
		close(sv[0]);
		pthread_join(t, NULL);
		return;
	}
	while ((n = http_body_read(c, piece, 1 + (total % sizeof(piece)))) > 0)
		total += (size_t)n;
	if (n < 0) {
		http_reply_error(c, 400, "body: %zd", n);
		return;
	}
	if (strncmp(req->path, "/s", 2) == 0) {
		http_stream_start(c, 200, "text/plain", NULL);
		http_stream_write(c, req->target, strlen(req->target));
		http_stream_write(c, "", 0);
		http_stream_end(c);
	} else if (strncmp(req->path, "/n", 2) == 0) {
		/* no reply */
	} else {
		http_reply(c, total ? 200 : 204, "text/plain", req->query, strlen(req->query));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx x = {(const uint8_t *)"", 0};
	struct http_server_config cfg = {
	    .max_header_bytes = 2048,
	    .idle_timeout_ms = 2000,
	    .handler = handler,
	    .userdata = &x,
	};
	const uint8_t *sep;
	struct peer client;
	pthread_t t;
	int sv[2];

	if (size < 1)
		return 0;
	/* Layout: <split byte><client bytes>[\0\0\0<backend answer>] */
	sep = memmem(data + 1, size - 1, "\0\0\0", 3);
	if (sep) {
		x.backend_answer = sep + 3;
		x.backend_len = size - (size_t)(sep + 3 - data);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	client = (struct peer){sv[1], data + 1, (sep ? (size_t)(sep - data) : size) - 1,
	                       (size_t)data[0] + 1};
	if (pthread_create(&t, NULL, peer_run, &client) != 0) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	http_serve_fd(&cfg, sv[0]);
	pthread_join(t, NULL);
	return 0;
}
