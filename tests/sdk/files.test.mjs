// sandbox.files (filesystem.Filesystem) through the SDK: getInfo/exists/list(depth)/makeDir/rename/
// remove with exact EntryInfo fields and metadata, the requesting user's permissions (user vs
// root), NotFoundError, paths and symlinks that must stay inside the sandbox (.., absolute links,
// /proc/<pid>/root), and watchDir events (create/write/chmod/rename/remove, recursive,
// includeEntry), plus the poll-style watchers (CreateWatcher/GetWatcherEvents/RemoveWatcher).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { envelope, parseEnvelopes, request, sandboxHeaders } from './helpers/raw.mjs';
import { py, runAllowFail } from './helpers/sandbox.mjs';
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

const sh = async (cmd, opts = {}) => {
	const r = await runAllowFail(sbx, cmd, opts);
	assert.equal(r.exitCode, 0, `${cmd}: ${r.stderr}`);
	return r.stdout;
};

// stat(1) inside the sandbox: the truth EntryInfo is compared with.
async function statIn(path, opts = {}) {
	const [size, mode, user, group, mtime] = (await sh(`stat -c '%s %a %U %G %Y' ${path}`, opts)).trim().split(' ');
	return { size: Number(size), mode: parseInt(mode, 8), owner: user, group, mtime: Number(mtime) };
}

// A raw unary call of the filesystem service through warrend (for what the JS SDK does not call).
async function fsCall(method, body, user) {
	const headers = { ...sandboxHeaders({ sandboxID: sbx.sandboxId, envdAccessToken: sbx.envdAccessToken }), 'Connect-Protocol-Version': '1' };
	if (user) headers.Authorization = 'Basic ' + Buffer.from(user + ':').toString('base64');
	return request({ apiUrl: w.sandboxUrl }, { method: 'POST', path: `/filesystem.Filesystem/${method}`, headers, body, auth: false });
}

test('getInfo: every EntryInfo field of a file and a directory, as stat(1) sees them', async () => {
	await sh('mkdir -p /home/user/info && printf hello > /home/user/info/f.txt && chmod 640 /home/user/info/f.txt');
	const st = await statIn('/home/user/info/f.txt');
	const i = await sbx.files.getInfo('/home/user/info/f.txt');
	assert.equal(i.name, 'f.txt');
	assert.equal(i.type, 'file');
	assert.equal(i.path, '/home/user/info/f.txt');
	assert.equal(i.size, 5);
	assert.equal(i.mode, 0o640);
	assert.equal(i.permissions, '-rw-r-----');
	assert.equal(i.owner, 'user');
	assert.equal(i.group, 'user');
	assert.ok(i.modifiedTime instanceof Date);
	assert.equal(Math.floor(i.modifiedTime.getTime() / 1000), st.mtime);
	assert.equal(i.symlinkTarget, undefined);
	assert.equal(i.metadata, undefined);

	const d = await sbx.files.getInfo('info'); // relative: against the user's home
	assert.equal(d.type, 'dir');
	assert.equal(d.path, '/home/user/info');
	assert.equal(d.permissions, 'drwxr-xr-x');
	assert.equal(d.mode, 0o755);
	const tmp = await sbx.files.getInfo('/tmp');
	assert.equal(tmp.permissions, 'dtrwxrwxrwx');
	assert.equal(tmp.mode, 0o777);
	const root = await sbx.files.getInfo('/');
	assert.equal(root.name, '/');
	assert.equal(root.path, '/');
	const home = await sbx.files.getInfo('~');
	assert.equal(home.path, '/home/user');
});

