/* SPDX-License-Identifier: Apache-2.0 */
#include "runtime/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"

#define NFT_SCRIPT_MAX 8192

struct nft_fw {
	pthread_mutex_t lock; /* a libnftables context is not thread safe */
	struct nft_ctx *ctx;
	char bridge[16];
	char subnet[32]; /* "a.b.c.d/p" */
};

struct nft_script {
	char text[NFT_SCRIPT_MAX];
	size_t len;
	bool overflow;
};

static void __attribute__((format(printf, 2, 3))) ns_add(struct nft_script *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->text + s->len, sizeof(s->text) - s->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(s->text) - s->len)
		s->overflow = true;
	else
		s->len += (size_t)n;
}

/* Runs a script as one transaction: all of it applies, or none. */
static int fw_run(struct nft_fw *fw, const struct nft_script *s, struct warren_error *err)
{
	const char *msg;
	size_t n;
	int r;

	if (s->overflow)
		return err_set(err, E2BIG, "nftables script too long");
	pthread_mutex_lock(&fw->lock);
	r = nft_run_cmd_from_buffer(fw->ctx, s->text);
	msg = nft_ctx_get_error_buffer(fw->ctx);
	if (r != 0) {
		/* First line of nft's message; the rest repeats the script with carets. */
		n = msg ? strcspn(msg, "\n") : 0;
		err_set(err, EIO, "nft: %.*s", (int)(n > 200 ? 200 : n), msg ? msg : "failed");
	}
	/* Reading the buffers resets them for the next command. */
	(void)nft_ctx_get_output_buffer(fw->ctx);
	pthread_mutex_unlock(&fw->lock);
	return r != 0 ? -EIO : 0;
}

