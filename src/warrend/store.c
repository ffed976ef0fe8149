/* SPDX-License-Identifier: Apache-2.0 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "common/error.h"
#include "common/util.h"

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " hash TEXT PRIMARY KEY, created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sandboxes ("
    " id TEXT PRIMARY KEY, template_id TEXT NOT NULL, state TEXT NOT NULL,"
    " slot INTEGER NOT NULL, pid INTEGER NOT NULL, start_time INTEGER NOT NULL,"
    " addr TEXT NOT NULL, started_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,"
    " cpu_count INTEGER NOT NULL, memory_mb INTEGER NOT NULL, disk_mb INTEGER NOT NULL,"
    " allow_internet INTEGER NOT NULL, metadata TEXT NOT NULL, env TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS metrics ("
    " sandbox_id TEXT NOT NULL, ts_ms INTEGER NOT NULL, cpu_count INTEGER NOT NULL,"
    " cpu_pct REAL NOT NULL, mem_used INTEGER NOT NULL, mem_total INTEGER NOT NULL,"
    " mem_cache INTEGER NOT NULL, disk_used INTEGER NOT NULL, disk_total INTEGER NOT NULL,"
    " PRIMARY KEY (sandbox_id, ts_ms)) WITHOUT ROWID;"
    /* Samples of sandboxes that went while warrend was down (or a crash mid-kill). */
    "DELETE FROM metrics WHERE sandbox_id NOT IN (SELECT id FROM sandboxes);"
    /* Secrets and network settings of a sandbox (registry.c's JSON), gone with its row. */
    "CREATE TABLE IF NOT EXISTS sandbox_access (id TEXT PRIMARY KEY, data TEXT NOT NULL);";

int store_open(const char *path, struct store **ret, struct warren_error *err)
{
	struct store *s;
	char *msg = NULL;
	int fd, r;

	/* Create the file ourselves so that it is never readable by others. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(err, errno, "opening '%s': %s", path, strerror(errno));
	close(fd);

	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(err, ENOMEM, "out of memory");
	pthread_mutex_init(&s->lock, NULL);
	r = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (r != SQLITE_OK) {
		err_set(err, EIO, "opening database '%s': %s", path,
		        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(r));
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
	                 &msg) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(err, EIO, "initialising database '%s': %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	store_close(s);
	return -EIO;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Runs one statement with text/int64 bindings described by types ('t' or 'i'). */
static int exec_bound(struct store *s, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int r;

	pthread_mutex_lock(&s->lock);
	r = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (r != SQLITE_OK)
		goto out;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 't') {
			const char *v = va_arg(ap, const char *);
			sqlite3_bind_text(st, i + 1, v ? v : "", -1, SQLITE_TRANSIENT);
		} else {
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		}
	}
	va_end(ap);
	r = sqlite3_step(st);
out:
	r = (r == SQLITE_DONE) ? sqlite3_changes(s->db) : -EIO;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_key_add(struct store *s, const char *hash)
{
	int r = exec_bound(s, "INSERT OR IGNORE INTO api_keys (hash, created_ms) VALUES (?, ?)",
	                   "ti", hash, (int64_t)now_real_ms());
	return r < 0 ? r : 0;
}

