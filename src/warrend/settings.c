/* SPDX-License-Identifier: Apache-2.0 */
#include "settings.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#include "common/error.h"
#include "runtime/disk.h"

void settings_usage(FILE *f)
{
	fputs(
	    "Usage: warrend [OPTIONS]\n"
	    "The warren daemon: an E2B-compatible sandbox server.\n\n"
	    "  --listen ADDR:PORT     address of the API and sandbox proxy (WARREN_LISTEN,\n"
	    "                         default 127.0.0.1:3000)\n"
	    "  --state-dir DIR        state directory (WARREN_STATE_DIR, default /var/lib/warren)\n"
	    "  --bridge NAME          sandbox bridge (WARREN_BRIDGE, default warren0)\n"
	    "  --subnet CIDR          sandbox subnet (WARREN_SUBNET, default 10.201.0.0/16)\n"
	    "  --cgroup-parent NAME   parent cgroup of sandboxes (WARREN_CGROUP_PARENT, default "
	    "warren)\n"
	    "  --domain DOMAIN        domain for <port>-<id>.<domain> Host routing "
	    "(WARREN_DOMAIN)\n"
	    "  --agent PATH           the warren-agent binary (WARREN_AGENT)\n"
	    "  --criu DIR             CRIU for pause/resume, as scripts/criu.sh installs it\n"
	    "                         (WARREN_CRIU, default /var/lib/warren/criu)\n"
	    "  --max-sandboxes N      concurrent sandbox cap (WARREN_MAX_SANDBOXES, default 256)\n"
	    "  --pool-size N          ready sandboxes kept for fast creates (WARREN_POOL_SIZE,\n"
	    "                         default 2, 0 disables the pool)\n"
	    "  --metrics-interval-ms N  sandbox metrics sampling period "
	    "(WARREN_METRICS_INTERVAL_MS,\n"
	    "                         default 5000, 100..3600000)\n"
	    "  --disk-size MIB        each sandbox's disk quota in MiB (WARREN_DISK_SIZE_MB,\n"
	    "                         default 10240; a create may ask less with diskSizeMB;\n"
	    "                         0: no disk of their own, no quota)\n"
	    "  --secure               every sandbox is secure, as if created with secure: true\n"
	    "                         (WARREN_SECURE=1; the SDK's v2 create cannot ask for it)\n"
	    "  --new-key              print a new API key, store its hash, and exit\n"
	    "  --help, --version\n\n"
	    "WARREN_API_KEY=e2b_<40 hex> makes that key valid (for tests) and prints it.\n",
	    f);
}

int settings_parse_listen(const char *s, char *host, size_t host_size, uint16_t *ret_port)
{
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hlen;
	char *end;
	long port;

	if (!colon)
		return -EINVAL;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		h = s + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= host_size)
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*ret_port = (uint16_t)port;
	return 0;
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

/* The agent next to our own binary, when the build tree's one is absent. */
static char *default_agent(void)
{
	static const char build_agent[] = WARREN_BUILD_ROOT "/src/agent/warren-agent";
	char self[PATH_MAX], *out = NULL;
	ssize_t n;

	if (access(build_agent, X_OK) == 0)
		return strdup(build_agent);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if (asprintf(&out, "%s/warren-agent", dirname(self)) < 0)
			out = NULL;
	}
	return out ? out : strdup(build_agent);
}

