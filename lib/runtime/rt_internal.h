/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_RUNTIME_RT_INTERNAL_H
#define WARREN_RUNTIME_RT_INTERNAL_H

/*
 * Private contracts between the files of the sandbox runtime core
 * (sandbox.c, mounts.c, seccomp.c, template.c). Nothing outside lib/runtime
 * includes this.
 */

#include <linux/filter.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/sandbox.h"

/* Size of one sandbox's id range: inside ids 0..65535. */
#define RT_ID_RANGE 65536u
/* The in-sandbox uid/gid of the unprivileged user. */
#define RT_USER_ID 1000u

struct rt {
	char *state_dir;
	char *agent_binary;
	char *criu_dir; /* checkpoint.c */
	uint32_t uid_base;
	struct cgroup_mgr *cgroups; /* borrowed, may be NULL (test-only mode) */
	struct net_mgr *net;        /* borrowed, may be NULL (test-only mode) */
	struct sock_fprog seccomp;  /* precompiled filter, owned (filter array) */
	pthread_mutex_t template_lock;
};

/* ---- seccomp.c ---- */

/*
 * Compiles the sandbox's seccomp filter into classic BPF. The program is built
 * once in the (possibly multithreaded) parent so the setup child, which must
 * not call malloc, only has to load it. ret->filter is heap-allocated, freed
 * with seccomp_prog_free().
 */
int seccomp_prog_build(struct sock_fprog *ret, struct warren_error *err);
void seccomp_prog_free(struct sock_fprog *prog);

/*
 * In the setup child: drops the capability bounding set to the container
 * default minus NET_RAW and MKNOD, clears ambient capabilities, sets
 * no_new_privs and loads prog. Only raw system calls (async-signal-safe).
 * On failure returns -errno and sets *ret_step to a static description.
 */
int seccomp_lockdown(const struct sock_fprog *prog, const char **ret_step);

/* ---- mounts.c ---- */

/*
 * Everything the setup child needs to build its root, computed by the parent
 * (the child does not allocate). Paths are absolute host paths.
 */
struct mnt_plan {
	const char *root;     /* <sandbox>/root: the overlay's mount point */
	const char *ovl_opts; /* "lowerdir=...,upperdir=...,workdir=...,userxattr" */
};

/* Builds the plan's option string into buf (size bytes). -ENAMETOOLONG if it does not fit. */
int mnt_format_overlay_opts(char *buf, size_t size, const char *lower, const char *upper,
                            const char *work);

/*
 * In the setup child, inside its new user and mount namespaces, as root of
 * the namespace: makes the inherited tree private, mounts the overlay, /usr,
 * /proc, /dev, /tmp, /sys, pivots into the new root and detaches the old one.
 * The cwd is "/" afterwards. Only raw system calls. On failure returns -errno
 * and sets *ret_step to a static description ("mounting overlay").
 */
int mnt_setup_root(const struct mnt_plan *plan, const char **ret_step);

/* ---- template.c ---- */

/* <state>/templates/<id>/rootfs into buf. -ENAMETOOLONG if it does not fit. */
int template_rootfs_path(const struct rt *rt, const char *template_id, char *buf, size_t size);

/*
 * Fills a fresh upper directory (an open fd) for sandbox id whose root is host
 * uid/gid host_base: /root, /home, /home/user (+ skeleton, owned by the user),
 * /etc with hosts and hostname for id, /var/{log,cache,lib,tmp}, /run.
 */
int template_populate_upper(int upper_fd, const char *id, uint32_t host_base);

/* ---- sandbox.c, shared with checkpoint.c ---- */

bool id_valid(const char *id);
/* <state>/sandboxes/<id>[/<sub>] into buf. */
int sandbox_dir(const struct rt *rt, const char *id, const char *sub, char *buf, size_t size);
/* /proc/<pid>/stat field 22. -ESRCH when gone. */
int read_start_time(pid_t pid, uint64_t *ret);
/* Configures eth0, lo and the default route inside the network namespace of pidfd. */
int setup_net_inside(struct rt *rt, unsigned slot, int pidfd, struct in_addr addr,
                     struct warren_error *err);
/* SIGKILL through pidfd, bounded wait, reap when it is our child. */
void kill_and_reap(pid_t pid, int pidfd);
/* Removes a tree the sandbox wrote without following symlinks or crossing mounts. */
int remove_tree(const char *path);
struct rt_spec;
/* Creates the sandbox's cgroup with the spec's limits; rt->cgroups must be set. */
int sandbox_cgroup_create(struct rt *rt, const struct rt_spec *spec, struct warren_error *err);
/* A pidfd for (pid, start_time), or -ESRCH. */
int open_checked(pid_t pid, uint64_t start_time);

#endif
