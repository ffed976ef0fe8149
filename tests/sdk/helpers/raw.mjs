// Raw HTTP/1.1 against warrend, with no SDK in between: the control plane as JSON REST and the
// agent's Connect-JSON protocol (5-byte envelopes) through the routing headers.

import http from 'node:http';
import net from 'node:net';

// One request on a fresh connection. Resolves {status, headers, body (Buffer), json (or undefined)}.
export function request(w, { method = 'GET', path = '/', headers = {}, body, timeoutMs = 30000, auth = true }) {
	return new Promise((resolve, reject) => {
		const u = new URL(w.apiUrl);
		const h = { ...headers };
		if (auth && !Object.keys(h).some((k) => k.toLowerCase() === 'x-api-key')) h['X-API-KEY'] = w.apiKey;
		let data = body;
		if (data !== undefined && typeof data !== 'string' && !Buffer.isBuffer(data)) {
			data = JSON.stringify(data);
			h['Content-Type'] = h['Content-Type'] || 'application/json';
		}
		if (data !== undefined) h['Content-Length'] = Buffer.byteLength(data);
		const req = http.request(
			{ host: u.hostname, port: u.port, method, path, headers: h, agent: false },
			(res) => {
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('end', () => {
					clearTimeout(timer);
					const b = Buffer.concat(chunks);
					let json;
					try {
						json = JSON.parse(b.toString('utf8'));
					} catch {
						json = undefined;
					}
					resolve({ status: res.statusCode, headers: res.headers, body: b, json });
				});
				res.on('error', reject);
			},
		);
		const timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)), timeoutMs);
		req.on('error', (e) => {
			clearTimeout(timer);
			reject(e);
		});
		if (data !== undefined) req.write(data);
		req.end();
	});
}

export async function createSandbox(w, body = { templateID: 'base' }) {
	const r = await request(w, { method: 'POST', path: '/v2/sandboxes', body });
	if (r.status !== 201) throw new Error(`create: ${r.status} ${r.body}`);
	return r.json;
}

export async function killSandbox(w, id) {
	return (await request(w, { method: 'DELETE', path: `/sandboxes/${encodeURIComponent(id)}` })).status;
}

export function envelope(flags, obj) {
	const d = Buffer.from(JSON.stringify(obj));
	const h = Buffer.alloc(5);
	h[0] = flags;
	h.writeUInt32BE(d.length, 1);
	return Buffer.concat([h, d]);
}

// Parses as many complete envelopes as buf holds: {msgs: [{flags, json}], rest}.
export function parseEnvelopes(buf) {
	const msgs = [];
	let off = 0;
	while (buf.length - off >= 5) {
		const len = buf.readUInt32BE(off + 1);
		if (buf.length - off - 5 < len) break;
		const flags = buf[off];
		const json = JSON.parse(buf.subarray(off + 5, off + 5 + len).toString('utf8'));
		msgs.push({ flags, json });
		off += 5 + len;
	}
	return { msgs, rest: buf.subarray(off) };
}

export function sandboxHeaders(sbx, port = 49983) {
	const h = { 'E2b-Sandbox-Id': sbx.sandboxID, 'E2b-Sandbox-Port': String(port) };
	if (sbx.envdAccessToken) h['X-Access-Token'] = sbx.envdAccessToken;
	return h;
}

// Starts a Process.Start stream. Returns {req, res, events (async iterator of parsed messages)}
// when the response head arrives. opts: {user, timeoutMs (Connect-Timeout-Ms), stdin}.
export function processStart(w, sbx, cmd, opts = {}) {
	return new Promise((resolve, reject) => {
		const u = new URL(w.sandboxUrl);
		const body = envelope(0, {
			process: { cmd: '/bin/bash', args: ['-l', '-c', cmd] },
			stdin: !!opts.stdin,
		});
		const h = {
			...sandboxHeaders(sbx),
			'Content-Type': 'application/connect+json',
			'Connect-Protocol-Version': '1',
			'Keepalive-Ping-Interval': '50',
			'Content-Length': body.length,
		};
		if (opts.timeoutMs) h['Connect-Timeout-Ms'] = String(opts.timeoutMs);
		if (opts.user) h.Authorization = 'Basic ' + Buffer.from(opts.user + ':').toString('base64');
		const req = http.request(
			{ host: u.hostname, port: u.port, method: 'POST', path: '/process.Process/Start', headers: h, agent: opts.agent || false },
			(res) => resolve({ req, res, events: envelopeStream(res) }),
		);
		req.on('error', reject);
		req.end(body);
	});
}

async function* envelopeStream(res) {
	let buf = Buffer.alloc(0);
	for await (const c of res) {
		buf = Buffer.concat([buf, c]);
		const { msgs, rest } = parseEnvelopes(buf);
		buf = rest;
		for (const m of msgs) yield m;
	}
}

// Runs cmd to completion through the raw Connect protocol: {pid, stdout, stderr, end, trailer}.
export async function runRaw(w, sbx, cmd, opts = {}) {
	const { res, events } = await processStart(w, sbx, cmd, opts);
	if (res.statusCode !== 200) {
		let b = '';
		for await (const c of res) b += c;
		throw new Error(`Process.Start: HTTP ${res.statusCode} ${b}`);
	}
	const out = { pid: 0, stdout: '', stderr: '', end: null, trailer: null };
	for await (const m of events) {
		if (m.flags & 2) {
			out.trailer = m.json;
			break;
		}
		const ev = m.json.event || {};
		if (ev.start) out.pid = ev.start.pid;
		if (ev.data?.stdout) out.stdout += Buffer.from(ev.data.stdout, 'base64').toString();
		if (ev.data?.stderr) out.stderr += Buffer.from(ev.data.stderr, 'base64').toString();
		if (ev.end) out.end = ev.end;
	}
	if (!opts.allowError && !out.end) throw new Error(`Process.Start "${cmd}": stream ended without an end event: ${JSON.stringify(out.trailer)}`);
	return out;
}

// Writes raw bytes on a fresh socket and collects what comes back until the peer closes or
// timeoutMs passes. Resolves {data (Buffer), closed (bool)}.
export function rawExchange(w, bytes, { timeoutMs = 3000, endAfterWrite = false } = {}) {
	return new Promise((resolve) => {
		const u = new URL(w.apiUrl);
		const s = net.connect(Number(u.port), u.hostname);
		const chunks = [];
		let done = false;
		const finish = (closed) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			s.destroy();
			resolve({ data: Buffer.concat(chunks), closed });
		};
		const timer = setTimeout(() => finish(false), timeoutMs);
		s.on('data', (c) => chunks.push(c));
		s.on('close', () => finish(true));
		s.on('error', () => finish(true));
		s.on('connect', () => {
			if (bytes.length) s.write(bytes);
			if (endAfterWrite) s.end();
		});
	});
}
