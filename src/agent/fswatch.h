/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_FSWATCH_H
#define WARREN_AGENT_FSWATCH_H

/*
 * A directory watcher on inotify, with envd's event model (fsnotify's
 * mapping): CREATE (IN_CREATE, IN_MOVED_TO), RENAME (IN_MOVED_FROM, the
 * watched directory moved), CHMOD (IN_ATTRIB), WRITE (IN_MODIFY), REMOVE
 * (IN_DELETE, the watched directory deleted). One inotify event can give
 * several, reported in that order. Names are relative to the watched
 * directory ("." for the directory itself).
 *
 * Recursive watchers also watch every subdirectory, including those created or
 * moved in later; the entries found in such a new directory when its watch is
 * added are reported as CREATE (so files made right after a mkdir are not
 * missed; one may then be reported twice). A directory moved away is no longer
 * watched. Directories are opened below the watched one with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and the watch is put on the
 * open directory itself, so a symlink never redirects a watch. Access is
 * checked with the calling thread's identity (see fsuser.h) when a watch is
 * added: call fswatch_new() and fswatch_read() as the requesting user.
 *
 * Not thread-safe: one thread uses a watcher at a time.
 */

#include <stdbool.h>

/* At most this many directories are watched by one recursive watcher. */
#define FSWATCH_MAX_DIRS 8192

enum fswatch_type {
	FSWATCH_CREATE = 1,
	FSWATCH_WRITE = 2,
	FSWATCH_REMOVE = 3,
	FSWATCH_RENAME = 4,
	FSWATCH_CHMOD = 5,
};

/* "EVENT_TYPE_CREATE" etc. */
const char *fswatch_type_name(enum fswatch_type t);

struct fswatch;

/*
 * Watches the directory at path (a clean absolute path, resolved as fsops_open
 * does). -ENOTDIR when it is not a directory, -E2BIG when a recursive watch
 * would pass FSWATCH_MAX_DIRS, -errno otherwise.
 */
int fswatch_new(const char *path, bool recursive, struct fswatch **ret);
void fswatch_free(struct fswatch *w);

/* The inotify fd, to poll() for POLLIN. Owned by the watcher. */
int fswatch_fd(const struct fswatch *w);
/* The watched path, as given. */
const char *fswatch_path(const struct fswatch *w);

/* Called per event; a negative return stops fswatch_read() with that value. */
typedef int (*fswatch_event_fn)(const char *name, enum fswatch_type type, void *userdata);

/*
 * Reads the pending events without blocking (at most a bounded batch: poll
 * again for more) and calls fn for each. Returns 0,
 * -EOVERFLOW when the kernel's queue overflowed (events were lost), -E2BIG
 * when a new directory would pass FSWATCH_MAX_DIRS, or fn's negative value.
 */
int fswatch_read(struct fswatch *w, fswatch_event_fn fn, void *userdata);

#endif
