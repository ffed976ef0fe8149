/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's process table against real child processes (no HTTP). */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/util.h"
#include "connect.h"
#include "event.h"
#include "proc.h"

static struct proc_table *table;

static void *reaper_main(void *arg)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (;;) {
		if (sigwait(&set, &sig) == 0)
			proc_table_reap(table);
	}
	return NULL;
}

/* What a subscription delivered, decoded. */
struct result {
	struct buf out, err, pty;
	uint32_t start_pid;
	int n_start, n_end;
	json_t *end;
	bool end_first_after_data; /* no data after the end event */
	int last;                  /* last proc_sub_next return */
};

static void result_release(struct result *r)
{
	buf_release(&r->out);
	buf_release(&r->err);
	buf_release(&r->pty);
	json_decref(r->end);
}

static void collect(struct proc_sub *s, int64_t timeout_ms, struct result *res)
{
	int64_t deadline = now_mono_us() + timeout_ms * 1000;
	char *json;
	size_t len;
	int r;

	memset(res, 0, sizeof(*res));
	res->end_first_after_data = true;
	while ((r = proc_sub_next(s, deadline, &json, &len)) == 1) {
		json_t *m = json_loadb(json, len, 0, NULL), *ev, *v;
		free(json);
		assert_non_null(m);
		ev = json_object_get(m, "event");
		assert_non_null(ev);
		if ((v = json_object_get(ev, "start"))) {
			res->n_start++;
			res->start_pid = (uint32_t)json_integer_value(json_object_get(v, "pid"));
		} else if ((v = json_object_get(ev, "data"))) {
			const char *k;
			json_t *d;
			if (res->n_end)
				res->end_first_after_data = false;
			json_object_foreach(v, k, d)
			{
				struct buf *b = strcmp(k, "stdout") == 0   ? &res->out
				                : strcmp(k, "stderr") == 0 ? &res->err
				                                           : &res->pty;
				assert_int_equal(
				    b64_decode_buf(b, json_string_value(d), json_string_length(d)),
				    0);
			}
		} else if ((v = json_object_get(ev, "end"))) {
			res->n_end++;
			json_decref(res->end);
			res->end = json_incref(v);
		}
		json_decref(m);
	}
	res->last = r;
}

static int spawn(const char *script, bool stdin_pipe, bool pty, int64_t deadline_us,
                 struct proc_sub **ret_sub, uint32_t *ret_pid, struct rpc_error *e)
{
	char *const argv[] = {"sh", "-c", (char *)script, NULL};
	char *const envp[] = {"PATH=/usr/bin:/bin", "TESTVAR=tv", NULL};
	struct proc_spec spec = {
	    .path = "/bin/sh",
	    .argv = argv,
	    .envp = envp,
	    .cwd = "/",
	    .stdin_pipe = stdin_pipe,
	    .pty = pty,
	    .cols = 90,
	    .rows = 33,
	    .deadline_us = deadline_us,
	    .tag = "tagged",
	    .config_json = "{\"cmd\":\"sh\"}",
	};

	return proc_spawn(table, &spec, ret_sub, ret_pid, e);
}

static const char *end_str(const struct result *r, const char *key)
{
	return json_string_value(json_object_get(r->end, key));
}

