// sbx.files.read / write through the official SDK: every data form, many files at once,
// ownership, errors (NotFound, permission, directory), symlinks that must not lead out, a
// directory swapped for a symlink during an upload, 1 GiB both ways with bounded memory in the
// agent and warrend, and files surviving a kill -9 + restart of warrend.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { startWarrend, waitFor } from './helpers/warrend.mjs';
import { runAllowFail } from './helpers/sandbox.mjs';
import { createSandbox } from './helpers/raw.mjs';

let w, e2b, Sandbox, sbx;
before(async () => {
	w = await startWarrend();
	e2b = await import('e2b');
	Sandbox = e2b.Sandbox;
	sbx = await Sandbox.create({ timeoutMs: 1800_000 });
});
after(async () => {
	await sbx?.kill().catch(() => {});
	await w?.stop();
});

const sh = async (cmd, opts = {}) => (await sbx.commands.run(cmd, { timeoutMs: 120_000, ...opts })).stdout;

// Host pids of a sandbox's processes with their pid inside it.
function sandboxProcs(id) {
	const pids = new Set();
	for (const d of w.cgroupDirs()) {
		try {
			for (const p of fs.readFileSync(path.join(d, id, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
		} catch {
			/* not in this hierarchy */
		}
	}
	const out = [];
	for (const pid of pids) {
		try {
			const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
			const ns = st.match(/^NSpid:\s+(.*)$/m)[1].split(/\s+/);
			out.push({ pid, nspid: ns[ns.length - 1] });
		} catch {
			/* gone */
		}
	}
	return out;
}

const rssKiB = (pid) => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)[1]);
// ASan's quarantine and shadow memory make RSS meaningless as a bound on live buffers.
const asan = (pid) => {
	try {
		return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libasan') || /asan/i.test(fs.readFileSync(`/proc/${pid}/environ`, 'utf8'));
	} catch {
		return false;
	}
};

// A ReadableStream of `total` bytes: a fixed random block with the chunk's index stamped in,
// hashed as it goes. `gate` (optional) is awaited after the first chunk.
function patternStream(total, { chunk = 1 << 20, gate } = {}) {
	const block = crypto.randomBytes(chunk);
	const hash = crypto.createHash('sha256');
	let sent = 0;
	let i = 0;
	const s = new ReadableStream({
		async pull(controller) {
			if (sent >= total) {
				s.sha256 = hash.digest('hex');
				controller.close();
				return;
			}
			if (i === 1 && gate) await gate;
			const n = Math.min(chunk, total - sent);
			const b = Buffer.from(block.subarray(0, n));
			b.writeUInt32LE(i++, 0);
			hash.update(b);
			sent += n;
			controller.enqueue(new Uint8Array(b.buffer, b.byteOffset, b.length));
		},
	});
	return s;
}

test('write and read every form: string, bytes, Blob, stream; text, bytes, blob, stream', async () => {
	const text = 'héllo wörld\n'.repeat(1000);
	const info = await sbx.files.write('/home/user/forms/a.txt', text);
	assert.deepEqual({ name: info.name, path: info.path, type: info.type }, { name: 'a.txt', path: '/home/user/forms/a.txt', type: 'file' });
	assert.equal(await sbx.files.read('/home/user/forms/a.txt'), text);
	assert.equal(await sbx.files.read('forms/a.txt'), text, 'relative paths are taken from the home');
	assert.equal(await sbx.files.read('~/forms/a.txt'), text);

	const bin = crypto.randomBytes(300_000);
	await sbx.files.write('forms/b.bin', bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length));
	assert.deepEqual(Buffer.from(await sbx.files.read('forms/b.bin', { format: 'bytes' })), bin);
	const blob = await sbx.files.read('forms/b.bin', { format: 'blob' });
	assert.deepEqual(Buffer.from(await blob.arrayBuffer()), bin);
	const chunks = [];
	for await (const c of await sbx.files.read('forms/b.bin', { format: 'stream' })) chunks.push(Buffer.from(c));
	assert.deepEqual(Buffer.concat(chunks), bin);

	await sbx.files.write('forms/c.bin', new Blob([bin]));
	assert.equal(await sh('sha256sum < ~/forms/c.bin'), crypto.createHash('sha256').update(bin).digest('hex') + '  -\n');

	const st = patternStream(5 << 20, { chunk: 100_000 });
	const sinfo = await sbx.files.write('forms/d.bin', st);
	assert.equal(sinfo.path, '/home/user/forms/d.bin');
	assert.equal(await sh('sha256sum < ~/forms/d.bin'), st.sha256 + '  -\n');

	// gzip upload (octet-stream, Content-Encoding: gzip).
	await sbx.files.write('forms/g.txt', text, { gzip: true });
	assert.equal(await sbx.files.read('forms/g.txt'), text);

	// An empty file: Content-Length 0, every format gives an empty value.
	await sbx.files.write('forms/empty', '');
	assert.equal(await sbx.files.read('forms/empty'), '');
	assert.equal((await sbx.files.read('forms/empty', { format: 'bytes' })).length, 0);

	// Overwrite truncates.
	await sbx.files.write('forms/a.txt', 'short');
	assert.equal(await sbx.files.read('forms/a.txt'), 'short');

	// Metadata (X-Metadata-* headers) replaces the file's set; a write without it clears it.
	await sbx.files.write('forms/m.txt', 'm', { metadata: { Owner: 'team-a', 'build-id': '42' } });
	assert.deepEqual((await sbx.files.getInfo('forms/m.txt')).metadata, { owner: 'team-a', 'build-id': '42' });
	await sbx.files.write('forms/m.txt', 'm2', { metadata: { other: 'x' } });
	assert.deepEqual((await sbx.files.getInfo('forms/m.txt')).metadata, { other: 'x' });
	await sbx.files.write('forms/m.txt', 'm3');
	assert.deepEqual((await sbx.files.getInfo('forms/m.txt')).metadata ?? {}, {});

	// Files and the parents created belong to the user, or to root when asked.
	assert.equal(await sh('stat -c %U:%G:%a ~/forms ~/forms/a.txt ~/forms/d.bin'), 'user:user:755\nuser:user:644\nuser:user:644\n');
	await sbx.files.write('/root/deep/r.txt', 'r', { user: 'root' });
	assert.equal(await sh('stat -c %U /root/deep /root/deep/r.txt', { user: 'root' }), 'root\nroot\n');
	assert.equal(await sbx.files.read('/root/deep/r.txt', { user: 'root' }), 'r');
});

