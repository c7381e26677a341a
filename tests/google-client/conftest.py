"""Session fixture: a real authtrail server seeded with demo data and hand-made activities.

The server is the binary named by $AUTHTRAIL_BIN (run.sh sets it). The fixture

1. makes a temporary data directory and runs `authtrail demo --events 3000 --seed 42` into it;
2. creates three tokens for the default tenant `Cdefault`: read, read+ingest and ingest-only;
3. starts `authtrail serve --listen 127.0.0.1:0` (plus `--google-prefix P` when
   $AUTHTRAIL_GOOGLE_PREFIX is set) and reads the port from the `authtrail listening on
   http://HOST:PORT` line it logs on stderr;
4. ingests a few hand-made activities with known content through `POST /v1/activities`;
5. yields a `Server` with the base URL, the tokens and the hand-made activities' receipts, and
   stops the server at the end of the session.

Everything the tests know about the hand-made activities is in `HANDMADE` below.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

DEMO_EVENTS = 3000
DEMO_SEED = 42
TENANT = "Cdefault"

# The hand-made user: an e-mail with `+`, and a profile id the demo never makes (demo ids are
# "1" followed by 20 digits; this one has 19 digits after the "9").
PLUS_EMAIL = "a+b@example.com"
PLUS_PROFILE_ID = "90000000000000000042"
# A second user whose e-mail holds both `+` and `/` (the client sends them as %2B and %2F).
SLASH_EMAIL = "x+y/z@example.com"
# An IPv6 actor address. The demo's IPv6 addresses are 2001:db8:N::M with N >= 1, so a zero third
# group can never collide with them. Ingested in a non-canonical spelling; stored canonical.
IPV6_INGESTED = "2001:0db8:0000:00ab:0:0:0:0042"
IPV6_CANONICAL = "2001:db8:0:ab::42"
IPV4_HANDMADE = "203.0.113.77"


def _utc(t: dt.datetime) -> str:
    """RFC 3339 in UTC with millisecond precision (Google's own style)."""
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _handmade(base: dt.datetime) -> dict[str, dict]:
    """The hand-made activities, keyed by a short name, at fixed offsets from `base`.

    Times carry distinct millisecond fractions so that window tests can cut between them.
    """
    t = {
        "success_mfa": base - dt.timedelta(minutes=40) + dt.timedelta(milliseconds=125),
        "success_suspicious": base - dt.timedelta(minutes=30) + dt.timedelta(milliseconds=250),
        "suspicious_login": base - dt.timedelta(minutes=20) + dt.timedelta(milliseconds=375),
        "failure": base - dt.timedelta(minutes=10) + dt.timedelta(milliseconds=500),
        "logto_refresh": base - dt.timedelta(minutes=5) + dt.timedelta(milliseconds=625),
        "slash_user": base - dt.timedelta(minutes=1) + dt.timedelta(milliseconds=750),
    }
    # login_timestamp of the warning: the blocked login's time in microseconds since the epoch.
    login_ts_us = int((t["suspicious_login"] - dt.timedelta(seconds=61)).timestamp()) * 1_000_000 + 123_456
    plus_actor = {"email": PLUS_EMAIL, "profileId": PLUS_PROFILE_ID, "callerType": "USER"}
    acts = {
        "success_mfa": {
            "eventId": "gclient-success-mfa",
            "id": {"applicationName": "login", "time": _utc(t["success_mfa"])},
            "actor": plus_actor,
            "ipAddress": IPV4_HANDMADE,
            "events": [{"name": "login_success", "parameters": [
                {"name": "login_type", "value": "google_password"},
                {"name": "login_challenge_method", "multiValue": ["password", "security_key"]},
                {"name": "is_suspicious", "boolValue": False},
            ]}],
        },
        "success_suspicious": {
            "eventId": "gclient-success-suspicious",
            "id": {"applicationName": "login", "time": _utc(t["success_suspicious"])},
            "actor": plus_actor,
            "ipAddress": IPV6_INGESTED,
            "events": [{"name": "login_success", "parameters": [
                {"name": "login_type", "value": "saml"},
                {"name": "login_challenge_method", "multiValue": ["password"]},
                {"name": "is_suspicious", "boolValue": True},
            ]}],
        },
        "suspicious_login": {
            "eventId": "gclient-suspicious-login",
            "id": {"applicationName": "login", "time": _utc(t["suspicious_login"])},
            "actor": plus_actor,
            "ipAddress": "198.51.100.250",
            "events": [{"name": "suspicious_login", "parameters": [
                {"name": "affected_email_address", "value": PLUS_EMAIL},
                {"name": "login_timestamp", "intValue": str(login_ts_us)},
            ]}],
        },
        "failure": {
            "eventId": "gclient-failure",
            "id": {"applicationName": "login", "time": _utc(t["failure"])},
            "actor": plus_actor,
            "ipAddress": IPV4_HANDMADE,
            "events": [{"name": "login_failure", "parameters": [
                {"name": "login_type", "value": "google_password"},
                {"name": "login_challenge_method", "multiValue": ["password"]},
                {"name": "login_failure_type", "value": "login_failure_invalid_password"},
            ]}],
        },
        "logto_refresh": {
            "eventId": "gclient-logto-refresh",
            "id": {"applicationName": "logto", "time": _utc(t["logto_refresh"])},
            "actor": {"email": PLUS_EMAIL, "callerType": "USER"},
            "ipAddress": IPV4_HANDMADE,
            "events": [{"name": "ExchangeTokenBy.RefreshToken", "parameters": [
                {"name": "scope", "value": "openid profile offline_access"},
            ]}],
        },
        "slash_user": {
            "eventId": "gclient-slash-user",
            "id": {"applicationName": "login", "time": _utc(t["slash_user"])},
            "actor": {"email": SLASH_EMAIL, "callerType": "USER"},
            "ipAddress": "198.51.100.251",
            "events": [{"name": "logout", "parameters": [
                {"name": "login_type", "value": "google_password"},
            ]}],
        },
    }
    return {k: {"activity": a, "time": t[k], "login_timestamp_us": login_ts_us} for k, a in acts.items()}


@dataclasses.dataclass
class Server:
    base: str  # http://127.0.0.1:PORT (no trailing slash)
    read_token: str
    read_ingest_token: str
    ingest_token: str
    # name -> {"activity", "time" (aware datetime), "uniqueQualifier" (str), ...}
    handmade: dict
    # An RFC 3339 end time after every seeded activity, before anything a test ingests later.
    seeded_end: str
    google_prefix: str | None
    data_dir: Path
    log_path: Path

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def ingest(self, activities: list, token: str | None = None) -> list:
        """POSTs activities to the native ingest endpoint; returns the receipts."""
        req = urllib.request.Request(
            self.base + "/v1/activities",
            data=json.dumps(activities).encode(),
            method="POST",
            headers={
                "Authorization": "Bearer " + (token or self.read_ingest_token),
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise AssertionError(f"ingest failed: {e.code} {e.read()[:2000]!r}") from None
        return body["receipts"]


def _bin() -> Path:
    b = os.environ.get("AUTHTRAIL_BIN")
    if not b:
        b = str(Path(__file__).resolve().parents[2] / "target" / "debug" / "authtrail")
    p = Path(b).resolve()
    if not p.is_file():
        pytest.exit(f"no authtrail binary at {p} (cargo build -p authtrail, or set AUTHTRAIL_BIN)", returncode=2)
    return p


def _run(args: list, **kw) -> str:
    r = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} exited {r.returncode}:\n{r.stderr[-4000:]}")
    return r.stdout


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LISTENING = re.compile(r"authtrail listening on (http://[0-9A-Za-z.:\[\]]+)")


def _wait_for_listen_line(proc: subprocess.Popen, log_path: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = _ANSI.sub("", log_path.read_text(errors="replace"))
        m = _LISTENING.search(text)
        if m:
            return m.group(1).rstrip("/")
        if proc.poll() is not None:
            raise RuntimeError(f"authtrail serve exited with {proc.returncode} before listening:\n{text[-4000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"authtrail serve did not log its address within {timeout} s:\n{log_path.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def server():
    binary = _bin()
    tmp = Path(tempfile.mkdtemp(prefix="authtrail-google-client-"))
    data = tmp / "data"
    log_path = tmp / "server.log"
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "info")
    # Flags below win over these, but keep the environment from pointing anywhere else.
    for k in ("AUTHTRAIL_DATA", "AUTHTRAIL_LISTEN", "AUTHTRAIL_CATALOG"):
        env.pop(k, None)
    proc = None
    log = None
    try:
        _run([binary, "demo", "--data", data, "--events", str(DEMO_EVENTS), "--seed", str(DEMO_SEED)], env=env)

        def token(scopes: str) -> str:
            out = _run([binary, "token", "create", "--data", data, "--tenant", TENANT, "--scopes", scopes], env=env)
            return out.strip()

        read_token = token("read")
        read_ingest_token = token("read,ingest")
        ingest_token = token("ingest")

        prefix = os.environ.get("AUTHTRAIL_GOOGLE_PREFIX") or None
        # Private destinations: the watch-channel test receives on loopback.
        args = [binary, "serve", "--data", data, "--listen", "127.0.0.1:0", "--allow-private-destinations"]
        if prefix:
            args += ["--google-prefix", prefix]
        log = open(log_path, "wb")
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL, env=env)
        base = _wait_for_listen_line(proc, log_path)

        # Hand-made activities, three hours back so that every window test has room around them.
        anchor = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=3)
        handmade = _handmade(anchor)
        srv = Server(
            base=base,
            read_token=read_token,
            read_ingest_token=read_ingest_token,
            ingest_token=ingest_token,
            handmade=handmade,
            seeded_end="",
            google_prefix=prefix,
            data_dir=data,
            log_path=log_path,
        )
        names = list(handmade)
        receipts = srv.ingest([handmade[n]["activity"] for n in names])
        assert len(receipts) == len(names), receipts
        for n, r in zip(names, receipts):
            handmade[n]["uniqueQualifier"] = str(r["uniqueQualifier"])
        # Everything seeded so far is older than this; activities that tests ingest later are not.
        time.sleep(0.01)
        srv.seeded_end = _utc(dt.datetime.now(dt.timezone.utc))
        time.sleep(0.01)
        yield srv
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        if log is not None:
            log.close()
        if os.environ.get("AUTHTRAIL_KEEP_DATA"):
            print(f"\nauthtrail data and server log kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def build_client(base_url: str, token: str):
    """Google's official client, offline: the bundled discovery document and a bare bearer token."""
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    return build(
        "admin",
        "reports_v1",
        credentials=Credentials(token=token),
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": base_url},
    )


@pytest.fixture(scope="session")
def reports(server):
    """The client with a read token, pointed at the server's root."""
    return build_client(server.base + "/", server.read_token).activities()
