/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libwarren against a real warrend started here (root required): sandboxes,
 * commands with streaming callbacks, background processes, PTYs, errors, and
 * examples/hello.c compiled with pkg-config and run. Prints TAP.
 *
 * Environment: WARREND (default: the build's src/warrend/warrend).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <warren/warren.h>

#include "config.h"

static int n_test, n_fail;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		n_fail++;
}

/* s with control characters shown as \n, \r or ?, for one-line TAP messages. */
static const char *vis(const char *s)
{
	static char bufs[4][256];
	static int next;
	char *out = bufs[next++ % 4];
	size_t o = 0;

	for (; *s && o < sizeof(bufs[0]) - 3; s++) {
		if (*s == '\n' || *s == '\r') {
			out[o++] = '\\';
			out[o++] = *s == '\n' ? 'n' : 'r';
		} else {
			out[o++] = (unsigned char)*s < 0x20 ? '?' : *s;
		}
	}
	out[o] = '\0';
	return out;
}

static void diag_err(const char *what, int rc, const struct warren_error *e)
{
	if (rc < 0)
		printf("# %s: rc %d code %d: %s\n", what, rc, e->code, e->msg);
}

/* ---------------------------------------------------------------------------------------- */
/* warrend                                                                                   */

struct warrend {
	pid_t pid;
	char bridge[16];
	char subnet[32];
	char cgroup_parent[64];
	char state_dir[64];
	char log_path[96];
	char api_key[64];
	char api_url[128];
	char sandbox_url[128];
	int port;
};

static unsigned rnd(void)
{
	unsigned v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		v = (unsigned)getpid() ^ (unsigned)time(NULL);
	if (fd >= 0)
		close(fd);
	return v;
}

