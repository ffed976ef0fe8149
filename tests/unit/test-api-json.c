/* SPDX-License-Identifier: Apache-2.0 */
/* Pure parts of warrend's REST API: body validation, query and metadata-filter decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api_json.h"
#include "common/urlquery.h"
#include "settings.h"

static int create(const char *body, struct api_create_req *req, struct warren_error *err)
{
	memset(err, 0, sizeof(*err));
	return api_parse_create(body, strlen(body), req, err);
}

static void expect_create_error(const char *body, const char *needle)
{
	struct api_create_req req = {0};
	struct warren_error err;

	assert_int_equal(create(body, &req, &err), -EINVAL);
	if (!strstr(err.msg, needle))
		fail_msg("body %s: message '%s' lacks '%s'", body, err.msg, needle);
	assert_null(req.metadata_json);
}

static void test_create_valid(void **state)
{
	struct api_create_req req = {0};
	struct warren_error err;

	assert_int_equal(create("{\"templateID\":\"base\",\"metadata\":{\"user\":\"a b\",\"app\":"
	                        "\"x=y\"},\"envVars\":{\"FOO\":\"bar\"},\"timeout\":120}",
	                        &req, &err),
	                 0);
	assert_string_equal(req.template_id, "base");
	assert_int_equal(req.timeout_s, 120);
	assert_true(req.allow_internet);
	assert_string_equal(req.metadata_json, "{\"app\":\"x=y\",\"user\":\"a b\"}");
	assert_string_equal(req.env_json, "{\"FOO\":\"bar\"}");
	api_create_req_release(&req);

	/* Defaults, and the CLI's v1 body with extra fields. */
	assert_int_equal(create("{\"templateID\":\"my-template\"}", &req, &err), 0);
	assert_int_equal(req.timeout_s, API_TIMEOUT_DEFAULT);
	assert_string_equal(req.metadata_json, "{}");
	api_create_req_release(&req);
	assert_int_equal(create("{\"templateID\":\"base\",\"timeout\":300,\"secure\":true,"
	                        "\"allow_internet_access\":false,\"unknownField\":[1]}",
	                        &req, &err),
	                 0);
	assert_false(req.allow_internet);
	api_create_req_release(&req);
}

static void test_create_invalid(void **state)
{
	expect_create_error("", "empty");
	expect_create_error("{", "malformed JSON");
	expect_create_error("[]", "JSON object");
	expect_create_error("{}", "templateID");
	expect_create_error("{\"templateID\":5}", "templateID");
	expect_create_error("{\"templateID\":\"\"}", "templateID");
	expect_create_error("{\"templateID\":\"ns/:tag\"}", "templateID");
	expect_create_error("{\"templateID\":\"base\",\"timeout\":\"5\"}", "timeout");
	expect_create_error("{\"templateID\":\"base\",\"timeout\":1.5}", "timeout");
	expect_create_error("{\"templateID\":\"base\",\"timeout\":0}", "timeout");
	expect_create_error("{\"templateID\":\"base\",\"timeout\":86401}", "timeout");
	expect_create_error("{\"templateID\":\"base\",\"metadata\":[]}", "metadata");
	expect_create_error("{\"templateID\":\"base\",\"metadata\":{\"a\":1}}", "metadata.a");
	expect_create_error("{\"templateID\":\"base\",\"envVars\":{\"A=B\":\"x\"}}", "A=B");
	expect_create_error("{\"templateID\":\"base\",\"envVars\":{\"A\":\"x\\u0000y\"}}", "NUL");
	expect_create_error("{\"templateID\":\"base\",\"allow_internet_access\":1}",
	                    "allow_internet_access");
	expect_create_error("{\"templateID\":\"base\",\"autoPause\":\"no\"}", "autoPause");
	expect_create_error("{\"templateID\":\"base\",\"autoResume\":true}", "autoResume");
	expect_create_error("{\"templateID\":\"base\",\"autoResume\":{\"enabled\":1}}",
	                    "'autoResume.enabled' must be a boolean");
	expect_create_error("{\"templateID\":\"base\",\"network\":true}", "network");
	expect_create_error("{\"templateID\":\"a\",\"templateID\":\"b\"}", "malformed JSON");
}

/* The SDK's lifecycle: {onTimeout: 'pause', autoResume} arrives as autoPause + autoResume. */
static void test_create_lifecycle(void **state)
{
	struct api_create_req req = {0};
	struct warren_error err;

	(void)state;
	assert_int_equal(create("{\"templateID\":\"base\"}", &req, &err), 0);
	assert_false(req.auto_pause);
	assert_false(req.auto_resume);
	api_create_req_release(&req);
	assert_int_equal(create("{\"templateID\":\"base\",\"autoPause\":true,\"autoResume\":{"
	                        "\"enabled\":true}}",
	                        &req, &err),
	                 0);
	assert_true(req.auto_pause);
	assert_true(req.auto_resume);
	api_create_req_release(&req);
	assert_int_equal(
	    create("{\"templateID\":\"base\",\"autoResume\":{\"enabled\":false}}", &req, &err), 0);
	assert_false(req.auto_resume);
	api_create_req_release(&req);
}

