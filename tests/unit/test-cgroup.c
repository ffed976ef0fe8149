/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real cgroups: needs root (skipped otherwise). Creates groups under a
 * test-only parent ("warren-test-<pid>") nested in this process's own group,
 * checks the limits the kernel reports back, that the pids limit bites, that
 * destroy kills a whole process tree and leaves nothing behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/cgroup.h"
#include "runtime/cgroup_internal.h"

struct fixture {
	struct cgroup_mgr *m;
	char parent[64];
};

static int setup(void **state)
{
	static struct fixture f;
	struct warren_error err = {0};

	if (geteuid() != 0)
		return 0;
	snprintf(f.parent, sizeof(f.parent), "warren-test-%d", (int)getpid());
	if (cgroup_mgr_new(f.parent, &f.m, &err) < 0) {
		fprintf(stderr, "cgroup_mgr_new: %s\n", err.msg);
		return -1;
	}
	/* Reap the grandchildren destroy kills, to check they are gone. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f && f->m) {
		int r = cgroup_mgr_remove(f->m);
		cgroup_mgr_free(f->m);
		if (r < 0) {
			fprintf(stderr, "parent group left behind: %s\n", strerror(-r));
			return -1;
		}
	}
	return 0;
}

static uint64_t read_u64(struct cgroup_mgr *m, const char *id, const char *file)
{
	char p[4096];
	_cleanup_free_ char *s = NULL;

	assert_int_equal(cgroup_file_path(m, id, file, p, sizeof(p)), 0);
	assert_int_equal(read_file(p, 4096, &s, NULL), 0);
	return strtoull(s, NULL, 10);
}

static bool group_exists(struct cgroup_mgr *m, const char *id, const char *file)
{
	char p[4096];

	assert_int_equal(cgroup_file_path(m, id, file, p, sizeof(p)), 0);
	*strrchr(p, '/') = '\0';
	return access(p, F_OK) == 0;
}

/* A child that forks n_kids sleepers (as far as the pids limit lets it), reports how many it
 * made on report_fd, then blocks on hold_fd. */
static pid_t spawn_tree(int n_kids, int hold_fd, int report_fd, int go_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		char c;
		int made = 0;

		if (read(go_fd, &c, 1) != 1) /* attached to the group by the parent by now */
			_exit(1);
		for (int i = 0; i < n_kids; i++) {
			pid_t k = fork();
			if (k == 0) {
				(void)!read(hold_fd, &c, 1);
				_exit(0);
			}
			if (k > 0)
				made++;
		}
		(void)!write(report_fd, &made, sizeof(made));
		(void)!read(hold_fd, &c, 1);
		_exit(0);
	}
	return pid;
}

struct listed {
	int n;
	char last[64];
};

static void on_list(const char *id, void *ud)
{
	struct listed *l = ud;

	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", id);
}

