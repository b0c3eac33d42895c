//! P-7 through the window's commands: the start waits for the credentials'
//! key; the passphrase asked at each start (a wrong one changes nothing);
//! the first start without a keyring asks, and records the person's choice;
//! a keyring opens them by itself; plain stores of an earlier version are
//! encrypted before the engine starts.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use switchboard_tests::ipc::{harness, harness_waiting};
use switchboard_whatsapp::protection::{KeyVault, SQLITE_HEADER, Vault};

/// A keyring for one test: unreachable, or holding at most one key.
struct TestKeyring {
    reachable: bool,
    held: Mutex<Option<String>>,
}

impl TestKeyring {
    fn none() -> Arc<TestKeyring> {
        Arc::new(TestKeyring { reachable: false, held: Mutex::new(None) })
    }
    fn empty() -> Arc<TestKeyring> {
        Arc::new(TestKeyring { reachable: true, held: Mutex::new(None) })
    }
}

impl KeyVault for TestKeyring {
    fn load(&self) -> Result<Option<String>, String> {
        if !self.reachable {
            return Err("no Secret Service here".into());
        }
        Ok(self.held.lock().unwrap().clone())
    }
    fn save(&self, secret: &str) -> Result<(), String> {
        if !self.reachable {
            return Err("no Secret Service here".into());
        }
        *self.held.lock().unwrap() = Some(secret.to_owned());
        Ok(())
    }
}

/// A plain store as an earlier version left it for agent 1.
fn plain_store(data_dir: &std::path::Path) -> std::path::PathBuf {
    let dir = data_dir.join("whatsapp/agent-1");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("session.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE device (jid TEXT); INSERT INTO device VALUES ('secret-jid');").unwrap();
    path
}

fn starts_plain(path: &std::path::Path) -> bool {
    std::fs::read(path).unwrap().starts_with(SQLITE_HEADER)
}

fn notices(snapshot: &Value) -> String {
    snapshot["notices"].to_string()
}

#[test]
fn p7_the_window_unlocks_the_credentials_with_the_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    Vault::new(dir.path().join("whatsapp")).choose_passphrase("correct horse battery").unwrap();
    let store = plain_store(dir.path());
    let h = harness_waiting(dir.path().to_owned(), TestKeyring::empty());
    assert_eq!(h.invoke("credentials_state", json!({})).unwrap(), json!({"kind": "needs_passphrase"}));

    let before = std::fs::read(dir.path().join("whatsapp/key.db")).unwrap();
    assert_eq!(h.error_kind("unlock_credentials", &json!({"passphrase": "wrong horse battery"})), "wrong_passphrase");
    assert_eq!(h.error_kind("unlock_credentials", &json!({"passphrase": ""})), "wrong_passphrase");
    assert_eq!(h.error_kind("unlock_credentials", &json!({"passphrase": 42})), "invalid_payload");
    assert_eq!(h.error_kind("unlock_credentials", &json!({})), "invalid_payload");
    assert_eq!(std::fs::read(dir.path().join("whatsapp/key.db")).unwrap(), before, "a wrong passphrase changed key.db");
    assert!(starts_plain(&store), "nothing was migrated while locked");
    assert_eq!(
        h.error_kind("choose_credentials_protection", &json!({"choice": {"kind": "unencrypted"}})),
        "not_locked"
    );

    h.invoke("unlock_credentials", json!({"passphrase": "correct horse battery"})).unwrap();
    let snapshot = h.snapshot();
    assert_eq!(snapshot["mode"], "real");
    assert!(!notices(&snapshot).contains("unencrypted"), "{snapshot}");
    assert_eq!(h.invoke("credentials_state", json!({})).unwrap(), json!({"kind": "ready", "protection": "passphrase"}));
    assert!(!starts_plain(&store), "the plain store was encrypted at start");
    assert_eq!(h.error_kind("unlock_credentials", &json!({"passphrase": "correct horse battery"})), "not_locked");
    h.shutdown();
}

