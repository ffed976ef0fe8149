// PTY benchmarks through warrend: prints figures, never passes or fails on time.
//   keystroke-to-echo latency: one byte to `cat` on a raw terminal, timed until the byte comes
//     back as pty output; through the SDK (pty.sendInput + onData) and through plain keep-alive
//     HTTP (SendInput unary + the Start stream), so the SDK's own overhead shows
//   output throughput: `head -c 200M /dev/zero` on a raw terminal, read through the SDK and raw
// Env: WARREN_BENCH_N (keystrokes per figure, default 100), WARREN_BENCH_PTY_MB (default 200).
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO, startWarrend } from '../tests/sdk/helpers/warrend.mjs';
import { envelope } from '../tests/sdk/helpers/raw.mjs';

import { ms, now, report } from './report.mjs';

const N = Number(process.env.WARREN_BENCH_N || 100);
const MB = Number(process.env.WARREN_BENCH_PTY_MB || 200);
const { stats, note, print: printTable } = report('pty benchmark', 3);

// Resolves when output satisfies pred; a single waiter at a time.
function outputWaiter() {
	const o = { bytes: 0, last: 0, waiter: null };
	o.push = (d) => {
		o.bytes += d.length;
		o.last = d[d.length - 1];
		if (o.waiter && o.waiter.pred()) {
			const r = o.waiter.resolve;
			o.waiter = null;
			r();
		}
	};
	o.until = (pred) =>
		new Promise((resolve) => {
			if (pred()) return resolve();
			o.waiter = { pred, resolve };
		});
	return o;
}

const CAT = 'stty raw -echo; printf R; exec cat';

async function echoSdk(sbx) {
	const o = outputWaiter();
	const t = await sbx.pty.create({ cols: 80, rows: 24, timeoutMs: 0, onData: (d) => o.push(d) });
	await sbx.pty.sendInput(t.pid, new TextEncoder().encode(`${CAT}\n`));
	await o.until(() => o.last === 0x52); // "R": cat is about to run on a raw terminal
	const xs = [];
	for (let i = 0; i < N + 10; i++) {
		const c = 0x61 + (i % 26);
		const t0 = now();
		await Promise.all([sbx.pty.sendInput(t.pid, Uint8Array.of(c)), o.until(() => o.last === c)]);
		if (i >= 10) xs.push(ms(t0)); // the first ones warm up connections
	}
	stats('pty echo, SDK sendInput -> onData', xs);
	await t.kill();
}

function rawHeaders(w, sbx, extra) {
	return {
		'E2b-Sandbox-Id': sbx.sandboxId,
		'E2b-Sandbox-Port': '49983',
		...(sbx.envdAccessToken ? { 'X-Access-Token': sbx.envdAccessToken } : {}),
		'Connect-Protocol-Version': '1',
		...extra,
	};
}

// A raw PTY Start stream: resolves {res, o} with o fed the pty bytes of data events.
// dst: {host, port} of warrend's sandbox proxy, or of the agent itself (the sandbox address).
function rawStart(w, sbx, cmd, dst = proxyDst(w)) {
	const u = { hostname: dst.host, port: dst.port };
	const body = envelope(0, { process: { cmd: '/bin/bash', args: ['-c', cmd] }, pty: { size: { cols: 80, rows: 24 } } });
	const o = outputWaiter();
	o.ended = false;
	return new Promise((resolve, reject) => {
		const req = http.request(
			{
				host: u.hostname,
				port: u.port,
				method: 'POST',
				path: '/process.Process/Start',
				agent: false,
				headers: rawHeaders(w, sbx, { 'Content-Type': 'application/connect+json', 'Content-Length': body.length }),
			},
			(res) => {
				let buf = Buffer.alloc(0);
				res.on('data', (c) => {
					buf = buf.length ? Buffer.concat([buf, c]) : c;
					let off = 0;
					while (buf.length - off >= 5) {
						const len = buf.readUInt32BE(off + 1);
						if (buf.length - off - 5 < len) break;
						const flags = buf[off];
						const m = JSON.parse(buf.subarray(off + 5, off + 5 + len).toString('utf8'));
						off += 5 + len;
						if (flags & 2) continue;
						const ev = m.event || {};
						if (ev.start) o.pid = ev.start.pid;
						if (ev.end) o.ended = true;
						if (ev.data?.pty) o.push(Buffer.from(ev.data.pty, 'base64'));
					}
					buf = buf.subarray(off);
				});
				resolve({ res, o });
			},
		);
		req.on('error', reject);
		req.end(body);
	});
}