static void test_limits_attach_destroy(void **state)
{
	struct fixture *f = *state;
	struct cgroup_limits lim = {.cpu_count = 1, .memory_bytes = 64 << 20, .pids_max = 5};
	struct warren_error err = {0};
	struct cgroup_stats st;
	struct listed l = {0};
	int hold[2], report[2], go[2], made = -1, status, n_reaped = 0;
	int64_t t0, t1, t2;
	pid_t pid, w;

	if (!f) {
		skip();
		return;
	}
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	assert_int_equal(pipe2(report, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);

	t0 = now_mono_us();
	assert_int_equal(cgroup_create(f->m, "t1", &lim, &err), 0);
	assert_int_equal(cgroup_create(f->m, "t1", &lim, &err), -EEXIST);
	t1 = now_mono_us();
	pid = spawn_tree(10, hold[0], report[1], go[0]);
	assert_true(pid > 0);
	assert_int_equal(cgroup_attach(f->m, "t1", pid, &err), 0);
	t2 = now_mono_us();
	printf("cgroup v%d: create %" PRId64 " us, first attach %" PRId64 " us\n",
	       cgroup_mgr_is_v2(f->m) ? 2 : 1, t1 - t0, t2 - t1);

	if (cgroup_mgr_is_v2(f->m)) {
		char p[4096];
		_cleanup_free_ char *s = NULL;
		assert_int_equal(cgroup_file_path(f->m, "t1", "cpu.max", p, sizeof(p)), 0);
		assert_int_equal(read_file(p, 4096, &s, NULL), 0);
		assert_string_equal(s, "100000 100000\n");
		assert_int_equal(read_u64(f->m, "t1", "memory.max"), 64 << 20);
	} else {
		assert_int_equal(read_u64(f->m, "t1", "cpu.cfs_period_us"), 100000);
		assert_int_equal(read_u64(f->m, "t1", "cpu.cfs_quota_us"), 100000);
		assert_int_equal(read_u64(f->m, "t1", "memory.limit_in_bytes"), 64 << 20);
	}
	assert_int_equal(read_u64(f->m, "t1", "pids.max"), 5);

	/* The pids limit bites: 1 + 10 wanted, 5 allowed. */
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(report[0], &made, sizeof(made)), (ssize_t)sizeof(made));
	assert_int_equal(made, 4);
	assert_int_equal(cgroup_read_stats(f->m, "t1", &st), 0);
	assert_int_equal(st.pids, 5);
	assert_true(st.memory_bytes > 0);

	assert_int_equal(cgroup_list(f->m, on_list, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.last, "t1");

	/* Destroy kills the tree although every process is still blocked (hold is open). */
	t0 = now_mono_us();
	assert_int_equal(cgroup_destroy(f->m, "t1"), 0);
	printf("cgroup destroy: %" PRId64 " us\n", now_mono_us() - t0);
	while ((w = waitpid(-1, &status, 0)) > 0) {
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
		n_reaped++;
	}
	assert_int_equal(n_reaped, 5);
	assert_false(group_exists(f->m, "t1", "memory.limit_in_bytes") && !cgroup_mgr_is_v2(f->m));
	assert_false(group_exists(f->m, "t1", "pids.max"));
	assert_false(group_exists(f->m, "t1", "cpu.max") && cgroup_mgr_is_v2(f->m));
	l.n = 0;
	assert_int_equal(cgroup_list(f->m, on_list, &l), 0);
	assert_int_equal(l.n, 0);
	/* Idempotent. */
	assert_int_equal(cgroup_destroy(f->m, "t1"), 0);
	close(hold[0]);
	close(hold[1]);
	close(report[0]);
	close(report[1]);
	close(go[0]);
	close(go[1]);
}

static void test_second_attach_timing(void **state)
{
	struct fixture *f = *state;
	struct cgroup_limits lim = {.cpu_count = 2, .memory_bytes = 128 << 20, .pids_max = 64};
	struct warren_error err = {0};
	int64_t t0, t1;
	int status;
	pid_t pid;

	if (!f) {
		skip();
		return;
	}
	for (int i = 0; i < 3; i++) {
		pid = fork();
		if (pid == 0) {
			pause();
			_exit(0);
		}
		t0 = now_mono_us();
		assert_int_equal(cgroup_create(f->m, "t2", &lim, &err), 0);
		assert_int_equal(cgroup_attach(f->m, "t2", pid, &err), 0);
		t1 = now_mono_us();
		printf("cgroup create+attach #%d: %" PRId64 " us\n", i + 2, t1 - t0);
		if (!cgroup_mgr_is_v2(f->m))
			assert_int_equal(read_u64(f->m, "t2", "cpu.cfs_quota_us"), 200000);
		assert_int_equal(cgroup_destroy(f->m, "t2"), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
	}
}

static void test_bad_ids(void **state)
{
	struct fixture *f = *state;
	struct cgroup_limits lim = {.cpu_count = 1, .memory_bytes = 1 << 26, .pids_max = 8};
	struct warren_error err = {0};

	if (!f) {
		skip();
		return;
	}
	assert_int_equal(cgroup_create(f->m, "../x", &lim, &err), -EINVAL);
	assert_int_equal(cgroup_create(f->m, "", &lim, &err), -EINVAL);
	assert_int_equal(cgroup_create(f->m, "a/b", &lim, &err), -EINVAL);
	assert_int_equal(cgroup_destroy(f->m, ".."), -EINVAL);
	assert_int_equal(cgroup_attach(f->m, "nope", getpid(), &err), -ENOENT);
	assert_int_equal(cgroup_destroy(f->m, "nope"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_ids),
	    cmocka_unit_test(test_limits_attach_destroy),
	    cmocka_unit_test(test_second_attach_timing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
