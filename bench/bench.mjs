// warren benchmarks: prints medians and p99s, never passes or fails on time.
//   create -> first stdout byte of `echo`, through the SDK and through plain HTTP
//   commands.run('true') round trip
//   routing overhead: the agent's GET /health through warrend vs directly at the sandbox address
//   port routing overhead: a server on port 8000 inside, by Host through warrend vs directly
//   idle memory per sandbox (host RSS of its processes, and its memory cgroup usage)
//   bwrap and podman (crun) starting an isolated `echo` on the same rootfs, for comparison
// Env: WARREN_BENCH_N (runs per figure, default 100), WARREN_BENCH_IDLE (idle sandboxes, 20).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { REPO, sleep, startWarrend } from '../tests/sdk/helpers/warrend.mjs';
import { processStart, request, sandboxHeaders } from '../tests/sdk/helpers/raw.mjs';

import { ms, now, report } from './report.mjs';

const N = Number(process.env.WARREN_BENCH_N || 100);
const IDLE = Number(process.env.WARREN_BENCH_IDLE || 20);
const { stats, note, print: printTable } = report('benchmark', 2);

// A keep-alive POST on the given agent; resolves the parsed JSON body.
function postJson(w, agent, p, body) {
	return new Promise((resolve, reject) => {
		const u = new URL(w.apiUrl);
		const data = JSON.stringify(body);
		const req = http.request(
			{
				host: u.hostname,
				port: u.port,
				method: 'POST',
				path: p,
				agent,
				headers: { 'X-API-KEY': w.apiKey, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) },
			},
			(res) => {
				let b = '';
				res.on('data', (c) => (b += c));
				res.on('end', () => (res.statusCode === 201 ? resolve(JSON.parse(b)) : reject(new Error(`${p}: ${res.statusCode} ${b}`))));
			},
		);
		req.on('error', reject);
		req.end(data);
	});
}

function getHealth(agent, host, port, headers) {
	return new Promise((resolve, reject) => {
		const req = http.request({ host, port, path: '/health', agent, headers }, (res) => {
			res.resume();
			res.on('end', () => (res.statusCode < 300 ? resolve() : reject(new Error(`health ${res.statusCode}`))));
		});
		req.on('error', reject);
		req.end();
	});
}

function cgroupFile(w, id, name) {
	for (const d of w.cgroupDirs()) {
		const f = path.join(d, id, name);
		if (fs.existsSync(f)) return f;
	}
	return null;
}

