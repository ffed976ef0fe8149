// What root inside a sandbox must not be able to do, resource limits that must hold, and how a
// sandbox looks from the host. Every "must fail" check also has a positive control so that it
// cannot pass because the tool is simply missing.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { sleep, startWarrend, waitFor } from './helpers/warrend.mjs';
import { probeConnect, py, runAllowFail, sandboxAddrs } from './helpers/sandbox.mjs';

let w, Sandbox;
let sbx, neighbour;
const extra = [];
const ROOT = { user: 'root' };

before(async () => {
	w = await startWarrend();
	({ Sandbox } = await import('e2b'));
	[sbx, neighbour] = await Promise.all([Sandbox.create({ timeoutMs: 600_000 }), Sandbox.create({ timeoutMs: 600_000 })]);
});
after(async () => {
	for (const s of [sbx, neighbour, ...extra]) await s?.kill().catch(() => {});
	await w?.stop();
});

async function mustFail(cmd, why) {
	const r = await runAllowFail(sbx, cmd, ROOT);
	assert.notEqual(r.exitCode, 0, `${why}: "${cmd}" succeeded as root inside:\n${r.stdout}${r.stderr}`);
	// Failing because the tool is missing would prove nothing.
	assert.notEqual(r.exitCode, 127, `${why}: "${cmd}": ${r.stderr}`);
	return r;
}

