/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_COMMON_ERROR_H
#define WARREN_COMMON_ERROR_H

#include <warren/error.h>

/*
 * Fills `err` (if not NULL) with `code` and a printf-style message, and
 * returns -code when code is an errno value so callers can write
 * `return err_set(err, EINVAL, "bad %s", x);`.
 */
int err_set(struct warren_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "<context>: " to err->msg, keeping the code. No-op if err is NULL. */
void err_prefix(struct warren_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
