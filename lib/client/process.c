/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwarren: process.Process of the agent over the Connect protocol with JSON:
 * unary calls (SendInput, SendSignal, Update, CloseStdin) and the server streams
 * of Start and Connect, parsed incrementally in curl's write callback.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_internal.h"
#include "common/connect_code.h"

#define FLAG_COMPRESSED 0x01
#define FLAG_END_STREAM 0x02
#define ERRBODY_MAX 4096

/* Where a sandbox's agent is reached; copied from a struct warren_sandbox. */
struct target {
	char *base;       /* agent base URL, no trailing '/' */
	char *sandbox_id; /* E2b-Sandbox-Id */
	char *token;      /* X-Access-Token, "" when none */
};

/* One Connect server stream: request, parser state and result. */
struct stream {
	struct warren_stream_cb cb;
	CURL *easy;
	struct wl_buf in;  /* bytes of the envelope being assembled */
	struct wl_buf dec; /* decoded data of one message */
	long status;       /* HTTP status, 0 until the first body byte */
	struct wl_buf errbody;
	bool got_start, got_end, got_eos;
	uint32_t pid;
	struct warren_exit exit;
	long eos_status; /* HTTP status of the end-stream error, 0 when none */
	char eos_msg[200];
	int fail; /* -errno of a protocol violation */
	char fail_msg[200];

	/* Set for streams on a library thread (struct warren_proc), else NULL. */
	struct warren_proc *proc;
};

struct warren_proc {
	struct warren_client *c;
	struct target t;
	bool pty;
	uint32_t pid;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started; /* got the start event (guarded by lock) */
	bool done;    /* the stream ended (guarded by lock) */
	int rc;
	struct warren_error err;
	struct warren_exit exit;
	int done_fd[2];

	/* Cancellation of the stream by warren_proc_free(). */
	atomic_bool cancel;
	int sock_fd; /* the stream's socket while curl holds it (guarded by lock) */

	struct stream st;
	char *body;
	size_t body_len;
	struct curl_slist *headers;

	pthread_mutex_t unary_lock; /* serializes input, so one thread's calls stay in order */
	CURL *unary_easy;
};

static void target_release(struct target *t)
{
	free(t->base);
	free(t->sandbox_id);
	free(t->token);
	memset(t, 0, sizeof(*t));
}

