/* SPDX-License-Identifier: Apache-2.0 */
#include "rpc_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "connect.h"
#include "fsops.h"
#include "fsuser.h"
#include "fswatch.h"
#include "pjson.h"
#include "state.h"
#include "users.h"

#define FS_MAX_MESSAGE (1024 * 1024)
#define DEFAULT_KEEPALIVE_S 90

#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

static void names_freep(struct fsops_names **nm)
{
	fsops_names_free(*nm);
}
#define _cleanup_names_ __attribute__((cleanup(names_freep)))

static void buf_releasep(struct buf *b)
{
	buf_release(b);
}
#define _cleanup_buf_ __attribute__((cleanup(buf_releasep)))

/* ---- transport helpers ---- */

/* Reads the request: one envelope for a stream, a plain JSON body for a unary call. */
static int read_request(struct http_conn *c, struct http_request *req, bool stream, json_t **ret,
                        struct rpc_error *e)
{
	_cleanup_buf_ struct buf body = BUF_INIT;
	const char *msg;
	size_t len;

	if (!connect_content_type_is(req, stream ? "application/connect+json" : "application/json"))
		return rpc_fail(e, "invalid_argument", "unsupported content type: expected %s",
		                stream ? "application/connect+json" : "application/json");
	if (connect_read_body(c, FS_MAX_MESSAGE, &body, e) < 0)
		return -1;
	msg = body.data ? body.data : "";
	len = body.len;
	if (stream && connect_unenvelope(msg, len, &msg, &len, e) < 0)
		return -1;
	return pj_parse_message(msg, len, ret, e) < 0 ? -1 : 0;
}

static void stream_fail(struct http_conn *c, const struct rpc_error *e)
{
	if (connect_stream_start(c) >= 0)
		connect_stream_end(c, e);
}

static int oom(struct rpc_error *e)
{
	return rpc_fail(e, "resource_exhausted", "out of memory");
}

/* ---- the requesting user ---- */

struct fs_user {
	struct user_info u;
	bool switched;
};

/* Finds the user of a request (Authorization Basic, else the default user). */
static int resolve_user(struct rpc_fs *svc, const struct http_request *req, struct fs_user *fu,
                        struct rpc_error *e)
{
	return agent_state_request_user(svc->st, req, &fu->u, e);
}

/* Takes the user's file identity on this thread (a no-op when the agent is that user). */
static int become(struct fs_user *fu, struct rpc_error *e)
{
	int r;

	if (geteuid() != 0) {
		/* Host runs as a plain user: only that user is possible. */
		if (fu->u.uid != geteuid())
			return rpc_fail(e, "permission_denied",
			                "cannot act as '%s': the agent is not running as root",
			                fu->u.name);
		return 0;
	}
	r = fsuser_become(&fu->u);
	if (r < 0)
		return rpc_fail(e, "internal", "cannot switch to user '%s': %s", fu->u.name,
		                strerror(-r));
	fu->switched = true;
	return 0;
}

static void unbecome(struct fs_user *fu)
{
	if (fu->switched)
		fsuser_restore();
	fu->switched = false;
}

/* The absolute path of a request's path field (required). */
static int request_path(struct rpc_fs *svc, json_t *msg, const char *field, const char *snake,
                        const struct fs_user *fu, char *out, struct rpc_error *e)
{
	char workdir[FSOPS_PATH_MAX];
	const char *p = NULL;
	int r;

	if (pj_string(msg, field, snake, &p, e) < 0)
		return -1;
	if (!p || !*p)
		return rpc_fail(e, "invalid_argument", "%s is required", field);
	if (strlen(p) != json_string_length(pj_field(msg, field, snake)))
		return rpc_fail(e, "invalid_argument", "%s contains a NUL byte", field);
	agent_state_default_workdir(svc->st, workdir, sizeof(workdir));
	r = fsops_expand(p, fu->u.home, workdir, out, FSOPS_PATH_MAX);
	if (r < 0)
		return rpc_fail(e, "invalid_argument", "invalid %s '%.200s': %s", field, p,
		                strerror(-r));
	return 0;
}

