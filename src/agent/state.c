/* SPDX-License-Identifier: Apache-2.0 */
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/http.h"
#include "common/util.h"
#include "connect.h"
#include "fsuser.h"

int agent_state_init(struct agent_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	st->env_vars = json_object();
	st->default_user = strdup("user");
	if (!st->env_vars || !st->default_user)
		return -ENOMEM;
	return 0;
}

void agent_state_release(struct agent_state *st)
{
	json_decref(st->env_vars);
	free(st->access_token);
	free(st->default_user);
	free(st->default_workdir);
	free(st->sandbox_id);
	free(st->template_id);
	free((char *)st->users.passwd_path);
	free((char *)st->users.group_path);
	pthread_mutex_destroy(&st->lock);
}

bool agent_env_name_ok(const char *name)
{
	return name && *name && !strchr(name, '=');
}

int agent_state_merge_env(struct agent_state *st, json_t *vars)
{
	const char *k;
	json_t *v;
	int r = 0;

	if (!json_is_object(vars))
		return -EINVAL;
	json_object_foreach(vars, k, v)
	{
		if (!agent_env_name_ok(k) || !json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return -EINVAL;
	}
	pthread_mutex_lock(&st->lock);
	json_object_foreach(vars, k, v)
	{
		if (json_object_set(st->env_vars, k, v) < 0)
			r = -ENOMEM;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

int agent_state_set(struct agent_state *st, char **field, const char *value)
{
	char *copy = NULL;

	if (value && *value) {
		copy = strdup(value);
		if (!copy)
			return -ENOMEM;
	}
	pthread_mutex_lock(&st->lock);
	free(*field);
	*field = copy;
	pthread_mutex_unlock(&st->lock);
	return 0;
}

bool agent_state_token_ok(struct agent_state *st, const char *token)
{
	bool ok;

	pthread_mutex_lock(&st->lock);
	ok = !st->access_token || (token && streq_ct(st->access_token, token));
	pthread_mutex_unlock(&st->lock);
	return ok;
}

int agent_state_token_copy(struct agent_state *st, char **ret)
{
	int r = 0;

	*ret = NULL;
	pthread_mutex_lock(&st->lock);
	if (st->access_token) {
		*ret = strdup(st->access_token);
		r = *ret ? 1 : -ENOMEM;
	}
	pthread_mutex_unlock(&st->lock);
	return r;
}

json_t *agent_state_default_env(struct agent_state *st)
{
	json_t *env;
	int r = 0;

	pthread_mutex_lock(&st->lock);
	env = json_deep_copy(st->env_vars);
	if (env) {
		r |= json_object_set_new(env, "E2B_SANDBOX", json_string("true"));
		r |= json_object_set_new(env, "E2B_SANDBOX_ID",
		                         json_string(st->sandbox_id ? st->sandbox_id : ""));
		r |= json_object_set_new(env, "E2B_TEMPLATE_ID",
		                         json_string(st->template_id ? st->template_id : ""));
	}
	pthread_mutex_unlock(&st->lock);
	if (r) {
		json_decref(env);
		return NULL;
	}
	return env;
}

static void copy_locked(struct agent_state *st, const char *src, char *out, size_t n)
{
	(void)st;
	if (!src)
		src = "";
	if (strlen(src) >= n)
		out[0] = '\0';
	else
		memcpy(out, src, strlen(src) + 1);
}

void agent_state_default_user(struct agent_state *st, char *out, size_t n)
{
	pthread_mutex_lock(&st->lock);
	copy_locked(st, st->default_user, out, n);
	pthread_mutex_unlock(&st->lock);
}

void agent_state_default_workdir(struct agent_state *st, char *out, size_t n)
{
	pthread_mutex_lock(&st->lock);
	copy_locked(st, st->default_workdir, out, n);
	pthread_mutex_unlock(&st->lock);
}

int agent_state_request_user(struct agent_state *st, const struct http_request *req,
                             struct user_info *ret, struct rpc_error *e)
{
	const char *auth = http_header_get(req, "Authorization");
	char name[64];
	int r;

	if (auth) {
		if (users_from_basic_auth(auth, name, sizeof(name)) < 0)
			return rpc_fail(e, "unauthenticated", "invalid authorization header");
	} else {
		agent_state_default_user(st, name, sizeof(name));
	}
	r = fsuser_resolve(&st->users, name, ret); /* "" is "user" */
	if (r == -ENOENT)
		return rpc_fail(e, "unauthenticated", "invalid username: '%s'", name);
	if (r < 0)
		return rpc_fail(e, "internal", "error looking up user '%s': %s", name,
		                strerror(-r));
	return 0;
}
