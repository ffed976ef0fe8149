/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwarren against a scripted HTTP server on loopback: what it sends (routing
 * headers, envelopes, auth) and how it takes hostile or broken answers
 * (oversized envelopes, events out of order, bad base64, missing end of
 * stream, non-JSON bodies, endless paging).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <warren/warren.h>

/* One scripted exchange: the server answers the next request with `resp` (closing after it). */
struct server {
	int listen_fd;
	int port;
	pthread_t thread;
	const char *const *resps; /* NULL-terminated; each is sent as is */
	const size_t *lens;       /* lengths of resps (binary envelopes) */
	size_t trickle;           /* > 0: write in pieces of this size */
	char req[65536];          /* the last request, headers and body */
	size_t req_len;
	int n_served;
};

static void *serve(void *arg)
{
	struct server *s = arg;

	for (size_t i = 0; s->resps[i]; i++) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC), one = 1;
		size_t off = 0, len = s->lens[i];
		char *hdr_end = NULL;

		if (fd < 0)
			break;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* Reads the headers and a Content-Length body. */
		s->req_len = 0;
		for (;;) {
			ssize_t n = read(fd, s->req + s->req_len, sizeof(s->req) - 1 - s->req_len);
			if (n <= 0)
				break;
			s->req_len += (size_t)n;
			s->req[s->req_len] = '\0';
			hdr_end = strstr(s->req, "\r\n\r\n");
			if (hdr_end) {
				const char *cl = strcasestr(s->req, "content-length:");
				size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
				if (s->req_len >= (size_t)(hdr_end + 4 - s->req) + want)
					break;
			}
		}
		while (off < len) {
			size_t chunk =
			    s->trickle && s->trickle < len - off ? s->trickle : len - off;
			ssize_t n = write(fd, s->resps[i] + off, chunk);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		shutdown(fd, SHUT_WR);
		close(fd);
		s->n_served++;
	}
	return NULL;
}

static void server_start(struct server *s, const char *const *resps, const size_t *lens)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->resps = resps;
	s->lens = lens;
	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->listen_fd >= 0);
	assert_int_equal(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->listen_fd, 8), 0);
	assert_int_equal(getsockname(s->listen_fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
}

static void server_run(struct server *s)
{
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
	shutdown(s->listen_fd, SHUT_RDWR);
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
}

static struct warren_client *client_for(const struct server *s)
{
	char url[64];
	struct warren_config cfg = {.api_url = url, .sandbox_url = url, .api_key = "e2b_test"};
	struct warren_client *c = NULL;
	struct warren_error e = {0};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);
	assert_int_equal(warren_client_new(&cfg, &c, &e), 0);
	return c;
}

/* Builds an HTTP response with a Connect stream body of enveloped messages. */
static size_t stream_response(char *out, size_t size, int n, ...)
{
	size_t o = (size_t)snprintf(out, size,
	                            "HTTP/1.1 200 OK\r\nContent-Type: application/connect+json\r\n"
	                            "Connection: close\r\n\r\n");
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		int flags = va_arg(ap, int);
		const char *json = va_arg(ap, const char *);
		uint32_t len = (uint32_t)strlen(json);

		assert_true(o + 5 + len < size);
		out[o++] = (char)flags;
		out[o++] = (char)(len >> 24);
		out[o++] = (char)(len >> 16);
		out[o++] = (char)(len >> 8);
		out[o++] = (char)len;
		memcpy(out + o, json, len);
		o += len;
	}
	va_end(ap);
	return o;
}

struct capture {
	char out[1024];
	size_t n_out;
	uint32_t pid;
};

static void cap_out(const char *d, size_t l, void *u)
{
	struct capture *c = u;

	assert_true(c->n_out + l < sizeof(c->out));
	memcpy(c->out + c->n_out, d, l);
	c->n_out += l;
}

static void cap_start(uint32_t pid, void *u)
{
	((struct capture *)u)->pid = pid;
}

static struct warren_sandbox sbx = {.sandbox_id = "sbx123", .envd_access_token = "tok"};

