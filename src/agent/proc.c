/* SPDX-License-Identifier: Apache-2.0 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "connect.h"
#include "event.h"
#include "logfile.h"

struct sub_msg {
	struct sub_msg *next;
	size_t len;
	char data[];
};

struct proc;

struct proc_sub {
	struct proc_table *t;
	struct proc *p;
	struct proc_sub *next; /* in p->subs while attached */
	pthread_cond_t cond;
	struct sub_msg *head, *tail;
	size_t queued;
	bool attached;
	bool ended;    /* the end event is the last queued message */
	bool overflow; /* cut off: fell more than PROC_SUB_QUEUE_MAX behind */
};

struct proc {
	struct proc *next; /* in t->procs while in_table */
	struct proc_table *t;
	pid_t pid;
	int refs;
	uint64_t seq;
	bool in_table;
	bool started;  /* exec succeeded; events flow */
	bool exited;   /* wait status known */
	bool finished; /* pipes drained and end event sent */
	int wait_status;
	char *end_json;
	size_t end_len;
	char *tag;
	char *config_json;
	int64_t deadline_us;
	bool killed_deadline;
	bool aborted; /* the spawn failed: the pump thread just exits */
	bool is_pty;  /* out_fd is the terminal's master; stdin_fd a duplicate of it */
	bool paused;  /* the pump waits for a slow subscriber (flow control) */
	/* The pump waits on it for start, exit, and a slow subscriber to drain. */
	pthread_cond_t exit_cond;
	struct proc_sub *subs;

	/* Owned by the pump thread. */
	int out_fd, err_fd;

	/* stdin_lock (never taken with t->lock held) guards stdin_fd. */
	pthread_mutex_t stdin_lock;
	int stdin_fd;
};

struct proc_table {
	pthread_mutex_t lock;
	pthread_cond_t pumps_cond;
	struct proc *procs;
	size_t n_live; /* not finished */
	size_t n_finished;
	size_t n_pumps;
	size_t n_subs;
	uint64_t next_seq;
	bool closing;
};

