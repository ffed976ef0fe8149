/* SPDX-License-Identifier: Apache-2.0 */
#include "prom.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* From 1 ms: a pooled create takes a few ms, a cold one tens, a loaded host seconds. */
static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1,     2.5,  5,     10,   30};

static const char *const route_names[PROM_ROUTE_N] = {
    [PROM_ROUTE_CREATE] = "create",   [PROM_ROUTE_CONNECT] = "connect",
    [PROM_ROUTE_LIST] = "list",       [PROM_ROUTE_GET] = "get",
    [PROM_ROUTE_KILL] = "kill",       [PROM_ROUTE_TIMEOUT] = "timeout",
    [PROM_ROUTE_NETWORK] = "network", [PROM_ROUTE_METRICS] = "metrics",
    [PROM_ROUTE_LOGS] = "logs",       [PROM_ROUTE_TEMPLATES] = "templates",
    [PROM_ROUTE_HEALTH] = "health",   [PROM_ROUTE_PROMETHEUS] = "prometheus",
    [PROM_ROUTE_OTHER] = "other",
};

const char *prom_route_name(enum prom_route r)
{
	return (unsigned)r < PROM_ROUTE_N && route_names[r] ? route_names[r] : "other";
}

int prom_hist_init(struct prom_hist *h, const double *bounds, size_t n_bounds)
{
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < n_bounds; i++)
		if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
			return -EINVAL;
	h->counts = calloc(n_bounds + 1, sizeof(*h->counts));
	if (!h->counts)
		return -ENOMEM;
	h->bounds = bounds;
	h->n_bounds = n_bounds;
	return 0;
}

void prom_hist_release(struct prom_hist *h)
{
	free(h->counts);
	h->counts = NULL;
}

void prom_hist_observe(struct prom_hist *h, double v)
{
	size_t i = 0;

	if (isnan(v))
		return;
	while (i < h->n_bounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->sum += v;
	h->count++;
}

void prom_format_double(double v, char out[32])
{
	if (isnan(v)) {
		snprintf(out, 32, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, 32, "%sInf", v > 0 ? "+" : "-");
		return;
	}
	/* The shortest of %.15g..%.17g that reads back as the same double. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static int put_escaped(struct buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		int r;
		if (*s == '\\')
			r = buf_puts(b, "\\\\");
		else if (*s == '\n')
			r = buf_puts(b, "\\n");
		else if (quote && *s == '"')
			r = buf_puts(b, "\\\"");
		else
			r = buf_append(b, s, 1);
		if (r < 0)
			return r;
	}
	return 0;
}

int prom_write_header(struct buf *b, const char *name, const char *type, const char *help)
{
	int r = buf_printf(b, "# HELP %s ", name);

	if (r == 0)
		r = put_escaped(b, help, false);
	if (r == 0)
		r = buf_printf(b, "\n# TYPE %s %s\n", name, type);
	return r;
}

int prom_write_label(struct buf *b, bool first, const char *key, const char *value)
{
	int r = buf_printf(b, "%s%s=\"", first ? "" : ",", key);

	if (r == 0)
		r = put_escaped(b, value, true);
	if (r == 0)
		r = buf_puts(b, "\"");
	return r;
}

int prom_write_sample(struct buf *b, const char *name, const char *labels, double v)
{
	char num[32];

	prom_format_double(v, num);
	if (labels && *labels)
		return buf_printf(b, "%s{%s} %s\n", name, labels, num);
	return buf_printf(b, "%s %s\n", name, num);
}

int prom_write_hist(struct buf *b, const char *name, const char *labels, const struct prom_hist *h)
{
	const char *sep = labels && *labels ? "," : "";
	uint64_t cum = 0;
	char num[32];
	int r = 0;

	if (!labels)
		labels = "";
	for (size_t i = 0; i <= h->n_bounds && r == 0; i++) {
		cum += h->counts[i];
		if (i < h->n_bounds)
			prom_format_double(h->bounds[i], num);
		else
			snprintf(num, sizeof(num), "+Inf");
		r = buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, num,
		               (unsigned long long)cum);
	}
	if (r == 0) {
		prom_format_double(h->sum, num);
		r = *labels ? buf_printf(b, "%s_sum{%s} %s\n", name, labels, num)
		            : buf_printf(b, "%s_sum %s\n", name, num);
	}
	if (r == 0)
		r = *labels ? buf_printf(b, "%s_count{%s} %llu\n", name, labels,
		                         (unsigned long long)h->count)
		            : buf_printf(b, "%s_count %llu\n", name, (unsigned long long)h->count);
	return r;
}

struct prom {
	pthread_mutex_t lock;
	uint64_t creates[2];  /* by prom_create_source */
	uint64_t failures[2]; /* by prom_failure */
	struct prom_hist create_seconds;
	struct prom_hist request_seconds[PROM_ROUTE_N];
};

struct prom *prom_new(void)
{
	struct prom *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	r = prom_hist_init(&p->create_seconds, latency_bounds, ARRAY_SIZE(latency_bounds));
	for (size_t i = 0; r == 0 && i < PROM_ROUTE_N; i++)
		r = prom_hist_init(&p->request_seconds[i], latency_bounds,
		                   ARRAY_SIZE(latency_bounds));
	if (r < 0) {
		prom_free(p);
		return NULL;
	}
	return p;
}

void prom_free(struct prom *p)
{
	if (!p)
		return;
	prom_hist_release(&p->create_seconds);
	for (size_t i = 0; i < PROM_ROUTE_N; i++)
		prom_hist_release(&p->request_seconds[i]);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void prom_create_done(struct prom *p, enum prom_create_source src, double seconds)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->creates[src == PROM_CREATE_POOL ? 0 : 1]++;
	prom_hist_observe(&p->create_seconds, seconds);
	pthread_mutex_unlock(&p->lock);
}

void prom_create_failed(struct prom *p, enum prom_failure why)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->failures[why == PROM_FAIL_CAPACITY ? 0 : 1]++;
	pthread_mutex_unlock(&p->lock);
}

