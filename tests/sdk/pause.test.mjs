// Pause and resume with memory (CRIU) through the SDK: a python counter keeps counting from
// where it stood, pids inside stay the same, files, a shell variable in a PTY and in a
// background bash survive, the PTY can be attached again; list by state, kill while paused,
// autoPause at the timeout, autoResume by traffic, and failures (a checkpoint or restore that fails inside criu) that
// leave the sandbox as it was and say why. docs/PERSISTENCE.md.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { startWarrend, waitFor } from './helpers/warrend.mjs';

let w, Sandbox;
const made = [];
before(async () => {
	w = await startWarrend();
	({ Sandbox } = await import('e2b'));
});
after(async () => {
	for (const s of made) await s.kill().catch(() => {});
	await w?.stop();
});

const enc = (s) => new TextEncoder().encode(s);

async function listIds(state) {
	const p = Sandbox.list({ query: state ? { state } : undefined });
	const ids = [];
	for (let i = 0; i < 20; i++) {
		ids.push(...(await p.nextItems()).map((s) => s.sandboxId));
		if (!p.hasNext) break;
	}
	return ids;
}

// Processes of a sandbox's cgroups on the host (empty or absent once paused).
function cgroupPids(handle, id) {
	const pids = [];
	for (const d of handle.cgroupDirs()) {
		try {
			pids.push(...fs.readFileSync(path.join(d, id, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean));
		} catch {
			/* no such cgroup */
		}
	}
	return pids;
}

// Host mounts and loop devices that belong to a sandbox (its disk image, an overlay).
function hostHolds(id) {
	const held = fs
		.readFileSync('/proc/self/mountinfo', 'utf8')
		.split('\n')
		.filter((l) => l.includes(id));
	for (const b of fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
		try {
			const f = fs.readFileSync(`/sys/block/${b}/loop/backing_file`, 'utf8');
			if (f.includes(id)) held.push(`${b}: ${f.trim()}`);
		} catch {
			/* not attached */
		}
	}
	return held;
}

const COUNTER = `import time
i = 0
while True:
    open('/tmp/counter', 'w').write(str(i))
    i += 1
    time.sleep(0.05)
`;

test('pause and connect: the python counter continues, same pids, files kept, state in list', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 300_000 });
	made.push(sbx);
	await sbx.commands.run('echo kept > /home/user/file.txt; mkdir -p /home/user/d && echo deep > /home/user/d/f');
	await sbx.commands.run(`cat > /tmp/counter.py <<'EOF'\n${COUNTER}EOF`);
	const bg = await sbx.commands.run('python3 /tmp/counter.py', { background: true });
	const pidInside = bg.pid;
	await waitFor(async () => Number((await sbx.commands.run('cat /tmp/counter 2>/dev/null || echo 0')).stdout) > 5, {
		timeoutMs: 30_000,
	});
	const psBefore = (await sbx.commands.run('ps -eo pid,args --no-headers')).stdout;
	assert.match(psBefore, new RegExp(`^\\s*${pidInside} python3 /tmp/counter.py`, 'm'));

	assert.equal(await sbx.pause(), true);
	assert.equal(await sbx.pause(), false, 'a second pause answers 409 -> false');
	assert.deepEqual(cgroupPids(w, sbx.sandboxId), [], 'no process left while paused');
	// The loop device goes when the last user of its file system is gone, i.e. with the
	// (asynchronous) end of the sandbox's mount namespace.
	await waitFor(() => hostHolds(sbx.sandboxId).length === 0, { timeoutMs: 30_000 });
	assert.deepEqual(hostHolds(sbx.sandboxId), [], 'no mount or loop device held while paused');
	assert.ok(fs.existsSync(path.join(w.stateDir, 'sandboxes', sbx.sandboxId, 'checkpoint')));

	const info = await Sandbox.getInfo(sbx.sandboxId);
	assert.equal(info.state, 'paused');
	assert.ok((await listIds(['paused'])).includes(sbx.sandboxId));
	assert.ok(!(await listIds(['running'])).includes(sbx.sandboxId));
	assert.ok((await listIds()).includes(sbx.sandboxId));
	// The data plane answers clearly while paused.
	await assert.rejects(sbx.commands.run('true', { requestTimeoutMs: 10_000 }));

	const again = await Sandbox.connect(sbx.sandboxId, { timeoutMs: 300_000 });
	assert.equal((await again.getInfo()).state, 'running');
	const v1 = Number((await again.commands.run('cat /tmp/counter')).stdout);
	assert.ok(v1 > 5, `counter kept its value: ${v1}`);
	const v2 = await waitFor(async () => {
		const v = Number((await again.commands.run('cat /tmp/counter')).stdout);
		return v > v1 ? v : 0;
	}, { timeoutMs: 30_000 });
	assert.ok(v2 > v1, `counter keeps counting: ${v1} -> ${v2}`);
	const psAfter = (await again.commands.run('ps -eo pid,args --no-headers')).stdout;
	assert.match(psAfter, new RegExp(`^\\s*${pidInside} python3 /tmp/counter.py`, 'm'), psAfter);
	assert.match(psAfter, /^\s*1 \/opt\/warren\/bin\/warren-agent/m, 'the agent is pid 1 again');
	assert.equal((await again.commands.run('cat /home/user/file.txt /home/user/d/f')).stdout, 'kept\ndeep\n');
	// The network is back with the same address: the sandbox reaches its gateway's side.
	assert.match((await again.commands.run('ip -4 -o addr show eth0')).stdout, /inet 10\./);
	// A connect of a running sandbox is a plain connect.
	const third = await Sandbox.connect(sbx.sandboxId);
	assert.equal(third.sandboxId, sbx.sandboxId);
	assert.ok(cgroupPids(w, sbx.sandboxId).length >= 2, 'processes are in the cgroups again');
});