static int free_port(void)
{
	/* A loopback port that is free now: bind to port 0, read it, release it. */
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool read_export(const char *text, const char *name, char *out, size_t size)
{
	char key[64];
	const char *p, *end;
	size_t len;

	snprintf(key, sizeof(key), "export %s=", name);
	p = strstr(text, key);
	if (!p)
		return false;
	p += strlen(key);
	if (*p == '\'' || *p == '"')
		p++;
	end = p + strcspn(p, "'\"\n");
	if (*end != '\n' && *end != '\'' && *end != '"')
		return false;
	len = (size_t)(end - p);
	if (len >= size)
		return false;
	memcpy(out, p, len);
	out[len] = '\0';
	return true;
}

static int warrend_start(struct warrend *w)
{
	const char *bin = getenv("WARREND");
	char binbuf[512], listen_arg[64];
	unsigned r = rnd();
	struct timespec start, now;
	int log_fd;

	snprintf(binbuf, sizeof(binbuf), "%s/src/warrend/warrend", WARREN_BUILD_ROOT);
	if (!bin || !*bin)
		bin = binbuf;
	w->port = free_port();
	if (w->port <= 0)
		return -1;
	snprintf(w->bridge, sizeof(w->bridge), "wl%08x", r);
	snprintf(w->subnet, sizeof(w->subnet), "10.204.%u.0/24", 1 + r % 254);
	snprintf(w->cgroup_parent, sizeof(w->cgroup_parent), "warren-test-libwarren-%d-%04x",
	         (int)getpid(), r >> 16);
	snprintf(w->state_dir, sizeof(w->state_dir), "/tmp/warren-test-libwarren-XXXXXX");
	if (!mkdtemp(w->state_dir))
		return -1;
	snprintf(w->log_path, sizeof(w->log_path), "/tmp/warrend-libwarren-%d-%d.log",
	         (int)getpid(), w->port);
	snprintf(w->api_key, sizeof(w->api_key), "e2b_%08x%08x%08x%08x%08x", rnd(), rnd(), rnd(),
	         rnd(), rnd());
	snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", w->port);
	log_fd = open(w->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return -1;
	w->pid = fork();
	if (w->pid < 0)
		return -1;
	if (w->pid == 0) {
		int null_fd = open("/dev/null", O_RDONLY);

		dup2(null_fd, 0);
		dup2(log_fd, 1);
		dup2(log_fd, 2);
		setenv("WARREN_API_KEY", w->api_key, 1);
		execl(bin, bin, "--listen", listen_arg, "--state-dir", w->state_dir, "--bridge",
		      w->bridge, "--subnet", w->subnet, "--cgroup-parent", w->cgroup_parent,
		      (char *)NULL);
		_exit(127);
	}
	close(log_fd);
	/* Ready when it printed its exports (it does so once listening). */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		char text[65536] = "";
		FILE *f = fopen(w->log_path, "re");
		int status;

		if (f) {
			size_t n = fread(text, 1, sizeof(text) - 1, f);
			text[n] = '\0';
			fclose(f);
		}
		if (read_export(text, "E2B_API_URL", w->api_url, sizeof(w->api_url)) &&
		    read_export(text, "E2B_SANDBOX_URL", w->sandbox_url, sizeof(w->sandbox_url)) &&
		    read_export(text, "E2B_API_KEY", w->api_key, sizeof(w->api_key)))
			return 0;
		if (waitpid(w->pid, &status, WNOHANG) == w->pid) {
			printf("# warrend exited early; log %s\n", w->log_path);
			w->pid = 0;
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 120) {
			printf("# warrend not ready after 120 s; log %s\n", w->log_path);
			return -1;
		}
		poll(NULL, 0, 50);
	}
}

static void warrend_stop(struct warrend *w)
{
	char cmd[1024];
	int status;

	if (w->pid > 0) {
		kill(w->pid, SIGTERM);
		for (int i = 0; i < 300; i++) {
			if (waitpid(w->pid, &status, WNOHANG) == w->pid) {
				w->pid = 0;
				break;
			}
			poll(NULL, 0, 100);
		}
		if (w->pid > 0) {
			printf("# warrend did not stop on SIGTERM; killing it\n");
			kill(w->pid, SIGKILL);
			waitpid(w->pid, &status, 0);
		}
	}
	/* What this run made on the host: bridge ports, bridge, nft tables, cgroups, state. */
	snprintf(cmd, sizeof(cmd),
	         "for p in $(ip -o link show master %1$s 2>/dev/null | sed -E 's/^[0-9]+: ([^:@ "
	         "]+).*/\\1/'); "
	         "do ip link del \"$p\"; done; ip link del %1$s 2>/dev/null; "
	         "for f in inet bridge ip ip6; do nft delete table $f %1$s 2>/dev/null; done; "
	         "find /sys/fs/cgroup -depth -type d -path '*/%2$s*' -exec rmdir {} + 2>/dev/null; "
	         "grep -q ' %3$s' /proc/self/mountinfo || rm -rf %3$s; true",
	         w->bridge, w->cgroup_parent, w->state_dir);
	if (system(cmd) != 0)
		printf("# host cleanup failed\n");
}

/* Under ASan/UBSan builds, a report in warrend's log fails the run. */
static bool warrend_log_clean(const struct warrend *w)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
	         "grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: ' %s",
	         w->log_path);
	return system(cmd) != 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Output collection                                                                         */

struct sink {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char out[65536], err[65536], pty[65536];
	size_t n_out, n_err, n_pty;
	uint32_t pid;
};

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
}

static void sink_release(struct sink *s)
{
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
}

