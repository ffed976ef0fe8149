/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-sandbox disks: sparse ext4 images on loop devices (see disk.h).
 *
 * The image is formatted by mke2fs (e2fsprogs) with no discard, lazy inode
 * tables and journal, and no resize inode: it writes about 240 KiB, and a
 * 10 GiB image takes that much of the host's disk until the sandbox writes.
 * The never-written inode tables read as zeroes (holes), so they are mounted
 * with noinit_itable: no ext4lazyinit thread zeroes them (160 MiB for 10 GiB).
 * No reserved blocks (-m 0): the sandbox's root is not the file system's.
 * The file system is mounted with "discard", so files the sandbox deletes give
 * their space back to the host (holes punched in the image).
 */
#include "runtime/disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"

#define IMAGE_NAME "disk.img"
#define MOUNT_NAME "disk"
#define MOUNT_OPTS "discard,noinit_itable,errors=remount-ro"
/* LOOP_CTL_GET_FREE can hand the same device to a concurrent caller: retry. */
#define LOOP_TRIES 64
#define MKE2FS_ERR_MAX 200

struct disk_paths {
	char img[PATH_MAX], mnt[PATH_MAX];
};

static int paths_of(const char *dir, struct disk_paths *p)
{
	int a, b;

	if (!dir || dir[0] != '/')
		return -EINVAL;
	a = snprintf(p->img, sizeof(p->img), "%s/" IMAGE_NAME, dir);
	b = snprintf(p->mnt, sizeof(p->mnt), "%s/" MOUNT_NAME, dir);
	if (a < 0 || b < 0 || (size_t)a >= sizeof(p->img) || (size_t)b >= sizeof(p->mnt))
		return -ENAMETOOLONG;
	return 0;
}

/* ---- mke2fs ---- */

static const char *mke2fs_path(void)
{
	static const char *const cands[] = {"/usr/sbin/mke2fs", "/sbin/mke2fs"};

	for (size_t i = 0; i < ARRAY_SIZE(cands); i++)
		if (access(cands[i], X_OK) == 0)
			return cands[i];
	return NULL;
}

/* Runs mke2fs on img; its stderr (first line) goes into err on failure. */
static int run_mke2fs(const char *img, uint32_t owner, struct warren_error *err)
{
	char ext[96];
	const char *path = mke2fs_path();
	char *const envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C",
	                      NULL};
	posix_spawn_file_actions_t fa;
	_cleanup_close_ int err_r = -1;
	int fds[2], status = 0, r;
	pid_t pid;

	if (!path)
		return err_set(err, ENOENT, "mke2fs not found (install e2fsprogs)");
	snprintf(ext, sizeof(ext),
	         "lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=%u:%u", owner, owner);
	/* No resize inode: its reserved descriptor blocks are most of what mke2fs writes. */
	char *const argv[] = {(char *)"mke2fs",
	                      (char *)"-q",
	                      (char *)"-F",
	                      (char *)"-t",
	                      (char *)"ext4",
	                      (char *)"-m",
	                      (char *)"0",
	                      (char *)"-O",
	                      (char *)"^resize_inode",
	                      (char *)"-E",
	                      ext,
	                      (char *)img,
	                      NULL};
	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_set(err, errno, "pipe: %s", strerror(errno));
	err_r = fds[0];
	r = posix_spawn_file_actions_init(&fa);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	if (r == 0)
		r = posix_spawn(&pid, path, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (r != 0)
		return err_set(err, r, "running %s: %s", path, strerror(r));

	char msg[MKE2FS_ERR_MAX + 1];
	size_t n = 0;
	for (;;) {
		ssize_t k = read(err_r, msg + n, sizeof(msg) - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
		if (n == sizeof(msg) - 1) {
			/* Drain the rest so mke2fs never blocks on a full pipe. */
			char sink[256];
			ssize_t d;
			while ((d = read(err_r, sink, sizeof(sink))) > 0 ||
			       (d < 0 && errno == EINTR))
				;
			break;
		}
	}
	msg[n] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return err_set(err, errno, "waiting for mke2fs: %s", strerror(errno));
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return err_set(
	    err, EIO, "mke2fs failed (%s %d): %s", WIFEXITED(status) ? "status" : "signal",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), n ? msg : "no message");
}