test('metadata: user.e2b.* xattrs show in EntryInfo.metadata, other xattrs do not', async () => {
	await sh('printf x > /home/user/meta.txt');
	const r = await py(
		sbx,
		`import os
os.setxattr('/home/user/meta.txt', 'user.e2b.owner', b'team a')
os.setxattr('/home/user/meta.txt', 'user.e2b.k2', b'v=2')
os.setxattr('/home/user/meta.txt', 'user.other', b'hidden')
os.setxattr('/home/user/meta.txt', 'user.e2b.bad', b'\\xff\\xfe')`,
	);
	assert.equal(r.exitCode, 0, r.stderr);
	const i = await sbx.files.getInfo('/home/user/meta.txt');
	assert.deepEqual(i.metadata, { owner: 'team a', k2: 'v=2' });
	const [listed] = (await sbx.files.list('/home/user')).filter((e) => e.name === 'meta.txt');
	assert.deepEqual(listed.metadata, { owner: 'team a', k2: 'v=2' });
	// Metadata given to files.write (X-Metadata-* headers) is what getInfo shows.
	await sbx.files.write('/home/user/up.txt', 'data', { metadata: { project: 'p1', stage: 'dev' } });
	assert.deepEqual((await sbx.files.getInfo('/home/user/up.txt')).metadata, { project: 'p1', stage: 'dev' });
});

test('exists and NotFoundError for a missing path', async () => {
	assert.equal(await sbx.files.exists('/home/user'), true);
	assert.equal(await sbx.files.exists('/home/user/nope'), false);
	assert.equal(await sbx.files.exists('/home/user/nope/deeper'), false);
	await assert.rejects(sbx.files.getInfo('/home/user/nope'), (e) => e instanceof E2B.NotFoundError && /nope/.test(e.message));
	await assert.rejects(sbx.files.list('/home/user/nope'), E2B.NotFoundError);
	await assert.rejects(sbx.files.rename('/home/user/nope', '/home/user/nope2'), E2B.NotFoundError);
});

test('list: depth 1 and 2, absolute paths, WalkDir order; a file is not a directory', async () => {
	await sh('rm -rf /home/user/tree && mkdir -p /home/user/tree/b/c/d && touch /home/user/tree/a.txt /home/user/tree/b/z.txt /home/user/tree/b/c/deep.txt');
	const one = await sbx.files.list('/home/user/tree');
	assert.deepEqual(
		one.map((e) => [e.name, e.type, e.path]),
		[
			['a.txt', 'file', '/home/user/tree/a.txt'],
			['b', 'dir', '/home/user/tree/b'],
		],
	);
	const two = await sbx.files.list('/home/user/tree', { depth: 2 });
	assert.deepEqual(
		two.map((e) => e.path),
		['/home/user/tree/a.txt', '/home/user/tree/b', '/home/user/tree/b/c', '/home/user/tree/b/z.txt'],
	);
	const all = await sbx.files.list('tree', { depth: 10 });
	assert.deepEqual(
		all.map((e) => e.path.replace('/home/user/tree/', '')),
		['a.txt', 'b', 'b/c', 'b/c/d', 'b/c/deep.txt', 'b/z.txt'],
	);
	for (const e of all) {
		assert.equal(e.owner, 'user');
		assert.ok(e.modifiedTime instanceof Date);
	}
	await assert.rejects(sbx.files.list('/home/user/tree/a.txt'), E2B.InvalidArgumentError);
	await assert.rejects(sbx.files.list('/home/user/tree', { depth: 0 }), E2B.InvalidArgumentError);
});

test('makeDir: true with parents owned by the user, false when it exists, error over a file', async () => {
	await sh('rm -rf /home/user/mk');
	assert.equal(await sbx.files.makeDir('/home/user/mk/a/b'), true);
	assert.deepEqual(await statIn('/home/user/mk/a').then((s) => [s.owner, s.group, s.mode]), ['user', 'user', 0o755]);
	assert.deepEqual(await statIn('/home/user/mk/a/b').then((s) => [s.owner, s.group]), ['user', 'user']);
	assert.equal(await sbx.files.makeDir('/home/user/mk/a/b'), false);
	assert.equal(await sbx.files.makeDir('mk/a'), false);
	await sh('touch /home/user/mk/file');
	await assert.rejects(sbx.files.makeDir('/home/user/mk/file'), E2B.InvalidArgumentError);
});

