/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_FSUSER_H
#define WARREN_AGENT_FSUSER_H

/*
 * Per-thread filesystem identity, for the file APIs that act "as" a user.
 *
 * fsuser_become() gives the calling thread the user's fsuid, fsgid and
 * supplementary groups through the raw per-thread system calls (glibc's
 * setgroups() would change every thread of the agent). With a non-zero fsuid
 * the kernel drops the thread's effective file capabilities (DAC_OVERRIDE,
 * DAC_READ_SEARCH, FOWNER, CHOWN, FSETID...), so open, mkdir, rename, unlink
 * and stat are checked exactly as for that user, and new files belong to the
 * user. For uid 0 nothing is dropped. Other threads are never affected.
 *
 * Always pair a successful fsuser_become() with fsuser_restore() on the same
 * thread before it serves anything else.
 */

#include "users.h"

/* 0, or -errno (the identity is then unchanged). */
int fsuser_become(const struct user_info *u);
/* Back to root: fsuid/fsgid 0, no supplementary groups. */
void fsuser_restore(void);

/*
 * The user a request acts as: NULL or "" means "user" (E2B's default).
 * 0, -ENOENT for an unknown user, or -errno when the database is unreadable.
 */
int fsuser_resolve(const struct users_db *db, const char *name, struct user_info *ret);

#endif
