// /files benchmarks through warrend: prints figures, never passes or fails on time.
//   throughput: upload (curl -T, octet-stream) and download (curl -o) of 1 MiB, 64 MiB and 1 GiB
//     files between a host file and the sandbox's disk, through warrend's data plane, beside
//     `cp` of the same file on the same host disk (the ceiling: one copy, no network, no proxy);
//     for 64 MiB and 1 GiB also downloads to /dev/null (the transfer without the host disk) and
//     `cp` onto the sandbox's own disk (what an upload writes to: ext4 on a loop device)
//   latency: files.write + files.read of a 1 KiB file through the SDK, and the same two
//     requests as plain keep-alive HTTP (so the SDK's own overhead shows)
// The files come from and go to the page cache (nothing is flushed): these are copy costs.
// Env: WARREN_BENCH_N (latency round trips, default 200), WARREN_BENCH_FILES_GB=0 skips 1 GiB.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO, startWarrend } from '../tests/sdk/helpers/warrend.mjs';

const N = Number(process.env.WARREN_BENCH_N || 200);
const sizes = [
	['1 MiB', 1 << 20, 50],
	['64 MiB', 64 << 20, 5],
	['1 GiB', 1 << 30, 3],
].filter(([, n]) => n < 1 << 30 || process.env.WARREN_BENCH_FILES_GB !== '0');
const rows = [];
const now = () => process.hrtime.bigint();
const secs = (t0) => Number(now() - t0) / 1e9;

function median(xs) {
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.floor((s.length - 1) / 2)];
}

function row(name, n, median_, p99, unit) {
	rows.push({ name, n, median: median_, p99, unit });
	console.error(`  ${name}: ${median_.toFixed(unit === 'MB/s' ? 0 : 3)} ${unit}`);
}

