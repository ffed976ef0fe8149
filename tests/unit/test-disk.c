/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-sandbox disks on real loop devices (needs root and /dev/loop-control;
 * skipped otherwise): create, quota, detach and re-attach with the data kept,
 * re-attach while the file system is still alive elsewhere, destroy without
 * leaving a mount, loop device or file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "runtime/disk.h"

#define OWNER 1234567u

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test-disk-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	disk_destroy(f->dir);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static const char *sub(struct fixture *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

/* Is there (still) a loop device backed by the image? Autoclear may lag a moment. */
static bool loop_gone(struct fixture *f)
{
	char dev[32], img[128];

	snprintf(img, sizeof(img), "%s/disk.img", f->dir);
	for (int i = 0; i < 500; i++) {
		int r = disk_find_loop(img, dev, sizeof(dev));
		if (r == -ENOENT)
			return true;
		usleep(10000);
	}
	return false;
}

/* Writes until the file system refuses; the errno of the refusal. */
static int fill(const char *path, size_t *ret_written)
{
	static char block[65536];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), e = 0;

	assert_true(fd >= 0);
	memset(block, 'x', sizeof(block));
	*ret_written = 0;
	for (;;) {
		ssize_t n = write(fd, block, sizeof(block));
		if (n <= 0) {
			e = n < 0 ? errno : ENOSPC;
			break;
		}
		*ret_written += (size_t)n;
		assert_true(*ret_written < (64u << 20));
	}
	if (e == 0 || fsync(fd) < 0)
		e = e ? e : errno;
	close(fd);
	return e;
}

static void test_create_quota_destroy(void **state)
{
	struct fixture *f = *state;
	struct warren_error err = {0};
	struct disk_usage u;
	struct stat st;
	size_t written;

	assert_int_equal(disk_create(f->dir, 32, OWNER, &err), 0);
	assert_true(disk_mounted(f->dir));
	/* The layers and the root belong to the sandbox's root. */
	assert_int_equal(stat(sub(f, "disk"), &st), 0);
	assert_int_equal(st.st_uid, OWNER);
	assert_int_equal(stat(sub(f, "disk/upper"), &st), 0);
	assert_true(S_ISDIR(st.st_mode) && st.st_uid == OWNER && st.st_gid == OWNER);
	assert_int_equal(stat(sub(f, "disk/work"), &st), 0);
	assert_true(S_ISDIR(st.st_mode) && st.st_uid == OWNER && (st.st_mode & 0777) == 0700);
	/* Sparse: a 32 MiB image takes a fraction of that. */
	assert_int_equal(stat(sub(f, "disk.img"), &st), 0);
	assert_int_equal(st.st_size, 32 << 20);
	assert_true((uint64_t)st.st_blocks * 512 < (16u << 20));

	assert_int_equal(disk_usage(f->dir, &u), 0);
	assert_true(u.total_bytes > (24u << 20) && u.total_bytes <= (32u << 20));
	assert_true(u.used_bytes < u.total_bytes);
	uint64_t used0 = u.used_bytes;

	/* The quota: writes stop with ENOSPC near the size, not before. */
	assert_int_equal(fill(sub(f, "disk/upper/big"), &written), ENOSPC);
	assert_true(written > (20u << 20));
	assert_int_equal(disk_usage(f->dir, &u), 0);
	assert_true(u.used_bytes > used0 + (20u << 20));
	/* A second creation on the same dir is refused, the first left intact. */
	assert_int_equal(disk_create(f->dir, 32, OWNER, &err), -EEXIST);
	assert_true(disk_mounted(f->dir));

	assert_int_equal(disk_destroy(f->dir), 0);
	assert_false(disk_mounted(f->dir));
	assert_int_equal(disk_usage(f->dir, &u), -ENOTCONN);
	assert_int_equal(access(sub(f, "disk.img"), F_OK), -1);
	assert_int_equal(access(sub(f, "disk"), F_OK), -1);
	/* Idempotent. */
	assert_int_equal(disk_destroy(f->dir), 0);
	assert_int_equal(disk_detach(f->dir), 0);
}

