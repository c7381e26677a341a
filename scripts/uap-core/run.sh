#!/usr/bin/env bash
# The user-agent data set (uap-core's regexes.yaml, from the npm registry's `uap-core` package,
# pinned in package.json and package-lock.json here), converted to the JSON that
# crates/useragent embeds.
#
#   scripts/uap-core/run.sh --check   re-convert and fail if it differs from the committed file
#                                     (scripts/test.sh runs this)
#   scripts/uap-core/run.sh --write   re-convert and rewrite the committed file (after bumping
#                                     the pin)
#
# The packages are installed with `npm ci` into <target>/uap-core, never into the repository, and
# reused while package-lock.json is unchanged. When npm or the registry is unreachable the check
# fails if CI is set, and otherwise skips, saying so loudly.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../tests/lib.sh
source "$root/tests/lib.sh"
committed="$root/crates/useragent/data/uap-core.json"
license="$root/crates/useragent/data/LICENSE-uap-core"
mode="${1:---check}"
case "$mode" in
    --check | --write) ;;
    *) echo "usage: $0 [--check|--write]" >&2; exit 2 ;;
esac

dir="$(target_dir)/uap-core"
npm_install "$dir" uap-core || exit 0
out="$dir/uap-core.json"
NODE_PATH="$dir/node_modules" node "$here/convert.js" >"$out"

if [[ "$mode" == --write ]]; then
    cp "$out" "$committed"
    cp "$dir/node_modules/uap-core/LICENSE" "$license"
    echo "uap-core: wrote $committed"
    exit 0
fi
if ! cmp -s "$committed" "$out" || ! cmp -s "$license" "$dir/node_modules/uap-core/LICENSE"; then
    diff -u "$committed" "$out" | head -40 >&2 || true
    echo "uap-core: the committed data differs from the pinned uap-core package (- committed, + converted)." >&2
    echo "uap-core: run scripts/uap-core/run.sh --write" >&2
    exit 1
fi
echo "uap-core: crates/useragent/data/uap-core.json matches $(node -p 'require(process.argv[1]).source' "$committed")"