static bool nft_name_valid(const char *s)
{
	size_t i;

	if (!s || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		if (i >= 15 ||
		    !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/*
 * The whole ruleset; %1$s is the bridge (and table) name, %2$s its subnet.
 * "add" + "flush" of the base chains first, so an existing table keeps its
 * sets' elements and the sandboxes' egress chains (see nft_fw_egress_set)
 * and loses only its old base rules; the blocks then add to the emptied chains.
 */
static const char fw_rules[] =
    "add table inet %1$s\n"
    "add chain inet %1$s input { type filter hook input priority filter; policy accept; }\n"
    "flush chain inet %1$s input\n"
    "add chain inet %1$s forward { type filter hook forward priority filter; policy accept; }\n"
    "flush chain inet %1$s forward\n"
    "add chain inet %1$s postrouting { type nat hook postrouting priority srcnat; "
    "policy accept; }\n"
    "flush chain inet %1$s postrouting\n"
    "table inet %1$s {\n"
    "  set inet_ok { type ipv4_addr; }\n"
    /* Sandbox address -> its egress chain (allowOut / denyOut), when it has rules. */
    "  map egress { type ipv4_addr : verdict; }\n"
    "  chain input {\n"
    "    type filter hook input priority filter; policy accept;\n"
    /* The host's services, loopback-bound ones included, are not for sandboxes. */
    "    iifname \"%1$s\" ct state established,related accept\n"
    "    iifname \"%1$s\" drop\n"
    "  }\n"
    "  chain forward {\n"
    "    type filter hook forward priority filter; policy accept;\n"
    "    iifname \"%1$s\" meta nfproto ipv6 drop\n"
    "    oifname \"%1$s\" meta nfproto ipv6 drop\n"
    "    iifname \"%1$s\" oifname \"%1$s\" drop\n"
    "    iifname \"%1$s\" ip daddr %2$s drop\n"
    /* Link-local covers the cloud metadata services (instance credentials). */
    "    iifname \"%1$s\" ip daddr 169.254.0.0/16 drop\n"
    "    iifname \"%1$s\" ip saddr != %2$s drop\n"
    /* allowOut accepts (before the internet check), denyOut drops, else fall through. */
    "    iifname \"%1$s\" ip saddr vmap @egress\n"
    "    iifname \"%1$s\" ip saddr != @inet_ok drop\n"
    "    iifname \"%1$s\" accept\n"
    "    oifname \"%1$s\" ct state established,related accept\n"
    "    oifname \"%1$s\" drop\n"
    "  }\n"
    "  chain postrouting {\n"
    "    type nat hook postrouting priority srcnat; policy accept;\n"
    "    ip saddr %2$s oifname != \"%1$s\" masquerade\n"
    "  }\n"
    "}\n"
    "add table bridge %1$s\n"
    "flush table bridge %1$s\n"
    "table bridge %1$s {\n"
    "  set ports { type ifname; }\n"
    "  set slots { type ifname . ether_addr . ipv4_addr; }\n"
    "  chain prerouting {\n"
    "    type filter hook prerouting priority filter; policy accept;\n"
    "    iifname != @ports accept\n"
    "    ether type ip iifname . ether saddr . ip saddr @slots accept\n"
    "    ether type arp iifname . ether saddr . arp saddr ip @slots"
    " iifname . arp saddr ether . arp saddr ip @slots accept\n"
    "    drop\n"
    "  }\n"
    "}\n";

static void fw_script_rules(struct nft_fw *fw, struct nft_script *s)
{
	ns_add(s, fw_rules, fw->bridge, fw->subnet);
}

/* "add X; delete X" in one transaction removes X whether or not it existed. */
static void fw_script_delete_tables(struct nft_fw *fw, struct nft_script *s)
{
	ns_add(s, "add table inet %s\ndelete table inet %s\n", fw->bridge, fw->bridge);
	ns_add(s, "add table bridge %s\ndelete table bridge %s\n", fw->bridge, fw->bridge);
}

int nft_fw_new(const char *bridge, struct in_addr net, unsigned prefix, struct nft_fw **ret,
               struct warren_error *err)
{
	struct nft_script s = {0};
	struct nft_fw *fw;
	char a[INET_ADDRSTRLEN];
	int r;

	if (!nft_name_valid(bridge) || prefix > 32)
		return err_set(err, EINVAL, "invalid bridge name or prefix for the firewall");
	fw = calloc(1, sizeof(*fw));
	if (!fw)
		return err_set(err, ENOMEM, "out of memory");
	pthread_mutex_init(&fw->lock, NULL);
	fw->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!fw->ctx) {
		free(fw);
		return err_set(err, ENOMEM, "nft_ctx_new failed");
	}
	nft_ctx_buffer_output(fw->ctx);
	nft_ctx_buffer_error(fw->ctx);
	snprintf(fw->bridge, sizeof(fw->bridge), "%s", bridge);
	inet_ntop(AF_INET, &net, a, sizeof(a));
	snprintf(fw->subnet, sizeof(fw->subnet), "%s/%u", a, prefix);

	fw_script_rules(fw, &s);
	r = fw_run(fw, &s, err);
	if (r < 0) {
		/* Tables of another layout (an older warren): start from nothing. */
		memset(&s, 0, sizeof(s));
		fw_script_delete_tables(fw, &s);
		fw_script_rules(fw, &s);
		r = fw_run(fw, &s, err);
	}
	if (r < 0) {
		err_prefix(err, "installing firewall tables '%s'", bridge);
		nft_fw_free(fw);
		return r;
	}
	*ret = fw;
	return 0;
}

void nft_fw_free(struct nft_fw *fw)
{
	if (!fw)
		return;
	nft_ctx_free(fw->ctx);
	pthread_mutex_destroy(&fw->lock);
	free(fw);
}

int nft_fw_remove(struct nft_fw *fw, struct warren_error *err)
{
	struct nft_script s = {0};

	fw_script_delete_tables(fw, &s);
	return fw_run(fw, &s, err);
}

static bool ifname_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= 15 || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return i > 0;
}

static void fw_script_slot(struct nft_fw *fw, struct nft_script *s, const char *verb,
                           const char *ifname, const uint8_t mac[6], const char *addr)
{
	const char *b = fw->bridge;

	ns_add(s, "%s element bridge %s ports { \"%s\" }\n", verb, b, ifname);
	ns_add(s, "%s element bridge %s slots { \"%s\" . %02x:%02x:%02x:%02x:%02x:%02x . %s }\n",
	       verb, b, ifname, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], addr);
	ns_add(s, "%s element inet %s inet_ok { %s }\n", verb, b, addr);
}

