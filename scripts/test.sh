#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test of every crate
# (unit, conformance, in-process API and end-to-end tests against the real binary).
#
# It installs nothing globally: everything it needs comes with the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (workspace)"
cargo test --workspace --locked
