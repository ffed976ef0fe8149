/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_PROM_H
#define WARREND_PROM_H

/*
 * warrend's own Prometheus metrics, served as GET /metrics in the text
 * exposition format 0.0.4 (docs/OBSERVABILITY.md lists them). Two layers:
 *  - the format: prom_hist (a histogram with fixed upper bounds) and the
 *    writers of HELP/TYPE lines, samples and histograms into a struct buf;
 *  - struct prom: the counters and histograms warrend updates (thread-safe,
 *    one mutex), rendered with gauges the caller reads at scrape time.
 * Writers return 0 or -ENOMEM (the buffer may then hold a partial text).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Cumulative counts are computed when written; counts[i] is the number in (bounds[i-1], bounds[i]].
 */
struct prom_hist {
	const double *bounds; /* ascending upper bounds, not owned; +Inf is implied */
	size_t n_bounds;
	uint64_t *counts; /* n_bounds + 1 (the last for > bounds[n_bounds-1]) */
	double sum;
	uint64_t count;
};
/* -ENOMEM, or -EINVAL for bounds that are not strictly ascending finite numbers. */
int prom_hist_init(struct prom_hist *h, const double *bounds, size_t n_bounds);
void prom_hist_release(struct prom_hist *h);
/* Not locked: the owner serialises observe and write. */
void prom_hist_observe(struct prom_hist *h, double v);

/* "# HELP name help\n# TYPE name type\n" (help escaped). */
int prom_write_header(struct buf *b, const char *name, const char *type, const char *help);
/* "name{labels} value\n"; labels is NULL or preformatted `k="v",...` (see prom_write_label). */
int prom_write_sample(struct buf *b, const char *name, const char *labels, double v);
/* Appends `key="value"` with the value escaped (\\, \", \n), preceded by ',' unless first. */
int prom_write_label(struct buf *b, bool first, const char *key, const char *value);
/* _bucket{labels,le="..."} (cumulative, ending with +Inf), _sum and _count lines. */
int prom_write_hist(struct buf *b, const char *name, const char *labels, const struct prom_hist *h);
/* A float the way the format wants it: shortest round-trip text, +Inf, -Inf, NaN. */
void prom_format_double(double v, char out[32]);

/* The control-plane route classes of the request latency histogram. */
enum prom_route {
	PROM_ROUTE_CREATE,
	PROM_ROUTE_CONNECT,
	PROM_ROUTE_LIST,
	PROM_ROUTE_GET,
	PROM_ROUTE_KILL,
	PROM_ROUTE_TIMEOUT,
	PROM_ROUTE_NETWORK,
	PROM_ROUTE_METRICS,
	PROM_ROUTE_LOGS,
	PROM_ROUTE_TEMPLATES,
	PROM_ROUTE_HEALTH,
	PROM_ROUTE_PROMETHEUS,
	PROM_ROUTE_OTHER, /* errors, unknown and unsupported routes */
	PROM_ROUTE_N
};
const char *prom_route_name(enum prom_route r);

enum prom_create_source { PROM_CREATE_POOL, PROM_CREATE_COLD };
enum prom_failure { PROM_FAIL_CAPACITY, PROM_FAIL_ERROR };

struct prom;

/* NULL on out-of-memory. */
struct prom *prom_new(void);
void prom_free(struct prom *p);

/* A sandbox was created in `seconds` (request to answer). p may be NULL (no metrics). */
void prom_create_done(struct prom *p, enum prom_create_source src, double seconds);
void prom_create_failed(struct prom *p, enum prom_failure why);
void prom_request_done(struct prom *p, enum prom_route route, double seconds);

/* What is read at scrape time. */
struct prom_gauges {
	size_t running, paused;
	size_t pool;          /* pooled sandboxes, ready or being made */
	unsigned pool_target; /* --pool-size */
	size_t max_sandboxes;
};
int prom_render(struct prom *p, const struct prom_gauges *g, struct buf *out);

#endif
