//! The IPC harness: the app's commands on Tauri's mock runtime, called as the UI calls them.

#![allow(dead_code)] // each test file uses its own part

use serde_json::Value;
use switchboard_app::state::{AppState, Config};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};

pub struct Harness {
    _app: tauri::App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    pub dir: tempfile::TempDir,
}

/// The app with its data directory in a fresh temporary directory: in
/// memory (`/dev/shm`) where there is one, so fsyncs do not set the pace.
pub fn harness(demo: bool) -> Harness {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.unwrap();
    let config = Config { demo, data_dir: dir.path().to_owned() };
    let state = tauri::async_runtime::block_on(AppState::start(config));
    let app = switchboard_app::with_commands(mock_builder())
        .plugin(tauri_plugin_notification::init())
        .manage(state)
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    Harness { _app: app, webview, dir }
}

impl Harness {
    pub fn invoke(&self, cmd: &str, body: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        tauri::test::get_ipc_response(&self.webview, request).map(|b| b.deserialize::<Value>().unwrap())
    }

    pub fn error_kind(&self, cmd: &str, body: Value) -> String {
        let err = self.invoke(cmd, body.clone()).expect_err(&format!("{cmd} {body} should fail"));
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "{err}");
        err["kind"].as_str().unwrap_or_else(|| panic!("untyped error: {err}")).to_owned()
    }
}
