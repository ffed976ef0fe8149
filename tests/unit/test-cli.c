/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's pure parts: table printing and the local terminal's raw mode. */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/warren/table.h"
#include "../../src/warren/term.h"

static char *print_to_string(const struct table *t)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	assert_non_null(f);
	table_print(t, f);
	assert_int_equal(fclose(f), 0);
	return s;
}

static void test_table_alignment(void **state)
{
	static const char *const headers[] = {"ID", "NAME", "X"};
	struct table *t = table_new(3, headers);
	char *s;

	assert_non_null(t);
	assert_int_equal(table_n_rows(t), 0);
	assert_int_equal(table_add_row(t, (const char *const[]){"abc", "d", "1"}), 0);
	assert_int_equal(table_add_row(t, (const char *const[]){"a", NULL, "22"}), 0);
	assert_int_equal(table_n_rows(t), 2);
	s = print_to_string(t);
	assert_string_equal(s, "ID   NAME  X\n"
	                       "abc  d     1\n"
	                       "a          22\n");
	free(s);
	table_free(t);
}

static void test_table_hostile_cells(void **state)
{
	static const char *const headers[] = {"K", "V"};
	struct table *t = table_new(2, headers);
	char *s;

	assert_non_null(t);
	/* Control characters (an escape sequence, a newline) never reach the terminal; UTF-8
	 * counts as one column per character. */
	assert_int_equal(
	    table_add_row(t, (const char *const[]){"\x1b[2Jx\ny", "\xc3\xa9t\xc3\xa9"}), 0);
	assert_int_equal(table_add_row(t, (const char *const[]){"\xc3\xa9", "z"}), 0);
	s = print_to_string(t);
	assert_string_equal(s, "K        V\n"
	                       "?[2Jx?y  \xc3\xa9t\xc3\xa9\n"
	                       "\xc3\xa9        z\n");
	free(s);
	table_free(t);
	table_free(NULL);
}

static void test_table_many_rows(void **state)
{
	static const char *const headers[] = {"N"};
	struct table *t = table_new(1, headers);
	char buf[32];
	char *s;

	assert_non_null(t);
	for (int i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		assert_int_equal(table_add_row(t, (const char *const[]){buf}), 0);
	}
	assert_int_equal(table_n_rows(t), 1000);
	s = print_to_string(t);
	assert_non_null(strstr(s, "\n999\n"));
	free(s);
	table_free(t);
}

static void test_term_raw_and_restore(void **state)
{
	struct winsize ws = {.ws_row = 30, .ws_col = 100};
	int master_fd, slave_fd;
	struct termios before, now;
	struct term t;
	unsigned cols = 0, rows = 0;

	assert_int_equal(openpty(&master_fd, &slave_fd, NULL, NULL, &ws), 0);
	assert_int_equal(tcgetattr(slave_fd, &before), 0);
	assert_true(before.c_lflag & ICANON);

	term_init(&t, slave_fd);
	term_restore(&t); /* not raw yet: no-op */
	assert_int_equal(term_raw_enter(&t), 0);
	assert_int_equal(tcgetattr(slave_fd, &now), 0);
	assert_false(now.c_lflag & (ICANON | ECHO | ISIG));
	assert_false(now.c_iflag & ICRNL);

	term_restore(&t);
	term_restore(&t); /* idempotent */
	assert_int_equal(tcgetattr(slave_fd, &now), 0);
	assert_int_equal(now.c_lflag, before.c_lflag);
	assert_int_equal(now.c_iflag, before.c_iflag);
	assert_int_equal(now.c_oflag, before.c_oflag);

	assert_int_equal(term_size(slave_fd, &cols, &rows), 0);
	assert_int_equal(cols, 100);
	assert_int_equal(rows, 30);
	ws.ws_col = 120;
	ws.ws_row = 40;
	assert_int_equal(ioctl(master_fd, TIOCSWINSZ, &ws), 0);
	assert_int_equal(term_size(slave_fd, &cols, &rows), 0);
	assert_int_equal(cols, 120);
	assert_int_equal(rows, 40);
	close(slave_fd);
	close(master_fd);
}

static void test_term_not_a_tty(void **state)
{
	int p[2];
	struct term t;
	unsigned cols = 7, rows = 7;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	term_init(&t, p[0]);
	assert_int_equal(term_raw_enter(&t), -ENOTTY);
	assert_false(t.raw);
	term_restore(&t);
	assert_true(term_size(p[0], &cols, &rows) < 0);
	assert_int_equal(cols, 7);
	assert_int_equal(rows, 7);
	close(p[0]);
	close(p[1]);
}

static void test_term_signals(void **state)
{
	struct signalfd_siginfo_like {
		char b[128];
	} si;
	sigset_t old, cur;
	int fd = term_signals_block(&old);

	assert_true(fd >= 0);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
	assert_true(sigismember(&cur, SIGWINCH));
	assert_true(sigismember(&cur, SIGTERM));
	/* A blocked signal is read from the fd instead of acting. */
	assert_int_equal(raise(SIGTERM), 0);
	assert_int_equal(read(fd, &si, sizeof(si)), 128);
	assert_true(read(fd, &si, sizeof(si)) < 0 && errno == EAGAIN);
	close(fd);
	term_signals_unblock(&old);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
	assert_false(sigismember(&cur, SIGTERM));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_alignment), cmocka_unit_test(test_table_hostile_cells),
	    cmocka_unit_test(test_table_many_rows), cmocka_unit_test(test_term_raw_and_restore),
	    cmocka_unit_test(test_term_not_a_tty),  cmocka_unit_test(test_term_signals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
