/* SPDX-License-Identifier: Apache-2.0 */
#include "registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <jansson.h>

#include "common/error.h"
#include "common/filesig.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/checkpoint.h"
#include "runtime/sandbox.h"
#include "store.h"

#define SBX_ID_LEN 20
#define REAPER_MAX_WAIT_MS 60000

/*
 * POOLED: ready in the pool, invisible; CLAIMED: taken from the pool by a create that is
 * configuring it, still invisible (and never handed out again).
 */
/*
 * PAUSING/RESUMING: a checkpoint or restore runs (registry_pause.c); PAUSED: no processes,
 * its images and disk on disk, visible (state "paused").
 */
enum sbx_state {
	SBX_CREATING,
	SBX_RUNNING,
	SBX_DYING,
	SBX_POOLED,
	SBX_CLAIMED,
	SBX_PAUSING,
	SBX_PAUSED,
	SBX_RESUMING,
};

struct sbx {
	char id[API_SBX_ID_MAX + 1];
	char template_id[API_TEMPLATE_ID_MAX + 1];
	enum sbx_state state;
	unsigned slot;
	pid_t pid;
	uint64_t start_time;
	int pidfd;
	struct in_addr addr;
	int64_t started_ms, end_ms;
	unsigned cpu_count, memory_mb, disk_mb;
	bool allow_internet;
	char *metadata_json;
	char *env_json;
	bool for_pool;        /* spawned for the pool (CREATING or POOLED until claimed) */
	bool auto_pause;      /* pause instead of kill at the deadline */
	bool auto_resume;     /* resumed by traffic while paused (registry_wake) */
	int resume_timeout_s; /* the timeout of an auto-resume: the create's */
	char envd_token[REGISTRY_TOKEN_MAX + 1];
	char traffic_token[REGISTRY_TOKEN_MAX + 1];
	struct api_network *network; /* NULL: none given */
};

struct registry {
	struct registry_config cfg;
	pthread_mutex_t lock;
	pthread_mutex_t net_lock; /* one network update at a time (firewall and entry agree) */
	struct sbx **v;           /* every entry, any state */
	size_t n, cap;
	int wake_fd;
	bool stop;
	pthread_t reaper;
	/* Called under the lock when an entry goes or a pooled one is taken. */
	void (*notify)(void *ud);
	void *notify_ud;
};

static void sbx_free(struct sbx *e)
{
	if (!e)
		return;
	if (e->pidfd >= 0)
		close(e->pidfd);
	free(e->metadata_json);
	free(e->env_json);
	free(e->network);
	free(e);
}

static void wake_reaper(struct registry *reg)
{
	uint64_t one = 1;
	ssize_t r = write(reg->wake_fd, &one, sizeof(one));
	(void)r; /* a full counter is still a wake-up */
}

/* Locked. */
static struct sbx *find_locked(struct registry *reg, const char *id)
{
	for (size_t i = 0; i < reg->n; i++)
		if (strcmp(reg->v[i]->id, id) == 0)
			return reg->v[i];
	return NULL;
}

static int add_locked(struct registry *reg, struct sbx *e)
{
	if (reg->n == reg->cap) {
		size_t ncap = reg->cap ? reg->cap * 2 : 16;
		struct sbx **nv = realloc(reg->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		reg->v = nv;
		reg->cap = ncap;
	}
	reg->v[reg->n++] = e;
	return 0;
}

/* Locked. */
static void notify_locked(struct registry *reg)
{
	if (reg->notify)
		reg->notify(reg->notify_ud);
}

static void remove_entry(struct registry *reg, struct sbx *e)
{
	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n; i++) {
		if (reg->v[i] == e) {
			reg->v[i] = reg->v[--reg->n];
			break;
		}
	}
	notify_locked(reg);
	pthread_mutex_unlock(&reg->lock);
	sbx_free(e);
}

static unsigned free_slot_locked(struct registry *reg)
{
	for (unsigned slot = 1;; slot++) {
		bool used = false;
		for (size_t i = 0; i < reg->n && !used; i++)
			used = reg->v[i]->slot == slot;
		if (!used)
			return slot;
	}
}

static int fill_info(const struct sbx *e, struct registry_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->id, sizeof(ret->id), "%s", e->id);
	snprintf(ret->template_id, sizeof(ret->template_id), "%s", e->template_id);
	ret->cpu_count = e->cpu_count;
	ret->memory_mb = e->memory_mb;
	ret->disk_mb = e->disk_mb;
	ret->started_ms = e->started_ms;
	ret->end_ms = e->end_ms;
	ret->allow_internet = e->allow_internet;
	ret->addr = e->addr;
	ret->paused = e->state == SBX_PAUSED || e->state == SBX_RESUMING;
	ret->auto_pause = e->auto_pause;
	ret->auto_resume = e->auto_resume;
	snprintf(ret->envd_token, sizeof(ret->envd_token), "%s", e->envd_token);
	snprintf(ret->traffic_token, sizeof(ret->traffic_token), "%s", e->traffic_token);
	if (e->network) {
		ret->network = malloc(sizeof(*ret->network));
		if (!ret->network)
			return -ENOMEM;
		*ret->network = *e->network;
	}
	ret->metadata_json = strdup(e->metadata_json ? e->metadata_json : "{}");
	return ret->metadata_json ? 0 : -ENOMEM;
}

void registry_info_release(struct registry_info *i)
{
	if (!i)
		return;
	free(i->metadata_json);
	free(i->network);
	i->metadata_json = NULL;
	i->network = NULL;
}

void registry_info_free_array(struct registry_info *infos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		registry_info_release(&infos[i]);
	free(infos);
}