int settings_parse(int argc, char **argv, struct warrend_settings *cfg, struct warren_error *err)
{
	enum {
		O_LISTEN = 256,
		O_STATE,
		O_BRIDGE,
		O_SUBNET,
		O_CGROUP,
		O_DOMAIN,
		O_AGENT,
		O_CRIU,
		O_MAX,
		O_POOL,
		O_METRICS_INTERVAL,
		O_DISK,
		O_NEWKEY,
		O_SECURE,
		O_HELP,
		O_VERSION
	};
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"state-dir", required_argument, NULL, O_STATE},
	    {"bridge", required_argument, NULL, O_BRIDGE},
	    {"subnet", required_argument, NULL, O_SUBNET},
	    {"cgroup-parent", required_argument, NULL, O_CGROUP},
	    {"domain", required_argument, NULL, O_DOMAIN},
	    {"agent", required_argument, NULL, O_AGENT},
	    {"criu", required_argument, NULL, O_CRIU},
	    {"max-sandboxes", required_argument, NULL, O_MAX},
	    {"pool-size", required_argument, NULL, O_POOL},
	    {"metrics-interval-ms", required_argument, NULL, O_METRICS_INTERVAL},
	    {"disk-size", required_argument, NULL, O_DISK},
	    {"new-key", no_argument, NULL, O_NEWKEY},
	    {"secure", no_argument, NULL, O_SECURE},
	    {"help", no_argument, NULL, O_HELP},
	    {"version", no_argument, NULL, O_VERSION},
	    {0},
	};
	const char *listen = env_or("WARREN_LISTEN", "127.0.0.1:3000");
	const char *max = env_or("WARREN_MAX_SANDBOXES", "256");
	const char *pool = env_or("WARREN_POOL_SIZE", "2");
	const char *interval = env_or("WARREN_METRICS_INTERVAL_MS", "5000");
	const char *disk = env_or("WARREN_DISK_SIZE_MB", "10240");
	const char *agent = getenv("WARREN_AGENT");
	const char *secure;
	char *end;
	long n;
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->state_dir = env_or("WARREN_STATE_DIR", "/var/lib/warren");
	cfg->bridge = env_or("WARREN_BRIDGE", "warren0");
	cfg->subnet = env_or("WARREN_SUBNET", "10.201.0.0/16");
	cfg->cgroup_parent = env_or("WARREN_CGROUP_PARENT", "warren");
	cfg->domain = env_or("WARREN_DOMAIN", NULL);
	cfg->api_key = env_or("WARREN_API_KEY", NULL);
	cfg->criu_dir = env_or("WARREN_CRIU", "/var/lib/warren/criu");
	secure = env_or("WARREN_SECURE", "0");

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			listen = optarg;
			break;
		case O_STATE:
			cfg->state_dir = optarg;
			break;
		case O_BRIDGE:
			cfg->bridge = optarg;
			break;
		case O_SUBNET:
			cfg->subnet = optarg;
			break;
		case O_CGROUP:
			cfg->cgroup_parent = optarg;
			break;
		case O_DOMAIN:
			cfg->domain = optarg;
			break;
		case O_AGENT:
			agent = optarg;
			break;
		case O_CRIU:
			cfg->criu_dir = optarg;
			break;
		case O_MAX:
			max = optarg;
			break;
		case O_POOL:
			pool = optarg;
			break;
		case O_METRICS_INTERVAL:
			interval = optarg;
			break;
		case O_DISK:
			disk = optarg;
			break;
		case O_NEWKEY:
			cfg->new_key = true;
			break;
		case O_SECURE:
			secure = "1";
			break;
		case 'h':
		case O_HELP:
			cfg->help = true;
			break;
		case 'V':
		case O_VERSION:
			cfg->version = true;
			break;
		default:
			return err_set(err, EINVAL, "unknown or incomplete option '%s'",
			               argv[optind - 1]);
		}
	}
	if (optind < argc)
		return err_set(err, EINVAL, "unexpected argument '%s'", argv[optind]);
	if (strcmp(secure, "0") != 0 && strcmp(secure, "1") != 0)
		return err_set(err, EINVAL, "invalid WARREN_SECURE '%s' (0 or 1)", secure);
	cfg->secure_all = strcmp(secure, "1") == 0;
	if (settings_parse_listen(listen, cfg->listen_host, sizeof(cfg->listen_host),
	                          &cfg->listen_port) < 0)
		return err_set(err, EINVAL, "invalid listen address '%s' (want ADDR:PORT)", listen);
	errno = 0;
	n = strtol(max, &end, 10);
	if (errno || end == max || *end || n < 1 || n > 65535)
		return err_set(err, EINVAL, "invalid --max-sandboxes '%s' (1..65535)", max);
	cfg->max_sandboxes = (unsigned)n;
	errno = 0;
	n = strtol(pool, &end, 10);
	if (errno || end == pool || *end || n < 0 || n > 64)
		return err_set(err, EINVAL, "invalid --pool-size '%s' (0..64)", pool);
	cfg->pool_size = (unsigned)n;
	errno = 0;
	n = strtol(interval, &end, 10);
	if (errno || end == interval || *end || n < 100 || n > 3600000)
		return err_set(err, EINVAL, "invalid --metrics-interval-ms '%s' (100..3600000)",
		               interval);
	cfg->metrics_interval_ms = (unsigned)n;
	errno = 0;
	n = strtol(disk, &end, 10);
	if (errno || end == disk || *end || (n != 0 && n < DISK_MB_MIN) || n > DISK_MB_MAX)
		return err_set(err, EINVAL, "invalid --disk-size '%s' (%u..%u MiB, or 0 for none)",
		               disk, DISK_MB_MIN, DISK_MB_MAX);
	cfg->disk_mb = (unsigned)n;
	if (!*cfg->state_dir || cfg->state_dir[0] != '/')
		return err_set(err, EINVAL, "--state-dir must be an absolute path");
	cfg->agent = agent && *agent ? strdup(agent) : default_agent();
	if (!cfg->agent)
		return err_set(err, ENOMEM, "out of memory");
	return 0;
}

void settings_release(struct warrend_settings *cfg)
{
	free(cfg->agent);
	cfg->agent = NULL;
}
