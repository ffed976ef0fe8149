/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry and the REST API of warrend over real HTTP, against a fake
 * runtime: each "sandbox" is a child process that waits for a signal, so that
 * deadlines, init death (pidfd) and restart adoption are exercised for real.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "api.h"
#include "auth.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/http.h"
#include "common/util.h"
#include "metrics.h"
#include "prom.h"
#include "proxy.h"
#include "registry.h"
#include "runtime/cgroup.h"
#include "runtime/checkpoint.h"
#include "runtime/sandbox.h"
#include "store.h"

/* ---- fake runtime ---- */

struct rt {
	pthread_mutex_t lock;
	int fail_create;
	int n_created, n_destroyed, n_orphan_checks;
	char last_env[3][512];
	unsigned last_disk_mb;
	bool keep_known, keep_unknown;
};

int rt_template_exists(struct rt *rt, const char *template_id)
{
	return strcmp(template_id, "base") == 0 ? 0 : -ENOENT;
}

static pid_t spawn_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Like a real sandbox, hold no fd of the parent's (client sockets above all). */
		syscall(SYS_close_range, 3U, ~0U, 0U);
		for (;;)
			pause();
	}
	return pid;
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int rt_create(struct rt *rt, const struct rt_spec *spec, struct rt_sandbox *ret,
              struct warren_error *err)
{
	pthread_mutex_lock(&rt->lock);
	for (int i = 0; i < 3 && spec->agent_env[i]; i++)
		snprintf(rt->last_env[i], sizeof(rt->last_env[i]), "%s", spec->agent_env[i]);
	rt->last_disk_mb = spec->disk_mb;
	if (rt->fail_create) {
		pthread_mutex_unlock(&rt->lock);
		return err_set(err, EIO, "fake runtime failure");
	}
	rt->n_created++;
	pthread_mutex_unlock(&rt->lock);
	ret->pid = spawn_child();
	assert_true(ret->pid > 0);
	ret->pidfd = pidfd_open_(ret->pid);
	assert_true(ret->pidfd >= 0);
	ret->start_time = 1000 + spec->slot;
	ret->addr.s_addr = htonl(0x0ac90001 + spec->slot);
	return 0;
}

int rt_destroy(struct rt *rt, const char *id, unsigned slot, pid_t pid, uint64_t start_time)
{
	pthread_mutex_lock(&rt->lock);
	rt->n_destroyed++;
	pthread_mutex_unlock(&rt->lock);
	if (pid > 0 && start_time >= 1000) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return 0;
}

/* Pause/resume (checkpoint.h) are covered by tests/sdk/pause.test.mjs against the real CRIU. */
int rt_checkpoint(struct rt *rt, const char *id, unsigned slot, pid_t pid, uint64_t start_time,
                  bool allow_internet, struct warren_error *err)
{
	(void)rt, (void)id, (void)slot, (void)pid, (void)start_time, (void)allow_internet;
	return err_set(err, ENOTSUP, "no checkpoints in the fake runtime");
}

int rt_checkpoint_discard(struct rt *rt, const char *id)
{
	(void)rt, (void)id;
	return 0;
}

bool rt_checkpoint_exists(struct rt *rt, const char *id)
{
	(void)rt, (void)id;
	return false;
}

int rt_restore(struct rt *rt, const struct rt_spec *spec, struct rt_sandbox *ret,
               struct warren_error *err)
{
	(void)rt, (void)spec, (void)ret;
	return err_set(err, ENOTSUP, "no checkpoints in the fake runtime");
}

int rt_adopt(struct rt *rt, pid_t pid, uint64_t start_time)
{
	if (start_time < 1000 || kill(pid, 0) < 0)
		return -ESRCH;
	return pidfd_open_(pid);
}

int rt_disk_attach(struct rt *rt, const char *id, struct warren_error *err)
{
	(void)rt;
	(void)id;
	(void)err;
	return 0;
}

