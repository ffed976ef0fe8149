/* SPDX-License-Identifier: Apache-2.0 */
/* The network settings of the REST API: CIDR parsing, create and update bodies, errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api_json.h"
#include "api_network.h"

static void expect_cidr(const char *s, const char *addr, unsigned prefix)
{
	struct api_cidr c;
	char a[INET_ADDRSTRLEN];
	struct in_addr in;

	if (api_cidr_parse(s, &c) != 0)
		fail_msg("'%s' rejected", s);
	in.s_addr = c.addr;
	inet_ntop(AF_INET, &in, a, sizeof(a));
	if (strcmp(a, addr) != 0 || c.prefix != prefix)
		fail_msg("'%s' gave %s/%u", s, a, (unsigned)c.prefix);
}

static void test_cidr(void **state)
{
	static const char *const bad[] = {
	    "",           "10",          "10.0.0",      "10.0.0.0.0",    "10.0.0.256",
	    "10.0.0.0/",  "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/08",   "10.0.0.0/1x",
	    "0x0a.0.0.1", " 10.0.0.1",   "10.0.0.1 ",   "10.0.0.0/24/8", "::1",
	    "example.com"};
	struct api_cidr c;

	(void)state;
	expect_cidr("198.51.100.7", "198.51.100.7", 32);
	expect_cidr("198.51.100.7/24", "198.51.100.0", 24);
	expect_cidr("0.0.0.0/0", "0.0.0.0", 0);
	expect_cidr("255.255.255.255/1", "128.0.0.0", 1);
	expect_cidr("10.1.2.3/8", "10.0.0.0", 8);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (api_cidr_parse(bad[i], &c) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
}

static int create(const char *body, struct api_create_req *req, struct warren_error *err)
{
	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	return api_parse_create(body, strlen(body), req, err);
}

static void test_create_network(void **state)
{
	struct api_create_req req;
	struct warren_error err;

	(void)state;
	assert_int_equal(create("{\"templateID\":\"base\"}", &req, &err), 0);
	assert_null(req.network);
	assert_false(req.secure);
	api_create_req_release(&req);

	assert_int_equal(
	    create("{\"templateID\":\"base\",\"secure\":true,\"network\":{\"allowOut\":["
	           "\"1.2.3.4\",\"10.0.0.0/8\"],\"denyOut\":[\"0.0.0.0/0\"],"
	           "\"allowPublicTraffic\":false,\"maskRequestHost\":\"\","
	           "\"rules\":{},\"egressProxy\":null}}",
	           &req, &err),
	    0);
	assert_true(req.secure);
	assert_non_null(req.network);
	assert_int_equal(req.network->n_allow, 2);
	assert_int_equal(req.network->n_deny, 1);
	assert_int_equal(req.network->allow[1].prefix, 8);
	assert_true(req.network->private_traffic);
	json_t *j = api_network_json(req.network);
	char *s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s,
	                    "{\"allowOut\":[\"1.2.3.4/32\",\"10.0.0.0/8\"],\"denyOut\":[\"0.0.0.0/"
	                    "0\"],\"allowPublicTraffic\":false}");
	free(s);
	json_decref(j);
	api_create_req_release(&req);
	assert_null(req.network);
}

static void expect_create_error(const char *network, const char *needle)
{
	struct api_create_req req;
	struct warren_error err;
	char body[512];

	snprintf(body, sizeof(body), "{\"templateID\":\"base\",\"network\":%s}", network);
	assert_int_equal(create(body, &req, &err), -EINVAL);
	if (!strstr(err.msg, needle))
		fail_msg("network %s: message '%s' lacks '%s'", network, err.msg, needle);
	api_create_req_release(&req);
}

static void test_create_errors(void **state)
{
	(void)state;
	expect_create_error("[]", "'network' must be an object");
	expect_create_error("{\"allowOut\":\"1.2.3.4\"}", "must be an array");
	expect_create_error("{\"allowOut\":[1]}", "'network.allowOut[0]' must be a string");
	expect_create_error("{\"allowOut\":[\"example.com\"]}", "domain names are not supported");
	expect_create_error("{\"allowOut\":[\"*.example.com\"]}", "domain names are not supported");
	expect_create_error("{\"denyOut\":[\"1.2.3.4\",\"2001:db8::1\"]}", "denyOut[1]: IPv6");
	expect_create_error("{\"denyOut\":[\"1.2.3.4/40\"]}", "not an IPv4 address or CIDR");
	expect_create_error("{\"denyOut\":[\"1.2.3.4\\u0000\"]}", "malformed JSON");
	expect_create_error("{\"allowPublicTraffic\":1}", "must be a boolean");
	expect_create_error("{\"maskRequestHost\":\"a\\r\\nX-Injected: 1\"}",
	                    "'network.maskRequestHost' must be a host[:port]");
	expect_create_error("{\"maskRequestHost\":\"a b\"}", "must be a host[:port]");
	expect_create_error("{\"maskRequestHost\":\"${HOST}\"}", "must be a host[:port]");
	expect_create_error("{\"maskRequestHost\":7}",
	                    "'network.maskRequestHost' must be a string");
	expect_create_error("{\"httpsPorts\":[443]}", "'network.httpsPorts' is not supported");
	expect_create_error("{\"egressProxy\":{\"address\":\"p:1\"}}",
	                    "egressProxy' is not supported");
	expect_create_error("{\"rules\":{\"a.com\":[]}}", "'network.rules' is not supported");
}

/* maskRequestHost: kept, shown, and ${PORT} filled in for each request's port. */
static void test_mask_host(void **state)
{
	struct api_create_req req;
	struct warren_error err;
	char host[64], big[400];

	(void)state;
	assert_int_equal(create("{\"templateID\":\"base\",\"network\":{\"maskRequestHost\":"
	                        "\"localhost:${PORT}\"}}",
	                        &req, &err),
	                 0);
	assert_non_null(req.network);
	assert_string_equal(req.network->mask_host, "localhost:${PORT}");
	assert_true(api_network_mask_host(req.network, 8080, host, sizeof(host)));
	assert_string_equal(host, "localhost:8080");
	assert_false(api_network_mask_host(req.network, 8080, host, 10)); /* does not fit */
	json_t *j = api_network_json(req.network);
	assert_string_equal(json_string_value(json_object_get(j, "maskRequestHost")),
	                    "localhost:${PORT}");
	/* What the store keeps reads back the same. */
	struct api_network back;
	assert_int_equal(api_network_parse(j, false, &back, &err), 0);
	assert_string_equal(back.mask_host, "localhost:${PORT}");
	json_decref(j);
	api_create_req_release(&req);

	assert_int_equal(create("{\"templateID\":\"base\",\"network\":{\"maskRequestHost\":"
	                        "\"${PORT}-app.example.com:${PORT}\"}}",
	                        &req, &err),
	                 0);
	assert_true(api_network_mask_host(req.network, 3000, host, sizeof(host)));
	assert_string_equal(host, "3000-app.example.com:3000");
	api_create_req_release(&req);

	/* None given: no mask, and none in the JSON. */
	assert_int_equal(create("{\"templateID\":\"base\",\"network\":{}}", &req, &err), 0);
	assert_false(api_network_mask_host(req.network, 80, host, sizeof(host)));
	j = api_network_json(req.network);
	assert_null(json_object_get(j, "maskRequestHost"));
	json_decref(j);
	api_create_req_release(&req);

	memset(big, 'a', 300);
	big[300] = '\0';
	char body[600];
	snprintf(body, sizeof(body),
	         "{\"templateID\":\"base\",\"network\":{\"maskRequestHost\":\"%s\"}}", big);
	assert_int_equal(create(body, &req, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "longer than"));
	api_create_req_release(&req);
}

