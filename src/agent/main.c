/* SPDX-License-Identifier: Apache-2.0 */
/*
 * warren-agent: the in-sandbox server, compatible with E2B's envd. It is the
 * sandbox's pid 1: it reaps every child, serves the Connect process service
 * and envd's plain HTTP endpoints on WARREN_AGENT_HOST:WARREN_AGENT_PORT.
 * See docs/AGENT.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/http.h"
#include "common/log.h"
#include "common/util.h"
#include "config.h"
#include "connect.h"
#include "files_http.h"
#include "pjson.h"
#include "logfile.h"
#include "proc.h"
#include "rpc_fs.h"
#include "rpc_process.h"
#include "state.h"

#define INIT_MAX_BODY (1024 * 1024)

extern char **environ;

struct agent {
	struct agent_state st;
	struct proc_table *procs;
	struct rpc_process rpc;
	struct rpc_fs fs;
	struct http_server *srv;
	bool is_init;
};

static const char *const cors_headers[] = {
    "Access-Control-Allow-Origin: *",
    "Access-Control-Allow-Methods: *",
    "Access-Control-Allow-Headers: *",
    "Access-Control-Expose-Headers: *",
    NULL,
};

static void reply_json_error(struct http_conn *c, int status, const char *msg)
{
	struct buf b = BUF_INIT;

	if (buf_printf(&b, "{\"code\":%d,\"message\":", status) >= 0 && json_quote(&b, msg) >= 0 &&
	    buf_puts(&b, "}") >= 0)
		http_reply(c, status, "application/json; charset=utf-8", b.data, b.len);
	else
		http_reply(c, 500, NULL, NULL, 0);
	buf_release(&b);
}

static void serve_envs(struct agent *a, struct http_conn *c)
{
	json_t *env = agent_state_default_env(&a->st);
	char *s = env ? json_dumps(env, JSON_COMPACT) : NULL;

	if (s)
		http_reply(c, 200, "application/json", s, strlen(s));
	else
		reply_json_error(c, 500, "out of memory");
	free(s);
	json_decref(env);
}

static void serve_init(struct agent *a, struct http_conn *c, struct http_request *req)
{
	struct buf body = BUF_INIT;
	struct rpc_error e;
	json_t *msg = NULL, *vars = NULL;
	const char *token = NULL, *user = NULL, *workdir = NULL;
	int r;

	r = http_body_read_all(c, INIT_MAX_BODY, &body);
	if (r < 0) {
		buf_release(&body);
		reply_json_error(c, r == -EMSGSIZE ? 413 : 400, "cannot read request body");
		return;
	}
	if (pj_parse_message(body.data ? body.data : "", body.len, &msg, &e) < 0 ||
	    pj_object(msg, "envVars", "env_vars", &vars, &e) < 0 ||
	    pj_string(msg, "accessToken", "access_token", &token, &e) < 0 ||
	    pj_string(msg, "defaultUser", "default_user", &user, &e) < 0 ||
	    pj_string(msg, "defaultWorkdir", "default_workdir", &workdir, &e) < 0) {
		reply_json_error(c, 400, e.message);
		goto out;
	}
	/* Once a token is set, only its holder may change the settings. */
	if (!agent_state_token_ok(&a->st, http_header_get(req, "X-Access-Token")) &&
	    !(token && agent_state_token_ok(&a->st, token))) {
		reply_json_error(c, 401,
		                 "unauthorized access, please provide a valid access token "
		                 "or method signing if supported");
		goto out;
	}
	if (vars && agent_state_merge_env(&a->st, vars) < 0) {
		reply_json_error(c, 400, "envVars must be an object of strings");
		goto out;
	}
	r = 0;
	if (token)
		r |= agent_state_set(&a->st, &a->st.access_token, token);
	if (user && *user)
		r |= agent_state_set(&a->st, &a->st.default_user, user);
	if (workdir)
		r |= agent_state_set(&a->st, &a->st.default_workdir, workdir);
	if (r < 0)
		reply_json_error(c, 500, "out of memory");
	else
		http_reply(c, 204, NULL, NULL, 0);
out:
	json_decref(msg);
	buf_release(&body);
}

static bool starts_with(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n) != 0)
		return false;
	*rest = s + n;
	return true;
}