test('write([...]) of many files in one request, absolute and relative paths', async () => {
	const files = [];
	for (let i = 0; i < 20; i++) files.push({ path: i % 2 ? `/home/user/many/abs${i}.txt` : `many/sub/rel${i}.txt`, data: `file ${i}\n` });
	files.push({ path: 'many/bin.dat', data: new Uint8Array([0, 1, 2, 255]).buffer });
	const infos = await sbx.files.write(files);
	assert.equal(infos.length, files.length);
	for (let i = 0; i < 20; i++) {
		const want = i % 2 ? `/home/user/many/abs${i}.txt` : `/home/user/many/sub/rel${i}.txt`;
		assert.equal(infos[i].path, want);
		assert.equal(infos[i].name, path.basename(want));
		assert.equal(await sbx.files.read(want), `file ${i}\n`);
	}
	assert.deepEqual([...(await sbx.files.read('many/bin.dat', { format: 'bytes' }))], [0, 1, 2, 255]);
	// The same through the octet-stream form: one request per file.
	const infos2 = await sbx.files.write(
		[
			{ path: 'many/o1', data: 'one' },
			{ path: 'many/o2', data: 'two' },
		],
		{ useOctetStream: true },
	);
	assert.deepEqual(
		infos2.map((x) => x.path),
		['/home/user/many/o1', '/home/user/many/o2'],
	);
	assert.equal(await sh('cat ~/many/o1 ~/many/o2'), 'onetwo');
});

