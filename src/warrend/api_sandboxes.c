/* SPDX-License-Identifier: Apache-2.0 */
/* The /sandboxes routes: request validation in api_json.c, state in registry.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#include "api.h"
#include "api_json.h"
#include "api_network.h"
#include "common/log.h"
#include "common/util.h"
#include "pool.h"
#include "prom.h"
#include "registry.h"

#define CLIENT_ID "warren"
#define LIST_LIMIT_MAX 100

static void reply_not_found(struct api_route_ctx *x)
{
	http_reply_error(x->c, 404, "Sandbox '%s' not found", x->id);
}

/* The Sandbox schema (create and connect answers). */
static json_t *sandbox_json(const struct api *a, const struct registry_info *i)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "templateID", i->template_id,
	                      "sandboxID", i->id, "alias", i->template_id, "clientID", CLIENT_ID,
	                      "envdVersion", WARREN_ENVD_VERSION, "domain", a->domain);

	/* The SDK sends X-Access-Token (and the traffic token) only when these are here. */
	if (o && i->envd_token[0])
		json_object_set_new(o, "envdAccessToken", json_string(i->envd_token));
	if (o)
		json_object_set_new(o, "trafficAccessToken",
		                    i->traffic_token[0] ? json_string(i->traffic_token)
		                                        : json_null());
	return o;
}

/* ListedSandbox; SandboxDetail adds a few fields when detail is set. */
static json_t *listed_json(const struct api *a, const struct registry_info *i, bool detail)
{
	char started[32], end[32];
	json_t *meta = json_loads(i->metadata_json ? i->metadata_json : "{}", 0, NULL), *o;

	if (!json_is_object(meta)) {
		json_decref(meta);
		meta = json_object();
	}
	api_format_time(i->started_ms, started);
	api_format_time(i->end_ms, end);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:o, s:s, s:s}", "templateID",
	              i->template_id, "alias", i->template_id, "sandboxID", i->id, "clientID",
	              CLIENT_ID, "startedAt", started, "endAt", end, "cpuCount", (int)i->cpu_count,
	              "memoryMB", (int)i->memory_mb, "diskSizeMB", (int)i->disk_mb, "metadata",
	              meta, "state", i->paused ? "paused" : "running", "envdVersion",
	              WARREN_ENVD_VERSION);
	if (o && detail) {
		json_object_set_new(o, "domain", a->domain ? json_string(a->domain) : json_null());
		json_object_set_new(o, "allowInternetAccess", json_boolean(i->allow_internet));
		if (i->envd_token[0])
			json_object_set_new(o, "envdAccessToken", json_string(i->envd_token));
		if (i->network)
			json_object_set_new(o, "network", api_network_json(i->network));
		json_object_set_new(o, "lifecycle",
		                    json_pack("{s:s, s:b}", "onTimeout",
		                              i->auto_pause ? "pause" : "kill", "autoResume",
		                              i->auto_resume));
	}
	return o;
}

