/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_SIGNED_URL_H
#define WARREND_SIGNED_URL_H

/*
 * Routing of signed /files URLs. sandbox.uploadUrl() / downloadUrl() make
 * URLs like "<E2B_SANDBOX_URL>/files?path=...&signature=v1_...", which carry no
 * sandbox id and are used by plain clients (curl, a browser) that send no
 * routing headers. The signature is keyed by one sandbox's envd access token
 * (lib/common/filesig.h), so warrend, which knows every token, finds the one
 * sandbox whose token validates it and forwards the request there; the agent
 * then checks the signature again (and its expiration) as for any request.
 */

#include <stdbool.h>

#include "common/http.h"

#define SIGNED_URL_ID_MAX 64

/* Calls visit(ctx, id, token) for each running sandbox that has a token; stops at a non-zero
 * return and returns it. */
typedef int (*signed_url_each_fn)(void *ud,
                                  int (*visit)(void *ctx, const char *id, const char *token),
                                  void *ctx);

/* GET, HEAD or POST /files with a signature query parameter. */
bool signed_url_wants(const struct http_request *req);

/*
 * Finds the sandbox the request's signature was made for (an expired signature
 * still identifies it: the agent then answers that it expired). Writes its id
 * into ret_id. 0, -ENOENT when no sandbox matches (or several do), -EINVAL for
 * a malformed query, -ENOMEM.
 */
int signed_url_find(const struct http_request *req, signed_url_each_fn each, void *ud,
                    char ret_id[SIGNED_URL_ID_MAX + 1]);

#endif