test('errors: NotFound, permission denied, a directory, an unknown user', async () => {
	await assert.rejects(sbx.files.read('/home/user/does/not/exist'), (e) => {
		assert.ok(e instanceof e2b.NotFoundError, `${e.name}: ${e.message}`);
		assert.match(e.message, /does not exist/);
		return true;
	});
	await sh('echo secret > /root/secret && chmod 600 /root/secret', { user: 'root' });
	await assert.rejects(sbx.files.read('/root/secret'), (e) => {
		assert.ok(e instanceof e2b.SandboxError, `${e.name}: ${e.message}`);
		assert.match(e.message, /403: permission denied: user 'user' cannot read '\/root\/secret'/);
		return true;
	});
	await assert.rejects(sbx.files.write('/etc/not-mine', 'x'), /403: permission denied: user 'user' cannot write '\/etc\/not-mine'/);
	await assert.rejects(sbx.files.write('/root/sub/x', 'x'), /403: permission denied/);
	assert.equal(await sbx.files.read('/root/secret', { user: 'root' }), 'secret\n');
	// /usr is the host's, read-only even to root inside.
	await assert.rejects(sbx.files.write('/usr/bin/evil', 'x', { user: 'root' }), /403: permission denied/);
	await assert.rejects(sbx.files.read('/home/user'), (e) => e instanceof e2b.InvalidArgumentError && /is a directory/.test(e.message));
	await sh('mkdir -p ~/adir');
	await assert.rejects(sbx.files.write('/home/user/adir', 'x'), (e) => e instanceof e2b.InvalidArgumentError);
	await assert.rejects(sbx.files.read('/home/user/x', { user: 'nobody-here' }), (e) => e instanceof e2b.AuthenticationError);
	await assert.rejects(sbx.files.read('/home/user/x', { user: 'u'.repeat(300) }), (e) => e instanceof e2b.AuthenticationError);
	// Older SDKs name the user in "Authorization: Basic base64(user:)" instead of ?username=.
	const basic = await fetch(`${w.sandboxUrl}/files?path=/root/secret`, {
		headers: { 'E2b-Sandbox-Id': sbx.sandboxId, Authorization: `Basic ${Buffer.from('root:').toString('base64')}` },
	});
	assert.equal(basic.status, 200);
	assert.equal(await basic.text(), 'secret\n');
	// A FIFO is never opened for reading or writing (it would block the request).
	await sh('mkfifo ~/fifo');
	await assert.rejects(sbx.files.read('fifo'), /not a regular file/);
	await assert.rejects(sbx.files.write('fifo', 'x'), /not a regular file/);
	// The agent still serves.
	await sbx.files.write('still.txt', 'serving');
	assert.equal(await sbx.files.read('still.txt'), 'serving');
});

test('paths stay inside the sandbox: .., symlinks to /etc/passwd, /proc/1/root, /proc/self/fd', async () => {
	const inside = await sh('cat /etc/passwd');
	assert.notEqual(inside, fs.readFileSync('/etc/passwd', 'utf8'), 'the sandbox has its own /etc/passwd');
	await sh('ln -sf /etc/passwd ~/pw && ln -sfn / ~/rootlink && ln -sfn /proc/1/root ~/magic && ln -sfn /proc/self/root ~/self');
	assert.equal(await sbx.files.read('pw'), inside, 'an absolute symlink resolves in the sandbox');
	assert.equal(await sbx.files.read('rootlink/etc/passwd'), inside);
	assert.equal(await sbx.files.read('/home/user/../../../../etc/passwd'), inside, '.. stops at the sandbox root');
	assert.equal((await sbx.files.read('/../../etc/hostname')).trim(), sbx.sandboxId);
	for (const p of ['/home/user/magic/etc/passwd', '/home/user/self/etc/passwd', '/proc/1/root/etc/passwd', '/proc/self/root/etc/hostname', '/proc/1/cwd/etc/passwd']) {
		await assert.rejects(sbx.files.read(p, { user: 'root' }), (e) => e instanceof e2b.InvalidArgumentError && /cannot be resolved/.test(e.message), p);
	}
	await assert.rejects(sbx.files.write('/home/user/magic/tmp/through-proc', 'x', { user: 'root' }), /cannot be resolved/);
	assert.equal(await sh('ls /tmp/through-proc 2>&1 || true'), 'ls: cannot access \'/tmp/through-proc\': No such file or directory\n');
	// Writing through a symlink to the sandbox's /etc/passwd as the user is denied, as in a shell.
	await assert.rejects(sbx.files.write('pw', 'x'), /403: permission denied/);
	assert.equal(await sh('cat /etc/passwd'), inside);
	assert.ok(!fs.existsSync('/through-proc') && !fs.existsSync('/tmp/through-proc'));
});