void api_sandbox_create(struct api_route_ctx *x, int version)
{
	struct warren_error err = {0};
	struct api_create_req req = {0};
	struct registry_info info;
	int64_t t0 = now_mono_us();
	enum prom_create_source src = PROM_CREATE_POOL;
	int r;

	r = api_parse_create(x->body, x->body_len, &req, &err);
	if (r < 0) {
		http_reply_error(x->c, r == -ENOMEM ? 500 : 400, "%s", err.msg);
		return;
	}
	/* diskSizeMB may make a sandbox's disk smaller than the template's, not larger. */
	if (req.disk_mb > x->api->tpl_disk_mb) {
		if (x->api->tpl_disk_mb == 0)
			http_reply_error(
			    x->c, 400,
			    "field 'diskSizeMB': this server runs without sandbox disks");
		else
			http_reply_error(x->c, 400, "field 'diskSizeMB' must be at most %u here",
			                 x->api->tpl_disk_mb);
		api_create_req_release(&req);
		return;
	}
	if (req.disk_mb == x->api->tpl_disk_mb)
		req.disk_mb = 0;
	if (x->api->secure_all)
		req.secure = true;
	/* A ready pooled sandbox when one fits, else a cold one. */
	r = pool_claim(x->api->pool, &req, &info);
	if (r == -ENOENT) {
		src = PROM_CREATE_COLD;
		r = registry_create(x->api->reg, &req, &info, &err);
	}
	api_create_req_release(&req);
	if (r == 0)
		prom_create_done(x->api->prom, src, (double)(now_mono_us() - t0) / 1e6);
	else if (r != -ENOENT)
		prom_create_failed(x->api->prom,
		                   r == -EAGAIN ? PROM_FAIL_CAPACITY : PROM_FAIL_ERROR);
	if (r == -ENOENT) {
		http_reply_error(x->c, 404, "%s", err.msg);
		return;
	}
	if (r == -EAGAIN) {
		static const char *const hdrs[] = {"Retry-After: 5", NULL};
		char msg[300];
		int n = snprintf(msg, sizeof(msg), "{\"code\":429,\"message\":\"%s\"}", err.msg);
		http_reply_hdrs(x->c, 429, hdrs, "application/json", msg, (size_t)n);
		return;
	}
	if (r < 0) {
		log_error("create (v%d): %s", version, err.msg);
		http_reply_error(x->c, 500, "Cannot create the sandbox: %s", err.msg);
		return;
	}
	api_reply_json(x->c, 201, sandbox_json(x->api, &info), NULL);
	registry_info_release(&info);
}

/*
 * Resumes x->id when it is paused, else extends its deadline to now + timeout_s, and
 * answers with the sandbox: 201 when it was resumed, `running_status` when it was running;
 * 404, 409 while it is being paused or resumed, 500 with the reason when the restore failed.
 */
static void resume_reply(struct api_route_ctx *x, int timeout_s, int running_status)
{
	struct warren_error err = {0};
	struct registry_info info;
	int r = registry_resume(x->api->reg, x->id, timeout_s, &info, &err);

	if (r == -ENOENT) {
		reply_not_found(x);
		return;
	}
	if (r < 0) {
		http_reply_error(x->c, r == -EBUSY ? 409 : 500, "Cannot resume sandbox '%s': %s",
		                 x->id, err.msg);
		return;
	}
	api_reply_json(x->c, r == 1 ? 201 : running_status, sandbox_json(x->api, &info), NULL);
	registry_info_release(&info);
}

void api_sandbox_connect(struct api_route_ctx *x, int version)
{
	struct warren_error err = {0};
	int timeout_s, r;

	r = api_parse_connect(x->body, x->body_len, version == 2, &timeout_s, &err);
	if (r < 0) {
		http_reply_error(x->c, 400, "%s", err.msg);
		return;
	}
	/* A paused sandbox is resumed (201), a running one only gets its deadline extended. */
	resume_reply(x, timeout_s, 200);
}

void api_sandbox_set_timeout(struct api_route_ctx *x)
{
	struct warren_error err = {0};
	int timeout_s, r;

	r = api_parse_set_timeout(x->body, x->body_len, &timeout_s, &err);
	if (r < 0) {
		http_reply_error(x->c, 400, "%s", err.msg);
		return;
	}
	r = registry_set_timeout(x->api->reg, x->id, timeout_s);
	if (r == -ENOENT)
		reply_not_found(x);
	else if (r < 0)
		http_reply_error(x->c, 500, "Cannot set the timeout: %s", strerror(-r));
	else
		http_reply(x->c, 204, NULL, NULL, 0);
}

void api_sandbox_get(struct api_route_ctx *x)
{
	struct registry_info info;
	int r = registry_get(x->api->reg, x->id, &info);

	if (r == -ENOENT) {
		reply_not_found(x);
		return;
	}
	if (r < 0) {
		http_reply_error(x->c, 500, "out of memory");
		return;
	}
	api_reply_json(x->c, 200, listed_json(x->api, &info, true), NULL);
	registry_info_release(&info);
}

