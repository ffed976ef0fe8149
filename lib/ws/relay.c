/* SPDX-License-Identifier: Apache-2.0 */
/* The two-way relay between a WebSocket and plain fds (contract in ws.h). */
#include "ws/ws.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"

#define RELAY_CHUNK (64 * 1024)
/* Frames waiting for the WebSocket: above this, stop reading what would add more. */
#define RELAY_WOUT_MAX (64 * 1024)
/* Pongs of a peer that pings but never reads cannot grow this beyond the limit. */
#define RELAY_WOUT_HARD (1024 * 1024)

struct relay {
	const struct ws_relay *cfg;
	struct ws_decoder dec;
	struct buf wout; /* frames to send on ws_fd */
	size_t woff;
	uint8_t rbuf[RELAY_CHUNK]; /* WebSocket bytes read */
	size_t r_len, r_off;
	const uint8_t *out_ptr; /* decoded payload not yet written to out_fd (into rbuf) */
	size_t out_len;
	bool out_sock, in_sock, ws_sock;
	bool in_eof, sent_close, got_close, ws_eof, out_done, out_closed;
	int64_t close_deadline_us;
};

static int queue_frame(struct relay *r, enum ws_opcode op, const void *data, size_t len)
{
	uint8_t mask[4];

	if (r->cfg->client) {
		int e = random_bytes(mask, sizeof(mask));
		if (e < 0)
			return e;
	}
	return ws_frame_append(&r->wout, op, data, len, r->cfg->client ? mask : NULL);
}

static int queue_close(struct relay *r, uint16_t code)
{
	uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	int e;

	if (r->sent_close)
		return 0;
	e = queue_frame(r, WS_OP_CLOSE, p, sizeof(p));
	if (e < 0)
		return e;
	r->sent_close = true;
	r->close_deadline_us =
	    now_mono_us() +
	    (int64_t)(r->cfg->close_wait_ms > 0 ? r->cfg->close_wait_ms : 10000) * 1000;
	return 0;
}

static ssize_t fd_write(int fd, bool sock, const void *p, size_t n)
{
	return sock ? send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) : write(fd, p, n);
}

static bool is_sock(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Writes what it can without blocking. -errno on a dead peer. */
static int flush_ws(struct relay *r)
{
	while (r->woff < r->wout.len) {
		ssize_t n = fd_write(r->cfg->ws_fd, r->ws_sock, r->wout.data + r->woff,
		                     r->wout.len - r->woff);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		r->woff += (size_t)n;
	}
	buf_reset(&r->wout);
	r->woff = 0;
	return 0;
}

static void end_out(struct relay *r)
{
	if (r->out_done)
		return;
	r->out_done = true;
	r->out_len = 0;
	if (r->out_sock) {
		shutdown(r->cfg->out_fd, SHUT_WR);
	} else if (r->cfg->out_fd != r->cfg->in_fd) {
		/* A pipe has no half-close: closing it is how its reader sees the end. */
		close(r->cfg->out_fd);
		r->out_closed = true;
	}
}

static void flush_out(struct relay *r)
{
	while (r->out_len > 0) {
		ssize_t n = fd_write(r->cfg->out_fd, r->out_sock, r->out_ptr, r->out_len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* Nobody reads any more: drop what comes and say goodbye. */
			end_out(r);
			queue_close(r, WS_CLOSE_NORMAL);
			return;
		}
		r->out_ptr += n;
		r->out_len -= (size_t)n;
	}
}

/* Decodes buffered WebSocket bytes until data waits for out_fd or the input is used up. */
static int decode(struct relay *r)
{
	while (r->out_len == 0 && r->r_off < r->r_len && !r->got_close) {
		struct ws_event ev;
		ssize_t n = ws_decode(&r->dec, r->rbuf + r->r_off, r->r_len - r->r_off, &ev);
		int e = 0;

		if (n < 0)
			return (int)n;
		r->r_off += (size_t)n;
		switch (ev.type) {
		case WS_EV_DATA:
			if (!r->out_done) {
				r->out_ptr = ev.data;
				r->out_len = ev.len;
				flush_out(r);
			}
			break;
		case WS_EV_PING:
			if (!r->sent_close && r->wout.len < RELAY_WOUT_HARD)
				e = queue_frame(r, WS_OP_PONG, ev.data, ev.len);
			break;
		case WS_EV_CLOSE:
			/* The peer's half is done: end ours towards out_fd, keep sending what
			 * in_fd still has (a tunnel's half-close), answer at its end. */
			r->got_close = true;
			end_out(r);
			break;
		case WS_EV_PONG:
		case WS_EV_NONE:
			break;
		}
		if (e < 0)
			return e;
	}
	if (r->r_off == r->r_len && r->out_len == 0)
		r->r_off = r->r_len = 0;
	return 0;
}

static int read_in(struct relay *r)
{
	uint8_t tmp[RELAY_CHUNK - WS_HDR_MAX];
	ssize_t n = read(r->cfg->in_fd, tmp, sizeof(tmp));

	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != ECONNRESET)
			return -errno;
		n = 0;
	}
	if (n == 0) {
		r->in_eof = true;
		return queue_close(r, WS_CLOSE_NORMAL);
	}
	return queue_frame(r, WS_OP_BINARY, tmp, (size_t)n);
}

