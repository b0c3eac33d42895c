//! The desktop app, for the tests that open its real window.
//!
//! The same one line as `src-tauri/src/main.rs`, built as a binary of this
//! package so that `cargo test` builds it in the same run, with the same
//! features as the tests (`CARGO_BIN_EXE_switchboard-under-test`): no
//! second build of the app and its dependencies, and never a stale one.

fn main() {
    switchboard_app::run();
}
