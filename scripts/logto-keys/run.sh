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
# shellcheck source=../../tests/lib.sh
source "$root/tests/lib.sh"
fixture="$root/catalog/sources/logto-schemas-log-keys.json"
dir="$(target_dir)/logto-keys"
mode="${1:---check}"
case "$mode" in
    --check | --write) ;;
    *) echo "usage: $0 [--check|--write]" >&2; exit 2 ;;
esac

npm_install "$dir" "@logto/schemas" || exit 0

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