static void append(struct sink *s, char *buf, size_t *n, const char *data, size_t len)
{
	pthread_mutex_lock(&s->lock);
	if (len > sizeof(s->out) - 1 - *n)
		len = sizeof(s->out) - 1 - *n;
	memcpy(buf + *n, data, len);
	*n += len;
	buf[*n] = '\0';
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void on_out(const char *d, size_t l, void *u)
{
	struct sink *s = u;

	append(s, s->out, &s->n_out, d, l);
}

static void on_err(const char *d, size_t l, void *u)
{
	struct sink *s = u;

	append(s, s->err, &s->n_err, d, l);
}

static void on_pty(const char *d, size_t l, void *u)
{
	struct sink *s = u;

	append(s, s->pty, &s->n_pty, d, l);
}

static void on_start(uint32_t pid, void *u)
{
	struct sink *s = u;

	pthread_mutex_lock(&s->lock);
	s->pid = pid;
	pthread_mutex_unlock(&s->lock);
}

/* Waits until buf (one of s's buffers) holds needle after offset `from`, up to timeout_ms. */
static bool wait_for(struct sink *s, const char *buf, size_t from, const char *needle,
                     int timeout_ms)
{
	struct timespec deadline;
	bool found;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	while (!(found = strstr(buf + from, needle) != NULL))
		if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT) {
			found = strstr(buf + from, needle) != NULL;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return found;
}

static size_t pty_len(struct sink *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n_pty;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Tests                                                                                     */

static void test_bad_key(const struct warrend *w)
{
	struct warren_config cfg = {.api_url = w->api_url,
	                            .sandbox_url = w->sandbox_url,
	                            .api_key = "e2b_0000000000000000000000000000000000000000"};
	struct warren_client *c = NULL;
	struct warren_sandbox *s = NULL;
	struct warren_error e = {0};
	int rc = warren_client_new(&cfg, &c, &e);

	ok(rc == 0, "client with a wrong API key is created");
	if (rc < 0)
		return;
	rc = warren_sandbox_create(c, NULL, &s, &e);
	ok(rc == -EACCES && e.code == 401 && s == NULL,
	   "bad API key: create fails with 401 (rc %d code %d: %s)", rc, e.code, e.msg);
	warren_sandbox_free(s);
	warren_client_free(c);
}

static void test_run(struct warren_client *c, struct warren_sandbox *sbx)
{
	struct warren_stream_cb cb = {on_start, on_out, on_err, on_pty, NULL};
	struct warren_kv envs[] = {{"WL_REQ", "from-request"}};
	struct warren_cmd_opts o = {.envs = envs, .n_envs = 1, .cwd = "/tmp"};
	struct warren_error e = {0};
	struct warren_exit ex = {0};
	struct sink s;
	int rc;

	sink_init(&s);
	cb.userdata = &s;
	rc = warren_cmd_run(c, sbx, "echo hello; echo oops >&2; exit 3", NULL, &cb, &ex, &e);
	diag_err("run", rc, &e);
	ok(rc == 0 && s.pid > 0, "run: started with a pid (%u)", s.pid);
	ok(strcmp(s.out, "hello\n") == 0, "run: stdout streamed ('%s')", vis(s.out));
	ok(strcmp(s.err, "oops\n") == 0, "run: stderr streamed ('%s')", vis(s.err));
	ok(ex.exit_code == 3 && ex.exited, "run: exit code 3 (%d, status '%s')", ex.exit_code,
	   ex.status);
	sink_release(&s);

	sink_init(&s);
	cb.userdata = &s;
	rc = warren_cmd_run(c, sbx, "echo $WL_CREATE $WL_REQ $(pwd)", &o, &cb, &ex, &e);
	diag_err("run envs", rc, &e);
	ok(rc == 0 && ex.exit_code == 0 && strcmp(s.out, "from-create from-request /tmp\n") == 0,
	   "run: create envs, request envs and cwd ('%s')", vis(s.out));
	sink_release(&s);

	o.timeout_ms = 500;
	rc = warren_cmd_run(c, sbx, "sleep 30", &o, NULL, &ex, &e);
	ok(rc == -ETIMEDOUT && e.code == 504,
	   "run: timeout_ms ends the process with 504 (rc %d code %d: %s)", rc, e.code, e.msg);
}

static void test_background(struct warren_client *c, struct warren_sandbox *sbx)
{
	struct warren_stream_cb cb = {on_start, on_out, on_err, NULL, NULL};
	struct warren_cmd_opts o = {.stdin = true};
	struct warren_error e = {0};
	struct warren_exit ex = {0};
	struct warren_proc *p = NULL, *q = NULL;
	struct sink s, s2;
	uint32_t pid;
	int rc;

	sink_init(&s);
	cb.userdata = &s;
	rc = warren_cmd_start(c, sbx, "cat", &o, &cb, &p, &e);
	diag_err("start cat", rc, &e);
	ok(rc == 0 && warren_proc_pid(p) > 0, "background: cat started");
	if (rc == 0) {
		rc = warren_proc_send_stdin(p, "ping\n", 5, &e);
		ok(rc == 0 && wait_for(&s, s.out, 0, "ping\n", 10000),
		   "background: stdin reaches cat");
		rc = warren_proc_close_stdin(p, &e);
		diag_err("close stdin", rc, &e);
		rc = warren_proc_wait(p, &ex, &e);
		ok(rc == 0 && ex.exit_code == 0, "background: close_stdin ends cat with 0 (%d)",
		   ex.exit_code);
		struct pollfd pfd = {.fd = warren_proc_done_fd(p), .events = POLLIN};
		ok(poll(&pfd, 1, 0) == 1, "background: done fd is readable after the end");
		warren_proc_free(p);
	}
	sink_release(&s);

	/* Kill: true, then false for the gone pid. */
	rc = warren_cmd_start(c, sbx, "sleep 100", NULL, NULL, &p, &e);
	ok(rc == 0, "background: sleep started");
	if (rc == 0) {
		pid = warren_proc_pid(p);
		rc = warren_proc_kill(p, &e);
		ok(rc == 1, "background: kill returns 1 (%d)", rc);
		rc = warren_proc_wait(p, &ex, &e);
		ok(rc == 0 && ex.exit_code == -1 && !ex.exited,
		   "background: killed process ends with -1 ('%s')", ex.status);
		rc = warren_process_kill(c, sbx, pid, &e);
		ok(rc == 0, "background: kill of a gone pid returns 0 (%d)", rc);
		warren_proc_free(p);
	}

	/* Disconnect leaves the process running; connect attaches again. */
	sink_init(&s2);
	rc = warren_cmd_start(c, sbx, "read x; echo got $x", &o, NULL, &p, &e);
	ok(rc == 0, "attach: reader started");
	if (rc == 0) {
		pid = warren_proc_pid(p);
		warren_proc_free(p);
		cb.userdata = &s2;
		rc = warren_proc_connect(c, sbx, pid, &cb, &q, &e);
		diag_err("connect", rc, &e);
		ok(rc == 0 && warren_proc_pid(q) == pid, "attach: connect to the running pid");
		if (rc == 0) {
			warren_proc_send_stdin(q, "hi\n", 3, &e);
			rc = warren_proc_wait(q, &ex, &e);
			ok(rc == 0 && ex.exit_code == 0 && strstr(s2.out, "got hi"),
			   "attach: output after connect ('%s')", vis(s2.out));
			warren_proc_free(q);
		}
	}
	sink_release(&s2);
	rc = warren_proc_connect(c, sbx, 999999, NULL, &q, &e);
	ok(rc == -ENOENT && e.code == 404, "attach: unknown pid is 404 (rc %d code %d: %s)", rc,
	   e.code, e.msg);
}

static void test_pty(struct warren_client *c, struct warren_sandbox *sbx)
{
	struct warren_stream_cb cb = {on_start, NULL, NULL, on_pty, NULL};
	struct warren_pty_opts o = {.cols = 80, .rows = 24};
	struct warren_error e = {0};
	struct warren_exit ex = {0};
	struct warren_proc *p = NULL;
	struct sink s;
	size_t mark;
	int rc;

	sink_init(&s);
	cb.userdata = &s;
	rc = warren_pty_start(c, sbx, &o, &cb, &p, &e);
	diag_err("pty start", rc, &e);
	ok(rc == 0, "pty: started");
	if (rc < 0) {
		sink_release(&s);
		return;
	}
	mark = pty_len(&s);
	rc = warren_proc_send_pty(p, "echo $TERM\n", 11, &e);
	ok(rc == 0 && wait_for(&s, s.pty, mark, "xterm-256color", 10000),
	   "pty: TERM is xterm-256color");
	rc = warren_proc_send_pty(p, "stty size\n", 10, &e);
	ok(rc == 0 && wait_for(&s, s.pty, mark, "24 80", 10000), "pty: initial size 24 80");
	rc = warren_proc_resize(p, 100, 30, &e);
	diag_err("resize", rc, &e);
	mark = pty_len(&s);
	rc = warren_proc_send_pty(p, "stty size\n", 10, &e);
	ok(rc == 0 && wait_for(&s, s.pty, mark, "30 100", 10000), "pty: resize shows in stty size");
	rc = warren_proc_send_pty(p, "exit 7\n", 7, &e);
	rc = warren_proc_wait(p, &ex, &e);
	diag_err("pty wait", rc, &e);
	ok(rc == 0 && ex.exit_code == 7, "pty: exit 7 gives exit code 7 (%d)", ex.exit_code);
	warren_proc_free(p);
	sink_release(&s);
}

static void test_example(const struct warrend *w)
{
	char cmd[2048], out[4096] = "";
	const char *san = "";
	FILE *f;
	size_t n;
	int status;

#if defined(__SANITIZE_ADDRESS__)
	san = "-fsanitize=address,undefined";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	san = "-fsanitize=address,undefined";
#endif
#endif
	snprintf(
	    cmd, sizeof(cmd),
	    "set -e; d=$(mktemp -d); "
	    "cc -Wall -Werror %s -o $d/hello %s/examples/hello.c "
	    "$(PKG_CONFIG_PATH=%s/meson-uninstalled pkg-config --cflags --libs warren-uninstalled) "
	    "2>&1; "
	    "LD_LIBRARY_PATH=%s/lib/client E2B_API_URL=%s E2B_SANDBOX_URL=%s E2B_API_KEY=%s "
	    "$d/hello 2>&1; rm -rf $d",
	    san, WARREN_SOURCE_ROOT, WARREN_BUILD_ROOT, WARREN_BUILD_ROOT, w->api_url,
	    w->sandbox_url, w->api_key);
	f = popen(cmd, "r");
	if (!f) {
		ok(0, "example: popen");
		return;
	}
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	status = pclose(f);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	       strstr(out, "hello from the sandbox\nLinux\n") && strstr(out, "exit code 0"),
	   "example: examples/hello.c compiles with pkg-config and runs");
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		printf("# %s\n", vis(out));
}

int main(void)
{
	struct warrend w = {0};
	struct warren_client *c = NULL;
	struct warren_sandbox *sbx = NULL, *info = NULL, **list = NULL;
	struct warren_error e = {0};
	char tag[64];
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (starts warrend)\n");
		return 0;
	}
	if (warrend_start(&w) < 0) {
		printf("not ok 1 - warrend started\n1..1\n");
		warrend_stop(&w);
		return 1;
	}
	ok(1, "warrend started on %s", w.api_url);
	test_bad_key(&w);

	struct warren_config cfg = {
	    .api_url = w.api_url, .sandbox_url = w.sandbox_url, .api_key = w.api_key};
	rc = warren_client_new(&cfg, &c, &e);
	ok(rc == 0, "client created");
	if (rc < 0)
		goto out;

	snprintf(tag, sizeof(tag), "libwarren-%d-%08x", (int)getpid(), rnd());
	struct warren_kv meta[] = {{"suite", tag}, {"who", "a b&c=d"}};
	struct warren_kv envs[] = {{"WL_CREATE", "from-create"}};
	struct warren_create_opts co = {.timeout_s = 120,
	                                .metadata = meta,
	                                .n_metadata = 2,
	                                .envs = envs,
	                                .n_envs = 1,
	                                .allow_internet_access = -1};
	rc = warren_sandbox_create(c, &co, &sbx, &e);
	diag_err("create", rc, &e);
	ok(rc == 0 && sbx && *sbx->sandbox_id, "create: sandbox %s", sbx ? sbx->sandbox_id : "-");
	if (rc < 0)
		goto out;
	ok(strcmp(sbx->template_id, "base") == 0 || strcmp(sbx->alias, "base") == 0,
	   "create: template base (%s)", sbx->template_id);
	ok(strcmp(sbx->envd_version, "0.6.13") == 0, "create: envd version (%s)",
	   sbx->envd_version);
	ok(sbx->started_at > 0 && sbx->end_at >= sbx->started_at + 110 &&
	       sbx->end_at <= sbx->started_at + 130,
	   "create: started/end times (%lld, %lld)", (long long)sbx->started_at,
	   (long long)sbx->end_at);

	test_run(c, sbx);
	test_background(c, sbx);
	test_pty(c, sbx);

	/* List with a metadata filter: exactly this sandbox, with its metadata. */
	size_t n = 0;
	struct warren_list_opts lo = {.metadata = meta, .n_metadata = 2};
	rc = warren_sandbox_list(c, &lo, &list, &n, &e);
	diag_err("list", rc, &e);
	ok(rc == 0 && n == 1 && strcmp(list[0]->sandbox_id, sbx->sandbox_id) == 0 &&
	       strcmp(list[0]->state, "running") == 0 && warren_sandbox_metadata(list[0], "who") &&
	       strcmp(warren_sandbox_metadata(list[0], "who"), "a b&c=d") == 0,
	   "list: the metadata filter finds the sandbox (%zu)", n);
	warren_sandbox_list_free(list, n);
	struct warren_kv other[] = {{"suite", "no-such-suite"}};
	lo.metadata = other;
	lo.n_metadata = 1;
	list = NULL;
	rc = warren_sandbox_list(c, &lo, &list, &n, &e);
	ok(rc == 0 && n == 0, "list: a non-matching filter finds nothing (%zu)", n);
	warren_sandbox_list_free(list, n);
	/* Paging: a second sandbox with the same tag, listed one per page. */
	struct warren_sandbox *second = NULL;
	co.n_metadata = 1;
	rc = warren_sandbox_create(c, &co, &second, &e);
	diag_err("create second", rc, &e);
	lo = (struct warren_list_opts){
	    .metadata = meta, .n_metadata = 1, .states = WARREN_STATE_RUNNING, .limit = 1};
	list = NULL;
	n = 0;
	rc = warren_sandbox_list(c, &lo, &list, &n, &e);
	diag_err("list paged", rc, &e);
	ok(rc == 0 && second && n == 2 && strcmp(list[0]->sandbox_id, list[1]->sandbox_id) != 0 &&
	       (strcmp(list[0]->sandbox_id, second->sandbox_id) == 0 ||
	        strcmp(list[1]->sandbox_id, second->sandbox_id) == 0),
	   "list: both sandboxes through pages of 1 (%zu)", n);
	warren_sandbox_list_free(list, n);
	lo.states = WARREN_STATE_PAUSED;
	list = NULL;
	rc = warren_sandbox_list(c, &lo, &list, &n, &e);
	ok(rc == 0 && n == 0, "list: no paused sandbox (%zu)", n);
	warren_sandbox_list_free(list, n);
	if (second) {
		rc = warren_sandbox_kill(c, second->sandbox_id, &e);
		ok(rc == 1, "kill: the second sandbox");
	}
	warren_sandbox_free(second);

	/* set_timeout: the end moves to about now + 600 s. */
	rc = warren_sandbox_set_timeout(c, sbx->sandbox_id, 600, &e);
	diag_err("set_timeout", rc, &e);
	ok(rc == 0, "set_timeout: accepted");
	rc = warren_sandbox_get_info(c, sbx->sandbox_id, &info, &e);
	ok(rc == 0 && info->end_at >= time(NULL) + 590 && info->end_at <= time(NULL) + 610,
	   "set_timeout: get_info shows the new end (%lld)", info ? (long long)info->end_at : 0LL);
	warren_sandbox_free(info);
	info = NULL;

	/* connect to the running sandbox. */
	rc = warren_sandbox_connect(c, sbx->sandbox_id, 60, &info, &e);
	ok(rc == 0 && strcmp(info->sandbox_id, sbx->sandbox_id) == 0, "connect: running sandbox");
	warren_sandbox_free(info);
	info = NULL;

	test_example(&w);

	rc = warren_sandbox_kill(c, sbx->sandbox_id, &e);
	ok(rc == 1, "kill: returns 1 (%d)", rc);
	rc = warren_sandbox_kill(c, sbx->sandbox_id, &e);
	ok(rc == 0, "kill: again returns 0 (404) (%d)", rc);
	rc = warren_sandbox_get_info(c, sbx->sandbox_id, &info, &e);
	ok(rc == -ENOENT && e.code == 404, "get_info: killed sandbox is 404 (rc %d code %d)", rc,
	   e.code);
	rc = warren_sandbox_connect(c, sbx->sandbox_id, 60, &info, &e);
	ok(rc == -ENOENT && e.code == 404, "connect: killed sandbox is 404");
	struct warren_exit ex;
	rc = warren_cmd_run(c, sbx, "true", NULL, NULL, &ex, &e);
	ok(rc < 0 && e.code == 502, "run in a killed sandbox fails with 502 (rc %d code %d: %s)",
	   rc, e.code, e.msg);
out:
	warren_sandbox_free(sbx);
	warren_client_free(c);
	warrend_stop(&w);
	ok(warrend_log_clean(&w), "no sanitizer report in warrend's log %s", w.log_path);
	if (n_fail == 0)
		unlink(w.log_path);
	printf("1..%d\n", n_test);
	printf("# libwarren: %d passed, %d failed\n", n_test - n_fail, n_fail);
	return n_fail ? 1 : 0;
}
