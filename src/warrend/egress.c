/* SPDX-License-Identifier: Apache-2.0 */
#include "egress.h"

#include <errno.h>
#include <stdlib.h>

#include "common/error.h"
#include "runtime/net.h"

int warrend_egress_apply(void *ud, unsigned slot, bool allow_internet, const struct api_network *n,
                         struct warren_error *err)
{
	struct net_cidr *v;
	size_t n_allow = n ? n->n_allow : 0, n_deny = n ? n->n_deny : 0;
	int r;

	if (n_allow > NET_EGRESS_MAX || n_deny > NET_EGRESS_MAX)
		return err_set(err, E2BIG, "at most %d egress rules of each kind", NET_EGRESS_MAX);
	v = calloc(n_allow + n_deny + 1, sizeof(*v));
	if (!v)
		return err_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n_allow; i++)
		v[i] = (struct net_cidr){.addr = {n->allow[i].addr}, .prefix = n->allow[i].prefix};
	for (size_t i = 0; i < n_deny; i++)
		v[n_allow + i] =
		    (struct net_cidr){.addr = {n->deny[i].addr}, .prefix = n->deny[i].prefix};
	r = net_set_egress(ud, slot, allow_internet, v, n_allow, v + n_allow, n_deny, err);
	free(v);
	return r;
}
