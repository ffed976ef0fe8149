// The README's first example, end to end with the official SDK.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { startWarrend } from './helpers/warrend.mjs';

let w, Sandbox;
before(async () => {
	w = await startWarrend();
	({ Sandbox } = await import('e2b'));
});
after(async () => {
	await w?.stop();
});

test('create, run a command, kill, kill again', async () => {
	const sbx = await Sandbox.create();
	assert.match(sbx.sandboxId, /^[a-z0-9]+$/);
	const r = await sbx.commands.run('echo hello; echo oops >&2; id -un');
	assert.equal(r.stdout, 'hello\nuser\n');
	assert.equal(r.stderr, 'oops\n');
	assert.equal(r.exitCode, 0);
	assert.equal(await sbx.kill(), true);
	assert.equal(await sbx.kill(), false);
	assert.equal(await Sandbox.kill(sbx.sandboxId), false);
});
