/* SPDX-License-Identifier: Apache-2.0 */
#include "term.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

void term_init(struct term *t, int fd)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
}

int term_raw_enter(struct term *t)
{
	struct termios raw;

	if (!isatty(t->fd))
		return -ENOTTY;
	if (tcgetattr(t->fd, &t->saved) < 0)
		return -errno;
	raw = t->saved;
	cfmakeraw(&raw);
	/* cfmakeraw keeps OPOST off, which is what a remote pty expects: it does its own
	 * output processing, so "\n" from the sandbox already arrives as "\r\n". */
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(t->fd, TCSANOW, &raw) < 0)
		return -errno;
	t->raw = true;
	return 0;
}

void term_restore(struct term *t)
{
	if (!t->raw)
		return;
	/* Retry on EINTR: a terminal left raw is the one failure a user cannot fix by reading. */
	while (tcsetattr(t->fd, TCSANOW, &t->saved) < 0 && errno == EINTR)
		;
	t->raw = false;
}

int term_size(int fd, unsigned *ret_cols, unsigned *ret_rows)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return -errno;
	if (ws.ws_col == 0 || ws.ws_row == 0)
		return -ENOTTY;
	*ret_cols = ws.ws_col;
	*ret_rows = ws.ws_row;
	return 0;
}

static void session_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGWINCH);
}

int term_signals_block(sigset_t *ret_old)
{
	sigset_t set;
	int fd, r;

	session_sigset(&set);
	r = pthread_sigmask(SIG_BLOCK, &set, ret_old);
	if (r != 0)
		return -r;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		pthread_sigmask(SIG_SETMASK, ret_old, NULL);
		return r;
	}
	return fd;
}

void term_signals_unblock(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}
