/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_AGENT_PROC_H
#define WARREN_AGENT_PROC_H

/*
 * The process table: spawns processes, pumps their output to subscribers,
 * and keeps a small retention cache of exited processes.
 *
 * Threads: every spawned process has one detached pump thread that reads its
 * output (pipes or terminal master) and enforces its lifetime deadline.
 * Flow control: while any attached subscriber has PROC_SUB_HIGH_WATER bytes
 * or more queued (its client reads slowly), the pump stops reading, so the
 * process blocks on its full pipe or terminal as under a real terminal; it
 * resumes once that subscriber drained below the mark or detached. With no
 * subscriber output is read and dropped, so a detached process never blocks. Exit statuses come
 * from the program's reaper via proc_table_reap(). One mutex guards the table.
 *
 * Messages delivered to subscribers are encoded Start/Connect responses
 * ({"event":{...}}, see event.h): the start event, data events, then the end
 * event once the process has exited AND its pipes are drained.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;
struct rpc_error;
struct proc_table;
struct proc_sub;

/* Everything needed to exec; all resolved by the caller. Borrowed by proc_spawn. */
struct proc_spec {
	const char *path;  /* absolute executable path */
	char *const *argv; /* NULL-terminated, argv[0] = cmd as requested */
	char *const *envp; /* NULL-terminated "K=V" */
	const char *cwd;   /* absolute, must exist */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
	bool switch_user; /* false: keep the agent's credentials */
	bool stdin_pipe;  /* false: stdin is /dev/null */
	bool pty;         /* a terminal (cols x rows) as 0-2 and controlling tty; output "pty" */
	uint16_t cols, rows;
	int64_t deadline_us;     /* CLOCK_MONOTONIC µs (now_mono_us) at which to kill; 0: none */
	const char *tag;         /* NULL: none; copied */
	const char *config_json; /* encoded ProcessConfig for List; copied */
};

/* Limits. */
#define PROC_MAX_RUNNING 1024
#define PROC_RETAINED_EXITED 64
/* Queued bytes (encoded messages) of one subscriber at which the pump pauses. */
#define PROC_SUB_HIGH_WATER (256u * 1024)
/* Hard cap (never reached with flow control: a safety net); beyond it a subscriber is cut off. */
#define PROC_SUB_QUEUE_MAX (16u * 1024 * 1024)

int proc_table_new(struct proc_table **ret);
/*
 * SIGKILLs every running process group and waits (at most 3 s) for their
 * records to finish, so that streams of them end. New spawns are refused.
 */
void proc_table_shutdown(struct proc_table *t);
/*
 * Shuts down and frees the table, unless a pump thread or a subscriber still
 * refers to it (then it is left allocated: only done at program exit).
 * NULL is fine.
 */
void proc_table_free(struct proc_table *t);

/*
 * Spawns a process and returns a subscriber that will receive its start event
 * first. On failure, fills e (invalid_argument for exec/chdir failures,
 * resource_exhausted for limits, internal otherwise) and returns -errno.
 */
int proc_spawn(struct proc_table *t, const struct proc_spec *spec, struct proc_sub **ret_sub,
               uint32_t *ret_pid, struct rpc_error *e);

/*
 * Subscribes to a process by pid (tag NULL) or by tag. A running process
 * yields its start event and then only new output; an exited one in the
 * retention cache yields start + end. -ENOENT when unknown.
 */
int proc_subscribe(struct proc_table *t, uint32_t pid, const char *tag, struct proc_sub **ret);

/*
 * Waits until a message is available or deadline_us (monotonic µs; 0 = no
 * limit) passes. Returns 1 with *ret_json (heap, caller frees) set, 0 when the
 * stream is complete (the end event has been returned before), -ETIMEDOUT, or
 * -ENOBUFS when this subscriber fell too far behind and was cut off.
 */
int proc_sub_next(struct proc_sub *s, int64_t deadline_us, char **ret_json, size_t *ret_len);
uint32_t proc_sub_pid(const struct proc_sub *s);
/* Bytes of encoded messages queued for s and not yet taken by proc_sub_next. */
size_t proc_sub_queued(const struct proc_sub *s);
/* Unsubscribes (the process keeps running). NULL is fine. */
void proc_sub_free(struct proc_sub *s);

/* Resolves a selector: pid, or tag when tag != NULL. 0 or -ENOENT. */
int proc_resolve(struct proc_table *t, uint32_t pid, const char *tag, uint32_t *ret_pid);

/*
 * Reaps every exited child (waitpid(-1, WNOHANG) until none is left) and
 * routes the statuses of tracked processes to their records; other children
 * (orphans reparented to pid 1) are just reaped. Call it on SIGCHLD. Reaping
 * under the table lock guarantees a pid is never signalled after reuse.
 */
void proc_table_reap(struct proc_table *t);

/* Sends sig to the process group of a running process. 0 or -ENOENT. */
int proc_signal(struct proc_table *t, uint32_t pid, int sig);

/*
 * Writes to the stdin pipe (pty false) or the terminal (pty true).
 * -ENOENT unknown pid; -EPIPE stdin was not requested or is closed (or the
 * process closed its end); -ENOTTY a pty write to a non-pty process or the
 * reverse.
 */
int proc_write_input(struct proc_table *t, uint32_t pid, bool pty, const void *data, size_t len);
/* Closes the stdin pipe. -ENOENT unknown, -ENOTTY for a pty process. Idempotent otherwise. */
int proc_close_stdin(struct proc_table *t, uint32_t pid);
/* Resizes the terminal. -ENOENT unknown, -ENOTTY not a pty process. */
int proc_resize(struct proc_table *t, uint32_t pid, uint16_t cols, uint16_t rows);

/*
 * Appends the JSON array elements of ListResponse.processes for the running
 * processes: {"config":<config_json>,"pid":N[,"tag":"..."]}, comma-separated.
 */
int proc_list_json(struct proc_table *t, struct buf *out);

#endif
