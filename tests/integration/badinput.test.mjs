// Hostile and broken clients against a real warrend, over raw HTTP and raw sockets. After every
// test the daemon must still answer /health and create sandboxes.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';

import { sleep, startWarrend, waitFor } from '../sdk/helpers/warrend.mjs';
import {
	createSandbox,
	envelope,
	killSandbox,
	processStart,
	rawExchange,
	request,
	runRaw,
	sandboxHeaders,
} from '../sdk/helpers/raw.mjs';

let w;
before(async () => {
	w = await startWarrend({ setEnv: false });
});
after(async () => {
	await w?.stop();
});

afterEach(async () => {
	assert.ok(w.alive(), 'warrend died');
	const h = await request(w, { path: '/health', timeoutMs: 5000 });
	assert.equal(h.status, 200, `GET /health after the test: ${h.status} ${h.body}`);
	const s = await createSandbox(w);
	assert.equal(await killSandbox(w, s.sandboxID), 204);
});

// An error answer: the given status and a {code: status, message: string} body.
function assertError(r, statuses, what) {
	statuses = [].concat(statuses);
	assert.ok(statuses.includes(r.status), `${what}: HTTP ${r.status} ${r.body}, want ${statuses.join(' or ')}`);
	assert.ok(r.json && typeof r.json === 'object', `${what}: body is not JSON: ${r.body}`);
	assert.equal(r.json.code, r.status, `${what}: body code ${r.json.code} != status ${r.status}`);
	assert.equal(typeof r.json.message, 'string', `${what}: no message`);
	assert.ok(r.json.message.length > 0);
}

