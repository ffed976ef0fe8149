// Secure sandboxes: `secure: true` on create gives an envdAccessToken that the agent then
// requires (X-Access-Token) on everything but /health; `network.allowPublicTraffic: false` gives
// a trafficAccessToken that port traffic through warrend must carry
// (E2B-Traffic-Access-Token). The SDK passes both by itself. Without them: 401, in the agent's
// envd shape and in the API's {code, message} shape.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { request, runRaw, sandboxHeaders } from './helpers/raw.mjs';
import { startWarrend, waitFor } from './helpers/warrend.mjs';

const DOMAIN = 'sbx.localhost';
let w, Sandbox;
const made = [];

before(async () => {
	w = await startWarrend({ env: { WARREN_DOMAIN: DOMAIN } });
	({ Sandbox } = await import('e2b'));
});

after(async () => {
	for (const id of made) await request(w, { method: 'DELETE', path: `/sandboxes/${id}` }).catch(() => {});
	await w?.stop();
});

async function createRaw(path, body) {
	const r = await request(w, { method: 'POST', path, body: { templateID: 'base', timeout: 300, ...body } });
	assert.equal(r.status, 201, r.body.toString());
	made.push(r.json.sandboxID);
	return r.json;
}

// A request to the agent of sandbox sbx through warrend, with the token or not.
function agent(sbx, method, path, { token, body } = {}) {
	const headers = { 'E2b-Sandbox-Id': sbx.sandboxID, 'E2b-Sandbox-Port': '49983' };
	if (token !== undefined) headers['X-Access-Token'] = token;
	if (body !== undefined) headers['Content-Type'] = 'application/json';
	return request(w, { method, path, headers, body, auth: false });
}

const UNAUTHORIZED = {
	code: 401,
	message: 'unauthorized access, please provide a valid access token or method signing if supported',
};

test('secure: true (v1, as the CLI sends it) returns an envd token the agent then requires', async () => {
	const sbx = await createRaw('/sandboxes', { secure: true, allow_internet_access: true });
	assert.match(sbx.envdAccessToken, /^[0-9a-f]{32}$/);
	assert.equal(sbx.trafficAccessToken, null);
	assert.equal(sbx.domain, DOMAIN);

	// Without the token, or with another one: 401 on the process API and the envd endpoints.
	const list = (token) => agent(sbx, 'POST', '/process.Process/List', { token, body: {} });
	for (const token of [undefined, '', 'wrong', sbx.envdAccessToken.slice(0, 31), sbx.envdAccessToken + 'x']) {
		const r = await list(token);
		assert.equal(r.status, 401, `token ${JSON.stringify(token)}: ${r.body}`);
		assert.deepEqual(r.json, UNAUTHORIZED);
	}
	assert.equal((await agent(sbx, 'GET', '/envs')).status, 401);
	// /init cannot take the sandbox over (nor change its token) without the token.
	const init = await agent(sbx, 'POST', '/init', { body: { accessToken: 'mine', envVars: { X: '1' } } });
	assert.equal(init.status, 401);
	// /health stays open (envd's rule); with the token everything works.
	assert.equal((await agent(sbx, 'GET', '/health')).status, 204);
	const ok = await list(sbx.envdAccessToken);
	assert.equal(ok.status, 200, ok.body.toString());
	const run = await runRaw(w, sbx, 'echo secured');
	assert.equal(run.stdout, 'secured\n');
	assert.equal(run.end.exitCode ?? 0, 0);
	// The process environment does not show the token.
	const env = await runRaw(w, sbx, 'cat /proc/1/environ | tr "\\0" "\\n" | grep -c WARREN_ACCESS_TOKEN; env | grep -c WARREN_ || true');
	assert.equal(env.stdout, '0\n0\n');

	// GET /sandboxes/{id} and connect give the token back to the API key's holder.
	const info = await request(w, { path: `/sandboxes/${sbx.sandboxID}` });
	assert.equal(info.json.envdAccessToken, sbx.envdAccessToken);
	const conn = await request(w, { method: 'POST', path: `/sandboxes/${sbx.sandboxID}/connect`, body: { timeout: 300 } });
	assert.equal(conn.json.envdAccessToken, sbx.envdAccessToken);
});

