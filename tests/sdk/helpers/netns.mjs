// "The outside" of the network tests: a network namespace this test run makes, joined to the
// host by a veth pair, with python's HTTP server inside. No packet goes anywhere else.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';

import { waitFor } from './warrend.mjs';

export function ip(...args) {
	const r = spawnSync('ip', args, { encoding: 'utf8' });
	if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
	return r.stdout;
}

// The same, for cleanups that may find nothing to remove.
export function tryIp(...args) {
	spawnSync('ip', args, { stdio: 'ignore' });
}

// Whether a TCP connection to host:port opens within timeoutMs.
export function tcpOpen(host, port, timeoutMs = 500) {
	return new Promise((resolve) => {
		const s = net.connect({ host, port });
		const t = setTimeout(() => {
			s.destroy();
			resolve(false);
		}, timeoutMs);
		s.on('connect', () => {
			clearTimeout(t);
			s.destroy();
			resolve(true);
		});
		s.on('error', () => {
			clearTimeout(t);
			resolve(false);
		});
	});
}

/*
 * Makes namespace `ns` with the veth pair vethHost (on the host, hostCidr) / vethNs (in the
 * namespace, every address of nsCidrs), checks that the host routes to it, and serves `cwd`
 * with `python3 -m http.server` on bind:port inside until every address of nsCidrs answers.
 * Returns { stop, log }: stop() ends the server and removes the namespace and the pair, log()
 * is what the server printed so far (one line per request).
 */
export async function startServerNs({ ns, vethHost, vethNs, hostCidr, nsCidrs, bind, port, cwd }) {
	const addrs = nsCidrs.map((c) => c.split('/')[0]);
	let log = '';
	ip('netns', 'add', ns);
	ip('link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs);
	ip('link', 'set', vethNs, 'netns', ns);
	ip('addr', 'add', hostCidr, 'dev', vethHost);
	ip('link', 'set', vethHost, 'up');
	for (const c of nsCidrs) ip('-n', ns, 'addr', 'add', c, 'dev', vethNs);
	ip('-n', ns, 'link', 'set', vethNs, 'up');
	ip('-n', ns, 'link', 'set', 'lo', 'up');
	// The host reaches the namespace over its connected route; make sure it is there.
	assert.match(ip('-4', 'route', 'get', addrs[0]), new RegExp(`dev ${vethHost}\\b`));
	const server = spawn('ip', ['netns', 'exec', ns, 'python3', '-m', 'http.server', '--bind', bind, String(port)], {
		cwd,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	server.stdout.on('data', (d) => (log += d));
	server.stderr.on('data', (d) => (log += d));
	const stop = async () => {
		if (server.exitCode === null && server.signalCode === null) {
			const gone = new Promise((r) => server.on('exit', r));
			server.kill('SIGTERM');
			const t = setTimeout(() => server.kill('SIGKILL'), 3000);
			await gone;
			clearTimeout(t);
		}
		tryIp('netns', 'del', ns);
		tryIp('link', 'del', vethHost);
	};
	const up = await waitFor(async () => {
		for (const a of addrs) if (!(await tcpOpen(a, port))) return false;
		return true;
	}, { timeoutMs: 15000 });
	if (!up) {
		await stop();
		assert.fail(`the test's HTTP server in ${ns} did not come up: ${log}`);
	}
	return { stop, log: () => log };
}