/* Fixed disk figures, to see them in GET /sandboxes/{id}/metrics. */
int rt_disk_usage(struct rt *rt, const char *id, uint64_t *ret_used, uint64_t *ret_total)
{
	*ret_used = 5 << 20;
	*ret_total = 9000ULL << 20;
	return 0;
}

int rt_cleanup_orphans(struct rt *rt, bool (*keep)(const char *id, void *ud), void *ud)
{
	rt->n_orphan_checks++;
	rt->keep_unknown = keep("neverexisted", ud);
	return 0;
}

/* Fixed usage figures, to see them in GET /sandboxes/{id}/metrics. */
struct cgroup_mgr {
	int dummy;
};

int cgroup_read_stats(struct cgroup_mgr *m, const char *id, struct cgroup_stats *ret)
{
	*ret = (struct cgroup_stats){.cpu_usage_us = 0, .memory_bytes = 1 << 20, .pids = 3};
	return 0;
}

/* The data plane is not under test here. */
bool proxy_wants(const struct proxy *p, const struct http_request *req)
{
	return false;
}

void proxy_handle(struct proxy *p, struct http_conn *c, struct http_request *req)
{
	http_reply_error(c, 500, "no proxy in this test");
}

/* ---- fixture ---- */

struct fx {
	char dir[64];
	struct store *store;
	struct rt rt;
	struct registry *reg;
	struct metrics *metrics;
	struct api api;
	struct cgroup_mgr cg;
	struct http_server *srv;
	pthread_t srv_thread;
	uint16_t port;
	char key[AUTH_KEY_LEN + 1];
};

static struct registry *make_registry(struct fx *f, unsigned max)
{
	struct registry_config cfg = {
	    .rt = &f->rt,
	    .store = f->store,
	    .max_sandboxes = max,
	    .cpu_count = 2,
	    .memory_mb = 512,
	    .disk_mb = 10240,
	    .pids_max = 100,
	};
	return registry_new(&cfg);
}

static void *serve(void *arg)
{
	http_server_run(arg);
	return NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];

	pthread_mutex_init(&f->rt.lock, NULL);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-api-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/warren.db", f->dir);
	assert_int_equal(store_open(path, &f->store, NULL), 0);
	assert_int_equal(auth_key_generate(f->key), 0);
	assert_int_equal(auth_key_store(f->store, f->key), 0);
	f->reg = make_registry(f, 3);
	assert_non_null(f->reg);
	f->api = (struct api){.reg = f->reg,
	                      .store = f->store,
	                      .proxy = NULL,
	                      .cgroups = &f->cg,
	                      .prom = prom_new(),
	                      .state_dir = f->dir,
	                      .max_sandboxes = 3,
	                      .tpl_cpu_count = 2,
	                      .tpl_memory_mb = 512,
	                      .tpl_disk_mb = 10240};
	assert_non_null(f->api.prom);
	struct metrics_config mc = {.reg = f->reg,
	                            .store = f->store,
	                            .cgroups = &f->cg,
	                            .rt = &f->rt,
	                            .state_dir = f->dir,
	                            .interval_ms = 100};
	assert_int_equal(metrics_new(&mc, &f->metrics), 0);
	struct http_server_config hc = {
	    .host = "127.0.0.1",
	    .listen_fd = -1,
	    .handler = api_handle,
	    .userdata = &f->api,
	};
	assert_int_equal(http_server_new(&hc, &f->srv, NULL), 0);
	f->port = http_server_port(f->srv);
	assert_int_equal(pthread_create(&f->srv_thread, NULL, serve, f->srv), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	http_server_stop(f->srv);
	pthread_join(f->srv_thread, NULL);
	http_server_free(f->srv);
	metrics_free(f->metrics);
	prom_free(f->api.prom);
	registry_kill_all(f->reg);
	registry_free(f->reg);
	store_close(f->store);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* ---- a tiny HTTP client: one request per connection ---- */

struct resp {
	int status;
	char head[4096];
	char *body;
	json_t *json;
};

static void resp_release(struct resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* Sends method path with the API key (when key) and a chunked body (when body). */
static void request(struct fx *f, const char *method, const char *path, const char *key,
                    const char *body, struct resp *r)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->port)};
	struct buf out = BUF_INIT, in = BUF_INIT;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char chunk[65536];
	ssize_t n;
	char *sep;

	memset(r, 0, sizeof(*r));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	buf_printf(&out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method,
	           path);
	if (key)
		buf_printf(&out, "x-api-key: %s\r\n", key);
	if (body) {
		/* Chunked, as the SDK sends control-plane bodies. */
		buf_printf(&out,
		           "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
		if (*body)
			buf_printf(&out, "%zx\r\n%s\r\n", strlen(body), body);
		buf_puts(&out, "0\r\n\r\n");
	} else {
		buf_puts(&out, "\r\n");
	}
	assert_int_equal(write_full(fd, out.data, out.len), 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_append(&in, chunk, (size_t)n);
	close(fd);
	buf_release(&out);
	assert_non_null(in.data);
	sep = strstr(in.data, "\r\n\r\n");
	assert_non_null(sep);
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - in.data), in.data);
	assert_int_equal(sscanf(in.data, "HTTP/1.1 %d", &r->status), 1);
	r->body = strdup(sep + 4);
	if (*r->body)
		r->json = json_loads(r->body, 0, NULL);
	buf_release(&in);
}

