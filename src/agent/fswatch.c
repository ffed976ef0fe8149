/* SPDX-License-Identifier: Apache-2.0 */
#include "fswatch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"
#include "fsops.h"

#define WATCH_MASK                                                                                 \
	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_MODIFY | IN_DELETE | IN_ATTRIB |             \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define READ_BUF (64 * 1024)
#define MAX_TREE_DEPTH 128

struct watch_dir {
	int wd;
	char *rel; /* "" for the root */
};

struct fswatch {
	int fd;      /* inotify */
	int root_fd; /* O_PATH of the watched directory */
	char *path;
	bool recursive;
	struct watch_dir *dirs;
	size_t n_dirs, cap_dirs;
	char *buf; /* READ_BUF, aligned for struct inotify_event */
};

const char *fswatch_type_name(enum fswatch_type t)
{
	switch (t) {
	case FSWATCH_CREATE:
		return "EVENT_TYPE_CREATE";
	case FSWATCH_WRITE:
		return "EVENT_TYPE_WRITE";
	case FSWATCH_REMOVE:
		return "EVENT_TYPE_REMOVE";
	case FSWATCH_RENAME:
		return "EVENT_TYPE_RENAME";
	case FSWATCH_CHMOD:
		return "EVENT_TYPE_CHMOD";
	}
	return "EVENT_TYPE_UNSPECIFIED";
}

