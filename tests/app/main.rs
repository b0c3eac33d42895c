//! The whole app across crates, in one test binary, so Tauri and WebKit are
//! linked once: the IPC commands through Tauri's mock runtime (`commands`,
//! `ipc_properties`), disk and database faults (`faults`), the generated
//! TypeScript bindings (`bindings`), the real window through tauri-driver
//! (`e2e`, and the operators' bulk actions, scan queue and audit log in
//! `e2e_operators`; by keyboard alone, with an accessibility check, in
//! `e2e_keyboard`), the kill -9 torture of the engine's database (`torture`), and
//! the installed `.deb` (`package`, ignored unless asked for: it installs a
//! system package; `scripts/test.sh` runs it as root with `--ignored`).
//!
//! `cargo test -p switchboard-tests --test app -- --skip e2e --skip faults`
//! runs what needs neither a display nor root.

mod bindings;
mod commands;
mod credentials;
mod e2e;
mod e2e_credentials;
mod e2e_keyboard;
mod e2e_operators;
mod faults;
mod ipc_properties;
mod package;
mod torture;
