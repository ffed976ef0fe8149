/* SPDX-License-Identifier: Apache-2.0 */
/* Pause/resume through CRIU: see checkpoint.h and docs/PERSISTENCE.md. */
#include "runtime/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "rt_internal.h"
#include "runtime/cgroup.h"
#include "runtime/disk.h"
#include "runtime/net.h"

#define CKPT_DIR "checkpoint"
#define CKPT_TMP "checkpoint.tmp"
#define CKPT_DONE "complete"       /* written last into a finished checkpoint */
#define CKPT_EXTERNALS "externals" /* "key host-path" lines for the restore */
#define CRIU_TIMEOUT_MS 120000
#define MAX_EXTERNALS 64
#define MAX_ARGS (80 + 2 * MAX_EXTERNALS)

/* ---- test hooks (checkpoint.h) ---- */

static atomic_int fail_pause = -1, fail_restore = -1;

static bool take_failure(atomic_int *counter, const char *env)
{
	int v = atomic_load(counter);
	if (v < 0) {
		const char *s = getenv(env);
		int n = s ? atoi(s) : 0;
		int want = -1;
		atomic_compare_exchange_strong(counter, &want, n > 0 ? n : 0);
	}
	for (;;) {
		v = atomic_load(counter);
		if (v <= 0)
			return false;
		if (atomic_compare_exchange_weak(counter, &v, v - 1))
			return true;
	}
}

/* An action script that fails criu at the given stage (post-dump, post-restore). */
static int write_fail_script(const char *dir, const char *stage, char *path, size_t size)
{
	snprintf(path, size, "%s/test-fail-hook.sh", dir);
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f,
	        "#!/bin/sh\nif [ \"$CRTOOLS_SCRIPT_ACTION\" = %s ]; then\n"
	        "  echo 'Error (warren): failing on purpose (WARREN_TEST_FAIL_* test hook)' >&2\n"
	        "  exit 1\nfi\nexit 0\n",
	        stage);
	if (fclose(f) != 0 || chmod(path, 0700) < 0)
		return -errno;
	return 0;
}

/* ---- criu ---- */

static void criu_paths(const struct rt *rt, char *loader, char *libs, char *bin, size_t size)
{
	snprintf(loader, size, "%s/usr/lib64/ld-linux-x86-64.so.2", rt->criu_dir);
	snprintf(libs, size, "%s/usr/lib/x86_64-linux-gnu", rt->criu_dir);
	snprintf(bin, size, "%s/usr/sbin/criu", rt->criu_dir);
}

int rt_criu_available(struct rt *rt, struct warren_error *err)
{
	char loader[4096], libs[4096], bin[4096];

	criu_paths(rt, loader, libs, bin, sizeof(loader));
	if (access(loader, X_OK) < 0 || access(bin, R_OK) < 0)
		return err_set(
		    err, EOPNOTSUPP,
		    "pause needs CRIU, which is not installed in %s (run scripts/criu.sh, "
		    "or give warrend --criu DIR)",
		    rt->criu_dir);
	return 0;
}

/* The last "Error" line of a criu log (else its last line), into msg. */
static void criu_log_error(const char *log_path, char *msg, size_t size)
{
	char line[1024], last[1024] = "", err[1024] = "";
	FILE *f = fopen(log_path, "re");

	snprintf(msg, size, "no log");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		snprintf(last, sizeof(last), "%s", line);
		/* The first error is the cause; later ones are consequences. */
		if (!err[0] && strstr(line, "Error (") && !strstr(line, "RLIMIT_NOFILE"))
			snprintf(err, sizeof(err), "%s", line);
	}
	fclose(f);
	const char *m = err[0] ? err : last;
	/* Drop criu's "(00.012345) " timestamp and leading pid column. */
	if (m[0] == '(' && strchr(m, ')'))
		m = strchr(m, ')') + 1;
	while (*m == ' ')
		m++;
	const char *e = strstr(m, "Error (");
	if (e && e != m && strspn(m, " 0123456789:") == (size_t)(e - m))
		m = e;
	snprintf(msg, size, "%s", m);
}

