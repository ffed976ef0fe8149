/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime core's unprivileged parts: the base template (built in a
 * temporary state directory), the seccomp program, overlay options and
 * argument checks of rt_create. Sandboxes themselves need root and are
 * covered by tests/integration/rt-smoke.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/util.h"
#include "runtime/rt_internal.h"

struct fixture {
	char state[64];
	char agent[128];
	struct rt *rt;
};

static int write_agent(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

	if (fd < 0)
		return -errno;
	int r = write_full(fd, content, strlen(content));
	close(fd);
	return r;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct warren_error err = {0};

	assert_non_null(f);
	strcpy(f->state, "/tmp/test-rt-template-XXXXXX");
	assert_non_null(mkdtemp(f->state));
	snprintf(f->agent, sizeof(f->agent), "%s-agent", f->state);
	assert_int_equal(write_agent(f->agent, "#!/bin/sh\necho v1\n"), 0);
	struct rt_config cfg = {.state_dir = f->state, .agent_binary = f->agent};
	assert_int_equal(rt_new(&cfg, &f->rt, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rt_free(f->rt);
	rm_rf(f->state);
	unlink(f->agent);
	free(f);
	return 0;
}

static char *slurp(const struct fixture *f, const char *rel)
{
	char path[512];
	char *data = NULL;

	snprintf(path, sizeof(path), "%s/templates/base/rootfs/%s", f->state, rel);
	if (read_file(path, 1 << 20, &data, NULL) < 0)
		return NULL;
	return data;
}

static void test_template_base(void **state)
{
	struct fixture *f = *state;
	struct warren_error err = {0};
	char path[512];
	struct stat st;

	assert_int_equal(rt_template_exists(f->rt, "base"), -ENOENT);
	assert_int_equal(rt_template_ensure(f->rt, "base", &err), 0);
	assert_int_equal(rt_template_exists(f->rt, "base"), 0);
	assert_int_equal(rt_template_exists(f->rt, "other"), -ENOENT);
	assert_int_equal(rt_template_ensure(f->rt, "other", &err), -ENOENT);

	char *passwd = slurp(f, "etc/passwd");
	assert_non_null(passwd);
	assert_non_null(strstr(passwd, "root:x:0:0:root:/root:/bin/bash\n"));
	assert_non_null(strstr(passwd, "\nuser:x:1000:1000::/home/user:/bin/bash\n"));
	assert_non_null(strstr(passwd, "\nnobody:x:65534:65534:"));
	free(passwd);
	char *group = slurp(f, "etc/group");
	assert_non_null(group);
	assert_non_null(strstr(group, "\ntty:x:5:\n"));
	free(group);
	char *shadow = slurp(f, "etc/shadow");
	assert_non_null(shadow);
	assert_null(strchr(shadow, '$')); /* no password hash */
	assert_non_null(strstr(shadow, "user:*:"));
	free(shadow);

	/* Secrets and host identity are not copied. */
	static const char *const absent[] = {"etc/machine-id", "etc/ssh/ssh_host_rsa_key",
	                                     "etc/ssh/ssh_host_ed25519_key", "etc/gshadow-",
	                                     "etc/shadow-"};
	for (size_t i = 0; i < ARRAY_SIZE(absent); i++) {
		snprintf(path, sizeof(path), "%s/templates/base/rootfs/%s", f->state, absent[i]);
		assert_int_not_equal(lstat(path, &st), 0);
	}
	/* Merged /usr links as on the host. */
	snprintf(path, sizeof(path), "%s/templates/base/rootfs/bin", f->state);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* Every template directory must be searchable by the sandbox's root. */
	snprintf(path, sizeof(path), "%s/templates/base/rootfs/root", f->state);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_mode & S_IXOTH);
	snprintf(path, sizeof(path), "%s/templates/base/rootfs/tmp", f->state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 01777);

	char *agent = slurp(f, "opt/warren/bin/warren-agent");
	assert_non_null(agent);
	assert_string_equal(agent, "#!/bin/sh\necho v1\n");
	free(agent);

	/* A stale resolv.conf is replaced by the host's on the next ensure. */
	snprintf(path, sizeof(path), "%s/templates/base/rootfs/etc/resolv.conf", f->state);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write_agent(path, "nameserver 192.0.2.99\n"), 0);
	assert_int_equal(rt_template_ensure(f->rt, "base", &err), 0);
	char *resolv = slurp(f, "etc/resolv.conf");
	assert_non_null(resolv);
	assert_null(strstr(resolv, "192.0.2.99"));
	assert_non_null(strstr(resolv, "nameserver"));
	free(resolv);

	/* A changed agent binary is picked up on the next ensure. */
	assert_int_equal(write_agent(f->agent, "#!/bin/sh\necho version-2\n"), 0);
	assert_int_equal(rt_template_ensure(f->rt, "base", &err), 0);
	agent = slurp(f, "opt/warren/bin/warren-agent");
	assert_non_null(agent);
	assert_string_equal(agent, "#!/bin/sh\necho version-2\n");
	free(agent);
}