test('a shell variable in a PTY and in a background bash survive; the PTY is attached again', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 300_000 });
	made.push(sbx);
	let out = '';
	const dec = new TextDecoder();
	const t = await sbx.pty.create({ cols: 80, rows: 24, timeoutMs: 0, onData: (d) => (out += dec.decode(d, { stream: true })) });
	await sbx.pty.sendInput(t.pid, enc('MYVAR=kept$((40+2)); echo "SET:$MYVAR"\n'));
	assert.ok(await waitFor(() => out.includes('SET:kept42'), { timeoutMs: 30_000 }), out);
	const bash = await sbx.commands.run(
		'bash -c \'V=bg$((6*7)); while :; do echo "$V" > /tmp/bgvar; sleep 0.2; done\'',
		{ background: true },
	);
	await waitFor(async () => (await sbx.commands.run('cat /tmp/bgvar 2>/dev/null || true')).stdout === 'bg42\n', { timeoutMs: 30_000 });
	await t.disconnect();

	assert.equal(await sbx.pause(), true);
	await Sandbox.connect(sbx.sandboxId);
	let out2 = '';
	const t2 = await sbx.pty.connect(t.pid, { onData: (d) => (out2 += dec.decode(d, { stream: true })) });
	await sbx.pty.sendInput(t.pid, enc('echo "GOT:$MYVAR"\n'));
	assert.ok(await waitFor(() => out2.includes('GOT:kept42'), { timeoutMs: 30_000 }), out2);
	await sbx.commands.run('rm -f /tmp/bgvar');
	assert.equal(
		await waitFor(async () => (await sbx.commands.run('cat /tmp/bgvar 2>/dev/null || true')).stdout, { timeoutMs: 30_000 }),
		'bg42\n',
	);
	const list = await sbx.commands.list();
	assert.ok(list.some((p) => p.pid === bash.pid), 'the background command is still known to the agent');
	await t2.disconnect();
	await sbx.pty.kill(t.pid);
});

