/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_RUNTIME_NET_H
#define WARREN_RUNTIME_NET_H

/*
 * Sandbox networking over rtnetlink (libmnl) and nftables.
 *
 * Host side: one bridge (default "warren0", gateway = first address of the
 * subnet, default 10.201.0.1/16). Each sandbox slot N gets a veth pair, the
 * host end "w<hash of bridge>v<N>" enslaved to the bridge as an *isolated* port (so
 * sandboxes cannot reach each other at layer 2), the other end moved into the
 * sandbox's network namespace and renamed "eth0", with address
 * subnet + N + 1 (slot 1 -> 10.201.0.2).
 *
 * Firewall (one nftables table "inet <bridge>", replaced whole at setup):
 *  - input from the bridge: only established/related (the host's services,
 *    loopback ones included, are unreachable from sandboxes);
 *  - forward from the bridge to anywhere but the bridge: accepted and
 *    masqueraded, except for sandboxes in the "no internet" set, dropped;
 *  - nothing from the bridge to the bridge's own subnet.
 * A second table "bridge <bridge>" drops, on the sandbox ports, every frame
 * whose (port, source MAC, source IPv4) is not the slot's own (IP and ARP
 * spoofing, IPv6). Remove both tables to uninstall by hand.
 * warrend itself reaches each sandbox's ports at its address.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/types.h>

#include <warren/error.h>

struct net_mgr;

struct net_config {
	const char *bridge; /* NULL means "warren0" */
	const char *subnet; /* IPv4 CIDR, NULL means "10.201.0.0/16" */
};

/* Creates (or re-uses) the bridge, enables forwarding, installs the firewall. */
int net_mgr_new(const struct net_config *cfg, struct net_mgr **ret, struct warren_error *err);
void net_mgr_free(struct net_mgr *m);

/* Address of a slot's sandbox (slot >= 1). -ERANGE when the subnet has no room. */
int net_slot_addr(const struct net_mgr *m, unsigned slot, struct in_addr *ret);
/* Host-side interface name of a slot's veth ("w<hash of bridge>v<slot>"), into buf[16]. */
void net_slot_ifname(const struct net_mgr *m, unsigned slot, char buf[16]);
/* Gateway (bridge) address and prefix length, for the sandbox's own setup. */
void net_gateway(const struct net_mgr *m, struct in_addr *ret_gw, unsigned *ret_prefix);

/* Creates the veth pair for slot and moves the peer into the network namespace of pid. */
int net_attach(struct net_mgr *m, unsigned slot, pid_t pid, bool allow_internet,
               struct warren_error *err);
/* Removes the host end (gone already if the namespace died) and the slot's firewall state. */
int net_detach(struct net_mgr *m, unsigned slot);

/* An IPv4 destination block of an egress rule; addr in network order, host bits ignored. */
struct net_cidr {
	struct in_addr addr;
	unsigned prefix; /* 0..32 */
};
#define NET_EGRESS_MAX 128
/*
 * Replaces the egress rules of slot's sandbox (which must be attached): internet
 * access on or off, destinations always allowed (allowOut, before the internet
 * check) and denied (denyOut). Empty lists remove the rules. Lasts until
 * net_detach; survives a restart of warrend (the firewall keeps it).
 */
int net_set_egress(struct net_mgr *m, unsigned slot, bool allow_internet,
                   const struct net_cidr *allow, size_t n_allow, const struct net_cidr *deny,
                   size_t n_deny, struct warren_error *err);
/*
 * Runs inside the sandbox's network namespace (in the setup child, before exec):
 * brings lo and eth0 up, sets addr/prefix on eth0 and a default route via gw.
 * Uses only netlink on a socket opened there; needs CAP_NET_ADMIN in the namespace.
 */
int net_setup_inside(struct in_addr addr, unsigned prefix, struct in_addr gw);

#endif