/* Runs one command against a scripted stream answer; returns rc, fills cap/ex/e. */
static int run_stream(const char *resp, size_t len, size_t trickle, struct capture *cap,
                      struct warren_exit *ex, struct warren_error *e, struct server *s)
{
	const char *resps[] = {resp, NULL};
	size_t lens[] = {len};
	struct warren_stream_cb cb = {.on_start = cap_start, .on_stdout = cap_out, .userdata = cap};
	struct warren_cmd_opts o = {.user = "root", .timeout_ms = 1500};
	struct warren_client *c;
	int rc;

	server_start(s, resps, lens);
	s->trickle = trickle;
	server_run(s);
	c = client_for(s);
	rc = warren_cmd_run(c, &sbx, "echo hi", &o, &cb, ex, e);
	warren_client_free(c);
	server_stop(s);
	return rc;
}

static void test_stream_ok(void **state)
{
	static char resp[4096];
	size_t len =
	    stream_response(resp, sizeof(resp), 5, 0, "{\"event\":{\"start\":{\"pid\":42}}}", 0,
	                    "{\"event\":{\"keepalive\":{}}}", 0,
	                    "{\"event\":{\"data\":{\"stdout\":\"aGVsbG8K\"}}}", 0,
	                    "{\"event\":{\"end\":{\"exitCode\":5,\"exited\":true,"
	                    "\"status\":\"exit status 5\"}}}",
	                    2, "{}");
	struct capture cap = {0};
	struct warren_exit ex = {0};
	struct warren_error e = {0};
	struct server s;

	/* Whole, then one byte per write: the parser must reassemble envelopes. */
	for (size_t trickle = 0; trickle <= 1; trickle++) {
		memset(&cap, 0, sizeof(cap));
		assert_int_equal(run_stream(resp, len, trickle, &cap, &ex, &e, &s), 0);
		assert_int_equal(cap.pid, 42);
		assert_int_equal(cap.n_out, 6);
		assert_memory_equal(cap.out, "hello\n", 6);
		assert_int_equal(ex.exit_code, 5);
		assert_true(ex.exited);
		assert_string_equal(ex.status, "exit status 5");
	}
	/* What went out: the route, the token, the user, the envelope. */
	assert_non_null(strstr(s.req, "POST /process.Process/Start HTTP/1.1\r\n"));
	assert_non_null(strcasestr(s.req, "\r\nE2b-Sandbox-Id: sbx123\r\n"));
	assert_non_null(strcasestr(s.req, "\r\nE2b-Sandbox-Port: 49983\r\n"));
	assert_non_null(strcasestr(s.req, "\r\nX-Access-Token: tok\r\n"));
	assert_non_null(strcasestr(s.req, "\r\nAuthorization: Basic cm9vdDo=\r\n"));
	assert_non_null(strcasestr(s.req, "\r\nContent-Type: application/connect+json\r\n"));
	assert_non_null(strcasestr(s.req, "\r\nConnect-Timeout-Ms: 1500\r\n"));
	char *body = strstr(s.req, "\r\n\r\n") + 4;
	assert_int_equal(body[0], 0);
	uint32_t blen = (uint32_t)(unsigned char)body[1] << 24 |
	                (uint32_t)(unsigned char)body[2] << 16 |
	                (uint32_t)(unsigned char)body[3] << 8 | (unsigned char)body[4];
	assert_int_equal(blen, s.req_len - (size_t)(body + 5 - s.req));
	assert_non_null(strstr(body + 5, "\"args\":[\"-l\",\"-c\",\"echo hi\"]"));
}

