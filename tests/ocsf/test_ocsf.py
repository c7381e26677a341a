"""authtrail's OCSF records, as an operator dumps them (`authtrail query --format ocsf`), checked
against the OCSF schema: demo data of every source, every record valid for its class."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import tempfile
import tomllib
from pathlib import Path

import pytest

from validate import Validator

BIN = os.environ["AUTHTRAIL_BIN"]
DEMO_EVENTS = 3000
CATALOG = Path(__file__).resolve().parents[2] / "catalog"


def authtrail(*args: str) -> str:
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def dumped():
    """(OCSF records, native activities) of a fresh data directory filled by `authtrail demo`."""
    with tempfile.TemporaryDirectory(prefix="authtrail-ocsf-") as data:
        authtrail("demo", "--data", data, "--events", str(DEMO_EVENTS), "--seed", "7")
        query = ["query", "--data", data, "--limit", str(DEMO_EVENTS * 2)]
        records = [json.loads(l) for l in authtrail(*query, "--format", "ocsf").splitlines() if l]
        native = [json.loads(l) for l in authtrail(*query).splitlines() if l]
    return records, native


def test_every_record_is_valid_for_its_class(dumped):
    records, native = dumped
    assert len(native) >= DEMO_EVENTS
    # One record per event.
    assert len(records) == sum(len(a["events"]) for a in native)
    v = Validator()
    invalid = []
    for r in records:
        for e in v.errors(r):
            invalid.append(f"{r['metadata'].get('uid')} ({r['metadata'].get('event_code')}): {e}")
    assert not invalid, f"{len(invalid)} schema errors, first ones:\n" + "\n".join(invalid[:20])


def test_the_demo_covers_the_classes_the_catalogue_maps_to(dumped):
    records, _ = dumped
    types = {r["type_uid"] for r in records}
    # Logon, Logoff and Account Change records at least; every one names its class's category.
    assert {300201, 300202} <= types, types
    assert any(t // 100 == 3001 for t in types), types
    for r in records:
        assert r["type_uid"] == r["class_uid"] * 100 + r["activity_id"]
        assert r["category_uid"] == r["class_uid"] // 1000
        assert r["metadata"]["product"]["name"] == "authtrail"


def test_the_validator_refuses_a_broken_record(dumped):
    """The check above means something: the same validator refuses records that break the
    class's schema."""
    records, _ = dumped
    logon = next(r for r in records if r["type_uid"] == 300201)
    v = Validator()
    assert v.errors(logon) == []
    for breaking in (
        lambda r: r.pop("user"),
        lambda r: r.update(activity_id=42),
        lambda r: r.update(time="yesterday"),
        lambda r: r.update(not_an_ocsf_field=1),
        lambda r: r["src_endpoint"].update(ip="not-an-ip") if "src_endpoint" in r else r.update(src_endpoint={"ip": "x"}),
    ):
        broken = copy.deepcopy(logon)
        breaking(broken)
        assert v.errors(broken), broken


def test_every_catalogue_event_gives_a_valid_record():
    """The demo does not make every event: one activity per event of the built-in catalogue, with
    an actor and as a failure without one (OCSF requires a user), each valid for its class."""
    names, items = set(), []
    for path in sorted(CATALOG.glob("*.toml")):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        app = doc["application"]["name"]
        if app == "detection":
            # Producers cannot send findings (authtrail makes them): see
            # test_findings_give_valid_records.
            continue
        for e in doc.get("events", []):
            names.add((app, e["name"]))
            items.append({"id": {"applicationName": app}, "actor": {"email": "a@example.com"},
                          "ipAddress": "2001:db8::1", "userAgent": "ua", "sessionId": "s1",
                          "events": [{"name": e["name"]}]})
            items.append({"id": {"applicationName": app}, "events": [{"name": e["name"]}],
                          "result": "failure"})
    assert len(names) > 200
    with tempfile.TemporaryDirectory(prefix="authtrail-ocsf-all-") as data:
        file = Path(data) / "every.ndjson"
        file.write_text("\n".join(json.dumps(i) for i in items), encoding="utf-8")
        authtrail("ingest", str(file), "--data", data)
        out = authtrail("query", "--data", data, "--limit", str(len(items)), "--format", "ocsf")
    records = [json.loads(l) for l in out.splitlines() if l]
    assert len(records) == len(items)
    assert {(r["metadata"]["log_name"], r["metadata"]["event_code"]) for r in records} == names
    v = Validator()
    invalid = [f"{r['metadata']['event_code']}: {e}" for r in records for e in v.errors(r)]
    assert not invalid, f"{len(invalid)} schema errors, first ones:\n" + "\n".join(invalid[:20])


def test_findings_give_valid_records():
    """Findings are made by the detectors, not ingested: a server with --detect turns a burst of
    failed sign-ins into a brute-force finding, whose OCSF record must be valid too."""
    import re
    import time
    import urllib.request

    with tempfile.TemporaryDirectory(prefix="authtrail-ocsf-det-") as data:
        token = authtrail("token", "create", "--data", data, "--tenant", "Cdefault",
                          "--scopes", "ingest,read").strip()
        log = open(Path(data) / "server.log", "w+")
        proc = subprocess.Popen([BIN, "serve", "--data", data, "--listen", "127.0.0.1:0", "--detect"],
                                stdout=subprocess.DEVNULL, stderr=log)
        try:
            base = None
            for _ in range(600):
                log.seek(0)
                m = re.search(r"listening on (http://\S+)", log.read())
                if m:
                    base = m.group(1)
                    break
                time.sleep(0.05)
            assert base, "the server did not start"
            burst = [{"eventId": f"ocsf-burst-{i}", "id": {"applicationName": "login"},
                      "actor": {"email": "victim@example.com"}, "ipAddress": "203.0.113.66",
                      "events": [{"name": "login_failure"}]} for i in range(15)]
            req = urllib.request.Request(base + "/v1/activities", data=json.dumps(burst).encode(),
                                         method="POST", headers={"Authorization": "Bearer " + token,
                                                                 "Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=30).read()
            found = []
            for _ in range(300):
                req = urllib.request.Request(base + "/v1/activities?application=detection",
                                             headers={"Authorization": "Bearer " + token})
                found = json.loads(urllib.request.urlopen(req, timeout=30).read()).get("items", [])
                if found:
                    break
                time.sleep(0.1)
            assert found, "no finding from a burst of 15 failures"
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
        out = authtrail("query", "--data", data, "--application", "detection", "--format", "ocsf")
    records = [json.loads(l) for l in out.splitlines() if l]
    assert records and all(r["metadata"]["log_name"] == "detection" for r in records)
    v = Validator()
    invalid = [f"{r['metadata']['event_code']}: {e}" for r in records for e in v.errors(r)]
    assert not invalid, "\n".join(invalid[:20])