test('inotify watches (files.watchDir) do not prevent a pause; watching works after the resume', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 300_000 });
	made.push(sbx);
	await sbx.files.makeDir('/home/user/w');
	const seen = [];
	await sbx.files.watchDir('/home/user/w', (e) => seen.push(e.name));
	await sbx.files.write('/home/user/w/a', 'x');
	assert.ok(await waitFor(() => seen.includes('a'), { timeoutMs: 30_000 }), 'the watch works');
	assert.equal(await sbx.pause(), true);
	await Sandbox.connect(sbx.sandboxId);
	const after = [];
	await sbx.files.watchDir('/home/user/w', (e) => after.push(e.name));
	await sbx.files.write('/home/user/w/b', 'y');
	assert.ok(await waitFor(() => after.includes('b'), { timeoutMs: 30_000 }), 'a new watch works');
	assert.equal(await sbx.files.read('/home/user/w/a'), 'x');
});

// GET through warrend's port routing (the routing headers the SDK's getHost traffic carries).
async function viaPort(id, port, p) {
	const r = await fetch(`${w.apiUrl}${p}`, { headers: { 'E2b-Sandbox-Id': id, 'E2b-Sandbox-Port': String(port) } });
	return { status: r.status, body: await r.text() };
}

test('a server listening inside before the pause answers on its port after the resume; 502 while paused', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 300_000 });
	made.push(sbx);
	await sbx.commands.run('mkdir -p /home/user/www && echo served > /home/user/www/f.txt');
	await sbx.commands.run('cd /home/user/www && python3 -m http.server 8000 >/dev/null 2>&1', { background: true });
	const ok = await waitFor(async () => (await viaPort(sbx.sandboxId, 8000, '/f.txt')).status === 200, { timeoutMs: 30_000 });
	assert.ok(ok, 'the server answers before the pause');
	assert.equal(await sbx.pause(), true);
	const paused = await viaPort(sbx.sandboxId, 8000, '/f.txt');
	assert.equal(paused.status, 502);
	assert.equal(JSON.parse(paused.body).code, 502);
	await Sandbox.connect(sbx.sandboxId);
	const r = await viaPort(sbx.sandboxId, 8000, '/f.txt');
	assert.equal(r.status, 200);
	assert.equal(r.body, 'served\n');
});

test('kill while paused removes the sandbox, its images and its disk', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 300_000 });
	await sbx.commands.run('echo x > /home/user/x');
	assert.equal(await sbx.pause(), true);
	const dir = path.join(w.stateDir, 'sandboxes', sbx.sandboxId);
	assert.ok(fs.existsSync(dir));
	assert.equal(await Sandbox.kill(sbx.sandboxId), true);
	assert.equal(fs.existsSync(dir), false, 'directory removed');
	await waitFor(() => hostHolds(sbx.sandboxId).length === 0, { timeoutMs: 30_000 });
	assert.deepEqual(hostHolds(sbx.sandboxId), [], 'no mount or loop device left');
	assert.ok(!(await listIds()).includes(sbx.sandboxId));
	assert.equal(await Sandbox.kill(sbx.sandboxId), false);
	await assert.rejects(Sandbox.connect(sbx.sandboxId), /not found/i);
});

test('a kill during a pause waits for it and removes the sandbox', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 300_000 });
	await sbx.commands.run('echo x > /home/user/x');
	const pausing = sbx.pause().catch((e) => e);
	await new Promise((r) => setTimeout(r, 20));
	assert.equal(await Sandbox.kill(sbx.sandboxId), true);
	const p = await pausing;
	// The pause either finished first (true) or found the sandbox gone (not found).
	assert.ok(p === true || /not found/i.test(String(p?.message)), String(p));
	assert.ok(!(await listIds()).includes(sbx.sandboxId));
	assert.equal(fs.existsSync(path.join(w.stateDir, 'sandboxes', sbx.sandboxId)), false);
});

