// Ten sandboxes created at once: none can see another's files or processes, or reach another's
// listening port.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';

import { startWarrend } from './helpers/warrend.mjs';
import { probeConnect, runAllowFail, sandboxAddrs } from './helpers/sandbox.mjs';

const N = 10;
let w, Sandbox;
let sbxs = [];
before(async () => {
	w = await startWarrend();
	({ Sandbox } = await import('e2b'));
});
after(async () => {
	await Promise.all(sbxs.map((s) => s.kill().catch(() => {})));
	await w?.stop();
});

test('10 sandboxes at once are isolated from each other', async () => {
	const t0 = Date.now();
	sbxs = await Promise.all(Array.from({ length: N }, () => Sandbox.create({ timeoutMs: 300_000 })));
	const createMs = Date.now() - t0;
	const ids = new Set(sbxs.map((s) => s.sandboxId));
	assert.equal(ids.size, N, 'sandbox ids are not unique');
	console.log(`# created ${N} sandboxes concurrently in ${createMs} ms`);

	const secrets = sbxs.map(() => crypto.randomBytes(8).toString('hex'));
	// Each writes a secret (home dir and /tmp, both on its own disk), and starts a listener and a
	// marker process whose command line is unique to it.
	await Promise.all(
		sbxs.map(async (s, i) => {
			const r = await s.commands.run(
				`echo ${secrets[i]} > ~/secret && echo ${secrets[i]} > /tmp/secret-${i} && cat ~/secret`,
			);
			assert.equal(r.stdout, secrets[i] + '\n');
			await s.commands.run('python3 -m http.server 8000 --bind 0.0.0.0 >/dev/null 2>&1', { background: true, timeoutMs: 0 });
			await s.commands.run(`sleep ${7000 + i}`, { background: true, timeoutMs: 0 });
		}),
	);

	const addrs = await Promise.all(sbxs.map((s) => sandboxAddrs(s)));
	for (const [i, a] of addrs.entries()) assert.ok(a.addrs.length >= 1, `sandbox ${i} has no address: ${JSON.stringify(a)}`);
	const all = addrs.flatMap((a) => a.addrs);
	assert.equal(new Set(all).size, all.length, `addresses are shared: ${all}`);

	await Promise.all(
		sbxs.map(async (s, i) => {
			// Files: only its own.
			let r = await runAllowFail(s, 'cat ~/secret; ls /tmp | grep ^secret-');
			assert.equal(r.stdout, `${secrets[i]}\nsecret-${i}\n`);
			// The others' secrets come in the environment, not the command line, which the agent
			// logs in the sandbox (/var/log/warren-agent.log, searched too).
			const otherSecrets = secrets.filter((_, j) => j !== i).join('\n');
			const search = `printf '%s\\n' "$OTHERS" | grep -rlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=usr --exclude-dir=dev -f - / 2>/dev/null; true`;
			r = await runAllowFail(s, search, { user: 'root', timeoutMs: 60_000, envs: { OTHERS: otherSecrets } });
			assert.equal(r.stdout, '', `sandbox ${i} sees another's secret in ${r.stdout}`);
			// The same search finds its own secret (the search works).
			r = await runAllowFail(s, search, { user: 'root', timeoutMs: 60_000, envs: { OTHERS: secrets[i] } });
			assert.ok(r.stdout.split('\n').includes('/home/user/secret'), `own secret not found: ${r.stdout}`);

			// Processes: its own marker only, and nothing of the host's.
			r = await s.commands.run('ps -eo args', { user: 'root' });
			const markers = r.stdout.split('\n').filter((l) => /^sleep 70\d\d$/.test(l));
			assert.deepEqual(markers, [`sleep ${7000 + i}`], `ps in sandbox ${i}:\n${r.stdout}`);
			assert.ok(!/warrend|node /.test(r.stdout), `sandbox ${i} sees host processes:\n${r.stdout}`);
			const nproc = r.stdout.trim().split('\n').length - 1;
			assert.ok(nproc < 15, `sandbox ${i} sees ${nproc} processes:\n${r.stdout}`);

			// Network: own listener answers, nobody else's does.
			await waitListening(s);
			const own = await probeConnect(s, [`127.0.0.1:8000`, `${addrs[i].addrs[0]}:8000`]);
			assert.deepEqual(Object.values(own), ['ok', 'ok'], `own listener: ${JSON.stringify(own)}`);
			const others = addrs.filter((_, j) => j !== i).flatMap((a) => a.addrs.map((x) => `${x}:8000`));
			const res = await probeConnect(s, others, 1);
			for (const [t, v] of Object.entries(res)) assert.notEqual(v, 'ok', `sandbox ${i} reached ${t}`);
		}),
	);

	const killed = await Promise.all(sbxs.map((s) => s.kill()));
	assert.deepEqual(killed, Array(N).fill(true));
	const left = await Sandbox.list().nextItems();
	assert.deepEqual(left.filter((x) => ids.has(x.sandboxId)), []);
	sbxs = [];
});

async function waitListening(s) {
	const r = await runAllowFail(
		s,
		'for i in $(seq 1 50); do python3 -c "import socket; socket.create_connection((\'127.0.0.1\', 8000), 1)" 2>/dev/null && exit 0; sleep 0.1; done; exit 1',
	);
	assert.equal(r.exitCode, 0, 'listener did not come up within 5 s');
}