static void handle(struct http_conn *c, struct http_request *req, void *userdata)
{
	struct agent *a = userdata;
	bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	bool post = strcmp(req->method, "POST") == 0;
	const char *path = req->path, *method;

	if (strcmp(req->method, "OPTIONS") == 0) {
		http_reply_hdrs(c, 204, cors_headers, NULL, NULL, 0);
		return;
	}
	if (strcmp(path, "/health") == 0 && get) {
		http_reply(c, 204, NULL, NULL, 0);
		return;
	}
	if (strcmp(path, "/init") == 0 && post) {
		serve_init(a, c, req);
		return;
	}
	/* /files checks the token itself: a signed URL may stand in for it. */
	if (strcmp(path, "/files") == 0) {
		files_http_serve(&a->st, c, req);
		return;
	}
	if (!agent_state_token_ok(&a->st, http_header_get(req, "X-Access-Token"))) {
		reply_json_error(c, 401,
		                 "unauthorized access, please provide a valid access token "
		                 "or method signing if supported");
		return;
	}
	if (starts_with(path, "/process.Process/", &method)) {
		if (!post) {
			reply_json_error(c, 405, "method not allowed");
			return;
		}
		rpc_process_serve(&a->rpc, c, req, method);
		return;
	}
	if (starts_with(path, "/filesystem.Filesystem/", &method)) {
		if (!post) {
			reply_json_error(c, 405, "method not allowed");
			return;
		}
		rpc_fs_serve(&a->fs, c, req, method);
		return;
	}
	if (strcmp(path, "/envs") == 0 && get) {
		serve_envs(a, c);
		return;
	}
	if (strcmp(path, "/files/compose") == 0) {
		reply_json_error(c, 501, "/files/compose is not implemented");
		return;
	}
	reply_json_error(c, 404, "not found");
}

/* Takes a WARREN_* variable's value (copied) or NULL. */
static char *take_env(const char *name)
{
	const char *v = getenv(name);

	return v ? strdup(v) : NULL;
}

static void scrub_warren_env(void)
{
	for (;;) {
		char name[256];
		bool found = false;
		for (char **e = environ; e && *e; e++) {
			const char *eq = strchr(*e, '=');
			if (strncmp(*e, "WARREN_", 7) == 0 && eq &&
			    (size_t)(eq - *e) < sizeof(name)) {
				/*
				 * unsetenv() leaves the original bytes in place, where
				 * /proc/1/environ still shows them: wipe the secret.
				 */
				if (strncmp(*e, "WARREN_ACCESS_TOKEN=", 20) == 0)
					explicit_bzero((char *)eq + 1, strlen(eq + 1));
				memcpy(name, *e, (size_t)(eq - *e));
				name[eq - *e] = '\0';
				found = true;
				break;
			}
		}
		if (!found)
			return;
		unsetenv(name);
	}
}

/* Makes sure fds 0-2 exist so that no pipe of ours ever lands on them. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open("/dev/null", O_RDWR);
		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

struct signal_thread_args {
	struct agent *a;
	sigset_t set;
};

/*
 * Handles SIGCHLD (reaping) and the termination signals for the whole program, and
 * SIGUSR2 from warrend before a checkpoint (docs/PERSISTENCE.md): the agent is
 * non-dumpable (below), and once CRIU has restored it, it no longer is an exec of the
 * sandbox's user namespace, so CRIU's next dump could not check its namespaces. For that
 * dump the agent is dumpable for a few seconds (CRIU freezes it meanwhile); only a signal
 * from outside the sandbox opens that window.
 */
#define DUMPABLE_WINDOW_S 3
static void *signal_main(void *arg)
{
	struct signal_thread_args *s = arg;
	bool window = false;
	siginfo_t si;

	for (;;) {
		struct timespec ts = {.tv_sec = DUMPABLE_WINDOW_S};
		int sig = window ? sigtimedwait(&s->set, &si, &ts) : sigwaitinfo(&s->set, &si);
		if (sig < 0) {
			if (window && (errno == EAGAIN || errno == EINTR)) {
				prctl(PR_SET_DUMPABLE, 0);
				window = false;
			}
			continue;
		}
		if (sig == SIGUSR2) {
			if (!s->a->is_init || (si.si_code == SI_USER && si.si_pid == 0)) {
				prctl(PR_SET_DUMPABLE, 1);
				window = true;
			}
			continue;
		}
		if (sig == SIGCHLD) {
			proc_table_reap(s->a->procs);
			continue;
		}
		/*
		 * As pid 1, only signals from outside the sandbox (si_pid 0 in
		 * our namespace) stop the agent: a process in the sandbox must
		 * not be able to kill it.
		 */
		if (s->a->is_init && si.si_code == SI_USER && si.si_pid != 0)
			continue;
		log_info("signal %d: stopping", sig);
		http_server_stop(s->a->srv);
	}
	return NULL;
}