/* ---- loop devices ---- */

int disk_find_loop(const char *image_path, char *buf, size_t size)
{
	char real[PATH_MAX], path[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int found = -ENOENT;

	if (!realpath(image_path, real))
		return -errno;
	d = opendir("/sys/block");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;

		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", de->d_name);
		if (read_file(path, PATH_MAX + 16, &data, &len) < 0)
			continue;
		while (len > 0 && data[len - 1] == '\n')
			data[--len] = '\0';
		if (strcmp(data, real) != 0)
			continue;
		int n = snprintf(buf, size, "/dev/%s", de->d_name);
		found = n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
		break;
	}
	closedir(d);
	return found;
}

/*
 * Attaches img to a free loop device with autoclear. Returns the device's open
 * fd (the caller mounts it, then closes the fd) and its path in dev.
 */
static int loop_attach(const char *img, char dev[32], struct warren_error *err)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	_cleanup_close_ int img_fd = open(img, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

	if (ctl < 0)
		return err_set(err, errno, "opening /dev/loop-control: %s", strerror(errno));
	if (img_fd < 0)
		return err_set(err, errno, "opening %s: %s", img, strerror(errno));
	for (int tries = 0; tries < LOOP_TRIES; tries++) {
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return err_set(err, errno, "LOOP_CTL_GET_FREE: %s", strerror(errno));
		snprintf(dev, 32, "/dev/loop%d", n);
		int fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			/* Freed and removed by someone else meanwhile: ask again. */
			if (errno == ENOENT || errno == ENXIO)
				continue;
			return err_set(err, errno, "opening %s: %s", dev, strerror(errno));
		}
		struct loop_config cfg = {.fd = (uint32_t)img_fd};
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			return fd;
		int e = errno;
		close(fd);
		/* EBUSY: another process configured this device first. */
		if (e != EBUSY)
			return err_set(err, e, "LOOP_CONFIGURE %s: %s", dev, strerror(e));
	}
	return err_set(err, EBUSY, "no free loop device after %d tries", LOOP_TRIES);
}

static int mount_dev(const char *dev, const char *mnt)
{
	return mount(dev, mnt, "ext4", MS_NOSUID | MS_NODEV, MOUNT_OPTS) < 0 ? -errno : 0;
}

/* Attaches img to a new loop device and mounts it on mnt. */
static int attach_new(const char *img, const char *mnt, struct warren_error *err)
{
	char dev[32];
	int fd = loop_attach(img, dev, err);

	if (fd < 0)
		return fd;
	int r = mount_dev(dev, mnt);
	/* The mount holds the device now; on failure, this close detaches it (autoclear). */
	close(fd);
	if (r < 0)
		return err_set(err, -r, "mounting %s (%s) on %s: %s", img, dev, mnt, strerror(-r));
	return 0;
}

/* ---- the disk ---- */

