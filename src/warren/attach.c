/* SPDX-License-Identifier: Apache-2.0 */
/* The interactive terminal of `warren sandbox spawn` and `warren sandbox connect`. */
#include "cli.h"
#include "term.h"

#include <common/util.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <warren/warren.h>

/* While attached, a spawned sandbox's timeout is pushed KEEPALIVE_TIMEOUT_S seconds ahead
 * every KEEPALIVE_EVERY_MS (as E2B's CLI does), so it outlives a crashed CLI by at most that. */
#define KEEPALIVE_EVERY_MS 5000
#define KEEPALIVE_TIMEOUT_S 30
/* Bytes of terminal input sent per SendInput call. */
#define INPUT_CHUNK 16384

/* Output of the remote pty, called on the stream's library thread. */
static void on_pty(const char *data, size_t len, void *userdata)
{
	/* A failed write (stdout closed) cannot be reported from here; the session goes on
	 * until the shell ends or the user leaves. */
	(void)write_full(STDOUT_FILENO, data, len);
}

static void keepalive(struct warren_client *wc, const struct warren_sandbox *sbx, bool spawned)
{
	struct warren_sandbox *tmp = NULL;

	/* Failures are not fatal: the next tick tries again, and the shell's end or the stream's
	 * failure ends the session anyway. */
	if (spawned) {
		warren_sandbox_set_timeout(wc, sbx->sandbox_id, KEEPALIVE_TIMEOUT_S, NULL);
	} else if (warren_sandbox_connect(wc, sbx->sandbox_id, KEEPALIVE_TIMEOUT_S, &tmp, NULL) >=
	           0) {
		warren_sandbox_free(tmp);
	}
}

/* Restores the terminal after an abnormal end (a signal, an error), which may come in
 * mid-line: the next output (an error, the local prompt) starts on a new line. */
static void leave(struct term *t)
{
	if (!t->raw)
		return;
	term_restore(t);
	(void)write_full(STDOUT_FILENO, "\n", 1);
}

static void forward_size(struct warren_proc *p, int tty_fd)
{
	unsigned cols, rows;

	if (term_size(tty_fd, &cols, &rows) == 0)
		warren_proc_resize(p, cols, rows, NULL);
}

int cli_attach(struct warren_client *wc, const struct warren_sandbox *sbx, bool spawned, int sig_fd,
               const struct attach_opts *o)
{
	struct warren_stream_cb cb = {.on_pty = on_pty};
	struct warren_pty_opts po = {
	    .cwd = o->cwd,
	    .user = o->user,
	    .cmd = o->cmd,
	    .envs = o->envs,
	    .n_envs = o->n_envs,
	};
	struct warren_error err = {0};
	struct warren_proc *p = NULL;
	struct warren_exit ex;
	struct term t;
	bool stdin_open = true;
	int64_t next_keepalive;
	int rc = CLI_EXIT_FAILURE, r;

	term_init(&t, STDIN_FILENO);
	if (term_size(STDIN_FILENO, &po.cols, &po.rows) < 0)
		(void)term_size(STDOUT_FILENO, &po.cols, &po.rows);

	r = warren_pty_start(wc, sbx, &po, &cb, &p, &err);
	if (r < 0) {
		cli_error("sandbox '%s': %s", sbx->sandbox_id, err.msg);
		return CLI_EXIT_FAILURE;
	}
	/* Raw mode only once the remote side exists, so an error above prints normally. A
	 * non-terminal stdin (a pipe) is forwarded as it is. */
	r = term_raw_enter(&t);
	if (r < 0 && r != -ENOTTY) {
		cli_error("setting the terminal to raw mode: %s", strerror(-r));
		goto out;
	}
	next_keepalive = now_mono_us() / 1000 + KEEPALIVE_EVERY_MS;

	for (;;) {
		struct pollfd fds[3] = {
		    {.fd = warren_proc_done_fd(p), .events = POLLIN},
		    {.fd = sig_fd, .events = POLLIN},
		    {.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN},
		};
		int64_t now = now_mono_us() / 1000;
		int wait_ms = next_keepalive > now ? (int)(next_keepalive - now) : 0;

		r = poll(fds, 3, wait_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			leave(&t);
			cli_error("poll: %s", strerror(-r));
			goto out;
		}
		if (r == 0) {
			keepalive(wc, sbx, spawned);
			next_keepalive = now_mono_us() / 1000 + KEEPALIVE_EVERY_MS;
			continue;
		}
		if (fds[0].revents)
			break;
		if (fds[1].revents) {
			struct signalfd_siginfo si;
			ssize_t n = read(sig_fd, &si, sizeof(si));

			if (n == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGWINCH) {
					forward_size(p, STDIN_FILENO);
				} else {
					/* In raw mode the keyboard sends no signals: this one came
					 * from outside. Leave, with the shell's convention. */
					leave(&t);
					/* The shell would otherwise outlive us in the sandbox. */
					warren_proc_kill(p, NULL);
					rc = 128 + (int)si.ssi_signo;
					goto out;
				}
			}
		}
		if (fds[2].revents) {
			char in[INPUT_CHUNK];
			ssize_t n = read(STDIN_FILENO, in, sizeof(in));

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				/* End of input: the shell decides when to end (a pipe's last
				 * line was already sent). */
				stdin_open = false;
				continue;
			}
			r = warren_proc_send_pty(p, in, (size_t)n, &err);
			if (r < 0) {
				struct pollfd d = {.fd = warren_proc_done_fd(p), .events = POLLIN};

				/* The shell may have just ended: then its exit code wins. */
				if (poll(&d, 1, 2000) > 0)
					break;
				leave(&t);
				cli_error("sandbox '%s': %s", sbx->sandbox_id, err.msg);
				goto out;
			}
		}
	}

	r = warren_proc_wait(p, &ex, &err);
	if (r < 0) {
		leave(&t);
		cli_error("sandbox '%s': terminal lost: %s", sbx->sandbox_id, err.msg);
		goto out;
	}
	/* The shell ended normally: its last output ("logout") ended the line. */
	term_restore(&t);
	rc = cli_exit_code(&ex);
out:
	leave(&t);
	warren_proc_free(p);
	return rc;
}
