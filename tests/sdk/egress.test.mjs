// Egress rules: network.allowOut / network.denyOut on create, allowInternetAccess, and
// sbx.updateNetwork (PUT /sandboxes/{id}/network), enforced by the kernel (nftables). "The
// outside" is a network namespace this file creates: a veth pair to the host on a
// 198.18.<random>.0/24 test net (host .1, namespace .2 and .3) with an HTTP server on both
// namespace addresses. Nothing goes anywhere else. Everything is removed in after().
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { after, before, test } from 'node:test';

import { startServerNs, tryIp } from './helpers/netns.mjs';
import { request } from './helpers/raw.mjs';
import { probeConnect } from './helpers/sandbox.mjs';
import { startWarrend, waitFor } from './helpers/warrend.mjs';

const PREFIX = 'weg';
const hex = crypto.randomBytes(3).toString('hex');
const NS = `${PREFIX}ns${hex}`;
const VETH_HOST = `${PREFIX}h${hex}`;
const VETH_NS = `${PREFIX}n${hex}`;
const OCTET = 1 + crypto.randomInt(254);
const NET = `198.18.${OCTET}`;
const HOST_IP = `${NET}.1`;
const A = `${NET}.2`; // two addresses of the namespace, both serving on PORT
const B = `${NET}.3`;
const PORT = 8080;
const TA = `${A}:${PORT}`;
const TB = `${B}:${PORT}`;

let w, Sandbox;
let outside = null;
const made = [];

function nft(...args) {
	return spawnSync('nft', args, { encoding: 'utf8' });
}

// Namespaces and links of an earlier, crashed run of this file (only ours, by prefix).
function removeStale() {
	const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout || '';
	for (const m of links.matchAll(/^\d+: ([^:@\s]+)/gm)) if (m[1].startsWith(PREFIX + 'h')) tryIp('link', 'del', m[1]);
	const nss = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout || '';
	for (const m of nss.matchAll(/^(\S+)/gm)) if (m[1].startsWith(PREFIX + 'ns')) tryIp('netns', 'del', m[1]);
}

before(async () => {
	removeStale();
	outside = await startServerNs({
		ns: NS,
		vethHost: VETH_HOST,
		vethNs: VETH_NS,
		hostCidr: `${HOST_IP}/24`,
		nsCidrs: [`${A}/24`, `${B}/24`],
		bind: '0.0.0.0',
		port: PORT,
		cwd: '/usr/share/doc',
	});
	w = await startWarrend();
	({ Sandbox } = await import('e2b'));
});

after(async () => {
	for (const s of made) await s.kill().catch(() => {});
	await outside?.stop();
	await w?.stop();
});

// {A: bool, B: bool}: can the sandbox open a TCP connection to each server (1 s timeout)?
async function reach(sbx) {
	const r = await probeConnect(sbx, [TA, TB], 1);
	return { A: r[TA] === 'ok', B: r[TB] === 'ok' };
}

async function create(opts) {
	const s = await Sandbox.create({ timeoutMs: 180_000, ...opts });
	made.push(s);
	return s;
}

test('denyOut blocks only the denied destination; no rules reach both', async () => {
	const open = await create({});
	assert.deepEqual(await reach(open), { A: true, B: true });
	const s = await create({ network: { denyOut: [`${B}/32`] } });
	assert.deepEqual(await reach(s), { A: true, B: false });
	// Two sandboxes at once keep their own rules.
	assert.deepEqual(await reach(open), { A: true, B: true });
	const info = await s.getInfo();
	assert.deepEqual(info.network?.denyOut, [`${B}/32`]);
});

test('allowOut wins over denyOut and over allowInternetAccess false', async () => {
	const closed = await create({ allowInternetAccess: false, network: { allowOut: [A] } });
	assert.deepEqual(await reach(closed), { A: true, B: false });
	const all = await create({ network: { denyOut: ['0.0.0.0/0'], allowOut: [`${NET}.0/30`] } });
	// .2 is inside .0/30, .3 is too: both allowed despite denying everything.
	assert.deepEqual(await reach(all), { A: true, B: true });
	const narrow = await create({ network: { denyOut: ['0.0.0.0/0'], allowOut: [`${A}/32`] } });
	assert.deepEqual(await reach(narrow), { A: true, B: false });
	const none = await create({ allowInternetAccess: false });
	assert.deepEqual(await reach(none), { A: false, B: false });
});