static void cond_init_mono(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static struct timespec mono_ts(int64_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
	return ts;
}

int proc_table_new(struct proc_table **ret)
{
	struct proc_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	cond_init_mono(&t->pumps_cond);
	*ret = t;
	return 0;
}

/* Called with t->lock held. */
static void proc_unref_locked(struct proc *p)
{
	if (!p || --p->refs > 0)
		return;
	if (p->stdin_fd >= 0)
		close(p->stdin_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	free(p->end_json);
	free(p->tag);
	free(p->config_json);
	pthread_cond_destroy(&p->exit_cond);
	pthread_mutex_destroy(&p->stdin_lock);
	free(p);
}

static void table_unlink_locked(struct proc_table *t, struct proc *p)
{
	for (struct proc **pp = &t->procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->in_table = false;
			if (p->finished)
				t->n_finished--;
			else
				t->n_live--;
			proc_unref_locked(p);
			return;
		}
	}
}

static struct proc *table_find_locked(struct proc_table *t, pid_t pid)
{
	for (struct proc *p = t->procs; p; p = p->next)
		if (p->pid == pid && p->started)
			return p;
	return NULL;
}

void proc_table_shutdown(struct proc_table *t)
{
	struct timespec ts;
	int64_t limit;

	pthread_mutex_lock(&t->lock);
	t->closing = true;
	for (struct proc *p = t->procs; p; p = p->next) {
		if (p->started && !p->finished)
			kill(-p->pid, SIGKILL);
		pthread_cond_broadcast(&p->exit_cond); /* paused pumps now drain */
	}
	/*
	 * Pumps finish once the killed processes are reaped and their pipes
	 * drained; a pipe held open by an escaped grandchild would block that
	 * forever, so give up after a while.
	 */
	limit = now_mono_us() + 3 * 1000000;
	while (t->n_pumps > 0 && now_mono_us() < limit) {
		pthread_mutex_unlock(&t->lock);
		proc_table_reap(t);
		pthread_mutex_lock(&t->lock);
		if (t->n_pumps == 0)
			break;
		ts = mono_ts(now_mono_us() + 50000);
		pthread_cond_timedwait(&t->pumps_cond, &t->lock, &ts);
	}
	pthread_mutex_unlock(&t->lock);
}

void proc_table_free(struct proc_table *t)
{
	if (!t)
		return;
	proc_table_shutdown(t);
	pthread_mutex_lock(&t->lock);
	if (t->n_pumps > 0 || t->n_subs > 0) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	while (t->procs)
		table_unlink_locked(t, t->procs);
	pthread_mutex_unlock(&t->lock);
	pthread_cond_destroy(&t->pumps_cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Queues a copy of json for s, or cuts s off when its queue is full. t->lock held. */
static void sub_push_locked(struct proc_sub *s, const char *json, size_t len)
{
	struct sub_msg *m;

	if (s->overflow || s->ended)
		return;
	if (s->queued + len > PROC_SUB_QUEUE_MAX || !(m = malloc(sizeof(*m) + len + 1))) {
		s->overflow = true;
		pthread_cond_signal(&s->cond);
		return;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->data, json, len);
	m->data[len] = '\0';
	if (s->tail)
		s->tail->next = m;
	else
		s->head = m;
	s->tail = m;
	s->queued += len;
	pthread_cond_signal(&s->cond);
}

static void broadcast_locked(struct proc *p, const char *json, size_t len)
{
	for (struct proc_sub *s = p->subs; s; s = s->next)
		sub_push_locked(s, json, len);
}

static struct proc_sub *sub_new_locked(struct proc *p)
{
	struct proc_sub *s = calloc(1, sizeof(*s));
	struct buf b = BUF_INIT;

	if (!s)
		return NULL;
	if (event_start_json(&b, (uint32_t)p->pid) < 0) {
		free(s);
		return NULL;
	}
	s->t = p->t;
	s->p = p;
	p->refs++;
	p->t->n_subs++;
	cond_init_mono(&s->cond);
	sub_push_locked(s, b.data, b.len);
	buf_release(&b);
	if (s->overflow) {
		/* Out of memory for the start event: give up on this subscriber. */
		pthread_cond_destroy(&s->cond);
		proc_unref_locked(p);
		p->t->n_subs--;
		free(s);
		return NULL;
	}
	if (p->finished) {
		sub_push_locked(s, p->end_json, p->end_len);
		s->ended = true;
	} else {
		s->next = p->subs;
		p->subs = s;
		s->attached = true;
	}
	return s;
}

static void sub_detach_locked(struct proc_sub *s)
{
	if (!s->attached)
		return;
	for (struct proc_sub **pp = &s->p->subs; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	s->attached = false;
	/* A paused pump may have waited for this subscriber. */
	if (s->p->paused)
		pthread_cond_broadcast(&s->p->exit_cond);
}

/* Evicts the oldest finished records beyond the retention limit. t->lock held. */
static void evict_locked(struct proc_table *t)
{
	while (t->n_finished > PROC_RETAINED_EXITED) {
		struct proc *oldest = NULL;
		for (struct proc *p = t->procs; p; p = p->next)
			if (p->finished && (!oldest || p->seq < oldest->seq))
				oldest = p;
		if (!oldest)
			break;
		table_unlink_locked(t, oldest);
	}
}

/* Kills the process group once the lifetime deadline has passed. t->lock held. */
static void check_deadline_locked(struct proc *p)
{
	if (p->deadline_us && !p->killed_deadline && !p->exited &&
	    now_mono_us() >= p->deadline_us) {
		p->killed_deadline = true;
		kill(-p->pid, SIGKILL);
	}
}

/*
 * Flow control: true while an attached subscriber is at its high-water mark.
 * A closing table drains everything so that shutdown completes. t->lock held.
 */
static bool pump_must_pause_locked(struct proc *p)
{
	if (p->t->closing)
		return false;
	for (struct proc_sub *s = p->subs; s; s = s->next)
		if (s->queued >= PROC_SUB_HIGH_WATER)
			return true;
	return false;
}

/* Waits while the pump must pause, still enforcing the deadline. t->lock held. */
static void pump_wait_drain_locked(struct proc *p)
{
	struct timespec ts;

	for (;;) {
		check_deadline_locked(p);
		if (!pump_must_pause_locked(p))
			break;
		p->paused = true;
		if (p->deadline_us && !p->killed_deadline) {
			ts = mono_ts(p->deadline_us);
			pthread_cond_timedwait(&p->exit_cond, &p->t->lock, &ts);
		} else {
			pthread_cond_wait(&p->exit_cond, &p->t->lock);
		}
	}
	p->paused = false;
}

static void pump_read(struct proc *p, int *fd, enum event_output which, char *chunk)
{
	struct buf b = BUF_INIT;
	ssize_t n;

	size_t max = which == EVENT_PTY ? EVENT_PTY_DATA_MAX : EVENT_DATA_MAX;

	/* A terminal master reads EIO once the last slave fd is closed: that is its end. */
	n = read(*fd, chunk, max);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return;
	}
	/*
	 * A terminal hands out at most 4 KiB per read: take what is already there
	 * (the master is non-blocking) so that a busy terminal makes few large
	 * events; an idle one still sends every byte at once. An error or the end
	 * shows again on the next poll.
	 */
	while (which == EVENT_PTY && (size_t)n < max) {
		ssize_t more = read(*fd, chunk + n, max - (size_t)n);
		if (more <= 0)
			break;
		n += more;
	}
	/* Output is dropped (but always read) when encoding fails or nobody listens. */
	pthread_mutex_lock(&p->t->lock);
	if (p->subs && event_data_json(&b, which, chunk, (size_t)n) >= 0)
		broadcast_locked(p, b.data, b.len);
	pthread_mutex_unlock(&p->t->lock);
	buf_release(&b);
}

static void *pump_main(void *arg)
{
	struct proc *p = arg;
	struct proc_table *t = p->t;
	struct buf end = BUF_INIT;
	char chunk[EVENT_DATA_MAX];
	struct timespec ts;
	int stdin_fd;

	pthread_mutex_lock(&t->lock);
	while (!p->started && !p->aborted)
		pthread_cond_wait(&p->exit_cond, &t->lock);
	if (p->aborted) {
		proc_unref_locked(p);
		t->n_pumps--;
		pthread_cond_broadcast(&t->pumps_cond);
		pthread_mutex_unlock(&t->lock);
		return NULL;
	}
	pthread_mutex_unlock(&t->lock);

	while (p->out_fd >= 0 || p->err_fd >= 0) {
		struct pollfd pfd[2];
		int n = 0, timeout = -1, out_i = -1, err_i = -1;

		pthread_mutex_lock(&t->lock);
		pump_wait_drain_locked(p);
		if (p->deadline_us && !p->killed_deadline) {
			int64_t ms = (p->deadline_us - now_mono_us() + 999) / 1000;
			timeout = ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
		}
		pthread_mutex_unlock(&t->lock);
		if (p->out_fd >= 0) {
			pfd[n] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
			out_i = n++;
		}
		if (p->err_fd >= 0) {
			pfd[n] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
			err_i = n++;
		}
		if (poll(pfd, (nfds_t)n, timeout) <= 0)
			continue;
		if (out_i >= 0 && pfd[out_i].revents)
			pump_read(p, &p->out_fd, p->is_pty ? EVENT_PTY : EVENT_STDOUT, chunk);
		if (err_i >= 0 && pfd[err_i].revents)
			pump_read(p, &p->err_fd, EVENT_STDERR, chunk);
	}
	pthread_mutex_lock(&t->lock);
	while (!p->exited) {
		check_deadline_locked(p);
		if (p->deadline_us && !p->killed_deadline) {
			ts = mono_ts(p->deadline_us);
			pthread_cond_timedwait(&p->exit_cond, &t->lock, &ts);
		} else {
			pthread_cond_wait(&p->exit_cond, &t->lock);
		}
	}
	/* One line per process end in the sandbox's log (docs/OBSERVABILITY.md). */
	if (WIFSIGNALED(p->wait_status))
		log_info("process %d ended: killed by signal %d", (int)p->pid,
		         WTERMSIG(p->wait_status));
	else
		log_info("process %d ended: exit code %d", (int)p->pid,
		         WEXITSTATUS(p->wait_status));
	/* Without memory for the end event, subscribers still see the stream end. */
	if (event_end_json(&end, p->wait_status) >= 0) {
		p->end_len = end.len;
		p->end_json = buf_detach(&end);
	}
	buf_release(&end);
	for (struct proc_sub *s = p->subs; s; s = s->next) {
		if (p->end_json)
			sub_push_locked(s, p->end_json, p->end_len);
		s->ended = true;
		s->attached = false;
		pthread_cond_signal(&s->cond);
	}
	p->subs = NULL;
	p->finished = true;
	if (p->in_table) {
		t->n_live--;
		t->n_finished++;
		evict_locked(t);
	}
	pthread_mutex_unlock(&t->lock);

	pthread_mutex_lock(&p->stdin_lock);
	stdin_fd = p->stdin_fd;
	p->stdin_fd = -1;
	pthread_mutex_unlock(&p->stdin_lock);
	if (stdin_fd >= 0)
		close(stdin_fd);

	pthread_mutex_lock(&t->lock);
	proc_unref_locked(p);
	t->n_pumps--;
	pthread_cond_broadcast(&t->pumps_cond);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

void proc_table_reap(struct proc_table *t)
{
	pid_t pid;
	int status;

	pthread_mutex_lock(&t->lock);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (struct proc *p = t->procs; p; p = p->next) {
			if (p->pid == pid && !p->exited) {
				p->exited = true;
				p->wait_status = status;
				pthread_cond_broadcast(&p->exit_cond);
				break;
			}
		}
	}
	pthread_mutex_unlock(&t->lock);
}

/* What the child reports through the error pipe before _exit(127). */
struct child_failure {
	int stage;
	int err;
};

enum { STAGE_SETUP = 1, STAGE_USER, STAGE_CWD, STAGE_EXEC };

static void child_fail(int fd, int stage)
{
	struct child_failure f = {stage, errno};

	(void)!write(fd, &f, sizeof(f));
	_exit(127);
}

/* In the forked child: only async-signal-safe calls from here to execve. */
__attribute__((noreturn)) static void child_run(const struct proc_spec *spec, int in_fd, int out_fd,
                                                int err_fd, int report_fd)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (setsid() < 0)
		child_fail(report_fd, STAGE_SETUP);
	/* When a sandbox hits its memory limit, the OOM killer must pick what the agent
	 * runs, never the agent: everything it starts is the first choice (1000). Raising
	 * the value needs no privilege, and nothing inside may lower it below the agent's
	 * (that needs CAP_SYS_RESOURCE). Outside a sandbox the file may be absent. */
	{
		int oom_fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (oom_fd >= 0) {
			(void)!write(oom_fd, "1000", 4);
			close(oom_fd);
		}
	}
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		child_fail(report_fd, STAGE_SETUP);
	/* A terminal becomes the controlling terminal of the new session. */
	if (spec->pty && ioctl(0, TIOCSCTTY, 0) < 0)
		child_fail(report_fd, STAGE_SETUP);
	if (spec->switch_user) {
		if (setgroups(spec->n_groups, spec->groups) < 0 || setgid(spec->gid) < 0 ||
		    setuid(spec->uid) < 0)
			child_fail(report_fd, STAGE_USER);
		if (getuid() != spec->uid || geteuid() != spec->uid || getgid() != spec->gid ||
		    getegid() != spec->gid) {
			errno = EPERM;
			child_fail(report_fd, STAGE_USER);
		}
		if (spec->uid != 0 && setuid(0) == 0) {
			errno = EPERM;
			child_fail(report_fd, STAGE_USER);
		}
	}
	if (chdir(spec->cwd) < 0)
		child_fail(report_fd, STAGE_CWD);
	/* Everything but 0-2 and the report pipe (close-on-exec) goes. */
	if (report_fd > 3)
		syscall(SYS_close_range, 3U, (unsigned)report_fd - 1, 0U);
	syscall(SYS_close_range, (unsigned)report_fd + 1, ~0U, 0U);
	execve(spec->path, spec->argv, spec->envp);
	child_fail(report_fd, STAGE_EXEC);
	_exit(127);
}

static int spawn_error(struct rpc_error *e, const struct proc_spec *spec,
                       const struct child_failure *f)
{
	switch (f->stage) {
	case STAGE_USER:
		rpc_fail(e, "permission_denied", "error switching to uid %u: %s",
		         (unsigned)spec->uid, strerror(f->err));
		break;
	case STAGE_CWD:
		rpc_fail(e, "invalid_argument", "cwd '%s': %s", spec->cwd, strerror(f->err));
		break;
	case STAGE_EXEC:
		rpc_fail(e, "invalid_argument", "error starting process: fork/exec %s: %s",
		         spec->path, strerror(f->err));
		break;
	default:
		rpc_fail(e, "internal", "error starting process: %s", strerror(f->err));
	}
	return -f->err;
}

static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static struct proc *proc_alloc(struct proc_table *t, const struct proc_spec *spec)
{
	struct proc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->t = t;
	p->refs = 1;
	p->stdin_fd = p->out_fd = p->err_fd = -1;
	p->deadline_us = spec->deadline_us;
	p->is_pty = spec->pty;
	cond_init_mono(&p->exit_cond);
	pthread_mutex_init(&p->stdin_lock, NULL);
	p->tag = spec->tag ? strdup(spec->tag) : NULL;
	p->config_json = strdup(spec->config_json ? spec->config_json : "{}");
	if ((spec->tag && !p->tag) || !p->config_json) {
		pthread_mutex_lock(&t->lock);
		proc_unref_locked(p);
		pthread_mutex_unlock(&t->lock);
		return NULL;
	}
	return p;
}

/* Opens a terminal pair sized cols x rows, its slave owned by the target user. */
static int open_pty(const struct proc_spec *spec, int *ret_master, int *ret_slave)
{
	struct winsize ws = {.ws_row = spec->rows ? spec->rows : 24,
	                     .ws_col = spec->cols ? spec->cols : 80};
	int master, slave, r;
	char name[64];

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return -errno;
	if (unlockpt(master) < 0 || ioctl(master, TIOCSWINSZ, &ws) < 0)
		goto fail;
	/* TIOCGPTPEER needs no path: it works whatever devpts is mounted where. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		if (ptsname_r(master, name, sizeof(name)) != 0)
			goto fail;
		slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (slave < 0)
			goto fail;
	}
	/* The user owns its terminal, as login does (failure only affects mesg/write). */
	if (spec->switch_user)
		(void)!fchown(slave, spec->uid, (gid_t)-1);
	*ret_master = master;
	*ret_slave = slave;
	return 0;
fail:
	r = -errno;
	close(master);
	return r;
}

int proc_spawn(struct proc_table *t, const struct proc_spec *spec, struct proc_sub **ret_sub,
               uint32_t *ret_pid, struct rpc_error *e)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, rep[2] = {-1, -1};
	struct child_failure f = {0};
	struct proc_sub *sub;
	struct proc *p, *old;
	pthread_attr_t attr;
	pthread_t th;
	ssize_t n;
	pid_t pid;
	int r;

	p = proc_alloc(t, spec);
	if (!p) {
		rpc_fail(e, "resource_exhausted", "out of memory");
		return -ENOMEM;
	}
	if (spec->pty) {
		/* in[0] is the slave (the child's 0-2), out[0] the master, in[1] a dup of it. */
		r = open_pty(spec, &out[0], &in[0]);
		if (r < 0) {
			rpc_fail(e, "internal", "error starting process: opening a pty: %s",
			         strerror(-r));
			goto out_fail;
		}
		/* Non-blocking master (and its duplicate): see pump_read and write_bounded. */
		in[1] = fcntl(out[0], F_DUPFD_CLOEXEC, 3);
		if (in[1] < 0 || fcntl(out[0], F_SETFL, O_RDWR | O_NONBLOCK) < 0 ||
		    pipe2(rep, O_CLOEXEC) < 0)
			goto out_errno;
	} else if (spec->stdin_pipe) {
		if (pipe2(in, O_CLOEXEC) < 0)
			goto out_errno;
	} else {
		in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in[0] < 0)
			goto out_errno;
	}
	if (!spec->pty &&
	    (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0))
		goto out_errno;

	pthread_mutex_lock(&t->lock);
	if (t->closing || t->n_live >= PROC_MAX_RUNNING) {
		pthread_mutex_unlock(&t->lock);
		r = -EAGAIN;
		rpc_fail(e, "resource_exhausted", "too many processes (limit %d)",
		         PROC_MAX_RUNNING);
		goto out_fail;
	}
	/*
	 * The pump thread exists before the fork, so that once the process
	 * runs nothing can fail that would leave its pipes undrained. It
	 * waits until the process has started (or the spawn is aborted).
	 */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	p->refs++;
	r = pthread_create(&th, &attr, pump_main, p);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		p->refs--;
		pthread_mutex_unlock(&t->lock);
		rpc_fail(e, "resource_exhausted", "cannot start output thread: %s", strerror(r));
		r = -r;
		goto out_fail;
	}
	t->n_pumps++;
	pid = fork();
	if (pid == 0) {
		if (spec->pty)
			child_run(spec, in[0], in[0], in[0], rep[1]);
		child_run(spec, in[0], out[1], err[1], rep[1]);
	}
	if (pid < 0) {
		r = -errno;
		p->aborted = true;
		pthread_cond_broadcast(&p->exit_cond);
		pthread_mutex_unlock(&t->lock);
		rpc_fail(e, "resource_exhausted", "error starting process: fork: %s", strerror(-r));
		goto out_fail;
	}
	/* A retained record of an earlier process with the same pid is stale now. */
	while ((old = table_find_locked(t, pid)))
		table_unlink_locked(t, old);
	p->pid = pid;
	p->seq = t->next_seq++;
	p->next = t->procs;
	t->procs = p;
	p->in_table = true;
	p->refs++; /* the table's */
	t->n_live++;
	pthread_mutex_unlock(&t->lock);

	close_pair((int[2]){TAKE_FD(in[0]), TAKE_FD(out[1])});
	close_pair((int[2]){TAKE_FD(err[1]), TAKE_FD(rep[1])});
	do
		n = read(rep[0], &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	close_pair(rep);

	pthread_mutex_lock(&t->lock);
	if (n != 0) {
		/* The child failed before exec (or the report is garbled): forget it. */
		if (n != (ssize_t)sizeof(f))
			f = (struct child_failure){STAGE_SETUP, EIO};
		if (p->in_table)
			table_unlink_locked(t, p);
		p->aborted = true;
		pthread_cond_broadcast(&p->exit_cond);
		pthread_mutex_unlock(&t->lock);
		r = spawn_error(e, spec, &f);
		goto out_fail;
	}
	p->started = true;
	p->stdin_fd = in[1];
	in[1] = -1;
	p->out_fd = out[0];
	out[0] = -1;
	p->err_fd = err[0];
	err[0] = -1;
	sub = sub_new_locked(p);
	pthread_cond_broadcast(&p->exit_cond);
	proc_unref_locked(p); /* the creator's */
	pthread_mutex_unlock(&t->lock);
	{
		char cmd[512];
		agent_log_argv(spec->argv, cmd, sizeof(cmd));
		log_info("process %d started (uid %u%s): %s", (int)pid,
		         spec->switch_user ? (unsigned)spec->uid : (unsigned)getuid(),
		         spec->pty ? ", pty" : "", cmd);
		(void)agent_log_rotate();
	}
	if (!sub) {
		rpc_fail(e, "resource_exhausted", "out of memory");
		return -ENOMEM;
	}
	*ret_sub = sub;
	*ret_pid = (uint32_t)pid;
	return 0;

out_errno:
	r = -errno;
	rpc_fail(e, "internal", "error starting process: %s", strerror(errno));
out_fail:
	close_pair(in);
	close_pair(out);
	close_pair(err);
	close_pair(rep);
	pthread_mutex_lock(&t->lock);
	proc_unref_locked(p);
	pthread_mutex_unlock(&t->lock);
	return r;
}

