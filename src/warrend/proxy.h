/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_PROXY_H
#define WARREND_PROXY_H

/*
 * Routing of sandbox traffic (the data plane). A request belongs to the data
 * plane when it carries E2b-Sandbox-Id or E2b-Sandbox-Port, or when its Host
 * is "<port>-<sandboxID>.<domain>". It is routed per request (not per
 * connection: the SDK pools connections across sandboxes) to that port of that
 * sandbox and streamed both ways (http_forward). Unknown or dead sandbox:
 * 502 {"sandboxId":"...","message":"The sandbox was not found","code":502}.
 * Backend connections are kept per client connection and reused while the
 * next request goes to the same sandbox and port.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/http.h"

/* Resolves a live sandbox to its address. 0, or -ENOENT when unknown or not running. */
typedef int (*proxy_resolve_fn)(void *ud, const char *sandbox_id, struct in_addr *ret_addr);

struct proxy;

/* domain: the suffix accepted in Host routing (e.g. "localhost"); NULL accepts any. */
struct proxy *proxy_new(proxy_resolve_fn resolve, void *ud, const char *domain);
void proxy_free(struct proxy *p);

/*
 * Port traffic of sandboxes created with allowPublicTraffic false needs their
 * traffic access token in the E2B-Traffic-Access-Token header: ok(ud, id, token or
 * NULL) decides; without it the proxy answers 401 {"code":401,"message":...}. The
 * agent's port (49983) has its own token (X-Access-Token, checked by the agent).
 */
void proxy_set_traffic_check(struct proxy *p,
                             bool (*ok)(void *ud, const char *sandbox_id, const char *token),
                             void *ud);

/*
 * Signed /files URLs (uploadUrl/downloadUrl) carry no routing header and no
 * sandbox name: GET/POST /files?...&signature=... belongs to the data plane,
 * and find(ud, signature, signature_expiration or NULL, path, op ("read" for
 * GET, "write" for POST), username) names the sandbox whose token made it
 * (0 and its id, else -ENOENT: 401 {"code":401,"message":"invalid signature"}).
 */
typedef int (*proxy_find_signed_fn)(void *ud, const char *signature, const char *expiration,
                                    const char *path, const char *op, const char *user,
                                    char ret_id[65]);
void proxy_set_signed_lookup(struct proxy *p, proxy_find_signed_fn find, void *ud);

/*
 * Sandboxes created with network.maskRequestHost get their requests with that Host instead of
 * the client's: mask(ud, id, port, out, size) writes it and returns true, or returns false to
 * keep the client's. Every port, the agent's included ("all sandbox requests").
 */
typedef bool (*proxy_mask_host_fn)(void *ud, const char *sandbox_id, uint16_t port, char *out,
                                   size_t size);
void proxy_set_host_mask(struct proxy *p, proxy_mask_host_fn mask, void *ud);

/*
 * A request for a sandbox that resolve() does not know as running: wake(ud, id) may resume it
 * (autoResume) and returns 0 when it is running now, else <0 (the usual 502).
 */
void proxy_set_wake(struct proxy *p, int (*wake)(void *ud, const char *sandbox_id), void *ud);

/* Does this request belong to the data plane? */
bool proxy_wants(const struct proxy *p, const struct http_request *req);

/* Serves one data-plane request: forwards it, or replies 502/400 itself. */
void proxy_handle(struct proxy *p, struct http_conn *c, struct http_request *req);

/* Per-connection state (the pooled backend socket) is attached to the client connection with
 * http_conn_set_data() and released by the HTTP server when that connection ends: callers have
 * nothing to do. */

#endif
