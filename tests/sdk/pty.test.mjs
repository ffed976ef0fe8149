// sandbox.pty through the SDK: an interactive login bash on a terminal (size, env, cwd, user,
// escape sequences), input in order with control bytes (Ctrl-C, Ctrl-D), resize and SIGWINCH,
// disconnect/connect and two clients at once, kill, exit codes, timeouts, and back-pressure
// from a slow client with bounded memory in the agent and warrend.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { envelope } from './helpers/raw.mjs';
import { startWarrend, waitFor } from './helpers/warrend.mjs';

let w, sbx, E2B;
before(async () => {
	w = await startWarrend();
	E2B = await import('e2b');
	sbx = await E2B.Sandbox.create({ timeoutMs: 600_000 });
});
after(async () => {
	await sbx?.kill().catch(() => {});
	await w?.stop();
});

const enc = (s) => new TextEncoder().encode(s);

// A terminal whose output is collected; until(re) polls the output with a deadline.
async function open(opts = {}) {
	const o = { text: '' };
	const dec = new TextDecoder();
	o.t = await sbx.pty.create({
		cols: 80,
		rows: 24,
		timeoutMs: 0,
		...opts,
		onData: (d) => {
			o.text += dec.decode(d, { stream: true });
		},
	});
	o.send = (s) => sbx.pty.sendInput(o.t.pid, enc(s));
	o.until = (re, timeoutMs = 10000) => untilText(() => o.text, re, timeoutMs);
	return o;
}

async function untilText(get, re, timeoutMs = 10000) {
	const ok = await waitFor(() => re.test(get()), { timeoutMs, intervalMs: 20 });
	assert.ok(ok, `no ${re} in output within ${timeoutMs} ms:\n${JSON.stringify(get().slice(-2000))}`);
	return get();
}

