/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sandbox lifecycle: create (clone into new namespaces, maps, cgroups,
 * network, root file system, lockdown, exec of the agent), destroy, adopt.
 *
 * The order of rt_create, parent | child:
 *   dirs + upper layer, cgroup_create
 *   clone3(NEWUSER|NEWPID|NEWNS|NEWNET|NEWUTS|NEWIPC, PIDFD)  | blocks on the sync pipe
 *   uid_map/gid_map, cgroup_attach, net_attach,               |
 *   net_setup_inside (from a thread setns'd into its netns)   |
 *   release -------------------------------------------------> | setresgid/setgroups/setresuid 0
 *                                                              | unshare(NEWCGROUP), sethostname
 *                                                              | mnt_setup_root (mounts.c), stdio
 *                                                              | setsid, seccomp_lockdown
 *                                                              | close_range, execve(agent)
 *   wait for the ready byte, the error pipe, or the child's death (bounded)
 *
 * The child comes from a raw clone3 of a possibly multithreaded process, so
 * it only makes system calls: everything it needs (paths, options, the
 * seccomp program, argv/envp) is prepared by the parent, and id changes use
 * the raw system calls (glibc's wrappers would signal threads that do not
 * exist in the child). A failure in the child is sent to the parent as
 * {errno, step} on the error pipe, which closes on a successful execve.
 */
#include "runtime/rt_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "runtime/cgroup.h"
#include "runtime/disk.h"
#include "runtime/net.h"

#define DEFAULT_UID_BASE 1000000u
#define DEFAULT_READY_TIMEOUT_MS 5000
#define MAX_AGENT_ENV 512
#define DESTROY_WAIT_MS 5000
/* The ready fd's number in the agent. */
#define READY_FD 3

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

bool id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n < 1 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9')))
			return false;
	return true;
}

int sandbox_dir(const struct rt *rt, const char *id, const char *sub, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/sandboxes/%s%s%s", rt->state_dir, id, sub ? "/" : "",
	                 sub ? sub : "");
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int rt_new(const struct rt_config *cfg, struct rt **ret, struct warren_error *err)
{
	struct rt *rt;
	char path[4096];
	int r;

	if (!cfg || !cfg->state_dir || cfg->state_dir[0] != '/' || !cfg->agent_binary)
		return err_set(err, EINVAL,
		               "runtime: state_dir (absolute) and agent_binary needed");
	if (strlen(cfg->state_dir) > 1024)
		return err_set(err, ENAMETOOLONG, "runtime: state_dir too long");
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return err_set(err, ENOMEM, "out of memory");
	rt->state_dir = strdup(cfg->state_dir);
	rt->agent_binary = strdup(cfg->agent_binary);
	rt->uid_base = cfg->uid_base ? cfg->uid_base : DEFAULT_UID_BASE;
	rt->cgroups = cfg->cgroups;
	rt->net = cfg->net;
	rt->criu_dir = strdup(cfg->criu_dir ? cfg->criu_dir : RT_CRIU_DIR_DEFAULT);
	pthread_mutex_init(&rt->template_lock, NULL);
	if (!rt->state_dir || !rt->agent_binary || !rt->criu_dir) {
		r = err_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	/* Sandbox roots (host uid base+slot*65536) mount their overlay after their
	 * id change, so they must be able to traverse these (not list them). */
	static const char *const subs[] = {"", "/templates", "/sandboxes"};
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		snprintf(path, sizeof(path), "%s%s", rt->state_dir, subs[i]);
		r = mkdir_p(path, 0711);
		if (r >= 0 && chmod(path, 0711) < 0)
			r = -errno;
		if (r < 0) {
			err_set(err, -r, "creating %s: %s", path, strerror(-r));
			goto fail;
		}
	}
	r = seccomp_prog_build(&rt->seccomp, err);
	if (r < 0)
		goto fail;
	*ret = rt;
	return 0;
fail:
	rt_free(rt);
	return r;
}

