// Internet access of sandboxes. "The internet" is a network namespace this file creates: a veth pair
// to the host on 10.209.77.0/30 (host 10.209.77.1, namespace 10.209.77.2) and an HTTP server inside
// it. No packet goes anywhere but to namespaces made here. Everything is removed in after().
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { startServerNs, tcpOpen, tryIp } from './helpers/netns.mjs';
import { freePort, startWarrend, waitFor } from './helpers/warrend.mjs';
import { probeConnect, py, sandboxAddrs } from './helpers/sandbox.mjs';

const HOST_IP = '10.209.77.1';
const NET_IP = '10.209.77.2';
const NET_PORT = 8080;
const PREFIX = 'wn9';
const hex = crypto.randomBytes(3).toString('hex');
const NS = `${PREFIX}ns${hex}`;
const VETH_HOST = `${PREFIX}h${hex}`;
const VETH_NS = `${PREFIX}n${hex}`;

let w, Sandbox;
let outside = null;
let wwwDir = null;
const token = crypto.randomBytes(8).toString('hex');
const made = [];
const serverLog = () => outside?.log() ?? '';

// Links of an earlier, crashed run of this file that still hold our /30 (only ours, by prefix).
function removeStale() {
	const out = spawnSync('ip', ['-o', '-4', 'addr', 'show', 'to', '10.209.77.0/30'], { encoding: 'utf8' }).stdout || '';
	for (const m of out.matchAll(/^\d+: ([^:@\s]+)/gm)) if (m[1].startsWith(PREFIX)) tryIp('link', 'del', m[1]);
	const nss = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout || '';
	for (const m of nss.matchAll(/^(\S+)/gm)) if (m[1].startsWith(PREFIX + 'ns')) tryIp('netns', 'del', m[1]);
}

before(async () => {
	removeStale();
	wwwDir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-test-www-'));
	fs.writeFileSync(path.join(wwwDir, 'probe'), `internet-${token}\n`);
	outside = await startServerNs({
		ns: NS,
		vethHost: VETH_HOST,
		vethNs: VETH_NS,
		hostCidr: `${HOST_IP}/30`,
		nsCidrs: [`${NET_IP}/30`],
		bind: NET_IP,
		port: NET_PORT,
		cwd: wwwDir,
	});
	w = await startWarrend();
	({ Sandbox } = await import('e2b'));
});

after(async () => {
	for (const s of made) await s.kill().catch(() => {});
	await outside?.stop();
	if (wwwDir) fs.rmSync(wwwDir, { recursive: true, force: true });
	await w?.stop();
});

// Fetches http://NET_IP:NET_PORT/<p> from inside with a 2 s timeout: {ok, body | error, ms}.
const FETCH = `
import json, sys, time, urllib.request
t = time.monotonic()
try:
    body = urllib.request.urlopen(sys.argv[1], timeout=2).read().decode()
    r = {'ok': True, 'body': body}
except Exception as e:
    r = {'ok': False, 'error': type(e).__name__ + ': ' + str(e)}
r['ms'] = int((time.monotonic() - t) * 1000)
print(json.dumps(r))
`;

async function fetchFrom(sbx, p) {
	const r = await py(sbx, FETCH, { args: [`http://${NET_IP}:${NET_PORT}/${p}`] });
	assert.equal(r.exitCode, 0, `fetch script: ${r.stderr}`);
	return JSON.parse(r.stdout);
}

