/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AGENT_LOGFILE_H
#define AGENT_LOGFILE_H

#include <stddef.h>

/*
 * The agent's log file inside its sandbox (LOG_AGENT_FILE, common/log.h),
 * which warrend serves as the sandbox's logs (docs/OBSERVABILITY.md).
 *
 * agent_log_open points stdout and stderr (where common/log.c writes) at the
 * file, opened for appending; it is only called when the agent is pid 1 of a
 * sandbox. The file lives on the sandbox's own disk, so no host fd is open
 * inside and a checkpoint (CRIU) sees an ordinary file. A file that is not a
 * regular file (something inside replaced it) is not used: the output stays
 * where it was. agent_log_rotate renames the file to LOG_AGENT_FILE ".1" (the
 * previous .1 goes) once it is LOG_AGENT_FILE_MAX bytes or more, and reopens
 * it; it costs one fstat otherwise and does nothing before agent_log_open.
 * Both are thread-safe; they return 0 or -errno.
 */

int agent_log_open(void);
int agent_log_rotate(void);

/*
 * Writes argv as one printable line into out (size >= 8): arguments separated by
 * spaces, bytes outside 0x20..0x7e as '?', cut with "..." at size - 1. For log lines,
 * which must stay one line whatever a client sends.
 */
void agent_log_argv(char *const *argv, char *out, size_t size);

#endif
