/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_WARREN_H
#define WARREN_WARREN_H

/*
 * libwarren: the C client of warren's REST control plane and of the in-sandbox
 * agent (E2B envd-compatible Connect JSON protocol). Link with
 * `pkg-config --cflags --libs warren`.
 *
 * Conventions (all functions):
 * - Functions returning int return >= 0 on success and -errno on failure.
 *   On failure `err` (may be NULL) is filled: err->code is the HTTP status
 *   when the server answered with an error (401, 404, 502, ...), a Connect
 *   error is reported with the HTTP status of its code (not_found -> 404,
 *   unauthenticated -> 401, deadline_exceeded -> 504, ...), otherwise err->code
 *   is a positive errno value. err->msg is a one-line message.
 *   The -errno return for HTTP errors: 401/403 -> -EACCES, 404 -> -ENOENT,
 *   409 -> -EEXIST, 400 -> -EINVAL, 429/503 -> -EBUSY, 504 -> -ETIMEDOUT,
 *   anything else -> -EIO (see err->code for the status).
 * - Out-parameters (`ret...`) are written only on success.
 * - Strings passed in are copied when they must outlive the call; the caller
 *   keeps ownership of everything it passes in.
 * - The library never logs and never exits.
 *
 * Threads: a struct warren_client is immutable after warren_client_new() and
 * may be used from any number of threads at once. Each call makes its own
 * HTTP request(s). Streaming calls are thread based: see struct warren_proc.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <warren/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Client                                                                                  */

struct warren_config {
	/* Control-plane base URL. NULL or "": $E2B_API_URL, else https://api.<domain>. */
	const char *api_url;
	/*
	 * Agent (envd) base URL used for every sandbox, routing by the
	 * E2b-Sandbox-Id/E2b-Sandbox-Port headers. NULL or "": $E2B_SANDBOX_URL,
	 * else https://49983-<sandbox id>.<domain> per sandbox as the SDK does.
	 */
	const char *sandbox_url;
	/* Sent as X-API-KEY. NULL or "": $E2B_API_KEY. Missing everywhere: -EINVAL. */
	const char *api_key;
	/* NULL or "": $E2B_DOMAIN, else "e2b.app". */
	const char *domain;
	/* Bound on every unary request (REST and agent), in ms. 0: 60000. */
	long request_timeout_ms;
};

struct warren_client;

/*
 * Creates a client. cfg may be NULL (everything from the environment).
 * The strings of cfg are copied. Free with warren_client_free().
 * Returns 0, -EINVAL (no API key, bad URL), -ENOMEM.
 */
int warren_client_new(const struct warren_config *cfg, struct warren_client **ret,
                      struct warren_error *err);

/* Frees the client; accepts NULL. Every struct warren_proc made with it must be freed first. */
void warren_client_free(struct warren_client *c);

/* The effective settings (owned by the client, valid until warren_client_free). */
const char *warren_client_api_url(const struct warren_client *c);
const char *warren_client_api_key(const struct warren_client *c);

/* ---------------------------------------------------------------------------------------- */
/* Sandboxes (REST control plane)                                                            */

/* A key/value pair (metadata, environment variables). */
struct warren_kv {
	const char *key;
	const char *value;
};

/*
 * A sandbox as the control plane describes it. All strings and arrays are owned
 * by the struct and freed by warren_sandbox_free(). Strings the server did not
 * send are "" (never NULL). Times are unix seconds, 0 when unknown.
 */
struct warren_sandbox {
	char *sandbox_id;
	char *template_id;
	char *alias; /* template name */
	char *client_id;
	char *envd_version;
	char *envd_access_token; /* sent as X-Access-Token to the agent when non-empty */
	char *domain;
	char *state; /* "running" or "paused"; "" from create/connect */
	int64_t started_at;
	int64_t end_at;
	int cpu_count;
	int memory_mb;
	int disk_size_mb;
	struct warren_kv *metadata; /* key and value strings owned by the struct */
	size_t n_metadata;
};

void warren_sandbox_free(struct warren_sandbox *s);
/* Frees an array returned by warren_sandbox_list() and its elements; accepts NULL. */
void warren_sandbox_list_free(struct warren_sandbox **list, size_t n);

/* Looks up a metadata value of s; NULL when absent. */
const char *warren_sandbox_metadata(const struct warren_sandbox *s, const char *key);