/* SSH (docs/SSH.md): the sshd account and our sshd_config, restored in an older template. */
static void test_template_ssh(void **state)
{
	struct fixture *f = *state;
	struct warren_error err = {0};
	char path[512];

	assert_int_equal(rt_template_ensure(f->rt, "base", &err), 0);
	char *passwd = slurp(f, "etc/passwd");
	assert_non_null(passwd);
	assert_non_null(strstr(passwd, "\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"));
	free(passwd);
	char *shadow = slurp(f, "etc/shadow");
	assert_non_null(strstr(shadow, "\nsshd:*:"));
	free(shadow);
	char *conf = slurp(f, "etc/ssh/sshd_config");
	assert_non_null(conf);
	assert_non_null(strstr(conf, "\nUsePAM no\n"));
	assert_non_null(strstr(conf, "\nPasswordAuthentication no\n"));
	free(conf);
	/* The bridge comes from the build tree (the fixture's agent has none beside it). */
	char *bridge = slurp(f, "opt/warren/bin/warren-wsbridge");
	assert_non_null(bridge);
	free(bridge);

	/* A template from before SSH: no sshd account, the host's config. */
	snprintf(path, sizeof(path), "%s/templates/base/rootfs/etc/passwd", f->state);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write_agent(path, "root:x:0:0:root:/root:/bin/bash\n"), 0);
	snprintf(path, sizeof(path), "%s/templates/base/rootfs/etc/ssh/sshd_config", f->state);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(write_agent(path, "UsePAM yes\n"), 0);
	assert_int_equal(rt_template_ensure(f->rt, "base", &err), 0);
	passwd = slurp(f, "etc/passwd");
	assert_non_null(strstr(passwd, "\nsshd:x:100:"));
	assert_non_null(strstr(passwd, "\nuser:x:1000:"));
	free(passwd);
	conf = slurp(f, "etc/ssh/sshd_config");
	assert_non_null(strstr(conf, "\nUsePAM no\n"));
	assert_null(strstr(conf, "UsePAM yes"));
	free(conf);
}

static void test_upper_layer(void **state)
{
	struct fixture *f = *state;
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/upper", f->state);
	assert_int_equal(mkdir(path, 0755), 0);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(template_populate_upper(fd, "abc123", 2000000), 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/upper/home/user", f->state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 2000000 + RT_USER_ID);
	snprintf(path, sizeof(path), "%s/upper/root", f->state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 2000000);
	assert_int_equal(st.st_mode & 07777, 0700);
	char *hosts = NULL;
	snprintf(path, sizeof(path), "%s/upper/etc/hosts", f->state);
	assert_int_equal(read_file(path, 4096, &hosts, NULL), 0);
	assert_non_null(strstr(hosts, "127.0.1.1\tabc123\n"));
	free(hosts);
	/* sshd's host keys go into etc/ssh; run/sshd is its privsep chroot (root's, 0755). */
	snprintf(path, sizeof(path), "%s/upper/etc/ssh", f->state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 2000000);
	snprintf(path, sizeof(path), "%s/upper/run/sshd", f->state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 2000000);
	assert_int_equal(st.st_mode & 07777, 0755);
}

static void test_overlay_opts(void **state)
{
	char buf[256];

	assert_int_equal(mnt_format_overlay_opts(buf, sizeof(buf), "/l", "/u", "/w"), 0);
	assert_string_equal(buf, "lowerdir=/l,upperdir=/u,workdir=/w,userxattr");
	assert_int_equal(mnt_format_overlay_opts(buf, sizeof(buf), "/l,x", "/u", "/w"), -EINVAL);
	assert_int_equal(mnt_format_overlay_opts(buf, sizeof(buf), "/l", "/u:2", "/w"), -EINVAL);
	assert_int_equal(mnt_format_overlay_opts(buf, 10, "/l", "/u", "/w"), -ENAMETOOLONG);
}

static void test_seccomp_prog(void **state)
{
	struct sock_fprog prog = {0};
	struct warren_error err = {0};

	assert_int_equal(seccomp_prog_build(&prog, &err), 0);
	assert_non_null(prog.filter);
	/* The personality prefix (13) plus libseccomp's program with every rule. */
	assert_true(prog.len > 13 + 40);
	assert_true(prog.len <= BPF_MAXINSNS);
	/* The last instruction of a filter is a return. */
	assert_int_equal(BPF_CLASS(prog.filter[prog.len - 1].code), BPF_RET);
	seccomp_prog_free(&prog);
	assert_null(prog.filter);
	seccomp_prog_free(NULL);
}

static void test_create_rejects_bad_specs(void **state)
{
	struct fixture *f = *state;
	struct warren_error err = {0};
	struct rt_sandbox sb;
	struct rt_spec spec = {.id = "ok1", .template_id = "base", .slot = 1};

	spec.id = "Bad";
	assert_int_equal(rt_create(f->rt, &spec, &sb, &err), -EINVAL);
	spec.id = "a23456789012345678901234567890123"; /* 33 chars */
	assert_int_equal(rt_create(f->rt, &spec, &sb, &err), -EINVAL);
	spec.id = "ok1";
	spec.slot = 0;
	assert_int_equal(rt_create(f->rt, &spec, &sb, &err), -EINVAL);
	spec.slot = 70000; /* beyond the 32-bit uid space */
	assert_int_equal(rt_create(f->rt, &spec, &sb, &err), -ERANGE);
	spec.slot = 1;
	spec.template_id = "nope";
	assert_int_equal(rt_create(f->rt, &spec, &sb, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "nope"));
	/* Destroying what never existed is fine, an invalid id is not. */
	assert_int_equal(rt_destroy(f->rt, "neverwas", 0, 0, 0), 0);
	assert_int_equal(rt_destroy(f->rt, "../x", 0, 0, 0), -EINVAL);
	assert_int_equal(rt_adopt(f->rt, 0, 0), -ESRCH);
	assert_int_equal(rt_adopt(f->rt, getpid(), 1), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_template_base, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_template_ssh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upper_layer, setup, teardown),
	    cmocka_unit_test(test_overlay_opts),
	    cmocka_unit_test(test_seccomp_prog),
	    cmocka_unit_test_setup_teardown(test_create_rejects_bad_specs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
