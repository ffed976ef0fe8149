/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hello: creates a sandbox, runs a command in it with streamed output, kills it.
 *
 *   cc hello.c $(pkg-config --cflags --libs warren) -o hello
 *   E2B_API_URL=... E2B_SANDBOX_URL=... E2B_API_KEY=... ./hello
 */
#include <stdio.h>

#include <warren/warren.h>

static void print_out(const char *data, size_t len, void *userdata)
{
	fwrite(data, 1, len, (FILE *)userdata);
}

int main(void)
{
	struct warren_client *client = NULL;
	struct warren_sandbox *sbx = NULL;
	struct warren_error err = {0};
	struct warren_exit ex = {0};
	struct warren_stream_cb cb = {
	    .on_stdout = print_out,
	    .userdata = stdout,
	};
	int rc = 1;

	/* Settings from E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY. */
	if (warren_client_new(NULL, &client, &err) < 0)
		goto out;
	if (warren_sandbox_create(client, NULL, &sbx, &err) < 0)
		goto out;
	printf("sandbox %s (envd %s)\n", sbx->sandbox_id, sbx->envd_version);
	if (warren_cmd_run(client, sbx, "echo hello from the sandbox; uname -s", NULL, &cb, &ex,
	                   &err) < 0)
		goto out;
	printf("exit code %d\n", ex.exit_code);
	rc = ex.exit_code == 0 ? 0 : 1;
out:
	if (rc && err.msg[0])
		fprintf(stderr, "hello: %s (code %d)\n", err.msg, err.code);
	if (sbx)
		warren_sandbox_kill(client, sbx->sandbox_id, NULL);
	warren_sandbox_free(sbx);
	warren_client_free(client);
	return rc;
}