/*
 * Maps an errno of an operation on path to a Connect error. what is the
 * action in the message: "stat", "list", ...
 */
static int fs_fail(struct rpc_error *e, int err, const char *what, const char *path,
                   const struct fs_user *fu)
{
	switch (err) {
	case -ENOENT:
		return rpc_fail(e, "not_found", "cannot %s '%s': no such file or directory", what,
		                path);
	case -EACCES:
	case -EPERM:
		return rpc_fail(e, "permission_denied",
		                "permission denied: user '%s' cannot %s '%s'", fu->u.name, what,
		                path);
	case -EROFS:
		return rpc_fail(e, "permission_denied",
		                "cannot %s '%s': read-only file system (files of the template "
		                "are read-only)",
		                what, path);
	case -ELOOP:
		return rpc_fail(e, "invalid_argument",
		                "cannot %s '%s': too many levels of symbolic links, or a link "
		                "through /proc (not followed)",
		                what, path);
	case -ENAMETOOLONG:
		return rpc_fail(e, "invalid_argument", "cannot %s '%s': name too long", what, path);
	case -ENOSPC:
	case -EDQUOT:
		return rpc_fail(e, "resource_exhausted", "cannot %s '%s': no space left", what,
		                path);
	case -ENOTDIR:
		return rpc_fail(e, "invalid_argument",
		                "cannot %s '%s': a component is not a directory", what, path);
	case -EEXIST:
	case -ENOTEMPTY:
		return rpc_fail(e, "already_exists", "cannot %s '%s': %s", what, path,
		                strerror(-err));
	case -EISDIR:
	case -EINVAL:
	case -EBUSY:
		return rpc_fail(e, "invalid_argument", "cannot %s '%s': %s", what, path,
		                strerror(-err));
	case -ENOMEM:
		return oom(e);
	default:
		return rpc_fail(e, "internal", "cannot %s '%s': %s", what, path, strerror(-err));
	}
}

/* {"<key>": value} appended to out (value is consumed). */
static int reply_with(struct buf *out, const char *key, json_t *value, struct rpc_error *e)
{
	_cleanup_json_ json_t *o = json_object();
	_cleanup_free_ char *s = NULL;

	if (!o || !value || json_object_set_new(o, key, value) < 0)
		return oom(e);
	s = json_dumps(o, JSON_COMPACT);
	if (!s || buf_puts(out, s) < 0)
		return oom(e);
	return 0;
}

/* ---- unary calls ---- */

static int do_stat(struct rpc_fs *svc, json_t *msg, struct fs_user *fu, struct buf *out,
                   struct rpc_error *e)
{
	_cleanup_names_ struct fsops_names *nm = fsops_names_new(&svc->st->users);
	char path[FSOPS_PATH_MAX];
	json_t *entry = NULL;
	int r;

	if (!nm)
		return oom(e);
	if (request_path(svc, msg, "path", NULL, fu, path, e) < 0 || become(fu, e) < 0)
		return -1;
	r = fsops_entry_path(nm, path, &entry, NULL);
	unbecome(fu);
	if (r == -ENOTDIR)
		r = -ENOENT;
	if (r < 0)
		return fs_fail(e, r, "stat", path, fu);
	return reply_with(out, "entry", entry, e);
}

static int do_list_dir(struct rpc_fs *svc, json_t *msg, struct fs_user *fu, struct buf *out,
                       struct rpc_error *e)
{
	_cleanup_names_ struct fsops_names *nm = fsops_names_new(&svc->st->users);
	char path[FSOPS_PATH_MAX];
	json_t *entries = json_array();
	uint32_t depth = 1;
	int r;

