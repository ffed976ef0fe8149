/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/connect_code.h"
#include "connect.h"
#include "event.h"
#include "pjson.h"
#include "users.h"

static void test_envelope_roundtrip(void **state)
{
	struct buf b = BUF_INIT;
	struct rpc_error e = {0};
	const char *msg;
	size_t len;

	assert_int_equal(connect_envelope(&b, 0, "{\"a\":1}", 7), 0);
	assert_int_equal(b.len, 12);
	assert_memory_equal(b.data, "\x00\x00\x00\x00\x07{\"a\":1}", 12);
	assert_int_equal(connect_unenvelope(b.data, b.len, &msg, &len, &e), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(msg, "{\"a\":1}", 7);
	buf_release(&b);

	/* A 300-byte payload needs two length bytes. */
	char big[300];
	memset(big, 'x', sizeof(big));
	assert_int_equal(connect_envelope(&b, CONNECT_FLAG_END_STREAM, big, sizeof(big)), 0);
	assert_memory_equal(b.data, "\x02\x00\x00\x01\x2c", 5);
	buf_release(&b);
}

static void test_unenvelope_rejects(void **state)
{
	struct rpc_error e = {0};
	const char *msg;
	size_t len;

	assert_int_equal(connect_unenvelope("", 0, &msg, &len, &e), -EINVAL);
	assert_string_equal(e.code, "invalid_argument");
	assert_int_equal(connect_unenvelope("\x00\x00\x00", 3, &msg, &len, &e), -EINVAL);
	/* Length larger, then smaller than the body. */
	assert_int_equal(connect_unenvelope("\x00\x00\x00\x00\x03{}", 7, &msg, &len, &e), -EINVAL);
	assert_int_equal(connect_unenvelope("\x00\x00\x00\x00\x01{}", 7, &msg, &len, &e), -EINVAL);
	/* Compressed and end-stream flags are not requests. */
	assert_int_equal(connect_unenvelope("\x01\x00\x00\x00\x02{}", 7, &msg, &len, &e), -EINVAL);
	assert_int_equal(connect_unenvelope("\x02\x00\x00\x00\x02{}", 7, &msg, &len, &e), -EINVAL);
	/* Two envelopes in one body. */
	assert_int_equal(
	    connect_unenvelope("\x00\x00\x00\x00\x02{}\x00\x00\x00\x00\x02{}", 14, &msg, &len, &e),
	    -EINVAL);
	assert_int_equal(connect_unenvelope("\x00\x00\x00\x00\x00", 5, &msg, &len, &e), 0);
	assert_int_equal(len, 0);
}

static void test_end_stream_json(void **state)
{
	struct buf b = BUF_INIT;
	struct rpc_error e;

	assert_int_equal(connect_end_stream_json(&b, NULL), 0);
	assert_string_equal(b.data, "{}");
	buf_reset(&b);
	rpc_fail(&e, "deadline_exceeded", "say \"%s\"\n", "hi");
	assert_int_equal(connect_end_stream_json(&b, &e), 0);
	assert_string_equal(b.data, "{\"error\":{\"code\":\"deadline_exceeded\","
	                            "\"message\":\"say \\\"hi\\\"\\u000a\"}}");
	buf_release(&b);
}

static void test_json_quote_invalid_utf8(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(json_quote(&b, "a\xc3\xa9\xff\\b\xe2\x82"), 0);
	assert_string_equal(b.data, "\"a\xc3\xa9\\ufffd\\\\b\\ufffd\\ufffd\"");
	buf_release(&b);
}

static void test_http_status(void **state)
{
	assert_int_equal(connect_code_status("not_found"), 404);
	assert_int_equal(connect_code_status("invalid_argument"), 400);
	assert_int_equal(connect_code_status("failed_precondition"), 400);
	assert_int_equal(connect_code_status("unauthenticated"), 401);
	assert_int_equal(connect_code_status("deadline_exceeded"), 504);
	assert_int_equal(connect_code_status("resource_exhausted"), 429);
	assert_int_equal(connect_code_status("unimplemented"), 501);
	assert_int_equal(connect_code_status("bogus"), 500);
	assert_int_equal(connect_code_status(NULL), 500);
}

static void test_events(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(event_start_json(&b, 4242), 0);
	assert_string_equal(b.data, "{\"event\":{\"start\":{\"pid\":4242}}}");
	buf_reset(&b);
	assert_int_equal(event_data_json(&b, EVENT_STDOUT, "hi", 2), 0);
	assert_string_equal(b.data, "{\"event\":{\"data\":{\"stdout\":\"aGk=\"}}}");
	buf_reset(&b);
	assert_int_equal(event_data_json(&b, EVENT_STDERR, "\xff", 1), 0);
	assert_string_equal(b.data, "{\"event\":{\"data\":{\"stderr\":\"/w==\"}}}");
	buf_reset(&b);
	assert_int_equal(event_keepalive_json(&b), 0);
	assert_string_equal(b.data, "{\"event\":{\"keepalive\":{}}}");
	buf_release(&b);
}

/* Real wait statuses from real children, so the encoding is tested against the kernel's. */
static int child_status(int how)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (how < 0)
			raise(-how);
		_exit(how);
	}
	waitpid(pid, &status, 0);
	return status;
}