/*
 * Per-sandbox changes are set elements only, sent as one nfnetlink batch
 * (one transaction) straight to the kernel: libnftables would first fetch
 * the ruleset into its cache, which costs milliseconds on a busy host.
 */
enum { ELEM_PORTS, ELEM_SLOTS, ELEM_INET_OK, ELEM_EGRESS };

struct elem_op {
	bool del;
	int which;
};

/* Keys as the kernel stores them: every field of a concatenation padded to 4 bytes. */
static size_t elem_key(int which, const char *ifname, const uint8_t mac[6], struct in_addr addr,
                       uint8_t key[32])
{
	memset(key, 0, 32);
	switch (which) {
	case ELEM_PORTS:
		memcpy(key, ifname, strlen(ifname));
		return IFNAMSIZ;
	case ELEM_SLOTS:
		memcpy(key, ifname, strlen(ifname));
		memcpy(key + IFNAMSIZ, mac, 6);
		memcpy(key + IFNAMSIZ + 8, &addr.s_addr, 4);
		return IFNAMSIZ + 8 + 4;
	default:
		memcpy(key, &addr.s_addr, 4);
		return 4;
	}
}

static void batch_marker(char *buf, uint16_t type, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
}

static void elem_msg(char *buf, const struct nft_fw *fw, uint16_t msg, uint16_t flags, uint32_t seq,
                     int which, const char *ifname, const uint8_t mac[6], struct in_addr addr)
{
	static const char *const set_names[] = {"ports", "slots", "inet_ok", "egress"};
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;
	struct nlattr *list, *elem, *key;
	uint8_t k[32];
	size_t klen = elem_key(which, ifname, mac, addr, k);

	nlh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | msg);
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = which >= ELEM_INET_OK ? NFPROTO_INET : NFPROTO_BRIDGE;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, fw->bridge);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set_names[which]);
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, klen, k);
	mnl_attr_nest_end(nlh, key);
	mnl_attr_nest_end(nlh, elem);
	mnl_attr_nest_end(nlh, list);
}

static int nfnl_open(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_sec = 2};
	int fd, r;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	/* A kernel that does not answer within 2 s is a bug, not a reason to hang. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* 1 if the element is in its set, 0 if not, -errno when the kernel cannot tell. */
static int fw_elem_exists(struct nft_fw *fw, int which, const char *ifname, const uint8_t mac[6],
                          struct in_addr addr)
{
	char buf[4096] __attribute__((aligned(8)));
	int fd, r, found = 0;
	ssize_t len;

	fd = nfnl_open();
	if (fd < 0)
		return fd;
	elem_msg(buf, fw, NFT_MSG_GETSETELEM, NLM_F_ACK, 1, which, ifname, mac, addr);
	if (send(fd, buf, ((struct nlmsghdr *)buf)->nlmsg_len, 0) < 0) {
		r = -errno;
		goto out;
	}
	/* The element (if any), then the acknowledgement or -ENOENT. */
	for (;;) {
		const struct nlmsghdr *nlh;
		int left;

		len = recv(fd, buf, sizeof(buf), 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			r = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		left = (int)len;
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR) {
				found = 1;
				continue;
			}
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
				r = -EBADMSG;
				goto out;
			}
			e = mnl_nlmsg_get_payload(nlh);
			r = e->error == -ENOENT ? 0 : e->error ? e->error : found;
			goto out;
		}
	}
out:
	close(fd);
	return r;
}