test('rename returns the new entry; remove is rm -rf and accepts a missing path', async () => {
	await sh('rm -rf /home/user/mv && mkdir -p /home/user/mv/d/sub && printf abc > /home/user/mv/f');
	const e = await sbx.files.rename('/home/user/mv/f', '/home/user/mv/new/g');
	assert.equal(e.name, 'g');
	assert.equal(e.path, '/home/user/mv/new/g');
	assert.equal(e.type, 'file');
	assert.equal(e.size, 3);
	assert.equal(await sbx.files.exists('/home/user/mv/f'), false);
	assert.equal((await sh('cat /home/user/mv/new/g')), 'abc');
	const d = await sbx.files.rename('mv/d', 'mv/d2');
	assert.equal(d.type, 'dir');
	assert.equal(await sbx.files.exists('/home/user/mv/d2/sub'), true);

	// Onto a non-empty directory, or a directory into itself: refused, nothing moved.
	await sh('mkdir -p /home/user/mv/full/x');
	await assert.rejects(sbx.files.rename('/home/user/mv/d2', '/home/user/mv/full'), /already_exists/);
	await assert.rejects(sbx.files.rename('/home/user/mv/d2', '/home/user/mv/d2/sub/in'), E2B.InvalidArgumentError);
	assert.equal(await sbx.files.exists('/home/user/mv/d2/sub'), true);
	await sbx.files.remove('/home/user/mv/new/g');
	assert.equal(await sbx.files.exists('/home/user/mv/new/g'), false);
	await sbx.files.remove('/home/user/mv');
	assert.equal(await sbx.files.exists('/home/user/mv'), false);
	await sbx.files.remove('/home/user/mv'); // missing: no error
});

test('permissions: user cannot touch /root or /etc/shadow and is told so; root can', async () => {
	const denied = (re) => (e) => {
		assert.ok(e instanceof E2B.SandboxError, String(e));
		assert.match(e.message, /permission_denied/);
		assert.match(e.message, /user 'user'/);
		assert.match(e.message, re);
		return true;
	};
	await assert.rejects(sbx.files.list('/root'), denied(/\/root/));
	await assert.rejects(sbx.files.makeDir('/root/x'), denied(/\/root\/x/));
	await assert.rejects(sbx.files.remove('/etc/shadow'), denied(/\/etc\/shadow/));
	await assert.rejects(sbx.files.rename('/etc/shadow', '/etc/shadow.moved'), denied(/\/etc\/shadow/));
	await assert.rejects(sbx.files.watchDir('/root', () => {}), denied(/\/root/));
	assert.equal(await sbx.files.exists('/etc/shadow', { user: 'root' }), true);
	// The default user's metadata read of /etc/shadow needs read access: none is shown, no error.
	assert.equal((await sbx.files.getInfo('/etc/shadow')).metadata, undefined);

	assert.equal(await sbx.files.makeDir('/root/made-by-root', { user: 'root' }), true);
	const i = await sbx.files.getInfo('/root/made-by-root', { user: 'root' });
	assert.equal(i.owner, 'root');
	const names = (await sbx.files.list('/root', { user: 'root' })).map((e) => e.name);
	assert.ok(names.includes('made-by-root'), names.join(','));
	await sbx.files.remove('/root/made-by-root', { user: 'root' });
	assert.equal(await sbx.files.exists('/root/made-by-root', { user: 'root' }), false);
	// Files the user creates belong to the user; root's belong to root.
	await sbx.files.makeDir('/tmp/by-user');
	await sbx.files.makeDir('/tmp/by-root', { user: 'root' });
	assert.equal((await statIn('/tmp/by-user')).owner, 'user');
	assert.equal((await statIn('/tmp/by-root')).owner, 'root');
});

