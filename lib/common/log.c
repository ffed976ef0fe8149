/* SPDX-License-Identifier: Apache-2.0 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Process-wide logging settings: set once by main before threads start. */
static const char *log_prog = "warren";
static enum log_level log_min = LOG_INFO;

void log_setup(const char *prog, enum log_level min)
{
	const char *env = getenv("WARREN_LOG");

	log_prog = prog;
	log_min = min;
	if (env && strcmp(env, "debug") == 0)
		log_min = LOG_DEBUG;
}

void log_msg(enum log_level lvl, const char *sandbox_id, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	if (lvl < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s ", ts.tv_nsec / 1000000, log_prog,
	              names[lvl]);
	if (sandbox_id && n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, "[%s] ", sandbox_id);
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}
