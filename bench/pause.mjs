// Pause/resume benchmarks through warrend (CRIU, docs/PERSISTENCE.md): prints figures, never
// passes or fails on time.
//   pause:  POST /sandboxes/{id}/pause until its 204 (checkpoint complete, processes gone)
//   resume: POST /v2/sandboxes/{id}/connect until its 201 (restored, network attached)
//   resume + first command: connect, then `true` through the agent, until its exit
// for an idle sandbox and for one holding 256 MiB of touched memory (a python bytearray with
// every page written). Env: WARREN_BENCH_PAUSE_N (cycles per figure, default 30 idle / 10 big).
import fs from 'node:fs';
import path from 'node:path';

import { pathToFileURL } from 'node:url';

import { REPO, startWarrend } from '../tests/sdk/helpers/warrend.mjs';

import { ms, now, report } from './report.mjs';

const N_IDLE = Number(process.env.WARREN_BENCH_PAUSE_N || 30);
const N_BIG = Number(process.env.WARREN_BENCH_PAUSE_N || 10);
const { stats, note, print: printTable } = report('pause/resume benchmark', 1);

function dirBytes(d) {
	let n = 0;
	for (const e of fs.readdirSync(d, { withFileTypes: true })) {
		const p = path.join(d, e.name);
		n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
	}
	return n;
}

async function post(w, p, body) {
	const r = await fetch(`${w.apiUrl}${p}`, {
		method: 'POST',
		headers: { 'X-API-KEY': w.apiKey, 'Content-Type': 'application/json' },
		body: JSON.stringify(body),
	});
	const text = await r.text();
	return { status: r.status, text };
}

async function cycle(w, Sandbox, sbx, label, n) {
	const pause = [];
	const resume = [];
	const first = [];
	let bytes = 0;
	for (let i = 0; i < n; i++) {
		let t0 = now();
		let r = await post(w, `/sandboxes/${sbx.sandboxId}/pause`, {});
		pause.push(ms(t0));
		if (r.status !== 204) throw new Error(`pause: ${r.status} ${r.text}`);
		if (i === 0) bytes = dirBytes(path.join(w.stateDir, 'sandboxes', sbx.sandboxId, 'checkpoint'));
		t0 = now();
		r = await post(w, `/v2/sandboxes/${sbx.sandboxId}/connect`, { timeout: 600 });
		resume.push(ms(t0));
		if (r.status !== 201) throw new Error(`resume: ${r.status} ${r.text}`);
		await sbx.commands.run('true');
		first.push(ms(t0));
	}
	stats(`${label}: pause`, pause);
	stats(`${label}: resume (connect 201)`, resume);
	stats(`${label}: resume + first command`, first);
	note(`${label}: checkpoint size`, bytes / 1048576, 'MiB');
}

const w = await startWarrend({ env: { WARREN_POOL_SIZE: '0' } });
try {
	const { Sandbox } = await import(pathToFileURL(path.join(REPO, 'tests/sdk/node_modules/e2b/dist/index.mjs')).href);
	console.error('pause/resume, idle sandbox');
	const idle = await Sandbox.create({ timeoutMs: 3_600_000 });
	await cycle(w, Sandbox, idle, 'idle', N_IDLE);
	await idle.kill();

	console.error('pause/resume, 256 MiB touched');
	const big = await Sandbox.create({ timeoutMs: 3_600_000 });
	await big.commands.run(
		'python3 -c "import time\nb = bytearray(256 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1\nopen(\'/tmp/ready\', \'w\').write(\'1\')\nwhile True: time.sleep(1)" >/dev/null 2>&1 &',
	);
	for (let i = 0; i < 600; i++) {
		if ((await big.commands.run('cat /tmp/ready 2>/dev/null || true')).stdout === '1') break;
		await new Promise((r) => setTimeout(r, 100));
	}
	await cycle(w, Sandbox, big, '256 MiB touched', N_BIG);
	await big.kill();
} finally {
	await w.stop();
}
printTable();
