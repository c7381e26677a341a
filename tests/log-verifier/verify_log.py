"""An independent verifier of authtrail's transparency log, written from the specifications
(RFC 6962 / RFC 9162 section 2.1, c2sp.org/signed-note, c2sp.org/tlog-checkpoint,
c2sp.org/tlog-cosignature) with no code shared with authtrail: Python's hashlib and the `cryptography` package's Ed25519.

Proofs are checked with the recursive definitions of the RFC (PATH and SUBPROOF), not with the
iterative verification algorithm that authtrail's Rust code uses, so that a shared mistake is
unlikely.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """The root that PATH(index, D[size]) leads to from `leaf`; raises on a malformed proof."""
    if not 0 <= index < size:
        raise ValueError("index out of range")

    def rec(m: int, n: int, path: list[bytes]) -> bytes:
        if n == 1:
            if path:
                raise ValueError("proof too long")
            return leaf
        if not path:
            raise ValueError("proof too short")
        k = _split(n)
        *rest, top = path
        if m < k:
            return node_hash(rec(m, k, rest), top)
        return node_hash(top, rec(m - k, n - k, rest))

    return rec(index, size, list(proof))


def roots_from_consistency(old: int, new: int, proof: list[bytes], old_root: bytes) -> tuple[bytes, bytes]:
    """(old root, new root) that PROOF(old, D[new]) leads to; raises on a malformed proof."""
    if not 0 < old < new:
        raise ValueError("sizes out of range")

    def rec(m: int, n: int, path: list[bytes], complete: bool) -> tuple[bytes, bytes]:
        if m == n:
            if complete:
                if path:
                    raise ValueError("proof too long")
                return old_root, old_root
            if len(path) != 1:
                raise ValueError("proof of the wrong length")
            return path[0], path[0]
        if not path:
            raise ValueError("proof too short")
        k = _split(n)
        *rest, top = path
        if m <= k:
            o, nw = rec(m, k, rest, complete)
            return o, node_hash(nw, top)
        o, nw = rec(m - k, n - k, rest, False)
        return node_hash(top, o), node_hash(top, nw)

    return rec(old, new, list(proof), True)


def tile_path(level, index: int, width: int) -> str:
    """A c2sp.org/tlog-tiles path: `<L>/<N>[.p/<W>]`, N as x-prefixed 3-digit groups."""
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    n = "/".join(["x" + g for g in reversed(groups[1:])] + [groups[0]])
    path = f"{level}/{n}"
    return path + (f".p/{width}" if width < 256 else "")


def root_from_leaves(leaves: list[bytes]) -> bytes:
    """MTH over leaf hashes, by RFC 6962's recursive definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root_from_leaves(leaves[:k]), root_from_leaves(leaves[k:]))


def entries(bundle: bytes) -> list[bytes]:
    """The entries of a tlog-tiles entry bundle (big-endian uint16 length, then the bytes)."""
    out, i = [], 0
    while i < len(bundle):
        n = int.from_bytes(bundle[i:i + 2], "big")
        out.append(bundle[i + 2:i + 2 + n])
        i += 2 + n
    if i != len(bundle):
        raise ValueError("a truncated entry")
    return out


class Verifier:
    """A signed-note verifier key: <name>+<hex key ID>+<base64(0x01 || Ed25519 public key)>."""

    def __init__(self, vkey: str):
        name, key_id, key = vkey.strip().split("+", 2)
        raw = base64.b64decode(key, validate=True)
        if raw[0] != 1 or len(raw) != 33:
            raise ValueError("not an Ed25519 verifier key")
        self.name = name
        self.public = raw[1:]
        self.key_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + self.public).digest()[:4]
        if self.key_id.hex() != key_id:
            raise ValueError("the key ID does not match")
        self.key = Ed25519PublicKey.from_public_bytes(self.public)

    def open(self, note: str) -> str:
        """The note's text, if a signature by this key verifies; raises otherwise."""
        text, sep, sigs = note.rpartition("\n\n")
        if not sep:
            raise ValueError("no signature block")
        text += "\n"
        ok = False
        for line in sigs.rstrip("\n").split("\n"):
            if not line.startswith("\u2014 "):
                raise ValueError("bad signature line")
            name, sig = line[2:].split(" ", 1)
            blob = base64.b64decode(sig, validate=True)
            if name != self.name or blob[:4] != self.key_id:
                continue
            self.key.verify(blob[4:], text.encode())  # raises InvalidSignature
            ok = True
        if not ok:
            raise ValueError("no signature by this key")
        return text


def open_checkpoint(note: str, verifier: Verifier) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint signed by `verifier`."""
    origin, size, root = verifier.open(note).split("\n")[:3]
    if origin != verifier.name:
        raise ValueError("the origin is not the key's name")
    if size != str(int(size)):
        raise ValueError("bad size")
    return origin, int(size), base64.b64decode(root, validate=True)


# ---- Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 "cosignature/v1") ----------------

COSIGNATURE_V1 = 4  # the key ID's signature type byte


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: a header line, a timestamp line, then the checkpoint text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


class Witness:
    """A witness's Ed25519 cosigner key (this test suite plays a witness with it)."""

    def __init__(self, name: str):
        self.name = name
        self.key = Ed25519PrivateKey.generate()
        self.public = self.key.public_key().public_bytes_raw()
        self.key_id = hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + self.public).digest()[:4]

    def vkey(self) -> str:
        raw = base64.b64encode(bytes([COSIGNATURE_V1]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{raw}"

    def cosign(self, text: str, timestamp: int) -> str:
        """The signature line: key ID || u64 big-endian timestamp || Ed25519 signature."""
        sig = self.key.sign(cosigned_message(text, timestamp))
        blob = self.key_id + timestamp.to_bytes(8, "big") + sig
        return f"\u2014 {self.name} {base64.b64encode(blob).decode()}"


def verify_cosignature(note: str, name: str, public: bytes) -> int:
    """The timestamp of the cosignature of `name` (public key `public`) in `note`; raises if it
    is absent or does not verify over the note's text."""
    text, _, sigs = note.rpartition("\n\n")
    text += "\n"
    key_id = hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + public).digest()[:4]
    for line in sigs.rstrip("\n").split("\n"):
        who, sig = line[2:].split(" ", 1)
        blob = base64.b64decode(sig, validate=True)
        if who != name or blob[:4] != key_id:
            continue
        if len(blob) != 4 + 8 + 64:
            raise ValueError("a cosignature is key ID, timestamp and signature")
        timestamp = int.from_bytes(blob[4:12], "big")
        Ed25519PublicKey.from_public_bytes(public).verify(blob[12:], cosigned_message(text, timestamp))
        return timestamp
    raise ValueError(f"no cosignature by {name}")
