/* SPDX-License-Identifier: Apache-2.0 */
/* The streaming multipart parser (src/agent/multipart.c) and /files path resolution. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "files_http.h"
#include "fsops.h"
#include "multipart.h"

/* Records the parts as "name|filename|data;" in a buffer. */
struct rec {
	struct buf out;
	int fail_at_begin; /* > 0: part_begin of that part number fails with -EIO */
	int n;
};

static int on_begin(void *ud, const struct mp_part *p)
{
	struct rec *r = ud;

	if (++r->n == r->fail_at_begin)
		return -EIO;
	buf_printf(&r->out, "%s|%s|", p->name ? p->name : "(null)",
	           p->filename ? p->filename : "(null)");
	return 0;
}

static int on_data(void *ud, const char *d, size_t len)
{
	struct rec *r = ud;

	assert_true(len > 0);
	buf_append(&r->out, d, len);
	return 0;
}

static int on_end(void *ud)
{
	struct rec *r = ud;

	buf_puts(&r->out, ";");
	return 0;
}

static const struct mp_callbacks cbs = {on_begin, on_data, on_end};

/* Parses body in pieces of `step` bytes (0: whole). Returns the finish result; out in r. */
static int parse(const char *boundary, const char *body, size_t len, size_t step, struct rec *r)
{
	struct mp_parser *p = malloc(sizeof(*p));
	int ret;

	assert_non_null(p);
	assert_int_equal(mp_init(p, boundary, &cbs, r), 0);
	ret = 0;
	for (size_t off = 0; off < len && ret == 0;) {
		size_t n = step ? step : len;

		if (n > len - off)
			n = len - off;
		ret = mp_feed(p, body + off, n);
		off += n;
	}
	if (ret == 0)
		ret = mp_finish(p);
	free(p);
	return ret;
}

static void check_all_splits(const char *boundary, const char *body, size_t len, const char *want)
{
	for (size_t step = 0; step <= len; step++) {
		struct rec r = {.out = BUF_INIT};

		assert_int_equal(parse(boundary, body, len, step, &r), 0);
		buf_puts(&r.out, "");
		if (strcmp(r.out.data, want) != 0)
			fail_msg("step %zu: got '%s', want '%s'", step, r.out.data, want);
		buf_release(&r.out);
	}
}

static void test_sdk_body(void **state)
{
	/* As undici's FormData writes a two-file upload. */
	static const char body[] =
	    "------formdata-undici-0123\r\n"
	    "Content-Disposition: form-data; name=\"file\"; filename=\"/home/user/a.txt\"\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "\r\n"
	    "hello\r\nworld\r\n-- not a boundary\r\n------formdata-undici-012\r\n"
	    "------formdata-undici-0123\r\n"
	    "Content-Disposition: form-data; name=\"file\"; filename=\"rel/b.txt\"\r\n"
	    "\r\n"
	    "\r\r\n\r\n--\r\n"
	    "------formdata-undici-0123--\r\n";

	check_all_splits("----formdata-undici-0123", body, sizeof(body) - 1,
	                 "file|/home/user/a.txt|hello\r\nworld\r\n-- not a boundary\r\n"
	                 "------formdata-undici-012;"
	                 "file|rel/b.txt|\r\r\n\r\n--;");
}

static void test_preamble_padding_epilogue_no_headers(void **state)
{
	static const char body[] = "preamble\r\n--XY  \t\r\n\r\ndata\r\n--XY\r\n"
	                           "content-disposition: form-data; name=other\r\n\r\n"
	                           "x\r\n--XY--epilogue --XY garbage";

	check_all_splits("XY", body, sizeof(body) - 1, "(null)|(null)|data;other|(null)|x;");
}

static void test_quoted_params(void **state)
{
	static const char body[] =
	    "--b\r\nContent-Disposition: form-data; filename=\"a \\\"q\\\" ;b.txt\"; name=file\r\n"
	    "\r\n1\r\n--b--";

	check_all_splits("b", body, sizeof(body) - 1, "file|a \"q\" ;b.txt|1;");
}

