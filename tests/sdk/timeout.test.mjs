// A sandbox whose timeout expires is destroyed by the daemon on its own.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startWarrend, waitFor } from './helpers/warrend.mjs';

let w, Sandbox, NotFoundError;
before(async () => {
	w = await startWarrend();
	({ Sandbox, NotFoundError } = await import('e2b'));
});
after(async () => {
	await w?.stop();
});

test('timeoutMs: 2000 expires and the sandbox is gone', async () => {
	const t0 = Date.now();
	const s = await Sandbox.create({ timeoutMs: 2000 });
	const r = await s.commands.run('echo alive');
	assert.equal(r.stdout, 'alive\n');

	const gone = await waitFor(async () => !(await s.isRunning()), { timeoutMs: 15000, intervalMs: 200 });
	const dt = Date.now() - t0;
	assert.ok(gone, `still running ${dt} ms after create with timeoutMs 2000`);
	assert.ok(dt >= 1500, `gone after only ${dt} ms`);
	await assert.rejects(Sandbox.connect(s.sandboxId), (e) => e instanceof NotFoundError);
	const listed = await Sandbox.list().nextItems();
	assert.ok(!listed.some((x) => x.sandboxId === s.sandboxId), 'expired sandbox still listed');
	assert.equal(await Sandbox.kill(s.sandboxId), false);
});

test('setTimeout extends a short timeout', async () => {
	const s = await Sandbox.create({ timeoutMs: 2000 });
	await s.setTimeout(60_000);
	const start = Date.now();
	// Past the original deadline, bounded by a poll rather than a blind sleep.
	const stillUp = await waitFor(async () => Date.now() - start > 3500 && (await s.isRunning()), { timeoutMs: 6000, intervalMs: 250 });
	assert.ok(stillUp, 'sandbox died at its original deadline despite setTimeout');
	assert.equal(await s.kill(), true);
});
