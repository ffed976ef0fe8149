/* SPDX-License-Identifier: Apache-2.0 */
#include "runtime/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

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
		if (i >= 15 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
				 c == '-'))
			return false;
	}
	return true;
}

static void fw_script_rules(struct nft_fw *fw, struct nft_script *s)
{
	const char *b = fw->bridge, *sn = fw->subnet;

	ns_add(s, "add table inet %s\n", b);
	ns_add(s, "add set inet %s noinet { type ipv4_addr; }\n", b);
	ns_add(s, "add chain inet %s input { type filter hook input priority filter; policy accept; }\n", b);
	ns_add(s, "add chain inet %s forward { type filter hook forward priority filter; policy accept; }\n", b);
	ns_add(s, "add chain inet %s postrouting { type nat hook postrouting priority srcnat; policy accept; }\n", b);
	ns_add(s, "flush table inet %s\n", b);
	/* The host's services, loopback-bound ones included, are not for sandboxes. */
	ns_add(s, "add rule inet %s input iifname \"%s\" ct state established,related accept\n", b, b);
	ns_add(s, "add rule inet %s input iifname \"%s\" drop\n", b, b);
	ns_add(s, "add rule inet %s forward iifname \"%s\" meta nfproto ipv6 drop\n", b, b);
	ns_add(s, "add rule inet %s forward oifname \"%s\" meta nfproto ipv6 drop\n", b, b);
	ns_add(s, "add rule inet %s forward iifname \"%s\" ip saddr @noinet drop\n", b, b);
	ns_add(s, "add rule inet %s forward iifname \"%s\" oifname \"%s\" drop\n", b, b, b);
	ns_add(s, "add rule inet %s forward iifname \"%s\" ip daddr %s drop\n", b, b, sn);
	/* Link-local covers the cloud metadata services (instance credentials). */
	ns_add(s, "add rule inet %s forward iifname \"%s\" ip daddr 169.254.0.0/16 drop\n", b, b);
	ns_add(s, "add rule inet %s forward iifname \"%s\" ip saddr != %s drop\n", b, b, sn);
	ns_add(s, "add rule inet %s forward iifname \"%s\" accept\n", b, b);
	ns_add(s, "add rule inet %s forward oifname \"%s\" ct state established,related accept\n", b, b);
	ns_add(s, "add rule inet %s forward oifname \"%s\" drop\n", b, b);
	ns_add(s, "add rule inet %s postrouting ip saddr %s oifname != \"%s\" masquerade\n", b, sn, b);

	ns_add(s, "add table bridge %s\n", b);
	ns_add(s, "add set bridge %s ports { type ifname; }\n", b);
	ns_add(s, "add set bridge %s slots { type ifname . ether_addr . ipv4_addr; }\n", b);
	ns_add(s, "add chain bridge %s prerouting { type filter hook prerouting priority filter; policy accept; }\n", b);
	ns_add(s, "flush table bridge %s\n", b);
	ns_add(s, "add rule bridge %s prerouting iifname != @ports accept\n", b);
	ns_add(s, "add rule bridge %s prerouting ether type ip iifname . ether saddr . ip saddr @slots accept\n", b);
	ns_add(s, "add rule bridge %s prerouting ether type arp iifname . ether saddr . arp saddr ip @slots "
		  "iifname . arp saddr ether . arp saddr ip @slots accept\n", b);
	ns_add(s, "add rule bridge %s prerouting drop\n", b);
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
	ns_add(s, "%s element inet %s noinet { %s }\n", verb, b, addr);
}

int nft_fw_slot_add(struct nft_fw *fw, const char *ifname, const uint8_t mac[6],
		    struct in_addr addr, bool allow_internet, struct warren_error *err)
{
	struct nft_script s = {0};
	char a[INET_ADDRSTRLEN];

	if (!ifname_valid(ifname))
		return err_set(err, EINVAL, "invalid interface name");
	inet_ntop(AF_INET, &addr, a, sizeof(a));
	/* Clear what a previous user of the slot may have left, then add. */
	fw_script_slot(fw, &s, "add", ifname, mac, a);
	fw_script_slot(fw, &s, "delete", ifname, mac, a);
	ns_add(&s, "add element bridge %s ports { \"%s\" }\n", fw->bridge, ifname);
	ns_add(&s, "add element bridge %s slots { \"%s\" . %02x:%02x:%02x:%02x:%02x:%02x . %s }\n",
	       fw->bridge, ifname, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], a);
	if (!allow_internet)
		ns_add(&s, "add element inet %s noinet { %s }\n", fw->bridge, a);
	return fw_run(fw, &s, err);
}

int nft_fw_slot_del(struct nft_fw *fw, const char *ifname, const uint8_t mac[6],
		    struct in_addr addr, struct warren_error *err)
{
	struct nft_script s = {0};
	char a[INET_ADDRSTRLEN];

	if (!ifname_valid(ifname))
		return err_set(err, EINVAL, "invalid interface name");
	inet_ntop(AF_INET, &addr, a, sizeof(a));
	fw_script_slot(fw, &s, "add", ifname, mac, a);
	fw_script_slot(fw, &s, "delete", ifname, mac, a);
	return fw_run(fw, &s, err);
}
