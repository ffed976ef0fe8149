// Sandbox metrics through the SDK: sbx.getMetrics(), Sandbox.getMetrics(id) with start/end, the
// multi-sandbox REST call, samples surviving a warrend restart, and gone after a kill.
// warrend samples every 500 ms here (WARREN_METRICS_INTERVAL_MS) instead of every 5 s.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { request } from './helpers/raw.mjs';
import { startWarrend, waitFor } from './helpers/warrend.mjs';

const MiB = 1024 * 1024;
let w, Sandbox;
const made = [];
before(async () => {
	w = await startWarrend({ env: { WARREN_METRICS_INTERVAL_MS: '500' } });
	({ Sandbox } = await import('e2b'));
});
after(async () => {
	for (const s of made) await s.kill().catch(() => {});
	await w?.stop();
});

async function create(opts = {}) {
	const s = await Sandbox.create({ timeoutMs: 300_000, ...opts });
	made.push(s);
	return s;
}

// The newest sample taken after `since` (ms) that satisfies pred, polled until the deadline.
async function sampleAfter(s, since, pred, timeoutMs = 60_000) {
	return waitFor(
		async () => {
			const ms = await s.getMetrics();
			return ms.filter((m) => m.timestamp.getTime() > since && pred(m)).at(-1);
		},
		{ timeoutMs, intervalMs: 300 },
	);
}

