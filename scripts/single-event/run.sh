#!/usr/bin/env bash
# Single-event producers: sixteen connections each POSTing one activity at a time to a fresh
# embedded store, driven by wrk from a second process (the bench's own 1 x 16 cell drives it
# from reqwest in the bench process instead).
#
#   scripts/single-event/run.sh wrk ROUNDS SECONDS BIN...
#       each round runs each binary in turn (a fresh data directory each), so that binaries are
#       compared by same-round ratios on a shared machine; prints requests/s per run
#   scripts/single-event/run.sh callgrind BIN OUT [REQUESTS]
#       runs `BIN serve` under valgrind --tool=callgrind with instrumentation switched on only
#       for REQUESTS (default 2,000) requests from 16 connections, then prints how many
#       activities were stored; divide the counts in OUT.1 (callgrind_annotate --inclusive=yes)
#       by that. wrk waits out WRK_SECONDS (default 60) even when its threads are done: raise it
#       if fewer requests were answered
#
# See docs/performance.md, "Single-event producers". Not part of scripts/test.sh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
LUA="$HERE/one-event.lua"
PORT="${PORT:-18090}"
command -v wrk >/dev/null || { echo "run.sh: needs wrk (apt-get install wrk)" >&2; exit 1; }

start() { # BIN DIR [WRAPPER...] -> prints the token
    local bin=$1 dir=$2; shift 2
    local token
    token="$("$bin" token create --data "$dir" --tenant bench --scopes ingest 2>/dev/null)"
    NO_COLOR=1 "$@" "$bin" serve --data "$dir" --listen "127.0.0.1:$PORT" \
        --per-ip-rps 0 --per-token-rps 0 --max-in-flight 4096 >"$dir.log" 2>&1 &
    for _ in $(seq 300); do grep -q "listening on" "$dir.log" && break; sleep 0.5; done
    grep -q "listening on" "$dir.log" || { echo "run.sh: the server did not start; see $dir.log" >&2; exit 1; }
    echo "$token"
}

stored() { # DIR -> activities stored
    python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from activities').fetchone()[0])" "$1/authtrail.db"
}

case "${1:-}" in
wrk)
    rounds=$2 secs=$3; shift 3
    for r in $(seq "$rounds"); do
        for bin in "$@"; do
            dir="$(mktemp -d)"
            token="$(start "$bin" "$dir")"
            rate="$(TOKEN="$token" wrk -t1 -c16 -d"${secs}s" -s "$LUA" "http://127.0.0.1:$PORT" | awk '/Requests\/sec/ {print $2}')"
            kill "$(pgrep -f "serve --data $dir")"; sleep 1
            echo "round $r  $bin  $rate requests/s  stored $(stored "$dir")"
            rm -rf "$dir" "$dir.log"
        done
    done
    ;;
callgrind)
    bin=$2 out=$3 requests="${4:-2000}"
    dir="$(mktemp -d)"
    token="$(start "$bin" "$dir" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out")"
    sleep 5 # the jobs' first round (checkpoint key, day packs) is not the requests' cost
    pid="$(pgrep -f "callgrind-out-file=$out")"
    callgrind_control -i on "$pid" >/dev/null 2>&1
    TOKEN="$token" PER_THREAD=$((requests / 2)) wrk -t2 -c16 -d"${WRK_SECONDS:-60}s" -s "$LUA" "http://127.0.0.1:$PORT" | grep -E "requests in|status"
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid"; sleep 3
    echo "stored $(stored "$dir") activities; counts in $out.1"
    rm -rf "$dir" "$dir.log"
    ;;
*)
    sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
