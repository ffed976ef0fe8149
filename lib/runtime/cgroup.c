/* SPDX-License-Identifier: Apache-2.0 */
#include "runtime/cgroup.h"
#include "runtime/cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG_ROOT "/sys/fs/cgroup"
#define CG_DESTROY_TIMEOUT_US (2 * 1000 * 1000)
#define CG_ID_MAX 64

/* The controllers of a v1 hierarchy that this module uses. */
enum {
	CG_CPU = 1 << 0,
	CG_CPUACCT = 1 << 1,
	CG_MEMORY = 1 << 2,
	CG_PIDS = 1 << 3,
	CG_FREEZER = 1 << 4,
};

static const struct {
	const char *name;
	unsigned bit;
	bool required;
} cg_v1_ctrls[] = {
    {"cpu", CG_CPU, true},   {"cpuacct", CG_CPUACCT, false}, {"memory", CG_MEMORY, true},
    {"pids", CG_PIDS, true}, {"freezer", CG_FREEZER, false},
};

struct cg_hier {
	char *base;     /* <mount>/<own group>/<parent_name> */
	unsigned ctrls; /* CG_* bits served by this hierarchy */
};

/*
 * Immutable after cgroup_mgr_new(): every operation works on files named by
 * the sandbox id, so concurrent calls for different ids need no lock, and the
 * kernel serialises calls for the same id.
 */
struct cgroup_mgr {
	bool v2;
	size_t n_hier;
	struct cg_hier hier[ARRAY_SIZE(cg_v1_ctrls)]; /* v2: exactly one, all controllers */
};

static bool cg_name_valid(const char *s)
{
	size_t n = 0;

	if (!s || !*s || s[0] == '.')
		return false;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
		if (n >= CG_ID_MAX)
			return false;
	}
	return true;
}

static int cg_path(char *buf, size_t size, const char *base, const char *id, const char *file)
{
	int n;

	if (file)
		n = snprintf(buf, size, "%s/%s/%s", base, id, file);
	else
		n = snprintf(buf, size, "%s/%s", base, id);
	return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : 0;
}

static int cg_write(const char *base, const char *id, const char *file, const char *val)
{
	char p[PATH_MAX];
	int r = cg_path(p, sizeof(p), base, id, file);

	return r < 0 ? r : write_file(p, val);
}

static int cg_write_u64(const char *base, const char *id, const char *file, uint64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRIu64, v);
	return cg_write(base, id, file, s);
}

static bool cg_exists(const char *base, const char *id, const char *file)
{
	char p[PATH_MAX];

	return cg_path(p, sizeof(p), base, id, file) == 0 && access(p, F_OK) == 0;
}

static int cg_read(const char *base, const char *id, const char *file, char **ret)
{
	char p[PATH_MAX];
	int r = cg_path(p, sizeof(p), base, id, file);

	return r < 0 ? r : read_file(p, 1 << 20, ret, NULL);
}