test('getMetrics returns fresh samples with the sandbox figures', async () => {
	const s = await create();
	const t0 = Date.now();
	const m = await sampleAfter(s, t0 - 1000, () => true);
	assert.ok(m, 'a sample within 60 s');
	assert.ok(m.timestamp instanceof Date && Math.abs(m.timestamp.getTime() - Date.now()) < 60_000, `timestamp ${m.timestamp}`);
	assert.equal(m.cpuCount, 2);
	assert.ok(m.cpuUsedPct >= 0 && m.cpuUsedPct <= 100, `cpuUsedPct ${m.cpuUsedPct}`);
	assert.equal(m.memTotal, 512 * MiB);
	assert.ok(m.memUsed > 0 && m.memUsed < m.memTotal, `memUsed ${m.memUsed}`);
	assert.ok(m.memCache >= 0, `memCache ${m.memCache}`);
	// statfs of the sandbox's own 10 GiB ext4: a little less than the image.
	assert.ok(m.diskTotal > 9000 * MiB && m.diskTotal <= 10240 * MiB, `diskTotal ${m.diskTotal}`);
	assert.ok(m.diskUsed > 0 && m.diskUsed < m.diskTotal, `diskUsed ${m.diskUsed}`);

	// Samples keep coming, oldest first, with timestampUnix = timestamp in seconds (raw REST).
	const r = await waitFor(async () => {
		const x = await request(w, { path: `/sandboxes/${s.sandboxId}/metrics` });
		return x.json?.length >= 3 ? x : null;
	}, { timeoutMs: 60_000, intervalMs: 300 });
	assert.ok(r, 'three samples within 60 s');
	for (let i = 0; i < r.json.length; i++) {
		const x = r.json[i];
		assert.equal(x.timestampUnix, Math.floor(Date.parse(x.timestamp) / 1000));
		assert.match(x.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
		if (i > 0) assert.ok(Date.parse(x.timestamp) > Date.parse(r.json[i - 1].timestamp));
	}
});

test('a busy loop raises cpuUsedPct, 100 MiB raise memUsed, a 64 MiB file raises diskUsed', async () => {
	const s = await create();
	const base = await sampleAfter(s, Date.now(), () => true);
	assert.ok(base, 'a first sample');

	// One of the two CPUs busy is 50 % of the sandbox; the host is shared, so expect less.
	const busy = await s.commands.run('timeout 60 sh -c "while :; do :; done"', { background: true });
	const t1 = Date.now();
	const hot = await sampleAfter(s, t1 + 1000, (m) => m.cpuUsedPct >= 15);
	await busy.kill();
	assert.ok(hot, `cpuUsedPct >= 15 within 60 s of a busy loop (last: ${JSON.stringify((await s.getMetrics()).at(-1))})`);
	assert.ok(hot.cpuUsedPct <= 100);

	// 100 MiB written to (so that the pages are really charged), held for a minute.
	const hog = await s.commands.run(`python3 -c "import time; b = b'x' * (100 << 20); print('ok', flush=True); time.sleep(60)"`, {
		background: true,
	});
	await waitFor(() => hog.stdout.includes('ok'), { timeoutMs: 30_000 });
	const t2 = Date.now();
	const big = await sampleAfter(s, t2, (m) => m.memUsed >= base.memUsed + 90 * MiB);
	await hog.kill();
	assert.ok(big, `memUsed up by 90 MiB within 60 s (from ${base.memUsed})`);

	await s.commands.run('head -c 67108864 /dev/urandom > /home/user/big.bin && sync');
	const t3 = Date.now();
	const full = await sampleAfter(s, t3, (m) => m.diskUsed >= base.diskUsed + 60 * MiB);
	assert.ok(full, `diskUsed up by 60 MiB within 60 s (from ${base.diskUsed})`);
	await s.commands.run('rm /home/user/big.bin');
	const freed = await sampleAfter(s, Date.now(), (m) => m.diskUsed < full.diskUsed - 60 * MiB);
	assert.ok(freed, 'diskUsed back down after the file is removed');
});

test('start and end filter the samples (unix seconds, inclusive)', async () => {
	const s = await create();
	assert.ok(await sampleAfter(s, 0, () => true), 'a first sample');
	await new Promise((r) => setTimeout(r, 2500));
	const all = await s.getMetrics();
	assert.ok(all.length >= 3, `${all.length} samples`);
	const mid = all[Math.floor(all.length / 2)].timestamp;

	const later = await Sandbox.getMetrics(s.sandboxId, { start: mid });
	assert.ok(later.length >= 1);
	const startS = Math.round(mid.getTime() / 1000);
	for (const m of later) assert.ok(m.timestamp.getTime() >= startS * 1000, `${m.timestamp.toISOString()} >= ${startS}`);
	const earlier = await Sandbox.getMetrics(s.sandboxId, { end: mid });
	assert.ok(earlier.length >= 1);
	for (const m of earlier) assert.ok(m.timestamp.getTime() < (startS + 1) * 1000, `${m.timestamp.toISOString()} <= ${startS}`);
	const future = await s.getMetrics({ start: new Date(Date.now() + 3600_000) });
	assert.deepEqual(future, []);
	const past = await s.getMetrics({ end: new Date(Date.now() - 3600_000) });
	assert.deepEqual(past, []);

	const bad = await request(w, { path: `/sandboxes/${s.sandboxId}/metrics?start=20&end=10` });
	assert.equal(bad.status, 400);
	assert.equal(bad.json.code, 400);
	const junk = await request(w, { path: `/sandboxes/${s.sandboxId}/metrics?start=abc` });
	assert.equal(junk.status, 400);
});

test('GET /sandboxes/metrics gives the latest sample of each sandbox asked for', async () => {
	const a = await create();
	const b = await create();
	assert.ok(await sampleAfter(a, 0, () => true));
	assert.ok(await sampleAfter(b, 0, () => true));
	const r = await request(w, { path: `/sandboxes/metrics?sandbox_ids=${a.sandboxId},${b.sandboxId},unknownid00000000000` });
	assert.equal(r.status, 200);
	assert.deepEqual(Object.keys(r.json.sandboxes).sort(), [a.sandboxId, b.sandboxId].sort());
	for (const m of Object.values(r.json.sandboxes)) {
		assert.equal(m.cpuCount, 2);
		assert.equal(m.memTotal, 512 * MiB);
		assert.ok(Math.abs(Date.parse(m.timestamp) - Date.now()) < 30_000);
	}
	const none = await request(w, { path: '/sandboxes/metrics' });
	assert.equal(none.status, 400);
	const many = Array.from({ length: 101 }, (_, i) => `id${i}`).join(',');
	assert.equal((await request(w, { path: `/sandboxes/metrics?sandbox_ids=${many}` })).status, 400);
});

test('samples survive a warrend restart and go with the sandbox', async () => {
	const s = await create();
	assert.ok(await sampleAfter(s, 0, () => true));
	const before = await s.getMetrics();
	await w.kill9();
	await w.restart();
	const again = await Sandbox.getMetrics(s.sandboxId);
	assert.ok(again.length >= before.length, `${again.length} samples after the restart, ${before.length} before`);
	assert.equal(again[0].timestamp.getTime(), before[0].timestamp.getTime());
	// Sampling goes on after the restart.
	assert.ok(await sampleAfter(s, Date.now(), () => true), 'a new sample after the restart');

	const id = s.sandboxId;
	await s.kill();
	await assert.rejects(Sandbox.getMetrics(id), (e) => e.name === 'SandboxNotFoundError' || /not found/i.test(e.message));
	const raw = await request(w, { path: `/sandboxes/${id}/metrics` });
	assert.equal(raw.status, 404);
	assert.equal(raw.json.code, 404);
	// The rows are gone from the database too (nothing kept for a dead sandbox).
	const { spawnSync } = await import('node:child_process');
	const q = spawnSync('sqlite3', [`${w.stateDir}/warren.db`, `SELECT COUNT(*) FROM metrics WHERE sandbox_id = '${id}'`], { encoding: 'utf8' });
	assert.equal(q.status, 0, q.stderr);
	assert.equal(q.stdout.trim(), '0');
});
