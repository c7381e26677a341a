#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test of every crate
# (unit, conformance on SQLite and PostgreSQL, in-process API and end-to-end tests against the
# real binary), then Google's own Python client against a real server, then an independent
# verifier of the transparency log.
#
# PostgreSQL: the tests use AUTHTRAIL_TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/test). With CI set they fail when it is unreachable; on a
# laptop without PostgreSQL they skip, saying so loudly.
#
# Python packages go into a virtualenv under the target directory, npm packages into
# target/logto-keys/ (with the registry unreachable: a failure with CI set, a loud skip
# elsewhere). The one global install is Debian's headless browser for the console's browser tests
# (chromium, chromium-driver and a CJK font for legible zh-TW screenshots), done only when
# missing; screenshots land in target/browser-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# Logto's own key list: the committed fixture the catalogue tests read must be what @logto/schemas
# holds at the version it names (docs/catalog.md, "Logto's key list").
step "Logto's log keys: catalog/sources/logto-schemas-log-keys.json matches @logto/schemas"
scripts/logto-keys/run.sh --check

step "user-agent data set matches uap-core on npm (crates/useragent/data)"
scripts/uap-core/run.sh --check

step "browser for the console tests (chromium + chromedriver)"
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && fc-list 2>/dev/null | grep -qi 'wenquanyi\|noto sans cjk'; then
    echo "already installed"
elif [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq chromium chromium-driver fonts-wqy-zenhei >/dev/null
else
    echo "not root: install chromium chromium-driver fonts-wqy-zenhei yourself (the browser test skips without them, and fails under CI)"
fi

# One build for everything below. `--all-targets` resolves features the way `cargo test` does
# (dev-dependencies such as tokio's test-util included), so the tests, the Python client step
# and the benchmark smoke all use these same artifacts: no second copy of the dependency graph
# is compiled or stored.
step "cargo build (workspace, all targets)"
cargo build --workspace --all-targets --locked
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

step "cargo test (workspace)"
# The browser test drives the binary built above instead of building its own.
AUTHTRAIL_BIN="$target_dir/debug/authtrail" cargo test --workspace --locked

# Google's official Python client (google-api-python-client) against a real server seeded with
# demo data. run.sh makes its own virtualenv under the target directory; the binary was built
# above.
step "Google's Python client against a real server"
AUTHTRAIL_BIN="$target_dir/debug/authtrail" AUTHTRAIL_GOOGLE_PREFIX=/audit tests/google-client/run.sh

# Logto's own Management API SDK (@logto/api from the npm registry, installed under the target
# directory): client-credentials at /oidc/token, then /api/logs, as it does against Logto.
step "Logto's SDK (@logto/api) against a real server"
AUTHTRAIL_BIN="$target_dir/debug/authtrail" tests/logto-client/run.sh

# The transparency log checked by an independent verifier (Python's hashlib and `cryptography`,
# written from RFC 9162 and the C2SP specifications) against a real server's signed checkpoints.
step "independent verifier of the transparency log"
AUTHTRAIL_BIN="$target_dir/debug/authtrail" tests/log-verifier/run.sh

# OCSF records (`authtrail query --format ocsf` over demo data) validated against the OCSF 1.8.0
# schema by ocsf-json-schema and jsonschema from PyPI (tests/ocsf/, its own virtualenv).
step "OCSF records against the OCSF schema"
AUTHTRAIL_BIN="$target_dir/debug/authtrail" tests/ocsf/run.sh

# Alert rules end to end: a real server e-mails a real SMTP server (aiosmtpd from PyPI, in its
# own virtualenv) and chat webhooks; English and zh-TW bodies, thresholds, throttling, and an SMTP
# outage that loses and repeats no alert (tests/alerts/).
step "alert e-mail and chat messages through real servers"
AUTHTRAIL_BIN="$target_dir/debug/authtrail" tests/alerts/run.sh

# The benchmark in its smoke size: it must run end to end (both engines through the real binary,
# every baseline) and write its JSON. Correctness only: no figure is checked (docs/performance.md).
step "authtrail-bench --smoke (completes and writes its JSON)"
bench_out=$(mktemp -d)
"$target_dir/debug/authtrail-bench" --smoke --server-bin "$target_dir/debug/authtrail" \
    --out "$bench_out/bench.json" > "$bench_out/table.md"
python3 - "$bench_out/bench.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for engine in ("sqlite", "postgres"):
    assert d["engines"][engine]["stored_events"] >= 5000, engine
assert d["baselines"]["logto_postgres"]["bytes"] > 0 and d["targets"]
print("bench JSON complete:", len(d["targets"]), "targets recorded")
PY
rm -rf "$bench_out"

# The transparency-log benchmark in its smoke size: ingest with checkpoints off and on, the
# checkpoint lag, inclusion proofs on a grown tree and offline verify through the real binary.
step "authtrail-bench --integrity --smoke (completes; every part measured)"
integrity_out=$(mktemp -d)
"$target_dir/debug/authtrail-bench" --integrity --smoke --server-bin "$target_dir/debug/authtrail" \
    --out "$integrity_out/integrity.json" > /dev/null 2>"$integrity_out/integrity.log" \
    || { tail -50 "$integrity_out/integrity.log"; exit 1; }
python3 - "$integrity_out/integrity.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verify_offline"]["events"] == 5000 and d["verify_offline"]["eps"] > 0, d
assert d["inclusion_proof_ms"]["tree_size"] == 10000, d
print("integrity bench: proofs p99", d["inclusion_proof_ms"]["latency"], "verify", d["verify_offline"])
PY
rm -rf "$integrity_out"

# The push-delivery benchmark in a tiny size: it must run end to end and deliver everything.
step "authtrail-bench --delivery, small (completes; every acknowledged event delivered)"
delivery_out=$(mktemp -d)
"$target_dir/debug/authtrail-bench" --delivery 2 --delivery-rate 200 --delivery-bulk 2000 \
    --delivery-subscriptions 3 --server-bin "$target_dir/debug/authtrail" \
    --out "$delivery_out/delivery.json" > /dev/null 2>"$delivery_out/delivery.log" \
    || { tail -50 "$delivery_out/delivery.log"; exit 1; }
python3 - "$delivery_out/delivery.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["missing"] == 0 and d["missing_with_slow_and_dead"] == 0, d
print("delivery bench: every acknowledged event delivered; ack->delivered", d["ack_to_delivered"])
PY
rm -rf "$delivery_out"

# The soak test in its short version (scripts/soak.sh runs the long one): writers, readers, slow
# clients and kill -9 rounds on both engines, then the audit: nothing acknowledged lost, nothing
# refused stored, no gap, no duplicate.
step "soak test, short (kill -9 rounds on both engines; nothing lost, no gaps)"
soak_out=$(mktemp -d)
"$target_dir/debug/authtrail-bench" --soak 15 --soak-kill-every 4 \
    --server-bin "$target_dir/debug/authtrail" --out "$soak_out/soak.json" 2>"$soak_out/soak.log" \
    || { tail -50 "$soak_out/soak.log"; exit 1; }
rm -rf "$soak_out"
