/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_COMMON_CONNECT_CODE_H
#define WARREN_COMMON_CONNECT_CODE_H

/*
 * The HTTP status of a Connect protocol error code ("not_found" -> 404, ...), as the
 * Connect spec maps them; 500 for an unknown code or NULL. Shared by the agent, which
 * answers with it, and libwarren, which reads it back. No dependencies.
 */
int connect_code_status(const char *code);

#endif