static const char *header(const struct resp *r, const char *name, char *out, size_t size)
{
	char *p = strcasestr(r->head, name);

	if (!p)
		return NULL;
	p += strlen(name);
	while (*p == ':' || *p == ' ')
		p++;
	snprintf(out, size, "%.*s", (int)strcspn(p, "\r\n"), p);
	return out;
}

static void expect_error(const struct resp *r, int status)
{
	assert_int_equal(r->status, status);
	assert_non_null(r->json);
	assert_int_equal(json_integer_value(json_object_get(r->json, "code")), status);
	assert_true(json_is_string(json_object_get(r->json, "message")));
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	if (!v)
		fail_msg("field %s missing", k);
	return v;
}

/* Waits (bounded) until the sandbox is gone from the registry. */
static bool wait_gone(struct fx *f, const char *id, int timeout_ms)
{
	int64_t end = now_mono_us() + (int64_t)timeout_ms * 1000;
	struct registry_info info;

	while (now_mono_us() < end) {
		if (registry_get(f->reg, id, &info) == -ENOENT)
			return true;
		registry_info_release(&info);
		poll(NULL, 0, 20);
	}
	return false;
}

/* Waits (bounded) until the registry holds n entries in any state (teardown finished). */
static bool wait_count(struct fx *f, size_t n, int timeout_ms)
{
	int64_t end = now_mono_us() + (int64_t)timeout_ms * 1000;

	while (now_mono_us() < end) {
		if (registry_count(f->reg) == n)
			return true;
		poll(NULL, 0, 20);
	}
	return false;
}

