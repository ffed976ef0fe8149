/* SPDX-License-Identifier: Apache-2.0 */
#include "pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/sandbox.h"

#define INIT_TIMEOUT_MS 1000
#define RESPONSE_MAX (64 * 1024)
#define IDLE_WAIT_MS 5000

/* ---- the /init client ---- */

struct init_resp {
	bool complete;
};

static int on_message_complete(http_parser *hp)
{
	struct init_resp *r = hp->data;

	r->complete = true;
	return 0;
}

static int64_t now_mono_ms_(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline. 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int64_t left = deadline - now_mono_ms_();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		int r;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

static int connect_to(struct in_addr addr, uint16_t port, int64_t deadline, int *ret_fd)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = addr};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1, soerr = 0, r;
	socklen_t len = sizeof(soerr);

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			goto fail;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
			r = -errno;
			goto fail;
		}
		if (soerr) {
			r = -soerr;
			goto fail;
		}
	}
	*ret_fd = fd;
	return 0;
fail:
	close(fd);
	return r;
}

int pool_agent_init(struct in_addr addr, uint16_t port, const char *env_json, const char *token,
                    int timeout_ms, struct warren_error *err)
{
	static const http_parser_settings settings = {.on_message_complete = on_message_complete};
	int64_t deadline = now_mono_ms_() + (timeout_ms > 0 ? timeout_ms : INIT_TIMEOUT_MS);
	struct buf req = BUF_INIT;
	struct init_resp resp = {0};
	char host[INET_ADDRSTRLEN] = "?", in[4096];
	size_t body_len = strlen(env_json) + sizeof("{\"envVars\":}") - 1, got = 0;
	size_t tok_len = token ? strlen(token) + sizeof(",\"accessToken\":\"\"") - 1 : 0;
	http_parser hp;
	int fd = -1, r;

	inet_ntop(AF_INET, &addr, host, sizeof(host));
	/* env_json is a validated JSON object (api_parse_create) and a token is hex, so both
	 * are spliced as they are. */
	for (const char *t = token; t && *t; t++)
		if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'f')))
			return err_set(err, EINVAL, "invalid access token");
	r = buf_printf(&req,
	               "POST /init HTTP/1.1\r\nHost: %s:%u\r\nContent-Type: application/json\r\n"
	               "Content-Length: %zu\r\nConnection: close\r\n\r\n{\"envVars\":%s%s%s%s}",
	               host, port, body_len + tok_len, env_json, token ? ",\"accessToken\":\"" : "",
	               token ? token : "", token ? "\"" : "");
	if (r < 0) {
		r = err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	r = connect_to(addr, port, deadline, &fd);
	if (r == 0)
		r = send_all(fd, req.data, req.len, deadline);
	if (r < 0) {
		r = err_set(err, -r, "agent %s:%u: %s", host, port, strerror(-r));
		goto out;
	}
	http_parser_init(&hp, HTTP_RESPONSE);
	hp.data = &resp;
	while (!resp.complete) {
		ssize_t n = recv(fd, in, sizeof(in), 0);
		size_t done;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			r = wait_fd(fd, POLLIN, deadline);
			if (r < 0) {
				r = err_set(err, -r, "agent %s:%u: waiting for /init: %s", host,
				            port, strerror(-r));
				goto out;
			}
			continue;
		}
		if (n < 0) {
			r = err_set(err, errno, "agent %s:%u: %s", host, port, strerror(errno));
			goto out;
		}
		got += (size_t)n;
		if (got > RESPONSE_MAX) {
			r = err_set(err, EPROTO, "agent %s:%u: /init answer too large", host, port);
			goto out;
		}
		/* n == 0 tells the parser about EOF (which completes a body read until close). */
		done = http_parser_execute(&hp, &settings, in, (size_t)n);
		if (HTTP_PARSER_ERRNO(&hp) != HPE_OK || done != (size_t)n) {
			r = err_set(err, EPROTO, "agent %s:%u: malformed /init answer (%s)", host,
			            port, http_errno_name(HTTP_PARSER_ERRNO(&hp)));
			goto out;
		}
		if (n == 0 && !resp.complete) {
			r = err_set(err, EPROTO, "agent %s:%u: connection closed during /init",
			            host, port);
			goto out;
		}
	}
	if (hp.status_code < 200 || hp.status_code > 299) {
		r = err_set(err, EPROTO, "agent %s:%u: /init answered %u", host, port,
		            hp.status_code);
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_release(&req);
	return r;
}

/* ---- the pool ---- */

struct pool {
	struct pool_config cfg;
	char template_id[API_TEMPLATE_ID_MAX + 1];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, kicked;
	int64_t last_claim_ms; /* monotonic */
	pthread_t thread;
};

static int default_init(void *ud, struct in_addr addr, const char *env_json, const char *token,
                        struct warren_error *err)
{
	(void)ud;
	return pool_agent_init(addr, RT_AGENT_PORT, env_json, token, INIT_TIMEOUT_MS, err);
}

/* registry notify: under the registry's lock; takes only ours. */
static void kick(void *ud)
{
	struct pool *p = ud;

	pthread_mutex_lock(&p->lock);
	p->kicked = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Sleeps until kicked (unless ignore_kicks), stopped, or ms passed. Returns false on stop. */
static bool pool_wait(struct pool *p, unsigned ms, bool ignore_kicks)
{
	struct timespec ts;
	bool go_on;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->stop && (ignore_kicks || !p->kicked))
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
			break;
	p->kicked = false;
	go_on = !p->stop;
	pthread_mutex_unlock(&p->lock);
	return go_on;
}