	if (!nm || !entries) {
		json_decref(entries);
		return oom(e);
	}
	if (request_path(svc, msg, "path", NULL, fu, path, e) < 0 ||
	    pj_uint32(msg, "depth", NULL, &depth, e) < 0 || become(fu, e) < 0) {
		json_decref(entries);
		return -1;
	}
	r = fsops_list(nm, path, depth, entries);
	unbecome(fu);
	if (r < 0) {
		json_decref(entries);
		if (r == -ENOTDIR)
			return rpc_fail(e, "invalid_argument", "path is not a directory: %s", path);
		if (r == -E2BIG)
			return rpc_fail(e, "resource_exhausted",
			                "more than %d entries below '%s': list fewer levels",
			                FSOPS_LIST_MAX_ENTRIES, path);
		return fs_fail(e, r, "list", path, fu);
	}
	return reply_with(out, "entries", entries, e);
}

static int do_make_dir(struct rpc_fs *svc, json_t *msg, struct fs_user *fu, struct buf *out,
                       struct rpc_error *e)
{
	_cleanup_names_ struct fsops_names *nm = fsops_names_new(&svc->st->users);
	char path[FSOPS_PATH_MAX];
	json_t *entry = NULL;
	int r;

	if (!nm)
		return oom(e);
	if (request_path(svc, msg, "path", NULL, fu, path, e) < 0 || become(fu, e) < 0)
		return -1;
	r = fsops_mkdir_p(path);
	if (r == 0)
		r = fsops_entry_path(nm, path, &entry, NULL);
	unbecome(fu);
	if (r == -EEXIST)
		return rpc_fail(e, "already_exists", "directory already exists: %s", path);
	if (r == -ENOTDIR)
		return rpc_fail(e, "invalid_argument",
		                "path already exists but it is not a directory: %s", path);
	if (r < 0)
		return fs_fail(e, r, "create directory", path, fu);
	return reply_with(out, "entry", entry, e);
}

static int do_move(struct rpc_fs *svc, json_t *msg, struct fs_user *fu, struct buf *out,
                   struct rpc_error *e)
{
	_cleanup_names_ struct fsops_names *nm = fsops_names_new(&svc->st->users);
	char src[FSOPS_PATH_MAX], dst[FSOPS_PATH_MAX];
	json_t *entry = NULL;
	int r;

	if (!nm)
		return oom(e);
	if (request_path(svc, msg, "source", NULL, fu, src, e) < 0 ||
	    request_path(svc, msg, "destination", NULL, fu, dst, e) < 0 || become(fu, e) < 0)
		return -1;
	r = fsops_move(src, dst);
	if (r == 0)
		r = fsops_entry_path(nm, dst, &entry, NULL);
	unbecome(fu);
	if (r == -EXDEV)
		return rpc_fail(e, "failed_precondition",
		                "cannot move '%s' to '%s': they are on different filesystems", src,
		                dst);
	if (r == -ENOENT)
		return rpc_fail(e, "not_found", "cannot move '%s': no such file or directory", src);
	if (r < 0)
		return fs_fail(e, r, "move", src, fu);
	return reply_with(out, "entry", entry, e);
}

static int do_remove(struct rpc_fs *svc, json_t *msg, struct fs_user *fu, struct buf *out,
                     struct rpc_error *e)
{
	char path[FSOPS_PATH_MAX];
	int r;

	if (request_path(svc, msg, "path", NULL, fu, path, e) < 0 || become(fu, e) < 0)
		return -1;
	r = fsops_remove(path);
	unbecome(fu);
	if (r == -EBUSY)
		return rpc_fail(e, "invalid_argument", "cannot remove '%s': it is in use", path);
	if (r < 0)
		return fs_fail(e, r, "remove", path, fu);
	return buf_puts(out, "{}") < 0 ? oom(e) : 0;
}

/* ---- watchers ---- */

struct watch_args {
	char path[FSOPS_PATH_MAX];
	bool recursive;
	bool include_entry;
};

