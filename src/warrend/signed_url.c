/* SPDX-License-Identifier: Apache-2.0 */
#include "signed_url.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/filesig.h"
#include "common/urlquery.h"

bool signed_url_wants(const struct http_request *req)
{
	const char *q = req->query;

	if (strcmp(req->path, "/files") != 0)
		return false;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0 &&
	    strcmp(req->method, "POST") != 0)
		return false;
	/* A cheap look first; signed_url_find decodes properly. */
	return strncmp(q, "signature=", 10) == 0 || strstr(q, "&signature=") != NULL;
}

struct match {
	const char *path, *op, *user, *signature, *expiration;
	int64_t now;
	unsigned n;
	char id[SIGNED_URL_ID_MAX + 1];
};

static int visit(void *ctx, const char *id, const char *token)
{
	struct match *m = ctx;
	int r = filesig_check(m->signature, m->expiration, m->path, m->op, m->user, token, m->now);

	if ((r == 0 || r == -ETIMEDOUT) && strlen(id) <= SIGNED_URL_ID_MAX) {
		if (m->n++ == 0)
			strcpy(m->id, id);
	}
	return 0;
}

int signed_url_find(const struct http_request *req, signed_url_each_fn each, void *ud,
                    char ret_id[SIGNED_URL_ID_MAX + 1])
{
	static const char *const names[] = {"path", "username", "signature",
	                                    "signature_expiration"};
	char *v[4] = {NULL, NULL, NULL, NULL};
	struct match m = {0};
	int r = 0;

	for (size_t i = 0; i < 4 && r >= 0; i++) {
		r = urlq_get(req->query, names[i], &v[i]);
		if (r == -ENOENT)
			r = 0;
	}
	if (r < 0)
		goto out;
	if (!v[2]) {
		r = -ENOENT;
		goto out;
	}
	m.path = v[0] ? v[0] : "";
	m.user = v[1] ? v[1] : "";
	m.signature = v[2];
	m.expiration = v[3];
	m.op = strcmp(req->method, "POST") == 0 ? "write" : "read";
	m.now = (int64_t)time(NULL);
	each(ud, visit, &m);
	/* Two sandboxes sharing a token would be a bug elsewhere: route neither. */
	if (m.n != 1) {
		r = -ENOENT;
		goto out;
	}
	strcpy(ret_id, m.id);
	r = 0;
out:
	for (size_t i = 0; i < 4; i++)
		free(v[i]);
	return r;
}
