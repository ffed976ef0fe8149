/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pure parts of warrend's observability: the Prometheus text format and
 * histograms (prom.c), the log line parser and selection (logs.c), the disk
 * usage walk (metrics.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/util.h"
#include "logs.h"
#include "metrics.h"
#include "prom.h"
#include "runtime/cgroup.h"

static void test_format_double(void **state)
{
	char s[32];

	(void)state;
	prom_format_double(0.001, s);
	assert_string_equal(s, "0.001");
	prom_format_double(0.1, s);
	assert_string_equal(s, "0.1");
	prom_format_double(2.5, s);
	assert_string_equal(s, "2.5");
	prom_format_double(42, s);
	assert_string_equal(s, "42");
	prom_format_double(1.0 / 3.0, s);
	assert_true(strtod(s, NULL) == 1.0 / 3.0);
	prom_format_double(1.0 / 0.0, s);
	assert_string_equal(s, "+Inf");
	prom_format_double(-1.0 / 0.0, s);
	assert_string_equal(s, "-Inf");
	prom_format_double(0.0 / 0.0, s);
	assert_string_equal(s, "NaN");
}

static void test_histogram(void **state)
{
	static const double bounds[] = {0.001, 0.01, 0.1};
	static const double bad[] = {0.1, 0.01};
	struct prom_hist h;
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(prom_hist_init(&h, bad, 2), -EINVAL);
	assert_int_equal(prom_hist_init(&h, bounds, 3), 0);
	/* A value on a bound is in that bucket (le = less or equal). */
	prom_hist_observe(&h, 0.001);
	prom_hist_observe(&h, 0.0005);
	prom_hist_observe(&h, 0.05);
	prom_hist_observe(&h, 7);
	prom_hist_observe(&h, 0.0 / 0.0); /* ignored */
	assert_int_equal(prom_write_hist(&b, "x_seconds", "route=\"a\"", &h), 0);
	assert_string_equal(b.data, "x_seconds_bucket{route=\"a\",le=\"0.001\"} 2\n"
	                            "x_seconds_bucket{route=\"a\",le=\"0.01\"} 2\n"
	                            "x_seconds_bucket{route=\"a\",le=\"0.1\"} 3\n"
	                            "x_seconds_bucket{route=\"a\",le=\"+Inf\"} 4\n"
	                            "x_seconds_sum{route=\"a\"} 7.0515\n"
	                            "x_seconds_count{route=\"a\"} 4\n");
	buf_reset(&b);
	assert_int_equal(prom_write_hist(&b, "y", NULL, &h), 0);
	assert_non_null(strstr(b.data, "y_bucket{le=\"+Inf\"} 4\ny_sum 7.0515\ny_count 4\n"));
	buf_release(&b);
	prom_hist_release(&h);
}

static void test_text(void **state)
{
	struct buf b = BUF_INIT, l = BUF_INIT;

	(void)state;
	assert_int_equal(prom_write_header(&b, "a_total", "counter", "Line\\one\ntwo \"q\""), 0);
	assert_string_equal(b.data,
	                    "# HELP a_total Line\\\\one\\ntwo \"q\"\n# TYPE a_total counter\n");
	assert_int_equal(prom_write_label(&l, true, "k", "v\"\\\n"), 0);
	assert_int_equal(prom_write_label(&l, false, "j", ""), 0);
	assert_string_equal(l.data, "k=\"v\\\"\\\\\\n\",j=\"\"");
	buf_reset(&b);
	assert_int_equal(prom_write_sample(&b, "a_total", l.data, 3), 0);
	assert_int_equal(prom_write_sample(&b, "b", NULL, 0.5), 0);
	assert_string_equal(b.data, "a_total{k=\"v\\\"\\\\\\n\",j=\"\"} 3\nb 0.5\n");
	buf_release(&b);
	buf_release(&l);
}

static void test_render(void **state)
{
	struct prom *p = prom_new();
	struct prom_gauges g = {
	    .running = 3, .paused = 0, .pool = 2, .pool_target = 2, .max_sandboxes = 10};
	struct buf b = BUF_INIT;

	(void)state;
	assert_non_null(p);
	prom_create_done(p, PROM_CREATE_POOL, 0.002);
	prom_create_done(p, PROM_CREATE_COLD, 0.04);
	prom_create_failed(p, PROM_FAIL_CAPACITY);
	prom_request_done(p, PROM_ROUTE_LIST, 0.0001);
	prom_request_done(p, (enum prom_route)99, 1); /* counted as other */
	assert_int_equal(prom_render(p, &g, &b), 0);
	assert_non_null(strstr(b.data, "\nwarren_sandboxes{state=\"running\"} 3\n"));
	assert_non_null(strstr(b.data, "\nwarren_sandbox_creates_total{source=\"pool\"} 1\n"));
	assert_non_null(strstr(b.data, "\nwarren_sandbox_creates_total{source=\"cold\"} 1\n"));
	assert_non_null(
	    strstr(b.data, "\nwarren_sandbox_create_failures_total{reason=\"capacity\"} 1\n"));
	assert_non_null(strstr(b.data, "\nwarren_sandbox_create_seconds_bucket{le=\"0.001\"} 0\n"
	                               "warren_sandbox_create_seconds_bucket{le=\"0.0025\"} 1\n"));
	assert_non_null(strstr(b.data, "\nwarren_sandbox_create_seconds_count 2\n"));
	assert_non_null(
	    strstr(b.data, "\nwarren_http_request_duration_seconds_count{route=\"list\"} 1\n"));
	assert_non_null(
	    strstr(b.data, "\nwarren_http_request_duration_seconds_count{route=\"other\"} 1\n"));
	assert_non_null(strstr(b.data, "\nwarren_pool_sandboxes 2\n"));
	/* One TYPE line per family. */
	assert_null(strstr(strstr(b.data, "# TYPE warren_sandboxes gauge") + 1,
	                   "# TYPE warren_sandboxes gauge"));
	buf_release(&b);
	prom_free(p);
	prom_create_done(NULL, PROM_CREATE_POOL, 1); /* no metrics: a no-op */
}

/* A logger name of 65 characters, one over the limit. */
#define LONG_LOGGER_LINE                                                                           \
	"2026-11-22T01:58:20.123Z "                                                                \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa info msg"

static void test_parse_line(void **state)
{
	struct logs_entry e;
	const char *l;

	(void)state;
	l = "2026-11-22T01:58:20.123Z warren-agent info [abc123] process 7 started";
	assert_int_equal(logs_parse_line(l, strlen(l), &e), 0);
	assert_true(e.ts_ms == 1795312700123LL);
	assert_int_equal(e.level, LOG_INFO);
	assert_int_equal(e.logger_len, 12);
	assert_memory_equal(e.logger, "warren-agent", 12);
	assert_int_equal(e.message_len, strlen("process 7 started"));
	assert_memory_equal(e.message, "process 7 started", e.message_len);

	l = "2026-11-22T01:58:20.123Z a error";
	assert_int_equal(logs_parse_line(l, strlen(l), &e), 0);
	assert_int_equal(e.level, LOG_ERROR);
	assert_int_equal(e.message_len, 0);
	/* "[x]" without the space after it is part of the message. */
	l = "2026-11-22T01:58:20.123Z a warn [x]y";
	assert_int_equal(logs_parse_line(l, strlen(l), &e), 0);
	assert_memory_equal(e.message, "[x]y", 4);

	static const char *const bad[] = {
	    "",
	    "2026-11-22T01:58:20.123Z",
	    "2026-11-22T01:58:20.123Z a",
	    "2026-11-22T01:58:20.123Z a infox msg",
	    "2026-11-22T01:58:20.123Z a fatal msg",
	    "2026-13-22T01:58:20.123Z a info msg",
	    "2026-11-22T24:58:20.123Z a info msg",
	    "2026-11-22 01:58:20.123Z a info msg",
	    "2026-11-22T01:58:20.12xZ a info msg",
	    "1969-11-22T01:58:20.123Z a info msg",
	    "2026-11-22T01:58:20.123Z a/b info msg",
	    "2026-11-22T01:58:20.123Z  info msg",
	    LONG_LOGGER_LINE,
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(logs_parse_line(bad[i], strlen(bad[i]), &e), -EINVAL);
	/* The length is what counts, not a NUL. */
	l = "2026-11-22T01:58:20.123Z a info hello";
	assert_int_equal(logs_parse_line(l, 29, &e), -EINVAL);
}

static void test_set_and_select(void **state)
{
	const char *text = "2026-01-01T00:00:00.000Z a info one\n"
	                   "garbage\n"
	                   "2026-01-01T00:00:01.000Z a warn two needle\n"
	                   "\n"
	                   "2026-01-01T00:00:02.000Z b error three needle\n"
	                   "2026-01-01T00:00:03.000Z b debug four";
	struct logs_set set;
	size_t idx[8];
	const int64_t t0 = 1767225600000LL;

	(void)state;
	assert_int_equal(logs_set_parse(strdup(text), strlen(text), &set), 0);
	assert_int_equal(set.n, 4);
	assert_true(set.v[0].ts_ms == t0 && set.v[3].ts_ms == t0 + 3000);

	struct logs_query q = {.cursor_ms = -1, .limit = 10, .min_level = LOG_DEBUG};
	assert_int_equal(logs_select(&set, &q, idx), 4);
	q.limit = 2;
	assert_int_equal(logs_select(&set, &q, idx), 2);
	assert_true(idx[0] == 0 && idx[1] == 1);
	q.backward = true;
	assert_int_equal(logs_select(&set, &q, idx), 2);
	assert_true(idx[0] == 3 && idx[1] == 2);
	q = (struct logs_query){.cursor_ms = t0 + 1000, .limit = 10, .min_level = LOG_DEBUG};
	assert_int_equal(logs_select(&set, &q, idx), 3);
	assert_int_equal(idx[0], 1);
	q.backward = true;
	assert_int_equal(logs_select(&set, &q, idx), 2);
	assert_true(idx[0] == 1 && idx[1] == 0);
	q = (struct logs_query){.cursor_ms = -1, .limit = 10, .min_level = LOG_WARN};
	assert_int_equal(logs_select(&set, &q, idx), 2);
	q.search = "needle";
	q.min_level = LOG_ERROR;
	assert_int_equal(logs_select(&set, &q, idx), 1);
	assert_int_equal(idx[0], 2);
	q.search = "Needle"; /* case-sensitive */
	assert_int_equal(logs_select(&set, &q, idx), 0);
	q = (struct logs_query){.cursor_ms = -1, .limit = 0};
	assert_int_equal(logs_select(&set, &q, idx), 0);
	logs_set_release(&set);

	enum log_level lv;
	assert_int_equal(logs_level_parse("warn", &lv), 0);
	assert_int_equal(lv, LOG_WARN);
	assert_int_equal(logs_level_parse("WARN", &lv), -EINVAL);
	assert_string_equal(logs_level_name(LOG_ERROR), "error");
}

/* logs_read: the tail of both files, no link followed, an absent log is empty. */
static void test_read(void **state)
{
	char dir[64], p[256];
	struct logs_set set;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-observe-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/sandboxes/s1/upper/var/log", dir);
	assert_int_equal(mkdir_p(p, 0755), 0);
	assert_int_equal(logs_read(dir, "s1", &set), 0);
	assert_int_equal(set.n, 0);
	logs_set_release(&set);
	assert_int_equal(logs_read(dir, "nosuch", &set), 0);
	assert_int_equal(set.n, 0);
	logs_set_release(&set);

	snprintf(p, sizeof(p), "%s/sandboxes/s1/upper" LOG_AGENT_FILE ".1", dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("2026-01-01T00:00:00.000Z a info old", f); /* no final newline */
	fclose(f);
	snprintf(p, sizeof(p), "%s/sandboxes/s1/upper" LOG_AGENT_FILE, dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("2026-01-01T00:00:01.000Z a info new\n", f);
	fclose(f);
	assert_int_equal(logs_read(dir, "s1", &set), 0);
	assert_int_equal(set.n, 2);
	assert_memory_equal(set.v[0].message, "old", 3);
	assert_memory_equal(set.v[1].message, "new", 3);
	logs_set_release(&set);

	/* A link (even to a file with log lines) is not followed. */
	char target[256];
	snprintf(target, sizeof(target), "%s/outside", dir);
	f = fopen(target, "w");
	assert_non_null(f);
	fputs("2026-01-01T00:00:01.000Z host info secret\n", f);
	fclose(f);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink(target, p), 0);
	assert_int_equal(logs_read(dir, "s1", &set), 0);
	assert_int_equal(set.n, 1);
	logs_set_release(&set);

	/* A file larger than the read limit: only complete lines of its tail. */
	assert_int_equal(unlink(p), 0);
	f = fopen(p, "w");
	assert_non_null(f);
	for (int i = 0; i < 60000; i++)
		fprintf(f, "2026-01-01T00:00:02.000Z a info line %d\n", i);
	fclose(f);
	assert_int_equal(logs_read(dir, "s1", &set), 0);
	assert_true(set.n > 1000 && set.n < 60000);
	assert_memory_equal(set.v[set.n - 1].message, "line 59999", 10);
	logs_set_release(&set);
	rm_rf(dir);
}

static void test_dir_usage(void **state)
{
	char dir[64], p[256];
	uint64_t a = 0, b = 0, c = 0;
	int fd, dfd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-observe-XXXXXX");
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(metrics_dir_usage(dfd, 1000, &a), 0);
	snprintf(p, sizeof(p), "%s/sub/deeper", dir);
	assert_int_equal(mkdir_p(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub/deeper/f", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	char block[65536];
	memset(block, 'x', sizeof(block));
	for (int i = 0; i < 16; i++)
		assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
	fsync(fd);
	close(fd);
	/* A link to a big tree is counted as a link, not followed. */
	snprintf(p, sizeof(p), "%s/usr", dir);
	assert_int_equal(symlink("/usr", p), 0);
	assert_int_equal(metrics_dir_usage(dfd, 1000, &b), 0);
	assert_true(b >= a + (1u << 20));
	assert_true(b < a + (2u << 20));
	/* The entry cap bounds the walk. */
	assert_int_equal(metrics_dir_usage(dfd, 1, &c), 0);
	assert_true(c < b);
	close(dfd);
	rm_rf(dir);
}

/* memory.stat / cpu.stat lookups match whole keys at line starts. */
static void test_stat_value(void **state)
{
	const char *v1 = "cache 1\ntotal_cache 5\ninactive_file 2\ntotal_inactive_file 7\n";
	const char *v2 = "anon 9\nfile 11\nactive_file 3\ninactive_file 8";
	uint64_t x = 0;

	(void)state;
	assert_int_equal(cgroup_stat_value(v1, "total_cache", &x), 0);
	assert_int_equal(x, 5);
	assert_int_equal(cgroup_stat_value(v1, "total_inactive_file", &x), 0);
	assert_int_equal(x, 7);
	assert_int_equal(cgroup_stat_value(v2, "file", &x), 0);
	assert_int_equal(x, 11);
	assert_int_equal(cgroup_stat_value(v2, "inactive_file", &x), 0);
	assert_int_equal(x, 8);
	assert_int_equal(cgroup_stat_value(v2, "total", &x), -ENOENT);
	assert_int_equal(cgroup_stat_value("usage_usec x\n", "usage_usec", &x), -ENOENT);
	assert_int_equal(cgroup_stat_value("", "file", &x), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_double), cmocka_unit_test(test_histogram),
	    cmocka_unit_test(test_text),          cmocka_unit_test(test_render),
	    cmocka_unit_test(test_parse_line),    cmocka_unit_test(test_set_and_select),
	    cmocka_unit_test(test_read),          cmocka_unit_test(test_dir_usage),
	    cmocka_unit_test(test_stat_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
