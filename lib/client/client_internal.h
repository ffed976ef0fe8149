/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WARREN_CLIENT_INTERNAL_H
#define WARREN_CLIENT_INTERNAL_H

/* Internals of libwarren shared by its files (not installed). */

#include <stdarg.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#include <warren/warren.h>

/* Hard limits on what a server may make us hold. */
#define WL_REST_BODY_MAX (16u << 20) /* one REST or unary response body */
#define WL_STREAM_MSG_MAX (4u << 20) /* one Connect stream envelope */
#define WL_LIST_MAX 100000u          /* sandboxes collected by warren_sandbox_list() */
#define WL_AGENT_PORT "49983"

struct warren_client {
	char *api_url;     /* without a trailing '/' */
	char *sandbox_url; /* "" when per-sandbox hostnames are used; no trailing '/' */
	char *api_key;
	char *domain;
	long timeout_ms;
};

/* A growable byte buffer, always NUL-terminated when data is non-NULL. */
struct wl_buf {
	char *data;
	size_t len, cap;
};

int wl_buf_append(struct wl_buf *b, const void *data, size_t len);
void wl_buf_release(struct wl_buf *b);
void wl_buf_consume(struct wl_buf *b, size_t n);

/* Base64 (standard alphabet, padded) into a new NUL-terminated string; NULL on ENOMEM. */
char *wl_b64_encode(const void *data, size_t len);
/* Decodes standard or url-safe, padded or not. Returns 0 or -EINVAL/-ENOMEM. */
int wl_b64_decode(const char *in, size_t len, struct wl_buf *out);

/* Fills err (may be NULL) and returns -errnum (errnum > 0): code = errnum. */
int wl_errno(struct warren_error *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fills err with code = status and returns the -errno of an HTTP status (see warren.h). */
int wl_http_error(struct warren_error *err, long status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The -errno of an HTTP status. */
int wl_status_errno(long status);

/* A response of wl_request(). */
struct wl_response {
	long status;
	struct wl_buf body;
	char *next_token; /* X-Next-Token, or NULL */
};

void wl_response_release(struct wl_response *r);

/*
 * Performs one request on easy (reset here; may be NULL for a one-shot handle).
 * headers are added; body may be NULL. Fills r (status and body) for every
 * status; returns -errno only for transport failures (err filled).
 */
int wl_request(CURL *easy, const struct warren_client *c, const char *method, const char *url,
               struct curl_slist *headers, const char *body, struct wl_response *r,
               struct warren_error *err);

/* Turns a non-2xx response into err and a -errno; what names the call ("killing sandbox x"). */
int wl_response_error(const struct wl_response *r, struct warren_error *err, const char *what);

/* Appends a header built from a format to *list; returns 0 or -ENOMEM. */
int wl_header(struct curl_slist **list, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Percent-encodes s (everything but unreserved characters). NULL on ENOMEM. */
char *wl_escape(const char *s);

/* strdup that maps NULL to "". NULL on ENOMEM. */
char *wl_strdup0(const char *s);

#endif
