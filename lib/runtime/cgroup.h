/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_RUNTIME_CGROUP_H
#define WARREN_RUNTIME_CGROUP_H

/*
 * Per-sandbox cgroups, on cgroup v1 (one directory per controller hierarchy:
 * cpu/cpuacct, memory, pids, plus freezer for later pause support) and on v2
 * (one directory with cpu, memory and pids enabled in the parent's
 * subtree_control). Detected at cgroup_mgr_new().
 *
 * Every sandbox group lives under a parent group named `parent_name`, which
 * itself is nested under the cgroup warrend runs in (read from
 * /proc/self/cgroup for each hierarchy), never beside it:
 *   <mount>/<warrend's own group>/<parent_name>/<sandbox id>
 * The manager is safe to use from several threads.
 */

#include <stdint.h>
#include <sys/types.h>

#include <warren/error.h>

struct cgroup_mgr;

struct cgroup_limits {
	unsigned cpu_count;    /* CPU bandwidth = cpu_count whole CPUs (quota/period) */
	uint64_t memory_bytes; /* memory limit (v1 also limits memory+swap when available) */
	unsigned pids_max;     /* process/thread limit */
};

int cgroup_mgr_new(const char *parent_name, struct cgroup_mgr **ret, struct warren_error *err);
void cgroup_mgr_free(struct cgroup_mgr *m);
/* 1 for cgroup v2, 0 for v1. */
int cgroup_mgr_is_v2(const struct cgroup_mgr *m);

/* Creates the sandbox's group(s) and sets the limits. -EEXIST if present. */
int cgroup_create(struct cgroup_mgr *m, const char *id, const struct cgroup_limits *lim,
                  struct warren_error *err);
/* Moves pid (and so its future children) into the sandbox's group(s). */
int cgroup_attach(struct cgroup_mgr *m, const char *id, pid_t pid, struct warren_error *err);
/* v2 only: an O_DIRECTORY|O_CLOEXEC fd of the group for clone3(CLONE_INTO_CGROUP). Caller closes.
 * -EOPNOTSUPP on v1. */
int cgroup_open_dirfd(struct cgroup_mgr *m, const char *id);
/* Kills every task left in the group(s), waits until they are gone (bounded), removes the
 * directories. Succeeds (0) when nothing is there. */
int cgroup_destroy(struct cgroup_mgr *m, const char *id);
/* Calls fn for every sandbox group that exists under the parent (restart cleanup). */
int cgroup_list(struct cgroup_mgr *m, void (*fn)(const char *id, void *ud), void *ud);

/*
 * Usage of a sandbox's group(s). memory_bytes is what the kernel charges (v1
 * memory.usage_in_bytes, v2 memory.current): page cache included. From
 * memory.stat (hierarchical totals on v1): memory_cache = page cache (v1
 * total_cache, v2 file), memory_inactive_file = the part of it the kernel
 * reclaims first (v1 total_inactive_file, v2 inactive_file); 0 when absent.
 */
struct cgroup_stats {
	uint64_t cpu_usage_us;
	uint64_t memory_bytes;
	uint64_t memory_cache;
	uint64_t memory_inactive_file;
	unsigned pids;
};
int cgroup_read_stats(struct cgroup_mgr *m, const char *id, struct cgroup_stats *ret);
/*
 * The value of `key` in a "key value" per line text (memory.stat, cpu.stat),
 * or -ENOENT. Exposed for unit tests.
 */
int cgroup_stat_value(const char *text, const char *key, uint64_t *ret);

#endif
