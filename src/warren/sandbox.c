/* SPDX-License-Identifier: Apache-2.0 */
/* warren sandbox {spawn,connect,list,kill,exec} */
#include "cli.h"
#include "table.h"
#include "term.h"

#include <common/util.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <warren/warren.h>

#define DEFAULT_API_URL "http://127.0.0.1:3000"
#define MAX_KV 256

static const char sandbox_help[] =
    "Usage: warren sandbox COMMAND [ARGS...]   (alias: sbx)\n"
    "\n"
    "Commands:\n"
    "  spawn, sp [TEMPLATE]              create a sandbox and open a terminal in it\n"
    "  connect, cn SANDBOX_ID            open a terminal in a running sandbox\n"
    "  list, ls                          list running sandboxes\n"
    "  kill, kl SANDBOX_ID... | --all    kill sandboxes\n"
    "  exec, ex SANDBOX_ID -- CMD...     run a command, passing its output and exit code\n"
    "  ssh SANDBOX_ID [-- SSH_ARGS...]   ssh into a sandbox running sshd (docs/SSH.md)\n"
    "\n"
    "Run 'warren sandbox COMMAND --help' for a command's options.\n"
    "\n";

static const char spawn_help[] =
    "Usage: warren sandbox spawn [OPTIONS] [TEMPLATE]\n"
    "\n"
    "Creates a sandbox from TEMPLATE (default: base) and opens an interactive login shell in\n"
    "it. The local terminal is in raw mode while attached (Ctrl-C, Ctrl-Z and Ctrl-D go to\n"
    "the remote shell) and is restored on exit; window size changes are forwarded. While\n"
    "attached, the sandbox's timeout is renewed to 30 s every 5 s; when the shell ends (or\n"
    "warren gets SIGINT/SIGTERM/SIGHUP from outside) the sandbox is killed. The exit code is\n"
    "the shell's (128+N after signal N).\n"
    "\n"
    "Options:\n"
    "  -c, --cwd DIR           working directory of the shell\n"
    "  -u, --user USER         user of the shell (default: the sandbox's default user)\n"
    "  -e, --env KEY=VALUE     environment variable of the shell (repeatable)\n"
    "  -m, --metadata KEY=VALUE  metadata of the new sandbox (repeatable)\n"
    "  -h, --help              show this help\n"
    "\n";

static const char connect_help[] =
    "Usage: warren sandbox connect [OPTIONS] SANDBOX_ID\n"
    "\n"
    "Opens an interactive login shell in a running sandbox, in a terminal as 'spawn' does.\n"
    "While attached, the sandbox's timeout is extended to at least 30 s from now every 5 s\n"
    "(never shortened); the sandbox is left running when the shell ends. The exit code is\n"
    "the shell's (128+N after signal N).\n"
    "\n"
    "Options:\n"
    "  -c, --cwd DIR           working directory of the shell\n"
    "  -u, --user USER         user of the shell (default: the sandbox's default user)\n"
    "  -e, --env KEY=VALUE     environment variable of the shell (repeatable)\n"
    "  -h, --help              show this help\n"
    "\n";

static const char list_help[] =
    "Usage: warren sandbox list [OPTIONS]   (alias: ls)\n"
    "\n"
    "Lists sandboxes: a table of id, template, start and end time (UTC), state and metadata.\n"
    "\n"
    "Options:\n"
    "  -j, --json                print a JSON array instead (the API's ListedSandbox fields)\n"
    "  -s, --state STATES        running, paused, or running,paused (default: both)\n"
    "  -m, --metadata KEY=VALUE  only sandboxes with this metadata (repeatable: all must match)\n"
    "  -h, --help                show this help\n"
    "\n";

