#!/usr/bin/env bash
# Logto's log keys from its own schema package, @logto/schemas, pinned in package.json and
# package-lock.json here.
#
#   scripts/logto-keys/run.sh --check   re-extract and fail if the keys differ from the committed
#                                       fixture (scripts/test.sh runs this)
#   scripts/logto-keys/run.sh --write   re-extract and rewrite the fixture (after bumping the pin)
#
# The fixture, catalog/sources/logto-schemas-log-keys.json, is what the catalogue test reads
# (crates/catalog/tests/catalog.rs): every key in its `keys` must be an event or an alias of
# the catalogue. extract.js says how the package's key types are expanded and narrowed.
#
# The packages are installed with `npm ci` from the npm registry into <repo>/target/logto-keys,
# never into the repository, and reused while package-lock.json is unchanged. When npm or the
# registry is unreachable the check fails if CI is set, and otherwise skips, saying so loudly.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
fixture="$root/catalog/sources/logto-schemas-log-keys.json"
dir="$root/target/logto-keys"
mode="${1:---check}"
case "$mode" in
    --check | --write) ;;
    *) echo "usage: $0 [--check|--write]" >&2; exit 2 ;;
esac

unavailable() {
    if [[ -n "${CI:-}" ]]; then
        echo "logto-keys: $* (CI is set, so this is a failure)" >&2
        exit 1
    fi
    echo "" >&2
    echo "!!!! logto-keys: SKIPPED: $*" >&2
    echo "!!!! the committed fixture was NOT compared with @logto/schemas" >&2
    echo "" >&2
    exit 0
}

command -v node >/dev/null && command -v npm >/dev/null || unavailable "node or npm is not installed"

# Install only when the lock changed since the last successful install (the marker is a copy of
# the lock that install used), so repeated runs cost one node start.
mkdir -p "$dir"
if ! cmp -s "$here/package-lock.json" "$dir/installed.lock" || [[ ! -d "$dir/node_modules" ]]; then
    rm -f "$dir/installed.lock"
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    if ! (cd "$dir" && npm ci --registry=https://registry.npmjs.org/ --ignore-scripts \
        --no-audit --no-fund --loglevel=error --fetch-retries=1 --fetch-timeout=30000); then
        unavailable "npm ci of @logto/schemas failed (is registry.npmjs.org reachable?)"
    fi
    cp "$here/package-lock.json" "$dir/installed.lock"
fi

out="$dir/logto-schemas-log-keys.json"
node "$here/extract.js" "$dir/node_modules" >"$out"

if [[ "$mode" == --write ]]; then
    cp "$out" "$fixture"
    echo "logto-keys: wrote $fixture"
    exit 0
fi
if ! diff -u "$fixture" "$out"; then
    echo "logto-keys: the committed fixture differs from @logto/schemas (diff above: - committed, + extracted)." >&2
    echo "logto-keys: run scripts/logto-keys/run.sh --write, then add the new keys to catalog/logto.toml" >&2
    exit 1
fi
echo "logto-keys: fixture matches $(node -p 'const f=require(process.argv[1]); `${f.package}@${f.version}: ${f.keys.length} keys logged, ${f.not_logged.length} typed only`' "$fixture")"
