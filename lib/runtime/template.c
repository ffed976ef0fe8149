/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `base` template: a root file system skeleton made from the host's own
 * files, without any download. The host's /usr is bind-mounted read-only over
 * the skeleton's empty usr/ at sandbox start (mounts.c), so programs come
 * from the host: bash, coreutils, python3, node, git.
 *
 * Layout of <state>/templates/base/rootfs (all owned by host root, so seen as
 * `nobody` and read-only inside a sandbox):
 *   bin sbin lib lib64 [lib32 libx32] -> usr/...   (as on the host: merged /usr)
 *   usr/                                           (empty mount point)
 *   etc/           the host's world-readable /etc without secrets, with our
 *                  own passwd/group/shadow/gshadow, hosts, resolv.conf, mtab
 *   home/user root tmp var/{tmp,log,cache,lib} run proc sys dev mnt opt srv
 *   opt/warren/bin/warren-agent                    (copy of rt_config.agent_binary)
 *   opt/warren/bin/warren-wsbridge                 (the SSH bridge, found next to the agent)
 *   etc/ssh/sshd_config                            ours, for sshd in a sandbox (docs/SSH.md)
 * It is built once in a temporary directory and renamed into place, so a
 * half-built template is never used. The agent copy is refreshed (by rename)
 * whenever the source binary's size or mtime differ.
 */
#include "runtime/rt_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <config.h>

#include "common/error.h"
#include "common/util.h"

#define TEMPLATE_BASE "base"
#define AGENT_REL "opt/warren/bin/warren-agent"
#define WSBRIDGE_REL "opt/warren/bin/warren-wsbridge"
/* No file of /etc this big belongs in a sandbox. */
#define ETC_FILE_MAX (8u << 20)
#define AGENT_MAX (256u << 20)

