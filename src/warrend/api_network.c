/* SPDX-License-Identifier: Apache-2.0 */
#include "api_network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

int api_cidr_parse(const char *s, struct api_cidr *ret)
{
	char a[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct in_addr in;
	unsigned prefix = 32;

	if (alen == 0 || alen >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, alen);
	a[alen] = '\0';
	/* inet_pton takes exactly four decimal parts: no "10", "0x1", or trailing bytes. */
	if (inet_pton(AF_INET, a, &in) != 1)
		return -EINVAL;
	if (slash) {
		const char *p = slash + 1;
		size_t n = strlen(p);

		if (n == 0 || n > 2 || (n == 2 && p[0] == '0'))
			return -EINVAL;
		prefix = 0;
		for (size_t i = 0; i < n; i++) {
			if (p[i] < '0' || p[i] > '9')
				return -EINVAL;
			prefix = prefix * 10 + (unsigned)(p[i] - '0');
		}
		if (prefix > 32)
			return -EINVAL;
	}
	ret->prefix = (uint8_t)prefix;
	ret->addr = prefix ? htonl(ntohl(in.s_addr) & (0xffffffffu << (32 - prefix))) : 0;
	return 0;
}

/* Does s look like a domain name ("example.com", "*.example.com") rather than an address? */
static bool looks_like_domain(const char *s)
{
	bool alpha = false;

	for (const char *p = s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '*' || *p == '-')
			alpha = true;
		else if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return false;
	}
	return alpha;
}

static int parse_list(json_t *obj, const char *name, struct api_cidr *out, size_t *ret_n,
                      struct warren_error *err)
{
	json_t *v = json_object_get(obj, name), *x;
	size_t i, n = 0;

	if (!v || json_is_null(v)) {
		*ret_n = 0;
		return 0;
	}
	if (!json_is_array(v))
		return err_set(err, EINVAL, "field 'network.%s' must be an array of strings", name);
	if (json_array_size(v) > API_EGRESS_MAX)
		return err_set(err, EINVAL, "field 'network.%s' has more than %d entries", name,
		               API_EGRESS_MAX);
	json_array_foreach(v, i, x)
	{
		const char *s = json_string_value(x);

		if (!s || strlen(s) != json_string_length(x))
			return err_set(err, EINVAL, "field 'network.%s[%zu]' must be a string",
			               name, i);
		if (api_cidr_parse(s, &out[n]) == 0) {
			n++;
			continue;
		}
		if (strchr(s, ':'))
			return err_set(
			    err, EINVAL,
			    "network.%s[%zu]: IPv6 is not supported (sandboxes have IPv4 "
			    "only)",
			    name, i);
		if (looks_like_domain(s))
			return err_set(err, EINVAL,
			               "network.%s[%zu]: domain names are not supported, only IPv4 "
			               "addresses and CIDR blocks (e.g. \"198.51.100.0/24\")",
			               name, i);
		return err_set(err, EINVAL,
		               "network.%s[%zu]: not an IPv4 address or CIDR block (e.g. "
		               "\"198.51.100.0/24\")",
		               name, i);
	}
	*ret_n = n;
	return 0;
}

/* A field warren does not implement: fine when absent, null or empty. */
static int unsupported(json_t *obj, const char *name, struct warren_error *err)
{
	json_t *v = json_object_get(obj, name);

	if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0) ||
	    (json_is_array(v) && json_array_size(v) == 0) ||
	    (json_is_object(v) && json_object_size(v) == 0))
		return 0;
	return err_set(err, EINVAL, "field 'network.%s' is not supported by this server", name);
}

#define PORT_VAR "${PORT}"

/* maskRequestHost: a host[:port] (names, IPv4, [IPv6]) in which ${PORT} may stand anywhere.
 * Nothing else, so that it is always one clean header value. */
static int parse_mask_host(json_t *obj, char *out, struct warren_error *err)
{
	json_t *v = json_object_get(obj, "maskRequestHost");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	out[0] = '\0';
	if (!v || json_is_null(v) || (s && n == 0))
		return 0;
	if (!s || strlen(s) != n)
		return err_set(err, EINVAL, "field 'network.maskRequestHost' must be a string");
	if (n > API_MASK_HOST_MAX)
		return err_set(err, EINVAL,
		               "field 'network.maskRequestHost' is longer than %d bytes",
		               API_MASK_HOST_MAX);
	for (const char *p = s; *p;) {
		if (strncmp(p, PORT_VAR, strlen(PORT_VAR)) == 0) {
			p += strlen(PORT_VAR);
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(".-:[]", *p)))
			return err_set(
			    err, EINVAL,
			    "field 'network.maskRequestHost' must be a host[:port], e.g. "
			    "\"localhost:${PORT}\" (letters, digits, '.', '-', ':', '[', ']' "
			    "and ${PORT})");
		p++;
	}
	memcpy(out, s, n + 1);
	return 0;
}