/* POST /sandboxes/{id}/pause: 204; 409 when already paused. */
void api_sandbox_pause(struct api_route_ctx *x)
{
	struct warren_error err = {0};
	int r = registry_pause(x->api->reg, x->id, &err);

	if (r == -ENOENT)
		reply_not_found(x);
	else if (r == -EALREADY || r == -EBUSY)
		http_reply_error(x->c, 409, "%s", err.msg);
	else if (r < 0)
		http_reply_error(x->c, 500, "Cannot pause sandbox '%s': %s", x->id, err.msg);
	else
		http_reply(x->c, 204, NULL, NULL, 0);
}

/* POST /sandboxes/{id}/resume (deprecated, {"timeout"?, "autoPause"?}): 201; 409 when
 * running. */
void api_sandbox_resume(struct api_route_ctx *x)
{
	struct warren_error err = {0};
	struct registry_info info;
	int timeout_s, r;

	r = api_parse_connect(x->body, x->body_len, true, &timeout_s, &err);
	if (r < 0) {
		http_reply_error(x->c, 400, "%s", err.msg);
		return;
	}
	r = registry_get(x->api->reg, x->id, &info);
	if (r == 0) {
		bool paused = info.paused;
		registry_info_release(&info);
		if (!paused) {
			http_reply_error(x->c, 409, "Sandbox '%s' is already running", x->id);
			return;
		}
	}
	resume_reply(x, timeout_s, 201);
}

void api_sandbox_kill(struct api_route_ctx *x)
{
	int r = registry_kill(x->api->reg, x->id);

	if (r == -ENOENT)
		reply_not_found(x);
	else if (r < 0)
		http_reply_error(x->c, 500, "Cannot kill the sandbox: %s", strerror(-r));
	else
		http_reply(x->c, 204, NULL, NULL, 0);
}

void api_sandbox_network(struct api_route_ctx *x)
{
	struct warren_error err = {0};
	struct api_network *n = malloc(sizeof(*n));
	int r;

	if (!n) {
		http_reply_error(x->c, 500, "out of memory");
		return;
	}
	r = api_parse_network_update(x->body, x->body_len, n, &err);
	if (r < 0) {
		http_reply_error(x->c, r == -ENOMEM ? 500 : 400, "%s", err.msg);
		goto out;
	}
	r = registry_update_network(x->api->reg, x->id, n, &err);
	if (r == -ENOENT)
		reply_not_found(x);
	else if (r < 0)
		http_reply_error(x->c, 500, "Cannot update the network: %s", err.msg);
	else
		http_reply(x->c, 204, NULL, NULL, 0);
out:
	free(n);
}

/* GET /templates: the one built-in template. */
void api_template_list(struct api_route_ctx *x)
{
	const struct api *a = x->api;
	char created[32];

	api_format_time(a->started_ms, created);
	api_reply_json(
	    x->c, 200,
	    json_pack("[{s:s, s:s, s:i, s:i, s:i, s:b, s:[s], s:[s], s:s, s:s, s:n, s:n, s:i, "
	              "s:i, s:s, s:s}]",
	              "templateID", "base", "buildID", "base", "cpuCount", (int)a->tpl_cpu_count,
	              "memoryMB", (int)a->tpl_memory_mb, "diskSizeMB", (int)a->tpl_disk_mb,
	              "public", 1, "aliases", "base", "names", "base", "createdAt", created,
	              "updatedAt", created, "createdBy", "lastSpawnedAt", "spawnCount", 0,
	              "buildCount", 1, "envdVersion", WARREN_ENVD_VERSION, "buildStatus", "ready"),
	    NULL);
}

/* nextToken is "<startedAt ms>_<sandbox id>" of the last sandbox of the previous page. */
static int parse_token(const char *tok, int64_t *ret_ms, char *ret_id, size_t id_size)
{
	char *end;
	long long ms;

	errno = 0;
	ms = strtoll(tok, &end, 10);
	if (errno || end == tok || *end != '_' || ms < 0 || !api_sbx_id_valid(end + 1))
		return -EINVAL;
	*ret_ms = ms;
	snprintf(ret_id, id_size, "%s", end + 1);
	return 0;
}

