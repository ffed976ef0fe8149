/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET/POST /files: see files_http.h for the contract. The request's thread
 * takes the user's filesystem identity only around path resolution and open
 * (fs_open); reads and writes then go through the descriptor.
 */
#include "files_http.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/filesig.h"
#include "common/log.h"
#include "common/urlquery.h"
#include "fsops.h"
#include "fsuser.h"
#include "multipart.h"
#include "users.h"

#define FILES_BUF_SIZE (64 * 1024) /* upload buffer, one per request (and one for gzip) */
#define FILES_MAX_PATH 4096
#define FILES_MAX_PARTS 1024        /* files in one multipart upload */
#define FILES_DRAIN_MS 60000        /* longest time spent dropping an upload answered early */
#define ERR_NO_PATH (-EDESTADDRREQ) /* neither ?path= nor a part's filename */

static const char unauthorized_msg[] = "unauthorized access, please provide a valid access token "
                                       "or method signing if supported";

static void reply_json_error(struct http_conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Reads and drops what is left of the request body, for at most
 * FILES_DRAIN_MS. An error answered while the client is still sending a large
 * upload would otherwise be followed by a closed connection (the server drains
 * only 1 MiB), and a client still writing sees the reset, not the answer: the
 * SDK would report "fetch failed" instead of NotEnoughSpaceError.
 */
static void drain_rest(struct http_conn *c)
{
	static char sink[64 * 1024]; /* written by every thread, never read */
	int64_t end = mono_ms() + FILES_DRAIN_MS;

	while (mono_ms() < end && http_body_read(c, sink, sizeof(sink)) > 0)
		;
}

static void reply_json_error(struct http_conn *c, int status, const char *fmt, ...)
{
	char msg[FILES_MAX_PATH + 256];
	json_t *j;
	char *s;
	va_list ap;

	drain_rest(c);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j = json_pack("{s:i,s:s}", "code", status, "message", msg);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (s)
		http_reply(c, status, "application/json; charset=utf-8", s, strlen(s));
	else
		http_reply(c, 500, NULL, NULL, 0);
	free(s);
	json_decref(j);
}

/* ---- paths ------------------------------------------------------------------------------ */

static int openat2_nomagic(int dir_fd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dir_fd, name, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/*
 * Opens the regular file at the clean absolute path abs, one component at a
 * time from "/", creating missing parent directories (0755) when flags has
 * O_CREAT. Returns the fd (blocking, O_CLOEXEC) or -errno: -EISDIR for a
 * directory, -EINVAL for something that is not a regular file.
 */
static int fs_open_walk(const char *abs, int flags, mode_t mode)
{
	char comp[FILES_MAX_PATH];
	const char *s = abs, *e;
	int dir_fd, fd, r;
	struct stat st;

	dir_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return -errno;
	for (;;) {
		size_t cl;

		while (*s == '/')
			s++;
		if (!*s) {
			close(dir_fd);
			return -EISDIR; /* "/" itself */
		}
		e = strchrnul(s, '/');
		cl = (size_t)(e - s);
		if (cl >= sizeof(comp)) {
			close(dir_fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, s, cl);
		comp[cl] = '\0';
		s = e;
		while (*s == '/')
			s++;
		if (!*s)
			break; /* comp is the last component */
		fd = openat2_nomagic(dir_fd, comp, O_PATH | O_DIRECTORY, 0);
		if (fd == -ENOENT && (flags & O_CREAT)) {
			if (mkdirat(dir_fd, comp, 0755) < 0 && errno != EEXIST) {
				r = -errno;
				close(dir_fd);
				return r;
			}
			fd = openat2_nomagic(dir_fd, comp, O_PATH | O_DIRECTORY, 0);
		}
		close(dir_fd);
		if (fd < 0)
			return fd;
		dir_fd = fd;
	}
	/* Non-blocking: a FIFO planted at the path must not hold the thread. */
	fd = openat2_nomagic(dir_fd, comp, flags | O_NONBLOCK | O_NOCTTY, mode);
	close(dir_fd);
	if (fd == -ENXIO || fd == -EWOULDBLOCK)
		return -EINVAL;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* fs_open_walk as the user: permissions are the user's, new files and directories theirs. */
static int fs_open(const struct user_info *u, const char *abs, int flags, mode_t mode)
{
	int r = fsuser_become(u);

	if (r < 0)
		return r;
	r = fs_open_walk(abs, flags, mode);
	fsuser_restore();
	return r;
}

/* Replies the error for a failed open or I/O on path; op is "read" or "write". */
static void reply_fs_error(struct http_conn *c, int err, const char *path, const char *op,
                           const struct user_info *u)
{
	switch (err) {
	case -ENOENT:
		reply_json_error(c, 404, "path '%s' does not exist", path);
		break;
	case -EACCES:
	case -EPERM:
	case -EROFS:
		reply_json_error(c, 403, "permission denied: user '%s' cannot %s '%s': %s", u->name,
		                 op, path, strerror(-err));
		break;
	case -EISDIR:
		reply_json_error(c, 400, "path '%s' is a directory", path);
		break;
	case -ENOTDIR:
		reply_json_error(c, 400, "a parent of path '%s' is not a directory", path);
		break;
	case -EINVAL:
		reply_json_error(c, 400, "path '%s' is not a regular file", path);
		break;
	case -ELOOP:
		reply_json_error(c, 400,
		                 "path '%s' cannot be resolved: too many symbolic links, "
		                 "or a link through /proc",
		                 path);
		break;
	case -ENAMETOOLONG:
		reply_json_error(c, 400, "path '%s' is too long", path);
		break;
	case -EOPNOTSUPP:
		reply_json_error(c, 400, "the file system of '%s' cannot store metadata", path);
		break;
	case -ENOSPC:
	case -EDQUOT:
		reply_json_error(c, 507, "not enough disk space available to %s '%s'", op, path);
		break;
	default:
		reply_json_error(c, 500, "cannot %s '%s': %s", op, path, strerror(-err));
		break;
	}
}

/* ---- request parameters and authorization ------------------------------------------------ */

struct files_req {
	char *path;     /* decoded ?path=, or NULL */
	char *username; /* decoded ?username=, or NULL */
	char *signature;
	char *expiration;
	struct user_info user;
};

static void files_req_release(struct files_req *fr)
{
	free(fr->path);
	free(fr->username);
	free(fr->signature);
	free(fr->expiration);
}

/* 0, or -errno after replying. */
static int files_req_parse(struct agent_state *st, struct http_conn *c,
                           const struct http_request *req, const char *op, struct files_req *fr)
{
	static const char *const names[] = {"path", "username", "signature",
	                                    "signature_expiration"};
	char **dst[] = {&fr->path, &fr->username, &fr->signature, &fr->expiration};
	char *token = NULL, user[64];
	const char *auth;
	int r;

	for (size_t i = 0; i < 4; i++) {
		r = urlq_get(req->query, names[i], dst[i]);
		if (r == -EINVAL) {
			reply_json_error(c, 400, "malformed query parameter '%s'", names[i]);
			return r;
		}
		if (r == -ENOMEM) {
			reply_json_error(c, 500, "out of memory");
			return r;
		}
	}

	r = agent_state_token_copy(st, &token);
	if (r < 0) {
		reply_json_error(c, 500, "out of memory");
		return r;
	}
	if (r > 0 && !agent_state_token_ok(st, http_header_get(req, "X-Access-Token"))) {
		if (!fr->signature) {
			free(token);
			reply_json_error(c, 401, "%s", unauthorized_msg);
			return -EACCES;
		}
		r = filesig_check(fr->signature, fr->expiration, fr->path ? fr->path : "", op,
		                  fr->username ? fr->username : "", token, (int64_t)time(NULL));
		explicit_bzero(token, strlen(token));
		free(token);
		if (r == -ETIMEDOUT) {
			reply_json_error(c, 401, "signature is already expired");
			return r;
		}
		if (r < 0) {
			reply_json_error(c, 401, "invalid signature");
			return r;
		}
	} else if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}

	/* ?username=, else an "Authorization: Basic user:" as older SDKs send, else the default. */
	auth = http_header_get(req, "Authorization");
	if (fr->username && strlen(fr->username) >= sizeof(user)) {
		reply_json_error(c, 401, "invalid username: too long");
		return -ENOENT;
	}
	if (fr->username && *fr->username)
		snprintf(user, sizeof(user), "%s", fr->username);
	else if (!auth || users_from_basic_auth(auth, user, sizeof(user)) < 0 || !*user)
		agent_state_default_user(st, user, sizeof(user));
	r = fsuser_resolve(&st->users, user, &fr->user);
	if (r == -ENOENT) {
		reply_json_error(c, 401, "invalid username: '%s'", user);
		return r;
	}
	if (r < 0) {
		reply_json_error(c, 500, "cannot read the user database: %s", strerror(-r));
		return r;
	}
	return 0;
}

/* ---- download ----------------------------------------------------------------------------- */

static const struct {
	const char *ext, *type;
} mime_types[] = {
    {"txt", "text/plain; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"xml", "text/xml; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"wasm", "application/wasm"},
};

static const char *mime_type(const char *base)
{
	const char *dot = strrchr(base, '.');

	if (dot && dot != base)
		for (size_t i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++)
			if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
				return mime_types[i].type;
	return "application/octet-stream";
}

/*
 * Content-Disposition for base, never able to break the header: printable
 * ASCII names without quotes or backslashes go as filename="...", others as
 * RFC 5987 filename*=UTF-8''<percent-encoded>.
 */
static void content_disposition(const char *base, char *out, size_t n)
{
	bool plain = true;
	size_t o;

	for (const char *s = base; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\')
			plain = false;
	if (plain && strlen(base) < n - 64) {
		snprintf(out, n, "Content-Disposition: inline; filename=\"%s\"", base);
		return;
	}
	o = (size_t)snprintf(out, n, "Content-Disposition: inline; filename*=UTF-8''");
	for (const unsigned char *s = (const unsigned char *)base; *s && o + 4 < n; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s))
			out[o++] = (char)*s;
		else
			o += (size_t)snprintf(out + o, n - o, "%%%02X", *s);
	}
	out[o] = '\0';
}

static void serve_download(struct agent_state *st, struct http_conn *c, struct http_request *req)
{
	struct files_req fr = {0};
	char abs[FILES_MAX_PATH], disp[FILES_MAX_PATH * 3 + 64];
	const char *hdrs[2] = {disp, NULL};
	struct stat sb;
	uint64_t left;
	int fd = -1, r;

	if (files_req_parse(st, c, req, "read", &fr) < 0)
		goto out;
	if (!fr.path || !*fr.path) {
		reply_json_error(c, 400, "the path query parameter is required");
		goto out;
	}
	r = fsops_expand(fr.path, fr.user.home, NULL, abs, sizeof(abs));
	if (r < 0) {
		reply_fs_error(c, r, fr.path, "read", &fr.user);
		goto out;
	}
	fd = fs_open(&fr.user, abs, O_RDONLY, 0);
	if (fd < 0) {
		reply_fs_error(c, fd, abs, "read", &fr.user);
		goto out;
	}
	if (fstat(fd, &sb) < 0) {
		reply_fs_error(c, -errno, abs, "read", &fr.user);
		goto out;
	}
	content_disposition(strrchr(abs, '/') + 1, disp, sizeof(disp));
	r = http_stream_start_sized(c, 200, mime_type(strrchr(abs, '/') + 1), hdrs,
	                            (uint64_t)sb.st_size);
	if (r < 0 || strcmp(req->method, "HEAD") == 0) {
		http_stream_end(c);
		goto out;
	}
	/* The size announced is the size at open: a file that shrinks meanwhile ends the
	 * connection early (the client sees a short body), one that grows is cut. */
	for (left = (uint64_t)sb.st_size; left > 0;) {
		ssize_t n = http_stream_sendfile(c, fd, left > (1u << 30) ? (1u << 30) : left);

		if (n <= 0) {
			if (n < 0 && n != -ECONNRESET && n != -ETIMEDOUT)
				log_warn("reading '%s': %s", abs, strerror((int)-n));
			break;
		}
		left -= (uint64_t)n;
	}
	http_stream_end(c);
out:
	if (fd >= 0)
		close(fd);
	files_req_release(&fr);
}

/* ---- metadata (X-Metadata-<key>: <value> -> xattr user.e2b.<key>) ------------------------- */

#define META_PREFIX "user.e2b."
#define META_HDR "X-Metadata-"
#define META_KEY_MAX 246    /* 255 (VFS xattr name) minus the prefix */
#define META_TOTAL_MAX 4096 /* keys with prefix plus values, per file */

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* The i-th header is the first with its (case-insensitive) metadata key. */
static bool meta_first(const struct http_request *req, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcasecmp(req->headers[j].name, req->headers[i].name) == 0)
			return false;
	return true;
}

static bool is_meta(const struct http_header *h)
{
	return strncasecmp(h->name, META_HDR, sizeof(META_HDR) - 1) == 0;
}

/* Validates the request's metadata as envd does. 0, or -EINVAL with msg filled. */
static int meta_check(const struct http_request *req, char *msg, size_t n)
{
	size_t total = 0;

	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];
		const char *key = h->name + sizeof(META_HDR) - 1;

		if (!is_meta(h) || !meta_first(req, i))
			continue;
		if (!*key || strlen(key) > META_KEY_MAX || !printable(key) ||
		    !printable(h->value)) {
			snprintf(msg, n,
			         "invalid metadata header '%.300s': keys of 1 to %d and values of "
			         "printable ASCII only",
			         h->name, META_KEY_MAX);
			return -EINVAL;
		}
		total += sizeof(META_PREFIX) - 1 + strlen(key) + strlen(h->value);
	}
	if (total > META_TOTAL_MAX) {
		snprintf(msg, n, "metadata too large: %zu bytes, at most %d", total,
		         META_TOTAL_MAX);
		return -EINVAL;
	}
	return 0;
}

