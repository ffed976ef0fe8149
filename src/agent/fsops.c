/* SPDX-License-Identifier: Apache-2.0 */
#include "fsops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "users.h"

#define NAMES_MAX 4096
#define XATTR_LIST_MAX_BYTES 65536
#define XATTR_VALUE_MAX_BYTES 65536

/* ---- paths ---- */

int fsops_clean(char *path)
{
	char *w = path, *r = path;

	if (path[0] != '/')
		return -EINVAL;
	/* w is the end of the output; it always starts with "/". */
	w++;
	while (*r) {
		while (*r == '/')
			r++;
		if (!*r)
			break;
		char *seg = r;
		size_t len;
		while (*r && *r != '/')
			r++;
		len = (size_t)(r - seg);
		if (len == 1 && seg[0] == '.')
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			/* Back to the previous '/', never above the root. */
			if (w > path + 1) {
				while (w > path + 1 && w[-1] != '/')
					w--;
				if (w > path + 1)
					w--; /* the '/' before the dropped segment */
			}
			continue;
		}
		if (w > path + 1 && w[-1] != '/')
			*w++ = '/';
		memmove(w, seg, len);
		w += len;
	}
	if (w > path + 1 && w[-1] == '/')
		w--;
	*w = '\0';
	return 0;
}

int fsops_expand(const char *path, const char *home, const char *workdir, char *out, size_t n)
{
	const char *base = workdir && *workdir ? workdir : home;
	int len;

	if (!path || !*path)
		return -EINVAL;
	if (!home || !*home)
		home = "/";
	if (!base || !*base)
		base = "/";
	if (path[0] == '/')
		len = snprintf(out, n, "%s", path);
	else if (strcmp(path, "~") == 0)
		len = snprintf(out, n, "%s", home);
	else if (strncmp(path, "~/", 2) == 0)
		len = snprintf(out, n, "%s/%s", home, path + 2);
	else
		len = snprintf(out, n, "%s/%s", base, path);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	/* A relative home or workdir is taken from "/". */
	if (out[0] != '/') {
		if ((size_t)len + 1 >= n)
			return -ENAMETOOLONG;
		memmove(out + 1, out, (size_t)len + 1);
		out[0] = '/';
	}
	return fsops_clean(out);
}

const char *fsops_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	if (!s || (s == path && s[1] == '\0'))
		return path;
	return s + 1;
}

void fsops_mode_string(mode_t mode, char out[FSOPS_MODE_STR_MAX])
{
	/* Go's os.FileMode bits, from the top: "dalTLDpSugct?". */
	bool bits[13] = {false};
	static const char letters[] = "dalTLDpSugct?";
	static const char rwx[] = "rwxrwxrwx";
	size_t w = 0;

	switch (mode & S_IFMT) {
	case S_IFDIR:
		bits[0] = true;
		break;
	case S_IFLNK:
		bits[4] = true;
		break;
	case S_IFBLK:
		bits[5] = true;
		break;
	case S_IFCHR:
		bits[5] = bits[10] = true;
		break;
	case S_IFIFO:
		bits[6] = true;
		break;
	case S_IFSOCK:
		bits[7] = true;
		break;
	case S_IFREG:
		break;
	default:
		bits[12] = true;
		break;
	}
	bits[8] = (mode & S_ISUID) != 0;
	bits[9] = (mode & S_ISGID) != 0;
	bits[11] = (mode & S_ISVTX) != 0;
	for (size_t i = 0; i < 13; i++)
		if (bits[i])
			out[w++] = letters[i];
	if (w == 0)
		out[w++] = '-';
	for (size_t i = 0; i < 9; i++)
		out[w++] = (mode & (1u << (8 - i))) ? rwx[i] : '-';
	out[w] = '\0';
}

/* ---- resolution ---- */

static int openat2_fd(int dir_fd, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = resolve,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : (int)fd;
}

#define RESOLVE_SANDBOX RESOLVE_NO_MAGICLINKS
#define RESOLVE_WALK (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

int fsops_open(const char *path, int flags)
{
	return openat2_fd(AT_FDCWD, path, flags, RESOLVE_SANDBOX);
}

int fsops_open_parent(const char *path, char *name, size_t n)
{
	_cleanup_free_ char *parent = NULL;
	const char *slash = strrchr(path, '/');
	size_t plen;

	if (path[0] != '/' || !slash)
		return -EINVAL;
	if (path[1] == '\0') {
		if (n < 2)
			return -ENAMETOOLONG;
		strcpy(name, ".");
		return fsops_open("/", O_PATH | O_DIRECTORY);
	}
	if (strlen(slash + 1) >= n)
		return -ENAMETOOLONG;
	strcpy(name, slash + 1);
	plen = slash == path ? 1 : (size_t)(slash - path);
	parent = strndup(path, plen);
	if (!parent)
		return -ENOMEM;
	return fsops_open(parent, O_PATH | O_DIRECTORY);
}