static void store_row(struct registry *reg, const struct sbx *e, const char *state)
{
	char addr[INET_ADDRSTRLEN] = "";
	struct store_sbx row = {
	    .id = (char *)e->id,
	    .template_id = (char *)e->template_id,
	    .state = (char *)state,
	    .slot = e->slot,
	    .pid = e->pid,
	    .start_time = e->start_time,
	    .addr = addr,
	    .started_ms = e->started_ms,
	    .end_ms = e->end_ms,
	    .cpu_count = e->cpu_count,
	    .memory_mb = e->memory_mb,
	    .disk_mb = e->disk_mb,
	    .allow_internet = e->allow_internet,
	    .metadata = e->metadata_json,
	    .env = e->env_json,
	};

	if (e->addr.s_addr)
		inet_ntop(AF_INET, &e->addr, addr, sizeof(addr));
	if (store_sbx_put(reg->cfg.store, &row) < 0)
		log_sbx(LOG_WARN, e->id, "cannot record sandbox in the database");
}

/* The access data row: {"envdAccessToken", "trafficAccessToken", "network", "autoPause",
 * "autoResume", "resumeTimeout"}, when any is set. */
static void store_access(struct registry *reg, const struct sbx *e)
{
	json_t *o;
	char *s = NULL;

	if (!e->envd_token[0] && !e->traffic_token[0] && !e->network && !e->auto_pause &&
	    !e->auto_resume)
		return;
	o = json_pack("{s:s, s:s, s:o*, s:b, s:b, s:i}", "envdAccessToken", e->envd_token,
	              "trafficAccessToken", e->traffic_token, "network",
	              e->network ? api_network_json(e->network) : NULL, "autoPause", e->auto_pause,
	              "autoResume", e->auto_resume, "resumeTimeout", e->resume_timeout_s);
	if (o)
		s = json_dumps(o, JSON_COMPACT);
	if (!s || store_access_put(reg->cfg.store, e->id, s) < 0)
		log_sbx(LOG_WARN, e->id, "cannot record the sandbox's access data in the database");
	free(s);
	json_decref(o);
}

/* Reads back what store_access wrote (after a restart). Missing or bad data leaves e as is. */
static void load_access(struct registry *reg, struct sbx *e)
{
	struct warren_error err = {0};
	char *s = NULL;
	json_t *o, *net;

	if (store_access_get(reg->cfg.store, e->id, &s) < 0)
		return;
	o = json_loads(s, 0, NULL);
	free(s);
	if (!o)
		return;
	snprintf(e->envd_token, sizeof(e->envd_token), "%s",
	         json_string_value(json_object_get(o, "envdAccessToken")) ?: "");
	snprintf(e->traffic_token, sizeof(e->traffic_token), "%s",
	         json_string_value(json_object_get(o, "trafficAccessToken")) ?: "");
	e->auto_pause = json_is_true(json_object_get(o, "autoPause"));
	e->auto_resume = json_is_true(json_object_get(o, "autoResume"));
	e->resume_timeout_s = (int)json_integer_value(json_object_get(o, "resumeTimeout"));
	net = json_object_get(o, "network");
	if (json_is_object(net)) {
		e->network = malloc(sizeof(*e->network));
		if (e->network && api_network_parse(net, false, e->network, &err) < 0) {
			log_sbx(LOG_WARN, e->id, "stored network settings: %s", err.msg);
			free(e->network);
			e->network = NULL;
		}
	}
	json_decref(o);
}

static bool has_egress(const struct api_network *n)
{
	return n && (n->n_allow || n->n_deny);
}

/* Tears down an entry the caller moved to DYING (it owns it now). */
static void destroy_entry(struct registry *reg, struct sbx *e, const char *reason)
{
	int r = rt_destroy(reg->cfg.rt, e->id, e->slot, e->pid, e->start_time);

	if (r < 0)
		log_sbx(LOG_WARN, e->id, "destroying sandbox: %s", strerror(-r));
	store_sbx_delete(reg->cfg.store, e->id);
	log_sbx(LOG_INFO, e->id, "sandbox removed (%s)", reason);
	remove_entry(reg, e);
}

/*
 * Tears down the sandbox id when it is in state `want` (RUNNING, or POOLED for the
 * registry's own clean-ups). Only one caller wins the transition to DYING; the others
 * get -ENOENT, as for an unknown id.
 */
static int kill_entry_in(struct registry *reg, const char *id, enum sbx_state want,
                         const char *reason)
{
	struct sbx *e;

	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, id);
	if (!e || e->state != want) {
		pthread_mutex_unlock(&reg->lock);
		return -ENOENT;
	}
	e->state = SBX_DYING;
	pthread_mutex_unlock(&reg->lock);
	destroy_entry(reg, e, reason);
	return 0;
}

static int kill_entry(struct registry *reg, const char *id, const char *reason)
{
	int r = kill_entry_in(reg, id, SBX_RUNNING, reason);
	/* A paused sandbox goes with its images and disk. */
	return r == -ENOENT ? kill_entry_in(reg, id, SBX_PAUSED, reason) : r;
}

struct reap_item {
	char id[API_SBX_ID_MAX + 1];
	enum sbx_state state;
};

