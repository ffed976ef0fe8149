// 200 create/kill cycles leave nothing behind: mounts, loop devices, cgroups, links, firewall state, processes,
// daemon threads and fds, files in the state directory.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { startWarrend, waitFor } from './helpers/warrend.mjs';

const CYCLES = Number(process.env.WARREN_HYGIENE_CYCLES || 200);
const PARALLEL = 4;
let w, Sandbox;
before(async () => {
	w = await startWarrend();
	({ Sandbox } = await import('e2b'));
});
after(async () => {
	await w?.stop();
});

function walk(dir, rel = '', out = []) {
	let ents;
	try {
		ents = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
	} catch {
		return out;
	}
	for (const e of ents) {
		const r = path.join(rel, e.name);
		if (e.isDirectory()) {
			out.push(r + '/');
			walk(dir, r, out);
		} else out.push(r);
	}
	return out;
}

function procsWithUid(pred) {
	const out = [];
	for (const p of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(p)) continue;
		try {
			const st = fs.readFileSync(`/proc/${p}/status`, 'utf8');
			const uid = Number(st.match(/^Uid:\s+\d+\s+(\d+)/m)[1]);
			const ppid = Number(st.match(/^PPid:\s+(\d+)/m)[1]);
			let cg = '';
			try {
				cg = fs.readFileSync(`/proc/${p}/cgroup`, 'utf8');
			} catch {
				/* exited meanwhile */
			}
			if (pred(uid, ppid, cg)) out.push(`${p} ${st.match(/^Name:\s+(.*)$/m)[1]}`);
		} catch {
			/* exited meanwhile */
		}
	}
	return out;
}

// Every link but those of other warren instances running beside this test (a developer's
// warrend, another suite).
function ourLinks() {
	const names = (args) =>
		execFileSync('ip', ['-o', 'link', 'show', ...args], { encoding: 'utf8' })
			.split('\n')
			.filter(Boolean)
			.map((l) => ({ name: l.split(':')[1].trim().split('@')[0], master: (l.match(/ master (\S+)/) || [])[1] }));
	// Ours: the bridge and every port on it. Other bridges and veths belong to other instances
	// (veth names are per slot, so they cannot be told apart by name).
	const theirs = new Set([...names(['type', 'bridge']), ...names(['type', 'veth'])].map((l) => l.name));
	return names([])
		.filter((l) => l.name === w.bridge || l.master === w.bridge || !theirs.has(l.name))
		.map((l) => l.name)
		.sort();
}

// Established TCP connections whose local port is warrend's (IPv4 and IPv6 tables).
function clientConns(port) {
	let n = 0;
	for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
		let t = '';
		try {
			t = fs.readFileSync(f, 'utf8');
		} catch {
			continue;
		}
		for (const l of t.split('\n').slice(1)) {
			const c = l.trim().split(/\s+/);
			if (c.length > 3 && parseInt(c[1].split(':').pop(), 16) === Number(port) && c[3] === '01') n++;
		}
	}
	return n;
}

// Loop devices backed by a file of this run's state directory (the sandboxes' disks).
function stateLoops() {
	const dir = fs.realpathSync(w.stateDir) + '/';
	const out = [];
	for (const d of fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
		try {
			const f = fs.readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8').trim();
			if (f.startsWith(dir)) out.push(f.slice(dir.length));
		} catch {
			/* not attached */
		}
	}
	return out;
}

const isDb = (f) => /(^|\/)[^/]*\.(db|sqlite)(-wal|-shm|-journal)?$/.test(f);

// Sandbox ids and slot numbers are replaced by placeholders: warrend keeps a pool of ready
// sandboxes, refilled with new ids (and maybe other slots) as creates claim them, so the same
// state has other names after the cycles. Counts of each kind of thing still have to match.
const norm = (xs) => xs.map((x) => x.replace(/(?<![a-z0-9])[a-z0-9]{20}(?![a-z0-9])/g, '<id>').replace(/^w([0-9a-f]{4})?v\d+$/, 'veth<slot>')).sort();

