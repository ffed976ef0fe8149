/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's one-line rendering of a command for its log (logfile.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "logfile.h"

static void test_argv(void **state)
{
	char *const plain[] = {"/bin/bash", "-l", "-c", "echo hi", NULL};
	char *const hostile[] = {"a\nb", "\x1b[31m\xc3\xa9", "", "z", NULL};
	char *const none[] = {NULL};
	char out[32], tiny[8];

	(void)state;
	agent_log_argv(plain, out, sizeof(out));
	assert_string_equal(out, "/bin/bash -l -c echo hi");
	/* One line whatever the bytes: controls and non-ASCII become '?'; empty args keep a space.
	 */
	agent_log_argv(hostile, out, sizeof(out));
	assert_string_equal(out, "a?b ?[31m??  z");
	agent_log_argv(none, out, sizeof(out));
	assert_string_equal(out, "");
	agent_log_argv(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	/* Cut with "..." within the size. */
	agent_log_argv(plain, tiny, sizeof(tiny));
	assert_string_equal(tiny, "/bin...");
	char *const exact[] = {"abcd", NULL};
	agent_log_argv(exact, tiny, sizeof(tiny));
	assert_string_equal(tiny, "abcd");
	char *const over[] = {"abcde", NULL};
	agent_log_argv(over, tiny, sizeof(tiny));
	assert_string_equal(tiny, "abcd...");
}

/* Without agent_log_open (not pid 1), rotation does nothing. */
static void test_rotate_disabled(void **state)
{
	(void)state;
	assert_int_equal(agent_log_rotate(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_argv),
	    cmocka_unit_test(test_rotate_disabled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
