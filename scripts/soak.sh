#!/usr/bin/env bash
# The soak test, bounded in time and connections, on loopback only: for SECONDS per engine
# (SQLite, then PostgreSQL) it runs writers, readers, slow clients and a `kill -9` of the server
# every KILL_EVERY seconds, then checks what was stored against what each request was answered:
# acknowledged / refused / lost / refused-but-stored / gaps / duplicates, and the peak RSS.
# Fails on any lost, refused-but-stored, missing or duplicated event.
#
#   scripts/soak.sh [SECONDS] [KILL_EVERY]       (default 300 and 10)
#
# Uses a release build. PostgreSQL: AUTHTRAIL_BENCH_POSTGRES (default
# postgres://postgres@127.0.0.1:5432/test); pass --no-postgres through SOAK_ARGS to skip it.
# CI runs a short version against the debug build (scripts/test.sh). The long run's figures are
# in docs/security-testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_ENGINE="${1:-300}"
KILL_EVERY="${2:-10}"
cargo build --release -q --locked -p authtrail -p authtrail-bench
target="${CARGO_TARGET_DIR:-target}"
out="$target/soak-results.json"
# shellcheck disable=SC2086
"$target/release/authtrail-bench" --soak "$SECONDS_PER_ENGINE" --soak-kill-every "$KILL_EVERY" \
    --server-bin "$target/release/authtrail" --out "$out" ${SOAK_ARGS:-} 2>"$target/soak.log"
echo "figures: $out (server logs: $target/soak.log)"
