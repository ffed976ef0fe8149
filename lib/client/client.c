/* SPDX-License-Identifier: Apache-2.0 */
/* libwarren: client settings, HTTP requests through libcurl, errors, small helpers. */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

#define WL_USER_AGENT "libwarren/" WARREN_CLIENT_VERSION

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

int wl_buf_append(struct wl_buf *b, const void *data, size_t len)
{
	if (len >= SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void wl_buf_consume(struct wl_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

void wl_buf_release(struct wl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *wl_b64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out, *o;
	size_t i;

	if (len > (SIZE_MAX / 4) * 3 - 4)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0; i + 2 < len; i += 3) {
		*o++ = b64_chars[in[i] >> 2];
		*o++ = b64_chars[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*o++ = b64_chars[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*o++ = b64_chars[in[i + 2] & 63];
	}
	if (i < len) {
		*o++ = b64_chars[in[i] >> 2];
		if (i + 1 < len) {
			*o++ = b64_chars[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
			*o++ = b64_chars[(in[i + 1] & 15) << 2];
		} else {
			*o++ = b64_chars[(in[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

int wl_b64_decode(const char *in, size_t len, struct wl_buf *out)
{
	unsigned acc = 0;
	int bits = 0;
	size_t i, start = out->len;

	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		int v = b64_value(in[i]);
		unsigned char byte;

		if (v < 0)
			goto fail;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			byte = (unsigned char)(acc >> bits);
			if (wl_buf_append(out, &byte, 1) < 0) {
				out->len = start;
				return -ENOMEM;
			}
		}
	}
	return 0;
fail:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return -EINVAL;
}

__attribute__((format(printf, 3, 0))) static void err_vset(struct warren_error *err, int code,
                                                           const char *fmt, va_list ap)
{
	if (!err)
		return;
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int wl_errno(struct warren_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, errnum, fmt, ap);
	va_end(ap);
	return -errnum;
}

int wl_status_errno(long status)
{
	switch (status) {
	case 400:
		return -EINVAL;
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 409:
		return -EEXIST;
	case 429:
	case 503:
		return -EBUSY;
	case 504:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

int wl_http_error(struct warren_error *err, long status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, (int)status, fmt, ap);
	va_end(ap);
	return wl_status_errno(status);
}

void wl_response_release(struct wl_response *r)
{
	wl_buf_release(&r->body);
	free(r->next_token);
	r->next_token = NULL;
}

int wl_response_error(const struct wl_response *r, struct warren_error *err, const char *what)
{
	json_t *root = NULL;
	const char *message = NULL;
	char snippet[120];
	int rc;

	if (r->body.len)
		root = json_loadb(r->body.data, r->body.len, 0, NULL);
	if (json_is_object(root)) {
		json_t *m = json_object_get(root, "message");
		json_t *code = json_object_get(root, "code");

		if (json_is_string(m))
			message = json_string_value(m);
		/* A Connect unary error carries its code as a string. */
		if (json_is_string(code) && !message)
			message = json_string_value(code);
	}
	if (!message) {
		size_t n = r->body.len < sizeof(snippet) - 1 ? r->body.len : sizeof(snippet) - 1;

		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)r->body.data[i];
			snippet[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		snippet[n] = '\0';
		message = n ? snippet : "no message";
	}
	rc = wl_http_error(err, r->status, "%s: HTTP %ld: %s", what, r->status, message);
	json_decref(root);
	return rc;
}

int wl_header(struct curl_slist **list, const char *fmt, ...)
{
	char line[1024];
	struct curl_slist *n;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(line))
		return -EINVAL;
	n = curl_slist_append(*list, line);
	if (!n)
		return -ENOMEM;
	*list = n;
	return 0;
}

char *wl_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(s);
	char *out, *o;

	if (len > SIZE_MAX / 3 - 1)
		return NULL;
	out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

char *wl_strdup0(const char *s)
{
	return strdup(s ? s : "");
}

static size_t body_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct wl_response *r = userdata;
	size_t n = size * nmemb;

	if (r->body.len + n > WL_REST_BODY_MAX || wl_buf_append(&r->body, data, n) < 0)
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	return n;
}

static size_t header_line(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct wl_response *r = userdata;
	size_t n = size * nmemb;
	static const char name[] = "x-next-token:";

	if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		const char *v = data + sizeof(name) - 1;
		size_t vlen = n - (sizeof(name) - 1);

		while (vlen && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
			vlen--;
		free(r->next_token);
		r->next_token = vlen ? strndup(v, vlen) : NULL;
	}
	return n;
}

int wl_request(CURL *easy, const struct warren_client *c, const char *method, const char *url,
               struct curl_slist *headers, const char *body, struct wl_response *r,
               struct warren_error *err)
{
	CURL *own = NULL;
	CURLcode cc;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (!easy) {
		own = easy = curl_easy_init();
		if (!easy)
			return wl_errno(err, ENOMEM, "creating an HTTP handle: out of memory");
	} else {
		curl_easy_reset(easy);
	}
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, WL_USER_AGENT);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_line);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (body) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "DELETE") != 0) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, 0L);
	}
	cc = curl_easy_perform(easy);
	if (cc != CURLE_OK) {
		int e = cc == CURLE_OPERATION_TIMEDOUT     ? ETIMEDOUT
		        : cc == CURLE_COULDNT_CONNECT      ? ECONNREFUSED
		        : cc == CURLE_WRITE_ERROR          ? EFBIG
		        : cc == CURLE_OUT_OF_MEMORY        ? ENOMEM
		        : cc == CURLE_COULDNT_RESOLVE_HOST ? EHOSTUNREACH
		                                           : EIO;
		rc = wl_errno(err, e, "%s %s: %s", method, url, curl_easy_strerror(cc));
		wl_response_release(r);
	} else {
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
	}
	curl_easy_cleanup(own);
	return rc;
}

static char *setting(const char *cfg, const char *env)
{
	const char *v = cfg && *cfg ? cfg : getenv(env);
	char *s;
	size_t len;

	if (!v || !*v)
		return NULL;
	s = strdup(v);
	if (!s)
		return NULL;
	len = strlen(s);
	while (len > 0 && s[len - 1] == '/')
		s[--len] = '\0';
	return s;
}

static bool url_ok(const char *u)
{
	return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

int warren_client_new(const struct warren_config *cfg, struct warren_client **ret,
                      struct warren_error *err)
{
	struct warren_config none = {0};
	struct warren_client *c;
	int rc;

	if (!cfg)
		cfg = &none;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return wl_errno(err, EIO, "initializing libcurl: %s",
		                curl_easy_strerror(curl_init_rc));
	c = calloc(1, sizeof(*c));
	if (!c)
		return wl_errno(err, ENOMEM, "creating a client: out of memory");
	c->domain = setting(cfg->domain, "E2B_DOMAIN");
	if (!c->domain)
		c->domain = strdup("e2b.app");
	c->api_key = setting(cfg->api_key, "E2B_API_KEY");
	c->api_url = setting(cfg->api_url, "E2B_API_URL");
	if (!c->api_url && c->domain && asprintf(&c->api_url, "https://api.%s", c->domain) < 0)
		c->api_url = NULL;
	c->sandbox_url = setting(cfg->sandbox_url, "E2B_SANDBOX_URL");
	if (!c->sandbox_url)
		c->sandbox_url = strdup("");
	c->timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 60000;
	if (!c->domain || !c->api_url || !c->sandbox_url) {
		rc = wl_errno(err, ENOMEM, "creating a client: out of memory");
		goto fail;
	}
	if (!c->api_key) {
		rc = wl_errno(err, EINVAL, "no API key: set E2B_API_KEY or warren_config.api_key");
		goto fail;
	}
	if (strpbrk(c->api_key, "\r\n")) {
		rc = wl_errno(err, EINVAL, "the API key contains a line break");
		goto fail;
	}
	if (!url_ok(c->api_url) || (*c->sandbox_url && !url_ok(c->sandbox_url))) {
		rc = wl_errno(err, EINVAL,
		              "API and sandbox URLs must start with http:// or https://");
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	warren_client_free(c);
	return rc;
}

void warren_client_free(struct warren_client *c)
{
	if (!c)
		return;
	free(c->api_url);
	free(c->sandbox_url);
	free(c->api_key);
	free(c->domain);
	free(c);
}

const char *warren_client_api_url(const struct warren_client *c)
{
	return c->api_url;
}

const char *warren_client_api_key(const struct warren_client *c)
{
	return c->api_key;
}