struct warren_create_opts {
	const char *template_id; /* NULL: "base" */
	unsigned timeout_s;      /* 0: the server default (300 s) */
	const struct warren_kv *metadata;
	size_t n_metadata;
	const struct warren_kv *envs; /* default env of every process in the sandbox */
	size_t n_envs;
	/* -1: server default, 0: no internet access, 1: internet access. */
	int allow_internet_access;
};

/* POST /v2/sandboxes. opts may be NULL. *ret is freed with warren_sandbox_free(). */
int warren_sandbox_create(struct warren_client *c, const struct warren_create_opts *opts,
                          struct warren_sandbox **ret, struct warren_error *err);

/*
 * POST /v2/sandboxes/{id}/connect: resumes a paused sandbox, extends (never
 * shortens) the timeout of a running one to timeout_s (0: server default).
 * Unknown sandbox: -ENOENT, err->code 404.
 */
int warren_sandbox_connect(struct warren_client *c, const char *sandbox_id, unsigned timeout_s,
                           struct warren_sandbox **ret, struct warren_error *err);

/* GET /sandboxes/{id}. Unknown sandbox: -ENOENT, err->code 404. */
int warren_sandbox_get_info(struct warren_client *c, const char *sandbox_id,
                            struct warren_sandbox **ret, struct warren_error *err);

enum {
	WARREN_STATE_RUNNING = 1 << 0,
	WARREN_STATE_PAUSED = 1 << 1,
};

struct warren_list_opts {
	const struct warren_kv *metadata; /* AND of exact key/value matches */
	size_t n_metadata;
	unsigned states;    /* WARREN_STATE_* bits; 0: running and paused */
	unsigned limit;     /* page size, 0: 100; every page is fetched */
	size_t max_results; /* 0: no bound besides the library's (100000) */
};

/*
 * GET /v2/sandboxes, following X-Next-Token until the last page. opts may be
 * NULL. On success *ret is an array of *ret_n sandboxes (NULL when 0), freed
 * with warren_sandbox_list_free().
 */
int warren_sandbox_list(struct warren_client *c, const struct warren_list_opts *opts,
                        struct warren_sandbox ***ret, size_t *ret_n, struct warren_error *err);

/* DELETE /sandboxes/{id}. Returns 1 when killed, 0 when it did not exist (404), or -errno. */
int warren_sandbox_kill(struct warren_client *c, const char *sandbox_id, struct warren_error *err);

/* POST /sandboxes/{id}/timeout: the sandbox now ends timeout_s seconds from now. */
int warren_sandbox_set_timeout(struct warren_client *c, const char *sandbox_id, unsigned timeout_s,
                               struct warren_error *err);

/* ---------------------------------------------------------------------------------------- */
/* Processes and PTYs (agent, process.Process)                                              */

/*
 * Streaming callbacks. Any member may be NULL. Data is raw bytes (already
 * base64-decoded), valid only during the call; UTF-8 sequences may be split
 * between calls. For warren_cmd_run() they are called on the caller's thread;
 * for everything returning a struct warren_proc they are called on that
 * handle's library thread, one at a time, in stream order. A callback must not
 * call warren_proc_wait() or warren_proc_free() on its own handle; the
 * unary calls (send/resize/kill) are allowed.
 */
struct warren_stream_cb {
	void (*on_start)(uint32_t pid, void *userdata);
	void (*on_stdout)(const char *data, size_t len, void *userdata);
	void (*on_stderr)(const char *data, size_t len, void *userdata);
	void (*on_pty)(const char *data, size_t len, void *userdata);
	void *userdata;
};

/* How a process ended (the agent's EndEvent). */
struct warren_exit {
	int exit_code;   /* -1 when killed by a signal */
	bool exited;     /* false when killed by a signal */
	char status[64]; /* "exit status 3", "signal: killed" */
	char error[192]; /* "" or the EndEvent's error */
};

struct warren_cmd_opts {
	const char *cwd;  /* NULL: the user's default directory */
	const char *user; /* NULL: the sandbox's default user */
	const struct warren_kv *envs;
	size_t n_envs;
	unsigned timeout_ms; /* process lifetime (Connect-Timeout-Ms); 0: unlimited */
	bool stdin;          /* open a stdin pipe (warren_proc_send_stdin) */
};

/*
 * Runs `/bin/bash -l -c cmd` in the sandbox and blocks until it ends, calling
 * cb (may be NULL) on the caller's thread as output arrives. Returns 0 when the
 * process ended, whatever its exit code (see *ret_exit, may be NULL); -errno
 * when it could not be started or the stream broke (e.g. -ETIMEDOUT with
 * err->code 504 when timeout_ms passed). opts may be NULL.
 */
