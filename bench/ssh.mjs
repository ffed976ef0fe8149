// SSH through warrend (docs/SSH.md): the time of `ssh <id> true` end to end (a new ssh
// connection each: TCP + WebSocket upgrade through warrend, key exchange, auth, the command)
// and the throughput of one session both ways. Prints figures, never fails on time.
//   WARREN_BENCH_SSH_N=10 (connections), WARREN_BENCH_SSH_MB=64 (MiB each way)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { buildDir, startWarrend, waitFor } from '../tests/sdk/helpers/warrend.mjs';

const N = Number(process.env.WARREN_BENCH_SSH_N || 10);
const MB = Number(process.env.WARREN_BENCH_SSH_MB || 64);
const sdk = createRequire(new URL('../tests/sdk/package.json', import.meta.url));
const WARREN = path.join(buildDir(), 'src/warren/warren');

function run(cmd, args, { stdin = 'ignore', stdout = 'ignore' } = {}) {
	return new Promise((resolve, reject) => {
		const p = spawn(cmd, args, { stdio: [stdin, stdout, 'pipe'] });
		let err = '';
		p.stderr.on('data', (d) => (err += d));
		p.on('error', reject);
		p.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`${cmd}: ${status} ${err}`))));
	});
}

const w = await startWarrend();
const { Sandbox } = await import(sdk.resolve('e2b'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-bench-ssh-'));
let sbx;
try {
	await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id')]);
	const pub = fs.readFileSync(path.join(dir, 'id.pub'), 'utf8').trim();
	sbx = await Sandbox.create({ timeoutMs: 600000 });
	await sbx.commands.run(`mkdir -p ~/.ssh && echo '${pub}' > ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys`);
	await sbx.commands.run('ssh-keygen -A', { user: 'root' });
	await sbx.commands.run('/usr/sbin/sshd -D', { user: 'root', background: true });
	await sbx.commands.run('/opt/warren/bin/warren-wsbridge serve 8081', { background: true });
	await waitFor(
		async () =>
			(await sbx.commands.run('(exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null && echo up || true')).stdout.trim() === 'up',
		{ timeoutMs: 30000 },
	);
	const opts = [
		'-i', path.join(dir, 'id'), '-o', `ProxyCommand=${WARREN} ssh-proxy %h`, '-o', 'StrictHostKeyChecking=no',
		'-o', `UserKnownHostsFile=${path.join(dir, 'kh')}`, '-o', 'BatchMode=yes', `user@${sbx.sandboxId}`,
	];
	const times = [];
	for (let i = 0; i < N; i++) {
		const t0 = process.hrtime.bigint();
		await run('ssh', [...opts, 'true']);
		times.push(Number(process.hrtime.bigint() - t0) / 1e6);
	}
	times.sort((a, b) => a - b);
	const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
	console.log(`ssh <id> true (new connection each, n=${N}): median ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms`);

	const big = path.join(dir, 'zero.bin');
	fs.writeFileSync(big, Buffer.alloc(MB * 1024 * 1024));
	let t0 = process.hrtime.bigint();
	await run('ssh', [...opts, 'cat > /dev/null'], { stdin: fs.openSync(big, 'r') });
	let s = Number(process.hrtime.bigint() - t0) / 1e9;
	console.log(`ssh upload ${MB} MiB (cat > /dev/null): ${(MB / s).toFixed(1)} MiB/s`);
	t0 = process.hrtime.bigint();
	await run('ssh', [...opts, `head -c ${MB * 1024 * 1024} /dev/zero`], { stdout: fs.openSync('/dev/null', 'w') });
	s = Number(process.hrtime.bigint() - t0) / 1e9;
	console.log(`ssh download ${MB} MiB (head -c): ${(MB / s).toFixed(1)} MiB/s`);
} finally {
	await sbx?.kill().catch(() => {});
	await w.stop();
	fs.rmSync(dir, { recursive: true, force: true });
}
