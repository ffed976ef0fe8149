/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real sandbox networking: needs root (skipped otherwise). Uses a test-only
 * bridge "wtest0" on 10.203.0.0/16, slots 60001.. (host ports named by net_slot_ifname), and an
 * "internet" namespace reached through a host veth "wtinet0" on
 * 10.209.41.0/24. Every address is one of the namespaces made here; nothing
 * is sent to real external or private addresses. Everything is removed at the
 * end, and net.ipv4.ip_forward is put back as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "runtime/net.h"
#include "runtime/net_internal.h"

#define BRIDGE "wtest0"
#define SUBNET "10.203.0.0/16"
#define SLOT_A 60001u /* internet */
#define SLOT_B 60002u /* internet */
#define SLOT_C 60003u /* no internet */
#define INET_HOST "10.209.41.1"
#define INET_PEER "10.209.41.2"
#define SPOOF_ADDR "10.203.99.99"

struct tns {
	pid_t pid;
	int fd;     /* /proc/<pid>/ns/net */
	int hold_w; /* closing it ends the namespace's holder process */
};

#define MAX_SERVERS 16

struct fixture {
	struct net_mgr *m;
	struct tns a, b, c, inet;
	struct in_addr addr_a, addr_b, addr_c, gw;
	unsigned prefix;
	pid_t servers[MAX_SERVERS];
	int n_servers;
	char *ip_forward;
};

static struct fixture fx;

static int ns_new(struct tns *t)
{
	int ready[2], hold[2];
	char c, path[64];

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0)
		return -errno;
	t->pid = fork();
	if (t->pid < 0)
		return -errno;
	if (t->pid == 0) {
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		(void)!write(ready[1], "r", 1);
		(void)!read(hold[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	t->hold_w = hold[1];
	if (read(ready[0], &c, 1) != 1)
		return -EIO;
	close(ready[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)t->pid);
	t->fd = open(path, O_RDONLY | O_CLOEXEC);
	return t->fd < 0 ? -errno : 0;
}

static void ns_free(struct tns *t)
{
	if (t->pid <= 0)
		return;
	/* Its pipe may live on in forked servers, so end the holder by its pid. */
	kill(t->pid, SIGKILL);
	close(t->hold_w);
	close(t->fd);
	waitpid(t->pid, NULL, 0);
	t->pid = 0;
}

/* Runs fn in a child inside the namespace; returns its exit code (0 = success). */
static int in_ns(const struct tns *t, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (setns(t->fd, CLONE_NEWNET) < 0)
			_exit(120);
		_exit(fn(arg) & 0x7f);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 121;
	return WEXITSTATUS(status);
}

static struct sockaddr_in sin_of(const char *ip, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	inet_pton(AF_INET, ip, &sa.sin_addr);
	return sa;
}

/*
 * A TCP server (or UDP when udp) in the namespace (NULL: the host) on ip:port.
 * TCP: answers every connection with the peer's address as text. UDP: writes
 * each datagram's payload, one per line, to report_fd.
 */
static int server_start(const struct tns *t, const char *ip, int port, bool udp, int report_fd)
{
	int ready[2];
	char c = 0;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0 || fx.n_servers >= MAX_SERVERS)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct sockaddr_in sa = sin_of(ip, port);
		int one = 1, fd;

		if (t && setns(t->fd, CLONE_NEWNET) < 0)
			_exit(1);
		fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    (!udp && listen(fd, 16) < 0)) {
			(void)!write(ready[1], "0", 1);
			_exit(1);
		}
		(void)!write(ready[1], "1", 1);
		for (;;) {
			char buf[128];
			struct sockaddr_in peer;
			socklen_t pl = sizeof(peer);
			if (udp) {
				ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
				if (n > 0) {
					buf[n++] = '\n';
					(void)!write(report_fd, buf, (size_t)n);
				}
				continue;
			}
			int cfd = accept4(fd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
			if (cfd < 0)
				continue;
			inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof(buf));
			(void)!write(cfd, buf, strlen(buf));
			close(cfd);
		}
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1 || c != '1') {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	fx.servers[fx.n_servers++] = pid;
	return 0;
}

struct conn {
	const char *ip;
	int port;
	char seen_as[64]; /* filled by the child: what the server saw (only via exit code here) */
	const char *expect_peer; /* when set, the server must have seen this address */
};

