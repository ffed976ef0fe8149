/* SPDX-License-Identifier: Apache-2.0 */
/* warrend: wires the store, runtime, registry, proxy and HTTP server together. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "api.h"
#include "auth.h"
#include "common/error.h"
#include "common/http.h"
#include "common/log.h"
#include "common/util.h"
#include "metrics.h"
#include "pool.h"
#include "egress.h"
#include "prom.h"
#include "proxy.h"
#include "registry.h"
#include "runtime/cgroup.h"
#include "runtime/net.h"
#include "runtime/sandbox.h"
#include "settings.h"
#include "store.h"

/* The base template's resources (WIRE: cpuCount/memoryMB/diskSizeMB come from the template). */
#define BASE_CPU_COUNT 2
#define BASE_MEMORY_MB 512
#define BASE_PIDS_MAX 4096

/* Only for the signal handler: http_server_stop is async-signal-safe. */
static struct http_server *signal_server;

static void on_signal(int sig)
{
	(void)sig;
	if (signal_server)
		http_server_stop(signal_server);
}

static int setup_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		return -errno;
	return 0;
}

static int open_store(const struct warrend_settings *cfg, struct store **ret)
{
	struct warren_error err = {0};
	char *path = NULL;
	int r;

	r = mkdir_p(cfg->state_dir, 0700);
	if (r < 0) {
		log_error("creating state directory '%s': %s", cfg->state_dir, strerror(-r));
		return r;
	}
	if (asprintf(&path, "%s/warren.db", cfg->state_dir) < 0)
		return -ENOMEM;
	r = store_open(path, ret, &err);
	free(path);
	if (r < 0)
		log_error("%s", err.msg);
	return r;
}

/*
 * Decides which key line to print: the WARREN_API_KEY key (stored), a fresh key
 * on first start, or a note that the key was shown before. line gets the line.
 */
static int prepare_key(struct store *st, const struct warrend_settings *cfg, char *line,
                       size_t size)
{
	char key[AUTH_KEY_LEN + 1];
	int r;

	if (cfg->api_key) {
		if (!auth_key_valid_format(cfg->api_key)) {
			log_error(
			    "WARREN_API_KEY must be e2b_ followed by 40 lowercase hex characters");
			return -EINVAL;
		}
		r = auth_key_store(st, cfg->api_key);
		if (r < 0)
			goto fail;
		snprintf(line, size, "export E2B_API_KEY=%s", cfg->api_key);
		return 0;
	}
	r = store_key_count(st);
	if (r < 0)
		goto fail;
	if (r > 0) {
		snprintf(line, size,
		         "# E2B_API_KEY: printed at first start (only its hash is stored); "
		         "'warrend --new-key' makes a new one");
		return 0;
	}
	r = auth_key_generate(key);
	if (r == 0)
		r = auth_key_store(st, key);
	if (r < 0)
		goto fail;
	snprintf(line, size, "export E2B_API_KEY=%s", key);
	return 0;
fail:
	log_error("storing the API key: %s", strerror(-r));
	return r;
}

static int new_key(struct store *st)
{
	char key[AUTH_KEY_LEN + 1];
	int r = auth_key_generate(key);

	if (r == 0)
		r = auth_key_store(st, key);
	if (r < 0) {
		log_error("storing the API key: %s", strerror(-r));
		return 1;
	}
	printf("export E2B_API_KEY=%s\n", key);
	return 0;
}