static void *reaper_main(void *arg)
{
	struct registry *reg = arg;

	for (;;) {
		struct pollfd *fds = NULL;
		struct reap_item *items = NULL, *dead = NULL;
		size_t n_fds = 0, n_dead = 0, cap;
		int64_t now, next = INT64_MAX;
		int timeout_ms;

		pthread_mutex_lock(&reg->lock);
		if (reg->stop) {
			pthread_mutex_unlock(&reg->lock);
			break;
		}
		cap = reg->n + 1;
		fds = calloc(cap, sizeof(*fds));
		items = calloc(cap, sizeof(*items));
		dead = calloc(cap, sizeof(*dead));
		if (!fds || !items || !dead) {
			pthread_mutex_unlock(&reg->lock);
			free(fds);
			free(items);
			free(dead);
			/* Out of memory: try again shortly rather than give up reaping. */
			poll(NULL, 0, 100);
			continue;
		}
		fds[n_fds++] = (struct pollfd){.fd = reg->wake_fd, .events = POLLIN};
		for (size_t i = 0; i < reg->n; i++) {
			struct sbx *e = reg->v[i];
			if (e->state != SBX_RUNNING && e->state != SBX_POOLED)
				continue;
			if (e->state == SBX_RUNNING && e->end_ms < next)
				next = e->end_ms;
			/* A duplicate, so that a concurrent kill closing the original cannot
			 * make us poll a recycled fd number. */
			if (e->pidfd >= 0) {
				int fd = fcntl(e->pidfd, F_DUPFD_CLOEXEC, 3);
				if (fd >= 0) {
					snprintf(items[n_fds].id, sizeof(items[n_fds].id), "%s",
					         e->id);
					items[n_fds].state = e->state;
					fds[n_fds++] = (struct pollfd){.fd = fd, .events = POLLIN};
				}
			}
		}
		pthread_mutex_unlock(&reg->lock);

		now = now_real_ms();
		if (next == INT64_MAX || next - now > REAPER_MAX_WAIT_MS)
			timeout_ms = REAPER_MAX_WAIT_MS;
		else
			timeout_ms = next > now ? (int)(next - now) : 0;
		if (timeout_ms > 0 && poll(fds, n_fds, timeout_ms) > 0) {
			if (fds[0].revents & POLLIN) {
				uint64_t v;
				ssize_t rr = read(reg->wake_fd, &v, sizeof(v));
				(void)rr;
			}
			for (size_t i = 1; i < n_fds; i++)
				if (fds[i].revents)
					dead[n_dead++] = items[i];
		}
		for (size_t i = 1; i < n_fds; i++)
			close(fds[i].fd);
		for (size_t i = 0; i < n_dead; i++)
			kill_entry_in(reg, dead[i].id, dead[i].state, "its init exited");

		/* Deadlines: collect under the lock, kill outside it. */
		n_dead = 0;
		now = now_real_ms();
		pthread_mutex_lock(&reg->lock);
		for (size_t i = 0; i < reg->n && n_dead < cap; i++) {
			struct sbx *e = reg->v[i];
			if (e->state == SBX_RUNNING && e->end_ms <= now)
				snprintf(dead[n_dead++].id, sizeof(dead[0].id), "%s", e->id);
		}
		pthread_mutex_unlock(&reg->lock);
		for (size_t i = 0; i < n_dead; i++)
			if (!registry_timeout_pause(reg, dead[i].id))
				kill_entry_in(reg, dead[i].id, SBX_RUNNING, "timeout");
		free(fds);
		free(items);
		free(dead);
	}
	return NULL;
}

struct registry *registry_new(const struct registry_config *cfg)
{
	struct registry *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	reg->cfg = *cfg;
	if (!reg->cfg.max_sandboxes)
		reg->cfg.max_sandboxes = 256;
	pthread_mutex_init(&reg->lock, NULL);
	pthread_mutex_init(&reg->net_lock, NULL);
	reg->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (reg->wake_fd < 0)
		goto fail;
	if (pthread_create(&reg->reaper, NULL, reaper_main, reg) != 0) {
		close(reg->wake_fd);
		goto fail;
	}
	return reg;
fail:
	pthread_mutex_destroy(&reg->lock);
	pthread_mutex_destroy(&reg->net_lock);
	free(reg);
	return NULL;
}

void registry_free(struct registry *reg)
{
	if (!reg)
		return;
	pthread_mutex_lock(&reg->lock);
	reg->stop = true;
	pthread_mutex_unlock(&reg->lock);
	wake_reaper(reg);
	pthread_join(reg->reaper, NULL);
	for (size_t i = 0; i < reg->n; i++)
		sbx_free(reg->v[i]);
	free(reg->v);
	close(reg->wake_fd);
	pthread_mutex_destroy(&reg->lock);
	pthread_mutex_destroy(&reg->net_lock);
	free(reg);
}

static bool keep_known(const char *id, void *ud)
{
	struct registry *reg = ud;
	bool known;

	pthread_mutex_lock(&reg->lock);
	known = find_locked(reg, id) != NULL;
	pthread_mutex_unlock(&reg->lock);
	return known;
}

int registry_recover(struct registry *reg)
{
	struct store_sbx *rows = NULL;
	size_t n = 0;
	int kept = 0, r;

	r = store_sbx_list(reg->cfg.store, &rows, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct store_sbx *row = &rows[i];
		struct sbx *e = NULL;
		int pidfd = -ESRCH;

		bool paused = false;

		if (strcmp(row->state, "running") == 0 && row->pid > 0 && api_sbx_id_valid(row->id))
			pidfd = rt_adopt(reg->cfg.rt, row->pid, row->start_time);
		/* Paused, or killed by a checkpoint that completed while warrend went down. */
		if (pidfd < 0 && strcmp(row->state, "pooled") != 0 && api_sbx_id_valid(row->id) &&
		    rt_checkpoint_exists(reg->cfg.rt, row->id))
			paused = true;
		/* Alive: images left by a resume that warrend did not finish recording are stale.
		 */
		if (pidfd >= 0)
			(void)rt_checkpoint_discard(reg->cfg.rt, row->id);
		if (pidfd >= 0 || paused)
			e = calloc(1, sizeof(*e));
		if (e) {
			snprintf(e->id, sizeof(e->id), "%s", row->id);
			snprintf(e->template_id, sizeof(e->template_id), "%s", row->template_id);
			e->state = paused ? SBX_PAUSED : SBX_RUNNING;
			e->slot = row->slot;
			e->pid = paused ? 0 : row->pid;
			e->start_time = paused ? 0 : row->start_time;
			e->pidfd = paused ? -1 : pidfd;
			inet_pton(AF_INET, row->addr, &e->addr);
			e->started_ms = row->started_ms;
			e->end_ms = row->end_ms;
			e->cpu_count = row->cpu_count;
			e->memory_mb = row->memory_mb;
			e->disk_mb = row->disk_mb;
			e->allow_internet = row->allow_internet;
			e->metadata_json = TAKE_PTR(row->metadata);
			e->env_json = TAKE_PTR(row->env);
			load_access(reg, e);
			/* The firewall kept them; set again in case its tables were rebuilt. */
			if (has_egress(e->network) && reg->cfg.egress) {
				struct warren_error eerr = {0};
				if (reg->cfg.egress(reg->cfg.egress_ud, e->slot, e->allow_internet,
				                    e->network, &eerr) < 0)
					log_sbx(LOG_WARN, e->id, "egress rules: %s", eerr.msg);
			}
			pthread_mutex_lock(&reg->lock);
			r = add_locked(reg, e);
			pthread_mutex_unlock(&reg->lock);
			if (r == 0) {
				struct warren_error derr = {0};
				/* Its disk is normally still mounted; a no-op then. */
				if (!paused && e->disk_mb &&
				    rt_disk_attach(reg->cfg.rt, e->id, &derr) < 0)
					log_sbx(LOG_WARN, e->id, "re-attaching its disk: %s",
					        derr.msg);
				if (paused)
					log_sbx(LOG_INFO, e->id, "paused sandbox re-adopted");
				else
					log_sbx(LOG_INFO, e->id, "sandbox re-adopted (pid %d)",
					        (int)e->pid);
				if (paused && strcmp(row->state, "paused") != 0)
					store_row(reg, e, "paused");
				kept++;
				continue;
			}
			sbx_free(e);
			pidfd = -1;
		}
		if (pidfd >= 0)
			close(pidfd);
		/* Unclaimed pooled sandboxes are never re-adopted: a fresh pool is cheap. */
		if (strcmp(row->state, "pooled") == 0)
			log_sbx(LOG_INFO, row->id, "destroying pooled sandbox of the last run");
		else
			log_sbx(LOG_INFO, row->id,
			        "sandbox gone while warrend was down, cleaning up");
		if (api_sbx_id_valid(row->id))
			rt_destroy(reg->cfg.rt, row->id, row->slot, row->pid, row->start_time);
		store_sbx_delete(reg->cfg.store, row->id);
	}
	store_sbx_free_array(rows, n);
	r = rt_cleanup_orphans(reg->cfg.rt, keep_known, reg);
	if (r < 0)
		log_warn("cleaning up orphaned sandboxes: %s", strerror(-r));
	wake_reaper(reg);
	return kept;
}

