/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rt-smoke: drives the sandbox runtime for real (needs root) and checks,
 * from the host only, what a sandbox looks like and that nothing of it
 * remains after rt_destroy. Prints create/destroy timings.
 *
 *   rt-smoke [--agent PATH] [--no-cgroups] [--no-net] [--state DIR] [-n LOOPS] [--exec CMD]
 *
 * The default agent is rt-probe (built beside this program), which records
 * its own view of the isolation in /tmp/probe.txt inside the sandbox.
 * --no-cgroups / --no-net run the runtime's test-only mode (rt_config.cgroups
 * or .net NULL). --exec runs CMD on the host while the first sandbox lives,
 * with SANDBOX_ADDR, SANDBOX_ID and SANDBOX_PID set (see rt-exec.py).
 * Exit status 0 when every check passed.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "runtime/cgroup.h"
#include "runtime/cgroup_internal.h"
#include "runtime/net.h"
#include "runtime/net_internal.h"
#include "runtime/sandbox.h"

#define SLOT0 50000u

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("ok    ");                                                          \
		} else {                                                                           \
			printf("FAIL  ");                                                          \
			failures++;                                                                \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
	} while (0)

static char *probe_text;

/* Value of key in the probe's report, or "" */
static const char *probe(const char *key)
{
	static char val[512];
	size_t n = strlen(key);

	val[0] = '\0';
	for (const char *p = probe_text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > n && strncmp(p, key, n) == 0 && p[n] == '=') {
			size_t v = len - n - 1;
			if (v >= sizeof(val))
				v = sizeof(val) - 1;
			memcpy(val, p + n + 1, v);
			val[v] = '\0';
			return val;
		}
		p = nl ? nl + 1 : p + len;
	}
	return val;
}

static bool file_contains(const char *path, const char *needle)
{
	_cleanup_free_ char *data = NULL;

	if (read_file(path, 1 << 22, &data, NULL) < 0)
		return false;
	return strstr(data, needle) != NULL;
}

static const char *find_name;
static bool found_name;

static int find_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	if (type == FTW_D && strcmp(path + ftw->base, find_name) == 0) {
		found_name = true;
		return 1;
	}
	return 0;
}

/* Is there a directory called name anywhere below /sys/fs/cgroup? */
static bool cgroup_dir_exists(const char *name)
{
	find_name = name;
	found_name = false;
	nftw("/sys/fs/cgroup", find_cb, 16, FTW_PHYS);
	return found_name;
}

/* The network manager of this run, when it uses one (for interface names). */
static struct net_mgr *smoke_net;

static void check_gone(struct rt_sandbox *sb, const char *state, const char *id, unsigned slot)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", (int)sb->pid);
	bool alive = stat(path, &st) == 0;
	if (alive) {
		/* The pid may have been reused: compare against our pidfd. */
		alive = waitpid(sb->pid, NULL, WNOHANG) == 0;
	}
	CHECK(!alive, "init %d gone", (int)sb->pid);
	snprintf(path, sizeof(path), "%s/sandboxes/%s", state, id);
	CHECK(stat(path, &st) < 0 && errno == ENOENT, "directory %s removed", path);
	CHECK(!file_contains("/proc/self/mountinfo", id), "no mount mentions %s on the host", id);
	CHECK(!cgroup_dir_exists(id), "no cgroup directory named %s", id);
	if (smoke_net) {
		char name[16];
		net_slot_ifname(smoke_net, slot, name);
		snprintf(path, sizeof(path), "/sys/class/net/%s", name);
		CHECK(stat(path, &st) < 0, "no host veth %s", name);
	}
}