test('paths stay in the sandbox: .., absolute symlinks, /proc/<pid>/root links', async () => {
	// A marker only the sandbox's /etc has, and the sandbox's own passwd.
	await sh('touch /etc/warren-sandbox-marker', { user: 'root' });
	const sbxPasswd = await statIn('/etc/passwd');
	assert.ok(!fs.existsSync('/etc/warren-sandbox-marker'));

	const up = await sbx.files.getInfo('/../../../../etc/passwd');
	assert.equal(up.path, '/etc/passwd');
	assert.equal(up.size, sbxPasswd.size);
	const rel = await sbx.files.getInfo('../../../../../etc/warren-sandbox-marker');
	assert.equal(rel.path, '/etc/warren-sandbox-marker');

	// Links planted by code in the sandbox.
	await sh('cd /home/user && rm -rf links && mkdir links && cd links && ln -s /etc/passwd pw && ln -s /etc etc && ln -s /proc/1/root/etc p1etc && ln -s /proc/self/root/etc/passwd selfpw && ln -s loop loop');
	const pw = await sbx.files.getInfo('/home/user/links/pw');
	assert.equal(pw.type, 'file');
	assert.equal(pw.symlinkTarget, '/etc/passwd');
	assert.equal(pw.permissions, 'Lrwxrwxrwx');
	assert.equal(pw.size, '/etc/passwd'.length);
	assert.equal(pw.mode, sbxPasswd.mode);
	const viaLink = await sbx.files.getInfo('/home/user/links/etc/passwd');
	assert.equal(viaLink.size, sbxPasswd.size);
	const etc = await sbx.files.list('/home/user/links/etc');
	assert.ok(etc.some((e) => e.name === 'warren-sandbox-marker'), 'listing through the link shows the sandbox /etc');
	assert.ok(etc.every((e) => e.path.startsWith('/home/user/links/etc/')));

	// /proc/<pid>/root and /proc/self/... are magic links: never followed.
	const magic = (e) => e instanceof E2B.InvalidArgumentError && /\/proc/.test(e.message);
	await assert.rejects(sbx.files.list('/home/user/links/p1etc'), magic);
	await assert.rejects(sbx.files.getInfo('/home/user/links/p1etc/passwd'), magic);
	await assert.rejects(sbx.files.getInfo('/proc/1/root/etc/passwd', { user: 'root' }), magic);
	await assert.rejects(sbx.files.list('/proc/self/root/', { user: 'root' }), magic);
	await assert.rejects(sbx.files.makeDir('/proc/1/root/tmp/x', { user: 'root' }), magic);
	await assert.rejects(sbx.files.remove('/proc/1/root/tmp/x', { user: 'root' }), magic);
	// The link itself is shown with its text and no type (the SDK leaves it out of list()).
	const p1 = await sbx.files.getInfo('/home/user/links/p1etc');
	assert.equal(p1.symlinkTarget, '/proc/1/root/etc');
	assert.equal(p1.type, undefined);
	const names = (await sbx.files.list('/home/user/links')).map((e) => e.name);
	assert.deepEqual(names, ['etc', 'pw']);
	await assert.rejects(sbx.files.getInfo('/home/user/links/loop/x'), E2B.InvalidArgumentError);
	// Removing a link removes the link, never its target.
	await sbx.files.remove('/home/user/links/etc');
	assert.equal(await sbx.files.exists('/etc/warren-sandbox-marker'), true);
	await sbx.files.remove('/home/user/links');
	assert.equal(await sbx.files.exists('/etc/passwd'), true);
	await sh('rm -f /etc/warren-sandbox-marker', { user: 'root' });
});

// Collects watchDir events; until() polls for a predicate with a generous deadline.
async function watch(path, opts = {}) {
	const o = { events: [] };
	o.h = await sbx.files.watchDir(path, (e) => o.events.push(e), { timeoutMs: 0, ...opts, onExit: (err) => (o.exit = err ?? 'ended') });
	o.until = async (pred, what) => {
		const ok = await waitFor(() => pred(o.events), { timeoutMs: 20000, intervalMs: 25 });
		assert.ok(ok, `${what}: got ${JSON.stringify(o.events)}`);
	};
	o.has = (name, type) => (evs) => evs.some((e) => e.name === name && e.type === type);
	return o;
}