/* Metrics filters, the multi-sandbox call, logs and GET /metrics for a running sandbox id. */
static void test_observe_routes(struct fx *f, const char *id)
{
	char path[256];
	struct resp r;

	/* A range in the future is empty, a bad range is a 400. */
	snprintf(path, sizeof(path), "/sandboxes/%s/metrics?start=%lld", id,
	         (long long)(now_real_ms() / 1000 + 3600));
	request(f, "GET", path, f->key, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 0);
	resp_release(&r);
	snprintf(path, sizeof(path), "/sandboxes/%s/metrics?start=0&end=%lld", id,
	         (long long)(now_real_ms() / 1000 + 1));
	request(f, "GET", path, f->key, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_array_size(r.json) >= 1);
	resp_release(&r);
	snprintf(path, sizeof(path), "/sandboxes/%s/metrics?start=10&end=9", id);
	request(f, "GET", path, f->key, NULL, &r);
	expect_error(&r, 400);
	resp_release(&r);
	snprintf(path, sizeof(path), "/sandboxes/%s/metrics?start=-1", id);
	request(f, "GET", path, f->key, NULL, &r);
	expect_error(&r, 400);
	resp_release(&r);
	request(f, "GET", "/sandboxes/abcdef/metrics", f->key, NULL, &r);
	expect_error(&r, 404);
	resp_release(&r);

	/* GET /sandboxes/metrics: the latest sample of each known id, unknown ones left out. */
	snprintf(path, sizeof(path), "/sandboxes/metrics?sandbox_ids=%s,nosuchid,..", id);
	request(f, "GET", path, f->key, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_object_size(json_object_get(r.json, "sandboxes")), 1);
	assert_true(json_is_object(json_object_get(json_object_get(r.json, "sandboxes"), id)));
	resp_release(&r);
	request(f, "GET", "/sandboxes/metrics", f->key, NULL, &r);
	expect_error(&r, 400);
	resp_release(&r);

	/* No agent wrote a log here: empty, in both shapes; bad parameters are 400s. */
	snprintf(path, sizeof(path), "/v2/sandboxes/%s/logs?direction=backward&level=warn", id);
	request(f, "GET", path, f->key, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_array(json_object_get(r.json, "logs")));
	resp_release(&r);
	snprintf(path, sizeof(path), "/sandboxes/%s/logs?start=0&limit=5", id);
	request(f, "GET", path, f->key, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_array(json_object_get(r.json, "logs")));
	assert_true(json_is_array(json_object_get(r.json, "logEntries")));
	resp_release(&r);
	snprintf(path, sizeof(path), "/v2/sandboxes/%s/logs?direction=sideways", id);
	request(f, "GET", path, f->key, NULL, &r);
	expect_error(&r, 400);
	resp_release(&r);
	snprintf(path, sizeof(path), "/v2/sandboxes/%s/logs?limit=1001", id);
	request(f, "GET", path, f->key, NULL, &r);
	expect_error(&r, 400);
	resp_release(&r);
	request(f, "GET", "/v2/sandboxes/abcdef/logs", f->key, NULL, &r);
	expect_error(&r, 404);
	resp_release(&r);

	/* GET /metrics needs the key (X-API-KEY or a bearer token). */
	request(f, "GET", "/metrics", NULL, NULL, &r);
	expect_error(&r, 401);
	resp_release(&r);
	request(f, "GET", "/metrics", f->key, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\nwarren_sandboxes{state=\"running\"} 2\n"));
	assert_non_null(strstr(r.body, "\nwarren_sandbox_creates_total{source=\"cold\"} "));
	resp_release(&r);
}

/* ---- tests ---- */