bool api_network_mask_host(const struct api_network *n, uint16_t port, char *out, size_t size)
{
	size_t off = 0;

	if (!n || !n->mask_host[0] || size == 0)
		return false;
	for (const char *p = n->mask_host; *p;) {
		int k;

		if (strncmp(p, PORT_VAR, strlen(PORT_VAR)) == 0) {
			k = snprintf(out + off, size - off, "%u", (unsigned)port);
			p += strlen(PORT_VAR);
		} else {
			k = snprintf(out + off, size - off, "%c", *p);
			p++;
		}
		if (k < 0 || (size_t)k >= size - off)
			return false;
		off += (size_t)k;
	}
	return true;
}

int api_network_parse(json_t *obj, bool update, struct api_network *ret, struct warren_error *err)
{
	struct api_network *n;
	json_t *v;
	int r;

	if (!json_is_object(obj))
		return err_set(err, EINVAL, "field 'network' must be an object");
	n = calloc(1, sizeof(*n));
	if (!n)
		return err_set(err, ENOMEM, "out of memory");
	n->allow_internet = true;
	if ((r = parse_list(obj, "allowOut", n->allow, &n->n_allow, err)) < 0 ||
	    (r = parse_list(obj, "denyOut", n->deny, &n->n_deny, err)) < 0 ||
	    (r = unsupported(obj, "egressProxy", err)) < 0 ||
	    (r = unsupported(obj, "rules", err)) < 0)
		goto out;
	if (!update) {
		if ((r = parse_mask_host(obj, n->mask_host, err)) < 0 ||
		    (r = unsupported(obj, "httpsPorts", err)) < 0)
			goto out;
		v = json_object_get(obj, "allowPublicTraffic");
		if (v && !json_is_null(v) && !json_is_boolean(v)) {
			r = err_set(err, EINVAL,
			            "field 'network.allowPublicTraffic' must be a boolean");
			goto out;
		}
		n->private_traffic = json_is_false(v);
	} else {
		v = json_object_get(obj, "allow_internet_access");
		if (v && !json_is_null(v) && !json_is_boolean(v)) {
			r = err_set(err, EINVAL, "field 'allow_internet_access' must be a boolean");
			goto out;
		}
		n->allow_internet = !json_is_false(v);
	}
	*ret = *n;
	r = 0;
out:
	free(n);
	return r;
}

int api_parse_network_update(const char *body, size_t len, struct api_network *ret,
                             struct warren_error *err)
{
	json_error_t jerr;
	json_t *root;
	int r;

	if (len == 0)
		return err_set(err, EINVAL, "request body is empty, expected a JSON object");
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(err, EINVAL, "malformed JSON body: %s (line %d, column %d)",
		               jerr.text, jerr.line, jerr.column);
	if (!json_is_object(root)) {
		json_decref(root);
		return err_set(err, EINVAL, "request body must be a JSON object");
	}
	r = api_network_parse(root, true, ret, err);
	json_decref(root);
	return r;
}

static json_t *cidr_array(const struct api_cidr *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		char s[INET_ADDRSTRLEN + 4], ip[INET_ADDRSTRLEN];
		struct in_addr in = {v[i].addr};

		inet_ntop(AF_INET, &in, ip, sizeof(ip));
		snprintf(s, sizeof(s), "%s/%u", ip, (unsigned)v[i].prefix);
		if (json_array_append_new(a, json_string(s)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *api_network_json(const struct api_network *n)
{
	json_t *o =
	    json_pack("{s:o*, s:o*, s:b}", "allowOut", cidr_array(n->allow, n->n_allow), "denyOut",
	              cidr_array(n->deny, n->n_deny), "allowPublicTraffic", !n->private_traffic);

	if (o && n->mask_host[0] &&
	    json_object_set_new(o, "maskRequestHost", json_string(n->mask_host)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
