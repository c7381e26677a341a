#!/usr/bin/env bash
# Runs Google's official Python client (google-api-python-client) against a real authtrail server:
# the proof that authtrail's Reports API (`activities.list`) is wire-compatible with Google's.
#
#   tests/google-client/run.sh [extra pytest arguments]
#
# - Creates (or reuses) a virtualenv in <target dir>/google-client-venv and installs
#   requirements.txt into it; the venv is rebuilt only when requirements.txt changes.
# - Builds nothing: the authtrail binary comes from $AUTHTRAIL_BIN, by default
#   <repo>/target/debug/authtrail (or $CARGO_TARGET_DIR/debug/authtrail when that is set), so run
#   `cargo build -p authtrail` first.
# - Optional: AUTHTRAIL_GOOGLE_PREFIX=/audit starts the server with `--google-prefix /audit` and
#   enables the path-prefix test (skipped otherwise). PYTHON picks the interpreter (default python3).
#
# Works from any directory. The exit code is pytest's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# shellcheck source=../lib.sh
source "$here/../lib.sh"
find_authtrail

set +e
run_pytest google-client-venv "$@"
status=$?
set -e
exit "$status"
