"""authtrail's transparency log checked by an independent verifier (verify_log.py): a real
server's `checkpoints` job signs checkpoints as activities arrive, and every checkpoint, inclusion
proof and consistency proof it serves verifies here; a tampered note or proof does not. A witness
played here cosigns checkpoints, and a key rotation keeps old-key verifiers verifying."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from cryptography.exceptions import InvalidSignature

import verify_log as vl

BIN = os.environ["AUTHTRAIL_BIN"]
TENANT = "Cdefault"
# Longest wait for the job before the test fails rather than hangs (it promises one second).
HANG_S = 30


@pytest.fixture(scope="module")
def data():
    return tempfile.mkdtemp(prefix="authtrail-logverify-")


@pytest.fixture(scope="module")
def server(data):
    token = subprocess.run(
        [BIN, "token", "create", "--data", data, "--tenant", TENANT, "--scopes", "ingest,read"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    proc = subprocess.Popen(
        [BIN, "serve", "--data", data, "--listen", "127.0.0.1:0", "--log-origin", "audit.example.com"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "RUST_LOG": "info", "NO_COLOR": "1"},
    )
    url = None
    for line in proc.stderr:
        m = re.search(r"authtrail listening on (http://\S+)", line)
        if m:
            url = m.group(1)
            break
    assert url, "the server did not start"
    yield url, token
    proc.terminate()
    proc.wait(timeout=30)


def call(server, path, body=None):
    url, token = server
    req = urllib.request.Request(url + path, data=body, headers={"Authorization": f"Bearer {token}"})
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        raw = r.read()
        kind = r.headers.get_content_type()
        if kind == "application/octet-stream":
            return raw
        return json.loads(raw) if kind == "application/json" else raw.decode()


def ingest(server, start, n):
    items = [{
        "eventId": f"logverify-{i}",
        "id": {"applicationName": "login"},
        "actor": {"email": f"u{i}@example.com"},
        "events": [{"name": "login_success"}],
    } for i in range(start, start + n)]
    receipts = call(server, "/v1/activities", json.dumps(items).encode())["receipts"]
    return int(receipts[-1]["uniqueQualifier"])


def checkpoint_of(server, verifier, size):
    """Waits for the job's checkpoint of at least `size` leaves, and verifies it."""
    deadline = time.monotonic() + HANG_S
    while True:
        note = call(server, "/v1/log/checkpoint")
        origin, got, root = vl.open_checkpoint(note, verifier)
        if got >= size:
            return note, got, root
        assert time.monotonic() < deadline, f"no checkpoint of {size} leaves (last {got})"
        time.sleep(0.1)


def hashes(proof):
    return [base64.b64decode(h) for h in proof["hashes"]]


def test_checkpoints_and_proofs_verify_independently(server):
    verifier = vl.Verifier(call(server, "/v1/log/key"))
    assert verifier.name == f"audit.example.com/{TENANT}"

    # The token's creation is the tenant's first activity (self-audit): go by the receipts.
    last = ingest(server, 0, 10)
    note, size, root = checkpoint_of(server, verifier, last)
    assert size == last
    for index in range(size):
        p = call(server, f"/v1/log/proof/inclusion?index={index}")
        assert p["checkpoint"] == note
        leaf = base64.b64decode(p["leafHash"])
        assert vl.root_from_inclusion(index, size, leaf, hashes(p)) == root
    p = call(server, "/v1/log/proof/inclusion?eventId=logverify-3")
    assert p["uniqueQualifier"] == last - 6

    last2 = ingest(server, 10, 7)
    note2, size2, root2 = checkpoint_of(server, verifier, last2)
    c = call(server, f"/v1/log/proof/consistency?old={size}&size={size2}")
    assert vl.roots_from_consistency(size, size2, hashes(c), root) == (root, root2)

    # The tlog-tiles view of the same tree: the level-0 tile (all leaves, the tree being small)
    # rebuilds the root, and each entry of the bundle hashes to its leaf.
    assert size2 < 256
    tile = call(server, "/v1/log/tile/" + vl.tile_path(0, 0, size2))
    leaves = [tile[i:i + 32] for i in range(0, len(tile), 32)]
    assert vl.root_from_leaves(leaves) == root2
    bundle = call(server, "/v1/log/tile/" + vl.tile_path("entries", 0, size2))
    assert [vl.leaf_hash(e) for e in vl.entries(bundle)] == leaves
    assert json.loads(vl.entries(bundle)[-1])["format"] == "authtrail.activity.v1"
    assert vl.tile_path(0, 1234067, 256) == "0/x001/x234/067"

    # Tampering is caught: a changed size in the note, a changed hash in a proof.
    forged = note2.replace(f"\n{size2}\n", f"\n{size2 + 1}\n", 1)
    with pytest.raises(InvalidSignature):
        vl.open_checkpoint(forged, verifier)
    bad = hashes(c)
    bad[0] = bytes(32)
    assert vl.roots_from_consistency(size, size2, bad, root) != (root, root2)