test('allowInternetAccess true reaches the outside, false does not', async () => {
	const open = await Sandbox.create({ allowInternetAccess: true, timeoutMs: 120_000 });
	made.push(open);
	const closed = await Sandbox.create({ allowInternetAccess: false, timeoutMs: 120_000 });
	made.push(closed);

	const okPath = `probe?open1-${token}`;
	const a = await fetchFrom(open, okPath);
	assert.ok(a.ok, `allowInternetAccess true: ${JSON.stringify(a)}`);
	assert.equal(a.body, `internet-${token}\n`);

	// The closed sandbox works otherwise, but its request never gets out.
	assert.equal((await closed.commands.run('echo alive')).stdout, 'alive\n');
	const denyPath = `probe?closed-${token}`;
	const t0 = Date.now();
	const b = await fetchFrom(closed, denyPath);
	assert.equal(b.ok, false, `allowInternetAccess false fetched: ${JSON.stringify(b)}`);
	assert.ok(b.ms <= 3000, `the failure took ${b.ms} ms`);
	assert.ok(Date.now() - t0 < 15000, `the failed fetch took ${Date.now() - t0} ms end to end`);
	const c = await probeConnect(closed, [`${NET_IP}:${NET_PORT}`], 1);
	assert.notEqual(c[`${NET_IP}:${NET_PORT}`], 'ok', 'raw TCP from the closed sandbox got through');

	// The server was up all along: a later request from the open sandbox arrives.
	const okPath2 = `probe?open2-${token}`;
	const d = await fetchFrom(open, okPath2);
	assert.ok(d.ok, `second fetch from the open sandbox: ${JSON.stringify(d)}`);
	const seen = await waitFor(() => serverLog().includes(`open2-${token}`), { timeoutMs: 5000 });
	assert.ok(seen, `server log: ${serverLog()}`);
	assert.ok(serverLog().includes(`open1-${token}`), `server log: ${serverLog()}`);
	assert.ok(!serverLog().includes(`closed-${token}`), `the closed sandbox's request reached the server: ${serverLog()}`);
	// Seen from outside, the open sandbox's traffic comes from the host (masqueraded), not from
	// the sandbox subnet.
	const line = serverLog().split('\n').find((l) => l.includes(`open1-${token}`));
	assert.ok(line.startsWith(HOST_IP + ' '), `server log line: ${line}`);
});

test('the internet default is on: a plain create reaches the outside', async () => {
	const s = await Sandbox.create({ timeoutMs: 120_000 });
	made.push(s);
	const r = await fetchFrom(s, `probe?default-${token}`);
	assert.ok(r.ok, `default create: ${JSON.stringify(r)}`);
	assert.equal(r.body, `internet-${token}\n`);
});

test("a sandbox cannot reach warrend's listener or other host services, with or without internet", async () => {
	const apiPort = Number(new URL(w.apiUrl).port);
	// A host service listening on every address: the firewall, not the bind address, must stop it.
	const anyPort = await freePort();
	const srv = net.createServer((s) => {
		s.on('error', () => {});
		s.end('host-service\n');
	});
	await new Promise((r) => srv.listen(anyPort, '0.0.0.0', r));
	try {
		assert.ok(await tcpOpen('127.0.0.1', apiPort), 'warrend does not answer on the host');
		assert.ok(await tcpOpen(HOST_IP, anyPort), 'the host service does not answer on the host');
		for (const allowInternetAccess of [true, false]) {
			const s = await Sandbox.create({ allowInternetAccess, timeoutMs: 120_000 });
			made.push(s);
			const { gateway } = await sandboxAddrs(s);
			assert.ok(gateway, 'no default gateway inside');
			const targets = [
				`127.0.0.1:${apiPort}`,
				`${gateway}:${apiPort}`,
				`${HOST_IP}:${apiPort}`,
				`${gateway}:${anyPort}`,
				`${HOST_IP}:${anyPort}`,
			];
			const res = await probeConnect(s, targets, 1);
			for (const t of targets) assert.notEqual(res[t], 'ok', `allowInternetAccess ${allowInternetAccess}: ${t} reachable`);
			// A request to warrend's API by its address fails too (not answered with anything).
			const r = await py(
				s,
				`import sys, urllib.request\ntry:\n    urllib.request.urlopen(sys.argv[1], timeout=1); print('reached')\nexcept Exception as e:\n    print('failed')\n`,
				{ args: [`http://${gateway}:${apiPort}/health`] },
			);
			assert.equal(r.stdout.trim(), 'failed', `allowInternetAccess ${allowInternetAccess}: ${r.stdout} ${r.stderr}`);
		}
	} finally {
		await new Promise((r) => srv.close(r));
	}
});