int warren_cmd_run(struct warren_client *c, const struct warren_sandbox *sbx, const char *cmd,
                   const struct warren_cmd_opts *opts, const struct warren_stream_cb *cb,
                   struct warren_exit *ret_exit, struct warren_error *err);

/*
 * A process stream running on a library thread. Made by warren_cmd_start(),
 * warren_pty_start() or warren_proc_connect(), which return once the agent
 * sent the start event (so warren_proc_pid() is known) or failed.
 *
 * The handle copies what it needs of the sandbox (sbx may be freed); the client
 * must outlive it. All functions taking a struct warren_proc * may be called
 * from any thread, concurrently with the callbacks; input calls made from one
 * thread reach the process in order.
 *
 * For poll()-based programs (e.g. a CLI that also reads the terminal),
 * warren_proc_done_fd() is readable once the stream has ended; then
 * warren_proc_wait() returns at once.
 */
struct warren_proc;

struct warren_pty_opts {
	unsigned cols, rows; /* 0: 80x24 */
	const char *cwd;
	const char *user;
	const struct warren_kv *envs; /* added to TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 */
	size_t n_envs;
	unsigned timeout_ms; /* 0: unlimited */
	const char *cmd;     /* NULL: /bin/bash -i -l; else run as /bin/bash -i -l -c cmd */
};

/* Starts `/bin/bash -l -c cmd` in the background. opts may be NULL. */
int warren_cmd_start(struct warren_client *c, const struct warren_sandbox *sbx, const char *cmd,
                     const struct warren_cmd_opts *opts, const struct warren_stream_cb *cb,
                     struct warren_proc **ret, struct warren_error *err);

/* Starts an interactive login bash on a PTY (output through cb->on_pty). opts may be NULL. */
int warren_pty_start(struct warren_client *c, const struct warren_sandbox *sbx,
                     const struct warren_pty_opts *opts, const struct warren_stream_cb *cb,
                     struct warren_proc **ret, struct warren_error *err);

/*
 * Attaches to a running process or PTY by pid (Process.Connect): output
 * produced from now on. Unknown pid: -ENOENT, err->code 404.
 */
int warren_proc_connect(struct warren_client *c, const struct warren_sandbox *sbx, uint32_t pid,
                        const struct warren_stream_cb *cb, struct warren_proc **ret,
                        struct warren_error *err);

uint32_t warren_proc_pid(const struct warren_proc *p);

/* Readable (never read it) once the stream ended. Owned by the handle. */
int warren_proc_done_fd(const struct warren_proc *p);

/* Input: SendInput with stdin bytes (non-PTY) or pty bytes (PTY). */
int warren_proc_send_stdin(struct warren_proc *p, const void *data, size_t len,
                           struct warren_error *err);
int warren_proc_send_pty(struct warren_proc *p, const void *data, size_t len,
                         struct warren_error *err);
/* CloseStdin (non-PTY only). */
int warren_proc_close_stdin(struct warren_proc *p, struct warren_error *err);
/* Update: resizes the PTY. */
int warren_proc_resize(struct warren_proc *p, unsigned cols, unsigned rows,
                       struct warren_error *err);
/* SendSignal SIGKILL. Returns 1 when signalled, 0 when the process was gone (not_found). */
int warren_proc_kill(struct warren_proc *p, struct warren_error *err);

/*
 * Blocks until the stream ended. Returns 0 with *ret_exit (may be NULL) when the
 * agent reported the end of the process; -errno when the stream failed or was
 * disconnected first (e.g. -ECONNRESET). May be called more than once.
 */
int warren_proc_wait(struct warren_proc *p, struct warren_exit *ret_exit, struct warren_error *err);

/*
 * Frees the handle; accepts NULL. A stream still open is closed (disconnect):
 * the process keeps running in the sandbox and can be attached again.
 */
void warren_proc_free(struct warren_proc *p);

/* Unary calls by pid, without a handle. Same results as the warren_proc_* ones. */
int warren_process_kill(struct warren_client *c, const struct warren_sandbox *sbx, uint32_t pid,
                        struct warren_error *err);
int warren_process_send_pty(struct warren_client *c, const struct warren_sandbox *sbx, uint32_t pid,
                            const void *data, size_t len, struct warren_error *err);
int warren_process_resize(struct warren_client *c, const struct warren_sandbox *sbx, uint32_t pid,
                          unsigned cols, unsigned rows, struct warren_error *err);

#ifdef __cplusplus
}
#endif

#endif