def test_the_verifier_agrees_with_the_rfc6962_reference_tree():
    """The RFC 6962 reference tree of transparency-dev/merkle (also in authtrail's unit tests)."""
    leaves = [bytes.fromhex(h) for h in
              ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
               "606162636465666768696a6b6c6d6e6f"]]
    root8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    lh = [vl.leaf_hash(x) for x in leaves]

    def mth(xs):
        if len(xs) == 1:
            return xs[0]
        k = vl._split(len(xs))
        return vl.node_hash(mth(xs[:k]), mth(xs[k:]))

    assert mth(lh) == root8
    # The leaf-0 proof of the 8-leaf tree from the vectors (inclusion/1/happy-path.json).
    proof = [base64.b64decode(h) for h in [
        "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
        "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
        "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
    ]]
    assert vl.root_from_inclusion(0, 8, lh[0], proof) == root8
    # The signed-note specification's own example.
    v = vl.Verifier("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
    note = ("This is an example message.\n\n\u2014 example.com/foo "
            "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")
    assert v.open(note) == "This is an example message.\n"


def _block(doc: str, name: str) -> str:
    parts = doc.split("```")
    for part in parts[1::2]:
        info, _, body = part.partition("\n")
        if info.split()[1:2] == [name]:
            return body[:-1] if body.endswith("\n") else body
    raise KeyError(name)


def test_the_worked_example_of_the_documentation():
    """docs/integrity.md's worked example, recomputed from canonical-encoding.md's vector 1."""
    root_dir = os.path.join(os.path.dirname(__file__), "..", "..", "docs")
    doc = open(os.path.join(root_dir, "integrity.md"), encoding="utf-8").read()
    canonical = _block(open(os.path.join(root_dir, "canonical-encoding.md"), encoding="utf-8").read(),
                       "vector-canonical")
    leaf0 = vl.leaf_hash(canonical.encode())
    leaf1 = vl.leaf_hash(canonical.replace('"uniqueQualifier":"1"', '"uniqueQualifier":"2"').encode())
    assert leaf0.hex() == _block(doc, "example-leaf-0")
    assert leaf1.hex() == _block(doc, "example-leaf-1")
    root = vl.node_hash(leaf0, leaf1)
    assert root.hex() == _block(doc, "example-root")
    verifier = vl.Verifier(_block(doc, "example-vkey"))
    assert vl.open_checkpoint(_block(doc, "example-checkpoint") + "\n", verifier) == (
        "audit.example.com/C01", 2, root)
    proof = [base64.b64decode(_block(doc, "example-proof"))]
    assert vl.root_from_inclusion(1, 2, leaf1, proof) == root


def authtrail(data, *args):
    return subprocess.run([BIN, *args, "--data", data, "--log-origin", "audit.example.com"],
                          check=True, capture_output=True, text=True).stdout


def post_text(server, path, body: str):
    url, token = server
    req = urllib.request.Request(url + path, data=body.encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "text/plain; charset=utf-8"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_witness_cosignature_is_accepted_and_served(server, data):
    """A witness written here from c2sp.org/tlog-cosignature cosigns the served checkpoint; the
    server checks it, keeps it and serves it with that checkpoint."""
    witness = vl.Witness("witness.example.org/py")
    authtrail(data, "log", "witness", "add", witness.vkey(), "--tenant", TENANT)
    verifier = vl.Verifier(call(server, "/v1/log/key").splitlines()[0])
    # The witness's registration is an activity: wait for the checkpoint that covers it.
    last = ingest(server, 100, 1)
    note, size, _ = checkpoint_of(server, verifier, last)
    text = note.rpartition("\n\n")[0] + "\n"
    now = int(time.time())
    line = witness.cosign(text, now)
    status, body = post_text(server, "/v1/log/cosignature", note + line + "\n")
    assert status == 200, body
    assert body["accepted"] == [{"witness": witness.name, "size": size, "time": now, "stored": True}]
    # Nothing was ingested since: the same checkpoint, now with the witness's line.
    served = call(server, "/v1/log/checkpoint")
    assert served == note + line + "\n"
    assert vl.open_checkpoint(served, verifier)[1] == size
    assert vl.verify_cosignature(served, witness.name, witness.public) == now
    # A line by a key the log does not know is refused, naming the field.
    stranger = vl.Witness("witness.example.org/stranger")
    status, body = post_text(server, "/v1/log/cosignature", text + "\n" + stranger.cosign(text, now) + "\n")
    assert status == 400
    assert body["error"]["details"][0]["field"] == "cosignature"
    # A tampered cosignature too.
    forged = witness.cosign(text.replace(f"\n{size}\n", f"\n{size - 1}\n"), now)
    status, body = post_text(server, "/v1/log/cosignature", text + "\n" + forged + "\n")
    assert status == 400 and body["error"]["details"][0]["field"] == "cosignature"


def test_a_key_rotation_keeps_old_key_verifiers_verifying(server, data):
    """Run last: it rotates the tenant's key. Through the overlap both keys verify every
    checkpoint; afterwards only the new one."""
    old = vl.Verifier(call(server, "/v1/log/key").splitlines()[0])
    new_vkey = authtrail(data, "log", "rotate-key", "--tenant", TENANT).strip()
    keys = call(server, "/v1/log/key").splitlines()
    assert keys[0].startswith(old.name + "+") and keys[1] == new_vkey
    new = vl.Verifier(new_vkey)
    assert new.name == old.name and new.key_id != old.key_id
    last = ingest(server, 200, 3)
    note, size, root = checkpoint_of(server, old, last)
    assert vl.open_checkpoint(note, new) == (old.name, size, root)
    authtrail(data, "log", "rotate-key", "--finish", "--tenant", TENANT)
    assert call(server, "/v1/log/key") == new_vkey + "\n"
    last = ingest(server, 300, 1)
    note, size, _ = checkpoint_of(server, new, last)
    with pytest.raises(ValueError, match="no signature by this key"):
        vl.open_checkpoint(note, old)
