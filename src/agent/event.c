/* SPDX-License-Identifier: Apache-2.0 */
#include "event.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "common/b64.h"
#include "common/buf.h"

int event_start_json(struct buf *out, uint32_t pid)
{
	return buf_printf(out, "{\"event\":{\"start\":{\"pid\":%u}}}", pid);
}

int event_data_json(struct buf *out, enum event_output which, const void *data, size_t len)
{
	static const char *const names[] = {"stdout", "stderr", "pty"};
	size_t old = out->len;
	int r;

	r = buf_printf(out, "{\"event\":{\"data\":{\"%s\":\"", names[which]);
	if (r >= 0)
		r = b64_encode_buf(out, data, len);
	if (r >= 0)
		r = buf_puts(out, "\"}}}");
	if (r < 0) {
		out->len = old;
		if (out->data)
			out->data[old] = '\0';
	}
	return r;
}

int event_keepalive_json(struct buf *out)
{
	return buf_puts(out, "{\"event\":{\"keepalive\":{}}}");
}

const char *event_signal_name(int sig)
{
	/* Go's syscall signal table for linux (zerrors_linux_*.go). */
	static const char *const names[] = {
	    [SIGHUP] = "hangup",
	    [SIGINT] = "interrupt",
	    [SIGQUIT] = "quit",
	    [SIGILL] = "illegal instruction",
	    [SIGTRAP] = "trace/breakpoint trap",
	    [SIGABRT] = "aborted",
	    [SIGBUS] = "bus error",
	    [SIGFPE] = "floating point exception",
	    [SIGKILL] = "killed",
	    [SIGUSR1] = "user defined signal 1",
	    [SIGSEGV] = "segmentation fault",
	    [SIGUSR2] = "user defined signal 2",
	    [SIGPIPE] = "broken pipe",
	    [SIGALRM] = "alarm clock",
	    [SIGTERM] = "terminated",
	    [SIGSTKFLT] = "stack fault",
	    [SIGCHLD] = "child exited",
	    [SIGCONT] = "continued",
	    [SIGSTOP] = "stopped (signal)",
	    [SIGTSTP] = "stopped",
	    [SIGTTIN] = "stopped (tty input)",
	    [SIGTTOU] = "stopped (tty output)",
	    [SIGURG] = "urgent I/O condition",
	    [SIGXCPU] = "CPU time limit exceeded",
	    [SIGXFSZ] = "file size limit exceeded",
	    [SIGVTALRM] = "virtual timer expired",
	    [SIGPROF] = "profiling timer expired",
	    [SIGWINCH] = "window changed",
	    [SIGIO] = "I/O possible",
	    [SIGPWR] = "power failure",
	    [SIGSYS] = "bad system call",
	};

	if (sig <= 0 || (size_t)sig >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[sig];
}

int event_end_json(struct buf *out, int wait_status)
{
	char status[96];

	if (WIFEXITED(wait_status)) {
		int code = WEXITSTATUS(wait_status);
		if (code == 0)
			return buf_puts(out, "{\"event\":{\"end\":{\"exited\":true,"
			                     "\"status\":\"exit status 0\"}}}");
		return buf_printf(out,
		                  "{\"event\":{\"end\":{\"exitCode\":%d,\"exited\":true,"
		                  "\"status\":\"exit status %d\",\"error\":\"exit status %d\"}}}",
		                  code, code, code);
	}
	if (WIFSIGNALED(wait_status)) {
		int sig = WTERMSIG(wait_status);
		const char *name = event_signal_name(sig);
		const char *core = WCOREDUMP(wait_status) ? " (core dumped)" : "";
		if (name)
			snprintf(status, sizeof(status), "signal: %s%s", name, core);
		else
			snprintf(status, sizeof(status), "signal %d%s", sig, core);
	} else {
		snprintf(status, sizeof(status), "unknown status %d", wait_status);
	}
	return buf_printf(out,
	                  "{\"event\":{\"end\":{\"exitCode\":-1,\"status\":\"%s\","
	                  "\"error\":\"%s\"}}}",
	                  status, status);
}