function proxyDst(w) {
	const u = new URL(w.sandboxUrl);
	return { host: u.hostname, port: u.port };
}

function sendInputRaw(w, sbx, agent, pid, bytes, dst = proxyDst(w)) {
	const u = { hostname: dst.host, port: dst.port };
	const data = JSON.stringify({ process: { pid }, input: { pty: Buffer.from(bytes).toString('base64') } });
	return new Promise((resolve, reject) => {
		const req = http.request(
			{
				host: u.hostname,
				port: u.port,
				method: 'POST',
				path: '/process.Process/SendInput',
				agent,
				headers: rawHeaders(w, sbx, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) }),
			},
			(res) => {
				res.resume();
				res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`SendInput: ${res.statusCode}`))));
			},
		);
		req.on('error', reject);
		req.end(data);
	});
}

async function echoRaw(w, sbx, label, dst) {
	const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
	const { res, o } = await rawStart(w, sbx, CAT, dst);
	await o.until(() => o.last === 0x52 && o.pid);
	const xs = [];
	for (let i = 0; i < N + 10; i++) {
		const c = 0x61 + (i % 26);
		const t0 = now();
		await Promise.all([sendInputRaw(w, sbx, agent, o.pid, [c], dst), o.until(() => o.last === c)]);
		if (i >= 10) xs.push(ms(t0));
	}
	stats(label, xs);
	await sbx.pty.kill(o.pid);
	res.destroy();
	agent.destroy();
}

async function throughputSdk(sbx) {
	let bytes = 0;
	const t0 = now();
	const t = await sbx.pty.create({
		cols: 80,
		rows: 24,
		timeoutMs: 0,
		onData: (d) => (bytes += d.length),
	});
	await sbx.pty.sendInput(t.pid, new TextEncoder().encode(`stty raw -echo; head -c ${MB}M /dev/zero; exit\n`));
	await t.wait();
	const s = ms(t0) / 1000;
	note(`pty output, SDK onData (${(bytes / 2 ** 20).toFixed(0)} MiB)`, bytes / 2 ** 20 / s, 'MiB/s');
}

async function throughputRaw(w, sbx) {
	const t0 = now();
	const { res, o } = await rawStart(w, sbx, `stty raw -echo; head -c ${MB}M /dev/zero`);
	await new Promise((resolve) => res.on('end', resolve));
	const s = ms(t0) / 1000;
	note(`pty output, raw HTTP (${(o.bytes / 2 ** 20).toFixed(0)} MiB)`, o.bytes / 2 ** 20 / s, 'MiB/s');
}

async function main() {
	const w = await startWarrend();
	const { Sandbox } = await import(pathToFileURL(path.join(REPO, 'tests/sdk/node_modules/e2b/dist/index.mjs')).href);
	const sbx = await Sandbox.create({ timeoutMs: 600_000 });
	try {
		console.error('# pty');
		await echoSdk(sbx);
		await echoRaw(w, sbx, 'pty echo, raw HTTP keep-alive via warrend', proxyDst(w));
		const addr = (await sbx.commands.run('hostname -I')).stdout.trim().split(/\s+/)[0];
		await echoRaw(w, sbx, 'pty echo, raw HTTP direct to the agent', { host: addr, port: 49983 });
		await throughputSdk(sbx);
		await throughputRaw(w, sbx);
	} finally {
		await sbx.kill().catch(() => {});
		await w.stop();
	}
	console.log('');
	printTable();
	console.log('\necho: one byte to `cat` on a raw terminal until it comes back; bar: <= 0.5 ms median.');
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