static void test_auth_and_routes(void **state)
{
	struct fx *f = *state;
	struct resp r;

	request(f, "GET", "/health", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_release(&r);
	request(f, "GET", "/v2/sandboxes", NULL, NULL, &r);
	expect_error(&r, 401);
	resp_release(&r);
	request(f, "GET", "/v2/sandboxes", "e2b_0000000000000000000000000000000000000000", NULL,
	        &r);
	expect_error(&r, 401);
	resp_release(&r);
	request(f, "GET", "/nope", f->key, NULL, &r);
	expect_error(&r, 404);
	resp_release(&r);
	request(f, "PUT", "/sandboxes", f->key, "{}", &r);
	expect_error(&r, 405);
	resp_release(&r);
	request(f, "POST", "/v3/templates", f->key, "{}", &r);
	expect_error(&r, 501);
	resp_release(&r);
	request(f, "POST", "/sandboxes/abcdef/fork", f->key, "{}", &r);
	expect_error(&r, 501);
	resp_release(&r);
	request(f, "POST", "/sandboxes/abcdef/pause", f->key, "{}", &r);
	expect_error(&r, 404);
	resp_release(&r);
	request(f, "POST", "/sandboxes/abcdef/resume", f->key, "{}", &r);
	expect_error(&r, 404);
	resp_release(&r);
	request(f, "GET", "/sandboxes/abcdef", f->key, NULL, &r);
	expect_error(&r, 404);
	resp_release(&r);
	request(f, "DELETE", "/sandboxes/..%2F..", f->key, NULL, &r);
	expect_error(&r, 404);
	resp_release(&r);
}

static void test_create_errors(void **state)
{
	struct fx *f = *state;
	struct resp r;
	char *big = malloc(API_BODY_MAX + 64);

	request(f, "POST", "/v2/sandboxes", f->key, "{\"templateID\":", &r);
	expect_error(&r, 400);
	resp_release(&r);
	request(f, "POST", "/sandboxes", f->key, "{\"timeout\":5}", &r);
	expect_error(&r, 400);
	assert_non_null(strstr(jstr(r.json, "message"), "templateID"));
	resp_release(&r);
	request(f, "POST", "/v2/sandboxes", f->key, "{\"templateID\":\"nosuch\"}", &r);
	expect_error(&r, 404);
	resp_release(&r);

	memset(big, ' ', API_BODY_MAX + 10);
	big[0] = '{';
	memcpy(big + API_BODY_MAX + 5, "}", 2);
	request(f, "POST", "/v2/sandboxes", f->key, big, &r);
	expect_error(&r, 413);
	resp_release(&r);
	free(big);

	/* A runtime failure is a 500 with a message and leaves nothing behind. */
	f->rt.fail_create = 1;
	request(f, "POST", "/v2/sandboxes", f->key, "{\"templateID\":\"base\"}", &r);
	expect_error(&r, 500);
	assert_non_null(strstr(jstr(r.json, "message"), "fake runtime failure"));
	resp_release(&r);
	f->rt.fail_create = 0;
	assert_int_equal(registry_count(f->reg), 0);
	assert_int_equal(f->rt.n_destroyed, 1);
	struct store_sbx *rows;
	size_t n;
	assert_int_equal(store_sbx_list(f->store, &rows, &n), 0);
	assert_int_equal(n, 0);
	store_sbx_free_array(rows, n);
}

/* diskSizeMB, warren's extension: bounded, at most the template's, reported as asked. */
static void test_disk_size(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {"\"64\"", "15", "0", "-1", "1.5", "20480", "99999999999"};
	char body[128], path[128];
	struct resp r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"templateID\":\"base\",\"diskSizeMB\":%s}", bad[i]);
		request(f, "POST", "/v2/sandboxes", f->key, body, &r);
		expect_error(&r, 400);
		assert_non_null(strstr(jstr(r.json, "message"), "diskSizeMB"));
		resp_release(&r);
	}
	assert_int_equal(f->rt.n_created, 0);

	request(f, "POST", "/v2/sandboxes", f->key, "{\"templateID\":\"base\",\"diskSizeMB\":64}",
	        &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(f->rt.last_disk_mb, 64);
	snprintf(path, sizeof(path), "/sandboxes/%s", jstr(r.json, "sandboxID"));
	resp_release(&r);
	request(f, "GET", path, f->key, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "diskSizeMB")), 64);
	resp_release(&r);

	/* Absent: the template's size. */
	request(f, "POST", "/v2/sandboxes", f->key, "{\"templateID\":\"base\"}", &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(f->rt.last_disk_mb, 10240);
	resp_release(&r);
}