test('a directory swapped for a symlink during an upload: the data stays in the directory it was opened in', async () => {
	await sh('mkdir -p /tmp/race/d', { user: 'root' });
	let release;
	const gate = new Promise((r) => (release = r));
	const total = 64 << 20;
	const st = patternStream(total, { gate });
	const up = sbx.files.write('/tmp/race/d/big', st, { user: 'root' });
	try {
		assert.ok(
			await waitFor(async () => (await runAllowFail(sbx, 'test -f /tmp/race/d/big')).exitCode === 0, { timeoutMs: 60_000, intervalMs: 100 }),
			'the upload did not create its file',
		);
		// Swap: the directory moves away and a symlink to /etc takes its name.
		await sh('mv /tmp/race/d /tmp/race/moved && ln -s /etc /tmp/race/d', { user: 'root' });
	} finally {
		release();
	}
	const info = await up;
	assert.equal(info.path, '/tmp/race/d/big');
	assert.equal(await sh('stat -c %s /tmp/race/moved/big; sha256sum < /tmp/race/moved/big; ls /etc/big 2>/dev/null | wc -l', { user: 'root' }), `${total}\n${st.sha256}  -\n0\n`);
	assert.ok(!fs.existsSync('/etc/big'));

	// A loop inside the sandbox flips a directory and a symlink through /proc/1/root while files
	// are uploaded into it: each upload lands in the real directory or is refused, never elsewhere.
	await sh('mkdir -p /tmp/flip/real /tmp/flip/target', { user: 'root' });
	const flipper = await sbx.commands.run(
		'cd /tmp/flip; while :; do ln -sfn real d; ln -sfn /proc/1/root/tmp/flip/target d; rm -f d; mkdir -p d; rmdir d; done',
		{ background: true, user: 'root' },
	);
	let ok = 0;
	let refused = 0;
	try {
		for (let i = 0; i < 40; i++) {
			try {
				await sbx.files.write(`/tmp/flip/d/f${i}`, `${i}`, { user: 'root' });
				ok++;
			} catch (e) {
				assert.ok(e instanceof e2b.SandboxError, `${e.name}: ${e.message}`);
				refused++;
			}
		}
	} finally {
		await flipper.kill();
	}
	const target = await sh('ls -A /tmp/flip/target | wc -l', { user: 'root' });
	assert.equal(target, '0\n', 'a file was written through the /proc/1/root symlink');
	const real = Number(await sh('ls /tmp/flip/real | wc -l', { user: 'root' }));
	assert.ok(real <= ok, `${real} files in real/, ${ok} uploads succeeded, ${refused} refused`);
});

