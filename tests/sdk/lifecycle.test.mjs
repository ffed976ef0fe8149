// Sandbox lifecycle through the SDK: create options, list filters, info, timeout, connect, kill.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';

import { startWarrend } from './helpers/warrend.mjs';

let w, Sandbox, NotFoundError;
const made = [];
before(async () => {
	w = await startWarrend();
	({ Sandbox, NotFoundError } = await import('e2b'));
});
after(async () => {
	for (const s of made) await s.kill().catch(() => {});
	await w?.stop();
});

async function listAll(query) {
	const p = Sandbox.list({ query });
	const items = [];
	for (let i = 0; i < 20; i++) {
		items.push(...(await p.nextItems()));
		if (!p.hasNext) break;
	}
	return items;
}

test('metadata, envs and timeout at create; list by metadata; getInfo', async () => {
	const tag = crypto.randomBytes(6).toString('hex');
	const meta = { suite: tag, user: 'a b', app: 'x=y' };
	const t0 = Date.now();
	const a = await Sandbox.create({ metadata: meta, envs: { FOO: 'bar baz' }, timeoutMs: 120_000 });
	made.push(a);
	const b = await Sandbox.create({ metadata: { suite: tag + 'x' }, timeoutMs: 120_000 });
	made.push(b);
	assert.notEqual(a.sandboxId, b.sandboxId);

	const r = await a.commands.run('printf %s "$FOO"');
	assert.equal(r.stdout, 'bar baz');

	const found = await listAll({ metadata: meta });
	assert.deepEqual(found.map((s) => s.sandboxId), [a.sandboxId]);
	assert.deepEqual(found[0].metadata, meta);
	const byTag = await listAll({ metadata: { suite: tag } });
	assert.deepEqual(byTag.map((s) => s.sandboxId), [a.sandboxId]);
	const all = (await listAll()).map((s) => s.sandboxId);
	assert.ok(all.includes(a.sandboxId) && all.includes(b.sandboxId));

	const info = await a.getInfo();
	assert.equal(info.sandboxId, a.sandboxId);
	assert.equal(info.templateId, 'base');
	assert.deepEqual(info.metadata, meta);
	assert.equal(info.state, 'running');
	assert.ok(info.cpuCount >= 1, `cpuCount ${info.cpuCount}`);
	assert.ok(info.memoryMB >= 128, `memoryMB ${info.memoryMB}`);
	assert.equal(info.envdVersion, '0.6.13');
	assert.ok(info.startedAt instanceof Date && !isNaN(info.startedAt));
	assert.ok(Math.abs(info.startedAt.getTime() - t0) < 60_000, `startedAt ${info.startedAt.toISOString()}`);
	const ttl = info.endAt.getTime() - info.startedAt.getTime();
	assert.ok(Math.abs(ttl - 120_000) < 5_000, `endAt - startedAt = ${ttl} ms`);
});

test('setTimeout moves endAt; isRunning; connect; kill; connect to a killed id fails', async () => {
	const s = await Sandbox.create({ timeoutMs: 60_000 });
	made.push(s);
	assert.equal(await s.isRunning(), true);

	await s.setTimeout(600_000);
	let info = await s.getInfo();
	let left = info.endAt.getTime() - Date.now();
	assert.ok(left > 590_000 && left <= 605_000, `after setTimeout(600s) endAt is ${left} ms away`);
	await s.setTimeout(30_000);
	info = await s.getInfo();
	left = info.endAt.getTime() - Date.now();
	assert.ok(left > 20_000 && left <= 35_000, `after setTimeout(30s) endAt is ${left} ms away`);
	await Sandbox.setTimeout(s.sandboxId, 300_000);
	info = await Sandbox.getInfo(s.sandboxId);
	left = info.endAt.getTime() - Date.now();
	assert.ok(left > 290_000, `after static setTimeout(300s) endAt is ${left} ms away`);

	const c = await Sandbox.connect(s.sandboxId);
	assert.equal(c.sandboxId, s.sandboxId);
	const r = await c.commands.run('echo via-connect; hostname');
	assert.equal(r.stdout, `via-connect\n${s.sandboxId}\n`);

	assert.equal(await s.kill(), true);
	assert.equal(await s.isRunning(), false);
	assert.equal(await c.isRunning(), false);
	await assert.rejects(Sandbox.connect(s.sandboxId), (e) => e instanceof NotFoundError);
	await assert.rejects(Sandbox.getInfo(s.sandboxId), (e) => e instanceof NotFoundError);
	await assert.rejects(Sandbox.setTimeout(s.sandboxId, 10_000), (e) => e instanceof NotFoundError);
	const after = (await listAll()).map((x) => x.sandboxId);
	assert.ok(!after.includes(s.sandboxId));
});

test('connect to an id that never existed fails with NotFoundError', async () => {
	await assert.rejects(Sandbox.connect('doesnotexist0000000'), (e) => e instanceof NotFoundError);
});