/* Builds the agent's environment: the sandbox identity and the create-time envVars. */
static char **agent_env(const struct sbx *e)
{
	char **env = calloc(5, sizeof(*env));

	if (!env)
		return NULL;
	if (asprintf(&env[0], "WARREN_SANDBOX_ID=%s", e->id) < 0)
		env[0] = NULL;
	if (asprintf(&env[1], "WARREN_TEMPLATE_ID=%s", e->template_id) < 0)
		env[1] = NULL;
	if (asprintf(&env[2], "WARREN_ENV_VARS=%s", e->env_json ? e->env_json : "{}") < 0)
		env[2] = NULL;
	if (e->envd_token[0] && asprintf(&env[3], "WARREN_ACCESS_TOKEN=%s", e->envd_token) < 0)
		env[3] = NULL;
	if (!env[0] || !env[1] || !env[2] || (e->envd_token[0] && !env[3])) {
		for (int i = 0; i < 4; i++)
			free(env[i]);
		free(env);
		return NULL;
	}
	return env;
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* The tokens and network settings a create asks for (cold creates only). */
static int access_init(struct sbx *e, const struct api_create_req *req)
{
	int r = 0;

	if (req->secure)
		r = random_hex(e->envd_token, 16);
	if (r == 0 && req->network && req->network->private_traffic)
		r = random_hex(e->traffic_token, 16);
	if (r == 0 && req->network) {
		e->network = malloc(sizeof(*e->network));
		if (!e->network)
			return -ENOMEM;
		*e->network = *req->network;
	}
	return r;
}

/* Locked: takes a pooled entry out of the pool for destruction, or returns NULL. */
static struct sbx *evict_pooled_locked(struct registry *reg)
{
	for (size_t i = 0; i < reg->n; i++) {
		if (reg->v[i]->state == SBX_POOLED) {
			reg->v[i]->state = SBX_DYING;
			return reg->v[i];
		}
	}
	return NULL;
}

/*
 * Creates a sandbox: RUNNING with req's settings, or (for_pool) POOLED with empty
 * metadata and env, internet access and no deadline. ret may be NULL for the pool.
 */
static int spawn_entry(struct registry *reg, const struct api_create_req *req, bool for_pool,
                       struct registry_info *ret, struct warren_error *err)
{
	struct rt_sandbox sb = {.pidfd = -1};
	struct sbx *e, *victim = NULL;
	char **env;
	int r;

	if (rt_template_exists(reg->cfg.rt, req->template_id) < 0)
		return err_set(err, ENOENT, "template '%s' not found", req->template_id);
	e = calloc(1, sizeof(*e));
	if (!e)
		return err_set(err, ENOMEM, "out of memory");
	e->pidfd = -1;
	e->state = SBX_CREATING;
	e->for_pool = for_pool;
	snprintf(e->template_id, sizeof(e->template_id), "%s", req->template_id);
	e->cpu_count = reg->cfg.cpu_count;
	e->memory_mb = reg->cfg.memory_mb;
	e->disk_mb = !for_pool && req->disk_mb ? req->disk_mb : reg->cfg.disk_mb;
	e->allow_internet = for_pool || req->allow_internet;
	e->auto_pause = !for_pool && req->auto_pause;
	e->auto_resume = !for_pool && req->auto_resume;
	e->resume_timeout_s = req->timeout_s;
	e->metadata_json = strdup(!for_pool && req->metadata_json ? req->metadata_json : "{}");
	e->env_json = strdup(!for_pool && req->env_json ? req->env_json : "{}");
	if (!e->metadata_json || !e->env_json) {
		sbx_free(e);
		return err_set(err, ENOMEM, "out of memory");
	}
	if (!for_pool && has_egress(req->network) && !reg->cfg.egress) {
		sbx_free(e);
		return err_set(err, EOPNOTSUPP, "egress rules need the sandbox network");
	}
	r = !for_pool ? access_init(e, req) : 0;
	if (r < 0) {
		sbx_free(e);
		return err_set(err, -r, "making access tokens: %s", strerror(-r));
	}

	pthread_mutex_lock(&reg->lock);
	if (reg->n >= reg->cfg.max_sandboxes) {
		/*
		 * A request beats the pool: it takes the place of a pooled sandbox. Both are
		 * registered until the victim's teardown (below) ends, so that the pool's
		 * refill cannot take the place meanwhile; the victim is DYING all along.
		 */
		victim = for_pool ? NULL : evict_pooled_locked(reg);
		if (!victim) {
			pthread_mutex_unlock(&reg->lock);
			sbx_free(e);
			return err_set(err, EAGAIN, "too many sandboxes (at most %u)",
			               reg->cfg.max_sandboxes);
		}
	}
	do {
		r = random_id(e->id, SBX_ID_LEN);
	} while (r == 0 && find_locked(reg, e->id));
	if (r == 0) {
		e->slot = free_slot_locked(reg);
		e->started_ms = now_real_ms();
		e->end_ms = for_pool ? INT64_MAX : e->started_ms + (int64_t)req->timeout_s * 1000;
		r = add_locked(reg, e);
	}
	pthread_mutex_unlock(&reg->lock);
	if (victim)
		destroy_entry(reg, victim, "evicted from the pool to make room");
	if (r < 0) {
		sbx_free(e);
		return err_set(err, -r, "registering sandbox: %s", strerror(-r));
	}
	store_row(reg, e, "creating");

	env = agent_env(e);
	if (!env) {
		r = err_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	struct rt_spec spec = {
	    .id = e->id,
	    .template_id = e->template_id,
	    .slot = e->slot,
	    .cpu_count = e->cpu_count,
	    .memory_mb = e->memory_mb,
	    .disk_mb = e->disk_mb,
	    .pids_max = reg->cfg.pids_max,
	    .allow_internet = e->allow_internet,
	    .agent_env = env,
	};
	r = rt_create(reg->cfg.rt, &spec, &sb, err);
	free_env(env);
	if (r < 0) {
		err_prefix(err, "creating sandbox %s", e->id);
		goto fail;
	}
	/* Before the client gets the sandbox: nothing of theirs runs without the rules. */
	if (has_egress(e->network)) {
		r = reg->cfg.egress(reg->cfg.egress_ud, e->slot, e->allow_internet, e->network,
		                    err);
		if (r < 0) {
			err_prefix(err, "egress rules of sandbox %s", e->id);
			rt_destroy(reg->cfg.rt, e->id, e->slot, sb.pid, sb.start_time);
			if (sb.pidfd >= 0)
				close(sb.pidfd);
			goto fail;
		}
	}
	store_access(reg, e);

	pthread_mutex_lock(&reg->lock);
	e->pid = sb.pid;
	e->pidfd = sb.pidfd;
	e->start_time = sb.start_time;
	e->addr = sb.addr;
	/* The sandbox starts, and its timeout counts, from when it is usable. */
	e->started_ms = now_real_ms();
	if (!for_pool)
		e->end_ms = e->started_ms + (int64_t)req->timeout_s * 1000;
	pthread_mutex_unlock(&reg->lock);
	/*
	 * Recorded and logged while still CREATING: once published, the entry may be claimed,
	 * killed or reaped (and freed) by other threads at any time.
	 */
	store_row(reg, e, for_pool ? "pooled" : "running");
	log_sbx(for_pool ? LOG_DEBUG : LOG_INFO, e->id,
	        "sandbox created (template %s, slot %u, pid %d%s)", e->template_id, e->slot,
	        (int)e->pid, for_pool ? ", pooled" : "");
	pthread_mutex_lock(&reg->lock);
	e->state = for_pool ? SBX_POOLED : SBX_RUNNING;
	r = ret && !for_pool ? fill_info(e, ret) : 0;
	pthread_mutex_unlock(&reg->lock);
	wake_reaper(reg);
	if (r < 0) {
		/* The sandbox is fine; only this answer could not be built. */
		return err_set(err, ENOMEM, "out of memory");
	}
	return 0;
fail:
	/* rt_create cleans up after itself, but a destroy by id is idempotent and catches
	 * anything left half-made. */
	rt_destroy(reg->cfg.rt, e->id, e->slot, 0, 0);
	store_sbx_delete(reg->cfg.store, e->id);
	log_sbx(LOG_WARN, e->id, "%s", err ? err->msg : "sandbox creation failed");
	remove_entry(reg, e);
	return r;
}

int registry_create(struct registry *reg, const struct api_create_req *req,
                    struct registry_info *ret, struct warren_error *err)
{
	return spawn_entry(reg, req, false, ret, err);
}

int registry_pool_spawn(struct registry *reg, const char *template_id, struct warren_error *err)
{
	struct api_create_req req = {0};

	snprintf(req.template_id, sizeof(req.template_id), "%s", template_id);
	req.allow_internet = true;
	return spawn_entry(reg, &req, true, NULL, err);
}

static size_t pool_count_in(struct registry *reg, const char *template_id, bool making)
{
	size_t n = 0;

	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n; i++) {
		const struct sbx *e = reg->v[i];
		if (e->for_pool &&
		    (e->state == SBX_POOLED || (making && e->state == SBX_CREATING)) &&
		    strcmp(e->template_id, template_id) == 0)
			n++;
	}
	pthread_mutex_unlock(&reg->lock);
	return n;
}

size_t registry_pool_count(struct registry *reg, const char *template_id)
{
	return pool_count_in(reg, template_id, true);
}

size_t registry_pool_ready(struct registry *reg, const char *template_id)
{
	return pool_count_in(reg, template_id, false);
}

bool registry_has_room(struct registry *reg)
{
	bool room;

	pthread_mutex_lock(&reg->lock);
	room = reg->n < reg->cfg.max_sandboxes;
	pthread_mutex_unlock(&reg->lock);
	return room;
}

int registry_pool_take(struct registry *reg, const char *template_id, bool allow_internet,
                       char ret_id[API_SBX_ID_MAX + 1], struct in_addr *ret_addr)
{
	int r = -ENOENT;

	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n; i++) {
		struct sbx *e = reg->v[i];
		if (e->state != SBX_POOLED || e->allow_internet != allow_internet ||
		    strcmp(e->template_id, template_id) != 0)
			continue;
		e->state = SBX_CLAIMED;
		e->for_pool = false;
		snprintf(ret_id, API_SBX_ID_MAX + 1, "%s", e->id);
		*ret_addr = e->addr;
		notify_locked(reg);
		r = 0;
		break;
	}
	pthread_mutex_unlock(&reg->lock);
	return r;
}