test('autoPause: at the timeout the sandbox is paused, not killed, and resumes with its state', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 4_000, lifecycle: { onTimeout: 'pause' } });
	made.push(sbx);
	assert.equal((await sbx.getInfo()).lifecycle?.onTimeout, 'pause');
	await sbx.commands.run('echo auto > /home/user/a; sh -c "echo 7 > /tmp/t"');
	const paused = await waitFor(async () => (await Sandbox.getInfo(sbx.sandboxId)).state === 'paused', {
		timeoutMs: 60_000,
		intervalMs: 250,
	});
	assert.ok(paused, 'paused at the timeout');
	await Sandbox.connect(sbx.sandboxId, { timeoutMs: 300_000 });
	assert.equal((await sbx.commands.run('cat /home/user/a /tmp/t')).stdout, 'auto\n7\n');
});

test('autoResume: traffic to a paused sandbox resumes it, its port and its agent alike; concurrent requests all get through', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 300_000, lifecycle: { onTimeout: 'pause', autoResume: true } });
	made.push(sbx);
	assert.deepEqual((await sbx.getInfo()).lifecycle, { onTimeout: 'pause', autoResume: true });
	await sbx.commands.run('mkdir -p /home/user/www && echo woken > /home/user/www/f.txt');
	await sbx.commands.run('cd /home/user/www && python3 -m http.server 8000 >/dev/null 2>&1', { background: true });
	assert.ok(await waitFor(async () => (await viaPort(sbx.sandboxId, 8000, '/f.txt')).status === 200, { timeoutMs: 30_000 }));

	// A port request wakes it.
	assert.equal(await sbx.pause(), true);
	assert.equal((await Sandbox.getInfo(sbx.sandboxId)).state, 'paused');
	const r = await viaPort(sbx.sandboxId, 8000, '/f.txt');
	assert.equal(r.status, 200, r.body);
	assert.equal(r.body, 'woken\n');
	const info = await Sandbox.getInfo(sbx.sandboxId);
	assert.equal(info.state, 'running');
	// Its timeout is the create's again (300 s), counted from the resume.
	const left = info.endAt.getTime() - Date.now();
	assert.ok(left > 250_000 && left <= 300_000, `endAt ${info.endAt.toISOString()}`);

	// The SDK's own calls (the agent's port) wake it too, and several at once all get through.
	assert.equal(await sbx.pause(), true);
	const outs = await Promise.all([1, 2, 3, 4].map((i) => sbx.commands.run(`echo call-${i}; cat /home/user/www/f.txt`)));
	assert.deepEqual(
		outs.map((o) => o.stdout),
		[1, 2, 3, 4].map((i) => `call-${i}\nwoken\n`),
	);
	assert.equal((await Sandbox.getInfo(sbx.sandboxId)).state, 'running');
});

test('without autoResume, traffic to a paused sandbox is a 502 and it stays paused', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 300_000, lifecycle: { onTimeout: 'pause' } });
	made.push(sbx);
	assert.equal((await sbx.getInfo()).lifecycle?.autoResume, false);
	assert.equal(await sbx.pause(), true);
	const r = await viaPort(sbx.sandboxId, 49983, '/health');
	assert.equal(r.status, 502);
	assert.equal((await Sandbox.getInfo(sbx.sandboxId)).state, 'paused');
});

