#!/usr/bin/env bash
# Alert rules end to end (docs/alerts.md): a real `authtrail serve` e-mails a real SMTP server
# (aiosmtpd, started by the tests in their own process) and posts to chat webhooks on loopback.
# The tests read the e-mail as a mail client would (English and zh-TW bodies, RFC 2047
# subjects), check threshold grouping and throttling, and stop the SMTP server mid-stream to
# show that no alert is lost or sent twice once it is back.
#
#   tests/alerts/run.sh [extra pytest arguments]
#
# - Creates (or reuses) a virtualenv in <target dir>/alerts-venv and installs requirements.txt
#   into it from PyPI; the venv is rebuilt only when requirements.txt changes.
# - Builds nothing: the authtrail binary comes from $AUTHTRAIL_BIN, by default
#   <repo>/target/debug/authtrail (or $CARGO_TARGET_DIR/debug/authtrail when that is set).
# - PYTHON picks the interpreter (default python3). AUTHTRAIL_KEEP_DATA=1 keeps the server's
#   data directory and log. AUTHTRAIL_ALERTS_STORE=postgres://… runs the server on that
#   PostgreSQL store instead (give it an empty schema: `?options=-c%20search_path%3D<schema>`).
#
# Works from any directory. The exit code is pytest's. One test waits out a one-minute throttle.
# Ingest with 100 rules is measured and printed (run with -s to see it; at most 10 % slower,
# checked when AUTHTRAIL_BIN is a release build, e.g. target/release/authtrail; skipped
# otherwise). Ack-to-SMTP latency is the benchmark's (`authtrail-bench --alert-latency`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# shellcheck source=../lib.sh
source "$here/../lib.sh"
find_authtrail

set +e
run_pytest alerts-venv "$@"
status=$?
set -e
exit "$status"
