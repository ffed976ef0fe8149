/* SPDX-License-Identifier: Apache-2.0 */
#include "api_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_network.h"
#include "common/error.h"
#include "common/urlquery.h"
#include "runtime/disk.h"

void api_create_req_release(struct api_create_req *r)
{
	if (!r)
		return;
	free(r->metadata_json);
	free(r->env_json);
	free(r->network);
	r->metadata_json = NULL;
	r->env_json = NULL;
	r->network = NULL;
}

static json_t *parse_object(const char *body, size_t len, struct warren_error *err)
{
	json_error_t jerr;
	json_t *root;

	if (len == 0) {
		err_set(err, EINVAL, "request body is empty, expected a JSON object");
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		err_set(err, EINVAL, "malformed JSON body: %s (line %d, column %d)", jerr.text,
		        jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		err_set(err, EINVAL, "request body must be a JSON object");
		return NULL;
	}
	return root;
}

/* An optional field: NULL when absent or null. */
static json_t *field(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	return json_is_null(v) ? NULL : v;
}

static int get_timeout(json_t *obj, const char *name, bool required, int def, int min, int *ret,
                       struct warren_error *err)
{
	json_t *v = field(obj, name);
	json_int_t t;

	if (!v) {
		if (required)
			return err_set(err, EINVAL, "missing required field '%s'", name);
		*ret = def;
		return 0;
	}
	if (!json_is_integer(v))
		return err_set(err, EINVAL, "field '%s' must be an integer (seconds)", name);
	t = json_integer_value(v);
	if (t < min || t > API_TIMEOUT_MAX)
		return err_set(err, EINVAL, "field '%s' must be between %d and %d seconds", name,
		               min, API_TIMEOUT_MAX);
	*ret = (int)t;
	return 0;
}

static int check_bool(json_t *obj, const char *name, struct warren_error *err)
{
	json_t *v = field(obj, name);
	if (v && !json_is_boolean(v))
		return err_set(err, EINVAL, "field '%s' must be a boolean", name);
	return 0;
}

static int check_type(json_t *obj, const char *name, json_type type, const char *what,
                      struct warren_error *err)
{
	json_t *v = field(obj, name);
	if (v && json_typeof(v) != type)
		return err_set(err, EINVAL, "field '%s' must be %s", name, what);
	return 0;
}

static bool env_name_valid(const char *k)
{
	if (!*k)
		return false;
	for (const char *p = k; *p; p++)
		if (*p == '=')
			return false;
	return true;
}

/* An object of strings with bounded sizes; env additionally needs names without '='. */
static int get_string_map(json_t *obj, const char *name, bool env, char **ret,
                          struct warren_error *err)
{
	size_t max_keys = env ? API_ENV_MAX_KEYS : API_META_MAX_KEYS;
	size_t max_val = env ? API_ENV_VALUE_MAX : API_META_VALUE_MAX;
	json_t *v = field(obj, name), *x;
	const char *k;

	if (!v) {
		*ret = strdup("{}");
		return *ret ? 0 : -ENOMEM;
	}
	if (!json_is_object(v))
		return err_set(err, EINVAL, "field '%s' must be an object of strings", name);
	if (json_object_size(v) > max_keys)
		return err_set(err, EINVAL, "field '%s' has more than %zu entries", name, max_keys);
	json_object_foreach(v, k, x)
	{
		if (!json_is_string(x))
			return err_set(err, EINVAL, "field '%s.%s' must be a string", name, k);
		if (strlen(k) > API_META_KEY_MAX || json_string_length(x) > max_val)
			return err_set(err, EINVAL, "field '%s.%s' is too long", name, k);
		/* jansson accepts "\u0000"; such strings cannot reach C APIs intact. */
		if (strlen(json_string_value(x)) != json_string_length(x))
			return err_set(err, EINVAL, "field '%s.%s' contains a NUL byte", name, k);
		if (env && !env_name_valid(k))
			return err_set(err, EINVAL, "invalid environment variable name '%s'", k);
	}
	*ret = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	return *ret ? 0 : -ENOMEM;
}

int api_parse_create(const char *body, size_t len, struct api_create_req *ret,
                     struct warren_error *err)
{
	struct api_create_req req = {0};
	json_t *root = parse_object(body, len, err), *v;
	int r;

	if (!root)
		return -EINVAL;
	v = field(root, "templateID");
	if (!v) {
		r = err_set(err, EINVAL, "missing required field 'templateID'");
		goto out;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > API_TEMPLATE_ID_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		r = err_set(err, EINVAL,
		            "field 'templateID' must be a non-empty string of at most %d bytes",
		            API_TEMPLATE_ID_MAX);
		goto out;
	}
	api_template_name(json_string_value(v), req.template_id);
	if (!req.template_id[0]) {
		r = err_set(err, EINVAL, "field 'templateID' names no template");
		goto out;
	}

	r = get_timeout(root, "timeout", false, API_TIMEOUT_DEFAULT, 1, &req.timeout_s, err);
	if (r < 0)
		goto out;
	req.allow_internet = true;
	r = check_bool(root, "allow_internet_access", err);
	if (r < 0)
		goto out;
	v = field(root, "allow_internet_access");
	if (v)
		req.allow_internet = json_is_true(v);
	if ((r = check_bool(root, "autoPause", err)) < 0 ||
	    (r = check_bool(root, "autoPauseMemory", err)) < 0 ||
	    (r = check_bool(root, "secure", err)) < 0 ||
	    (r = check_type(root, "autoResume", JSON_OBJECT, "an object", err)) < 0 ||
	    (r = check_type(root, "mcp", JSON_OBJECT, "an object or null", err)) < 0 ||
	    (r = check_type(root, "volumeMounts", JSON_ARRAY, "an array", err)) < 0 ||
	    (r = check_type(root, "iam", JSON_OBJECT, "an object", err)) < 0)
		goto out;
	req.auto_pause = json_is_true(field(root, "autoPause"));
	v = field(root, "autoResume");
	if (v) {
		json_t *en = json_object_get(v, "enabled");
		if (en && !json_is_null(en) && !json_is_boolean(en)) {
			r = err_set(err, EINVAL, "field 'autoResume.enabled' must be a boolean");
			goto out;
		}
		req.auto_resume = json_is_true(en);
	}
	/* A warren extension (the SDK never sends it): a sandbox with a smaller disk. */
	v = field(root, "diskSizeMB");
	if (v) {
		json_int_t mb = json_is_integer(v) ? json_integer_value(v) : 0;
		if (mb < DISK_MB_MIN || mb > DISK_MB_MAX) {
			r = err_set(err, EINVAL,
			            "field 'diskSizeMB' must be an integer from %u to %u",
			            DISK_MB_MIN, DISK_MB_MAX);
			goto out;
		}
		req.disk_mb = (unsigned)mb;
	}
	req.secure = json_is_true(field(root, "secure"));
	v = field(root, "network");
	if (v) {
		req.network = malloc(sizeof(*req.network));
		if (!req.network) {
			r = -ENOMEM;
			goto out;
		}
		r = api_network_parse(v, false, req.network, err);
		if (r < 0)
			goto out;
	}
	r = get_string_map(root, "metadata", false, &req.metadata_json, err);
	if (r < 0)
		goto out;
	r = get_string_map(root, "envVars", true, &req.env_json, err);
	if (r < 0)
		goto out;
	*ret = req;
	memset(&req, 0, sizeof(req));
out:
	if (r == -ENOMEM)
		err_set(err, ENOMEM, "out of memory");
	api_create_req_release(&req);
	json_decref(root);
	return r;
}

int api_parse_connect(const char *body, size_t len, bool v2, int *ret_timeout_s,
                      struct warren_error *err)
{
	json_t *root;
	int r;

	/* v2 connect may come without any body; that means all defaults. */
	if (v2 && len == 0) {
		*ret_timeout_s = API_TIMEOUT_DEFAULT;
		return 0;
	}
	root = parse_object(body, len, err);
	if (!root)
		return -EINVAL;
	r = get_timeout(root, "timeout", !v2, API_TIMEOUT_DEFAULT, 0, ret_timeout_s, err);
	if (r == 0)
		r = check_bool(root, "memory", err);
	json_decref(root);
	return r;
}

int api_parse_set_timeout(const char *body, size_t len, int *ret_timeout_s,
                          struct warren_error *err)
{
	json_t *root = parse_object(body, len, err);
	int r;

	if (!root)
		return -EINVAL;
	r = get_timeout(root, "timeout", true, 0, 0, ret_timeout_s, err);
	json_decref(root);
	return r;
}

int api_query_get(const char *query, const char *name, char **ret)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t plen = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;

		/* Parameter names we look for never need decoding. */
		if (klen == nlen && memcmp(p, name, nlen) == 0) {
			int r = eq ? urlq_decode(eq + 1, plen - klen - 1, true, ret)
			           : urlq_decode("", 0, true, ret);
			return r < 0 ? r : 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

int api_metadata_filter_parse(const char *value, json_t **ret, struct warren_error *err)
{
	char *whole = NULL;
	json_t *obj;
	const char *p;
	int r;

	r = urlq_decode(value, strlen(value), true, &whole);
	if (r < 0)
		return r == -ENOMEM ? r : err_set(err, EINVAL, "malformed metadata filter");
	obj = json_object();
	if (!obj) {
		free(whole);
		return -ENOMEM;
	}
	for (p = whole; *p;) {
		const char *end = strchr(p, '&');
		size_t plen = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', plen);
		char *k = NULL, *v = NULL;

		if (plen == 0) {
			p = end ? end + 1 : p + plen;
			continue;
		}
		if (!eq || memchr(eq + 1, '=', plen - (size_t)(eq - p) - 1)) {
			r = err_set(err, EINVAL, "metadata filter must be key=value pairs");
			goto fail;
		}
		if (urlq_decode(p, (size_t)(eq - p), true, &k) < 0 ||
		    urlq_decode(eq + 1, plen - (size_t)(eq - p) - 1, true, &v) < 0) {
			free(k);
			r = err_set(err, EINVAL, "malformed metadata filter");
			goto fail;
		}
		r = json_object_set_new(obj, k, json_string(v));
		free(k);
		free(v);
		if (r < 0) {
			r = err_set(err, EINVAL, "malformed metadata filter");
			goto fail;
		}
		p = end ? end + 1 : p + plen;
	}
	free(whole);
	*ret = obj;
	return 0;
fail:
	free(whole);
	json_decref(obj);
	return r;
}

bool api_metadata_matches(const json_t *metadata, const json_t *filter)
{
	const char *k;
	json_t *want;

	json_object_foreach((json_t *)filter, k, want)
	{
		json_t *have = json_object_get(metadata, k);
		if (!json_is_string(have) || !json_equal(have, want))
			return false;
	}
	return true;
}

void api_format_time(int64_t ms, char out[32])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	char base[24];
	int frac = (int)(ms % 1000);

	if (frac < 0)
		frac = 0;
	if (!gmtime_r(&secs, &tm) || !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(base, sizeof(base), "1970-01-01T00:00:00");
	snprintf(out, 32, "%s.%03dZ", base, frac);
}

void api_template_name(const char *template_id, char *out)
{
	const char *slash = strrchr(template_id, '/');
	const char *name = slash ? slash + 1 : template_id;
	size_t len = strcspn(name, ":");

	if (len > API_TEMPLATE_ID_MAX)
		len = API_TEMPLATE_ID_MAX;
	memcpy(out, name, len);
	out[len] = '\0';
}

bool api_sbx_id_valid(const char *id)
{
	size_t n = 0;

	for (const char *p = id; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return false;
	return n >= 1 && n <= API_SBX_ID_MAX;
}
