// warrend's own Prometheus metrics on GET /metrics: the text exposition format 0.0.4 parsed
// strictly, counts that move with creates, failures and kills, cumulative histogram buckets.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { request } from './helpers/raw.mjs';
import { startWarrend } from './helpers/warrend.mjs';

let w, Sandbox;
const made = [];
before(async () => {
	// No pool (every create is cold and counted as such) and a cap of 3 to provoke a failure.
	w = await startWarrend({ env: { WARREN_POOL_SIZE: '0', WARREN_MAX_SANDBOXES: '3' } });
	({ Sandbox } = await import('e2b'));
});
after(async () => {
	for (const s of made) await s.kill().catch(() => {});
	await w?.stop();
});

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const VALUE = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;

// Parses label text `a="x",b="y"` strictly (escapes \\ \" \n); returns an object.
function parseLabels(s, line) {
	const out = {};
	let i = 0;
	while (i < s.length) {
		const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
		assert.ok(m, `label name at ${i} in: ${line}`);
		i += m[0].length;
		let v = '';
		for (;;) {
			assert.ok(i < s.length, `unterminated label value in: ${line}`);
			const c = s[i++];
			if (c === '"') break;
			if (c === '\\') {
				const e = s[i++];
				assert.ok(e === '\\' || e === '"' || e === 'n', `bad escape in: ${line}`);
				v += e === 'n' ? '\n' : e;
			} else {
				assert.notEqual(c, '\n');
				v += c;
			}
		}
		assert.ok(!(m[1] in out), `duplicate label in: ${line}`);
		out[m[1]] = v;
		if (i < s.length) {
			assert.equal(s[i], ',', `',' expected in: ${line}`);
			i++;
		}
	}
	return out;
}

// Parses an exposition; every sample belongs to a family declared by a TYPE line before it,
// families are contiguous, and histograms are checked for cumulative buckets.
function parseExposition(text) {
	assert.ok(text.endsWith('\n'), 'ends with a newline');
	const fams = new Map();
	let cur = null;
	const seenDone = new Set();
	for (const line of text.slice(0, -1).split('\n')) {
		if (line.startsWith('# HELP ')) {
			const m = /^# HELP ([^ ]+) (.*)$/.exec(line);
			assert.ok(m && NAME.test(m[1]), line);
			continue;
		}
		if (line.startsWith('# TYPE ')) {
			const m = /^# TYPE ([^ ]+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
			assert.ok(m && NAME.test(m[1]), line);
			assert.ok(!fams.has(m[1]), `TYPE twice for ${m[1]}`);
			if (cur) seenDone.add(cur.name);
			cur = { name: m[1], type: m[2], samples: [] };
			fams.set(m[1], cur);
			continue;
		}
		assert.ok(!line.startsWith('#') && line.trim() === line && line !== '', `unexpected line: '${line}'`);
		const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
		assert.ok(m, `sample line: ${line}`);
		assert.ok(VALUE.test(m[3]), `value in: ${line}`);
		assert.ok(cur, `sample before any TYPE: ${line}`);
		const base = cur.type === 'histogram' ? m[1].replace(/_(bucket|sum|count)$/, '') : m[1];
		assert.equal(base, cur.name, `sample ${m[1]} outside its family`);
		cur.samples.push({ name: m[1], labels: parseLabels(m[2] || '', line), value: Number(m[3]) });
	}
	for (const f of fams.values()) if (f.type === 'histogram') checkHistogram(f);
	return fams;
}

function checkHistogram(f) {
	const series = new Map();
	for (const s of f.samples) {
		const { le, ...rest } = s.labels;
		const key = JSON.stringify(rest);
		if (!series.has(key)) series.set(key, { buckets: [], sum: null, count: null });
		const x = series.get(key);
		if (s.name.endsWith('_bucket')) {
			assert.ok(le !== undefined, `bucket without le in ${f.name}`);
			x.buckets.push({ le: le === '+Inf' ? Infinity : Number(le), v: s.value });
		} else if (s.name.endsWith('_sum')) x.sum = s.value;
		else x.count = s.value;
	}
	for (const [key, x] of series) {
		assert.ok(x.buckets.length >= 2, `${f.name}${key}: buckets`);
		assert.equal(x.buckets.at(-1).le, Infinity, `${f.name}${key}: ends with +Inf`);
		for (let i = 1; i < x.buckets.length; i++) {
			assert.ok(x.buckets[i].le > x.buckets[i - 1].le, `${f.name}${key}: le ascending`);
			assert.ok(x.buckets[i].v >= x.buckets[i - 1].v, `${f.name}${key}: cumulative`);
		}
		assert.equal(x.count, x.buckets.at(-1).v, `${f.name}${key}: _count = +Inf bucket`);
		assert.ok(x.sum !== null && x.sum >= 0, `${f.name}${key}: _sum`);
	}
}

async function scrape(headers) {
	const r = await request(w, { path: '/metrics', headers, auth: !headers });
	assert.equal(r.status, 200, r.body.toString());
	assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
	return parseExposition(r.body.toString('utf8'));
}

function value(fams, name, labels = {}) {
	const fam = fams.get(name.replace(/_(bucket|sum|count)$/, '')) || fams.get(name);
	assert.ok(fam, `family ${name}`);
	const s = fam.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
	assert.ok(s, `${name} ${JSON.stringify(labels)}`);
	return s.value;
}

