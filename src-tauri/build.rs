//! Declares every command of the app, so each gets an `allow-…` permission
//! that `capabilities/default.json` grants explicitly (least privilege).

/// Every IPC command; keep in step with `src/commands/` and the capability file.
const COMMANDS: &[&str] = &[
    "subscribe",
    "credentials_state",
    "unlock_credentials",
    "choose_credentials_protection",
    "add_agent",
    "rename_agent",
    "remove_agent",
    "connect_agent",
    "disconnect_agent",
    "request_pair_code",
    "agent_history",
    "agent_health",
    "get_settings",
    "update_settings",
    "simulate",
    "simulate_unreachable",
    "simulate_churn",
    "qr_image",
    "try_now",
    "pause_reconnects",
    "desktop_info",
    "set_autostart",
    "set_close_action",
    "answer_close",
    "quit_app",
    "bulk_action",
    "audit_log",
    "save_csv",
];

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri build script");
}