void rt_free(struct rt *rt)
{
	if (!rt)
		return;
	seccomp_prog_free(&rt->seccomp);
	pthread_mutex_destroy(&rt->template_lock);
	free(rt->state_dir);
	free(rt->agent_binary);
	free(rt->criu_dir);
	free(rt);
}

/* ---- the setup child ---- */

struct child_args {
	const struct rt *rt;
	const char *id;
	struct mnt_plan plan;
	char *const *envp;
	int sync_r, err_w, ready_w;
};

struct child_report {
	int err; /* positive errno */
	char step[120];
};

static __attribute__((noreturn)) void child_fail(int err_w, int err, const char *step)
{
	struct child_report rep = {.err = err};
	size_t n = strlen(step);

	if (n >= sizeof(rep.step))
		n = sizeof(rep.step) - 1;
	memcpy(rep.step, step, n);
	/* One write of a small struct on a pipe is atomic; nothing to do if it fails. */
	if (write(err_w, &rep, sizeof(rep)) < 0) {
	}
	_exit(127);
}

/* Closes every descriptor from 0 up except the three given (async-signal-safe). */
static void close_all_but(int a, int b, int c)
{
	int keep[3] = {a, b, c};
	unsigned from = 0;

	/* Sort the three so the gaps between them can be closed with close_range. */
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (keep[j] < keep[i]) {
				int t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	for (int i = 0; i < 3; i++) {
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

static __attribute__((noreturn)) void child_main(const struct child_args *a)
{
	static char *const argv[] = {(char *)RT_AGENT_PATH, NULL};
	const char *step = "";
	int err_w = a->err_w, ready_w = a->ready_w;
	char c;
	sigset_t all;
	int r, fd;

	/* The parent's handlers make no sense here; the mask is restored at exec. */
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa = {.sa_handler = SIG_DFL};
		sigaction(sig, &sa, NULL);
	}
	int sync_r = a->sync_r;

	/* If warrend dies before releasing us, we die too: a setup child must never
	 * outlive it holding copies of its descriptors (its listening socket). The
	 * creating thread waits in rt_create until we exec, and the signal is reset
	 * before exec so the sandbox itself never depends on warrend. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(126);
	/* Keep the descriptors we still need away from 0-3. */
	if (err_w <= READY_FD)
		err_w = fcntl(err_w, F_DUPFD_CLOEXEC, READY_FD + 1);
	if (ready_w <= READY_FD)
		ready_w = fcntl(ready_w, F_DUPFD_CLOEXEC, READY_FD + 1);
	if (sync_r <= READY_FD)
		sync_r = fcntl(sync_r, F_DUPFD_CLOEXEC, READY_FD + 1);
	if (err_w < 0 || ready_w < 0 || sync_r < 0)
		_exit(126);
	/* Close every inherited descriptor of the daemon now, not at exec: among them
	 * is the sync pipe's write end, whose copy here would keep the read below
	 * from ever seeing the parent give up. */
	close_all_but(err_w, ready_w, sync_r);

	/* Wait until the parent wrote our maps and attached cgroups and network;
	 * end of file means it gave up. */
	while ((r = (int)read(sync_r, &c, 1)) < 0 && errno == EINTR)
		;
	if (r != 1)
		_exit(125);
	close(sync_r);

	if (syscall(SYS_setresgid, 0, 0, 0) < 0)
		child_fail(err_w, errno, "setresgid 0");
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		child_fail(err_w, errno, "setgroups");
	if (syscall(SYS_setresuid, 0, 0, 0) < 0)
		child_fail(err_w, errno, "setresuid 0");
	/* Attached to its cgroups already: they become the root of its view. */
	if (unshare(CLONE_NEWCGROUP) < 0)
		child_fail(err_w, errno, "unsharing the cgroup namespace");
	if (sethostname(a->id, strlen(a->id)) < 0)
		child_fail(err_w, errno, "sethostname");

	r = mnt_setup_root(&a->plan, &step);
	if (r < 0)
		child_fail(err_w, -r, step);

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		child_fail(err_w, errno, "opening /dev/null");
	for (int i = 0; i < 3; i++)
		if (dup2(fd, i) < 0)
			child_fail(err_w, errno, "redirecting stdio");
	if (fd > 2)
		close(fd);

	if (setsid() < 0)
		child_fail(err_w, errno, "setsid");
	r = seccomp_lockdown(&a->rt->seccomp, &step);
	if (r < 0)
		child_fail(err_w, -r, step);

	if (dup2(ready_w, READY_FD) < 0)
		child_fail(err_w, errno, "placing the ready fd");
	/* Every other descriptor (all of them the host's) closes at exec; the
	 * error pipe stays usable until then. */
	if (syscall(SYS_close_range, READY_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		child_fail(err_w, errno, "close_range");
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* From here on the sandbox lives on its own, whatever happens to warrend. */
	if (prctl(PR_SET_PDEATHSIG, 0) < 0)
		child_fail(err_w, errno, "clearing the parent-death signal");
	execve(RT_AGENT_PATH, argv, a->envp);
	child_fail(err_w, errno, "executing " RT_AGENT_PATH);
}

/* ---- the parent's side ---- */

static int write_map(pid_t pid, const char *which, uint32_t base)
{
	char path[64], line[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, which);
	snprintf(line, sizeof(line), "0 %u %u\n", base, RT_ID_RANGE);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, line, strlen(line));
	if (n < 0)
		return -errno;
	return (size_t)n == strlen(line) ? 0 : -EIO;
}

/* /proc/<pid>/stat field 22 (starttime, in clock ticks since boot). */
int read_start_time(pid_t pid, uint64_t *ret)
{
	char path[64];
	_cleanup_free_ char *data = NULL;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = read_file(path, 4096, &data, NULL);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	/* comm may contain anything, so count from its closing parenthesis (field 2). */
	char *p = strrchr(data, ')');
	if (!p)
		return -EINVAL;
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1)
		return -EINVAL;
	*ret = v;
	return 0;
}

struct netns_job {
	int pidfd;
	struct in_addr addr, gw;
	unsigned prefix;
	int result;
	const char *step;
};

/* A throwaway thread enters the sandbox's network namespace, so no thread of
 * the daemon ever has to switch back (and none can be left inside). */
static void *netns_thread(void *p)
{
	struct netns_job *job = p;

	if (setns(job->pidfd, CLONE_NEWNET) < 0) {
		job->result = -errno;
		job->step = "entering the network namespace";
		return NULL;
	}
	job->result = net_setup_inside(job->addr, job->prefix, job->gw);
	job->step = "configuring the network inside";
	return NULL;
}

int setup_net_inside(struct rt *rt, unsigned slot, int pidfd, struct in_addr addr,
                     struct warren_error *err)
{
	struct netns_job job = {.pidfd = pidfd, .addr = addr};
	pthread_t th;
	int r;

	net_gateway(rt->net, &job.gw, &job.prefix);
	r = pthread_create(&th, NULL, netns_thread, &job);
	if (r != 0)
		return err_set(err, r, "starting the network setup thread: %s", strerror(r));
	pthread_join(th, NULL);
	if (job.result < 0)
		return err_set(err, -job.result, "%s: %s", job.step, strerror(-job.result));
	return 0;
}

static int report_exit(pid_t pid, struct warren_error *err)
{
	siginfo_t si = {0};

	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
		return err_set(err, ECHILD, "agent exited (%s %d) before ready",
		               si.si_code == CLD_EXITED ? "status" : "signal", si.si_status);
	return err_set(err, ECHILD, "agent exited before ready");
}

/* Waits until the agent wrote its ready byte; a child error or death, or the
 * timeout, fail with a message. */
static int wait_ready(int err_r, int ready_r, int pidfd, pid_t pid, int timeout_ms,
                      struct warren_error *err)
{
	int64_t deadline = now_mono_us() + (int64_t)timeout_ms * 1000;
	bool err_open = true;

	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = err_open ? err_r : -1, .events = POLLIN},
		    {.fd = ready_r, .events = POLLIN},
		    {.fd = pidfd, .events = POLLIN},
		};
		int64_t left = (deadline - now_mono_us()) / 1000;
		if (left <= 0)
			return err_set(err, ETIMEDOUT, "agent not ready after %d ms", timeout_ms);
		int n = poll(pfd, 3, (int)left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_set(err, errno, "poll: %s", strerror(errno));
		}
		if (pfd[0].revents) {
			struct child_report rep;
			ssize_t k = read(err_r, &rep, sizeof(rep));
			if (k == (ssize_t)sizeof(rep)) {
				rep.step[sizeof(rep.step) - 1] = '\0';
				return err_set(err, rep.err > 0 ? rep.err : EIO, "%s: %s", rep.step,
				               strerror(rep.err));
			}
			/* End of file: the execve succeeded. */
			err_open = false;
		}
		if (pfd[1].revents) {
			char c;
			ssize_t k = read(ready_r, &c, 1);
			if (k == 1)
				return 0;
			if (k < 0 && errno == EINTR)
				continue;
			/* Usually the agent died: give its exit a moment to say so. */
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			if (poll(&p, 1, 200) == 1)
				return report_exit(pid, err);
			return err_set(err, EPIPE, "agent closed its ready fd without writing");
		}
		if (pfd[2].revents)
			return report_exit(pid, err);
	}
}

