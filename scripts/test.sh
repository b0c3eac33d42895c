#!/usr/bin/env bash
# Runs every test of Switchboard: formatting, lints, the UI's unit tests, and
# the whole Rust suite (engine, commands, and the end-to-end test in the real
# window under Xvfb). Installs what is missing first. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare_app_with_window_driver
echo "==> UI tests"
(cd ui && npm test --silent)

require_cargo_component fmt rustfmt
echo "==> cargo fmt --check"
cargo fmt --all --check
require_cargo_component clippy clippy
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test (under Xvfb)"
xvfb-run -a -s "-screen 0 1280x800x24" cargo test --workspace --locked
