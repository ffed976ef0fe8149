// Sandbox logs: GET /v2/sandboxes/{id}/logs and the v1 GET /sandboxes/{id}/logs (the CLI's) show
// the agent's start and one line per process start and end; the query parameters filter; what
// the sandbox does to its own log file (garbage, links, a FIFO, a huge file) never hurts warrend.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { request } from './helpers/raw.mjs';
import { startWarrend, waitFor } from './helpers/warrend.mjs';

let w, Sandbox;
const made = [];
before(async () => {
	w = await startWarrend();
	({ Sandbox } = await import('e2b'));
});
after(async () => {
	for (const s of made) await s.kill().catch(() => {});
	await w?.stop();
});

async function create() {
	const s = await Sandbox.create({ timeoutMs: 300_000 });
	made.push(s);
	return s;
}

async function logsV2(id, query = '') {
	const r = await request(w, { path: `/v2/sandboxes/${id}/logs${query}` });
	assert.equal(r.status, 200, r.body.toString());
	return r.json.logs;
}

test('a command start and end appear in the logs, in both API versions', async () => {
	const s = await create();
	const tag = `marker-${process.pid}-${Date.now()}`;
	const h = await s.commands.run(`echo ${tag}; exit 3`).catch((e) => e);
	assert.equal(h.exitCode, 3);

	const logs = await waitFor(async () => {
		const l = await logsV2(s.sandboxId);
		return l.some((e) => /ended: exit code 3/.test(e.message)) ? l : null;
	}, { timeoutMs: 30_000 });
	assert.ok(logs, 'an end line within 30 s');
	const started = logs.find((e) => e.message.includes(tag));
	assert.ok(started, `a start line with the command: ${JSON.stringify(logs)}`);
	assert.match(started.message, /^process (\d+) started \(uid 1000\): \/bin\/bash -l -c echo marker-/);
	const pid = started.message.match(/^process (\d+)/)[1];
	assert.ok(logs.some((e) => e.message === `process ${pid} ended: exit code 3`));
	assert.ok(logs.some((e) => /^envd .* listening on .* for sandbox /.test(e.message)), 'the agent start line');
	for (const e of logs) {
		assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
		assert.ok(['debug', 'info', 'warn', 'error'].includes(e.level));
		assert.equal(e.fields.logger, 'warren-agent');
		assert.ok(Math.abs(Date.parse(e.timestamp) - Date.now()) < 600_000);
	}
	for (let i = 1; i < logs.length; i++) assert.ok(logs[i].timestamp >= logs[i - 1].timestamp, 'oldest first');

	// v1, as `e2b sandbox logs` reads it: every line is a JSON object with a level.
	const v1 = await request(w, { path: `/sandboxes/${s.sandboxId}/logs?start=0` });
	assert.equal(v1.status, 200);
	assert.equal(v1.json.logs.length, v1.json.logEntries.length);
	const lines = v1.json.logs.map((l) => JSON.parse(l.line));
	assert.ok(lines.every((l) => typeof l.level === 'string' && l.logger === 'warren-agent'));
	assert.ok(lines.some((l) => l.message.includes(tag)));
});

test('cursor, limit, direction, level and search', async () => {
	const s = await create();
	for (let i = 0; i < 3; i++) await s.commands.run(`echo round-${i}`);
	const all = await waitFor(async () => {
		const l = await logsV2(s.sandboxId);
		return l.filter((e) => /ended: exit code 0/.test(e.message)).length >= 3 ? l : null;
	}, { timeoutMs: 30_000 });
	assert.ok(all);

	const two = await logsV2(s.sandboxId, '?limit=2');
	assert.deepEqual(two, all.slice(0, 2));
	const back = await logsV2(s.sandboxId, '?direction=backward&limit=2');
	assert.deepEqual(back, all.slice(-2).reverse());
	const found = await logsV2(s.sandboxId, '?search=round-1');
	assert.equal(found.length, 1);
	assert.match(found[0].message, /round-1/);
	assert.deepEqual(await logsV2(s.sandboxId, '?level=error'), []);
	assert.equal((await logsV2(s.sandboxId, '?level=info')).length, all.length);
	const cursor = Date.parse(all.at(-1).timestamp);
	const after = await logsV2(s.sandboxId, `?cursor=${cursor}`);
	assert.ok(after.length >= 1 && after.every((e) => Date.parse(e.timestamp) >= cursor));
	const before = await logsV2(s.sandboxId, `?cursor=${Date.parse(all[0].timestamp)}&direction=backward`);
	assert.ok(before.every((e) => Date.parse(e.timestamp) <= Date.parse(all[0].timestamp)));
	assert.equal((await logsV2(s.sandboxId, `?cursor=${Date.now() + 3600_000}`)).length, 0);
	assert.deepEqual(await logsV2(s.sandboxId, '?limit=0'), []);

	for (const q of ['?limit=1001', '?limit=-1', '?direction=up', '?level=fatal', '?cursor=x', `?search=${'a'.repeat(257)}`]) {
		const r = await request(w, { path: `/v2/sandboxes/${s.sandboxId}/logs${q}` });
		assert.equal(r.status, 400, q);
		assert.equal(r.json.code, 400);
	}
	const gone = await request(w, { path: '/v2/sandboxes/nosuchsandbox0000000/logs' });
	assert.equal(gone.status, 404);
});

