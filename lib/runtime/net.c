/* SPDX-License-Identifier: Apache-2.0 */
#include "runtime/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "runtime/net_internal.h"
#include "runtime/nft.h"

#define NET_DEFAULT_BRIDGE "warren0"
#define NET_DEFAULT_SUBNET "10.201.0.0/16"
#define NET_IFACE_INSIDE "eth0"
#define NET_NL_BUF 8192

/* Immutable after net_mgr_new() except through the firewall, which locks itself. */
struct net_mgr {
	char bridge[IFNAMSIZ];
	/* Host ends are named "w<hash of bridge>v<slot>" so that two warrend instances on one
	 * host (a developer's and a test run's) never take over each other's interfaces. */
	char veth_prefix[8];
	int bridge_ifindex;
	uint32_t net; /* subnet base, host byte order */
	unsigned prefix;
	struct nft_fw *fw;
};

/*
 * Netlink without the heap: net_setup_inside() runs in a freshly cloned
 * child of a threaded daemon, where malloc is not safe to call.
 */
struct nl {
	int fd;
	uint32_t seq;
};

static int nl_open(struct nl *nl)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_sec = 2};

	nl->seq = 1;
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	/* A kernel that does not answer within 2 s is a bug, not a reason to hang. */
	(void)setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(nl->fd);
		nl->fd = -1;
		return r;
	}
	return 0;
}

static void nl_close(struct nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

static struct nlmsghdr *nl_msg(void *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	return nlh;
}

/* Sends one request and waits for its acknowledgement: 0 or the kernel's -errno. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh)
{
	char buf[NET_NL_BUF] __attribute__((aligned(8)));
	uint32_t seq = ++nl->seq;
	ssize_t n;
	int r;

	nlh->nlmsg_seq = seq;
	n = send(nl->fd, nlh, nlh->nlmsg_len, 0);
	if (n < 0)
		return -errno;
	for (;;) {
		n = recv(nl->fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		r = mnl_cb_run(buf, (size_t)n, seq, 0, NULL, NULL);
		if (r == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static struct ifinfomsg *nl_ifi(struct nlmsghdr *nlh, int family, int index)
{
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = (unsigned char)family;
	ifi->ifi_index = index;
	return ifi;
}

static int nl_link_up(struct nl *nl, int index)
{
	char buf[512] __attribute__((aligned(8))) = {0};
	struct nlmsghdr *nlh = nl_msg(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi = nl_ifi(nlh, AF_UNSPEC, index);

	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_talk(nl, nlh);
}

static int nl_addr_add(struct nl *nl, int index, uint32_t addr_be, unsigned prefix)
{
	char buf[512] __attribute__((aligned(8))) = {0};
	struct nlmsghdr *nlh = nl_msg(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)index;
	mnl_attr_put_u32(nlh, IFA_LOCAL, addr_be);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, addr_be);
	return nl_talk(nl, nlh);
}

/* No IPv6 addresses at all, link-local included: sandboxes are IPv4 only. */
static int nl_no_ipv6_addrs(struct nl *nl, int index)
{
	char buf[512] __attribute__((aligned(8))) = {0};
	struct nlmsghdr *nlh = nl_msg(buf, RTM_NEWLINK, 0);
	struct nlattr *spec, *in6;

	nl_ifi(nlh, AF_UNSPEC, index);
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	in6 = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, in6);
	mnl_attr_nest_end(nlh, spec);
	return nl_talk(nl, nlh);
}

/*
 * A bridge without an address of its own takes the lowest of its ports', so
 * it would change as sandboxes come and go and leave stale gateway entries in
 * the sandboxes' neighbour tables. Slot MACs are 02:57:<slot>, slot < 2^24.
 */
static const uint8_t net_bridge_mac[6] = {0x02, 0x57, 0xff, 0xff, 0xff, 0xfe};

static int nl_set_mac(struct nl *nl, int index, const uint8_t mac[6])
{
	char buf[512] __attribute__((aligned(8))) = {0};
	struct nlmsghdr *nlh = nl_msg(buf, RTM_NEWLINK, 0);

	nl_ifi(nlh, AF_UNSPEC, index);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	return nl_talk(nl, nlh);
}