#[test]
fn p7_the_first_start_without_a_keyring_asks_and_records_the_choice() {
    // Unencrypted, chosen explicitly: the window warns for as long as it lasts.
    let dir = tempfile::tempdir().unwrap();
    let h = harness_waiting(dir.path().to_owned(), TestKeyring::none());
    let state = h.invoke("credentials_state", json!({})).unwrap();
    assert_eq!(state["kind"], "needs_choice");
    assert!(state["keyringProblem"].as_str().unwrap().contains("no Secret Service here"), "{state}");
    assert_eq!(h.error_kind("unlock_credentials", &json!({"passphrase": "correct horse battery"})), "not_locked");
    assert_eq!(h.error_kind("choose_credentials_protection", &json!({"choice": {"kind": "rot13"}})), "invalid_payload");
    assert_eq!(
        h.error_kind("choose_credentials_protection", &json!({"choice": {"kind": "passphrase"}})),
        "invalid_payload"
    );
    assert_eq!(
        h.error_kind(
            "choose_credentials_protection",
            &json!({"choice": {"kind": "passphrase", "passphrase": "short"}})
        ),
        "invalid_passphrase"
    );
    assert!(!dir.path().join("whatsapp/protection").exists(), "a refused choice recorded something");
    h.invoke("choose_credentials_protection", json!({"choice": {"kind": "unencrypted"}})).unwrap();
    let snapshot = h.snapshot();
    assert!(notices(&snapshot).contains("stored unencrypted"), "{snapshot}");
    assert_eq!(
        h.invoke("credentials_state", json!({})).unwrap(),
        json!({"kind": "ready", "protection": "unencrypted"})
    );
    h.shutdown();
    drop(h);
    let again = harness_waiting(dir.path().to_owned(), TestKeyring::none());
    assert_eq!(again.invoke("credentials_state", json!({})).unwrap()["protection"], "unencrypted", "recorded");
    again.shutdown();

    // A passphrase, chosen: the next start asks for it.
    let dir = tempfile::tempdir().unwrap();
    let h = harness_waiting(dir.path().to_owned(), TestKeyring::none());
    h.invoke(
        "choose_credentials_protection",
        json!({"choice": {"kind": "passphrase", "passphrase": "correct horse battery"}}),
    )
    .unwrap();
    assert_eq!(h.invoke("credentials_state", json!({})).unwrap()["protection"], "passphrase");
    h.shutdown();
    drop(h);
    let again = harness_waiting(dir.path().to_owned(), TestKeyring::none());
    assert_eq!(again.invoke("credentials_state", json!({})).unwrap()["kind"], "needs_passphrase");
}

#[test]
fn p7_a_keyring_opens_the_credentials_by_itself_and_a_lost_key_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let store = plain_store(dir.path());
    let keyring = TestKeyring::empty();
    let h = harness_waiting(dir.path().to_owned(), keyring.clone());
    assert_eq!(h.invoke("credentials_state", json!({})).unwrap(), json!({"kind": "ready", "protection": "keyring"}));
    let snapshot = h.snapshot();
    assert!(!notices(&snapshot).contains("unencrypted"), "{snapshot}");
    assert!(!starts_plain(&store), "the plain store was encrypted at start");
    h.shutdown();
    drop(h);

    // The keyring lost the key: a clear error, and the store is untouched.
    let before = std::fs::read(&store).unwrap();
    let h = harness_waiting(dir.path().to_owned(), TestKeyring::empty());
    let state = h.invoke("credentials_state", json!({})).unwrap();
    assert_eq!(state["kind"], "failed");
    assert_eq!(state["error"]["kind"], "key_missing", "{state}");
    let snapshot = h.snapshot();
    assert_eq!(snapshot["startupError"]["kind"], "key_missing");
    assert_eq!(std::fs::read(&store).unwrap(), before);
}

/// Quitting (the tray's Quit, the session ending) while the window waits
/// for the passphrase or the first choice ends the app: there is no engine
/// to close, and none is waited for.
#[test]
fn p7_quitting_while_the_credentials_wait_for_the_person_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    Vault::new(dir.path().join("whatsapp")).choose_passphrase("correct horse battery").unwrap();
    let h = harness_waiting(dir.path().to_owned(), TestKeyring::empty());
    assert_eq!(h.invoke("credentials_state", json!({})).unwrap()["kind"], "needs_passphrase");
    assert!(h.shutdown_within(std::time::Duration::from_secs(10)), "the shutdown waited for the passphrase");

    let dir = tempfile::tempdir().unwrap();
    let h = harness_waiting(dir.path().to_owned(), TestKeyring::none());
    assert_eq!(h.invoke("credentials_state", json!({})).unwrap()["kind"], "needs_choice");
    assert!(h.shutdown_within(std::time::Duration::from_secs(10)), "the shutdown waited for the choice");
}

#[test]
fn p7_demo_mode_has_no_credentials_to_protect() {
    let h = harness(true);
    assert_eq!(h.invoke("credentials_state", json!({})).unwrap(), json!({"kind": "ready", "protection": "not_needed"}));
    assert_eq!(h.error_kind("unlock_credentials", &json!({"passphrase": "correct horse battery"})), "not_locked");
    assert_eq!(
        h.error_kind("choose_credentials_protection", &json!({"choice": {"kind": "unencrypted"}})),
        "not_locked"
    );
}
