#!/usr/bin/env bash
# Runs every test of Switchboard: formatting, lints, the UI's unit tests, the
# whole Rust suite (engine, commands, and the end-to-end test in the real
# window under Xvfb), and the installed .deb (tests/app/package.rs). Installs
# what is missing first. Usage: bash scripts/test.sh
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
# On its own, after the rest: it installs the .deb of the debug app built
# above (no other build), opens its window and purges it again. Ignored by a
# plain `cargo test` because it changes the machine's packages (needs root).
echo "==> the installed package (under Xvfb)"
xvfb-run -a -s "-screen 0 1280x800x24" cargo test --workspace --locked --test app -- --ignored --exact \
    package::installed_package_runs_and_purges_to_nothing_but_the_users_data
