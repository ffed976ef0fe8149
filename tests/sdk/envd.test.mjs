// The agent's envd endpoints through warrend's data plane (routing headers, raw HTTP): Process.Start
// keepalives, /health, /envs, /init (env merge, access-token rule) and unknown paths.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { startWarrend } from './helpers/warrend.mjs';
import { createSandbox, envelope, killSandbox, parseEnvelopes, request, runRaw, sandboxHeaders } from './helpers/raw.mjs';

let w;
const made = [];
before(async () => {
	w = await startWarrend({ setEnv: false });
});
after(async () => {
	for (const id of made) await killSandbox(w, id).catch(() => {});
	await w?.stop();
});

async function newSandbox(body = { templateID: 'base' }) {
	const s = await createSandbox(w, body);
	made.push(s.sandboxID);
	return s;
}

// A data-plane request to the agent (routing headers, plus the sandbox's token when it has one).
function agent(sbx, method, path, { body, headers = {}, token = true } = {}) {
	const h = { ...sandboxHeaders(sbx), ...headers };
	if (!token) delete h['X-Access-Token'];
	return request(w, { method, path, body, headers: h, auth: false, timeoutMs: 15000 });
}

// POST /process.Process/Start with the given headers; collects every envelope with the time it
// arrived (ms since the request was sent). Resolves {status, contentType, msgs, rest}.
function startRaw(sbx, cmd, extraHeaders, timeoutMs = 20000) {
	return new Promise((resolve, reject) => {
		const u = new URL(w.sandboxUrl);
		const body = envelope(0, { process: { cmd: '/bin/bash', args: ['-l', '-c', cmd] }, stdin: false });
		const h = {
			...sandboxHeaders(sbx),
			'Content-Type': 'application/connect+json',
			'Connect-Protocol-Version': '1',
			'Content-Length': body.length,
			...extraHeaders,
		};
		const t0 = Date.now();
		const req = http.request(
			{ host: u.hostname, port: u.port, method: 'POST', path: '/process.Process/Start', headers: h, agent: false },
			(res) => {
				let buf = Buffer.alloc(0);
				const msgs = [];
				res.on('data', (c) => {
					const { msgs: m, rest } = parseEnvelopes(Buffer.concat([buf, c]));
					buf = rest;
					for (const x of m) msgs.push({ ...x, at: Date.now() - t0 });
				});
				res.on('end', () => {
					clearTimeout(timer);
					resolve({ status: res.statusCode, contentType: res.headers['content-type'], msgs, rest: buf });
				});
				res.on('error', reject);
			},
		);
		const timer = setTimeout(() => req.destroy(new Error(`Process.Start "${cmd}": no end in ${timeoutMs} ms`)), timeoutMs);
		req.on('error', (e) => {
			clearTimeout(timer);
			reject(e);
		});
		req.end(body);
	});
}

const kind = (m) => (m.flags & 2 ? 'end-stream' : Object.keys(m.json.event || {})[0] || 'none');

test('Process.Start with Keepalive-Ping-Interval: 1 sends keepalives while the process is quiet', async () => {
	const sbx = await newSandbox();
	const r = await startRaw(sbx, 'sleep 3', { 'Keepalive-Ping-Interval': '1' });
	assert.equal(r.status, 200);
	assert.match(r.contentType || '', /^application\/connect\+json/);
	assert.equal(r.rest.length, 0, 'trailing bytes after the last envelope');
	const kinds = r.msgs.map(kind);
	assert.equal(kinds[0], 'start', `events: ${kinds}`);
	assert.ok(r.msgs[0].json.event.start.pid > 0);
	assert.deepEqual(kinds.slice(-2), ['end', 'end-stream'], `events: ${kinds}`);
	const endMsg = r.msgs[r.msgs.length - 2].json.event.end;
	assert.equal(endMsg.exited, true);
	assert.equal(endMsg.exitCode ?? 0, 0);
	assert.equal(endMsg.status, 'exit status 0');
	assert.deepEqual(r.msgs[r.msgs.length - 1].json, {});
	assert.equal(r.msgs[r.msgs.length - 1].flags, 0x02);
	const middle = r.msgs.slice(1, -2);
	assert.ok(middle.length >= 2, `events: ${kinds}`);
	for (const m of middle) assert.deepEqual(m.json, { event: { keepalive: {} } });
	// They come spread over the process's life, not in a burst at the end.
	const end = r.msgs[r.msgs.length - 2].at;
	assert.ok(end >= 2900, `end after ${end} ms for sleep 3`);
	assert.ok(middle[0].at < end - 500, `first keepalive at ${middle[0].at} ms, end at ${end} ms`);

	// Without the header the default interval (90 s) applies: no keepalive in a 1 s command.
	const q = await startRaw(sbx, 'sleep 1', {});
	assert.deepEqual(q.msgs.map(kind), ['start', 'end', 'end-stream']);
});