describe('control plane', () => {
	test('malformed JSON bodies give 400', async () => {
		for (const body of ['{"templateID":', '{', 'not json', '{"templateID":"base"}}', '\x00\x01\x02', '']) {
			const r = await request(w, {
				method: 'POST',
				path: '/v2/sandboxes',
				headers: { 'Content-Type': 'application/json' },
				body,
			});
			assertError(r, 400, `body ${JSON.stringify(body)}`);
		}
		const r = await request(w, { method: 'POST', path: '/sandboxes', headers: { 'Content-Type': 'application/json' }, body: '{"templateID"' });
		assertError(r, 400, 'v1 create, truncated body');
	});

	test('wrong types give 400', async () => {
		const bad = [
			{ templateID: 5 },
			{ templateID: 'base', timeout: 'x' },
			{ templateID: 'base', timeout: -5 },
			{ templateID: 'base', timeout: 1.5e300 },
			{ templateID: 'base', metadata: 'x' },
			{ templateID: 'base', metadata: { a: 1 } },
			{ templateID: 'base', envVars: ['A=1'] },
			{ templateID: 'base', envVars: { A: { b: 1 } } },
			{ templateID: null },
			[],
			'base',
			42,
			null,
		];
		for (const body of bad) {
			const r = await request(w, { method: 'POST', path: '/v2/sandboxes', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
			assertError(r, 400, `create ${JSON.stringify(body)}`);
		}
		const s = await createSandbox(w);
		try {
			for (const body of [{ timeout: 'x' }, { timeout: -1 }, {}, [], { timeout: null }]) {
				const r = await request(w, { method: 'POST', path: `/sandboxes/${s.sandboxID}/timeout`, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
				assertError(r, 400, `setTimeout ${JSON.stringify(body)}`);
			}
			const r = await request(w, { method: 'POST', path: `/sandboxes/${s.sandboxID}/connect`, body: { timeout: 'soon' } });
			assertError(r, 400, 'v1 connect with a string timeout');
		} finally {
			await killSandbox(w, s.sandboxID);
		}
	});

	test('unknown template is a 4xx error, not a crash', async () => {
		const r = await request(w, { method: 'POST', path: '/v2/sandboxes', body: { templateID: 'no-such-template' } });
		assertError(r, [400, 404], 'unknown template');
	});

	test('a 10 MiB body is refused with 413 or 400', async () => {
		const big = Buffer.alloc(10 << 20, 'a');
		// With Content-Length, as a plain client would.
		const head = `POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nX-API-KEY: ${w.apiKey}\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`;
		let r = await sendBig(head, [Buffer.from('{"templateID":"'), big]);
		assertRawError(r, [413, 400], 'Content-Length 10 MiB');
		// Chunked, as the SDK (undici) sends every JSON body.
		const chunks = [];
		for (let off = 0; off < big.length; off += 1 << 20) {
			const c = big.subarray(off, off + (1 << 20));
			chunks.push(Buffer.from(c.length.toString(16) + '\r\n'), c, Buffer.from('\r\n'));
		}
		chunks.push(Buffer.from('0\r\n\r\n'));
		const chead = `POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nX-API-KEY: ${w.apiKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
		r = await sendBig(chead, chunks);
		assertRawError(r, [413, 400], 'chunked 10 MiB');
	});

	test('unknown sandbox ids give 404 {code:404}', async () => {
		const id = 'nosuchsandbox' + crypto.randomBytes(3).toString('hex');
		const calls = [
			['GET', `/sandboxes/${id}`],
			['DELETE', `/sandboxes/${id}`],
			['POST', `/sandboxes/${id}/timeout`, { timeout: 10 }],
			['POST', `/v2/sandboxes/${id}/connect`, {}],
			['POST', `/sandboxes/${id}/connect`, { timeout: 10 }],
			['GET', `/sandboxes/..%2F..%2Fetc%2Fpasswd`],
			['DELETE', `/sandboxes/${'a'.repeat(5000)}`],
		];
		for (const [method, path, body] of calls) {
			const r = await request(w, { method, path, body });
			assertError(r, 404, `${method} ${path.slice(0, 60)}`);
		}
	});

	test('missing or bad API key gives 401', async () => {
		const paths = [
			['GET', '/v2/sandboxes'],
			['POST', '/v2/sandboxes', { templateID: 'base' }],
			['POST', '/sandboxes', { templateID: 'base', timeout: 10 }],
			['DELETE', '/sandboxes/whatever'],
			['GET', '/sandboxes/whatever'],
		];
		for (const [method, path, body] of paths) {
			let r = await request(w, { method, path, body, auth: false });
			assertError(r, 401, `${method} ${path} without key`);
			r = await request(w, { method, path, body, headers: { 'X-API-KEY': 'e2b_' + '0'.repeat(40) } });
			assertError(r, 401, `${method} ${path} with a wrong key`);
			r = await request(w, { method, path, body, headers: { 'X-API-KEY': w.apiKey.slice(0, -1) } });
			assertError(r, 401, `${method} ${path} with a key prefix`);
			r = await request(w, { method, path, body, headers: { 'X-API-KEY': w.apiKey + '0' } });
			assertError(r, 401, `${method} ${path} with a longer key`);
		}
		// Header names are case-insensitive.
		const r = await request(w, { path: '/v2/sandboxes', headers: { 'x-api-key': w.apiKey } });
		assert.equal(r.status, 200);
	});

	test('unknown routes give 404', async () => {
		for (const [method, path] of [
			['GET', '/nope'],
			['POST', '/v9/sandboxes'],
			['GET', '/sandboxes/x/y/z/w'],
			['GET', '/' + 'x'.repeat(6000)],
		]) {
			const r = await request(w, { method, path });
			assertError(r, 404, `${method} ${path.slice(0, 40)}`);
		}
		const r = await request(w, { method: 'PATCH', path: '/v2/sandboxes' });
		assertError(r, [404, 405], 'PATCH /v2/sandboxes');
	});
});

describe('data plane', () => {
	test('unknown sandbox gives the exact 502 body', async () => {
		const id = 'nosuch' + crypto.randomBytes(4).toString('hex');
		for (const port of ['49983', '49999', '8080']) {
			const r = await request(w, {
				method: 'POST',
				path: '/process.Process/List',
				headers: { 'E2b-Sandbox-Id': id, 'E2b-Sandbox-Port': port, 'Content-Type': 'application/json' },
				body: '{}',
				auth: false,
			});
			assert.equal(r.status, 502, `port ${port}: ${r.status} ${r.body}`);
			assert.match(r.headers['content-type'] || '', /^application\/json/);
			assert.deepEqual(r.json, { sandboxId: id, message: 'The sandbox was not found', code: 502 });
		}
		const h = await request(w, { path: '/health', headers: { 'E2b-Sandbox-Id': id, 'E2b-Sandbox-Port': '49983' }, auth: false });
		assert.equal(h.status, 502);
		assert.deepEqual(h.json, { sandboxId: id, message: 'The sandbox was not found', code: 502 });
	});

	test('a killed sandbox gives 502 on the data plane', async () => {
		const s = await createSandbox(w);
		assert.equal(await killSandbox(w, s.sandboxID), 204);
		const r = await request(w, { path: '/health', headers: sandboxHeaders(s), auth: false });
		assert.equal(r.status, 502);
		assert.deepEqual(r.json, { sandboxId: s.sandboxID, message: 'The sandbox was not found', code: 502 });
	});

	test('hostile sandbox ids in the routing header do not crash the proxy', async () => {
		for (const id of ['../../etc', 'a'.repeat(4096), 'A B', '%00', '\t']) {
			const r = await request(w, { path: '/health', headers: { 'E2b-Sandbox-Id': id, 'E2b-Sandbox-Port': '49983' }, auth: false });
			assert.ok([400, 502].includes(r.status), `id ${JSON.stringify(id.slice(0, 20))}: ${r.status}`);
		}
		const r = await request(w, { path: '/health', headers: { 'E2b-Sandbox-Id': 'x', 'E2b-Sandbox-Port': '99999999' }, auth: false });
		assert.ok([400, 502].includes(r.status), `bad port: ${r.status}`);
	});

	test('a client that disconnects mid-stream: the daemon serves on, the process runs on', async () => {
		const s = await createSandbox(w);
		try {
			const tag = crypto.randomBytes(4).toString('hex');
			const { req, res, events } = await processStart(w, s, `echo started; sleep 2; touch /tmp/flag-${tag}; sleep 30`);
			assert.equal(res.statusCode, 200);
			let pid = 0;
			for await (const m of events) {
				if (m.json.event?.start) pid = m.json.event.start.pid;
				if (m.json.event?.data?.stdout) break;
			}
			assert.ok(pid > 0, 'no start event');
			req.destroy();
			res.destroy();

			const h = await request(w, { path: '/health' });
			assert.equal(h.status, 200);
			const list = await request(w, {
				method: 'POST',
				path: '/process.Process/List',
				headers: { ...sandboxHeaders(s), 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1' },
				body: '{}',
				auth: false,
			});
			assert.equal(list.status, 200, `List: ${list.status} ${list.body}`);
			assert.ok(list.json.processes.some((p) => p.pid === pid), `pid ${pid} gone after the client left: ${list.body}`);
			const flagged = await waitFor(async () => (await runRaw(w, s, `test -e /tmp/flag-${tag} && echo yes`)).stdout === 'yes\n', {
				timeoutMs: 8000,
				intervalMs: 250,
			});
			assert.ok(flagged, 'the command did not go on after its client disconnected');
		} finally {
			await killSandbox(w, s.sandboxID);
		}
	});

	test('a broken Connect envelope gets an error, and the agent serves on', async () => {
		const s = await createSandbox(w);
		try {
			const bodies = [
				Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 0x7b]), // length far beyond the body
				Buffer.from([0, 0, 0, 0, 3, 0x7b]), // truncated
				envelope(0, { process: { cmd: 5 } }),
				envelope(0, { process: { cmd: '/bin/true', args: 'x' } }),
				Buffer.concat([Buffer.from([0, 0, 0, 0, 9]), Buffer.from('not json!')]),
				Buffer.from('garbage'),
			];
			for (const body of bodies) {
				const r = await rawPost(w, s, '/process.Process/Start', body, 'application/connect+json');
				const ok200WithError = r.status === 200 && /"error"/.test(r.body.toString('latin1'));
				assert.ok(ok200WithError || (r.status >= 400 && r.status < 500) || r.closed, `body ${body.toString('hex').slice(0, 40)}: ${r.status} ${r.body}`);
			}
			for (const body of ['{', '[]', '{"process":{"pid":"x"}}', '{"process":{"pid":4294967295},"signal":"SIGNAL_SIGKILL"}']) {
				const r = await rawPost(w, s, '/process.Process/SendSignal', Buffer.from(body), 'application/json');
				assert.ok(r.status >= 400 && r.status < 500, `SendSignal ${body}: ${r.status} ${r.body}`);
				assert.match(r.headers['content-type'] || '', /^application\/json/);
				assert.equal(typeof r.json?.code, 'string', `Connect error body: ${r.body}`);
			}
			const out = await runRaw(w, s, 'echo still-serving');
			assert.equal(out.stdout, 'still-serving\n');
		} finally {
			await killSandbox(w, s.sandboxID);
		}
	});
});

describe('broken HTTP', () => {
	test('garbage bytes on the socket', async () => {
		// (Leading empty lines alone are not garbage: RFC 9112 2.2 lets a server ignore them and wait.)
		const garbage = [
			Buffer.concat([Buffer.from([0x80]), crypto.randomBytes(4095)]),
			Buffer.from('GET\x00/ HTTP/1.1\r\n\r\n'),
			Buffer.from('POST / HTTP/9.9\r\n\r\n'),
			Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'), // a TLS ClientHello
			Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), // an h2c preface
		];
		for (const bytes of garbage) {
			const r = await rawExchange(w, bytes, { timeoutMs: 3000 });
			const status = r.data.toString('latin1').match(/^HTTP\/1\.[01] (\d{3})/);
			assert.ok(r.closed || (status && status[1].startsWith('4')), `garbage answered with: ${r.data.toString('latin1').slice(0, 80)}`);
		}
	});

	test('bad framing: Content-Length and chunk sizes', async () => {
		const cases = [
			'POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
			'POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
			'POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n',
			'POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
			'POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n',
			'POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
		];
		for (const c of cases) {
			const r = await rawExchange(w, Buffer.from(c), { timeoutMs: 3000 });
			const status = r.data.toString('latin1').match(/^HTTP\/1\.[01] (\d{3})/);
			assert.ok(r.closed || (status && status[1].startsWith('4')), `${JSON.stringify(c)} answered with: ${r.data.toString('latin1').slice(0, 80)}`);
			assert.ok(!status || status[1].startsWith('4'), `${JSON.stringify(c)}: ${status?.[1]}`);
		}
	});

	test('huge header and header flood', async () => {
		const long = `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(256 << 10)}\r\n\r\n`;
		let r = await rawExchange(w, Buffer.from(long), { timeoutMs: 5000 });
		let status = r.data.toString('latin1').match(/^HTTP\/1\.[01] (\d{3})/);
		assert.ok(r.closed || (status && status[1].startsWith('4')), `256 KiB header: ${r.data.toString('latin1').slice(0, 80)}`);
		let many = 'GET /health HTTP/1.1\r\nHost: x\r\n';
		for (let i = 0; i < 10000; i++) many += `X-H${i}: v\r\n`;
		r = await rawExchange(w, Buffer.from(many + '\r\n'), { timeoutMs: 5000 });
		status = r.data.toString('latin1').match(/^HTTP\/1\.[01] (\d{3})/);
		assert.ok(r.closed || (status && status[1].startsWith('4')), `10000 headers: ${r.data.toString('latin1').slice(0, 80)}`);
	});

	test('partial heads left open, then closed (slowloris)', async () => {
		const socks = [];
		for (let i = 0; i < 32; i++) {
			const s = net.connect(Number(new URL(w.apiUrl).port), '127.0.0.1');
			s.on('error', () => {});
			s.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ');
			socks.push(s);
		}
		await sleep(200);
		// Others are served meanwhile.
		const r = await request(w, { path: '/health', timeoutMs: 5000 });
		assert.equal(r.status, 200);
		for (const s of socks) s.destroy();
		// A head cut in the middle of a request line, and one cut after a body started.
		await rawExchange(w, Buffer.from('GET /hea'), { timeoutMs: 200, endAfterWrite: true });
		await rawExchange(w, Buffer.from(`POST /v2/sandboxes HTTP/1.1\r\nHost: x\r\nX-API-KEY: ${w.apiKey}\r\nContent-Length: 100\r\n\r\n{"temp`), {
			timeoutMs: 200,
			endAfterWrite: true,
		});
	});

	test('many connections at once', async () => {
		const rs = await Promise.all(Array.from({ length: 64 }, () => request(w, { path: '/v2/sandboxes', timeoutMs: 15000 })));
		assert.deepEqual([...new Set(rs.map((r) => r.status))], [200]);
	});
});

// Writes a head and a body that the server may refuse half way; returns what it answered.
// A reset that hits our own write before we read the answer (EPIPE) loses that answer on the
// client side, whatever the server did: only then is it tried again, at most 3 times.
async function sendBig(head, parts) {
	let r;
	for (let i = 0; i < 3; i++) {
		r = await sendBigOnce(head, parts);
		if (r.length || !sendBigOnce.writeFailed) break;
	}
	return r;
}

function sendBigOnce(head, parts) {
	sendBigOnce.writeFailed = false;
	return new Promise((resolve) => {
		const s = net.connect(Number(new URL(w.apiUrl).port), '127.0.0.1');
		const chunks = [];
		let done = false;
		const finish = () => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			s.destroy();
			resolve(Buffer.concat(chunks).toString('latin1'));
		};
		const timer = setTimeout(finish, 15000);
		s.on('data', (c) => {
			chunks.push(c);
			// A complete answer head and its JSON body are enough.
			const t = Buffer.concat(chunks).toString('latin1');
			const m = t.match(/\r\ncontent-length: *(\d+)/i);
			const i = t.indexOf('\r\n\r\n');
			if (m && i >= 0 && t.length >= i + 4 + Number(m[1])) finish();
		});
		s.on('close', finish);
		s.on('error', (e) => {
			if (e.code === 'EPIPE' || e.code === 'ECONNRESET') sendBigOnce.writeFailed = true;
		});
		s.on('connect', async () => {
			s.write(head);
			// Like a careful client, stop sending once an early answer arrives: writing on after
			// the server has closed gets a reset that can discard the answer before it is read.
			for (const p of parts) {
				for (let off = 0; off < p.length; off += 64 << 10) {
					await new Promise((r) => setImmediate(r));
					if (done || s.destroyed || chunks.length) return;
					if (!s.write(p.subarray(off, off + (64 << 10)))) await new Promise((r) => s.once('drain', r).once('close', r));
				}
			}
		});
	});
}

function assertRawError(text, statuses, what) {
	const m = text.match(/^HTTP\/1\.[01] (\d{3})/);
	assert.ok(m, `${what}: no HTTP answer (got ${JSON.stringify(text.slice(0, 80))})`);
	const status = Number(m[1]);
	assert.ok(statuses.includes(status), `${what}: HTTP ${status}`);
	const body = text.slice(text.indexOf('\r\n\r\n') + 4);
	const j = JSON.parse(body);
	assert.equal(j.code, status);
	assert.equal(typeof j.message, 'string');
}

function rawPost(wd, sbx, path, body, ctype) {
	return new Promise((resolve) => {
		const u = new URL(wd.sandboxUrl);
		const req = http.request(
			{
				host: u.hostname,
				port: u.port,
				method: 'POST',
				path,
				agent: false,
				headers: { ...sandboxHeaders(sbx), 'Content-Type': ctype, 'Connect-Protocol-Version': '1', 'Content-Length': body.length },
			},
			(res) => {
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('end', () => {
					clearTimeout(timer);
					const b = Buffer.concat(chunks);
					let json;
					try {
						json = JSON.parse(b.toString());
					} catch {
						json = undefined;
					}
					resolve({ status: res.statusCode, headers: res.headers, body: b, json, closed: false });
				});
				res.on('error', () => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), closed: true }));
			},
		);
		let timedOut = false;
		const timer = setTimeout(() => {
			timedOut = true;
			req.destroy();
		}, 10000);
		req.on('error', () => {
			clearTimeout(timer);
			resolve({ status: 0, headers: {}, body: Buffer.from(timedOut ? 'no answer in 10 s' : ''), closed: !timedOut });
		});
		req.end(body);
	});
}
