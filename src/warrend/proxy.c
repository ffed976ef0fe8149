/* SPDX-License-Identifier: Apache-2.0 */
#include "proxy.h"

#include "common/urlquery.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROXY_ID_MAX 64
#define PROXY_DEFAULT_PORT 49983
#define PROXY_CONNECT_TIMEOUT_MS 2000

#define PROXY_HOST_MAX 256 /* a masked Host, with the NUL */

struct proxy {
	proxy_resolve_fn resolve;
	void *ud;
	char *domain; /* NULL: any */
	bool (*traffic_ok)(void *ud, const char *sandbox_id, const char *token);
	void *traffic_ud;
	proxy_find_signed_fn find_signed;
	void *signed_ud;
	proxy_mask_host_fn mask_host;
	void *mask_ud;
	int (*wake)(void *ud, const char *sandbox_id);
	void *wake_ud;
};

/* The backend socket kept for one client connection (http_conn user data). */
struct proxy_backend {
	int fd;
	struct in_addr addr;
	uint16_t port;
	char id[PROXY_ID_MAX + 1];
};

struct route {
	char id[PROXY_ID_MAX + 1];
	uint16_t port; /* 0: not given */
};

struct proxy *proxy_new(proxy_resolve_fn resolve, void *ud, const char *domain)
{
	struct proxy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->resolve = resolve;
	p->ud = ud;
	if (domain) {
		p->domain = strdup(domain);
		if (!p->domain) {
			free(p);
			return NULL;
		}
	}
	return p;
}

void proxy_set_wake(struct proxy *p, int (*wake)(void *ud, const char *sandbox_id), void *ud)
{
	p->wake = wake;
	p->wake_ud = ud;
}

void proxy_set_host_mask(struct proxy *p, proxy_mask_host_fn mask, void *ud)
{
	p->mask_host = mask;
	p->mask_ud = ud;
}

void proxy_set_traffic_check(struct proxy *p,
                             bool (*ok)(void *ud, const char *sandbox_id, const char *token),
                             void *ud)
{
	p->traffic_ok = ok;
	p->traffic_ud = ud;
}

void proxy_set_signed_lookup(struct proxy *p, proxy_find_signed_fn find, void *ud)
{
	p->find_signed = find;
	p->signed_ud = ud;
}

/* GET/HEAD/POST /files with a signature parameter (not decoded: only its presence counts). */
static bool is_signed_files(const struct proxy *p, const struct http_request *req)
{
	const char *q = req->query;

	if (!p->find_signed || strcmp(req->path, "/files") != 0 ||
	    !(strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0 ||
	      strcmp(req->method, "POST") == 0))
		return false;
	while (q && *q) {
		if (strncmp(q, "signature=", 10) == 0)
			return true;
		q = strchr(q, '&');
		if (q)
			q++;
	}
	return false;
}

/* The sandbox a signed URL belongs to: 0 with its id, or -errno after replying. */
static int signed_route(struct proxy *p, struct http_conn *c, struct http_request *req,
                        char id[PROXY_ID_MAX + 1])
{
	static const char *const names[] = {"signature", "signature_expiration", "path",
	                                    "username"};
	char *v[4] = {NULL, NULL, NULL, NULL};
	int r = 0;

	for (size_t i = 0; i < 4 && r == 0; i++) {
		r = urlq_get(req->query, names[i], &v[i]);
		if (r == -ENOENT)
			r = 0;
	}
	if (r < 0) {
		http_reply_error(c, r == -ENOMEM ? 503 : 400, "malformed query string");
		goto out;
	}
	r = p->find_signed(p->signed_ud, v[0] ? v[0] : "", v[1], v[2] ? v[2] : "",
	                   strcmp(req->method, "POST") == 0 ? "write" : "read", v[3] ? v[3] : "",
	                   id);
	if (r < 0)
		http_reply_error(c, 401, "invalid signature");
out:
	for (size_t i = 0; i < 4; i++)
		free(v[i]);
	return r;
}

void proxy_free(struct proxy *p)
{
	if (!p)
		return;
	free(p->domain);
	free(p);
}

