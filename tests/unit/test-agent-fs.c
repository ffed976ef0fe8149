/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's filesystem code: path expansion and cleaning, Go's mode strings,
 * EntryInfo JSON against real files, ListDir order and depth, mkdir -p, move,
 * rm -rf that never follows links, magic links refused, and the inotify
 * watcher (event mapping, recursion into new directories).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "fsops.h"
#include "fswatch.h"

static char dir[] = "/tmp/warren-fs-XXXXXX";

static void at(char *out, const char *rel)
{
	snprintf(out, FSOPS_PATH_MAX, "%s/%s", dir, rel);
}

static void put(const char *rel, const char *text)
{
	char p[FSOPS_PATH_MAX];
	FILE *f;

	at(p, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rm_rf(dir);
}

static void expect_expand(const char *in, const char *home, const char *workdir, const char *want)
{
	char out[FSOPS_PATH_MAX];

	assert_int_equal(fsops_expand(in, home, workdir, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_expand(void **state)
{
	char out[16];

	(void)state;
	expect_expand("/a/b", "/home/u", NULL, "/a/b");
	expect_expand("~", "/home/u", NULL, "/home/u");
	expect_expand("~/x/y", "/home/u", NULL, "/home/u/x/y");
	expect_expand("x", "/home/u", NULL, "/home/u/x");
	expect_expand("x", "/home/u", "", "/home/u/x");
	expect_expand("x", "/home/u", "/work", "/work/x");
	expect_expand("~/x", "/home/u", "/work", "/home/u/x");
	expect_expand("../../../../etc/passwd", "/home/u", NULL, "/etc/passwd");
	expect_expand("/../..//./etc/../etc/./passwd/", "/", NULL, "/etc/passwd");
	expect_expand("/..", "/", NULL, "/");
	expect_expand("/a/b/..", "/", NULL, "/a");
	expect_expand("/a/b/../..", "/", NULL, "/");
	expect_expand("/a/./b//c/../d", "/", NULL, "/a/b/d");
	expect_expand("/...", "/", NULL, "/...");
	expect_expand("/a/..b/.c", "/", NULL, "/a/..b/.c");
	expect_expand("x", "", NULL, "/x");
	expect_expand("x", "rel", NULL, "/rel/x");
	assert_int_equal(fsops_expand("", "/h", NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(fsops_expand(NULL, "/h", NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(fsops_expand("/0123456789abcdef", "/h", NULL, out, sizeof(out)),
	                 -ENAMETOOLONG);
	assert_string_equal(fsops_basename("/"), "/");
	assert_string_equal(fsops_basename("/a"), "a");
	assert_string_equal(fsops_basename("/a/bc"), "bc");
}

static void expect_mode(mode_t m, const char *want)
{
	char out[FSOPS_MODE_STR_MAX];

	fsops_mode_string(m, out);
	assert_string_equal(out, want);
}

static void test_mode_string(void **state)
{
	(void)state;
	expect_mode(S_IFREG | 0644, "-rw-r--r--");
	expect_mode(S_IFREG | 0, "----------");
	expect_mode(S_IFDIR | 0755, "drwxr-xr-x");
	expect_mode(S_IFDIR | 01777, "dtrwxrwxrwx");
	expect_mode(S_IFLNK | 0777, "Lrwxrwxrwx");
	expect_mode(S_IFREG | 04755, "urwxr-xr-x");
	expect_mode(S_IFREG | 02755, "grwxr-xr-x");
	expect_mode(S_IFDIR | 02775, "dgrwxrwxr-x");
	expect_mode(S_IFCHR | 0666, "Dcrw-rw-rw-");
	expect_mode(S_IFBLK | 0660, "Drw-rw----");
	expect_mode(S_IFIFO | 0600, "prw-------");
	expect_mode(S_IFSOCK | 0777, "Srwxrwxrwx");
}

static void test_entry(void **state)
{
	char p[FSOPS_PATH_MAX], l[FSOPS_PATH_MAX];
	json_t *e = NULL, *md;
	bool is_dir = true;
	struct stat st;

	(void)state;
	put("file.txt", "hello");
	at(p, "file.txt");
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(fsops_entry_path(NULL, p, &e, &is_dir), 0);
	assert_false(is_dir);
	assert_string_equal(json_string_value(json_object_get(e, "name")), "file.txt");
	assert_string_equal(json_string_value(json_object_get(e, "type")), "FILE_TYPE_FILE");
	assert_string_equal(json_string_value(json_object_get(e, "path")), p);
	assert_string_equal(json_string_value(json_object_get(e, "size")), "5");
	assert_int_equal(json_integer_value(json_object_get(e, "mode")), 0640);
	assert_string_equal(json_string_value(json_object_get(e, "permissions")), "-rw-r-----");
	assert_null(json_object_get(e, "symlinkTarget"));
	/* Without a names table, ids are numbers. */
	{
		char uid[16];
		snprintf(uid, sizeof(uid), "%u", (unsigned)st.st_uid);
		assert_string_equal(json_string_value(json_object_get(e, "owner")), uid);
	}
	const char *t = json_string_value(json_object_get(e, "modifiedTime"));
	assert_non_null(t);
	assert_int_equal(t[4], '-');
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[strlen(t) - 1], 'Z');
	json_decref(e);

	/* Metadata: user.e2b.* only, prefix stripped (skipped where tmpfs lacks user xattrs). */
	if (setxattr(p, "user.e2b.k", "v 1", 3, 0) == 0) {
		assert_int_equal(setxattr(p, "user.other", "x", 1, 0), 0);
		assert_int_equal(setxattr(p, "user.e2b.bin", "\xff", 1, 0), 0);
		assert_int_equal(fsops_entry_path(NULL, p, &e, NULL), 0);
		md = json_object_get(e, "metadata");
		assert_non_null(md);
		assert_int_equal(json_object_size(md), 1);
		assert_string_equal(json_string_value(json_object_get(md, "k")), "v 1");
		json_decref(e);
	}

	/* A symlink: its own permissions and size, its target's type and mode. */
	at(l, "link");
	assert_int_equal(symlink(p, l), 0);
	assert_int_equal(fsops_entry_path(NULL, l, &e, &is_dir), 0);
	assert_false(is_dir);
	assert_string_equal(json_string_value(json_object_get(e, "type")), "FILE_TYPE_FILE");
	assert_string_equal(json_string_value(json_object_get(e, "permissions")), "Lrwxrwxrwx");
	assert_int_equal(json_integer_value(json_object_get(e, "mode")), 0640);
	assert_string_equal(json_string_value(json_object_get(e, "symlinkTarget")), p);
	json_decref(e);

	/* A link through /proc/<pid>/root is never followed: no type, its text as target. */
	at(l, "magic");
	assert_int_equal(symlink("/proc/self/root/etc/passwd", l), 0);
	assert_int_equal(fsops_entry_path(NULL, l, &e, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(e, "type")), "FILE_TYPE_UNSPECIFIED");
	assert_string_equal(json_string_value(json_object_get(e, "symlinkTarget")),
	                    "/proc/self/root/etc/passwd");
	json_decref(e);
	at(l, "magic/x");
	assert_int_equal(fsops_entry_path(NULL, l, &e, NULL), -ELOOP);
	assert_int_equal(fsops_entry_path(NULL, "/proc/self/root/etc/passwd", &e, NULL), -ELOOP);
	assert_int_equal(fsops_open("/proc/self/root/etc", O_PATH), -ELOOP);
	assert_int_equal(fsops_open("/proc/self/cwd", O_PATH), -ELOOP);

	at(p, "missing");
	assert_int_equal(fsops_entry_path(NULL, p, &e, NULL), -ENOENT);
	assert_int_equal(fsops_entry_path(NULL, "/", &e, &is_dir), 0);
	assert_true(is_dir);
	assert_string_equal(json_string_value(json_object_get(e, "name")), "/");
	json_decref(e);
}

static void test_list(void **state)
{
	char p[FSOPS_PATH_MAX], q[FSOPS_PATH_MAX];
	json_t *entries = json_array();

	(void)state;
	at(p, "l/b/c/d");
	assert_int_equal(mkdir_p(p, 0755), 0);
	put("l/a.txt", "");
	put("l/b/z.txt", "");
	put("l/b/c/deep", "");
	at(p, "l/b/c");
	at(q, "l/clink");
	assert_int_equal(symlink(p, q), 0); /* listed, never descended into */
	at(p, "l");
	assert_int_equal(fsops_list(NULL, p, 1, entries), 0);
	assert_int_equal(json_array_size(entries), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(entries, 0), "name")),
	                    "a.txt");
	assert_string_equal(json_string_value(json_object_get(json_array_get(entries, 2), "type")),
	                    "FILE_TYPE_DIRECTORY"); /* clink shows its target's type */
	json_array_clear(entries);
	assert_int_equal(fsops_list(NULL, p, 100, entries), 0);
	const char *want[] = {"a.txt", "b", "b/c", "b/c/d", "b/c/deep", "b/z.txt", "clink"};
	assert_int_equal(json_array_size(entries), ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		char full[FSOPS_PATH_MAX + 16];
		snprintf(full, sizeof(full), "%s/%s", p, want[i]);
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(entries, i), "path")), full);
	}
	json_array_clear(entries);
	at(p, "l/a.txt");
	assert_int_equal(fsops_list(NULL, p, 1, entries), -ENOTDIR);
	at(p, "l/none");
	assert_int_equal(fsops_list(NULL, p, 1, entries), -ENOENT);
	json_decref(entries);
}

static void test_mkdir_move_remove(void **state)
{
	char p[FSOPS_PATH_MAX], q[FSOPS_PATH_MAX], outside[FSOPS_PATH_MAX];
	struct stat st;

	(void)state;
	at(p, "m/x/y");
	assert_int_equal(fsops_mkdir_p(p), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(fsops_mkdir_p(p), -EEXIST);
	put("m/file", "1");
	at(p, "m/file");
	assert_int_equal(fsops_mkdir_p(p), -ENOTDIR);
	at(p, "m/file/sub");
	assert_int_equal(fsops_mkdir_p(p), -ENOTDIR);

	at(p, "m/file");
	at(q, "m/new/dir/moved");
	assert_int_equal(fsops_move(p, q), 0);
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(fsops_move(p, q), -ENOENT);

	/* rm -rf removes a link, never what it points to. */
	put("keep", "k");
	at(outside, "keep");
	at(p, "m/x/y/link");
	assert_int_equal(symlink(outside, p), 0);
	at(p, "m/x/y/dirlink");
	at(q, "l");
	assert_int_equal(symlink(q, p), 0);
	at(p, "m");
	assert_int_equal(fsops_remove(p), 0);
	assert_int_equal(stat(p, &st), -1);
	assert_int_equal(stat(outside, &st), 0);
	at(q, "l/a.txt");
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(fsops_remove(p), 0); /* missing */
	at(p, "nodir/x");
	assert_int_equal(fsops_remove(p), 0);
	assert_int_equal(fsops_remove("/"), -EBUSY);
}

struct seen {
	char names[64][64];
	int types[64];
	int n;
};

static int record(const char *name, enum fswatch_type type, void *userdata)
{
	struct seen *s = userdata;

	if (s->n < 64) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
		s->types[s->n] = type;
		s->n++;
	}
	return 0;
}

static bool saw(const struct seen *s, const char *name, enum fswatch_type type)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0 && s->types[i] == (int)type)
			return true;
	return false;
}