/* In the child: copies a small file with plain system calls (no stdio). */
static void copy_file_raw(const char *from, const char *to)
{
	char buf[16384];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t k;

	if (in < 0)
		return;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out >= 0) {
		while ((k = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)k) != k)
				break;
		close(out);
	}
	close(in);
}

/*
 * In the child, before criu: criu probes the kernel at every start (some 60 ms here) and
 * keeps the result in /run/criu.kdat only when /run is a tmpfs, which it is not on every
 * host. So criu runs in a mount namespace of its own with a tmpfs on /run, seeded from
 * <criu_dir>/kdat.cache and saved back after it ran (criu checks the cache against the
 * running kernel and boot itself). Returns true when set up.
 */
static bool kdat_tmpfs(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return false;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m") < 0)
		_exit(125); /* the namespace is half made: do not run criu in it */
	return true;
}

/*
 * Runs criu with argv (argv[0..] after the loader prefix is built here) and waits,
 * bounded. With cgroup_id, the child is attached to the sandbox's cgroups before it
 * execs (so the restored tree starts in them). Returns criu's exit status or -errno.
 */
static int run_criu(struct rt *rt, char **args, const char *cgroup_id, struct warren_error *err)
{
	char loader[4096], libs[4096], bin[4096];
	char *argv[MAX_ARGS + 5];
	size_t n = 0;
	int sync[2] = {-1, -1}, status = 0, r;
	sigset_t all, old;

	criu_paths(rt, loader, libs, bin, sizeof(loader));
	argv[n++] = loader;
	argv[n++] = "--library-path";
	argv[n++] = libs;
	argv[n++] = bin;
	for (size_t i = 0; args[i] && n < MAX_ARGS + 4; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", NULL};
	char cache[4096 + 32], cache_tmp[4096 + 48];
	snprintf(cache, sizeof(cache), "%s/kdat.cache", rt->criu_dir);
	snprintf(cache_tmp, sizeof(cache_tmp), "%s/.kdat.cache.%d", rt->criu_dir, (int)getpid());

	if (pipe2(sync, O_CLOEXEC) < 0)
		return err_set(err, errno, "pipe: %s", strerror(errno));
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls from here on (the daemon is multithreaded). */
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		for (int s = 1; s < NSIG; s++)
			sigaction(s, &dfl, NULL);
		char go;
		close(sync[1]);
		if (read(sync[0], &go, 1) != 1)
			_exit(126);
		int nul = open("/dev/null", O_RDWR);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		syscall(SYS_close_range, 3, ~0U, 0);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (!kdat_tmpfs()) {
			execve(loader, argv, envp);
			_exit(127);
		}
		copy_file_raw(cache, "/run/criu.kdat");
		pid_t c = fork();
		if (c == 0) {
			execve(loader, argv, envp);
			_exit(127);
		}
		int st = 0;
		while (c > 0 && waitpid(c, &st, 0) < 0 && errno == EINTR)
			;
		if (c < 0)
			_exit(127);
		/* Saved by rename, so that concurrent runs never read half a file. */
		copy_file_raw("/run/criu.kdat", cache_tmp);
		if (rename(cache_tmp, cache) < 0)
			unlink(cache_tmp);
		if (WIFSIGNALED(st))
			_exit(128 + WTERMSIG(st));
		_exit(WEXITSTATUS(st));
	}
	r = -errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(sync[0]);
	if (pid < 0) {
		close(sync[1]);
		return err_set(err, -r, "fork: %s", strerror(-r));
	}
	if (cgroup_id && rt->cgroups) {
		r = cgroup_attach(rt->cgroups, cgroup_id, pid, err);
		if (r < 0) {
			kill(pid, SIGKILL);
			close(sync[1]);
			waitpid(pid, NULL, 0);
			return r;
		}
	}
	if (write(sync[1], "1", 1) != 1) {
		r = -errno;
		close(sync[1]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return err_set(err, -r, "starting criu: %s", strerror(-r));
	}
	close(sync[1]);

	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
		int64_t end = now_mono_us() + (int64_t)CRIU_TIMEOUT_MS * 1000;
		for (;;) {
			int left = (int)((end - now_mono_us()) / 1000);
			if (left <= 0) {
				kill(pid, SIGKILL);
				break;
			}
			int k = poll(&pfd, 1, left);
			if (k > 0 || (k < 0 && errno != EINTR))
				break;
		}
		close(pidfd);
	}
	while ((r = (int)waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return err_set(err, errno, "waiting for criu: %s", strerror(errno));
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * Ends the host's TCP connections to a paused sandbox's address (warrend's pooled proxy
 * connections to its agent). The sandbox's side went away with its network device, so no
 * FIN or RST ever reached them: without this, the first request after a resume would be
 * written into a connection the restored sandbox knows nothing of. `ss -K` (iproute2)
 * destroys them through the kernel's sock_diag (CONFIG_INET_DIAG_DESTROY).
 */
static void end_host_connections(struct in_addr addr)
{
	char a[INET_ADDRSTRLEN];
	char *argv[] = {"ss", "-K", "-t", "dst", a, NULL};
	char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	if (!addr.s_addr || !inet_ntop(AF_INET, &addr, a, sizeof(a)))
		return;
	if (posix_spawn_file_actions_init(&fa) != 0)
		return;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "ss", &fa, NULL, argv, envp) == 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	posix_spawn_file_actions_destroy(&fa);
}

/*
 * The agent is non-dumpable. As long as it is the exec of the sandbox's user namespace
 * that does not matter to criu, but a restored agent's memory belongs to the initial
 * user namespace, and criu's check that the namespaces belong to the sandbox's user
 * namespace then fails (EACCES on its namespace files). SIGUSR2 from outside makes the agent
 * dumpable for a few seconds (src/agent/main.c); this waits, bounded, until it is: the
 * owner of /proc/<pid>/environ is the task's uid only while it is dumpable (or, before any
 * restore, always).
 */
static void open_dump_window(int pidfd, pid_t pid)
{
	char path[64], line[256];
	uid_t euid = (uid_t)-1;
	struct stat st;

	if (syscall(SYS_pidfd_send_signal, pidfd, SIGUSR2, NULL, 0) < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %*u %u", &euid) == 1)
			break;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	for (int i = 0; i < 200; i++) {
		if (stat(path, &st) < 0 || st.st_uid == euid)
			return;
		usleep(5000);
	}
}

/*
 * Images criu would restore by running iptables-restore, ip route restore, ip rule restore
 * (some 100 ms of a restore here) although they hold nothing of the sandbox's: its network
 * device is gone before the dump, and with it every route through it; what is left are the
 * kernel's own local routes and default rules, made again in the new namespace. Firewall
 * tables of the sandbox's namespace are dropped only when empty (a sandbox's own rules are
 * restored). docs/PERSISTENCE.md.
 */
static void drop_network_images(const char *dir)
{
	static const char *const always[] = {"route-", "route6-", "rule-"};
	static const char *const if_empty[] = {"iptables-", "ip6tables-", "nftables-"};
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		bool drop = false;
		for (size_t i = 0; i < ARRAY_SIZE(always) && !drop; i++)
			drop = strncmp(de->d_name, always[i], strlen(always[i])) == 0;
		for (size_t i = 0; i < ARRAY_SIZE(if_empty) && !drop; i++) {
			struct stat st;
			drop = strncmp(de->d_name, if_empty[i], strlen(if_empty[i])) == 0 &&
			       fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			       S_ISREG(st.st_mode) && st.st_size == 0;
		}
		if (drop)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* ---- mounts criu must treat as external ---- */

struct ext_mount {
	char point[256]; /* inside the sandbox */
	char host[256];  /* what to bind there at restore */
};

/*
 * Bind mounts of host objects inside the sandbox (docs/RUNTIME.md): /usr and the device
 * nodes of the host's devtmpfs (/dev/null... and the /proc masks). criu cannot dump them;
 * they are declared external and bound again from the same host paths at restore.
 */
static int find_externals(pid_t pid, struct ext_mount *ext, size_t max, size_t *ret_n)
{
	char path[64], line[4096];
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char root[1024], point[1024], fstype[64];
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) != 2 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		bool dev = strcmp(fstype, "devtmpfs") == 0;
		bool usr = strcmp(point, "/usr") == 0;
		if (!dev && !usr)
			continue;
		if (strchr(point, '\\') || strchr(root, '\\') ||
		    strlen(point) >= sizeof(ext->point) || strlen(root) + 5 >= sizeof(ext->host) ||
		    n == max) {
			fclose(f);
			return -E2BIG;
		}
		snprintf(ext[n].point, sizeof(ext[n].point), "%s", point);
		if (dev)
			snprintf(ext[n].host, sizeof(ext[n].host), "/dev%s", root);
		else
			snprintf(ext[n].host, sizeof(ext[n].host), "/usr");
		n++;
	}
	fclose(f);
	*ret_n = n;
	return 0;
}

/* ---- checkpoint ---- */

bool rt_checkpoint_exists(struct rt *rt, const char *id)
{
	char path[4096];

	if (!id_valid(id) || sandbox_dir(rt, id, CKPT_DIR "/" CKPT_DONE, path, sizeof(path)) < 0)
		return false;
	return access(path, F_OK) == 0;
}

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	int r = write(fd, text, len) == (ssize_t)len ? 0 : -EIO;
	if (fsync(fd) < 0 && r == 0)
		r = -errno;
	close(fd);
	return r;
}

/* Re-attaches the network of a sandbox whose checkpoint failed (it keeps running). */
static void reattach_net(struct rt *rt, const char *id, unsigned slot, pid_t pid,
                         uint64_t start_time, bool allow_internet)
{
	struct warren_error e = {0};
	struct in_addr addr;
	int pidfd = open_checked(pid, start_time);

	if (pidfd < 0 || !rt->net)
		goto out;
	if (net_slot_addr(rt->net, slot, &addr) < 0 ||
	    net_attach(rt->net, slot, pid, allow_internet, &e) < 0 ||
	    setup_net_inside(rt, slot, pidfd, addr, &e) < 0)
		log_sbx(LOG_WARN, id, "re-attaching the network after a failed pause: %s", e.msg);
out:
	if (pidfd >= 0)
		close(pidfd);
}

int rt_checkpoint(struct rt *rt, const char *id, unsigned slot, pid_t pid, uint64_t start_time,
                  bool allow_internet, struct warren_error *err)
{
	char dir[4096], tmp[4096], path[4096 + 64], log[4096 + 64], hook[4096 + 64], msg[512];
	struct ext_mount ext[MAX_EXTERNALS];
	char ext_args[MAX_EXTERNALS][300];
	char *args[MAX_ARGS];
	size_t n_ext = 0, n = 0;
	struct in_addr addr;
	int64_t t0 = now_mono_us(), t_dump;
	int r;

	if (!id_valid(id))
		return err_set(err, EINVAL, "invalid sandbox id");
	r = rt_criu_available(rt, err);
	if (r < 0)
		return r;
	int pidfd = open_checked(pid, start_time);
	if (pidfd < 0)
		return err_set(err, ESRCH, "the sandbox's init is gone");
	if (sandbox_dir(rt, id, CKPT_DIR, dir, sizeof(dir)) < 0 ||
	    sandbox_dir(rt, id, CKPT_TMP, tmp, sizeof(tmp)) < 0) {
		r = err_set(err, ENAMETOOLONG, "state path too long");
		goto out;
	}
	r = find_externals(pid, ext, MAX_EXTERNALS, &n_ext);
	if (r < 0) {
		err_set(err, -r, "reading the sandbox's mounts: %s", strerror(-r));
		goto out;
	}
	(void)remove_tree(tmp);
	/* criu's restored tasks read some images as the sandbox's root (host uid base), which
	 * owns <id>/ (0700, closed to everybody else): the images must be open to it. */
	if (mkdir(tmp, 0711) < 0 || chmod(tmp, 0711) < 0) {
		r = err_set(err, errno, "creating %s: %s", tmp, strerror(errno));
		goto out;
	}
	/* The restore's side of the external mounts. */
	{
		char buf[MAX_EXTERNALS * 300] = "";
		size_t off = 0;
		for (size_t i = 0; i < n_ext; i++)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "m%zu %s\n", i,
			                        ext[i].host);
		snprintf(path, sizeof(path), "%s/" CKPT_EXTERNALS, tmp);
		r = write_text(path, buf);
		if (r < 0) {
			err_set(err, -r, "writing %s: %s", path, strerror(-r));
			goto out_rm;
		}
	}

	char pid_s[16];
	snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
	args[n++] = "dump";
	args[n++] = "-t";
	args[n++] = pid_s;
	args[n++] = "-D";
	args[n++] = tmp;
	args[n++] = "-o";
	args[n++] = "dump.log";
	/* Established connections (clients of the agent) are closed, as E2B does. */
	args[n++] = "--tcp-close";
	/* Nothing to lock: the sandbox's only device is gone before the dump (below). */
	args[n++] = "--network-lock";
	args[n++] = "skip";
	/* Cgroups are warren's: recreated with the same limits at restore. */
	args[n++] = "--manage-cgroups=ignore";
	args[n++] = "--file-locks";
	/*
	 * inotify watches (the agent's WatchDir, a dev server's file watcher) cannot be
	 * recorded by file handle on overlayfs: criu looks their directories up by inode in
	 * these trees of the sandbox instead, and records them by path.
	 */
	static const char *const irmap[] = {"/home", "/root", "/etc", "/opt",  "/srv",
	                                    "/var",  "/run",  "/mnt", "/media"};
	for (size_t i = 0; i < ARRAY_SIZE(irmap); i++) {
		args[n++] = "--irmap-scan-path";
		args[n++] = (char *)irmap[i];
	}
	for (size_t i = 0; i < n_ext; i++) {
		snprintf(ext_args[i], sizeof(ext_args[i]), "mnt[%s]:m%zu", ext[i].point, i);
		args[n++] = "--external";
		args[n++] = ext_args[i];
	}
	if (take_failure(&fail_pause, "WARREN_TEST_FAIL_PAUSE")) {
		r = write_fail_script(tmp, "post-dump", hook, sizeof(hook));
		if (r < 0) {
			err_set(err, -r, "writing the test hook: %s", strerror(-r));
			goto out_rm;
		}
		args[n++] = "--action-script";
		args[n++] = hook;
	}
	args[n] = NULL;

	open_dump_window(pidfd, pid);
	/* The veth goes first: criu cannot restore it in a user namespace here. */
	if (rt->net)
		(void)net_detach(rt->net, slot);
	r = run_criu(rt, args, NULL, err);
	t_dump = now_mono_us();
	snprintf(log, sizeof(log), "%s/dump.log", tmp);
	if (r != 0) {
		if (r > 0) {
			criu_log_error(log, msg, sizeof(msg));
			err_set(err, EIO, "checkpoint failed (criu exit %d): %s", r, msg);
			r = -EIO;
		}
		/* criu resumes the tasks when a dump fails: the sandbox keeps running. */
		reattach_net(rt, id, slot, pid, start_time, allow_internet);
		log_sbx(LOG_WARN, id, "pause failed, sandbox left running: %s (log kept in %s)",
		        err ? err->msg : "", log);
		goto out;
	}
	/* criu ended the tree: reap its init (our child unless adopted), bounded. */
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
	(void)poll(&pfd, 1, 5000);
	while (waitpid(pid, NULL, WNOHANG) < 0 && errno == EINTR)
		;
	if (rt->cgroups)
		(void)cgroup_destroy(rt->cgroups, id);
	if (rt->net && net_slot_addr(rt->net, slot, &addr) == 0)
		end_host_connections(addr);
	drop_network_images(tmp);
	/* Its disk (disk.h), if it has one, is unmounted: the loop device goes with it. */
	if (sandbox_dir(rt, id, NULL, path, sizeof(path)) == 0)
		(void)disk_detach(path);
	snprintf(path, sizeof(path), "%s/" CKPT_DONE, tmp);
	(void)remove_tree(dir);
	r = write_text(path, "1\n");
	if (r == 0 && rename(tmp, dir) < 0)
		r = -errno;
	if (r < 0) {
		/* The processes are gone but the images are not usable: say so loudly. */
		err_set(err, -r, "saving the checkpoint: %s", strerror(-r));
		goto out;
	}
	log_sbx(LOG_DEBUG, id, "checkpointed pid %d in %.2f ms (criu dump %.2f ms)", (int)pid,
	        (now_mono_us() - t0) / 1000.0, (t_dump - t0) / 1000.0);
	r = 0;
	goto out;
out_rm:
	(void)remove_tree(tmp);
out:
	close(pidfd);
	return r;
}