/* 0: connected and got the server's line (matching expect_peer when set); 1: no connection. */
static int tcp_try(void *arg)
{
	struct conn *c = arg;
	struct sockaddr_in sa = sin_of(c->ip, c->port);
	struct pollfd p;
	char buf[64] = {0};
	int fd, err = 0;
	socklen_t el = sizeof(err);
	ssize_t n;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		return 1;
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	/* A dropped SYN shows as a timeout: 700 ms is ample on one host. */
	if (poll(&p, 1, 700) != 1)
		return 1;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err)
		return 1;
	p.events = POLLIN;
	if (poll(&p, 1, 2000) != 1)
		return 3;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 3;
	if (c->expect_peer && strcmp(buf, c->expect_peer) != 0)
		return 4;
	return 0;
}

static int tcp_from_host(const char *ip, int port)
{
	struct conn c = {.ip = ip, .port = port};

	return tcp_try(&c);
}

static int tcp_from(const struct tns *t, const char *ip, int port, const char *expect_peer)
{
	struct conn c = {.ip = ip, .port = port, .expect_peer = expect_peer};

	return in_ns(t, tcp_try, &c);
}

struct setup_arg {
	struct in_addr addr, gw;
	unsigned prefix;
};

static int do_setup_inside(void *arg)
{
	struct setup_arg *s = arg;

	return net_setup_inside(s->addr, s->prefix, s->gw) == 0 ? 0 : 1;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int attach_one(struct tns *t, unsigned slot, bool internet, struct in_addr *ret_addr)
{
	struct warren_error err = {0};
	struct setup_arg s;
	int64_t t0, t1, t2;
	int r;

	if (ns_new(t) < 0)
		return -1;
	assert_int_equal(net_slot_addr(fx.m, slot, ret_addr), 0);
	t0 = now_mono_us();
	r = net_attach(fx.m, slot, t->pid, internet, &err);
	t1 = now_mono_us();
	if (r < 0) {
		fprintf(stderr, "net_attach: %s\n", err.msg);
		return -1;
	}
	s = (struct setup_arg){.addr = *ret_addr, .gw = fx.gw, .prefix = fx.prefix};
	if (in_ns(t, do_setup_inside, &s) != 0)
		return -1;
	t2 = now_mono_us();
	printf("slot %u: net_attach %" PRId64 " us, net_setup_inside %" PRId64 " us\n", slot,
	       t1 - t0, t2 - t1);
	return 0;
}

static int setup(void **state)
{
	struct net_config cfg = {.bridge = BRIDGE, .subnet = SUBNET};
	struct warren_error err = {0};
	struct setup_arg s;
	int64_t t0;

	if (geteuid() != 0)
		return 0;
	if (read_file("/proc/sys/net/ipv4/ip_forward", 16, &fx.ip_forward, NULL) < 0)
		return -1;
	/* Leftovers of an interrupted run. */
	(void)sh("ip link del wtinet0 2>/dev/null; ip link del " BRIDGE " 2>/dev/null");
	t0 = now_mono_us();
	if (net_mgr_new(&cfg, &fx.m, &err) < 0) {
		fprintf(stderr, "net_mgr_new: %s\n", err.msg);
		return -1;
	}
	printf("net_mgr_new (bridge + firewall): %" PRId64 " us\n", now_mono_us() - t0);
	net_gateway(fx.m, &fx.gw, &fx.prefix);
	if (attach_one(&fx.a, SLOT_A, true, &fx.addr_a) < 0 ||
	    attach_one(&fx.b, SLOT_B, true, &fx.addr_b) < 0 ||
	    attach_one(&fx.c, SLOT_C, false, &fx.addr_c) < 0)
		return -1;

	/* "The internet": a namespace behind a host veth on its own routed subnet. */
	if (ns_new(&fx.inet) < 0)
		return -1;
	if (sh("ip link add wtinet0 type veth peer name eth0 netns %d && "
	       "ip addr add " INET_HOST "/24 dev wtinet0 && ip link set wtinet0 up",
	       (int)fx.inet.pid) != 0)
		return -1;
	s.prefix = 24;
	inet_pton(AF_INET, INET_PEER, &s.addr);
	inet_pton(AF_INET, INET_HOST, &s.gw);
	if (in_ns(&fx.inet, do_setup_inside, &s) != 0)
		return -1;
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	int i, r = 0;

	if (!fx.m)
		return 0;
	for (i = 0; i < fx.n_servers; i++) {
		kill(fx.servers[i], SIGKILL);
		waitpid(fx.servers[i], NULL, 0);
	}
	ns_free(&fx.a);
	ns_free(&fx.b);
	ns_free(&fx.c);
	ns_free(&fx.inet);
	(void)sh("ip link del wtinet0 2>/dev/null");
	if (net_mgr_remove(fx.m) < 0)
		r = -1;
	net_mgr_free(fx.m);
	if (fx.ip_forward && write_file("/proc/sys/net/ipv4/ip_forward", fx.ip_forward) < 0)
		r = -1;
	free(fx.ip_forward);
	if (sh("ip link show " BRIDGE " >/dev/null 2>&1") == 0 ||
	    sh("nft list table inet " BRIDGE " >/dev/null 2>&1") == 0 ||
	    sh("nft list table bridge " BRIDGE " >/dev/null 2>&1") == 0) {
		fprintf(stderr, "test bridge or tables left behind\n");
		r = -1;
	}
	return r;
}

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (!*state) {                                                                     \
			skip();                                                                    \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static const char *ip_str(struct in_addr a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static void test_slot_addresses(void **state)
{
	struct in_addr a;
	char s[INET_ADDRSTRLEN];

	NEED_ROOT();
	assert_int_equal(net_slot_addr(fx.m, 0, &a), -ERANGE);
	assert_int_equal(net_slot_addr(fx.m, 1, &a), 0);
	assert_string_equal(ip_str(a, s), "10.203.0.2");
	assert_int_equal(net_slot_addr(fx.m, 65533, &a), 0);
	assert_string_equal(ip_str(a, s), "10.203.255.254");
	assert_int_equal(net_slot_addr(fx.m, 65534, &a), -ERANGE);
	assert_string_equal(ip_str(fx.gw, s), "10.203.0.1");
	assert_int_equal(fx.prefix, 16);
}

/* /sys/class/net/<host end of slot>, for the checks below. */
static const char *port_path(unsigned slot, const char *suffix)
{
	static char path[128];
	char name[16];

	net_slot_ifname(fx.m, slot, name);
	snprintf(path, sizeof(path), "/sys/class/net/%s%s", name, suffix);
	return path;
}

static void test_port_is_isolated(void **state)
{
	_cleanup_free_ char *iso = NULL;
	char cmd[256];

	NEED_ROOT();
	assert_int_equal(read_file(port_path(SLOT_A, "/brport/isolated"), 16, &iso, NULL), 0);
	assert_string_equal(iso, "1\n");
	snprintf(cmd, sizeof(cmd), "test \"$(basename $(readlink %s))\" = " BRIDGE,
	         port_path(SLOT_A, "/master"));
	assert_int_equal(sh("%s", cmd), 0);
}

static void test_host_reaches_sandbox(void **state)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	NEED_ROOT();
	ip_str(fx.addr_a, a);
	ip_str(fx.addr_b, b);
	assert_int_equal(server_start(&fx.a, "0.0.0.0", 8080, false, -1), 0);
	assert_int_equal(server_start(&fx.b, "0.0.0.0", 8080, false, -1), 0);
	assert_int_equal(tcp_from_host(a, 8080), 0);
	assert_int_equal(tcp_from_host(b, 8080), 0);
}

static void test_sandbox_cannot_reach_host(void **state)
{
	char gw[INET_ADDRSTRLEN];

	NEED_ROOT();
	ip_str(fx.gw, gw);
	assert_int_equal(server_start(NULL, "0.0.0.0", 9092, false, -1), 0);
	assert_int_equal(server_start(NULL, "127.0.0.1", 9091, false, -1), 0);
	/* Control: the host's server answers on its own addresses. */
	assert_int_equal(tcp_from_host(gw, 9092), 0);
	assert_int_equal(tcp_from_host("127.0.0.1", 9091), 0);
	/* From sandboxes: not the gateway, nor another host address. */
	assert_int_equal(tcp_from(&fx.a, gw, 9092, NULL), 1);
	assert_int_equal(tcp_from(&fx.a, gw, 9091, NULL), 1);
	assert_int_equal(tcp_from(&fx.a, INET_HOST, 9092, NULL), 1);
	assert_int_equal(tcp_from(&fx.c, gw, 9092, NULL), 1);
}

static int run_cmd(void *arg)
{
	return system(arg) == 0 ? 0 : 1;
}

/*
 * Root inside a sandbox can aim 127.0.0.1 at the gateway: accept local-net
 * routing on eth0, drop the local loopback routes, route 127/8 via the
 * gateway. Even with the host's bridge accepting such packets
 * (route_localnet, as some hosts set), the firewall must drop them.
 */
static void test_sandbox_cannot_reach_host_loopback(void **state)
{
	NEED_ROOT();
	/* Server on the host's 127.0.0.1:9091 from the previous test. */
	assert_int_equal(tcp_from_host("127.0.0.1", 9091), 0);
	assert_int_equal(write_file("/proc/sys/net/ipv4/conf/" BRIDGE "/route_localnet", "1"), 0);
	assert_int_equal(in_ns(&fx.b, run_cmd,
	                       (void *)"echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet && "
	                               "ip route del local 127.0.0.0/8 dev lo table local && "
	                               "ip route del local 127.0.0.1 dev lo table local && "
	                               "ip route add 127.0.0.0/8 via 10.203.0.1 dev eth0 onlink"),
	                 0);
	assert_int_equal(tcp_from(&fx.b, "127.0.0.1", 9091, NULL), 1);
	assert_int_equal(write_file("/proc/sys/net/ipv4/conf/" BRIDGE "/route_localnet", "0"), 0);
}

static void test_sandboxes_isolated(void **state)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	NEED_ROOT();
	ip_str(fx.addr_a, a);
	ip_str(fx.addr_b, b);
	/* Servers of test_host_reaches_sandbox; the host reaches both. */
	assert_int_equal(tcp_from_host(b, 8080), 0);
	assert_int_equal(tcp_from(&fx.a, b, 8080, NULL), 1);
	assert_int_equal(tcp_from(&fx.c, a, 8080, NULL), 1);
}

static void test_internet(void **state)
{
	NEED_ROOT();
	assert_int_equal(server_start(&fx.inet, "0.0.0.0", 7070, false, -1), 0);
	/* Allowed, and masqueraded: the far end sees the host's address. */
	assert_int_equal(tcp_from(&fx.a, INET_PEER, 7070, INET_HOST), 0);
	assert_int_equal(tcp_from(&fx.b, INET_PEER, 7070, INET_HOST), 0);
	/* The no-internet sandbox cannot. */
	assert_int_equal(tcp_from(&fx.c, INET_PEER, 7070, NULL), 1);
}

static int send_spoofed_then_real(void *arg)
{
	cpu_set_t cpus;
	struct sockaddr_in dst = sin_of(INET_PEER, 7071);

	/* One CPU: both datagrams go through the same backlog, in order. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	if (system("ip addr add " SPOOF_ADDR "/32 dev eth0") != 0)
		return 1;
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in src = sin_of(i == 0 ? SPOOF_ADDR : (const char *)arg, 0);
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		const char *msg = i == 0 ? "spoofed" : "real";
		if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			return 2;
		if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
			return 3;
		close(fd);
	}
	return 0;
}

static void test_no_spoofing(void **state)
{
	char a[INET_ADDRSTRLEN], line[64] = {0};
	int rep[2];
	struct pollfd p;
	ssize_t n;

	NEED_ROOT();
	ip_str(fx.addr_a, a);
	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	assert_int_equal(server_start(&fx.inet, "0.0.0.0", 7071, true, rep[1]), 0);
	assert_int_equal(in_ns(&fx.a, send_spoofed_then_real, a), 0);
	p = (struct pollfd){.fd = rep[0], .events = POLLIN};
	assert_int_equal(poll(&p, 1, 3000), 1);
	n = read(rep[0], line, sizeof(line) - 1);
	assert_true(n > 0);
	/* The first datagram to arrive is the real one: the spoofed one was dropped. */
	assert_string_equal(line, "real\n");
	close(rep[0]);
	close(rep[1]);
}

/* A restarted warrend re-installs the firewall; live sandboxes keep their state. */
static void test_restart_keeps_state(void **state)
{
	struct net_config cfg = {.bridge = BRIDGE, .subnet = SUBNET};
	struct warren_error err = {0};
	struct net_mgr *m2;
	char a[INET_ADDRSTRLEN];

	NEED_ROOT();
	ip_str(fx.addr_a, a);
	assert_int_equal(net_mgr_new(&cfg, &m2, &err), 0);
	net_mgr_free(fx.m);
	fx.m = m2;
	assert_int_equal(tcp_from_host(a, 8080), 0);
	assert_int_equal(tcp_from(&fx.a, INET_PEER, 7070, INET_HOST), 0);
	assert_int_equal(tcp_from(&fx.c, INET_PEER, 7070, NULL), 1);
}

static void test_detach(void **state)
{
	struct warren_error err = {0};

	NEED_ROOT();
	char name[16], cmd[128];

	net_slot_ifname(fx.m, SLOT_A, name);
	snprintf(cmd, sizeof(cmd), "nft list set bridge " BRIDGE " ports | grep -q %s", name);
	assert_int_equal(access(port_path(SLOT_A, ""), F_OK), 0);
	assert_int_equal(net_detach(fx.m, SLOT_A), 0);
	assert_int_equal(access(port_path(SLOT_A, ""), F_OK), -1);
	assert_int_equal(sh("%s", cmd), 256);
	assert_int_equal(sh("nft list set inet " BRIDGE " inet_ok | grep -q '10.203.234.98'"), 256);
	assert_int_equal(sh("nft list set inet " BRIDGE " inet_ok | grep -q '10.203.234.99'"), 0);
	assert_int_equal(sh("nft list set inet " BRIDGE " inet_ok | grep -q '10.203.234.100'"),
	                 256);
	/* Idempotent; a dead namespace takes its veth along. */
	assert_int_equal(net_detach(fx.m, SLOT_A), 0);
	ns_free(&fx.b);
	assert_int_equal(net_detach(fx.m, SLOT_B), 0);
	assert_int_equal(access(port_path(SLOT_B, ""), F_OK), -1);
	assert_int_equal(sh("nft list set inet " BRIDGE " inet_ok | grep -q '10.203.234.99'"), 256);
	/* A slot re-used with internet after a no-internet sandbox, and the other way round. */
	assert_int_equal(net_detach(fx.m, SLOT_C), 0);
	assert_int_equal(net_attach(fx.m, SLOT_C, fx.c.pid, true, &err), 0);
	assert_int_equal(sh("nft list set inet " BRIDGE " inet_ok | grep -q '10.203.234.100'"), 0);
	/* No detach in between, as after a crash: the stale grant must go. */
	assert_int_equal(net_attach(fx.m, SLOT_C, fx.c.pid, false, &err), 0);
	assert_int_equal(sh("nft list set inet " BRIDGE " inet_ok | grep -q '10.203.234.100'"),
	                 256);
	assert_int_equal(net_attach(fx.m, 70000, fx.c.pid, true, &err), -ERANGE);
}

/* With no sandbox left on it, the bridge must keep its carrier: otherwise the host
 * drops what it sends to the next sandbox until a link-state pass, up to 1 s later. */
static void test_bridge_keeps_carrier(void **state)
{
	_cleanup_free_ char *carrier = NULL;

	NEED_ROOT();
	assert_int_equal(net_detach(fx.m, SLOT_C), 0);
	assert_int_equal(read_file("/sys/class/net/" BRIDGE "/carrier", 16, &carrier, NULL), 0);
	assert_string_equal(carrier, "1\n");
}

/*
 * The bridge, subnets and namespaces have fixed names, so two runs of this
 * program on one host (two worktrees at once) would tear down each other's:
 * runs take a host-wide lock and go one at a time.
 */
static int lock_host(void)
{
	int fd = open("/run/lock/warren-test-net.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		return -1;
	return fd; /* held until exit */
}

int main(void)
{
	if (lock_host() < 0) {
		perror("test-net: /run/lock/warren-test-net.lock");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slot_addresses),
	    cmocka_unit_test(test_port_is_isolated),
	    cmocka_unit_test(test_host_reaches_sandbox),
	    cmocka_unit_test(test_sandbox_cannot_reach_host),
	    cmocka_unit_test(test_sandbox_cannot_reach_host_loopback),
	    cmocka_unit_test(test_sandboxes_isolated),
	    cmocka_unit_test(test_internet),
	    cmocka_unit_test(test_no_spoofing),
	    cmocka_unit_test(test_restart_keeps_state),
	    cmocka_unit_test(test_detach),
	    cmocka_unit_test(test_bridge_keeps_carrier),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