/* Replaces the file's user.e2b.* attributes with the request's metadata. */
static int meta_apply(int fd, const struct http_request *req)
{
	char list[8192], name[sizeof(META_PREFIX) + META_KEY_MAX];
	ssize_t n = flistxattr(fd, list, sizeof(list));
	bool any = false;

	for (size_t i = 0; i < req->n_headers; i++)
		any |= is_meta(&req->headers[i]);
	if (n < 0 && (errno == ENOTSUP || errno == ERANGE))
		n = 0; /* nothing stored, or not ours to manage */
	if (n < 0)
		return -errno;
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1)
		if (strncmp(list + off, META_PREFIX, sizeof(META_PREFIX) - 1) == 0 &&
		    fremovexattr(fd, list + off) < 0 && errno != ENODATA)
			return -errno;
	if (!any)
		return 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *h = &req->headers[i];
		const char *key = h->name + sizeof(META_HDR) - 1;
		size_t k;

		if (!is_meta(h) || !meta_first(req, i))
			continue;
		k = (size_t)snprintf(name, sizeof(name), META_PREFIX "%s", key);
		for (size_t j = sizeof(META_PREFIX) - 1; j < k; j++)
			if (name[j] >= 'A' && name[j] <= 'Z')
				name[j] = (char)(name[j] - 'A' + 'a');
		if (fsetxattr(fd, name, h->value, strlen(h->value), 0) < 0)
			return errno == ENOTSUP ? -EOPNOTSUPP : -errno;
	}
	return 0;
}

