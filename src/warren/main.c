/* SPDX-License-Identifier: Apache-2.0 */
/* warren: the command-line client of warrend (on libwarren). */
#include "cli.h"

#include <config.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cli_global_help[] =
    "Global options:\n"
    "  --api-url URL       control-plane URL (env E2B_API_URL, default http://127.0.0.1:3000)\n"
    "  --sandbox-url URL   sandbox traffic URL (env E2B_SANDBOX_URL, default: the API URL)\n"
    "  --api-key KEY       API key (env E2B_API_KEY)\n";

static const char main_help[] =
    "Usage: warren [OPTIONS] COMMAND [ARGS...]\n"
    "\n"
    "The command-line client of warren, the self-hosted E2B-compatible sandbox platform.\n"
    "\n"
    "Commands:\n"
    "  sandbox, sbx   create, list, kill sandboxes; terminals and commands in them\n"
    "  ssh-proxy      ssh's ProxyCommand to a sandbox's sshd (docs/SSH.md)\n"
    "  help           show help for a command\n"
    "\n"
    "Options:\n"
    "  -h, --help      show this help\n"
    "  -V, --version   print the version\n"
    "\n"
    "Run 'warren COMMAND --help' for a command's help.\n"
    "\n";

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("warren: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("warren: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'warren %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return CLI_EXIT_USAGE;
}

void cli_print_help(const char *text)
{
	fputs(text, stdout);
	fputs(cli_global_help, stdout);
}

int cli_getopt_error(const char *cmd, char **argv)
{
	const char *arg = argv[optind - 1];

	if (optopt && optopt < 0x1000)
		return cli_usage_error(cmd, "option '-%c': unknown or missing its argument",
		                       optopt);
	return cli_usage_error(cmd, "option '%s': unknown or missing its argument", arg);
}

bool cli_global_option(struct cli *c, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_API_URL:
		c->api_url = arg;
		return true;
	case CLI_OPT_SANDBOX_URL:
		c->sandbox_url = arg;
		return true;
	case CLI_OPT_API_KEY:
		c->api_key = arg;
		return true;
	default:
		return false;
	}
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    CLI_GLOBAL_OPTIONS,
	    {},
	};
	struct cli c = {
	    .api_url = env_or("E2B_API_URL", NULL),
	    .sandbox_url = env_or("E2B_SANDBOX_URL", NULL),
	    .api_key = env_or("E2B_API_KEY", NULL),
	};
	const char *cmd;
	int opt;

	opterr = 0;
	/* '+': stop at the command's name; the command parses the rest. */
	while ((opt = getopt_long(argc, argv, "+hV", options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cli_print_help(main_help);
			return 0;
		case 'V':
			printf("warren %s\n", WARREN_VERSION);
			return 0;
		default:
			if (!cli_global_option(&c, opt, optarg))
				return cli_getopt_error(NULL, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "no command given");
	cmd = argv[optind];
	if (strcmp(cmd, "help") == 0) {
		if (optind + 1 >= argc) {
			cli_print_help(main_help);
			return 0;
		}
		/* "warren help sandbox [spawn]" is "warren sandbox [spawn] --help". */
		char *sub[4] = {argv[optind + 1], NULL, NULL, NULL};
		int n = 1;

		if (optind + 2 < argc)
			sub[n++] = argv[optind + 2];
		sub[n++] = (char *)"--help";
		optind = 0;
		if (strcmp(sub[0], "sandbox") == 0 || strcmp(sub[0], "sbx") == 0)
			return cmd_sandbox(&c, n, sub);
		if (strcmp(sub[0], "ssh-proxy") == 0)
			return cmd_ssh_proxy(&c, n, sub);
		return cli_usage_error(NULL, "unknown command '%s'", sub[0]);
	}
	if (strcmp(cmd, "sandbox") == 0 || strcmp(cmd, "sbx") == 0) {
		int sub_argc = argc - optind;
		char **sub_argv = argv + optind;

		optind = 0;
		return cmd_sandbox(&c, sub_argc, sub_argv);
	}
	if (strcmp(cmd, "ssh-proxy") == 0) {
		int sub_argc = argc - optind;
		char **sub_argv = argv + optind;

		optind = 0;
		return cmd_ssh_proxy(&c, sub_argc, sub_argv);
	}
	return cli_usage_error(NULL, "unknown command '%s'", cmd);
}
