/* SPDX-License-Identifier: Apache-2.0 */
/* /files URL signatures (lib/common/filesig.c) against the SDK's algorithm, and query decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/filesig.h"
#include "common/urlquery.h"

/* Vectors computed with node: "v1_" + sha256(raw).digest("base64") without '='. */
static void test_vectors(void **state)
{
	char s[FILESIG_LEN + 1];

	filesig_compute("/home/user/a b.txt", "read", "", "tok123", -1, s);
	assert_string_equal(s, "v1_oBWcB6Y7ynINkNCbWfy+5Q9m6wAVgyfQl9kI+laMHAA");
	filesig_compute("x", "write", "root", "tok123", 1700000000, s);
	assert_string_equal(s, "v1_OxstB/cYt7qh06PreQdFgnSMSHhqHdPJvxcLLA98/3Q");
}

static void test_check(void **state)
{
	const char *sig = "v1_OxstB/cYt7qh06PreQdFgnSMSHhqHdPJvxcLLA98/3Q";

	assert_int_equal(
	    filesig_check(sig, "1700000000", "x", "write", "root", "tok123", 1600000000), 0);
	assert_int_equal(
	    filesig_check(sig, "1700000000", "x", "write", "root", "tok123", 1700000001),
	    -ETIMEDOUT);
	/* Any other input: path, op, user, token, expiration (also a non-canonical spelling). */
	assert_int_equal(filesig_check(sig, "1700000000", "y", "write", "root", "tok123", 0),
	                 -EACCES);
	assert_int_equal(filesig_check(sig, "1700000000", "x", "read", "root", "tok123", 0),
	                 -EACCES);
	assert_int_equal(filesig_check(sig, "1700000000", "x", "write", "", "tok123", 0), -EACCES);
	assert_int_equal(filesig_check(sig, "1700000000", "x", "write", "root", "tok124", 0),
	                 -EACCES);
	assert_int_equal(filesig_check(sig, "1700000001", "x", "write", "root", "tok123", 0),
	                 -EACCES);
	assert_int_equal(filesig_check(sig, "01700000000", "x", "write", "root", "tok123", 0),
	                 -EACCES);
	assert_int_equal(filesig_check(sig, "+1700000000", "x", "write", "root", "tok123", 0),
	                 -EACCES);
	assert_int_equal(filesig_check(sig, NULL, "x", "write", "root", "tok123", 0), -EACCES);
	assert_int_equal(filesig_check("v1_", NULL, "x", "write", "root", "tok123", 0), -EACCES);
	assert_int_equal(filesig_check(sig, "1700000000", "x", "write", "root", "", 0), -EACCES);
	assert_int_equal(filesig_check(NULL, NULL, "x", "write", "root", "tok123", 0), -EACCES);
}

static void check_get(const char *q, const char *name, int want_r, const char *want)
{
	char *v = NULL;

	assert_int_equal(urlq_get(q, name, &v), want_r);
	if (want_r == 0)
		assert_string_equal(v, want);
	else
		assert_null(v);
	free(v);
}

static void test_query(void **state)
{
	check_get("path=%2Fhome%2Fuser%2Fa+b.txt&username=root", "path", 0, "/home/user/a b.txt");
	check_get("path=%2Fhome%2Fuser%2Fa+b.txt&username=root", "username", 0, "root");
	check_get("a=1&a=2", "a", 0, "1");
	check_get("flag&x=", "flag", 0, "");
	check_get("flag&x=", "x", 0, "");
	check_get("p%61th=v", "path", 0, "v");
	check_get("", "path", -ENOENT, NULL);
	check_get("pathx=1&xpath=2", "path", -ENOENT, NULL);
	check_get("path=%zz", "path", -EINVAL, NULL);
	check_get("path=%2", "path", -EINVAL, NULL);
	check_get("path=a%00b", "path", -EINVAL, NULL);
	check_get("signature=v1_ab%2Bc%2F", "signature", 0, "v1_ab+c/");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
