/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_REGISTRY_H
#define WARREND_REGISTRY_H

/*
 * The sandbox registry: the live sandboxes in memory (behind one mutex) and
 * in the store (for restart recovery), on top of the runtime (sandbox.h).
 *
 * A sandbox is "creating" while rt_create runs, "running" once it returned,
 * and "dying" while it is torn down; only running sandboxes are visible
 * (get/list/connect/resolve), the others answer -ENOENT. A reaper thread
 * kills sandboxes whose deadline passed and cleans up those whose init died
 * (it polls their pidfds). Killing = rt_destroy + row deleted + entry gone.
 * Slots are the smallest free integer >= 1 among all entries.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <warren/error.h>

#include "api_json.h"

struct rt;
struct store;
struct registry;

struct registry_config {
	struct rt *rt;
	struct store *store;
	unsigned max_sandboxes; /* 0 means 256 */
	unsigned cpu_count;     /* template resources (only "base" exists) */
	unsigned memory_mb;
	unsigned disk_mb;
	unsigned pids_max;
};

/* A copy of a running sandbox's public state. Release with registry_info_release. */
struct registry_info {
	char id[API_SBX_ID_MAX + 1];
	char template_id[API_TEMPLATE_ID_MAX + 1];
	unsigned cpu_count, memory_mb, disk_mb;
	int64_t started_ms, end_ms;
	bool allow_internet;
	struct in_addr addr;
	char *metadata_json;
};
void registry_info_release(struct registry_info *i);
void registry_info_free_array(struct registry_info *infos, size_t n);

/* Starts the reaper thread. NULL only on out-of-memory (or thread creation failure). */
struct registry *registry_new(const struct registry_config *cfg);
/* Stops the reaper; does not destroy sandboxes (see registry_kill_all). NULL is fine. */
void registry_free(struct registry *reg);

/*
 * Re-adopts the sandboxes of the store after a restart: live ones are kept
 * with their deadline, dead ones are destroyed and forgotten; then orphaned
 * runtime state (directories, cgroups) of unknown ids is removed.
 * Returns the number of sandboxes kept.
 */
int registry_recover(struct registry *reg);

/*
 * Creates a sandbox and returns once its agent is ready. -ENOENT unknown
 * template, -EAGAIN at the sandbox cap, other -errno with err filled.
 */
int registry_create(struct registry *reg, const struct api_create_req *req,
                    struct registry_info *ret, struct warren_error *err);
/* Extends the deadline to now + timeout_s unless it is later already. 0 or -ENOENT. */
int registry_connect(struct registry *reg, const char *id, int timeout_s,
                     struct registry_info *ret);
/* Sets the deadline to now + timeout_s (may shorten it). 0 or -ENOENT. */
int registry_set_timeout(struct registry *reg, const char *id, int timeout_s);
int registry_get(struct registry *reg, const char *id, struct registry_info *ret);
/* All running sandboxes ordered by (started_ms, id). */
int registry_list(struct registry *reg, struct registry_info **ret, size_t *ret_n);
/* Tears a running sandbox down. 0, or -ENOENT when unknown (or already going). */
int registry_kill(struct registry *reg, const char *id);
/* Tears every sandbox down (shutdown). */
void registry_kill_all(struct registry *reg);
/* Number of entries in any state. */
size_t registry_count(struct registry *reg);

/* proxy_resolve_fn: ud is the registry. */
int registry_resolve(void *ud, const char *sandbox_id, struct in_addr *ret_addr);

#endif
