// The `warren` CLI against a real warrend: terminals through `warren sandbox connect|spawn`
// driven inside tmux (send-keys, then capture-pane until the expected text appears), and the
// non-interactive commands (exec, list, kill, usage errors) through spawnSync.
//
// Needs root (warrend), tmux, and a built $BUILD/src/warren/warren.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';

import { buildDir, startWarrend } from '../sdk/helpers/warrend.mjs';

const WARREN = process.env.WARREN_CLI || path.join(buildDir(), 'src/warren/warren');
const POLL_MS = 50;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let w;
const created = new Set();

async function rest(method, url, body) {
	const res = await fetch(w.apiUrl + url, {
		method,
		headers: { 'X-API-KEY': w.apiKey, 'Content-Type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function createSandbox(metadata = {}) {
	const r = await rest('POST', '/v2/sandboxes', { templateID: 'base', timeout: 300, metadata });
	assert.equal(r.status, 201, JSON.stringify(r.json));
	created.add(r.json.sandboxID);
	return r.json.sandboxID;
}

function cliEnv(extra = {}) {
	return {
		...process.env,
		E2B_API_URL: w.apiUrl,
		E2B_SANDBOX_URL: w.sandboxUrl,
		E2B_API_KEY: w.apiKey,
		...extra,
	};
}

// Runs the CLI to completion (bounded).
function cli(args, { input, env } = {}) {
	const r = spawnSync(WARREN, args, {
		input,
		env: env || cliEnv(),
		encoding: 'utf8',
		timeout: 60000,
		killSignal: 'SIGKILL',
	});
	if (r.error) throw r.error;
	return r;
}

// A private tmux server (own socket) with one 100x30 window running a plain local bash.
class Tmux {
	constructor() {
		this.sock = `warren-cli-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
		this.conf = path.join(os.tmpdir(), `${this.sock}.conf`);
		// An explicit socket path: tmux leaves its socket file behind after kill-server.
		this.sockPath = path.join(os.tmpdir(), `${this.sock}.sock`);
		fs.writeFileSync(this.conf, 'set -g status off\nset -g history-limit 5000\n');
	}

	run(...args) {
		const r = spawnSync('tmux', ['-S', this.sockPath, '-f', this.conf, ...args], { encoding: 'utf8', timeout: 10000 });
		if (r.error) throw r.error;
		if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
		return r.stdout;
	}

	start() {
		const env = cliEnv();
		const exports = ['E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_API_KEY']
			.map((k) => `${k}=${env[k]}`)
			.join(' ');
		// The local shell: no rc files, a prompt no sandbox prints, warren on PATH.
		const shell = `env -i HOME=/root TERM=screen PATH=${path.dirname(WARREN)}:/usr/sbin:/usr/bin:/sbin:/bin ${exports} PS1='LOCAL> ' bash --norc --noprofile`;
		this.run('new-session', '-d', '-s', 't', '-x', '100', '-y', '30', shell);
	}

	send(text) {
		this.run('send-keys', '-t', 't', '-l', text);
		this.run('send-keys', '-t', 't', 'Enter');
	}

	keys(...k) {
		this.run('send-keys', '-t', 't', ...k);
	}

	capture() {
		return this.run('capture-pane', '-p', '-J', '-t', 't', '-S', '-2000');
	}

	// Polls the pane (scrollback included) until re matches, or fails with the pane's text.
	async waitFor(re, timeoutMs = 30000) {
		const end = Date.now() + timeoutMs;
		let text = '';
		for (;;) {
			text = this.capture();
			const m = text.match(re);
			if (m) return m;
			if (Date.now() >= end) assert.fail(`pane never matched ${re} within ${timeoutMs} ms; pane:\n${text}`);
			await sleep(POLL_MS);
		}
	}

	clear() {
		this.run('clear-history', '-t', 't');
	}

	panePid() {
		return Number(this.run('display-message', '-p', '-t', 't', '#{pane_pid}').trim());
	}

	kill() {
		try {
			this.run('kill-server');
		} catch {
			/* already gone */
		}
		fs.rmSync(this.conf, { force: true });
		fs.rmSync(this.sockPath, { force: true });
	}
}

// The pid of the `warren` process the pane's shell runs.
function warrenPid(shellPid) {
	const r = spawnSync('pgrep', ['-P', String(shellPid), '-x', 'warren'], { encoding: 'utf8' });
	const pids = r.stdout.split('\n').filter(Boolean).map(Number);
	return pids.length === 1 ? pids[0] : 0;
}

// The local terminal is sane again: canonical mode and echo on (`stty -a` prints
// "icanon" and "echo", not "-icanon"/"-echo").
async function assertSaneTerminal(t, tag) {
	t.send(`stty -a | tr ' ' '\\n' | grep -xE -- '-?(icanon|echo|isig)' | sed 's/^/${tag}:/'`);
	const m = await t.waitFor(new RegExp(`${tag}:-?isig`));
	const text = t.capture();
	// A sanitizer build of the CLI reports into the pane.
	assert.doesNotMatch(text, /ERROR: \w+Sanitizer|runtime error: /);
	assert.match(text, new RegExp(`^${tag}:icanon$`, 'm'), m.input);
	assert.match(text, new RegExp(`^${tag}:echo$`, 'm'));
	assert.match(text, new RegExp(`^${tag}:isig$`, 'm'));
}

before(async () => {
	assert.ok(fs.existsSync(WARREN), `warren not built: ${WARREN}`);
	w = await startWarrend({ setEnv: false });
});

after(async () => {
	if (!w) return;
	for (const id of created) await rest('DELETE', `/sandboxes/${id}`).catch(() => {});
	await w.stop();
});

describe('terminal (tmux)', () => {
	// A fresh tmux server per test: a failure leaves no remote shell behind for the next one.
	let t;
	beforeEach(() => {
		t = new Tmux();
		t.start();
	});
	afterEach(() => t && t.kill());

	test('connect: prompt, TERM, Ctrl-C, resize, exit code, sane terminal', async () => {
		const id = await createSandbox();
		await t.waitFor(/LOCAL> $/m);
		t.send(`warren sandbox connect ${id}; echo "rc=$?"`);
		// The remote login shell's prompt names the sandbox (hostname = id).
		await t.waitFor(new RegExp(`@${id}[^\\n]*[$#] *$`, 'm'));

		t.send('echo $TERM');
		await t.waitFor(/^xterm-256color\s*$/m);

		// Raw mode: Ctrl-C is a byte for the remote side; it interrupts the remote job and
		// the CLI stays attached.
		t.send('sleep 1000');
		t.keys('C-c');
		t.send('echo "still-$((40 + 2))"');
		await t.waitFor(/^still-42\s*$/m);

		t.send(`stty size | sed 's/^/SZ1:/'`);
		await t.waitFor(/^SZ1:30 100\s*$/m);
		t.run('resize-window', '-t', 't', '-x', '120', '-y', '40');
		// SIGWINCH reaches the CLI asynchronously: poll the remote size until it follows.
		const end = Date.now() + 20000;
		let ok = false;
		for (let i = 0; !ok && Date.now() < end; i++) {
			t.send(`stty size | sed 's/^/SZ2-${i}:/'`);
			try {
				await t.waitFor(new RegExp(`^SZ2-${i}:\\d+ \\d+\\s*$`, 'm'), 10000);
			} catch {
				continue;
			}
			ok = new RegExp(`^SZ2-${i}:40 120\\s*$`, 'm').test(t.capture());
			if (!ok) await sleep(100);
		}
		assert.ok(ok, `stty size never became "40 120":\n${t.capture()}`);

		t.send('exit 7');
		await t.waitFor(/^rc=7\s*$/m);
		await assertSaneTerminal(t, 'AFTER7');

		// `connect` leaves the sandbox running.
		const info = await rest('GET', `/sandboxes/${id}`);
		assert.equal(info.status, 200);
	});

	test('connect: SIGTERM from outside restores the terminal and exits 143', async () => {
		const id = await createSandbox();
		await t.waitFor(/LOCAL> $/m);
		t.send(`warren sandbox connect ${id}; echo "rc=$?"`);
		await t.waitFor(new RegExp(`@${id}[^\\n]*[$#] *$`, 'm'));
		const shellPid = t.panePid();
		const pid = warrenPid(shellPid);
		assert.ok(pid > 0, 'warren process not found under the pane shell');
		process.kill(pid, 'SIGTERM');
		await t.waitFor(/^rc=143\s*$/m);
		await assertSaneTerminal(t, 'AFTERTERM');
	});

	test('spawn: creates a sandbox, exits with the shell code and kills the sandbox', async () => {
		// The marker line keeps earlier tests' prompts (still on the screen) out of the match.
		t.send(`echo SPAWN-BEGIN; warren sandbox spawn --metadata owner=cli-test; echo "rc=$?"`);
		const m = await t.waitFor(/^SPAWN-BEGIN\s*\n(?:.*\n)*?[^\n]*@([a-z0-9]+)[^\n]*[$#] *$/m);
		const id = m[1];
		const listed = await rest('GET', '/v2/sandboxes');
		assert.ok(
			listed.json.some((s) => s.sandboxID === id && s.metadata && s.metadata.owner === 'cli-test'),
			JSON.stringify(listed.json),
		);
		t.send('echo "host=$(hostname)"');
		await t.waitFor(new RegExp(`^host=${id}\\s*$`, 'm'));
		t.send('exit 5');
		await t.waitFor(/^rc=5\s*$/m);
		await assertSaneTerminal(t, 'AFTERSPAWN');
		// The CLI killed it before exiting.
		const info = await rest('GET', `/sandboxes/${id}`);
		assert.equal(info.status, 404);
	});

	test('spawn: SIGHUP from outside restores the terminal, exits 129, kills the sandbox', async () => {
		t.send(`echo HUP-BEGIN; warren sandbox spawn; echo "rc=$?"`);
		const m = await t.waitFor(/^HUP-BEGIN\s*\n(?:.*\n)*?[^\n]*@([a-z0-9]+)[^\n]*[$#] *$/m);
		const id = m[1];
		assert.equal((await rest('GET', `/sandboxes/${id}`)).status, 200);
		const pid = warrenPid(t.panePid());
		assert.ok(pid > 0, 'warren process not found under the pane shell');
		process.kill(pid, 'SIGHUP');
		await t.waitFor(/^rc=129\s*$/m);
		await assertSaneTerminal(t, 'AFTERHUP');
		assert.equal((await rest('GET', `/sandboxes/${id}`)).status, 404);
	});
});

describe('commands', () => {
	let id;
	before(async () => {
		id = await createSandbox({ suite: 'cli' });
	});

	test('exec passes stdout, stderr and the exit code', () => {
		const r = cli(['sandbox', 'exec', id, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
		assert.equal(r.stdout, 'out\n');
		assert.equal(r.stderr, 'err\n');
		assert.equal(r.status, 3);
	});

	test('exec forwards stdin and closes it at its end', () => {
		const r = cli(['sandbox', 'exec', id, '--', 'cat'], { input: 'hi\n' });
		assert.equal(r.stdout, 'hi\n');
		assert.equal(r.stderr, '');
		assert.equal(r.status, 0);
		// Bigger than one read, binary-safe lines, in order.
		const big = Array.from({ length: 20000 }, (_, i) => `line ${i}`).join('\n') + '\n';
		const r2 = cli(['sandbox', 'exec', id, '--', 'sha256sum'], { input: big });
		assert.equal(r2.status, 0, r2.stderr);
		assert.equal(r2.stdout.split(' ')[0], crypto.createHash('sha256').update(big).digest('hex'));
	});

	test('exec quotes arguments and takes --env, --cwd', () => {
		const r = cli(['sandbox', 'exec', '-e', 'FOO=a b', '--cwd', '/tmp', id, '--', 'sh', '-c', 'printf "%s|%s|%s\\n" "$FOO" "$(pwd)" "$0"', "it's"]);
		assert.equal(r.status, 0, r.stderr);
		assert.equal(r.stdout, "a b|/tmp|it's\n");
	});

	test('exec: a reader that goes away ends the remote command (141, as SIGPIPE)', () => {
		const r = spawnSync('bash', ['-c', `"$0" sandbox exec ${id} -- yes | head -2; echo "st=\${PIPESTATUS[0]}"`, WARREN], {
			env: cliEnv(),
			encoding: 'utf8',
			timeout: 60000,
			killSignal: 'SIGKILL',
		});
		assert.equal(r.stdout, 'y\ny\nst=141\n', r.stderr);
		// Killed at once; polled only because the agent reaps it asynchronously.
		const end = Date.now() + 10000;
		let ps;
		for (;;) {
			ps = cli(['sandbox', 'exec', id, '--', 'ps', '-eo', 'stat=,comm=']);
			assert.equal(ps.status, 0, ps.stderr);
			const alive = ps.stdout.split('\n').some((l) => /^[^Z]\S*\s+yes$/.test(l.trim()));
			if (!alive) break;
			assert.ok(Date.now() < end, `yes still runs:\n${ps.stdout}`);
		}
	});

	test('connect with a piped stdin forwards it to the shell; unknown id fails', () => {
		const r = cli(['sandbox', 'connect', id], { input: 'echo "piped-$((6 * 7))"\nexit 4\n' });
		assert.equal(r.status, 4, r.stderr);
		assert.match(r.stdout, /piped-42/);
		const bad = cli(['sandbox', 'connect', 'nosuchsandbox0000']);
		assert.equal(bad.status, 1);
		assert.match(bad.stderr, /^warren: sandbox 'nosuchsandbox0000' not found$/m);
	});

	test('spawn keeps its sandbox alive past the 30 s create timeout, then kills it', async () => {
		// Created with a 30 s timeout; only the CLI's set_timeout every 5 s keeps it past that.
		const r = cli(['sandbox', 'spawn', '-m', 'case=keepalive'], { input: 'sleep 36; exit 6\n' });
		assert.equal(r.status, 6, r.stderr);
		const ls = cli(['sandbox', 'list', '--json', '-m', 'case=keepalive']);
		assert.deepEqual(JSON.parse(ls.stdout), []);
	});

	test('exec in an unknown sandbox fails with a warren: message', () => {
		const r = cli(['sandbox', 'exec', 'nosuchsandbox0000', '--', 'true']);
		assert.notEqual(r.status, 0);
		assert.match(r.stderr, /^warren: .*nosuchsandbox0000/);
	});

	test('list --json parses and has the sandbox; the table shows it', () => {
		const r = cli(['sandbox', 'list', '--json']);
		assert.equal(r.status, 0, r.stderr);
		const arr = JSON.parse(r.stdout);
		assert.ok(Array.isArray(arr));
		const s = arr.find((x) => x.sandboxID === id);
		assert.ok(s, r.stdout);
		assert.equal(s.templateID, 'base');
		assert.deepEqual(s.metadata, { suite: 'cli' });
		assert.match(s.startedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

		const f = cli(['sandbox', 'list', '--metadata', 'suite=cli', '--json']);
		assert.deepEqual(JSON.parse(f.stdout).map((x) => x.sandboxID), [id]);
		const none = cli(['sandbox', 'list', '--metadata', 'suite=none', '--json']);
		assert.deepEqual(JSON.parse(none.stdout), []);

		const tbl = cli(['sandbox', 'ls']);
		assert.equal(tbl.status, 0, tbl.stderr);
		const lines = tbl.stdout.trimEnd().split('\n');
		assert.match(lines[0], /^SANDBOX ID +TEMPLATE +STARTED \(UTC\) +END \(UTC\) +STATE +METADATA$/);
		const row = lines.find((l) => l.startsWith(id + ' '));
		assert.ok(row, tbl.stdout);
		assert.match(row, /running +suite=cli$/);
	});

	test('kill: unknown id fails with a warren: message; a known one is gone', async () => {
		const bad = cli(['sandbox', 'kill', 'nosuchsandbox0000']);
		assert.equal(bad.status, 1);
		assert.match(bad.stderr, /^warren: sandbox 'nosuchsandbox0000' not found$/m);

		const other = await createSandbox();
		const ok = cli(['sandbox', 'kill', other]);
		assert.equal(ok.status, 0, ok.stderr);
		assert.equal(ok.stdout, `${other}\n`);
		assert.equal((await rest('GET', `/sandboxes/${other}`)).status, 404);
	});

	test('kill --all --metadata kills the matching sandboxes only', async () => {
		const a = await createSandbox({ group: 'doomed' });
		const b = await createSandbox({ group: 'doomed' });
		const r = cli(['sandbox', 'kill', '--all', '--metadata', 'group=doomed']);
		assert.equal(r.status, 0, r.stderr);
		assert.deepEqual(r.stdout.trim().split('\n').sort(), [a, b].sort());
		assert.equal((await rest('GET', `/sandboxes/${a}`)).status, 404);
		assert.equal((await rest('GET', `/sandboxes/${id}`)).status, 200);
	});

	test('settings come from flags as well as the environment', () => {
		const env = { PATH: process.env.PATH };
		const noKey = cli(['sandbox', 'list'], { env });
		assert.equal(noKey.status, 1);
		assert.match(noKey.stderr, /^warren: no API key/);
		const r = cli(['--api-url', w.apiUrl, 'sandbox', 'list', '--json', '--api-key', w.apiKey], { env });
		assert.equal(r.status, 0, r.stderr);
		assert.ok(JSON.parse(r.stdout).some((x) => x.sandboxID === id));
		const wrong = cli(['sandbox', 'list', '--api-key', 'e2b_' + '0'.repeat(40)]);
		assert.equal(wrong.status, 1);
		assert.match(wrong.stderr, /^warren: /);
	});

	test('--help everywhere; usage errors exit 2 with warren:', () => {
		for (const args of [
			['--help'],
			['help'],
			['sandbox', '--help'],
			['sandbox', 'spawn', '--help'],
			['sandbox', 'connect', '--help'],
			['sandbox', 'list', '--help'],
			['sandbox', 'kill', '--help'],
			['sandbox', 'exec', '--help'],
			['help', 'sandbox', 'exec'],
		]) {
			const r = cli(args);
			assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
			assert.match(r.stdout, /^Usage: warren/, args.join(' '));
			assert.equal(r.stderr, '');
		}
		for (const args of [
			[],
			['nosuchcommand'],
			['sandbox'],
			['sandbox', 'frobnicate'],
			['sandbox', 'list', '--nope'],
			['sandbox', 'kill'],
			['sandbox', 'kill', '--all', 'x'],
			['sandbox', 'connect'],
			['sandbox', 'exec', 'x'],
			['sandbox', 'exec', '--env', 'novalue', 'x', '--', 'true'],
		]) {
			const r = cli(args);
			assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
			assert.match(r.stderr, /^warren: /, args.join(' '));
		}
	});
});
