// Ports of a sandbox by Host: `<port>-<id>.<domain>` sent to warrend reaches that port inside the
// sandbox. Servers run inside the sandbox (python3 from the host's /usr); the client is this
// process on loopback, so nothing leaves the machine. Covers sbx.getHost, plain requests to
// `python3 -m http.server`, keep-alive, a slow chunked response arriving piece by piece, and a
// WebSocket echo both ways.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';

import { startWarrend, waitFor } from './helpers/warrend.mjs';

const DOMAIN = 'sbx.localhost';
let w, Sandbox, sbx;
const made = [];

before(async () => {
	w = await startWarrend({ env: { WARREN_DOMAIN: DOMAIN } });
	({ Sandbox } = await import('e2b'));
	sbx = await Sandbox.create({ timeoutMs: 300_000 });
	made.push(sbx);
	await sbx.commands.run(`mkdir -p /tmp/www && echo "hello from ${sbx.sandboxId}" > /tmp/www/index.txt`);
	await sbx.commands.run('cd /tmp/www && exec python3 -m http.server 8000 --bind 0.0.0.0 --protocol HTTP/1.1', { background: true });
	await sbx.commands.run(`cat > /tmp/srv.py <<'EOF'\n${SERVER}\nEOF`);
	await sbx.commands.run('exec python3 /tmp/srv.py 8001', { background: true });
	for (const port of [8000, 8001]) {
		const up = await waitFor(
			async () => {
				try {
					return (await get(port, '/health-probe', { agent: false })).status !== 502;
				} catch {
					return false;
				}
			},
			{ timeoutMs: 30000, intervalMs: 200 },
		);
		assert.ok(up, `server on port ${port} inside the sandbox did not come up`);
	}
});

after(async () => {
	for (const s of made) await s.kill().catch(() => {});
	await w?.stop();
});

// A small server for the streaming and WebSocket cases: /stream sends 5 chunks 300 ms apart;
// /ws upgrades to a WebSocket that greets first, then echoes each text frame upper-cased.
const SERVER = String.raw`
import base64, hashlib, socket, struct, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path == '/stream':
            self.send_response(200)
            self.send_header('Content-Type', 'text/plain')
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for i in range(5):
                d = ('tick %d\n' % i).encode()
                self.wfile.write(b'%x\r\n%s\r\n' % (len(d), d))
                self.wfile.flush()
                time.sleep(0.3)
            self.wfile.write(b'0\r\n\r\n')
            return
        if self.path == '/ws' and self.headers.get('Upgrade', '').lower() == 'websocket':
            key = self.headers['Sec-WebSocket-Key']
            acc = base64.b64encode(hashlib.sha1((key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
            self.send_response(101)
            self.send_header('Upgrade', 'websocket')
            self.send_header('Connection', 'Upgrade')
            self.send_header('Sec-WebSocket-Accept', acc)
            self.end_headers()
            self.wfile.flush()
            self.ws()
            self.close_connection = True
            return
        body = ('%s %s host=%s\n' % (self.command, self.path, self.headers.get('Host'))).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def send_frame(self, op, data):
        n = len(data)
        h = bytes([0x80 | op]) + (bytes([n]) if n < 126 else b'\x7e' + struct.pack('>H', n))
        self.wfile.write(h + data)
        self.wfile.flush()
    def read_exact(self, n):
        b = b''
        while len(b) < n:
            c = self.rfile.read(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b
    def ws(self):
        self.send_frame(1, b'hello from inside')
        while True:
            try:
                b0, b1 = self.read_exact(2)
            except EOFError:
                return
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack('>H', self.read_exact(2))[0]
            mask = self.read_exact(4) if b1 & 0x80 else b'\0\0\0\0'
            data = bytes(x ^ mask[i % 4] for i, x in enumerate(self.read_exact(n)))
            op = b0 & 0x0f
            if op == 8:
                self.send_frame(8, b'')
                return
            self.send_frame(1, data.upper())

ThreadingHTTPServer(('0.0.0.0', int(sys.argv[1])), H).serve_forever()
`;

function hostFor(port) {
	return `${port}-${sbx.sandboxId}.${DOMAIN}`;
}

// GET through warrend with the Host header of that port; resolves {status, body, headers, socket}.
function get(port, p, { agent, host = hostFor(port), onChunk } = {}) {
	const u = new URL(w.apiUrl);
	return new Promise((resolve, reject) => {
		const req = http.request({ host: u.hostname, port: u.port, path: p, headers: { Host: host }, agent }, (res) => {
			const chunks = [];
			res.on('data', (c) => {
				chunks.push(c);
				onChunk?.(c);
			});
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), socket: req.socket }));
			res.on('error', reject);
		});
		req.setTimeout(30000, () => req.destroy(new Error(`GET ${p}: no answer`)));
		req.on('error', reject);
		req.end();
	});
}

