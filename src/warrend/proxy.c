/* SPDX-License-Identifier: Apache-2.0 */
typedef int warren_placeholder_proxy_t;
