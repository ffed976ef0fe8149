/* SPDX-License-Identifier: Apache-2.0 */
#include "api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_json.h"
#include "auth.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/urlquery.h"
#include "common/util.h"
#include "prom.h"
#include "proxy.h"

#define MAX_SEGMENTS 8

void api_reply_json(struct http_conn *c, int status, json_t *json, const char *const *hdrs)
{
	char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;

	json_decref(json);
	if (!text) {
		http_reply_error(c, 500, "out of memory building the response");
		return;
	}
	http_reply_hdrs(c, status, hdrs, "application/json", text, strlen(text));
	free(text);
}

struct segments {
	char *v[MAX_SEGMENTS];
	size_t n;
};

static void segments_release(struct segments *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

/* Splits "/a/b%2Fc" into decoded segments. -EINVAL for a malformed or too deep path. */
static int split_path(const char *path, struct segments *s)
{
	const char *p = path;

	s->n = 0;
	if (*p != '/')
		return -EINVAL;
	p++;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int r;

		/* A trailing slash is tolerated; empty inner segments are not. */
		if (len == 0 && !end)
			break;
		if (len == 0 || s->n == MAX_SEGMENTS) {
			segments_release(s);
			return -EINVAL;
		}
		r = urlq_decode(p, len, false, &s->v[s->n]);
		if (r < 0) {
			segments_release(s);
			return r;
		}
		s->n++;
		p = end ? end + 1 : p + len;
	}
	return 0;
}

static bool seg_is(const struct segments *s, size_t i, const char *name)
{
	return i < s->n && strcmp(s->v[i], name) == 0;
}

enum route {
	R_NONE,
	R_HEALTH,
	R_CREATE_V1,
	R_CREATE_V2,
	R_LIST_V1,
	R_LIST_V2,
	R_GET,
	R_KILL,
	R_TIMEOUT,
	R_CONNECT_V1,
	R_CONNECT_V2,
	R_PAUSE,
	R_RESUME,
	R_LOGS,
	R_LOGS_V2,
	R_METRICS,
	R_METRICS_MULTI, /* GET /sandboxes/metrics?sandbox_ids= */
	R_PROMETHEUS,    /* GET /metrics: warrend's own, text format */
	R_TEMPLATES,
	R_NETWORK,
	R_UNSUPPORTED, /* an E2B endpoint warren does not implement (yet) */
	R_BAD_METHOD,
};

static const char *const unsupported_roots[] = {"templates",     "snapshots", "volumes",
                                                "volumecontent", "secrets",   "teams"};
static const char *const unsupported_actions[] = {"snapshots", "fork", "network", "refreshes",
                                                  "logs"};

/* Maps method + segments to a route; *ret_id points into s for routes with an id. */
static enum route route_of(const char *m, const struct segments *s, const char **ret_id)
{
	bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;
	bool del = strcmp(m, "DELETE") == 0;
	size_t base = seg_is(s, 0, "v2") ? 1 : 0;
	bool v2 = base == 1;