static void test_connect_and_timeout(void **state)
{
	struct warren_error err;
	int t = -1;

	assert_int_equal(api_parse_connect("", 0, true, &t, &err), 0);
	assert_int_equal(t, 300);
	assert_int_equal(api_parse_connect("{}", 2, true, &t, &err), 0);
	assert_int_equal(t, 300);
	assert_int_equal(api_parse_connect("{}", 2, false, &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "timeout"));
	assert_int_equal(api_parse_connect("{\"timeout\":60}", 14, false, &t, &err), 0);
	assert_int_equal(t, 60);
	assert_int_equal(api_parse_set_timeout("{\"timeout\":1}", 13, &t, &err), 0);
	assert_int_equal(t, 1);
	assert_int_equal(api_parse_set_timeout("{\"timeout\":-1}", 14, &t, &err), -EINVAL);
	assert_int_equal(api_parse_set_timeout("{\"timeout\":null}", 16, &t, &err), -EINVAL);
}

static void test_unescape_and_query(void **state)
{
	char *v = NULL;

	assert_int_equal(urlq_decode("a%20b+c", 7, true, &v), 0);
	assert_string_equal(v, "a b c");
	free(v);
	assert_int_equal(urlq_decode("a+b%2F", 6, false, &v), 0);
	assert_string_equal(v, "a+b/");
	free(v);
	assert_int_equal(urlq_decode("%2", 2, false, &v), -EINVAL);
	assert_int_equal(urlq_decode("%zz", 3, false, &v), -EINVAL);
	assert_int_equal(urlq_decode("a%00", 4, false, &v), -EINVAL);

	assert_int_equal(api_query_get("state=running%2Cpaused&limit=5", "state", &v), 1);
	assert_string_equal(v, "running,paused");
	free(v);
	assert_int_equal(api_query_get("state=running&limit=5", "limit", &v), 1);
	assert_string_equal(v, "5");
	free(v);
	assert_int_equal(api_query_get("xlimit=5", "limit", &v), 0);
	assert_int_equal(api_query_get("", "limit", &v), 0);
	assert_int_equal(api_query_get("limit", "limit", &v), 1);
	assert_string_equal(v, "");
	free(v);
}

static void test_metadata_filter(void **state)
{
	struct warren_error err;
	json_t *f = NULL, *meta;
	char *once = NULL;

	/* {user:"a b", app:"x=y"} as the JS SDK sends it (WIRE §2.4), after the query decode. */
	assert_int_equal(
	    api_query_get("metadata=user%3Da%252520b%26app%3Dx%25253Dy", "metadata", &once), 1);
	assert_int_equal(api_metadata_filter_parse(once, &f, &err), 0);
	free(once);
	assert_int_equal(json_object_size(f), 2);
	assert_string_equal(json_string_value(json_object_get(f, "user")), "a b");
	assert_string_equal(json_string_value(json_object_get(f, "app")), "x=y");

	meta = json_pack("{s:s, s:s, s:s}", "user", "a b", "app", "x=y", "other", "1");
	assert_true(api_metadata_matches(meta, f));
	json_object_set_new(meta, "user", json_string("a  b"));
	assert_false(api_metadata_matches(meta, f));
	json_object_del(meta, "user");
	assert_false(api_metadata_matches(meta, f));
	json_decref(meta);
	json_decref(f);

	assert_int_equal(api_metadata_filter_parse("a", &f, &err), -EINVAL);
	assert_int_equal(api_metadata_filter_parse("a=b=c", &f, &err), -EINVAL);
	assert_int_equal(api_metadata_filter_parse("a%3", &f, &err), -EINVAL);
	assert_int_equal(api_metadata_filter_parse("", &f, &err), 0);
	assert_int_equal(json_object_size(f), 0);
	json_decref(f);
}

static void test_time_and_ids(void **state)
{
	char t[API_TEMPLATE_ID_MAX + 1];

	api_format_time(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00.000Z");
	api_format_time(1700000000123LL, t);
	assert_string_equal(t, "2023-11-14T22:13:20.123Z");
	api_template_name("team/base:latest", t);
	assert_string_equal(t, "base");
	api_template_name("base", t);
	assert_string_equal(t, "base");
	assert_true(api_sbx_id_valid("abc123"));
	assert_false(api_sbx_id_valid(""));
	assert_false(api_sbx_id_valid("ABC"));
	assert_false(api_sbx_id_valid("a/b"));
	assert_false(api_sbx_id_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 33 */
}

static void test_listen(void **state)
{
	char host[64];
	uint16_t port;

	assert_int_equal(settings_parse_listen("127.0.0.1:3000", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 3000);
	assert_int_equal(settings_parse_listen("[::1]:0", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(settings_parse_listen("127.0.0.1", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(settings_parse_listen(":80", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(settings_parse_listen("h:70000", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(settings_parse_listen("h:80x", host, sizeof(host), &port), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_valid),       cmocka_unit_test(test_create_invalid),
	    cmocka_unit_test(test_create_lifecycle),   cmocka_unit_test(test_connect_and_timeout),
	    cmocka_unit_test(test_unescape_and_query), cmocka_unit_test(test_metadata_filter),
	    cmocka_unit_test(test_time_and_ids),       cmocka_unit_test(test_listen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