int registry_pool_activate(struct registry *reg, const char *id, const struct api_create_req *req,
                           const char *envd_token, struct registry_info *ret)
{
	char *meta = strdup(req->metadata_json ? req->metadata_json : "{}");
	char *env = strdup(req->env_json ? req->env_json : "{}");
	struct sbx *e;
	int r;

	if (!meta || !env) {
		free(meta);
		free(env);
		return -ENOMEM;
	}
	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, id);
	if (!e || e->state != SBX_CLAIMED) {
		pthread_mutex_unlock(&reg->lock);
		free(meta);
		free(env);
		return -ENOENT;
	}
	free(e->metadata_json);
	free(e->env_json);
	e->metadata_json = meta;
	e->env_json = env;
	e->auto_pause = req->auto_pause;
	e->auto_resume = req->auto_resume;
	e->resume_timeout_s = req->timeout_s;
	/* Its life as the client's sandbox starts now. */
	e->started_ms = now_real_ms();
	e->end_ms = e->started_ms + (int64_t)req->timeout_s * 1000;
	snprintf(e->envd_token, sizeof(e->envd_token), "%s", envd_token ? envd_token : "");
	pthread_mutex_unlock(&reg->lock);
	/* Recorded while still CLAIMED (only we touch it): once RUNNING it may be reaped. */
	store_access(reg, e);
	store_row(reg, e, "running");
	store_access(reg, e);
	log_sbx(LOG_INFO, id, "sandbox created (template %s, slot %u, pid %d, from the pool)",
	        e->template_id, e->slot, (int)e->pid);
	pthread_mutex_lock(&reg->lock);
	e->state = SBX_RUNNING;
	r = fill_info(e, ret);
	pthread_mutex_unlock(&reg->lock);
	wake_reaper(reg);
	return r;
}