	*ret_id = NULL;
	if (s->n == 1 && seg_is(s, 0, "health"))
		return get ? R_HEALTH : R_BAD_METHOD;
	if (s->n == 1 && seg_is(s, 0, "templates"))
		return get ? R_TEMPLATES : R_BAD_METHOD;
	if (s->n == 1 && seg_is(s, 0, "metrics"))
		return get ? R_PROMETHEUS : R_BAD_METHOD;
	/* Template builds, tags, snapshots, volumes, secrets, teams. */
	size_t root = (seg_is(s, 0, "v2") || seg_is(s, 0, "v3")) ? 1 : 0;
	for (size_t i = 0; i < ARRAY_SIZE(unsupported_roots); i++)
		if (seg_is(s, root, unsupported_roots[i]))
			return R_UNSUPPORTED;
	if (!seg_is(s, base, "sandboxes"))
		return R_NONE;
	if (s->n == base + 1) {
		if (post)
			return v2 ? R_CREATE_V2 : R_CREATE_V1;
		if (get)
			return v2 ? R_LIST_V2 : R_LIST_V1;
		return R_BAD_METHOD;
	}
	/* Not an id: warren's ids are 20 characters. */
	if (s->n == base + 2 && !v2 && seg_is(s, base + 1, "metrics"))
		return get ? R_METRICS_MULTI : R_BAD_METHOD;
	*ret_id = s->v[base + 1];
	if (s->n == base + 2 && !v2) {
		if (get)
			return R_GET;
		if (del)
			return R_KILL;
		return R_BAD_METHOD;
	}
	if (s->n == base + 3 && seg_is(s, base + 2, "connect"))
		return post ? (v2 ? R_CONNECT_V2 : R_CONNECT_V1) : R_BAD_METHOD;
	if (s->n == base + 3 && !v2 && seg_is(s, base + 2, "pause"))
		return post ? R_PAUSE : R_BAD_METHOD;
	if (s->n == base + 3 && !v2 && seg_is(s, base + 2, "resume"))
		return post ? R_RESUME : R_BAD_METHOD;
	if (s->n == base + 3 && !v2 && seg_is(s, base + 2, "timeout"))
		return post ? R_TIMEOUT : R_BAD_METHOD;
	if (s->n == base + 3 && seg_is(s, base + 2, "logs"))
		return get ? (v2 ? R_LOGS_V2 : R_LOGS) : R_BAD_METHOD;
	if (s->n == base + 3 && !v2 && seg_is(s, base + 2, "metrics"))
		return get ? R_METRICS : R_BAD_METHOD;
	if (s->n == base + 3 && !v2 && seg_is(s, base + 2, "network"))
		return strcmp(m, "PUT") == 0 ? R_NETWORK : R_BAD_METHOD;
	for (size_t i = 0; s->n == base + 3 && i < ARRAY_SIZE(unsupported_actions); i++)
		if (seg_is(s, base + 2, unsupported_actions[i]))
			return R_UNSUPPORTED;
	return R_NONE;
}

static bool route_has_body(enum route r)
{
	return r == R_CREATE_V1 || r == R_CREATE_V2 || r == R_TIMEOUT || r == R_CONNECT_V1 ||
	       r == R_CONNECT_V2 || r == R_NETWORK || r == R_PAUSE || r == R_RESUME;
}

/* The class a route's latency is counted in (GET /metrics). */
static enum prom_route prom_route_of(enum route r)
{
	switch (r) {
	case R_HEALTH:
		return PROM_ROUTE_HEALTH;
	case R_CREATE_V1:
	case R_CREATE_V2:
		return PROM_ROUTE_CREATE;
	case R_CONNECT_V1:
	case R_CONNECT_V2:
		return PROM_ROUTE_CONNECT;
	case R_LIST_V1:
	case R_LIST_V2:
		return PROM_ROUTE_LIST;
	case R_GET:
		return PROM_ROUTE_GET;
	case R_KILL:
		return PROM_ROUTE_KILL;
	case R_TIMEOUT:
		return PROM_ROUTE_TIMEOUT;
	case R_NETWORK:
		return PROM_ROUTE_NETWORK;
	case R_METRICS:
	case R_METRICS_MULTI:
		return PROM_ROUTE_METRICS;
	case R_LOGS:
	case R_LOGS_V2:
		return PROM_ROUTE_LOGS;
	case R_TEMPLATES:
		return PROM_ROUTE_TEMPLATES;
	case R_PROMETHEUS:
		return PROM_ROUTE_PROMETHEUS;
	default:
		return PROM_ROUTE_OTHER;
	}
}

/*
 * The API key of a request: X-API-KEY, or for GET /metrics also "Authorization: Bearer
 * <key>", which is what a Prometheus scrape job's `authorization` setting sends.
 */
static const char *request_key(struct http_request *req, enum route route)
{
	const char *key = http_header_get(req, "X-API-KEY"), *a;

	if (key || route != R_PROMETHEUS)
		return key;
	a = http_header_get(req, "Authorization");
	if (a && strncasecmp(a, "Bearer ", 7) == 0)
		return a + 7;
	return NULL;
}

