/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_SETTINGS_H
#define WARREND_SETTINGS_H

/*
 * warrend's settings: each flag has an environment variable (the flag wins).
 * Strings point into argv/environ or into the struct's own storage; release
 * with settings_release.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <warren/error.h>

struct warrend_settings {
	char listen_host[64]; /* numeric address, without brackets */
	uint16_t listen_port;
	const char *state_dir;
	const char *bridge;
	const char *subnet;
	const char *cgroup_parent;
	const char *domain;   /* NULL: any Host suffix */
	char *agent;          /* heap */
	const char *criu_dir; /* CRIU install (scripts/criu.sh) for pause/resume */
	const char *api_key;  /* WARREN_API_KEY, NULL if unset */
	unsigned max_sandboxes;
	unsigned pool_size;           /* ready sandboxes kept per template; 0: none */
	unsigned metrics_interval_ms; /* sandbox metrics sampling period */
	unsigned disk_mb;             /* each sandbox's disk (quota), MiB; 0: none, no quota */
	bool secure_all;              /* --secure: every create is secure: true */
	bool new_key, help, version;
};

/* Fills cfg from defaults, the environment, then argv. -EINVAL with err for a bad value. */
int settings_parse(int argc, char **argv, struct warrend_settings *cfg, struct warren_error *err);
void settings_release(struct warrend_settings *cfg);
void settings_usage(FILE *f);
/* Splits "ADDR:PORT" / "[V6]:PORT" into host and port. */
int settings_parse_listen(const char *s, char *host, size_t host_size, uint16_t *ret_port);

#endif