static void test_exit_code_and_output(void **state)
{
	struct rpc_error e = {0};
	struct proc_sub *s;
	struct result r;
	uint32_t pid;

	assert_int_equal(spawn("echo hello; echo oops >&2; echo $TESTVAR; exit 3", false, false, 0,
	                       &s, &pid, &e),
	                 0);
	collect(s, 5000, &r);
	assert_int_equal(r.last, 0);
	assert_int_equal(r.n_start, 1);
	assert_int_equal(r.start_pid, pid);
	assert_int_equal(proc_sub_pid(s), pid);
	assert_string_equal(r.out.data, "hello\ntv\n");
	assert_string_equal(r.err.data, "oops\n");
	assert_int_equal(r.n_end, 1);
	assert_true(r.end_first_after_data);
	assert_int_equal(json_integer_value(json_object_get(r.end, "exitCode")), 3);
	assert_true(json_is_true(json_object_get(r.end, "exited")));
	assert_string_equal(end_str(&r, "status"), "exit status 3");
	assert_string_equal(end_str(&r, "error"), "exit status 3");
	result_release(&r);
	proc_sub_free(s);

	/* The exited process is retained: Connect replays start + end. */
	assert_int_equal(proc_subscribe(table, pid, NULL, &s), 0);
	collect(s, 5000, &r);
	assert_int_equal(r.n_start, 1);
	assert_int_equal(r.n_end, 1);
	assert_int_equal(r.out.len, 0);
	assert_string_equal(end_str(&r, "status"), "exit status 3");
	result_release(&r);
	proc_sub_free(s);
	/* But it takes no input and no signal. */
	assert_int_equal(proc_signal(table, pid, SIGKILL), -ENOENT);
	assert_int_equal(proc_write_input(table, pid, false, "x", 1), -ENOENT);
}

static void test_stdin_and_second_subscriber(void **state)
{
	struct rpc_error e = {0};
	struct proc_sub *s, *s2;
	struct result r, r2;
	uint32_t pid, found;
	char *json;
	size_t len;

	assert_int_equal(spawn("cat", true, false, 0, &s, &pid, &e), 0);
	assert_int_equal(proc_write_input(table, pid, false, "one\n", 4), 0);
	assert_int_equal(proc_write_input(table, pid, true, "x", 1), -ENOTTY);
	assert_int_equal(proc_resolve(table, 0, "tagged", &found), 0);
	assert_int_equal(found, pid);
	/* Wait until "one" went out before attaching the second subscriber. */
	assert_int_equal(proc_sub_next(s, now_mono_us() + 5000000, &json, &len), 1); /* start */
	free(json);
	assert_int_equal(proc_sub_next(s, now_mono_us() + 5000000, &json, &len), 1); /* one */
	assert_non_null(strstr(json, "b25lCg=="));
	free(json);
	assert_int_equal(proc_subscribe(table, pid, NULL, &s2), 0);
	assert_int_equal(proc_write_input(table, pid, false, "two\n", 4), 0);
	assert_int_equal(proc_close_stdin(table, pid), 0);
	collect(s, 5000, &r);
	collect(s2, 5000, &r2);
	assert_string_equal(r.out.data, "two\n");
	assert_int_equal(r2.n_start, 1);
	assert_int_equal(r2.start_pid, pid);
	assert_string_equal(r2.out.data, "two\n");
	assert_string_equal(end_str(&r, "status"), "exit status 0");
	assert_null(json_object_get(r.end, "exitCode"));
	assert_null(json_object_get(r.end, "error"));
	result_release(&r);
	result_release(&r2);
	proc_sub_free(s);
	proc_sub_free(s2);
}

static void test_no_stdin(void **state)
{
	struct rpc_error e = {0};
	struct proc_sub *s;
	struct result r;
	uint32_t pid;

	assert_int_equal(spawn("cat; sleep 5", false, false, 0, &s, &pid, &e), 0);
	assert_int_equal(proc_write_input(table, pid, false, "x", 1), -EPIPE);
	assert_int_equal(proc_resize(table, pid, 10, 10), -ENOTTY);
	assert_int_equal(proc_signal(table, pid, SIGTERM), 0);
	collect(s, 5000, &r);
	assert_int_equal(json_integer_value(json_object_get(r.end, "exitCode")), -1);
	assert_false(json_is_true(json_object_get(r.end, "exited")));
	assert_string_equal(end_str(&r, "status"), "signal: terminated");
	result_release(&r);
	proc_sub_free(s);
}

static void test_deadline_without_subscriber(void **state)
{
	struct rpc_error e = {0};
	struct proc_sub *s;
	struct result r;
	uint32_t pid;
	int64_t t0 = now_mono_us();

	assert_int_equal(spawn("sleep 20", true, false, t0 + 200000, &s, &pid, &e), 0);
	/* Nobody listens: the lifetime is still enforced. */
	proc_sub_free(s);
	assert_int_equal(proc_subscribe(table, pid, NULL, &s), 0);
	collect(s, 5000, &r);
	assert_int_equal(r.last, 0);
	assert_true(now_mono_us() - t0 >= 200000);
	assert_true(now_mono_us() - t0 < 4000000);
	assert_string_equal(end_str(&r, "status"), "signal: killed");
	result_release(&r);
	proc_sub_free(s);
}