static void test_end_events(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(event_end_json(&b, child_status(0)), 0);
	assert_string_equal(b.data, "{\"event\":{\"end\":{\"exited\":true,"
	                            "\"status\":\"exit status 0\"}}}");
	buf_reset(&b);
	assert_int_equal(event_end_json(&b, child_status(3)), 0);
	assert_string_equal(b.data, "{\"event\":{\"end\":{\"exitCode\":3,\"exited\":true,"
	                            "\"status\":\"exit status 3\",\"error\":\"exit status 3\"}}}");
	buf_reset(&b);
	assert_int_equal(event_end_json(&b, child_status(-SIGKILL)), 0);
	assert_string_equal(b.data,
	                    "{\"event\":{\"end\":{\"exitCode\":-1,"
	                    "\"status\":\"signal: killed\",\"error\":\"signal: killed\"}}}");
	buf_reset(&b);
	assert_int_equal(event_end_json(&b, child_status(-SIGTERM)), 0);
	assert_non_null(strstr(b.data, "\"status\":\"signal: terminated\""));
	buf_release(&b);
	assert_null(event_signal_name(0));
	assert_null(event_signal_name(1000));
	assert_string_equal(event_signal_name(SIGINT), "interrupt");
}

static void test_pjson_fields(void **state)
{
	static const char *const sigs[16] = {[9] = "SIGNAL_SIGKILL", [15] = "SIGNAL_SIGTERM"};
	struct rpc_error e = {0};
	json_t *m = NULL;
	uint32_t u = 0;
	int sig = 0;
	bool bv = false;
	struct buf b = BUF_INIT;
	const char *s = NULL;

	assert_int_equal(pj_parse_message("{\"exit_code\":\"7\",\"pid\":12,\"flag\":true,"
	                                  "\"data\":\"aGk\",\"signal\":\"SIGNAL_SIGTERM\","
	                                  "\"n\":null,\"neg\":-1,\"s\":\"x\"}",
	                                  strlen("{\"exit_code\":\"7\",\"pid\":12,\"flag\":true,"
	                                         "\"data\":\"aGk\",\"signal\":\"SIGNAL_SIGTERM\","
	                                         "\"n\":null,\"neg\":-1,\"s\":\"x\"}"),
	                                  &m, &e),
	                 0);
	assert_int_equal(pj_uint32(m, "exitCode", "exit_code", &u, &e), 1);
	assert_int_equal(u, 7);
	assert_int_equal(pj_uint32(m, "pid", NULL, &u, &e), 1);
	assert_int_equal(u, 12);
	assert_int_equal(pj_uint32(m, "neg", NULL, &u, &e), -EINVAL);
	assert_int_equal(pj_uint32(m, "s", NULL, &u, &e), -EINVAL);
	assert_int_equal(pj_uint32(m, "n", NULL, &u, &e), 0);
	assert_int_equal(pj_uint32(m, "absent", NULL, &u, &e), 0);
	assert_int_equal(pj_bool(m, "flag", NULL, &bv, &e), 1);
	assert_true(bv);
	assert_int_equal(pj_bool(m, "pid", NULL, &bv, &e), -EINVAL);
	assert_int_equal(pj_bytes(m, "data", NULL, &b, &e), 1);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "hi", 2);
	assert_int_equal(pj_bytes(m, "s", NULL, &b, &e), -EINVAL);
	assert_int_equal(pj_enum(m, "signal", NULL, sigs, 16, &sig, &e), 1);
	assert_int_equal(sig, 15);
	assert_int_equal(pj_enum(m, "pid", NULL, sigs, 16, &sig, &e), 1);
	assert_int_equal(sig, 12);
	assert_int_equal(pj_enum(m, "s", NULL, sigs, 16, &sig, &e), -EINVAL);
	assert_int_equal(pj_string(m, "s", NULL, &s, &e), 1);
	assert_string_equal(s, "x");
	assert_int_equal(pj_string(m, "pid", NULL, &s, &e), -EINVAL);
	json_decref(m);
	buf_release(&b);

	assert_int_equal(pj_parse_message("[1]", 3, &m, &e), -EINVAL);
	assert_int_equal(pj_parse_message("{", 1, &m, &e), -EINVAL);
	assert_int_equal(
	    pj_parse_message(
	        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	        80, &m, &e),
	    -EINVAL);
	assert_int_equal(pj_parse_message("", 0, &m, &e), 0);
	assert_true(json_is_object(m));
	json_decref(m);
}

static void test_basic_auth(void **state)
{
	char name[64];

	assert_int_equal(users_from_basic_auth("Basic cm9vdDo=", name, sizeof(name)), 0);
	assert_string_equal(name, "root");
	assert_int_equal(users_from_basic_auth("basic dXNlcjo", name, sizeof(name)), 0);
	assert_string_equal(name, "user");
	assert_int_equal(users_from_basic_auth("Bearer cm9vdDo=", name, sizeof(name)), -EINVAL);
	assert_int_equal(users_from_basic_auth("Basic Og==", name, sizeof(name)), -EINVAL);
	assert_int_equal(users_from_basic_auth("Basic !!!", name, sizeof(name)), -EINVAL);
	assert_int_equal(users_from_basic_auth("Basic cm9vdDo=", name, 4), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_envelope_roundtrip),
	    cmocka_unit_test(test_unenvelope_rejects),
	    cmocka_unit_test(test_end_stream_json),
	    cmocka_unit_test(test_json_quote_invalid_utf8),
	    cmocka_unit_test(test_http_status),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_end_events),
	    cmocka_unit_test(test_pjson_fields),
	    cmocka_unit_test(test_basic_auth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
