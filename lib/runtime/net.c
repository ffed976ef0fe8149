/* SPDX-License-Identifier: Apache-2.0 */
/* placeholder: being written */
typedef int warren_placeholder_net_t;
