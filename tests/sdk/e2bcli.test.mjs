// The official E2B CLI (npm @e2b/cli, pinned in package-lock.json) against warrend, unchanged,
// pointed at it by E2B_API_URL / E2B_SANDBOX_URL / E2B_API_KEY like the SDK: list (table, JSON,
// state and metadata filters), info, logs, metrics, exec, pause, resume, kill, and create (a
// terminal, driven inside tmux).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startWarrend, waitFor } from './helpers/warrend.mjs';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules/.bin/e2b');
let w, Sandbox, home;
const made = [];

before(async () => {
	// Samples every 300 ms instead of every 5 s, so `metrics` has some at once.
	w = await startWarrend({ env: { WARREN_METRICS_INTERVAL_MS: '300' } });
	({ Sandbox } = await import('e2b'));
	// The CLI keeps its own config under $HOME: an empty one of ours, never the user's.
	home = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-e2bcli-home-'));
});
after(async () => {
	for (const s of made) await s.kill().catch(() => {});
	await w?.stop();
	if (home) fs.rmSync(home, { recursive: true, force: true });
});

// Runs the CLI with the E2B_* settings startWarrend put in the environment: {code, out, err}.
function e2b(...args) {
	return new Promise((resolve, reject) => {
		const p = spawn(CLI, args, {
			env: { ...process.env, HOME: home, NO_COLOR: '1', FORCE_COLOR: '0', CI: '1' },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let out = '';
		let err = '';
		p.stdout.on('data', (d) => (out += d));
		p.stderr.on('data', (d) => (err += d));
		const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
		p.on('error', reject);
		p.on('close', (code) => {
			clearTimeout(t);
			resolve({ code, out, err });
		});
	});
}

async function listJson(...filters) {
	const r = await e2b('sandbox', 'list', '--format', 'json', ...filters);
	assert.equal(r.code, 0, r.err);
	return JSON.parse(r.out);
}

async function create(opts = {}) {
	const s = await Sandbox.create({ timeoutMs: 300_000, ...opts });
	made.push(s);
	return s;
}

test('the pinned CLI is the official one', async () => {
	const r = await e2b('--version');
	assert.equal(r.code, 0, r.err);
	assert.equal(r.out.trim(), '2.19.0');
});

test('list (JSON and table, state and metadata filters) and info', async () => {
	const tag = `cli-${process.pid}-${Date.now()}`;
	const s = await create({ metadata: { tag } });
	const other = await create({ metadata: { tag: `${tag}-other` } });

	const all = await listJson();
	const mine = all.find((x) => x.sandboxId === s.sandboxId);
	assert.ok(mine, `not listed: ${JSON.stringify(all)}`);
	assert.equal(mine.state, 'running');
	assert.equal(mine.templateId, 'base');
	assert.deepEqual(mine.metadata, { tag });
	assert.equal(mine.cpuCount, 2);
	assert.equal(mine.memoryMB, 512);

	const byMeta = await listJson('--metadata', `tag=${tag}`);
	assert.deepEqual(
		byMeta.map((x) => x.sandboxId),
		[s.sandboxId],
	);
	assert.ok(!byMeta.some((x) => x.sandboxId === other.sandboxId));

	const table = await e2b('sandbox', 'list');
	assert.equal(table.code, 0, table.err);
	assert.match(table.out, new RegExp(`${s.sandboxId}\\s+base\\b.*Running`));

	const info = await e2b('sandbox', 'info', s.sandboxId);
	assert.equal(info.code, 0, info.err);
	assert.match(info.out, new RegExp(`Sandbox ID: ${s.sandboxId}`));
	assert.match(info.out, /State: running/);
	assert.match(info.out, new RegExp(`"tag": "${tag}"`));
});

test('logs show the commands run; metrics show the sandbox cgroup figures', async () => {
	const s = await create();
	const marker = `marker-${process.pid}-${Date.now()}`;
	await s.commands.run(`echo ${marker}`);

	const logs = await waitFor(async () => {
		const r = await e2b('sandbox', 'logs', s.sandboxId);
		return r.code === 0 && r.out.includes(marker) ? r : null;
	});
	assert.ok(logs, 'the command never appeared in `e2b sandbox logs`');
	assert.match(logs.out, /envd 0\.6\.13/);
	assert.match(logs.out, new RegExp(`process \\d+ started \\(uid 1000\\): /bin/bash -l -c echo ${marker}`));
	assert.match(logs.out, /process \d+ ended: exit code 0/);

	const m = await waitFor(async () => {
		const r = await e2b('sandbox', 'metrics', s.sandboxId);
		return r.code === 0 && /CPU:/.test(r.out) ? r : null;
	});
	assert.ok(m, 'no metrics line from `e2b sandbox metrics`');
	assert.match(m.out, /CPU:\s+[\d.]+% \/\s+2 Cores \| Memory:\s+\d+ \/ 512\s+MiB \| Disk:\s+\d+ \/ \d+ MiB/);
});

test('exec passes output; pause, list --state paused, resume and kill', async () => {
	const s = await create();
	const ex = await e2b('sandbox', 'exec', s.sandboxId, 'echo', 'from-the-cli');
	assert.equal(ex.code, 0, ex.err);
	assert.equal(ex.out.trim(), 'from-the-cli');

	await s.commands.run('echo kept > /home/user/kept.txt');
	const p = await e2b('sandbox', 'pause', s.sandboxId);
	assert.equal(p.code, 0, p.err + p.out);
	const paused = await listJson('--state', 'paused');
	assert.equal(paused.find((x) => x.sandboxId === s.sandboxId)?.state, 'paused', JSON.stringify(paused));
	assert.ok(!(await listJson()).some((x) => x.sandboxId === s.sandboxId), 'a paused sandbox is not running');

	const r = await e2b('sandbox', 'resume', s.sandboxId);
	assert.equal(r.code, 0, r.err + r.out);
	const back = await Sandbox.connect(s.sandboxId);
	assert.equal((await back.commands.run('cat /home/user/kept.txt')).stdout, 'kept\n');

	const k = await e2b('sandbox', 'kill', s.sandboxId);
	assert.equal(k.code, 0, k.err + k.out);
	assert.ok(!(await listJson('--state', 'running,paused')).some((x) => x.sandboxId === s.sandboxId));
	await assert.rejects(Sandbox.connect(s.sandboxId));
});

test('an unknown sandbox is an error, not a crash', async () => {
	// The CLI words a 404 itself: "Sandbox <id> wasn't found".
	const r = await e2b('sandbox', 'info', 'nosuchsandbox0000000');
	assert.notEqual(r.code, 0, r.out);
	assert.match(r.err, /Sandbox nosuchsandbox0000000 wasn't found/);
	const k = await e2b('sandbox', 'kill', 'nosuchsandbox0000000');
	assert.match(k.err, /Sandbox nosuchsandbox0000000 wasn't found/);
	const list = await listJson();
	assert.ok(Array.isArray(list));
});

// `e2b sandbox create` opens a terminal in a new sandbox (inside tmux, as a person would type).
test('sandbox create: a terminal in a new sandbox, which goes when the shell exits', { skip: !spawnSync('tmux', ['-V']).stdout }, async () => {
	const session = `e2bcli-${process.pid}`;
	const done = path.join(home, 'create.rc');
	const env = ['HOME', 'E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_API_KEY'].map((k) => `${k}='${k === 'HOME' ? home : process.env[k]}'`).join(' ');
	const tmux = (...a) => execFileSync('tmux', a, { encoding: 'utf8' });
	const screen = () => tmux('capture-pane', '-p', '-t', session);
	tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '30', `env ${env} NO_COLOR=1 ${CLI} sandbox create base; echo $? > ${done}; sleep 60`);
	try {
		const prompt = await waitFor(() => /user@([a-z0-9]{20}):~\$/.exec(screen()), { timeoutMs: 30_000 });
		assert.ok(prompt, `no prompt: ${screen()}`);
		const id = prompt[1];
		assert.equal((await listJson()).find((x) => x.sandboxId === id)?.state, 'running');
		tmux('send-keys', '-t', session, 'echo $((6 * 7))-$(id -un)', 'Enter');
		assert.ok(await waitFor(() => screen().includes('42-user')), `no output: ${screen()}`);
		tmux('send-keys', '-t', session, 'exit', 'Enter');
		assert.ok(await waitFor(() => fs.existsSync(done), { timeoutMs: 30_000 }), `the CLI did not end: ${screen()}`);
		assert.equal(fs.readFileSync(done, 'utf8').trim(), '0');
		const gone = await waitFor(async () => !(await listJson()).some((x) => x.sandboxId === id), { timeoutMs: 15_000 });
		assert.ok(gone, 'the sandbox outlived its terminal');
	} finally {
		spawnSync('tmux', ['kill-session', '-t', session]);
	}
});