static int parse_watch(struct rpc_fs *svc, json_t *msg, const struct fs_user *fu,
                       struct watch_args *a, struct rpc_error *e)
{
	bool network = false;

	if (request_path(svc, msg, "path", NULL, fu, a->path, e) < 0 ||
	    pj_bool(msg, "recursive", NULL, &a->recursive, e) < 0 ||
	    pj_bool(msg, "includeEntry", "include_entry", &a->include_entry, e) < 0 ||
	    pj_bool(msg, "allowNetworkMounts", "allow_network_mounts", &network, e) < 0)
		return -1;
	return 0;
}

/* Starts a watcher as the (already switched) user; fills e on failure. */
static int open_watch(const struct watch_args *a, const struct fs_user *fu, struct fswatch **ret,
                      struct rpc_error *e)
{
	int r = fswatch_new(a->path, a->recursive, ret);

	if (r == -ENOTDIR)
		return rpc_fail(e, "invalid_argument", "path %s not a directory", a->path);
	if (r == -E2BIG)
		return rpc_fail(e, "resource_exhausted",
		                "more than %d directories below '%s' to watch", FSWATCH_MAX_DIRS,
		                a->path);
	if (r < 0)
		return fs_fail(e, r, "watch", a->path, fu);
	return 0;
}

static int watch_overflow_fail(struct rpc_error *e, int r, const char *path)
{
	if (r == -EOVERFLOW)
		return rpc_fail(e, "resource_exhausted",
		                "too many events under '%s': the kernel's event queue overflowed "
		                "and events were lost",
		                path);
	if (r == -E2BIG)
		return rpc_fail(e, "resource_exhausted",
		                "more than %d directories below '%s' to watch", FSWATCH_MAX_DIRS,
		                path);
	return rpc_fail(e, "internal", "watching '%s': %s", path, strerror(-r));
}

/* A FilesystemEvent; with include_entry, the entry when it can be stat-ed. */
static json_t *event_json(struct fsops_names *nm, const char *root, const char *name,
                          enum fswatch_type type, bool include_entry)
{
	json_t *ev = json_object();

	if (!ev || json_object_set_new(ev, "name", json_string(name)) < 0 ||
	    json_object_set_new(ev, "type", json_string(fswatch_type_name(type))) < 0) {
		json_decref(ev);
		return NULL;
	}
	if (include_entry && type != FSWATCH_REMOVE && type != FSWATCH_RENAME) {
		_cleanup_free_ char *p = NULL;
		json_t *entry = NULL;
		if (strcmp(name, ".") == 0)
			p = strdup(root);
		else if (asprintf(&p, "%s/%s", strcmp(root, "/") == 0 ? "" : root, name) < 0)
			p = NULL;
		if (p && fsops_entry_path(nm, p, &entry, NULL) == 0)
			json_object_set_new(ev, "entry", entry);
	}
	return ev;
}

/* Registers one more watcher; false past the cap. */
static bool watcher_slot_take(struct rpc_fs *svc)
{
	bool ok;

	pthread_mutex_lock(&svc->lock);
	ok = svc->n_watchers < RPC_FS_MAX_WATCHERS;
	if (ok)
		svc->n_watchers++;
	pthread_mutex_unlock(&svc->lock);
	return ok;
}

static void watcher_slot_put(struct rpc_fs *svc)
{
	pthread_mutex_lock(&svc->lock);
	svc->n_watchers--;
	pthread_mutex_unlock(&svc->lock);
}

static int too_many_watchers(struct rpc_error *e)
{
	return rpc_fail(e, "resource_exhausted",
	                "too many watchers: at most %d at once in a sandbox (stop one first)",
	                RPC_FS_MAX_WATCHERS);
}

struct stream_ctx {
	struct http_conn *c;
	struct fsops_names *nm;
	const char *root;
	bool include_entry;
	int64_t last_send_us;
};