static const char kill_help[] =
    "Usage: warren sandbox kill [OPTIONS] SANDBOX_ID...   (alias: kl)\n"
    "       warren sandbox kill --all [-m KEY=VALUE]...\n"
    "\n"
    "Kills the given sandboxes, or all running ones. Exits 1 if any could not be killed\n"
    "or did not exist.\n"
    "\n"
    "Options:\n"
    "  -a, --all                 kill every sandbox (with --metadata: every matching one)\n"
    "  -m, --metadata KEY=VALUE  with --all: only sandboxes with this metadata (repeatable)\n"
    "  -h, --help                show this help\n"
    "\n";

int cli_client_new(const struct cli *c, struct warren_client **ret)
{
	struct warren_error err = {0};
	struct warren_config cfg = {0};
	int r;

	cfg.api_url = c->api_url ? c->api_url : DEFAULT_API_URL;
	/* One warrend serves both planes: without a sandbox URL, sandboxes are reached through
	 * the API URL (rather than E2B's per-sandbox host names). */
	cfg.sandbox_url = c->sandbox_url ? c->sandbox_url : cfg.api_url;
	cfg.api_key = c->api_key;
	if (!cfg.api_key || !*cfg.api_key) {
		cli_error("no API key: pass --api-key or set E2B_API_KEY");
		return -EINVAL;
	}
	r = warren_client_new(&cfg, ret, &err);
	if (r < 0)
		cli_error("%s", err.msg[0] ? err.msg : strerror(-r));
	return r;
}

int cli_parse_kv(char *arg, struct warren_kv *kv)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg)
		return -EINVAL;
	*eq = '\0';
	kv->key = arg;
	kv->value = eq + 1;
	return 0;
}

static int signal_number(const char *status)
{
	static const struct {
		const char *text;
		int sig;
	} names[] = {
	    {"hangup", 1},
	    {"interrupt", 2},
	    {"quit", 3},
	    {"aborted", 6},
	    {"killed", 9},
	    {"segmentation fault", 11},
	    {"broken pipe", 13},
	    {"alarm clock", 14},
	    {"terminated", 15},
	    {"user defined signal 1", 10},
	    {"user defined signal 2", 12},
	};
	const char *s = strncmp(status, "signal: ", 8) == 0 ? status + 8 : status;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(s, names[i].text, strlen(names[i].text)) == 0)
			return names[i].sig;
	return 0;
}

int cli_exit_code(const struct warren_exit *e)
{
	int sig;

	if (e->exited)
		return e->exit_code & 0xff;
	sig = signal_number(e->status);
	return sig ? 128 + sig : CLI_EXIT_FAILURE;
}

/* A `warren sandbox` subcommand's options shared by spawn and connect. */
struct term_args {
	struct attach_opts ao;
	struct warren_kv envs[MAX_KV];
	struct warren_kv metadata[MAX_KV];
	size_t n_metadata;
};

static int parse_term_args(struct cli *c, int argc, char **argv, const char *name, const char *help,
                           bool spawn, struct term_args *a)
{
	static const struct option options[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"cwd", required_argument, NULL, 'c'},
	    {"user", required_argument, NULL, 'u'},
	    {"env", required_argument, NULL, 'e'},
	    {"metadata", required_argument, NULL, 'm'},
	    CLI_GLOBAL_OPTIONS,
	    {},
	};
	int opt;

	a->ao.envs = a->envs;
	while ((opt = getopt_long(argc, argv, "hc:u:e:m:", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cli_print_help(help);
			return 0;
		case 'c':
			a->ao.cwd = optarg;
			break;
		case 'u':
			a->ao.user = optarg;
			break;
		case 'e':
			if (a->ao.n_envs == MAX_KV)
				return cli_usage_error(name, "at most %d --env", MAX_KV);
			if (cli_parse_kv(optarg, &a->envs[a->ao.n_envs]) < 0)
				return cli_usage_error(name, "--env wants KEY=VALUE, not '%s'",
				                       optarg);
			a->ao.n_envs++;
			break;
		case 'm':
			if (!spawn)
				return cli_usage_error(name, "--metadata is for spawn");
			if (a->n_metadata == MAX_KV)
				return cli_usage_error(name, "at most %d --metadata", MAX_KV);
			if (cli_parse_kv(optarg, &a->metadata[a->n_metadata]) < 0)
				return cli_usage_error(name, "--metadata wants KEY=VALUE, not '%s'",
				                       optarg);
			a->n_metadata++;
			break;
		default:
			if (!cli_global_option(c, opt, optarg))
				return cli_getopt_error(name, argv);
		}
	}
	return -1;
}

