/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_CLI_TERM_H
#define WARREN_CLI_TERM_H

#include <signal.h>
#include <stdbool.h>
#include <termios.h>

/*
 * The local terminal of an interactive session. term_raw_enter() saves the
 * terminal's settings and puts it in raw mode (no echo, no line editing, no
 * signal keys: Ctrl-C and Ctrl-Z become bytes for the remote side);
 * term_restore() puts the saved settings back. Restoring is idempotent, so
 * every exit path may call it. The struct does not own `fd`.
 */
struct term {
	int fd;
	bool raw;
	struct termios saved;
};

/* Initializes t for fd without touching the terminal. */
void term_init(struct term *t, int fd);
/* Saves fd's settings and enters raw mode. 0, -ENOTTY when fd is not a terminal, -errno. */
int term_raw_enter(struct term *t);
/* Restores the saved settings if raw mode is on (TCSAFLUSH is avoided: typed-ahead input is
 * kept). Safe to call more than once and from a signal-free context only. */
void term_restore(struct term *t);
/* The window size of fd; 0 or -errno (-ENOTTY). cols/rows are untouched on failure. */
int term_size(int fd, unsigned *ret_cols, unsigned *ret_rows);

/*
 * The signals an interactive session handles itself: SIGINT, SIGTERM, SIGHUP, SIGQUIT (from
 * outside: restore, then exit) and SIGWINCH (resize). term_signals_block() blocks them in the
 * calling thread before any other thread exists, so every thread inherits the mask and only
 * the session's signalfd sees them; it returns a CLOEXEC|NONBLOCK signalfd or -errno, and
 * stores the previous mask in *ret_old (for term_signals_unblock()).
 */
int term_signals_block(sigset_t *ret_old);
void term_signals_unblock(const sigset_t *old);

#endif
