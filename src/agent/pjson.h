/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_PJSON_H
#define WARREN_AGENT_PJSON_H

/*
 * Proto3-JSON field readers over jansson objects (WIRE.md §3.3): a field is
 * looked up by its lowerCamelCase name and then its proto name; JSON null
 * counts as absent. Each reader returns 1 when the field is present and valid
 * (value stored), 0 when absent (out-parameter untouched), or -EINVAL when it
 * has the wrong type or range (then e, if not NULL, says which field).
 * Returned strings and objects are borrowed from obj.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct buf;
struct rpc_error;

json_t *pj_field(json_t *obj, const char *camel, const char *snake);

int pj_string(json_t *obj, const char *camel, const char *snake, const char **ret,
              struct rpc_error *e);
int pj_bool(json_t *obj, const char *camel, const char *snake, bool *ret, struct rpc_error *e);
/* uint32: a JSON integer or a decimal string. */
int pj_uint32(json_t *obj, const char *camel, const char *snake, uint32_t *ret,
              struct rpc_error *e);
/* An object field (message or map). */
int pj_object(json_t *obj, const char *camel, const char *snake, json_t **ret, struct rpc_error *e);
/* A bytes field: base64 (std or url-safe, padded or not) decoded and appended to out. */
int pj_bytes(json_t *obj, const char *camel, const char *snake, struct buf *out,
             struct rpc_error *e);
/* An enum: its name from names[] (index = number) or an integer; *ret is the number. */
int pj_enum(json_t *obj, const char *camel, const char *snake, const char *const *names,
            size_t n_names, int *ret, struct rpc_error *e);

/*
 * Parses a request message: it must be a JSON object. 0 and a new reference,
 * or -EINVAL (invalid_argument in e).
 */
int pj_parse_message(const char *json, size_t len, json_t **ret, struct rpc_error *e);

#endif
