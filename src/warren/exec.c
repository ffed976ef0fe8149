/* SPDX-License-Identifier: Apache-2.0 */
/* warren sandbox exec ID [--] CMD [ARGS...] */
#include "cli.h"
#include "term.h"

#include <common/buf.h>
#include <common/util.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <warren/warren.h>

#define INPUT_CHUNK 65536
/* Bounds of what the command line may carry. */
#define MAX_ENVS 256
#define MAX_CMD_BYTES (1024 * 1024)

static const char exec_help[] =
    "Usage: warren sandbox exec [OPTIONS] SANDBOX_ID [--] COMMAND [ARGS...]\n"
    "\n"
    "Runs COMMAND with ARGS in the sandbox (each argument quoted for /bin/bash -l -c; for\n"
    "shell syntax run e.g. `sh -c '...'`). Its stdout and stderr are passed through and\n"
    "its exit code is warren's. When stdin is not a terminal it is forwarded to the command\n"
    "and closed at its end. SIGINT/SIGTERM/SIGHUP kill the command.\n"
    "\n"
    "Options (before SANDBOX_ID):\n"
    "  -c, --cwd DIR         working directory (default: the user's home)\n"
    "  -u, --user USER       user to run as (default: the sandbox's default user)\n"
    "  -e, --env KEY=VALUE   environment variable (repeatable)\n"
    "  -h, --help            show this help\n"
    "\n";

/* The output side of a run: when a local write fails (a reader that went away, as `| head -1`
 * does), the stream thread says so through broken_fd[1] and the main loop ends the command. */
struct exec_out {
	int broken_fd[2];
	bool broken;
};

static void write_out(struct exec_out *o, int fd, const char *data, size_t len)
{
	if (o->broken)
		return;
	if (write_full(fd, data, len) < 0) {
		o->broken = true;
		(void)!write(o->broken_fd[1], "x", 1);
	}
}

static void on_stdout(const char *data, size_t len, void *userdata)
{
	write_out(userdata, STDOUT_FILENO, data, len);
}

static void on_stderr(const char *data, size_t len, void *userdata)
{
	write_out(userdata, STDERR_FILENO, data, len);
}

static bool shell_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-",
		        *s))
			return false;
	return true;
}

/* Joins argv into one bash command line, each word quoted as needed. */
static int join_command(char **argv, int argc, struct buf *out)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int r = 0;

		if (i > 0)
			r = buf_puts(out, " ");
		if (r >= 0 && shell_safe(a)) {
			r = buf_puts(out, a);
		} else if (r >= 0) {
			r = buf_puts(out, "'");
			for (; r >= 0 && *a; a++)
				r = *a == '\'' ? buf_puts(out, "'\\''") : buf_append(out, a, 1);
			if (r >= 0)
				r = buf_puts(out, "'");
		}
		if (r < 0)
			return r;
		if (out->len > MAX_CMD_BYTES)
			return -E2BIG;
	}
	return 0;
}

static int run(struct warren_client *wc, const struct warren_sandbox *sbx, const char *cmd,
               struct warren_cmd_opts *co, int sig_fd)
{
	struct exec_out o = {.broken_fd = {-1, -1}};
	struct warren_stream_cb cb = {
	    .on_stdout = on_stdout, .on_stderr = on_stderr, .userdata = &o};
	struct warren_error err = {0};
	struct warren_proc *p = NULL;
	struct warren_exit ex;
	bool stdin_open = co->stdin;
	int rc = CLI_EXIT_FAILURE, r;