/* A signal (other than SIGWINCH) that arrived while the sandbox was being made: 0 or its
 * number. */
static int signal_pending(int sig_fd)
{
	struct signalfd_siginfo si;

	while (read(sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo != SIGWINCH)
			return (int)si.ssi_signo;
	return 0;
}

static int cmd_spawn_or_connect(struct cli *c, int argc, char **argv, bool spawn)
{
	const char *name = spawn ? "sandbox spawn" : "sandbox connect";
	struct term_args *a = calloc(1, sizeof(*a));
	struct warren_client *wc = NULL;
	struct warren_sandbox *sbx = NULL;
	struct warren_error err = {0};
	const char *arg = NULL;
	sigset_t old;
	int rc, r, sig_fd = -1;

	if (!a) {
		cli_error("out of memory");
		return CLI_EXIT_FAILURE;
	}
	rc = parse_term_args(c, argc, argv, name, spawn ? spawn_help : connect_help, spawn, a);
	if (rc >= 0)
		goto out_free;
	rc = CLI_EXIT_FAILURE;
	if (optind < argc)
		arg = argv[optind++];
	if (optind < argc) {
		rc = cli_usage_error(name, "unexpected argument '%s'", argv[optind]);
		goto out_free;
	}
	if (!spawn && !arg) {
		rc = cli_usage_error(name, "no sandbox id given");
		goto out_free;
	}
	/* Blocked before the library starts any thread (they inherit the mask), so that the
	 * session's signalfd alone sees them and the terminal is restored on every one. */
	sig_fd = term_signals_block(&old);
	if (sig_fd < 0) {
		cli_error("signalfd: %s", strerror(-sig_fd));
		goto out_free;
	}
	if (cli_client_new(c, &wc) < 0)
		goto out;
	if (spawn) {
		struct warren_create_opts co = {
		    .template_id = arg,
		    .timeout_s = 30,
		    .metadata = a->metadata,
		    .n_metadata = a->n_metadata,
		    .allow_internet_access = -1,
		};

		r = warren_sandbox_create(wc, &co, &sbx, &err);
		if (r < 0) {
			cli_error("%s", err.msg);
			goto out;
		}
	} else {
		/* Connect also resumes a paused sandbox; timeout 30 s is an extension only. */
		r = warren_sandbox_connect(wc, arg, 30, &sbx, &err);
		if (r < 0) {
			if (err.code == 404)
				cli_error("sandbox '%s' not found", arg);
			else
				cli_error("%s", err.msg);
			goto out;
		}
	}
	r = signal_pending(sig_fd);
	if (r > 0)
		rc = 128 + r;
	else
		rc = cli_attach(wc, sbx, spawn, sig_fd, &a->ao);
	if (spawn) {
		r = warren_sandbox_kill(wc, sbx->sandbox_id, &err);
		if (r < 0)
			cli_error("%s", err.msg);
	}
out:
	warren_sandbox_free(sbx);
	warren_client_free(wc);
	close(sig_fd);
	term_signals_unblock(&old);
out_free:
	free(a);
	return rc;
}

static void format_time(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) || strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, size, "-");
}