int store_key_match(struct store *s, const char *hash)
{
	sqlite3_stmt *st = NULL;
	bool found = false;
	int r;

	pthread_mutex_lock(&s->lock);
	r = sqlite3_prepare_v2(s->db, "SELECT hash FROM api_keys", -1, &st, NULL);
	if (r == SQLITE_OK) {
		/* No early exit: the time taken does not depend on which key matched. */
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			const char *h = (const char *)sqlite3_column_text(st, 0);
			if (h && streq_ct(h, hash))
				found = true;
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	if (r != SQLITE_DONE)
		return -EIO;
	return found ? 1 : 0;
}

int store_key_count(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int r, n = -EIO;

	pthread_mutex_lock(&s->lock);
	r = sqlite3_prepare_v2(s->db, "SELECT COUNT(*) FROM api_keys", -1, &st, NULL);
	if (r == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return n;
}

int store_sbx_put(struct store *s, const struct store_sbx *r)
{
	int ret = exec_bound(
	    s,
	    "INSERT OR REPLACE INTO sandboxes (id, template_id, state, slot, pid, start_time,"
	    " addr, started_ms, end_ms, cpu_count, memory_mb, disk_mb, allow_internet,"
	    " metadata, env, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	    "tttiiitiiiiiitti", r->id, r->template_id, r->state, (int64_t)r->slot, (int64_t)r->pid,
	    (int64_t)r->start_time, r->addr, r->started_ms, r->end_ms, (int64_t)r->cpu_count,
	    (int64_t)r->memory_mb, (int64_t)r->disk_mb, (int64_t)r->allow_internet,
	    r->metadata ? r->metadata : "{}", r->env ? r->env : "{}", (int64_t)now_real_ms());
	return ret < 0 ? ret : 0;
}

int store_sbx_set_end(struct store *s, const char *id, int64_t end_ms)
{
	int r = exec_bound(s, "UPDATE sandboxes SET end_ms = ? WHERE id = ?", "it", end_ms, id);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

int store_access_put(struct store *s, const char *id, const char *data)
{
	int r = exec_bound(s, "INSERT OR REPLACE INTO sandbox_access (id, data) VALUES (?, ?)",
	                   "tt", id, data);
	return r < 0 ? r : 0;
}

int store_access_get(struct store *s, const char *id, char **ret)
{
	sqlite3_stmt *st = NULL;
	int r;

	pthread_mutex_lock(&s->lock);
	r = sqlite3_prepare_v2(s->db, "SELECT data FROM sandbox_access WHERE id = ?", -1, &st,
	                       NULL);
	if (r == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		r = sqlite3_step(st);
	}
	if (r == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		*ret = strdup(t ? (const char *)t : "");
		r = *ret ? 0 : -ENOMEM;
	} else {
		r = r == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_sbx_delete(struct store *s, const char *id)
{
	int r;

	(void)exec_bound(s, "DELETE FROM sandbox_access WHERE id = ?", "t", id);
	r = exec_bound(s, "DELETE FROM sandboxes WHERE id = ?", "t", id);
	/* Its metric samples go with it (store_metric_add only adds for a live row). */
	if (r >= 0)
		(void)exec_bound(s, "DELETE FROM metrics WHERE sandbox_id = ?", "t", id);
	if (r < 0)
		return r;
	return r == 0 ? -ENOENT : 0;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return strdup(t ? (const char *)t : "");
}

int store_sbx_list(struct store *s, struct store_sbx **ret, size_t *ret_n)
{
	struct store_sbx *rows = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int r;

	pthread_mutex_lock(&s->lock);
	r = sqlite3_prepare_v2(
	    s->db,
	    "SELECT id, template_id, state, slot, pid, start_time, addr, started_ms, end_ms,"
	    " cpu_count, memory_mb, disk_mb, allow_internet, metadata, env FROM sandboxes"
	    " ORDER BY created_ms, id",
	    -1, &st, NULL);
	if (r != SQLITE_OK)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_sbx *x;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct store_sbx *nrows = realloc(rows, ncap * sizeof(*rows));
			if (!nrows) {
				r = SQLITE_NOMEM;
				goto out;
			}
			rows = nrows;
			cap = ncap;
		}
		x = &rows[n++];
		memset(x, 0, sizeof(*x));
		x->id = col_dup(st, 0);
		x->template_id = col_dup(st, 1);
		x->state = col_dup(st, 2);
		x->slot = (unsigned)sqlite3_column_int64(st, 3);
		x->pid = (pid_t)sqlite3_column_int64(st, 4);
		x->start_time = (uint64_t)sqlite3_column_int64(st, 5);
		x->addr = col_dup(st, 6);
		x->started_ms = sqlite3_column_int64(st, 7);
		x->end_ms = sqlite3_column_int64(st, 8);
		x->cpu_count = (unsigned)sqlite3_column_int64(st, 9);
		x->memory_mb = (unsigned)sqlite3_column_int64(st, 10);
		x->disk_mb = (unsigned)sqlite3_column_int64(st, 11);
		x->allow_internet = sqlite3_column_int64(st, 12) != 0;
		x->metadata = col_dup(st, 13);
		x->env = col_dup(st, 14);
		if (!x->id || !x->template_id || !x->state || !x->addr || !x->metadata || !x->env) {
			r = SQLITE_NOMEM;
			goto out;
		}
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	if (r != SQLITE_DONE) {
		store_sbx_free_array(rows, n);
		return r == SQLITE_NOMEM ? -ENOMEM : -EIO;
	}
	*ret = rows;
	*ret_n = n;
	return 0;
}

void store_sbx_release(struct store_sbx *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->template_id);
	free(r->state);
	free(r->addr);
	free(r->metadata);
	free(r->env);
	memset(r, 0, sizeof(*r));
}

void store_sbx_free_array(struct store_sbx *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_sbx_release(&rows[i]);
	free(rows);
}

int store_metric_add(struct store *s, const char *id, const struct store_metric *m)
{
	sqlite3_stmt *st = NULL;
	int r;

	pthread_mutex_lock(&s->lock);
	/* One statement: a sample never outlives a row deleted concurrently. */
	r = sqlite3_prepare_v2(
	    s->db,
	    "INSERT OR REPLACE INTO metrics (sandbox_id, ts_ms, cpu_count, cpu_pct,"
	    " mem_used, mem_total, mem_cache, disk_used, disk_total)"
	    " SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM sandboxes"
	    " WHERE id = ? AND state = 'running'",
	    -1, &st, NULL);
	if (r == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, m->ts_ms);
		sqlite3_bind_int64(st, 2, m->cpu_count);
		sqlite3_bind_double(st, 3, m->cpu_pct);
		sqlite3_bind_int64(st, 4, m->mem_used);
		sqlite3_bind_int64(st, 5, m->mem_total);
		sqlite3_bind_int64(st, 6, m->mem_cache);
		sqlite3_bind_int64(st, 7, m->disk_used);
		sqlite3_bind_int64(st, 8, m->disk_total);
		sqlite3_bind_text(st, 9, id, -1, SQLITE_TRANSIENT);
		r = sqlite3_step(st);
	}
	r = r == SQLITE_DONE ? (sqlite3_changes(s->db) > 0 ? 0 : -ENOENT) : -EIO;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_metric_list(struct store *s, const char *id, int64_t from_ms, int64_t to_ms, size_t max,
                      struct store_metric **ret, size_t *ret_n)
{
	struct store_metric *v = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int r;

	pthread_mutex_lock(&s->lock);
	/* The newest max samples of the range, turned oldest first below. */
	r = sqlite3_prepare_v2(s->db,
	                       "SELECT ts_ms, cpu_count, cpu_pct, mem_used, mem_total, mem_cache,"
	                       " disk_used, disk_total FROM metrics WHERE sandbox_id = ?"
	                       " AND ts_ms >= ? AND ts_ms <= ? ORDER BY ts_ms DESC LIMIT ?",
	                       -1, &st, NULL);
	if (r != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	sqlite3_bind_int64(st, 4, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct store_metric *nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				r = SQLITE_NOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		v[n++] = (struct store_metric){
		    .ts_ms = sqlite3_column_int64(st, 0),
		    .cpu_count = (unsigned)sqlite3_column_int64(st, 1),
		    .cpu_pct = sqlite3_column_double(st, 2),
		    .mem_used = sqlite3_column_int64(st, 3),
		    .mem_total = sqlite3_column_int64(st, 4),
		    .mem_cache = sqlite3_column_int64(st, 5),
		    .disk_used = sqlite3_column_int64(st, 6),
		    .disk_total = sqlite3_column_int64(st, 7),
		};
	}
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->lock);
	if (r != SQLITE_DONE) {
		free(v);
		return r == SQLITE_NOMEM ? -ENOMEM : -EIO;
	}
	for (size_t i = 0; i < n / 2; i++) {
		struct store_metric t = v[i];
		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int store_metric_thin(struct store *s, int64_t now_ms)
{
	/* Keeps the first sample of each bucket (per sandbox) in the age band. */
	static const char sql[] = "DELETE FROM metrics WHERE ts_ms < ? AND ts_ms >= ? AND"
	                          " (sandbox_id, ts_ms) NOT IN (SELECT sandbox_id, MIN(ts_ms)"
	                          " FROM metrics WHERE ts_ms < ? AND ts_ms >= ?"
	                          " GROUP BY sandbox_id, ts_ms / ?)";
	const int64_t hour = 3600 * 1000, day = 24 * hour;
	int a, b;

	a = exec_bound(s, sql, "iiiii", now_ms - hour, now_ms - day, now_ms - hour, now_ms - day,
	               (int64_t)60 * 1000);
	if (a < 0)
		return a;
	b = exec_bound(s, sql, "iiiii", now_ms - day, (int64_t)0, now_ms - day, (int64_t)0,
	               (int64_t)600 * 1000);
	return b < 0 ? b : a + b;
}
