/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_COMMON_LOG_H
#define WARREN_COMMON_LOG_H

/*
 * One line per event on stderr: "<time> <prog> <level> [<sandbox>] message".
 * Libraries log at debug only; programs log where they handle an error.
 * Thread-safe (one write(2) per line).
 */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the program name and the lowest level printed (WARREN_LOG=debug also enables debug). */
void log_setup(const char *prog, enum log_level min);

void log_msg(enum log_level lvl, const char *sandbox_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)
#define log_sbx(lvl, id, ...) log_msg(lvl, id, __VA_ARGS__)

/*
 * Inside a sandbox the agent's stdout and stderr go to this file (its own,
 * on the sandbox's disk), rotated to LOG_AGENT_FILE ".1" past
 * LOG_AGENT_FILE_MAX bytes; warrend serves it as the sandbox's logs.
 */
#define LOG_AGENT_FILE "/var/log/warren-agent.log"
#define LOG_AGENT_FILE_MAX (1024u * 1024u)

#endif
