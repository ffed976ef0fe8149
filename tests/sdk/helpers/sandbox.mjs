// Helpers that run code inside a sandbox through the SDK.

// Runs a Python script inside the sandbox (passed base64-encoded, so no quoting issues).
// Resolves the SDK's CommandResult; a non-zero exit is returned, not thrown.
export async function py(sbx, script, { args = [], ...opts } = {}) {
	const b64 = Buffer.from(script).toString('base64');
	const a = args.map((x) => `'${String(x).replace(/'/g, `'\\''`)}'`).join(' ');
	return runAllowFail(sbx, `echo ${b64} | base64 -d > /tmp/.t$$.py && python3 /tmp/.t$$.py ${a}; rc=$?; rm -f /tmp/.t$$.py; exit $rc`, opts);
}

// commands.run that returns the result for any exit code instead of throwing CommandExitError.
export async function runAllowFail(sbx, cmd, opts = {}) {
	try {
		return await sbx.commands.run(cmd, opts);
	} catch (e) {
		if (e && typeof e.exitCode === 'number' && 'stdout' in e) {
			return { exitCode: e.exitCode, stdout: e.stdout, stderr: e.stderr, error: e.error };
		}
		throw e;
	}
}

// The sandbox's own IPv4 addresses (not loopback) and its default gateway, read from /proc
// (no packet is sent).
export const ADDR_SCRIPT = `
import json, socket, struct
addrs = []
lines = open('/proc/net/fib_trie').read().split('\\n')
for i, l in enumerate(lines):
    if '/32 host LOCAL' in l:
        a = lines[i - 1].split()[-1]
        if not a.startswith('127.') and a not in addrs:
            addrs.append(a)
gw = None
for l in open('/proc/net/route').read().split('\\n')[1:]:
    f = l.split()
    if len(f) > 2 and f[1] == '00000000':
        gw = socket.inet_ntoa(struct.pack('<I', int(f[2], 16)))
print(json.dumps({'addrs': addrs, 'gateway': gw}))
`;

export async function sandboxAddrs(sbx) {
	const r = await py(sbx, ADDR_SCRIPT);
	if (r.exitCode !== 0) throw new Error(`address probe failed: ${r.stderr}`);
	return JSON.parse(r.stdout);
}

// Tries TCP connections to each host:port with a timeout, in parallel. Prints JSON
// {"host:port": "ok" | "<error>"}.
export const CONNECT_SCRIPT = `
import json, socket, sys, threading
res = {}
def probe(t):
    h, p = t.rsplit(':', 1)
    try:
        s = socket.create_connection((h, int(p)), timeout=float(sys.argv[1]))
        s.close()
        res[t] = 'ok'
    except Exception as e:
        res[t] = type(e).__name__ + ': ' + str(e)
ts = [threading.Thread(target=probe, args=(t,)) for t in sys.argv[2:]]
[t.start() for t in ts]
[t.join() for t in ts]
print(json.dumps(res))
`;

export async function probeConnect(sbx, targets, timeoutS = 1, opts = {}) {
	if (targets.length === 0) return {};
	const r = await py(sbx, CONNECT_SCRIPT, { args: [timeoutS, ...targets], ...opts });
	if (r.exitCode !== 0) throw new Error(`connect probe failed: ${r.stderr}`);
	return JSON.parse(r.stdout);
}
