#!/usr/bin/env python3
"""A flood of maximum-size ingest batches (issue #16): does the node's memory stay within the bound
SECURITY.md states, however many batches arrive at once?

    scripts/flood-batches.py [CONCURRENT] [ROUNDS]      (default 48 and 3)

Builds nothing: it runs the release binary at $AUTHTRAIL_BIN (default target/release/authtrail,
or under $CARGO_TARGET_DIR) on a fresh data directory, sends ROUNDS waves of CONCURRENT batches of
10,000 activities each just under 16 MiB, and prints the answers and the server's RSS before, at
its peak (VmHWM) and after. Batches over the node's body budget are shed with 503 while they
upload, which the client may see as a broken pipe.
"""
import http.client, json, os, subprocess, sys, tempfile, threading

conc = int(sys.argv[1]) if len(sys.argv) > 1 else 48
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
target = os.environ.get("CARGO_TARGET_DIR", "target")
binary = os.environ.get("AUTHTRAIL_BIN", os.path.join(target, "release", "authtrail"))
data = tempfile.mkdtemp(prefix="authtrail-flood-")
token = subprocess.run([binary, "token", "create", "--data", data, "--tenant", "Cflood", "--scopes", "ingest"],
                       capture_output=True, text=True, check=True).stdout.strip()
server = subprocess.Popen([binary, "serve", "--data", data, "--listen", "127.0.0.1:0",
                           "--per-ip-rps", "0", "--per-token-rps", "0"],
                          stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1", "RUST_LOG": "info"})
port = next(int(l.rsplit(":", 1)[1]) for l in server.stderr if "listening on http://" in l)


def status(field):
    for line in open(f"/proc/{server.pid}/status"):
        if line.startswith(field):
            return int(line.split()[1]) // 1024


def batch(k):
    pad = "x" * 1470
    return json.dumps([{"id": {"applicationName": "login"}, "eventId": f"flood-{k}-{i}",
                        "actor": {"email": "a@example.com"}, "userAgent": pad[: 1470 - i % 7],
                        "events": [{"name": "login_success"}]} for i in range(10_000)]).encode()


before = status("VmRSS")
bodies = [batch(k) for k in range(conc)]
answers = []


def send(body):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        c.request("POST", "/v1/activities", body=body,
                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        answers.append(str(r.status))
    except OSError as e:
        answers.append(type(e).__name__)


for _ in range(rounds):
    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
print(json.dumps({"batch_bytes": len(bodies[0]), "concurrent": conc, "rounds": rounds,
                  "answers": {a: answers.count(a) for a in sorted(set(answers))},
                  "rss_mib": {"before": before, "peak": status("VmHWM"), "after": status("VmRSS")}}))
server.terminate()
server.wait()