function curl(args) {
	execFileSync('curl', ['-sS', '--fail-with-body', '--noproxy', '*', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
}

const w = await startWarrend();
const { Sandbox } = await import(pathToFileURL(path.join(REPO, 'tests/sdk/node_modules/e2b/dist/index.mjs')).href);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-bench-files-'));
let sbx;
try {
	sbx = await Sandbox.create({ timeoutMs: 3_600_000 });
	const base = `${w.sandboxUrl}/files`;
	const ip = (await sbx.commands.run('hostname -I')).stdout.trim().split(/\s+/)[0];
	const direct = `http://${ip}:49983/files`;
	const hdr = ['-H', `E2b-Sandbox-Id: ${sbx.sandboxId}`, '-H', 'E2b-Sandbox-Port: 49983'];
	const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
	const u = new URL(w.sandboxUrl);
	const rawReq = (method, file, body) =>
		new Promise((resolve, reject) => {
			const r = http.request(
				{
					host: u.hostname,
					port: u.port,
					method,
					path: `/files?path=${encodeURIComponent(file)}`,
					agent,
					headers: { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49983', ...(body ? { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length } : {}) },
				},
				(res) => {
					const parts = [];
					res.on('data', (d) => parts.push(d));
					res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`HTTP ${res.statusCode}`))));
				},
			);
			r.on('error', reject);
			r.end(body);
		});
	for (const [label, size, reps] of sizes) {
		const src = path.join(tmp, 'src.bin');
		const dst = path.join(tmp, 'dst.bin');
		const block = crypto.randomBytes(1 << 20);
		const fd = fs.openSync(src, 'w');
		for (let off = 0; off < size; off += block.length) fs.writeSync(fd, block, 0, Math.min(block.length, size - off));
		fs.closeSync(fd);
		const up = [];
		const down = [];
		const cp = [];
		// A 1 MiB copy takes about as long as starting curl or cp: measure it in process
		// (keep-alive HTTP, readFileSync/writeFileSync, copyFileSync for the ceiling).
		const inProcess = size <= 1 << 20;
		for (let i = 0; i < reps && inProcess; i++) {
			let t0 = now();
			await rawReq('POST', '/home/user/bench.bin', fs.readFileSync(src));
			up.push(size / 1e6 / secs(t0));
			t0 = now();
			fs.writeFileSync(dst, await rawReq('GET', '/home/user/bench.bin'));
			down.push(size / 1e6 / secs(t0));
			fs.rmSync(dst, { force: true });
			t0 = now();
			fs.copyFileSync(src, dst);
			cp.push(size / 1e6 / secs(t0));
			fs.rmSync(dst, { force: true });
		}
		const upDirect = [];
		const downDirect = [];
		const nullVia = [];
		const nullDirect = [];
		const cpDisk = [];
		for (let i = 0; i < reps && !inProcess; i++) {
			// The same curl straight to the agent at the sandbox's address: warrend's share.
			let t0 = now();
			curl(['-o', '/dev/null', '-X', 'POST', '-H', 'Content-Type: application/octet-stream', '-T', src, `${direct}?path=/home/user/bench.bin`]);
			upDirect.push(size / 1e6 / secs(t0));
			t0 = now();
			curl(['-o', dst, `${direct}?path=/home/user/bench.bin`]);
			downDirect.push(size / 1e6 / secs(t0));
			fs.rmSync(dst, { force: true });
		}
		for (let i = 0; i < reps && !inProcess; i++) {
			let t0 = now();
			curl([...hdr, '-o', '/dev/null', '-X', 'POST', '-H', 'Content-Type: application/octet-stream', '-T', src, `${base}?path=/home/user/bench.bin`]);
			up.push(size / 1e6 / secs(t0));
			fs.rmSync(dst, { force: true });
			t0 = now();
			curl([...hdr, '-o', dst, `${base}?path=/home/user/bench.bin`]);
			down.push(size / 1e6 / secs(t0));
			fs.rmSync(dst, { force: true });
			t0 = now();
			execFileSync('cp', [src, dst]);
			cp.push(size / 1e6 / secs(t0));
			fs.rmSync(dst, { force: true });
			// The transfer alone, without the host disk: downloads to /dev/null.
			t0 = now();
			curl([...hdr, '-o', '/dev/null', `${base}?path=/home/user/bench.bin`]);
			nullVia.push(size / 1e6 / secs(t0));
			t0 = now();
			curl(['-o', '/dev/null', `${direct}?path=/home/user/bench.bin`]);
			nullDirect.push(size / 1e6 / secs(t0));
			// The uploads' ceiling: cp onto the sandbox's own disk (ext4 on a loop device).
			const onDisk = path.join(w.stateDir, 'sandboxes', sbx.sandboxId, 'disk', 'bench-ceiling.bin');
			t0 = now();
			execFileSync('cp', [src, onDisk]);
			cpDisk.push(size / 1e6 / secs(t0));
			fs.rmSync(onDisk, { force: true });
		}
		if (fs.statSync(src).size !== size) throw new Error('source changed');
		const how = inProcess ? ['HTTP', 'HTTP', 'copyFileSync'] : ['curl -T', 'curl -o', 'cp'];
		row(`upload ${label} (${how[0]} via warrend)`, reps, median(up), NaN, 'MB/s');
		row(`download ${label} (${how[1]} via warrend)`, reps, median(down), NaN, 'MB/s');
		if (!inProcess) {
			row(`upload ${label} (curl -T, direct to the agent)`, reps, median(upDirect), NaN, 'MB/s');
			row(`download ${label} (curl -o, direct to the agent)`, reps, median(downDirect), NaN, 'MB/s');
			row(`download ${label} to /dev/null (curl via warrend)`, reps, median(nullVia), NaN, 'MB/s');
			row(`download ${label} to /dev/null (curl direct)`, reps, median(nullDirect), NaN, 'MB/s');
			row(`cp ${label} onto the sandbox's disk (upload ceiling)`, reps, median(cpDisk), NaN, 'MB/s');
		}
		row(`${how[2]} ${label} (same host disk, ceiling)`, reps, median(cp), NaN, 'MB/s');
		fs.rmSync(src, { force: true });
	}
	await sbx.commands.run('rm -f /home/user/bench.bin');

	// 1 KiB write + read: through the SDK, then as two plain keep-alive requests.
	const kib = crypto.randomBytes(1024);
	const lat = [];
	for (let i = 0; i < N + 10; i++) {
		const t0 = now();
		await sbx.files.write('lat.bin', kib);
		const back = await sbx.files.read('lat.bin', { format: 'bytes' });
		if (i >= 10) lat.push(secs(t0) * 1000);
		if (back.length !== 1024) throw new Error('short read');
	}
	const s = [...lat].sort((a, b) => a - b);
	row('files.write + files.read 1 KiB (SDK)', s.length, median(s), s[Math.ceil(0.99 * s.length) - 1], 'ms');

	const raw = [];
	for (let i = 0; i < N + 10; i++) {
		const t0 = now();
		await rawReq('POST', 'lat.bin', kib);
		await rawReq('GET', 'lat.bin');
		if (i >= 10) raw.push(secs(t0) * 1000);
	}
	const r2 = [...raw].sort((a, b) => a - b);
	row('POST + GET /files 1 KiB (raw keep-alive HTTP)', r2.length, median(r2), r2[Math.ceil(0.99 * r2.length) - 1], 'ms');
	agent.destroy();
} finally {
	await sbx?.kill().catch(() => {});
	await w.stop();
	fs.rmSync(tmp, { recursive: true, force: true });
}

const width = Math.max(...rows.map((r) => r.name.length), 10);
const f = (v, unit) => (Number.isNaN(v) ? '-' : unit === 'MB/s' ? v.toFixed(0) : v.toFixed(3));
console.log(`${'files benchmark'.padEnd(width)}  ${'n'.padStart(4)}  ${'median'.padStart(9)}  ${'p99'.padStart(9)}  unit`);
console.log('-'.repeat(width + 36));
for (const r of rows) console.log(`${r.name.padEnd(width)}  ${String(r.n).padStart(4)}  ${f(r.median, r.unit).padStart(9)}  ${f(r.p99, r.unit).padStart(9)}  ${r.unit}`);