test('GET /metrics needs the API key, as X-API-KEY or a bearer token', async () => {
	const none = await request(w, { path: '/metrics', auth: false });
	assert.equal(none.status, 401);
	const wrong = await request(w, { path: '/metrics', auth: false, headers: { Authorization: 'Bearer e2b_' + '0'.repeat(40) } });
	assert.equal(wrong.status, 401);
	const fams = await scrape({ Authorization: `Bearer ${w.apiKey}` });
	for (const n of ['warren_sandboxes', 'warren_sandbox_creates_total', 'warren_sandbox_create_failures_total', 'warren_sandbox_create_seconds', 'warren_http_request_duration_seconds', 'warren_pool_sandboxes', 'warren_pool_target', 'warren_sandboxes_max'])
		assert.ok(fams.has(n), n);
	assert.equal(fams.get('warren_sandbox_create_seconds').type, 'histogram');
	assert.equal(fams.get('warren_sandbox_creates_total').type, 'counter');
	assert.equal(value(fams, 'warren_pool_target'), 0);
	assert.equal(value(fams, 'warren_sandboxes_max'), 3);
	const le = fams.get('warren_sandbox_create_seconds').samples.filter((s) => s.name.endsWith('_bucket'))[0].labels.le;
	assert.equal(le, '0.001', 'buckets start at 1 ms');
});

test('creates, failures, kills and latencies move the counts', async () => {
	const f0 = await scrape();
	const running0 = value(f0, 'warren_sandboxes', { state: 'running' });
	const cold0 = value(f0, 'warren_sandbox_creates_total', { source: 'cold' });
	const hist0 = value(f0, 'warren_sandbox_create_seconds_count');
	const fail0 = value(f0, 'warren_sandbox_create_failures_total', { reason: 'capacity' });
	const lists0 = value(f0, 'warren_http_request_duration_seconds_count', { route: 'list' });

	for (let i = 0; i < 3; i++) made.push(await Sandbox.create({ timeoutMs: 120_000 }));
	// The cap is 3: the fourth is refused (429) and counted as a capacity failure.
	const refused = await request(w, { method: 'POST', path: '/v2/sandboxes', body: { templateID: 'base' } });
	assert.equal(refused.status, 429);
	await Sandbox.list().nextItems();

	const f1 = await scrape();
	assert.equal(value(f1, 'warren_sandboxes', { state: 'running' }), running0 + 3);
	assert.equal(value(f1, 'warren_sandboxes', { state: 'paused' }), 0);
	assert.equal(value(f1, 'warren_sandbox_creates_total', { source: 'cold' }), cold0 + 3);
	assert.equal(value(f1, 'warren_sandbox_create_seconds_count'), hist0 + 3);
	assert.ok(value(f1, 'warren_sandbox_create_seconds_sum') > value(f0, 'warren_sandbox_create_seconds_sum'));
	assert.equal(value(f1, 'warren_sandbox_create_failures_total', { reason: 'capacity' }), fail0 + 1);
	assert.equal(value(f1, 'warren_sandbox_create_failures_total', { reason: 'error' }), 0);
	assert.ok(value(f1, 'warren_http_request_duration_seconds_count', { route: 'list' }) >= lists0 + 1);
	assert.ok(value(f1, 'warren_http_request_duration_seconds_count', { route: 'create' }) >= 4);

	await made.pop().kill();
	const f2 = await scrape();
	assert.equal(value(f2, 'warren_sandboxes', { state: 'running' }), running0 + 2);
	assert.ok(value(f2, 'warren_http_request_duration_seconds_count', { route: 'kill' }) >= 1);
	// Counters never go down.
	assert.equal(value(f2, 'warren_sandbox_creates_total', { source: 'cold' }), cold0 + 3);
});

test('a paused sandbox counts as paused, not running; metrics and logs stay readable and go on after resume', async () => {
	const s = await Sandbox.create({ timeoutMs: 120_000 });
	made.push(s);
	const f0 = await scrape();
	const running0 = value(f0, 'warren_sandboxes', { state: 'running' });
	const paused0 = value(f0, 'warren_sandboxes', { state: 'paused' });
	assert.equal(await s.pause(), true);
	const f1 = await scrape();
	assert.equal(value(f1, 'warren_sandboxes', { state: 'running' }), running0 - 1);
	assert.equal(value(f1, 'warren_sandboxes', { state: 'paused' }), paused0 + 1);
	const m = await request(w, { path: `/sandboxes/${s.sandboxId}/metrics` });
	assert.equal(m.status, 200);
	assert.ok(Array.isArray(m.json));
	const logs = await request(w, { path: `/v2/sandboxes/${s.sandboxId}/logs` });
	assert.equal(logs.status, 200);

	// Resumed (CRIU restores the agent's open log file): it logs on into the same file.
	const r = await Sandbox.connect(s.sandboxId);
	await r.commands.run('echo after-resume');
	const after = await request(w, { path: `/v2/sandboxes/${s.sandboxId}/logs?search=after-resume` });
	assert.equal(after.status, 200);
	assert.equal(after.json.logs.filter((e) => / started /.test(e.message)).length, 1, JSON.stringify(after.json));
	const all = await request(w, { path: `/v2/sandboxes/${s.sandboxId}/logs` });
	assert.ok(all.json.logs.length > logs.json.logs.length, 'lines before and after the pause in one log');
	const f2 = await scrape();
	assert.equal(value(f2, 'warren_sandboxes', { state: 'paused' }), paused0);
});