test('watchDir: create, write, chmod, rename, remove events with names relative to the directory', async () => {
	await sh('rm -rf /home/user/w && mkdir -p /home/user/w/sub');
	const o = await watch('/home/user/w');
	await sh('printf a > /home/user/w/f');
	await o.until(o.has('f', 'create'), 'create');
	await o.until(o.has('f', 'write'), 'write');
	await sh('chmod 600 /home/user/w/f');
	await o.until(o.has('f', 'chmod'), 'chmod');
	await sh('mv /home/user/w/f /home/user/w/g');
	await o.until((e) => o.has('f', 'rename')(e) && o.has('g', 'create')(e), 'rename');
	await sh('rm /home/user/w/g');
	await o.until(o.has('g', 'remove'), 'remove');
	// Not recursive: what happens inside sub is not reported.
	await sh('touch /home/user/w/sub/inner && touch /home/user/w/marker');
	await o.until(o.has('marker', 'create'), 'marker');
	assert.ok(!o.events.some((e) => e.name.includes('inner')), JSON.stringify(o.events));
	assert.ok(o.events.every((e) => e.entry === undefined));
	await o.h.stop();
});

test('watchDir recursive: subdirectories, also ones created later, and includeEntry', async () => {
	await sh('rm -rf /home/user/wr && mkdir -p /home/user/wr/old');
	const o = await watch('/home/user/wr', { recursive: true, includeEntry: true });
	await sh('printf 12345 > /home/user/wr/old/f');
	await o.until(o.has('old/f', 'write'), 'write in an existing subdirectory');
	const created = o.events.find((e) => e.name === 'old/f' && e.type === 'create');
	assert.equal(created.entry.path, '/home/user/wr/old/f');
	assert.equal(created.entry.type, 'file');
	await sh('mkdir /home/user/wr/new');
	await o.until(o.has('new', 'create'), 'new directory');
	assert.equal(o.events.find((e) => e.name === 'new').entry.type, 'dir');
	await sh('touch /home/user/wr/new/x && mkdir -p /home/user/wr/new/a/b');
	await o.until(o.has('new/x', 'create'), 'file in a new directory');
	await o.until(o.has('new/a/b', 'create'), 'nested new directory');
	await sh('echo hi > /home/user/wr/new/a/b/deep');
	await o.until(o.has('new/a/b/deep', 'write'), 'write two levels into new directories');
	await sh('rm -rf /home/user/wr/new');
	await o.until(o.has('new', 'remove'), 'remove of the directory');
	assert.ok(o.events.filter((e) => e.type === 'remove').every((e) => e.entry === undefined));
	await o.h.stop();
});

test('watchDir errors: missing path, a file, and the stream ends at its timeout', async () => {
	await assert.rejects(sbx.files.watchDir('/home/user/nowhere', () => {}), E2B.NotFoundError);
	await sh('touch /home/user/plain');
	await assert.rejects(sbx.files.watchDir('/home/user/plain', () => {}), E2B.InvalidArgumentError);
	let exit;
	await sbx.files.watchDir('/home/user', () => {}, { timeoutMs: 1000, onExit: (e) => (exit = e ?? 'ended') });
	assert.ok(await waitFor(() => exit !== undefined, { timeoutMs: 20000 }), 'onExit');
	assert.ok(exit instanceof E2B.TimeoutError, String(exit));
});

test('poll watchers: CreateWatcher, GetWatcherEvents drains, RemoveWatcher; unknown id is not_found', async () => {
	await sh('rm -rf /home/user/pw && mkdir /home/user/pw');
	const c = await fsCall('CreateWatcher', { path: '/home/user/pw', recursive: true });
	assert.equal(c.status, 200, c.body.toString());
	const id = c.json.watcherId;
	assert.match(id, /^w[0-9a-f]{32}$/);
	await sh('mkdir /home/user/pw/d && touch /home/user/pw/d/f');
	let got = [];
	const ok = await waitFor(async () => {
		const r = await fsCall('GetWatcherEvents', { watcherId: id });
		assert.equal(r.status, 200, r.body.toString());
		got = got.concat(r.json.events || []);
		return got.some((e) => e.name === 'd/f' && e.type === 'EVENT_TYPE_CREATE');
	}, { timeoutMs: 20000, intervalMs: 50 });
	assert.ok(ok, JSON.stringify(got));
	assert.ok(got.some((e) => e.name === 'd' && e.type === 'EVENT_TYPE_CREATE'));
	const again = await fsCall('GetWatcherEvents', { watcherId: id });
	assert.deepEqual(again.json.events ?? [], []);
	assert.equal((await fsCall('RemoveWatcher', { watcherId: id })).status, 200);
	const gone = await fsCall('GetWatcherEvents', { watcherId: id });
	assert.equal(gone.status, 404);
	assert.equal(gone.json.code, 'not_found');
	const denied = await fsCall('CreateWatcher', { path: '/root' });
	assert.equal(denied.json.code, 'permission_denied');
	const asRoot = await fsCall('CreateWatcher', { path: '/root' }, 'root');
	assert.equal(asRoot.status, 200);
	await fsCall('RemoveWatcher', { watcherId: asRoot.json.watcherId });
});

