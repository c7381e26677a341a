#!/usr/bin/env bash
# Checks authtrail's transparency log with an independent verifier (verify_log.py: Python's
# hashlib and the `cryptography` package, written from RFC 9162 and the C2SP specifications)
# against a real server whose checkpoints job signs as activities arrive.
#
#   tests/log-verifier/run.sh [extra pytest arguments]
#
# - Creates (or reuses) a virtualenv in <repo>/target/log-verifier-venv and installs
#   requirements.txt into it; the venv is rebuilt only when requirements.txt changes.
# - Builds nothing: the authtrail binary comes from $AUTHTRAIL_BIN, by default
#   <repo>/target/debug/authtrail (or $CARGO_TARGET_DIR/debug/authtrail when that is set), so run
#   `cargo build -p authtrail` first.
# - PYTHON picks the interpreter (default python3).
#
# Works from any directory. The exit code is pytest's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# The binary under test. A relative AUTHTRAIL_BIN is taken relative to the caller's directory.
if [[ -n "${AUTHTRAIL_BIN:-}" ]]; then
    bin="$AUTHTRAIL_BIN"
elif [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    case "$CARGO_TARGET_DIR" in
        /*) bin="$CARGO_TARGET_DIR/debug/authtrail" ;;
        *) bin="$root/$CARGO_TARGET_DIR/debug/authtrail" ;;
    esac
else
    bin="$root/target/debug/authtrail"
fi
case "$bin" in
    /*) ;;
    *) bin="$PWD/$bin" ;;
esac
if [[ ! -x "$bin" ]]; then
    echo "run.sh: no authtrail binary at $bin" >&2
    echo "run.sh: build it with 'cargo build -p authtrail' or point AUTHTRAIL_BIN at one" >&2
    exit 2
fi
export AUTHTRAIL_BIN="$bin"

# The virtualenv, reused while requirements.txt is unchanged.
venv="$root/target/log-verifier-venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "run.sh: creating the virtualenv in $venv" >&2
    rm -rf "$venv"
    mkdir -p "$root/target"
    "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    echo "$want" >"$stamp"
fi

# No __pycache__ or .pytest_cache inside the work tree.
export PYTHONDONTWRITEBYTECODE=1
cd "$here"
set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$here" "$here" "$@"
status=$?
set -e
exit "$status"