/* Parses the state filter; sets *running when "running" is asked for. */
static int parse_states(const char *v, bool *running, bool *paused)
{
	*running = false;
	*paused = false;
	for (const char *p = v; *p;) {
		size_t len = strcspn(p, ",");
		if (len == 7 && strncmp(p, "running", 7) == 0)
			*running = true;
		else if (len == 6 && strncmp(p, "paused", 6) == 0)
			*paused = true;
		else if (len != 0)
			return -EINVAL;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

void api_sandbox_list(struct api_route_ctx *x)
{
	const char *q = x->req->query ? x->req->query : "";
	char *state = NULL, *meta = NULL, *limit_s = NULL, *token = NULL;
	char token_id[API_SBX_ID_MAX + 1] = "", next[64] = "", hdr[96];
	struct registry_info *infos = NULL;
	struct warren_error err = {0};
	json_t *filter = NULL, *arr = NULL;
	int64_t token_ms = -1;
	bool want_running = true, want_paused = true;
	long limit = LIST_LIMIT_MAX;
	size_t n = 0;

	if (api_query_get(q, "state", &state) < 0 || api_query_get(q, "metadata", &meta) < 0 ||
	    api_query_get(q, "limit", &limit_s) < 0 || api_query_get(q, "nextToken", &token) < 0) {
		http_reply_error(x->c, 400, "malformed query string");
		goto out;
	}
	if (state && parse_states(state, &want_running, &want_paused) < 0) {
		http_reply_error(x->c, 400, "invalid state filter '%s' (running, paused)", state);
		goto out;
	}
	if (limit_s) {
		char *end;
		errno = 0;
		limit = strtol(limit_s, &end, 10);
		if (errno || end == limit_s || *end || limit < 1 || limit > LIST_LIMIT_MAX) {
			http_reply_error(x->c, 400, "limit must be an integer from 1 to %d",
			                 LIST_LIMIT_MAX);
			goto out;
		}
	}
	if (token && *token && parse_token(token, &token_ms, token_id, sizeof(token_id)) < 0) {
		http_reply_error(x->c, 400, "invalid nextToken");
		goto out;
	}
	if (meta && api_metadata_filter_parse(meta, &filter, &err) < 0) {
		http_reply_error(x->c, 400, "%s", err.msg[0] ? err.msg : "invalid metadata filter");
		goto out;
	}
	if (registry_list(x->api->reg, &infos, &n) < 0 || !(arr = json_array())) {
		http_reply_error(x->c, 500, "out of memory");
		goto out;
	}

	long taken = 0;
	size_t last = 0;
	for (size_t i = 0; i < n; i++) {
		struct registry_info *in = &infos[i];
		if (in->paused ? !want_paused : !want_running)
			continue;
		if (token_ms >= 0 && (in->started_ms < token_ms || (in->started_ms == token_ms &&
		                                                    strcmp(in->id, token_id) <= 0)))
			continue;
		if (filter) {
			json_t *m = json_loads(in->metadata_json, 0, NULL);
			bool ok = m && api_metadata_matches(m, filter);
			json_decref(m);
			if (!ok)
				continue;
		}
		if (taken == limit) {
			/* There is more: the token points after the last one returned. */
			snprintf(next, sizeof(next), "%" PRId64 "_%s", infos[last].started_ms,
			         infos[last].id);
			break;
		}
		json_array_append_new(arr, listed_json(x->api, in, false));
		last = i;
		taken++;
	}
	if (next[0]) {
		snprintf(hdr, sizeof(hdr), "X-Next-Token: %s", next);
		const char *const hdrs[] = {hdr, NULL};
		api_reply_json(x->c, 200, arr, hdrs);
	} else {
		api_reply_json(x->c, 200, arr, NULL);
	}
	arr = NULL;
out:
	json_decref(arr);
	json_decref(filter);
	registry_info_free_array(infos, n);
	free(state);
	free(meta);
	free(limit_s);
	free(token);
}
