/* SPDX-License-Identifier: Apache-2.0 */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "logs.h"
#include "registry.h"
#include "runtime/cgroup.h"
#include "runtime/sandbox.h"
#include "store.h"

/* Deeper directories of a sandbox's layer are not counted (each level holds an fd). */
#define DIR_USAGE_MAX_DEPTH 64
#define THIN_EVERY_MS 60000

/* What the previous round saw of a sandbox, for the CPU delta. */
struct prev {
	char id[API_SBX_ID_MAX + 1];
	uint64_t cpu_us;
	int64_t mono_us;
};

struct metrics {
	struct metrics_config cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool stop;
	struct prev *prev;
	size_t n_prev;
	int64_t last_thin_ms;
};

struct usage_walk {
	uint64_t bytes, entries, max_entries;
	dev_t dev;
};

static void dir_usage_at(int dfd, unsigned depth, struct usage_walk *w)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return;
	}
	while (w->entries < w->max_entries && (de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		w->entries++;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		w->bytes += (uint64_t)st.st_blocks * 512;
		if (!S_ISDIR(st.st_mode) || st.st_dev != w->dev || depth + 1 >= DIR_USAGE_MAX_DEPTH)
			continue;
		/* O_NOFOLLOW: the sandbox may have swapped the directory for a link meanwhile. */
		int sub = openat(dirfd(d), de->d_name,
		                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (sub >= 0)
			dir_usage_at(sub, depth + 1, w);
	}
	closedir(d);
}

int metrics_dir_usage(int dir_fd, uint64_t max_entries, uint64_t *ret_bytes)
{
	struct usage_walk w = {.max_entries = max_entries};
	struct stat st;
	int fd;

	if (fstat(dir_fd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	w.dev = st.st_dev;
	w.bytes = (uint64_t)st.st_blocks * 512;
	/* fdopendir takes the fd it is given: walk a duplicate, the caller keeps dir_fd. */
	fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir_usage_at(fd, 0, &w);
	*ret_bytes = w.bytes;
	return 0;
}

static const struct prev *prev_find(const struct metrics *m, const char *id)
{
	for (size_t i = 0; i < m->n_prev; i++)
		if (strcmp(m->prev[i].id, id) == 0)
			return &m->prev[i];
	return NULL;
}

/* The sandbox's disk usage; *total is left alone when there is no disk of its own. */
static uint64_t disk_used(const struct metrics *m, const char *id, uint64_t *total)
{
	uint64_t bytes = 0, t = 0;

	if (m->cfg.rt && rt_disk_usage(m->cfg.rt, id, &bytes, &t) == 0) {
		*total = t;
		return bytes;
	}
	_cleanup_close_ int fd = logs_upper_open(m->cfg.state_dir, id);
	if (fd < 0 || metrics_dir_usage(fd, METRICS_DISK_MAX_ENTRIES, &bytes) < 0)
		return 0;
	return bytes;
}

/* Samples one sandbox; fills *next for the next round's delta. false: nothing to record. */
static bool sample_one(const struct metrics *m, const struct registry_info *in,
                       struct store_metric *ret, struct prev *next)
{
	struct cgroup_stats st = {0};
	int64_t now_ms = now_real_ms(), mono = now_mono_us();
	const struct prev *p = prev_find(m, in->id);
	unsigned cpus = in->cpu_count ? in->cpu_count : 1;
	double pct = 0;

	if (m->cfg.cgroups && cgroup_read_stats(m->cfg.cgroups, in->id, &st) < 0)
		return false; /* going away */
	if (p && mono > p->mono_us && st.cpu_usage_us >= p->cpu_us) {
		pct = 100.0 * (double)(st.cpu_usage_us - p->cpu_us) /
		      ((double)(mono - p->mono_us) * cpus);
	} else if (!p && now_ms > in->started_ms) {
		pct = 100.0 * (double)st.cpu_usage_us /
		      ((double)(now_ms - in->started_ms) * 1000.0 * cpus);
	}
	if (pct > 100.0)
		pct = 100.0;
	uint64_t disk_total = (uint64_t)in->disk_mb << 20;
	uint64_t disk = disk_used(m, in->id, &disk_total);
	*ret = (struct store_metric){
	    .ts_ms = now_ms,
	    .cpu_count = cpus,
	    .cpu_pct = pct,
	    .mem_used = (int64_t)(st.memory_bytes > st.memory_inactive_file
	                              ? st.memory_bytes - st.memory_inactive_file
	                              : 0),
	    .mem_total = (int64_t)in->memory_mb << 20,
	    .mem_cache = (int64_t)st.memory_cache,
	    .disk_used = (int64_t)disk,
	    .disk_total = (int64_t)disk_total,
	};
	snprintf(next->id, sizeof(next->id), "%s", in->id);
	next->cpu_us = st.cpu_usage_us;
	next->mono_us = mono;
	return true;
}

static void sample_round(struct metrics *m)
{
	struct registry_info *infos = NULL;
	struct prev *next;
	size_t n = 0, n_next = 0;

	if (registry_list(m->cfg.reg, &infos, &n) < 0)
		return;
	next = calloc(n + 1, sizeof(*next));
	if (!next) {
		registry_info_free_array(infos, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_metric s;
		int r;

		/* A paused sandbox has no processes to measure; its samples stay. */
		if (infos[i].paused)
			continue;
		if (!sample_one(m, &infos[i], &s, &next[n_next]))
			continue;
		n_next++;
		r = store_metric_add(m->cfg.store, infos[i].id, &s);
		if (r < 0 && r != -ENOENT)
			log_sbx(LOG_WARN, infos[i].id, "storing a metrics sample: %s",
			        strerror(-r));
	}
	registry_info_free_array(infos, n);
	free(m->prev);
	m->prev = next;
	m->n_prev = n_next;

	int64_t now = now_real_ms();
	if (now - m->last_thin_ms >= THIN_EVERY_MS) {
		m->last_thin_ms = now;
		if (store_metric_thin(m->cfg.store, now) < 0)
			log_warn("thinning old metrics samples failed");
	}
}

static void *sampler_main(void *arg)
{
	struct metrics *m = arg;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&m->lock);
		sample_round(m);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += m->cfg.interval_ms / 1000;
		ts.tv_nsec += (long)(m->cfg.interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&m->lock);
		while (!m->stop && pthread_cond_timedwait(&m->cond, &m->lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int metrics_new(const struct metrics_config *cfg, struct metrics **ret)
{
	struct metrics *m = calloc(1, sizeof(*m));
	pthread_condattr_t ca;
	int r;

	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	if (!m->cfg.interval_ms)
		m->cfg.interval_ms = METRICS_INTERVAL_MS_DEFAULT;
	m->last_thin_ms = now_real_ms();
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&m->thread, NULL, sampler_main, m);
	if (r != 0) {
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return -r;
	}
	*ret = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	free(m->prev);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
