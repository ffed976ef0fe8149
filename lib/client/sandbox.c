/* SPDX-License-Identifier: Apache-2.0 */
/* libwarren: the sandbox calls of the REST control plane. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"

static void freep(void *p)
{
	free(*(void **)p);
}

static void slist_freep(struct curl_slist **l)
{
	curl_slist_free_all(*l);
}

/* json_decrefp() is jansson's own (2.11+). */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))
#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_slist_ __attribute__((cleanup(slist_freep)))

void warren_sandbox_free(struct warren_sandbox *s)
{
	if (!s)
		return;
	free(s->sandbox_id);
	free(s->template_id);
	free(s->alias);
	free(s->client_id);
	free(s->envd_version);
	free(s->envd_access_token);
	free(s->domain);
	free(s->state);
	for (size_t i = 0; i < s->n_metadata; i++) {
		free((char *)s->metadata[i].key);
		free((char *)s->metadata[i].value);
	}
	free(s->metadata);
	free(s);
}

void warren_sandbox_list_free(struct warren_sandbox **list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		warren_sandbox_free(list[i]);
	free(list);
}

const char *warren_sandbox_metadata(const struct warren_sandbox *s, const char *key)
{
	for (size_t i = 0; i < s->n_metadata; i++)
		if (strcmp(s->metadata[i].key, key) == 0)
			return s->metadata[i].value;
	return NULL;
}

/* RFC 3339 ("2026-11-22T00:39:11.123Z", "...+02:00") to unix seconds; 0 when malformed. */
static int64_t parse_time(const char *s)
{
	struct tm tm = {0};
	int64_t t;
	const char *p;
	int sign, oh, om;

	if (!s)
		return 0;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	t = (int64_t)timegm(&tm);
	if (*p == 'Z' || *p == 'z' || *p == '\0')
		return t;
	if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2) {
		sign = *p == '+' ? 1 : -1;
		return t - sign * (int64_t)(oh * 3600 + om * 60);
	}
	return 0;
}

static int take_string(json_t *obj, const char *key, char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = wl_strdup0(json_is_string(v) ? json_string_value(v) : "");
	return *out ? 0 : -ENOMEM;
}

static int take_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	json_int_t i = json_is_integer(v) ? json_integer_value(v) : 0;

	return i < 0 || i > 1 << 30 ? 0 : (int)i;
}

