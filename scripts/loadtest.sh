#!/usr/bin/env bash
# A flood on loopback, bounded in time: does authtrail keep its memory flat and keep serving
# legitimate producers while one client hammers it?
#
#   scripts/loadtest.sh [SECONDS]        (default 20)
#
# Starts a release server behind a pretend load balancer (127.0.0.1 is a trusted proxy, so each
# client is told apart by X-Forwarded-For), then for SECONDS runs at once:
#   - a flood: wrk, 256 connections, one token, one client IP, reading as fast as it can;
#   - a legitimate producer: another IP and token, one small ingest batch every 50 ms;
# while sampling the server's resident memory. It prints the figures and fails if the flood was
# not refused (429/503), if any legitimate batch failed, or if an acknowledged event is missing.
# Not part of scripts/test.sh (it is a measurement, not a test); see docs/security-testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="${1:-20}"
command -v wrk >/dev/null || { sudo -n true 2>/dev/null && SUDO=sudo || SUDO=; $SUDO apt-get install -y -qq wrk >/dev/null; }
command -v jq >/dev/null || { echo "loadtest: needs jq" >&2; exit 1; }

cargo build --release -q -p authtrail
BIN="${CARGO_TARGET_DIR:-target}/release/authtrail"
WORK="$(mktemp -d)"
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

FLOOD_TOKEN="$("$BIN" token create --data "$WORK/data" --tenant Cflood --scopes read --name flood 2>/dev/null)"
LEGIT_TOKEN="$("$BIN" token create --data "$WORK/data" --tenant Clegit --scopes ingest,read --name legit 2>/dev/null)"

"$BIN" serve --data "$WORK/data" --listen 127.0.0.1:0 --trusted-proxy 127.0.0.1/32 \
    --per-ip-rps 200 --per-token-rps 200 --max-in-flight 64 >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do
    URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/server.log" | head -1 || true)"
    [ -n "$URL" ] && break
    sleep 0.1
done
[ -n "$URL" ] || { cat "$WORK/server.log"; exit 1; }

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
BASE_RSS="$(rss_kib)"

# Memory sampler.
( while kill -0 "$SERVER" 2>/dev/null; do rss_kib >>"$WORK/rss"; sleep 0.25; done ) &
SAMPLER=$!

# Legitimate producer: one batch of 5 events every 50 ms, from its own client IP.
(
    end=$((SECONDS + SECONDS_TO_RUN)); n=0
    while [ "$SECONDS" -lt "$end" ]; do
        body="["
        for j in 0 1 2 3 4; do
            body+="{\"id\":{\"applicationName\":\"login\"},\"eventId\":\"legit-$n-$j\",\"actor\":{\"email\":\"u$j@legit.io\"},\"events\":[{\"name\":\"logout\"}]},"
        done
        body="${body%,}]"
        code="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/v1/activities" \
            -H "Authorization: Bearer $LEGIT_TOKEN" -H 'X-Forwarded-For: 198.51.100.10' \
            -H 'Content-Type: application/json' --data "$body" || echo 000)"
        echo "$code" >>"$WORK/legit"
        n=$((n + 1))
        sleep 0.05
    done
) &
LEGIT=$!

cat >"$WORK/count.lua" <<'EOF'
counts = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() counts = {} end
function response(status) counts[status] = (counts[status] or 0) + 1 end
function done()
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("status %d %d\n", k, v)) end
end
EOF
wrk -t2 -c256 -d"${SECONDS_TO_RUN}s" -s "$WORK/count.lua" \
    -H "Authorization: Bearer $FLOOD_TOKEN" -H 'X-Forwarded-For: 203.0.113.66' \
    "$URL/v1/activities?limit=100" >"$WORK/wrk.out" 2>&1 || { cat "$WORK/wrk.out"; exit 1; }
wait "$LEGIT"
kill "$SAMPLER" 2>/dev/null || true

LEGIT_SENT="$(wc -l <"$WORK/legit")"
LEGIT_OK="$(grep -c '^200$' "$WORK/legit" || true)"
STORED=0
CURSOR=""
while :; do
    PAGE="$(curl -s "$URL/v1/activities?application=login&limit=1000${CURSOR:+&cursor=$CURSOR}" \
        -H "Authorization: Bearer $LEGIT_TOKEN" -H 'X-Forwarded-For: 198.51.100.11')"
    STORED=$((STORED + $(jq '.items | length' <<<"$PAGE")))
    CURSOR="$(jq -r '.nextCursor // empty' <<<"$PAGE")"
    [ -n "$CURSOR" ] || break
done
sort -n "$WORK/rss" >"$WORK/rss.sorted"
RSS_MEDIAN="$(awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' "$WORK/rss.sorted")"
RSS_MAX="$(tail -1 "$WORK/rss.sorted")"
RSS_END="$(rss_kib)"

echo "== authtrail load test: ${SECONDS_TO_RUN}s flood on loopback (2 wrk threads, 256 connections) =="
grep -E 'Requests/sec|Latency' "$WORK/wrk.out" | sed 's/^/flood  /'
grep '^status' "$WORK/wrk.out" | sort -k2 -n | sed 's/^/flood  /'
echo "legit  batches sent $LEGIT_SENT, acknowledged $LEGIT_OK, events stored $STORED (expected $((LEGIT_OK * 5)))"
echo "memory RSS KiB: before $BASE_RSS, median $RSS_MEDIAN, max $RSS_MAX, after $RSS_END"

REFUSED="$(grep -E '^status (429|503) ' "$WORK/wrk.out" | awk '{s+=$3} END {print s+0}')"
[ "$REFUSED" -gt 0 ] || { echo "FAIL: the flood was never refused" >&2; exit 1; }
[ "$LEGIT_OK" -eq "$LEGIT_SENT" ] || { echo "FAIL: legitimate batches were refused" >&2; exit 1; }
[ "$STORED" -eq $((LEGIT_OK * 5)) ] || { echo "FAIL: acknowledged events are missing" >&2; exit 1; }
echo "ok"