static int load_settings(struct agent *a, struct warren_error *err, char **ret_host,
                         uint16_t *ret_port, int *ret_ready_fd)
{
	char *vars = take_env("WARREN_ENV_VARS"), *token = take_env("WARREN_ACCESS_TOKEN");
	char *port = take_env("WARREN_AGENT_PORT"), *ready = take_env("WARREN_READY_FD");
	char *end;
	long n;
	int r = 0;

	*ret_host = take_env("WARREN_AGENT_HOST");
	a->st.sandbox_id = take_env("WARREN_SANDBOX_ID");
	a->st.template_id = take_env("WARREN_TEMPLATE_ID");
	a->st.users.passwd_path = take_env("WARREN_PASSWD");
	a->st.users.group_path = take_env("WARREN_GROUP");
	if (token && *token)
		agent_state_set(&a->st, &a->st.access_token, token);
	*ret_port = 49983;
	if (port) {
		n = strtol(port, &end, 10);
		if (*port == '\0' || *end || n <= 0 || n > 65535)
			r = err_set(err, EINVAL, "invalid WARREN_AGENT_PORT '%s'", port);
		else
			*ret_port = (uint16_t)n;
	}
	*ret_ready_fd = -1;
	if (r == 0 && ready) {
		n = strtol(ready, &end, 10);
		if (*ready == '\0' || *end || n < 0 || n > 65535)
			r = err_set(err, EINVAL, "invalid WARREN_READY_FD '%s'", ready);
		else
			*ret_ready_fd = (int)n;
	}
	if (r == 0 && vars && *vars) {
		json_error_t jerr;
		json_t *j = json_loads(vars, 0, &jerr);
		if (!j || agent_state_merge_env(&a->st, j) < 0)
			r = err_set(err, EINVAL,
			            "invalid WARREN_ENV_VARS: expected a JSON object "
			            "of strings");
		json_decref(j);
	}
	free(vars);
	free(token);
	free(port);
	free(ready);
	return r;
}

int main(void)
{
	struct agent a = {0};
	struct warren_error err = {0};
	struct signal_thread_args sargs;
	struct http_server_config cfg = {0};
	pthread_t sig_thread;
	char *host = NULL;
	uint16_t port;
	int ready_fd, r;

	log_setup("warren-agent", LOG_INFO);
	ensure_std_fds();
	a.is_init = getpid() == 1;
	if (a.is_init && getsid(0) != 1)
		setsid();
	/* In a sandbox, the log goes to a file there: warrend serves it as the sandbox's logs. */
	if (a.is_init && (r = agent_log_open()) < 0)
		log_warn("cannot open %s: %s", LOG_AGENT_FILE, strerror(-r));
	/* Code inside the sandbox runs as the same uid (root) as the agent: non-dumpable,
	 * the agent's memory (its access token) and /proc/1/mem need CAP_SYS_PTRACE,
	 * which nothing inside has. Children are dumpable again after their exec. */
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		log_warn("cannot make the agent non-dumpable: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);

	/* Block the signals the signal thread waits for before any thread exists. */
	sigemptyset(&sargs.set);
	sigaddset(&sargs.set, SIGCHLD);
	sigaddset(&sargs.set, SIGTERM);
	sigaddset(&sargs.set, SIGINT);
	sigaddset(&sargs.set, SIGHUP);
	sigaddset(&sargs.set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sargs.set, NULL);

	if (agent_state_init(&a.st) < 0 || proc_table_new(&a.procs) < 0) {
		log_error("out of memory");
		return 1;
	}
	r = load_settings(&a, &err, &host, &port, &ready_fd);
	scrub_warren_env();
	if (r < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	a.rpc.st = &a.st;
	a.rpc.procs = a.procs;
	if (rpc_fs_init(&a.fs, &a.st) < 0) {
		log_error("out of memory");
		return 1;
	}

	cfg.host = host && *host ? host : "0.0.0.0";
	cfg.port = port;
	cfg.listen_fd = -1;
	cfg.handler = handle;
	cfg.userdata = &a;
	cfg.idle_timeout_ms = 10 * 60 * 1000;
	r = http_server_new(&cfg, &a.srv, &err);
	if (r < 0) {
		log_error("listening on %s:%u: %s", cfg.host, port, err.msg);
		return 1;
	}
	sargs.a = &a;
	r = pthread_create(&sig_thread, NULL, signal_main, &sargs);
	if (r != 0) {
		log_error("starting the signal thread: %s", strerror(r));
		return 1;
	}
	pthread_detach(sig_thread);
	log_info("envd %s (warren %s) listening on %s:%u for sandbox %s", WARREN_ENVD_VERSION,
	         WARREN_VERSION, cfg.host, http_server_port(a.srv),
	         a.st.sandbox_id ? a.st.sandbox_id : "-");
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "1", 1);
		close(ready_fd);
	}
	r = http_server_run(a.srv);
	if (r < 0)
		log_error("serving: %s", strerror(-r));
	/*
	 * Kill the processes first: the connection threads streaming their
	 * output finish once they end, then the server can be freed.
	 */
	proc_table_shutdown(a.procs);
	http_server_free(a.srv);
	rpc_fs_release(&a.fs);
	proc_table_free(a.procs);
	agent_state_release(&a.st);
	free(host);
	return r < 0 ? 1 : 0;
}
