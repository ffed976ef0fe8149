/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_EVENT_H
#define WARREN_AGENT_EVENT_H

/*
 * Proto3-JSON encoding of process.ProcessEvent wrapped as a Start/Connect
 * response message: {"event":{...}}. Pure functions: each appends one JSON
 * object to out and returns 0 or -ENOMEM.
 */

#include <stddef.h>
#include <stdint.h>

struct buf;

enum event_output {
	EVENT_STDOUT,
	EVENT_STDERR,
	EVENT_PTY,
};

/* Largest data chunk a data event carries (envd: 32 KiB std, 16 KiB pty). */
#define EVENT_DATA_MAX (32 * 1024)
#define EVENT_PTY_DATA_MAX (16 * 1024)

int event_start_json(struct buf *out, uint32_t pid);
int event_data_json(struct buf *out, enum event_output which, const void *data, size_t len);
int event_keepalive_json(struct buf *out);
/*
 * The end event for a waitpid() status, as Go's os.ProcessState reports it:
 * exit 0 -> {"exited":true,"status":"exit status 0"}; exit N -> exitCode N and
 * error = status; killed by a signal -> exitCode -1, exited false,
 * status = error = "signal: killed" (Go's signal names).
 */
int event_end_json(struct buf *out, int wait_status);

/* Go's name of a signal ("killed", "terminated", ...), or NULL if it has none. */
const char *event_signal_name(int sig);

#endif
