//! The IPC harness: the app's commands on Tauri's mock runtime, called as the UI calls them.

use serde_json::Value;
use switchboard_app::state::{AppState, Config};
use switchboard_engine::lifecycle::Rule;
use switchboard_whatsapp::protection::{KeyVault, Vault};
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};

pub struct Harness {
    app: tauri::App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    pub data_dir: std::path::PathBuf,
    /// Deletes the data directory when the harness goes, if it made it.
    temp: Option<tempfile::TempDir>,
}

/// The app with its data directory in a fresh temporary directory: in
/// memory (`/dev/shm`) where there is one, so fsyncs do not set the pace.
pub fn harness(demo: bool) -> Harness {
    let temp = crate::temp_dir();
    let mut h = harness_at(demo, temp.path().to_owned());
    h.temp = Some(temp);
    h
}

/// The app on the data directory `data_dir`. In real mode the tests keep
/// the credentials unencrypted, as a person without a keyring may choose
/// (P-7), unless the data directory chose already: the choice itself is
/// tested on its own ([`harness_waiting`]).
pub fn harness_at(demo: bool, data_dir: std::path::PathBuf) -> Harness {
    let config = Config { demo, data_dir: data_dir.clone() };
    if !demo {
        let vault = Vault::new(config.credentials_dir());
        if vault.protection().unwrap().is_none() {
            vault.choose_unencrypted().unwrap();
        }
    }
    let state = tauri::async_runtime::block_on(AppState::start(config));
    built(state, data_dir)
}

/// The real app on `data_dir` with `keyring` for the desktop's, its engine
/// starting in the background as at launch: it waits for the window's
/// passphrase or choice when the credentials need one (P-7).
pub fn harness_waiting(data_dir: std::path::PathBuf, keyring: std::sync::Arc<dyn KeyVault>) -> Harness {
    let state = AppState::with_keyring(Config { demo: false, data_dir: data_dir.clone() }, keyring);
    let h = built(state, data_dir);
    let handle = tauri::Manager::app_handle(&h.app).clone();
    tauri::async_runtime::spawn(async move {
        let _ = tauri::Manager::state::<AppState>(&handle).engine().await;
    });
    h
}

fn built(state: AppState, data_dir: std::path::PathBuf) -> Harness {
    let app = switchboard_app::with_commands(mock_builder())
        .plugin(tauri_plugin_notification::init())
        .manage(state)
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = WebviewWindowBuilder::new(&app, "main", tauri::WebviewUrl::default()).build().unwrap();
    Harness { app, webview, data_dir, temp: None }
}

impl Harness {
    pub fn invoke(&self, cmd: &str, body: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Json(body),
            headers: tauri::http::HeaderMap::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        tauri::test::get_ipc_response(&self.webview, request).map(|b| b.deserialize::<Value>().unwrap())
    }

    /// [`Harness::shutdown`], given at most `limit`; whether it finished.
    pub fn shutdown_within(&self, limit: std::time::Duration) -> bool {
        use tauri::Manager;
        tauri::async_runtime::block_on(async {
            tokio::time::timeout(limit, self.app.state::<AppState>().shutdown()).await.is_ok()
        })
    }

    /// Closes the app as its window closing would (P-4), so its files are let go.
    pub fn shutdown(&self) {
        use tauri::Manager;
        tauri::async_runtime::block_on(self.app.state::<AppState>().shutdown());
    }

    /// What the window shows right now: the snapshot a new subscription gets.
    pub fn snapshot(&self) -> Value {
        self.invoke("subscribe", serde_json::json!({"onEvent": "__CHANNEL__:1"})).expect("a snapshot")
    }

    /// Waits (in real time: the engine runs on Tauri's runtime here) until
    /// the agent's newest history entry has the given rule, at most 5 s.
    pub fn wait_for_rule(&self, id: &Value, rule: Rule) {
        for _ in 0..500 {
            let history = self.invoke("agent_history", serde_json::json!({"id": id, "limit": 1})).unwrap();
            if history[0]["rule"] == rule.id() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("agent {id} never reached a {rule} entry");
    }

    pub fn error_kind(&self, cmd: &str, body: &Value) -> String {
        let err = self.invoke(cmd, body.clone()).expect_err(&format!("{cmd} {body} should fail"));
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "{err}");
        err["kind"].as_str().unwrap_or_else(|| panic!("untyped error: {err}")).to_owned()
    }
}