static void control_plane(struct api *api, struct http_conn *c, struct http_request *req)
{
	struct segments segs = {0};
	struct buf body = BUF_INIT;
	const char *id = NULL;
	enum route route = R_NONE;
	int64_t t0 = now_mono_us();
	int r;

	if (split_path(req->path, &segs) < 0) {
		http_reply_error(c, 404, "Not found: malformed path");
		goto out;
	}
	route = route_of(req->method, &segs, &id);
	if (route == R_HEALTH) {
		http_reply(c, 200, "application/json", "{\"status\":\"ok\"}", 15);
		goto out;
	}

	r = auth_check(api->store, request_key(req, route));
	if (r < 0) {
		log_error("checking API key: %s", strerror(-r));
		http_reply_error(c, 500, "Cannot check the API key");
		goto out;
	}
	if (r == 0) {
		http_reply_error(c, 401,
		                 "Invalid API key, it must be a key issued by this warrend "
		                 "(e2b_ followed by 40 hex characters)");
		goto out;
	}

	if (route == R_NONE) {
		http_reply_error(c, 404, "Not found: %s %s", req->method, req->path);
		goto out;
	}
	if (route == R_UNSUPPORTED) {
		http_reply_error(c, 501, "%s %s is not supported by warren", req->method,
		                 req->path);
		goto out;
	}
	if (route == R_BAD_METHOD) {
		http_reply_error(c, 405, "Method %s not allowed on %s", req->method, req->path);
		goto out;
	}
	if (id && !api_sbx_id_valid(id)) {
		http_reply_error(c, 404, "Sandbox '%.64s' not found", id);
		goto out;
	}
	if (route_has_body(route)) {
		r = http_body_read_all(c, API_BODY_MAX, &body);
		if (r == -EMSGSIZE) {
			http_conn_close_after(c);
			http_reply_error(c, 413, "Request body larger than %d bytes", API_BODY_MAX);
			goto out;
		}
		if (r < 0) {
			http_conn_close_after(c);
			http_reply_error(c, 400, "Cannot read the request body: %s", strerror(-r));
			goto out;
		}
	}

	struct api_route_ctx x = {
	    .api = api,
	    .c = c,
	    .req = req,
	    .id = id,
	    .body = body.data ? body.data : "",
	    .body_len = body.len,
	};
	switch (route) {
	case R_CREATE_V1:
		api_sandbox_create(&x, 1);
		break;
	case R_CREATE_V2:
		api_sandbox_create(&x, 2);
		break;
	case R_LIST_V1:
	case R_LIST_V2:
		api_sandbox_list(&x);
		break;
	case R_GET:
		api_sandbox_get(&x);
		break;
	case R_KILL:
		api_sandbox_kill(&x);
		break;
	case R_TIMEOUT:
		api_sandbox_set_timeout(&x);
		break;
	case R_CONNECT_V1:
		api_sandbox_connect(&x, 1);
		break;
	case R_CONNECT_V2:
		api_sandbox_connect(&x, 2);
		break;
	case R_PAUSE:
		api_sandbox_pause(&x);
		break;
	case R_RESUME:
		api_sandbox_resume(&x);
		break;
	case R_LOGS:
		api_sandbox_logs(&x, 1);
		break;
	case R_LOGS_V2:
		api_sandbox_logs(&x, 2);
		break;
	case R_METRICS:
		api_sandbox_metrics(&x);
		break;
	case R_METRICS_MULTI:
		api_sandboxes_metrics(&x);
		break;
	case R_PROMETHEUS:
		api_prometheus(&x);
		break;
	case R_TEMPLATES:
		api_template_list(&x);
		break;
	case R_NETWORK:
		api_sandbox_network(&x);
		break;
	default:
		http_reply_error(c, 404, "Not found");
		break;
	}
out:
	prom_request_done(api->prom, prom_route_of(route), (double)(now_mono_us() - t0) / 1e6);
	buf_release(&body);
	segments_release(&segs);
}

void api_handle(struct http_conn *c, struct http_request *req, void *userdata)
{
	struct api *api = userdata;

	if (api->proxy && proxy_wants(api->proxy, req)) {
		proxy_handle(api->proxy, c, req);
		return;
	}
	control_plane(api, c, req);
}
