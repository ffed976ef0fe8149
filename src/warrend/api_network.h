/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_API_NETWORK_H
#define WARREND_API_NETWORK_H

/*
 * The network settings of a sandbox (openapi.yml SandboxNetworkConfig on
 * create, SandboxNetworkUpdateConfig on PUT /sandboxes/{id}/network):
 * egress rules by IPv4 CIDR and whether port traffic needs the traffic access
 * token. Pure: validation and JSON only; the firewall is lib/runtime/nft.c.
 *
 * Accepted: allowOut / denyOut entries "a.b.c.d" or "a.b.c.d/p" (at most
 * API_EGRESS_MAX each), allowPublicTraffic and maskRequestHost on create, and on
 * update allow_internet_access.
 * Answered with -EINVAL and a message (for a 400): domain names in allowOut,
 * IPv6 entries, a maskRequestHost that is not a host[:port] (with ${PORT}), and the
 * options warren does not implement when given a non-empty value (egressProxy,
 * rules, httpsPorts).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <warren/error.h>

#define API_EGRESS_MAX 128
#define API_MASK_HOST_MAX 255

struct api_cidr {
	uint32_t addr; /* network order, host bits cleared */
	uint8_t prefix;
};

struct api_network {
	bool allow_internet;  /* update only: allow_internet_access (omitted: true) */
	bool private_traffic; /* allowPublicTraffic: false */
	/* maskRequestHost: the Host that port requests reach the sandbox with, "${PORT}" standing
	 * for the port; "" keeps the client's. Only letters, digits and ".-:[]" besides. */
	char mask_host[API_MASK_HOST_MAX + 1];
	size_t n_allow, n_deny;
	struct api_cidr allow[API_EGRESS_MAX];
	struct api_cidr deny[API_EGRESS_MAX];
};

/* "a.b.c.d[/p]" -> cidr. 0 or -EINVAL. */
int api_cidr_parse(const char *s, struct api_cidr *ret);

/*
 * Parses a "network" object of a create body (update false) or a whole update
 * body (update true, which also reads allow_internet_access). *ret is filled
 * only on success; fields not given are empty (allowPublicTraffic true).
 */
int api_network_parse(json_t *obj, bool update, struct api_network *ret, struct warren_error *err);
/* An update body (PUT /sandboxes/{id}/network): a JSON object, see api_network_parse. */
int api_parse_network_update(const char *body, size_t len, struct api_network *ret,
                             struct warren_error *err);

/* {"allowOut":[...],"denyOut":[...],"allowPublicTraffic":b[,"maskRequestHost":s]}: the network
 * of GET /sandboxes/{id} and what the store keeps. NULL on out-of-memory. */
json_t *api_network_json(const struct api_network *n);

/*
 * The Host that a request to `port` reaches the sandbox with under mask (n->mask_host):
 * every "${PORT}" replaced by the port number. Writes out (size bytes) and returns true
 * when there is a mask, false when there is none or it does not fit.
 */
bool api_network_mask_host(const struct api_network *n, uint16_t port, char *out, size_t size);

#endif
