// The per-sandbox disk quota: every sandbox writes to a file system of its own (a sparse ext4
// image on a loop device, docs/RUNTIME.md), 10 GiB unless the create body's diskSizeMB (warren's
// extension) asks less. Writes past it fail with ENOSPC, the data lives as long as the sandbox
// (through a kill -9 and restart of warrend), and nothing of it outlives the sandbox.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { startWarrend, waitFor } from './helpers/warrend.mjs';
import { createSandbox, request } from './helpers/raw.mjs';

let w, Sandbox, CommandExitError;
before(async () => {
	w = await startWarrend();
	({ Sandbox, CommandExitError } = await import('e2b'));
});
after(async () => {
	await w?.stop();
});

const sbxDir = (id) => path.join(fs.realpathSync(w.stateDir), 'sandboxes', id);

// Loop devices whose backing file is in this run's state directory.
function loopsOf(id = '') {
	const prefix = path.join(fs.realpathSync(w.stateDir), 'sandboxes', id);
	const out = [];
	for (const d of fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
		try {
			const f = fs.readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8').trim();
			if (f.startsWith(prefix)) out.push(`${d} ${f}`);
		} catch {
			/* not attached */
		}
	}
	return out;
}

// Host mount points of a sandbox's directory.
function mountsOf(id) {
	const dir = sbxDir(id);
	return fs
		.readFileSync('/proc/self/mountinfo', 'utf8')
		.split('\n')
		.map((l) => l.split(' ')[4])
		.filter((m) => m && (m === dir || m.startsWith(dir + '/')));
}

const gone = (id) => loopsOf(id).length === 0 && mountsOf(id).length === 0 && !fs.existsSync(sbxDir(id));

// df of / inside: the overlay reports its upper layer's file system, i.e. the sandbox's disk.
async function dfRoot(sbx) {
	const r = await sbx.commands.run("df -B1 --output=size,used,avail / | tail -1");
	const [size, used, avail] = r.stdout.trim().split(/\s+/).map(Number);
	return { size, used, avail };
}

test('a sandbox has a 10 GiB disk of its own by default', async () => {
	const sbx = await Sandbox.create();
	const info = await request(w, { path: `/sandboxes/${sbx.sandboxId}` });
	assert.equal(info.json.diskSizeMB, 10240);
	const df = await dfRoot(sbx);
	assert.ok(df.size > 9.5 * 2 ** 30 && df.size <= 10 * 2 ** 30, `df size ${df.size}`);
	assert.deepEqual(mountsOf(sbx.sandboxId), [path.join(sbxDir(sbx.sandboxId), 'disk')]);
	assert.equal(loopsOf(sbx.sandboxId).length, 1);
	// Sparse: the image takes what is written, not 10 GiB.
	const st = fs.statSync(path.join(sbxDir(sbx.sandboxId), 'disk.img'));
	assert.equal(st.size, 10 * 2 ** 30);
	assert.ok(st.blocks * 512 < 64 * 2 ** 20, `image takes ${st.blocks * 512} bytes`);
	const tpl = await request(w, { path: '/templates' });
	assert.equal(tpl.json[0].diskSizeMB, 10240);
	assert.equal(await sbx.kill(), true);
	assert.ok(await waitFor(() => gone(sbx.sandboxId), { timeoutMs: 10000 }), `left: ${loopsOf(sbx.sandboxId)} ${mountsOf(sbx.sandboxId)}`);
});

test('writes past the quota fail with "No space left on device", for user and root', async () => {
	const { sandboxID } = await createSandbox(w, { templateID: 'base', diskSizeMB: 64 });
	const sbx = await Sandbox.connect(sandboxID);
	const info = await request(w, { path: `/sandboxes/${sandboxID}` });
	assert.equal(info.json.diskSizeMB, 64);
	const df = await dfRoot(sbx);
	assert.ok(df.size > 40 * 2 ** 20 && df.size <= 64 * 2 ** 20, `df size ${df.size}`);

	for (const [user, file] of [
		['user', '/home/user/big'],
		['root', '/var/big'],
		['user', '/tmp/big'], // /tmp is on the disk too (a tmpfs would count against memory)
	]) {
		const err = await sbx.commands.run(`head -c 100M /dev/zero > ${file}`, { user }).catch((e) => e);
		assert.ok(err instanceof CommandExitError, `${user}: ${err}`);
		assert.notEqual(err.exitCode, 0);
		assert.match(err.stderr, /No space left on device/);
		const size = Number((await sbx.commands.run(`stat -c %s ${file}`, { user })).stdout);
		assert.ok(size > 30 * 2 ** 20 && size < 64 * 2 ** 20, `${user} wrote ${size} bytes`);
		// dd says the same.
		const dd = await sbx.commands.run(`dd if=/dev/zero of=${file}.2 bs=1M count=8`, { user }).catch((e) => e);
		assert.ok(dd instanceof CommandExitError, `dd: ${dd}`);
		assert.match(dd.stderr, /No space left on device/);
		// Deleting gives the space back.
		await sbx.commands.run(`rm -f ${file} ${file}.2`, { user });
		await sbx.commands.run(`head -c 16M /dev/zero > ${file} && sync && rm ${file}`, { user });
	}
	// A copy-up of a template file counts against the same disk (and works while there is room).
	const r = await sbx.commands.run('echo x >> /etc/hostname && tail -1 /etc/hostname', { user: 'root' });
	assert.equal(r.stdout, 'x\n');
	await sbx.kill();
	assert.ok(await waitFor(() => gone(sandboxID), { timeoutMs: 10000 }));
});

