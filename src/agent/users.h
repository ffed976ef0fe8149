/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_USERS_H
#define WARREN_AGENT_USERS_H

/*
 * User lookup without NSS (the agent is static): /etc/passwd and /etc/group
 * are read with fgetpwent()/fgetgrent(). The paths can be overridden for host
 * tests by the WARREN_PASSWD / WARREN_GROUP environment variables, read once
 * by the caller and passed in.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define USERS_MAX_GROUPS 64

struct user_info {
	char name[64];
	char home[4096];
	char shell[256];
	uid_t uid;
	gid_t gid;
	gid_t groups[USERS_MAX_GROUPS]; /* primary gid first, then memberships */
	size_t n_groups;
};

struct users_db {
	const char *passwd_path; /* borrowed; NULL means /etc/passwd */
	const char *group_path;  /* borrowed; NULL means /etc/group */
};

/* The largest /etc/passwd or /etc/group read (larger ones are read up to here). */
#define USERS_FILE_MAX (4 * 1024 * 1024)

/*
 * A database file read whole into memory, as a stdio stream for fgetpwent_r/fgetgrent_r:
 * one read(2) instead of the lseek(2) that glibc makes per entry on a file stream (some
 * hundred system calls per request in all). NULL with errno set on failure. Close it with
 * users_file_close, which frees the copy too.
 */
struct users_file {
	FILE *f;
	char *data;
};
int users_file_open(const char *path, struct users_file *ret);
void users_file_close(struct users_file *uf);

/*
 * Fills *ret for the user called name. Returns 0, -ENOENT when there is no
 * such user, or -errno when the database cannot be read.
 */
int users_lookup(const struct users_db *db, const char *name, struct user_info *ret);

/*
 * Extracts the user name from an "Authorization: Basic base64(user:pass)"
 * value into out (size n). Returns 0, or -EINVAL when malformed.
 */
int users_from_basic_auth(const char *header, char *out, size_t n);

#endif