/* Kills (pid, pidfd) if alive and reaps it when it is our child; bounded. */
void kill_and_reap(pid_t pid, int pidfd)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

	if (pidfd < 0)
		return;
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	if (poll(&pfd, 1, DESTROY_WAIT_MS) < 0) {
	}
	/* Not our child (adopted after a restart): ECHILD, nothing to reap. */
	while (waitpid(pid, NULL, WNOHANG) < 0 && errno == EINTR)
		;
}

static char **build_env(char *const *agent_env, struct warren_error *err)
{
	size_t n = 0;
	char **env;

	while (agent_env && agent_env[n]) {
		if (++n > MAX_AGENT_ENV) {
			err_set(err, E2BIG, "agent_env has more than %d entries", MAX_AGENT_ENV);
			return NULL;
		}
	}
	env = calloc(n + 2, sizeof(*env));
	if (!env) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		env[i] = agent_env[i];
	env[n] = (char *)"WARREN_READY_FD=3";
	return env;
}

static int prepare_dirs(struct rt *rt, const struct rt_spec *spec, uint32_t base,
                        struct warren_error *err)
{
	char dir[4096], path[4200];
	int r;

	r = sandbox_dir(rt, spec->id, NULL, dir, sizeof(dir));
	if (r < 0)
		return err_set(err, -r, "sandbox path too long");
	if (mkdir(dir, 0700) < 0)
		return err_set(err, errno, "creating %s: %s", dir,
		               errno == EEXIST ? "sandbox directory exists" : strerror(errno));
	/* Owned by the sandbox's root, closed to everyone else on the host. */
	if (chown(dir, base, base) < 0)
		return err_set(err, errno, "chown %s: %s", dir, strerror(errno));
	static const struct {
		const char *name;
		mode_t mode;
	} subs[] = {{"root", 0755}, {"upper", 0755}, {"work", 0700}};
	/* With a disk of its own, upper and work live on it (disk.h). */
	for (size_t i = 0; i < (spec->disk_mb ? 1 : ARRAY_SIZE(subs)); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i].name);
		if (mkdir(path, subs[i].mode) < 0 || chown(path, base, base) < 0)
			return err_set(err, errno, "creating %s: %s", path, strerror(errno));
	}
	if (spec->disk_mb) {
		r = disk_create(dir, spec->disk_mb, base, err);
		if (r < 0)
			return r;
	}
	snprintf(path, sizeof(path), "%s%s/upper", dir, spec->disk_mb ? "/disk" : "");
	_cleanup_close_ int upper_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upper_fd < 0)
		return err_set(err, errno, "opening %s: %s", path, strerror(errno));
	r = template_populate_upper(upper_fd, spec->id, base);
	if (r < 0)
		return err_set(err, -r, "populating %s: %s", path, strerror(-r));
	return 0;
}