static bool valid_id(const char *s, size_t n)
{
	if (n == 0 || n > PROXY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* Decimal 1..65535, digits only. */
static int parse_port(const char *s, size_t n, uint16_t *ret)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* Host "<port>-<id>.<domain>[:<listen port>]". 0, or -ENOENT when Host is not of that form. */
static int host_route(const struct proxy *p, const struct http_request *req, struct route *rt)
{
	const char *host = http_header_get(req, "Host");
	const char *dash, *dot, *end, *colon;
	size_t dlen;

	if (!host || host[0] == '[')
		return -ENOENT;
	end = host + strlen(host);
	colon = strrchr(host, ':');
	if (colon)
		end = colon;
	dash = memchr(host, '-', (size_t)(end - host));
	dot = memchr(host, '.', (size_t)(end - host));
	if (!dash || !dot || dot < dash)
		return -ENOENT;
	if (parse_port(host, (size_t)(dash - host), &rt->port) < 0)
		return -ENOENT;
	if (!valid_id(dash + 1, (size_t)(dot - dash - 1)))
		return -ENOENT;
	dlen = (size_t)(end - dot - 1);
	if (dlen == 0)
		return -ENOENT;
	if (p->domain && (strlen(p->domain) != dlen || strncasecmp(dot + 1, p->domain, dlen) != 0))
		return -ENOENT;
	memcpy(rt->id, dash + 1, (size_t)(dot - dash - 1));
	rt->id[dot - dash - 1] = '\0';
	return 0;
}

bool proxy_wants(const struct proxy *p, const struct http_request *req)
{
	struct route rt;

	if (http_header_get(req, "E2b-Sandbox-Id") || http_header_get(req, "E2b-Sandbox-Port"))
		return true;
	return host_route(p, req, &rt) == 0 || is_signed_files(p, req);
}

static void backend_free(void *data)
{
	struct proxy_backend *b = data;

	if (!b)
		return;
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

/* A pooled connection is stale when the backend closed it or sent something unasked. */
static bool backend_alive(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLRDHUP};

	return poll(&pfd, 1, 0) == 0;
}

static int backend_connect(struct in_addr addr, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = addr};
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, one = 1, soerr = 0, r;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			goto out_close;
		}
		pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
		do
			r = poll(&pfd, 1, PROXY_CONNECT_TIMEOUT_MS);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			r = -ETIMEDOUT;
			goto out_close;
		}
		if (r < 0) {
			r = -errno;
			goto out_close;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			r = soerr ? -soerr : -errno;
			goto out_close;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;

out_close:
	close(fd);
	return r;
}

static void reply_not_found(struct http_conn *c, const char *id)
{
	char body[160];
	int n;

	/* id is validated to [a-z0-9]{1,64}: nothing to escape. */
	n = snprintf(
	    body, sizeof(body),
	    "{\"sandboxId\":\"%s\",\"message\":\"The sandbox was not found\",\"code\":502}", id);
	http_reply(c, 502, "application/json", body, (size_t)n);
}

void proxy_handle(struct proxy *p, struct http_conn *c, struct http_request *req)
{
	const char *hid = http_header_get(req, "E2b-Sandbox-Id");
	const char *hport = http_header_get(req, "E2b-Sandbox-Port");
	struct proxy_backend *b = http_conn_get_data(c);
	struct route hr = {{0}, 0};
	bool by_host = host_route(p, req, &hr) == 0;
	char id[PROXY_ID_MAX + 1];
	uint16_t port;
	struct in_addr addr;
	int r;

	if (hid) {
		if (!valid_id(hid, strlen(hid))) {
			http_reply_error(c, 400, "invalid sandbox id");
			return;
		}
		snprintf(id, sizeof(id), "%s", hid);
	} else if (by_host) {
		snprintf(id, sizeof(id), "%s", hr.id);
	} else if (is_signed_files(p, req)) {
		if (signed_route(p, c, req, id) < 0)
			return;
	} else {
		http_reply_error(c, 400, "missing sandbox id");
		return;
	}
	if (hport) {
		if (parse_port(hport, strlen(hport), &port) < 0) {
			http_reply_error(c, 400, "invalid sandbox port");
			return;
		}
	} else if (by_host && strcmp(hr.id, id) == 0) {
		port = hr.port;
	} else {
		port = PROXY_DEFAULT_PORT;
	}

	if (p->resolve(p->ud, id, &addr) < 0 &&
	    (!p->wake || p->wake(p->wake_ud, id) < 0 || p->resolve(p->ud, id, &addr) < 0)) {
		reply_not_found(c, id);
		return;
	}
	if (port != PROXY_DEFAULT_PORT && p->traffic_ok &&
	    !p->traffic_ok(p->traffic_ud, id, http_header_get(req, "E2B-Traffic-Access-Token"))) {
		http_reply_error(c, 401,
		                 "Sandbox %s is secured: port traffic needs its traffic access "
		                 "token in the e2b-traffic-access-token header",
		                 id);
		return;
	}

	if (b && b->fd >= 0 &&
	    (strcmp(b->id, id) != 0 || b->port != port || b->addr.s_addr != addr.s_addr ||
	     !backend_alive(b->fd))) {
		close(b->fd);
		b->fd = -1;
	}
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			http_reply_error(c, 503, "out of memory");
			return;
		}
		b->fd = -1;
		http_conn_set_data(c, b, backend_free);
	}
	if (b->fd < 0) {
		r = backend_connect(addr, port);
		if (r < 0) {
			/* Refused or unreachable: the sandbox (or its service) is not there. */
			reply_not_found(c, id);
			return;
		}
		b->fd = r;
		b->addr = addr;
		b->port = port;
		snprintf(b->id, sizeof(b->id), "%s", id);
	}

	/* maskRequestHost: the sandbox gets its own Host, for this request only. */
	char masked[PROXY_HOST_MAX];
	struct http_header *host = NULL;
	char *client_host = NULL;
	if (p->mask_host && p->mask_host(p->mask_ud, id, port, masked, sizeof(masked))) {
		for (size_t i = 0; i < req->n_headers && !host; i++)
			if (strcasecmp(req->headers[i].name, "Host") == 0)
				host = &req->headers[i];
		if (host) {
			client_host = host->value;
			host->value = masked;
		}
	}
	r = http_forward(c, req, b->fd, NULL);
	if (host)
		host->value = client_host;
	if (r != 1) {
		close(b->fd);
		b->fd = -1;
	}
	if (r < 0 && !http_replied(c)) {
		if (r == -EBADMSG)
			http_reply_error(c, 400, "malformed request body");
		else
			reply_not_found(c, id);
	}
}