test('GET /health is 204; GET /envs has the create-time envVars', async () => {
	const sbx = await newSandbox({ templateID: 'base', envVars: { A: '1', SPACED: 'x y=z' } });
	const h = await agent(sbx, 'GET', '/health');
	assert.equal(h.status, 204);
	assert.equal(h.body.length, 0);
	const e = await agent(sbx, 'GET', '/envs');
	assert.equal(e.status, 200);
	assert.match(e.headers['content-type'] || '', /^application\/json/);
	assert.ok(e.json && typeof e.json === 'object' && !Array.isArray(e.json), `body ${e.body}`);
	assert.equal(e.json.A, '1');
	assert.equal(e.json.SPACED, 'x y=z');
});

test('POST /init merges envVars: processes and /envs see old and new variables', async () => {
	const sbx = await newSandbox({ templateID: 'base', envVars: { A: '1' } });
	const before = await runRaw(w, sbx, 'printf "%s|%s" "$A" "${B-unset}"');
	assert.equal(before.stdout, '1|unset');

	const i = await agent(sbx, 'POST', '/init', { body: { envVars: { B: '2' } } });
	assert.equal(i.status, 204, `body ${i.body}`);
	const after1 = await runRaw(w, sbx, 'printf "%s|%s" "$A" "$B"');
	assert.equal(after1.stdout, '1|2');
	const e = await agent(sbx, 'GET', '/envs');
	assert.equal(e.status, 200);
	assert.equal(e.json.A, '1');
	assert.equal(e.json.B, '2');

	// A later /init overrides a variable it names and leaves the others.
	assert.equal((await agent(sbx, 'POST', '/init', { body: { envVars: { A: 'one' } } })).status, 204);
	assert.equal((await runRaw(w, sbx, 'printf "%s|%s" "$A" "$B"')).stdout, 'one|2');

	// Not an object of strings: 400 JSON, nothing changed.
	const bad = await agent(sbx, 'POST', '/init', { body: { envVars: { C: 3 } } });
	assert.equal(bad.status, 400);
	assert.equal(typeof bad.json?.message, 'string', `body ${bad.body}`);
	assert.equal((await runRaw(w, sbx, 'printf "%s" "${C-unset}"')).stdout, 'unset');
});

test('POST /init accessToken: then required for everything but /health and /init by its holder', async () => {
	const sbx = await newSandbox();
	const tok = 'tok-' + Math.random().toString(16).slice(2);
	assert.equal((await agent(sbx, 'POST', '/init', { body: { accessToken: tok } })).status, 204);

	const noTok = { ...sbx, envdAccessToken: undefined };
	const withTok = { ...sbx, envdAccessToken: tok };
	const wrong = { ...sbx, envdAccessToken: tok + 'x' };
	assert.equal((await agent(noTok, 'GET', '/health', { token: false })).status, 204);
	const denied = await agent(noTok, 'GET', '/envs', { token: false });
	assert.equal(denied.status, 401);
	assert.equal(typeof denied.json?.message, 'string', `body ${denied.body}`);
	assert.equal((await agent(wrong, 'GET', '/envs')).status, 401);
	assert.equal((await agent(withTok, 'GET', '/envs')).status, 200);
	await assert.rejects(runRaw(w, noTok, 'true'), /HTTP 401/);
	assert.equal((await runRaw(w, withTok, 'echo hi')).stdout, 'hi\n');

	// /init without the token (header or body) is refused and changes nothing.
	const r = await agent(noTok, 'POST', '/init', { body: { envVars: { X: '1' } }, token: false });
	assert.equal(r.status, 401);
	const r2 = await agent(wrong, 'POST', '/init', { body: { envVars: { X: '1' }, accessToken: tok + 'y' } });
	assert.equal(r2.status, 401);
	assert.equal((await runRaw(w, withTok, 'printf "%s" "${X-unset}"')).stdout, 'unset');
	// With the token in the header, or the current token in the body, it is accepted.
	assert.equal((await agent(withTok, 'POST', '/init', { body: { envVars: { X: '1' } } })).status, 204);
	assert.equal((await agent(noTok, 'POST', '/init', { body: { envVars: { Y: '2' }, accessToken: tok }, token: false })).status, 204);
	assert.equal((await runRaw(w, withTok, 'printf "%s|%s" "$X" "$Y"')).stdout, '1|2');
});

test('an unknown agent path is 404 JSON; the control plane is not reached', async () => {
	const sbx = await newSandbox();
	for (const [method, path] of [
		['GET', '/no/such/path'],
		['POST', '/nope'],
		['GET', '/v2/sandboxes'],
		['GET', '/envs/x'],
	]) {
		const r = await agent(sbx, method, path, { body: method === 'POST' ? {} : undefined });
		assert.equal(r.status, 404, `${method} ${path}: ${r.status} ${r.body}`);
		assert.match(r.headers['content-type'] || '', /^application\/json/, `${method} ${path}`);
		assert.equal(typeof r.json?.message, 'string', `${method} ${path}: ${r.body}`);
	}
});
