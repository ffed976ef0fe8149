/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_ERROR_H
#define WARREN_ERROR_H

/*
 * The caller-owned error report of warren's libraries. A function that takes
 * `struct warren_error *err` fills it only when it fails; `err` may be NULL
 * when the caller needs no message. `code` is a positive errno value, or for
 * HTTP-facing code an HTTP status, as the function's contract says.
 */
struct warren_error {
	int code;
	char msg[256];
};

#endif