static int read_ws(struct relay *r)
{
	ssize_t n = read(r->cfg->ws_fd, r->rbuf + r->r_len, sizeof(r->rbuf) - r->r_len);

	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != ECONNRESET)
			return -errno;
		n = 0;
	}
	if (n == 0) {
		r->ws_eof = true;
		return 0;
	}
	r->r_len += (size_t)n;
	return 0;
}

static int run(struct relay *r)
{
	const struct ws_relay *c = r->cfg;
	int e;

	if (c->n_pending > sizeof(r->rbuf))
		return -EMSGSIZE;
	if (c->n_pending) {
		memcpy(r->rbuf, c->pending, c->n_pending);
		r->r_len = c->n_pending;
	}
	for (;;) {
		struct pollfd pfd[3];
		int n_pfd = 0, i_in = -1, i_ws = -1, i_out = -1, timeout = -1;

		e = decode(r);
		if (e == -EPROTO) {
			/* Tell the peer why, best effort, and stop. */
			buf_reset(&r->wout);
			r->woff = 0;
			r->sent_close = false;
			if (queue_close(r, WS_CLOSE_PROTOCOL) == 0)
				(void)!write(c->ws_fd, r->wout.data, r->wout.len);
			end_out(r);
			return -EPROTO;
		}
		if (e < 0)
			return e;
		flush_out(r);
		e = flush_ws(r);
		if (e < 0) {
			/* The WebSocket is gone: nothing more can come from it either. */
			end_out(r);
			return r->got_close ? 0 : -ECONNRESET;
		}
		if (r->got_close && r->sent_close && r->wout.len == 0)
			return 0;
		if (r->ws_eof && r->out_len == 0 && r->r_off == r->r_len) {
			end_out(r);
			return r->got_close ? 0 : -ECONNRESET;
		}
		if (r->sent_close && !r->got_close) {
			int64_t left = r->close_deadline_us - now_mono_us();
			if (left <= 0) {
				end_out(r);
				return 0;
			}
			timeout = (int)(left / 1000) + 1;
		}

		if (!r->in_eof && !r->sent_close && r->wout.len < RELAY_WOUT_MAX) {
			pfd[n_pfd] = (struct pollfd){.fd = c->in_fd, .events = POLLIN};
			i_in = n_pfd++;
		}
		short ws_ev = 0;
		if (!r->ws_eof && !r->got_close && r->out_len == 0 && r->r_len == 0 &&
		    r->wout.len < RELAY_WOUT_HARD)
			ws_ev |= POLLIN;
		if (r->wout.len > r->woff)
			ws_ev |= POLLOUT;
		if (ws_ev) {
			pfd[n_pfd] = (struct pollfd){.fd = c->ws_fd, .events = ws_ev};
			i_ws = n_pfd++;
		}
		if (r->out_len > 0) {
			pfd[n_pfd] = (struct pollfd){.fd = c->out_fd, .events = POLLOUT};
			i_out = n_pfd++;
		}
		if (n_pfd == 0 && timeout < 0)
			return -EDEADLK; /* cannot happen: some side always waits for something */
		int pr = poll(pfd, (nfds_t)n_pfd, timeout);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (i_out >= 0 && pfd[i_out].revents)
			flush_out(r);
		if (i_ws >= 0 && (pfd[i_ws].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    (ws_ev & POLLIN)) {
			e = read_ws(r);
			if (e < 0)
				return e;
		}
		if (i_in >= 0 && pfd[i_in].revents) {
			e = read_in(r);
			if (e < 0)
				return e;
		}
	}
}

struct saved_fl {
	int fd;
	int fl;
};

int ws_relay_run(const struct ws_relay *cfg)
{
	struct relay *r = calloc(1, sizeof(*r));
	struct saved_fl saved[3];
	size_t n_saved = 0;
	int fds[3] = {cfg->ws_fd, cfg->in_fd, cfg->out_fd};
	int e;

	if (!r)
		return -ENOMEM;
	r->cfg = cfg;
	ws_decoder_init(&r->dec, !cfg->client);
	buf_init(&r->wout);
	r->ws_sock = is_sock(cfg->ws_fd);
	r->in_sock = is_sock(cfg->in_fd);
	r->out_sock = is_sock(cfg->out_fd);
	for (size_t i = 0; i < 3; i++) {
		bool seen = false;
		for (size_t j = 0; j < n_saved; j++)
			seen = seen || saved[j].fd == fds[i];
		if (seen)
			continue;
		int fl = fcntl(fds[i], F_GETFL);
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0) {
			e = -errno;
			goto out_restore;
		}
		saved[n_saved++] = (struct saved_fl){fds[i], fl};
	}
	e = run(r);
out_restore:
	for (size_t j = 0; j < n_saved; j++)
		if (!(r->out_closed && saved[j].fd == cfg->out_fd))
			fcntl(saved[j].fd, F_SETFL, saved[j].fl);
	buf_release(&r->wout);
	free(r);
	return e;
}
