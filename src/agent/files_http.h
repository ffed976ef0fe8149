/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_FILES_HTTP_H
#define WARREN_AGENT_FILES_HTTP_H

/*
 * envd's /files endpoints (envd.yaml, WIRE.md §3.6): GET downloads a file,
 * POST uploads one or many (multipart/form-data, or application/octet-stream
 * with ?path=, optionally Content-Encoding: gzip). Both stream: a file of any
 * size passes through one fixed buffer (uploads) or sendfile (downloads).
 *
 * Authorization: when the sandbox has an access token, X-Access-Token must
 * match it or the request must carry a valid signature / signature_expiration
 * (filesig.h; op "read" for GET, "write" for POST).
 *
 * Every path is opened on behalf of the requesting user (?username=, else the
 * default user): the thread takes the user's filesystem identity (fsuser.h)
 * while it resolves and creates, so the kernel checks permissions and new
 * files and parent directories belong to the user. Paths are cleaned lexically
 * ("..", "." and repeated slashes, as envd does), relative ones and "~" are
 * taken from the user's home, and they are resolved one component at a time
 * with openat2(RESOLVE_NO_MAGICLINKS): /proc/<pid>/{root,cwd,fd} links never
 * resolve, and every later operation uses the file descriptor, never the name.
 * Only regular files are read or written (never FIFOs or devices).
 */

#include <stddef.h>

#include "common/http.h"
#include "state.h"

/* Serves GET, HEAD and POST on /files; other methods get 405. Always replies. */
void files_http_serve(struct agent_state *st, struct http_conn *c, struct http_request *req);

#endif