void registry_pool_discard(struct registry *reg, const char *id)
{
	kill_entry_in(reg, id, SBX_CLAIMED, "could not be configured");
}

void registry_set_notify(struct registry *reg, void (*fn)(void *ud), void *ud)
{
	pthread_mutex_lock(&reg->lock);
	reg->notify = fn;
	reg->notify_ud = ud;
	pthread_mutex_unlock(&reg->lock);
}

static int update_deadline(struct registry *reg, const char *id, int timeout_s, bool extend_only,
                           struct registry_info *ret)
{
	int64_t end = now_real_ms() + (int64_t)timeout_s * 1000;
	struct sbx *e;
	int r = 0;

	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, id);
	if (!e || e->state != SBX_RUNNING) {
		pthread_mutex_unlock(&reg->lock);
		return -ENOENT;
	}
	if (!extend_only || end > e->end_ms)
		e->end_ms = end;
	end = e->end_ms;
	if (ret)
		r = fill_info(e, ret);
	pthread_mutex_unlock(&reg->lock);
	store_sbx_set_end(reg->cfg.store, id, end);
	wake_reaper(reg);
	return r;
}

int registry_connect(struct registry *reg, const char *id, int timeout_s, struct registry_info *ret)
{
	return update_deadline(reg, id, timeout_s, true, ret);
}

int registry_set_timeout(struct registry *reg, const char *id, int timeout_s)
{
	return update_deadline(reg, id, timeout_s, false, NULL);
}

int registry_get(struct registry *reg, const char *id, struct registry_info *ret)
{
	struct sbx *e;
	int r;

	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, id);
	r = (e && (e->state == SBX_RUNNING || e->state == SBX_PAUSED || e->state == SBX_PAUSING ||
	           e->state == SBX_RESUMING))
	        ? fill_info(e, ret)
	        : -ENOENT;
	pthread_mutex_unlock(&reg->lock);
	return r;
}

static int cmp_info(const void *a, const void *b)
{
	const struct registry_info *x = a, *y = b;

	if (x->started_ms != y->started_ms)
		return x->started_ms < y->started_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

int registry_list(struct registry *reg, struct registry_info **ret, size_t *ret_n)
{
	struct registry_info *infos;
	size_t n = 0;
	int r = 0;

	pthread_mutex_lock(&reg->lock);
	infos = calloc(reg->n + 1, sizeof(*infos));
	for (size_t i = 0; infos && i < reg->n && r == 0; i++)
		if (reg->v[i]->state == SBX_RUNNING || reg->v[i]->state == SBX_PAUSED ||
		    reg->v[i]->state == SBX_PAUSING || reg->v[i]->state == SBX_RESUMING)
			r = fill_info(reg->v[i], &infos[n++]);
	pthread_mutex_unlock(&reg->lock);
	if (!infos || r < 0) {
		registry_info_free_array(infos, n);
		return -ENOMEM;
	}
	qsort(infos, n, sizeof(*infos), cmp_info);
	*ret = infos;
	*ret_n = n;
	return 0;
}

int registry_kill(struct registry *reg, const char *id)
{
	/* A pause or resume under way ends first (bounded by criu's own timeout): then the
	 * sandbox is killed, running or paused, instead of answering "not found". */
	for (int i = 0; i < 2400; i++) {
		int r = kill_entry(reg, id, "killed by request");
		if (r != -ENOENT)
			return r;
		pthread_mutex_lock(&reg->lock);
		struct sbx *e = find_locked(reg, id);
		bool busy = e && (e->state == SBX_PAUSING || e->state == SBX_RESUMING);
		pthread_mutex_unlock(&reg->lock);
		if (!busy)
			return r;
		poll(NULL, 0, 50);
	}
	return -EBUSY;
}

void registry_kill_all(struct registry *reg)
{
	for (;;) {
		char id[API_SBX_ID_MAX + 1] = "";
		enum sbx_state st = SBX_RUNNING;

		pthread_mutex_lock(&reg->lock);
		for (size_t i = 0; i < reg->n; i++) {
			if (reg->v[i]->state == SBX_RUNNING || reg->v[i]->state == SBX_POOLED) {
				snprintf(id, sizeof(id), "%s", reg->v[i]->id);
				st = reg->v[i]->state;
				break;
			}
		}
		pthread_mutex_unlock(&reg->lock);
		if (!id[0])
			break;
		kill_entry_in(reg, id, st, "warrend shutting down");
	}
}

size_t registry_count(struct registry *reg)
{
	size_t n;

	pthread_mutex_lock(&reg->lock);
	n = reg->n;
	pthread_mutex_unlock(&reg->lock);
	return n;
}

int registry_update_network(struct registry *reg, const char *id, const struct api_network *n,
                            struct warren_error *err)
{
	struct api_network *copy = malloc(sizeof(*copy));
	struct sbx *e;
	unsigned slot;
	int r;

	if (!copy)
		return err_set(err, ENOMEM, "out of memory");
	*copy = *n;
	if (!reg->cfg.egress) {
		free(copy);
		return err_set(err, EOPNOTSUPP, "egress rules need the sandbox network");
	}
	pthread_mutex_lock(&reg->net_lock);
	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, id);
	if (!e || e->state != SBX_RUNNING) {
		pthread_mutex_unlock(&reg->lock);
		r = -ENOENT;
		goto out;
	}
	slot = e->slot;
	/* The traffic and Host settings are the create's: an update does not carry them. */
	copy->private_traffic = e->network && e->network->private_traffic;
	snprintf(copy->mask_host, sizeof(copy->mask_host), "%s",
	         e->network ? e->network->mask_host : "");
	pthread_mutex_unlock(&reg->lock);

	r = reg->cfg.egress(reg->cfg.egress_ud, slot, n->allow_internet, copy, err);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, id);
	if (e && e->state == SBX_RUNNING && e->slot == slot) {
		e->allow_internet = n->allow_internet;
		free(e->network);
		e->network = TAKE_PTR(copy);
		/* Recorded under the lock: a concurrent kill cannot free the entry meanwhile. */
		store_row(reg, e, "running");
		store_access(reg, e);
	} else {
		r = -ENOENT;
	}
	pthread_mutex_unlock(&reg->lock);
