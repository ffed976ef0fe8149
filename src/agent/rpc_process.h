/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_RPC_PROCESS_H
#define WARREN_AGENT_RPC_PROCESS_H

/*
 * The process.Process Connect service (WIRE.md §3.4): Start and Connect as
 * server streams, List, SendInput, SendSignal, CloseStdin, Update as unary
 * calls; StreamInput answers unimplemented (no client uses it).
 */

#include "common/http.h"

struct agent_state;
struct proc_table;

struct rpc_process {
	struct agent_state *st;   /* borrowed */
	struct proc_table *procs; /* borrowed */
};

/* Request size limits. */
#define RPC_MAX_MESSAGE (1024 * 1024)
#define RPC_MAX_INPUT_MESSAGE (16 * 1024 * 1024)

/*
 * Serves POST /process.Process/<method> and always sends exactly one
 * response. The access token has been checked by the caller.
 */
void rpc_process_serve(struct rpc_process *svc, struct http_conn *c, struct http_request *req,
                       const char *method);

/*
 * Answers a call of a service that is not implemented: unimplemented as a
 * unary error, or as a 200 + end-stream error for a streaming content type.
 */
void rpc_reply_unimplemented(struct http_conn *c, struct http_request *req, const char *what);

#endif