test('a secure create can take a ready sandbox from the pool: its agent gets the token by /init', async () => {
	let sbx = null;
	for (let i = 0; i < 20 && !sbx; i++) {
		const raw = await createRaw('/sandboxes', { secure: true });
		const line = fs.readFileSync(w.logPath, 'utf8').split('\n').find((l) => l.includes(`[${raw.sandboxID}] sandbox created`));
		if (line && line.includes('from the pool')) sbx = raw;
		else await new Promise((r) => setTimeout(r, 500)); // the pool refills in the background
	}
	assert.ok(sbx, 'no secure create was served from the pool');
	assert.equal((await agent(sbx, 'POST', '/process.Process/List', { body: {} })).status, 401);
	assert.equal((await agent(sbx, 'POST', '/process.Process/List', { token: sbx.envdAccessToken, body: {} })).status, 200);
	const s = await Sandbox.connect(sbx.sandboxID);
	assert.equal((await s.commands.run('echo pooled and secured')).stdout, 'pooled and secured\n');
});

test('the SDK works with a secure sandbox (connect hands it the token), and so does v2 create', async () => {
	for (const path of ['/sandboxes', '/v2/sandboxes']) {
		const raw = await createRaw(path, { secure: true });
		assert.match(raw.envdAccessToken, /^[0-9a-f]{32}$/, path);
		const sbx = await Sandbox.connect(raw.sandboxID);
		const r = await sbx.commands.run('echo via sdk; id -un');
		assert.equal(r.stdout, 'via sdk\nuser\n');
		const bg = await sbx.commands.run('sleep 30', { background: true });
		assert.ok((await sbx.commands.list()).some((p) => p.pid === bg.pid));
		await bg.kill();
		assert.equal((await agent(raw, 'POST', '/process.Process/List', { body: {} })).status, 401);
	}
});

test('a sandbox created without secure has no token and needs none', async () => {
	const sbx = await createRaw('/sandboxes', {});
	assert.equal(sbx.envdAccessToken, undefined);
	assert.equal(sbx.trafficAccessToken, null);
	const r = await agent(sbx, 'POST', '/process.Process/List', { body: {} });
	assert.equal(r.status, 200, r.body.toString());
	const s = await Sandbox.create();
	made.push(s.sandboxId);
	assert.equal((await s.commands.run('echo open')).stdout, 'open\n');
});

// GET through warrend by Host <port>-<id>.<domain>, with extra headers.
function viaHost(id, port, path, headers = {}) {
	const u = new URL(w.apiUrl);
	return new Promise((resolve, reject) => {
		const req = http.request(
			{ host: u.hostname, port: u.port, path, agent: false, headers: { Host: `${port}-${id}.${DOMAIN}`, ...headers } },
			(res) => {
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('end', () => {
					const body = Buffer.concat(chunks).toString();
					let json;
					try {
						json = JSON.parse(body);
					} catch {
						json = undefined;
					}
					resolve({ status: res.statusCode, body, json });
				});
			},
		);
		req.setTimeout(30000, () => req.destroy(new Error('no answer')));
		req.on('error', reject);
		req.end();
	});
}

