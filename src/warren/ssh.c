/* SPDX-License-Identifier: Apache-2.0 */
/*
 * warren ssh-proxy: ssh's ProxyCommand to a sandbox, a WebSocket through warrend's port
 * routing to the sandbox's warren-wsbridge (docs/SSH.md). warren sandbox ssh: ssh with it.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "ws/ws.h"

#define SSH_DEFAULT_PORT "8081"
#define SSH_CONNECT_TIMEOUT_MS 30000

static const char proxy_help[] =
    "Usage: warren ssh-proxy [OPTIONS] SANDBOX_ID\n"
    "\n"
    "Connects stdin and stdout to a TCP service in a sandbox: a WebSocket through warrend's\n"
    "port routing (E2b-Sandbox-Id / E2b-Sandbox-Port) to the sandbox's\n"
    "'/opt/warren/bin/warren-wsbridge serve PORT' (which relays to its sshd). Made for ssh:\n"
    "\n"
    "  ssh -o ProxyCommand='warren ssh-proxy %h' user@SANDBOX_ID\n"
    "\n"
    "SANDBOX_ID may carry a suffix after a dot (SANDBOX_ID.anything), for a 'Host *.warren'\n"
    "block in ~/.ssh/config. Exit code 0 after a clean end, 1 when the sandbox, its bridge\n"
    "or warrend cannot be reached (the reason on stderr).\n"
    "\n"
    "Options:\n"
    "  -p, --port PORT          the bridge's port in the sandbox (default 8081)\n"
    "  -t, --traffic-token TOK  the sandbox's traffic access token, for a sandbox created\n"
    "                           with network.allowPublicTraffic false (env WARREN_TRAFFIC_TOKEN)\n"
    "  -h, --help               show this help\n"
    "\n";

static const char ssh_help[] =
    "Usage: warren sandbox ssh [OPTIONS] SANDBOX_ID [-- SSH_ARGS...]\n"
    "\n"
    "Runs ssh to the sandbox with 'warren ssh-proxy' as its ProxyCommand. The sandbox must\n"
    "run sshd and the bridge (see docs/SSH.md). SSH_ARGS go to ssh after the destination\n"
    "(a remote command, for instance). New host keys are accepted once and remembered\n"
    "under the sandbox's id (StrictHostKeyChecking=accept-new).\n"
    "\n"
    "Options:\n"
    "  -l, --login USER  the user to log in as (default: user)\n"
    "  -p, --port PORT   the bridge's port in the sandbox (default 8081)\n"
    "  -i FILE           identity file, passed to ssh\n"
    "  -o OPTION         an ssh option, passed to ssh before warren's own (repeatable)\n"
    "  -t, --traffic-token TOK  the sandbox's traffic access token (env WARREN_TRAFFIC_TOKEN)\n"
    "  -h, --help        show this help\n"
    "\n";

/* The id part of ssh's %h: up to the first dot. */
static int sandbox_id_of(const char *host, char *out, size_t size)
{
	size_t n = strcspn(host, ".");

	if (n == 0 || n >= size)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!((host[i] >= 'a' && host[i] <= 'z') || (host[i] >= '0' && host[i] <= '9')))
			return -EINVAL;
	memcpy(out, host, n);
	out[n] = '\0';
	return 0;
}

/* A token goes into a header line: printable ASCII without spaces only. */
static int check_token(const char *s)
{
	if (!*s || strlen(s) > 256)
		return -EINVAL;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return -EINVAL;
	return 0;
}

static int check_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && !*end && v >= 1 && v <= 65535 ? 0 : -EINVAL;
}