static void format_time_json(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

static int print_json(struct warren_sandbox **list, size_t n)
{
	json_t *arr = json_array();
	char *text;

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct warren_sandbox *s = list[i];
		json_t *md = json_object();
		char started[32], end[32];

		format_time_json(s->started_at, started, sizeof(started));
		format_time_json(s->end_at, end, sizeof(end));
		for (size_t k = 0; md && k < s->n_metadata; k++)
			json_object_set_new(md, s->metadata[k].key,
			                    json_string(s->metadata[k].value));
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:o*}",
		              "sandboxID", s->sandbox_id, "templateID", s->template_id, "alias",
		              s->alias, "clientID", s->client_id, "startedAt", started, "endAt",
		              end, "state", s->state, "cpuCount", s->cpu_count, "memoryMB",
		              s->memory_mb, "diskSizeMB", s->disk_size_mb, "envdVersion",
		              s->envd_version, "metadata", md));
	}
	if ((size_t)json_array_size(arr) != n) {
		json_decref(arr);
		return -ENOMEM;
	}
	text = json_dumps(arr, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	json_decref(arr);
	if (!text)
		return -ENOMEM;
	puts(text);
	free(text);
	return 0;
}

static int print_table(struct warren_sandbox **list, size_t n)
{
	static const char *const headers[] = {"SANDBOX ID", "TEMPLATE", "STARTED (UTC)",
	                                      "END (UTC)",  "STATE",    "METADATA"};
	struct table *t = table_new(6, headers);
	int r = 0;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct warren_sandbox *s = list[i];
		char started[32], end[32];
		char *md = NULL;
		size_t md_len = 0;
		FILE *f = open_memstream(&md, &md_len);

		if (!f) {
			r = -ENOMEM;
			break;
		}
		for (size_t k = 0; k < s->n_metadata; k++)
			fprintf(f, "%s%s=%s", k ? "," : "", s->metadata[k].key,
			        s->metadata[k].value);
		if (fclose(f) != 0) {
			free(md);
			r = -ENOMEM;
			break;
		}
		format_time(s->started_at, started, sizeof(started));
		format_time(s->end_at, end, sizeof(end));
		const char *cells[] = {s->sandbox_id, s->alias[0] ? s->alias : s->template_id,
		                       started,       end,
		                       s->state,      md};
		r = table_add_row(t, cells);
		free(md);
	}
	if (r >= 0)
		table_print(t, stdout);
	table_free(t);
	return r;
}

static int parse_states(const char *arg, unsigned *ret)
{
	unsigned states = 0;
	char *copy = strdup(arg), *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, "running") == 0)
			states |= WARREN_STATE_RUNNING;
		else if (strcmp(w, "paused") == 0)
			states |= WARREN_STATE_PAUSED;
		else {
			free(copy);
			return -EINVAL;
		}
	}
	free(copy);
	if (!states)
		return -EINVAL;
	*ret = states;
	return 0;
}

