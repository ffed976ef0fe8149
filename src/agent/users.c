/* SPDX-License-Identifier: Apache-2.0 */
#include "users.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/b64.h"
#include "common/buf.h"

static int copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src ? src : "");

	if (l >= n)
		return -ENAMETOOLONG;
	memcpy(dst, src ? src : "", l + 1);
	return 0;
}

/* A line buffer for the reentrant readers: grown on ERANGE up to 1 MiB. */
#define USERS_LINE_MAX (1024 * 1024)

static void add_supplementary_groups(const struct users_db *db, struct user_info *u)
{
	struct group grbuf, *gr;
	size_t n = 16384;
	char *line;
	FILE *f;
	int r;

	f = fopen(db->group_path ? db->group_path : "/etc/group", "re");
	if (!f)
		return;
	line = malloc(n);
	while (line && u->n_groups < USERS_MAX_GROUPS) {
		r = fgetgrent_r(f, &grbuf, line, n, &gr);
		if (r == ERANGE && n < USERS_LINE_MAX) {
			char *bigger = realloc(line, n * 2);
			if (!bigger)
				break;
			line = bigger;
			n *= 2;
			continue;
		}
		if (r != 0)
			break;
		bool member = false, dup = false;
		for (char **m = gr->gr_mem; m && *m; m++)
			if (strcmp(*m, u->name) == 0)
				member = true;
		for (size_t i = 0; i < u->n_groups; i++)
			if (u->groups[i] == gr->gr_gid)
				dup = true;
		if (member && !dup)
			u->groups[u->n_groups++] = gr->gr_gid;
	}
	free(line);
	fclose(f);
}

int users_lookup(const struct users_db *db, const char *name, struct user_info *ret)
{
	struct user_info u = {0};
	struct passwd pwbuf, *pw;
	bool found = false;
	size_t n = 16384;
	char *line;
	FILE *f;
	int r;

	if (!name || !*name)
		return -ENOENT;
	f = fopen(db->passwd_path ? db->passwd_path : "/etc/passwd", "re");
	if (!f)
		return -errno;
	line = malloc(n);
	while (line) {
		r = fgetpwent_r(f, &pwbuf, line, n, &pw);
		if (r == ERANGE && n < USERS_LINE_MAX) {
			char *bigger = realloc(line, n * 2);
			if (!bigger)
				break;
			line = bigger;
			n *= 2;
			continue;
		}
		if (r != 0)
			break;
		if (strcmp(pw->pw_name, name) != 0)
			continue;
		if (copy_str(u.name, sizeof(u.name), pw->pw_name) < 0 ||
		    copy_str(u.home, sizeof(u.home), pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/") <
		        0 ||
		    copy_str(u.shell, sizeof(u.shell),
		             pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh") < 0)
			break;
		u.uid = pw->pw_uid;
		u.gid = pw->pw_gid;
		found = true;
		break;
	}
	free(line);
	fclose(f);
	if (!found)
		return -ENOENT;
	u.groups[0] = u.gid;
	u.n_groups = 1;
	add_supplementary_groups(db, &u);
	*ret = u;
	return 0;
}

int users_from_basic_auth(const char *header, char *out, size_t n)
{
	struct buf b = BUF_INIT;
	const char *colon;
	size_t l;
	int r;

	if (!header || strncasecmp(header, "Basic ", 6) != 0)
		return -EINVAL;
	header += 6;
	while (*header == ' ')
		header++;
	if (strlen(header) > 1024)
		return -EINVAL;
	r = b64_decode_buf(&b, header, strlen(header));
	if (r < 0 || !b.data) {
		buf_release(&b);
		return -EINVAL;
	}
	colon = memchr(b.data, ':', b.len);
	l = colon ? (size_t)(colon - b.data) : b.len;
	if (l == 0 || l >= n || memchr(b.data, '\0', l)) {
		buf_release(&b);
		return -EINVAL;
	}
	memcpy(out, b.data, l);
	out[l] = '\0';
	buf_release(&b);
	return 0;
}