// A syscall through ctypes; prints "<ret> <errno>".
const SYSCALL = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
args = [int(a) if a.lstrip('-').isdigit() else a.encode() for a in sys.argv[2:]]
r = libc.syscall(int(sys.argv[1]), *args)
print(r, ctypes.get_errno())
`;
async function syscall(nr, ...args) {
	const r = await py(sbx, SYSCALL, { args: [nr, ...args], ...ROOT });
	assert.equal(r.exitCode, 0, r.stderr);
	const [ret, errno] = r.stdout.trim().split(' ').map(Number);
	return { ret, errno };
}

describe('root inside cannot', () => {
	test('positive control: commands run as uid 0 inside', async () => {
		const r = await sbx.commands.run('id -u; test -w /etc && echo w', ROOT);
		assert.equal(r.stdout, '0\nw\n');
	});

	test('mount a filesystem', async () => {
		await mustFail('mkdir -p /tmp/m && mount -t tmpfs none /tmp/m', 'mount');
		await mustFail('mount -o remount,rw /usr', 'remount /usr read-write');
		await mustFail('mount --bind /tmp /usr', 'bind mount');
	});

	test('unmount / or /usr', async () => {
		await mustFail('umount /', 'umount /');
		await mustFail('umount -l /usr', 'lazy umount /usr');
		const r = await sbx.commands.run('test -x /usr/bin/python3 && echo still', ROOT);
		assert.equal(r.stdout, 'still\n');
	});

	test('write /proc/sys', async () => {
		await mustFail('echo evil > /proc/sys/kernel/hostname', 'hostname via /proc/sys');
		await mustFail('echo 1 > /proc/sys/net/ipv4/ip_forward', 'ip_forward');
		const r = await sbx.commands.run('hostname', ROOT);
		assert.equal(r.stdout, sbx.sandboxId + '\n');
	});

	test('load kernel modules', async () => {
		const nm = await syscall(175, 0, 0, ''); // init_module(NULL, 0, "")
		assert.equal(nm.ret, -1);
		const fd = await py(
			sbx,
			`import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nfd = os.open('/dev/null', os.O_RDONLY)\nprint(libc.syscall(313, fd, b'', 0), ctypes.get_errno())`,
			ROOT,
		);
		assert.match(fd.stdout, /^-1 \d+\n$/, `finit_module: ${fd.stdout}${fd.stderr}`);
		assert.notEqual(Number(fd.stdout.split(' ')[1]), 0);
	});

	test('ptrace the agent or read its memory', async () => {
		const r = await py(
			sbx,
			`import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.ptrace(16, 1, 0, 0), ctypes.get_errno())`,
			ROOT,
		);
		assert.match(r.stdout, /^-1 [1-9]\d*\n$/, `ptrace(PTRACE_ATTACH, 1): ${r.stdout}${r.stderr}`);
		const s = await py(
			sbx,
			`import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\npid = os.fork()\nif pid == 0:\n    import time; time.sleep(5); os._exit(0)\nprint(libc.ptrace(16, pid, 0, 0), ctypes.get_errno())\nos.kill(pid, 9)`,
			ROOT,
		);
		assert.match(s.stdout, /^-1 [1-9]\d*\n$/, `ptrace(PTRACE_ATTACH, own child): ${s.stdout}${s.stderr}`);
		// At the agent's first readable mapping (PIE or not, sanitized or not).
		const mem = await py(
			sbx,
			[
				'addr = None',
				'try:',
				'    for l in open("/proc/1/maps"):',
				'        a, perms = l.split()[:2]',
				'        if perms.startswith("r"):',
				'            addr = int(a.split("-")[0], 16)',
				'            break',
				'except OSError as e:',
				'    print("maps", e.errno)',
				'f = open("/proc/1/mem", "rb")',
				'f.seek(addr if addr is not None else 0x400000)',
				'print("read", len(f.read(16)))',
			].join('\n'),
			ROOT,
		);
		assert.notEqual(mem.exitCode, 0, `read /proc/1/mem as root inside: ${mem.stdout}`);
		assert.doesNotMatch(mem.stdout, /^read/m);
		await mustFail('strace -p 1 -o /dev/null & sleep 1; kill -0 $! && { kill $!; exit 0; }; wait $!', 'strace -p 1');
	});

	test('open a raw socket', async () => {
		const r = await py(
			sbx,
			`import socket\ntry:\n    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)\n    print('opened')\nexcept OSError as e:\n    print('denied', e.errno)`,
			ROOT,
		);
		assert.match(r.stdout, /^denied \d+\n$/, r.stdout + r.stderr);
		const p = await py(sbx, `import socket\nsocket.socket(socket.AF_PACKET, socket.SOCK_RAW)\nprint('opened')`, ROOT);
		assert.notEqual(p.exitCode, 0, 'AF_PACKET socket opened');
	});

	test('create device nodes', async () => {
		await mustFail('mknod /tmp/x c 1 3', 'mknod');
		await mustFail('mknod /tmp/sda b 8 0', 'mknod block');
	});

	test('use keyctl, add_key or bpf', async () => {
		const ka = await syscall(248, 'user', 'k', 'v', 1, -2); // add_key(.., KEY_SPEC_PROCESS_KEYRING)
		assert.equal(ka.ret, -1, 'add_key succeeded');
		const kc = await syscall(250, 0, -2, 0, 0, 0); // keyctl(KEYCTL_GET_KEYRING_ID, ...)
		assert.equal(kc.ret, -1, 'keyctl succeeded');
		const b = await syscall(321, 0, 0, 0); // bpf(BPF_MAP_CREATE, NULL, 0)
		assert.equal(b.ret, -1);
		assert.ok([1, 38].includes(b.errno), `bpf errno ${b.errno}`);
	});

	test('create namespaces', async () => {
		await mustFail('unshare -m true', 'unshare mount namespace');
		await mustFail('unshare -U -r true', 'unshare user namespace');
		await mustFail('unshare -n true', 'unshare net namespace');
	});

	test('reach the host: loopback services, the gateway, the host addresses', async () => {
		let accepted = 0;
		const servers = await Promise.all(
			['127.0.0.1', '0.0.0.0'].map(
				(h) =>
					new Promise((resolve) => {
						const s = net.createServer((c) => {
							accepted++;
							c.destroy();
						});
						s.listen(0, h, () => resolve(s));
					}),
			),
		);
		try {
			const [lo, any] = servers.map((s) => s.address().port);
			const { gateway } = await sandboxAddrs(sbx);
			assert.ok(gateway, 'no default gateway inside');
			const hostAddrs = Object.values(os.networkInterfaces())
				.flat()
				.filter((a) => a.family === 'IPv4')
				.map((a) => a.address);
			const targets = new Set([`${gateway}:${lo}`, `${gateway}:${any}`, `127.0.0.1:${lo}`, `127.0.0.1:${any}`]);
			for (const a of hostAddrs) {
				targets.add(`${a}:${lo}`);
				targets.add(`${a}:${any}`);
			}
			// The host's listening services too (warrend itself included).
			targets.add(`${gateway}:${new URL(w.apiUrl).port}`);
			const res = await probeConnect(sbx, [...targets], 1, ROOT);
			for (const [t, v] of Object.entries(res)) assert.notEqual(v, 'ok', `reached host service ${t}`);
			assert.equal(accepted, 0);
			// Positive control: the same probe reaches a listener inside.
			await sbx.commands.run('python3 -m http.server 8123 --bind 0.0.0.0 >/dev/null 2>&1', { background: true, timeoutMs: 30_000 });
			const ok = await waitFor(async () => (await probeConnect(sbx, ['127.0.0.1:8123'], 1))['127.0.0.1:8123'] === 'ok');
			assert.ok(ok, 'probe cannot reach even its own listener');
		} finally {
			for (const s of servers) s.close();
		}
	});

	test('see host files', async () => {
		const tag = crypto.randomBytes(8).toString('hex');
		const files = [path.join('/root', `.warren-iso-${tag}`), path.join(w.stateDir, `host-${tag}`), path.join('/tmp', `warren-iso-${tag}`)];
		for (const f of files) fs.writeFileSync(f, tag);
		try {
			for (const f of files) {
				const r = await runAllowFail(sbx, `cat ${f} /proc/1/root${f} 2>/dev/null; ls -d /proc/*/root${f} 2>/dev/null; true`, ROOT);
				assert.equal(r.stdout, '', `host file ${f} visible inside`);
			}
			// The agent's own log (docs/OBSERVABILITY.md) holds the commands above, tag included.
			const g = await runAllowFail(sbx, `grep -rl --exclude-dir=proc --exclude-dir=sys --exclude-dir=usr --exclude-dir=dev --exclude='warren-agent.log*' ${tag} / 2>/dev/null; true`, { ...ROOT, timeoutMs: 60_000 });
			assert.equal(g.stdout, '', `host marker found inside at ${g.stdout}`);
			// The state directory's layout (other sandboxes' upper dirs) is not reachable either.
			const st = await runAllowFail(sbx, `ls -d ${w.stateDir} 2>/dev/null; true`, ROOT);
			assert.equal(st.stdout, '');
		} finally {
			for (const f of files) fs.rmSync(f, { force: true });
		}
	});
});

// cgroup file of a sandbox: the first hierarchy whose <parent>/<id>/<name> exists.
function cgFile(id, ...names) {
	for (const d of w.cgroupDirs()) {
		for (const n of names) {
			const f = path.join(d, id, n);
			if (fs.existsSync(f)) return f;
		}
	}
	return null;
}

// How long the neighbour and the host may take to answer while a sandbox fork-bombs its two
// CPUs (all of this host's): 3 s, or 10 s when warrend and the agent run under ASan+UBSan
// (make test SANITIZE=1), which makes them several times slower. Still a bound: a starved
// neighbour or host never answers at all.
const BUSY_MS = process.env.SANITIZE === '1' ? 10_000 : 3_000;

async function neighbourRoundTrip() {
	const t0 = Date.now();
	const r = await neighbour.commands.run('echo pong');
	assert.equal(r.stdout, 'pong\n');
	return Date.now() - t0;
}

async function hostAnswers() {
	const res = await fetch(`${w.apiUrl}/health`, { signal: AbortSignal.timeout(BUSY_MS) });
	return res.status;
}

describe('resource limits', () => {
	test('sandbox processes run as host uids >= 1000000', async () => {
		const procsFile = cgFile(sbx.sandboxId, 'cgroup.procs');
		assert.ok(procsFile, `no cgroup for ${sbx.sandboxId} under ${w.cgroupDirs().join(', ')}`);
		const pids = fs.readFileSync(procsFile, 'utf8').split('\n').filter(Boolean);
		assert.ok(pids.length >= 1);
		let sawInit = false;
		for (const pid of pids) {
			let st;
			try {
				st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
			} catch {
				continue;
			}
			const uids = st.match(/^Uid:\s+(.*)$/m)[1].split(/\s+/).map(Number);
			const gids = st.match(/^Gid:\s+(.*)$/m)[1].split(/\s+/).map(Number);
			for (const u of [...uids, ...gids]) assert.ok(u >= 1000000, `pid ${pid} runs with host id ${u}:\n${st}`);
			const ns = st.match(/^NSpid:\s+(.*)$/m)[1].split(/\s+/);
			if (ns[ns.length - 1] === '1') {
				sawInit = true;
				assert.ok(/NoNewPrivs:\s+1/.test(st), `init without no_new_privs:\n${st}`);
				assert.ok(/Seccomp:\s+2/.test(st), `init without a seccomp filter:\n${st}`);
			}
		}
		assert.ok(sawInit, 'the sandbox init (pid 1 inside) is not in its cgroup');
	});

	test('fork bomb stays within pids.max; host and neighbour keep answering', async () => {
		const v = await Sandbox.create({ timeoutMs: 120_000 });
		extra.push(v);
		const maxFile = cgFile(v.sandboxId, 'pids.max');
		assert.ok(maxFile, 'no pids cgroup');
		const max = fs.readFileSync(maxFile, 'utf8').trim();
		assert.match(max, /^\d+$/, `pids.max is "${max}"`);
		const h = await v.commands.run(':(){ :|:& };:', { background: true, timeoutMs: 5000 });
		const curFile = path.join(path.dirname(maxFile), 'pids.current');
		let peak = 0;
		// On a loaded host the bomb's shell can take a while to start: watch for 3 s from the
		// moment it has forked (at most 15 s from now), not from the request.
		const started = await waitFor(() => Number(fs.readFileSync(curFile, 'utf8')) > 10, {
			timeoutMs: 15000,
			intervalMs: 20,
		});
		const until = Date.now() + 3000;
		while (started && Date.now() < until) {
			peak = Math.max(peak, Number(fs.readFileSync(curFile, 'utf8')));
			const rtt = await neighbourRoundTrip();
			assert.ok(rtt < BUSY_MS, `neighbour took ${rtt} ms during the fork bomb`);
			assert.equal(await hostAnswers(), 200);
		}
		assert.ok(peak <= Number(max), `pids.current ${peak} > pids.max ${max}`);
		assert.ok(peak > 10, `fork bomb never forked (peak ${peak}): test did not exercise the limit`);
		await h.wait().catch(() => {});
		assert.equal(await v.kill(), true);
		const gone = await waitFor(() => !fs.existsSync(path.dirname(maxFile)), { timeoutMs: 10000 });
		assert.ok(gone, 'fork-bombed sandbox cgroup still present after kill');
		assert.ok((await neighbourRoundTrip()) < BUSY_MS);
	});

	test('the OOM killer spares the agent, not the commands it runs', async () => {
		// Inside a sandbox at its memory limit the agent must never be the victim.
		const r = await sbx.commands.run('cat /proc/1/oom_score_adj /proc/self/oom_score_adj', ROOT);
		assert.equal(r.stdout, '0\n1000\n');
		// Code inside cannot rank itself below the agent.
		await mustFail('echo -1 > /proc/self/oom_score_adj', 'lower oom_score_adj below the agent');
	});

	test('memory hog is killed inside; sandbox and neighbour survive', async () => {
		const v = await Sandbox.create({ timeoutMs: 120_000 });
		extra.push(v);
		const info = await v.getInfo();
		const bytes = Math.max(2 << 30, info.memoryMB * 2 * 1024 * 1024);
		const hog = runAllowFail(v, `python3 -c "x = b'a' * ${bytes}; print(len(x))"`, { timeoutMs: 60_000 });
		const rtt = await neighbourRoundTrip();
		const r = await hog;
		assert.notEqual(r.exitCode, 0, `allocated ${bytes} bytes with a ${info.memoryMB} MB limit`);
		assert.equal(r.stdout, '');
		assert.ok(rtt < BUSY_MS, `neighbour took ${rtt} ms`);
		const after = await v.commands.run('echo survived');
		assert.equal(after.stdout, 'survived\n');
		assert.equal(await v.kill(), true);
	});

	test('CPU hog is limited to the sandbox cpu count; neighbour stays fast', async () => {
		const v = await Sandbox.create({ timeoutMs: 120_000 });
		extra.push(v);
		const info = await v.getInfo();
		const quotaFile = cgFile(v.sandboxId, 'cpu.cfs_quota_us', 'cpu.max');
		assert.ok(quotaFile, 'no cpu cgroup');
		let quota, period;
		if (quotaFile.endsWith('cpu.max')) {
			[quota, period] = fs.readFileSync(quotaFile, 'utf8').trim().split(' ');
		} else {
			quota = fs.readFileSync(quotaFile, 'utf8').trim();
			period = fs.readFileSync(path.join(path.dirname(quotaFile), 'cpu.cfs_period_us'), 'utf8').trim();
		}
		assert.match(quota, /^\d+$/, `cpu quota is "${quota}"`);
		assert.equal(Number(quota) / Number(period), info.cpuCount, 'quota/period != cpuCount');

		const usageFile = cgFile(v.sandboxId, 'cpuacct.usage', 'cpu.stat');
		const usageUs = () => {
			const t = fs.readFileSync(usageFile, 'utf8');
			return usageFile.endsWith('cpu.stat') ? Number(t.match(/usage_usec (\d+)/)[1]) : Number(t) / 1000;
		};
		const h = await v.commands.run('for i in 1 2 3 4; do yes > /dev/null & done; wait', { background: true, timeoutMs: 20_000 });
		try {
			await sleep(500);
			const u0 = usageUs();
			const t0 = process.hrtime.bigint();
			const rtts = [];
			for (let i = 0; i < 5; i++) rtts.push(await neighbourRoundTrip());
			await sleep(Math.max(0, 2000 - rtts.reduce((a, b) => a + b, 0)));
			const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
			const cpus = (usageUs() - u0) / wallUs;
			console.log(`# cpu hog: ${cpus.toFixed(2)} CPUs used (limit ${info.cpuCount}); neighbour rtt ms ${rtts.join(' ')}`);
			assert.ok(cpus <= info.cpuCount * 1.1 + 0.05, `hog used ${cpus.toFixed(2)} CPUs, limit ${info.cpuCount}`);
			assert.ok(cpus > 0.3, `hog used only ${cpus.toFixed(2)} CPUs: the test did not load it`);
			rtts.sort((a, b) => a - b);
			assert.ok(rtts[2] < 1500, `neighbour median round trip ${rtts[2]} ms under the CPU hog`);
		} finally {
			await h.kill().catch(() => {});
			await v.kill();
		}
	});
});
