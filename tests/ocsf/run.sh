#!/usr/bin/env bash
# Validates authtrail's OCSF output against the OCSF schema: `authtrail demo` fills a fresh data
# directory, `authtrail query --format ocsf` dumps it, and every record is checked against the
# JSON Schema of its class (OCSF 1.8.0, generated offline by the ocsf-json-schema package from
# the schema it ships, checked with jsonschema). Any invalid record fails the run.
#
#   tests/ocsf/run.sh [extra pytest arguments]
#
# - Creates (or reuses) a virtualenv in <target dir>/ocsf-venv and installs requirements.txt
#   into it from PyPI; the venv is rebuilt only when requirements.txt changes. Nothing else is
#   downloaded.
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
run_pytest ocsf-venv "$@"
status=$?
set -e
exit "$status"
