#!/usr/bin/env bash
# Builds Switchboard's Linux packages with Tauri's bundler: a .deb (Debian,
# Ubuntu) and an .rpm (Fedora, openSUSE) of the release app, and prints
# where they are and how big. Installs what is missing first (Tauri's CLI
# from npm, pinned: scripts/packaging/). AppImage is not built: its tools
# are downloaded at build time.
#
# Usage: bash scripts/package.sh
#        bash scripts/package.sh --binary PATH --out DIR [--bundles deb]
#   --binary PATH  bundle this already built app (as a debug build) instead
#                  of building the release app: the installed-package test
#                  (tests/app/package.rs) packs the debug app its run built
#   --out DIR      copy the packages to DIR as well
#   --bundles LIST deb, rpm or deb,rpm (the default)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

binary=
out=
bundles=deb,rpm
while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) binary=$(realpath "$2"); shift 2 ;;
        --out) out=$2; shift 2 ;;
        --bundles) bundles=$2; shift 2 ;;
        *) echo "usage: bash scripts/package.sh [--binary PATH --out DIR] [--bundles deb,rpm]" >&2; exit 2 ;;
    esac
done

ensure_tauri_cli
# The bundler looks for the tray's library through pkg-config (it names it
# in the packages' dependencies), so it needs the development files.
ensure_apt_packages libayatana-appindicator3-dev
if [[ -z $binary ]]; then
    ensure_build_packages
    use_shared_target_dir
    build_ui
    echo "==> building the release app"
    cargo build --release --locked -p switchboard
    target=$CARGO_TARGET_DIR
    profile=()
    bundle_dir=$target/release/bundle
else
    [[ -x $binary ]] || { echo "error: no app binary at $binary" >&2; exit 1; }
    [[ -n $out ]] || { echo "error: --binary needs --out DIR (its bundle directory is temporary)" >&2; exit 2; }
    ensure_apt_packages binutils
    # The bundler takes the app from <target dir>/debug/<binary name>: a
    # target directory of its own holds a copy there, so the shared one is
    # left alone. The copy is stripped: a debug app carries 200 MB of line
    # tables that would only slow the compression and the install.
    target=$(mktemp -d)
    trap 'rm -rf "$target"' EXIT
    mkdir -p "$target/debug"
    strip -o "$target/debug/switchboard" "$binary"
    profile=(--debug)
    bundle_dir=$target/debug/bundle
fi

echo "==> tauri bundle ${profile[*]} --bundles $bundles"
rm -rf "$bundle_dir"
# --ci: never prompt. Nothing to sign for .deb and .rpm here (--no-sign).
(cd src-tauri && CARGO_TARGET_DIR=$target "$TAURI_CLI" bundle "${profile[@]}" --bundles "$bundles" --ci --no-sign)

packages=()
while IFS= read -r -d '' file; do
    packages+=("$file")
done < <(find "$bundle_dir" -maxdepth 2 -type f \( -name '*.deb' -o -name '*.rpm' \) -print0 | sort -z)
if ((${#packages[@]} == 0)); then
    echo "error: the bundler made no package in $bundle_dir" >&2
    exit 1
fi
if [[ -n $out ]]; then
    mkdir -p "$out"
    cp "${packages[@]}" "$out/"
    for i in "${!packages[@]}"; do
        packages[i]=$(realpath "$out/$(basename "${packages[i]}")")
    done
fi
echo "==> packages"
for file in "${packages[@]}"; do
    bytes=$(stat -c %s "$file")
    awk -v f="$file" -v b="$bytes" 'BEGIN { printf "%s  %.1f MB (%.2f MiB, %d bytes)\n", f, b / 1e6, b / 1048576, b }'
done
