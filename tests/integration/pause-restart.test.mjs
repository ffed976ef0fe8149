// Paused sandboxes live on disk: warrend killed with SIGKILL (one sandbox running, one paused)
// and started again finds both, the running one adopted, the paused one resumable with its
// memory. A clean stop keeps paused sandboxes too, and so does a stop followed by the loss of
// everything a reboot loses (bridge, firewall tables, cgroups, processes). docs/PERSISTENCE.md.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { startWarrend, waitFor } from '../sdk/helpers/warrend.mjs';

let w, Sandbox;
before(async () => {
	w = await startWarrend();
	// The SDK is installed under tests/sdk.
	({ Sandbox } = await import(new URL('../sdk/node_modules/e2b/dist/index.mjs', import.meta.url)));
});
after(async () => {
	await w?.stop();
});

async function states() {
	const p = Sandbox.list();
	const out = {};
	for (let i = 0; i < 20; i++) {
		for (const s of await p.nextItems()) out[s.sandboxId] = s.state;
		if (!p.hasNext) break;
	}
	return out;
}

const counter = async (sbx) => Number((await sbx.commands.run('cat /tmp/counter')).stdout);

async function startCounter(sbx) {
	await sbx.commands.run(
		'python3 -c "import time\ni=0\nwhile True:\n  open(\'/tmp/counter\',\'w\').write(str(i)); i+=1; time.sleep(0.05)" >/dev/null 2>&1 &',
	);
	assert.ok(await waitFor(async () => (await counter(sbx)) > 3, { timeoutMs: 30_000 }));
}

test('kill -9 of warrend with a running and a paused sandbox: both are there after a restart', async () => {
	const running = await Sandbox.create({ timeoutMs: 600_000 });
	const paused = await Sandbox.create({ timeoutMs: 600_000 });
	// autoPause and autoResume are remembered across the restart: paused, not killed, at its
	// timeout, and woken by traffic after it.
	const auto = await Sandbox.create({ timeoutMs: 20_000, lifecycle: { onTimeout: 'pause', autoResume: true } });
	await auto.commands.run('echo auto > /home/user/a');
	await paused.commands.run('echo disk > /home/user/d');
	await startCounter(paused);
	assert.equal(await paused.pause(), true);
	const oldPid = w.pid;

	await w.kill9();
	await w.restart();
	assert.notEqual(w.pid, oldPid);
	const st = await states();
	assert.equal(st[running.sandboxId], 'running');
	assert.equal(st[paused.sandboxId], 'paused');
	assert.equal((await running.commands.run('echo still')).stdout, 'still\n');
	assert.equal(st[auto.sandboxId], 'running');
	assert.deepEqual((await Sandbox.getInfo(auto.sandboxId)).lifecycle, { onTimeout: 'pause', autoResume: true });

	await Sandbox.connect(paused.sandboxId, { timeoutMs: 600_000 });
	const v1 = await counter(paused);
	assert.ok(v1 > 3, `counter restored: ${v1}`);
	assert.ok(await waitFor(async () => (await counter(paused)) > v1, { timeoutMs: 30_000 }), 'counter counts');
	assert.equal((await paused.commands.run('cat /home/user/d')).stdout, 'disk\n');

	// And the resumed one can be paused and resumed again after the restart.
	assert.equal(await paused.pause(), true);
	await Sandbox.connect(paused.sandboxId);
	assert.ok((await counter(paused)) >= v1);
	assert.ok(
		await waitFor(async () => (await states())[auto.sandboxId] === 'paused', { timeoutMs: 90_000, intervalMs: 500 }),
		'the autoPause sandbox is paused at its timeout after the restart',
	);
	// No connect: the command's own request resumes it (autoResume).
	assert.equal((await auto.commands.run('cat /home/user/a')).stdout, 'auto\n');
	assert.equal((await states())[auto.sandboxId], 'running');
	await running.kill();
	await paused.kill();
	await auto.kill();
});

test('a clean stop keeps paused sandboxes, also when the bridge, firewall and cgroups are gone', async () => {
	const sbx = await Sandbox.create({ timeoutMs: 600_000 });
	await sbx.commands.run('echo kept > /home/user/k');
	await startCounter(sbx);
	assert.equal(await sbx.pause(), true);

	const r = await w.terminate();
	assert.equal(r.code, 0, `warrend stopped cleanly: ${JSON.stringify(r)}`);
	// What a reboot takes away (processes are gone already): network and cgroups.
	const keepState = w.ownsStateDir;
	w.ownsStateDir = false;
	w.cleanupHost();
	w.ownsStateDir = keepState;
	assert.ok(fs.existsSync(path.join(w.stateDir, 'sandboxes', sbx.sandboxId, 'checkpoint')));

	await w.restart();
	assert.equal((await states())[sbx.sandboxId], 'paused');
	await Sandbox.connect(sbx.sandboxId);
	assert.equal((await sbx.commands.run('cat /home/user/k')).stdout, 'kept\n');
	const v1 = await counter(sbx);
	assert.ok(await waitFor(async () => (await counter(sbx)) > v1, { timeoutMs: 30_000 }), 'counter counts');
	await sbx.kill();
});
