#!/usr/bin/env bash
# Checks authtrail's transparency log with an independent verifier (verify_log.py: Python's
# hashlib and the `cryptography` package, written from RFC 9162 and the C2SP specifications)
# against a real server whose checkpoints job signs as activities arrive.
#
#   tests/log-verifier/run.sh [extra pytest arguments]
#
# - Creates (or reuses) a virtualenv in <target dir>/log-verifier-venv and installs
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

# shellcheck source=../lib.sh
source "$here/../lib.sh"
find_authtrail

set +e
run_pytest log-verifier-venv "$@"
status=$?
set -e
exit "$status"