function sandboxMemory(w, id) {
	let rss = 0;
	const procs = new Set();
	for (const d of w.cgroupDirs()) {
		try {
			for (const p of fs.readFileSync(path.join(d, id, 'cgroup.procs'), 'utf8').split('\n')) if (p) procs.add(p);
		} catch {
			/* not in this hierarchy */
		}
	}
	for (const p of procs) {
		try {
			const m = fs.readFileSync(`/proc/${p}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
			if (m) rss += Number(m[1]) * 1024;
		} catch {
			/* exited */
		}
	}
	const f = cgroupFile(w, id, 'memory.usage_in_bytes') || cgroupFile(w, id, 'memory.current');
	const cg = f ? Number(fs.readFileSync(f, 'utf8')) : NaN;
	return { rss, cg, nprocs: procs.size };
}

function timeCommand(name, argv) {
	const probe = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60000 });
	if (probe.status !== 0 || probe.stdout !== 'hi\n') {
		console.error(`  ${name}: skipped (${argv.join(' ')}: ${probe.error?.message || (probe.stderr || '').trim().split('\n').pop() || 'exit ' + probe.status})`);
		return;
	}
	const xs = [];
	for (let i = 0; i < N; i++) {
		const t0 = now();
		const r = spawnSync(argv[0], argv.slice(1), { timeout: 60000 });
		xs.push(ms(t0));
		if (r.status !== 0) throw new Error(`${name}: exit ${r.status}`);
	}
	stats(name, xs);
}

// Create -> first stdout byte of `echo`, through the SDK and through plain HTTP, against w.
// gapMs paces the runs (a pool refills in the background between arrivals).
async function createFigures(w, Sandbox, label, gapMs) {
	await (await Sandbox.create()).kill();
	console.error(`# create -> first stdout byte, SDK, ${label}`);
	let xs = [];
	for (let i = 0; i < N; i++) {
		if (gapMs) await sleep(gapMs);
		const t0 = now();
		const s = await Sandbox.create({ timeoutMs: 120_000 });
		let first = 0;
		await s.commands.run('echo hi', { onStdout: () => (first ||= ms(t0)) });
		xs.push(first);
		await s.kill();
	}
	stats(`create+echo first byte (SDK, ${label})`, xs);

	console.error(`# create -> first stdout byte, plain HTTP, ${label}`);
	const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
	xs = [];
	const createOnly = [];
	for (let i = 0; i < N; i++) {
		if (gapMs) await sleep(gapMs);
		const t0 = now();
		const s = await postJson(w, agent, '/v2/sandboxes', { templateID: 'base', timeout: 120 });
		createOnly.push(ms(t0));
		const { res, events } = await processStart(w, s, 'echo hi', { agent });
		let first = 0;
		for await (const m of events) {
			if (!first && m.json.event?.data?.stdout) first = ms(t0);
			if (m.flags & 2) break;
		}
		res.resume();
		xs.push(first);
		await request(w, { method: 'DELETE', path: `/sandboxes/${s.sandboxID}` });
	}
	agent.destroy();
	stats(`create+echo first byte (HTTP, ${label})`, xs);
	stats(`create alone (HTTP, 201, ${label})`, createOnly);
}

async function main() {
	console.error(`# warren bench: ${N} runs per figure, ${IDLE} idle sandboxes`);
	const { Sandbox } = await import(pathToFileURL(path.join(REPO, 'tests/sdk/node_modules/e2b/dist/index.mjs')).href);
	// Cold: no pool, every create builds a sandbox from scratch.
	const cold = await startWarrend({ env: { WARREN_POOL_SIZE: '0' } });
	try {
		await createFigures(cold, Sandbox, 'cold', 0);
	} finally {
		await cold.stop();
	}
	// Pooled: each create takes a fresh ready sandbox (used once); the pool refills in the
	// background, so runs arrive POOL_GAP ms apart.
	const w = await startWarrend();
	const live = [];
	try {
		await createFigures(w, Sandbox, 'pooled', Number(process.env.WARREN_BENCH_POOL_GAP_MS || 60));
		let xs;

		console.error("# commands.run('true')");
		const s = await Sandbox.create({ timeoutMs: 600_000 });
		live.push(s);
		for (let i = 0; i < 5; i++) await s.commands.run('true');
		xs = [];
		for (let i = 0; i < N; i++) {
			const t0 = now();
			await s.commands.run('true');
			xs.push(ms(t0));
		}
		stats("commands.run('true') round trip", xs);

		console.error('# routing overhead: GET /health via warrend vs direct');
		const addr = (await s.commands.run('hostname -I')).stdout.trim().split(/\s+/)[0];
		const raw = { sandboxID: s.sandboxId, envdAccessToken: undefined };
		const u = new URL(w.sandboxUrl);
		for (const [label, host, port, headers] of [
			['agent /health via warrend', u.hostname, u.port, sandboxHeaders(raw)],
			['agent /health direct', addr, 49983, {}],
		]) {
			const ka = new http.Agent({ keepAlive: true, maxSockets: 1 });
			for (let i = 0; i < 10; i++) await getHealth(ka, host, port, headers);
			xs = [];
			for (let i = 0; i < N; i++) {
				const t0 = now();
				await getHealth(ka, host, port, headers);
				xs.push(ms(t0));
			}
			ka.destroy();
			stats(label + ' (keep-alive)', xs);
			xs = [];
			for (let i = 0; i < N; i++) {
				const t0 = now();
				await getHealth(false, host, port, headers);
				xs.push(ms(t0));
			}
			stats(label + ' (new connection)', xs);
		}

		// Port routing: a server inside the sandbox (node's http, keep-alive) fetched by Host <port>-<id>.<domain> through warrend vs at its address.
		console.error('# port routing overhead: GET by Host via warrend vs direct (keep-alive)');
		// node answers in one write with TCP_NODELAY; python's http.server writes head and body
		// apart and meets the peer's delayed ACK (40 ms a request, either way).
		await s.commands.run(`exec node -e "require('http').createServer((q, r) => r.end('x\\n')).listen(8000, '0.0.0.0')"`, {
			background: true,
		});
		const getF = (agent, host, port, headers) =>
			new Promise((resolve, reject) => {
				const req = http.request({ host, port, path: '/f', agent, headers }, (res) => {
					res.resume();
					res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET /f ${res.statusCode}`))));
				});
				req.on('error', reject);
				req.end();
			});
		const byHost = { Host: `8000-${s.sandboxId}.localhost` };
		for (let i = 0; i < 100; i++) {
			try {
				await getF(false, u.hostname, u.port, byHost);
				break;
			} catch {
				await sleep(100);
			}
		}
		// Interleaved (one request via warrend, then one direct, on two kept connections), so that
		// the host's drift over the run weighs on both series alike; many pairs, since the
		// difference is small next to either figure.
		const pairs = Number(process.env.WARREN_BENCH_ROUTE_N || Math.max(N, 1000));
		const via = new http.Agent({ keepAlive: true, maxSockets: 1 });
		const direct = new http.Agent({ keepAlive: true, maxSockets: 1 });
		for (let i = 0; i < 20; i++) {
			await getF(via, u.hostname, u.port, byHost);
			await getF(direct, addr, 8000, {});
		}
		const xv = [];
		const xd = [];
		const diff = [];
		for (let i = 0; i < pairs; i++) {
			let t0 = now();
			await getF(via, u.hostname, u.port, byHost);
			xv.push(ms(t0));
			t0 = now();
			await getF(direct, addr, 8000, {});
			xd.push(ms(t0));
			diff.push((xv[i] - xd[i]) * 1000);
		}
		via.destroy();
		direct.destroy();
		const pv = stats('port 8000 by Host via warrend (keep-alive)', xv).median;
		const pd = stats('port 8000 direct (keep-alive)', xd).median;
		note('port routing overhead per request, p50 via - p50 direct (bar: <= 100 us)', (pv - pd) * 1000, 'us');
		stats('port routing overhead per request, median of pairs', diff, 'us');

		console.error(`# idle memory: ${IDLE} sandboxes`);
		const idle = await Promise.all(Array.from({ length: IDLE }, () => Sandbox.create({ timeoutMs: 600_000 })));
		live.push(...idle);
		await sleep(2000);
		let rss = 0;
		let cg = 0;
		let nprocs = 0;
		for (const x of idle) {
			const m = sandboxMemory(w, x.sandboxId);
			rss += m.rss;
			cg += m.cg;
			nprocs += m.nprocs;
		}
		note('idle sandbox: host RSS of its processes', rss / IDLE / 1024, 'KiB');
		note('idle sandbox: memory cgroup usage', cg / IDLE / 1024, 'KiB');
		note('idle sandbox: processes', nprocs / IDLE, 'procs');
		const wd = fs.readFileSync(`/proc/${w.pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
		note(`warrend RSS with ${IDLE + 1} sandboxes`, Number(wd[1]), 'KiB');
		await Promise.all(idle.map((x) => x.kill()));

		console.error('# bwrap and podman on the same rootfs');
		const tpl = path.join(w.stateDir, 'templates/base/rootfs');
		const rootfs = fs.existsSync(path.join(tpl, 'etc')) ? tpl : '/';
		console.error(`  rootfs: ${rootfs}`);
		timeCommand('bwrap echo', [
			'bwrap', '--ro-bind', rootfs, '/', '--ro-bind', '/usr', '/usr', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp',
			'--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '/usr/bin/echo', 'hi',
		]);
		// crun refuses a "hybrid" cgroup layout (v1 controllers plus a cgroup2 mount with
		// controllers at /sys/fs/cgroup/unified): podman runs in a private mount namespace without
		// that mount. Explicit low rlimits: raising them needs CAP_SYS_RESOURCE, absent in some
		// containers. No cgroups, like bwrap.
		const podman = [
			'podman', '--runtime', 'crun', '--cgroup-manager', 'cgroupfs', 'run', '--rm', '--cgroups', 'disabled', '--network', 'none',
			'--read-only', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096', '-v', '/usr:/usr:ro', '--rootfs', rootfs,
			'/usr/bin/echo', 'hi',
		];
		const hybrid = fs.existsSync('/sys/fs/cgroup/unified/cgroup.controllers') && fs.readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim();
		timeCommand(
			'podman run --rootfs echo (crun)',
			hybrid
				? ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'umount -l /sys/fs/cgroup/unified && exec "$@"', 'sh', ...podman]
				: podman,
		);
	} finally {
		for (const x of live) await x.kill().catch(() => {});
		await w.stop();
	}
	console.log('');
	printTable();
	console.log('\ncold: WARREN_POOL_SIZE=0; pooled: default pool (2 ready sandboxes, each used once, refilled in the background), creates 60 ms apart.');
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
