/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_API_H
#define WARREND_API_H

/*
 * The one HTTP handler of warrend. Data-plane requests (proxy_wants) go to
 * the proxy without an API key; everything else is the control-plane REST
 * API of WIRE.md §2: X-API-KEY checked against the store (401 otherwise,
 * except GET /health), JSON bodies of at most API_BODY_MAX bytes (413), and
 * errors always as {"code":<status>,"message":"..."}.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/http.h"

#define API_BODY_MAX (1024 * 1024)

struct registry;
struct store;
struct proxy;
struct cgroup_mgr;
struct pool;
struct prom;

struct api {
	struct registry *reg;
	struct store *store;
	struct proxy *proxy;               /* NULL: no data plane */
	struct cgroup_mgr *cgroups;        /* NULL: metrics are empty */
	struct pool *pool;                 /* NULL: every create is cold */
	struct prom *prom;                 /* NULL: no Prometheus counts (GET /metrics is empty) */
	const char *state_dir;             /* NULL: no sandbox logs */
	unsigned pool_size, max_sandboxes; /* for GET /metrics */
	unsigned tpl_cpu_count;            /* the base template, for GET /templates */
	unsigned tpl_memory_mb;
	unsigned tpl_disk_mb;
	int64_t started_ms; /* when warrend started: the template's createdAt */
	bool secure_all;    /* --secure: every create is secure: true */
	const char *domain; /* --domain: the Sandbox answers' "domain" (NULL: null) */
};

/* http_handler_fn; userdata is a struct api. */
void api_handle(struct http_conn *c, struct http_request *req, void *userdata);

/* Route handlers of api_sandboxes.c; id is decoded and validated, body NULL when not read. */
struct api_route_ctx {
	struct api *api;
	struct http_conn *c;
	struct http_request *req;
	const char *id;
	const char *body;
	size_t body_len;
};
void api_sandbox_create(struct api_route_ctx *x, int version);
void api_sandbox_list(struct api_route_ctx *x);
void api_sandbox_get(struct api_route_ctx *x);
void api_sandbox_kill(struct api_route_ctx *x);
void api_sandbox_connect(struct api_route_ctx *x, int version);
void api_sandbox_pause(struct api_route_ctx *x);
void api_sandbox_resume(struct api_route_ctx *x);
void api_sandbox_set_timeout(struct api_route_ctx *x);
/* api_observe.c: metrics, logs, Prometheus (docs/OBSERVABILITY.md). */
void api_sandbox_logs(struct api_route_ctx *x, int version);
void api_sandbox_metrics(struct api_route_ctx *x);
void api_sandboxes_metrics(struct api_route_ctx *x);
void api_prometheus(struct api_route_ctx *x);
void api_template_list(struct api_route_ctx *x);
/* PUT /sandboxes/{id}/network (api_network.c parses, the registry applies). */
void api_sandbox_network(struct api_route_ctx *x);

/* Sends json (consumed) with status; 500 when it cannot be serialised. */
void api_reply_json(struct http_conn *c, int status, json_t *json, const char *const *hdrs);

#endif