static struct proc *find_selector_locked(struct proc_table *t, uint32_t pid, const char *tag)
{
	struct proc *found = NULL;

	if (!tag)
		return table_find_locked(t, (pid_t)pid);
	/* Prefer a running process with the tag, else the newest retained one. */
	for (struct proc *p = t->procs; p; p = p->next) {
		if (!p->started || !p->tag || strcmp(p->tag, tag) != 0)
			continue;
		if (!p->finished)
			return p;
		if (!found || p->seq > found->seq)
			found = p;
	}
	return found;
}

int proc_subscribe(struct proc_table *t, uint32_t pid, const char *tag, struct proc_sub **ret)
{
	struct proc_sub *s;
	struct proc *p;

	pthread_mutex_lock(&t->lock);
	p = find_selector_locked(t, pid, tag);
	if (!p) {
		pthread_mutex_unlock(&t->lock);
		return -ENOENT;
	}
	s = sub_new_locked(p);
	pthread_mutex_unlock(&t->lock);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int proc_resolve(struct proc_table *t, uint32_t pid, const char *tag, uint32_t *ret_pid)
{
	struct proc *p;
	int r = -ENOENT;

	pthread_mutex_lock(&t->lock);
	p = find_selector_locked(t, pid, tag);
	if (p) {
		*ret_pid = (uint32_t)p->pid;
		r = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int proc_sub_next(struct proc_sub *s, int64_t deadline_us, char **ret_json, size_t *ret_len)
{
	struct proc_table *t = s->t;
	struct sub_msg *m;
	struct timespec ts;
	char *copy;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	while (!s->head && !s->ended && !s->overflow) {
		if (deadline_us) {
			if (now_mono_us() >= deadline_us) {
				pthread_mutex_unlock(&t->lock);
				return -ETIMEDOUT;
			}
			ts = mono_ts(deadline_us);
			pthread_cond_timedwait(&s->cond, &t->lock, &ts);
		} else {
			pthread_cond_wait(&s->cond, &t->lock);
		}
	}
	if (s->overflow) {
		r = -ENOBUFS;
	} else if ((m = s->head)) {
		size_t len = m->len;
		s->head = m->next;
		if (!s->head)
			s->tail = NULL;
		s->queued -= len;
		/* Below half the mark again: a pump paused for this subscriber goes on. */
		if (s->attached && s->p->paused && s->queued < PROC_SUB_HIGH_WATER / 2 &&
		    s->queued + len >= PROC_SUB_HIGH_WATER / 2)
			pthread_cond_broadcast(&s->p->exit_cond);
		/* The message block is handed out as a string: move its bytes down. */
		copy = (char *)m;
		memmove(copy, m->data, len + 1);
		*ret_json = copy;
		*ret_len = len;
		r = 1;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

uint32_t proc_sub_pid(const struct proc_sub *s)
{
	return (uint32_t)s->p->pid;
}

size_t proc_sub_queued(const struct proc_sub *s)
{
	size_t n;

	pthread_mutex_lock(&s->t->lock);
	n = s->queued;
	pthread_mutex_unlock(&s->t->lock);
	return n;
}

void proc_sub_free(struct proc_sub *s)
{
	struct proc_table *t;

	if (!s)
		return;
	t = s->t;
	pthread_mutex_lock(&t->lock);
	sub_detach_locked(s);
	for (struct sub_msg *m = s->head, *next; m; m = next) {
		next = m->next;
		free(m);
	}
	proc_unref_locked(s->p);
	t->n_subs--;
	pthread_mutex_unlock(&t->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

int proc_signal(struct proc_table *t, uint32_t pid, int sig)
{
	struct proc *p;
	int r = -ENOENT;

	pthread_mutex_lock(&t->lock);
	p = table_find_locked(t, (pid_t)pid);
	if (p && !p->finished) {
		/*
		 * The group outlives its leader while members hold the pipes;
		 * its id cannot be reused while it has members, so signalling it
		 * until the record finishes is safe.
		 */
		if (kill(-p->pid, sig) < 0 && !p->exited)
			kill(p->pid, sig);
		r = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

/* Finds a live process and takes a reference. t->lock must not be held. */
static struct proc *get_live(struct proc_table *t, uint32_t pid)
{
	struct proc *p;

	pthread_mutex_lock(&t->lock);
	p = table_find_locked(t, (pid_t)pid);
	if (p && p->exited)
		p = NULL;
	if (p)
		p->refs++;
	pthread_mutex_unlock(&t->lock);
	return p;
}

static void put(struct proc_table *t, struct proc *p)
{
	pthread_mutex_lock(&t->lock);
	proc_unref_locked(p);
	pthread_mutex_unlock(&t->lock);
}

/* Writes everything, waiting at most 30 s for a process that does not read. */
static int write_bounded(int fd, const char *data, size_t len)
{
	int64_t limit = now_mono_us() + 30 * 1000000LL;

	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		int64_t left = limit - now_mono_us();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		poll(&pfd, 1, (int)(left / 1000) + 1);
	}
	return 0;
}

int proc_write_input(struct proc_table *t, uint32_t pid, bool pty, const void *data, size_t len)
{
	struct proc *p = get_live(t, pid);
	int r;

	if (!p)
		return -ENOENT;
	if (pty != p->is_pty) {
		put(t, p);
		return -ENOTTY;
	}
	pthread_mutex_lock(&p->stdin_lock);
	if (p->stdin_fd < 0) {
		r = -EPIPE;
	} else {
		int fl = fcntl(p->stdin_fd, F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(p->stdin_fd, F_SETFL, fl | O_NONBLOCK);
		r = write_bounded(p->stdin_fd, data, len);
	}
	pthread_mutex_unlock(&p->stdin_lock);
	put(t, p);
	return r;
}

int proc_close_stdin(struct proc_table *t, uint32_t pid)
{
	struct proc *p = get_live(t, pid);
	int fd;

	if (!p)
		return -ENOENT;
	if (p->is_pty) {
		put(t, p);
		return -ENOTTY;
	}
	pthread_mutex_lock(&p->stdin_lock);
	fd = p->stdin_fd;
	p->stdin_fd = -1;
	pthread_mutex_unlock(&p->stdin_lock);
	if (fd >= 0)
		close(fd);
	put(t, p);
	return 0;
}

int proc_resize(struct proc_table *t, uint32_t pid, uint16_t cols, uint16_t rows)
{
	struct winsize ws = {.ws_row = rows ? rows : 24, .ws_col = cols ? cols : 80};
	struct proc *p = get_live(t, pid);
	int r = 0;

	if (!p)
		return -ENOENT;
	if (!p->is_pty) {
		put(t, p);
		return -ENOTTY;
	}
	/* The kernel sends SIGWINCH to the terminal's foreground process group. */
	pthread_mutex_lock(&p->stdin_lock);
	if (p->stdin_fd < 0)
		r = -ENOENT;
	else if (ioctl(p->stdin_fd, TIOCSWINSZ, &ws) < 0)
		r = -errno;
	pthread_mutex_unlock(&p->stdin_lock);
	put(t, p);
	return r;
}

int proc_list_json(struct proc_table *t, struct buf *out)
{
	bool first = true;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	for (struct proc *p = t->procs; p && r >= 0; p = p->next) {
		if (!p->started || p->exited)
			continue;
		r = buf_printf(out, "%s{\"config\":%s,\"pid\":%d", first ? "" : ",", p->config_json,
		               (int)p->pid);
		if (r >= 0 && p->tag) {
			r = buf_puts(out, ",\"tag\":");
			if (r >= 0)
				r = json_quote(out, p->tag);
		}
		if (r >= 0)
			r = buf_puts(out, "}");
		first = false;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}
