/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/util.h"

static void test_append_printf_consume(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(buf_puts(&b, "hello"), 0);
	assert_int_equal(buf_printf(&b, " %d", 42), 0);
	assert_string_equal(b.data, "hello 42");
	buf_consume(&b, 6);
	assert_string_equal(b.data, "42");
	assert_int_equal(b.len, 2);
	buf_release(&b);
	assert_null(b.data);
}

static void test_random_id_alphabet(void **state)
{
	char id[21];

	assert_int_equal(random_id(id, 20), 0);
	assert_int_equal(strlen(id), 20);
	for (int i = 0; i < 20; i++)
		assert_true((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9'));
}

static void test_streq_ct(void **state)
{
	assert_true(streq_ct("abc", "abc"));
	assert_false(streq_ct("abc", "abd"));
	assert_false(streq_ct("abc", "abcd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_printf_consume),
	    cmocka_unit_test(test_random_id_alphabet),
	    cmocka_unit_test(test_streq_ct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