static int send_json(struct stream_ctx *s, json_t *msg)
{
	_cleanup_free_ char *str = json_dumps(msg, JSON_COMPACT);
	int r;

	if (!str)
		return -ENOMEM;
	r = connect_stream_send(s->c, str, strlen(str));
	if (r >= 0)
		s->last_send_us = now_mono_us();
	return r < 0 ? -EPIPE : 0;
}

static int stream_event(const char *name, enum fswatch_type type, void *userdata)
{
	struct stream_ctx *s = userdata;
	_cleanup_json_ json_t *msg = json_object();
	json_t *ev = event_json(s->nm, s->root, name, type, s->include_entry);

	if (!msg || !ev || json_object_set_new(msg, "filesystem", ev) < 0)
		return -ENOMEM;
	return send_json(s, msg);
}

/* The WatchDir loop: events, keepalives, the deadline, the client's hang-up. */
static void watch_stream(struct http_conn *c, struct http_request *req, struct fswatch *w,
                         struct stream_ctx *s)
{
	int64_t ka_us = connect_header_int(req, "Keepalive-Ping-Interval", DEFAULT_KEEPALIVE_S);
	int64_t timeout_ms = connect_header_int(req, "Connect-Timeout-Ms", 0);
	int64_t deadline = timeout_ms > 0 ? now_mono_us() + timeout_ms * 1000 : 0;
	struct rpc_error e;
	int r;

