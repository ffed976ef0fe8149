/* SPDX-License-Identifier: Apache-2.0 */
#include "logs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"

#define NAME_MAX_LEN 64

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *logs_level_name(enum log_level l)
{
	return (unsigned)l < ARRAY_SIZE(level_names) ? level_names[l] : "info";
}

int logs_level_parse(const char *s, enum log_level *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* n decimal digits at p; -1 if any is not a digit. */
static int digits(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes) to unix ms. */
static int parse_time(const char *p, int64_t *ret)
{
	int y = digits(p, 4), mo = digits(p + 5, 2), d = digits(p + 8, 2), h = digits(p + 11, 2);
	int mi = digits(p + 14, 2), s = digits(p + 17, 2), ms = digits(p + 20, 3);
	struct tm tm = {0};
	time_t t;

	if (p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' || p[16] != ':' ||
	    p[19] != '.' || p[23] != 'Z')
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || s < 0 || s > 60 || ms < 0)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret = (int64_t)t * 1000 + ms;
	return 0;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* Length of a [A-Za-z0-9._-]{1,NAME_MAX_LEN} token at p (before end), 0 if none. */
static size_t name_len(const char *p, const char *end)
{
	size_t n = 0;

	while (p + n < end && n <= NAME_MAX_LEN && is_name_char(p[n]))
		n++;
	return n > NAME_MAX_LEN ? 0 : n;
}

int logs_parse_line(const char *line, size_t len, struct logs_entry *ret)
{
	const char *p = line, *end = line + len;
	struct logs_entry e = {0};
	size_t n;
	bool found = false;

	if (len < 25 || parse_time(p, &e.ts_ms) < 0 || p[24] != ' ')
		return -EINVAL;
	p += 25;
	n = name_len(p, end);
	if (n == 0 || p + n >= end || p[n] != ' ')
		return -EINVAL;
	e.logger = p;
	e.logger_len = n;
	p += n + 1;
	for (size_t i = 0; i < ARRAY_SIZE(level_names) && !found; i++) {
		size_t l = strlen(level_names[i]);
		if ((size_t)(end - p) >= l && memcmp(p, level_names[i], l) == 0 &&
		    (p + l == end || p[l] == ' ')) {
			e.level = (enum log_level)i;
			p += l;
			found = true;
		}
	}
	if (!found)
		return -EINVAL;
	if (p < end)
		p++; /* the space */
	/* An optional "[<sandbox id>] " that common/log.c puts before the message. */
	if (p < end && *p == '[') {
		n = name_len(p + 1, end);
		if (n > 0 && p + 1 + n + 1 < end && p[1 + n] == ']' && p[2 + n] == ' ')
			p += n + 3;
	}
	e.message = p;
	e.message_len = (size_t)(end - p);
	*ret = e;
	return 0;
}

int logs_set_parse(char *text, size_t len, struct logs_set *set)
{
	size_t cap = 0;

	memset(set, 0, sizeof(*set));
	set->text = text;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - (text + i)) : len - i;
		struct logs_entry e;

		if (logs_parse_line(text + i, l, &e) == 0) {
			if (set->n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct logs_entry *nv = realloc(set->v, ncap * sizeof(*nv));
				if (!nv) {
					logs_set_release(set);
					return -ENOMEM;
				}
				set->v = nv;
				cap = ncap;
			}
			set->v[set->n++] = e;
		}
		i += l + 1;
	}
	return 0;
}

void logs_set_release(struct logs_set *set)
{
	free(set->text);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

/*
 * Appends the last `max` bytes of the regular file rel (below root_fd, no link
 * followed) to b, starting at a line start. An absent file adds nothing.
 */
static int read_tail(int root_fd, const char *rel, size_t max, struct buf *b)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
	    .resolve =
	        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	struct stat st;
	size_t start_len = b->len, want;
	off_t off = 0;
	int fd, r = 0;

	fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
	if (fd < 0)
		return errno == ENOENT || errno == ELOOP || errno == EXDEV ? 0 : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	want = (size_t)st.st_size < max ? (size_t)st.st_size : max;
	if (want == 0)
		goto out;
	if ((size_t)st.st_size > max)
		off = st.st_size - (off_t)max;
	r = buf_reserve(b, want);
	if (r < 0)
		goto out;
	while (b->len - start_len < want) {
		ssize_t n = pread(fd, b->data + b->len, want - (b->len - start_len), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* truncated meanwhile, or unreadable: what we have */
		b->len += (size_t)n;
		off += n;
	}
	b->data[b->len] = '\0';
	/* Started in the middle of a line: drop that part. */
	if (r == 0 && (size_t)st.st_size > max) {
		char *nl = memchr(b->data + start_len, '\n', b->len - start_len);
		size_t cut = nl ? (size_t)(nl + 1 - (b->data + start_len)) : b->len - start_len;
		memmove(b->data + start_len, b->data + start_len + cut, b->len - start_len - cut);
		b->len -= cut;
		b->data[b->len] = '\0';
	}
	/* A file that does not end with a newline must not glue its last line to the next. */
	if (r == 0 && b->len > start_len && b->data[b->len - 1] != '\n')
		r = buf_append(b, "\n", 1);
out:
	close(fd);
	return r;
}

int logs_upper_open(const char *state_dir, const char *id)
{
	static const char *const subs[] = {"disk/upper", "upper"};
	char path[4096];

	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		int n = snprintf(path, sizeof(path), "%s/sandboxes/%s/%s", state_dir, id, subs[i]);
		if (n < 0 || (size_t)n >= sizeof(path))
			return -ENAMETOOLONG;
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			return fd >= 0 ? fd : -errno;
	}
	return -ENOENT;
}

int logs_read(const char *state_dir, const char *id, struct logs_set *ret)
{
	struct buf b = BUF_INIT;
	const char *rel = &LOG_AGENT_FILE[1]; /* relative to the sandbox's root */
	char rel1[128];
	int r, root_fd;

	snprintf(rel1, sizeof(rel1), "%s.1", rel);
	root_fd = logs_upper_open(state_dir, id);
	if (root_fd < 0) {
		r = root_fd == -ENOENT ? 0 : root_fd;
		goto out;
	}
	r = read_tail(root_fd, rel1, LOGS_READ_MAX / 2, &b);
	if (r == 0)
		r = read_tail(root_fd, rel, LOGS_READ_MAX / 2, &b);
	close(root_fd);
out:
	if (r < 0) {
		buf_release(&b);
		return r;
	}
	size_t len = b.len;
	char *text = buf_detach(&b);
	if (!text)
		return -ENOMEM;
	return logs_set_parse(text, len, ret);
}

static bool entry_matches(const struct logs_entry *e, const struct logs_query *q)
{
	if (e->level < q->min_level)
		return false;
	if (q->cursor_ms >= 0 && (q->backward ? e->ts_ms > q->cursor_ms : e->ts_ms < q->cursor_ms))
		return false;
	if (q->search && *q->search) {
		size_t sl = strlen(q->search);
		if (sl > e->message_len || !memmem(e->message, e->message_len, q->search, sl))
			return false;
	}
	return true;
}

size_t logs_select(const struct logs_set *set, const struct logs_query *q, size_t *idx)
{
	size_t n = 0;

	/* The file is in time order (one writer); a sandbox could write it out of order, which
	 * only reorders its own answer. */
	for (size_t k = 0; k < set->n && n < q->limit; k++) {
		size_t i = q->backward ? set->n - 1 - k : k;
		if (entry_matches(&set->v[i], q))
			idx[n++] = i;
	}
	return n;
}
