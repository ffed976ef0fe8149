// warrend killed with SIGKILL and started again on the same state directory: a sandbox that
// lived through it is adopted (listed, runs commands); one that died meanwhile is cleaned up.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { startWarrend, waitFor } from '../sdk/helpers/warrend.mjs';
import { createSandbox, killSandbox, request, runRaw } from '../sdk/helpers/raw.mjs';

let w;
before(async () => {
	w = await startWarrend({ setEnv: false });
});
after(async () => {
	await w?.stop();
});

const listIds = async () => {
	const r = await request(w, { path: '/v2/sandboxes' });
	assert.equal(r.status, 200, `list: ${r.status} ${r.body}`);
	return r.json.map((s) => s.sandboxID);
};

// Host pids in a sandbox's cgroups, from every hierarchy.
function sandboxPids(id) {
	const pids = new Set();
	for (const d of w.cgroupDirs()) {
		try {
			for (const p of fs.readFileSync(path.join(d, id, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
		} catch {
			/* not in this hierarchy */
		}
	}
	return [...pids];
}

function leftovers(id) {
	const found = [];
	for (const d of w.cgroupDirs()) if (fs.existsSync(path.join(d, id))) found.push(path.join(d, id));
	const walk = (dir) => {
		let ents = [];
		try {
			ents = fs.readdirSync(dir, { withFileTypes: true });
		} catch {
			return;
		}
		for (const e of ents) {
			const p = path.join(dir, e.name);
			if (e.name.includes(id)) found.push(p);
			else if (e.isDirectory() && !p.includes('/templates/')) walk(p);
		}
	};
	walk(w.stateDir);
	return found;
}

test('sandboxes survive kill -9 of warrend; dead ones are cleaned up at restart', async () => {
	const a = await createSandbox(w, { templateID: 'base', timeout: 600, metadata: { which: 'a' } });
	const b = await createSandbox(w, { templateID: 'base', timeout: 600, metadata: { which: 'b' } });
	assert.equal((await runRaw(w, a, 'echo a')).stdout, 'a\n');
	assert.equal((await runRaw(w, b, 'echo b')).stdout, 'b\n');
	const bPids = sandboxPids(b.sandboxID);
	assert.ok(bPids.length > 0, `no processes found in ${b.sandboxID}'s cgroups`);
	const oldPid = w.pid;

	await w.kill9();
	// While the daemon is down: the sandbox keeps running, and one sandbox dies.
	assert.ok(sandboxPids(a.sandboxID).length > 0, 'sandbox a died with warrend');
	for (const p of bPids) {
		try {
			process.kill(p, 'SIGKILL');
		} catch {
			/* gone */
		}
	}
	const bDead = await waitFor(() => sandboxPids(b.sandboxID).length === 0, { timeoutMs: 5000 });
	assert.ok(bDead, 'could not kill sandbox b from the host');

	await w.restart();
	assert.notEqual(w.pid, oldPid);

	const ids = await listIds();
	assert.ok(ids.includes(a.sandboxID), `adopted sandbox missing from the list: ${ids}`);
	assert.ok(!ids.includes(b.sandboxID), 'dead sandbox still listed');
	const info = await request(w, { path: `/sandboxes/${a.sandboxID}` });
	assert.equal(info.status, 200);
	assert.deepEqual(info.json.metadata, { which: 'a' });
	assert.equal((await runRaw(w, a, 'echo after-restart; hostname')).stdout, `after-restart\n${a.sandboxID}\n`);
	const gb = await request(w, { path: `/sandboxes/${b.sandboxID}` });
	assert.equal(gb.status, 404);
	const clean = await waitFor(() => leftovers(b.sandboxID).length === 0, { timeoutMs: 10000 });
	assert.ok(clean, `dead sandbox left behind: ${leftovers(b.sandboxID).join(' ')}`);

	// A new sandbox next to the adopted one gets a distinct address and works.
	const c = await createSandbox(w);
	assert.notEqual(c.sandboxID, a.sandboxID);
	assert.equal((await runRaw(w, c, 'echo c')).stdout, 'c\n');
	assert.equal((await runRaw(w, a, 'echo a2')).stdout, 'a2\n');

	// A clean stop destroys everything.
	assert.equal(await killSandbox(w, c.sandboxID), 204);
	const r = await w.terminate();
	assert.equal(r.code, 0, `SIGTERM exit: ${JSON.stringify(r)}`);
	const aGone = await waitFor(() => leftovers(a.sandboxID).length === 0 && sandboxPids(a.sandboxID).length === 0, { timeoutMs: 10000 });
	assert.ok(aGone, `SIGTERM left ${leftovers(a.sandboxID).join(' ')}`);
});