static int target_init(struct target *t, const struct warren_client *c,
                       const struct warren_sandbox *sbx, struct warren_error *err)
{
	const char *domain;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!sbx || !sbx->sandbox_id || !*sbx->sandbox_id || strpbrk(sbx->sandbox_id, "\r\n/ ") ||
	    (sbx->envd_access_token && strpbrk(sbx->envd_access_token, "\r\n")))
		return wl_errno(err, EINVAL, "invalid sandbox");
	domain = sbx->domain && *sbx->domain ? sbx->domain : c->domain;
	if (*c->sandbox_url)
		rc = asprintf(&t->base, "%s", c->sandbox_url);
	else
		rc = asprintf(&t->base, "https://" WL_AGENT_PORT "-%s.%s", sbx->sandbox_id, domain);
	if (rc < 0)
		t->base = NULL;
	t->sandbox_id = strdup(sbx->sandbox_id);
	t->token = wl_strdup0(sbx->envd_access_token);
	if (!t->base || !t->sandbox_id || !t->token) {
		target_release(t);
		return wl_errno(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* Routing and protocol headers of every agent request. */
static int agent_headers(struct curl_slist **h, const struct target *t, const char *content_type,
                         const char *user)
{
	if (wl_header(h, "E2b-Sandbox-Id: %s", t->sandbox_id) < 0 ||
	    wl_header(h, "E2b-Sandbox-Port: " WL_AGENT_PORT) < 0 ||
	    wl_header(h, "Content-Type: %s", content_type) < 0 ||
	    wl_header(h, "Connect-Protocol-Version: 1") < 0 || wl_header(h, "Expect:") < 0)
		return -ENOMEM;
	if (*t->token && wl_header(h, "X-Access-Token: %s", t->token) < 0)
		return -ENOMEM;
	if (user && *user) {
		char *cred, *b64;
		int rc;

		if (strlen(user) > 256 || strpbrk(user, ":\r\n"))
			return -EINVAL;
		if (asprintf(&cred, "%s:", user) < 0)
			return -ENOMEM;
		b64 = wl_b64_encode(cred, strlen(cred));
		free(cred);
		if (!b64)
			return -ENOMEM;
		rc = wl_header(h, "Authorization: Basic %s", b64);
		free(b64);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Unary calls                                                                               */

/*
 * POST /process.Process/<method> with body. Returns 0 on 200; a Connect error
 * becomes err with the HTTP status of its code.
 */
static int unary(CURL *easy, const struct warren_client *c, const struct target *t,
                 const char *method, json_t *body, struct warren_error *err, const char *what)
{
	struct curl_slist *h = NULL;
	struct wl_response r;
	char url[2048];
	char *text;
	int rc;

	if ((size_t)snprintf(url, sizeof(url), "%s/process.Process/%s", t->base, method) >=
	    sizeof(url))
		return wl_errno(err, EINVAL, "%s: URL too long", what);
	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	rc = agent_headers(&h, t, "application/json", NULL);
	if (rc < 0) {
		free(text);
		curl_slist_free_all(h);
		return wl_errno(err, -rc, "%s: %s", what, strerror(-rc));
	}
	rc = wl_request(easy, c, "POST", url, h, text, &r, err);
	free(text);
	curl_slist_free_all(h);
	if (rc < 0)
		return rc;
	if (r.status != 200) {
		json_t *root = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
		json_t *code = json_object_get(root, "code");

		if (json_is_string(code)) {
			json_t *m = json_object_get(root, "message");

			rc = wl_http_error(err, connect_code_status(json_string_value(code)),
			                   "%s: %s: %s", what, json_string_value(code),
			                   json_is_string(m) ? json_string_value(m) : "");
		} else {
			rc = wl_response_error(&r, err, what);
		}
		json_decref(root);
	}
	wl_response_release(&r);
	return rc;
}

static json_t *selector(uint32_t pid)
{
	return json_pack("{s:{s:I}}", "process", "pid", (json_int_t)pid);
}

static int do_input(CURL *easy, struct warren_client *c, const struct target *t, uint32_t pid,
                    const char *kind, const void *data, size_t len, struct warren_error *err)
{
	char what[96];
	json_t *body;
	char *b64;
	int rc;

	snprintf(what, sizeof(what), "sending input to process %u", pid);
	if (len > WL_STREAM_MSG_MAX)
		return wl_errno(err, E2BIG, "%s: more than %u bytes", what, WL_STREAM_MSG_MAX);
	b64 = wl_b64_encode(data, len);
	body = selector(pid);
	if (!b64 || !body ||
	    json_object_set_new(body, "input", json_pack("{s:s}", kind, b64)) < 0) {
		free(b64);
		json_decref(body);
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	}
	free(b64);
	rc = unary(easy, c, t, "SendInput", body, err, what);
	json_decref(body);
	return rc;
}

static int do_kill(CURL *easy, struct warren_client *c, const struct target *t, uint32_t pid,
                   struct warren_error *err)
{
	struct warren_error e = {0};
	char what[96];
	json_t *body = selector(pid);
	int rc;

	snprintf(what, sizeof(what), "killing process %u", pid);
	if (!body || json_object_set_new(body, "signal", json_string("SIGNAL_SIGKILL")) < 0) {
		json_decref(body);
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	}
	rc = unary(easy, c, t, "SendSignal", body, &e, what);
	json_decref(body);
	if (rc == -ENOENT && e.code == 404)
		return 0;
	if (rc < 0) {
		if (err)
			*err = e;
		return rc;
	}
	return 1;
}

static int do_resize(CURL *easy, struct warren_client *c, const struct target *t, uint32_t pid,
                     unsigned cols, unsigned rows, struct warren_error *err)
{
	char what[96];
	json_t *body = selector(pid);
	int rc;

	snprintf(what, sizeof(what), "resizing the terminal of process %u", pid);
	if (cols == 0 || rows == 0 || cols > 65535 || rows > 65535) {
		json_decref(body);
		return wl_errno(err, EINVAL, "%s: invalid size %ux%u", what, cols, rows);
	}
	if (!body ||
	    json_object_set_new(body, "pty",
	                        json_pack("{s:{s:I,s:I}}", "size", "cols", (json_int_t)cols, "rows",
	                                  (json_int_t)rows)) < 0) {
		json_decref(body);
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	}
	rc = unary(easy, c, t, "Update", body, err, what);
	json_decref(body);
	return rc;
}

int warren_process_kill(struct warren_client *c, const struct warren_sandbox *sbx, uint32_t pid,
                        struct warren_error *err)
{
	struct target t;
	int rc = target_init(&t, c, sbx, err);

	if (rc < 0)
		return rc;
	rc = do_kill(NULL, c, &t, pid, err);
	target_release(&t);
	return rc;
}

int warren_process_send_pty(struct warren_client *c, const struct warren_sandbox *sbx, uint32_t pid,
                            const void *data, size_t len, struct warren_error *err)
{
	struct target t;
	int rc = target_init(&t, c, sbx, err);

	if (rc < 0)
		return rc;
	rc = do_input(NULL, c, &t, pid, "pty", data, len, err);
	target_release(&t);
	return rc;
}

int warren_process_resize(struct warren_client *c, const struct warren_sandbox *sbx, uint32_t pid,
                          unsigned cols, unsigned rows, struct warren_error *err)
{
	struct target t;
	int rc = target_init(&t, c, sbx, err);

	if (rc < 0)
		return rc;
	rc = do_resize(NULL, c, &t, pid, cols, rows, err);
	target_release(&t);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Server streams                                                                            */

static void stream_fail(struct stream *s, int errnum, const char *msg)
{
	if (s->fail)
		return;
	s->fail = -errnum;
	snprintf(s->fail_msg, sizeof(s->fail_msg), "%s", msg);
}

static void proc_started(struct warren_proc *p, uint32_t pid)
{
	pthread_mutex_lock(&p->lock);
	p->pid = pid;
	p->started = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void copy_str(char *dst, size_t size, json_t *v)
{
	snprintf(dst, size, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static int data_event(struct stream *s, json_t *data)
{
	static const char *const kinds[] = {"stdout", "stderr", "pty"};

	for (size_t i = 0; i < 3; i++) {
		json_t *v = json_object_get(data, kinds[i]);
		void (*fn)(const char *, size_t, void *);

		if (!v)
			continue;
		if (!json_is_string(v))
			return -EBADMSG;
		s->dec.len = 0;
		if (wl_b64_decode(json_string_value(v), json_string_length(v), &s->dec) < 0)
			return -EBADMSG;
		fn = i == 0 ? s->cb.on_stdout : i == 1 ? s->cb.on_stderr : s->cb.on_pty;
		if (fn && s->dec.len)
			fn(s->dec.data, s->dec.len, s->cb.userdata);
	}
	return 0;
}

static void end_event(struct stream *s, json_t *end)
{
	json_t *code = json_object_get(end, "exitCode");

	if (!code)
		code = json_object_get(end, "exit_code");
	s->exit.exit_code = 0;
	if (json_is_integer(code) && json_integer_value(code) >= -1024 &&
	    json_integer_value(code) <= 1024)
		s->exit.exit_code = (int)json_integer_value(code);
	else if (json_is_string(code))
		s->exit.exit_code = atoi(json_string_value(code));
	s->exit.exited = json_is_true(json_object_get(end, "exited"));
	copy_str(s->exit.status, sizeof(s->exit.status), json_object_get(end, "status"));
	copy_str(s->exit.error, sizeof(s->exit.error), json_object_get(end, "error"));
	s->got_end = true;
}

static void message(struct stream *s, unsigned flags, const char *data, size_t len)
{
	json_t *root, *ev, *v;

	if (s->got_eos) {
		stream_fail(s, EPROTO, "data after the end of the stream");
		return;
	}
	if (flags & FLAG_COMPRESSED) {
		stream_fail(s, EPROTO, "compressed stream message");
		return;
	}
	root = json_loadb(data, len, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		stream_fail(s, EPROTO, "stream message is not a JSON object");
		return;
	}
	if (flags & FLAG_END_STREAM) {
		json_t *e = json_object_get(root, "error");

		s->got_eos = true;
		if (json_is_object(e)) {
			json_t *code = json_object_get(e, "code");
			json_t *m = json_object_get(e, "message");
			const char *cs = json_is_string(code) ? json_string_value(code) : "unknown";

			s->eos_status = connect_code_status(cs);
			snprintf(s->eos_msg, sizeof(s->eos_msg), "%s: %s", cs,
			         json_is_string(m) ? json_string_value(m) : "");
		}
		json_decref(root);
		return;
	}
	ev = json_object_get(root, "event");
	if (!json_is_object(ev)) {
		stream_fail(s, EPROTO, "stream message without an event");
	} else if ((v = json_object_get(ev, "start"))) {
		json_t *pid = json_object_get(v, "pid");

		if (s->got_start) {
			stream_fail(s, EPROTO, "second start event");
		} else if (!json_is_integer(pid) || json_integer_value(pid) <= 0 ||
		           json_integer_value(pid) > UINT32_MAX) {
			stream_fail(s, EPROTO, "start event without a valid pid");
		} else {
			s->got_start = true;
			s->pid = (uint32_t)json_integer_value(pid);
			if (s->cb.on_start)
				s->cb.on_start(s->pid, s->cb.userdata);
			if (s->proc)
				proc_started(s->proc, s->pid);
		}
	} else if (json_object_get(ev, "keepalive")) {
		/* Keeps the connection busy; nothing to do. */
	} else if (!s->got_start) {
		stream_fail(s, EPROTO, "expected the start event first");
	} else if (s->got_end) {
		stream_fail(s, EPROTO, "event after the end event");
	} else if ((v = json_object_get(ev, "data"))) {
		if (data_event(s, v) < 0)
			stream_fail(s, EPROTO, "malformed data event");
	} else if ((v = json_object_get(ev, "end"))) {
		end_event(s, v);
	}
	/* Unknown events are ignored, as the SDK does. */
	json_decref(root);
}

static size_t stream_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct stream *s = userdata;
	size_t n = size * nmemb;

	if (s->proc && atomic_load(&s->proc->cancel))
		return 0;
	if (!s->status)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200) {
		size_t room = ERRBODY_MAX - s->errbody.len;

		if (wl_buf_append(&s->errbody, data, n < room ? n : room) < 0)
			return 0;
		return n;
	}
	if (wl_buf_append(&s->in, data, n) < 0) {
		stream_fail(s, ENOMEM, "out of memory");
		return 0;
	}
	while (s->in.len >= 5 && !s->fail) {
		const unsigned char *h = (const unsigned char *)s->in.data;
		uint32_t len =
		    (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];

		if (len > WL_STREAM_MSG_MAX) {
			stream_fail(s, EMSGSIZE, "stream message larger than the limit");
			break;
		}
		if (s->in.len < 5 + (size_t)len)
			break;
		message(s, h[0], s->in.data + 5, len);
		wl_buf_consume(&s->in, 5 + (size_t)len);
	}
	return s->fail ? 0 : n;
}

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct warren_proc *p = clientp;
	int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

	if (fd >= 0 && p) {
		pthread_mutex_lock(&p->lock);
		p->sock_fd = fd;
		if (atomic_load(&p->cancel))
			shutdown(fd, SHUT_RDWR);
		pthread_mutex_unlock(&p->lock);
	}
	return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int close_socket(void *clientp, curl_socket_t fd)
{
	struct warren_proc *p = clientp;

	if (p) {
		pthread_mutex_lock(&p->lock);
		if (p->sock_fd == fd)
			p->sock_fd = -1;
		pthread_mutex_unlock(&p->lock);
	}
	return close(fd);
}

static int xfer_info(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                     curl_off_t ulnow)
{
	struct warren_proc *p = clientp;

	return p && atomic_load(&p->cancel) ? 1 : 0;
}

/* The request of a stream: headers and one enveloped JSON message. */
struct stream_req {
	struct curl_slist *headers;
	char *body;
	size_t body_len;
	char url[2048];
};

static void stream_req_release(struct stream_req *r)
{
	curl_slist_free_all(r->headers);
	free(r->body);
	r->headers = NULL;
	r->body = NULL;
}

static int stream_req_init(struct stream_req *r, const struct target *t, const char *method,
                           json_t *msg, const char *user, unsigned timeout_ms,
                           struct warren_error *err, const char *what)
{
	char *text;
	size_t len;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((size_t)snprintf(r->url, sizeof(r->url), "%s/process.Process/%s", t->base, method) >=
	    sizeof(r->url))
		return wl_errno(err, EINVAL, "%s: URL too long", what);
	rc = agent_headers(&r->headers, t, "application/connect+json", user);
	if (rc == 0 && wl_header(&r->headers, "Keepalive-Ping-Interval: 50") < 0)
		rc = -ENOMEM;
	if (rc == 0 && timeout_ms &&
	    wl_header(&r->headers, "Connect-Timeout-Ms: %u", timeout_ms) < 0)
		rc = -ENOMEM;
	if (rc < 0) {
		stream_req_release(r);
		return wl_errno(err, -rc, "%s: %s", what,
		                rc == -EINVAL ? "invalid user name" : strerror(-rc));
	}
	text = json_dumps(msg, JSON_COMPACT);
	if (!text) {
		stream_req_release(r);
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	}
	len = strlen(text);
	r->body = malloc(len + 5);
	if (!r->body) {
		free(text);
		stream_req_release(r);
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	}
	r->body[0] = 0;
	r->body[1] = (char)(len >> 24);
	r->body[2] = (char)(len >> 16);
	r->body[3] = (char)(len >> 8);
	r->body[4] = (char)len;
	memcpy(r->body + 5, text, len);
	r->body_len = len + 5;
	free(text);
	return 0;
}

/*
 * Performs a stream to its end on the calling thread. Returns 0 when the
 * process's end event and a clean end of stream arrived (s->exit holds it).
 */
static int stream_perform(struct stream *s, const struct warren_client *c,
                          const struct stream_req *req, struct warren_error *err, const char *what)
{
	CURLcode cc;

	s->easy = curl_easy_init();
	if (!s->easy)
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	curl_easy_setopt(s->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "libwarren/" WARREN_CLIENT_VERSION);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, req->headers);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	/* The agent sends a keepalive every 50 s on an idle stream: 3 missed ones is a dead link.
	 */
	curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_TIME, 180L);
	curl_easy_setopt(s->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(s->easy, CURLOPT_OPENSOCKETDATA, s->proc);
	curl_easy_setopt(s->easy, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
	curl_easy_setopt(s->easy, CURLOPT_CLOSESOCKETDATA, s->proc);
	curl_easy_setopt(s->easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->easy, CURLOPT_XFERINFOFUNCTION, xfer_info);
	curl_easy_setopt(s->easy, CURLOPT_XFERINFODATA, s->proc);
	cc = curl_easy_perform(s->easy);
	if (!s->status)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	/* Closes the connection now, while the callbacks' data (s->proc) is alive. */
	curl_easy_cleanup(s->easy);
	s->easy = NULL;

	if (s->proc && atomic_load(&s->proc->cancel))
		return wl_errno(err, ECONNRESET, "%s: disconnected", what);
	if (s->fail)
		return wl_errno(err, -s->fail, "%s: %s", what, s->fail_msg);
	if (s->status && s->status != 200) {
		struct wl_response r = {.status = s->status, .body = s->errbody};
		json_t *root = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
		json_t *code = json_object_get(root, "code");
		int rc;

		if (json_is_string(code))
			rc = wl_http_error(err, connect_code_status(json_string_value(code)),
			                   "%s: %s", what, json_string_value(code));
		else
			rc = wl_response_error(&r, err, what);
		json_decref(root);
		return rc;
	}
	if (cc != CURLE_OK && !s->got_eos)
		return wl_errno(err,
		                cc == CURLE_COULDNT_CONNECT      ? ECONNREFUSED
		                : cc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT
		                                                 : ECONNRESET,
		                "%s: %s", what, curl_easy_strerror(cc));
	if (s->eos_status)
		return wl_http_error(err, s->eos_status, "%s: %s", what, s->eos_msg);
	if (!s->got_eos)
		return wl_errno(err, EPROTO, "%s: missing end of stream", what);
	if (!s->got_end)
		return wl_errno(err, EPROTO, "%s: the stream ended without the process's end",
		                what);
	return 0;
}

static void stream_release(struct stream *s)
{
	wl_buf_release(&s->in);
	wl_buf_release(&s->dec);
	wl_buf_release(&s->errbody);
}

static int envs_object(json_t *process, const struct warren_kv *envs, size_t n, json_t *base)
{
	json_t *o = base ? base : json_object();

	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!envs[i].key || !envs[i].value ||
		    json_object_set_new(o, envs[i].key, json_string(envs[i].value)) < 0) {
			json_decref(o);
			return -EINVAL;
		}
	}
	if (json_object_size(o) == 0) {
		json_decref(o);
		return 0;
	}
	return json_object_set_new(process, "envs", o) < 0 ? -ENOMEM : 0;
}

/* The StartRequest of a command. */
static json_t *cmd_request(const char *cmd, const struct warren_cmd_opts *o)
{
	json_t *req = json_pack("{s:{s:s,s:[s,s,s]},s:b}", "process", "cmd", "/bin/bash", "args",
	                        "-l", "-c", cmd, "stdin", o->stdin);
	json_t *process = json_object_get(req, "process");

	if (!req)
		return NULL;
	if (envs_object(process, o->envs, o->n_envs, NULL) < 0 ||
	    (o->cwd && json_object_set_new(process, "cwd", json_string(o->cwd)) < 0)) {
		json_decref(req);
		return NULL;
	}
	return req;
}

static json_t *pty_request(const struct warren_pty_opts *o)
{
	unsigned cols = o->cols ? o->cols : 80, rows = o->rows ? o->rows : 24;
	json_t *req, *process, *envs;

	if (o->cmd)
		req = json_pack("{s:{s:s,s:[s,s,s,s]}}", "process", "cmd", "/bin/bash", "args",
		                "-i", "-l", "-c", o->cmd);
	else
		req = json_pack("{s:{s:s,s:[s,s]}}", "process", "cmd", "/bin/bash", "args", "-i",
		                "-l");
	if (!req)
		return NULL;
	process = json_object_get(req, "process");
	envs = json_pack("{s:s,s:s,s:s}", "TERM", "xterm-256color", "LANG", "C.UTF-8", "LC_ALL",
	                 "C.UTF-8");
	if (!envs || envs_object(process, o->envs, o->n_envs, envs) < 0 ||
	    (o->cwd && json_object_set_new(process, "cwd", json_string(o->cwd)) < 0) ||
	    json_object_set_new(req, "pty",
	                        json_pack("{s:{s:I,s:I}}", "size", "cols", (json_int_t)cols, "rows",
	                                  (json_int_t)rows)) < 0) {
		json_decref(req);
		return NULL;
	}
	return req;
}

int warren_cmd_run(struct warren_client *c, const struct warren_sandbox *sbx, const char *cmd,
                   const struct warren_cmd_opts *opts, const struct warren_stream_cb *cb,
                   struct warren_exit *ret_exit, struct warren_error *err)
{
	struct warren_cmd_opts none = {0};
	const char *what = "running a command";
	struct stream s = {0};
	struct stream_req req;
	struct target t;
	json_t *msg;
	int rc;

	if (!cmd)
		return wl_errno(err, EINVAL, "%s: no command", what);
	if (!opts)
		opts = &none;
	rc = target_init(&t, c, sbx, err);
	if (rc < 0)
		return rc;
	msg = cmd_request(cmd, opts);
	if (!msg) {
		target_release(&t);
		return wl_errno(err, EINVAL, "%s: invalid command, env or cwd (not UTF-8?)", what);
	}
	rc = stream_req_init(&req, &t, "Start", msg, opts->user, opts->timeout_ms, err, what);
	json_decref(msg);
	target_release(&t);
	if (rc < 0)
		return rc;
	if (cb)
		s.cb = *cb;
	rc = stream_perform(&s, c, &req, err, what);
	if (rc == 0 && ret_exit)
		*ret_exit = s.exit;
	stream_release(&s);
	stream_req_release(&req);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Handles                                                                                   */

struct proc_thread_arg {
	struct warren_proc *p;
	struct stream_req req;
	char what[64];
};

static void *proc_thread(void *arg)
{
	struct proc_thread_arg *a = arg;
	struct warren_proc *p = a->p;
	struct warren_error e = {0};
	int rc;
	ssize_t w;

	rc = stream_perform(&p->st, p->c, &a->req, &e, a->what);
	stream_req_release(&a->req);
	free(a);
	pthread_mutex_lock(&p->lock);
	p->rc = rc;
	p->err = e;
	if (rc == 0)
		p->exit = p->st.exit;
	/* Readable before wait() can return, so the two never disagree. */
	do
		w = write(p->done_fd[1], "x", 1);
	while (w < 0 && errno == EINTR);
	p->done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void proc_destroy(struct warren_proc *p)
{
	stream_release(&p->st);
	target_release(&p->t);
	curl_easy_cleanup(p->unary_easy);
	if (p->done_fd[0] >= 0)
		close(p->done_fd[0]);
	if (p->done_fd[1] >= 0)
		close(p->done_fd[1]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->unary_lock);
	free(p);
}

/* Starts a stream on a new thread and waits for its start event or its end. Takes msg. */
static int proc_open(struct warren_client *c, const struct warren_sandbox *sbx, const char *method,
                     json_t *msg, const char *user, unsigned timeout_ms, bool pty,
                     const struct warren_stream_cb *cb, struct warren_proc **ret,
                     struct warren_error *err, const char *what)
{
	struct proc_thread_arg *a;
	struct warren_proc *p;
	int rc;

	if (!msg)
		return wl_errno(err, EINVAL, "%s: invalid command, env or cwd (not UTF-8?)", what);
	p = calloc(1, sizeof(*p));
	a = calloc(1, sizeof(*a));
	if (!p || !a) {
		free(p);
		free(a);
		json_decref(msg);
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	}
	p->c = c;
	p->pty = pty;
	p->sock_fd = -1;
	p->done_fd[0] = p->done_fd[1] = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	pthread_mutex_init(&p->unary_lock, NULL);
	atomic_init(&p->cancel, false);
	p->st.proc = p;
	if (cb)
		p->st.cb = *cb;
	a->p = p;
	snprintf(a->what, sizeof(a->what), "%s", what);
	rc = target_init(&p->t, c, sbx, err);
	if (rc == 0)
		rc = stream_req_init(&a->req, &p->t, method, msg, user, timeout_ms, err, what);
	json_decref(msg);
	if (rc < 0) {
		free(a);
		proc_destroy(p);
		return rc;
	}
	if (pipe2(p->done_fd, O_CLOEXEC) < 0) {
		rc = wl_errno(err, errno, "%s: pipe: %s", what, strerror(errno));
		stream_req_release(&a->req);
		free(a);
		proc_destroy(p);
		return rc;
	}
	rc = pthread_create(&p->thread, NULL, proc_thread, a);
	if (rc != 0) {
		rc = wl_errno(err, rc, "%s: creating a thread: %s", what, strerror(rc));
		stream_req_release(&a->req);
		free(a);
		proc_destroy(p);
		return rc;
	}
	pthread_mutex_lock(&p->lock);
	while (!p->started && !p->done)
		pthread_cond_wait(&p->cond, &p->lock);
	rc = p->started ? 0 : p->rc;
	if (!p->started && err)
		*err = p->err;
	pthread_mutex_unlock(&p->lock);
	if (rc < 0 || !p->started) {
		pthread_join(p->thread, NULL);
		proc_destroy(p);
		if (rc == 0)
			rc = wl_errno(err, EPROTO, "%s: the stream ended before the start event",
			              what);
		return rc;
	}
	*ret = p;
	return 0;
}

int warren_cmd_start(struct warren_client *c, const struct warren_sandbox *sbx, const char *cmd,
                     const struct warren_cmd_opts *opts, const struct warren_stream_cb *cb,
                     struct warren_proc **ret, struct warren_error *err)
{
	struct warren_cmd_opts none = {0};

	if (!cmd)
		return wl_errno(err, EINVAL, "starting a command: no command");
	if (!opts)
		opts = &none;
	return proc_open(c, sbx, "Start", cmd_request(cmd, opts), opts->user, opts->timeout_ms,
	                 false, cb, ret, err, "starting a command");
}

int warren_pty_start(struct warren_client *c, const struct warren_sandbox *sbx,
                     const struct warren_pty_opts *opts, const struct warren_stream_cb *cb,
                     struct warren_proc **ret, struct warren_error *err)
{
	struct warren_pty_opts none = {0};

	if (!opts)
		opts = &none;
	if (opts->cols > 65535 || opts->rows > 65535)
		return wl_errno(err, EINVAL, "starting a terminal: invalid size");
	return proc_open(c, sbx, "Start", pty_request(opts), opts->user, opts->timeout_ms, true, cb,
	                 ret, err, "starting a terminal");
}

int warren_proc_connect(struct warren_client *c, const struct warren_sandbox *sbx, uint32_t pid,
                        const struct warren_stream_cb *cb, struct warren_proc **ret,
                        struct warren_error *err)
{
	char what[64];

	snprintf(what, sizeof(what), "attaching to process %u", pid);
	/* Whether it is a PTY is not known here; input goes the way the caller picks. */
	return proc_open(c, sbx, "Connect", selector(pid), NULL, 0, false, cb, ret, err, what);
}

uint32_t warren_proc_pid(const struct warren_proc *p)
{
	return p->pid;
}

int warren_proc_done_fd(const struct warren_proc *p)
{
	return p->done_fd[0];
}

/* Runs a unary call on the handle's reused connection, one at a time. */
#define WITH_UNARY(p, call)                                                                        \
	({                                                                                         \
		int rc_;                                                                           \
		pthread_mutex_lock(&(p)->unary_lock);                                              \
		if (!(p)->unary_easy)                                                              \
			(p)->unary_easy = curl_easy_init();                                        \
		rc_ = (p)->unary_easy ? (call) : wl_errno(err, ENOMEM, "out of memory");           \
		pthread_mutex_unlock(&(p)->unary_lock);                                            \
		rc_;                                                                               \
	})

int warren_proc_send_stdin(struct warren_proc *p, const void *data, size_t len,
                           struct warren_error *err)
{
	return WITH_UNARY(p, do_input(p->unary_easy, p->c, &p->t, p->pid, "stdin", data, len, err));
}

int warren_proc_send_pty(struct warren_proc *p, const void *data, size_t len,
                         struct warren_error *err)
{
	return WITH_UNARY(p, do_input(p->unary_easy, p->c, &p->t, p->pid, "pty", data, len, err));
}

int warren_proc_close_stdin(struct warren_proc *p, struct warren_error *err)
{
	json_t *body = selector(p->pid);
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "closing the stdin of process %u", p->pid);
	if (!body)
		return wl_errno(err, ENOMEM, "%s: out of memory", what);
	rc = WITH_UNARY(p, unary(p->unary_easy, p->c, &p->t, "CloseStdin", body, err, what));
	json_decref(body);
	return rc;
}

int warren_proc_resize(struct warren_proc *p, unsigned cols, unsigned rows,
                       struct warren_error *err)
{
	return WITH_UNARY(p, do_resize(p->unary_easy, p->c, &p->t, p->pid, cols, rows, err));
}

int warren_proc_kill(struct warren_proc *p, struct warren_error *err)
{
	return WITH_UNARY(p, do_kill(p->unary_easy, p->c, &p->t, p->pid, err));
}

int warren_proc_wait(struct warren_proc *p, struct warren_exit *ret_exit, struct warren_error *err)
{
	int rc;

	pthread_mutex_lock(&p->lock);
	while (!p->done)
		pthread_cond_wait(&p->cond, &p->lock);
	rc = p->rc;
	if (rc == 0 && ret_exit)
		*ret_exit = p->exit;
	if (rc < 0 && err)
		*err = p->err;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void warren_proc_free(struct warren_proc *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (!p->done) {
		atomic_store(&p->cancel, true);
		if (p->sock_fd >= 0)
			shutdown(p->sock_fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	proc_destroy(p);
}
