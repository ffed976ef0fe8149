/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_LOGS_H
#define WARREND_LOGS_H

/*
 * A sandbox's logs, for GET /sandboxes/{id}/logs and /v2/sandboxes/{id}/logs.
 *
 * The agent (pid 1 in the sandbox) writes its log lines to
 * LOG_AGENT_FILE inside the sandbox and rotates it to LOG_AGENT_FILE.1 past
 * LOG_AGENT_FILE_MAX bytes (common/log.h). warrend reads both files from the
 * host side, through the sandbox's upper directory: the files are written by
 * the sandbox, so they are opened without following any link (openat2
 * RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV), must be regular
 * files, and only their last LOGS_READ_MAX bytes are read. Every line is
 * parsed strictly (logs_parse_line); a line that is not in the agent's format
 * is skipped. docs/OBSERVABILITY.md says why a file in the sandbox and not a
 * pipe to warrend (restarts and CRIU checkpoints).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"

#define LOGS_READ_MAX (2u * LOG_AGENT_FILE_MAX)
#define LOGS_LIMIT_MAX 1000
#define LOGS_SEARCH_MAX 256

/* One parsed line; logger and message point into the text the line came from. */
struct logs_entry {
	int64_t ts_ms;
	enum log_level level;
	const char *logger;
	size_t logger_len;
	const char *message;
	size_t message_len;
};

/*
 * Parses "<YYYY-MM-DDTHH:MM:SS.mmmZ> <logger> <debug|info|warn|error> [<id>] <message>"
 * (the "[<id>] " part optional, as common/log.c writes it; no newline). -EINVAL when the
 * line is not in that form.
 */
int logs_parse_line(const char *line, size_t len, struct logs_entry *ret);

/* The entries of a text: lines split at '\n', unparsable ones skipped. */
struct logs_set {
	char *text; /* owned; entries point into it */
	struct logs_entry *v;
	size_t n;
};
/* Parses text (taken over, freed by logs_set_release) into set. 0 or -ENOMEM. */
int logs_set_parse(char *text, size_t len, struct logs_set *set);
void logs_set_release(struct logs_set *set);

/*
 * Opens the sandbox's upper directory (its root file system's writable layer):
 * <state_dir>/sandboxes/<id>/disk/upper on its own disk, or .../<id>/upper for a
 * sandbox without one (runtime/sandbox.h). An O_DIRECTORY fd the caller closes, or -errno.
 */
int logs_upper_open(const char *state_dir, const char *id);

/* Reads the sandbox's agent log (both files, older first). An absent log is an empty set. */
int logs_read(const char *state_dir, const char *id, struct logs_set *ret);

/* Which entries a request wants (the v2 query parameters). */
struct logs_query {
	int64_t cursor_ms; /* forward: ts >= cursor; backward: ts <= cursor (-1: no bound) */
	bool backward;     /* newest first */
	size_t limit;
	enum log_level min_level;
	const char *search; /* case-sensitive substring of the message, NULL: any */
};
/*
 * Fills idx (caller-provided, set->n entries) with the indices of the selected
 * entries in answer order; returns their number.
 */
size_t logs_select(const struct logs_set *set, const struct logs_query *q, size_t *idx);

/* "debug", "info", "warn", "error"; -EINVAL otherwise. */
int logs_level_parse(const char *s, enum log_level *ret);
const char *logs_level_name(enum log_level l);

#endif