static int nl_link_del(struct nl *nl, const char *name)
{
	char buf[512] __attribute__((aligned(8))) = {0};
	struct nlmsghdr *nlh = nl_msg(buf, RTM_DELLINK, 0);

	nl_ifi(nlh, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nl_talk(nl, nlh);
}

static int parse_subnet(const char *s, uint32_t *ret_net, unsigned *ret_prefix)
{
	char a[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	char *end;
	unsigned long p;
	uint32_t mask;

	if (!slash || (size_t)(slash - s) >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, (size_t)(slash - s));
	a[slash - s] = '\0';
	if (inet_pton(AF_INET, a, &in) != 1)
		return -EINVAL;
	errno = 0;
	p = strtoul(slash + 1, &end, 10);
	/* At least a gateway and one sandbox; at most a /8. */
	if (errno || *end || end == slash + 1 || p < 8 || p > 30)
		return -EINVAL;
	mask = 0xffffffffu << (32 - p);
	*ret_net = ntohl(in.s_addr) & mask;
	*ret_prefix = (unsigned)p;
	return 0;
}

static int bridge_name_valid(const char *s)
{
	size_t i;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (i = 0; s[i]; i++)
		if (i >= 15 || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		                 s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static int bridge_ensure(struct net_mgr *m, struct warren_error *err)
{
	char buf[512] __attribute__((aligned(8))) = {0}, path[128];
	struct nlmsghdr *nlh = nl_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *li;
	struct nl nl;
	int r;

	r = nl_open(&nl);
	if (r < 0)
		return err_set(err, -r, "opening rtnetlink: %s", strerror(-r));
	nl_ifi(nlh, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, m->bridge);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, li);
	r = nl_talk(&nl, nlh);
	if (r < 0 && r != -EEXIST) {
		err_set(err, -r, "creating bridge %s: %s", m->bridge, strerror(-r));
		goto out;
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", m->bridge);
	if (access(path, F_OK) < 0) {
		r = err_set(err, EEXIST, "%s exists and is not a bridge", m->bridge);
		goto out;
	}
	m->bridge_ifindex = (int)if_nametoindex(m->bridge);
	if (m->bridge_ifindex <= 0) {
		r = err_set(err, errno, "looking up %s: %m", m->bridge);
		goto out;
	}
	r = nl_set_mac(&nl, m->bridge_ifindex, net_bridge_mac);
	if (r < 0) {
		err_set(err, -r, "setting the MAC address of %s: %s", m->bridge, strerror(-r));
		goto out;
	}
	(void)nl_no_ipv6_addrs(&nl, m->bridge_ifindex);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", m->bridge);
	(void)write_file(path, "1");
	r = nl_addr_add(&nl, m->bridge_ifindex, htonl(m->net + 1), m->prefix);
	if (r < 0 && r != -EEXIST) {
		err_set(err, -r, "adding the gateway address to %s: %s", m->bridge, strerror(-r));
		goto out;
	}
	r = nl_link_up(&nl, m->bridge_ifindex);
	if (r < 0)
		err_set(err, -r, "bringing %s up: %s", m->bridge, strerror(-r));
out:
	nl_close(&nl);
	return r < 0 ? r : 0;
}

/*
 * A bridge without a running port has no carrier, and the kernel then drops
 * what the host sends through it; when a port comes back, the carrier returns
 * only with the next link-state pass, up to a second later. With sandboxes
 * coming and going one at a time, every new sandbox would lose its first SYN to
 * that (a 1 s TCP retransmit). One idle, isolated veth pair kept on the bridge
 * holds the carrier up: "w<hash>k0" on the bridge, "w<hash>k1" its peer.
 */
static int port_isolate(struct nl *nl, int index);
static int veth_create(struct nl *nl, const struct net_mgr *m, const char *name,
                       const char *peer_name, pid_t peer_pid, const uint8_t peer_mac[6]);

static void keeper_names(const struct net_mgr *m, char k0[IFNAMSIZ], char k1[IFNAMSIZ])
{
	/* veth_prefix is "w<4 hex>v": keep the "w<4 hex>" part. */
	snprintf(k0, IFNAMSIZ, "%.5sk0", m->veth_prefix);
	snprintf(k1, IFNAMSIZ, "%.5sk1", m->veth_prefix);
}

static int bridge_keep_carrier(struct net_mgr *m, struct warren_error *err)
{
	char k0[IFNAMSIZ], k1[IFNAMSIZ], path[128];
	struct nl nl;
	int r, i0, i1;

	keeper_names(m, k0, k1);
	r = nl_open(&nl);
	if (r < 0)
		return err_set(err, -r, "opening rtnetlink: %s", strerror(-r));
	r = veth_create(&nl, m, k0, k1, 0, NULL);
	if (r < 0 && r != -EEXIST) {
		err_set(err, -r, "creating %s on %s: %s", k0, m->bridge, strerror(-r));
		goto out;
	}
	i0 = (int)if_nametoindex(k0);
	i1 = (int)if_nametoindex(k1);
	if (i0 <= 0 || i1 <= 0) {
		r = err_set(err, ENODEV, "looking up %s/%s", k0, k1);
		goto out;
	}
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		         k ? k1 : k0);
		(void)write_file(path, "1");
	}
	/* Isolated like the sandboxes' ports: nothing reaches a sandbox through it. */
	r = port_isolate(&nl, i0);
	if (r >= 0)
		r = nl_link_up(&nl, i1);
	if (r >= 0)
		r = nl_link_up(&nl, i0);
	if (r < 0)
		err_set(err, -r, "setting up %s: %s", k0, strerror(-r));
out:
	nl_close(&nl);
	return r < 0 ? r : 0;
}

int net_mgr_new(const struct net_config *cfg, struct net_mgr **ret, struct warren_error *err)
{
	const char *bridge = cfg && cfg->bridge ? cfg->bridge : NET_DEFAULT_BRIDGE;
	const char *subnet = cfg && cfg->subnet ? cfg->subnet : NET_DEFAULT_SUBNET;
	struct net_mgr *m;
	int r;

	if (!bridge_name_valid(bridge))
		return err_set(err, EINVAL, "invalid bridge name '%s'", bridge);
	m = calloc(1, sizeof(*m));
	if (!m)
		return err_set(err, ENOMEM, "out of memory");
	snprintf(m->bridge, sizeof(m->bridge), "%s", bridge);
	{
		/* FNV-1a of the bridge name: 16 bits are plenty to tell instances apart. */
		uint32_t h = 2166136261u;
		for (const char *p = bridge; *p; p++)
			h = (h ^ (uint8_t)*p) * 16777619u;
		snprintf(m->veth_prefix, sizeof(m->veth_prefix), "w%04xv", (unsigned)(h & 0xffff));
	}
	r = parse_subnet(subnet, &m->net, &m->prefix);
	if (r < 0) {
		err_set(err, EINVAL, "invalid subnet '%s' (want a.b.c.d/8..30)", subnet);
		goto fail;
	}
	r = bridge_ensure(m, err);
	if (r < 0)
		goto fail;
	r = bridge_keep_carrier(m, err);
	if (r < 0)
		goto fail;
	r = write_file("/proc/sys/net/ipv4/ip_forward", "1");
	if (r < 0) {
		err_set(err, -r, "enabling net.ipv4.ip_forward: %s", strerror(-r));
		goto fail;
	}
	r = nft_fw_new(m->bridge, (struct in_addr){htonl(m->net)}, m->prefix, &m->fw, err);
	if (r < 0)
		goto fail;
	*ret = m;
	return 0;
fail:
	net_mgr_free(m);
	return r;
}

void net_mgr_free(struct net_mgr *m)
{
	if (!m)
		return;
	nft_fw_free(m->fw);
	free(m);
}

int net_mgr_remove(struct net_mgr *m)
{
	struct nl nl;
	int r, q;

	r = nft_fw_remove(m->fw, NULL);
	q = nl_open(&nl);
	if (q == 0) {
		char k0[IFNAMSIZ], k1[IFNAMSIZ];
		keeper_names(m, k0, k1);
		(void)nl_link_del(&nl, k0);
		q = nl_link_del(&nl, m->bridge);
		nl_close(&nl);
	}
	if (q == -ENODEV)
		q = 0;
	return r < 0 ? r : q;
}

int net_slot_addr(const struct net_mgr *m, unsigned slot, struct in_addr *ret)
{
	uint64_t size = 1ull << (32 - m->prefix);

	/* .0 is the network, .1 the gateway, the last the broadcast address. */
	if (slot < 1 || (uint64_t)slot + 1 >= size - 1)
		return -ERANGE;
	ret->s_addr = htonl(m->net + slot + 1);
	return 0;
}

void net_gateway(const struct net_mgr *m, struct in_addr *ret_gw, unsigned *ret_prefix)
{
	ret_gw->s_addr = htonl(m->net + 1);
	*ret_prefix = m->prefix;
}

/* Locally administered and derived from the slot, so the firewall knows it in advance. */
static void veth_name(const struct net_mgr *m, unsigned slot, char name[IFNAMSIZ])
{
	snprintf(name, IFNAMSIZ, "%s%u", m->veth_prefix, slot);
}

void net_slot_ifname(const struct net_mgr *m, unsigned slot, char buf[16])
{
	veth_name(m, slot, buf);
}

static void slot_mac(unsigned slot, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x57;
	mac[2] = (uint8_t)(slot >> 24);
	mac[3] = (uint8_t)(slot >> 16);
	mac[4] = (uint8_t)(slot >> 8);
	mac[5] = (uint8_t)slot;
}

/* A veth pair whose first end "name" is a port of the bridge; the peer is created in the
 * network namespace of peer_pid (0: the host's) with peer_mac (NULL: a random one). */
static int veth_create(struct nl *nl, const struct net_mgr *m, const char *name,
                       const char *peer_name, pid_t peer_pid, const uint8_t peer_mac[6])
{
	char buf[1024] __attribute__((aligned(8))) = {0};
	struct nlmsghdr *nlh = nl_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *li, *data, *peer;
	struct ifinfomsg *pifi;

	nl_ifi(nlh, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)m->bridge_ifindex);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
	if (peer_pid > 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_PID, (uint32_t)peer_pid);
	if (peer_mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, peer_mac);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
	return nl_talk(nl, nlh);
}

static int port_isolate(struct nl *nl, int index)
{
	char buf[512] __attribute__((aligned(8))) = {0};
	struct nlmsghdr *nlh = nl_msg(buf, RTM_SETLINK, 0);
	struct nlattr *pi;

	nl_ifi(nlh, AF_BRIDGE, index);
	pi = mnl_attr_nest_start(nlh, IFLA_PROTINFO);
	mnl_attr_put_u8(nlh, IFLA_BRPORT_ISOLATED, 1);
	mnl_attr_nest_end(nlh, pi);
	return nl_talk(nl, nlh);
}

int net_attach(struct net_mgr *m, unsigned slot, pid_t pid, bool allow_internet,
               struct warren_error *err)
{
	char name[IFNAMSIZ];
	uint8_t mac[6];
	struct in_addr addr;
	struct nl nl;
	int r, index;

	if (pid <= 0)
		return err_set(err, EINVAL, "invalid pid");
	r = net_slot_addr(m, slot, &addr);
	if (r < 0)
		return err_set(err, ERANGE, "slot %u does not fit the subnet", slot);
	veth_name(m, slot, name);
	slot_mac(slot, mac);
	/* Firewall first: from its first frame on, the port is filtered. */
	r = nft_fw_slot_add(m->fw, name, mac, addr, allow_internet, err);
	if (r < 0) {
		err_prefix(err, "firewall for slot %u", slot);
		return r;
	}
	r = nl_open(&nl);
	if (r < 0) {
		err_set(err, -r, "opening rtnetlink: %s", strerror(-r));
		goto out_fw;
	}
	/* The peer is created directly in the sandbox's namespace, as eth0. */
	r = veth_create(&nl, m, name, NET_IFACE_INSIDE, pid, mac);
	if (r == -EEXIST) {
		/* Left over by a sandbox whose namespace still lives, or a crash: replace it. */
		(void)nl_link_del(&nl, name);
		r = veth_create(&nl, m, name, NET_IFACE_INSIDE, pid, mac);
	}
	if (r < 0) {
		err_set(err, -r, "creating veth %s for pid %d: %s", name, (int)pid, strerror(-r));
		goto out_nl;
	}
	index = (int)if_nametoindex(name);
	if (index <= 0) {
		r = err_set(err, errno ? errno : ENODEV, "looking up %s: %m", name);
		goto out_del;
	}
	r = port_isolate(&nl, index);
	if (r < 0) {
		err_set(err, -r, "isolating bridge port %s: %s", name, strerror(-r));
		goto out_del;
	}
	(void)nl_no_ipv6_addrs(&nl, index);
	r = nl_link_up(&nl, index);
	if (r < 0) {
		err_set(err, -r, "bringing %s up: %s", name, strerror(-r));
		goto out_del;
	}
	nl_close(&nl);
	return 0;

out_del:
	(void)nl_link_del(&nl, name);
out_nl:
	nl_close(&nl);
out_fw:
	(void)nft_fw_slot_del(m->fw, name, mac, addr, NULL);
	return r;
}

int net_detach(struct net_mgr *m, unsigned slot)
{
	char name[IFNAMSIZ];
	uint8_t mac[6];
	struct in_addr addr;
	struct nl nl;
	int r, q;

	r = net_slot_addr(m, slot, &addr);
	if (r < 0)
		return r;
	veth_name(m, slot, name);
	slot_mac(slot, mac);
	r = nl_open(&nl);
	if (r == 0) {
		r = nl_link_del(&nl, name);
		nl_close(&nl);
	}
	if (r == -ENODEV)
		r = 0;
	/* The firewall state goes last, so the port is never up unfiltered. */
	q = nft_fw_slot_del(m->fw, name, mac, addr, NULL);
	return r < 0 ? r : q;
}

int net_set_egress(struct net_mgr *m, unsigned slot, bool allow_internet,
                   const struct net_cidr *allow, size_t n_allow, const struct net_cidr *deny,
                   size_t n_deny, struct warren_error *err)
{
	struct in_addr addr;

	if (net_slot_addr(m, slot, &addr) < 0)
		return err_set(err, ERANGE, "slot %u does not fit the subnet", slot);
	return nft_fw_egress_set(m->fw, addr, allow_internet, allow, n_allow, deny, n_deny, err);
}

int net_setup_inside(struct in_addr addr, unsigned prefix, struct in_addr gw)
{
	char buf[512] __attribute__((aligned(8))) = {0};
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct nl nl;
	int r, lo, eth;

	if (prefix < 1 || prefix > 32)
		return -EINVAL;
	lo = (int)if_nametoindex("lo");
	eth = (int)if_nametoindex(NET_IFACE_INSIDE);
	if (lo <= 0 || eth <= 0)
		return -ENODEV;
	r = nl_open(&nl);
	if (r < 0)
		return r;
	r = nl_link_up(&nl, lo);
	if (r < 0)
		goto out;
	/* Best effort: a kernel without IPv6 has nothing to turn off. */
	(void)nl_no_ipv6_addrs(&nl, eth);
	r = nl_addr_add(&nl, eth, addr.s_addr, prefix);
	if (r < 0)
		goto out;
	r = nl_link_up(&nl, eth);
	if (r < 0)
		goto out;
	nlh = nl_msg(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_GATEWAY, gw.s_addr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)eth);
	r = nl_talk(&nl, nlh);
out:
	nl_close(&nl);
	return r;
}
