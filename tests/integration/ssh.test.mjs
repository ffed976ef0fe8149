// SSH into a sandbox through warrend (docs/SSH.md): sshd and warren-wsbridge in the sandbox,
// the real ssh/scp on this host with `warren ssh-proxy` as ProxyCommand, a WebSocket through
// warrend's port routing. Sandboxes come from the official SDK.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { request } from '../sdk/helpers/raw.mjs';
import { buildDir, startWarrend, waitFor } from '../sdk/helpers/warrend.mjs';

const sdk = createRequire(new URL('../sdk/package.json', import.meta.url));
const WARREN = path.join(buildDir(), 'src/warren/warren');

let w, Sandbox, sbx, dir;

// Runs a program to its end: { status, signal, stdout, stderr } (stdout as a Buffer).
function run(cmd, args, { input, timeoutMs = 120000 } = {}) {
	return new Promise((resolve, reject) => {
		const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
		const out = [];
		let err = '';
		const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
		p.stdout.on('data', (d) => out.push(d));
		p.stderr.on('data', (d) => (err += d));
		p.on('error', reject);
		p.on('close', (status, signal) => {
			clearTimeout(timer);
			resolve({ status, signal, stdout: Buffer.concat(out), stderr: err });
		});
		p.stdin.on('error', () => {});
		p.stdin.end(input ?? '');
	});
}

// ssh options every call uses: our key, a known_hosts of this test, never a prompt.
const sshOpts = () => [
	'-i', path.join(dir, 'id'),
	'-o', `ProxyCommand=${WARREN} ssh-proxy %h`,
	'-o', 'StrictHostKeyChecking=no',
	'-o', `UserKnownHostsFile=${path.join(dir, 'known_hosts')}`,
	'-o', 'BatchMode=yes',
	'-o', 'ConnectTimeout=60',
];

// Starts sshd (with our key for `user`) and the bridge on 8081 in a sandbox, and waits for both.
async function startSshd(sandbox) {
	const pub = fs.readFileSync(path.join(dir, 'id.pub'), 'utf8').trim();
	await sandbox.commands.run(`mkdir -p ~/.ssh && echo '${pub}' > ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys`);
	await sandbox.commands.run('ssh-keygen -A', { user: 'root' });
	await sandbox.commands.run('/usr/sbin/sshd -D', { user: 'root', background: true });
	await sandbox.commands.run('/opt/warren/bin/warren-wsbridge serve 8081', { background: true });
	const up = await waitFor(
		async () =>
			(
				await sandbox.commands.run(
					'(exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null && echo up || true',
				)
			).stdout.trim() === 'up',
		{ timeoutMs: 30000, intervalMs: 200 },
	);
	assert.ok(up, 'sshd and the bridge did not come up');
}

async function sshdLog() {
	const r = await sbx.commands.run('cat /var/log/sshd.log', { user: 'root' }).catch((e) => e);
	return r.stdout;
}

before(async () => {
	w = await startWarrend();
	({ Sandbox } = await import(sdk.resolve('e2b')));
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-ssh-'));
	const kg = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id')]);
	assert.equal(kg.status, 0, kg.stderr);
	const pub = fs.readFileSync(path.join(dir, 'id.pub'), 'utf8').trim();
	assert.match(pub, /^ssh-ed25519 [A-Za-z0-9+/=]+ \S+$/);

	sbx = await Sandbox.create({ timeoutMs: 600000 });
	// The template carries no host key: each sandbox makes its own.
	const keys = await sbx.commands.run('ls /etc/ssh/ | grep -c ssh_host_ || true');
	assert.equal(keys.stdout.trim(), '0');
	await sbx.commands.run(
		`mkdir -p ~/.ssh && chmod 700 ~/.ssh && echo '${pub}' > ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys`,
	);
	await sbx.commands.run('ssh-keygen -A', { user: 'root' });
	// -D: the agent is pid 1, so sshd would take itself as already daemonized (docs/SSH.md).
	await sbx.commands.run('/usr/sbin/sshd -D -E /var/log/sshd.log', { user: 'root', background: true });
	await sbx.commands.run('/opt/warren/bin/warren-wsbridge serve 8081', { background: true });
	const ready = await waitFor(
		async () =>
			(
				await sbx.commands.run(
					'(exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null && echo up || true',
				)
			).stdout.trim() === 'up',
		{ timeoutMs: 30000, intervalMs: 200 },
	);
	assert.ok(ready, `sshd and the bridge did not come up; sshd log: ${await sshdLog()}`);
});