static void test_watch(void **state)
{
	char p[FSOPS_PATH_MAX], q[FSOPS_PATH_MAX];
	struct fswatch *w = NULL;
	struct seen s = {0};

	(void)state;
	at(p, "w/old");
	assert_int_equal(mkdir_p(p, 0755), 0);
	at(p, "w");
	assert_int_equal(fswatch_new(p, true, &w), 0);
	assert_string_equal(fswatch_path(w), p);
	put("w/f", "x");
	at(p, "w/f");
	assert_int_equal(chmod(p, 0600), 0);
	at(q, "w/g");
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(unlink(q), 0);
	put("w/old/in", "x");
	assert_int_equal(fswatch_read(w, record, &s), 0);
	assert_true(saw(&s, "f", FSWATCH_CREATE));
	assert_true(saw(&s, "f", FSWATCH_WRITE));
	assert_true(saw(&s, "f", FSWATCH_CHMOD));
	assert_true(saw(&s, "f", FSWATCH_RENAME));
	assert_true(saw(&s, "g", FSWATCH_CREATE));
	assert_true(saw(&s, "g", FSWATCH_REMOVE));
	assert_true(saw(&s, "old/in", FSWATCH_CREATE));

	/* A new directory is watched, and what it already holds is reported. */
	memset(&s, 0, sizeof(s));
	at(p, "w/new/a");
	assert_int_equal(mkdir_p(p, 0755), 0);
	put("w/new/a/early", "x");
	assert_int_equal(fswatch_read(w, record, &s), 0);
	assert_true(saw(&s, "new", FSWATCH_CREATE));
	assert_true(saw(&s, "new/a", FSWATCH_CREATE));
	assert_true(saw(&s, "new/a/early", FSWATCH_CREATE));
	memset(&s, 0, sizeof(s));
	put("w/new/a/late", "x");
	assert_int_equal(fswatch_read(w, record, &s), 0);
	assert_true(saw(&s, "new/a/late", FSWATCH_WRITE));
	fswatch_free(w);

	at(p, "w/old/in");
	assert_int_equal(fswatch_new(p, false, &w), -ENOTDIR);
	at(p, "w/none");
	assert_int_equal(fswatch_new(p, false, &w), -ENOENT);
	assert_string_equal(fswatch_type_name(FSWATCH_CHMOD), "EVENT_TYPE_CHMOD");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expand),
	    cmocka_unit_test(test_mode_string),
	    cmocka_unit_test(test_entry),
	    cmocka_unit_test(test_list),
	    cmocka_unit_test(test_mkdir_move_remove),
	    cmocka_unit_test(test_watch),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
