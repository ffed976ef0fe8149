/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's per-thread file identity, against real files (needs root). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fsuser.h"
#include "users.h"

static char dir[] = "/tmp/warren-fsuser-XXXXXX";
static char passwd_path[512], group_path[512];
static struct users_db db;

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *text, mode_t mode, uid_t uid, gid_t gid)
{
	char p[512];
	FILE *f;

	path_in(p, sizeof(p), name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chown(p, uid, gid), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static int try_open(const char *name, int flags)
{
	char p[512];
	int fd;

	path_in(p, sizeof(p), name);
	fd = open(p, flags | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int setup(void **state)
{
	char p[512];

	(void)state;
	if (getuid() != 0)
		return -1;
	if (!mkdtemp(dir))
		return -1;
	chmod(dir, 0755);
	snprintf(passwd_path, sizeof(passwd_path), "%s/passwd", dir);
	snprintf(group_path, sizeof(group_path), "%s/group", dir);
	write_file("passwd",
	           "root:x:0:0:root:/root:/bin/sh\nuser:x:64001:64001::/home/user:/bin/sh\n", 0644,
	           0, 0);
	write_file("group", "root:x:0:\nuser:x:64001:\nteam:x:64002:user\n", 0644, 0, 0);
	db.passwd_path = passwd_path;
	db.group_path = group_path;
	write_file("secret", "root only\n", 0600, 0, 0);
	write_file("teamfile", "team\n", 0040, 0, 64002);
	path_in(p, sizeof(p), "rootdir");
	mkdir(p, 0755);
	path_in(p, sizeof(p), "open");
	mkdir(p, 0777);
	chmod(p, 0777);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_resolve_default_is_user(void **state)
{
	struct user_info u;

	(void)state;
	assert_int_equal(fsuser_resolve(&db, NULL, &u), 0);
	assert_string_equal(u.name, "user");
	assert_int_equal(u.uid, 64001);
	assert_int_equal(fsuser_resolve(&db, "", &u), 0);
	assert_string_equal(u.name, "user");
	assert_int_equal(fsuser_resolve(&db, "root", &u), 0);
	assert_int_equal(u.uid, 0);
	assert_int_equal(fsuser_resolve(&db, "nobody-here", &u), -ENOENT);
}

/* The databases are read whole: memberships found, a FIFO planted at the path refused at
 * once (never blocking the request), an empty file is no user. */
static void test_database_files(void **state)
{
	struct users_db odd = {0};
	struct user_info u;
	char fifo[512], empty[512];

	(void)state;
	assert_int_equal(users_lookup(&db, "user", &u), 0);
	assert_int_equal(u.n_groups, 2);
	assert_int_equal(u.groups[0], 64001);
	assert_int_equal(u.groups[1], 64002);

	path_in(fifo, sizeof(fifo), "fifo");
	assert_int_equal(mkfifo(fifo, 0644), 0);
	odd.passwd_path = fifo;
	assert_int_equal(users_lookup(&odd, "user", &u), -EINVAL);

	write_file("empty", "", 0644, 0, 0);
	path_in(empty, sizeof(empty), "empty");
	odd.passwd_path = empty;
	assert_int_equal(users_lookup(&odd, "root", &u), -ENOENT);
	odd.passwd_path = passwd_path;
	odd.group_path = fifo; /* no memberships readable: the primary group only */
	assert_int_equal(users_lookup(&odd, "user", &u), 0);
	assert_int_equal(u.n_groups, 1);
}

static void test_user_is_checked_like_the_user(void **state)
{
	struct user_info u;
	struct stat st;
	char p[512];
	int fd;

	(void)state;
	assert_int_equal(fsuser_resolve(&db, "user", &u), 0);
	assert_int_equal(fsuser_become(&u), 0);
	/* Root's private file and directory are closed to the user... */
	assert_int_equal(try_open("secret", O_RDONLY), -EACCES);
	assert_int_equal(try_open("rootdir/new", O_WRONLY | O_CREAT), -EACCES);
	/* ...a group-readable file is open through the supplementary group... */
	assert_int_equal(try_open("teamfile", O_RDONLY), 0);
	/* ...and what the user creates is the user's. */
	path_in(p, sizeof(p), "open/mine");
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	fsuser_restore();
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 64001);
	assert_int_equal(st.st_gid, 64001);
	/* Back to root: everything is open again, and root creates root's files. */
	assert_int_equal(try_open("secret", O_RDONLY), 0);
	assert_int_equal(try_open("teamfile", O_RDONLY), 0);
	assert_int_equal(try_open("rootdir/new", O_WRONLY | O_CREAT), 0);
	path_in(p, sizeof(p), "rootdir/new");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 0);
}

struct peer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int step;
	int result;
};

static void wait_step(struct peer *p, int step)
{
	pthread_mutex_lock(&p->lock);
	while (p->step < step)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

static void set_step(struct peer *p, int step)
{
	pthread_mutex_lock(&p->lock);
	p->step = step;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;

	wait_step(p, 1);
	p->result = try_open("secret", O_RDONLY);
	set_step(p, 2);
	return NULL;
}

static void test_other_threads_keep_root(void **state)
{
	struct peer p = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1};
	struct user_info u;
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, peer_main, &p), 0);
	assert_int_equal(fsuser_resolve(&db, "user", &u), 0);
	assert_int_equal(fsuser_become(&u), 0);
	set_step(&p, 1);
	wait_step(&p, 2);
	/* While this thread is the user, the other one still opens root's file. */
	assert_int_equal(p.result, 0);
	assert_int_equal(try_open("secret", O_RDONLY), -EACCES);
	fsuser_restore();
	pthread_join(t, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resolve_default_is_user),
	    cmocka_unit_test(test_database_files),
	    cmocka_unit_test(test_user_is_checked_like_the_user),
	    cmocka_unit_test(test_other_threads_keep_root),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