/* ---- upload ------------------------------------------------------------------------------- */

struct upload {
	struct agent_state *st;
	struct http_conn *c;
	struct files_req *fr;
	const struct http_request *req; /* for its X-Metadata-* headers */
	json_t *entries;                /* EntryInfo array of the reply */
	char **written;                 /* absolute paths written so far (a repeat is an error) */
	size_t n_written;
	size_t n_parts;
	int fd;          /* the file being written, or -1 */
	uint64_t fd_len; /* bytes written to it so far */
	bool skip;       /* the current part is not a "file" field: its data is dropped */
	char cur[FILES_MAX_PATH];
};

static int write_all(struct upload *u, const char *data, size_t len)
{
	int fd = u->fd;

	u->fd_len += len;
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Opens (creating parents) the target of one file; records it for the reply. */
static int upload_open(struct upload *u, const char *path)
{
	char abs[FILES_MAX_PATH];
	json_t *e;
	char **w;
	int r;

	r = fsops_expand(path, u->fr->user.home, NULL, abs, sizeof(abs));
	if (r < 0)
		return r;
	for (size_t i = 0; i < u->n_written; i++)
		if (strcmp(u->written[i], abs) == 0)
			return -EEXIST;
	strcpy(u->cur, abs);
	/*
	 * No O_TRUNC: the old content is overwritten and the rest cut at close. ext4
	 * starts writeback on the close of a file truncated to zero (auto_da_alloc),
	 * which made every small overwrite cost milliseconds.
	 */
	r = fs_open(&u->fr->user, abs, O_WRONLY | O_CREAT, 0644);
	if (r < 0)
		return r;
	u->fd = r;
	u->fd_len = 0;
	r = meta_apply(u->fd, u->req);
	if (r < 0)
		return r;
	w = realloc(u->written, (u->n_written + 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	u->written = w;
	w[u->n_written] = strdup(abs);
	if (!w[u->n_written])
		return -ENOMEM;
	u->n_written++;
	e = json_pack("{s:s,s:s,s:s}", "path", abs, "name", strrchr(abs, '/') + 1, "type", "file");
	if (!e || json_array_append_new(u->entries, e) < 0)
		return -ENOMEM;
	return 0;
}

/*
 * A failed write leaves the file empty rather than half-written: this gives the
 * space back at once when the disk is full, and works on the descriptor (a name
 * could meanwhile point elsewhere).
 */
static void upload_abandon(struct upload *u)
{
	if (u->fd >= 0) {
		(void)!ftruncate(u->fd, 0);
		close(u->fd);
		u->fd = -1;
	}
}

static int upload_close(struct upload *u)
{
	int fd = u->fd, r = 0;

	u->fd = -1;
	if (fd < 0)
		return 0;
	if (ftruncate(fd, (off_t)u->fd_len) < 0)
		r = -errno;
	if (close(fd) < 0 && errno != EINTR && r == 0)
		r = -errno;
	return r;
}

static void upload_reply_error(struct upload *u, int err)
{
	const char *path = u->cur[0] ? u->cur : (u->fr->path ? u->fr->path : "");

	if (err == -EEXIST)
		reply_json_error(u->c, 400, "path '%s' is written twice in one request", path);
	else if (err == -EBADMSG)
		reply_json_error(u->c, 400, "malformed request body");
	else if (err == -ENOMEM)
		reply_json_error(u->c, 500, "out of memory");
	else if (err == -ECONNRESET || err == -ETIMEDOUT)
		reply_json_error(u->c, 400, "the request body ended early");
	else if (err == -E2BIG)
		reply_json_error(u->c, 400, "too many files in one request (at most %d)",
		                 FILES_MAX_PARTS);
	else
		reply_fs_error(u->c, err, path, "write", &u->fr->user);
}

static int mp_on_begin(void *ud, const struct mp_part *part)
{
	struct upload *u = ud;
	const char *path;

	u->skip = !part->name || strcmp(part->name, "file") != 0;
	if (u->skip)
		return 0;
	if (++u->n_parts > FILES_MAX_PARTS)
		return -E2BIG;
	/* The query's path wins; else the part's filename, verbatim (directories included). */
	path = u->fr->path && *u->fr->path ? u->fr->path : part->filename;
	if (!path || !*path) {
		u->cur[0] = '\0';
		return ERR_NO_PATH;
	}
	return upload_open(u, path);
}

static int mp_on_data(void *ud, const char *data, size_t len)
{
	struct upload *u = ud;

	if (u->skip || u->fd < 0)
		return 0;
	return write_all(u, data, len);
}

static int mp_on_end(void *ud)
{
	struct upload *u = ud;

	if (u->skip)
		return 0;
	return upload_close(u);
}

/* Reads the body into buf until it is full or ends: fewer, larger writes. */
static ssize_t read_body(struct http_conn *c, char *buf, size_t cap)
{
	size_t got = 0;

	while (got < cap) {
		ssize_t n = http_body_read(c, buf + got, cap - got);

		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int upload_multipart(struct upload *u, const char *boundary, char *buf)
{
	static const struct mp_callbacks cbs = {mp_on_begin, mp_on_data, mp_on_end};
	struct mp_parser *p = malloc(sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	r = mp_init(p, boundary, &cbs, u);
	while (r == 0) {
		ssize_t n = read_body(u->c, buf, FILES_BUF_SIZE);

		if (n < 0) {
			r = (int)n;
			break;
		}
		if (n == 0) {
			r = mp_finish(p);
			break;
		}
		r = mp_feed(p, buf, (size_t)n);
	}
	free(p);
	return r;
}

static int upload_raw(struct upload *u, bool gzip, char *buf)
{
	z_stream z = {0};
	char *out = NULL;
	int r, zr = Z_OK;

	if (!u->fr->path || !*u->fr->path)
		return ERR_NO_PATH;
	if (gzip) {
		out = malloc(FILES_BUF_SIZE);
		/* 16 + MAX_WBITS: a gzip wrapper, not zlib's. */
		if (!out || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
			free(out);
			return -ENOMEM;
		}
	}
	r = upload_open(u, u->fr->path);
	while (r == 0) {
		ssize_t n = read_body(u->c, buf, FILES_BUF_SIZE);

		if (n < 0) {
			r = (int)n;
			break;
		}
		if (!gzip) {
			if (n == 0)
				break;
			r = write_all(u, buf, (size_t)n);
			continue;
		}
		if (n == 0) {
			if (zr != Z_STREAM_END)
				r = -EBADMSG;
			break;
		}
		z.next_in = (Bytef *)buf;
		z.avail_in = (uInt)n;
		while (r == 0 && z.avail_in > 0 && zr != Z_STREAM_END) {
			z.next_out = (Bytef *)out;
			z.avail_out = FILES_BUF_SIZE;
			zr = inflate(&z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
				r = -EBADMSG;
				break;
			}
			r = write_all(u, out, FILES_BUF_SIZE - z.avail_out);
		}
		/* Bytes after the end of the gzip stream are not accepted. */
		if (r == 0 && zr == Z_STREAM_END && z.avail_in > 0)
			r = -EBADMSG;
	}
	if (gzip) {
		inflateEnd(&z);
		free(out);
	}
	if (r == 0)
		r = upload_close(u);
	return r;
}

static void serve_upload(struct agent_state *st, struct http_conn *c, struct http_request *req)
{
	struct files_req fr = {0};
	struct upload u = {.st = st, .c = c, .fr = &fr, .req = req, .fd = -1};
	char msg[512];
	const char *ct = http_header_get(req, "Content-Type");
	const char *ce = http_header_get(req, "Content-Encoding");
	char boundary[MP_MAX_BOUNDARY + 1];
	char *buf = NULL, *s = NULL;
	bool gzip = false;
	int r;

	if (files_req_parse(st, c, req, "write", &fr) < 0)
		goto out;
	if (meta_check(req, msg, sizeof(msg)) < 0) {
		reply_json_error(c, 400, "%s", msg);
		goto out;
	}
	if (ce && *ce && strcasecmp(ce, "identity") != 0) {
		if (strcasecmp(ce, "gzip") != 0) {
			reply_json_error(c, 400, "unsupported Content-Encoding '%s'", ce);
			goto out;
		}
		gzip = true;
	}
	u.entries = json_array();
	buf = malloc(FILES_BUF_SIZE);
	if (!u.entries || !buf) {
		reply_json_error(c, 500, "out of memory");
		goto out;
	}
	r = mp_boundary_from_content_type(ct, boundary);
	if (r == 0 && !gzip) {
		r = upload_multipart(&u, boundary, buf);
	} else if (r == -EINVAL) {
		reply_json_error(c, 400, "invalid multipart boundary in Content-Type");
		goto out;
	} else if (ct && strncasecmp(ct, "application/octet-stream", 24) == 0 &&
	           (ct[24] == '\0' || ct[24] == ';' || ct[24] == ' ')) {
		r = upload_raw(&u, gzip, buf);
	} else {
		reply_json_error(c, 400,
		                 "unsupported Content-Type '%s': expected multipart/form-data or "
		                 "application/octet-stream",
		                 ct ? ct : "");
		goto out;
	}
	if (r == ERR_NO_PATH) {
		reply_json_error(c, 400, "no path: give ?path= or a filename in the part");
		goto out;
	}
	if (r < 0) {
		upload_abandon(&u);
		upload_reply_error(&u, r);
		goto out;
	}
	if (json_array_size(u.entries) == 0) {
		reply_json_error(c, 400, "no file in the request (multipart field 'file')");
		goto out;
	}
	s = json_dumps(u.entries, JSON_COMPACT);
	if (s)
		http_reply(c, 200, "application/json", s, strlen(s));
	else
		reply_json_error(c, 500, "out of memory");
out:
	if (u.fd >= 0)
		close(u.fd);
	for (size_t i = 0; i < u.n_written; i++)
		free(u.written[i]);
	free(u.written);
	json_decref(u.entries);
	free(buf);
	free(s);
	files_req_release(&fr);
}

void files_http_serve(struct agent_state *st, struct http_conn *c, struct http_request *req)
{
	if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
		serve_download(st, c, req);
	else if (strcmp(req->method, "POST") == 0)
		serve_upload(st, c, req);
	else
		reply_json_error(c, 405, "method not allowed");
}
