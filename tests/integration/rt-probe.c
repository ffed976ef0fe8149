/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stand-in agent for rt-smoke: started by the runtime as the sandbox's
 * init, it probes its own isolation, writes "key=value" lines to
 * /tmp/probe.txt (read by rt-smoke through /proc/<pid>/root), signals
 * readiness on WARREN_READY_FD and then waits to be killed.
 * With PROBE_FAIL=1 in its environment it exits at once instead, with
 * PROBE_HANG=1 it never becomes ready (to test rt_create's failure paths).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>

static FILE *out;

/* Records the errno of a call expected to fail (0 when it succeeded). */
static void rec(const char *key, long rc)
{
	fprintf(out, "%s=%s\n", key, rc < 0 ? strerrorname_np(errno) : "0");
}

static void status_field(const char *name)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(name);
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			char *v = line + n + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			fprintf(out, "%s=%s\n", name, v);
		}
	}
	fclose(f);
}

static void owner(const char *key, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		fprintf(out, "%s=%s\n", key, strerrorname_np(errno));
	else
		fprintf(out, "%s=%u:%o\n", key, st.st_uid, st.st_mode & 07777);
}

/* A foreign-ABI (x32) system call must kill the caller: run it in a child. */
static void probe_x32(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		syscall(0x40000000 | SYS_getpid);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		fprintf(out, "x32=fork-failed\n");
		return;
	}
	if (WIFSIGNALED(status))
		fprintf(out, "x32=signal%d\n", WTERMSIG(status));
	else
		fprintf(out, "x32=exit%d\n", WEXITSTATUS(status));
}

static void count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char list[256] = "";

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d) ||
		    atoi(de->d_name) == fileno(out))
			continue;
		if (strlen(list) + strlen(de->d_name) + 2 < sizeof(list)) {
			strcat(list, de->d_name);
			strcat(list, ",");
		}
	}
	closedir(d);
	fprintf(out, "fds=%s\n", list);
}

static void probe(void)
{
	struct utsname u;
	struct clone_args ca = {.exit_signal = SIGCHLD};
	char buf[256];

	count_fds();
	uname(&u);
	fprintf(out, "hostname=%s\n", u.nodename);
	fprintf(out, "uid=%d\n", (int)getuid());
	fprintf(out, "pid=%d\n", (int)getpid());
	fprintf(out, "sid=%d\n", (int)getsid(0));
	rec("mount", mount("none", "/mnt", "tmpfs", 0, NULL));
	rec("unshare", unshare(CLONE_NEWNS));
	rec("unshare_user", unshare(CLONE_NEWUSER));
	rec("clone3", syscall(SYS_clone3, &ca, sizeof(ca)));
	rec("clone_newns", syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0));
	rec("packet", socket(AF_PACKET, SOCK_RAW, 0));
	rec("raw_inet", socket(AF_INET, SOCK_RAW, 1));
	rec("netlink", socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
	rec("tcp", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	rec("ptrace", ptrace(PTRACE_TRACEME, 0, 0, 0));
	rec("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
	rec("bpf", syscall(SYS_bpf, 0, 0, 0));
	rec("personality_rie", personality(READ_IMPLIES_EXEC));
	rec("personality_query", personality(0xffffffff));
	rec("personality_linux32", personality(0x8));
	rec("personality_linux", personality(0x0));
	rec("mknod_chr", mknod("/tmp/nod", S_IFCHR | 0600, makedev(1, 3)));
	rec("mknod_fifo", mknod("/tmp/fifo", S_IFIFO | 0600, 0));
	rec("proc_sys_write", open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC));
	rec("usr_write", open("/usr/warren-probe", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	rec("etc_new_file", open("/etc/warren-probe", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	rec("root_write", open("/root/probe", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	rec("dev_null", open("/dev/null", O_RDWR | O_CLOEXEC));
	rec("ptmx", open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
	rec("kcore_read", open("/proc/kcore", O_RDONLY | O_CLOEXEC));
	rec("python3", access("/usr/bin/python3", X_OK));
	rec("node", access("/usr/bin/node", X_OK));
	rec("git", access("/usr/bin/git", X_OK));
	rec("bash", access("/bin/bash", X_OK));
	rec("sys_mounted", access("/sys/kernel", F_OK));
	owner("home_user", "/home/user");
	owner("home_user_bashrc", "/home/user/.bashrc");
	owner("root_dir", "/root");
	owner("tmp", "/tmp");
	owner("etc_passwd", "/etc/passwd");
	rec("shadow_copied_host_hash", access("/etc/ssh/ssh_host_rsa_key", F_OK));
	status_field("CapBnd");
	status_field("CapEff");
	status_field("NoNewPrivs");
	status_field("Seccomp");
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		for (char *p = buf; *p; p++)
			if (*p == '\n')
				*p = ';';
		fprintf(out, "cgroup=%s\n", buf);
		close(fd);
	}
	probe_x32();
}

int main(void)
{
	const char *ready = getenv("WARREN_READY_FD");
	int ready_fd = ready ? atoi(ready) : -1;

	if (getenv("PROBE_FAIL"))
		return 3;
	if (getenv("PROBE_HANG"))
		for (;;)
			pause();
	out = fopen("/tmp/probe.txt", "we");
	if (!out)
		return 4;
	probe();
	extern char **environ;
	fprintf(out, "environ=");
	for (char **e = environ; *e; e++)
		fprintf(out, "%s;", *e);
	fprintf(out, "\n");
	fprintf(out, "done=1\n");
	fclose(out);
	/* Listen like the real agent, so the host can check the network path. */
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(49983)};
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 8) < 0)
		return 6;
	if (ready_fd < 0 || write(ready_fd, "r", 1) != 1)
		return 5;
	close(ready_fd);
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		static const char hello[] = "probe-hello\n";
		if (write(c, hello, sizeof(hello) - 1) < 0) {
		}
		close(c);
	}
}
