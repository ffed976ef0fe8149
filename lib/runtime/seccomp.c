/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox's seccomp filter and capability lockdown.
 *
 * The filter is a deny-list with EPERM, modelled on the default profile of
 * Docker/Podman: the agent and everything it starts may use any system call
 * except those that reconfigure the kernel, cross namespaces, inspect other
 * processes, or reach raw devices. Only the native x86_64 ABI is allowed;
 * i386 (int 0x80) and x32 calls kill the caller.
 */
#include "runtime/rt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"

/* Denied outright. Names unknown to this libseccomp/arch are skipped. */
static const char *const denied_syscalls[] = {
    /* mounts and the new mount API */
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    /* other processes */
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "kcmp",
    "pidfd_getfd",
    /* kernel modules, kexec, bpf, perf */
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "kexec_load",
    "kexec_file_load",
    "bpf",
    "perf_event_open",
    /* keyrings (not namespaced) */
    "keyctl",
    "add_key",
    "request_key",
    /* namespaces */
    "unshare",
    "setns",
    /* system-wide state */
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "stime",
    "vhangup",
    "nfsservctl",
    "_sysctl",
    "sysfs",
    "ustat",
    "uselib",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "iopl",
    "ioperm",
    /* file handles bypass path permission checks */
    "open_by_handle_at",
    "name_to_handle_at",
    /* userfaultfd and io_uring widen the kernel attack surface */
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fanotify_init",
    "vm86",
    "vm86old",
};

/* Namespace flags that clone(2) may not carry. */
static const uint64_t clone_ns_flags[] = {
    CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
    CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
};

/*
 * personality(2) is allowed only with the values Docker's profile allows
 * (PER_LINUX, PER_LINUX32, each with ADDR_NO_RANDOMIZE, and the query
 * 0xffffffff); anything else (READ_IMPLIES_EXEC...) is EPERM. libseccomp 2.5
 * cannot AND several tests of one argument, so this check is hand-written
 * classic BPF placed before libseccomp's program. Foreign architectures fall
 * through to libseccomp's own arch check.
 */
#define OFF_NR offsetof(struct seccomp_data, nr)
#define OFF_ARCH offsetof(struct seccomp_data, arch)
#define OFF_A0_LO offsetof(struct seccomp_data, args[0])
#define OFF_A0_HI (offsetof(struct seccomp_data, args[0]) + 4)
static const struct sock_filter personality_prefix[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, OFF_ARCH),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 11),
    /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, OFF_NR),
    /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 0, 9),
    /* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, OFF_A0_HI),
    /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 6),
    /* 6 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, OFF_A0_LO),
    /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0, 5, 0),
    /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x8, 4, 0),
    /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x20000, 3, 0),
    /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x20008, 2, 0),
    /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffff, 1, 0),
    /* 12 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    /* 13: libseccomp's program follows */
};

/* Argument comparisons with every field set (libseccomp's SCMP_A<n> macros
 * leave datum_b implicit, which clang's -Wmissing-field-initializers rejects). */
static struct scmp_arg_cmp arg_eq(unsigned int arg, scmp_datum_t value)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = SCMP_CMP_EQ, .datum_a = value, .datum_b = 0};
}

static struct scmp_arg_cmp arg_masked(unsigned int arg, scmp_datum_t mask, scmp_datum_t value)
{
	return (struct scmp_arg_cmp){
	    .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask, .datum_b = value};
}

