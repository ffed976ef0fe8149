/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_METRICS_H
#define WARREND_METRICS_H

/*
 * The sandbox metrics sampler: a thread that, every interval, takes one
 * sample of every running sandbox and adds it to the store
 * (store_metric_add), where GET /sandboxes/{id}/metrics reads them.
 *
 * A sample (docs/OBSERVABILITY.md):
 *  - cpu_pct: CPU time used since the previous sample of that sandbox over
 *    the wall time between them times cpu_count, in percent (0..100). The
 *    first sample of a sandbox (or the first after a warrend restart)
 *    averages over the sandbox's life so far.
 *  - mem_used: the cgroup's charge minus its inactive page cache (the
 *    "working set"); mem_cache: its page cache; mem_total: the limit.
 *  - disk_used, disk_total: statfs of the sandbox's own disk (rt_disk_usage:
 *    the ext4 that holds its writable layer, metadata included). A sandbox
 *    without a disk: the blocks of its upper directory, walked without
 *    following links (at most METRICS_DISK_MAX_ENTRIES entries), and its
 *    disk_mb as the total.
 * Old samples are thinned every minute (store_metric_thin), so that a long
 * life keeps a bounded number of rows.
 */

#include <stdint.h>

struct registry;
struct rt;
struct store;
struct cgroup_mgr;
struct metrics;

#define METRICS_INTERVAL_MS_DEFAULT 5000
#define METRICS_DISK_MAX_ENTRIES 200000

struct metrics_config {
	struct registry *reg;
	struct store *store;
	struct cgroup_mgr *cgroups; /* NULL: CPU and memory read as 0 */
	struct rt *rt;              /* for rt_disk_usage; NULL: always walk the upper layer */
	const char *state_dir;      /* for the upper layers (logs_upper_open) */
	unsigned interval_ms;       /* 0: METRICS_INTERVAL_MS_DEFAULT */
};

/* Starts the sampler thread (its first round runs at once). -errno on failure. */
int metrics_new(const struct metrics_config *cfg, struct metrics **ret);
/* Stops and joins the thread. NULL is fine. */
void metrics_free(struct metrics *m);

/*
 * Bytes of the blocks under the directory dir_fd (not closed), without
 * following symbolic links or crossing into other file systems, counting at
 * most max_entries entries. Hard links are counted once per link. -errno on a
 * failure to open dir_fd's listing; unreadable subdirectories are skipped.
 */
int metrics_dir_usage(int dir_fd, uint64_t max_entries, uint64_t *ret_bytes);

#endif