static void cg_sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Looks up a controller (or "" for the v2 line) in /proc/self/cgroup. */
static int cg_own_path(const char *ctrls_text, const char *ctrl, char **ret)
{
	const char *line = ctrls_text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		const char *c1 = strchr(line, ':');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (c2 && c2 < line + len) {
			size_t list_len = (size_t)(c2 - c1 - 1);
			bool match = false;

			if (!*ctrl) {
				match = list_len == 0 && strncmp(line, "0:", 2) == 0;
			} else {
				const char *p = c1 + 1;
				while (p < c2) {
					const char *comma = memchr(p, ',', (size_t)(c2 - p));
					size_t n = comma ? (size_t)(comma - p) : (size_t)(c2 - p);
					if (n == strlen(ctrl) && memcmp(p, ctrl, n) == 0)
						match = true;
					p += n + 1;
				}
			}
			if (match) {
				*ret = strndup(c2 + 1, (size_t)(line + len - c2 - 1));
				return *ret ? 0 : -ENOMEM;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

/*
 * Finds the mount point and mount root of the v1 hierarchy holding ctrl in
 * /proc/self/mountinfo ("id parent maj:min root mountpoint opts - fstype src superopts").
 */
static int cg_v1_mount(const char *mountinfo, const char *ctrl, char **ret_mnt, char **ret_root)
{
	const char *line = mountinfo;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		_cleanup_free_ char *l = strndup(line, len);
		char *f[5] = {0}, *save = NULL, *tok, *dash;
		int i = 0;

		if (!l)
			return -ENOMEM;
		line = end ? end + 1 : NULL;
		dash = strstr(l, " - ");
		if (!dash)
			continue;
		*dash = '\0';
		for (tok = strtok_r(l, " ", &save); tok && i < 5; tok = strtok_r(NULL, " ", &save))
			f[i++] = tok;
		if (i < 5)
			continue;
		{
			char *fstype, *src, *opts, *s2 = NULL, *o;
			bool match = false;

			fstype = strtok_r(dash + 3, " ", &s2);
			src = fstype ? strtok_r(NULL, " ", &s2) : NULL;
			opts = src ? strtok_r(NULL, " ", &s2) : NULL;
			if (!opts || strcmp(fstype, "cgroup") != 0)
				continue;
			for (o = strtok_r(opts, ",", &s2); o; o = strtok_r(NULL, ",", &s2))
				if (strcmp(o, ctrl) == 0)
					match = true;
			if (!match)
				continue;
		}
		/* Mount points with spaces are escaped as \040; cgroup mounts have none. */
		*ret_mnt = strdup(f[4]);
		*ret_root = strdup(f[3]);
		if (!*ret_mnt || !*ret_root) {
			free(*ret_mnt);
			free(*ret_root);
			return -ENOMEM;
		}
		return 0;
	}
	return -ENOENT;
}

/* <mnt>/<own relative to the mount's root>/<parent>. */
static int cg_join(const char *mnt, const char *root, const char *own, const char *parent,
                   char **ret)
{
	size_t rl = strlen(root);
	const char *rel = own;
	char *s;

	if (strcmp(root, "/") != 0 && strncmp(own, root, rl) == 0 && (own[rl] == '/' || !own[rl]))
		rel = own + rl;
	while (*rel == '/')
		rel++;
	if (asprintf(&s, "%s%s%s/%s", mnt, *rel ? "/" : "", rel, parent) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static bool cg_word_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

static bool cg_detect_v2(void)
{
	struct statfs sfs;
	_cleanup_free_ char *ctrls = NULL;

	if (statfs(CG_ROOT, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return false;
	if (read_file(CG_ROOT "/cgroup.controllers", 4096, &ctrls, NULL) < 0)
		return false;
	return cg_word_in(ctrls, "cpu") && cg_word_in(ctrls, "memory") && cg_word_in(ctrls, "pids");
}

/* Moves every process of dir into dir/<leaf> (v2's "no internal processes" rule). */
static int cg_v2_evacuate(const char *dir, const char *leaf)
{
	_cleanup_free_ char *procs = NULL;
	char d[PATH_MAX], *p, *save = NULL;
	int r;

	r = cg_path(d, sizeof(d), dir, leaf, NULL);
	if (r < 0)
		return r;
	if (mkdir(d, 0755) < 0 && errno != EEXIST)
		return -errno;
	r = cg_path(d, sizeof(d), dir, "cgroup.procs", NULL);
	if (r < 0)
		return r;
	r = read_file(d, 1 << 20, &procs, NULL);
	if (r < 0)
		return r;
	for (p = strtok_r(procs, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		r = cg_write(dir, leaf, "cgroup.procs", p);
		if (r < 0 && r != -ESRCH)
			return r;
	}
	return 0;
}

static int cg_v2_enable(const char *dir, const char *leaf)
{
	char p[PATH_MAX];
	int r;

	if (snprintf(p, sizeof(p), "%s/cgroup.subtree_control", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	r = write_file(p, "+cpu +memory +pids");
	if (r == -EBUSY && leaf) {
		r = cg_v2_evacuate(dir, leaf);
		if (r >= 0)
			r = write_file(p, "+cpu +memory +pids");
	}
	return r;
}

static int cg_mgr_init_v2(struct cgroup_mgr *m, const char *own_text, const char *parent,
                          struct warren_error *err)
{
	_cleanup_free_ char *own = NULL, *own_dir = NULL, *leaf = NULL;
	char *base;
	int r;

	r = cg_own_path(own_text, "", &own);
	if (r < 0)
		return err_set(err, -r, "no cgroup v2 entry in /proc/self/cgroup");
	r = cg_join(CG_ROOT, "/", own, parent, &base);
	if (r < 0)
		return err_set(err, -r, "out of memory");
	m->hier[0].base = base;
	m->hier[0].ctrls = CG_CPU | CG_CPUACCT | CG_MEMORY | CG_PIDS | CG_FREEZER;
	m->n_hier = 1;
	own_dir = strndup(base, (size_t)(strrchr(base, '/') - base));
	if (!own_dir || asprintf(&leaf, "%s.daemon", parent) < 0)
		return err_set(err, ENOMEM, "out of memory");
	/*
	 * Our own group needs the controllers enabled for its children. If it
	 * holds processes (EBUSY: "no internal processes", true of any group but
	 * the real root, a cgroup namespace's root included), they move to a
	 * leaf beside the parent.
	 */
	r = cg_v2_enable(own_dir, leaf);
	if (r < 0)
		return err_set(err, -r, "enabling controllers in %s: %s", own_dir, strerror(-r));
	if (mkdir(base, 0755) < 0 && errno != EEXIST)
		return err_set(err, errno, "creating %s: %m", base);
	r = cg_v2_enable(base, NULL);
	if (r < 0)
		return err_set(err, -r, "enabling controllers in %s: %s", base, strerror(-r));
	return 0;
}

static int cg_mgr_init_v1(struct cgroup_mgr *m, const char *own_text, const char *parent,
                          struct warren_error *err)
{
	_cleanup_free_ char *mountinfo = NULL;
	size_t i, j;
	int r;

	r = read_file("/proc/self/mountinfo", 1 << 20, &mountinfo, NULL);
	if (r < 0)
		return err_set(err, -r, "reading /proc/self/mountinfo: %s", strerror(-r));
	for (i = 0; i < ARRAY_SIZE(cg_v1_ctrls); i++) {
		_cleanup_free_ char *mnt = NULL, *root = NULL, *own = NULL;
		char *base = NULL;

		r = cg_v1_mount(mountinfo, cg_v1_ctrls[i].name, &mnt, &root);
		if (r == 0)
			r = cg_own_path(own_text, cg_v1_ctrls[i].name, &own);
		if (r == -ENOENT && !cg_v1_ctrls[i].required)
			continue;
		if (r < 0)
			return err_set(err, -r, "cgroup v1 controller '%s' not found",
			               cg_v1_ctrls[i].name);
		r = cg_join(mnt, root, own, parent, &base);
		if (r < 0)
			return err_set(err, ENOMEM, "out of memory");
		for (j = 0; j < m->n_hier; j++)
			if (strcmp(m->hier[j].base, base) == 0)
				break;
		if (j < m->n_hier) {
			free(base);
		} else {
			m->hier[j].base = base;
			m->n_hier++;
		}
		m->hier[j].ctrls |= cg_v1_ctrls[i].bit;
	}
	for (j = 0; j < m->n_hier; j++)
		if (mkdir(m->hier[j].base, 0755) < 0 && errno != EEXIST)
			return err_set(err, errno, "creating %s: %m", m->hier[j].base);
	return 0;
}

int cgroup_mgr_new(const char *parent_name, struct cgroup_mgr **ret, struct warren_error *err)
{
	_cleanup_free_ char *own_text = NULL;
	struct cgroup_mgr *m;
	int r;

	if (!cg_name_valid(parent_name))
		return err_set(err, EINVAL, "invalid cgroup parent name");
	r = read_file("/proc/self/cgroup", 1 << 16, &own_text, NULL);
	if (r < 0)
		return err_set(err, -r, "reading /proc/self/cgroup: %s", strerror(-r));
	m = calloc(1, sizeof(*m));
	if (!m)
		return err_set(err, ENOMEM, "out of memory");
	m->v2 = cg_detect_v2();
	r = m->v2 ? cg_mgr_init_v2(m, own_text, parent_name, err)
	          : cg_mgr_init_v1(m, own_text, parent_name, err);
	if (r < 0) {
		err_prefix(err, "cgroup v%d setup", m->v2 ? 2 : 1);
		cgroup_mgr_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void cgroup_mgr_free(struct cgroup_mgr *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n_hier; i++)
		free(m->hier[i].base);
	free(m);
}

int cgroup_mgr_is_v2(const struct cgroup_mgr *m)
{
	return m->v2 ? 1 : 0;
}

static const struct cg_hier *cg_find(const struct cgroup_mgr *m, unsigned ctrl)
{
	size_t i;

	for (i = 0; i < m->n_hier; i++)
		if (m->hier[i].ctrls & ctrl)
			return &m->hier[i];
	return NULL;
}

static int cg_set_limits_v1(struct cgroup_mgr *m, const char *id, const struct cgroup_limits *lim,
                            const char **ret_file)
{
	const struct cg_hier *h;
	int r;

	h = cg_find(m, CG_CPU);
	*ret_file = "cpu.cfs_quota_us";
	r = cg_write_u64(h->base, id, "cpu.cfs_period_us", 100000);
	if (r >= 0)
		r = lim->cpu_count ? cg_write_u64(h->base, id, "cpu.cfs_quota_us",
		                                  (uint64_t)lim->cpu_count * 100000)
		                   : cg_write(h->base, id, "cpu.cfs_quota_us", "-1");
	if (r < 0)
		return r;

	h = cg_find(m, CG_MEMORY);
	if (lim->memory_bytes) {
		*ret_file = "memory.limit_in_bytes";
		r = cg_write_u64(h->base, id, "memory.limit_in_bytes", lim->memory_bytes);
		if (r < 0)
			return r;
		/* memory+swap: without it a sandbox could swap out past its limit. */
		if (cg_exists(h->base, id, "memory.memsw.limit_in_bytes")) {
			*ret_file = "memory.memsw.limit_in_bytes";
			r = cg_write_u64(h->base, id, "memory.memsw.limit_in_bytes",
			                 lim->memory_bytes);
			if (r < 0)
				return r;
		} else {
			(void)cg_write(h->base, id, "memory.swappiness", "0");
		}
	}
	/* 0 = the OOM killer is enabled and picks its victim inside this group. */
	*ret_file = "memory.oom_control";
	r = cg_write(h->base, id, "memory.oom_control", "0");
	if (r < 0)
		return r;

	h = cg_find(m, CG_PIDS);
	*ret_file = "pids.max";
	return lim->pids_max ? cg_write_u64(h->base, id, "pids.max", lim->pids_max)
	                     : cg_write(h->base, id, "pids.max", "max");
}

static int cg_set_limits_v2(struct cgroup_mgr *m, const char *id, const struct cgroup_limits *lim,
                            const char **ret_file)
{
	const char *b = m->hier[0].base;
	char s[64];
	int r;

	*ret_file = "cpu.max";
	if (lim->cpu_count)
		snprintf(s, sizeof(s), "%" PRIu64 " 100000", (uint64_t)lim->cpu_count * 100000);
	else
		snprintf(s, sizeof(s), "max 100000");
	r = cg_write(b, id, "cpu.max", s);
	if (r < 0)
		return r;
	if (lim->memory_bytes) {
		*ret_file = "memory.max";
		r = cg_write_u64(b, id, "memory.max", lim->memory_bytes);
		if (r < 0)
			return r;
		if (cg_exists(b, id, "memory.swap.max")) {
			*ret_file = "memory.swap.max";
			r = cg_write(b, id, "memory.swap.max", "0");
			if (r < 0)
				return r;
		}
	}
	/* Kill the whole sandbox on OOM rather than one of its processes at random. */
	if (cg_exists(b, id, "memory.oom.group"))
		(void)cg_write(b, id, "memory.oom.group", "1");
	*ret_file = "pids.max";
	return lim->pids_max ? cg_write_u64(b, id, "pids.max", lim->pids_max)
	                     : cg_write(b, id, "pids.max", "max");
}

int cgroup_create(struct cgroup_mgr *m, const char *id, const struct cgroup_limits *lim,
                  struct warren_error *err)
{
	const char *file = "";
	size_t i, n_made = 0;
	int r;

	if (!cg_name_valid(id))
		return err_set(err, EINVAL, "invalid sandbox id for a cgroup");
	for (i = 0; i < m->n_hier; i++) {
		char p[PATH_MAX];

		/* The parent may have been removed since (an administrator's cleanup). */
		if (mkdir(m->hier[i].base, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			err_set(err, -r, "creating cgroup %s: %m", m->hier[i].base);
			goto out_rmdir;
		}

		r = cg_path(p, sizeof(p), m->hier[i].base, id, NULL);
		if (r < 0) {
			err_set(err, -r, "cgroup path too long");
			goto out_rmdir;
		}
		if (mkdir(p, 0755) < 0) {
			r = -errno;
			err_set(err, -r, "creating cgroup %s: %m", p);
			goto out_rmdir;
		}
		n_made++;
	}
	r = m->v2 ? cg_set_limits_v2(m, id, lim, &file) : cg_set_limits_v1(m, id, lim, &file);
	if (r < 0) {
		err_set(err, -r, "setting %s of cgroup '%s': %s", file, id, strerror(-r));
		goto out_rmdir;
	}
	return 0;

out_rmdir:
	while (n_made > 0) {
		char p[PATH_MAX];

		n_made--;
		if (cg_path(p, sizeof(p), m->hier[n_made].base, id, NULL) == 0)
			(void)rmdir(p);
	}
	return r;
}

int cgroup_attach(struct cgroup_mgr *m, const char *id, pid_t pid, struct warren_error *err)
{
	char s[32];
	size_t i;
	int r;

	if (!cg_name_valid(id) || pid <= 0)
		return err_set(err, EINVAL, "invalid cgroup attach arguments");
	snprintf(s, sizeof(s), "%d", (int)pid);
	for (i = 0; i < m->n_hier; i++) {
		r = cg_write(m->hier[i].base, id, "cgroup.procs", s);
		if (r < 0)
			return err_set(err, -r, "moving pid %d into cgroup %s/%s: %s", (int)pid,
			               m->hier[i].base, id, strerror(-r));
	}
	return 0;
}

int cgroup_open_dirfd(struct cgroup_mgr *m, const char *id)
{
	char p[PATH_MAX];
	int r, fd;

	if (!m->v2)
		return -EOPNOTSUPP;
	if (!cg_name_valid(id))
		return -EINVAL;
	r = cg_path(p, sizeof(p), m->hier[0].base, id, NULL);
	if (r < 0)
		return r;
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Number of pids listed in a group's cgroup.procs, after sending each sig (0: none). */
static int cg_signal_all(const char *base, const char *id, int sig)
{
	_cleanup_free_ char *procs = NULL;
	char *p, *save = NULL;
	int r, n = 0;

	r = cg_read(base, id, "cgroup.procs", &procs);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	for (p = strtok_r(procs, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		long pid = strtol(p, NULL, 10);
		if (pid <= 0)
			continue;
		n++;
		if (sig)
			(void)kill((pid_t)pid, sig);
	}
	return n;
}

/* rmdir of the group and any subgroups a process made inside it, deepest first. */
static int cg_rmdir_tree(const char *path, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (depth > 16)
		return -ELOOP;
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char sub[PATH_MAX];
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub))
			continue;
		(void)cg_rmdir_tree(sub, depth + 1);
	}
	closedir(d);
	if (rmdir(path) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}

static int cg_destroy_v2(struct cgroup_mgr *m, const char *id, int64_t deadline)
{
	const char *b = m->hier[0].base;
	char p[PATH_MAX];
	int r;

	r = cg_path(p, sizeof(p), b, id, NULL);
	if (r < 0)
		return r;
	if (access(p, F_OK) < 0)
		return 0;
	/* cgroup.kill (5.14+) kills the whole subtree atomically, forks included. */
	if (cg_write(b, id, "cgroup.kill", "1") < 0)
		(void)cg_signal_all(b, id, SIGKILL);
	for (;;) {
		r = cg_rmdir_tree(p, 0);
		if (r != -EBUSY)
			return r;
		if (now_mono_us() > deadline)
			return -ETIMEDOUT;
		(void)cg_signal_all(b, id, SIGKILL);
		cg_sleep_us(1000);
	}
}

static int cg_destroy_v1(struct cgroup_mgr *m, const char *id, int64_t deadline)
{
	const struct cg_hier *fz = cg_find(m, CG_FREEZER);
	bool frozen = false;
	size_t i;
	int r, total;

	if (fz && cg_exists(fz->base, id, "freezer.state")) {
		/*
		 * Frozen tasks can neither fork nor exit, so the pids read from
		 * cgroup.procs stay theirs until they are killed and thawed.
		 */
		if (cg_write(fz->base, id, "freezer.state", "FROZEN") >= 0) {
			frozen = true;
			while (now_mono_us() < deadline) {
				_cleanup_free_ char *st = NULL;
				if (cg_read(fz->base, id, "freezer.state", &st) < 0 ||
				    strncmp(st, "FROZEN", 6) == 0)
					break;
				cg_sleep_us(500);
			}
		}
	}
	for (;;) {
		total = 0;
		for (i = 0; i < m->n_hier; i++) {
			r = cg_signal_all(m->hier[i].base, id, SIGKILL);
			if (r > 0)
				total += r;
		}
		if (frozen) {
			(void)cg_write(fz->base, id, "freezer.state", "THAWED");
			frozen = false;
		}
		if (total == 0)
			break;
		if (now_mono_us() > deadline)
			return -ETIMEDOUT;
		cg_sleep_us(1000);
	}
	r = 0;
	for (i = 0; i < m->n_hier; i++) {
		char p[PATH_MAX];
		int q;

		if (cg_path(p, sizeof(p), m->hier[i].base, id, NULL) < 0)
			continue;
		/* A task that just exited may hold the group for a moment. */
		while ((q = cg_rmdir_tree(p, 0)) == -EBUSY && now_mono_us() < deadline)
			cg_sleep_us(1000);
		if (q < 0 && r == 0)
			r = q;
	}
	return r;
}

int cgroup_destroy(struct cgroup_mgr *m, const char *id)
{
	int64_t deadline = now_mono_us() + CG_DESTROY_TIMEOUT_US;

	if (!cg_name_valid(id))
		return -EINVAL;
	return m->v2 ? cg_destroy_v2(m, id, deadline) : cg_destroy_v1(m, id, deadline);
}

static bool cg_listed_before(const struct cgroup_mgr *m, size_t upto, const char *id)
{
	char p[PATH_MAX];
	size_t i;

	for (i = 0; i < upto; i++)
		if (cg_path(p, sizeof(p), m->hier[i].base, id, NULL) == 0 && access(p, F_OK) == 0)
			return true;
	return false;
}

/*
 * Every hierarchy is read: on v1 warrend's own group may differ between
 * hierarchies and between runs (a new memory group per start), so a group
 * left by an earlier run may show in some hierarchies only.
 */
int cgroup_list(struct cgroup_mgr *m, void (*fn)(const char *id, void *ud), void *ud)
{
	size_t i;

	for (i = 0; i < m->n_hier; i++) {
		struct dirent *de;
		DIR *d = opendir(m->hier[i].base);

		if (!d) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		while ((de = readdir(d))) {
			if (de->d_type != DT_DIR || !cg_name_valid(de->d_name) ||
			    cg_listed_before(m, i, de->d_name))
				continue;
			fn(de->d_name, ud);
		}
		closedir(d);
	}
	return 0;
}

static int cg_read_u64(const char *base, const char *id, const char *file, uint64_t *ret)
{
	_cleanup_free_ char *s = NULL;
	int r = cg_read(base, id, file, &s);

	if (r < 0)
		return r;
	*ret = strtoull(s, NULL, 10);
	return 0;
}

int cgroup_stat_value(const char *text, const char *key, uint64_t *ret)
{
	size_t klen = strlen(key);

	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ' && line[klen + 1] >= '0' &&
		    line[klen + 1] <= '9') {
			*ret = strtoull(line + klen + 1, NULL, 10);
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

/* The page cache figures of memory.stat; zeros when the file cannot be read. */
static void cg_read_memory_stat(const char *base, const char *id, bool v2, struct cgroup_stats *st)
{
	_cleanup_free_ char *s = NULL;

	if (cg_read(base, id, "memory.stat", &s) < 0)
		return;
	(void)cgroup_stat_value(s, v2 ? "file" : "total_cache", &st->memory_cache);
	(void)cgroup_stat_value(s, v2 ? "inactive_file" : "total_inactive_file",
	                        &st->memory_inactive_file);
}

int cgroup_read_stats(struct cgroup_mgr *m, const char *id, struct cgroup_stats *ret)
{
	struct cgroup_stats st = {0};
	uint64_t v = 0;
	int r;

	if (!cg_name_valid(id))
		return -EINVAL;
	if (m->v2) {
		const char *b = m->hier[0].base;
		_cleanup_free_ char *cpu = NULL;

		r = cg_read(b, id, "cpu.stat", &cpu);
		if (r < 0)
			return r;
		(void)cgroup_stat_value(cpu, "usage_usec", &st.cpu_usage_us);
		r = cg_read_u64(b, id, "memory.current", &st.memory_bytes);
		if (r < 0)
			return r;
		cg_read_memory_stat(b, id, true, &st);
		r = cg_read_u64(b, id, "pids.current", &v);
	} else {
		const struct cg_hier *h = cg_find(m, CG_CPUACCT);

		if (h && cg_read_u64(h->base, id, "cpuacct.usage", &v) == 0)
			st.cpu_usage_us = v / 1000;
		r = cg_read_u64(cg_find(m, CG_MEMORY)->base, id, "memory.usage_in_bytes",
		                &st.memory_bytes);
		if (r < 0)
			return r;
		cg_read_memory_stat(cg_find(m, CG_MEMORY)->base, id, false, &st);
		r = cg_read_u64(cg_find(m, CG_PIDS)->base, id, "pids.current", &v);
	}
	if (r < 0)
		return r;
	st.pids = (unsigned)v;
	*ret = st;
	return 0;
}

int cgroup_file_path(const struct cgroup_mgr *m, const char *id, const char *file, char *buf,
                     size_t size)
{
	const struct cg_hier *h = &m->hier[0];
	size_t i;

	if (!cg_name_valid(id))
		return -EINVAL;
	if (file && !m->v2) {
		h = NULL;
		for (i = 0; i < ARRAY_SIZE(cg_v1_ctrls); i++) {
			size_t n = strlen(cg_v1_ctrls[i].name);
			if (strncmp(file, cg_v1_ctrls[i].name, n) == 0 && file[n] == '.')
				h = cg_find(m, cg_v1_ctrls[i].bit);
		}
		if (!h)
			return -ENOENT;
	}
	return cg_path(buf, size, h->base, id, file);
}

int cgroup_mgr_remove(struct cgroup_mgr *m)
{
	size_t i;
	int r = 0;

	for (i = 0; i < m->n_hier; i++)
		if (rmdir(m->hier[i].base) < 0 && errno != ENOENT && r == 0)
			r = -errno;
	return r;
}