	if (ka_us <= 0)
		ka_us = DEFAULT_KEEPALIVE_S;
	ka_us *= 1000000;
	for (;;) {
		struct pollfd pfd[2] = {
		    {.fd = fswatch_fd(w), .events = POLLIN},
		    {.fd = http_conn_fd(c), .events = POLLRDHUP},
		};
		int64_t now = now_mono_us(), wake = s->last_send_us + ka_us;
		if (deadline && deadline < wake)
			wake = deadline;
		int64_t wait_ms = wake > now ? (wake - now + 999) / 1000 : 0;
		/* A huge interval from the client: wake up now and then anyway. */
		r = poll(pfd, 2, (int)(wait_ms > 3600000 ? 3600000 : wait_ms));
		if (r < 0 && errno != EINTR)
			return;
		if (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
			return; /* the client is gone: the watcher ends with it */
		if (pfd[0].revents & POLLIN) {
			r = fswatch_read(w, stream_event, s);
			if (r == -EPIPE)
				return;
			if (r < 0) {
				if (r == -ENOMEM)
					oom(&e);
				else
					watch_overflow_fail(&e, r, fswatch_path(w));
				connect_stream_end(c, &e);
				return;
			}
			continue;
		}
		now = now_mono_us();
		if (deadline && now >= deadline) {
			rpc_fail(&e, "deadline_exceeded", "context deadline exceeded");
			connect_stream_end(c, &e);
			return;
		}
		if (now >= s->last_send_us + ka_us) {
			_cleanup_json_ json_t *ka = json_pack("{s:{}}", "keepalive");
			if (!ka || send_json(s, ka) < 0)
				return;
		}
	}
}

static void serve_watch_dir(struct rpc_fs *svc, struct http_conn *c, struct http_request *req)
{
	_cleanup_names_ struct fsops_names *nm = fsops_names_new(&svc->st->users);
	_cleanup_json_ json_t *msg = NULL, *start = NULL;
	struct fs_user fu = {0};
	struct watch_args a = {0};
	struct fswatch *w = NULL;
	struct stream_ctx s = {0};
	struct rpc_error e;

	if (!nm) {
		oom(&e);
		stream_fail(c, &e);
		return;
	}
	if (read_request(c, req, true, &msg, &e) < 0 || resolve_user(svc, req, &fu, &e) < 0 ||
	    parse_watch(svc, msg, &fu, &a, &e) < 0) {
		stream_fail(c, &e);
		return;
	}
	if (!watcher_slot_take(svc)) {
		too_many_watchers(&e);
		stream_fail(c, &e);
		return;
	}
	/* The whole stream runs as the user: new subdirectories are watched as the user. */
	if (become(&fu, &e) < 0 || open_watch(&a, &fu, &w, &e) < 0) {
		unbecome(&fu);
		watcher_slot_put(svc);
		stream_fail(c, &e);
		return;
	}
	s.c = c;
	s.nm = nm;
	s.root = a.path;
	s.include_entry = a.include_entry;
	start = json_pack("{s:{}}", "start");
	if (start && connect_stream_start(c) >= 0 && send_json(&s, start) == 0)
		watch_stream(c, req, w, &s);
	fswatch_free(w);
	unbecome(&fu);
	watcher_slot_put(svc);
}

/* A CreateWatcher watcher: a thread reads its events into a bounded queue. */
struct poll_watcher {
	struct poll_watcher *next;
	char id[40];
	struct rpc_fs *svc;
	struct fs_user fu;
	struct fswatch *w;
	struct fsops_names *nm;
	bool include_entry;
	pthread_t thread;
	int stop_pipe[2];
	/* Guarded by svc->lock: */
	json_t *events; /* array */
	struct rpc_error error;
	bool failed;
	int64_t last_poll_us;
};

static int queue_event(const char *name, enum fswatch_type type, void *userdata)
{
	struct poll_watcher *pw = userdata;
	json_t *ev = event_json(pw->nm, fswatch_path(pw->w), name, type, pw->include_entry);
	int r = 0;

	if (!ev)
		return -ENOMEM;
	pthread_mutex_lock(&pw->svc->lock);
	if (pw->failed) {
		json_decref(ev);
	} else if (json_array_size(pw->events) >= RPC_FS_MAX_QUEUED) {
		json_decref(ev);
		json_array_clear(pw->events);
		pw->failed = true;
		rpc_fail(&pw->error, "resource_exhausted",
		         "watcher %s: more than %d events between two GetWatcherEvents calls; "
		         "events were lost",
		         pw->id, RPC_FS_MAX_QUEUED);
	} else if (json_array_append_new(pw->events, ev) < 0) {
		r = -ENOMEM;
	}
	pthread_mutex_unlock(&pw->svc->lock);
	return r;
}

static void *poll_watcher_main(void *arg)
{
	struct poll_watcher *pw = arg;
	struct rpc_error e;

	/* Subdirectories created later are watched as the user. */
	if (become(&pw->fu, &e) < 0)
		return NULL;
	for (;;) {
		struct pollfd pfd[2] = {
		    {.fd = fswatch_fd(pw->w), .events = POLLIN},
		    {.fd = pw->stop_pipe[0], .events = POLLIN},
		};
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		int r = fswatch_read(pw->w, queue_event, pw);
		if (r < 0) {
			pthread_mutex_lock(&pw->svc->lock);
			if (!pw->failed) {
				pw->failed = true;
				json_array_clear(pw->events);
				if (r == -ENOMEM)
					oom(&pw->error);
				else
					watch_overflow_fail(&pw->error, r, fswatch_path(pw->w));
			}
			pthread_mutex_unlock(&pw->svc->lock);
			break;
		}
	}
	unbecome(&pw->fu);
	return NULL;
}

static void poll_watcher_free(struct poll_watcher *pw)
{
	if (!pw)
		return;
	fswatch_free(pw->w);
	fsops_names_free(pw->nm);
	json_decref(pw->events);
	if (pw->stop_pipe[0] >= 0)
		close(pw->stop_pipe[0]);
	if (pw->stop_pipe[1] >= 0)
		close(pw->stop_pipe[1]);
	free(pw);
}

/* Stops the thread and frees; pw is no longer in the list. */
static void poll_watcher_stop(struct poll_watcher *pw)
{
	(void)!write(pw->stop_pipe[1], "x", 1);
	pthread_join(pw->thread, NULL);
	poll_watcher_free(pw);
}

/* Unlinks and returns the watcher with this id (or, with id NULL, one idle too long). */
static struct poll_watcher *take_watcher_locked(struct rpc_fs *svc, const char *id, int64_t now)
{
	for (struct poll_watcher **pp = &svc->watchers; *pp; pp = &(*pp)->next) {
		struct poll_watcher *pw = *pp;
		if (id ? strcmp(pw->id, id) == 0
		       : now - pw->last_poll_us > (int64_t)RPC_FS_WATCHER_IDLE_S * 1000000) {
			*pp = pw->next;
			svc->n_watchers--;
			return pw;
		}
	}
	return NULL;
}

static void reap_idle_watchers(struct rpc_fs *svc)
{
	for (;;) {
		struct poll_watcher *pw;
		pthread_mutex_lock(&svc->lock);
		pw = take_watcher_locked(svc, NULL, now_mono_us());
		pthread_mutex_unlock(&svc->lock);
		if (!pw)
			return;
		log_info("watcher %s: not polled for %d s, removed", pw->id, RPC_FS_WATCHER_IDLE_S);
		poll_watcher_stop(pw);
	}
}

static int do_create_watcher(struct rpc_fs *svc, json_t *msg, struct fs_user *fu, struct buf *out,
                             struct rpc_error *e)
{
	struct poll_watcher *pw = calloc(1, sizeof(*pw));
	struct watch_args a = {0};
	char hex[33];
	int r;

