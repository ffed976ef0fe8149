/* SPDX-License-Identifier: Apache-2.0 */
#include "rpc_process.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "connect.h"
#include "event.h"
#include "fsops.h"
#include "pjson.h"
#include "proc.h"
#include "state.h"
#include "users.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_KEEPALIVE_S 90
#define MAX_ARGS 65536
#define MAX_ENVS 65536

/* jansson provides json_decrefp for cleanup attributes. */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

static void buf_releasep(struct buf *b)
{
	buf_release(b);
}
#define _cleanup_buf_ __attribute__((cleanup(buf_releasep)))

/* Finds cmd in PATH (Go's LookPath with the agent's default PATH). */
static int look_path(const char *cmd, char *out, size_t n)
{
	const char *p = DEFAULT_PATH;

	if (strchr(cmd, '/'))
		return snprintf(out, n, "%s", cmd) >= (int)n ? -ENAMETOOLONG : 0;
	while (*p) {
		const char *colon = strchr(p, ':');
		size_t dl = colon ? (size_t)(colon - p) : strlen(p);
		struct stat sb;
		int len = snprintf(out, n, "%.*s/%s", (int)dl, p, cmd);
		if (len > 0 && (size_t)len < n && stat(out, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (sb.st_mode & 0111))
			return 0;
		p += dl;
		if (*p == ':')
			p++;
	}
	return -ENOENT;
}

struct start_args {
	const char *cmd;
	json_t *args; /* array of strings, or NULL */
	json_t *envs; /* object of strings, or NULL */
	const char *cwd;
	const char *tag;
	bool stdin_pipe;
	bool pty;
	uint32_t cols, rows;
};

static int parse_start(json_t *msg, struct start_args *a, struct rpc_error *e)
{
	json_t *process = NULL, *pty = NULL, *size = NULL, *v;
	const char *k;
	size_t i;
	int r;

	a->stdin_pipe = true;
	if (pj_object(msg, "process", NULL, &process, e) <= 0)
		return process ? -EINVAL : rpc_fail(e, "invalid_argument", "process is required");
	if (pj_string(process, "cmd", NULL, &a->cmd, e) < 0)
		return -EINVAL;
	if (!a->cmd || !*a->cmd)
		return rpc_fail(e, "invalid_argument", "process.cmd is required");
	if (strlen(a->cmd) != json_string_length(pj_field(process, "cmd", NULL)))
		return rpc_fail(e, "invalid_argument", "process.cmd contains a NUL byte");
	a->args = pj_field(process, "args", NULL);
	if (a->args) {
		if (!json_is_array(a->args) || json_array_size(a->args) > MAX_ARGS)
			return rpc_fail(e, "invalid_argument",
			                "process.args must be a list of strings");
		json_array_foreach(a->args, i, v)
		{
			if (!json_is_string(v) ||
			    strlen(json_string_value(v)) != json_string_length(v))
				return rpc_fail(e, "invalid_argument",
				                "process.args must be a list of strings");
		}
	}
	if (pj_object(process, "envs", NULL, &a->envs, e) < 0)
		return -EINVAL;
	if (a->envs) {
		if (json_object_size(a->envs) > MAX_ENVS)
			return rpc_fail(e, "invalid_argument", "too many envs");
		json_object_foreach(a->envs, k, v)
		{
			if (!agent_env_name_ok(k))
				return rpc_fail(e, "invalid_argument", "invalid env var name '%s'",
				                k);
			if (!json_is_string(v) ||
			    strlen(json_string_value(v)) != json_string_length(v))
				return rpc_fail(e, "invalid_argument",
				                "env var '%s' must be a string", k);
		}
	}
	if (pj_string(process, "cwd", NULL, &a->cwd, e) < 0)
		return -EINVAL;
	if (pj_string(msg, "tag", NULL, &a->tag, e) < 0)
		return -EINVAL;
	if (pj_bool(msg, "stdin", NULL, &a->stdin_pipe, e) < 0)
		return -EINVAL;
	r = pj_object(msg, "pty", NULL, &pty, e);
	if (r < 0)
		return r;
	if (r > 0) {
		a->pty = true;
		if (pj_object(pty, "size", NULL, &size, e) < 0 ||
		    pj_uint32(size, "cols", NULL, &a->cols, e) < 0 ||
		    pj_uint32(size, "rows", NULL, &a->rows, e) < 0)
			return -EINVAL;
	}
	return 0;
}

/* The ProcessConfig as List returns it: normalized proto3 JSON. */
static char *config_json(const struct start_args *a)
{
	_cleanup_json_ json_t *cfg = json_object();

	if (!cfg || json_object_set_new(cfg, "cmd", json_string(a->cmd)) < 0)
		return NULL;
	if (a->args && json_array_size(a->args) > 0 && json_object_set(cfg, "args", a->args) < 0)
		return NULL;
	if (a->envs && json_object_size(a->envs) > 0 && json_object_set(cfg, "envs", a->envs) < 0)
		return NULL;
	if (a->cwd && json_object_set_new(cfg, "cwd", json_string(a->cwd)) < 0)
		return NULL;
	return json_dumps(cfg, JSON_COMPACT);
}

/* A NULL-terminated "K=V" array of env, an object of strings. */
static char **env_array(json_t *env)
{
	char **envp = calloc(json_object_size(env) + 1, sizeof(char *));
	const char *k;
	size_t i = 0;
	json_t *v;

	if (!envp)
		return NULL;
	json_object_foreach(env, k, v)
	{
		if (asprintf(&envp[i], "%s=%s", k, json_string_value(v)) < 0) {
			envp[i] = NULL;
			goto fail;
		}
		i++;
	}
	return envp;
fail:
	for (size_t j = 0; j < i; j++)
		free(envp[j]);
	free(envp);
	return NULL;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* Builds the environment: user vars, then defaults, then request envs (last wins). */
static json_t *build_env(struct rpc_process *svc, const struct user_info *u, json_t *req_envs)
{
	_cleanup_json_ json_t *env = json_object();
	_cleanup_json_ json_t *defaults = agent_state_default_env(svc->st);
	int r = 0;

	if (!env || !defaults)
		return NULL;
	r |= json_object_set_new(env, "PATH", json_string(DEFAULT_PATH));
	r |= json_object_set_new(env, "HOME", json_string(u->home));
	r |= json_object_set_new(env, "USER", json_string(u->name));
	r |= json_object_set_new(env, "LOGNAME", json_string(u->name));
	r |= json_object_set_new(env, "SHELL", json_string("/bin/bash"));
	r |= json_object_update(env, defaults);
	if (req_envs)
		r |= json_object_update(env, req_envs);
	if (r)
		return NULL;
	return TAKE_PTR(env);
}

/*
 * Relays a subscription to the client until the process ends, the stream
 * deadline passes (kill_on_deadline: Start's deadline is the process
 * lifetime) or the client goes away. The stream has been started.
 */
static void pump_stream(struct rpc_process *svc, struct http_conn *c, struct http_request *req,
                        struct proc_sub *sub, int64_t deadline_us, bool kill_on_deadline)
{
	int64_t ka_us = connect_header_int(req, "Keepalive-Ping-Interval", DEFAULT_KEEPALIVE_S);
	int64_t last = now_mono_us();
	struct rpc_error e;
	char *json;
	size_t len;

	if (ka_us <= 0)
		ka_us = DEFAULT_KEEPALIVE_S;
	ka_us *= 1000000;
	for (;;) {
		int64_t wake = last + ka_us;
		int r;

		if (deadline_us && deadline_us < wake)
			wake = deadline_us;
		r = proc_sub_next(sub, wake, &json, &len);
		/* Past the deadline the stream ends as deadline_exceeded whatever is queued: the
		 * process may have been killed for it (proc.c) and its end event be the next one,
		 * which must not read as a normal end. */
		if (r >= 0 && deadline_us && now_mono_us() >= deadline_us) {
			if (r == 1)
				free(json);
			r = -ETIMEDOUT;
		}
		if (r == 1) {
			r = connect_stream_send(c, json, len);
			free(json);
			if (r < 0)
				return; /* The client is gone; the process keeps running. */
			last = now_mono_us();
		} else if (r == 0) {
			connect_stream_end(c, NULL);
			return;
		} else if (r == -ETIMEDOUT && deadline_us && now_mono_us() >= deadline_us) {
			if (kill_on_deadline)
				proc_signal(svc->procs, proc_sub_pid(sub), SIGKILL);
			rpc_fail(&e, "deadline_exceeded", "context deadline exceeded");
			connect_stream_end(c, &e);
			return;
		} else if (r == -ETIMEDOUT) {
			struct buf b = BUF_INIT;
			r = event_keepalive_json(&b);
			if (r >= 0)
				r = connect_stream_send(c, b.data, b.len);
			buf_release(&b);
			if (r < 0)
				return;
			last = now_mono_us();
		} else {
			rpc_fail(&e, "resource_exhausted",
			         "the client reads output too slowly: stream cut off");
			connect_stream_end(c, &e);
			return;
		}
	}
}

/* Reads and parses the one enveloped message of a server-streaming request. */
static int read_stream_request(struct http_conn *c, struct http_request *req, json_t **ret,
                               struct rpc_error *e)
{
	_cleanup_buf_ struct buf body = BUF_INIT;
	const char *msg;
	size_t len;

	if (!connect_content_type_is(req, "application/connect+json"))
		return rpc_fail(e, "invalid_argument",
		                "unsupported content type: expected application/connect+json");
	if (connect_read_body(c, RPC_MAX_MESSAGE, &body, e) < 0)
		return -1;
	if (connect_unenvelope(body.data ? body.data : "", body.len, &msg, &len, e) < 0)
		return -1;
	if (pj_parse_message(msg, len, ret, e) < 0)
		return -1;
	return 0;
}

static void stream_fail(struct http_conn *c, const struct rpc_error *e)
{
	if (connect_stream_start(c) >= 0)
		connect_stream_end(c, e);
}

static int start_process(struct rpc_process *svc, struct http_request *req, json_t *msg,
                         struct proc_sub **ret_sub, int64_t *ret_deadline, struct rpc_error *e)
{
	struct start_args a = {0};
	_cleanup_free_ struct user_info *u = calloc(1, sizeof(*u));
	_cleanup_free_ char *cfg = NULL, *path = NULL, *cwd = NULL;
	_cleanup_free_ char **argv = NULL;
	_cleanup_json_ json_t *env = NULL;
	char workdir[4096];
	char **envp = NULL;
	struct proc_spec spec = {0};
	struct stat sb;
	int64_t timeout_ms;
	uint32_t pid;
	size_t n_args, i;
	json_t *v;
	int r;

	path = malloc(PATH_MAX);
	cwd = malloc(PATH_MAX);
	if (!u || !path || !cwd)
		return rpc_fail(e, "resource_exhausted", "out of memory");
	if (parse_start(msg, &a, e) < 0)
		return -1;
	if (agent_state_request_user(svc->st, req, u, e) < 0)
		return -1;

	if (a.cwd && *a.cwd) {
		r = fsops_expand(a.cwd, u->home, NULL, cwd, PATH_MAX);
	} else {
		agent_state_default_workdir(svc->st, workdir, sizeof(workdir));
		r = fsops_expand(*workdir ? workdir : u->home, u->home, NULL, cwd, PATH_MAX);
	}
	if (r < 0)
		return rpc_fail(e, "invalid_argument", "cwd is too long");
	if (stat(cwd, &sb) < 0)
		return rpc_fail(e, "invalid_argument", "cwd '%s' does not exist", cwd);
	if (!S_ISDIR(sb.st_mode))
		return rpc_fail(e, "invalid_argument", "cwd '%s' is not a directory", cwd);
	if (look_path(a.cmd, path, PATH_MAX) < 0)
		return rpc_fail(e, "invalid_argument",
		                "error starting process: exec: \"%s\": executable file not found "
		                "in $PATH",
		                a.cmd);

	n_args = a.args ? json_array_size(a.args) : 0;
	argv = calloc(n_args + 2, sizeof(char *));
	if (!argv)
		return rpc_fail(e, "resource_exhausted", "out of memory");
	argv[0] = (char *)a.cmd;
	if (a.args)
		json_array_foreach(a.args, i, v) argv[i + 1] = (char *)json_string_value(v);

	env = build_env(svc, u, a.envs);
	cfg = config_json(&a);
	if (!env || !cfg || !(envp = env_array(env)))
		return rpc_fail(e, "resource_exhausted", "out of memory");

	spec.path = path;
	spec.argv = argv;
	spec.envp = envp;
	spec.cwd = cwd;
	spec.uid = u->uid;
	spec.gid = u->gid;
	spec.groups = u->groups;
	spec.n_groups = u->n_groups;
	spec.stdin_pipe = a.stdin_pipe;
	spec.pty = a.pty;
	spec.cols = (uint16_t)(a.cols > 0 && a.cols <= 0xffff ? a.cols : 80);
	spec.rows = (uint16_t)(a.rows > 0 && a.rows <= 0xffff ? a.rows : 24);
	spec.tag = a.tag;
	spec.config_json = cfg;
	if (geteuid() == 0) {
		spec.switch_user = true;
	} else if (u->uid != geteuid()) {
		strv_free(envp);
		return rpc_fail(e, "permission_denied",
		                "cannot run as '%s': the agent is not running as root", u->name);
	}
	timeout_ms = connect_header_int(req, "Connect-Timeout-Ms", 0);
	*ret_deadline = timeout_ms > 0 ? now_mono_us() + timeout_ms * 1000 : 0;
	spec.deadline_us = *ret_deadline;

	r = proc_spawn(svc->procs, &spec, ret_sub, &pid, e);
	strv_free(envp);
	if (r < 0)
		return -1;
	log_debug("started pid %u: %s", pid, a.cmd);
	return 0;
}

static void serve_start(struct rpc_process *svc, struct http_conn *c, struct http_request *req)
{
	_cleanup_json_ json_t *msg = NULL;
	struct proc_sub *sub = NULL;
	struct rpc_error e;
	int64_t deadline = 0;

	if (read_stream_request(c, req, &msg, &e) < 0 ||
	    start_process(svc, req, msg, &sub, &deadline, &e) < 0) {
		stream_fail(c, &e);
		return;
	}
	if (connect_stream_start(c) >= 0)
		pump_stream(svc, c, req, sub, deadline, true);
	proc_sub_free(sub);
}

/* Parses a ProcessSelector field "process": pid, or tag when *ret_tag is set. */
static int parse_selector(json_t *msg, uint32_t *ret_pid, const char **ret_tag, struct rpc_error *e)
{
	json_t *sel = NULL;
	int rp, rt;

	*ret_pid = 0;
	*ret_tag = NULL;
	if (pj_object(msg, "process", NULL, &sel, e) <= 0)
		return sel ? -1 : rpc_fail(e, "invalid_argument", "process selector is required");
	rp = pj_uint32(sel, "pid", NULL, ret_pid, e);
	if (rp < 0)
		return -1;
	rt = pj_string(sel, "tag", NULL, ret_tag, e);
	if (rt < 0)
		return -1;
	if (rp == 0 && rt == 0)
		return rpc_fail(e, "invalid_argument", "process selector needs a pid or a tag");
	if (rp > 0)
		*ret_tag = NULL;
	return 0;
}

static int selector_not_found(struct rpc_error *e, uint32_t pid, const char *tag)
{
	if (tag)
		return rpc_fail(e, "not_found", "process with tag %s not found", tag);
	return rpc_fail(e, "not_found", "process with pid %u not found", pid);
}

static void serve_connect(struct rpc_process *svc, struct http_conn *c, struct http_request *req)
{
	_cleanup_json_ json_t *msg = NULL;
	struct proc_sub *sub = NULL;
	struct rpc_error e;
	const char *tag;
	int64_t timeout_ms;
	uint32_t pid;
	int r;

	if (read_stream_request(c, req, &msg, &e) < 0 || parse_selector(msg, &pid, &tag, &e) < 0) {
		stream_fail(c, &e);
		return;
	}
	r = proc_subscribe(svc->procs, pid, tag, &sub);
	if (r < 0) {
		if (r == -ENOENT)
			selector_not_found(&e, pid, tag);
		else
			rpc_fail(&e, "resource_exhausted", "out of memory");
		stream_fail(c, &e);
		return;
	}
	timeout_ms = connect_header_int(req, "Connect-Timeout-Ms", 0);
	if (connect_stream_start(c) >= 0)
		pump_stream(svc, c, req, sub,
		            timeout_ms > 0 ? now_mono_us() + timeout_ms * 1000 : 0, false);
	proc_sub_free(sub);
}

/* Reads and parses a unary request. */
static int read_unary_request(struct http_conn *c, struct http_request *req, size_t max,
                              json_t **ret, struct rpc_error *e)
{
	_cleanup_buf_ struct buf body = BUF_INIT;

	if (!connect_content_type_is(req, "application/json"))
		return rpc_fail(e, "invalid_argument",
		                "unsupported content type: expected application/json");
	if (connect_read_body(c, max, &body, e) < 0)
		return -1;
	return pj_parse_message(body.data ? body.data : "", body.len, ret, e) < 0 ? -1 : 0;
}

static int do_list(struct rpc_process *svc, struct buf *out, struct rpc_error *e)
{
	_cleanup_buf_ struct buf items = BUF_INIT;

	if (proc_list_json(svc->procs, &items) < 0)
		return rpc_fail(e, "resource_exhausted", "out of memory");
	if (items.len == 0)
		return buf_puts(out, "{}") < 0 ? rpc_fail(e, "resource_exhausted", "out of memory")
		                               : 0;
	if (buf_printf(out, "{\"processes\":[%s]}", items.data) < 0)
		return rpc_fail(e, "resource_exhausted", "out of memory");
	return 0;
}

static int do_send_input(struct rpc_process *svc, json_t *msg, struct rpc_error *e)
{
	_cleanup_buf_ struct buf data = BUF_INIT;
	json_t *input = NULL;
	const char *tag;
	uint32_t pid;
	bool pty = false;
	int r;

	if (parse_selector(msg, &pid, &tag, e) < 0)
		return -1;
	if (pj_object(msg, "input", NULL, &input, e) < 0)
		return -1;
	r = pj_bytes(input, "stdin", NULL, &data, e);
	if (r < 0)
		return -1;
	if (r == 0) {
		r = pj_bytes(input, "pty", NULL, &data, e);
		if (r < 0)
			return -1;
		pty = r > 0;
	}
	if (proc_resolve(svc->procs, pid, tag, &pid) < 0)
		return selector_not_found(e, pid, tag);
	r = proc_write_input(svc->procs, pid, pty, data.data ? data.data : "", data.len);
	switch (r) {
	case 0:
		return 0;
	case -ENOENT:
		return selector_not_found(e, pid, tag);
	case -ENOTTY:
		return rpc_fail(e, "failed_precondition",
		                pty ? "error writing to tty: tty not assigned to process"
		                    : "error writing to stdin: process has a tty, send pty input");
	case -EPIPE:
		return rpc_fail(e, "failed_precondition", "stdin not enabled or closed");
	case -ETIMEDOUT:
		return rpc_fail(e, "deadline_exceeded",
		                "timed out writing to stdin: the process does not read it");
	default:
		return rpc_fail(e, "internal", "error writing to stdin: %s", strerror(-r));
	}
}

static int do_send_signal(struct rpc_process *svc, json_t *msg, struct rpc_error *e)
{
	static const char *const names[16] = {
	    [0] = "SIGNAL_UNSPECIFIED",
	    [9] = "SIGNAL_SIGKILL",
	    [15] = "SIGNAL_SIGTERM",
	};
	const char *tag;
	uint32_t pid;
	int sig = 0;

	if (parse_selector(msg, &pid, &tag, e) < 0)
		return -1;
	if (pj_enum(msg, "signal", NULL, names, 16, &sig, e) < 0)
		return -1;
	if (sig != SIGKILL && sig != SIGTERM)
		return rpc_fail(e, "invalid_argument", "invalid signal: %d", sig);
	if (proc_resolve(svc->procs, pid, tag, &pid) < 0 || proc_signal(svc->procs, pid, sig) < 0)
		return selector_not_found(e, pid, tag);
	return 0;
}

static int do_close_stdin(struct rpc_process *svc, json_t *msg, struct rpc_error *e)
{
	const char *tag;
	uint32_t pid;
	int r;

	if (parse_selector(msg, &pid, &tag, e) < 0)
		return -1;
	if (proc_resolve(svc->procs, pid, tag, &pid) < 0)
		return selector_not_found(e, pid, tag);
	r = proc_close_stdin(svc->procs, pid);
	if (r == -ENOENT)
		return selector_not_found(e, pid, tag);
	if (r == -ENOTTY)
		return rpc_fail(e, "failed_precondition",
		                "cannot close stdin of a pty process: send EOT (Ctrl-D) instead");
	return 0;
}

static int do_update(struct rpc_process *svc, json_t *msg, struct rpc_error *e)
{
	json_t *pty = NULL, *size = NULL;
	uint32_t pid, cols = 0, rows = 0;
	const char *tag;
	int r;

	if (parse_selector(msg, &pid, &tag, e) < 0)
		return -1;
	r = pj_object(msg, "pty", NULL, &pty, e);
	if (r < 0 || pj_object(pty, "size", NULL, &size, e) < 0 ||
	    pj_uint32(size, "cols", NULL, &cols, e) < 0 ||
	    pj_uint32(size, "rows", NULL, &rows, e) < 0)
		return -1;
	if (proc_resolve(svc->procs, pid, tag, &pid) < 0)
		return selector_not_found(e, pid, tag);
	if (r == 0) {
		/* Nothing to update; still report a process that is gone. */
		uint32_t same;
		return proc_resolve(svc->procs, pid, NULL, &same) < 0
		           ? selector_not_found(e, pid, tag)
		           : 0;
	}
	r = proc_resize(svc->procs, pid, (uint16_t)(cols > 0xffff ? 0xffff : cols),
	                (uint16_t)(rows > 0xffff ? 0xffff : rows));
	if (r == -ENOENT)
		return selector_not_found(e, pid, tag);
	if (r == -ENOTTY)
		return rpc_fail(e, "internal", "error resizing tty: tty not assigned to process");
	if (r < 0)
		return rpc_fail(e, "internal", "error resizing tty: %s", strerror(-r));
	return 0;
}

void rpc_reply_unimplemented(struct http_conn *c, struct http_request *req, const char *what)
{
	struct rpc_error e;

	rpc_fail(&e, "unimplemented", "%s is not implemented", what);
	if (connect_content_type_is(req, "application/connect+json"))
		stream_fail(c, &e);
	else
		rpc_reply_error(c, &e);
}

void rpc_process_serve(struct rpc_process *svc, struct http_conn *c, struct http_request *req,
                       const char *method)
{
	_cleanup_buf_ struct buf out = BUF_INIT;
	_cleanup_json_ json_t *msg = NULL;
	struct rpc_error e;
	size_t max = RPC_MAX_MESSAGE;
	int r;

	if (strcmp(method, "Start") == 0) {
		serve_start(svc, c, req);
		return;
	}
	if (strcmp(method, "Connect") == 0) {
		serve_connect(svc, c, req);
		return;
	}
	if (strcmp(method, "StreamInput") == 0) {
		rpc_reply_unimplemented(c, req, "process.Process/StreamInput");
		return;
	}
	if (strcmp(method, "SendInput") == 0)
		max = RPC_MAX_INPUT_MESSAGE;
	else if (strcmp(method, "List") != 0 && strcmp(method, "SendSignal") != 0 &&
	         strcmp(method, "CloseStdin") != 0 && strcmp(method, "Update") != 0) {
		rpc_fail(&e, "unimplemented", "unknown method process.Process/%.64s", method);
		rpc_reply_error(c, &e);
		return;
	}
	if (read_unary_request(c, req, max, &msg, &e) < 0) {
		rpc_reply_error(c, &e);
		return;
	}
	if (strcmp(method, "List") == 0)
		r = do_list(svc, &out, &e);
	else if (strcmp(method, "SendInput") == 0)
		r = do_send_input(svc, msg, &e);
	else if (strcmp(method, "SendSignal") == 0)
		r = do_send_signal(svc, msg, &e);
	else if (strcmp(method, "CloseStdin") == 0)
		r = do_close_stdin(svc, msg, &e);
	else
		r = do_update(svc, msg, &e);
	if (r < 0) {
		rpc_reply_error(c, &e);
		return;
	}
	if (out.len == 0)
		buf_puts(&out, "{}");
	rpc_reply_json(c, out.data ? out.data : "{}", out.data ? out.len : 2);
}