// Runs a line in the shell and waits for its output, which ends with a marker computed by the
// shell ($((n+1))) so that the echo of the typed line itself never matches.
let seq = 0;
async function run(o, line) {
	const n = ++seq * 1000;
	const from = o.text.length;
	await o.send(`${line}; echo "@@${n}:$((${n}+1))@@"\n`);
	await o.until(new RegExp(`@@${n}:${n + 1}@@`));
	const out = o.text.slice(from);
	// Past the (last) echo of the typed line (typed ahead of readline, the terminal echoes it
	// too, as a real one does) and bash's "end bracketed paste" (ESC [?2004l CR).
	const echo = `"@@${n}:$((${n}+1))@@"\r\n`;
	const end = out.indexOf(`@@${n}:${n + 1}@@`);
	const typed = out.lastIndexOf(echo, end);
	assert.ok(typed >= 0, `no echo of the typed line in ${JSON.stringify(out)}`);
	return out.slice(typed + echo.length, end).replace(/^\x1b\[\?2004l\r/, '');
}

async function running(pid) {
	return (await sbx.commands.list()).some((p) => p.pid === pid);
}

test('create: interactive login bash, TERM, size, envs, cwd, user; escapes intact; pid in list', async () => {
	const o = await open({ cols: 97, rows: 31, envs: { PTY_VAR: 'pv' }, cwd: '/tmp' });
	try {
		assert.ok(o.t.pid > 0);
		const procs = await sbx.commands.list();
		const mine = procs.find((p) => p.pid === o.t.pid);
		assert.ok(mine, `pid ${o.t.pid} not in ${JSON.stringify(procs)}`);
		assert.equal(mine.cmd, '/bin/bash');
		assert.deepEqual(mine.args, ['-i', '-l']);
		let out = await run(o, 'echo "T=$TERM V=$PTY_VAR D=$PWD U=$(id -un) S=$(stty size)"');
		assert.match(out, /T=xterm-256color V=pv D=\/tmp U=user S=31 97\r\n/);
		out = await run(o, 'shopt -q login_shell && echo LOGIN; [[ $- == *i* ]] && echo INTER; tty; echo $$');
		assert.match(out, /LOGIN\r\nINTER\r\n\/dev\/pts\/\d+\r\n/);
		assert.match(out, new RegExp(`\\r\\n${o.t.pid}\\r\\n$`), 'the shell is the process the SDK got');
		// Colours and other escape sequences pass through byte for byte.
		out = await run(o, "printf '\\033[1;31mRED\\033[0m\\033]0;title\\007\\n'");
		assert.ok(out.includes('\x1b[1;31mRED\x1b[0m\x1b]0;title\x07\r\n'), JSON.stringify(out));
	} finally {
		await o.t.kill();
	}
	const r = await open({ user: 'root' });
	try {
		assert.match(await run(r, 'id -un; echo $HOME; echo $PWD'), /^root\r\n\/root\r\n\/root\r\n$/);
	} finally {
		await r.t.kill();
	}
});

test('sendInput: bytes in order; Ctrl-C interrupts the foreground job; Ctrl-D ends the shell', async () => {
	const o = await open();
	// Many small writes, each awaited, must arrive in order.
	const word = 'abcdefghijklmnopqrstuvwxyz0123456789';
	await o.send('echo X');
	for (const ch of word) await o.send(ch);
	await o.send('Y\n');
	await o.until(new RegExp(`[\\r\\n]X${word}Y\\r\\n`));

	// The foreground job gets SIGINT from the terminal (not the shell: it survives).
	await o.send('sleep 1000\n');
	const sleeping = await waitFor(async () => {
		const r = await sbx.commands.run('pgrep -x sleep || true');
		return r.stdout.trim();
	});
	assert.ok(sleeping, 'sleep did not start');
	await o.send('\x03');
	const out = await run(o, 'echo "rc=$?"');
	assert.match(out, /rc=130\r\n/);
	assert.equal((await sbx.commands.run('pgrep -x sleep || true')).stdout, '');

	// Ctrl-D at an empty prompt: bash exits 0 and the SDK's wait resolves.
	await o.send('\x04');
	const res = await o.t.wait();
	assert.equal(res.exitCode, 0);
	assert.equal(await running(o.t.pid), false);
});

test('resize: stty size follows, and the foreground program gets SIGWINCH', async () => {
	const o = await open({ cols: 80, rows: 24 });
	try {
		assert.match(await run(o, 'stty size'), /^24 80\r\n$/);
		await sbx.pty.resize(o.t.pid, { cols: 132, rows: 43 });
		assert.match(await run(o, 'stty size'), /^43 132\r\n$/);
		await o.send(
			'python3 -c "import os, signal; ' +
				"signal.signal(signal.SIGWINCH, lambda *a: print('WINCH', *os.get_terminal_size(), flush=True)); " +
				"print('READY', flush=True); [signal.pause() for _ in iter(int, 1)]\"\n",
		);
		await o.until(/[\r\n]READY\r\n/);
		await sbx.pty.resize(o.t.pid, { cols: 100, rows: 30 });
		await o.until(/\r\nWINCH 100 30\r\n/);
		await sbx.pty.resize(o.t.pid, { cols: 101, rows: 29 });
		await o.until(/\r\nWINCH 101 29\r\n/);
		await o.send('\x03');
		assert.match(await run(o, 'echo "rc=$?"; stty size'), /rc=130\r\n29 101\r\n/);
	} finally {
		await o.t.kill();
	}
});

test('disconnect leaves the PTY running; connect receives new output; two clients both receive', async () => {
	const o = await open();
	const pid = o.t.pid;
	try {
		await run(o, 'true');
		await o.t.disconnect();
		const seen = o.text.length;
		assert.equal(await running(pid), true);
		// Produced while nobody is attached: not replayed to a later client.
		await sbx.commands.run('rm -f /tmp/.pty-gone');
		await o.send('echo "GONE$((40+2))"; touch /tmp/.pty-gone\n');
		assert.ok(await waitFor(async () => (await sbx.commands.run('test -e /tmp/.pty-gone && echo y || true')).stdout === 'y\n'));
		const c1 = { text: '' };
		const t1 = await sbx.pty.connect(pid, { onData: (d) => (c1.text += new TextDecoder().decode(d)) });
		assert.equal(t1.pid, pid);
		await sbx.pty.sendInput(pid, enc('echo "AGAIN$((1+1))"\n'));
		await untilText(() => c1.text, /AGAIN2\r\n/);
		const c2 = { text: '' };
		const t2 = await sbx.pty.connect(pid, { onData: (d) => (c2.text += new TextDecoder().decode(d)) });
		await sbx.pty.sendInput(pid, enc('echo "BOTH$((2+1))"\n'));
		await untilText(() => c1.text, /BOTH3\r\n/);
		await untilText(() => c2.text, /BOTH3\r\n/);
		assert.ok(!c2.text.includes('AGAIN2'), 'the second client got output from before it attached');
		assert.ok(!c1.text.includes('GONE42'), 'output from while nobody was attached was replayed');
		assert.equal(o.text.length, seen, 'a disconnected handle still received output');
		await t2.disconnect();
		await sbx.pty.sendInput(pid, enc('echo "ONE$((3+1))"\n'));
		await untilText(() => c1.text, /ONE4\r\n/);
		assert.ok(!c2.text.includes('ONE4'));
		await t1.disconnect();
		assert.equal(await running(pid), true);
	} finally {
		await sbx.pty.kill(pid);
	}
});

test('kill: pty.kill and terminal.kill return true, false for an unknown pid', async () => {
	const a = await open();
	assert.equal(await sbx.pty.kill(a.t.pid), true);
	await assert.rejects(a.t.wait(), (e) => {
		assert.ok(e instanceof E2B.CommandExitError, `got ${e?.constructor?.name}: ${e?.message}`);
		assert.equal(e.exitCode, -1);
		assert.match(e.error, /signal: killed/);
		return true;
	});
	assert.equal(await running(a.t.pid), false);
	const b = await open();
	assert.equal(await b.t.kill(), true);
	await assert.rejects(b.t.wait(), (e) => e instanceof E2B.CommandExitError);
	assert.equal(await sbx.pty.kill(b.t.pid), false);
	assert.equal(await sbx.pty.kill(999999), false);
});

test('exit 3: terminal.wait() rejects with CommandExitError exitCode 3 (as for commands)', async () => {
	const o = await open();
	await run(o, 'true');
	await o.send('exit 3\n');
	await assert.rejects(o.t.wait(), (e) => {
		assert.ok(e instanceof E2B.CommandExitError, `got ${e?.constructor?.name}: ${e?.message}`);
		assert.equal(e.exitCode, 3);
		assert.equal(e.error, 'exit status 3');
		return true;
	});
	assert.equal(await running(o.t.pid), false);
});

test('timeoutMs ends the session; timeoutMs 0 keeps it open', async () => {
	const t0 = Date.now();
	const short = await open({ timeoutMs: 1500 });
	const open0 = await open({ timeoutMs: 0 });
	try {
		await run(short, 'true');
		await assert.rejects(short.t.wait(), (e) => {
			assert.ok(e instanceof E2B.TimeoutError, `got ${e?.constructor?.name}: ${e?.message}`);
			return true;
		});
		const took = Date.now() - t0;
		assert.ok(took >= 1400, `ended after ${took} ms`);
		assert.ok(await waitFor(async () => !(await running(short.t.pid))), 'the timed-out PTY still runs');
		// The one without a timeout outlives it and still answers.
		assert.equal(await running(open0.t.pid), true);
		assert.match(await run(open0, 'echo alive'), /^alive\r\n$/);
	} finally {
		await open0.t.kill();
	}
});

// ---- back-pressure ------------------------------------------------------------------------

// The sandbox's processes on the host, from its cgroup: [{pid, nspid (innermost), comm}].
function sandboxProcs(id) {
	const pids = new Set();
	for (const d of w.cgroupDirs()) {
		try {
			for (const p of fs.readFileSync(path.join(d, id, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(p);
		} catch {}
	}
	const out = [];
	for (const pid of pids) {
		try {
			const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
			const ns = st.match(/^NSpid:\s+(.*)$/m)[1].split(/\s+/);
			out.push({ pid, nspid: ns[ns.length - 1], comm: st.match(/^Name:\s+(.*)$/m)[1] });
		} catch {}
	}
	return out;
}

function rssKiB(pid) {
	return Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)[1]);
}

function wchar(pid) {
	try {
		return Number(fs.readFileSync(`/proc/${pid}/io`, 'utf8').match(/^wchar:\s+(\d+)/m)[1]);
	} catch {
		return -1;
	}
}

test('a client that stops reading and then disconnects does not stall the PTY', async (tc) => {
	const t0 = Date.now();
	// onData never returns: the SDK stops reading, back-pressure stops the writer.
	let release;
	const gate = new Promise((r) => (release = r));
	let chunks = 0;
	const t = await sbx.pty.create({
		cols: 80,
		rows: 24,
		timeoutMs: 0,
		onData: async () => {
			chunks++;
			await gate;
		},
	});
	try {
		await sbx.pty.sendInput(t.pid, enc('stty -echo; exec yes\n'));
		const yes = await waitFor(() => sandboxProcs(sbx.sandboxId).find((p) => p.comm === 'yes'));
		assert.ok(yes, 'yes is not running');
		let last = -2;
		let stable = 0;
		assert.ok(
			await waitFor(
				() => {
					const n = wchar(yes.pid);
					stable = n === last && n >= 0 ? stable + 1 : 0;
					last = n;
					return stable >= 5;
				},
				{ timeoutMs: 30000, intervalMs: 100 },
			),
			'the writer did not stall under a client that does not read',
		);
		// Gone: the agent drops the subscription and drains the terminal again.
		tc.diagnostic(`stalled after ${Date.now() - t0} ms at ${last} bytes`);
		await t.disconnect();
		const base = last;
		const t1 = Date.now();
		await waitFor(() => wchar(yes.pid) > base, { timeoutMs: 30000, intervalMs: 10 });
		tc.diagnostic(`writer moved ${Date.now() - t1} ms after the disconnect`);
		assert.ok(
			await waitFor(() => wchar(yes.pid) > base + 8 * 2 ** 20, { timeoutMs: 30000, intervalMs: 50 }),
			`the writer stays stalled after the client went away (${wchar(yes.pid)} bytes)`,
		);
		tc.diagnostic(`drained 8 MiB more ${Date.now() - t1} ms after the disconnect`);
		assert.ok(chunks >= 1);
	} finally {
		release();
		assert.equal(await sbx.pty.kill(t.pid), true);
	}
});

test('a slow client applies back-pressure: bounded agent and warrend memory, every byte in order', async (t) => {
	const N = 12_000_000; // seq 1 N: ~97 MB
	const total = 96_888_897;
	const u = new URL(w.sandboxUrl);
	const body = envelope(0, {
		process: { cmd: '/bin/bash', args: ['-c', `stty raw -echo; seq 1 ${N}; printf END`] },
		pty: { size: { cols: 80, rows: 24 } },
	});
	const res = await new Promise((resolve, reject) => {
		const req = http.request(
			{
				host: u.hostname,
				port: u.port,
				method: 'POST',
				path: '/process.Process/Start',
				agent: false,
				headers: {
					'E2b-Sandbox-Id': sbx.sandboxId,
					'E2b-Sandbox-Port': '49983',
					...(sbx.envdAccessToken ? { 'X-Access-Token': sbx.envdAccessToken } : {}),
					'Content-Type': 'application/connect+json',
					'Connect-Protocol-Version': '1',
					'Content-Length': body.length,
				},
			},
			resolve,
		);
		req.on('error', reject);
		req.end(body);
	});
	assert.equal(res.statusCode, 200);

	// Parse envelopes as they come and check the sequence incrementally.
	let buf = Buffer.alloc(0);
	let got = 0;
	let next = 1;
	let partial = '';
	let end = null;
	let trailer = null;
	let failure = null;
	const consume = (c) => {
		buf = buf.length ? Buffer.concat([buf, c]) : c;
		let off = 0;
		while (buf.length - off >= 5) {
			const len = buf.readUInt32BE(off + 1);
			if (buf.length - off - 5 < len) break;
			const flags = buf[off];
			const m = JSON.parse(buf.subarray(off + 5, off + 5 + len).toString('utf8'));
			off += 5 + len;
			if (flags & 2) {
				trailer = m;
				continue;
			}
			const ev = m.event || {};
			if (ev.end) end = ev.end;
			if (!ev.data?.pty) continue;
			const d = Buffer.from(ev.data.pty, 'base64');
			got += d.length;
			const lines = (partial + d.toString('latin1')).split('\n');
			partial = lines.pop();
			for (const l of lines) {
				if (!failure && l !== String(next)) failure = `line ${next}: got ${JSON.stringify(l.slice(0, 40))}`;
				next++;
			}
		}
		buf = buf.subarray(off);
	};
	const done = new Promise((resolve, reject) => {
		res.on('data', consume);
		res.on('end', resolve);
		res.on('error', reject);
	});

	// Read the first megabyte, then stop reading.
	assert.ok(await waitFor(() => got >= 1 << 20, { timeoutMs: 20000, intervalMs: 5 }), `only ${got} bytes arrived`);
	res.pause();
	const agent = sandboxProcs(sbx.sandboxId).find((p) => p.nspid === '1');
	assert.ok(agent, 'no agent process in the sandbox cgroup');
	const seqProc = await waitFor(() => sandboxProcs(sbx.sandboxId).find((p) => p.comm === 'seq'));
	assert.ok(seqProc, 'seq is not running');
	// The writer stalls: its written byte count stops moving while nobody reads.
	let last = -2;
	let stable = 0;
	const stalled = await waitFor(
		() => {
			const n = wchar(seqProc.pid);
			stable = n === last ? stable + 1 : 0;
			last = n;
			return stable >= 5;
		},
		{ timeoutMs: 30000, intervalMs: 100 },
	);
	assert.ok(stalled, `the writer did not stall (wrote ${last} bytes)`);
	assert.ok(last >= 0, 'the writer ran to its end while the client did not read');
	assert.ok(last < total / 2, `the writer wrote ${last} of ${total} bytes while the client did not read`);
	const agentRss = rssKiB(agent.pid);
	const warrendRss = rssKiB(w.pid);
	t.diagnostic(`stalled after ${last} of ${total} bytes; agent RSS ${agentRss} KiB, warrend RSS ${warrendRss} KiB`);
	// ASan's quarantine keeps freed memory resident: RSS says nothing about live buffers there.
	const asan = (pid) => fs.readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libasan');
	if (!asan(agent.pid)) assert.ok(agentRss < 64 * 1024, `agent RSS ${agentRss} KiB while the client stalls`);
	if (!asan(w.pid)) assert.ok(warrendRss < 64 * 1024, `warrend RSS ${warrendRss} KiB while the client stalls`);

	// Reading again: everything arrives, in order, and the process ends normally.
	res.resume();
	await done;
	assert.equal(failure, null);
	assert.equal(partial, 'END');
	assert.equal(next, N + 1);
	assert.equal(got, total + 3);
	assert.ok(end, `no end event; trailer ${JSON.stringify(trailer)}`);
	assert.equal(end.exited, true);
	assert.equal(end.status, 'exit status 0');
	assert.deepEqual(trailer, {});
	if (!asan(agent.pid)) assert.ok(rssKiB(agent.pid) < 64 * 1024);
});
