/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pool of ready sandboxes (pool.c and the registry's pool side) against a
 * fake runtime whose "sandboxes" are real child processes, and the agent /init
 * client against a real local HTTP server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "api_json.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/http.h"
#include "common/util.h"
#include "pool.h"
#include "registry.h"
#include "runtime/checkpoint.h"
#include "runtime/sandbox.h"
#include "store.h"

/* ---- fake runtime ---- */

#define MAX_SBX 256

struct rt {
	pthread_mutex_t lock;
	int n_created, n_destroyed, n_failed;
	bool fail_create;
	char ids[MAX_SBX][API_SBX_ID_MAX + 1]; /* every id created, in order */
	pid_t pids[MAX_SBX];
	bool internet[MAX_SBX];
	char env[MAX_SBX][128]; /* the WARREN_ENV_VARS= entry */
};

int rt_template_exists(struct rt *rt, const char *template_id)
{
	(void)rt;
	return strcmp(template_id, "base") == 0 ? 0 : -ENOENT;
}

int rt_create(struct rt *rt, const struct rt_spec *spec, struct rt_sandbox *ret,
              struct warren_error *err)
{
	pid_t pid;
	int i;

	pthread_mutex_lock(&rt->lock);
	if (rt->fail_create || rt->n_created >= MAX_SBX) {
		rt->n_failed++;
		pthread_mutex_unlock(&rt->lock);
		return err_set(err, EIO, "fake runtime failure");
	}
	i = rt->n_created++;
	snprintf(rt->ids[i], sizeof(rt->ids[i]), "%s", spec->id);
	rt->internet[i] = spec->allow_internet;
	for (int k = 0; spec->agent_env[k]; k++)
		if (strncmp(spec->agent_env[k], "WARREN_ENV_VARS=", 16) == 0)
			snprintf(rt->env[i], sizeof(rt->env[i]), "%s", spec->agent_env[k]);
	pid = fork();
	if (pid == 0) {
		syscall(SYS_close_range, 3U, ~0U, 0U);
		for (;;)
			pause();
	}
	rt->pids[i] = pid;
	pthread_mutex_unlock(&rt->lock);
	assert_true(pid > 0);
	ret->pid = pid;
	ret->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	assert_true(ret->pidfd >= 0);
	ret->start_time = 1000 + spec->slot;
	ret->addr.s_addr = htonl(0x0ac90001 + spec->slot);
	return 0;
}

int rt_destroy(struct rt *rt, const char *id, unsigned slot, pid_t pid, uint64_t start_time)
{
	(void)id;
	(void)slot;
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
	(void)rt;
	if (start_time < 1000 || kill(pid, 0) < 0)
		return -ESRCH;
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int rt_disk_attach(struct rt *rt, const char *id, struct warren_error *err)
{
	(void)rt;
	(void)id;
	(void)err;
	return 0;
}

int rt_cleanup_orphans(struct rt *rt, bool (*keep)(const char *id, void *ud), void *ud)
{
	(void)rt;
	(void)keep;
	(void)ud;
	return 0;
}

static int index_of(struct rt *rt, const char *id)
{
	int found = -1;

	pthread_mutex_lock(&rt->lock);
	for (int i = 0; i < rt->n_created; i++)
		if (strcmp(rt->ids[i], id) == 0)
			found = i;
	pthread_mutex_unlock(&rt->lock);
	return found;
}

static bool alive(struct rt *rt, int i)
{
	pid_t pid;

	pthread_mutex_lock(&rt->lock);
	pid = rt->pids[i];
	pthread_mutex_unlock(&rt->lock);
	return kill(pid, 0) == 0;
}

/* ---- fixture ---- */

struct init_call {
	int n;
	bool fail;
	struct in_addr addr;
	char env[256];
};

struct fx {
	char dir[64];
	struct store *store;
	struct rt rt;
	struct registry *reg;
	struct pool *pool;
	struct init_call init;
	pthread_mutex_t init_lock;
};

static int fake_init(void *ud, struct in_addr addr, const char *env_json, const char *token,
                     struct warren_error *err)
{
	struct fx *f = ud;
	bool fail;

	pthread_mutex_lock(&f->init_lock);
	f->init.n++;
	f->init.addr = addr;
	snprintf(f->init.env, sizeof(f->init.env), "%s", env_json);
	fail = f->init.fail;
	pthread_mutex_unlock(&f->init_lock);
	return fail ? err_set(err, EPROTO, "fake /init failure") : 0;
}

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

static void start_pool(struct fx *f, unsigned size)
{
	struct pool_config pc = {
	    .reg = f->reg,
	    .template_id = "base",
	    .size = size,
	    .init = fake_init,
	    .init_ud = f,
	    .backoff_min_ms = 10,
	    .backoff_max_ms = 50,
	};
	assert_int_equal(pool_new(&pc, &f->pool), 0);
}

static struct fx *fx_new(unsigned max)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];

	assert_non_null(f);
	pthread_mutex_init(&f->rt.lock, NULL);
	pthread_mutex_init(&f->init_lock, NULL);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-pool-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/warren.db", f->dir);
	assert_int_equal(store_open(path, &f->store, NULL), 0);
	f->reg = make_registry(f, max);
	assert_non_null(f->reg);
	return f;
}

