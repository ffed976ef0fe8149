/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite store and API key handling on a temporary database. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "common/util.h"
#include "auth.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[96];
	struct store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/warren.db", f->dir);
	assert_int_equal(store_open(f->path, &f->s, NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->s);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void test_file_mode(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
}

static void test_sbx_round_trip(void **state)
{
	struct fixture *f = *state;
	struct store_sbx a = {
	    .id = "abc123",
	    .template_id = "base",
	    .state = "running",
	    .slot = 7,
	    .pid = 4242,
	    .start_time = 123456789012ULL,
	    .addr = "10.201.0.8",
	    .started_ms = 1700000000123LL,
	    .end_ms = 1700000300123LL,
	    .cpu_count = 2,
	    .memory_mb = 512,
	    .disk_mb = 10240,
	    .allow_internet = false,
	    .metadata = "{\"user\":\"a b\"}",
	    .env = "{\"FOO\":\"bar\"}",
	};
	struct store_sbx b = {.id = "zzz", .template_id = "base", .state = "creating"};
	struct store_sbx *rows;
	size_t n;

	assert_int_equal(store_sbx_put(f->s, &a), 0);
	assert_int_equal(store_sbx_put(f->s, &b), 0);
	assert_int_equal(store_sbx_set_end(f->s, "abc123", 1700000999000LL), 0);
	assert_int_equal(store_sbx_set_end(f->s, "nope", 1), -ENOENT);

	/* Reopen: the data must come from the file, not from a cache. */
	store_close(f->s);
	assert_int_equal(store_open(f->path, &f->s, NULL), 0);
	assert_int_equal(store_sbx_list(f->s, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].id, "abc123");
	assert_string_equal(rows[0].state, "running");
	assert_int_equal(rows[0].slot, 7);
	assert_int_equal(rows[0].pid, 4242);
	assert_true(rows[0].start_time == 123456789012ULL);
	assert_string_equal(rows[0].addr, "10.201.0.8");
	assert_true(rows[0].started_ms == 1700000000123LL);
	assert_true(rows[0].end_ms == 1700000999000LL);
	assert_int_equal(rows[0].memory_mb, 512);
	assert_false(rows[0].allow_internet);
	assert_string_equal(rows[0].metadata, "{\"user\":\"a b\"}");
	assert_string_equal(rows[0].env, "{\"FOO\":\"bar\"}");
	assert_string_equal(rows[1].id, "zzz");
	assert_string_equal(rows[1].metadata, "{}");
	store_sbx_free_array(rows, n);

	assert_int_equal(store_sbx_delete(f->s, "abc123"), 0);
	assert_int_equal(store_sbx_delete(f->s, "abc123"), -ENOENT);
	assert_int_equal(store_sbx_list(f->s, &rows, &n), 0);
	assert_int_equal(n, 1);
	store_sbx_free_array(rows, n);
}

static void test_keys(void **state)
{
	struct fixture *f = *state;
	char k1[AUTH_KEY_LEN + 1], k2[AUTH_KEY_LEN + 1], h[AUTH_HASH_LEN + 1];

	assert_int_equal(store_key_count(f->s), 0);
	assert_int_equal(auth_key_generate(k1), 0);
	assert_int_equal(auth_key_generate(k2), 0);
	assert_true(auth_key_valid_format(k1));
	assert_string_not_equal(k1, k2);
	assert_int_equal(auth_check(f->s, k1), 0);
	assert_int_equal(auth_key_store(f->s, k1), 0);
	assert_int_equal(auth_key_store(f->s, k1), 0); /* idempotent */
	assert_int_equal(store_key_count(f->s), 1);
	assert_int_equal(auth_check(f->s, k1), 1);
	assert_int_equal(auth_check(f->s, k2), 0);
	assert_int_equal(auth_check(f->s, NULL), 0);
	assert_int_equal(auth_check(f->s, ""), 0);

	/* Only the hash is stored: the key itself must not be in the table. */
	assert_int_equal(auth_key_hash(k1, h), 0);
	assert_int_equal(store_key_match(f->s, h), 1);
	assert_int_equal(store_key_match(f->s, k1), 0);
	assert_int_equal(auth_key_store(f->s, "e2b_XYZ"), -EINVAL);
}

static void test_key_format_and_hash(void **state)
{
	char h[AUTH_HASH_LEN + 1];

	assert_true(auth_key_valid_format("e2b_0123456789abcdef0123456789abcdef01234567"));
	assert_false(auth_key_valid_format("e2b_0123456789abcdef0123456789abcdef0123456"));
	assert_false(auth_key_valid_format("e2b_0123456789ABCDEF0123456789abcdef01234567"));
	assert_false(auth_key_valid_format("e2c_0123456789abcdef0123456789abcdef01234567"));
	assert_false(auth_key_valid_format(NULL));
	/* SHA-256("abc") from FIPS 180-2. */
	assert_int_equal(auth_key_hash("abc", h), 0);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Metric samples: only for running rows, range queries, thinning, gone with the row and on reopen.
 */
static void test_metrics(void **state)
{
	struct fixture *f = *state;
	struct store_sbx row = {.id = "m1", .template_id = "base", .state = "running"};
	struct store_metric m = {
	    .cpu_count = 2, .cpu_pct = 12.5, .mem_used = 100, .mem_total = 200};
	struct store_metric *v = NULL;
	const int64_t now = 60000LL * 20000000, hour = 3600 * 1000; /* minute-aligned */
	size_t n = 0;

	m.ts_ms = now;
	assert_int_equal(store_metric_add(f->s, "m1", &m), -ENOENT);
	row.state = "creating";
	assert_int_equal(store_sbx_put(f->s, &row), 0);
	assert_int_equal(store_metric_add(f->s, "m1", &m), -ENOENT);
	row.state = "running";
	assert_int_equal(store_sbx_put(f->s, &row), 0);

	/* 3 h of samples every 5 s. */
	for (int64_t t = now - 3 * hour; t <= now; t += 5000) {
		m.ts_ms = t;
		m.disk_used = t;
		assert_int_equal(store_metric_add(f->s, "m1", &m), 0);
	}
	assert_int_equal(store_metric_list(f->s, "m1", now - 10000, now, 100, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_true(v[0].ts_ms == now - 10000 && v[2].ts_ms == now);
	assert_true(v[0].cpu_pct == 12.5 && v[0].mem_used == 100 && v[2].disk_used == now);
	free(v);
	/* max keeps the newest, still oldest first. */
	assert_int_equal(store_metric_list(f->s, "m1", 0, INT64_MAX, 2, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_true(v[0].ts_ms == now - 5000 && v[1].ts_ms == now);
	free(v);

	/* Thinning: the last hour stays whole (721 samples), older ones one per minute (120). */
	assert_true(store_metric_thin(f->s, now) > 0);
	assert_int_equal(store_metric_list(f->s, "m1", 0, INT64_MAX, 100000, &v, &n), 0);
	assert_int_equal(n, 120 + 721);
	for (size_t i = 1; i < 120; i++)
		assert_true(v[i].ts_ms - v[i - 1].ts_ms == 60000);
	free(v);
	assert_int_equal(store_metric_thin(f->s, now), 0);
	/* A day later everything older than a day is one per 10 minutes. */
	assert_true(store_metric_thin(f->s, now + 25 * hour) > 0);
	assert_int_equal(store_metric_list(f->s, "m1", 0, INT64_MAX, 100000, &v, &n), 0);
	assert_true(n <= 20);
	free(v);

	/* Deleting the row deletes its samples. */
	assert_int_equal(store_sbx_delete(f->s, "m1"), 0);
	assert_int_equal(store_metric_list(f->s, "m1", 0, INT64_MAX, 100, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_file_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sbx_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	    cmocka_unit_test(test_key_format_and_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