static void test_subscriber_timeout(void **state)
{
	struct rpc_error e = {0};
	struct proc_sub *s;
	uint32_t pid;
	char *json;
	size_t len;

	assert_int_equal(spawn("sleep 20", true, false, 0, &s, &pid, &e), 0);
	assert_int_equal(proc_sub_next(s, now_mono_us() + 1000000, &json, &len), 1);
	free(json);
	assert_int_equal(proc_sub_next(s, now_mono_us() + 50000, &json, &len), -ETIMEDOUT);
	assert_int_equal(proc_signal(table, pid, SIGKILL), 0);
	proc_sub_free(s);
}

static void test_spawn_errors(void **state)
{
	char *const argv[] = {"nope", NULL};
	char *const envp[] = {NULL};
	struct proc_spec spec = {
	    .path = "/nonexistent/nope", .argv = argv, .envp = envp, .cwd = "/"};
	struct rpc_error e = {0};
	struct proc_sub *s = NULL;
	uint32_t pid;

	assert_int_equal(proc_spawn(table, &spec, &s, &pid, &e), -ENOENT);
	assert_string_equal(e.code, "invalid_argument");
	assert_non_null(strstr(e.message, "/nonexistent/nope"));
	spec.path = "/bin/true";
	spec.cwd = "/nonexistent-dir";
	assert_int_equal(proc_spawn(table, &spec, &s, &pid, &e), -ENOENT);
	assert_string_equal(e.code, "invalid_argument");
	assert_non_null(strstr(e.message, "cwd '/nonexistent-dir'"));
	assert_null(s);
	assert_int_equal(proc_subscribe(table, 0x7ffffff0, NULL, &s), -ENOENT);
	assert_int_equal(proc_resolve(table, 0, "no-such-tag", &pid), -ENOENT);
}

static void test_pty(void **state)
{
	struct rpc_error e = {0};
	struct proc_sub *s;
	struct result r;
	uint32_t pid;

	if (access("/dev/ptmx", R_OK | W_OK) != 0)
		skip();
	assert_int_equal(
	    spawn("stty size; read x; echo got $x; stty size", false, true, 0, &s, &pid, &e), 0);
	assert_int_equal(proc_write_input(table, pid, false, "x", 1), -ENOTTY);
	assert_int_equal(proc_close_stdin(table, pid), -ENOTTY);
	assert_int_equal(proc_resize(table, pid, 100, 40), 0);
	assert_int_equal(proc_write_input(table, pid, true, "abc\n", 4), 0);
	collect(s, 5000, &r);
	assert_int_equal(r.out.len + r.err.len, 0);
	assert_non_null(r.pty.data);
	/* The first size may be read before or after the resize; the last one is after. */
	assert_non_null(strstr(r.pty.data, "got abc\r\n40 100\r\n"));
	assert_string_equal(end_str(&r, "status"), "exit status 0");
	result_release(&r);
	proc_sub_free(s);
}

/* Is pid among the running processes of proc_list_json? */
static bool listed(uint32_t pid)
{
	struct buf b = BUF_INIT;
	char needle[32];
	bool found;

	assert_int_equal(proc_list_json(table, &b), 0);
	snprintf(needle, sizeof(needle), "\"pid\":%u}", pid);
	found = b.data && strstr(b.data, needle);
	snprintf(needle, sizeof(needle), "\"pid\":%u,", pid);
	found = found || (b.data && strstr(b.data, needle));
	buf_release(&b);
	return found;
}

/*
 * A subscriber that does not read holds the process back (its queue stays at
 * the high-water mark, the writer blocks), and everything arrives in order
 * once it reads; without a subscriber the process runs to completion.
 */
