# Shared helpers for run.sh and test.sh. Sourced, not run.

# Installs the Debian/Ubuntu packages that are missing, and only those, so a
# second run costs nothing. Uses sudo when not root.
ensure_apt_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    echo "==> installing system packages: ${missing[*]}"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# What a Tauri 2 build needs (SETUP.md), plus a C compiler for SQLite,
# OpenSSL's headers for SQLCipher (the credentials' encryption links the
# system's libcrypto), and Node.js for the UI when the machine has none.
ensure_build_packages() {
    # libayatana-appindicator3-1: the tray icon's library, loaded at run time
    # (the .deb depends on it; installed here, the installed-package test
    # resolves that without a download).
    local packages=(build-essential pkg-config libssl-dev libwebkit2gtk-4.1-dev libayatana-appindicator3-1)
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        packages+=(nodejs npm)
    fi
    ensure_apt_packages "${packages[@]}"
}

# Builds go to a target directory outside the checkout, so a fresh clone (CI)
# reuses earlier builds. Override with CARGO_TARGET_DIR.
use_shared_target_dir() {
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}"
    mkdir -p "$CARGO_TARGET_DIR"
}

# The window tests and benchmarks drive the app through tauri-driver, which
# needs Xvfb for a display and WebKitWebDriver; dbus-daemon gives a test a
# session bus of its own (the single-instance check lives there). The colour
# emoji font is what the installed package depends on too: names with emoji
# show as emoji, not empty boxes. xdotool types into the system's save dialog
# (a GTK window WebDriver cannot reach) in the export test. The keyring test
# starts GNOME's keyring daemon in a D-Bus session of its own (dbus-run-session,
# from dbus-daemon).
ensure_window_driver() {
    ensure_apt_packages xvfb xauth webkit2gtk-driver dbus-daemon gnome-keyring fonts-noto-color-emoji xdotool
    if ! command -v tauri-driver >/dev/null 2>&1 && [[ ! -x "$HOME/.cargo/bin/tauri-driver" ]]; then
        echo "==> cargo install tauri-driver"
        cargo install tauri-driver --locked
    fi
}

# What test.sh and bench.sh both need before they build and drive the app:
# build tools, the shared target directory, the window driver, and the UI
# the app embeds. (Each test ends the tauri-driver it started, with its
# WebKitWebDriver, by process group: tests/src/webdriver.rs.)
prepare_app_with_window_driver() {
    ensure_build_packages
    use_shared_target_dir
    ensure_window_driver
    build_ui
}

# Makes sure `cargo TOOL` works, adding its rustup component once if needed;
# exits when it cannot: a check that cannot run must fail the run, not be
# skipped with a warning nobody reads.
require_cargo_component() {
    local tool=$1 component=$2
    if cargo "$tool" --version >/dev/null 2>&1; then
        return 0
    fi
    if command -v rustup >/dev/null 2>&1 && rustup component add "$component" >/dev/null 2>&1; then
        return 0
    fi
    echo "error: cargo $tool is not available and could not be installed (rustup component add $component)" >&2
    exit 1
}

# Installs the UI's npm packages (exactly the lockfile) when they changed, and
# builds the UI into ui/dist, which the app embeds.
build_ui() {
    (
        cd ui
        if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
            # `npm install`, not `npm ci`: npm 11 here writes a lockfile without
            # other platforms' optional packages (rollup's), which its own `npm ci`
            # then rejects as out of sync. `install` still takes the locked versions.
            echo "==> npm install"
            npm install --no-audit --no-fund --loglevel=error
        fi
        echo "==> building the UI"
        npm run --silent build
    )
}

# Tauri's CLI, for its bundler (scripts/package.sh): the npm package ships a
# ready-built binary, where `cargo install tauri-cli` takes 10–20 minutes
# here. Its version is pinned by scripts/packaging/package-lock.json and
# installed with `npm ci` outside the checkout (so a fresh clone reuses it),
# again only when that lockfile changed. Sets TAURI_CLI to the command.
ensure_tauri_cli() {
    local dir="$HOME/.cache/switchboard/tauri-cli"
    TAURI_CLI="$dir/node_modules/.bin/tauri"
    if cmp -s scripts/packaging/package-lock.json "$dir/package-lock.json" && [[ -x "$TAURI_CLI" ]]; then
        return 0
    fi
    echo "==> npm ci (Tauri's CLI, for its bundler)"
    # Installed beside the old copy, then swapped in, so an interrupted
    # install never leaves a half-filled directory that looks complete.
    local fresh
    mkdir -p "$(dirname "$dir")"
    fresh=$(mktemp -d "$dir.XXXXXX")
    cp scripts/packaging/package.json scripts/packaging/package-lock.json "$fresh/"
    (cd "$fresh" && npm ci --no-audit --no-fund --loglevel=error)
    rm -rf "$dir"
    mv "$fresh" "$dir"
}