static void test_stream_hostile(void **state)
{
	static char resp[4096];
	struct {
		int nmsg;
		const char *m1, *m2;
		int f2;
		int want;
	} cases[] = {
	    /* data before the start event */
	    {2, "{\"event\":{\"data\":{\"stdout\":\"aGk=\"}}}", "{}", 2, -EPROTO},
	    /* bad base64 */
	    {2, "{\"event\":{\"start\":{\"pid\":1}}}",
	     "{\"event\":{\"data\":{\"stdout\":\"***\"}}}", 0, -EPROTO},
	    /* not JSON */
	    {1, "nonsense", NULL, 0, -EPROTO},
	    /* pid out of range */
	    {1, "{\"event\":{\"start\":{\"pid\":99999999999}}}", NULL, 0, -EPROTO},
	    /* no end of stream: the body just stops */
	    {1, "{\"event\":{\"start\":{\"pid\":1}}}", NULL, 0, -EPROTO},
	    /* end of stream without the process's end */
	    {2, "{\"event\":{\"start\":{\"pid\":1}}}", "{}", 2, -EPROTO},
	    /* compressed flag */
	    {2, "{\"event\":{\"start\":{\"pid\":1}}}", "{}", 1, -EPROTO},
	    /* an end-stream error */
	    {2, "{\"event\":{\"start\":{\"pid\":1}}}",
	     "{\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"late\"}}", 2, -ETIMEDOUT},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct capture cap = {0};
		struct warren_exit ex = {.exit_code = 1234};
		struct warren_error e = {0};
		struct server s;
		size_t len = cases[i].nmsg == 1
		                 ? stream_response(resp, sizeof(resp), 1, 0, cases[i].m1)
		                 : stream_response(resp, sizeof(resp), 2, 0, cases[i].m1,
		                                   cases[i].f2, cases[i].m2);
		int rc = run_stream(resp, len, 0, &cap, &ex, &e, &s);

		if (rc != cases[i].want)
			fail_msg("case %zu: rc %d (%s), want %d", i, rc, e.msg, cases[i].want);
		assert_int_equal(ex.exit_code, 1234); /* untouched on failure */
		assert_true(e.code != 0 && e.msg[0]);
	}
}

static void test_stream_oversized(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/connect+json\r\n"
	                           "Connection: close\r\n\r\n"
	                           "\x00\xff\xff\xff\xff{";
	struct capture cap = {0};
	struct warren_exit ex = {0};
	struct warren_error e = {0};
	struct server s;

	assert_int_equal(run_stream(head, sizeof(head) - 1, 0, &cap, &ex, &e, &s), -EMSGSIZE);
}