test('poll watchers: a bounded queue (overflow is reported) and a cap on watchers', async () => {
	await sh('rm -rf /home/user/flood && mkdir /home/user/flood');
	const c = await fsCall('CreateWatcher', { path: '/home/user/flood' });
	const id = c.json.watcherId;
	// 3000 files make >= 6000 events (create + write... touch: create, chmod/attrib), past the 4096 queue.
	await sh('cd /home/user/flood && for i in $(seq 3000); do echo x > f$i; done');
	let r;
	const ok = await waitFor(async () => {
		r = await fsCall('GetWatcherEvents', { watcherId: id });
		return r.status !== 200;
	}, { timeoutMs: 20000, intervalMs: 200 });
	assert.ok(ok, 'overflow reported');
	assert.equal(r.json.code, 'resource_exhausted');
	assert.match(r.json.message, /events were lost/);
	await fsCall('RemoveWatcher', { watcherId: id });

	// WatchDir streams hold a slot only while they last: stop some, then all 64 slots are free.
	for (let i = 0; i < 5; i++) await (await sbx.files.watchDir('/home/user', () => {}, { timeoutMs: 0 })).stop();
	const fill = async () => {
		const ids = [];
		let refused;
		while (!refused && ids.length < 100) {
			const x = await fsCall('CreateWatcher', { path: '/home/user' });
			if (x.status === 200) ids.push(x.json.watcherId);
			else refused = x;
		}
		for (const id2 of ids) assert.equal((await fsCall('RemoveWatcher', { watcherId: id2 })).status, 200);
		return { n: ids.length, refused };
	};
	let last;
	const all = await waitFor(async () => {
		last = await fill();
		return last.n === 64;
	}, { timeoutMs: 20000, intervalMs: 200 });
	assert.ok(all, `only ${last?.n} of 64 watcher slots free after the streams stopped`);
	assert.equal(last.refused.json.code, 'resource_exhausted');
	assert.match(last.refused.json.message, /too many watchers/);
});

test('WatchDir on the wire: start first, keepalives at the asked interval, deadline_exceeded at the end', async () => {
	const u = new URL(w.sandboxUrl);
	const body = envelope(0, { path: '/home/user' });
	const t0 = Date.now();
	const raw = await new Promise((resolve, reject) => {
		const req = http.request(
			{
				host: u.hostname,
				port: u.port,
				method: 'POST',
				path: '/filesystem.Filesystem/WatchDir',
				agent: false,
				headers: {
					...sandboxHeaders({ sandboxID: sbx.sandboxId, envdAccessToken: sbx.envdAccessToken }),
					'Content-Type': 'application/connect+json',
					'Connect-Protocol-Version': '1',
					'Keepalive-Ping-Interval': '1',
					'Connect-Timeout-Ms': '3500',
					'Content-Length': body.length,
				},
			},
			(res) => {
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], buf: Buffer.concat(chunks) }));
			},
		);
		req.on('error', reject);
		req.end(body);
	});
	assert.equal(raw.status, 200);
	assert.equal(raw.type, 'application/connect+json');
	const { msgs, rest } = parseEnvelopes(raw.buf);
	assert.equal(rest.length, 0);
	assert.deepEqual(msgs[0], { flags: 0, json: { start: {} } });
	const kas = msgs.filter((m) => m.flags === 0 && m.json.keepalive);
	assert.ok(kas.length >= 2 && kas.length <= 4, `${kas.length} keepalives in ${Date.now() - t0} ms`);
	assert.deepEqual(msgs.at(-1), { flags: 2, json: { error: { code: 'deadline_exceeded', message: 'context deadline exceeded' } } });
});
