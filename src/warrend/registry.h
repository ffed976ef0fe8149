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
#include "api_network.h"

#define REGISTRY_TOKEN_MAX 64

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
	/*
	 * Sets a running sandbox's egress rules in the firewall (net_set_egress); NULL: a
	 * create or update with allowOut/denyOut fails (and internet access cannot change).
	 */
	int (*egress)(void *ud, unsigned slot, bool allow_internet, const struct api_network *n,
	              struct warren_error *err);
	void *egress_ud;
};

/* A copy of a running sandbox's public state. Release with registry_info_release. */
struct registry_info {
	char id[API_SBX_ID_MAX + 1];
	char template_id[API_TEMPLATE_ID_MAX + 1];
	unsigned cpu_count, memory_mb, disk_mb;
	int64_t started_ms, end_ms;
	bool allow_internet;
	struct in_addr addr;
	bool paused;      /* state "paused" */
	bool auto_pause;  /* lifecycle.onTimeout "pause" */
	bool auto_resume; /* lifecycle.autoResume: resumed by traffic while paused */
	char *metadata_json;
	char envd_token[REGISTRY_TOKEN_MAX + 1];    /* "" unless created secure */
	char traffic_token[REGISTRY_TOKEN_MAX + 1]; /* "" unless allowPublicTraffic false */
	struct api_network *network;                /* NULL: none given */
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

/*
 * The pool's side of the registry (pool.h drives it). A pooled sandbox is made
 * exactly like a cold one (same rt_create, limits and agent environment, with
 * empty envVars, internet access allowed, no deadline, its own id), recorded in
 * the store as "pooled", and invisible to get/list/connect/resolve/kill until
 * claimed. Pooled sandboxes count towards max_sandboxes; a cold create at the
 * cap evicts a pooled one rather than fail (both count until the evicted one is
 * torn down, so that no refill takes its place). registry_recover destroys the
 * store's pooled rows (never re-adopted); registry_kill_all destroys them too.
 */
/* Blocks while it spawns one pooled sandbox. -EAGAIN at the cap, other -errno with err. */
int registry_pool_spawn(struct registry *reg, const char *template_id, struct warren_error *err);
/* Pooled sandboxes of template_id, ready or being made. */
size_t registry_pool_count(struct registry *reg, const char *template_id);
/* Pooled sandboxes of template_id that a claim can take now (recorded as "pooled" in the store
 * a moment before they are). */
size_t registry_pool_ready(struct registry *reg, const char *template_id);
/* Is there room under max_sandboxes for one more entry? */
bool registry_has_room(struct registry *reg);
/*
 * Takes a ready pooled sandbox of template_id whose internet access is allow_internet
 * out of the pool for good (it is never handed out again), still invisible. 0 with its id
 * and address, or -ENOENT when none is ready. Then exactly one of activate or discard.
 */
int registry_pool_take(struct registry *reg, const char *template_id, bool allow_internet,
                       char ret_id[API_SBX_ID_MAX + 1], struct in_addr *ret_addr);
/* Makes a taken sandbox the client's: req's metadata, env and timeout (from now), and the envd
 * token its agent got ("" for none); visible. */
int registry_pool_activate(struct registry *reg, const char *id, const struct api_create_req *req,
                           const char *envd_token, struct registry_info *ret);
/* Destroys a taken sandbox that could not be configured. */
void registry_pool_discard(struct registry *reg, const char *id);
/*
 * fn(ud) is called, with the registry's lock held (so fn must not call the registry),
 * whenever an entry goes away or a pooled sandbox is taken. NULL stops the calls: once
 * this returns, fn runs no more.
 */
void registry_set_notify(struct registry *reg, void (*fn)(void *ud), void *ud);

/*
 * Pause and resume (docs/PERSISTENCE.md). Paused sandboxes are visible to get, list
 * (paused set) and kill (which removes their images and disk), not to resolve; they keep
 * their slot and survive a restart of warrend (registry_recover re-adopts them).
 */
/* Checkpoints a running sandbox. 0, -ENOENT, -EALREADY (paused), -EBUSY (pausing or
 * resuming), other -errno with err (the sandbox is still running then). */
int registry_pause(struct registry *reg, const char *id, struct warren_error *err);
/* Connect: a running sandbox gets its deadline extended (0), a paused one is restored with
 * deadline now + timeout_s (1). -ENOENT, -EBUSY, other -errno with err (still paused). */
int registry_resume(struct registry *reg, const char *id, int timeout_s, struct registry_info *ret,
                    struct warren_error *err);
/* The reaper at a deadline: true when the sandbox asked for autoPause (it is paused, or its
 * pause failed and is tried again later), false when it is to be killed. */
bool registry_timeout_pause(struct registry *reg, const char *id);

/*
 * Replaces a running sandbox's egress rules and internet access (PUT /network; the
 * allowPublicTraffic and maskRequestHost settings are kept). 0, -ENOENT, or -errno with err filled.
 */
int registry_update_network(struct registry *reg, const char *id, const struct api_network *n,
                            struct warren_error *err);
/* May port traffic with this e2b-traffic-access-token (NULL: none) reach sandbox id? True for
 * sandboxes without a traffic token and for unknown ids (the proxy answers those itself). */
bool registry_traffic_ok(void *ud, const char *sandbox_id, const char *token);

/*
 * The running sandbox whose envd token validates a /files signature (filesig.h):
 * 0 with its id when one matches (expired or not: its agent gives the answer),
 * -ENOENT when none does. ud is the registry.
 */
int registry_find_signed(void *ud, const char *signature, const char *expiration, const char *path,
                         const char *op, const char *user, char ret_id[API_SBX_ID_MAX + 1]);

/* The Host that requests to `port` of a running sandbox carry in (its maskRequestHost, with
 * ${PORT} filled in): true with out written, false when it has none (or is not running). */
bool registry_mask_host(void *ud, const char *sandbox_id, uint16_t port, char *out, size_t size);

/*
 * The proxy's wake-up for a request to a sandbox that is not running: when it is paused (or
 * being paused or resumed) and was created with autoResume, resumes it, waiting for a pause or
 * resume under way to end first, with its creation timeout as the new one. 0 when it is
 * running now; -ENOENT when it is unknown or has no autoResume; -EIO when the resume failed
 * (it stays paused, and says why in the log).
 */
int registry_wake(void *ud, const char *sandbox_id);

/* proxy_resolve_fn: ud is the registry. */
int registry_resolve(void *ud, const char *sandbox_id, struct in_addr *ret_addr);

#endif