/* "/proc/thread-self/fd/N": the kernel's path to our own open file. */
static void fd_path(int fd, char out[64])
{
	snprintf(out, 64, "/proc/thread-self/fd/%d", fd);
}

/* ---- owner and group names ---- */

struct id_name {
	unsigned id;
	char name[64];
};

struct fsops_names {
	const struct users_db *db;
	bool loaded;
	struct id_name *users, *groups; /* grown as needed, up to NAMES_MAX each */
	size_t n_users, n_groups, cap_users, cap_groups;
};

struct fsops_names *fsops_names_new(const struct users_db *db)
{
	struct fsops_names *nm = calloc(1, sizeof(*nm));

	if (nm)
		nm->db = db;
	return nm;
}

void fsops_names_free(struct fsops_names *nm)
{
	if (!nm)
		return;
	free(nm->users);
	free(nm->groups);
	free(nm);
}

static void add_name(struct id_name **arr, size_t *n, size_t *cap, unsigned id, const char *name)
{
	if (*n >= NAMES_MAX || strlen(name) >= sizeof((*arr)[0].name))
		return;
	for (size_t i = 0; i < *n; i++)
		if ((*arr)[i].id == id)
			return; /* the first line wins, as getpwuid */
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct id_name *nv = realloc(*arr, ncap * sizeof(**arr));
		if (!nv)
			return; /* the id is shown as a number */
		*arr = nv;
		*cap = ncap;
	}
	(*arr)[*n].id = id;
	strcpy((*arr)[*n].name, name);
	(*n)++;
}

static void load_names(struct fsops_names *nm)
{
	size_t cap = 16384;
	_cleanup_free_ char *line = malloc(cap);
	const char *pp = nm->db && nm->db->passwd_path ? nm->db->passwd_path : "/etc/passwd";
	const char *gp = nm->db && nm->db->group_path ? nm->db->group_path : "/etc/group";
	struct users_file uf;

	nm->loaded = true;
	if (!line)
		return;
	/* Read as root would be nicer, but the files are world-readable. */
	if (users_file_open(pp, &uf) == 0) {
		struct passwd pw, *p;
		while (fgetpwent_r(uf.f, &pw, line, cap, &p) == 0)
			add_name(&nm->users, &nm->n_users, &nm->cap_users, p->pw_uid, p->pw_name);
		users_file_close(&uf);
	}
	if (users_file_open(gp, &uf) == 0) {
		struct group gr, *g;
		while (fgetgrent_r(uf.f, &gr, line, cap, &g) == 0)
			add_name(&nm->groups, &nm->n_groups, &nm->cap_groups, g->gr_gid,
			         g->gr_name);
		users_file_close(&uf);
	}
}

static json_t *id_json(struct fsops_names *nm, bool group, unsigned id)
{
	char num[16];

	if (nm && !nm->loaded)
		load_names(nm);
	if (nm) {
		const struct id_name *arr = group ? nm->groups : nm->users;
		size_t n = group ? nm->n_groups : nm->n_users;
		for (size_t i = 0; arr && i < n; i++)
			if (arr[i].id == id)
				return json_string(arr[i].name);
	}
	snprintf(num, sizeof(num), "%u", id);
	return json_string(num);
}

/* ---- EntryInfo ---- */

/* proto3 JSON Timestamp: RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits. */
static json_t *timestamp_json(const struct timespec *ts)
{
	char out[96], frac[32] = "";
	struct tm tm;
	long ns = ts->tv_nsec;

	if (!gmtime_r(&ts->tv_sec, &tm))
		return json_null();
	if (ns % 1000000 == 0 && ns)
		snprintf(frac, sizeof(frac), ".%03ld", ns / 1000000);
	else if (ns % 1000 == 0 && ns)
		snprintf(frac, sizeof(frac), ".%06ld", ns / 1000);
	else if (ns)
		snprintf(frac, sizeof(frac), ".%09ld", ns);
	snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	return json_string(out);
}

static const char *file_type_name(mode_t mode)
{
	if (S_ISREG(mode))
		return "FILE_TYPE_FILE";
	if (S_ISDIR(mode))
		return "FILE_TYPE_DIRECTORY";
	return "FILE_TYPE_UNSPECIFIED";
}

/* True when s is valid UTF-8 (of n bytes, without NUL). */
static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		unsigned c = *p;
		size_t len;
		unsigned cp;
		if (c == 0)
			return false;
		if (c < 0x80) {
			p++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) < len)
			return false;
		for (size_t i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += len;
	}
	return true;
}

