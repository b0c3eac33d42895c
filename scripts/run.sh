#!/usr/bin/env bash
# Runs Switchboard. Installs what is missing first. Usage: bash scripts/run.sh
#
# Until the desktop shell lands, this runs the engine's walk-through: the
# seed's scenarios on the simulated WhatsApp and a real SQLite file.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_apt_packages "${BASE_PACKAGES[@]}"
use_shared_target_dir
exec cargo run --locked -p switchboard-engine --example walkthrough -- "$@"