int cmd_ssh_proxy(struct cli *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"traffic-token", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_GLOBAL_OPTIONS,
	    {},
	};
	const char *port = SSH_DEFAULT_PORT;
	const char *token = getenv("WARREN_TRAFFIC_TOKEN");
	const char *base;
	char id[65], h_id[100], h_port[40], h_token[300];
	struct ws_url url;
	struct warren_error err = {0};
	struct buf pending = BUF_INIT;
	int opt, fd = -1, r;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+p:t:h", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'h':
			cli_print_help(proxy_help);
			return 0;
		default:
			if (!cli_global_option(c, opt, optarg))
				return cli_getopt_error("ssh-proxy", argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("ssh-proxy", "expected one SANDBOX_ID");
	if (check_port(port) < 0)
		return cli_usage_error("ssh-proxy", "invalid port '%s'", port);
	if (token && *token == '\0')
		token = NULL;
	if (token && check_token(token) < 0)
		return cli_usage_error("ssh-proxy", "invalid traffic token");
	if (sandbox_id_of(argv[optind], id, sizeof(id)) < 0)
		return cli_usage_error("ssh-proxy", "invalid sandbox id '%s'", argv[optind]);
	base = c->sandbox_url && *c->sandbox_url ? c->sandbox_url
	       : c->api_url && *c->api_url       ? c->api_url
	                                         : "http://127.0.0.1:3000";
	r = ws_url_parse(base, &url);
	if (r < 0) {
		cli_error("ssh-proxy: %s sandbox URL '%s'",
		          r == -EPROTONOSUPPORT ? "no TLS support for the" : "invalid", base);
		return CLI_EXIT_FAILURE;
	}
	/* The API key is not sent: this traffic goes on to the sandbox, which must not see it. */
	snprintf(h_id, sizeof(h_id), "E2b-Sandbox-Id: %s", id);
	snprintf(h_port, sizeof(h_port), "E2b-Sandbox-Port: %s", port);
	const char *headers[] = {h_id, h_port, NULL, NULL};
	if (token) {
		snprintf(h_token, sizeof(h_token), "E2B-Traffic-Access-Token: %s", token);
		headers[2] = h_token;
	}

	signal(SIGPIPE, SIG_IGN);
	r = ws_client_connect(&url, headers, SSH_CONNECT_TIMEOUT_MS, &fd, &pending, &err);
	if (r < 0) {
		cli_error("ssh-proxy: sandbox %s port %s: %s", id, port, err.msg);
		if (strncmp(err.msg, "HTTP 502", 8) == 0)
			fprintf(stderr,
			        "warren: no such sandbox, or nothing listens on port %s in it (is "
			        "'/opt/warren/bin/warren-wsbridge serve %s' running there?)\n",
			        port, port);
		buf_release(&pending);
		return CLI_EXIT_FAILURE;
	}
	struct ws_relay rc = {.ws_fd = fd,
	                      .in_fd = STDIN_FILENO,
	                      .out_fd = STDOUT_FILENO,
	                      .client = true,
	                      .pending = (const uint8_t *)pending.data,
	                      .n_pending = pending.len};
	r = ws_relay_run(&rc);
	close(fd);
	buf_release(&pending);
	if (r < 0 && r != -ECONNRESET) {
		cli_error("ssh-proxy: sandbox %s port %s: %s", id, port, strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	return 0;
}

int cmd_sandbox_ssh(struct cli *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"login", required_argument, NULL, 'l'},
	    {"port", required_argument, NULL, 'p'},
	    {"traffic-token", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    CLI_GLOBAL_OPTIONS,
	    {},
	};
	const char *user = "user", *port = SSH_DEFAULT_PORT, *identity = NULL, *token = NULL;
	const char *ssh_opts[16];
	size_t n_ssh_opts = 0;
	char self[PATH_MAX], id[65];
	struct buf proxy = BUF_INIT, dest = BUF_INIT, alias = BUF_INIT;
	ssize_t n;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+l:p:i:o:t:h", options, NULL)) != -1) {
		switch (opt) {
		case 'l':
			user = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'i':
			identity = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'o':
			if (n_ssh_opts == ARRAY_SIZE(ssh_opts))
				return cli_usage_error("sandbox ssh", "at most %zu -o options",
				                       ARRAY_SIZE(ssh_opts));
			ssh_opts[n_ssh_opts++] = optarg;
			break;
		case 'h':
			cli_print_help(ssh_help);
			return 0;
		default:
			if (!cli_global_option(c, opt, optarg))
				return cli_getopt_error("sandbox ssh", argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error("sandbox ssh", "no SANDBOX_ID given");
	if (sandbox_id_of(argv[optind], id, sizeof(id)) < 0 || strchr(argv[optind], '.'))
		return cli_usage_error("sandbox ssh", "invalid sandbox id '%s'", argv[optind]);
	if (check_port(port) < 0)
		return cli_usage_error("sandbox ssh", "invalid port '%s'", port);
	if (token && check_token(token) < 0)
		return cli_usage_error("sandbox ssh", "invalid traffic token");
	if (!*user || strpbrk(user, "@ \t\n'\"\\%"))
		return cli_usage_error("sandbox ssh", "invalid user '%s'", user);
	optind++;
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		cli_error("sandbox ssh: finding the warren binary: %s", strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	self[n] = '\0';
	if (strpbrk(self, "'%")) {
		cli_error("sandbox ssh: the path of warren (%s) cannot be quoted for ssh", self);
		return CLI_EXIT_FAILURE;
	}
	/* The settings reach the proxy through the environment ssh passes on. */
	/* The token too: on the proxy's command line, other users' ps would show it. */
	if ((c->sandbox_url && setenv("E2B_SANDBOX_URL", c->sandbox_url, 1) < 0) ||
	    (token && setenv("WARREN_TRAFFIC_TOKEN", token, 1) < 0) ||
	    (c->api_url && setenv("E2B_API_URL", c->api_url, 1) < 0) ||
	    buf_printf(&proxy, "ProxyCommand='%s' ssh-proxy --port %s %%h", self, port) < 0 ||
	    buf_printf(&dest, "%s@%s", user, id) < 0 ||
	    buf_printf(&alias, "HostKeyAlias=warren-%s", id) < 0) {
		cli_error("sandbox ssh: out of memory");
		return CLI_EXIT_FAILURE;
	}
	size_t n_args = (size_t)(argc - optind);
	char **args = calloc(n_args + 2 * n_ssh_opts + 12, sizeof(char *));
	size_t k = 0;
	if (!args) {
		cli_error("sandbox ssh: out of memory");
		return CLI_EXIT_FAILURE;
	}
	args[k++] = (char *)"ssh";
	/* ssh keeps the first value of an option: the user's come first. */
	for (size_t i = 0; i < n_ssh_opts; i++) {
		args[k++] = (char *)"-o";
		args[k++] = (char *)ssh_opts[i];
	}
	args[k++] = (char *)"-o";
	args[k++] = proxy.data;
	args[k++] = (char *)"-o";
	args[k++] = alias.data;
	args[k++] = (char *)"-o";
	args[k++] = (char *)"StrictHostKeyChecking=accept-new";
	if (identity) {
		args[k++] = (char *)"-i";
		args[k++] = (char *)identity;
	}
	args[k++] = dest.data;
	for (int i = optind; i < argc; i++)
		args[k++] = argv[i];
	args[k] = NULL;
	fflush(stdout);
	execvp("ssh", args);
	cli_error("sandbox ssh: running ssh: %s", strerror(errno));
	free(args);
	return errno == ENOENT ? 127 : CLI_EXIT_FAILURE;
}
