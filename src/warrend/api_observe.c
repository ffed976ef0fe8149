/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Observability routes: sandbox metrics (samples taken by metrics.c), sandbox
 * logs (logs.c) and warrend's own Prometheus text (prom.c). docs/OBSERVABILITY.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_json.h"
#include "common/buf.h"
#include "common/util.h"
#include "logs.h"
#include "pool.h"
#include "prom.h"
#include "registry.h"
#include "store.h"

/* More than a week of samples after thinning (docs/OBSERVABILITY.md). */
#define METRICS_ANSWER_MAX 100000
#define METRICS_IDS_MAX 100
/* Unix seconds beyond which a time is certainly a mistake (year 5138). */
#define UNIX_S_MAX 100000000000LL

/* A non-negative decimal integer of at most max; -EINVAL otherwise. */
static int parse_uint(const char *s, long long max, long long *ret)
{
	long long v = 0;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (*p - '0');
		if (v > max)
			return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* Reads an optional integer query parameter. 0 (absent: *ret untouched), or -EINVAL. */
static int query_uint(const char *q, const char *name, long long max, long long *ret)
{
	char *v = NULL;
	int r = api_query_get(q, name, &v);

	if (r == 1)
		r = parse_uint(v, max, ret);
	free(v);
	return r < 0 ? r : 0;
}

static json_t *metric_json(const struct store_metric *m)
{
	char ts[32];

	api_format_time(m->ts_ms, ts);
	return json_pack("{s:s, s:I, s:i, s:f, s:I, s:I, s:I, s:I, s:I}", "timestamp", ts,
	                 "timestampUnix", (json_int_t)(m->ts_ms / 1000), "cpuCount",
	                 (int)m->cpu_count, "cpuUsedPct", m->cpu_pct, "memUsed",
	                 (json_int_t)m->mem_used, "memTotal", (json_int_t)m->mem_total, "memCache",
	                 (json_int_t)m->mem_cache, "diskUsed", (json_int_t)m->disk_used,
	                 "diskTotal", (json_int_t)m->disk_total);
}

/* GET /sandboxes/{id}/metrics?start=&end= (unix seconds, both inclusive). */
void api_sandbox_metrics(struct api_route_ctx *x)
{
	const char *q = x->req->query ? x->req->query : "";
	long long start = 0, end = UNIX_S_MAX;
	struct store_metric *v = NULL;
	struct registry_info info;
	json_t *arr;
	size_t n = 0;
	int r;

	if (query_uint(q, "start", UNIX_S_MAX, &start) < 0 ||
	    query_uint(q, "end", UNIX_S_MAX, &end) < 0) {
		http_reply_error(x->c, 400, "start and end must be unix times in seconds");
		return;
	}
	if (start > end) {
		http_reply_error(x->c, 400, "start (%lld) is after end (%lld)", start, end);
		return;
	}
	if (registry_get(x->api->reg, x->id, &info) < 0) {
		http_reply_error(x->c, 404, "Sandbox '%s' not found", x->id);
		return;
	}
	registry_info_release(&info);
	r = store_metric_list(x->api->store, x->id, start * 1000, end * 1000 + 999,
	                      METRICS_ANSWER_MAX, &v, &n);
	if (r < 0) {
		http_reply_error(x->c, 500, "Cannot read the metrics: %s", strerror(-r));
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, metric_json(&v[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	free(v);
	api_reply_json(x->c, 200, arr, NULL);
}

/* GET /sandboxes/metrics?sandbox_ids=a,b: the latest sample of each running sandbox asked. */
void api_sandboxes_metrics(struct api_route_ctx *x)
{
	const char *q = x->req->query ? x->req->query : "";
	json_t *map = NULL, *o = NULL;
	char *ids = NULL;
	size_t n_ids = 0;
	int r;

	r = api_query_get(q, "sandbox_ids", &ids);
	if (r <= 0 || !*ids) {
		http_reply_error(x->c, 400,
		                 "sandbox_ids (a comma-separated list of ids) is required");
		goto out;
	}
	map = json_object();
	o = json_pack("{s:O}", "sandboxes", map);
	if (!map || !o) {
		http_reply_error(x->c, 500, "out of memory");
		goto out;
	}
	for (char *save = NULL, *id = strtok_r(ids, ",", &save); id;
	     id = strtok_r(NULL, ",", &save)) {
		struct registry_info info;
		struct store_metric *v = NULL;
		size_t n = 0;

		if (++n_ids > METRICS_IDS_MAX) {
			http_reply_error(x->c, 400, "at most %d sandbox_ids", METRICS_IDS_MAX);
			goto out;
		}
		if (!api_sbx_id_valid(id) || registry_get(x->api->reg, id, &info) < 0)
			continue; /* unknown or gone: not in the answer */
		registry_info_release(&info);
		r = store_metric_list(x->api->store, id, 0, INT64_MAX, 1, &v, &n);
		if (r < 0) {
			http_reply_error(x->c, 500, "Cannot read the metrics: %s", strerror(-r));
			goto out;
		}
		if (n == 1)
			json_object_set_new(map, id, metric_json(&v[0]));
		free(v);
	}
	api_reply_json(x->c, 200, o, NULL);
	o = NULL;
out:
	json_decref(o);
	json_decref(map);
	free(ids);
}

/* One entry as SandboxLogEntry: {timestamp, level, message, fields: {logger}}. */
static json_t *entry_json(const struct logs_entry *e)
{
	char ts[32];
	json_t *msg, *logger;

	api_format_time(e->ts_ms, ts);
	/* The sandbox wrote these bytes: anything that is not valid UTF-8 becomes '?'. */
	msg = json_stringn(e->message, e->message_len);
	if (!msg) {
		char *clean = malloc(e->message_len + 1);
		if (!clean)
			return NULL;
		for (size_t i = 0; i < e->message_len; i++) {
			unsigned char ch = (unsigned char)e->message[i];
			clean[i] = ch >= 0x80 || ch == 0 ? '?' : (char)ch;
		}
		msg = json_stringn(clean, e->message_len);
		free(clean);
	}
	logger = json_stringn(e->logger, e->logger_len); /* [A-Za-z0-9._-] */
	return json_pack("{s:s, s:s, s:o, s:{s:o}}", "timestamp", ts, "level",
	                 logs_level_name(e->level), "message", msg, "fields", "logger", logger);
}

/* SandboxLog (v1): {timestamp, line}; line is a JSON object text with level (WIRE §2.4). */
static json_t *line_json(json_t *entry)
{
	json_t *line =
	    json_pack("{s:O, s:O, s:O}", "level", json_object_get(entry, "level"), "logger",
	              json_object_get(json_object_get(entry, "fields"), "logger"), "message",
	              json_object_get(entry, "message"));
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_t *o = text ? json_pack("{s:O, s:s}", "timestamp", json_object_get(entry, "timestamp"),
	                             "line", text)
	                 : NULL;

	free(text);
	json_decref(line);
	return o;
}

/* Parses the query of either version into q; -EINVAL with a message for the client. */
static int logs_query_parse(const char *qs, int version, struct logs_query *q, char **ret_search,
                            char *msg, size_t msg_size)
{
	long long cursor = -1, limit = LOGS_LIMIT_MAX;
	char *v = NULL;
	int r;

	*q = (struct logs_query){.cursor_ms = -1, .limit = LOGS_LIMIT_MAX, .min_level = LOG_DEBUG};
	if (query_uint(qs, version == 2 ? "cursor" : "start", INT64_MAX / 2, &cursor) < 0) {
		snprintf(msg, msg_size, "%s must be a unix time in milliseconds",
		         version == 2 ? "cursor" : "start");
		return -EINVAL;
	}
	/* v1 has no upper bound on limit in the spec; both are capped at LOGS_LIMIT_MAX. */
	if (query_uint(qs, "limit", version == 2 ? LOGS_LIMIT_MAX : INT32_MAX, &limit) < 0) {
		snprintf(msg, msg_size, "limit must be an integer from 0 to %d", LOGS_LIMIT_MAX);
		return -EINVAL;
	}
	q->cursor_ms = cursor;
	q->limit = limit > LOGS_LIMIT_MAX ? LOGS_LIMIT_MAX : (size_t)limit;
	if (version == 1)
		return 0;
	r = api_query_get(qs, "direction", &v);
	if (r == 1 && strcmp(v, "backward") == 0)
		q->backward = true;
	else if (r == 1 && strcmp(v, "forward") != 0)
		r = -EINVAL;
	free(v);
	v = NULL;
	if (r < 0) {
		snprintf(msg, msg_size, "direction must be forward or backward");
		return -EINVAL;
	}
	r = api_query_get(qs, "level", &v);
	if (r == 1 && logs_level_parse(v, &q->min_level) < 0)
		r = -EINVAL;
	free(v);
	if (r < 0) {
		snprintf(msg, msg_size, "level must be debug, info, warn or error");
		return -EINVAL;
	}
	r = api_query_get(qs, "search", ret_search);
	if (r < 0 || (r == 1 && strlen(*ret_search) > LOGS_SEARCH_MAX)) {
		snprintf(msg, msg_size, "search must be at most %d characters", LOGS_SEARCH_MAX);
		return -EINVAL;
	}
	q->search = *ret_search;
	return 0;
}

/* GET /sandboxes/{id}/logs (SandboxLogs) and /v2/sandboxes/{id}/logs (SandboxLogsV2Response). */
void api_sandbox_logs(struct api_route_ctx *x, int version)
{
	struct logs_set set = {0};
	struct logs_query q;
	struct registry_info info;
	json_t *entries = NULL, *lines = NULL, *o = NULL;
	char msg[128], *search = NULL;
	size_t *idx = NULL, n;
	int r;

	if (logs_query_parse(x->req->query ? x->req->query : "", version, &q, &search, msg,
	                     sizeof(msg)) < 0) {
		http_reply_error(x->c, 400, "%s", msg);
		goto out;
	}
	if (registry_get(x->api->reg, x->id, &info) < 0) {
		http_reply_error(x->c, 404, "Sandbox '%s' not found", x->id);
		goto out;
	}
	registry_info_release(&info);
	r = x->api->state_dir ? logs_read(x->api->state_dir, x->id, &set) : 0;
	if (r < 0) {
		http_reply_error(x->c, 500, "Cannot read the sandbox's logs: %s", strerror(-r));
		goto out;
	}
	idx = calloc(set.n + 1, sizeof(*idx));
	entries = json_array();
	lines = json_array();
	if (!idx || !entries || !lines)
		goto oom;
	n = logs_select(&set, &q, idx);
	for (size_t i = 0; i < n; i++) {
		json_t *e = entry_json(&set.v[idx[i]]);
		if (!e || (version == 1 && json_array_append_new(lines, line_json(e)) < 0) ||
		    json_array_append_new(entries, e) < 0)
			goto oom;
	}
	if (version == 2)
		o = json_pack("{s:O}", "logs", entries);
	else
		o = json_pack("{s:O, s:O}", "logs", lines, "logEntries", entries);
	if (!o)
		goto oom;
	api_reply_json(x->c, 200, o, NULL);
	goto out;
oom:
	http_reply_error(x->c, 500, "out of memory");
out:
	json_decref(entries);
	json_decref(lines);
	free(idx);
	free(search);
	logs_set_release(&set);
}

/* GET /metrics: Prometheus text format 0.0.4. */
void api_prometheus(struct api_route_ctx *x)
{
	struct prom_gauges g = {
	    .pool_target = x->api->pool_size,
	    .max_sandboxes = x->api->max_sandboxes,
	};
	struct registry_info *infos = NULL;
	struct buf b = BUF_INIT;
	int r;

	size_t n = 0;

	r = registry_list(x->api->reg, &infos, &n);
	if (r < 0) {
		http_reply_error(x->c, 500, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (infos[i].paused)
			g.paused++;
		else
			g.running++;
	}
	registry_info_free_array(infos, n);
	g.pool = x->api->pool ? pool_count(x->api->pool) : 0;
	r = x->api->prom ? prom_render(x->api->prom, &g, &b) : 0;
	if (r < 0) {
		buf_release(&b);
		http_reply_error(x->c, 500, "out of memory");
		return;
	}
	http_reply(x->c, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "",
	           b.len);
	buf_release(&b);
}
