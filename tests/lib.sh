# Shared by the client test scripts (tests/*/run.sh): where the binary under test is, and a
# virtualenv or npm folder under the target directory, rebuilt only when its lock file changes.
# Sourced, not run; expects `here` (the script's folder) and `root` (the repository) to be set.

# The target directory, absolute.
target_dir() {
    local t="${CARGO_TARGET_DIR:-$root/target}"
    case "$t" in /*) echo "$t" ;; *) echo "$root/$t" ;; esac
}

# Sets and exports AUTHTRAIL_BIN: $AUTHTRAIL_BIN (relative to the caller's directory) or the
# debug build in the target directory. Builds nothing; exits 2 when there is no binary.
find_authtrail() {
    local bin="${AUTHTRAIL_BIN:-$(target_dir)/debug/authtrail}"
    case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
    if [[ ! -x "$bin" ]]; then
        echo "run.sh: no authtrail binary at $bin" >&2
        echo "run.sh: build it with 'cargo build -p authtrail' or point AUTHTRAIL_BIN at one" >&2
        exit 2
    fi
    export AUTHTRAIL_BIN="$bin"
}

# Runs pytest on $here in a virtualenv named NAME under the target directory, made from
# $here/requirements.txt (PYTHON picks the interpreter); extra arguments go to pytest. Returns
# pytest's exit code. No __pycache__ or .pytest_cache is left in the work tree.
run_pytest() {
    local name="$1"; shift
    local venv; venv="$(target_dir)/$name"
    local stamp="$venv/.requirements.sha256"
    local want; want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
    if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        echo "run.sh: creating the virtualenv in $venv" >&2
        rm -rf "$venv"
        mkdir -p "$(dirname "$venv")"
        "${PYTHON:-python3}" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
        echo "$want" >"$stamp"
    fi
    export PYTHONDONTWRITEBYTECODE=1
    (cd "$here" && "$venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$here" "$here" "$@")
}

# Installs $here/package.json and package-lock.json into DIR with `npm ci` from the npm
# registry, unless DIR already holds that exact lock. WHAT names the packages in messages. When
# node, npm or the registry is unavailable: with CI set this fails the script; otherwise it says
# so loudly and returns 1, so the caller can skip (`npm_install DIR WHAT || exit 0`).
npm_install() {
    local dir="$1" what="$2"
    local stamp="$dir/.lock.sha256"
    local want; want="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"
    if [[ -d "$dir/node_modules" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    local why=""
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        why="node or npm is not installed"
    else
        echo "run.sh: installing $what into $dir" >&2
        rm -rf "$dir" && mkdir -p "$dir"
        cp "$here/package.json" "$here/package-lock.json" "$dir/"
        if (cd "$dir" && npm ci --registry=https://registry.npmjs.org/ --ignore-scripts \
            --no-audit --no-fund --loglevel=error --fetch-retries=1 --fetch-timeout=30000); then
            echo "$want" >"$stamp"
            return 0
        fi
        why="npm ci of $what failed (is registry.npmjs.org reachable?)"
    fi
    if [[ -n "${CI:-}" ]]; then
        echo "run.sh: $why (CI is set, so this is a failure)" >&2
        exit 1
    fi
    echo "" >&2
    echo "!!!! SKIPPED: $why" >&2
    echo "" >&2
    return 1
}