static bool stopping(struct pool *p)
{
	bool s;

	pthread_mutex_lock(&p->lock);
	s = p->stop;
	pthread_mutex_unlock(&p->lock);
	return s;
}

/*
 * The refill loop. It never holds our lock while it calls the registry (whose
 * notify takes our lock under the registry's): lock order registry -> pool.
 */
static void *pool_main(void *arg)
{
	struct pool *p = arg;
	unsigned backoff = 0;

	while (!stopping(p)) {
		struct warren_error err = {0};
		int r;

		int64_t quiet;

		if (registry_pool_count(p->cfg.reg, p->template_id) >= p->cfg.size ||
		    !registry_has_room(p->cfg.reg)) {
			/* Full, or at the cap: a claim or a removal kicks us. */
			if (!pool_wait(p, IDLE_WAIT_MS, false))
				break;
			continue;
		}
		pthread_mutex_lock(&p->lock);
		quiet = p->last_claim_ms + p->cfg.refill_delay_ms - now_mono_ms_();
		pthread_mutex_unlock(&p->lock);
		if (quiet > 0) {
			if (!pool_wait(p, (unsigned)quiet, true))
				break;
			continue;
		}
		r = registry_pool_spawn(p->cfg.reg, p->template_id, &err);
		if (r == 0) {
			backoff = 0;
			continue;
		}
		if (r == -EAGAIN)
			continue; /* the cap was reached meanwhile: wait above */
		backoff = backoff ? backoff * 2 : p->cfg.backoff_min_ms;
		if (backoff > p->cfg.backoff_max_ms)
			backoff = p->cfg.backoff_max_ms;
		log_warn("pool (%s): %s; retrying in %u ms", p->template_id, err.msg, backoff);
		if (!pool_wait(p, backoff, true))
			break;
	}
	return NULL;
}

int pool_new(const struct pool_config *cfg, struct pool **ret)
{
	pthread_condattr_t ca;
	struct pool *p;

	*ret = NULL;
	if (cfg->size == 0)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	snprintf(p->template_id, sizeof(p->template_id), "%s",
	         cfg->template_id ? cfg->template_id : "base");
	p->cfg.template_id = p->template_id;
	if (!p->cfg.init)
		p->cfg.init = default_init;
	if (!p->cfg.backoff_min_ms)
		p->cfg.backoff_min_ms = 100;
	if (!p->cfg.backoff_max_ms)
		p->cfg.backoff_max_ms = 10000;
	if (!p->cfg.refill_delay_ms)
		p->cfg.refill_delay_ms = 10;
	if (p->cfg.backoff_min_ms > p->cfg.backoff_max_ms)
		p->cfg.backoff_min_ms = p->cfg.backoff_max_ms;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	registry_set_notify(p->cfg.reg, kick, p);
	if (pthread_create(&p->thread, NULL, pool_main, p) != 0) {
		registry_set_notify(p->cfg.reg, NULL, NULL);
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -EAGAIN;
	}
	*ret = p;
	return 0;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	registry_set_notify(p->cfg.reg, NULL, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int pool_claim(struct pool *p, const struct api_create_req *req, struct registry_info *ret)
{
	struct warren_error err = {0};
	char id[API_SBX_ID_MAX + 1], token[REGISTRY_TOKEN_MAX + 1] = "";
	struct in_addr addr;
	int r;

	/* Pooled sandboxes have the template's disk size; network settings are set up by a
	 * cold create only. */
	if (!p || !req->allow_internet || req->disk_mb || req->network ||
	    strcmp(req->template_id, p->template_id) != 0)
		return -ENOENT;
	/* A secure sandbox's agent gets its token through /init, before anyone knows the id. */
	if (req->secure && random_hex(token, 16) < 0)
		return -ENOENT;
	pthread_mutex_lock(&p->lock);
	p->last_claim_ms = now_mono_ms_();
	pthread_mutex_unlock(&p->lock);
	r = registry_pool_take(p->cfg.reg, p->template_id, true, id, &addr);
	if (r < 0)
		return -ENOENT;
	/* The agent was spawned with no envVars and no token: only a request with some needs
	 * /init. */
	if ((req->env_json && strcmp(req->env_json, "{}") != 0) || token[0]) {
		r = p->cfg.init(p->cfg.init_ud, addr, req->env_json ? req->env_json : "{}",
		                token[0] ? token : NULL, &err);
		if (r < 0) {
			log_sbx(LOG_WARN, id, "configuring pooled sandbox: %s", err.msg);
			registry_pool_discard(p->cfg.reg, id);
			return -ENOENT;
		}
	}
	r = registry_pool_activate(p->cfg.reg, id, req, token, ret);
	explicit_bzero(token, sizeof(token));
	if (r == -ENOMEM) {
		/* It runs and is visible; only the answer could not be built. */
		registry_kill(p->cfg.reg, id);
		return -ENOENT;
	}
	return r < 0 ? -ENOENT : 0;
}

size_t pool_count(struct pool *p)
{
	return p ? registry_pool_count(p->cfg.reg, p->template_id) : 0;
}