static void probe_checks(const struct rt_sandbox *sb, const struct rt_spec *spec,
                         const char *mountinfo)
{
	const char *path = mountinfo;
	CHECK(strcmp(probe("done"), "1") == 0, "probe completed");
	CHECK(strcmp(probe("hostname"), spec->id) == 0, "hostname = %s", probe("hostname"));
	CHECK(strcmp(probe("uid"), "0") == 0 && strcmp(probe("pid"), "1") == 0,
	      "agent is root and pid 1 inside");
	CHECK(strcmp(probe("sid"), "1") == 0, "agent is session leader");
	CHECK(strcmp(probe("fds"), "0,1,2,3,") == 0, "only fds 0-3 open at start (%s)",
	      probe("fds"));
	CHECK(strcmp(probe("environ"), "PATH=/usr/bin:/bin;PROBE_MARK=1;WARREN_READY_FD=3;") == 0,
	      "environment exact (%s)", probe("environ"));
	static const char *const eperm[] = {
	    "mount",  "unshare", "unshare_user", "clone_newns",     "packet",   "raw_inet",
	    "ptrace", "keyctl",  "bpf",          "personality_rie", "mknod_chr"};
	for (size_t i = 0; i < ARRAY_SIZE(eperm); i++)
		CHECK(strcmp(probe(eperm[i]), "EPERM") == 0, "%s denied (%s)", eperm[i],
		      probe(eperm[i]));
	CHECK(strcmp(probe("clone3"), "ENOSYS") == 0, "clone3 -> ENOSYS (%s)", probe("clone3"));
	static const char *const allowed[] = {"netlink",
	                                      "tcp",
	                                      "personality_query",
	                                      "personality_linux32",
	                                      "personality_linux",
	                                      "mknod_fifo",
	                                      "dev_null",
	                                      "ptmx",
	                                      "python3",
	                                      "node",
	                                      "git",
	                                      "bash",
	                                      "etc_new_file",
	                                      "root_write"};
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		CHECK(strcmp(probe(allowed[i]), "0") == 0, "%s allowed (%s)", allowed[i],
		      probe(allowed[i]));
	CHECK(strcmp(probe("proc_sys_write"), "0") != 0, "/proc/sys not writable (%s)",
	      probe("proc_sys_write"));
	CHECK(strcmp(probe("usr_write"), "EROFS") == 0, "/usr read-only (%s)", probe("usr_write"));
	CHECK(file_contains(path, " /proc/keys "), "/proc/keys masked");
	CHECK(file_contains(path, " /proc/sys ro,"), "/proc/sys read-only");
	CHECK(strcmp(probe("x32"), "signal31") == 0, "x32 syscall kills (%s)", probe("x32"));
	CHECK(strcmp(probe("home_user"), "1000:755") == 0, "/home/user 1000:755 (%s)",
	      probe("home_user"));
	CHECK(strcmp(probe("home_user_bashrc"), "1000:644") == 0, ".bashrc owned by user (%s)",
	      probe("home_user_bashrc"));
	CHECK(strcmp(probe("root_dir"), "0:700") == 0, "/root 0:700 (%s)", probe("root_dir"));
	CHECK(strcmp(probe("tmp"), "0:1777") == 0, "/tmp 0:1777 (%s)", probe("tmp"));
	CHECK(strcmp(probe("etc_passwd"), "65534:644") == 0, "/etc/passwd host-owned = nobody (%s)",
	      probe("etc_passwd"));
	CHECK(strcmp(probe("NoNewPrivs"), "1") == 0, "no_new_privs");
	CHECK(strcmp(probe("Seccomp"), "2") == 0, "seccomp filter mode");
	CHECK(strcmp(probe("CapBnd"), "00000000a00405fb") == 0, "bounding set %s", probe("CapBnd"));
}

static char *const probe_env[] = {"PATH=/usr/bin:/bin", "PROBE_MARK=1", NULL};
static char *const fail_env[] = {"PROBE_FAIL=1", NULL};

static bool keep_none(const char *id, void *ud)
{
	(void)id, (void)ud;
	return false;
}

