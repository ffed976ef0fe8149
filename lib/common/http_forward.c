/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "common/http_internal.h"

int http_forward(struct http_conn *c, struct http_request *req, int backend_fd,
		 const char *const *drop_headers)
{
	return -ENOSYS;
}