static int fw_elems_raw(struct nft_fw *fw, const struct elem_op *ops, size_t n_ops,
                        const char *ifname, const uint8_t mac[6], struct in_addr addr)
{
	char buf[4096] __attribute__((aligned(8)));
	struct mnl_nlmsg_batch *b;
	size_t i, n_acks = 0;
	uint32_t seq = 1;
	int fd, r = 0;

	fd = nfnl_open();
	if (fd < 0)
		return fd;
	b = mnl_nlmsg_batch_start(buf, sizeof(buf));
	if (!b) {
		r = -ENOMEM;
		goto out_close;
	}
	batch_marker(mnl_nlmsg_batch_current(b), NFNL_MSG_BATCH_BEGIN, seq++);
	mnl_nlmsg_batch_next(b);
	for (i = 0; i < n_ops; i++) {
		elem_msg(mnl_nlmsg_batch_current(b), fw,
		         ops[i].del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
		         NLM_F_ACK | (ops[i].del ? 0 : NLM_F_CREATE), seq++, ops[i].which, ifname,
		         mac, addr);
		mnl_nlmsg_batch_next(b);
	}
	batch_marker(mnl_nlmsg_batch_current(b), NFNL_MSG_BATCH_END, seq++);
	mnl_nlmsg_batch_next(b);
	if (send(fd, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b), 0) < 0) {
		r = -errno;
		goto out_batch;
	}
	/* One acknowledgement per request; the first error aborts the whole transaction. */
	while (n_acks < n_ops) {
		char rbuf[4096] __attribute__((aligned(8)));
		ssize_t len = recv(fd, rbuf, sizeof(rbuf), 0);
		const struct nlmsghdr *nlh;
		int left;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			r = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out_batch;
		}
		left = (int)len;
		for (nlh = (const struct nlmsghdr *)rbuf; mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
				r = -EBADMSG;
				goto out_batch;
			}
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error) {
				r = e->error;
				goto out_batch;
			}
			n_acks++;
		}
	}
out_batch:
	mnl_nlmsg_batch_stop(b);
out_close:
	close(fd);
	return r;
}

static int fw_egress_drop_stale(struct nft_fw *fw, struct in_addr addr, struct warren_error *err);

int nft_fw_slot_add(struct nft_fw *fw, const char *ifname, const uint8_t mac[6],
                    struct in_addr addr, bool allow_internet, struct warren_error *err)
{
	/*
	 * Adding an element that exists is no error, so additions alone commit
	 * in microseconds. A deletion costs an RCU grace period (~10 ms), so a
	 * no-internet sandbox deletes its address from inet_ok only when a
	 * crashed predecessor in its slot left it there.
	 */
	static const struct elem_op ops[] = {
	    {false, ELEM_PORTS}, {false, ELEM_SLOTS}, {false, ELEM_INET_OK}};
	static const struct elem_op revoke[] = {{false, ELEM_INET_OK}, {true, ELEM_INET_OK}};
	struct nft_script s = {0};
	char a[INET_ADDRSTRLEN];
	int r;

	if (!ifname_valid(ifname))
		return err_set(err, EINVAL, "invalid interface name");
	/* Egress rules a crashed predecessor in this slot left behind are not ours. */
	r = fw_egress_drop_stale(fw, addr, err);
	if (r < 0)
		return r;
	r = fw_elems_raw(fw, ops, allow_internet ? 3 : 2, ifname, mac, addr);
	if (r == 0 && !allow_internet) {
		r = fw_elem_exists(fw, ELEM_INET_OK, ifname, mac, addr);
		if (r != 0)
			r = fw_elems_raw(fw, revoke, ARRAY_SIZE(revoke), ifname, mac, addr);
	}
	if (r == 0)
		return 0;
	/* Same change through libnftables, which reports what is wrong in words. */
	inet_ntop(AF_INET, &addr, a, sizeof(a));
	fw_script_slot(fw, &s, "add", ifname, mac, a);
	if (!allow_internet)
		ns_add(&s, "delete element inet %s inet_ok { %s }\n", fw->bridge, a);
	return fw_run(fw, &s, err);
}

int nft_fw_slot_del(struct nft_fw *fw, const char *ifname, const uint8_t mac[6],
                    struct in_addr addr, struct warren_error *err)
{
	static const struct elem_op ops[] = {
	    {false, ELEM_PORTS}, {false, ELEM_SLOTS}, {false, ELEM_INET_OK},
	    {true, ELEM_PORTS},  {true, ELEM_SLOTS},  {true, ELEM_INET_OK},
	};
	struct nft_script s = {0};
	char a[INET_ADDRSTRLEN];
	int r;

	if (!ifname_valid(ifname))
		return err_set(err, EINVAL, "invalid interface name");
	r = fw_egress_drop_stale(fw, addr, err);
	if (fw_elems_raw(fw, ops, ARRAY_SIZE(ops), ifname, mac, addr) == 0)
		return r;
	inet_ntop(AF_INET, &addr, a, sizeof(a));
	fw_script_slot(fw, &s, "add", ifname, mac, a);
	fw_script_slot(fw, &s, "delete", ifname, mac, a);
	return fw_run(fw, &s, err) < 0 ? -EIO : r;
}