/* Builds a sandbox from a Sandbox / ListedSandbox / SandboxDetail object. */
static int sandbox_from_json(json_t *obj, struct warren_sandbox **ret)
{
	struct warren_sandbox *s;
	json_t *meta, *v;
	const char *k;
	int rc = 0;

	if (!json_is_object(obj))
		return -EBADMSG;
	v = json_object_get(obj, "sandboxID");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return -EBADMSG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc |= take_string(obj, "sandboxID", &s->sandbox_id);
	rc |= take_string(obj, "templateID", &s->template_id);
	rc |= take_string(obj, "alias", &s->alias);
	rc |= take_string(obj, "clientID", &s->client_id);
	rc |= take_string(obj, "envdVersion", &s->envd_version);
	rc |= take_string(obj, "envdAccessToken", &s->envd_access_token);
	rc |= take_string(obj, "domain", &s->domain);
	rc |= take_string(obj, "state", &s->state);
	s->started_at = parse_time(json_string_value(json_object_get(obj, "startedAt")));
	s->end_at = parse_time(json_string_value(json_object_get(obj, "endAt")));
	s->cpu_count = take_int(obj, "cpuCount");
	s->memory_mb = take_int(obj, "memoryMB");
	s->disk_size_mb = take_int(obj, "diskSizeMB");
	meta = json_object_get(obj, "metadata");
	if (json_is_object(meta) && json_object_size(meta) > 0) {
		s->metadata = calloc(json_object_size(meta), sizeof(*s->metadata));
		if (!s->metadata)
			rc = -ENOMEM;
		json_object_foreach(meta, k, v)
		{
			if (rc || !json_is_string(v))
				continue;
			s->metadata[s->n_metadata].key = strdup(k);
			s->metadata[s->n_metadata].value = strdup(json_string_value(v));
			s->n_metadata++;
			if (!s->metadata[s->n_metadata - 1].key ||
			    !s->metadata[s->n_metadata - 1].value)
				rc = -ENOMEM;
		}
	}
	if (rc) {
		warren_sandbox_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

/* Sends a control-plane request; on 2xx leaves the body in r, else fills err. */
static int rest(struct warren_client *c, const char *method, const char *path, json_t *body,
                struct wl_response *r, struct warren_error *err, const char *what)
{
	_cleanup_slist_ struct curl_slist *h = NULL;
	_cleanup_free_ char *url = NULL;
	_cleanup_free_ char *text = NULL;
	int rc;

	if (asprintf(&url, "%s%s", c->api_url, path) < 0) {
		url = NULL;
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return wl_errno(err, ENOMEM, "%s: out of memory", what);
	}
	if (wl_header(&h, "X-API-KEY: %s", c->api_key) < 0 ||
	    wl_header(&h, "Content-Type: application/json") < 0 || wl_header(&h, "Expect:") < 0 ||
	    wl_header(&h, "Accept: application/json") < 0)
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	rc = wl_request(NULL, c, method, url, h, text, r, err);
	if (rc < 0)
		return rc;
	if (r->status < 200 || r->status > 299) {
		rc = wl_response_error(r, err, what);
		wl_response_release(r);
		return rc;
	}
	return 0;
}

/* Parses a 2xx body that must hold one sandbox object. */
static int sandbox_response(struct wl_response *r, struct warren_sandbox **ret,
                            struct warren_error *err, const char *what)
{
	_cleanup_json_ json_t *root =
	    json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
	int rc = sandbox_from_json(root, ret);

	if (rc == -ENOMEM)
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	if (rc < 0)
		return wl_errno(err, EBADMSG, "%s: malformed response from the server", what);
	return 0;
}

static int valid_id(const char *id, struct warren_error *err)
{
	if (!id || !*id || strlen(id) > 256)
		return wl_errno(err, EINVAL, "invalid sandbox id");
	return 0;
}

static int kv_object(json_t *parent, const char *name, const struct warren_kv *kv, size_t n)
{
	json_t *o;

	if (n == 0)
		return 0;
	o = json_object();
	if (!o || json_object_set_new(parent, name, o) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!kv[i].key || !kv[i].value)
			return -EINVAL;
		if (json_object_set_new(o, kv[i].key, json_string(kv[i].value)) < 0)
			return -EINVAL; /* not UTF-8, or out of memory */
	}
	return 0;
}

int warren_sandbox_get_info(struct warren_client *c, const char *sandbox_id,
                            struct warren_sandbox **ret, struct warren_error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *esc = NULL;
	char what[320];
	struct wl_response r;
	int rc;

	if ((rc = valid_id(sandbox_id, err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "getting sandbox '%s'", sandbox_id);
	esc = wl_escape(sandbox_id);
	if (!esc || asprintf(&path, "/sandboxes/%s", esc) < 0)
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	rc = rest(c, "GET", path, NULL, &r, err, what);
	if (rc < 0)
		return rc;
	rc = sandbox_response(&r, ret, err, what);
	wl_response_release(&r);
	return rc;
}

int warren_sandbox_create(struct warren_client *c, const struct warren_create_opts *opts,
                          struct warren_sandbox **ret, struct warren_error *err)
{
	struct warren_create_opts none = {.allow_internet_access = -1};
	_cleanup_json_ json_t *body = json_object();
	struct warren_sandbox *s = NULL, *info = NULL;
	const char *what = "creating a sandbox";
	struct wl_response r;
	int rc;

	if (!opts)
		opts = &none;
	if (!body)
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	if (json_object_set_new(body, "templateID",
	                        json_string(opts->template_id ? opts->template_id : "base")) < 0)
		return wl_errno(err, EINVAL, "%s: invalid template id", what);
	if (opts->timeout_s)
		json_object_set_new(body, "timeout", json_integer(opts->timeout_s));
	if (opts->allow_internet_access >= 0)
		json_object_set_new(body, "allow_internet_access",
		                    json_boolean(opts->allow_internet_access));
	if (kv_object(body, "metadata", opts->metadata, opts->n_metadata) < 0 ||
	    kv_object(body, "envVars", opts->envs, opts->n_envs) < 0)
		return wl_errno(err, EINVAL, "%s: invalid metadata or env (NULL or not UTF-8)",
		                what);
	rc = rest(c, "POST", "/v2/sandboxes", body, &r, err, what);
	if (rc < 0)
		return rc;
	rc = sandbox_response(&r, &s, err, what);
	wl_response_release(&r);
	if (rc < 0)
		return rc;
	/*
	 * The create response has no times or resources; the detail has them. Its
	 * failure does not undo a created sandbox: those fields then stay 0.
	 */
	if (warren_sandbox_get_info(c, s->sandbox_id, &info, NULL) == 0) {
		s->started_at = info->started_at;
		s->end_at = info->end_at;
		s->cpu_count = info->cpu_count;
		s->memory_mb = info->memory_mb;
		s->disk_size_mb = info->disk_size_mb;
		if (!*s->state) {
			free(s->state);
			s->state = info->state;
			info->state = NULL;
		}
		if (!s->n_metadata) {
			free(s->metadata);
			s->metadata = info->metadata;
			s->n_metadata = info->n_metadata;
			info->metadata = NULL;
			info->n_metadata = 0;
		}
		warren_sandbox_free(info);
	}
	*ret = s;
	return 0;
}

int warren_sandbox_connect(struct warren_client *c, const char *sandbox_id, unsigned timeout_s,
                           struct warren_sandbox **ret, struct warren_error *err)
{
	_cleanup_json_ json_t *body = json_object();
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *esc = NULL;
	char what[320];
	struct wl_response r;
	int rc;

	if ((rc = valid_id(sandbox_id, err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "connecting to sandbox '%s'", sandbox_id);
	esc = wl_escape(sandbox_id);
	if (!body || !esc || asprintf(&path, "/v2/sandboxes/%s/connect", esc) < 0)
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	if (timeout_s)
		json_object_set_new(body, "timeout", json_integer(timeout_s));
	rc = rest(c, "POST", path, body, &r, err, what);
	if (rc < 0)
		return rc;
	rc = sandbox_response(&r, ret, err, what);
	wl_response_release(&r);
	return rc;
}

int warren_sandbox_kill(struct warren_client *c, const char *sandbox_id, struct warren_error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *esc = NULL;
	struct warren_error e = {0};
	char what[320];
	struct wl_response r;
	int rc;

	if ((rc = valid_id(sandbox_id, err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "killing sandbox '%s'", sandbox_id);
	esc = wl_escape(sandbox_id);
	if (!esc || asprintf(&path, "/sandboxes/%s", esc) < 0)
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	rc = rest(c, "DELETE", path, NULL, &r, &e, what);
	if (rc == -ENOENT && e.code == 404)
		return 0;
	if (rc < 0) {
		if (err)
			*err = e;
		return rc;
	}
	wl_response_release(&r);
	return 1;
}

int warren_sandbox_set_timeout(struct warren_client *c, const char *sandbox_id, unsigned timeout_s,
                               struct warren_error *err)
{
	_cleanup_json_ json_t *body = json_object();
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *esc = NULL;
	char what[320];
	struct wl_response r;
	int rc;

	if ((rc = valid_id(sandbox_id, err)) < 0)
		return rc;
	snprintf(what, sizeof(what), "setting the timeout of sandbox '%s'", sandbox_id);
	esc = wl_escape(sandbox_id);
	if (!body || !esc || asprintf(&path, "/sandboxes/%s/timeout", esc) < 0 ||
	    json_object_set_new(body, "timeout", json_integer(timeout_s)) < 0)
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	rc = rest(c, "POST", path, body, &r, err, what);
	if (rc < 0)
		return rc;
	wl_response_release(&r);
	return 0;
}

/*
 * The metadata filter in E2B's encoding: "k=v&k2=v2" with each key and value
 * percent-encoded, then the whole string percent-encoded once more (the server
 * unescapes it twice after the query decoding), then escaped for the query.
 */
static char *metadata_query(const struct warren_kv *kv, size_t n)
{
	struct wl_buf inner = {0};
	char *once = NULL, *twice = NULL;

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *k = kv[i].key ? wl_escape(kv[i].key) : NULL;
		_cleanup_free_ char *v = kv[i].value ? wl_escape(kv[i].value) : NULL;

		if (!k || !v || (i && wl_buf_append(&inner, "&", 1) < 0) ||
		    wl_buf_append(&inner, k, strlen(k)) < 0 || wl_buf_append(&inner, "=", 1) < 0 ||
		    wl_buf_append(&inner, v, strlen(v)) < 0) {
			wl_buf_release(&inner);
			return NULL;
		}
	}
	if (inner.data)
		once = wl_escape(inner.data);
	wl_buf_release(&inner);
	if (once)
		twice = wl_escape(once);
	free(once);
	return twice;
}

int warren_sandbox_list(struct warren_client *c, const struct warren_list_opts *opts,
                        struct warren_sandbox ***ret, size_t *ret_n, struct warren_error *err)
{
	struct warren_list_opts none = {0};
	const char *what = "listing sandboxes";
	_cleanup_free_ char *meta = NULL;
	_cleanup_free_ char *token = NULL;
	struct warren_sandbox **list = NULL;
	size_t n = 0, max;
	unsigned limit;
	int rc = 0;

	if (!opts)
		opts = &none;
	max =
	    opts->max_results && opts->max_results < WL_LIST_MAX ? opts->max_results : WL_LIST_MAX;
	limit = opts->limit && opts->limit <= 100 ? opts->limit : 100;
	if (opts->n_metadata) {
		meta = metadata_query(opts->metadata, opts->n_metadata);
		if (!meta)
			return wl_errno(err, EINVAL, "%s: invalid metadata filter", what);
	}
	for (int page = 0;; page++) {
		_cleanup_free_ char *path = NULL;
		_cleanup_free_ char *tok = NULL;
		_cleanup_json_ json_t *root = NULL;
		const char *states =
		    (opts->states & (WARREN_STATE_RUNNING | WARREN_STATE_PAUSED)) ==
		            WARREN_STATE_RUNNING
		        ? "running"
		    : (opts->states & (WARREN_STATE_RUNNING | WARREN_STATE_PAUSED)) ==
		            WARREN_STATE_PAUSED
		        ? "paused"
		        : "running%2Cpaused";
		struct wl_response r;
		size_t i;
		json_t *item;

		if (token && !(tok = wl_escape(token))) {
			rc = wl_errno(err, ENOMEM, "%s: out of memory", what);
			break;
		}
		if (asprintf(&path, "/v2/sandboxes?state=%s&limit=%u%s%s%s%s", states, limit,
		             meta ? "&metadata=" : "", meta ? meta : "", tok ? "&nextToken=" : "",
		             tok ? tok : "") < 0) {
			path = NULL;
			rc = wl_errno(err, ENOMEM, "%s: out of memory", what);
			break;
		}
		rc = rest(c, "GET", path, NULL, &r, err, what);
		if (rc < 0)
			break;
		root = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
		free(token);
		token = r.next_token;
		r.next_token = NULL;
		wl_response_release(&r);
		if (!json_is_array(root)) {
			rc = wl_errno(err, EBADMSG, "%s: malformed response from the server", what);
			break;
		}
		json_array_foreach(root, i, item)
		{
			struct warren_sandbox *s, **grown;

			if (n >= max) {
				rc = wl_errno(err, E2BIG, "%s: more than %zu sandboxes", what, max);
				break;
			}
			rc = sandbox_from_json(item, &s);
			if (rc < 0) {
				rc = wl_errno(err, rc == -ENOMEM ? ENOMEM : EBADMSG,
				              "%s: malformed response from the server", what);
				break;
			}
			grown = realloc(list, (n + 1) * sizeof(*list));
			if (!grown) {
				warren_sandbox_free(s);
				rc = wl_errno(err, ENOMEM, "%s: out of memory", what);
				break;
			}
			list = grown;
			list[n++] = s;
		}
		if (rc < 0)
			break;
		/* A server that repeats pages forever is cut off by the bound on results. */
		if (!token || json_array_size(root) == 0)
			break;
	}
	if (rc < 0) {
		warren_sandbox_list_free(list, n);
		return rc;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}
