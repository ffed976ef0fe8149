// commands.* through the SDK: streaming callbacks, exit errors, envs, cwd, users, background
// processes, list/kill/connect, stdin and command timeouts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startWarrend, waitFor } from './helpers/warrend.mjs';

let w, sbx, E2B;
before(async () => {
	w = await startWarrend();
	E2B = await import('e2b');
	sbx = await E2B.Sandbox.create({ envs: { GLOBAL_A: 'ga', SHARED: 'from-create' }, timeoutMs: 300_000 });
});
after(async () => {
	await sbx?.kill().catch(() => {});
	await w?.stop();
});

test('onStdout/onStderr receive streamed chunks before the command ends', async () => {
	const out = [];
	const err = [];
	let firstAt = 0;
	const t0 = Date.now();
	const r = await sbx.commands.run('echo one; sleep 1; echo two >&2; sleep 1; echo three', {
		onStdout: (d) => {
			if (!firstAt) firstAt = Date.now();
			out.push(d);
		},
		onStderr: (d) => err.push(d),
	});
	const total = Date.now() - t0;
	assert.equal(out.join(''), 'one\nthree\n');
	assert.equal(err.join(''), 'two\n');
	assert.ok(out.length >= 2, `stdout arrived in ${out.length} chunk(s)`);
	assert.ok(total - (firstAt - t0) >= 1500, `first stdout at ${firstAt - t0} ms of ${total} ms: not streamed`);
	assert.equal(r.stdout, 'one\nthree\n');
	assert.equal(r.stderr, 'two\n');
});

test('non-zero exit throws CommandExitError with exitCode, stdout, stderr', async () => {
	await assert.rejects(sbx.commands.run('echo partial; echo bad >&2; exit 3'), (e) => {
		assert.ok(e instanceof E2B.CommandExitError, `got ${e?.constructor?.name}: ${e?.message}`);
		assert.equal(e.exitCode, 3);
		assert.equal(e.stdout, 'partial\n');
		assert.equal(e.stderr, 'bad\n');
		return true;
	});
});

test('create-time envs apply to every command; per-command envs override', async () => {
	let r = await sbx.commands.run('echo "$GLOBAL_A $SHARED"');
	assert.equal(r.stdout, 'ga from-create\n');
	r = await sbx.commands.run('echo "$GLOBAL_A $SHARED $ONLY_HERE"', { envs: { SHARED: 'override', ONLY_HERE: 'x y' } });
	assert.equal(r.stdout, 'ga override x y\n');
	r = await sbx.commands.run('echo "$SHARED|${ONLY_HERE:-unset}"');
	assert.equal(r.stdout, 'from-create|unset\n');
	r = await sbx.commands.run('echo "$E2B_SANDBOX|$E2B_SANDBOX_ID"');
	assert.equal(r.stdout, `true|${sbx.sandboxId}\n`);
});

test('cwd; default user is "user" (uid 1000), user root is uid 0', async () => {
	let r = await sbx.commands.run('pwd', { cwd: '/tmp' });
	assert.equal(r.stdout, '/tmp\n');
	r = await sbx.commands.run('id -u; id -un; echo $HOME');
	assert.equal(r.stdout, '1000\nuser\n/home/user\n');
	r = await sbx.commands.run('id -u; id -un; echo $HOME', { user: 'root' });
	assert.equal(r.stdout, '0\nroot\n/root\n');
	await assert.rejects(sbx.commands.run('pwd', { cwd: '/does/not/exist' }));
});

test('background command: list shows it, kill ends it, unknown pid gives false', async () => {
	const h = await sbx.commands.run('sleep 30', { background: true });
	assert.ok(h.pid > 0);
	let procs = await sbx.commands.list();
	const mine = procs.find((p) => p.pid === h.pid);
	assert.ok(mine, `pid ${h.pid} not in ${JSON.stringify(procs)}`);
	assert.equal(mine.cmd, '/bin/bash');
	assert.deepEqual(mine.args, ['-l', '-c', 'sleep 30']);
	assert.equal(await h.kill(), true);
	await assert.rejects(h.wait(), (e) => e instanceof E2B.CommandExitError);
	procs = await waitFor(async () => {
		const l = await sbx.commands.list();
		return l.every((p) => p.pid !== h.pid) && l;
	});
	assert.ok(procs, 'killed process still listed');

	const h2 = await sbx.commands.run('sleep 30', { background: true });
	assert.equal(await sbx.commands.kill(h2.pid), true);
	assert.equal(await sbx.commands.kill(h2.pid + 100000), false);
	assert.equal(await sbx.commands.kill(999999), false);
});

test('commands.connect to a running command receives later output', async () => {
	const h = await sbx.commands.run('for i in 1 2 3 4 5 6; do echo tick$i; sleep 0.5; done', { background: true });
	await h.disconnect();
	const got = [];
	const c = await sbx.commands.connect(h.pid, { onStdout: (d) => got.push(d) });
	const r = await c.wait();
	assert.equal(r.exitCode, 0);
	const text = got.join('');
	assert.match(text, /tick6\n$/);
	assert.ok(text.length > 0 && text.split('\n').filter(Boolean).every((l) => /^tick[1-6]$/.test(l)), text);
	await assert.rejects(sbx.commands.connect(987654));
});

test('stdin: sendStdin to cat, closeStdin ends it', async () => {
	const h = await sbx.commands.run('cat', { background: true, stdin: true });
	await h.sendStdin('hello ');
	await h.sendStdin('stdin\n');
	await sbx.commands.sendStdin(h.pid, 'more\n');
	await h.closeStdin();
	const r = await h.wait();
	assert.equal(r.exitCode, 0);
	assert.equal(r.stdout, 'hello stdin\nmore\n');

	const noStdin = await sbx.commands.run('sleep 5', { background: true, stdin: false });
	await assert.rejects(noStdin.sendStdin('x'));
	await noStdin.kill();
});

test('timeoutMs ends a long command with TimeoutError, promptly, and kills it', async () => {
	const t0 = Date.now();
	await assert.rejects(sbx.commands.run('sleep 10; echo late', { timeoutMs: 500 }), (e) => {
		assert.ok(e instanceof E2B.TimeoutError, `got ${e?.constructor?.name}: ${e?.message}`);
		return true;
	});
	const dt = Date.now() - t0;
	assert.ok(dt < 2500, `took ${dt} ms`);
	const gone = await waitFor(async () => (await sbx.commands.list()).every((p) => !p.args.includes('sleep 10; echo late')));
	assert.ok(gone, 'timed-out command still running');
});

test('large output arrives whole and in order', async () => {
	const r = await sbx.commands.run('seq 1 200000');
	const lines = r.stdout.split('\n');
	assert.equal(lines.length, 200001);
	assert.equal(lines[0], '1');
	assert.equal(lines[199999], '200000');
});
