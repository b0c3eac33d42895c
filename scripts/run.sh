#!/usr/bin/env bash
# Runs Switchboard, the desktop panel. Installs what is missing first.
#   bash scripts/run.sh --demo    practise on the simulated WhatsApp (offline)
#   bash scripts/run.sh           real WhatsApp connections
# Other flags: --data-dir PATH (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_build_packages
use_shared_target_dir
build_ui
exec cargo run --locked -p switchboard -- "$@"