int rt_checkpoint_discard(struct rt *rt, const char *id)
{
	char dir[4096];

	if (!id_valid(id) || sandbox_dir(rt, id, CKPT_DIR, dir, sizeof(dir)) < 0)
		return -EINVAL;
	return remove_tree(dir);
}

/* ---- restore ---- */

static int read_pidfile(const char *path, pid_t *ret)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t k = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (k <= 0)
		return -EIO;
	long v = strtol(buf, NULL, 10);
	if (v <= 1)
		return -EIO;
	*ret = (pid_t)v;
	return 0;
}

int rt_restore(struct rt *rt, const struct rt_spec *spec, struct rt_sandbox *ret,
               struct warren_error *err)
{
	char dir[4096], root[4096], lower[4096], upper[4096 + 80], work[4096 + 80], opts[8400];
	char path[4096 + 64], log[4096 + 64], hook[4096 + 64], msg[512];
	char ext_args[MAX_EXTERNALS][300];
	char *args[MAX_ARGS];
	size_t n = 0, n_ext = 0;
	struct in_addr addr = {0};
	pid_t pid = 0;
	int pidfd = -1, r;
	bool mounted = false, cg_made = false, net_made = false;
	uint64_t start_time = 0;
	int64_t t0 = now_mono_us(), t_criu = 0, t_net = 0;

