/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_POOL_H
#define WARREND_POOL_H

/*
 * A pool of ready sandboxes for one template, so that a create skips the
 * sandbox's cold start. A background thread keeps `size` pooled sandboxes
 * (registry_pool_*) ready or in the making: it refills after each claim,
 * waits while the registry is at its cap, and backs off after failures.
 * Each pooled sandbox is used once: a claim takes it for good.
 *
 * A claim fits a request for the pool's template that allows internet access
 * (the firewall setting of a slot cannot be changed after spawn). The
 * request's envVars reach the agent through its POST /init; metadata and
 * timeout go to the registry, which then shows the sandbox.
 */

#include <netinet/in.h>
#include <stdint.h>

#include <warren/error.h>

#include "api_json.h"
#include "registry.h"

/*
 * Sends {"envVars": env_json} (and "accessToken": token unless token is NULL; a
 * token is [0-9a-f]+) to the agent at addr:port (POST /init) and waits
 * for its 2xx answer, within timeout_ms in all. 0, or -errno with err filled
 * (-EPROTO for a non-2xx status or a malformed answer, -ETIMEDOUT).
 */
int pool_agent_init(struct in_addr addr, uint16_t port, const char *env_json, const char *token,
                    int timeout_ms, struct warren_error *err);

/* How a claimed sandbox gets its envVars and envd access token (NULL: none); the default is
 * pool_agent_init on RT_AGENT_PORT. */
typedef int (*pool_init_fn)(void *ud, struct in_addr addr, const char *env_json, const char *token,
                            struct warren_error *err);

struct pool_config {
	struct registry *reg;    /* must outlive the pool */
	const char *template_id; /* copied; "base" */
	unsigned size;           /* 0: no pool (pool_new gives NULL, claims give -ENOENT) */
	pool_init_fn init; /* NULL: pool_agent_init(addr, RT_AGENT_PORT, env, token, 1000 ms) */
	void *init_ud;
	unsigned backoff_min_ms; /* after a failed spawn; 0 means 100, doubling up to max */
	unsigned backoff_max_ms; /* 0 means 10000 */
	/*
	 * A refill starts no sooner than this after the last claim, so that a claimed
	 * sandbox's first command does not compete with the next spawn for the CPU and the
	 * kernel (it costs a few ms per create otherwise). 0 means 10.
	 */
	unsigned refill_delay_ms;
};

struct pool;

/*
 * Starts the refill thread (start it after registry_recover). *ret is NULL when
 * cfg->size is 0. -ENOMEM or another -errno when the thread cannot start.
 */
int pool_new(const struct pool_config *cfg, struct pool **ret);
/*
 * Stops the thread (waiting for a spawn in progress). The pooled sandboxes stay
 * in the registry: registry_kill_all destroys them. NULL is fine.
 */
void pool_free(struct pool *p);

/*
 * Serves a create from the pool: 0 with ret filled (the sandbox is running and
 * visible), or -ENOENT when the request does not fit or no pooled sandbox is
 * ready (or p is NULL): the caller then creates cold. A sandbox whose /init
 * fails is destroyed and -ENOENT returned as well (logged).
 */
int pool_claim(struct pool *p, const struct api_create_req *req, struct registry_info *ret);

/* Number of pooled sandboxes ready or in the making (for tests and logs). */
size_t pool_count(struct pool *p);

#endif
