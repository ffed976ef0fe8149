/* SPDX-License-Identifier: Apache-2.0 */
#include "pjson.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "connect.h"

json_t *pj_field(json_t *obj, const char *camel, const char *snake)
{
	json_t *v;

	if (!json_is_object(obj))
		return NULL;
	v = json_object_get(obj, camel);
	if ((!v || json_is_null(v)) && snake)
		v = json_object_get(obj, snake);
	if (v && json_is_null(v))
		return NULL;
	return v;
}

static int bad_field(struct rpc_error *e, const char *name, const char *what)
{
	rpc_fail(e, "invalid_argument", "invalid value for field '%s': %s", name, what);
	return -EINVAL;
}

int pj_string(json_t *obj, const char *camel, const char *snake, const char **ret,
              struct rpc_error *e)
{
	json_t *v = pj_field(obj, camel, snake);

	if (!v)
		return 0;
	if (!json_is_string(v))
		return bad_field(e, camel, "expected a string");
	*ret = json_string_value(v);
	return 1;
}

int pj_bool(json_t *obj, const char *camel, const char *snake, bool *ret, struct rpc_error *e)
{
	json_t *v = pj_field(obj, camel, snake);

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return bad_field(e, camel, "expected a boolean");
	*ret = json_is_true(v);
	return 1;
}

static int parse_int_value(json_t *v, long long *ret)
{
	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		/* Range first: converting an out-of-range double is undefined. */
		if (!(d > -9.0e18 && d < 9.0e18) || d != (double)(long long)d)
			return -EINVAL;
		*ret = (long long)d;
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		if (!*s || strlen(s) > 20)
			return -EINVAL;
		errno = 0;
		*ret = strtoll(s, &end, 10);
		if (errno || *end)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

int pj_uint32(json_t *obj, const char *camel, const char *snake, uint32_t *ret, struct rpc_error *e)
{
	json_t *v = pj_field(obj, camel, snake);
	long long n;

	if (!v)
		return 0;
	if (parse_int_value(v, &n) < 0 || n < 0 || n > UINT32_MAX)
		return bad_field(e, camel, "expected a uint32");
	*ret = (uint32_t)n;
	return 1;
}

int pj_object(json_t *obj, const char *camel, const char *snake, json_t **ret, struct rpc_error *e)
{
	json_t *v = pj_field(obj, camel, snake);

	if (!v)
		return 0;
	if (!json_is_object(v))
		return bad_field(e, camel, "expected an object");
	*ret = v;
	return 1;
}

int pj_bytes(json_t *obj, const char *camel, const char *snake, struct buf *out,
             struct rpc_error *e)
{
	json_t *v = pj_field(obj, camel, snake);
	int r;

	if (!v)
		return 0;
	if (!json_is_string(v))
		return bad_field(e, camel, "expected base64 bytes");
	r = b64_decode_buf(out, json_string_value(v), json_string_length(v));
	if (r == -ENOMEM) {
		rpc_fail(e, "resource_exhausted", "out of memory");
		return r;
	}
	if (r < 0)
		return bad_field(e, camel, "invalid base64");
	return 1;
}

int pj_enum(json_t *obj, const char *camel, const char *snake, const char *const *names,
            size_t n_names, int *ret, struct rpc_error *e)
{
	json_t *v = pj_field(obj, camel, snake);
	long long n;

	if (!v)
		return 0;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		for (size_t i = 0; i < n_names; i++) {
			if (names[i] && strcmp(names[i], s) == 0) {
				*ret = (int)i;
				return 1;
			}
		}
	}
	if (json_is_integer(v)) {
		n = json_integer_value(v);
		if (n >= INT32_MIN && n <= INT32_MAX) {
			*ret = (int)n;
			return 1;
		}
	}
	return bad_field(e, camel, "unknown enum value");
}

/*
 * jansson parses recursively up to depth 2048, which could overflow a small
 * connection thread stack: reject deep nesting first (no message needs more
 * than a few levels).
 */
static bool nesting_ok(const char *json, size_t len, int max_depth)
{
	bool in_string = false, escaped = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = json[i];
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
			in_string = true;
		else if ((c == '{' || c == '[') && ++depth > max_depth)
			return false;
		else if (c == '}' || c == ']')
			depth--;
	}
	return true;
}

int pj_parse_message(const char *json, size_t len, json_t **ret, struct rpc_error *e)
{
	json_error_t jerr;
	json_t *v;

	/* An empty body is the empty message. */
	if (len == 0) {
		*ret = json_object();
		return *ret ? 0 : -ENOMEM;
	}
	if (!nesting_ok(json, len, 32)) {
		rpc_fail(e, "invalid_argument", "invalid JSON: nested too deeply");
		return -EINVAL;
	}
	v = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		rpc_fail(e, "invalid_argument", "invalid JSON: %s", jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		rpc_fail(e, "invalid_argument", "request message must be a JSON object");
		return -EINVAL;
	}
	*ret = v;
	return 0;
}
