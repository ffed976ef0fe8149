// WatchDir benchmark through warrend: prints figures, never passes or fails on time.
//   one-way event latency: a program in the sandbox creates files, each named after the wall
//     clock (ns) just before its creation; the time from there to the SDK's onEvent (the sandbox
//     shares the host's clock, so the two clocks are the same)
//   round trip: files.makeDir from the client until watchDir reports the directory
// Env: WARREN_BENCH_N (events per figure, default 200).
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO, startWarrend } from '../tests/sdk/helpers/warrend.mjs';

import { report } from './report.mjs';

const N = Number(process.env.WARREN_BENCH_N || 200);
const { stats, print: printTable } = report('watch benchmark', 3);
const wallMs = () => performance.timeOrigin + performance.now();

// Files created 10 ms apart, named f-<ns since the epoch> (taken just before the create).
const WRITER = (n, dir) => `
import os, time
for i in range(${n}):
    t = time.time_ns()
    open('${dir}/f-%d' % t, 'w').close()
    time.sleep(0.01)
`;

async function oneWay(sbx, recursive) {
	const dir = `/home/user/bench-${recursive ? 'r' : 'n'}`;
	await sbx.commands.run(`rm -rf ${dir} && mkdir -p ${dir}/sub`);
	const xs = [];
	const h = await sbx.files.watchDir(
		recursive ? dir : `${dir}`,
		(e) => {
			const m = /^(?:sub\/)?f-(\d+)$/.exec(e.name);
			if (e.type === 'create' && m) xs.push(wallMs() - Number(BigInt(m[1]) / 1000n) / 1000);
		},
		{ timeoutMs: 0, recursive },
	);
	const b64 = Buffer.from(WRITER(N, recursive ? `${dir}/sub` : dir)).toString('base64');
	await sbx.commands.run(`echo ${b64} | base64 -d | python3`, { timeoutMs: 0 });
	const t0 = Date.now();
	while (xs.length < N && Date.now() - t0 < 30000) await new Promise((r) => setTimeout(r, 20));
	await h.stop();
	stats(`watchDir event latency, file created in the sandbox${recursive ? ' (recursive, subdir)' : ''}`, xs);
}

async function roundTrip(sbx) {
	await sbx.commands.run('rm -rf /home/user/bench-rt && mkdir -p /home/user/bench-rt');
	let waiter = null;
	const h = await sbx.files.watchDir(
		'/home/user/bench-rt',
		(e) => {
			if (waiter && e.type === 'create' && e.name === waiter.name) {
				const r = waiter.resolve;
				waiter = null;
				r();
			}
		},
		{ timeoutMs: 0 },
	);
	const xs = [];
	for (let i = 0; i < N + 10; i++) {
		const name = `d${i}`;
		const t0 = performance.now();
		await new Promise((resolve) => {
			waiter = { name, resolve };
			sbx.files.makeDir(`/home/user/bench-rt/${name}`);
		});
		if (i >= 10) xs.push(performance.now() - t0); // the first ones warm up connections
	}
	await h.stop();
	stats('files.makeDir -> watchDir event (round trip via warrend)', xs);
}

async function main() {
	const w = await startWarrend();
	const { Sandbox } = await import(pathToFileURL(path.join(REPO, 'tests/sdk/node_modules/e2b/dist/index.mjs')).href);
	const sbx = await Sandbox.create({ timeoutMs: 600_000 });
	try {
		console.error('# watch');
		await oneWay(sbx, false);
		await oneWay(sbx, true);
		await roundTrip(sbx);
	} finally {
		await sbx.kill().catch(() => {});
		await w.stop();
	}
	console.log('');
	printTable();
	console.log('\none-way: wall clock at the create in the sandbox until onEvent in the client (same host clock).');
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
