/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_RUNTIME_DISK_H
#define WARREN_RUNTIME_DISK_H

/*
 * A sandbox's disk: the quota on what it can write. The kernel here has no
 * quota support, so each sandbox gets a file system of its own:
 *
 *   <dir>/disk.img   a sparse file of size_mb MiB holding an ext4 (made by
 *                    mke2fs from e2fsprogs; only what is written takes space)
 *   <dir>/disk/      its mount point on the host (nosuid, nodev), through a
 *                    loop device with autoclear, holding
 *   <dir>/disk/upper and <dir>/disk/work: the overlay's upper and work
 *                    directories, owned by the sandbox's mapped root.
 *
 * A write past the size fails with ENOSPC inside the sandbox, whoever makes
 * it (commands or the agent's file API). The loop device has no owner but
 * the mount: it goes away by itself (autoclear) when the file system's last
 * user does, i.e. after disk_detach and the end of the sandbox's mount
 * namespace (which holds the overlay on top of it).
 *
 * <dir> is the sandbox's directory (<state>/sandboxes/<id>), an absolute path
 * without ',' (overlay options). None of these functions logs. They are
 * thread-safe for different dirs; one dir is managed by one thread at a time.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <warren/error.h>

/* Bounds of a disk's size in MiB: mke2fs's smallest useful ext4, and 1 TiB. */
#define DISK_MB_MIN 16u
#define DISK_MB_MAX 1048576u

struct disk_usage {
	uint64_t used_bytes;  /* blocks in use, file system metadata included */
	uint64_t total_bytes; /* the file system's size (a little below the image's) */
};

/*
 * Makes <dir>/disk.img (size_mb MiB, sparse), formats it, attaches and mounts
 * it at <dir>/disk, and creates upper/ and work/ in it, all owned by
 * owner:owner (the root dir too). <dir> must exist; disk.img must not
 * (-EEXIST). On failure nothing of it is left (no mount, loop, image).
 */
int disk_create(const char *dir, unsigned size_mb, uint32_t owner, struct warren_error *err);

/*
 * Makes sure <dir>/disk.img is mounted at <dir>/disk: a no-op when it is, else
 * the loop device that still backs it is reused (its file system may be alive
 * in a sandbox's mount namespace: a second loop device would mount it twice),
 * else a new one is attached. For a warrend restart or a reboot, when the
 * image was kept and the mount may be gone (the journal replays on mount).
 * -ENOENT when there is no image.
 */
int disk_attach(const char *dir, struct warren_error *err);

/* Is <dir>/disk a mount point? */
bool disk_mounted(const char *dir);

/*
 * Unmounts <dir>/disk (lazily when busy); the loop device follows once the
 * file system's last user is gone. Idempotent: 0 when nothing is mounted.
 */
int disk_detach(const char *dir);

/* disk_detach, then removes disk.img and the mount point. Idempotent. */
int disk_destroy(const char *dir);

/* statfs of the mounted disk. -ENOTCONN when it is not mounted. */
int disk_usage(const char *dir, struct disk_usage *ret);

/*
 * The loop device whose backing file is path ("/dev/loopN" into buf), by its
 * sysfs entry: 0, -ENOENT when none, -ENAMETOOLONG.
 */
int disk_find_loop(const char *image_path, char *buf, size_t size);

#endif
