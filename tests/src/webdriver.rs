//! WebDriver plumbing shared by the end-to-end tests and the window
//! benchmark (`examples/window_bench.rs`): tauri-driver on a free port, a
//! session that starts the app, and IPC calls from inside the page.
//!
//! Needs a display (run under `xvfb-run`), `tauri-driver` and
//! `WebKitWebDriver` (Debian's `webkit2gtk-driver`).

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// How long any one thing may take to appear in the window.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    /// Ends tauri-driver and everything it started. Killing tauri-driver
    /// alone leaves its WebKitWebDriver behind, holding the test's output
    /// pipe open; both run in a process group of their own (`start_driver`),
    /// so the group is ended, and nothing else on the machine is touched.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tauri_driver() -> PathBuf {
    if let Some(path) = std::env::var_os("TAURI_DRIVER") {
        return path.into();
    }
    let in_cargo = dirs_home().join(".cargo/bin/tauri-driver");
    if in_cargo.exists() { in_cargo } else { PathBuf::from("tauri-driver") }
}

fn dirs_home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

pub async fn start_driver() -> Driver {
    start_driver_with_env(&[]).await
}

/// [`start_driver`], with `env` set for tauri-driver and the app it starts.
pub async fn start_driver_with_env(env: &[(&str, &str)]) -> Driver {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "the end-to-end test needs a display: run it under xvfb-run (scripts/test.sh does)"
    );
    let (port, native) = (free_port(), free_port());
    let child = Command::new(tauri_driver())
        .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
        // With compositing disabled, WebKitWebDriver's screenshot never answers (tried here).
        .env_remove("WEBKIT_DISABLE_COMPOSITING_MODE")
        // The app inherits this: warnings and errors only, so the test's output stays readable.
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Its own process group, with what it starts (WebKitWebDriver, the
        // app), so `Drop` can end all of them by that group's id.
        .process_group(0)
        .spawn()
        .expect("tauri-driver (cargo install tauri-driver --locked; scripts/test.sh does)");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let status = format!("127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&status).await.is_ok() {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("tauri-driver did not listen on {status}");
}

impl Driver {
    /// Starts `app` with `args` in a new WebDriver session.
    pub async fn open(&self, app: &Path, args: &[&str]) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("tauri:options".into(), json!({ "application": app, "args": args }));
        // tauri-driver now and then drops the first session request while its
        // WebKitWebDriver starts ("IncompleteMessage"); a second request succeeds.
        let mut tries = 0;
        loop {
            tries += 1;
            match ClientBuilder::new(HttpConnector::new()).capabilities(caps.clone()).connect(&self.url).await {
                Ok(client) => return client,
                Err(err) if tries < 3 => {
                    eprintln!("WebDriver session attempt {tries} failed, retrying: {err:?}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(err) => panic!("a WebDriver session: {err:?}"),
            }
        }
    }
}

/// Calls a command from inside the page, as the UI does, and returns its JSON.
pub async fn invoke(client: &Client, cmd: &str, args: serde_json::Value) -> serde_json::Value {
    let script = "const [cmd, args, done] = arguments; \
        window.__TAURI_INTERNALS__.invoke(cmd, args).then((v) => done({ ok: v }), (e) => done({ err: e }));";
    let answer = client.execute_async(script, vec![json!(cmd), args]).await.unwrap();
    assert!(answer.get("err").is_none(), "{cmd}: {answer}");
    answer["ok"].clone()
}

/// A D-Bus session bus of the test's own, for what the app does on the
/// session bus (the single-instance check, the tray's watcher): the
/// person's bus, if any, is never touched. Ends with the value.
pub struct PrivateBus {
    child: Child,
    /// The address to put in `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
}

impl PrivateBus {
    pub fn start() -> PrivateBus {
        use std::io::BufRead as _;
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            // Its chatter about activating services is no test's output.
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian's dbus-daemon package)");
        let mut address = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut address).unwrap();
        let address = address.trim().to_owned();
        assert!(address.starts_with("unix:"), "dbus-daemon printed {address:?}");
        PrivateBus { child, address }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