out:
	pthread_mutex_unlock(&reg->net_lock);
	free(copy);
	return r;
}

bool registry_traffic_ok(void *ud, const char *sandbox_id, const char *token)
{
	struct registry *reg = ud;
	struct sbx *e;
	bool ok = true;

	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, sandbox_id);
	if (e && e->state == SBX_RUNNING && e->traffic_token[0])
		ok = token && streq_ct(token, e->traffic_token);
	pthread_mutex_unlock(&reg->lock);
	return ok;
}

int registry_find_signed(void *ud, const char *signature, const char *expiration, const char *path,
                         const char *op, const char *user, char ret_id[API_SBX_ID_MAX + 1])
{
	struct registry *reg = ud;
	int64_t now = now_real_ms() / 1000;
	int r = -ENOENT;

	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n && r == -ENOENT; i++) {
		const struct sbx *e = reg->v[i];
		int q;

		if (e->state != SBX_RUNNING || !e->envd_token[0])
			continue;
		q = filesig_check(signature, expiration, path, op, user, e->envd_token, now);
		if (q == 0 || q == -ETIMEDOUT) {
			snprintf(ret_id, API_SBX_ID_MAX + 1, "%s", e->id);
			r = 0;
		}
	}
	pthread_mutex_unlock(&reg->lock);
	return r;
}

#define WAKE_WAIT_MS 120000 /* a pause or resume under way: how long a request waits for it */
#define WAKE_POLL_MS 10

int registry_wake(void *ud, const char *sandbox_id)
{
	struct registry *reg = ud;
	int64_t until = now_mono_us() / 1000 + WAKE_WAIT_MS;

	for (;;) {
		struct warren_error err = {0};
		enum sbx_state st;
		int timeout_s, r;

		pthread_mutex_lock(&reg->lock);
		struct sbx *e = find_locked(reg, sandbox_id);
		if (!e || !e->auto_resume) {
			pthread_mutex_unlock(&reg->lock);
			return -ENOENT;
		}
		st = e->state;
		timeout_s = e->resume_timeout_s > 0 ? e->resume_timeout_s : API_TIMEOUT_DEFAULT;
		pthread_mutex_unlock(&reg->lock);
		if (st == SBX_RUNNING)
			return 0;
		if (st == SBX_PAUSED) {
			r = registry_resume(reg, sandbox_id, timeout_s, NULL, &err);
			if (r >= 0) {
				if (r == 1)
					log_sbx(LOG_INFO, sandbox_id,
					        "resumed by traffic (autoResume)");
				return 0;
			}
			if (r != -EBUSY) {
				log_sbx(LOG_WARN, sandbox_id, "autoResume failed: %s", err.msg);
				return r == -ENOENT ? -ENOENT : -EIO;
			}
		} else if (st != SBX_PAUSING && st != SBX_RESUMING) {
			return -ENOENT; /* being created, claimed or killed */
		}
		if (now_mono_us() / 1000 >= until)
			return -EIO;
		struct timespec ts = {0, WAKE_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
}

bool registry_mask_host(void *ud, const char *sandbox_id, uint16_t port, char *out, size_t size)
{
	struct registry *reg = ud;
	struct sbx *e;
	bool set = false;

	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, sandbox_id);
	if (e && e->state == SBX_RUNNING)
		set = api_network_mask_host(e->network, port, out, size);
	pthread_mutex_unlock(&reg->lock);
	return set;
}

int registry_resolve(void *ud, const char *sandbox_id, struct in_addr *ret_addr)
{
	struct registry *reg = ud;
	struct sbx *e;
	int r = -ENOENT;

	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, sandbox_id);
	if (e && e->state == SBX_RUNNING) {
		*ret_addr = e->addr;
		r = 0;
	}
	pthread_mutex_unlock(&reg->lock);
	return r;
}

/* ---- pause and resume (docs/PERSISTENCE.md) ---- */

/*
 * Locked. Moves e (the entry of id, or NULL) from state `from` to `to`, which makes this
 * thread its only user until it sets a resting state again: -EBUSY while it is being
 * paused or resumed, -ENOENT when it is missing or in any other state.
 */