	if (pipe2(o.broken_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
		cli_error("pipe: %m");
		return CLI_EXIT_FAILURE;
	}
	r = warren_cmd_start(wc, sbx, cmd, co, &cb, &p, &err);
	if (r < 0) {
		cli_error("sandbox '%s': %s", sbx->sandbox_id, err.msg);
		goto out;
	}
	for (;;) {
		struct pollfd fds[4] = {
		    {.fd = warren_proc_done_fd(p), .events = POLLIN},
		    {.fd = sig_fd, .events = POLLIN},
		    {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
		    {.fd = o.broken_fd[0], .events = POLLIN},
		};

		if (poll(fds, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			cli_error("poll: %m");
			goto out;
		}
		if (fds[0].revents)
			break;
		if (fds[3].revents) {
			/* Nobody reads our output any more: end the command as SIGPIPE would. */
			warren_proc_kill(p, NULL);
			rc = 128 + SIGPIPE;
			goto out;
		}
		if (fds[1].revents) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
			    si.ssi_signo != SIGWINCH) {
				warren_proc_kill(p, NULL);
				rc = 128 + (int)si.ssi_signo;
				goto out;
			}
		}
		if (fds[2].revents) {
			_cleanup_free_ char *in = malloc(INPUT_CHUNK);
			ssize_t n;

			if (!in) {
				cli_error("out of memory");
				goto out;
			}
			n = read(STDIN_FILENO, in, INPUT_CHUNK);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0)
				cli_error("reading stdin: %m");
			if (n <= 0) {
				stdin_open = false;
				r = warren_proc_close_stdin(p, &err);
			} else {
				r = warren_proc_send_stdin(p, in, (size_t)n, &err);
			}
			if (r < 0) {
				/* The command may have ended without reading all its input, as
				 * `head -1` does: then its exit code counts, not the failed
				 * write. Otherwise stop forwarding and wait for its end. */
				stdin_open = false;
			}
		}
	}
	r = warren_proc_wait(p, &ex, &err);
	if (r < 0) {
		cli_error("sandbox '%s': %s", sbx->sandbox_id, err.msg);
		goto out;
	}
	rc = cli_exit_code(&ex);
out:
	/* Ends the stream thread before the pipe it may write to is closed. */
	warren_proc_free(p);
	close(o.broken_fd[0]);
	close(o.broken_fd[1]);
	return rc;
}

int cmd_sandbox_exec(struct cli *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"cwd", required_argument, NULL, 'c'},
	    {"user", required_argument, NULL, 'u'},
	    {"env", required_argument, NULL, 'e'},
	    CLI_GLOBAL_OPTIONS,
	    {},
	};
	struct warren_kv envs[MAX_ENVS];
	struct warren_cmd_opts co = {0};
	struct warren_client *wc = NULL;
	struct warren_sandbox *sbx = NULL;
	struct warren_error err = {0};
	struct buf cmd;
	const char *id;
	sigset_t old;
	int opt, sig_fd, rc = CLI_EXIT_FAILURE, r;

	while ((opt = getopt_long(argc, argv, "+hc:u:e:", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cli_print_help(exec_help);
			return 0;
		case 'c':
			co.cwd = optarg;
			break;
		case 'u':
			co.user = optarg;
			break;
		case 'e':
			if (co.n_envs == MAX_ENVS)
				return cli_usage_error("sandbox exec", "at most %d --env",
				                       MAX_ENVS);
			if (cli_parse_kv(optarg, &envs[co.n_envs]) < 0)
				return cli_usage_error("sandbox exec",
				                       "--env wants KEY=VALUE, not '%s'", optarg);
			co.n_envs++;
			break;
		default:
			if (!cli_global_option(c, opt, optarg))
				return cli_getopt_error("sandbox exec", argv);
		}
	}
	co.envs = envs;
	if (optind >= argc)
		return cli_usage_error("sandbox exec", "no sandbox id given");
	id = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc)
		return cli_usage_error("sandbox exec", "no command given");

	buf_init(&cmd);
	r = join_command(argv + optind, argc - optind, &cmd);
	if (r < 0) {
		buf_release(&cmd);
		cli_error("command line: %s", strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	/* Blocked before the library starts any thread, so that only sig_fd sees them. */
	sig_fd = term_signals_block(&old);
	if (sig_fd < 0) {
		buf_release(&cmd);
		cli_error("signalfd: %s", strerror(-sig_fd));
		return CLI_EXIT_FAILURE;
	}
	if (cli_client_new(c, &wc) < 0)
		goto out;
	r = warren_sandbox_get_info(wc, id, &sbx, &err);
	if (r < 0) {
		if (err.code == 404)
			cli_error("sandbox '%s' not found", id);
		else
			cli_error("%s", err.msg);
		goto out;
	}
	co.stdin = !isatty(STDIN_FILENO);
	/* A closed stdout or stderr is a failed write (handled in run()), not a fatal signal. */
	signal(SIGPIPE, SIG_IGN);
	rc = run(wc, sbx, cmd.data, &co, sig_fd);
out:
	warren_sandbox_free(sbx);
	warren_client_free(wc);
	close(sig_fd);
	term_signals_unblock(&old);
	buf_release(&cmd);
	return rc;
}