static void test_empty_part_data(void **state)
{
	static const char body[] = "--b\r\nContent-Disposition: form-data; name=\"file\"; "
	                           "filename=\"e\"\r\n\r\n\r\n--b--\r\n";

	check_all_splits("b", body, sizeof(body) - 1, "file|e|;");
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
	    "--b\r\n\r\nno close delimiter",
	    "--bX\r\n\r\n\r\n--b--", /* delimiter followed by garbage */
	    "--b-x\r\n",             /* single dash */
	    "--b\rx",                /* CR without LF */
	    "",                      /* empty body */
	    "--b\r\nContent-Disposition: attachment\r\n\r\nx\r\n--b--", /* not form-data */
	    "--b\r\nContent-Disposition: form-data; name=\"unterminated\r\n\r\nx\r\n--b--",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rec r = {.out = BUF_INIT};

		assert_int_equal(parse("b", bad[i], strlen(bad[i]), 0, &r), -EBADMSG);
		buf_release(&r.out);
	}
}

static void test_header_limit(void **state)
{
	size_t n = MP_MAX_HEADER_BYTES + 100;
	char *body = malloc(n + 16);
	struct rec r = {.out = BUF_INIT};

	assert_non_null(body);
	memcpy(body, "--b\r\nX: ", 8);
	memset(body + 8, 'a', n - 8);
	assert_int_equal(parse("b", body, n, 1000, &r), -EBADMSG);
	buf_release(&r.out);
	free(body);
}

static void test_callback_error(void **state)
{
	static const char body[] = "--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b--";
	struct rec r = {.out = BUF_INIT, .fail_at_begin = 2};

	assert_int_equal(parse("b", body, sizeof(body) - 1, 0, &r), -EIO);
	buf_release(&r.out);
}

static void test_boundary_from_content_type(void **state)
{
	char b[MP_MAX_BOUNDARY + 1];

	assert_int_equal(mp_boundary_from_content_type(
	                     "multipart/form-data; boundary=----formdata-undici-0123", b),
	                 0);
	assert_string_equal(b, "----formdata-undici-0123");
	assert_int_equal(
	    mp_boundary_from_content_type("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b\"", b),
	    0);
	assert_string_equal(b, "a b");
	assert_int_equal(mp_boundary_from_content_type("application/octet-stream", b), -ENOTSUP);
	assert_int_equal(mp_boundary_from_content_type(NULL, b), -ENOTSUP);
	assert_int_equal(mp_boundary_from_content_type("multipart/form-data", b), -EINVAL);
	assert_int_equal(mp_boundary_from_content_type("multipart/form-data; boundary=", b),
	                 -EINVAL);
	assert_int_equal(
	    mp_boundary_from_content_type("multipart/form-data; boundary=\"a\r\nb\"", b), -EINVAL);
	assert_int_equal(
	    mp_boundary_from_content_type("multipart/form-data; boundary=\"ends \"", b), -EINVAL);
	assert_int_equal(
	    mp_boundary_from_content_type(
	        "multipart/form-data; boundary="
	        "12345678901234567890123456789012345678901234567890123456789012345678901",
	        b),
	    -EINVAL);
}

static void check_path(const char *in, const char *want)
{
	char out[4096];

	assert_int_equal(fsops_expand(in, "/home/user", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_resolve_path(void **state)
{
	char small[8];

	check_path("/a/b", "/a/b");
	check_path("a.txt", "/home/user/a.txt");
	check_path("~", "/home/user");
	check_path("~/x/y", "/home/user/x/y");
	check_path("~x", "/home/user/~x");
	check_path("/home/user/../../../etc/passwd", "/etc/passwd");
	check_path("../../../..", "/");
	check_path("//a//./b/./../c/", "/a/c");
	check_path("/", "/");
	check_path("/..", "/");
	assert_int_equal(fsops_expand("", "/home/user", NULL, small, sizeof(small)), -EINVAL);
	assert_int_equal(fsops_expand("/abcdefghij", "/", NULL, small, sizeof(small)),
	                 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sdk_body),
	    cmocka_unit_test(test_preamble_padding_epilogue_no_headers),
	    cmocka_unit_test(test_quoted_params),
	    cmocka_unit_test(test_empty_part_data),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_header_limit),
	    cmocka_unit_test(test_callback_error),
	    cmocka_unit_test(test_boundary_from_content_type),
	    cmocka_unit_test(test_resolve_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