int fsops_read_metadata(int fd, json_t *md)
{
	_cleanup_free_ char *list = malloc(XATTR_LIST_MAX_BYTES);
	_cleanup_free_ char *val = malloc(XATTR_VALUE_MAX_BYTES);
	size_t plen = strlen(FSOPS_XATTR_PREFIX);
	char p[64];
	ssize_t n;

	if (!list || !val)
		return -ENOMEM;
	fd_path(fd, p);
	n = listxattr(p, list, XATTR_LIST_MAX_BYTES);
	if (n < 0)
		return 0; /* no support, no permission, or too many: no metadata */
	for (char *k = list; k < list + n; k += strlen(k) + 1) {
		ssize_t vl;
		json_t *v;
		if (strncmp(k, FSOPS_XATTR_PREFIX, plen) != 0 || !k[plen])
			continue;
		vl = getxattr(p, k, val, XATTR_VALUE_MAX_BYTES);
		if (vl < 0 || !utf8_valid(k + plen, strlen(k + plen)) ||
		    !utf8_valid(val, (size_t)vl))
			continue;
		v = json_stringn(val, (size_t)vl);
		if (!v || json_object_set_new(md, k + plen, v) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int set_new(json_t *o, const char *k, json_t *v)
{
	return v && json_object_set_new(o, k, v) == 0 ? 0 : -ENOMEM;
}

int fsops_entry(struct fsops_names *nm, int dir_fd, const char *name, const char *path,
                json_t **ret, bool *ret_is_dir)
{
	json_t *o = NULL, *link_target = NULL;
	struct stat st, tst;
	char perms[FSOPS_MODE_STR_MAX], size[32];
	mode_t type_mode, perm_mode;
	int r = 0;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	type_mode = st.st_mode;
	perm_mode = st.st_mode & 07777;
	o = json_object();
	if (!o)
		return -ENOMEM;
	if (S_ISLNK(st.st_mode)) {
		/* The target, resolved as any path of the sandbox: never through a magic link. */
		_cleanup_close_ int tfd = openat2_fd(dir_fd, name, O_PATH, RESOLVE_SANDBOX);
		char target[FSOPS_PATH_MAX], p[64];
		ssize_t n = -1;
		if (tfd >= 0 && fstat(tfd, &tst) == 0) {
			type_mode = tst.st_mode;
			perm_mode = tst.st_mode & 07777;
			fd_path(tfd, p);
			n = readlink(p, target, sizeof(target) - 1);
		} else {
			type_mode = 0;
			perm_mode = 0;
		}
		if (n < 0)
			n = readlinkat(dir_fd, name, target, sizeof(target) - 1);
		if (n < 0)
			n = 0;
		target[n] = '\0';
		link_target = json_string(target);
		if (!link_target)
			r = -ENOMEM;
	}
	fsops_mode_string(st.st_mode, perms);
	snprintf(size, sizeof(size), "%lld", (long long)st.st_size);
	r |= set_new(o, "name", json_string(fsops_basename(path)));
	r |= set_new(o, "type", json_string(file_type_name(type_mode)));
	r |= set_new(o, "path", json_string(path));
	r |= set_new(o, "size", json_string(size));
	r |= set_new(o, "mode", json_integer(perm_mode & 0777));
	r |= set_new(o, "permissions", json_string(perms));
	r |= set_new(o, "owner", id_json(nm, false, st.st_uid));
	r |= set_new(o, "group", id_json(nm, true, st.st_gid));
	r |= set_new(o, "modifiedTime", timestamp_json(&st.st_mtim));
	if (link_target)
		r |= set_new(o, "symlinkTarget", TAKE_PTR(link_target));
	if (r == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
		_cleanup_close_ int fd = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		json_t *md = json_object();
		if (!md)
			r = -ENOMEM;
		else if (fd >= 0)
			r = fsops_read_metadata(fd, md);
		if (r == 0 && json_object_size(md) > 0)
			r = set_new(o, "metadata", json_incref(md));
		json_decref(md);
	}
	if (r < 0) {
		json_decref(link_target);
		json_decref(o);
		return -ENOMEM;
	}
	if (ret_is_dir)
		*ret_is_dir = S_ISDIR(st.st_mode);
	*ret = o;
	return 0;
}

int fsops_entry_path(struct fsops_names *nm, const char *path, json_t **ret, bool *ret_is_dir)
{
	char name[NAME_MAX + 1];
	_cleanup_close_ int dfd = fsops_open_parent(path, name, sizeof(name));

	if (dfd < 0)
		return dfd;
	return fsops_entry(nm, dfd, name, path, ret, ret_is_dir);
}

/* ---- ListDir ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *child_path(const char *dir, const char *name)
{
	char *s;

	if (asprintf(&s, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name) < 0)
		return NULL;
	return s;
}

/* Lists dfd (closed here) shown as path, depth levels deep. */
static int list_dir(struct fsops_names *nm, int dfd, const char *path, uint32_t depth,
                    json_t *entries)
{
	DIR *d = fdopendir(dfd);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;

	if (!d) {
		r = -errno;
		close(dfd);
		return r;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n + json_array_size(entries) >= FSOPS_LIST_MAX_ENTRIES) {
			r = -E2BIG;
			goto out;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **bigger = realloc(names, ncap * sizeof(*names));
			if (!bigger) {
				r = -ENOMEM;
				goto out;
			}
			names = bigger;
			cap = ncap;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *cpath = child_path(path, names[i]);
		json_t *e = NULL;
		bool is_dir = false;
		int q;

		if (!cpath) {
			r = -ENOMEM;
			break;
		}
		q = fsops_entry(nm, dirfd(d), names[i], cpath, &e, &is_dir);
		if (q == -ENOMEM) {
			r = q;
			break;
		}
		if (q < 0)
			continue; /* gone meanwhile, or not stat-able by this user */
		if (json_array_append_new(entries, e) < 0) {
			r = -ENOMEM;
			break;
		}
		if (json_array_size(entries) > FSOPS_LIST_MAX_ENTRIES) {
			r = -E2BIG;
			break;
		}
		if (is_dir && depth > 1) {
			int cfd = openat2_fd(dirfd(d), names[i],
			                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW, RESOLVE_WALK);
			if (cfd < 0)
				continue; /* listed, but not readable: not descended into */
			r = list_dir(nm, cfd, cpath, depth - 1, entries);
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return r;
}

int fsops_list(struct fsops_names *nm, const char *path, uint32_t depth, json_t *entries)
{
	int fd = fsops_open(path, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return fd;
	if (depth == 0)
		depth = 1;
	if (depth > FSOPS_LIST_MAX_DEPTH)
		depth = FSOPS_LIST_MAX_DEPTH;
	return list_dir(nm, fd, path, depth, entries);
}

/* ---- MakeDir, Move, Remove ---- */

/* Creates the missing directories of a clean absolute path. 0 also when it existed. */
static int ensure_dirs(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int cur = -1;
	char *save = NULL, *comp;

	if (!copy)
		return -ENOMEM;
	cur = fsops_open("/", O_PATH | O_DIRECTORY);
	if (cur < 0)
		return cur;
	for (comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int next = openat2_fd(cur, comp, O_PATH | O_DIRECTORY, RESOLVE_SANDBOX);
		if (next == -ENOENT) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
				return -errno;
			next = openat2_fd(cur, comp, O_PATH | O_DIRECTORY, RESOLVE_SANDBOX);
		}
		if (next < 0)
			return next;
		close(cur);
		cur = next;
	}
	return 0;
}

int fsops_mkdir_p(const char *path)
{
	_cleanup_close_ int fd = fsops_open(path, O_PATH);
	struct stat st;

	if (fd >= 0) {
		if (fstat(fd, &st) < 0)
			return -errno;
		return S_ISDIR(st.st_mode) ? -EEXIST : -ENOTDIR;
	}
	if (fd != -ENOENT)
		return fd;
	return ensure_dirs(path);
}

int fsops_move(const char *source, const char *destination)
{
	char sname[NAME_MAX + 1], dname[NAME_MAX + 1];
	_cleanup_close_ int sdir = -1, ddir = -1;
	_cleanup_free_ char *dparent = strdup(destination);
	struct stat st;
	char *slash;
	int r;

	if (!dparent)
		return -ENOMEM;
	sdir = fsops_open_parent(source, sname, sizeof(sname));
	if (sdir < 0)
		return sdir;
	if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	slash = strrchr(dparent, '/');
	if (slash && slash != dparent) {
		*slash = '\0';
		r = ensure_dirs(dparent);
		if (r < 0)
			return r;
	}
	ddir = fsops_open_parent(destination, dname, sizeof(dname));
	if (ddir < 0)
		return ddir;
	if (strcmp(sname, ".") == 0 || strcmp(dname, ".") == 0)
		return -EBUSY;
	if (renameat(sdir, sname, ddir, dname) < 0)
		return -errno;
	return 0;
}

int fsops_remove(const char *path)
{
	char name[NAME_MAX + 1];
	_cleanup_close_ int dfd = fsops_open_parent(path, name, sizeof(name));

	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	if (strcmp(name, ".") == 0)
		return -EBUSY;
	return rm_rf_at(dfd, name);
}
