// Starts a real warrend with per-run isolated settings (free port, temporary state dir, its own
// bridge, subnet and cgroup parent) so that a developer's running warrend is never disturbed,
// and tears all of it down again. Used by the SDK suites, the integration suites and the bench.
//
//   const w = await startWarrend();        // sets E2B_API_URL/E2B_SANDBOX_URL/E2B_API_KEY
//   const { Sandbox } = await import('e2b');
//   after(() => w.stop());

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function buildDir() {
	const b = process.env.BUILD || 'build';
	return path.isAbsolute(b) ? b : path.join(REPO, b);
}

export function warrendBinary() {
	return process.env.WARREND || path.join(buildDir(), 'src/warrend/warrend');
}

export async function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn() until it returns a truthy value or the deadline passes; returns the last value.
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 100 } = {}) {
	const end = Date.now() + timeoutMs;
	let v;
	for (;;) {
		try {
			v = await fn();
		} catch (e) {
			v = undefined;
		}
		if (v || Date.now() >= end) return v;
		await sleep(intervalMs);
	}
}

// Mounts (from the host's mount table) at or below dir: rm -rf must not cross them.
function mountsUnder(dir) {
	const lines = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
	return lines
		.map((l) => l.split(' ')[4])
		.filter((m) => m && (m === dir || m.startsWith(dir + '/')));
}

// Cgroup directories named `name` below the cgroup that `pid` is in, for every hierarchy.
export function cgroupParentDirs(pid, name) {
	const mounts = fs
		.readFileSync('/proc/self/mountinfo', 'utf8')
		.split('\n')
		.filter(Boolean)
		.map((l) => {
			const [pre, post] = l.split(' - ');
			const f = pre.split(' ');
			const p = post.split(' ');
			return { root: f[3], point: f[4], type: p[0], opts: p[2] || '' };
		})
		.filter((m) => m.type === 'cgroup' || m.type === 'cgroup2');
	let cg;
	try {
		cg = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
	} catch {
		cg = fs.readFileSync('/proc/self/cgroup', 'utf8');
	}
	const dirs = [];
	for (const line of cg.split('\n').filter(Boolean)) {
		const [, ctrls, p] = line.match(/^(\d+):([^:]*):(.*)$/).slice(1);
		const want = ctrls === '' ? null : ctrls.split(',');
		for (const m of mounts) {
			if (want === null ? m.type !== 'cgroup2' : m.type !== 'cgroup') continue;
			if (want && !want.every((c) => m.opts.split(',').includes(c))) continue;
			const rel = p.startsWith(m.root) ? p.slice(m.root.length) : p;
			const d = path.join(m.point, rel, name);
			if (!dirs.includes(d)) dirs.push(d);
		}
	}
	return dirs;
}

function rmdirTree(d) {
	// Cgroup directories are removed bottom-up with rmdir (their files cannot be unlinked).
	let entries = [];
	try {
		entries = fs.readdirSync(d, { withFileTypes: true });
	} catch {
		return;
	}
	for (const e of entries) if (e.isDirectory()) rmdirTree(path.join(d, e.name));
	try {
		fs.rmdirSync(d);
	} catch {
		/* still busy or gone: reported by the hygiene suite, not here */
	}
}

const live = new Set();
process.on('exit', () => {
	// Last resort when a test file dies without running its after() hooks.
	for (const w of live) {
		try {
			process.kill(w.pid, 'SIGKILL');
		} catch {
			/* already gone */
		}
	}
});

// Starts warrend. opts: { stateDir, port, bridge, subnet, cgroupParent, apiKey, env, setEnv=true,
// readyTimeoutMs=120000 }. Returns a handle with apiUrl, apiKey, stop(), kill9(), restart().
// A 10.202.X.0/24 no other run on this host routes yet: two runs on one subnet would have
// sandboxes with the same addresses, and one warrend could reach the other's sandbox.
function freeSubnet() {
	const r = spawnSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' });
	const used = r.status === 0 ? r.stdout : '';
	let x = 1 + crypto.randomInt(254);
	for (let i = 0; i < 100 && used.includes(`10.202.${x}.`); i++) x = 1 + crypto.randomInt(254);
	return `10.202.${x}.0/24`;
}