void prom_request_done(struct prom *p, enum prom_route route, double seconds)
{
	if (!p)
		return;
	if ((unsigned)route >= PROM_ROUTE_N)
		route = PROM_ROUTE_OTHER;
	pthread_mutex_lock(&p->lock);
	prom_hist_observe(&p->request_seconds[route], seconds);
	pthread_mutex_unlock(&p->lock);
}

static int render_locked(struct prom *p, const struct prom_gauges *g, struct buf *b)
{
	struct buf lbl = BUF_INIT;
	int r;

	r = prom_write_header(b, "warren_sandboxes", "gauge", "Sandboxes by state.");
	if (r == 0)
		r = prom_write_sample(b, "warren_sandboxes", "state=\"running\"",
		                      (double)g->running);
	if (r == 0)
		r = prom_write_sample(b, "warren_sandboxes", "state=\"paused\"", (double)g->paused);
	if (r == 0)
		r = prom_write_header(
		    b, "warren_sandboxes_max", "gauge",
		    "The cap on sandboxes (--max-sandboxes), pooled ones included.");
	if (r == 0)
		r = prom_write_sample(b, "warren_sandboxes_max", NULL, (double)g->max_sandboxes);
	if (r == 0)
		r = prom_write_header(b, "warren_pool_sandboxes", "gauge",
		                      "Pooled sandboxes, ready or being made.");
	if (r == 0)
		r = prom_write_sample(b, "warren_pool_sandboxes", NULL, (double)g->pool);
	if (r == 0)
		r = prom_write_header(b, "warren_pool_target", "gauge",
		                      "Pooled sandboxes the pool keeps ready (--pool-size).");
	if (r == 0)
		r = prom_write_sample(b, "warren_pool_target", NULL, (double)g->pool_target);
	if (r == 0)
		r = prom_write_header(b, "warren_sandbox_creates_total", "counter",
		                      "Sandboxes created, by where they came from.");
	if (r == 0)
		r = prom_write_sample(b, "warren_sandbox_creates_total", "source=\"pool\"",
		                      (double)p->creates[0]);
	if (r == 0)
		r = prom_write_sample(b, "warren_sandbox_creates_total", "source=\"cold\"",
		                      (double)p->creates[1]);
	if (r == 0)
		r = prom_write_header(b, "warren_sandbox_create_failures_total", "counter",
		                      "Creates that failed on the server's side, by reason.");
	if (r == 0)
		r = prom_write_sample(b, "warren_sandbox_create_failures_total",
		                      "reason=\"capacity\"", (double)p->failures[0]);
	if (r == 0)
		r = prom_write_sample(b, "warren_sandbox_create_failures_total", "reason=\"error\"",
		                      (double)p->failures[1]);
	if (r == 0)
		r = prom_write_header(
		    b, "warren_sandbox_create_seconds", "histogram",
		    "Time from a create request to its answer, successful creates.");
	if (r == 0)
		r = prom_write_hist(b, "warren_sandbox_create_seconds", NULL, &p->create_seconds);
	if (r == 0)
		r = prom_write_header(b, "warren_http_request_duration_seconds", "histogram",
		                      "Control-plane request handling time, by route class.");
	for (size_t i = 0; r == 0 && i < PROM_ROUTE_N; i++) {
		buf_reset(&lbl);
		r = prom_write_label(&lbl, true, "route", prom_route_name((enum prom_route)i));
		if (r == 0)
			r = prom_write_hist(b, "warren_http_request_duration_seconds", lbl.data,
			                    &p->request_seconds[i]);
	}
	buf_release(&lbl);
	return r;
}

int prom_render(struct prom *p, const struct prom_gauges *g, struct buf *out)
{
	int r;

	pthread_mutex_lock(&p->lock);
	r = render_locked(p, g, out);
	pthread_mutex_unlock(&p->lock);
	return r;
}