static void test_stream_http_error(void **state)
{
	static const char r502[] =
	    "HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\n"
	    "Connection: close\r\n\r\n"
	    "{\"sandboxId\":\"x\",\"message\":\"The sandbox was not found\",\"code\":502}";
	static const char junk[] =
	    "HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\n\x01\x02garbage\xff";
	struct capture cap = {0};
	struct warren_exit ex = {0};
	struct warren_error e = {0};
	struct server s;

	assert_int_equal(run_stream(r502, sizeof(r502) - 1, 0, &cap, &ex, &e, &s), -EIO);
	assert_int_equal(e.code, 502);
	assert_non_null(strstr(e.msg, "The sandbox was not found"));
	assert_int_equal(run_stream(junk, sizeof(junk) - 1, 0, &cap, &ex, &e, &s), -EIO);
	assert_int_equal(e.code, 500);
	for (const char *p = e.msg; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

static void test_rest(void **state)
{
	static const char created[] =
	    "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
	    "{\"sandboxID\":\"abc\",\"templateID\":\"base\",\"clientID\":\"x\",\"envdVersion\":\"0."
	    "6.13\"}";
	static const char detail[] =
	    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
	    "{\"sandboxID\":\"abc\",\"templateID\":\"base\",\"startedAt\":\"2026-01-01T00:00:00."
	    "000Z\","
	    "\"endAt\":\"2026-01-01T00:05:00+00:00\",\"state\":\"running\",\"metadata\":{\"k\":"
	    "\"v\"}}";
	static const char notjson[] = "HTTP/1.1 201 Created\r\nConnection: close\r\n\r\n<html>";
	static const char gone[] =
	    "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
	    "Connection: close\r\n\r\n{\"code\":404,\"message\":\"not found\"}";
	static const char killed[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
	const char *resps[] = {created, detail, notjson, gone, killed, NULL};
	size_t lens[] = {sizeof(created) - 1, sizeof(detail) - 1, sizeof(notjson) - 1,
	                 sizeof(gone) - 1, sizeof(killed) - 1};
	struct warren_kv meta[] = {{"k", "v"}};
	struct warren_create_opts o = {.template_id = "base",
	                               .timeout_s = 60,
	                               .metadata = meta,
	                               .n_metadata = 1,
	                               .allow_internet_access = 0};
	struct warren_sandbox *sb = NULL;
	struct warren_error e = {0};
	struct warren_client *c;
	struct server s;

	server_start(&s, resps, lens);
	server_run(&s);
	c = client_for(&s);
	assert_int_equal(warren_sandbox_create(c, &o, &sb, &e), 0);
	assert_string_equal(sb->sandbox_id, "abc");
	assert_string_equal(sb->envd_version, "0.6.13");
	assert_string_equal(sb->state, "running");
	assert_int_equal(sb->started_at, 1767225600);
	assert_int_equal(sb->end_at, 1767225900);
	assert_string_equal(warren_sandbox_metadata(sb, "k"), "v");
	assert_string_equal(sb->alias, "");
	warren_sandbox_free(sb);
	sb = NULL;
	assert_int_equal(warren_sandbox_create(c, &o, &sb, &e), -EBADMSG);
	assert_null(sb);
	assert_int_equal(warren_sandbox_kill(c, "abc", &e), 0);
	assert_int_equal(warren_sandbox_kill(c, "abc", &e), 1);
	warren_client_free(c);
	server_stop(&s);
}

static void test_list_endless(void **state)
{
	/* A server that always says there is another page: bounded by max_results. */
	static const char page[] =
	    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Next-Token: again\r\n"
	    "Connection: close\r\n\r\n[{\"sandboxID\":\"a\"},{\"sandboxID\":\"b\"}]";
	const char *resps[] = {page, page, page, NULL};
	size_t lens[] = {sizeof(page) - 1, sizeof(page) - 1, sizeof(page) - 1};
	struct warren_list_opts lo = {.max_results = 5};
	struct warren_sandbox **list = NULL;
	struct warren_error e = {0};
	struct warren_client *c;
	struct server s;
	size_t n = 0;

	server_start(&s, resps, lens);
	server_run(&s);
	c = client_for(&s);
	assert_int_equal(warren_sandbox_list(c, &lo, &list, &n, &e), -E2BIG);
	assert_null(list);
	assert_non_null(strstr(s.req, "nextToken=again"));
	warren_client_free(c);
	server_stop(&s);
}

static void test_client_settings(void **state)
{
	struct warren_config cfg = {.api_url = "ftp://x", .api_key = "k"};
	struct warren_client *c = NULL;
	struct warren_error e = {0};

	unsetenv("E2B_API_KEY");
	unsetenv("E2B_API_URL");
	unsetenv("E2B_DOMAIN");
	assert_int_equal(warren_client_new(NULL, &c, &e), -EINVAL);
	assert_null(c);
	assert_int_equal(warren_client_new(&cfg, &c, &e), -EINVAL);
	setenv("E2B_API_KEY", "e2b_env", 1);
	setenv("E2B_DOMAIN", "example.org", 1);
	assert_int_equal(warren_client_new(NULL, &c, &e), 0);
	assert_string_equal(warren_client_api_key(c), "e2b_env");
	assert_string_equal(warren_client_api_url(c), "https://api.example.org");
	warren_client_free(c);
	setenv("E2B_API_URL", "http://127.0.0.1:1/", 1);
	assert_int_equal(warren_client_new(NULL, &c, &e), 0);
	assert_string_equal(warren_client_api_url(c), "http://127.0.0.1:1");
	warren_client_free(c);
	unsetenv("E2B_API_KEY");
	unsetenv("E2B_API_URL");
	unsetenv("E2B_DOMAIN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_client_settings),   cmocka_unit_test(test_stream_ok),
	    cmocka_unit_test(test_stream_hostile),    cmocka_unit_test(test_stream_oversized),
	    cmocka_unit_test(test_stream_http_error), cmocka_unit_test(test_rest),
	    cmocka_unit_test(test_list_endless),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