static void flow_control(bool pty)
{
	/* One message is at most a base64-encoded 32 KiB chunk plus framing. */
	const size_t bound = PROC_SUB_HIGH_WATER + EVENT_DATA_MAX * 4 / 3 + 256;
	const size_t total = 4u * 1024 * 1024;
	struct rpc_error e = {0};
	struct proc_sub *s;
	struct result r;
	int64_t end;
	uint32_t pid;

	if (pty && access("/dev/ptmx", R_OK | W_OK) != 0)
		skip();
	/* stty raw: no \n -> \r\n translation, so byte counts are exact. */
	assert_int_equal(spawn(pty ? "stty raw -echo; head -c 4194304 /dev/zero | tr '\\0' a; "
	                             "printf done"
	                           : "head -c 4194304 /dev/zero | tr '\\0' a; printf done",
	                       false, pty, 0, &s, &pid, &e),
	                 0);
	end = now_mono_us() + 10 * 1000000;
	while (proc_sub_queued(s) < PROC_SUB_HIGH_WATER && now_mono_us() < end)
		usleep(1000);
	assert_true(proc_sub_queued(s) >= PROC_SUB_HIGH_WATER);
	/* Unread for 300 ms: the queue must not grow past the mark, the writer must stay blocked
	 * (unpaused, 4 MiB from /dev/zero take a few milliseconds). */
	end = now_mono_us() + 300000;
	while (now_mono_us() < end) {
		assert_true(proc_sub_queued(s) <= bound);
		usleep(5000);
	}
	assert_true(listed(pid));
	collect(s, 20000, &r);
	assert_int_equal(r.last, 0);
	assert_int_equal(r.n_end, 1);
	{
		struct buf *b = pty ? &r.pty : &r.out;
		assert_int_equal(b->len, total + 4);
		for (size_t i = 0; i < total; i++)
			if (b->data[i] != 'a')
				fail_msg("byte %zu is 0x%02x", i, (unsigned char)b->data[i]);
		assert_memory_equal(b->data + total, "done", 4);
	}
	assert_string_equal(end_str(&r, "status"), "exit status 0");
	result_release(&r);
	proc_sub_free(s);

	/* Nobody listening: output is drained and dropped, the process ends. */
	assert_int_equal(spawn("head -c 4194304 /dev/zero", false, pty, 0, &s, &pid, &e), 0);
	proc_sub_free(s);
	end = now_mono_us() + 10 * 1000000;
	while (listed(pid) && now_mono_us() < end)
		usleep(2000);
	assert_false(listed(pid));
}

static void test_flow_control_pipe(void **state)
{
	flow_control(false);
}

static void test_flow_control_pty(void **state)
{
	flow_control(true);
}

static void test_list(void **state)
{
	struct rpc_error e = {0};
	struct buf b = BUF_INIT;
	struct proc_sub *s;
	uint32_t pid;
	char want[64];

	assert_int_equal(spawn("sleep 20", true, false, 0, &s, &pid, &e), 0);
	assert_int_equal(proc_list_json(table, &b), 0);
	snprintf(want, sizeof(want), "{\"config\":{\"cmd\":\"sh\"},\"pid\":%u,\"tag\":\"tagged\"}",
	         pid);
	assert_non_null(strstr(b.data, want));
	proc_signal(table, pid, SIGKILL);
	proc_sub_free(s);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit_code_and_output),
	    cmocka_unit_test(test_stdin_and_second_subscriber),
	    cmocka_unit_test(test_no_stdin),
	    cmocka_unit_test(test_deadline_without_subscriber),
	    cmocka_unit_test(test_subscriber_timeout),
	    cmocka_unit_test(test_spawn_errors),
	    cmocka_unit_test(test_pty),
	    cmocka_unit_test(test_flow_control_pipe),
	    cmocka_unit_test(test_flow_control_pty),
	    cmocka_unit_test(test_list),
	};
	sigset_t set;
	pthread_t th;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (proc_table_new(&table) < 0 || pthread_create(&th, NULL, reaper_main, NULL) != 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	proc_table_shutdown(table);
	return r;
}