test('1 GiB up and down through warrend with bounded memory in the agent and warrend', { timeout: 900_000 }, async (t) => {
	const agent = sandboxProcs(sbx.sandboxId).find((p) => p.nspid === '1');
	assert.ok(agent, 'no agent process in the sandbox cgroup');
	const peak = { agent: 0, warrend: 0 };
	const sample = () => {
		try {
			peak.agent = Math.max(peak.agent, rssKiB(agent.pid));
			peak.warrend = Math.max(peak.warrend, rssKiB(w.pid));
		} catch {
			/* exited: the assertions below fail */
		}
	};
	const timer = setInterval(sample, 50);
	const total = 1 << 30;
	try {
		const st = patternStream(total);
		let t0 = Date.now();
		await sbx.files.write('/home/user/huge.bin', st, { user: 'root' });
		const upMs = Date.now() - t0;
		assert.equal(await sh('stat -c %s /home/user/huge.bin; sha256sum < /home/user/huge.bin', { user: 'root', timeoutMs: 300_000 }), `${total}\n${st.sha256}  -\n`);

		t0 = Date.now();
		const hash = crypto.createHash('sha256');
		let got = 0;
		for await (const c of await sbx.files.read('/home/user/huge.bin', { format: 'stream', user: 'root' })) {
			hash.update(c);
			got += c.length;
		}
		const downMs = Date.now() - t0;
		assert.equal(got, total);
		assert.equal(hash.digest('hex'), st.sha256);
		sample();
		t.diagnostic(`1 GiB up ${upMs} ms (${(1024 / (upMs / 1000)).toFixed(0)} MiB/s), down ${downMs} ms (${(1024 / (downMs / 1000)).toFixed(0)} MiB/s); peak RSS agent ${peak.agent} KiB, warrend ${peak.warrend} KiB`);
	} finally {
		clearInterval(timer);
		await sh('rm -f /home/user/huge.bin', { user: 'root' }).catch(() => {});
	}
	if (!asan(agent.pid)) assert.ok(peak.agent < 64 * 1024, `agent peak RSS ${peak.agent} KiB`);
	if (!asan(w.pid)) assert.ok(peak.warrend < 64 * 1024, `warrend peak RSS ${peak.warrend} KiB`);
});

test('a full disk gives NotEnoughSpaceError (507), and the failed file gives its space back', async () => {
	const { sandboxID } = await createSandbox(w, { templateID: 'base', diskSizeMB: 32 });
	const small = await Sandbox.connect(sandboxID);
	try {
		for (const [form, write] of [
			['stream', () => small.files.write('full.bin', patternStream(64 << 20))],
			['multipart', () => small.files.write('full.bin', new Blob([crypto.randomBytes(64 << 20)]))],
			['many', () => small.files.write([{ path: 'ok.txt', data: 'fits' }, { path: 'full.bin', data: new Blob([Buffer.alloc(64 << 20, 7)]) }])],
		]) {
			await assert.rejects(write(), (e) => {
				assert.ok(e instanceof e2b.NotEnoughSpaceError, `${form}: ${e.name}: ${e.message}`);
				assert.match(e.message, /not enough disk space/);
				return true;
			});
			// The partial file was emptied: the disk has room again.
			assert.equal((await small.commands.run('stat -c %s ~/full.bin')).stdout, '0\n', form);
			await small.files.write('after.txt', 'room again');
			assert.equal(await small.files.read('after.txt'), 'room again');
		}
	} finally {
		await small.kill();
	}
});

// curl with no routing headers, as a user pasting the URL would: resolves {status, body}.
function curl(args) {
	const out = execFileSync('curl', ['-sS', '--noproxy', '*', '-w', '\n%{http_code}', ...args], { encoding: 'latin1', maxBuffer: 64 << 20 });
	const i = out.lastIndexOf('\n');
	return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
}