static void test_too_many(void **state)
{
	struct api_create_req req;
	struct warren_error err;
	size_t cap = 64 + (API_EGRESS_MAX + 1) * 20;
	char *body = malloc(cap), *p = body;

	(void)state;
	p += sprintf(p, "{\"templateID\":\"base\",\"network\":{\"denyOut\":[");
	for (int i = 0; i <= API_EGRESS_MAX; i++)
		p += sprintf(p, "%s\"10.0.%d.%d\"", i ? "," : "", i / 250, i % 250);
	sprintf(p, "]}}");
	assert_int_equal(create(body, &req, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "more than"));
	free(body);
}

static void test_update(void **state)
{
	struct api_network n;
	struct warren_error err = {0};

	(void)state;
	assert_int_equal(api_parse_network_update("{}", 2, &n, &err), 0);
	assert_true(n.allow_internet);
	assert_int_equal(n.n_allow + n.n_deny, 0);
	const char *b = "{\"allow_internet_access\":false,\"denyOut\":[\"8.8.8.8\"]}";
	assert_int_equal(api_parse_network_update(b, strlen(b), &n, &err), 0);
	assert_false(n.allow_internet);
	assert_int_equal(n.n_deny, 1);
	assert_int_equal(api_parse_network_update("", 0, &n, &err), -EINVAL);
	assert_int_equal(api_parse_network_update("[1]", 3, &n, &err), -EINVAL);
	assert_int_equal(api_parse_network_update("{", 1, &n, &err), -EINVAL);
	b = "{\"allow_internet_access\":\"no\"}";
	assert_int_equal(api_parse_network_update(b, strlen(b), &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "must be a boolean"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cidr),          cmocka_unit_test(test_create_network),
	    cmocka_unit_test(test_create_errors), cmocka_unit_test(test_too_many),
	    cmocka_unit_test(test_mask_host),     cmocka_unit_test(test_update),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
