/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_RUNTIME_NFT_H
#define WARREN_RUNTIME_NFT_H

/*
 * Private to lib/runtime: the sandbox firewall as nftables tables, driven
 * through libnftables (no fork per call).
 *
 * Two tables named after the bridge:
 *  - "inet <bridge>": input from the bridge only when established/related;
 *    forward from the bridge accepted (masqueraded in postrouting) only for
 *    sources in the set "inet_ok" (fails closed), and never when the
 *    destination is the bridge's subnet or
 *    link-local (cloud metadata), or the packet is IPv6; forward to the bridge
 *    only when established/related.
 *  - "bridge <bridge>": anti-spoofing at layer 2 on the sandbox ports: a frame
 *    from a port in the set "ports" passes only when it is IPv4 or ARP and its
 *    (port, source MAC, source IPv4) is in the set "slots"; everything else
 *    (IPv6 included) is dropped before the bridge learns its source MAC.
 *
 * nft_fw_new() replaces the rules whole but keeps the sets' elements, so the
 * sandboxes that outlive a restart of warrend keep their firewall state; if
 * the old tables cannot be reused they are deleted and recreated.
 * An nft_fw is safe to use from several threads.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <warren/error.h>

#include "runtime/net.h"

#define NFT_EGRESS_MAX NET_EGRESS_MAX

struct nft_fw;

/* bridge: [a-z][a-z0-9_-]{0,14}; net/prefix: the bridge's IPv4 subnet. */
int nft_fw_new(const char *bridge, struct in_addr net, unsigned prefix, struct nft_fw **ret,
               struct warren_error *err);
/* Frees the handle; the tables stay installed (see nft_fw_remove). */
void nft_fw_free(struct nft_fw *fw);
/* Deletes both tables (tests, uninstall). */
int nft_fw_remove(struct nft_fw *fw, struct warren_error *err);

/* Registers a sandbox port: its host interface, the sandbox's MAC and address, and whether
 * it may reach beyond the host. Replaces any state left for the same slot. */
int nft_fw_slot_add(struct nft_fw *fw, const char *ifname, const uint8_t mac[6],
                    struct in_addr addr, bool allow_internet, struct warren_error *err);
/* Removes what nft_fw_slot_add added; 0 when nothing was there. */
int nft_fw_slot_del(struct nft_fw *fw, const char *ifname, const uint8_t mac[6],
                    struct in_addr addr, struct warren_error *err);

/*
 * Sets a sandbox's egress rules, replacing any before, in one transaction:
 * internet access (its address in or out of "inet_ok") and, when there are
 * CIDRs, a chain "e<address in hex>" reached through the map "egress" from
 * the forward chain: destinations in allow are accepted (even without internet
 * access), in deny dropped, the rest falls through to the internet check. No
 * CIDRs: the chain and map element go. The bridge's subnet, link-local and IPv6
 * stay closed whatever the rules say. nft_fw_slot_add/del drop what is left.
 */
int nft_fw_egress_set(struct nft_fw *fw, struct in_addr addr, bool allow_internet,
                      const struct net_cidr *allow, size_t n_allow, const struct net_cidr *deny,
                      size_t n_deny, struct warren_error *err);

#endif