/*
 * Removes a sandbox directory. Its upper layer was written by the sandbox, so
 * it may be nested deeper than any recursion should go: instead of
 * descending, the subdirectories of each child of the top are renamed up to
 * the top level, so the walk never holds more than two directories open. Each
 * directory moves at most once; a pass that makes no progress ends the loop.
 * Symlinks are never followed and other file systems are not entered.
 */
static int remove_tree_at(int parent_fd, const char *name)
{
	_cleanup_close_ int top =
	    openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	unsigned long counter = 0;
	bool again = true, progress = true;
	struct stat st;
	int r = 0;

	if (top < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR)
			return unlinkat(parent_fd, name, 0) < 0 ? -errno : 0;
		return -errno;
	}
	if (fstat(top, &st) < 0)
		return -errno;
	dev_t dev = st.st_dev;

	while (again && progress) {
		again = progress = false;
		r = 0;
		int dfd = dup(top);
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		struct dirent *de;
		if (!d) {
			if (dfd >= 0)
				close(dfd);
			return -errno;
		}
		rewinddir(d);
		while ((de = readdir(d))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (fstatat(top, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (!S_ISDIR(st.st_mode)) {
				if (unlinkat(top, de->d_name, 0) == 0)
					progress = true;
				else if (errno != ENOENT)
					r = -errno;
				continue;
			}
			if (st.st_dev != dev) {
				r = -EXDEV;
				continue;
			}
			int sfd = openat(top, de->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			DIR *sd = sfd >= 0 ? fdopendir(sfd) : NULL;
			struct dirent *se;
			if (!sd) {
				if (sfd >= 0)
					close(sfd);
				r = -errno;
				continue;
			}
			while ((se = readdir(sd))) {
				struct stat sst;
				if (strcmp(se->d_name, ".") == 0 || strcmp(se->d_name, "..") == 0)
					continue;
				if (fstatat(sfd, se->d_name, &sst, AT_SYMLINK_NOFOLLOW) < 0)
					continue;
				if (!S_ISDIR(sst.st_mode)) {
					if (unlinkat(sfd, se->d_name, 0) == 0)
						progress = true;
					else if (errno != ENOENT)
						r = -errno;
					continue;
				}
				/* Lift the grandchild to the top under a fresh name. */
				for (int tries = 0; tries < 1000; tries++) {
					char up[32];
					snprintf(up, sizeof(up), ".rm-%lu", counter++);
					if (renameat2(sfd, se->d_name, top, up, RENAME_NOREPLACE) ==
					    0) {
						progress = again = true;
						break;
					}
					if (errno != EEXIST) {
						r = -errno;
						break;
					}
				}
			}
			closedir(sd);
			if (unlinkat(top, de->d_name, AT_REMOVEDIR) == 0)
				progress = true;
			else if (errno == ENOTEMPTY || errno == EEXIST)
				again = true;
			else if (errno != ENOENT)
				r = -errno;
		}
		closedir(d);
	}
	if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int remove_tree(const char *path)
{
	return remove_tree_at(AT_FDCWD, path);
}

/* Unmounts the sandbox's disk (if any), then removes its directory. */
static int remove_sandbox_dir(const char *dir)
{
	int r = disk_destroy(dir), q = remove_tree(dir);

	return r < 0 ? r : q;
}

static void remove_dir(struct rt *rt, const char *id)
{
	char dir[4096];

	if (sandbox_dir(rt, id, NULL, dir, sizeof(dir)) == 0)
		remove_sandbox_dir(dir);
}

int sandbox_cgroup_create(struct rt *rt, const struct rt_spec *spec, struct warren_error *err)
{
	struct cgroup_limits lim = {
	    .cpu_count = spec->cpu_count,
	    .memory_bytes = (uint64_t)spec->memory_mb << 20,
	    .pids_max = spec->pids_max,
	};

	return cgroup_create(rt->cgroups, spec->id, &lim, err);
}

int rt_create(struct rt *rt, const struct rt_spec *spec, struct rt_sandbox *ret,
              struct warren_error *err)
{
	/* On the heap: daemon threads have small stacks. */
	struct paths {
		char dir[4096], lower[4096], upper[4200], work[4200], root[4200], opts[13000];
	};
	_cleanup_free_ struct paths *p = NULL;
	_cleanup_free_ char **envp = NULL;
	_cleanup_close_ int sync_r = -1, sync_w = -1, err_r = -1, err_w = -1;
	_cleanup_close_ int ready_r = -1, ready_w = -1;
	int pidfd = -1, fds[2], r;
	bool cg_made = false, net_made = false;
	struct in_addr addr = {0};
	uint64_t start_time = 0;
	sigset_t all, old;
	pid_t pid = -1;
	int64_t t0 = now_mono_us(), t_prep, t_clone, t_attach = 0, t_netin = 0, t_release, t_ready;

	if (!spec || !id_valid(spec->id))
		return err_set(err, EINVAL, "invalid sandbox id");
	if (spec->slot < 1)
		return err_set(err, EINVAL, "slot must be >= 1");
	uint64_t base64 = (uint64_t)rt->uid_base + (uint64_t)spec->slot * RT_ID_RANGE;
	if (base64 + RT_ID_RANGE > UINT32_MAX)
		return err_set(err, ERANGE, "slot %u is out of the uid range", spec->slot);
	uint32_t base = (uint32_t)base64;
	if (rt_template_exists(rt, spec->template_id) < 0)
		return err_set(err, ENOENT, "template '%s' not found",
		               spec->template_id ? spec->template_id : "");
	int timeout_ms =
	    spec->ready_timeout_ms > 0 ? spec->ready_timeout_ms : DEFAULT_READY_TIMEOUT_MS;

	envp = build_env(spec->agent_env, err);
	if (!envp)
		return -(err ? err->code : ENOMEM);
	p = malloc(sizeof(*p));
	if (!p)
		return err_set(err, ENOMEM, "out of memory");
	if (sandbox_dir(rt, spec->id, NULL, p->dir, sizeof(p->dir)) < 0 ||
	    template_rootfs_path(rt, spec->template_id, p->lower, sizeof(p->lower)) < 0)
		return err_set(err, ENAMETOOLONG, "state path too long");
	const char *layers = spec->disk_mb ? "/disk" : "";
	snprintf(p->upper, sizeof(p->upper), "%s%s/upper", p->dir, layers);
	snprintf(p->work, sizeof(p->work), "%s%s/work", p->dir, layers);
	snprintf(p->root, sizeof(p->root), "%s/root", p->dir);
	r = mnt_format_overlay_opts(p->opts, sizeof(p->opts), p->lower, p->upper, p->work);
	if (r < 0)
		return err_set(err, -r, "overlay options: %s (state_dir must not contain , : \\)",
		               strerror(-r));
	if (rt->net) {
		r = net_slot_addr(rt->net, spec->slot, &addr);
		if (r < 0)
			return err_set(err, -r, "address of slot %u: %s", spec->slot, strerror(-r));
	}

	r = prepare_dirs(rt, spec, base, err);
	if (r < 0) {
		if (r != -EEXIST)
			remove_dir(rt, spec->id);
		return r;
	}
	if (rt->cgroups) {
		r = sandbox_cgroup_create(rt, spec, err);
		if (r < 0)
			goto fail;
		cg_made = true;
	}

	if (pipe2(fds, O_CLOEXEC) < 0)
		goto fail_errno;
	sync_r = fds[0], sync_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		goto fail_errno;
	err_r = fds[0], err_w = fds[1];
	if (pipe2(fds, O_CLOEXEC) < 0)
		goto fail_errno;
	ready_r = fds[0], ready_w = fds[1];

	struct child_args args = {
	    .rt = rt,
	    .id = spec->id,
	    .plan = {.root = p->root, .ovl_opts = p->opts},
	    .envp = envp,
	    .sync_r = sync_r,
	    .err_w = err_w,
	    .ready_w = ready_w,
	};
	struct clone_args ca = {
	    .flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS |
	             CLONE_NEWIPC | CLONE_PIDFD,
	    .pidfd = (uint64_t)(uintptr_t)&pidfd,
	    .exit_signal = SIGCHLD,
	};
	/* No handler of ours may run in the child before it resets them. */
	t_prep = now_mono_us();
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		child_main(&args);
	r = -errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	t_clone = now_mono_us();
	if (pid < 0) {
		err_set(err, -r, "clone3: %s", strerror(-r));
		goto fail;
	}
	closep(&sync_r), sync_r = -1;
	closep(&err_w), err_w = -1;
	closep(&ready_w), ready_w = -1;

	r = write_map(pid, "uid_map", base);
	if (r >= 0)
		r = write_map(pid, "gid_map", base);
	if (r < 0) {
		err_set(err, -r, "writing id maps: %s", strerror(-r));
		goto fail;
	}
	if (rt->cgroups) {
		r = cgroup_attach(rt->cgroups, spec->id, pid, err);
		if (r < 0)
			goto fail;
	}
	if (rt->net) {
		r = net_attach(rt->net, spec->slot, pid, spec->allow_internet, err);
		if (r < 0)
			goto fail;
		net_made = true;
		t_attach = now_mono_us();
		r = setup_net_inside(rt, spec->slot, pidfd, addr, err);
		t_netin = now_mono_us();
		if (r < 0)
			goto fail;
	}
	if (write(sync_w, "1", 1) != 1)
		goto fail_errno;
	closep(&sync_w), sync_w = -1;
	t_release = now_mono_us();

	r = wait_ready(err_r, ready_r, pidfd, pid, timeout_ms, err);
	if (r < 0)
		goto fail;
	t_ready = now_mono_us();
	r = read_start_time(pid, &start_time);
	if (r < 0) {
		err_set(err, -r, "reading the start time of %d: %s", (int)pid, strerror(-r));
		goto fail;
	}
	log_sbx(LOG_DEBUG, spec->id,
	        "created pid %d: dirs+cgroups %.2f ms, clone %.2f ms, maps+attach+net %.2f ms "
	        "(net_setup_inside %.2f ms), child setup+agent ready %.2f ms, total %.2f ms",
	        (int)pid, (t_prep - t0) / 1000.0, (t_clone - t_prep) / 1000.0,
	        (t_release - t_clone) / 1000.0, (t_netin - t_attach) / 1000.0,
	        (t_ready - t_release) / 1000.0, (t_ready - t0) / 1000.0);
	ret->pid = pid;
	ret->pidfd = pidfd;
	ret->start_time = start_time;
	ret->addr = addr;
	return 0;

fail_errno:
	r = err_set(err, errno, "setup pipe: %s", strerror(errno));
fail:
	if (pid > 0) {
		kill_and_reap(pid, pidfd);
		close(pidfd);
	}
	if (net_made)
		net_detach(rt->net, spec->slot);
	if (cg_made)
		cgroup_destroy(rt->cgroups, spec->id);
	remove_dir(rt, spec->id);
	return r < 0 ? r : -EIO;
}

/* A pidfd for (pid, start_time), or -ESRCH when that process is gone. The pidfd
 * is opened first, so the start time read afterwards is that process's. */
int open_checked(pid_t pid, uint64_t start_time)
{
	uint64_t st;
	int fd;

	if (pid <= 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -ESRCH;
	if (read_start_time(pid, &st) < 0 || st != start_time) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int rt_adopt(struct rt *rt, pid_t pid, uint64_t start_time)
{
	(void)rt;
	return open_checked(pid, start_time);
}

int rt_destroy(struct rt *rt, const char *id, unsigned slot, pid_t pid, uint64_t start_time)
{
	char dir[4096];
	int64_t t0 = now_mono_us(), t_kill, t_cg;
	int r = 0, q;

	if (!id_valid(id))
		return -EINVAL;
	int pidfd = open_checked(pid, start_time);
	if (pidfd >= 0) {
		/* Killing the pid namespace's init kills everything in it. */
		kill_and_reap(pid, pidfd);
		close(pidfd);
	}
	t_kill = now_mono_us();
	if (rt->cgroups) {
		q = cgroup_destroy(rt->cgroups, id);
		if (q < 0 && r == 0)
			r = q;
	}
	t_cg = now_mono_us();
	if (rt->net && slot > 0) {
		q = net_detach(rt->net, slot);
		if (q < 0 && q != -ENOENT && r == 0)
			r = q;
	}
	q = sandbox_dir(rt, id, NULL, dir, sizeof(dir));
	if (q == 0)
		q = remove_sandbox_dir(dir);
	if (q < 0 && r == 0)
		r = q;
	log_sbx(LOG_DEBUG, id, "destroyed in %.2f ms (kill %.2f, cgroups %.2f) (%s)",
	        (now_mono_us() - t0) / 1000.0, (t_kill - t0) / 1000.0, (t_cg - t_kill) / 1000.0,
	        r < 0 ? strerror(-r) : "ok");
	return r;
}

struct orphan_ctx {
	struct rt *rt;
	bool (*keep)(const char *id, void *ud);
	void *ud;
	int result;
};

static void orphan_cgroup(const char *id, void *p)
{
	struct orphan_ctx *c = p;

	if (!id_valid(id) || c->keep(id, c->ud))
		return;
	int r = cgroup_destroy(c->rt->cgroups, id);
	if (r < 0 && c->result == 0)
		c->result = r;
}

int rt_cleanup_orphans(struct rt *rt, bool (*keep)(const char *id, void *ud), void *ud)
{
	struct orphan_ctx c = {.rt = rt, .keep = keep, .ud = ud};
	char path[4096];
	DIR *d;
	struct dirent *de;

	/* Cgroups first: destroying one kills any process an orphan left behind.
	 * An orphan's veth dies with its network namespace; its slot's firewall
	 * state is not touched, since the slot may belong to a live sandbox now. */
	if (rt->cgroups) {
		int r = cgroup_list(rt->cgroups, orphan_cgroup, &c);
		if (r < 0 && c.result == 0)
			c.result = r;
	}
	snprintf(path, sizeof(path), "%s/sandboxes", rt->state_dir);
	_cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? c.result : -errno;
	int dfd2 = dup(dfd);
	if (dfd2 < 0 || !(d = fdopendir(dfd2))) {
		if (dfd2 >= 0)
			close(dfd2);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* A name that is no valid id was never ours to create: remove it too. */
		if (id_valid(de->d_name) && keep(de->d_name, ud))
			continue;
		/* Its disk first: the walk below does not cross into a mount. */
		if (snprintf(path, sizeof(path), "%s/sandboxes/%s", rt->state_dir, de->d_name) <
		    (int)sizeof(path))
			disk_destroy(path);
		int r = remove_tree_at(dfd, de->d_name);
		if (r < 0 && c.result == 0)
			c.result = r;
	}
	closedir(d);
	return c.result;
}

int rt_disk_attach(struct rt *rt, const char *id, struct warren_error *err)
{
	char dir[4096];

	if (!id_valid(id))
		return err_set(err, EINVAL, "invalid sandbox id");
	if (sandbox_dir(rt, id, NULL, dir, sizeof(dir)) < 0)
		return err_set(err, ENAMETOOLONG, "state path too long");
	return disk_attach(dir, err);
}

int rt_disk_usage(struct rt *rt, const char *id, uint64_t *ret_used, uint64_t *ret_total)
{
	struct disk_usage u;
	char dir[4096];
	int r;

	if (!id_valid(id))
		return -EINVAL;
	r = sandbox_dir(rt, id, NULL, dir, sizeof(dir));
	if (r < 0)
		return r;
	r = disk_usage(dir, &u);
	if (r < 0)
		return r;
	*ret_used = u.used_bytes;
	*ret_total = u.total_bytes;
	return 0;
}