test('getHost gives <port>-<id>.<domain>, and that Host reaches python3 -m http.server inside', async () => {
	assert.equal(sbx.getHost(8000), `8000-${sbx.sandboxId}.${DOMAIN}`);
	const r = await get(8000, '/index.txt', { agent: false });
	assert.equal(r.status, 200);
	assert.equal(r.body, `hello from ${sbx.sandboxId}\n`);
	// The listen port may follow the name, as browsers send it.
	const u = new URL(w.apiUrl);
	const r2 = await get(8000, '/index.txt', { agent: false, host: `${hostFor(8000)}:${u.port}` });
	assert.equal(r2.body, `hello from ${sbx.sandboxId}\n`);
	// The server sees the Host the client sent.
	const r3 = await get(8001, '/echo', { agent: false });
	assert.equal(r3.body, `GET /echo host=${hostFor(8001)}\n`);
});

test('a port nobody listens on, an unknown sandbox and another domain are not routed there', async () => {
	const closed = await get(8999, '/', { agent: false });
	assert.equal(closed.status, 502);
	assert.equal(JSON.parse(closed.body).sandboxId, sbx.sandboxId);
	const unknown = await get(8000, '/', { agent: false, host: `8000-nosuchsandbox0000.${DOMAIN}` });
	assert.equal(unknown.status, 502);
	assert.deepEqual(JSON.parse(unknown.body), { sandboxId: 'nosuchsandbox0000', message: 'The sandbox was not found', code: 502 });
	// Another domain is the control plane: no API key, 401 in the API's error shape.
	const other = await get(8000, '/index.txt', { agent: false, host: `8000-${sbx.sandboxId}.example.org` });
	assert.equal(other.status, 401);
	assert.equal(JSON.parse(other.body).code, 401);
});

test('keep-alive: several requests, to two ports, on one client connection', async () => {
	const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
	try {
		const sockets = new Set();
		for (let i = 0; i < 6; i++) {
			const port = i % 3 === 2 ? 8001 : 8000;
			const r = await get(port, port === 8000 ? '/index.txt' : `/n${i}`, { agent });
			assert.equal(r.status, 200, `request ${i}: ${r.body}`);
			assert.equal(r.body, port === 8000 ? `hello from ${sbx.sandboxId}\n` : `GET /n${i} host=${hostFor(8001)}\n`);
			sockets.add(r.socket);
		}
		assert.equal(sockets.size, 1, 'the client connection was not kept');
	} finally {
		agent.destroy();
	}
});

test('streaming: a slow chunked response arrives piece by piece', async () => {
	const t0 = Date.now();
	const seen = [];
	const r = await get(8001, '/stream', { agent: false, onChunk: (c) => seen.push({ at: Date.now() - t0, text: c.toString() }) });
	const total = Date.now() - t0;
	assert.equal(r.status, 200);
	assert.equal(r.body, 'tick 0\ntick 1\ntick 2\ntick 3\ntick 4\n');
	assert.ok(seen.length >= 3, `the body came in ${seen.length} piece(s): ${JSON.stringify(seen)}`);
	// The server takes 1.2 s or more between the first tick and the end: the first tick must
	// arrive well before the last.
	assert.ok(seen[0].text.startsWith('tick 0'), JSON.stringify(seen));
	assert.ok(total - seen[0].at >= 900, `first piece at ${seen[0].at} ms, end at ${total} ms`);
});

// A WebSocket client on a raw socket: the handshake with Host, masked text frames out, frames in.
function wsConnect(port, p) {
	const u = new URL(w.apiUrl);
	const key = crypto.randomBytes(16).toString('base64');
	const sock = net.connect({ host: u.hostname, port: Number(u.port) });
	let buf = Buffer.alloc(0);
	let head = null;
	const frames = [];
	let wake = null;
	sock.on('data', (d) => {
		buf = Buffer.concat([buf, d]);
		if (!head) {
			const i = buf.indexOf('\r\n\r\n');
			if (i < 0) return;
			head = buf.subarray(0, i).toString();
			buf = buf.subarray(i + 4);
		}
		while (buf.length >= 2) {
			const n = buf[1] & 0x7f;
			const off = n === 126 ? 4 : 2;
			const len = n === 126 ? buf.readUInt16BE(2) : n;
			if (buf.length < off + len) break;
			frames.push({ op: buf[0] & 0x0f, text: buf.subarray(off, off + len).toString() });
			buf = buf.subarray(off + len);
		}
		wake?.();
	});
	sock.on('error', () => wake?.());
	sock.on('close', () => wake?.());
	sock.write(
		`GET ${p} HTTP/1.1\r\nHost: ${hostFor(port)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
			`Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
	);
	const ws = {
		sock,
		key,
		head: () => head,
		async next(timeoutMs = 10000) {
			const end = Date.now() + timeoutMs;
			while (frames.length === 0) {
				if (Date.now() > end || sock.destroyed) throw new Error(`no frame (head: ${head})`);
				await new Promise((r) => {
					wake = r;
					setTimeout(r, 200);
				});
			}
			return frames.shift();
		},
		send(op, text) {
			const data = Buffer.from(text);
			const mask = crypto.randomBytes(4);
			const hdr = data.length < 126 ? Buffer.from([0x80 | op, 0x80 | data.length]) : Buffer.from([0x80 | op, 0x80 | 126, data.length >> 8, data.length & 0xff]);
			const body = Buffer.from(data.map((b, i) => b ^ mask[i % 4]));
			sock.write(Buffer.concat([hdr, mask, body]));
		},
	};
	return ws;
}