static int add_rules(scmp_filter_ctx ctx, struct warren_error *err)
{
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(denied_syscalls); i++) {
		int nr = seccomp_syscall_resolve_name(denied_syscalls[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = seccomp_rule_add(ctx, eperm, nr, 0);
		/* -EACCES/-EEXIST: a pseudo-syscall or duplicate alias on this arch. */
		if (r < 0 && r != -EEXIST && r != -EACCES && r != -EDOM)
			return err_set(err, -r, "seccomp rule for %s: %s", denied_syscalls[i],
			               strerror(-r));
	}

	/* clone3 passes its flags in memory the filter cannot read: ENOSYS makes
	 * glibc fall back to clone(2), whose flags are checked below. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		return err_set(err, -r, "seccomp rule for clone3: %s", strerror(-r));

	for (size_t i = 0; i < ARRAY_SIZE(clone_ns_flags); i++) {
		r = seccomp_rule_add(ctx, eperm, SCMP_SYS(clone), 1,
		                     arg_masked(0, clone_ns_flags[i], clone_ns_flags[i]));
		if (r < 0)
			return err_set(err, -r, "seccomp rule for clone: %s", strerror(-r));
	}

	/* Raw packet access: AF_PACKET at all, SOCK_RAW for IP. Netlink also uses
	 * SOCK_RAW (ip(8), getifaddrs) and stays allowed. */
	r = seccomp_rule_add(ctx, eperm, SCMP_SYS(socket), 1, arg_eq(0, AF_PACKET));
	if (r >= 0)
		r = seccomp_rule_add(ctx, eperm, SCMP_SYS(socket), 2, arg_eq(0, AF_INET),
		                     arg_masked(1, 0xf, SOCK_RAW));
	if (r >= 0)
		r = seccomp_rule_add(ctx, eperm, SCMP_SYS(socket), 2, arg_eq(0, AF_INET6),
		                     arg_masked(1, 0xf, SOCK_RAW));
	if (r < 0)
		return err_set(err, -r, "seccomp rule for socket: %s", strerror(-r));

	/* Character and block device nodes (the kernel refuses them in a user
	 * namespace too; this keeps it so if that ever changes). */
	static const uint64_t dev_types[] = {S_IFCHR, S_IFBLK};
	for (size_t i = 0; i < ARRAY_SIZE(dev_types); i++) {
		r = seccomp_rule_add(ctx, eperm, SCMP_SYS(mknod), 1,
		                     arg_masked(1, S_IFMT, dev_types[i]));
		if (r >= 0)
			r = seccomp_rule_add(ctx, eperm, SCMP_SYS(mknodat), 1,
			                     arg_masked(2, S_IFMT, dev_types[i]));
		if (r < 0)
			return err_set(err, -r, "seccomp rule for mknod: %s", strerror(-r));
	}

	return 0;
}

int seccomp_prog_build(struct sock_fprog *ret, struct warren_error *err)
{
	scmp_filter_ctx ctx;
	_cleanup_close_ int fd = -1;
	struct sock_filter *filter = NULL;
	off_t size;
	int r;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return err_set(err, ENOMEM, "seccomp_init failed");
	/* Calls from a foreign ABI (i386 via int 0x80, x32) kill the process. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0) {
		err_set(err, -r, "seccomp bad-arch action: %s", strerror(-r));
		goto out;
	}
	/* We set no_new_privs ourselves, in the child, before loading. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0) {
		err_set(err, -r, "seccomp nnp attribute: %s", strerror(-r));
		goto out;
	}
	r = add_rules(ctx, err);
	if (r < 0)
		goto out;

	fd = memfd_create("warren-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		r = err_set(err, errno, "memfd_create: %s", strerror(errno));
		goto out;
	}
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0) {
		err_set(err, -r, "exporting seccomp filter: %s", strerror(-r));
		goto out;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 ||
	    size / (off_t)sizeof(struct sock_filter) + ARRAY_SIZE(personality_prefix) >
	        BPF_MAXINSNS) {
		r = err_set(err, EINVAL, "seccomp filter has a bad size (%lld bytes)",
		            (long long)size);
		goto out;
	}
	filter = malloc(sizeof(personality_prefix) + (size_t)size);
	if (!filter) {
		r = err_set(err, ENOMEM, "out of memory");
		goto out;
	}
	memcpy(filter, personality_prefix, sizeof(personality_prefix));
	r = (int)pread(fd, filter + ARRAY_SIZE(personality_prefix), (size_t)size, 0);
	if (r != size) {
		free(filter);
		r = err_set(err, EIO, "reading seccomp filter back");
		goto out;
	}
	ret->filter = filter;
	ret->len = (unsigned short)(ARRAY_SIZE(personality_prefix) +
	                            (size_t)size / sizeof(struct sock_filter));
	r = 0;
out:
	seccomp_release(ctx);
	return r;
}

void seccomp_prog_free(struct sock_fprog *prog)
{
	if (!prog)
		return;
	free(prog->filter);
	prog->filter = NULL;
	prog->len = 0;
}

/* The default capability set of the container runtimes, minus NET_RAW and MKNOD. */
static bool cap_kept(unsigned long cap)
{
	switch (cap) {
	case CAP_CHOWN:
	case CAP_DAC_OVERRIDE:
	case CAP_FOWNER:
	case CAP_FSETID:
	case CAP_KILL:
	case CAP_SETGID:
	case CAP_SETUID:
	case CAP_SETPCAP:
	case CAP_NET_BIND_SERVICE:
	case CAP_SYS_CHROOT:
	case CAP_AUDIT_WRITE:
	case CAP_SETFCAP:
		return true;
	default:
		return false;
	}
}

int seccomp_lockdown(const struct sock_fprog *prog, const char **ret_step)
{
	/* PR_CAPBSET_READ fails with EINVAL past the kernel's last capability. */
	for (unsigned long cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break;
		if (cap_kept(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			*ret_step = "dropping the capability bounding set";
			return -errno;
		}
	}
	/* Root's capabilities after execve are its bounding set plus its inheritable
	 * set: empty the latter so the bounding set alone decides. */
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0) {
		*ret_step = "reading capabilities";
		return -errno;
	}
	data[0].inheritable = 0;
	data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) < 0) {
		*ret_step = "clearing inheritable capabilities";
		return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
		*ret_step = "clearing ambient capabilities";
		return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		*ret_step = "setting no_new_privs";
		return -errno;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0) {
		*ret_step = "loading the seccomp filter";
		return -errno;
	}
	return 0;
}
