/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_API_JSON_H
#define WARREND_API_JSON_H

/*
 * The pure parts of the control-plane API: validation of request bodies,
 * query-string and metadata-filter decoding, time formatting. No I/O, no
 * state. Functions returning int give 0 or -EINVAL (err filled with a message
 * naming the offending field, meant for a 400 answer) or -ENOMEM.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <warren/error.h>

#define API_TIMEOUT_DEFAULT 300
#define API_TIMEOUT_MAX 86400
#define API_TEMPLATE_ID_MAX 128
#define API_SBX_ID_MAX 32
#define API_META_MAX_KEYS 64
#define API_META_KEY_MAX 256
#define API_META_VALUE_MAX 4096
#define API_ENV_MAX_KEYS 512
#define API_ENV_VALUE_MAX 65536

/* A validated create request (POST /sandboxes and /v2/sandboxes). */
struct api_network;

struct api_create_req {
	char template_id[API_TEMPLATE_ID_MAX + 1];
	int timeout_s;
	bool allow_internet;
	bool auto_pause;     /* autoPause: pause instead of kill at the timeout */
	bool auto_resume;    /* autoResume.enabled: traffic to it while paused resumes it */
	unsigned disk_mb;    /* warren's extension diskSizeMB (MiB); 0: the template's size */
	char *metadata_json; /* compact JSON object of strings, owned */
	char *env_json;      /* compact JSON object of strings, owned */
	bool secure;         /* issue an envd access token (api_network.h for the rest) */
	struct api_network *network; /* "network", owned; NULL when absent */
};
void api_create_req_release(struct api_create_req *r);

/* Parses and validates a create body. Unknown fields are ignored; known ones are type-checked. */
int api_parse_create(const char *body, size_t len, struct api_create_req *ret,
                     struct warren_error *err);
/* Connect body: timeout required for v1, default 300 for v2. */
int api_parse_connect(const char *body, size_t len, bool v2, int *ret_timeout_s,
                      struct warren_error *err);
/* {"timeout": N} of POST /sandboxes/{id}/timeout, 0 <= N <= API_TIMEOUT_MAX. */
int api_parse_set_timeout(const char *body, size_t len, int *ret_timeout_s,
                          struct warren_error *err);

/* Finds the first query parameter name in a raw query string ("a=1&b=2") and decodes its
 * value. 1 found (*ret heap string), 0 absent, -EINVAL malformed, -ENOMEM. */
int api_query_get(const char *query, const char *name, char **ret);

/*
 * Decodes a metadata filter the way E2B's API does (WIRE §2.4): value is the
 * query parameter already URL-decoded once; it is unescaped again as a whole,
 * split on '&' into "key=value" pairs (exactly one '='), and each key and
 * value is unescaped. *ret is a JSON object of the pairs (caller decrefs).
 */
int api_metadata_filter_parse(const char *value, json_t **ret, struct warren_error *err);
/* Does every pair of filter occur in metadata (a JSON object of strings)? */
bool api_metadata_matches(const json_t *metadata, const json_t *filter);

/* "2026-01-02T03:04:05.678Z" from unix milliseconds. out must hold 32 bytes. */
void api_format_time(int64_t ms, char out[32]);

/*
 * The template name in a templateID, which may be "name", "name:tag" or
 * "namespace/name:tag" (WIRE §2.4): the namespace and tag are dropped, since
 * warren has one namespace and untagged templates. out holds API_TEMPLATE_ID_MAX + 1.
 */
void api_template_name(const char *template_id, char *out);

/* A sandbox id as warren makes them: 1..API_SBX_ID_MAX of [a-z0-9]. */
bool api_sbx_id_valid(const char *id);

#endif