function snapshot() {
	const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean);
	const files = walk(w.stateDir).sort();
	let bytes = 0;
	for (const f of files) {
		if (f.endsWith('/') || isDb(f)) continue;
		try {
			bytes += fs.lstatSync(path.join(w.stateDir, f)).size;
		} catch {
			/* gone */
		}
	}
	let nft = '';
	try {
		nft = execFileSync('nft', ['list', 'table', 'inet', w.bridge], { encoding: 'utf8' });
	} catch {
		nft = '(none)';
	}
	return {
		// Sandbox disks of other warren instances on this host (other suites) come and go, and so
		// do named network namespaces (/run/netns, `ip netns add` of the network suites), which
		// warrend never makes.
		mounts: mountinfo.filter((l) => {
			const point = l.split(' ')[4];
			if (point === '/run/netns' || point.startsWith('/run/netns/')) return false;
			return !/\/sandboxes\/[a-z0-9]+\/disk$/.test(point) || l.includes(w.stateDir);
		}).length,
		// Mount points only: mount ids and device numbers differ between sandboxes.
		stateMounts: norm(mountinfo.map((l) => l.split(' ')[4]).filter((m) => m.includes(w.stateDir))),
		stateLoops: norm(stateLoops()),
		cgroups: norm(w.cgroupDirs().flatMap((d) => walk(d).filter((x) => x.endsWith('/')).map((x) => path.join(d, x)))),
		links: norm(ourLinks()),
		nftLines: nft.split('\n').filter((l) => l.trim()).length,
		sandboxProcs: procsWithUid((uid, _, cg) => uid >= 1000000 && cg.includes(`/${w.cgroupParent}/`)).length,
		daemonChildren: procsWithUid((_, ppid) => ppid === w.pid).length,
		daemonThreads: fs.readdirSync(`/proc/${w.pid}/task`).length,
		daemonFds: fs.readdirSync(`/proc/${w.pid}/fd`).length,
		stateFiles: norm(files.filter((f) => !isDb(f))),
		stateBytes: bytes,
	};
}

async function cycle() {
	const s = await Sandbox.create({ timeoutMs: 60_000 });
	const r = await s.commands.run('echo ok');
	assert.equal(r.stdout, 'ok\n');
	assert.equal(await s.kill(), true);
}

test(`${CYCLES} create/kill cycles leave nothing behind`, { timeout: 600_000 }, async () => {
	// Warm-up: the first sandbox builds the template, the bridge and the parent cgroups.
	for (let i = 0; i < 2; i++) await cycle();
	const settle = async (ref) => waitFor(() => JSON.stringify(snapshot()) === JSON.stringify(ref) || undefined, { timeoutMs: 25000, intervalMs: 250 });
	// Idle keep-alive connections (undici closes them after 4 s) each hold a daemon thread and fd:
	// both snapshots are taken with no client connection open.
	const idle = await waitFor(() => clientConns(new URL(w.apiUrl).port) === 0, { timeoutMs: 20000, intervalMs: 200 });
	assert.ok(idle, 'client connections to warrend stay open');
	const first = snapshot();
	const dbSize = () => walk(w.stateDir).filter(isDb).reduce((a, f) => a + fs.statSync(path.join(w.stateDir, f)).size, 0);
	const db0 = dbSize();

	const t0 = Date.now();
	let done = 0;
	await Promise.all(
		Array.from({ length: PARALLEL }, async () => {
			while (done < CYCLES) {
				done++;
				await cycle();
			}
		}),
	);
	console.log(`# ${done} cycles in ${Date.now() - t0} ms`);
	await settle(first);
	const last = snapshot();
	assert.deepEqual(diff(first, last), {}, 'resources left after the cycles (+n: more after, -n: fewer after)');
	const grown = dbSize() - db0;
	assert.ok(grown < 4 << 20, `database grew by ${grown} bytes over ${done} cycles`);
});

// Per key: what appeared (+) and what went away (-), or the two values.
function diff(a, b) {
	const out = {};
	for (const k of Object.keys(a)) {
		if (JSON.stringify(a[k]) === JSON.stringify(b[k])) continue;
		if (Array.isArray(a[k])) {
			// Multiset difference: the lists hold placeholders that repeat.
			const n = new Map();
			for (const x of b[k]) n.set(x, (n.get(x) || 0) + 1);
			for (const x of a[k]) n.set(x, (n.get(x) || 0) - 1);
			out[k] = [...n].filter(([, c]) => c !== 0).map(([x, c]) => `${c > 0 ? '+' : '-'}${Math.abs(c)} ${x}`).slice(0, 40);
		} else out[k] = `${a[k]} -> ${b[k]}`;
	}
	return out;
}
