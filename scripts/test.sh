#!/usr/bin/env bash
# Runs every test of Switchboard: formatting, lints, and the whole test suite.
# Installs what is missing first. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_apt_packages "${BASE_PACKAGES[@]}"
use_shared_target_dir

if have_cargo_component fmt rustfmt; then
    echo "==> cargo fmt --check"
    cargo fmt --all --check
fi
if have_cargo_component clippy clippy; then
    echo "==> cargo clippy"
    cargo clippy --workspace --all-targets --locked -- -D warnings
fi
echo "==> cargo test"
cargo test --workspace --locked