	if (!pw)
		return oom(e);
	pw->stop_pipe[0] = pw->stop_pipe[1] = -1;
	if (parse_watch(svc, msg, fu, &a, e) < 0) {
		free(pw);
		return -1;
	}
	reap_idle_watchers(svc);
	if (!watcher_slot_take(svc)) {
		free(pw);
		return too_many_watchers(e);
	}
	pw->svc = svc;
	pw->fu = *fu;
	pw->include_entry = a.include_entry;
	pw->nm = fsops_names_new(&svc->st->users);
	pw->events = json_array();
	pw->last_poll_us = now_mono_us();
	if (!pw->nm || !pw->events || random_hex(hex, 16) < 0 ||
	    pipe2(pw->stop_pipe, O_CLOEXEC) < 0) {
		r = oom(e);
		goto fail;
	}
	snprintf(pw->id, sizeof(pw->id), "w%s", hex);
	if (become(fu, e) < 0) {
		r = -1;
		goto fail;
	}
	r = open_watch(&a, fu, &pw->w, e);
	unbecome(fu);
	if (r < 0)
		goto fail;
	pw->fu.switched = false;
	r = pthread_create(&pw->thread, NULL, poll_watcher_main, pw);
	if (r != 0) {
		r = rpc_fail(e, "internal", "starting the watcher: %s", strerror(r));
		goto fail;
	}
	pthread_mutex_lock(&svc->lock);
	pw->next = svc->watchers;
	svc->watchers = pw;
	pthread_mutex_unlock(&svc->lock);
	return buf_printf(out, "{\"watcherId\":\"%s\"}", pw->id) < 0 ? oom(e) : 0;
fail:
	watcher_slot_put(svc);
	poll_watcher_free(pw);
	return r;
}

static int watcher_id(json_t *msg, const char **ret, struct rpc_error *e)
{
	*ret = NULL;
	if (pj_string(msg, "watcherId", "watcher_id", ret, e) < 0)
		return -1;
	if (!*ret || !**ret)
		return rpc_fail(e, "invalid_argument", "watcherId is required");
	return 0;
}

static int do_get_watcher_events(struct rpc_fs *svc, json_t *msg, struct buf *out,
                                 struct rpc_error *e)
{
	json_t *events = NULL;
	const char *id;
	bool found = false;

