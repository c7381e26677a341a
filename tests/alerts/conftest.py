"""Fixtures: a real SMTP server (aiosmtpd), a chat-webhook receiver and a real authtrail server.

- `smtp`: aiosmtpd on a free loopback port, in this process. Every message it accepts is kept
  (parsed with the standard library's `email` package, as a mail client would read it). It can
  be stopped and started again on the same port, to play an SMTP outage.
- `chat`: an HTTP server on loopback keeping each JSON body posted to it, by path.
- `server`: `authtrail serve` (the binary named by $AUTHTRAIL_BIN) on a fresh data directory (or,
  when $AUTHTRAIL_ALERTS_STORE names a PostgreSQL URL, on that store, with a sealing key file), with
  `--smtp-url smtp://127.0.0.1:PORT?tls=none --alert-from ... --public-url ...` and
  `--allow-private-destinations` (the chat receiver is on loopback), and an admin token.

Tests share one server; each uses its own actors, addresses and recipients so that their rules
and alerts cannot see one another.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

TENANT = "Cdefault"
PUBLIC_URL = "https://audit.example.com"


def utc(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Mail:
    rcpt: list[str]
    raw: bytes
    msg: email.message.EmailMessage
    # time.monotonic() when the server accepted it.
    received: float = 0.0

    @property
    def subject(self) -> str:
        return str(self.msg["Subject"])

    def part(self, ctype: str) -> str:
        p = self.msg.get_body(preferencelist=(ctype.split("/")[1],))
        assert p is not None and p.get_content_type() == ctype, f"no {ctype} part"
        return p.get_content()


class _Handler:
    def __init__(self, box: "Smtp"):
        self.box = box

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.box.lock:
            self.box.mails.append(Mail(list(envelope.rcpt_tos), envelope.content, msg, time.monotonic()))
        return "250 OK"


class Smtp:
    def __init__(self):
        self.port = free_port()
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def start(self):
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, rcpt: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if rcpt in m.rcpt]

    def wait(self, rcpt: str, n: int, timeout: float = 30.0) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.to(rcpt)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{rcpt}: {len(self.to(rcpt))} mails within {timeout} s, expected {n}")


class Chat:
    def __init__(self):
        self.bodies: dict[str, list] = {}
        # Paths that answer 500 (and keep nothing) while listed here.
        self.failing: set[str] = set()
        self.refused = 0
        self.lock = threading.Lock()
        chat = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                with chat.lock:
                    fail = self.path in chat.failing
                    if fail:
                        chat.refused += 1
                    else:
                        chat.bodies.setdefault(self.path, []).append(body)
                self.send_response(500 if fail else 200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, path: str, n: int, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = list(self.bodies.get(path, []))
            if len(got) >= n:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: fewer than {n} chat messages within {timeout} s")


@dataclasses.dataclass
class Server:
    base: str
    token: str
    log_path: Path

    def request(self, method: str, path: str, body=None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else None)

    def ingest(self, activities: list) -> list[int]:
        s, b = self.request("POST", "/v1/activities", activities)
        assert s == 200, b
        return [int(r["uniqueQualifier"]) for r in b["receipts"]]

    def rule(self, body: dict) -> dict:
        s, b = self.request("POST", "/v1/alert-rules", body)
        assert s == 201, b
        return b


def login(actor: str, name: str = "login_failure", ip: str = "192.0.2.1", when: dt.datetime | None = None,
          params: list | None = None, result: str | None = None) -> dict:
    a = {
        "id": {"applicationName": "login", "time": utc(when or dt.datetime.now(dt.timezone.utc))},
        "actor": {"email": actor, "callerType": "USER"},
        "ipAddress": ip,
        "events": [{"name": name, "parameters": params or []}],
    }
    if result:
        a["result"] = result
    return a


def _run(args: list, **kw) -> str:
    r = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} exited {r.returncode}:\n{r.stderr[-4000:]}")
    return r.stdout


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LISTENING = re.compile(r"authtrail listening on (http://[0-9A-Za-z.:\[\]]+)")


@pytest.fixture(scope="session")
def smtp():
    s = Smtp()
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def chat():
    c = Chat()
    yield c
    c.httpd.shutdown()


@pytest.fixture(scope="session")
def server(smtp):
    binary = Path(os.environ["AUTHTRAIL_BIN"])
    tmp = Path(tempfile.mkdtemp(prefix="authtrail-alerts-"))
    data = tmp / "data"
    log_path = tmp / "server.log"
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "info")
    for k in [k for k in env if k.startswith("AUTHTRAIL_") and k != "AUTHTRAIL_BIN"]:
        env.pop(k)
    proc = None
    log = None
    try:
        where = ["--data", str(data)]
        store = os.environ.get("AUTHTRAIL_ALERTS_STORE")
        if store:
            # A PostgreSQL store keeps its secrets sealed with a key file that every command and
            # every server started on it shares: one key per store URL.
            key = tmp / "sealing.key"
            key.write_text(hashlib.sha256(store.encode()).hexdigest() + "\n")
            key.chmod(0o600)
            where = ["--store", store, "--sealing-key-file", str(key)]
        token = _run([binary, "token", "create", *where, "--tenant", TENANT,
                      "--scopes", "ingest,read,admin"], env=env).strip()
        args = [binary, "serve", *where, "--listen", "127.0.0.1:0", "--allow-private-destinations",
                "--smtp-url", f"smtp://127.0.0.1:{smtp.port}?tls=none",
                "--alert-from", "authtrail <alerts@example.com>", "--public-url", PUBLIC_URL]
        log = open(log_path, "wb")
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        base = None
        while time.monotonic() < deadline and base is None:
            m = _LISTENING.search(_ANSI.sub("", log_path.read_text(errors="replace")))
            if m:
                base = m.group(1)
            elif proc.poll() is not None:
                raise RuntimeError(f"authtrail serve exited:\n{log_path.read_text()[-4000:]}")
            else:
                time.sleep(0.05)
        assert base, "authtrail serve did not log its address"
        yield Server(base=base, token=token, log_path=log_path)
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if log is not None:
            log.close()
        if os.environ.get("AUTHTRAIL_KEEP_DATA"):
            print(f"\nauthtrail data and server log kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
