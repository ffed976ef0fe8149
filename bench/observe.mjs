// Observability benchmark through warrend (docs/OBSERVABILITY.md): prints figures, never passes or
// fails on time.
//   sampler cost: warrend's CPU time per sandbox sample (utime + stime of warrend over a window,
//     sampling every 100 ms, divided by the samples stored), idle warrend subtracted
//   GET /v2/sandboxes/{id}/logs on a full log (2 x 1 MiB), GET /sandboxes/{id}/metrics, GET /metrics
// Env: WARREN_BENCH_N (requests per figure, default 100), WARREN_BENCH_SBX (sandboxes, default 10).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { request } from '../tests/sdk/helpers/raw.mjs';
import { REPO, startWarrend } from '../tests/sdk/helpers/warrend.mjs';

const N = Number(process.env.WARREN_BENCH_N || 100);
const NSBX = Number(process.env.WARREN_BENCH_SBX || 10);
const TICK = 100; // USER_HZ on Linux
const rows = [];

function stats(name, xs, unit = 'ms') {
	const s = [...xs].sort((a, b) => a - b);
	const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
	rows.push({ name, n: s.length, median: q(0.5), p99: q(0.99), unit });
}

function cpuSeconds(pid) {
	const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
	return (Number(rest[11]) + Number(rest[12])) / TICK; // utime, stime
}

function samples(w) {
	const q = spawnSync('sqlite3', [`${w.stateDir}/warren.db`, 'SELECT COUNT(*) FROM metrics'], { encoding: 'utf8' });
	return Number(q.stdout.trim());
}

async function timed(xs, fn) {
	const t = performance.now();
	await fn();
	xs.push(performance.now() - t);
}

const w = await startWarrend({ env: { WARREN_METRICS_INTERVAL_MS: '100', WARREN_POOL_SIZE: '0' } });
const { Sandbox } = await import(pathToFileURL(path.join(REPO, 'tests/sdk/node_modules/e2b/dist/index.mjs')).href);
const sbxs = [];
try {
	// Idle warrend first (nothing to sample), then with NSBX sandboxes.
	const idle0 = cpuSeconds(w.pid);
	await new Promise((r) => setTimeout(r, 5000));
	const idleRate = (cpuSeconds(w.pid) - idle0) / 5;
	for (let i = 0; i < NSBX; i++) sbxs.push(await Sandbox.create({ timeoutMs: 600_000 }));
	const c0 = cpuSeconds(w.pid), n0 = samples(w), t0 = Date.now();
	await new Promise((r) => setTimeout(r, 10_000));
	const secs = (Date.now() - t0) / 1000;
	const used = cpuSeconds(w.pid) - c0 - idleRate * secs, n = samples(w) - n0;
	rows.push({ name: `sampler: warrend CPU per sandbox sample (${NSBX} sandboxes, 100 ms)`, n, median: (used / n) * 1e6, p99: NaN, unit: 'us' });

	// A full log: two files of 1 MiB of agent-format lines, made inside the sandbox.
	const s = sbxs[0];
	const gen =
		"import sys\n" +
		"l = ''.join('2026-01-01T00:00:00.000Z warren-agent info process %d started (uid 1000): /bin/bash -l -c echo hello world\\n' % i for i in range(9000))\n" +
		"open('/var/log/warren-agent.log.1', 'w').write(l[:1048576])\n" +
		"open('/var/log/warren-agent.log', 'a').write(l[:1048576])\n";
	await s.commands.run(`echo ${Buffer.from(gen).toString('base64')} | base64 -d | python3`, { user: 'root' });
	const logs = [], logs20 = [], metrics = [], prom = [];
	for (let i = 0; i < N; i++) await timed(logs, () => request(w, { path: `/v2/sandboxes/${s.sandboxId}/logs` }));
	for (let i = 0; i < N; i++) await timed(logs20, () => request(w, { path: `/v2/sandboxes/${s.sandboxId}/logs?direction=backward&limit=20` }));
	for (let i = 0; i < N; i++) await timed(metrics, () => request(w, { path: `/sandboxes/${s.sandboxId}/metrics` }));
	for (let i = 0; i < N; i++) await timed(prom, () => request(w, { path: '/metrics' }));
	stats('GET /v2/sandboxes/{id}/logs, 2 MiB log, 1000 entries', logs);
	stats('GET /v2/sandboxes/{id}/logs, 2 MiB log, backward limit=20', logs20);
	stats(`GET /sandboxes/{id}/metrics (${(await request(w, { path: `/sandboxes/${s.sandboxId}/metrics` })).json.length} samples)`, metrics);
	stats('GET /metrics (Prometheus)', prom);
} finally {
	for (const s of sbxs) await s.kill().catch(() => {});
	await w.stop();
}

const width = Math.max(...rows.map((r) => r.name.length), 10);
const f = (v) => (Number.isNaN(v) ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(3));
console.log(`${'observability benchmark'.padEnd(width)}  ${'n'.padStart(5)}  ${'median'.padStart(9)}  ${'p99'.padStart(9)}  unit`);
console.log('-'.repeat(width + 35));
for (const r of rows) console.log(`${r.name.padEnd(width)}  ${String(r.n).padStart(5)}  ${f(r.median).padStart(9)}  ${f(r.p99).padStart(9)}  ${r.unit}`);