/* Shutdown as warrend does it: pool first, then every sandbox. */
static void fx_free(struct fx *f)
{
	pool_free(f->pool);
	registry_kill_all(f->reg);
	assert_int_equal(registry_count(f->reg), 0);
	registry_free(f->reg);
	/* Every fake sandbox made was destroyed (a failed create is cleaned up by id too) and
	 * its process is gone. */
	assert_int_equal(f->rt.n_created + f->rt.n_failed, f->rt.n_destroyed);
	for (int i = 0; i < f->rt.n_created; i++)
		assert_false(alive(&f->rt, i));
	store_close(f->store);
	rm_rf(f->dir);
	pthread_mutex_destroy(&f->init_lock);
	pthread_mutex_destroy(&f->rt.lock);
	free(f);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits (bounded) for the pool to hold n ready sandboxes: refills are asynchronous. */
static void wait_ready(struct fx *f, size_t n, size_t created)
{
	int64_t end = mono_ms() + 5000;

	for (;;) {
		int c;

		pthread_mutex_lock(&f->rt.lock);
		c = f->rt.n_created;
		pthread_mutex_unlock(&f->rt.lock);
		/* Count says ready or in the making; created says rt_create returned. The
		 * registry marks a sandbox POOLED right after, so take one claim-probe-free
		 * look at the store too. */
		if (pool_count(f->pool) == n && (size_t)c >= created) {
			struct store_sbx *rows = NULL;
			size_t nr = 0, pooled = 0;

			assert_int_equal(store_sbx_list(f->store, &rows, &nr), 0);
			for (size_t i = 0; i < nr; i++)
				pooled += strcmp(rows[i].state, "pooled") == 0;
			store_sbx_free_array(rows, nr);
			/* ... and the registry has made them claimable (it records them first). */
			if (pooled == n && registry_pool_ready(f->reg, "base") == n)
				return;
		}
		assert_true(mono_ms() < end);
		usleep(1000);
	}
}

static void req_init(struct api_create_req *req, bool internet, const char *env)
{
	memset(req, 0, sizeof(*req));
	snprintf(req->template_id, sizeof(req->template_id), "base");
	req->timeout_s = 300;
	req->allow_internet = internet;
	req->metadata_json = strdup("{\"k\":\"v\"}");
	req->env_json = strdup(env);
}

/* ---- tests ---- */

static void test_pool_size_zero(void **state)
{
	struct fx *f = fx_new(4);
	struct api_create_req req;
	struct registry_info info;

	(void)state;
	start_pool(f, 0);
	assert_null(f->pool);
	assert_int_equal(pool_count(NULL), 0);
	req_init(&req, true, "{}");
	assert_int_equal(pool_claim(f->pool, &req, &info), -ENOENT);
	assert_int_equal(registry_create(f->reg, &req, &info, NULL), 0);
	assert_int_equal(f->rt.n_created, 1);
	registry_info_release(&info);
	api_create_req_release(&req);
	fx_free(f);
}

static void test_fill_invisible_claim(void **state)
{
	struct fx *f = fx_new(8);
	struct api_create_req req;
	struct registry_info info, *list = NULL;
	struct in_addr addr;
	char pooled[2][API_SBX_ID_MAX + 1];
	size_t n;
	int i;

	(void)state;
	start_pool(f, 2);
	wait_ready(f, 2, 2);
	assert_int_equal(f->rt.n_created, 2);
	snprintf(pooled[0], sizeof(pooled[0]), "%s", f->rt.ids[0]);
	snprintf(pooled[1], sizeof(pooled[1]), "%s", f->rt.ids[1]);
	/* Spawned like cold ones, with empty envVars and internet access. */
	for (i = 0; i < 2; i++) {
		assert_string_equal(f->rt.env[i], "WARREN_ENV_VARS={}");
		assert_true(f->rt.internet[i]);
	}

	/* Invisible until claimed. */
	assert_int_equal(registry_list(f->reg, &list, &n), 0);
	assert_int_equal(n, 0);
	registry_info_free_array(list, n);
	for (i = 0; i < 2; i++) {
		assert_int_equal(registry_get(f->reg, pooled[i], &info), -ENOENT);
		assert_int_equal(registry_resolve(f->reg, pooled[i], &addr), -ENOENT);
		assert_int_equal(registry_connect(f->reg, pooled[i], 10, &info), -ENOENT);
		assert_int_equal(registry_kill(f->reg, pooled[i]), -ENOENT);
	}

	/* A claim with no envVars needs no /init; metadata and timeout are the request's. */
	req_init(&req, true, "{}");
	assert_int_equal(pool_claim(f->pool, &req, &info), 0);
	assert_int_equal(f->init.n, 0);
	assert_true(strcmp(info.id, pooled[0]) == 0 || strcmp(info.id, pooled[1]) == 0);
	assert_string_equal(info.metadata_json, "{\"k\":\"v\"}");
	assert_true(info.end_ms - info.started_ms == 300 * 1000);
	assert_int_equal(registry_list(f->reg, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, info.id);
	registry_info_free_array(list, n);
	registry_info_release(&info);
	api_create_req_release(&req);

	/* A claim with envVars sends them to that sandbox's agent. */
	req_init(&req, true, "{\"A\":\"b\"}");
	assert_int_equal(pool_claim(f->pool, &req, &info), 0);
	assert_int_equal(f->init.n, 1);
	assert_string_equal(f->init.env, "{\"A\":\"b\"}");
	assert_int_equal(f->init.addr.s_addr, info.addr.s_addr);
	registry_info_release(&info);

	/* The pool refills after the claims. */
	wait_ready(f, 2, 4);
	assert_int_equal(f->rt.n_created, 4);

	/* A failing /init destroys that sandbox and leaves the create to the cold path. */
	pthread_mutex_lock(&f->init_lock);
	f->init.fail = true;
	pthread_mutex_unlock(&f->init_lock);
	assert_int_equal(f->rt.n_destroyed, 0);
	assert_int_equal(pool_claim(f->pool, &req, &info), -ENOENT);
	assert_int_equal(f->init.n, 2);
	assert_int_equal(f->rt.n_destroyed, 1);
	assert_int_equal(registry_count(f->reg), 2 + pool_count(f->pool));
	assert_int_equal(registry_list(f->reg, &list, &n), 0);
	assert_int_equal(n, 2);
	registry_info_free_array(list, n);
	wait_ready(f, 2, 5);
	api_create_req_release(&req);

	/* A request the pool cannot serve (no internet, other template, another disk size) is
	 * left to cold. */
	req_init(&req, false, "{}");
	assert_int_equal(pool_claim(f->pool, &req, &info), -ENOENT);
	snprintf(req.template_id, sizeof(req.template_id), "other");
	req.allow_internet = true;
	assert_int_equal(pool_claim(f->pool, &req, &info), -ENOENT);
	snprintf(req.template_id, sizeof(req.template_id), "base");
	req.disk_mb = 64;
	assert_int_equal(pool_claim(f->pool, &req, &info), -ENOENT);
	assert_int_equal(pool_count(f->pool), 2);
	api_create_req_release(&req);
	fx_free(f);
}

struct claimer {
	struct fx *f;
	char ids[40][API_SBX_ID_MAX + 1];
	int n, n_pooled;
};

static void *claim_loop(void *arg)
{
	struct claimer *c = arg;

	for (int i = 0; i < 20; i++) {
		struct api_create_req req;
		struct registry_info info;
		int r;

		req_init(&req, true, "{}");
		r = pool_claim(c->f->pool, &req, &info);
		if (r == 0)
			c->n_pooled++;
		else
			r = registry_create(c->f->reg, &req, &info, NULL);
		api_create_req_release(&req);
		if (r == 0) {
			snprintf(c->ids[c->n++], sizeof(c->ids[0]), "%s", info.id);
			registry_info_release(&info);
			registry_kill(c->f->reg, c->ids[c->n - 1]);
		}
	}
	return NULL;
}

static void test_claimed_once(void **state)
{
	struct fx *f = fx_new(16);
	struct claimer c[4] = {{0}};
	pthread_t t[4];
	int total = 0, pooled = 0;

	(void)state;
	start_pool(f, 3);
	wait_ready(f, 3, 3);
	for (int i = 0; i < 4; i++) {
		c[i].f = f;
		assert_int_equal(pthread_create(&t[i], NULL, claim_loop, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* Every create succeeded and every id was handed out exactly once. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(c[i].n, 20);
		total += c[i].n;
		pooled += c[i].n_pooled;
		for (int j = 0; j < c[i].n; j++)
			for (int k = 0; k < 4; k++)
				for (int l = 0; l < c[k].n; l++)
					if (k != i || l != j)
						assert_string_not_equal(c[i].ids[j], c[k].ids[l]);
	}
	assert_int_equal(total, 80);
	assert_true(pooled >= 3);
	fx_free(f);
}

static void test_cap(void **state)
{
	struct fx *f = fx_new(2);
	struct api_create_req req;
	struct registry_info a, b, info;

	(void)state;
	start_pool(f, 2);
	wait_ready(f, 2, 2);
	/* A cold create at the cap evicts a pooled sandbox. */
	req_init(&req, false, "{}");
	assert_int_equal(registry_create(f->reg, &req, &a, NULL), 0);
	assert_int_equal(f->rt.n_created, 3);
	assert_false(f->rt.internet[2]);
	api_create_req_release(&req);
	/* The other one is claimed; then live sandboxes fill the cap and the pool stays empty. */
	req_init(&req, true, "{}");
	assert_int_equal(pool_claim(f->pool, &req, &b), 0);
	assert_int_equal(registry_count(f->reg), 2);
	assert_int_equal(pool_claim(f->pool, &req, &info), -ENOENT);
	assert_int_equal(registry_create(f->reg, &req, &info, NULL), -EAGAIN);
	assert_int_equal(pool_count(f->pool), 0);
	/* A kill makes room for one pooled sandbox, not more. */
	assert_int_equal(registry_kill(f->reg, a.id), 0);
	wait_ready(f, 1, 4);
	assert_int_equal(registry_count(f->reg), 2);
	assert_int_equal(pool_count(f->pool), 1);
	api_create_req_release(&req);
	registry_info_release(&a);
	registry_info_release(&b);
	fx_free(f);
}

static void test_backoff_and_recovery(void **state)
{
	struct fx *f = fx_new(8);

	(void)state;
	f->rt.fail_create = true;
	start_pool(f, 2);
	/* Failures are retried (with a back-off) until the runtime works again. */
	for (int64_t end = mono_ms() + 5000;;) {
		int n;

		pthread_mutex_lock(&f->rt.lock);
		n = f->rt.n_failed;
		pthread_mutex_unlock(&f->rt.lock);
		if (n >= 3)
			break;
		assert_true(mono_ms() < end);
		usleep(1000);
	}
	assert_int_equal(f->rt.n_created, 0);
	pthread_mutex_lock(&f->rt.lock);
	f->rt.fail_create = false;
	pthread_mutex_unlock(&f->rt.lock);
	wait_ready(f, 2, 2);
	fx_free(f);
}

static void test_pooled_init_death(void **state)
{
	struct fx *f = fx_new(8);

	(void)state;
	start_pool(f, 1);
	wait_ready(f, 1, 1);
	/* A pooled sandbox whose init dies is cleaned up and replaced. */
	kill(f->rt.pids[0], SIGKILL);
	wait_ready(f, 1, 2);
	assert_int_equal(f->rt.n_destroyed, 1);
	fx_free(f);
}

static void test_restart(void **state)
{
	struct fx *f = fx_new(8);
	struct api_create_req req;
	struct registry_info info;
	int claimed;

	(void)state;
	start_pool(f, 2);
	wait_ready(f, 2, 2);
	req_init(&req, true, "{}");
	assert_int_equal(pool_claim(f->pool, &req, &info), 0);
	claimed = index_of(&f->rt, info.id);
	assert_true(claimed >= 0);
	api_create_req_release(&req);
	wait_ready(f, 2, 3);
	/* A crash: nothing torn down. */
	pool_free(f->pool);
	f->pool = NULL;
	registry_free(f->reg);
	f->reg = make_registry(f, 8);
	assert_non_null(f->reg);
	/* The claimed sandbox is re-adopted; the unclaimed pooled ones are destroyed. */
	assert_int_equal(registry_recover(f->reg), 1);
	assert_int_equal(registry_count(f->reg), 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(alive(&f->rt, i), i == claimed);
	char id[API_SBX_ID_MAX + 1];
	snprintf(id, sizeof(id), "%s", info.id);
	registry_info_release(&info);
	assert_int_equal(registry_get(f->reg, id, &info), 0);
	assert_string_equal(info.metadata_json, "{\"k\":\"v\"}");
	registry_info_release(&info);
	fx_free(f);
}

/* ---- pool_agent_init over real HTTP ---- */

struct agent_fx {
	int status;
	char path[64];
	char body[256];
	char ctype[64];
};

static void agent_handle(struct http_conn *c, struct http_request *req, void *ud)
{
	struct agent_fx *a = ud;
	struct buf b = BUF_INIT;
	const char *ct = http_header_get(req, "Content-Type");

	snprintf(a->path, sizeof(a->path), "%s %s", req->method, req->path);
	snprintf(a->ctype, sizeof(a->ctype), "%s", ct ? ct : "");
	if (http_body_read_all(c, 4096, &b) == 0)
		snprintf(a->body, sizeof(a->body), "%.*s", (int)b.len, b.data ? b.data : "");
	buf_release(&b);
	if (a->status == 204)
		http_reply(c, 204, NULL, NULL, 0);
	else
		http_reply_error(c, a->status, "nope");
}

static void *serve(void *arg)
{
	http_server_run(arg);
	return NULL;
}

static void test_agent_init(void **state)
{
	struct agent_fx a = {.status = 204};
	struct http_server_config hc = {
	    .host = "127.0.0.1", .listen_fd = -1, .handler = agent_handle, .userdata = &a};
	struct http_server *srv;
	struct warren_error err = {0};
	struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
	pthread_t t;
	uint16_t port;

	(void)state;
	assert_int_equal(http_server_new(&hc, &srv, NULL), 0);
	port = http_server_port(srv);
	assert_int_equal(pthread_create(&t, NULL, serve, srv), 0);

	assert_int_equal(pool_agent_init(lo, port, "{\"A\":\"b c\"}", NULL, 1000, &err), 0);
	assert_string_equal(a.path, "POST /init");
	assert_string_equal(a.ctype, "application/json");
	assert_string_equal(a.body, "{\"envVars\":{\"A\":\"b c\"}}");
	/* A secure sandbox's token rides along; anything but hex is refused before sending. */
	assert_int_equal(pool_agent_init(lo, port, "{}", "0a1b9f", 1000, &err), 0);
	assert_string_equal(a.body, "{\"envVars\":{},\"accessToken\":\"0a1b9f\"}");
	assert_int_equal(pool_agent_init(lo, port, "{}", "0a\"}", 1000, &err), -EINVAL);

	a.status = 401;
	assert_int_equal(pool_agent_init(lo, port, "{}", NULL, 1000, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "401"));

	http_server_stop(srv);
	pthread_join(t, NULL);
	http_server_free(srv);
	/* Nobody listens there any more. */
	memset(&err, 0, sizeof(err));
	assert_true(pool_agent_init(lo, port, "{}", NULL, 1000, &err) < 0);
	assert_true(err.msg[0] != '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pool_size_zero),
	    cmocka_unit_test(test_fill_invisible_claim),
	    cmocka_unit_test(test_claimed_once),
	    cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_backoff_and_recovery),
	    cmocka_unit_test(test_pooled_init_death),
	    cmocka_unit_test(test_restart),
	    cmocka_unit_test(test_agent_init),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
