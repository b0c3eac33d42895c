#!/usr/bin/env bash
# Switchboard's benchmarks (BENCHMARKS.md): builds the release app, then
# prints one table of every figure with its goal. Installs what is missing
# first. Takes about 10 minutes after the release build (the first release
# build takes 20–30 minutes on two cores).
#
# Usage: bash scripts/bench.sh [--runs N] [--quick]
#   --runs N   runs per figure; the table shows medians (default 3)
#   --quick    1,000 agents only (the engine's and the window's) and shorter windows (a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare_app_with_window_driver

runs=3
engine_args=()
window_args=()
agent_cost_args=()
encrypt_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) runs=$2; engine_args+=(--runs "$2"); agent_cost_args=(--runs "$2"); shift 2 ;;
        --quick) engine_args+=(--quick); window_args+=(--quick); agent_cost_args=(--quick); encrypt_args=(--quick); shift ;;
        *) echo "usage: bash scripts/bench.sh [--runs N] [--quick]" >&2; exit 2 ;;
    esac
done

echo "==> building the release app and benchmarks"
cargo build --release --locked -p switchboard
cargo build --release --locked -p switchboard-engine --example bench
cargo build --locked -p switchboard-tests --example window_bench
# Counts, not speeds: a debug build holds the same descriptors, and the
# binary's own pages are the same with and without agents, so they cancel.
cargo build --locked -p switchboard-whatsapp --example agent_cost
# Its time goes to fsync and SQLCipher's C code (compiled with the
# dependencies' opt-level 1); ratios to a plain baseline in the same run.
cargo build --locked -p switchboard-whatsapp --example encrypt_cost

echo "==> machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -r)"
echo
"$CARGO_TARGET_DIR/release/examples/bench" "${engine_args[@]}"
echo
"$CARGO_TARGET_DIR/debug/examples/agent_cost" "${agent_cost_args[@]}"
echo
"$CARGO_TARGET_DIR/debug/examples/encrypt_cost" "${encrypt_args[@]}"
echo
xvfb-run -a -s "-screen 0 1280x800x24" \
    "$CARGO_TARGET_DIR/debug/examples/window_bench" --app "$CARGO_TARGET_DIR/release/switchboard" --runs "$runs" "${window_args[@]}"