static void test_lifecycle(void **state)
{
	struct fx *f = *state;
	char id[64], id2[64], path[256], h[128];
	struct in_addr addr;
	struct resp r;
	json_t *it;
	int64_t end1;

	request(f, "POST", "/v2/sandboxes", f->key,
	        "{\"templateID\":\"base\",\"metadata\":{\"user\":\"a b\",\"app\":\"x=y\"},"
	        "\"envVars\":{\"FOO\":\"bar\"},\"timeout\":120}",
	        &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(jstr(r.json, "templateID"), "base");
	assert_string_equal(jstr(r.json, "envdVersion"), "0.6.13");
	assert_true(jstr(r.json, "clientID")[0] != '\0');
	assert_true(json_is_null(json_object_get(r.json, "domain")));
	snprintf(id, sizeof(id), "%s", jstr(r.json, "sandboxID"));
	assert_true(api_sbx_id_valid(id));
	resp_release(&r);
	assert_string_equal(f->rt.last_env[0] + strlen("WARREN_SANDBOX_ID="), id);
	assert_string_equal(f->rt.last_env[2], "WARREN_ENV_VARS={\"FOO\":\"bar\"}");
	assert_int_equal(registry_resolve(f->reg, id, &addr), 0);
	assert_int_equal(ntohl(addr.s_addr), 0x0ac90002); /* slot 1 */

	request(f, "POST", "/sandboxes", f->key,
	        "{\"templateID\":\"base\",\"timeout\":300,\"secure\":true,"
	        "\"allow_internet_access\":true}",
	        &r);
	assert_int_equal(r.status, 201);
	snprintf(id2, sizeof(id2), "%s", jstr(r.json, "sandboxID"));
	resp_release(&r);

	/* Metadata filter, triple-encoded as the SDK sends it. */
	request(f, "GET", "/v2/sandboxes?state=running%2Cpaused&metadata=user%3Da%252520b", f->key,
	        NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 1);
	it = json_array_get(r.json, 0);
	assert_string_equal(jstr(it, "sandboxID"), id);
	assert_string_equal(jstr(it, "state"), "running");
	assert_string_equal(jstr(json_object_get(it, "metadata"), "app"), "x=y");
	assert_int_equal(json_integer_value(json_object_get(it, "cpuCount")), 2);
	assert_int_equal(json_integer_value(json_object_get(it, "memoryMB")), 512);
	assert_int_equal(json_integer_value(json_object_get(it, "diskSizeMB")), 10240);
	assert_true(strlen(jstr(it, "startedAt")) == 24 && jstr(it, "endAt")[23] == 'Z');
	resp_release(&r);

	/* Paging one at a time. */
	request(f, "GET", "/v2/sandboxes?limit=1", f->key, NULL, &r);
	assert_int_equal(json_array_size(r.json), 1);
	assert_non_null(header(&r, "X-Next-Token", h, sizeof(h)));
	it = json_array_get(r.json, 0);
	char first[64];
	snprintf(first, sizeof(first), "%s", jstr(it, "sandboxID"));
	resp_release(&r);
	snprintf(path, sizeof(path), "/v2/sandboxes?limit=1&nextToken=%s", h);
	request(f, "GET", path, f->key, NULL, &r);
	assert_int_equal(json_array_size(r.json), 1);
	assert_string_not_equal(jstr(json_array_get(r.json, 0), "sandboxID"), first);
	assert_null(header(&r, "X-Next-Token", h, sizeof(h)));
	resp_release(&r);
	request(f, "GET", "/v2/sandboxes?state=paused", f->key, NULL, &r);
	assert_int_equal(json_array_size(r.json), 0);
	resp_release(&r);
	request(f, "GET", "/v2/sandboxes?state=bogus", f->key, NULL, &r);
	expect_error(&r, 400);
	resp_release(&r);
	request(f, "GET", "/v2/sandboxes?limit=0", f->key, NULL, &r);
	expect_error(&r, 400);
	resp_release(&r);

	/* Detail, timeout (may shorten), connect (extends only). */
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	request(f, "GET", path, f->key, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "sandboxID"), id);
	assert_true(json_is_boolean(json_object_get(r.json, "allowInternetAccess")));
	resp_release(&r);
	struct registry_info info;
	assert_int_equal(registry_get(f->reg, id, &info), 0);
	end1 = info.end_ms;
	assert_true(end1 - info.started_ms == 120000);
	registry_info_release(&info);

	snprintf(path, sizeof(path), "/sandboxes/%s/timeout", id);
	request(f, "POST", path, f->key, "{\"timeout\":30}", &r);
	assert_int_equal(r.status, 204);
	resp_release(&r);
	assert_int_equal(registry_get(f->reg, id, &info), 0);
	assert_true(info.end_ms < end1 && info.end_ms - now_real_ms() <= 30000);
	registry_info_release(&info);
	snprintf(path, sizeof(path), "/v2/sandboxes/%s/connect", id);
	request(f, "POST", path, f->key, "{}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "sandboxID"), id);
	resp_release(&r);
	assert_int_equal(registry_get(f->reg, id, &info), 0);
	assert_true(info.end_ms - now_real_ms() > 290000);
	end1 = info.end_ms;
	registry_info_release(&info);
	snprintf(path, sizeof(path), "/sandboxes/%s/connect", id);
	request(f, "POST", path, f->key, "{\"timeout\":10}", &r);
	assert_int_equal(r.status, 200);
	resp_release(&r);
	assert_int_equal(registry_get(f->reg, id, &info), 0);
	assert_true(info.end_ms == end1);
	registry_info_release(&info);
	request(f, "POST", path, f->key, "{}", &r);
	expect_error(&r, 400);
	resp_release(&r);

	/* The sampler (every 100 ms here) stores samples; the answer lists them oldest first. */
	snprintf(path, sizeof(path), "/sandboxes/%s/metrics", id);
	for (int i = 0; i < 100; i++) {
		request(f, "GET", path, f->key, NULL, &r);
		assert_int_equal(r.status, 200);
		if (json_array_size(r.json) >= 2)
			break;
		resp_release(&r);
		poll(NULL, 0, 50);
	}
	assert_true(json_array_size(r.json) >= 2);
	assert_true(
	    json_integer_value(json_object_get(json_array_get(r.json, 0), "timestampUnix")) <=
	    json_integer_value(json_object_get(json_array_get(r.json, 1), "timestampUnix")));
	it = json_array_get(r.json, 0);
	assert_int_equal(json_integer_value(json_object_get(it, "memUsed")), 1 << 20);
	assert_int_equal(json_integer_value(json_object_get(it, "memTotal")), 512 << 20);
	assert_true(json_is_number(json_object_get(it, "cpuUsedPct")));
	assert_int_equal(json_integer_value(json_object_get(it, "diskUsed")), 5 << 20);
	assert_int_equal(json_integer_value(json_object_get(it, "diskTotal")), 9000LL << 20);
	assert_true(json_is_string(json_object_get(it, "timestamp")));
	resp_release(&r);
	test_observe_routes(f, id);
	request(f, "GET", "/templates", f->key, NULL, &r);
	assert_int_equal(r.status, 200);
	it = json_array_get(r.json, 0);
	assert_string_equal(jstr(it, "templateID"), "base");
	assert_string_equal(jstr(it, "buildStatus"), "ready");
	assert_int_equal(json_integer_value(json_object_get(it, "memoryMB")), 512);
	resp_release(&r);

	/* Kill: 204, then 404 everywhere. */
	snprintf(path, sizeof(path), "/sandboxes/%s", id);
	request(f, "DELETE", path, f->key, NULL, &r);
	assert_int_equal(r.status, 204);
	resp_release(&r);
	request(f, "DELETE", path, f->key, NULL, &r);
	expect_error(&r, 404);
	resp_release(&r);
	request(f, "GET", path, f->key, NULL, &r);
	expect_error(&r, 404);
	resp_release(&r);
	snprintf(path, sizeof(path), "/v2/sandboxes/%s/connect", id);
	request(f, "POST", path, f->key, "{}", &r);
	expect_error(&r, 404);
	resp_release(&r);
	assert_int_equal(registry_resolve(f->reg, id, &addr), -ENOENT);

	/* The freed slot 1 is reused. */
	request(f, "POST", "/v2/sandboxes", f->key, "{\"templateID\":\"base\"}", &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(registry_resolve(f->reg, jstr(r.json, "sandboxID"), &addr), 0);
	assert_int_equal(ntohl(addr.s_addr), 0x0ac90002);
	resp_release(&r);
}

static void test_cap(void **state)
{
	struct fx *f = *state;
	struct resp r;
	char h[64];

	for (int i = 0; i < 3; i++) {
		request(f, "POST", "/v2/sandboxes", f->key, "{\"templateID\":\"base\"}", &r);
		assert_int_equal(r.status, 201);
		resp_release(&r);
	}
	request(f, "POST", "/v2/sandboxes", f->key, "{\"templateID\":\"base\"}", &r);
	expect_error(&r, 429);
	assert_non_null(header(&r, "Retry-After", h, sizeof(h)));
	resp_release(&r);
}

static void test_reaper(void **state)
{
	struct fx *f = *state;
	struct api_create_req req = {.template_id = "base", .timeout_s = 300};
	struct registry_info a, b;

	assert_int_equal(registry_create(f->reg, &req, &a, NULL), 0);
	assert_int_equal(registry_create(f->reg, &req, &b, NULL), 0);
	/* Deadline reached. */
	assert_int_equal(registry_set_timeout(f->reg, a.id, 0), 0);
	assert_true(wait_gone(f, a.id, 5000));
	assert_true(wait_count(f, 1, 5000));
	/* Init died on its own. */
	struct store_sbx *rows;
	size_t n;
	assert_int_equal(store_sbx_list(f->store, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].id, b.id);
	kill(rows[0].pid, SIGKILL);
	store_sbx_free_array(rows, n);
	assert_true(wait_gone(f, b.id, 5000));
	assert_true(wait_count(f, 0, 5000));
	assert_int_equal(store_sbx_list(f->store, &rows, &n), 0);
	assert_int_equal(n, 0);
	store_sbx_free_array(rows, n);
	registry_info_release(&a);
	registry_info_release(&b);
}

static void test_recover(void **state)
{
	struct fx *f = *state;
	struct api_create_req req = {.template_id = "base", .timeout_s = 300};
	struct registry_info a, b, info;
	struct store_sbx *rows;
	struct registry *reg2;
	size_t n;
	pid_t pid_b = 0;

	assert_int_equal(registry_create(f->reg, &req, &a, NULL), 0);
	assert_int_equal(registry_create(f->reg, &req, &b, NULL), 0);
	/* Simulate a warrend crash: forget the registry without destroying anything, and let
	 * sandbox b die meanwhile. */
	assert_int_equal(store_sbx_list(f->store, &rows, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].id, b.id) == 0)
			pid_b = rows[i].pid;
	store_sbx_free_array(rows, n);
	registry_free(f->reg);
	kill(pid_b, SIGKILL);
	waitpid(pid_b, NULL, 0);

	reg2 = make_registry(f, 3);
	f->reg = reg2;
	f->api.reg = reg2;
	assert_int_equal(registry_recover(reg2), 1);
	assert_int_equal(registry_get(reg2, a.id, &info), 0);
	assert_true(info.end_ms == a.end_ms);
	registry_info_release(&info);
	assert_int_equal(registry_get(reg2, b.id, &info), -ENOENT);
	assert_int_equal(f->rt.n_orphan_checks, 1);
	assert_false(f->rt.keep_unknown);
	assert_int_equal(store_sbx_list(f->store, &rows, &n), 0);
	assert_int_equal(n, 1);
	store_sbx_free_array(rows, n);
	/* The adopted sandbox is watched: its death is noticed. */
	assert_int_equal(store_sbx_list(f->store, &rows, &n), 0);
	kill(rows[0].pid, SIGKILL);
	store_sbx_free_array(rows, n);
	assert_true(wait_gone(f, a.id, 5000));
	registry_info_release(&a);
	registry_info_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_auth_and_routes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disk_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reaper, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
