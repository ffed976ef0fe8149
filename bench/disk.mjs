// Disk quota benchmarks: prints medians and p99s, never passes or fails on time.
//   cold create (no pool, plain HTTP 201) and kill (204) with the default 10 GiB disk and a 64 MiB one
//   sequential write throughput to the sandbox's disk (dd, fsync at the end) vs its tmpfs /tmp
//   host disk taken by a fresh 10 GiB image
// Env: WARREN_BENCH_N (runs per figure, default 100); WARREND_BEFORE=<path of another warrend>
// adds its cold create figure (e.g. a build from before the disk quota).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { startWarrend } from '../tests/sdk/helpers/warrend.mjs';
import { request, runRaw } from '../tests/sdk/helpers/raw.mjs';

const N = Number(process.env.WARREN_BENCH_N || 100);
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const now = () => process.hrtime.bigint();

function stats(name, xs, unit = 'ms') {
	const s = [...xs].sort((a, b) => a - b);
	const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
	console.log(`${name.padEnd(52)} n=${String(s.length).padStart(4)}  median ${q(0.5).toFixed(2).padStart(8)}  p99 ${q(0.99).toFixed(2).padStart(8)} ${unit}`);
}

function post(w, agent, body) {
	return new Promise((resolve, reject) => {
		const u = new URL(w.apiUrl);
		const data = JSON.stringify(body);
		const req = http.request(
			{ host: u.hostname, port: u.port, method: 'POST', path: '/v2/sandboxes', agent, headers: { 'X-API-KEY': w.apiKey, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } },
			(res) => {
				let b = '';
				res.on('data', (d) => (b += d));
				res.on('end', () => (res.statusCode === 201 ? resolve(JSON.parse(b)) : reject(new Error(`create: ${res.statusCode} ${b}`))));
			},
		);
		req.on('error', reject);
		req.end(data);
	});
}

async function run(w, s, cmd) {
	const r = await runRaw(w, s, cmd, { user: 'root' });
	return r.stdout + r.stderr;
}

async function coldCreates(label, body, env = {}) {
	const w = await startWarrend({ setEnv: false, env: { WARREN_POOL_SIZE: '0', ...env } });
	const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
	try {
		const xs = [];
		const kills = [];
		for (let i = 0; i <= N; i++) {
			const t0 = now();
			const s = await post(w, agent, body);
			if (i > 0) xs.push(ms(t0)); // the first one builds the template
			const t1 = now();
			await request(w, { method: 'DELETE', path: `/sandboxes/${s.sandboxID}` });
			if (i > 0) kills.push(ms(t1));
		}
		stats(`cold create, HTTP 201 (${label})`, xs);
		stats(`kill, HTTP 204 (${label})`, kills);
	} finally {
		agent.destroy();
		await w.stop();
	}
}

async function main() {
	console.log(`# disk bench: ${N} runs per figure`);
	if (process.env.WARREND_BEFORE) {
		const saved = process.env.WARREND;
		process.env.WARREND = process.env.WARREND_BEFORE;
		await coldCreates('WARREND_BEFORE', { templateID: 'base' });
		if (saved === undefined) delete process.env.WARREND;
		else process.env.WARREND = saved;
	}
	await coldCreates('10 GiB disk', { templateID: 'base' });
	await coldCreates('64 MiB disk', { templateID: 'base', diskSizeMB: 64 });

	const w = await startWarrend({ setEnv: false });
	try {
		const s = await post(w, undefined, { templateID: 'base', timeout: 600 });
		const img = path.join(w.stateDir, 'sandboxes', s.sandboxID, 'disk.img');
		console.log(`host disk taken by a fresh 10 GiB image: ${((fs.statSync(img).blocks * 512) / 2 ** 20).toFixed(1)} MiB`);
		for (const [label, file] of [
			['disk', '/var/tmp/bench'],
			['tmpfs /tmp', '/tmp/bench'],
		]) {
			const xs = [];
			for (let i = 0; i < Math.min(N, 10); i++) {
				const out = await run(w, s, `dd if=/dev/zero of=${file} bs=1M count=256 conv=fsync 2>&1 | tail -1; rm -f ${file}`);
				const m = out.match(/([\d.]+) s, ([\d.]+) ([MG])B\/s/);
				if (m) xs.push(Number(m[2]) * (m[3] === 'G' ? 1000 : 1));
			}
			if (xs.length) stats(`dd 256 MiB, fsync (${label})`, xs, 'MB/s');
		}
	} finally {
		await w.stop();
	}
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
