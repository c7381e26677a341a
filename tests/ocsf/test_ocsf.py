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
