#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs commands in a live sandbox through its agent (process.Process/Start,
Connect JSON), as `rt-smoke --agent <warren-agent> --exec tests/integration/rt-exec.py`
does: checks that user processes see the environment the runtime promises
(ids, home, tools from /usr, pty-less shell). Reads SANDBOX_ADDR/SANDBOX_ID."""
import base64, http.client, json, os, struct, sys

addr, sid = os.environ["SANDBOX_ADDR"], os.environ["SANDBOX_ID"]
failures = 0


def run(cmd, user):
    body = json.dumps({"process": {"cmd": "/bin/bash", "args": ["-l", "-c", cmd]}, "stdin": False}).encode()
    conn = http.client.HTTPConnection(addr, 49983, timeout=30)
    conn.request("POST", "/process.Process/Start", struct.pack(">BI", 0, len(body)) + body, {
        "Content-Type": "application/connect+json", "Connect-Protocol-Version": "1",
        "Authorization": "Basic " + base64.b64encode((user + ":").encode()).decode()})
    resp = conn.getresponse()
    data = resp.read()
    out, end = b"", None
    while len(data) >= 5:
        flags, n = struct.unpack(">BI", data[:5])
        msg = json.loads(data[5:5 + n] or b"{}")
        data = data[5 + n:]
        ev = msg.get("event", {})
        if "data" in ev:
            out += base64.b64decode(ev["data"].get("stdout", "") or ev["data"].get("stderr", ""))
        if "end" in ev:
            end = ev["end"]
    return resp.status, out.decode(errors="replace"), end


def check(name, cond, detail):
    global failures
    print(("ok    " if cond else "FAIL  ") + name + ("" if cond else f" ({detail!r})"))
    failures += 0 if cond else 1


st, out, end = run("id -u; id -g; echo $HOME; hostname; pwd", "user")
check("user: uid/gid 1000, HOME, hostname", st == 200 and out.split() == ["1000", "1000", "/home/user", sid, "/home/user"], (st, out, end))
st, out, end = run("id -u; touch /root/x && echo wrote; ls -ld /root | cut -c1-10", "root")
check("root: uid 0, /root writable", out.split() == ["0", "wrote", "drwx------"], (st, out, end))
st, out, end = run("python3 -c 'print(6*7)'; node -e 'console.log(6*7)'; git --version | cut -d' ' -f1", "user")
check("python3, node, git", out.split() == ["42", "42", "git"], (st, out, end))
st, out, end = run("echo hi > ~/f && cat ~/f && echo t > /tmp/t && cat /tmp/t", "user")
check("home and /tmp writable by user", out.split() == ["hi", "t"], (st, out, end))
st, out, end = run("touch /usr/x 2>&1; cat /etc/shadow >/dev/null 2>&1 && echo readable", "user")
check("/usr read-only for user", "Read-only file system" in out or "Permission denied" in out, (st, out, end))
st, out, end = run("exit 3", "user")
check("exit status propagates", end is not None and end.get("exitCode") == 3, end)
sys.exit(1 if failures else 0)