static int cmd_list_or_kill(struct cli *c, int argc, char **argv, bool kill)
{
	static const struct option options[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'},
	    {"state", required_argument, NULL, 's'},
	    {"metadata", required_argument, NULL, 'm'},
	    {"all", no_argument, NULL, 'a'},
	    CLI_GLOBAL_OPTIONS,
	    {},
	};
	const char *name = kill ? "sandbox kill" : "sandbox list";
	struct warren_kv metadata[64];
	struct warren_list_opts lo = {.metadata = metadata};
	struct warren_client *wc = NULL;
	struct warren_sandbox **list = NULL;
	struct warren_error err = {0};
	bool json = false, all = false;
	size_t n = 0;
	int opt, r, rc = CLI_EXIT_FAILURE;

	while ((opt = getopt_long(argc, argv, kill ? "ham:" : "hjs:m:", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cli_print_help(kill ? kill_help : list_help);
			return 0;
		case 'j':
			if (kill)
				return cli_getopt_error(name, argv);
			json = true;
			break;
		case 'a':
			if (!kill)
				return cli_getopt_error(name, argv);
			all = true;
			break;
		case 's':
			if (kill)
				return cli_getopt_error(name, argv);
			if (parse_states(optarg, &lo.states) < 0)
				return cli_usage_error(name,
				                       "--state wants running, paused or both");
			break;
		case 'm':
			if (lo.n_metadata == ARRAY_SIZE(metadata))
				return cli_usage_error(name, "at most %zu --metadata",
				                       ARRAY_SIZE(metadata));
			if (cli_parse_kv(optarg, &metadata[lo.n_metadata]) < 0)
				return cli_usage_error(name, "--metadata wants KEY=VALUE, not '%s'",
				                       optarg);
			lo.n_metadata++;
			break;
		default:
			if (!cli_global_option(c, opt, optarg))
				return cli_getopt_error(name, argv);
		}
	}
	if (kill) {
		if (all && optind < argc)
			return cli_usage_error(name, "--all and sandbox ids together");
		if (!all && optind >= argc)
			return cli_usage_error(name, "no sandbox id given (or --all)");
		if (!all && lo.n_metadata)
			return cli_usage_error(name, "--metadata goes with --all");
	} else if (optind < argc) {
		return cli_usage_error(name, "unexpected argument '%s'", argv[optind]);
	}
	if (cli_client_new(c, &wc) < 0)
		return CLI_EXIT_FAILURE;

	if (!kill || all) {
		if (kill)
			lo.states = WARREN_STATE_RUNNING | WARREN_STATE_PAUSED;
		r = warren_sandbox_list(wc, &lo, &list, &n, &err);
		if (r < 0) {
			cli_error("%s", err.msg);
			goto out;
		}
	}
	if (!kill) {
		r = json ? print_json(list, n) : print_table(list, n);
		if (r < 0) {
			cli_error("printing: %s", strerror(-r));
			goto out;
		}
		if (fflush(stdout) != 0) {
			cli_error("writing: %m");
			goto out;
		}
		rc = 0;
		goto out;
	}

	rc = 0;
	for (size_t i = 0; all ? i < n : (size_t)optind + i < (size_t)argc; i++) {
		const char *id = all ? list[i]->sandbox_id : argv[optind + i];

		r = warren_sandbox_kill(wc, id, &err);
		if (r < 0) {
			cli_error("%s", err.msg);
			rc = CLI_EXIT_FAILURE;
		} else if (r == 0) {
			cli_error("sandbox '%s' not found", id);
			rc = CLI_EXIT_FAILURE;
		} else {
			printf("%s\n", id);
		}
	}
out:
	warren_sandbox_list_free(list, n);
	warren_client_free(wc);
	return rc;
}

int cmd_sandbox(struct cli *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"help", no_argument, NULL, 'h'},
	    CLI_GLOBAL_OPTIONS,
	    {},
	};
	const char *sub;
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		if (opt == 'h') {
			cli_print_help(sandbox_help);
			return 0;
		}
		if (!cli_global_option(c, opt, optarg))
			return cli_getopt_error("sandbox", argv);
	}
	if (optind >= argc)
		return cli_usage_error("sandbox", "no subcommand given");
	sub = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0;
	if (strcmp(sub, "spawn") == 0 || strcmp(sub, "sp") == 0)
		return cmd_spawn_or_connect(c, argc, argv, true);
	if (strcmp(sub, "connect") == 0 || strcmp(sub, "cn") == 0)
		return cmd_spawn_or_connect(c, argc, argv, false);
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
		return cmd_list_or_kill(c, argc, argv, false);
	if (strcmp(sub, "kill") == 0 || strcmp(sub, "kl") == 0)
		return cmd_list_or_kill(c, argc, argv, true);
	if (strcmp(sub, "exec") == 0 || strcmp(sub, "ex") == 0)
		return cmd_sandbox_exec(c, argc, argv);
	if (strcmp(sub, "ssh") == 0)
		return cmd_sandbox_ssh(c, argc, argv);
	return cli_usage_error("sandbox", "unknown subcommand '%s'", sub);
}