test('the deprecated POST /sandboxes/{id}/resume resumes (201) and answers 409 when running', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 300_000 });
	made.push(sbx);
	const post = (p, body) =>
		fetch(`${w.apiUrl}/sandboxes/${sbx.sandboxId}/${p}`, {
			method: 'POST',
			headers: { 'X-API-KEY': w.apiKey, 'Content-Type': 'application/json' },
			body: JSON.stringify(body),
		});
	let r = await post('resume', { timeout: 60 });
	assert.equal(r.status, 409);
	assert.equal((await r.json()).code, 409);
	r = await post('pause', {});
	assert.equal(r.status, 204);
	r = await post('pause', {});
	assert.equal(r.status, 409);
	r = await post('resume', { timeout: 60 });
	assert.equal(r.status, 201);
	const body = await r.json();
	assert.equal(body.sandboxID, sbx.sandboxId);
	assert.equal((await sbx.commands.run('echo ok')).stdout, 'ok\n');
	r = await fetch(`${w.apiUrl}/sandboxes/nosuchsandbox/pause`, { method: 'POST', headers: { 'X-API-KEY': w.apiKey } });
	assert.equal(r.status, 404);
	assert.equal((await r.json()).code, 404);
});

test('a failed checkpoint leaves the sandbox running; a failed restore leaves it paused with its data', async () => {
	// A second warrend whose next checkpoint and next restore fail late inside criu (an action
	// script at criu's post-dump / post-restore stage: WARREN_TEST_FAIL_PAUSE/RESTORE, checkpoint.h).
	const w2 = await startWarrend({ setEnv: false, env: { WARREN_TEST_FAIL_PAUSE: '1', WARREN_TEST_FAIL_RESTORE: '1' } });
	try {
		const opts = { apiKey: w2.apiKey, apiUrl: w2.apiUrl, sandboxUrl: w2.sandboxUrl, domain: undefined };
		const sbx = await Sandbox.create({ ...opts, timeoutMs: 300_000 });
		await sbx.commands.run('echo precious > /home/user/p; echo 5 > /tmp/t');
		const bg = await sbx.commands.run('sleep 1000', { background: true });

		await assert.rejects(sbx.pause(), (e) => /checkpoint failed/.test(e.message) && /criu/.test(e.message));
		assert.equal((await Sandbox.getInfo(sbx.sandboxId, opts)).state, 'running');
		assert.equal((await sbx.commands.run('cat /home/user/p /tmp/t')).stdout, 'precious\n5\n');
		assert.ok((await sbx.commands.list()).some((p) => p.pid === bg.pid), 'processes untouched');

		assert.equal(await sbx.pause(), true);
		await assert.rejects(Sandbox.connect(sbx.sandboxId, opts), (e) => /restore failed/.test(e.message));
		assert.equal((await Sandbox.getInfo(sbx.sandboxId, opts)).state, 'paused');
		assert.deepEqual(cgroupPids(w2, sbx.sandboxId), [], 'nothing half-restored is left');
		// Its disk is kept: a disk image of its own (docs/RUNTIME.md), or an upper directory.
		const dir = path.join(w2.stateDir, 'sandboxes', sbx.sandboxId);
		assert.ok(fs.existsSync(path.join(dir, 'disk.img')) || fs.existsSync(path.join(dir, 'upper/home/user/p')));

		await Sandbox.connect(sbx.sandboxId, opts);
		assert.equal((await sbx.commands.run('cat /home/user/p /tmp/t')).stdout, 'precious\n5\n');
		assert.ok((await sbx.commands.list()).some((p) => p.pid === bg.pid), 'the process is back');
		await sbx.kill();
	} finally {
		await w2.stop();
	}
});

test('without CRIU a pause says so and the sandbox keeps running', async () => {
	const w3 = await startWarrend({ setEnv: false, env: { WARREN_CRIU: '/nonexistent/criu' } });
	try {
		const opts = { apiKey: w3.apiKey, apiUrl: w3.apiUrl, sandboxUrl: w3.sandboxUrl };
		const sbx = await Sandbox.create({ ...opts, timeoutMs: 120_000 });
		await assert.rejects(sbx.pause(), (e) => /pause needs CRIU/.test(e.message) && /criu\.sh/.test(e.message));
		assert.equal((await Sandbox.getInfo(sbx.sandboxId, opts)).state, 'running');
		assert.equal((await sbx.commands.run('echo alive')).stdout, 'alive\n');
		await sbx.kill();
	} finally {
		await w3.stop();
	}
});