int template_rootfs_path(const struct rt *rt, const char *template_id, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/templates/%s/rootfs", rt->state_dir, template_id);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int rt_template_exists(struct rt *rt, const char *template_id)
{
	char path[4096];
	struct stat st;

	if (!template_id || strcmp(template_id, TEMPLATE_BASE) != 0)
		return -ENOENT;
	if (template_rootfs_path(rt, template_id, path, sizeof(path)) < 0)
		return -ENOENT;
	/* The rootfs only appears by rename once complete. */
	if (strlen(path) + sizeof("/" AGENT_REL) > sizeof(path))
		return -ENOENT;
	strcat(path, "/" AGENT_REL);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return -ENOENT;
	return 0;
}

/* mkdir with an exact mode (umask does not apply). */
static int mkdir_mode(int dfd, const char *name, mode_t mode)
{
	if (mkdirat(dfd, name, mode) < 0 && errno != EEXIST)
		return -errno;
	if (fchmodat(dfd, name, mode, 0) < 0)
		return -errno;
	return 0;
}

static int mkdir_owned(int dfd, const char *name, mode_t mode, uid_t uid)
{
	int r = mkdir_mode(dfd, name, mode);

	if (r < 0)
		return r;
	if (fchownat(dfd, name, uid, uid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static int write_at(int dfd, const char *name, const char *data, mode_t mode)
{
	_cleanup_close_ int fd =
	    openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		return -errno;
	return write_full(fd, data, strlen(data));
}

/* Copies a regular file (at most max bytes, else -EFBIG), with mode; keeps mtime if asked. */
static int copy_file_at(int sfd, const char *sname, int dfd, const char *dname, mode_t mode,
                        size_t max, bool keep_mtime)
{
	_cleanup_close_ int in = openat(sfd, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	struct stat st;
	char buf[16384];
	int r;

	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	out = openat(dfd, dname, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		r = write_full(out, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	if (fchmod(out, mode) < 0)
		return -errno;
	if (keep_mtime) {
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		if (futimens(out, ts) < 0)
			return -errno;
	}
	return 0;
}

/* Paths of /etc (relative) never copied: secrets, host identity, and files we write. */
static const char *const etc_skipped[] = {
    "shadow",      "shadow-",          "gshadow",       "gshadow-",    "passwd",      "passwd-",
    "group",       "group-",           "subuid",        "subuid-",     "subgid",      "subgid-",
    "machine-id",  "hostname",         "hosts",         "resolv.conf", "mtab",        ".pwd.lock",
    "ssl/private", "security/opasswd", "ssh/ssh_host_", "sudoers.d/",  "krb5.keytab",
};

static bool etc_skip(const char *rel)
{
	for (size_t i = 0; i < ARRAY_SIZE(etc_skipped); i++) {
		const char *s = etc_skipped[i];
		size_t n = strlen(s);
		/* Entries ending in '_' or '/' are prefixes. */
		if (s[n - 1] == '_' || s[n - 1] == '/') {
			if (strncmp(rel, s, n) == 0)
				return true;
		} else if (strcmp(rel, s) == 0) {
			return true;
		}
	}
	return false;
}

/*
 * Copies the world-readable part of a host directory tree: a file or
 * directory others cannot read is by definition private to the host (and
 * would be unreadable in the sandbox, where host root is `nobody`).
 */
static int copy_etc_tree(int sfd, int dfd, const char *prefix, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (depth > 16)
		return 0;
	int sfd2 = dup(sfd);
	if (sfd2 < 0)
		return -errno;
	d = fdopendir(sfd2);
	if (!d) {
		close(sfd2);
		return -errno;
	}
	rewinddir(d);
	while (r >= 0 && (de = readdir(d))) {
		char rel[1024];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(rel, sizeof(rel), "%s%s", prefix, de->d_name) >= sizeof(rel))
			continue;
		if (etc_skip(rel))
			continue;
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(sfd, de->d_name, target, sizeof(target) - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			if (symlinkat(target, dfd, de->d_name) < 0 && errno != EEXIST)
				r = -errno;
		} else if (S_ISREG(st.st_mode)) {
			if (!(st.st_mode & S_IROTH))
				continue;
			r = copy_file_at(sfd, de->d_name, dfd, de->d_name, st.st_mode & 0755,
			                 ETC_FILE_MAX, false);
			if (r == -EFBIG)
				r = 0;
		} else if (S_ISDIR(st.st_mode)) {
			char sub[1024];
			if ((st.st_mode & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH))
				continue;
			r = mkdir_mode(dfd, de->d_name, st.st_mode & 0755);
			if (r < 0)
				break;
			if ((size_t)snprintf(sub, sizeof(sub), "%s/", rel) >= sizeof(sub))
				continue;
			if (etc_skip(sub))
				continue; /* keep the directory, empty */
			_cleanup_close_ int s2 = openat(
			    sfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			_cleanup_close_ int d2 = openat(
			    dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0 || d2 < 0) {
				r = -errno;
				break;
			}
			r = copy_etc_tree(s2, d2, sub, depth + 1);
		}
		/* Device nodes, fifos and sockets are never copied. */
	}
	closedir(d);
	return r;
}

static const char etc_passwd[] = "root:x:0:0:root:/root:/bin/bash\n"
                                 "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                 "bin:x:2:2:bin:/bin:/usr/sbin/nologin\n"
                                 "sys:x:3:3:sys:/dev:/usr/sbin/nologin\n"
                                 "sync:x:4:65534:sync:/bin:/bin/sync\n"
                                 "games:x:5:60:games:/usr/games:/usr/sbin/nologin\n"
                                 "man:x:6:12:man:/var/cache/man:/usr/sbin/nologin\n"
                                 "lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin\n"
                                 "mail:x:8:8:mail:/var/mail:/usr/sbin/nologin\n"
                                 "news:x:9:9:news:/var/spool/news:/usr/sbin/nologin\n"
                                 "uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin\n"
                                 "proxy:x:13:13:proxy:/bin:/usr/sbin/nologin\n"
                                 "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                                 "backup:x:34:34:backup:/var/backups:/usr/sbin/nologin\n"
                                 "list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin\n"
                                 "irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin\n"
                                 "_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n"
                                 "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"
                                 "user:x:1000:1000::/home/user:/bin/bash\n"
                                 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";

static const char etc_group[] = "root:x:0:\n"
                                "daemon:x:1:\n"
                                "bin:x:2:\n"
                                "sys:x:3:\n"
                                "adm:x:4:\n"
                                "tty:x:5:\n"
                                "disk:x:6:\n"
                                "lp:x:7:\n"
                                "mail:x:8:\n"
                                "news:x:9:\n"
                                "uucp:x:10:\n"
                                "man:x:12:\n"
                                "proxy:x:13:\n"
                                "kmem:x:15:\n"
                                "dialout:x:20:\n"
                                "fax:x:21:\n"
                                "voice:x:22:\n"
                                "cdrom:x:24:\n"
                                "floppy:x:25:\n"
                                "tape:x:26:\n"
                                "sudo:x:27:user\n"
                                "audio:x:29:\n"
                                "dip:x:30:\n"
                                "www-data:x:33:\n"
                                "backup:x:34:\n"
                                "operator:x:37:\n"
                                "list:x:38:\n"
                                "irc:x:39:\n"
                                "src:x:40:\n"
                                "shadow:x:42:\n"
                                "utmp:x:43:\n"
                                "video:x:44:\n"
                                "sasl:x:45:\n"
                                "plugdev:x:46:\n"
                                "staff:x:50:\n"
                                "games:x:60:\n"
                                "users:x:100:user\n"
                                "user:x:1000:\n"
                                "nogroup:x:65534:\n";

static const char etc_hosts[] = "127.0.0.1\tlocalhost\n"
                                "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                "ff02::1\tip6-allnodes\n"
                                "ff02::2\tip6-allrouters\n";

/*
 * sshd for a sandbox (docs/SSH.md). Host keys are made inside each sandbox at
 * its first start (ssh-keygen -A), never copied from the host. No PAM: its
 * session modules (loginuid, limits) cannot work in a user namespace, and no
 * password is ever set. Privilege separation works as on a host: the sandbox
 * keeps CAP_SYS_CHROOT, and /run/sshd is in each sandbox's upper layer, owned
 * by its root.
 */
static const char sshd_config[] =
    "# warren: sshd in a sandbox (docs/SSH.md); keys: ssh-keygen -A, then /usr/sbin/sshd\n"
    "Port 22\n"
    "HostKey /etc/ssh/ssh_host_ed25519_key\n"
    "HostKey /etc/ssh/ssh_host_ecdsa_key\n"
    "HostKey /etc/ssh/ssh_host_rsa_key\n"
    "UsePAM no\n"
    "PermitRootLogin prohibit-password\n"
    "PubkeyAuthentication yes\n"
    "AuthorizedKeysFile .ssh/authorized_keys\n"
    "PasswordAuthentication no\n"
    "KbdInteractiveAuthentication no\n"
    "PermitEmptyPasswords no\n"
    "X11Forwarding no\n"
    "PrintMotd no\n"
    "PrintLastLog no\n"
    "AcceptEnv LANG LC_*\n"
    "PidFile /run/sshd.pid\n"
    "Subsystem sftp /usr/lib/openssh/sftp-server\n";

/* Formats shadow/gshadow from passwd/group: every account locked, no secrets. */
static int format_locked(char *buf, size_t size, const char *src, const char *fields)
{
	size_t len = 0;

	for (const char *p = src; *p;) {
		const char *colon = strchr(p, ':');
		const char *nl = strchr(p, '\n');
		if (!colon || !nl)
			return -EINVAL;
		int n = snprintf(buf + len, size - len, "%.*s:%s\n", (int)(colon - p), p, fields);
		if (n < 0 || (size_t)n >= size - len)
			return -ENAMETOOLONG;
		len += (size_t)n;
		p = nl + 1;
	}
	return 0;
}

static int write_locked(int dfd, const char *name, const char *src, const char *fields)
{
	char buf[4096];
	int r = format_locked(buf, sizeof(buf), src, fields);

	if (r < 0)
		return r;
	/* World-readable: it holds no hash, and host-owned files are `nobody`'s
	 * inside, so 0640 would make it unreadable to every tool. */
	return write_at(dfd, name, buf, 0644);
}

/* Whether a resolv.conf names at least one server a sandbox can reach
 * (a loopback resolver of the host's, like systemd-resolved's, it cannot). */
static bool resolv_usable(const char *conf)
{
	for (const char *p = conf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, "nameserver", 10) != 0 || (p[10] != ' ' && p[10] != '\t'))
			continue;
		const char *v = p + 10 + strspn(p + 10, " \t");
		if (strncmp(v, "127.", 4) != 0 && strncmp(v, "::1", 3) != 0)
			return true;
	}
	return false;
}

/* The host's DNS configuration for sandboxes (a symlink into /run followed),
 * falling back to systemd-resolved's upstream list, then to public servers. */
static char *host_resolv(void)
{
	static const char *const paths[] = {"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"};

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		char *conf = NULL;
		if (read_file(paths[i], 65536, &conf, NULL) == 0 && resolv_usable(conf))
			return conf;
		free(conf);
	}
	return strdup("nameserver 1.1.1.1\nnameserver 8.8.8.8\n");
}

/* Rewrites the template's resolv.conf (by rename) when the host's changed. */
static int refresh_resolv(int rootfs_fd)
{
	_cleanup_free_ char *want = host_resolv();
	_cleanup_free_ char *have = NULL;
	_cleanup_close_ int etc_fd =
	    openat(rootfs_fd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (!want)
		return -ENOMEM;
	if (etc_fd < 0)
		return -errno;
	_cleanup_close_ int fd = openat(etc_fd, "resolv.conf", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char proc_path[64];
	snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
	if (fd >= 0 && read_file(proc_path, 65536, &have, NULL) == 0 && strcmp(have, want) == 0)
		return 0;
	r = write_at(etc_fd, ".resolv.conf.tmp", want, 0644);
	if (r >= 0 && renameat(etc_fd, ".resolv.conf.tmp", etc_fd, "resolv.conf") < 0)
		r = -errno;
	if (r < 0)
		unlinkat(etc_fd, ".resolv.conf.tmp", 0);
	return r;
}

/* Replaces dfd/name by `want` (by rename, so a reader never sees half) unless it is that. */
static int refresh_at(int dfd, const char *name, const char *want)
{
	_cleanup_free_ char *have = NULL;
	char tmp[256], proc_path[64];
	int r;

	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", fd);
		if (read_file(proc_path, 1u << 20, &have, NULL) == 0 && strcmp(have, want) == 0)
			return 0;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.warren-tmp", name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	r = write_at(dfd, tmp, want, 0644);
	if (r >= 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

/* Brings a template built by an older warrend up to date for SSH: the sshd account and
 * our sshd_config (the rest of /etc is as it was built). */
static int refresh_ssh(int rootfs_fd)
{
	char shadow[4096];
	_cleanup_close_ int etc_fd =
	    openat(rootfs_fd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (etc_fd < 0)
		return -errno;
	r = format_locked(shadow, sizeof(shadow), etc_passwd, "*:19000:0:99999:7:::");
	if (r >= 0)
		r = refresh_at(etc_fd, "passwd", etc_passwd);
	if (r >= 0)
		r = refresh_at(etc_fd, "shadow", shadow);
	if (r >= 0)
		r = mkdir_mode(etc_fd, "ssh", 0755);
	if (r >= 0)
		r = refresh_at(etc_fd, "ssh/sshd_config", sshd_config);
	return r;
}

static int write_etc(int etc_fd)
{
	_cleanup_free_ char *resolv = NULL;
	int r;

	r = write_at(etc_fd, "passwd", etc_passwd, 0644);
	if (r >= 0)
		r = write_at(etc_fd, "group", etc_group, 0644);
	if (r >= 0)
		r = write_locked(etc_fd, "shadow", etc_passwd, "*:19000:0:99999:7:::");
	if (r >= 0)
		r = write_locked(etc_fd, "gshadow", etc_group, "*::");
	if (r >= 0)
		r = write_at(etc_fd, "hosts", etc_hosts, 0644);
	if (r >= 0)
		r = mkdir_mode(etc_fd, "ssh", 0755);
	if (r >= 0)
		r = write_at(etc_fd, "ssh/sshd_config", sshd_config, 0644);
	if (r < 0)
		return r;
	resolv = host_resolv();
	if (!resolv)
		return -ENOMEM;
	r = write_at(etc_fd, "resolv.conf", resolv, 0644);
	if (r < 0)
		return r;
	if (symlinkat("../proc/self/mounts", etc_fd, "mtab") < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int copy_skel(int dfd, const char *home, uid_t uid, gid_t gid)
{
	_cleanup_close_ int skel = open("/etc/skel", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int hfd =
	    openat(dfd, home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	static const char *const files[] = {".bashrc", ".profile", ".bash_logout"};

	if (hfd < 0)
		return -errno;
	if (skel < 0)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		int r = copy_file_at(skel, files[i], hfd, files[i], 0644, 1u << 20, false);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		if (fchownat(hfd, files[i], uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	return 0;
}

/* Installs a host binary as opt/warren/bin/<name> (by rename), keeping its mtime. */
static int copy_bin(const char *src, int rootfs_fd, const char *name)
{
	char tmp[64];
	int r;

	r = random_hex(tmp + 17, 4);
	memcpy(tmp, ".warren-agent.tmp", 17);
	if (r < 0)
		return r;
	_cleanup_close_ int bin_fd =
	    openat(rootfs_fd, "opt/warren/bin", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bin_fd < 0)
		return -errno;
	r = copy_file_at(AT_FDCWD, src, bin_fd, tmp, 0755, AGENT_MAX, true);
	if (r < 0) {
		unlinkat(bin_fd, tmp, 0);
		return r;
	}
	if (renameat(bin_fd, tmp, bin_fd, name) < 0) {
		r = -errno;
		unlinkat(bin_fd, tmp, 0);
		return r;
	}
	return 0;
}

static int copy_agent(struct rt *rt, int rootfs_fd)
{
	return copy_bin(rt->agent_binary, rootfs_fd, "warren-agent");
}

/* 1 when rootfs/rel is a copy of src (size and mtime), 0 if not, -errno if src is missing. */
static int bin_is_current(const char *src_path, int rootfs_fd, const char *rel)
{
	struct stat src, dst;

	if (stat(src_path, &src) < 0)
		return -errno;
	if (fstatat(rootfs_fd, rel, &dst, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return src.st_size == dst.st_size && src.st_mtim.tv_sec == dst.st_mtim.tv_sec &&
	       src.st_mtim.tv_nsec == dst.st_mtim.tv_nsec;
}

static int agent_is_current(struct rt *rt, int rootfs_fd)
{
	return bin_is_current(rt->agent_binary, rootfs_fd, AGENT_REL);
}

/*
 * The SSH bridge's host path: next to the agent (an installed warren), else the build
 * tree's; NULL when neither exists (then sandboxes have no bridge, the rest works).
 */
static char *wsbridge_source(const struct rt *rt)
{
	static const char build_bridge[] = WARREN_BUILD_ROOT "/src/wsbridge/warren-wsbridge";
	const char *slash = strrchr(rt->agent_binary, '/');
	char *p = NULL;

	if (slash && asprintf(&p, "%.*s/warren-wsbridge", (int)(slash - rt->agent_binary),
	                      rt->agent_binary) >= 0) {
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	if (access(build_bridge, X_OK) == 0)
		return strdup(build_bridge);
	return NULL;
}

/* Installs or refreshes the bridge when there is one. */
static int ensure_wsbridge(const struct rt *rt, int rootfs_fd)
{
	_cleanup_free_ char *src = wsbridge_source(rt);
	int r;

	if (!src)
		return 0;
	r = bin_is_current(src, rootfs_fd, WSBRIDGE_REL);
	if (r == 0)
		r = copy_bin(src, rootfs_fd, "warren-wsbridge");
	return r < 0 ? r : 0;
}

/*
 * Every directory of the template must be searchable by others: overlayfs
 * looks up the lower layer with the credentials of its mounter, the sandbox's
 * root, which is `nobody` to host-owned files. /root is 0700 in each
 * sandbox's upper layer (template_populate_upper), which is what it shows.
 */
struct dir_spec {
	const char *name;
	mode_t mode;
};

static const struct dir_spec base_dirs[] = {
    {"usr", 0755},
    {"etc", 0755},
    {"home", 0755},
    {"home/user", 0755},
    {"root", 0755},
    {"tmp", 01777},
    {"var", 0755},
    {"var/tmp", 01777},
    {"var/log", 0755},
    {"var/cache", 0755},
    {"var/lib", 0755},
    {"var/spool", 0755},
    {"run", 0755},
    {"run/lock", 01777},
    {"proc", 0555},
    {"sys", 0555},
    {"dev", 0755},
    {"mnt", 0755},
    {"media", 0755},
    {"srv", 0755},
    {"opt", 0755},
    {"opt/warren", 0755},
    {"opt/warren/bin", 0755},
};

static const char *const usr_links[] = {"bin", "sbin", "lib", "lib64", "lib32", "libx32"};

static int build_rootfs(struct rt *rt, const char *dir, struct warren_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_close_ int etc_fd = -1;
	_cleanup_close_ int host_etc = -1;
	int r;

	if (mkdir(dir, 0755) < 0)
		return err_set(err, errno, "creating %s: %s", dir, strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errno, "opening %s: %s", dir, strerror(errno));
	if (fchmod(fd, 0755) < 0)
		return err_set(err, errno, "chmod %s: %s", dir, strerror(errno));

	for (size_t i = 0; i < ARRAY_SIZE(base_dirs); i++) {
		r = mkdir_mode(fd, base_dirs[i].name, base_dirs[i].mode);
		if (r < 0)
			return err_set(err, -r, "creating %s: %s", base_dirs[i].name, strerror(-r));
	}
	/* The same top-level symlinks into usr/ as the host (merged /usr). */
	for (size_t i = 0; i < ARRAY_SIZE(usr_links); i++) {
		char host[64], target[256];
		snprintf(host, sizeof(host), "/%s", usr_links[i]);
		ssize_t n = readlink(host, target, sizeof(target) - 1);
		if (n < 0) {
			struct stat st;
			if (stat(host, &st) < 0)
				continue; /* the host has no such directory */
			/* A real directory on a non-merged host: only /usr is shared. */
			snprintf(target, sizeof(target), "usr/%s", usr_links[i]);
		} else {
			target[n] = '\0';
		}
		if (symlinkat(target, fd, usr_links[i]) < 0)
			return err_set(err, errno, "symlink %s: %s", usr_links[i], strerror(errno));
	}

	host_etc = open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	etc_fd = openat(fd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (host_etc < 0 || etc_fd < 0)
		return err_set(err, errno, "opening /etc: %s", strerror(errno));
	r = copy_etc_tree(host_etc, etc_fd, "", 0);
	if (r < 0)
		return err_set(err, -r, "copying /etc: %s", strerror(-r));
	r = write_etc(etc_fd);
	if (r < 0)
		return err_set(err, -r, "writing /etc files: %s", strerror(-r));
	r = copy_skel(fd, "home/user", 0, 0);
	if (r >= 0)
		r = copy_skel(fd, "root", 0, 0);
	if (r < 0)
		return err_set(err, -r, "copying /etc/skel: %s", strerror(-r));
	r = copy_agent(rt, fd);
	if (r < 0)
		return err_set(err, -r, "copying the agent %s: %s", rt->agent_binary, strerror(-r));
	r = ensure_wsbridge(rt, fd);
	if (r < 0)
		return err_set(err, -r, "copying warren-wsbridge: %s", strerror(-r));
	return 0;
}

static int ensure_locked(struct rt *rt, struct warren_error *err)
{
	char rootfs[4096], tdir[4096], tmp[4200], hex[9];
	_cleanup_close_ int fd = -1;
	int r;

	r = template_rootfs_path(rt, TEMPLATE_BASE, rootfs, sizeof(rootfs));
	if (r < 0)
		return err_set(err, -r, "template path too long");
	snprintf(tdir, sizeof(tdir), "%s/templates/%s", rt->state_dir, TEMPLATE_BASE);
	r = mkdir_p(tdir, 0711);
	if (r < 0)
		return err_set(err, -r, "creating %s: %s", tdir, strerror(-r));

	fd = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return err_set(err, errno, "opening %s: %s", rootfs, strerror(errno));
		r = random_hex(hex, 4);
		if (r < 0)
			return err_set(err, -r, "random: %s", strerror(-r));
		snprintf(tmp, sizeof(tmp), "%s/.rootfs.tmp-%s", tdir, hex);
		r = build_rootfs(rt, tmp, err);
		if (r < 0) {
			rm_rf(tmp);
			err_prefix(err, "building template %s", TEMPLATE_BASE);
			return r;
		}
		if (rename(tmp, rootfs) < 0) {
			r = errno;
			rm_rf(tmp);
			/* Another process built it first: use theirs. */
			if (r != EEXIST && r != ENOTEMPTY)
				return err_set(err, r, "installing %s: %s", rootfs, strerror(r));
		}
		return 0;
	}
	r = refresh_resolv(fd);
	if (r < 0)
		return err_set(err, -r, "refreshing resolv.conf in %s: %s", rootfs, strerror(-r));
	r = agent_is_current(rt, fd);
	if (r < 0)
		return err_set(err, -r, "agent binary %s: %s", rt->agent_binary, strerror(-r));
	if (r == 0) {
		r = copy_agent(rt, fd);
		if (r < 0)
			return err_set(err, -r, "refreshing the agent in %s: %s", rootfs,
			               strerror(-r));
	}
	r = ensure_wsbridge(rt, fd);
	if (r >= 0)
		r = refresh_ssh(fd);
	if (r < 0)
		return err_set(err, -r, "refreshing the SSH files in %s: %s", rootfs, strerror(-r));
	return 0;
}

int rt_template_ensure(struct rt *rt, const char *template_id, struct warren_error *err)
{
	int r;

	if (!template_id || strcmp(template_id, TEMPLATE_BASE) != 0)
		return err_set(err, ENOENT, "unknown template '%s'",
		               template_id ? template_id : "");
	pthread_mutex_lock(&rt->template_lock);
	r = ensure_locked(rt, err);
	pthread_mutex_unlock(&rt->template_lock);
	return r;
}

/* Directories of the upper layer owned by the sandbox's root (or user), so that
 * they are writable inside although the template below is host-owned. */
static const struct dir_spec upper_dirs[] = {
    {"root", 0700},
    {"home", 0755},
    {"etc", 0755},
    {"var", 0755},
    {"var/log", 0755},
    {"var/cache", 0755},
    {"var/lib", 0755},
    {"var/tmp", 01777},
    {"tmp", 01777}, /* on the disk, not a tmpfs (mounts.c) */
    {"run", 0755},
    /* sshd: host keys are written into etc/ssh; run/sshd is its privsep chroot, which
     * must be root's and not writable by others (docs/SSH.md). */
    {"etc/ssh", 0755},
    {"run/sshd", 0755},
};

int template_populate_upper(int upper_fd, const char *id, uint32_t host_base)
{
	char hosts[512];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(upper_dirs); i++) {
		r = mkdir_owned(upper_fd, upper_dirs[i].name, upper_dirs[i].mode, host_base);
		if (r < 0)
			return r;
	}
	r = mkdir_owned(upper_fd, "home/user", 0755, host_base + RT_USER_ID);
	if (r < 0)
		return r;
	r = copy_skel(upper_fd, "home/user", host_base + RT_USER_ID, host_base + RT_USER_ID);
	if (r < 0)
		return r;

	_cleanup_close_ int etc_fd =
	    openat(upper_fd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (etc_fd < 0)
		return -errno;
	r = snprintf(hosts, sizeof(hosts), "%s127.0.1.1\t%s\n", etc_hosts, id);
	if (r < 0 || (size_t)r >= sizeof(hosts))
		return -ENAMETOOLONG;
	r = write_at(etc_fd, "hosts", hosts, 0644);
	if (r >= 0) {
		snprintf(hosts, sizeof(hosts), "%s\n", id);
		r = write_at(etc_fd, "hostname", hosts, 0644);
	}
	if (r < 0)
		return r;
	if (fchownat(etc_fd, "hosts", host_base, host_base, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchownat(etc_fd, "hostname", host_base, host_base, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}