	if (watcher_id(msg, &id, e) < 0)
		return -1;
	pthread_mutex_lock(&svc->lock);
	for (struct poll_watcher *pw = svc->watchers; pw; pw = pw->next) {
		if (strcmp(pw->id, id) != 0)
			continue;
		found = true;
		pw->last_poll_us = now_mono_us();
		if (pw->failed) {
			*e = pw->error;
		} else {
			events = pw->events;
			pw->events = json_array();
			if (!pw->events) {
				pw->events = events;
				events = NULL;
				oom(e);
			}
		}
		break;
	}
	pthread_mutex_unlock(&svc->lock);
	if (!found)
		return rpc_fail(e, "not_found", "watcher with id %s not found", id);
	if (!events)
		return -1;
	return reply_with(out, "events", events, e);
}

static int do_remove_watcher(struct rpc_fs *svc, json_t *msg, struct buf *out, struct rpc_error *e)
{
	struct poll_watcher *pw;
	const char *id;

	if (watcher_id(msg, &id, e) < 0)
		return -1;
	pthread_mutex_lock(&svc->lock);
	pw = take_watcher_locked(svc, id, 0);
	pthread_mutex_unlock(&svc->lock);
	if (!pw)
		return rpc_fail(e, "not_found", "watcher with id %s not found", id);
	poll_watcher_stop(pw);
	return buf_puts(out, "{}") < 0 ? oom(e) : 0;
}

/* ---- service ---- */

int rpc_fs_init(struct rpc_fs *svc, struct agent_state *st)
{
	int r;

	memset(svc, 0, sizeof(*svc));
	svc->st = st;
	r = pthread_mutex_init(&svc->lock, NULL);
	return -r;
}

void rpc_fs_release(struct rpc_fs *svc)
{
	for (;;) {
		struct poll_watcher *pw;
		pthread_mutex_lock(&svc->lock);
		pw = svc->watchers;
		if (pw) {
			svc->watchers = pw->next;
			svc->n_watchers--;
		}
		pthread_mutex_unlock(&svc->lock);
		if (!pw)
			break;
		poll_watcher_stop(pw);
	}
	pthread_mutex_destroy(&svc->lock);
}

void rpc_fs_serve(struct rpc_fs *svc, struct http_conn *c, struct http_request *req,
                  const char *method)
{
	static const struct {
		const char *name;
		int (*fn)(struct rpc_fs *, json_t *, struct fs_user *, struct buf *,
		          struct rpc_error *);
	} calls[] = {
	    {"Stat", do_stat}, {"ListDir", do_list_dir}, {"MakeDir", do_make_dir},
	    {"Move", do_move}, {"Remove", do_remove},    {"CreateWatcher", do_create_watcher},
	};
	_cleanup_buf_ struct buf out = BUF_INIT;
	_cleanup_json_ json_t *msg = NULL;
	struct fs_user fu = {0};
	struct rpc_error e;
	int r = -1;

	if (strcmp(method, "WatchDir") == 0) {
		serve_watch_dir(svc, c, req);
		return;
	}
	if (read_request(c, req, false, &msg, &e) < 0) {
		rpc_reply_error(c, &e);
		return;
	}
	if (strcmp(method, "GetWatcherEvents") == 0) {
		r = do_get_watcher_events(svc, msg, &out, &e);
	} else if (strcmp(method, "RemoveWatcher") == 0) {
		r = do_remove_watcher(svc, msg, &out, &e);
	} else {
		size_t i;
		for (i = 0; i < ARRAY_SIZE(calls); i++)
			if (strcmp(method, calls[i].name) == 0)
				break;
		if (i == ARRAY_SIZE(calls))
			rpc_fail(&e, "unimplemented", "unknown method filesystem.Filesystem/%.64s",
			         method);
		else if (resolve_user(svc, req, &fu, &e) == 0)
			r = calls[i].fn(svc, msg, &fu, &out, &e);
	}
	if (r < 0) {
		rpc_reply_error(c, &e);
		return;
	}
	rpc_reply_json(c, out.data ? out.data : "{}", out.data ? out.len : 2);
}
