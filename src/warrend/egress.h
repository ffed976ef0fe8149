/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREND_EGRESS_H
#define WARREND_EGRESS_H

/*
 * The registry's egress hook (registry_config.egress) on top of the runtime's
 * firewall: ud is the struct net_mgr of the sandboxes' bridge.
 */

#include <stdbool.h>

#include <warren/error.h>

#include "api_network.h"

int warrend_egress_apply(void *ud, unsigned slot, bool allow_internet, const struct api_network *n,
                         struct warren_error *err);

#endif
