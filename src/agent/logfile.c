/* SPDX-License-Identifier: Apache-2.0 */
#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool log_enabled;

/* Opens the file and puts it on fds 1 and 2. Locked. */
static int reopen_locked(void)
{
	struct stat st;
	int fd, r = 0;

	/* Non-blocking and no link followed: whatever is at that path was made inside. */
	fd = open(LOG_AGENT_FILE,
	          O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
	          0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		r = -EINVAL;
	else if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		r = -errno;
	close(fd);
	return r;
}

int agent_log_open(void)
{
	int r;

	pthread_mutex_lock(&log_lock);
	r = reopen_locked();
	log_enabled = r == 0;
	pthread_mutex_unlock(&log_lock);
	return r;
}

int agent_log_rotate(void)
{
	char old[sizeof(LOG_AGENT_FILE) + 2];
	struct stat st;
	int r = 0;

	pthread_mutex_lock(&log_lock);
	if (!log_enabled || fstat(STDERR_FILENO, &st) < 0 || st.st_size < LOG_AGENT_FILE_MAX)
		goto out;
	snprintf(old, sizeof(old), "%s.1", LOG_AGENT_FILE);
	if (rename(LOG_AGENT_FILE, old) < 0)
		r = -errno;
	/* Reopened even when the rename failed: a replaced file is left behind this way. */
	if (reopen_locked() < 0 && r == 0)
		r = -EIO;
out:
	pthread_mutex_unlock(&log_lock);
	return r;
}

void agent_log_argv(char *const *argv, char *out, size_t size)
{
	size_t n = 0, room = size - 4; /* "..." and the NUL */
	bool cut = false;

	for (size_t i = 0; argv && argv[i] && !cut; i++) {
		if (i > 0) {
			if (n < room)
				out[n++] = ' ';
			else
				cut = true;
		}
		for (const unsigned char *p = (const unsigned char *)argv[i]; *p && !cut; p++) {
			if (n < room)
				out[n++] = *p >= 0x20 && *p <= 0x7e ? (char)*p : '?';
			else
				cut = true;
		}
	}
	if (cut) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}