bool disk_mounted(const char *dir)
{
	struct disk_paths p;
	struct statx stx;

	if (paths_of(dir, &p) < 0)
		return false;
	if (statx(AT_FDCWD, p.mnt, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return false;
	if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
	/* Older kernels: a mount point sits on another device than its parent. */
	struct stat parent;
	if (stat(dir, &parent) < 0)
		return false;
	return makedev(stx.stx_dev_major, stx.stx_dev_minor) != parent.st_dev;
}

static int make_layer_dirs(const char *mnt, uint32_t owner, struct warren_error *err)
{
	static const struct {
		const char *name;
		mode_t mode;
	} subs[] = {{"upper", 0755}, {"work", 0700}};
	_cleanup_close_ int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return err_set(err, errno, "opening %s: %s", mnt, strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		if (mkdirat(fd, subs[i].name, subs[i].mode) < 0 ||
		    fchownat(fd, subs[i].name, owner, owner, AT_SYMLINK_NOFOLLOW) < 0)
			return err_set(err, errno, "creating %s/%s: %s", mnt, subs[i].name,
			               strerror(errno));
	}
	return 0;
}

int disk_create(const char *dir, unsigned size_mb, uint32_t owner, struct warren_error *err)
{
	struct disk_paths p;
	int r;

	r = paths_of(dir, &p);
	if (r < 0)
		return err_set(err, -r, "disk path: %s", strerror(-r));
	if (size_mb < DISK_MB_MIN || size_mb > DISK_MB_MAX)
		return err_set(err, EINVAL, "disk size %u MiB out of range (%u..%u)", size_mb,
		               DISK_MB_MIN, DISK_MB_MAX);
	int fd = open(p.img, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, errno, "creating %s: %s", p.img, strerror(errno));
	r = ftruncate(fd, (off_t)size_mb << 20) < 0 ? -errno : 0;
	close(fd);
	if (r < 0) {
		err_set(err, -r, "sizing %s: %s", p.img, strerror(-r));
		goto fail;
	}
	r = run_mke2fs(p.img, owner, err);
	if (r < 0)
		goto fail;
	if (mkdir(p.mnt, 0700) < 0 && errno != EEXIST) {
		r = err_set(err, errno, "creating %s: %s", p.mnt, strerror(errno));
		goto fail;
	}
	r = attach_new(p.img, p.mnt, err);
	if (r < 0)
		goto fail;
	r = make_layer_dirs(p.mnt, owner, err);
	if (r < 0)
		goto fail;
	return 0;
fail:
	disk_destroy(dir);
	return r;
}

int disk_attach(const char *dir, struct warren_error *err)
{
	struct disk_paths p;
	struct stat st;
	char dev[32];
	int r;

	r = paths_of(dir, &p);
	if (r < 0)
		return err_set(err, -r, "disk path: %s", strerror(-r));
	if (disk_mounted(dir))
		return 0;
	if (lstat(p.img, &st) < 0)
		return err_set(err, errno, "%s: %s", p.img, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, EINVAL, "%s is not a regular file", p.img);
	if (mkdir(p.mnt, 0700) < 0 && errno != EEXIST)
		return err_set(err, errno, "creating %s: %s", p.mnt, strerror(errno));
	/* Its file system may still be alive in a sandbox: mount that very device. */
	if (disk_find_loop(p.img, dev, sizeof(dev)) == 0) {
		r = mount_dev(dev, p.mnt);
		if (r == 0)
			return 0;
		/* Never a second device on an image that still has one: only when it went
		 * away meanwhile (autoclear) is a new one attached. */
		if (disk_find_loop(p.img, dev, sizeof(dev)) == 0)
			return err_set(err, -r, "mounting %s (%s) on %s: %s", p.img, dev, p.mnt,
			               strerror(-r));
	}
	return attach_new(p.img, p.mnt, err);
}

int disk_detach(const char *dir)
{
	struct disk_paths p;
	int r = paths_of(dir, &p);

	if (r < 0)
		return r;
	/* Bounded: a mount point may carry more than one mount. */
	for (int i = 0; i < 8 && disk_mounted(dir); i++) {
		if (umount2(p.mnt, UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno == EINVAL || errno == ENOENT)
			return 0;
		/* Busy (a process of the host is inside): gone from view now, freed later. */
		if (errno != EBUSY || umount2(p.mnt, UMOUNT_NOFOLLOW | MNT_DETACH) < 0)
			return -errno;
	}
	return disk_mounted(dir) ? -EBUSY : 0;
}

int disk_destroy(const char *dir)
{
	struct disk_paths p;
	int r = paths_of(dir, &p), q;

	if (r < 0)
		return r;
	r = disk_detach(dir);
	if (r < 0)
		return r;
	/* The loop device, if still held by a dying namespace, keeps the data until it goes. */
	if (unlink(p.img) < 0 && errno != ENOENT)
		r = -errno;
	q = rmdir(p.mnt) < 0 && errno != ENOENT ? -errno : 0;
	return r < 0 ? r : q;
}

int disk_usage(const char *dir, struct disk_usage *ret)
{
	struct disk_paths p;
	struct statvfs sv;
	int r = paths_of(dir, &p);

	if (r < 0)
		return r;
	if (!disk_mounted(dir))
		return -ENOTCONN;
	if (statvfs(p.mnt, &sv) < 0)
		return -errno;
	ret->total_bytes = (uint64_t)sv.f_blocks * sv.f_frsize;
	ret->used_bytes = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
	return 0;
}