test('allowPublicTraffic false: port traffic needs the traffic token, envd traffic does not', async () => {
	const sbx = await Sandbox.create({ network: { allowPublicTraffic: false }, timeoutMs: 120_000 });
	made.push(sbx.sandboxId);
	assert.match(sbx.trafficAccessToken, /^[0-9a-f]{32}$/);
	const info = await sbx.getInfo();
	assert.equal(info.network?.allowPublicTraffic, false);
	await sbx.commands.run('mkdir -p /tmp/w && echo private > /tmp/w/f.txt');
	await sbx.commands.run('cd /tmp/w && exec python3 -m http.server 8000 --bind 0.0.0.0', { background: true });
	const tok = { 'E2B-Traffic-Access-Token': sbx.trafficAccessToken };
	const up = await waitFor(async () => (await viaHost(sbx.sandboxId, 8000, '/f.txt', tok)).status === 200, { timeoutMs: 30000, intervalMs: 200 });
	assert.ok(up, 'the server inside did not come up');
	const ok = await viaHost(sbx.sandboxId, 8000, '/f.txt', tok);
	assert.equal(ok.body, 'private\n');
	// The header name is case-insensitive, as all are.
	assert.equal((await viaHost(sbx.sandboxId, 8000, '/f.txt', { 'e2b-traffic-access-token': sbx.trafficAccessToken })).status, 200);
	for (const headers of [{}, { 'E2B-Traffic-Access-Token': 'wrong' }, { 'E2B-Traffic-Access-Token': '' }]) {
		const r = await viaHost(sbx.sandboxId, 8000, '/f.txt', headers);
		assert.equal(r.status, 401, `${JSON.stringify(headers)}: ${r.body}`);
		assert.equal(r.json.code, 401);
		assert.match(r.json.message, /traffic access token/);
		assert.ok(!r.body.includes('private'));
	}
	// The same through the routing headers instead of Host.
	const hdr = await request(w, {
		path: '/f.txt',
		headers: { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '8000' },
		auth: false,
	});
	assert.equal(hdr.status, 401);
	// The SDK's own traffic (envd port) is not affected; a public sandbox's ports are open.
	assert.equal((await sbx.commands.run('echo fine')).stdout, 'fine\n');
	const pub = await Sandbox.create({ timeoutMs: 120_000 });
	made.push(pub.sandboxId);
	assert.equal(pub.trafficAccessToken, undefined);
	await pub.commands.run('cd /tmp && exec python3 -m http.server 8000 --bind 0.0.0.0', { background: true });
	const open = await waitFor(async () => (await viaHost(pub.sandboxId, 8000, '/')).status === 200, { timeoutMs: 30000, intervalMs: 200 });
	assert.ok(open, 'a public sandbox port needs no token');
});

test('the tokens survive a restart of warrend (re-adopted sandboxes keep them)', async () => {
	const sbx = await createRaw('/sandboxes', { secure: true, network: { allowPublicTraffic: false } });
	assert.match(sbx.trafficAccessToken, /^[0-9a-f]{32}$/);
	await w.kill9();
	await w.restart();
	const conn = await request(w, { method: 'POST', path: `/v2/sandboxes/${sbx.sandboxID}/connect`, body: {} });
	assert.equal(conn.status, 200, conn.body.toString());
	assert.equal(conn.json.envdAccessToken, sbx.envdAccessToken);
	assert.equal(conn.json.trafficAccessToken, sbx.trafficAccessToken);
	assert.equal((await agent(sbx, 'POST', '/process.Process/List', { body: {} })).status, 401);
	const s = await Sandbox.connect(sbx.sandboxID);
	assert.equal((await s.commands.run('echo still secured')).stdout, 'still secured\n');
	const r = await viaHost(sbx.sandboxID, 8000, '/');
	assert.equal(r.status, 401);
});