export async function startWarrend(opts = {}) {
	const w = {
		port: opts.port || (await freePort()),
		stateDir: opts.stateDir || fs.mkdtempSync(path.join(os.tmpdir(), 'warren-test-state-')),
		bridge: opts.bridge || 'wt' + crypto.randomBytes(4).toString('hex'),
		subnet: opts.subnet || freeSubnet(),
		cgroupParent: opts.cgroupParent || `warren-test-${process.pid}-${crypto.randomBytes(2).toString('hex')}`,
		apiKey: opts.apiKey || 'e2b_' + crypto.randomBytes(20).toString('hex'),
		ownsStateDir: !opts.stateDir,
		logPath: null,
		proc: null,
		pid: 0,
		exited: null,
	};
	w.apiUrl = `http://127.0.0.1:${w.port}`;
	w.sandboxUrl = w.apiUrl;
	const logDir = process.env.WARREN_TEST_LOG_DIR || path.join(os.tmpdir(), 'warren-test-logs');
	fs.mkdirSync(logDir, { recursive: true });
	w.logPath = path.join(logDir, `warrend-${process.pid}-${w.port}.log`);

	w.launch = async () => {
		const log = fs.openSync(w.logPath, 'a');
		const bin = warrendBinary();
		if (!fs.existsSync(bin)) throw new Error(`warrend not built: ${bin}`);
		const proc = spawn(
			bin,
			[
				'--listen', `127.0.0.1:${w.port}`,
				'--state-dir', w.stateDir,
				'--bridge', w.bridge,
				'--subnet', w.subnet,
				'--cgroup-parent', w.cgroupParent,
			],
			{
				env: { ...process.env, WARREN_API_KEY: w.apiKey, ...(opts.env || {}) },
				stdio: ['ignore', 'pipe', log],
			},
		);
		fs.closeSync(log);
		w.proc = proc;
		w.pid = proc.pid;
		w.exited = new Promise((resolve) => proc.on('exit', (code, sig) => resolve({ code, sig })));
		live.add(w);
		w.exited.then(() => live.delete(w));
		const ready = await new Promise((resolve, reject) => {
			let out = '';
			const got = {};
			const timer = setTimeout(() => {
				reject(new Error(`warrend not ready after ${opts.readyTimeoutMs || 120000} ms; log ${w.logPath}`));
			}, opts.readyTimeoutMs || 120000);
			proc.stdout.on('data', (d) => {
				out += d;
				for (const m of out.matchAll(/^export (E2B_[A-Z_]+)=['"]?([^'"\n]*)['"]?$/gm)) got[m[1]] = m[2];
				if (got.E2B_API_URL && got.E2B_SANDBOX_URL && got.E2B_API_KEY) {
					clearTimeout(timer);
					resolve(got);
				}
			});
			proc.on('exit', (code, sig) => {
				clearTimeout(timer);
				reject(new Error(`warrend exited early (${code ?? sig}); log ${w.logPath}:\n` + tail(w.logPath)));
			});
		});
		proc.stdout.resume();
		w.apiUrl = ready.E2B_API_URL;
		w.sandboxUrl = ready.E2B_SANDBOX_URL;
		w.apiKey = ready.E2B_API_KEY;
		if (opts.setEnv !== false) {
			process.env.E2B_API_URL = w.apiUrl;
			process.env.E2B_SANDBOX_URL = w.sandboxUrl;
			process.env.E2B_API_KEY = w.apiKey;
		}
		return w;
	};

	w.alive = () => w.proc && w.proc.exitCode === null && w.proc.signalCode === null;

	// SIGTERM (clean stop: destroys every sandbox), bounded; SIGKILL after the deadline.
	w.terminate = async (timeoutMs = 30000) => {
		if (!w.alive()) return w.proc ? await w.exited : null;
		w.proc.kill('SIGTERM');
		let timer;
		const r = await Promise.race([w.exited, new Promise((res) => (timer = setTimeout(() => res(null), timeoutMs)))]);
		clearTimeout(timer);
		if (r) return r;
		w.proc.kill('SIGKILL');
		await w.exited;
		return { code: null, sig: 'SIGKILL', timedOut: true };
	};

	w.kill9 = async () => {
		if (!w.alive()) return;
		w.proc.kill('SIGKILL');
		await w.exited;
	};

	w.restart = async () => {
		w.port = opts.port || w.port;
		return w.launch();
	};

	// Stops warrend and removes everything this run made on the host. A warrend that does not
	// stop on SIGTERM is reported (the restart suite asserts it) and its sandboxes killed here.
	w.stop = async () => {
		const r = await w.terminate();
		if (r && (r.timedOut || r.code !== 0)) console.log(`# warrend did not stop cleanly on SIGTERM: ${JSON.stringify(r)}; log ${w.logPath}`);
		await w.killLeftovers();
		w.cleanupHost();
		// Under ASan/UBSan (make test SANITIZE=1) a report in warrend's log fails the suite.
		const report = sanitizerReport(w.logPath);
		if (report) throw new Error(`sanitizer report in ${w.logPath}:\n${report}`);
		return r;
	};

	// Host pids still in this run's cgroups (sandboxes left by a warrend that was SIGKILLed).
	w.leftoverPids = () => {
		const pids = new Set();
		const scan = (d) => {
			try {
				for (const p of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
			} catch {
				/* gone */
			}
			let ents = [];
			try {
				ents = fs.readdirSync(d, { withFileTypes: true });
			} catch {
				return;
			}
			for (const e of ents) if (e.isDirectory()) scan(path.join(d, e.name));
		};
		for (const d of w.cgroupDirs()) scan(d);
		return [...pids];
	};

	w.killLeftovers = async () => {
		for (let i = 0; i < 50; i++) {
			const pids = w.leftoverPids();
			if (pids.length === 0) return;
			if (i === 0) console.log(`# killing ${pids.length} process(es) left in ${w.cgroupParent}`);
			for (const p of pids) {
				try {
					process.kill(p, 'SIGKILL');
				} catch {
					/* gone */
				}
			}
			await sleep(100);
		}
	};

	w.cgroupDirs = () => cgroupParentDirs(process.pid, w.cgroupParent);

	w.cleanupHost = () => {
		// Ports still on the bridge (warrend's carrier keeper, veths of a killed run) go first.
		const ports = spawnSync('ip', ['-o', 'link', 'show', 'master', w.bridge], { encoding: 'utf8' }).stdout || '';
		for (const m of ports.matchAll(/^\d+: ([^:@\s]+)/gm)) spawnSync('ip', ['link', 'del', m[1]], { stdio: 'ignore' });
		spawnSync('ip', ['link', 'del', w.bridge], { stdio: 'ignore' });
		for (const family of ['inet', 'bridge', 'ip', 'ip6']) spawnSync('nft', ['delete', 'table', family, w.bridge], { stdio: 'ignore' });
		for (const d of w.cgroupDirs()) rmdirTree(d);
		if (w.ownsStateDir) {
			// Sandbox disks of a run whose warrend was killed: unmounted, so their loop
			// devices go too (autoclear); the suites that care assert there are none.
			for (const d of mountsUnder(w.stateDir).filter((x) => x.endsWith('/disk')).reverse()) {
				console.log(`# unmounting a sandbox disk left by this run: ${d}`);
				spawnSync('umount', ['-l', d], { stdio: 'ignore' });
			}
			const m = mountsUnder(w.stateDir);
			if (m.length === 0) fs.rmSync(w.stateDir, { recursive: true, force: true });
			else console.error(`# not removing ${w.stateDir}: still mounted: ${m.join(' ')}`);
		}
	};

	await w.launch();
	return w;
}

export function sanitizerReport(file) {
	let t = '';
	try {
		t = fs.readFileSync(file, 'utf8');
	} catch {
		return '';
	}
	const lines = t.split('\n');
	const i = lines.findIndex((l) => /ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: /.test(l));
	return i < 0 ? '' : lines.slice(Math.max(0, i - 2), i + 30).join('\n');
}

export function tail(file, n = 40) {
	try {
		return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
	} catch {
		return '';
	}
}