test('updateNetwork replaces the rules of a running sandbox, and {} clears them', async () => {
	const s = await create({});
	assert.deepEqual(await reach(s), { A: true, B: true });
	await s.updateNetwork({ denyOut: [A] });
	assert.deepEqual(await reach(s), { A: false, B: true });
	await s.updateNetwork({ denyOut: [`${NET}.0/24`], allowOut: [B] });
	assert.deepEqual(await reach(s), { A: false, B: true });
	await s.updateNetwork({ allowInternetAccess: false });
	assert.deepEqual(await reach(s), { A: false, B: false });
	assert.equal((await s.getInfo()).allowInternetAccess, false);
	await s.updateNetwork({});
	assert.deepEqual(await reach(s), { A: true, B: true });
	assert.equal((await s.getInfo()).allowInternetAccess, true);
	// A closed sandbox: an update replaces everything, so it stays closed only when the update
	// says so again; an update without allowInternetAccess opens the internet (as the spec says:
	// omitted fields are cleared).
	const c = await create({ allowInternetAccess: false });
	await c.updateNetwork({ allowInternetAccess: false, allowOut: [B] });
	assert.deepEqual(await reach(c), { A: false, B: true });
	await c.updateNetwork({ allowOut: [B] });
	assert.deepEqual(await reach(c), { A: true, B: true });
});

test('bad rules are answered 400 with a clear message; unknown sandbox 404', async () => {
	const cases = [
		[{ allowOut: ['example.com'] }, /domain names are not supported/],
		[{ allowOut: ['*.example.com'] }, /domain names are not supported/],
		[{ denyOut: ['2001:db8::/32'] }, /IPv6 is not supported/],
		[{ denyOut: ['10.0.0.0/33'] }, /not an IPv4 address or CIDR/],
		[{ denyOut: ['10.0.0'] }, /not an IPv4 address or CIDR/],
		[{ denyOut: 'x' }, /must be an array/],
		[{ maskRequestHost: 'a b' }, /maskRequestHost' must be a host\[:port\]/],
		[{ httpsPorts: [443] }, /httpsPorts' is not supported/],
		[{ egressProxy: { address: 'proxy:1080' } }, /egressProxy' is not supported/],
	];
	for (const [network, re] of cases) {
		const r = await request(w, { method: 'POST', path: '/v2/sandboxes', body: { templateID: 'base', network } });
		assert.equal(r.status, 400, `${JSON.stringify(network)}: ${r.body}`);
		assert.equal(r.json.code, 400);
		assert.match(r.json.message, re, JSON.stringify(network));
	}
	// The SDK surfaces the same answer.
	await assert.rejects(() => Sandbox.create({ network: { allowOut: ['example.com'] } }), /domain names are not supported/);
	const s = await create({});
	for (const [body, re] of [
		[{ allowOut: ['example.com'] }, /domain names are not supported/],
		[{ allow_internet_access: 'no' }, /must be a boolean/],
	]) {
		const r = await request(w, { method: 'PUT', path: `/sandboxes/${s.sandboxId}/network`, body });
		assert.equal(r.status, 400, r.body.toString());
		assert.match(r.json.message, re);
	}
	const r = await request(w, { method: 'PUT', path: '/sandboxes/nosuchsandbox/network', body: {} });
	assert.equal(r.status, 404);
	assert.equal(r.json.code, 404);
	// Nothing changed for the sandbox.
	assert.deepEqual(await reach(s), { A: true, B: true });
});

test('rules survive kill -9 and a restart of warrend (the firewall and the store keep them)', async () => {
	const s = await create({ network: { denyOut: [B] } });
	const closed = await create({ allowInternetAccess: false, network: { allowOut: [A] } });
	assert.deepEqual(await reach(s), { A: true, B: false });
	await w.kill9();
	await w.restart();
	const again = await Sandbox.connect(s.sandboxId);
	assert.deepEqual(await reach(again), { A: true, B: false });
	assert.deepEqual((await again.getInfo()).network?.denyOut, [`${B}/32`]);
	assert.deepEqual(await reach(await Sandbox.connect(closed.sandboxId)), { A: true, B: false });
	// And they can still be changed.
	await again.updateNetwork({});
	assert.deepEqual(await reach(again), { A: true, B: true });
});

test('a killed sandbox leaves no egress chain or map element behind', async () => {
	const s = await create({ network: { denyOut: [B] } });
	assert.deepEqual(await reach(s), { A: true, B: false });
	const chains = () => (nft('list', 'table', 'inet', w.bridge).stdout || '').match(/chain e[0-9a-f]{8}/g) || [];
	const elements = () => (nft('list', 'map', 'inet', w.bridge, 'egress').stdout || '').match(/jump e[0-9a-f]{8}/g) || [];
	assert.ok(chains().length >= 1, 'no egress chain while the sandbox runs');
	for (const x of made) await x.kill().catch(() => {});
	made.length = 0;
	const clean = await waitFor(() => chains().length === 0 && elements().length === 0, { timeoutMs: 20000 });
	assert.ok(clean, `left: ${chains()} ${elements()}`);
});