test('signed upload and download URLs reach the right sandbox with no header; expiry and tampering give 401', async () => {
	const sbxs = [];
	for (let i = 0; i < 2; i++) {
		const raw = await createRaw('/sandboxes', { secure: true });
		sbxs.push(await Sandbox.connect(raw.sandboxID));
	}
	for (const [i, s] of sbxs.entries()) await s.files.write('/home/user/who.txt', `sandbox ${i}\n`);
	// A third party fetches the URLs as they are: no API key, no routing headers.
	for (const [i, s] of sbxs.entries()) {
		const url = await s.downloadUrl('/home/user/who.txt');
		assert.equal(new URL(url).origin, new URL(w.sandboxUrl).origin);
		assert.match(url, /[?&]signature=v1_/);
		const r = await fetch(url);
		assert.equal(r.status, 200);
		assert.equal(await r.text(), `sandbox ${i}\n`);
	}
	const up = await sbxs[1].uploadUrl('/home/user/up.txt');
	const form = new FormData();
	form.append('file', new Blob(['uploaded by URL\n']), 'up.txt');
	const ur = await fetch(up, { method: 'POST', body: form });
	assert.equal(ur.status, 200, await ur.clone().text());
	assert.equal(await sbxs[1].files.read('/home/user/up.txt'), 'uploaded by URL\n');
	assert.equal(await sbxs[0].files.exists('/home/user/up.txt'), false);
	// A download signature does not upload, a tampered one goes nowhere, an expired one is
	// refused by its sandbox's agent.
	const dl = await sbxs[1].downloadUrl('/home/user/up.txt');
	assert.equal((await fetch(dl, { method: 'POST', body: form })).status, 401);
	const bad = new URL(dl);
	bad.searchParams.set('path', '/etc/shadow');
	const br = await fetch(bad);
	assert.equal(br.status, 401);
	assert.deepEqual(await br.json(), { code: 401, message: 'invalid signature' });
	const short = await sbxs[0].downloadUrl('/home/user/who.txt', { useSignatureExpiration: 1 });
	assert.equal((await fetch(short)).status, 200);
	const expired = await waitFor(async () => (await fetch(short)).status === 401, { timeoutMs: 10000, intervalMs: 250 });
	assert.ok(expired, 'a 1 s signature still worked after 10 s');
	const er = await fetch(short);
	assert.match((await er.json()).message, /expired/);
});

test('--secure (WARREN_SECURE=1): every create is secure, the SDK v2 create and pooled ones too', async () => {
	const w2 = await startWarrend({ env: { WARREN_SECURE: '1', WARREN_POOL_SIZE: '1' }, setEnv: false });
	const opts = { apiKey: w2.apiKey, apiUrl: w2.apiUrl, sandboxUrl: w2.sandboxUrl };
	try {
		// The SDK's create (POST /v2/sandboxes, no `secure` field) gets a token and uses it.
		const s = await Sandbox.create(opts);
		const r = await s.commands.run('echo secured');
		assert.equal(r.stdout, 'secured\n');
		const info = await request(w2, { method: 'GET', path: `/sandboxes/${s.sandboxId}` });
		assert.equal(info.status, 200);
		assert.match(info.json.envdAccessToken, /^[0-9a-f]{32}$/);
		// Without the token the agent answers 401.
		const raw = (id, token) => {
			const headers = { 'E2b-Sandbox-Id': id, 'E2b-Sandbox-Port': '49983', 'Content-Type': 'application/json' };
			if (token) headers['X-Access-Token'] = token;
			return request(w2, { method: 'POST', path: '/process.Process/List', headers, body: {}, auth: false });
		};
		assert.equal((await raw(s.sandboxId)).status, 401);
		assert.equal((await raw(s.sandboxId, info.json.envdAccessToken)).status, 200);
		// A raw v2 create that does not ask is secure as well.
		const v2 = await request(w2, { method: 'POST', path: '/v2/sandboxes', body: { templateID: 'base' } });
		assert.equal(v2.status, 201, v2.body.toString());
		assert.match(v2.json.envdAccessToken, /^[0-9a-f]{32}$/);
		assert.equal((await raw(v2.json.sandboxID)).status, 401);
		await s.kill();
		await Sandbox.kill(v2.json.sandboxID, opts);
	} finally {
		await w2.stop();
	}
});