test('WebSocket: the upgrade passes through and frames go both ways', async () => {
	const ws = wsConnect(8001, '/ws');
	try {
		const first = await ws.next();
		assert.match(ws.head(), /^HTTP\/1\.1 101 /);
		const accept = crypto.createHash('sha1').update(ws.key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
		assert.match(ws.head(), new RegExp(`^Sec-WebSocket-Accept: ${accept.replace(/[+/]/g, '\\$&')}$`, 'mi'));
		assert.match(ws.head(), /^Upgrade: websocket$/im);
		// Server to client, unprompted.
		assert.deepEqual(first, { op: 1, text: 'hello from inside' });
		// Client to server and back, several times, one of them larger than 125 bytes.
		for (const msg of ['ping', 'second message', 'x'.repeat(300)]) {
			ws.send(1, msg);
			assert.deepEqual(await ws.next(), { op: 1, text: msg.toUpperCase() });
		}
		ws.send(8, '');
		assert.equal((await ws.next()).op, 8);
	} finally {
		ws.sock.destroy();
	}
});

test('the routing headers beat Host, and a killed sandbox answers 502 by Host', async () => {
	const other = await Sandbox.create({ timeoutMs: 120_000 });
	made.push(other);
	const u = new URL(w.apiUrl);
	// E2b-Sandbox-Id/Port (what the SDK sends) decide when present.
	const viaHeaders = await new Promise((resolve, reject) => {
		const req = http.request(
			{
				host: u.hostname,
				port: u.port,
				path: '/echo',
				agent: false,
				headers: { Host: hostFor(8001), 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '8001' },
			},
			(res) => {
				let b = '';
				res.on('data', (c) => (b += c));
				res.on('end', () => resolve({ status: res.statusCode, body: b }));
			},
		);
		req.on('error', reject);
		req.end();
	});
	assert.equal(viaHeaders.status, 200);
	assert.equal(viaHeaders.body, `GET /echo host=${hostFor(8001)}\n`);
	await other.kill();
	const gone = await get(8000, '/', { agent: false, host: `8000-${other.sandboxId}.${DOMAIN}` });
	assert.equal(gone.status, 502);
});

// network.maskRequestHost: the server inside sees that Host (with ${PORT} filled in) instead of the
// client's, by Host routing and by the SDK's headers alike; getInfo shows it; a bad one is a 400.
test('maskRequestHost: servers inside see the masked Host; getInfo shows it; bad masks are refused', async () => {
	const masked = await Sandbox.create({ timeoutMs: 120_000, network: { maskRequestHost: 'localhost:${PORT}' } });
	made.push(masked);
	await masked.commands.run(`cat > /tmp/srv.py <<'EOF'\n${SERVER}\nEOF`);
	await masked.commands.run('exec python3 /tmp/srv.py 8001', { background: true });
	const host = `8001-${masked.sandboxId}.${DOMAIN}`;
	const r = await waitFor(
		async () => {
			const x = await get(8001, '/echo', { agent: false, host }).catch(() => null);
			return x && x.status === 200 ? x : null;
		},
		{ timeoutMs: 30000, intervalMs: 200 },
	);
	assert.ok(r, 'the server inside the masked sandbox did not come up');
	assert.equal(r.body, 'GET /echo host=localhost:8001\n');
	// The unmasked sandbox still sees the client's Host.
	assert.equal((await get(8001, '/echo', { agent: false })).body, `GET /echo host=${hostFor(8001)}\n`);
	// Routed by the SDK's headers instead of Host: masked all the same.
	const u = new URL(w.apiUrl);
	const viaHeaders = await new Promise((resolve, reject) => {
		const req = http.request(
			{ host: u.hostname, port: u.port, path: '/echo', agent: false, headers: { 'E2b-Sandbox-Id': masked.sandboxId, 'E2b-Sandbox-Port': '8001' } },
			(res) => {
				let b = '';
				res.on('data', (c) => (b += c));
				res.on('end', () => resolve(b));
			},
		);
		req.on('error', reject);
		req.end();
	});
	assert.equal(viaHeaders, 'GET /echo host=localhost:8001\n');
	// The SDK's own requests to the agent are masked too; the agent does not mind.
	assert.equal((await masked.commands.run('echo still-fine')).stdout, 'still-fine\n');
	const info = await masked.getInfo();
	assert.equal(info.network?.maskRequestHost, 'localhost:${PORT}');
	// An egress update replaces the rules, not the mask (the update body has no such field).
	await masked.updateNetwork({ denyOut: ['192.0.2.0/24'] });
	assert.equal((await get(8001, '/echo', { agent: false, host })).body, 'GET /echo host=localhost:8001\n');

	await assert.rejects(
		Sandbox.create({ timeoutMs: 60_000, network: { maskRequestHost: 'evil\r\nX-Injected: 1' } }),
		/maskRequestHost' must be a host\[:port\]/,
	);
});