static int open_beneath(int dir_fd, const char *rel, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dir_fd, rel, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

static struct watch_dir *find_wd(struct fswatch *w, int wd)
{
	for (size_t i = 0; i < w->n_dirs; i++)
		if (w->dirs[i].wd == wd)
			return &w->dirs[i];
	return NULL;
}

static void drop_index(struct fswatch *w, size_t i)
{
	free(w->dirs[i].rel);
	w->dirs[i] = w->dirs[--w->n_dirs];
}

/* Watches the directory open as fd under the name rel (copied). */
static int add_watch(struct fswatch *w, int fd, const char *rel)
{
	struct watch_dir *d;
	char p[64];
	char *copy;
	int wd;

	snprintf(p, sizeof(p), "/proc/thread-self/fd/%d", fd);
	wd = inotify_add_watch(w->fd, p, WATCH_MASK);
	if (wd < 0)
		return -errno;
	copy = strdup(rel);
	if (!copy)
		return -ENOMEM;
	d = find_wd(w, wd);
	if (d) {
		/* The same directory again (moved within the tree): its new name. */
		free(d->rel);
		d->rel = copy;
		return 0;
	}
	if (w->n_dirs >= FSWATCH_MAX_DIRS) {
		free(copy);
		inotify_rm_watch(w->fd, wd);
		return -E2BIG;
	}
	if (w->n_dirs == w->cap_dirs) {
		size_t ncap = w->cap_dirs ? w->cap_dirs * 2 : 16;
		struct watch_dir *bigger = realloc(w->dirs, ncap * sizeof(*bigger));
		if (!bigger) {
			free(copy);
			inotify_rm_watch(w->fd, wd);
			return -ENOMEM;
		}
		w->dirs = bigger;
		w->cap_dirs = ncap;
	}
	w->dirs[w->n_dirs].wd = wd;
	w->dirs[w->n_dirs].rel = copy;
	w->n_dirs++;
	return 0;
}

static char *join(const char *rel, const char *name)
{
	char *s;

	if (!*rel)
		return strdup(name);
	if (asprintf(&s, "%s/%s", rel, name) < 0)
		return NULL;
	return s;
}

/*
 * Watches the directory rel (below the root, open as dfd, closed here) and its
 * subdirectories. With fn, its entries are reported as CREATE.
 */
static int add_tree(struct fswatch *w, int dfd, const char *rel, int depth, fswatch_event_fn fn,
                    void *userdata)
{
	struct dirent *de;
	DIR *d;
	int r;

	r = add_watch(w, dfd, rel);
	if (r < 0 || depth >= MAX_TREE_DEPTH) {
		close(dfd);
		return r == -EACCES || r == -ENOENT ? 0 : r;
	}
	d = fdopendir(dfd);
	if (!d) {
		r = -errno;
		close(dfd);
		return r == -EACCES ? 0 : r;
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *child = NULL;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		child = join(rel, de->d_name);
		if (!child) {
			r = -ENOMEM;
			break;
		}
		if (fn) {
			r = fn(child, FSWATCH_CREATE, userdata);
			if (r < 0)
				break;
		}
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		int cfd = open_beneath(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (cfd < 0)
			continue; /* not a directory, gone, or not readable by this user */
		r = add_tree(w, cfd, child, depth + 1, fn, userdata);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

int fswatch_new(const char *path, bool recursive, struct fswatch **ret)
{
	struct fswatch *w = calloc(1, sizeof(*w));
	int r, dfd;

	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->root_fd = -1;
	w->recursive = recursive;
	w->path = strdup(path);
	w->buf = aligned_alloc(__alignof__(struct inotify_event), READ_BUF);
	if (!w->path || !w->buf) {
		r = -ENOMEM;
		goto fail;
	}
	w->root_fd = fsops_open(path, O_PATH | O_DIRECTORY);
	if (w->root_fd < 0) {
		r = w->root_fd;
		goto fail;
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		r = -errno;
		goto fail;
	}
	if (!recursive) {
		r = add_watch(w, w->root_fd, "");
	} else {
		/* Listing needs a readable fd; the root's own access error is the caller's. */
		dfd = open_beneath(w->root_fd, ".", O_RDONLY | O_DIRECTORY);
		if (dfd < 0) {
			r = dfd;
			goto fail;
		}
		r = add_tree(w, dfd, "", 0, NULL, NULL);
	}
	if (r < 0)
		goto fail;
	*ret = w;
	return 0;
fail:
	fswatch_free(w);
	return r;
}

void fswatch_free(struct fswatch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->root_fd >= 0)
		close(w->root_fd);
	for (size_t i = 0; i < w->n_dirs; i++)
		free(w->dirs[i].rel);
	free(w->dirs);
	free(w->buf);
	free(w->path);
	free(w);
}

int fswatch_fd(const struct fswatch *w)
{
	return w->fd;
}

const char *fswatch_path(const struct fswatch *w)
{
	return w->path;
}

/* A directory of the tree moved away: stop watching it and everything below. */
static void forget_subtree(struct fswatch *w, const char *rel)
{
	size_t len = strlen(rel);

	for (size_t i = 0; i < w->n_dirs;) {
		const char *r = w->dirs[i].rel;
		if (strcmp(r, rel) == 0 || (strncmp(r, rel, len) == 0 && r[len] == '/')) {
			inotify_rm_watch(w->fd, w->dirs[i].wd);
			drop_index(w, i);
		} else {
			i++;
		}
	}
}

static int handle_event(struct fswatch *w, const struct inotify_event *ev, fswatch_event_fn fn,
                        void *userdata)
{
	static const struct {
		uint32_t mask;
		enum fswatch_type type;
	} order[] = {
	    {IN_CREATE | IN_MOVED_TO, FSWATCH_CREATE},
	    {IN_MOVED_FROM | IN_MOVE_SELF, FSWATCH_RENAME},
	    {IN_ATTRIB, FSWATCH_CHMOD},
	    {IN_MODIFY, FSWATCH_WRITE},
	    {IN_DELETE | IN_DELETE_SELF, FSWATCH_REMOVE},
	};
	_cleanup_free_ char *name = NULL;
	struct watch_dir *d;
	bool self = !(ev->len > 0 && ev->name[0]);
	int r;

	if (ev->mask & IN_Q_OVERFLOW)
		return -EOVERFLOW;
	d = find_wd(w, ev->wd);
	if (!d)
		return 0;
	if (ev->mask & IN_IGNORED) {
		drop_index(w, (size_t)(d - w->dirs));
		return 0;
	}
	/* A subdirectory's own deletion or move is reported by its parent. */
	if (self && *d->rel)
		return 0;
	name = self ? strdup(".") : join(d->rel, ev->name);
	if (!name)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		if (!(ev->mask & order[i].mask))
			continue;
		r = fn(name, order[i].type, userdata);
		if (r < 0)
			return r;
	}
	if (w->recursive && !self && (ev->mask & IN_ISDIR)) {
		if (ev->mask & IN_MOVED_FROM)
			forget_subtree(w, name);
		if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
			int cfd =
			    open_beneath(w->root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
			if (cfd >= 0) {
				r = add_tree(w, cfd, name, 1, fn, userdata);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

int fswatch_read(struct fswatch *w, fswatch_event_fn fn, void *userdata)
{
	/* A bounded batch: under a flood of events the caller still gets to its deadlines. */
	for (int batch = 0; batch < 16; batch++) {
		ssize_t n = read(w->fd, w->buf, READ_BUF);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		for (char *p = w->buf; p < w->buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			int r = handle_event(w, ev, fn, userdata);
			if (r < 0)
				return r;
			p += sizeof(*ev) + ev->len;
		}
	}
	return 0;
}