static void test_reattach_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct warren_error err = {0};
	char img[128];
	char *data = NULL;

	snprintf(img, sizeof(img), "%s/disk.img", f->dir);
	assert_int_equal(disk_attach(f->dir, &err), -ENOENT);
	assert_int_equal(disk_create(f->dir, 16, OWNER, &err), 0);
	int fd = open(sub(f, "disk/upper/kept"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write_full(fd, "hello", 5), 0);
	close(fd);
	/* Already mounted: a no-op. */
	assert_int_equal(disk_attach(f->dir, &err), 0);

	/* As after a reboot: the mount and the loop device are gone, the image stays. */
	assert_int_equal(disk_detach(f->dir), 0);
	assert_false(disk_mounted(f->dir));
	assert_true(loop_gone(f));
	assert_int_equal(access(img, F_OK), 0);
	assert_int_equal(disk_attach(f->dir, &err), 0);
	assert_true(disk_mounted(f->dir));
	assert_int_equal(read_file(sub(f, "disk/upper/kept"), 64, &data, NULL), 0);
	assert_string_equal(data, "hello");
	free(data);

	assert_int_equal(disk_destroy(f->dir), 0);
	assert_true(loop_gone(f));
}

/*
 * The file system still in use elsewhere (a sandbox's mount namespace holds it)
 * while the host's mount is gone: attach must mount that same loop device, not
 * a second one onto the same image.
 */
static void test_reattach_while_held(void **state)
{
	struct fixture *f = *state;
	struct warren_error err = {0};
	char img[128], dev1[32], dev2[32];
	int go[2], done[2];
	char c;

	snprintf(img, sizeof(img), "%s/disk.img", f->dir);
	assert_int_equal(disk_create(f->dir, 16, OWNER, &err), 0);
	assert_int_equal(disk_find_loop(img, dev1, sizeof(dev1)), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* A private copy of the mount table holds the file system. */
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			_exit(1);
		if (write(done[1], "1", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	assert_int_equal(read(done[0], &c, 1), 1);
	assert_int_equal(disk_detach(f->dir), 0);
	assert_false(disk_mounted(f->dir));
	/* Held by the child's namespace: the device stays. */
	assert_int_equal(disk_find_loop(img, dev2, sizeof(dev2)), 0);
	assert_string_equal(dev1, dev2);
	assert_int_equal(disk_attach(f->dir, &err), 0);
	assert_int_equal(disk_find_loop(img, dev2, sizeof(dev2)), 0);
	assert_string_equal(dev1, dev2);

	assert_int_equal(write(go[1], "1", 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(disk_destroy(f->dir), 0);
	assert_true(loop_gone(f));
	close(go[0]), close(go[1]), close(done[0]), close(done[1]);
}

static void test_bad_args(void **state)
{
	struct fixture *f = *state;
	struct warren_error err = {0};

	assert_int_equal(disk_create(f->dir, DISK_MB_MIN - 1, OWNER, &err), -EINVAL);
	assert_int_equal(disk_create(f->dir, DISK_MB_MAX + 1, OWNER, &err), -EINVAL);
	assert_int_equal(disk_create("relative", 32, OWNER, &err), -EINVAL);
	/* A missing directory: nothing made. */
	assert_true(disk_create("/nonexistent-warren-dir", 32, OWNER, &err) < 0);
	assert_int_equal(access(sub(f, "disk.img"), F_OK), -1);
	assert_int_equal(disk_usage(f->dir, &(struct disk_usage){0}), -ENOTCONN);
}

int main(void)
{
	if (geteuid() != 0 || access("/dev/loop-control", W_OK) < 0) {
		printf("skipping: needs root and /dev/loop-control\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_quota_destroy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reattach_keeps_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reattach_while_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