static int claim_locked(struct sbx *e, const char *id, enum sbx_state from, enum sbx_state to,
                        struct warren_error *err)
{
	if (e && (e->state == SBX_PAUSING || e->state == SBX_RESUMING))
		return err_set(err, EBUSY, "sandbox %s is being %s", id,
		               e->state == SBX_PAUSING ? "paused" : "resumed");
	if (!e || e->state != from)
		return err_set(err, ENOENT, "sandbox %s not found", id);
	e->state = to;
	return 0;
}

int registry_pause(struct registry *reg, const char *id, struct warren_error *err)
{
	struct sbx *e;
	int r;

	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, id);
	if (e && e->state == SBX_PAUSED)
		r = err_set(err, EALREADY, "sandbox %s is already paused", id);
	else /* From here on only this thread touches the entry (the reaper ignores PAUSING). */
		r = claim_locked(e, id, SBX_RUNNING, SBX_PAUSING, err);
	pthread_mutex_unlock(&reg->lock);
	if (r < 0)
		return r;

	r = rt_checkpoint(reg->cfg.rt, e->id, e->slot, e->pid, e->start_time, e->allow_internet,
	                  err);
	if (r == -ENOENT)
		r = -EIO; /* a missing file, not an unknown sandbox (that would answer 404) */
	if (r == 0) {
		if (e->pidfd >= 0)
			close(e->pidfd);
		e->pidfd = -1;
		e->pid = 0;
		e->start_time = 0;
		store_row(reg, e, "paused");
		log_sbx(LOG_INFO, e->id, "sandbox paused");
	}
	pthread_mutex_lock(&reg->lock);
	e->state = r == 0 ? SBX_PAUSED : SBX_RUNNING;
	pthread_mutex_unlock(&reg->lock);
	wake_reaper(reg);
	return r;
}

int registry_resume(struct registry *reg, const char *id, int timeout_s, struct registry_info *ret,
                    struct warren_error *err)
{
	struct rt_sandbox sb = {.pidfd = -1};
	struct sbx *e;
	int r;

	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, id);
	if (e && e->state == SBX_RUNNING) {
		pthread_mutex_unlock(&reg->lock);
		r = update_deadline(reg, id, timeout_s, true, ret);
		return r < 0 ? err_set(err, -r, "sandbox %s not found", id) : 0;
	}
	r = claim_locked(e, id, SBX_PAUSED, SBX_RESUMING, err);
	pthread_mutex_unlock(&reg->lock);
	if (r < 0)
		return r;

	struct rt_spec spec = {
	    .id = e->id,
	    .template_id = e->template_id,
	    .slot = e->slot,
	    .cpu_count = e->cpu_count,
	    .memory_mb = e->memory_mb,
	    .disk_mb = e->disk_mb,
	    .pids_max = reg->cfg.pids_max,
	    .allow_internet = e->allow_internet,
	};
	r = rt_restore(reg->cfg.rt, &spec, &sb, err);
	if (r == -ENOENT)
		r = -EIO; /* a missing file, not an unknown sandbox (that would answer 404) */
	/* Its egress rules went with the network at the pause: back before anything runs. */
	if (r == 0 && has_egress(e->network) && reg->cfg.egress) {
		r = reg->cfg.egress(reg->cfg.egress_ud, e->slot, e->allow_internet, e->network,
		                    err);
		if (r < 0) {
			struct warren_error perr = {0};
			err_prefix(err, "egress rules of sandbox %s", e->id);
			/* Paused again as it was; it never ran without its rules. */
			int q = rt_checkpoint(reg->cfg.rt, e->id, e->slot, sb.pid, sb.start_time,
			                      e->allow_internet, &perr);
			close(sb.pidfd);
			if (q < 0) {
				/* Never left running without its rules. */
				log_sbx(LOG_WARN, e->id, "pausing again: %s", perr.msg);
				e->pid = sb.pid;
				e->start_time = sb.start_time;
				pthread_mutex_lock(&reg->lock);
				e->state = SBX_DYING;
				pthread_mutex_unlock(&reg->lock);
				destroy_entry(reg, e, "its egress rules could not be restored");
				return r;
			}
		}
	}
	if (r < 0) {
		pthread_mutex_lock(&reg->lock);
		e->state = SBX_PAUSED;
		pthread_mutex_unlock(&reg->lock);
		return r;
	}
	e->pid = sb.pid;
	e->pidfd = sb.pidfd;
	e->start_time = sb.start_time;
	e->addr = sb.addr;
	e->end_ms = now_real_ms() + (int64_t)timeout_s * 1000;
	store_row(reg, e, "running");
	(void)rt_checkpoint_discard(reg->cfg.rt, e->id);
	log_sbx(LOG_INFO, e->id, "sandbox resumed (pid %d)", (int)e->pid);
	pthread_mutex_lock(&reg->lock);
	e->state = SBX_RUNNING;
	r = ret ? fill_info(e, ret) : 0;
	pthread_mutex_unlock(&reg->lock);
	wake_reaper(reg);
	return r < 0 ? err_set(err, ENOMEM, "out of memory") : 1;
}

#define AUTO_PAUSE_RETRY_MS 60000

bool registry_timeout_pause(struct registry *reg, const char *id)
{
	struct warren_error err = {0};
	bool want;

	pthread_mutex_lock(&reg->lock);
	struct sbx *e = find_locked(reg, id);
	want = e && e->state == SBX_RUNNING && e->auto_pause;
	pthread_mutex_unlock(&reg->lock);
	if (!want)
		return false;
	int r = registry_pause(reg, id, &err);
	if (r == 0 || r == -EALREADY || r == -EBUSY || r == -ENOENT)
		return true;
	/* Never lose a sandbox that asked to be kept: try again later. */
	log_sbx(LOG_WARN, id, "pause at timeout failed, trying again in %d s: %s",
	        AUTO_PAUSE_RETRY_MS / 1000, err.msg);
	pthread_mutex_lock(&reg->lock);
	e = find_locked(reg, id);
	if (e && e->state == SBX_RUNNING)
		e->end_ms = now_real_ms() + AUTO_PAUSE_RETRY_MS;
	pthread_mutex_unlock(&reg->lock);
	return true;
}
