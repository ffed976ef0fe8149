/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_RUNTIME_NET_INTERNAL_H
#define WARREN_RUNTIME_NET_INTERNAL_H

#include "runtime/net.h"

/*
 * Private to lib/runtime and its tests: deletes the bridge (and so every
 * port still on it) and the firewall tables. For tests and uninstall, never
 * while sandboxes run. The manager must still be freed with net_mgr_free().
 */
int net_mgr_remove(struct net_mgr *m);

#endif