after(async () => {
	await sbx?.kill().catch(() => {});
	await w?.stop();
	if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("ssh user@<id> 'echo ok' through warrend", async () => {
	const r = await run('ssh', [...sshOpts(), `user@${sbx.sandboxId}`, 'echo ok; id -un; hostname']);
	assert.equal(r.status, 0, `ssh: ${r.stderr}\nsshd: ${await sshdLog()}`);
	assert.equal(r.stdout.toString(), `ok\nuser\n${sbx.sandboxId}\n`);
	// The remote command's exit code comes back, as over any ssh.
	const e = await run('ssh', [...sshOpts(), `user@${sbx.sandboxId}`, 'exit 7']);
	assert.equal(e.status, 7, e.stderr);
});

test('stdin and stdout of a remote command carry binary data both ways', async () => {
	const data = crypto.randomBytes(3 * 1024 * 1024 + 17);
	const r = await run('ssh', [...sshOpts(), `user@${sbx.sandboxId}`, 'cat'], { input: data });
	assert.equal(r.status, 0, r.stderr);
	assert.equal(r.stdout.length, data.length);
	assert.ok(r.stdout.equals(data), 'cat through ssh changed the bytes');
});

test('scp a file into the sandbox and back, byte for byte', async () => {
	const src = path.join(dir, 'in.bin');
	const back = path.join(dir, 'back.bin');
	const data = crypto.randomBytes(4 * 1024 * 1024 + 123);
	fs.writeFileSync(src, data);
	const up = await run('scp', [...sshOpts(), src, `user@${sbx.sandboxId}:/home/user/in.bin`]);
	assert.equal(up.status, 0, `scp in: ${up.stderr}`);
	// What arrived is what was sent (checked inside the sandbox, independently of scp).
	const sum = await sbx.commands.run('sha256sum /home/user/in.bin');
	assert.equal(sum.stdout.split(' ')[0], crypto.createHash('sha256').update(data).digest('hex'));
	const down = await run('scp', [...sshOpts(), `user@${sbx.sandboxId}:/home/user/in.bin`, back]);
	assert.equal(down.status, 0, `scp out: ${down.stderr}`);
	assert.ok(fs.readFileSync(back).equals(data), 'the file came back different');
});

test('warren sandbox ssh runs ssh with the proxy', async () => {
	const r = await run(WARREN, [
		'sandbox', 'ssh', '-i', path.join(dir, 'id'),
		'-o', `UserKnownHostsFile=${path.join(dir, 'known_hosts2')}`, '-o', 'BatchMode=yes',
		sbx.sandboxId, '--', 'echo', 'via-cli',
	]);
	assert.equal(r.status, 0, r.stderr);
	assert.equal(r.stdout.toString(), 'via-cli\n');
	// The host key was remembered under the sandbox's alias (the file may be hashed).
	const kh = await run('ssh-keygen', ['-F', `warren-${sbx.sandboxId}`, '-f', path.join(dir, 'known_hosts2')]);
	assert.equal(kh.status, 0, 'no known_hosts entry for the alias');
	assert.match(kh.stdout.toString(), /ssh-ed25519 /);
});

test('a missing sandbox or port is a clear error and a nonzero exit', async () => {
	const none = await run(WARREN, ['ssh-proxy', 'nosuchsandbox0']);
	assert.equal(none.status, 1);
	assert.match(none.stderr, /^warren: ssh-proxy: sandbox nosuchsandbox0 port 8081: HTTP 502: The sandbox was not found$/m);
	assert.equal(none.stdout.length, 0);

	const noPort = await run(WARREN, ['ssh-proxy', '--port', '8099', sbx.sandboxId]);
	assert.equal(noPort.status, 1);
	assert.match(noPort.stderr, /port 8099: HTTP 502/);
	assert.match(noPort.stderr, /warren-wsbridge serve 8099/);

	const bad = await run(WARREN, ['ssh-proxy', 'Not_An_Id']);
	assert.equal(bad.status, 2);
	assert.match(bad.stderr, /invalid sandbox id/);

	// ssh itself reports the failed proxy and exits 255, without hanging.
	const s = await run('ssh', [...sshOpts(), 'user@nosuchsandbox0', 'true'], { timeoutMs: 60000 });
	assert.equal(s.status, 255);
	assert.match(s.stderr, /The sandbox was not found/);
});

test('a bridge without its TCP service answers 502 in the error shape', async () => {
	await sbx.commands.run('/opt/warren/bin/warren-wsbridge serve 8082 127.0.0.1:2222', { background: true });
	const up = await waitFor(
		async () => (await sbx.commands.run('(exec 3<>/dev/tcp/127.0.0.1/8082) 2>/dev/null && echo up || true')).stdout.trim() === 'up',
		{ timeoutMs: 30000, intervalMs: 200 },
	);
	assert.ok(up);
	const r = await run(WARREN, ['ssh-proxy', '--port', '8082', sbx.sandboxId]);
	assert.equal(r.status, 1);
	assert.match(r.stderr, /HTTP 502: nothing answers on 127\.0\.0\.1:2222 in the sandbox \(Connection refused\)/);
	// Plain HTTP to the bridge through warrend: 426 with {code,message}.
	const h = await request(w, {
		path: '/',
		headers: { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '8081' },
		auth: false,
	});
	assert.equal(h.status, 426);
	assert.equal(h.json.code, 426);
	assert.match(h.json.message, /WebSocket/);
});

test('an open ssh session ends when its sandbox is killed', async () => {
	const other = await Sandbox.create({ timeoutMs: 600000 });
	await startSshd(other);
	const session = run('ssh', [...sshOpts(), `user@${other.sandboxId}`, 'echo started; sleep 600'], { timeoutMs: 120000 });
	const started = await waitFor(
		async () => (await other.commands.run('pgrep -u user -x sleep || true')).stdout.trim() !== '',
		{ timeoutMs: 60000, intervalMs: 200 },
	);
	assert.ok(started, 'the remote command never started');
	const t0 = Date.now();
	await other.kill();
	const r = await session;
	assert.equal(r.signal, null, 'ssh had to be killed: the session outlived its sandbox');
	assert.notEqual(r.status, 0);
	assert.equal(r.stdout.toString(), 'started\n');
	assert.ok(Date.now() - t0 < 60000);
});

test('a sandbox without public traffic needs its traffic token, which the proxy sends', async () => {
	const sec = await Sandbox.create({ network: { allowPublicTraffic: false }, timeoutMs: 600000 });
	try {
		assert.match(sec.trafficAccessToken, /^[0-9a-f]{32}$/);
		await startSshd(sec);
		const no = await run(WARREN, ['ssh-proxy', sec.sandboxId]);
		assert.equal(no.status, 1);
		assert.match(no.stderr, /HTTP 401: Sandbox \S+ is secured/);
		const wrong = await run(WARREN, ['ssh-proxy', '--traffic-token', 'f'.repeat(32), sec.sandboxId]);
		assert.equal(wrong.status, 1);
		assert.match(wrong.stderr, /HTTP 401/);
		const r = await run(WARREN, [
			'sandbox', 'ssh', '-t', sec.trafficAccessToken, '-i', path.join(dir, 'id'),
			'-o', `UserKnownHostsFile=${path.join(dir, 'known_hosts3')}`, '-o', 'BatchMode=yes',
			sec.sandboxId, '--', 'echo', 'secured-ok',
		]);
		assert.equal(r.status, 0, r.stderr);
		assert.equal(r.stdout.toString(), 'secured-ok\n');
	} finally {
		await sec.kill();
	}
});