/* ---- egress rules (allowOut / denyOut) ---- */

static void egress_chain(struct in_addr addr, char out[16])
{
	snprintf(out, 16, "e%08x", (unsigned)ntohl(addr.s_addr));
}

/* Removes the address's map element and chain whether or not they exist. */
static void fw_script_egress_clear(struct nft_fw *fw, struct nft_script *s, const char *a,
                                   const char *chain)
{
	const char *b = fw->bridge;

	ns_add(s, "add chain inet %s %s\n", b, chain);
	ns_add(s, "add element inet %s egress { %s : jump %s }\n", b, a, chain);
	ns_add(s, "delete element inet %s egress { %s }\n", b, a);
	ns_add(s, "flush chain inet %s %s\n", b, chain);
	ns_add(s, "delete chain inet %s %s\n", b, chain);
}

static void fw_script_cidrs(struct nft_script *s, const struct net_cidr *v, size_t n)
{
	char a[INET_ADDRSTRLEN];

	for (size_t i = 0; i < n; i++) {
		struct in_addr x = {htonl(v[i].prefix ? ntohl(v[i].addr.s_addr) &
		                                            (0xffffffffu << (32 - v[i].prefix))
		                                      : 0)};
		inet_ntop(AF_INET, &x, a, sizeof(a));
		ns_add(s, "%s%s/%u", i ? ", " : "", a, v[i].prefix);
	}
}

/* The common path costs one element lookup; the clean-up only runs when something is there. */
static int fw_egress_drop_stale(struct nft_fw *fw, struct in_addr addr, struct warren_error *err)
{
	struct nft_script s = {0};
	char a[INET_ADDRSTRLEN], chain[16];
	static const uint8_t nomac[6];
	int r = fw_elem_exists(fw, ELEM_EGRESS, "", nomac, addr);

	if (r == 0)
		return 0;
	inet_ntop(AF_INET, &addr, a, sizeof(a));
	egress_chain(addr, chain);
	fw_script_egress_clear(fw, &s, a, chain);
	return fw_run(fw, &s, err);
}

int nft_fw_egress_set(struct nft_fw *fw, struct in_addr addr, bool allow_internet,
                      const struct net_cidr *allow, size_t n_allow, const struct net_cidr *deny,
                      size_t n_deny, struct warren_error *err)
{
	struct nft_script *s;
	char a[INET_ADDRSTRLEN], chain[16];
	const char *b = fw->bridge;
	int r;

	if (n_allow > NFT_EGRESS_MAX || n_deny > NFT_EGRESS_MAX)
		return err_set(err, E2BIG, "at most %d egress rules of each kind", NFT_EGRESS_MAX);
	for (size_t i = 0; i < n_allow + n_deny; i++)
		if ((i < n_allow ? allow[i] : deny[i - n_allow]).prefix > 32)
			return err_set(err, EINVAL, "invalid CIDR prefix");
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(err, ENOMEM, "out of memory");
	inet_ntop(AF_INET, &addr, a, sizeof(a));
	egress_chain(addr, chain);
	/* One transaction: the old rules hold until the new ones replace them. */
	ns_add(s, "add element inet %s inet_ok { %s }\n", b, a);
	if (!allow_internet)
		ns_add(s, "delete element inet %s inet_ok { %s }\n", b, a);
	if (n_allow + n_deny == 0) {
		fw_script_egress_clear(fw, s, a, chain);
	} else {
		ns_add(s, "add chain inet %s %s\n", b, chain);
		ns_add(s, "flush chain inet %s %s\n", b, chain);
		if (n_allow) {
			ns_add(s, "add rule inet %s %s ip daddr { ", b, chain);
			fw_script_cidrs(s, allow, n_allow);
			ns_add(s, " } accept\n");
		}
		if (n_deny) {
			ns_add(s, "add rule inet %s %s ip daddr { ", b, chain);
			fw_script_cidrs(s, deny, n_deny);
			ns_add(s, " } drop\n");
		}
		ns_add(s, "add element inet %s egress { %s : jump %s }\n", b, a, chain);
	}
	r = fw_run(fw, s, err);
	free(s);
	return r;
}
