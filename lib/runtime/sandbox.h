/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_RUNTIME_SANDBOX_H
#define WARREN_RUNTIME_SANDBOX_H

/*
 * The sandbox runtime: the one privileged module of warren. It turns a spec
 * into a running, isolated process tree and tears it down again.
 *
 * A sandbox is the agent (the in-sandbox server) running as pid 1 and session
 * leader of new user, pid, mount, net, uts, ipc and cgroup namespaces:
 *  - uid/gid 0..65535 inside map to host [uid_base + slot*65536, +65536);
 *  - root is an overlay: lower = <state>/templates/<t>/rootfs (read-only,
 *    host-owned), upper/work = <state>/sandboxes/<id>/disk/{upper,work} on
 *    the sandbox's own disk of disk_mb MiB (disk.h: its size is the quota;
 *    without one, <id>/{upper,work} on the state directory), plus
 *    /usr bind-mounted read-only from the host; entered with pivot_root;
 *    fresh /proc (with /proc/sys read-only), minimal /dev (null zero full
 *    random urandom tty, devpts newinstance for ptys, /dev/shm tmpfs), tmpfs /tmp;
 *  - cgroup limits (cgroup.h), network (net.h), hostname = sandbox id;
 *  - no_new_privs, a reduced capability bounding set, and a seccomp filter
 *    modelled on the container runtimes' default profile (mount, ptrace,
 *    module loading, bpf, keyctl, namespaces, raw device access... denied).
 * No fd of the host's stays open inside (so CRIU can checkpoint it later).
 *
 * The agent is started as <in-sandbox path> with argv {path, NULL} and an
 * environment of exactly spec->agent_env plus WARREN_READY_FD=<n>: it writes
 * one byte to that fd once it listens, and closes it. rt_create returns only
 * then, so the sandbox is ready to serve when it returns.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <warren/error.h>

struct cgroup_mgr;
struct net_mgr;

#define RT_AGENT_PORT 49983
#define RT_AGENT_PATH "/opt/warren/bin/warren-agent"

struct rt_config {
	const char *state_dir;      /* e.g. /var/lib/warren (created if missing) */
	const char *agent_binary;   /* host path of the built agent, copied into templates */
	uint32_t uid_base;          /* first host uid of slot 0; default 1000000 when 0 */
	struct cgroup_mgr *cgroups; /* NULL: no cgroups (test-only mode, docs/RUNTIME.md) */
	struct net_mgr *net;        /* NULL: no network, addr 0.0.0.0 (test-only mode) */
	const char *criu_dir;       /* CRIU for pause/resume (checkpoint.h); NULL: the default */
};

#define RT_CRIU_DIR_DEFAULT "/var/lib/warren/criu"

struct rt;

struct rt_spec {
	const char *id;          /* [a-z0-9]{1,32}: hostname and directory names */
	const char *template_id; /* "base" */
	unsigned slot;           /* >= 1, unique among live sandboxes: uid range and address */
	unsigned cpu_count;
	unsigned memory_mb;
	unsigned pids_max;
	unsigned disk_mb; /* its own disk of that many MiB (DISK_MB_MIN..MAX); 0: none */
	bool allow_internet;
	char *const *agent_env; /* NULL-terminated "KEY=value" */
	int ready_timeout_ms;   /* 0 means 5000 */
};

struct rt_sandbox {
	pid_t pid;           /* host pid of the sandbox's init (the agent) */
	int pidfd;           /* owned by the caller: readable when init exits */
	uint64_t start_time; /* /proc/<pid>/stat field 22, to recognise it after a restart */
	struct in_addr addr; /* where the agent listens, port RT_AGENT_PORT */
};

int rt_new(const struct rt_config *cfg, struct rt **ret, struct warren_error *err);
void rt_free(struct rt *rt);

/* Builds templates/<id>/rootfs if missing or outdated (only "base" exists). -ENOENT for others. */
int rt_template_ensure(struct rt *rt, const char *template_id, struct warren_error *err);
/* 0 if the template exists and is ready, -ENOENT otherwise. */
int rt_template_exists(struct rt *rt, const char *template_id);

int rt_create(struct rt *rt, const struct rt_spec *spec, struct rt_sandbox *ret,
              struct warren_error *err);

/*
 * Tears down everything of a sandbox: kills its process tree, removes its
 * cgroups, network and on-disk directory. Idempotent, and works from the
 * stored (id, slot, pid, start_time) alone (after a warrend restart): a pid
 * whose start time does not match is not touched.
 */
int rt_destroy(struct rt *rt, const char *id, unsigned slot, pid_t pid, uint64_t start_time);

/* After a restart: is (pid, start_time) still that sandbox's init? Returns a pidfd or -ESRCH. */
int rt_adopt(struct rt *rt, pid_t pid, uint64_t start_time);

/*
 * Mounts a kept sandbox's disk again where needed (disk_attach): after a warrend
 * restart (a no-op while the mount is there) or a reboot (the image survives,
 * the mount does not) before its processes are brought back. -ENOENT: no disk.
 */
int rt_disk_attach(struct rt *rt, const char *id, struct warren_error *err);

/* Bytes used and the size of a sandbox's disk (statfs). -ENOTCONN: not mounted. */
int rt_disk_usage(struct rt *rt, const char *id, uint64_t *ret_used, uint64_t *ret_total);

/* Removes sandbox directories (disks included) and cgroups whose id keep(id, ud) rejects. */
int rt_cleanup_orphans(struct rt *rt, bool (*keep)(const char *id, void *ud), void *ud);

#endif