int main(int argc, char **argv)
{
	char agent[PATH_MAX], state[PATH_MAX] = "/tmp/warren-rt-smoke";
	bool use_cg = true, use_net = true, own_state = true;
	const char *exec_cmd = NULL;
	int loops = 5, opt;
	struct warren_error err = {0};
	struct cgroup_mgr *cg = NULL;
	struct net_mgr *net = NULL;
	struct rt *rt = NULL;
	int64_t t;
	int r;

	log_setup("rt-smoke", getenv("WARREN_LOG") ? LOG_DEBUG : LOG_INFO);
	/* Default agent: rt-probe next to this executable. */
	ssize_t n = readlink("/proc/self/exe", agent, sizeof(agent) - 16);
	if (n < 0)
		return 2;
	agent[n] = '\0';
	strcpy(strrchr(agent, '/') + 1, "rt-probe");

	static const struct option opts[] = {
	    {"agent", required_argument, NULL, 'a'},
	    {"no-cgroups", no_argument, NULL, 'C'},
	    {"no-net", no_argument, NULL, 'N'},
	    {"state", required_argument, NULL, 's'},
	    {"loops", required_argument, NULL, 'n'},
	    {"exec", required_argument, NULL, 'e'},
	    {},
	};
	while ((opt = getopt_long(argc, argv, "a:CNs:n:e:", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			snprintf(agent, sizeof(agent), "%s", optarg);
			break;
		case 'C':
			use_cg = false;
			break;
		case 'N':
			use_net = false;
			break;
		case 's':
			snprintf(state, sizeof(state), "%s", optarg);
			own_state = false;
			break;
		case 'n':
			loops = atoi(optarg);
			break;
		case 'e':
			exec_cmd = optarg;
			break;
		default:
			fprintf(stderr, "usage: rt-smoke [--agent P] [--no-cgroups] [--no-net] "
			                "[--state DIR] [-n LOOPS] [--exec CMD]\n");
			return 2;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "rt-smoke: needs root\n");
		return 77;
	}
	if (own_state)
		rm_rf(state);

	if (use_cg && cgroup_mgr_new("warren-rt-smoke", &cg, &err) < 0) {
		fprintf(stderr, "rt-smoke: cgroups: %s\n", err.msg);
		return 1;
	}
	if (use_net) {
		struct net_config nc = {.bridge = "wsmoke0", .subnet = "10.250.0.0/16"};
		if (net_mgr_new(&nc, &net, &err) < 0) {
			fprintf(stderr, "rt-smoke: net: %s\n", err.msg);
			return 1;
		}
		smoke_net = net;
	}
	struct rt_config cfg = {
	    .state_dir = state, .agent_binary = agent, .cgroups = cg, .net = net};
	if (rt_new(&cfg, &rt, &err) < 0) {
		fprintf(stderr, "rt-smoke: rt_new: %s\n", err.msg);
		return 1;
	}
	const char *base_name = strrchr(agent, '/');
	bool probe_mode = strcmp(base_name ? base_name + 1 : agent, "rt-probe") == 0;
	printf("# agent %s (%s), state %s, cgroups %s, net %s\n", agent,
	       probe_mode ? "probe checks" : "real agent: /health only", state, cg ? "on" : "off",
	       net ? "on" : "off");

	CHECK(rt_template_exists(rt, "base") == -ENOENT, "no template before ensure");
	t = now_mono_us();
	r = rt_template_ensure(rt, "base", &err);
	CHECK(r == 0, "template ensure (%s) in %.1f ms", r ? err.msg : "built",
	      (now_mono_us() - t) / 1000.0);
	t = now_mono_us();
	r = rt_template_ensure(rt, "base", &err);
	CHECK(r == 0, "template ensure again in %.2f ms", (now_mono_us() - t) / 1000.0);
	CHECK(rt_template_exists(rt, "base") == 0, "template base exists");
	CHECK(rt_template_exists(rt, "nope") == -ENOENT, "template nope does not");
	CHECK(rt_template_ensure(rt, "nope", &err) == -ENOENT, "ensure nope: %s", err.msg);
	char rootfs[PATH_MAX - 64];
	struct stat st;
	snprintf(rootfs, sizeof(rootfs), "%s/templates/base/rootfs", state);
	snprintf(agent, sizeof(agent), "%s/etc/shadow", rootfs);
	CHECK(!file_contains(agent, "$"), "template shadow holds no hash");
	snprintf(agent, sizeof(agent), "%s/etc/ssh/ssh_host_rsa_key", rootfs);
	CHECK(lstat(agent, &st) < 0, "no ssh host key in the template");
	snprintf(agent, sizeof(agent), "%s/etc/passwd", rootfs);
	CHECK(file_contains(agent, "user:x:1000:1000::/home/user:/bin/bash"), "passwd has user");

	/* ---- one sandbox, inspected from the host ---- */
	struct rt_spec spec = {
	    .id = "smoke1",
	    .template_id = "base",
	    .slot = SLOT0 + 1,
	    .cpu_count = 1,
	    .memory_mb = 256,
	    .pids_max = 128,
	    .allow_internet = false,
	    .agent_env = probe_env,
	    .ready_timeout_ms = 5000,
	};
	struct rt_sandbox sb;
	t = now_mono_us();
	r = rt_create(rt, &spec, &sb, &err);
	CHECK(r == 0, "create %s in %.2f ms%s%s", spec.id, (now_mono_us() - t) / 1000.0,
	      r ? ": " : "", r ? err.msg : "");
	if (r == 0) {
		char path[PATH_MAX];
		char expect[64];

		static const char *const nss[] = {"user", "pid", "mnt",   "net",
		                                  "uts",  "ipc", "cgroup"};
		for (size_t i = 0; i < ARRAY_SIZE(nss); i++) {
			char mine[64] = "", theirs[64] = "";
			snprintf(path, sizeof(path), "/proc/self/ns/%s", nss[i]);
			ssize_t a = readlink(path, mine, sizeof(mine) - 1);
			snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)sb.pid, nss[i]);
			ssize_t b = readlink(path, theirs, sizeof(theirs) - 1);
			CHECK(a > 0 && b > 0 && strcmp(mine, theirs) != 0, "own %s namespace (%s)",
			      nss[i], theirs);
		}
		snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)sb.pid);
		snprintf(expect, sizeof(expect), "%u", 1000000u + spec.slot * 65536u);
		CHECK(file_contains(path, expect), "uid_map maps 0 to %s", expect);
		snprintf(path, sizeof(path), "/proc/%d/root/tmp/probe.txt", (int)sb.pid);
		if (probe_mode) {
			r = read_file(path, 1 << 16, &probe_text, NULL);
			CHECK(r == 0, "probe report readable via /proc/<pid>/root");
		}
		snprintf(path, sizeof(path), "/proc/%d/root/opt/warren/bin/warren-agent",
		         (int)sb.pid);
		CHECK(stat(path, &st) == 0, "root shows the template (agent present)");
		snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)sb.pid);
		CHECK(file_contains(path, " overlay "), "sandbox mountinfo has the overlay");
		CHECK(!file_contains("/proc/self/mountinfo", spec.id), "host mountinfo clean");
		if (cg)
			CHECK(cgroup_dir_exists(spec.id), "cgroup directory exists");
		if (probe_mode)
			probe_checks(&sb, &spec, path);
		if (net) {
			char ip[INET_ADDRSTRLEN], got[32] = "";
			struct sockaddr_in sin = {.sin_family = AF_INET,
			                          .sin_port = htons(RT_AGENT_PORT),
			                          .sin_addr = sb.addr};
			inet_ntop(AF_INET, &sb.addr, ip, sizeof(ip));
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			static const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\n"
			                          "Connection: close\r\n\r\n";
			bool ok = s >= 0 && connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0;
			if (ok && probe_mode)
				ok = read(s, got, sizeof(got) - 1) > 0 &&
				     strcmp(got, "probe-hello\n") == 0;
			else if (ok)
				ok = write(s, req, sizeof(req) - 1) == sizeof(req) - 1 &&
				     read(s, got, sizeof(got) - 1) > 0 &&
				     strncmp(got, "HTTP/1.1 2", 10) == 0;
			CHECK(ok, "host reaches the agent at %s:%d", ip, RT_AGENT_PORT);
			if (s >= 0)
				close(s);
		}
		if (exec_cmd) {
			/* A host command against the live sandbox (e.g. rt-exec.py). */
			char ip[INET_ADDRSTRLEN], pidstr[16];
			inet_ntop(AF_INET, &sb.addr, ip, sizeof(ip));
			snprintf(pidstr, sizeof(pidstr), "%d", (int)sb.pid);
			setenv("SANDBOX_ADDR", ip, 1);
			setenv("SANDBOX_ID", spec.id, 1);
			setenv("SANDBOX_PID", pidstr, 1);
			fflush(stdout);
			int status = system(exec_cmd);
			CHECK(status == 0, "--exec %s (status %d)", exec_cmd, status);
		}
		if (probe_mode)
			printf("#     /sys mounted: %s; cgroup view: %s\n",
			       strcmp(probe("sys_mounted"), "0") == 0 ? "yes" : "no",
			       probe("cgroup"));

		int fd = rt_adopt(rt, sb.pid, sb.start_time + 1);
		CHECK(fd == -ESRCH, "adopt with a wrong start time refused");
		fd = rt_adopt(rt, sb.pid, sb.start_time);
		CHECK(fd >= 0, "adopt with the right start time");
		if (fd >= 0)
			close(fd);
		/* A stored pid now used by another process: that process is spared. */
		pid_t other = fork();
		if (other == 0) {
			pause();
			_exit(0);
		}
		CHECK(rt_destroy(rt, "smokespare", SLOT0 + 99, other, sb.start_time + 100000) ==
		              0 &&
		          waitpid(other, NULL, WNOHANG) == 0,
		      "destroy with a start time that does not match spares pid %d", (int)other);
		kill(other, SIGKILL);
		waitpid(other, NULL, 0);

		/* What a hostile sandbox could leave in its upper layer: a very deep
		 * tree and a symlink out to a host directory. */
		snprintf(path, sizeof(path), "%s/sandboxes/%s/upper", state, spec.id);
		int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		for (int depth = 0; dfd >= 0 && depth < 1000; depth++) {
			mkdirat(dfd, "d", 0700);
			int next = openat(dfd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			close(dfd);
			dfd = next;
		}
		if (dfd >= 0) {
			close(openat(dfd, "bottom", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
			close(dfd);
		}
		mkdir("/tmp/rt-smoke-canary", 0700);
		close(open("/tmp/rt-smoke-canary/keep", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
		snprintf(path, sizeof(path), "%s/sandboxes/%s/upper/evil", state, spec.id);
		symlink("/tmp/rt-smoke-canary", path);

		t = now_mono_us();
		r = rt_destroy(rt, spec.id, spec.slot, sb.pid, sb.start_time);
		CHECK(r == 0, "destroy (with a 1000-deep tree in upper) in %.2f ms (%d)",
		      (now_mono_us() - t) / 1000.0, r);
		CHECK(access("/tmp/rt-smoke-canary/keep", F_OK) == 0,
		      "a symlink in upper is not followed");
		rm_rf("/tmp/rt-smoke-canary");
		check_gone(&sb, state, spec.id, spec.slot);
		close(sb.pidfd);
		CHECK(rt_destroy(rt, spec.id, spec.slot, sb.pid, sb.start_time) == 0,
		      "destroy is idempotent");
	}

	/* ---- failure paths leave nothing behind ---- */
	struct rt_spec bad = spec;
	bad.id = "smokefail";
	bad.agent_env = fail_env;
	if (probe_mode) {
		r = rt_create(rt, &bad, &sb, &err);
		CHECK(r < 0 && strstr(err.msg, "exited"), "agent exiting early -> %s", err.msg);
		sb.pid = 0;
		check_gone(&sb, state, bad.id, bad.slot);
	}
	if (probe_mode) {
		static char *const hang_env[] = {"PROBE_HANG=1", NULL};
		bad.id = "smokehang";
		bad.agent_env = hang_env;
		bad.ready_timeout_ms = 300;
		t = now_mono_us();
		r = rt_create(rt, &bad, &sb, &err);
		CHECK(r == -ETIMEDOUT, "agent never ready -> %s after %.0f ms", err.msg,
		      (now_mono_us() - t) / 1000.0);
		sb.pid = 0;
		check_gone(&sb, state, bad.id, bad.slot);
		bad.ready_timeout_ms = 0;
	}
	/* A failing setup step in the child is reported by name. */
	char usr[PATH_MAX], usr_off[PATH_MAX];
	snprintf(usr, sizeof(usr), "%s/templates/base/rootfs/usr", state);
	snprintf(usr_off, sizeof(usr_off), "%s/templates/base/rootfs/usr.off", state);
	if (rename(usr, usr_off) == 0) {
		bad.id = "smokenousr";
		bad.agent_env = probe_env;
		r = rt_create(rt, &bad, &sb, &err);
		CHECK(r == -ENOENT && strstr(err.msg, "binding /usr read-only: No such file"),
		      "child setup error reported: %s", err.msg);
		sb.pid = 0;
		check_gone(&sb, state, bad.id, bad.slot);
		rename(usr_off, usr);
	}
	bad.id = "Bad/Id";
	CHECK(rt_create(rt, &bad, &sb, &err) == -EINVAL, "invalid id refused");
	bad.id = "smokex";
	bad.template_id = "nope";
	CHECK(rt_create(rt, &bad, &sb, &err) == -ENOENT, "unknown template: %s", err.msg);

	/* ---- orphans ---- */
	struct rt_spec orph = spec;
	orph.id = "smokeorphan";
	if (rt_create(rt, &orph, &sb, &err) == 0) {
		CHECK(rt_cleanup_orphans(rt, keep_none, NULL) == 0, "cleanup orphans");
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/sandboxes/%s", state, orph.id);
		CHECK(stat(path, &st) < 0, "orphan directory removed");
		if (cg)
			CHECK(!cgroup_dir_exists(orph.id),
			      "orphan cgroup removed (its init killed)");
		rt_destroy(rt, orph.id, orph.slot, sb.pid, sb.start_time);
		check_gone(&sb, state, orph.id, orph.slot);
		close(sb.pidfd);
	} else {
		CHECK(0, "create orphan: %s", err.msg);
	}

	/* ---- timings ---- */
	int64_t c_total = 0, d_total = 0, c_max = 0;
	for (int i = 0; i < loops; i++) {
		char id[32];
		snprintf(id, sizeof(id), "smokeloop%d", i);
		spec.id = id;
		spec.slot = SLOT0 + 2 + (unsigned)i;
		t = now_mono_us();
		r = rt_create(rt, &spec, &sb, &err);
		int64_t c = now_mono_us() - t;
		if (r < 0) {
			CHECK(0, "loop create %s: %s", id, err.msg);
			break;
		}
		t = now_mono_us();
		r = rt_destroy(rt, id, spec.slot, sb.pid, sb.start_time);
		d_total += now_mono_us() - t;
		c_total += c;
		c_max = c > c_max ? c : c_max;
		close(sb.pidfd);
		if (r < 0)
			CHECK(0, "loop destroy %s: %d", id, r);
	}
	if (loops > 0)
		printf("# %d sandboxes: create avg %.2f ms (max %.2f), destroy avg %.2f ms\n",
		       loops, c_total / 1000.0 / loops, c_max / 1000.0, d_total / 1000.0 / loops);

	rt_free(rt);
	/* The smoke bridge, its firewall tables and the parent cgroups are ours too. */
	if (net)
		CHECK(net_mgr_remove(net) == 0, "smoke bridge and firewall removed");
	if (cg)
		CHECK(cgroup_mgr_remove(cg) == 0, "smoke parent cgroups removed");
	net_mgr_free(net);
	cgroup_mgr_free(cg);
	if (own_state)
		rm_rf(state);
	printf("# %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
