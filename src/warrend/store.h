/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_STORE_H
#define WARREND_STORE_H

/*
 * warrend's persistent state in one SQLite file (WAL mode): the hashes of the
 * API keys and one row per sandbox, so that a restarted warrend can re-adopt
 * the sandboxes that are still alive. All functions are thread-safe (one
 * connection behind a mutex). Returns are 0 or -errno (-EIO for SQLite
 * failures, -ENOENT for a missing row).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <warren/error.h>

struct store;

/* One sandbox row. Strings are owned by the row (store_sbx_release frees them). */
struct store_sbx {
	char *id;
	char *template_id;
	char *state; /* "creating" or "running" */
	unsigned slot;
	pid_t pid;
	uint64_t start_time; /* of pid, see rt_adopt() */
	char *addr;          /* dotted IPv4, "" while creating */
	int64_t started_ms;  /* unix ms */
	int64_t end_ms;      /* deadline, unix ms */
	unsigned cpu_count;
	unsigned memory_mb;
	unsigned disk_mb;
	bool allow_internet;
	char *metadata; /* JSON object text */
	char *env;      /* JSON object text */
};

/* Opens or creates the database at path (mode 0600) and its schema. */
int store_open(const char *path, struct store **ret, struct warren_error *err);
void store_close(struct store *s);

/* API key hashes (hex SHA-256). */
int store_key_add(struct store *s, const char *hash);
/* 1 when hash equals a stored hash (constant-time compare against all), 0 otherwise. */
int store_key_match(struct store *s, const char *hash);
/* Number of stored keys, or -errno. */
int store_key_count(struct store *s);

/* Inserts or replaces the row with r->id. Only id is required; NULL strings are stored as "". */
int store_sbx_put(struct store *s, const struct store_sbx *r);
int store_sbx_set_end(struct store *s, const char *id, int64_t end_ms);
/* Deletes the row and its access data. */
int store_sbx_delete(struct store *s, const char *id);
/* A sandbox's access data (tokens, network settings: opaque text), replaced whole. */
int store_access_put(struct store *s, const char *id, const char *data);
/* 0 with *ret (heap string), -ENOENT when there is none. */
int store_access_get(struct store *s, const char *id, char **ret);
/* All rows, in creation order. The caller frees with store_sbx_free_array. */
int store_sbx_list(struct store *s, struct store_sbx **ret, size_t *ret_n);
void store_sbx_release(struct store_sbx *r);
void store_sbx_free_array(struct store_sbx *rows, size_t n);

/*
 * Metric samples of running sandboxes (metrics.h takes them). A sandbox's
 * samples are deleted with its row (store_sbx_delete), and store_open drops
 * samples whose sandbox row is gone.
 */
struct store_metric {
	int64_t ts_ms; /* unix ms */
	unsigned cpu_count;
	double cpu_pct; /* of cpu_count CPUs, 0..100 */
	int64_t mem_used, mem_total, mem_cache, disk_used, disk_total; /* bytes */
};
/* Adds a sample for a sandbox whose row is "running"; -ENOENT when there is none. */
int store_metric_add(struct store *s, const char *id, const struct store_metric *m);
/*
 * The samples with from_ms <= ts_ms <= to_ms, oldest first, at most max (the newest
 * ones when there are more). The caller frees *ret.
 */
int store_metric_list(struct store *s, const char *id, int64_t from_ms, int64_t to_ms, size_t max,
                      struct store_metric **ret, size_t *ret_n);
/*
 * Thins old samples (all sandboxes): of those older than 1 h, one per minute is kept,
 * of those older than 24 h, one per 10 minutes. Returns the number deleted.
 */
int store_metric_thin(struct store *s, int64_t now_ms);

#endif
