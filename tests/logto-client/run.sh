#!/usr/bin/env bash
# Runs Logto's own Management API SDK (@logto/api, from the npm registry) against a real authtrail
# server: the proof that a client written for Logto's Management API works unchanged.
#
#   tests/logto-client/run.sh
#
# - Installs package.json / package-lock.json into <target>/logto-client with npm (reused while
#   the lock file is unchanged); nothing is written into the work tree.
# - The authtrail binary comes from $AUTHTRAIL_BIN, else <target>/debug/authtrail.
# - Creates a read credential, stores three Logto logs, starts a server on a free port, runs
#   test.mjs, stops the server. The exit code is the test's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib.sh
source "$here/../lib.sh"
find_authtrail
bin="$AUTHTRAIL_BIN"
target="$(target_dir)"
work="$target/logto-client"
npm_install "$work" "@logto/api and ua-parser-js" || exit 0
cp "$here/test.mjs" "$here/user-agents.txt" "$work/"

data="$(mktemp -d)"
server=""
trap '[[ -n "$server" ]] && kill "$server" 2>/dev/null; rm -rf "$data"' EXIT
export NO_COLOR=1 RUST_LOG=warn
secret="$("$bin" token create --data "$data" --tenant Clogto --scopes read --name logto-sdk)"
ingest="$("$bin" token create --data "$data" --tenant Clogto --scopes ingest --name seed)"
client_id="$("$bin" token list --data "$data" | awk '/logto-sdk/ {print $1}')"
RUST_LOG=info "$bin" serve --data "$data" --listen 127.0.0.1:0 >"$data/server.log" 2>&1 &
server=$!
url=""
for _ in $(seq 100); do
    url="$(grep -o 'http://127.0.0.1:[0-9]*' "$data/server.log" | head -1 || true)"
    [[ -n "$url" ]] && break
    sleep 0.1
done
[[ -n "$url" ]] || { cat "$data/server.log" >&2; exit 1; }
now_ms=$(( $(date +%s) * 1000 ))
curl -sf -X POST "$url/api/logs" -H "Authorization: Bearer $ingest" -H 'Content-Type: application/json' \
    --data "[{\"id\":\"l1\",\"key\":\"Interaction.SignIn.Submit\",\"createdAt\":$((now_ms - 3000)),\"payload\":{\"key\":\"Interaction.SignIn.Submit\",\"result\":\"Success\",\"userId\":\"u1\"}},
             {\"id\":\"l2\",\"key\":\"RevokeToken\",\"createdAt\":$((now_ms - 2000)),\"payload\":{\"key\":\"RevokeToken\",\"result\":\"Success\"}},
             {\"id\":\"l3\",\"key\":\"Interaction.SignIn.Submit\",\"createdAt\":$((now_ms - 1000)),\"payload\":{\"key\":\"Interaction.SignIn.Submit\",\"result\":\"Error\"}}]" >/dev/null
# A key the catalogue does not list (a newer Logto's), posted as Logto's own log rows carry it:
# stored as Unknown, found by the SDK under the key it arrived with.
curl -sf -X POST "$url/api/logs" -H "Authorization: Bearer $ingest" -H 'Content-Type: application/json' \
    --data "[{\"id\":\"l4\",\"key\":\"Interaction.SignIn.Verification.FutureFactor.Submit\",\"createdAt\":$((now_ms - 500)),\"payload\":{\"key\":\"Interaction.SignIn.Verification.FutureFactor.Submit\",\"result\":\"Success\",\"userId\":\"u1\"}}]" >/dev/null
cd "$work"
AUTHTRAIL_URL="$url" AUTHTRAIL_CLIENT_ID="$client_id" AUTHTRAIL_CLIENT_SECRET="$secret" \
    AUTHTRAIL_INGEST_TOKEN="$ingest" node test.mjs
