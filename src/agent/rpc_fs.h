/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_RPC_FS_H
#define WARREN_AGENT_RPC_FS_H

/*
 * The filesystem.Filesystem Connect service (WIRE.md §3.5): Stat, MakeDir,
 * Move, ListDir, Remove, CreateWatcher, GetWatcherEvents, RemoveWatcher as
 * unary calls, WatchDir as a server stream. Each call runs as the requesting
 * user (Authorization Basic, else the default user), with that user's
 * fsuid/fsgid/groups on the serving thread (fsuser.h): the kernel checks
 * every access as for that user. Paths are resolved by fsops.h.
 *
 * Watchers: at most RPC_FS_MAX_WATCHERS at once per agent (WatchDir streams
 * and CreateWatcher watchers together). A WatchDir watcher ends with its
 * stream (client gone, deadline, error). A CreateWatcher watcher keeps at
 * most RPC_FS_MAX_QUEUED events between two GetWatcherEvents; past that the
 * queue is dropped and every later GetWatcherEvents fails with
 * resource_exhausted until RemoveWatcher. One not polled for
 * RPC_FS_WATCHER_IDLE_S seconds is removed when a new watcher is created.
 */

#include <pthread.h>

#include "common/http.h"

struct agent_state;

#define RPC_FS_MAX_WATCHERS 64
#define RPC_FS_MAX_QUEUED 4096
#define RPC_FS_WATCHER_IDLE_S 600

struct poll_watcher;

struct rpc_fs {
	struct agent_state *st; /* borrowed */
	pthread_mutex_t lock;   /* guards the fields below */
	struct poll_watcher *watchers;
	unsigned n_watchers; /* streams and poll watchers */
};

/* 0 or -errno. */
int rpc_fs_init(struct rpc_fs *svc, struct agent_state *st);
/* Stops and frees the CreateWatcher watchers. Streams must have ended. */
void rpc_fs_release(struct rpc_fs *svc);

/*
 * Serves POST /filesystem.Filesystem/<method> and always sends exactly one
 * response. The access token has been checked by the caller.
 */
void rpc_fs_serve(struct rpc_fs *svc, struct http_conn *c, struct http_request *req,
                  const char *method);

#endif