test('the agent rotates its log at 1 MiB and both files are served', async () => {
	const s = await create();
	const log = '/var/log/warren-agent.log';
	// 1 MiB of agent-format lines appended to the file the agent writes (root inside may).
	const gen =
		"l = ''.join('2026-01-01T00:00:00.000Z filler info line %d\\n' % i for i in range(40000))\n" +
		`open('${log}', 'a').write(l[:1048576 + 100])\n`;
	await s.commands.run(`echo ${Buffer.from(gen).toString('base64')} | base64 -d | python3`, { user: 'root' });
	// The next process start finds it over 1 MiB: renamed to .1, a fresh file for what follows.
	await s.commands.run('echo after-rotation');
	const sizes = await s.commands.run(`stat -c %s ${log} ${log}.1`, { user: 'root' });
	const [cur, old] = sizes.stdout.trim().split('\n').map(Number);
	assert.ok(old >= 1048576 && cur < 4096, `sizes: ${sizes.stdout}`);
	const l = await logsV2(s.sandboxId, '?direction=backward&limit=1000');
	assert.ok(l.some((e) => e.message.includes('echo after-rotation')), 'the line after the rotation');
	assert.ok(l.some((e) => e.fields.logger === 'filler'), 'lines of the rotated file');
});

test('a hostile sandbox cannot make warrend read host files, block, or break the answer', async () => {
	const s = await create();
	const root = { user: 'root' };
	const log = '/var/log/warren-agent.log';
	const id = s.sandboxId;

	// Garbage, forged lines, bytes that are not UTF-8, a line without a newline at the end.
	await s.commands.run(
		`printf '%s\\n' 'not a log line' '2026-13-01T00:00:00.000Z x info bad month' '2026-01-01T00:00:00.000Z forged info [abc] hello' >> ${log};` +
			` printf '2026-01-01T00:00:01.000Z forged warn \\xff\\xfe\\x01 tail' >> ${log}`,
		root,
	);
	const l = await logsV2(id);
	assert.ok(!l.some((e) => e.message === 'not a log line' || e.message === 'bad month' || e.fields.logger === 'x'));
	const forged = l.find((e) => e.fields.logger === 'forged' && e.level === 'info');
	assert.equal(forged.message, 'hello');
	const bin = l.find((e) => e.fields.logger === 'forged' && e.level === 'warn');
	// Bytes that are not UTF-8 become '?'; the agent's next line is glued to the unterminated one
	// (the sandbox's own doing, in its own log).
	assert.ok(bin && bin.message.startsWith('??\u0001 tail'), JSON.stringify(bin));

	// A link to a host path: nothing of the host's file shows.
	await s.commands.run(`mv ${log} ${log}.keep; ln -s /etc/hostname ${log}; rm -f ${log}.1; ln -s /proc/1/environ ${log}.1`, root);
	const linked = await logsV2(id);
	assert.ok(Array.isArray(linked));
	assert.ok(!JSON.stringify(linked).includes('WARREN_'));

	// A FIFO nobody writes: the answer comes anyway.
	await s.commands.run(`rm -f ${log}; mkfifo ${log}`, root);
	const t0 = Date.now();
	assert.ok(Array.isArray(await logsV2(id)));
	assert.ok(Date.now() - t0 < 10_000);

	// A 64 MiB file: only its tail is read, the answer stays small and quick.
	await s.commands.run(
		`rm -f ${log}; for i in $(seq 1 2000); do echo "2026-01-01T00:00:02.000Z big info line $i"; done > /tmp/l;` +
			` head -c 67108864 /dev/zero > ${log}; cat /tmp/l >> ${log}`,
		root,
	);
	const big = await request(w, { path: `/v2/sandboxes/${id}/logs?direction=backward&limit=1000` });
	assert.equal(big.status, 200);
	assert.equal(big.json.logs[0].message, 'line 2000');
	assert.ok(big.body.length < 2 * 1024 * 1024);

	// The agent keeps serving and logging (its open file was replaced underneath it).
	const r = await s.commands.run('echo still-here');
	assert.equal(r.stdout, 'still-here\n');
});
