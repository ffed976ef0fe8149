/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's file system view, built by its setup child inside its own
 * user and mount namespaces. Every mount made here lives in that mount
 * namespace only (the inherited tree is made private first), so nothing ever
 * appears in the host's mount table and nothing needs unmounting on the host:
 * the namespace, and all its mounts, go away with the sandbox's last process.
 *
 * Runs between clone and execve in a child of a possibly multithreaded
 * process: raw system calls only, no allocation, no stdio.
 */
#include "runtime/rt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"

int mnt_format_overlay_opts(char *buf, size_t size, const char *lower, const char *upper,
                            const char *work)
{
	/* overlayfs splits its options at ',' and lowerdir at ':'. */
	for (const char *const *p = (const char *const[]){lower, upper, work, NULL}; *p; p++)
		if (strpbrk(*p, ",:\\"))
			return -EINVAL;
	int n =
	    snprintf(buf, size, "lowerdir=%s,upperdir=%s,workdir=%s,userxattr", lower, upper, work);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

#define STEP(s)                                                                                    \
	do {                                                                                       \
		*ret_step = (s);                                                                   \
		return -errno;                                                                     \
	} while (0)

/* Binds src (a host path) onto dst, recursively, read-only, nosuid, nodev. */
static int bind_ro(const char *src, const char *dst)
{
	struct mount_attr attr = {
	    .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
	};

	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	/* mount_setattr only adds flags, so it also works on binds of host
	 * mounts whose other flags are locked in this user namespace. */
	if (mount_setattr(AT_FDCWD, dst, AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return -errno;
	return 0;
}

/* An empty regular file to bind a host device node (or /dev/null) onto. */
static int touch(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* /proc paths hidden as /dev/null (files) or an empty read-only tmpfs (dirs),
 * and kept read-only, as the container runtimes do. Missing ones are skipped. */
static const char *const proc_masked_files[] = {
    "proc/kcore",       "proc/keys",        "proc/latency_stats", "proc/timer_list",
    "proc/timer_stats", "proc/sched_debug", "proc/sysrq-trigger",
};
static const char *const proc_masked_dirs[] = {"proc/acpi", "proc/scsi", "proc/asound"};
static const char *const proc_ro[] = {"proc/sys", "proc/bus", "proc/fs", "proc/irq"};

static int setup_proc(const char **ret_step)
{
	if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		STEP("mounting /proc");
	for (size_t i = 0; i < ARRAY_SIZE(proc_ro); i++) {
		int r = bind_ro(proc_ro[i], proc_ro[i]);
		if (r < 0 && r != -ENOENT) {
			*ret_step = "making /proc/sys read-only";
			return r;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(proc_masked_files); i++) {
		if (access(proc_masked_files[i], F_OK) < 0)
			continue;
		if (mount("/dev/null", proc_masked_files[i], NULL, MS_BIND, NULL) < 0)
			STEP("masking a /proc file");
	}
	for (size_t i = 0; i < ARRAY_SIZE(proc_masked_dirs); i++) {
		if (access(proc_masked_dirs[i], F_OK) < 0)
			continue;
		if (mount("tmpfs", proc_masked_dirs[i], "tmpfs",
		          MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=555") < 0)
			STEP("masking a /proc directory");
	}
	return 0;
}

static const char *const dev_nodes[][2] = {
    {"/dev/null", "dev/null"},     {"/dev/zero", "dev/zero"},       {"/dev/full", "dev/full"},
    {"/dev/random", "dev/random"}, {"/dev/urandom", "dev/urandom"}, {"/dev/tty", "dev/tty"},
};
static const char *const dev_links[][2] = {
    {"pts/ptmx", "dev/ptmx"},          {"/proc/self/fd", "dev/fd"},
    {"/proc/self/fd/0", "dev/stdin"},  {"/proc/self/fd/1", "dev/stdout"},
    {"/proc/self/fd/2", "dev/stderr"},
};

static int setup_dev(const char **ret_step)
{
	if (mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k") < 0)
		STEP("mounting /dev");
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		int r = touch(dev_nodes[i][1], 0666);
		if (r < 0) {
			*ret_step = "creating a /dev node";
			return r;
		}
		/* A bind of the host's node: a user namespace cannot mknod. */
		if (mount(dev_nodes[i][0], dev_nodes[i][1], NULL, MS_BIND, NULL) < 0)
			STEP("binding a /dev node");
	}
	if (mkdir("dev/pts", 0755) < 0)
		STEP("creating /dev/pts");
	/* gid 5 is the tty group of the template's /etc/group. */
	if (mount("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	          "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0)
		STEP("mounting /dev/pts");
	if (mkdir("dev/shm", 01777) < 0)
		STEP("creating /dev/shm");
	if (mount("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	          "mode=1777,size=65536k") < 0)
		STEP("mounting /dev/shm");
	for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++)
		if (symlink(dev_links[i][0], dev_links[i][1]) < 0)
			STEP("creating a /dev symlink");
	return 0;
}

int mnt_setup_root(const struct mnt_plan *plan, const char **ret_step)
{
	int r;

	/* Nothing mounted below may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		STEP("making / private");
	if (mount("overlay", plan->root, "overlay", 0, plan->ovl_opts) < 0)
		STEP("mounting overlay");
	/* From here on all targets are relative to the new root, which the
	 * sandbox has not yet been able to touch: no hostile symlinks yet. */
	if (chdir(plan->root) < 0)
		STEP("entering the new root");

	r = bind_ro("/usr", "usr");
	if (r < 0) {
		*ret_step = "binding /usr read-only";
		return r;
	}
	r = setup_proc(ret_step);
	if (r < 0)
		return r;
	r = setup_dev(ret_step);
	if (r < 0)
		return r;
	/* /tmp is the template's directory on the sandbox's disk, not a tmpfs: a tmpfs is
	 * charged to the memory limit, where a big file in /tmp ends with the OOM killer
	 * taking the agent instead of a clean "No space left on device" at the quota. */
	/* sysfs needs a fully visible sysfs on the host side; leave /sys empty if
	 * the kernel refuses it here. */
	if (mount("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) ==
	    0) {
		if (access("sys/firmware", F_OK) == 0 &&
		    mount("tmpfs", "sys/firmware", "tmpfs",
		          MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=555") < 0)
			STEP("masking /sys/firmware");
	}

	/* pivot_root(".", ".") stacks the old root on the new one; detaching it
	 * leaves no path to the host's tree. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		STEP("pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		STEP("detaching the old root");
	if (chdir("/") < 0)
		STEP("chdir /");
	return 0;
}
