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