test('diskSizeMB is checked', async () => {
	for (const v of ['64', 15, 0, -5, 1.5, 20480, 2 ** 40, true]) {
		const r = await request(w, { method: 'POST', path: '/v2/sandboxes', body: { templateID: 'base', diskSizeMB: v } });
		assert.equal(r.status, 400, `${JSON.stringify(v)}: ${r.status} ${r.body}`);
		assert.equal(r.json.code, 400);
		assert.match(r.json.message, /diskSizeMB/);
	}
	const r = await request(w, { method: 'POST', path: '/v2/sandboxes', body: { templateID: 'base', diskSizeMB: 10240 } });
	assert.equal(r.status, 201);
	assert.equal((await request(w, { method: 'DELETE', path: `/sandboxes/${r.json.sandboxID}` })).status, 204);
});

test('files survive a kill -9 and restart of warrend (even a lost host mount) while the sandbox lives; a dead one leaves no disk', async () => {
	const a = await Sandbox.create({ timeoutMs: 600_000 });
	const b = await Sandbox.create({ timeoutMs: 600_000 });
	await a.commands.run('head -c 3M /dev/urandom > /home/user/data && sha256sum /home/user/data > /home/user/sum');
	await b.commands.run('echo b > /home/user/b');
	const bPids = fs
		.readdirSync('/proc')
		.filter((p) => /^\d+$/.test(p))
		.filter((p) => {
			try {
				return fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/${b.sandboxId}`);
			} catch {
				return false;
			}
		});
	assert.ok(bPids.length > 0);

	const aLoop = loopsOf(a.sandboxId);
	assert.equal(aLoop.length, 1);
	await w.kill9();
	// As after a lost host mount: the sandbox's overlay still holds the file system, and the
	// restart mounts it again through the same loop device (never a second one on the image).
	assert.equal(spawnSync('umount', ['-l', path.join(sbxDir(a.sandboxId), 'disk')]).status, 0);
	assert.equal(mountsOf(a.sandboxId).length, 0);
	for (const p of bPids) {
		try {
			process.kill(Number(p), 'SIGKILL');
		} catch {
			/* gone */
		}
	}
	await w.restart();

	const a2 = await Sandbox.connect(a.sandboxId);
	const r = await a2.commands.run('sha256sum -c /home/user/sum');
	assert.match(r.stdout, /data: OK/);
	await a2.commands.run('echo more > /home/user/more && cat /home/user/more');
	assert.deepEqual(mountsOf(a.sandboxId), [path.join(sbxDir(a.sandboxId), 'disk')]);
	assert.deepEqual(loopsOf(a.sandboxId), aLoop);
	assert.equal(fs.readFileSync(path.join(sbxDir(a.sandboxId), 'disk/upper/home/user/more'), 'utf8'), 'more\n');
	// b died while warrend was down: its disk went at the restart.
	assert.ok(await waitFor(() => gone(b.sandboxId), { timeoutMs: 15000 }), `b left: ${loopsOf(b.sandboxId)} ${mountsOf(b.sandboxId)}`);
	assert.equal(await a2.kill(), true);
	assert.ok(await waitFor(() => gone(a.sandboxId), { timeoutMs: 10000 }));
});

test('--disk-size: checked at start; 0 runs sandboxes without a disk of their own', async () => {
	const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-test-disk-'));
	try {
		for (const bad of ['15', '-1', 'ten', '1048577']) {
			const start = startWarrend({ stateDir, setEnv: false, env: { WARREN_DISK_SIZE_MB: bad }, readyTimeoutMs: 30000 });
			await assert.rejects(start, /exited early[^]*invalid --disk-size/, bad);
		}
	} finally {
		fs.rmSync(stateDir, { recursive: true, force: true });
	}
	const w0 = await startWarrend({ setEnv: false, env: { WARREN_DISK_SIZE_MB: '0', WARREN_POOL_SIZE: '0' } });
	try {
		const s = await createSandbox(w0);
		const dir = path.join(fs.realpathSync(w0.stateDir), 'sandboxes', s.sandboxID);
		assert.ok(fs.existsSync(path.join(dir, 'upper')));
		assert.ok(!fs.existsSync(path.join(dir, 'disk.img')));
		assert.equal((await request(w0, { path: `/sandboxes/${s.sandboxID}` })).json.diskSizeMB, 0);
		const r = await request(w0, { method: 'POST', path: '/v2/sandboxes', body: { templateID: 'base', diskSizeMB: 64 } });
		assert.equal(r.status, 400);
		assert.match(r.json.message, /diskSizeMB/);
	} finally {
		await w0.stop();
	}
});
