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

test('list paginates with limit and filters by state and metadata', async () => {
	const tag = crypto.randomBytes(6).toString('hex');
	const meta = { page: tag };
	const ids = [];
	for (let i = 0; i < 3; i++) {
		const s = await Sandbox.create({ metadata: meta, timeoutMs: 120_000 });
		made.push(s);
		ids.push(s.sandboxId);
	}
	// A sandbox with other metadata is never part of the pages.
	const other = await Sandbox.create({ metadata: { page: tag + 'x' }, timeoutMs: 120_000 });
	made.push(other);

	const p = Sandbox.list({ query: { state: ['running'], metadata: meta }, limit: 2 });
	assert.equal(p.hasNext, true);
	const first = await p.nextItems();
	assert.equal(first.length, 2, `first page: ${JSON.stringify(first.map((s) => s.sandboxId))}`);
	assert.equal(p.hasNext, true);
	assert.ok(p.nextToken, 'no next token after a full page');
	const second = await p.nextItems();
	assert.equal(second.length, 1, `second page: ${JSON.stringify(second.map((s) => s.sandboxId))}`);
	assert.equal(p.hasNext, false);
	await assert.rejects(p.nextItems());
	const seen = [...first, ...second].map((s) => s.sandboxId);
	assert.deepEqual([...seen].sort(), [...ids].sort(), 'pages must hold each sandbox exactly once');
	for (const s of [...first, ...second]) {
		assert.equal(s.state, 'running');
		assert.deepEqual(s.metadata, meta);
	}

	// One page big enough for all: no next page.
	const q = Sandbox.list({ query: { state: ['running'], metadata: meta }, limit: 3 });
	assert.equal((await q.nextItems()).length, 3);
	assert.equal(q.hasNext, false);

	// Nothing here is paused.
	const paused = Sandbox.list({ query: { state: ['paused'], metadata: meta } });
	assert.deepEqual((await paused.nextItems()).map((s) => s.sandboxId), []);
	assert.equal(paused.hasNext, false);
	const pausedAll = Sandbox.list({ query: { state: ['paused'] } });
	const pausedIds = (await pausedAll.nextItems()).map((s) => s.sandboxId);
	for (const id of [...ids, other.sandboxId]) assert.ok(!pausedIds.includes(id), `${id} listed as paused`);

	// A killed sandbox drops out of the pages.
	await made.find((s) => s.sandboxId === ids[0]).kill();
	const r = Sandbox.list({ query: { state: ['running'], metadata: meta }, limit: 2 });
	const page = await r.nextItems();
	assert.deepEqual(page.map((s) => s.sandboxId).sort(), ids.slice(1).sort());
	assert.equal(r.hasNext, false);
});
