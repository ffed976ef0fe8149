/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_STATE_H
#define WARREN_AGENT_STATE_H

/*
 * The agent's mutable settings: default env vars, access token, default user
 * and workdir, set at start from WARREN_* and later by POST /init. All access
 * goes through these functions, which lock internally; getters copy out.
 */

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "users.h"

struct agent_state {
	pthread_mutex_t lock;
	json_t *env_vars;   /* object of string values: create-time env vars */
	char *access_token; /* NULL: no token required */
	char *default_user;
	char *default_workdir; /* NULL: the user's home */
	char *sandbox_id;
	char *template_id;
	struct users_db users; /* its paths are heap strings owned by the state */
};

/* Initialises with defaults (user "user", no token, no env vars). 0 or -ENOMEM. */
int agent_state_init(struct agent_state *st);
void agent_state_release(struct agent_state *st);

/*
 * Merges a JSON object of string values into the env vars (non-string values
 * and invalid names are rejected with -EINVAL before anything changes).
 */
int agent_state_merge_env(struct agent_state *st, json_t *vars);
/* Replaces a string setting; value NULL or "" clears it. 0 or -ENOMEM. */
int agent_state_set(struct agent_state *st, char **field, const char *value);

/* True when the request may proceed: no token set, or token equals the given one. */
bool agent_state_token_ok(struct agent_state *st, const char *token);

/* A copy of the token in *ret (caller frees): 1, 0 when none is set (*ret NULL), or -ENOMEM. */
int agent_state_token_copy(struct agent_state *st, char **ret);

/*
 * Appends the default environment to out as "K=V" strings in order:
 * env vars, E2B_SANDBOX=true, E2B_SANDBOX_ID, E2B_TEMPLATE_ID.
 * Returns a new JSON object of them (caller decrefs) or NULL on ENOMEM.
 */
json_t *agent_state_default_env(struct agent_state *st);

/* Copies the default user / workdir into out (n bytes); "" when unset. */
void agent_state_default_user(struct agent_state *st, char *out, size_t n);
void agent_state_default_workdir(struct agent_state *st, char *out, size_t n);

struct http_request;
struct rpc_error;
/*
 * The user a request acts as: the name in its "Authorization: Basic" header,
 * else the default user ("user" when that is empty). 0, or -1 with e filled: unauthenticated for a
 * malformed header or an unknown user, internal when the database is unreadable.
 */
int agent_state_request_user(struct agent_state *st, const struct http_request *req,
                             struct user_info *ret, struct rpc_error *e);

/* An env var name is valid when non-empty and without '=' or NUL. */
bool agent_env_name_ok(const char *name);

#endif
