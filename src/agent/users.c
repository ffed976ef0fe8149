/* SPDX-License-Identifier: Apache-2.0 */
#include "users.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

int users_file_open(const char *path, struct users_file *ret)
{
	struct stat st;
	size_t size, len = 0;
	int fd, saved;

	ret->f = NULL;
	ret->data = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		saved = errno;
	else
		saved = S_ISREG(st.st_mode) ? 0 : EINVAL; /* a FIFO planted there must not block */
	if (saved) {
		close(fd);
		return -saved;
	}
	size = st.st_size > USERS_FILE_MAX ? USERS_FILE_MAX : (size_t)st.st_size;
	ret->data = malloc(size + 1); /* fmemopen wants a non-empty buffer */
	if (!ret->data) {
		close(fd);
		return -ENOMEM;
	}
	while (len < size) {
		ssize_t k = read(fd, ret->data + len, size - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break; /* shrunk meanwhile: what was read */
		len += (size_t)k;
	}
	close(fd);
	ret->data[len] = '\0';
	ret->f = fmemopen(ret->data, len ? len : 1, "r");
	if (!ret->f) {
		saved = errno;
		free(ret->data);
		ret->data = NULL;
		return -saved;
	}
	return 0;
}

void users_file_close(struct users_file *uf)
{
	if (uf->f)
		fclose(uf->f);
	free(uf->data);
	uf->f = NULL;
	uf->data = NULL;
}

/* A line buffer for the reentrant readers: grown on ERANGE up to 1 MiB. */
#define USERS_LINE_MAX (1024 * 1024)

static void add_supplementary_groups(const struct users_db *db, struct user_info *u)
{
	struct group grbuf, *gr;
	struct users_file uf;
	size_t n = 16384;
	char *line;
	FILE *f;
	int r;

	if (users_file_open(db->group_path ? db->group_path : "/etc/group", &uf) < 0)
		return;
	f = uf.f;
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
	users_file_close(&uf);
}

int users_lookup(const struct users_db *db, const char *name, struct user_info *ret)
{
	struct user_info u = {0};
	struct passwd pwbuf, *pw;
	struct users_file uf;
	bool found = false;
	size_t n = 16384;
	char *line;
	FILE *f;
	int r;

	if (!name || !*name)
		return -ENOENT;
	r = users_file_open(db->passwd_path ? db->passwd_path : "/etc/passwd", &uf);
	if (r < 0)
		return r;
	f = uf.f;
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
	users_file_close(&uf);
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
