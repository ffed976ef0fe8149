/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_RUNTIME_CHECKPOINT_H
#define WARREN_RUNTIME_CHECKPOINT_H

/*
 * Pause and resume of a sandbox with its memory, through CRIU (docs/PERSISTENCE.md).
 *
 * rt_checkpoint dumps the sandbox's whole process tree (with its user, pid,
 * mount, uts, ipc, net and cgroup namespaces, memory, open files, ptys, tmpfs
 * contents, seccomp filters) into <state>/sandboxes/<id>/checkpoint and ends
 * it: the processes are gone, the cgroups and the host end of the veth are
 * removed, so a paused sandbox holds no memory and no CPU. The overlay's upper
 * directory (the sandbox's disk) stays where it is. The sandbox's own network
 * device is detached before the dump (criu then sees a namespace with only lo)
 * and attached again, with the same address, after a restore, exactly as at
 * creation: criu's own veth restore does not work inside a user namespace on
 * this kernel (see the page).
 *
 * rt_restore brings it back from those images: same pid numbers inside, same
 * memory, files and terminals; established TCP connections are closed (the
 * clients reconnect), listening sockets are kept.
 *
 * Both leave the sandbox as it was on failure, and say why (the last error of
 * criu's log): a failed checkpoint leaves it running (its network attached
 * again), a failed restore leaves it paused with its images and disk.
 *
 * criu runs as <criu_dir>/usr/lib64/ld-linux-x86-64.so.2 --library-path
 * <criu_dir>/usr/lib/x86_64-linux-gnu <criu_dir>/usr/sbin/criu (scripts/criu.sh
 * installs it there). Test hooks: the environment variables
 * WARREN_TEST_FAIL_PAUSE=N and WARREN_TEST_FAIL_RESTORE=N make the next N
 * checkpoints / restores of the process fail inside criu, late (at its
 * post-dump / post-restore stage, through an action script).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <warren/error.h>

#include "runtime/sandbox.h"

/* Where criu is installed; 0 when it can run, -ENOENT (err filled) when it is missing. */
int rt_criu_available(struct rt *rt, struct warren_error *err);

/*
 * Checkpoints the running sandbox (id, slot, pid, start_time) and stops it.
 * allow_internet is needed to re-attach its network if the dump fails.
 * 0: paused (images complete), or -errno with err filled (still running, unless
 * it was gone already: -ESRCH).
 */
int rt_checkpoint(struct rt *rt, const char *id, unsigned slot, pid_t pid, uint64_t start_time,
                  bool allow_internet, struct warren_error *err);

/* Is there a complete checkpoint of id? */
bool rt_checkpoint_exists(struct rt *rt, const char *id);

/*
 * Restores a paused sandbox: spec gives id, slot, limits, disk and allow_internet
 * (agent_env is not used). On success ret is filled as by rt_create; the images
 * stay until rt_checkpoint_discard (call it once the sandbox is recorded as
 * running). On failure -errno with err filled and the sandbox is still paused
 * (images and disk untouched).
 */
int rt_restore(struct rt *rt, const struct rt_spec *spec, struct rt_sandbox *ret,
               struct warren_error *err);
/* Removes the images of a restored sandbox. Idempotent. */
int rt_checkpoint_discard(struct rt *rt, const char *id);

#endif