	if (!spec || !id_valid(spec->id))
		return err_set(err, EINVAL, "invalid sandbox id");
	r = rt_criu_available(rt, err);
	if (r < 0)
		return r;
	if (!rt_checkpoint_exists(rt, spec->id))
		return err_set(err, EIO, "sandbox %s has no complete checkpoint", spec->id);
	if (sandbox_dir(rt, spec->id, CKPT_DIR, dir, sizeof(dir)) < 0 ||
	    sandbox_dir(rt, spec->id, "root", root, sizeof(root)) < 0 ||
	    sandbox_dir(rt, spec->id, NULL, path, sizeof(path)) < 0 ||
	    template_rootfs_path(rt, spec->template_id ? spec->template_id : "base", lower,
	                         sizeof(lower)) < 0)
		return err_set(err, ENAMETOOLONG, "state path too long");
	/* With a disk of its own (disk.h), the layers are on it: mounted again first. */
	const char *layers = spec->disk_mb ? "/disk" : "";
	snprintf(upper, sizeof(upper), "%s%s/upper", path, layers);
	snprintf(work, sizeof(work), "%s%s/work", path, layers);
	if (spec->disk_mb) {
		r = disk_attach(path, err);
		if (r < 0) {
			err_prefix(err, "mounting the sandbox's disk");
			return r;
		}
	}
	r = mnt_format_overlay_opts(opts, sizeof(opts), lower, upper, work);
	if (r < 0)
		return err_set(err, -r, "overlay options: %s", strerror(-r));
	if (rt->net) {
		r = net_slot_addr(rt->net, spec->slot, &addr);
		if (r < 0)
			return err_set(err, -r, "address of slot %u: %s", spec->slot, strerror(-r));
	}