test('uploadUrl / downloadUrl of secure sandboxes with plain curl: routed by the signature, checked by the agent', async () => {
	const a = await Sandbox.connect((await createSandbox(w, { templateID: 'base', secure: true })).sandboxID);
	const b = await Sandbox.connect((await createSandbox(w, { templateID: 'base', secure: true })).sandboxID);
	const tmp = fs.mkdtempSync('/tmp/warren-transfer-');
	try {
		assert.ok(a.envdAccessToken && b.envdAccessToken, 'secure sandboxes have tokens');
		for (const [sbxN, name] of [
			[a, 'a'],
			[b, 'b'],
		]) {
			const local = path.join(tmp, `${name}.txt`);
			fs.writeFileSync(local, `hello from ${name}\n`);
			const up = await sbxN.uploadUrl('/home/user/up.txt');
			assert.match(up, /^http:\/\/127\.0\.0\.1:\d+\/files\?/);
			assert.doesNotMatch(up, new RegExp(sbxN.sandboxId), 'the URL carries no sandbox id');
			const r = curl(['-F', `file=@${local};filename=/home/user/up.txt`, up]);
			assert.equal(r.status, 200, r.body);
			assert.deepEqual(JSON.parse(r.body), [{ path: '/home/user/up.txt', name: 'up.txt', type: 'file' }]);
			assert.equal(await sbxN.files.read('/home/user/up.txt'), `hello from ${name}\n`);
			const down = curl([await sbxN.downloadUrl('/home/user/up.txt', { useSignatureExpiration: 120 })]);
			assert.equal(down.status, 200);
			assert.equal(down.body, `hello from ${name}\n`);
		}
		// A file uploaded without ?path= (uploadUrl() with no path): the filename decides.
		fs.writeFileSync(path.join(tmp, 'n.txt'), 'no path');
		const r0 = curl(['-F', `file=@${path.join(tmp, 'n.txt')};filename=nested/n.txt`, await a.uploadUrl()]);
		assert.equal(r0.status, 200, r0.body);
		assert.equal(await a.files.read('nested/n.txt'), 'no path');
		// A user's URL: root's file through root's signature, not through user's.
		await a.files.write('/root/r.txt', 'root only', { user: 'root' });
		assert.equal(curl([await a.downloadUrl('/root/r.txt', { user: 'root' })]).body, 'root only');
		// Expired, tampered, or reused for another path or operation: 401.
		const expired = curl([await a.downloadUrl('/home/user/up.txt', { useSignatureExpiration: -5 })]);
		assert.equal(expired.status, 401);
		assert.match(expired.body, /signature is already expired/);
		const good = new URL(await a.downloadUrl('/home/user/up.txt'));
		const other = new URL(good);
		other.searchParams.set('path', '/home/user/nested/n.txt');
		assert.equal(curl([other.href]).status, 401);
		const tampered = new URL(good);
		tampered.searchParams.set('signature', good.searchParams.get('signature').slice(0, -2) + 'AA');
		const t = curl([tampered.href]);
		assert.equal(t.status, 401);
		assert.match(t.body, /"code":401/);
		assert.equal(curl(['-X', 'POST', '-H', 'Content-Type: application/octet-stream', '--data-binary', 'x', good.href]).status, 401, 'a read signature does not allow a write');
		// Routing headers without the token and without a signature: the agent refuses.
		const noTok = curl(['-H', `E2b-Sandbox-Id: ${a.sandboxId}`, `${w.sandboxUrl}/files?path=/home/user/up.txt`]);
		assert.equal(noTok.status, 401);
		assert.equal(curl(['-H', `E2b-Sandbox-Id: ${a.sandboxId}`, '-H', `X-Access-Token: ${a.envdAccessToken}`, `${w.sandboxUrl}/files?path=/home/user/up.txt`]).body, 'hello from a\n');
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
		await a.kill().catch(() => {});
		await b.kill().catch(() => {});
	}
});

test('files written survive a kill -9 and restart of warrend while the sandbox lives', async () => {
	const data = crypto.randomBytes(1 << 20);
	await sbx.files.write('keep/me.bin', data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
	await w.kill9();
	await w.restart();
	const again = await Sandbox.connect(sbx.sandboxId);
	assert.deepEqual(Buffer.from(await again.files.read('keep/me.bin', { format: 'bytes' })), data);
	await again.files.write('keep/after.txt', 'after restart');
	assert.equal(await again.files.read('keep/after.txt'), 'after restart');
});
