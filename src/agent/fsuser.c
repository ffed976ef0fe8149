/* SPDX-License-Identifier: Apache-2.0 */
#include "fsuser.h"

#include <errno.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FSUSER_DEFAULT "user"

/*
 * setfsuid/setfsgid report no errors: they return the previous value, and
 * calling them again with an invalid id (-1) reads the current one back.
 */
static int set_fsuid(uid_t uid)
{
	setfsuid(uid);
	return (uid_t)setfsuid((uid_t)-1) == uid ? 0 : -EPERM;
}

static int set_fsgid(gid_t gid)
{
	setfsgid(gid);
	return (gid_t)setfsgid((gid_t)-1) == gid ? 0 : -EPERM;
}

static int set_groups(size_t n, const gid_t *list)
{
	/* The raw call changes only this thread. */
	if (syscall(SYS_setgroups, n, list) < 0)
		return -errno;
	return 0;
}

int fsuser_become(const struct user_info *u)
{
	int r;

	if (!u)
		return -EINVAL;
	/* Groups and gid first: once fsuid is not 0 they could still be set (CAP_SETGID is not a
	 * file capability), but doing them first keeps a failure from leaving a half identity. */
	r = set_groups(u->n_groups, u->groups);
	if (r < 0)
		return r;
	r = set_fsgid(u->gid);
	if (r < 0)
		goto fail;
	r = set_fsuid(u->uid);
	if (r < 0)
		goto fail;
	return 0;
fail:
	fsuser_restore();
	return r;
}

void fsuser_restore(void)
{
	setfsuid(0);
	setfsgid(0);
	(void)set_groups(0, NULL);
}

int fsuser_resolve(const struct users_db *db, const char *name, struct user_info *ret)
{
	if (!name || !*name)
		name = FSUSER_DEFAULT;
	return users_lookup(db, name, ret);
}
