/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_CLI_H
#define WARREN_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes of the CLI besides a remote command's own: 1 failure, 2 usage. */
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

/*
 * Settings shared by every command. Each comes from its flag, else the environment variable
 * the E2B SDK reads (E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY), else the default. The
 * strings point into argv or the environment; nothing is owned.
 */
struct cli {
	const char *api_url;
	const char *sandbox_url;
	const char *api_key;
};

/* getopt_long entries of the global flags, to be included in every command's table. */
enum {
	CLI_OPT_API_URL = 0x1000,
	CLI_OPT_SANDBOX_URL,
	CLI_OPT_API_KEY,
};
#define CLI_GLOBAL_OPTIONS                                                                         \
	{"api-url", required_argument, NULL, CLI_OPT_API_URL},                                     \
	    {"sandbox-url", required_argument, NULL, CLI_OPT_SANDBOX_URL},                         \
	{                                                                                          \
		"api-key", required_argument, NULL, CLI_OPT_API_KEY                                \
	}

/* Stores a global flag; true when `opt` was one. */
bool cli_global_option(struct cli *c, int opt, const char *arg);
/* The help lines of the global flags. */
extern const char cli_global_help[];

/* Prints a help text followed by the global options. */
void cli_print_help(const char *text);
/* "warren: <message>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "warren: <message>" and a pointer to `warren <cmd> --help` on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The error for an unknown flag or a missing argument reported by getopt (optopt/argv). */
int cli_getopt_error(const char *cmd, char **argv);

/* Command groups: each returns the process's exit code. argv[0] is the group's name. */
int cmd_sandbox(struct cli *c, int argc, char **argv);

#endif

/* ---- shared helpers of the sandbox commands (sandbox.c) ---- */
struct warren_client;
struct warren_kv;

/* Creates the client from the settings; prints "warren: ..." and returns -errno on failure. */
int cli_client_new(const struct cli *c, struct warren_client **ret);
/* Parses "KEY=VALUE" (KEY non-empty) into kv, pointing into arg (which is modified). */
int cli_parse_kv(char *arg, struct warren_kv *kv);
/* The exit code of a process that ended as e reports (128 + signal for a signal). */
struct warren_exit;
int cli_exit_code(const struct warren_exit *e);

/* Terminal sessions (attach.c): spawn = create + attach + kill; connect = attach. */
struct attach_opts {
	const char *cwd;
	const char *user;
	const char *cmd;
	struct warren_kv *envs;
	size_t n_envs;
};
/*
 * Opens a PTY in sbx and connects the local terminal to it until the shell ends. sig_fd is the
 * signalfd of term_signals_block() (the caller blocked the session's signals before any
 * library thread started). A spawned sandbox is kept alive while attached (set_timeout) and
 * killed at the end; a connected one has its timeout extended, never shortened. Returns the
 * exit code for the process: the shell's, 128+N after signal N, 1 on errors (printed).
 */
struct warren_sandbox;
int cli_attach(struct warren_client *wc, const struct warren_sandbox *sbx, bool spawned, int sig_fd,
               const struct attach_opts *o);

/* warren sandbox exec (exec.c). argv[0] is "exec". */
int cmd_sandbox_exec(struct cli *c, int argc, char **argv);

/* warren ssh-proxy and warren sandbox ssh (ssh.c). argv[0] is the command's name. */
int cmd_ssh_proxy(struct cli *c, int argc, char **argv);
int cmd_sandbox_ssh(struct cli *c, int argc, char **argv);