static void print_banner(const struct warrend_settings *cfg, uint16_t port, const char *key_line)
{
	const char *host = cfg->listen_host;
	bool v6 = strchr(host, ':') != NULL;

	/* A wildcard address is not something a client can connect to; loopback is. */
	if (strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	printf("warrend listening on http://%s%s%s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "", port);
	printf("export E2B_API_URL=http://%s%s%s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "", port);
	printf("export E2B_SANDBOX_URL=http://%s%s%s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "",
	       port);
	printf("%s\n", key_line);
	fflush(stdout);
}

struct daemon {
	struct store *store;
	struct cgroup_mgr *cgroups;
	struct net_mgr *net;
	struct rt *rt;
	struct registry *reg;
	struct pool *pool;
	struct metrics *metrics;
	struct prom *prom;
	struct proxy *proxy;
	struct http_server *server;
	bool serving; /* sandboxes are destroyed at exit only once we served */
};

static int start_runtime(struct daemon *d, const struct warrend_settings *cfg)
{
	struct warren_error err = {0};
	struct net_config ncfg = {.bridge = cfg->bridge, .subnet = cfg->subnet};
	struct rt_config rcfg = {
	    .state_dir = cfg->state_dir, .agent_binary = cfg->agent, .criu_dir = cfg->criu_dir};
	int r;

	/* Said once here rather than by every create: per-sandbox disks need loop devices. */
	if (cfg->disk_mb && access("/dev/loop-control", R_OK | W_OK) < 0) {
		r = err_set(&err, errno,
		            "per-sandbox disks need loop devices: /dev/loop-control: %s "
		            "(--disk-size 0 runs without a disk quota)",
		            strerror(errno));
		goto fail;
	}
	r = cgroup_mgr_new(cfg->cgroup_parent, &d->cgroups, &err);
	if (r < 0)
		goto fail;
	r = net_mgr_new(&ncfg, &d->net, &err);
	if (r < 0)
		goto fail;
	rcfg.cgroups = d->cgroups;
	rcfg.net = d->net;
	r = rt_new(&rcfg, &d->rt, &err);
	if (r < 0)
		goto fail;
	r = rt_template_ensure(d->rt, "base", &err);
	if (r < 0) {
		err_prefix(&err, "preparing template 'base'");
		goto fail;
	}
	return 0;
fail:
	log_error("%s", err.msg[0] ? err.msg : strerror(-r));
	return r;
}

static void daemon_release(struct daemon *d)
{
	http_server_free(d->server);
	metrics_free(d->metrics);
	/* The refill thread stops first, so that nothing is added while we tear down. */
	pool_free(d->pool);
	/* A start that failed leaves re-adopted sandboxes alone for the next start. */
	if (d->reg && d->serving)
		registry_kill_all(d->reg);
	registry_free(d->reg);
	proxy_free(d->proxy);
	rt_free(d->rt);
	net_mgr_free(d->net);
	cgroup_mgr_free(d->cgroups);
	store_close(d->store);
	prom_free(d->prom);
}

int main(int argc, char **argv)
{
	struct warrend_settings cfg;
	struct warren_error err = {0};
	struct daemon d = {0};
	char key_line[160];
	struct api api = {0};
	int r, ret = 1;

	log_setup("warrend", LOG_INFO);
	if (settings_parse(argc, argv, &cfg, &err) < 0) {
		fprintf(stderr, "warrend: %s (see --help)\n", err.msg);
		settings_release(&cfg);
		return 2;
	}
	if (cfg.help || cfg.version) {
		if (cfg.help)
			settings_usage(stdout);
		else
			printf("warrend %s (envd %s)\n", WARREN_VERSION, WARREN_ENVD_VERSION);
		settings_release(&cfg);
		return 0;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "warrend: must run as root (it creates namespaces, cgroups and "
		                "network devices)\n");
		settings_release(&cfg);
		return 1;
	}
	if (open_store(&cfg, &d.store) < 0)
		goto out;
	if (cfg.new_key) {
		ret = new_key(d.store);
		goto out;
	}
	if (prepare_key(d.store, &cfg, key_line, sizeof(key_line)) < 0)
		goto out;
	/* Until the server runs, SIGINT/SIGTERM keep their default action: an interrupted
	 * start leaves nothing that the next start's recovery does not clean up. */
	signal(SIGPIPE, SIG_IGN);

	/* Bind first: a busy port fails fast, before templates are built or sandboxes adopted.
	 * Nothing is served (and api is not read) before http_server_run. */
	struct http_server_config hcfg = {
	    .host = cfg.listen_host,
	    .port = cfg.listen_port,
	    .listen_fd = -1,
	    .handler = api_handle,
	    .userdata = &api,
	};
	r = http_server_new(&hcfg, &d.server, &err);
	if (r < 0) {
		log_error("listening on %s:%u: %s", cfg.listen_host, cfg.listen_port, err.msg);
		goto out;
	}
	if (start_runtime(&d, &cfg) < 0)
		goto out;

	struct registry_config rcfg = {
	    .rt = d.rt,
	    .store = d.store,
	    .max_sandboxes = cfg.max_sandboxes,
	    .cpu_count = BASE_CPU_COUNT,
	    .memory_mb = BASE_MEMORY_MB,
	    .disk_mb = cfg.disk_mb,
	    .pids_max = BASE_PIDS_MAX,
	    .egress = warrend_egress_apply,
	    .egress_ud = d.net,
	};
	d.reg = registry_new(&rcfg);
	if (!d.reg) {
		log_error("cannot start the sandbox registry");
		goto out;
	}
	d.proxy = proxy_new(registry_resolve, d.reg, cfg.domain);
	d.prom = prom_new();
	if (!d.proxy || !d.prom) {
		log_error("out of memory");
		goto out;
	}
	proxy_set_traffic_check(d.proxy, registry_traffic_ok, d.reg);
	proxy_set_host_mask(d.proxy, registry_mask_host, d.reg);
	proxy_set_wake(d.proxy, registry_wake, d.reg);
	proxy_set_signed_lookup(d.proxy, registry_find_signed, d.reg);
	api = (struct api){
	    .reg = d.reg,
	    .store = d.store,
	    .proxy = d.proxy,
	    .cgroups = d.cgroups,
	    .prom = d.prom,
	    .state_dir = cfg.state_dir,
	    .pool_size = cfg.pool_size,
	    .max_sandboxes = cfg.max_sandboxes,
	    .tpl_cpu_count = BASE_CPU_COUNT,
	    .tpl_memory_mb = BASE_MEMORY_MB,
	    .tpl_disk_mb = cfg.disk_mb,
	    .secure_all = cfg.secure_all,
	    .started_ms = now_real_ms(),
	    .domain = cfg.domain,
	};
	r = registry_recover(d.reg);
	if (r < 0)
		log_warn("recovering sandboxes: %s", strerror(-r));
	else if (r > 0)
		log_info("re-adopted %d running sandbox(es)", r);
	if (cfg.pool_size) {
		struct pool_config pcfg = {
		    .reg = d.reg, .template_id = "base", .size = cfg.pool_size};
		r = pool_new(&pcfg, &d.pool);
		if (r < 0) {
			log_error("starting the sandbox pool: %s", strerror(-r));
			goto out;
		}
		api.pool = d.pool;
	}
	struct metrics_config mcfg = {
	    .reg = d.reg,
	    .store = d.store,
	    .cgroups = d.cgroups,
	    .rt = d.rt,
	    .state_dir = cfg.state_dir,
	    .interval_ms = cfg.metrics_interval_ms,
	};
	r = metrics_new(&mcfg, &d.metrics);
	if (r < 0) {
		log_error("starting the metrics sampler: %s", strerror(-r));
		goto out;
	}
	signal_server = d.server;
	if (setup_signals() < 0) {
		log_error("installing signal handlers: %s", strerror(errno));
		goto out;
	}
	print_banner(&cfg, http_server_port(d.server), key_line);
	d.serving = true;
	r = http_server_run(d.server);
	signal_server = NULL;
	if (r < 0)
		log_error("serving: %s", strerror(-r));
	log_info("shutting down: destroying %zu sandbox(es)", registry_count(d.reg));
	ret = r < 0 ? 1 : 0;
out:
	daemon_release(&d);
	settings_release(&cfg);
	return ret;
}