	/* The external mounts recorded at dump time. */
	snprintf(path, sizeof(path), "%s/" CKPT_EXTERNALS, dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return err_set(err, errno, "reading %s: %s", path, strerror(errno));
	char line[600];
	while (n_ext < MAX_EXTERNALS && fgets(line, sizeof(line), f)) {
		char key[32], host[256];
		if (sscanf(line, "%31s %255s", key, host) != 2)
			continue;
		snprintf(ext_args[n_ext++], sizeof(ext_args[0]), "mnt[%s]:%s", key, host);
	}
	fclose(f);

	/* Old restore leftovers first. */
	snprintf(path, sizeof(path), "%s/restore.pid", dir);
	(void)unlink(path);
	(void)umount2(root, MNT_DETACH);

	if (rt->cgroups) {
		r = sandbox_cgroup_create(rt, spec, err);
		if (r < 0)
			goto fail;
		cg_made = true;
	}
	/* The sandbox's root for criu's --root, with the flags of the original (criu applies them
	 * inside, where they are locked); criu binds it into the new mount namespace, so
	 * the host's mount goes right after the restore. */
	if (mount("overlay", root, "overlay", 0, opts) < 0) {
		r = err_set(err, errno, "mounting the sandbox's overlay: %s", strerror(errno));
		goto fail;
	}
	mounted = true;

	args[n++] = "restore";
	args[n++] = "-d";
	args[n++] = "-D";
	args[n++] = dir;
	args[n++] = "-o";
	args[n++] = "restore.log";
	args[n++] = "--root";
	args[n++] = root;
	args[n++] = "--pidfile";
	args[n++] = path;
	args[n++] = "--tcp-close";
	args[n++] = "--manage-cgroups=soft";
	args[n++] = "--file-locks";
	for (size_t i = 0; i < n_ext; i++) {
		args[n++] = "--external";
		args[n++] = ext_args[i];
	}
	if (take_failure(&fail_restore, "WARREN_TEST_FAIL_RESTORE")) {
		r = write_fail_script(dir, "post-restore", hook, sizeof(hook));
		if (r < 0) {
			err_set(err, -r, "writing the test hook: %s", strerror(-r));
			goto fail;
		}
		args[n++] = "--action-script";
		args[n++] = hook;
	}
	args[n] = NULL;
	r = run_criu(rt, args, spec->id, err);
	t_criu = now_mono_us();
	snprintf(log, sizeof(log), "%s/restore.log", dir);
	(void)umount2(root, MNT_DETACH);
	mounted = false;
	if (r != 0) {
		if (r > 0) {
			criu_log_error(log, msg, sizeof(msg));
			err_set(err, EIO, "restore failed (criu exit %d): %s", r, msg);
			r = -EIO;
		}
		/* A restored tree criu left behind (it should not) dies with the cgroups. */
		goto fail;
	}
	r = read_pidfile(path, &pid);
	if (r < 0) {
		err_set(err, -r, "reading criu's pid file: %s", strerror(-r));
		goto fail;
	}
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0 || read_start_time(pid, &start_time) < 0) {
		r = err_set(err, ESRCH, "the restored init %d is gone", (int)pid);
		goto fail;
	}
	if (rt->net) {
		r = net_attach(rt->net, spec->slot, pid, spec->allow_internet, err);
		if (r < 0)
			goto fail;
		net_made = true;
		r = setup_net_inside(rt, spec->slot, pidfd, addr, err);
		if (r < 0)
			goto fail;
	}
	t_net = now_mono_us();
	/* The images stay until the caller recorded the sandbox as running again
	 * (rt_checkpoint_discard): a crash in between must not lose the sandbox. */
	log_sbx(LOG_DEBUG, spec->id, "restored pid %d in %.2f ms (criu %.2f ms, network %.2f ms)",
	        (int)pid, (t_net - t0) / 1000.0, (t_criu - t0) / 1000.0, (t_net - t_criu) / 1000.0);
	ret->pid = pid;
	ret->pidfd = pidfd;
	ret->start_time = start_time;
	ret->addr = addr;
	return 0;

fail:
	if (pidfd >= 0) {
		kill_and_reap(pid, pidfd);
		close(pidfd);
	}
	if (net_made)
		(void)net_detach(rt->net, spec->slot);
	if (mounted)
		(void)umount2(root, MNT_DETACH);
	if (cg_made)
		(void)cgroup_destroy(rt->cgroups, spec->id);
	log_sbx(LOG_WARN, spec->id, "resume failed, sandbox left paused: %s (log in %s)",
	        err ? err->msg : "", dir);
	return r < 0 ? r : -EIO;
}
