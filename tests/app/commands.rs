//! The IPC commands through Tauri's mock runtime, as the UI calls them,
//! including bad payloads: every failure is a typed `{kind, message}`.

use serde_json::json;
use switchboard_app::state::{AppState, Config};
use switchboard_engine::lifecycle::Rule;
use switchboard_tests::ipc::harness;

#[test]
fn add_rename_remove_and_history() {
    let h = harness(true);
    let agent = h.invoke("add_agent", json!({"name": "  Support 1 "})).unwrap();
    assert_eq!(agent["name"], "Support 1");
    assert_eq!(agent["status"], "disconnected");
    assert_eq!(agent["connect"]["allowed"], true);
    let id = agent["id"].clone();
    let renamed = h.invoke("rename_agent", json!({"id": id, "name": "Support A"})).unwrap();
    assert_eq!(renamed["name"], "Support A");
    let decision = h.invoke("connect_agent", json!({"id": id})).unwrap();
    assert_eq!(
        decision,
        json!({"allowed": true, "rule": Rule::A2.id(), "block": null, "reason": "clean manual disconnect — cooldown bypassed", "until": null})
    );
    let history = h.invoke("agent_history", json!({"id": id, "limit": 10})).unwrap();
    let allowed = history.as_array().unwrap().iter().find(|e| e["rule"] == Rule::A2.id()).expect("the A-2 entry");
    assert_eq!((allowed["from"].as_str(), allowed["to"].as_str()), (Some("disconnected"), Some("connecting")));
    assert_eq!(allowed["trigger"], "user");
    h.invoke("remove_agent", json!({"id": id})).unwrap();
    assert_eq!(h.error_kind("connect_agent", &json!({"id": id})), "unknown_agent");
}

/// H-1, H-3: an agent's health as the detail panel reads it.
#[test]
fn health_of_an_agent() {
    let h = harness(true);
    let id = h.invoke("add_agent", json!({"name": "Support 1"})).unwrap()["id"].clone();
    h.invoke("connect_agent", json!({"id": id})).unwrap();
    let health = h.invoke("agent_health", json!({"id": id})).unwrap();
    let zero_to_now =
        |uptime: &serde_json::Value| uptime["connectedMs"] == 0 && uptime["coveredMs"].as_i64() >= Some(0);
    assert!(zero_to_now(&health["day"]) && zero_to_now(&health["week"]), "{health}");
    assert_eq!(
        (&health["disconnects"], &health["medianRecoveryMs"], &health["lastConnectedAt"]),
        (&json!(0), &json!(null), &json!(null))
    );
    assert_eq!((&health["recentCloses"], &health["flapping"]), (&json!(0), &json!(false)));
    assert_eq!(health["banRisk"], json!({"pairings": 0, "connects": 1, "pairingsOver": false, "connectsOver": false}));
}

#[test]
fn bad_payloads_are_typed_errors() {
    let h = harness(true);
    let long = "x".repeat(65);
    let cases = [
        ("add_agent", json!({}), "invalid_payload"),
        ("add_agent", json!({"name": 42}), "invalid_payload"),
        ("add_agent", json!({"name": null}), "invalid_payload"),
        ("add_agent", json!({"name": ""}), "invalid_name"),
        ("add_agent", json!({"name": "a\u{0007}b"}), "invalid_name"),
        ("add_agent", json!({"name": long}), "invalid_name"),
        ("connect_agent", json!({"id": "1"}), "invalid_payload"),
        ("connect_agent", json!({"id": 1.5}), "invalid_payload"),
        ("connect_agent", json!({"id": 424_242}), "unknown_agent"),
        ("disconnect_agent", json!({"id": -1}), "unknown_agent"),
        ("rename_agent", json!({"id": 1}), "invalid_payload"),
        ("agent_history", json!({"id": 1, "limit": -3}), "invalid_payload"),
        ("agent_health", json!({"id": "1"}), "invalid_payload"),
        ("agent_health", json!({"id": 424_242}), "unknown_agent"),
        ("request_pair_code", json!({"id": 1, "phone": 49151}), "invalid_payload"),
        ("update_settings", json!({"changes": [{"key": "max_retries", "value": 0}]}), "invalid_setting"),
        ("update_settings", json!({"changes": [{"key": "auth_cooldown_ms", "value": -5}]}), "invalid_setting"),
        ("update_settings", json!({"changes": [{"key": "no_such_key", "value": 1}]}), "invalid_setting"),
        ("update_settings", json!({"changes": {"key": "max_retries"}}), "invalid_payload"),
        ("simulate", json!({"id": 1, "action": {"action": "explode"}}), "invalid_payload"),
        ("simulate", json!({"id": 1, "action": "scan"}), "invalid_payload"),
        ("subscribe", json!({"onEvent": null}), "invalid_payload"),
    ];
    h.invoke("add_agent", json!({"name": "Support"})).unwrap();
    for (cmd, body, kind) in cases {
        assert_eq!(h.error_kind(cmd, &body), kind, "{cmd} {body}");
    }
    assert_eq!(h.error_kind("add_agent", &json!({"name": "SUPPORT"})), "duplicate_name");
    // Nothing was written by any rejected call.
    let settings = h.invoke("get_settings", json!({})).unwrap();
    let retries = settings.as_array().unwrap().iter().find(|s| s["key"] == "max_retries").unwrap();
    assert_eq!(retries["value"], 5);
}

#[test]
fn settings_are_read_and_changed_with_their_ranges() {
    let h = harness(true);
    let settings = h.invoke("get_settings", json!({})).unwrap();
    let auth = settings.as_array().unwrap().iter().find(|s| s["key"] == "auth_cooldown_ms").unwrap().clone();
    assert_eq!(
        auth,
        json!({"key": "auth_cooldown_ms", "value": 300_000, "min": 1000, "max": 86_400_000, "unit": "ms"})
    );
    let after = h.invoke("update_settings", json!({"changes": [{"key": "auth_cooldown_ms", "value": 60000}]})).unwrap();
    let auth = after.as_array().unwrap().iter().find(|s| s["key"] == "auth_cooldown_ms").unwrap().clone();
    assert_eq!(auth["value"], 60000);
}

#[test]
fn demo_actions_drive_the_simulated_whatsapp() {
    let h = harness(true);
    let id = h.invoke("add_agent", json!({"name": "a"})).unwrap()["id"].clone();
    assert_eq!(h.error_kind("simulate", &json!({"id": id, "action": {"action": "scan"}})), "no_connection");
    h.invoke("connect_agent", json!({"id": id})).unwrap();
    h.wait_for_rule(&id, Rule::Q1);
    assert_eq!(
        h.error_kind("simulate", &json!({"id": id, "action": {"action": "drop", "code": 7}})),
        "invalid_payload"
    );
    h.invoke("simulate", json!({"id": id, "action": {"action": "drop", "code": 401}})).unwrap();
    h.wait_for_rule(&id, Rule::L2);
    let decision = h.invoke("connect_agent", json!({"id": id})).unwrap();
    assert_eq!(decision["allowed"], false);
    assert_eq!(decision["rule"], Rule::A3.id());
    assert!(decision["until"].as_i64().is_some());
}

/// agent events name the QR by its key; its image comes from
/// `qr_image`, and follows the QR when it changes.
#[test]
fn q1_the_qr_image_is_asked_for_and_matches_the_agents_key() {
    let h = harness(true);
    let id = h.invoke("add_agent", json!({"name": "a"})).unwrap()["id"].clone();
    assert_eq!(h.invoke("qr_image", json!({"id": id})).unwrap(), json!(null), "no QR before a connect");
    h.invoke("connect_agent", json!({"id": id})).unwrap();
    h.wait_for_rule(&id, Rule::Q1);
    let agent = h.snapshot()["agents"][0].clone();
    assert!(agent.get("qrPng").is_none(), "agent events carry no image: {agent}");
    let key = agent["qrKey"].as_str().expect("a QR key while pairing").to_owned();
    let image = h.invoke("qr_image", json!({"id": id})).unwrap();
    assert_eq!(image["key"], key.as_str());
    assert!(image["png"].as_str().unwrap().starts_with("data:image/png;base64,"), "{image}");
    assert_eq!(h.invoke("qr_image", json!({"id": id})).unwrap(), image, "the same QR, the same image");
    assert_eq!(h.error_kind("qr_image", &json!({"id": 999})), "unknown_agent");
    assert_eq!(h.error_kind("qr_image", &json!({"id": "one"})), "invalid_payload");
    h.invoke("disconnect_agent", json!({"id": id})).unwrap();
    assert_eq!(h.snapshot()["agents"][0]["qrKey"], json!(null));
    assert_eq!(h.invoke("qr_image", json!({"id": id})).unwrap(), json!(null));
}

/// The demo churn: the engine itself connects and disconnects the agents
/// in turn, tells when each call was made, counts the changes, and leaves
/// every agent disconnected; bad arguments are typed errors.
#[test]
fn demo_churn_makes_changes_from_the_engine_and_cleans_up() {
    let h = harness(true);
    let ids: Vec<serde_json::Value> =
        (0..4).map(|i| h.invoke("add_agent", json!({"name": format!("c{i}")})).unwrap()["id"].clone()).collect();
    let churn = h.invoke("simulate_churn", json!({"ids": ids, "changesPerSecond": 60, "seconds": 1})).unwrap();
    let calls = churn["calls"].as_array().unwrap();
    // 60 changes a second at 1.5 per call: about 40 calls in one second.
    assert!((20..=45).contains(&calls.len()), "{} calls", calls.len());
    assert_eq!(calls[0]["id"], ids[0]);
    assert_eq!(calls[1]["id"], ids[1]);
    assert!(calls.windows(2).all(|w| w[0]["at"].as_i64() <= w[1]["at"].as_i64()), "calls in order");
    let changes = churn["changes"].as_array().unwrap();
    assert!(changes.len() >= calls.len() / 2, "{churn}");
    let first_change = changes.iter().find(|c| c["id"] == ids[0]).expect("agent 1 changed");
    assert_eq!(first_change["status"], "connecting");
    assert!(first_change["at"].as_i64() >= calls[0]["at"].as_i64());
    let agents = h.snapshot()["agents"].clone();
    assert!(agents.as_array().unwrap().iter().all(|a| a["status"] == "disconnected"), "{agents}");
    for (body, kind) in [
        (json!({"ids": [], "changesPerSecond": 10, "seconds": 1}), "invalid_payload"),
        (json!({"ids": ids, "changesPerSecond": 0, "seconds": 1}), "invalid_payload"),
        (json!({"ids": ids, "changesPerSecond": 10, "seconds": 601}), "invalid_payload"),
        (json!({"ids": [999], "changesPerSecond": 10, "seconds": 1}), "unknown_agent"),
    ] {
        assert_eq!(h.error_kind("simulate_churn", &body), kind, "{body}");
    }
    assert_eq!(
        harness(false).error_kind("simulate_churn", &json!({"ids": ids, "changesPerSecond": 10, "seconds": 1})),
        "not_demo"
    );
}

#[test]
fn without_demo_the_app_is_real_warns_and_refuses_simulation() {
    // No connect here: in real mode it would dial WhatsApp (tests stay offline).
    let h = harness(false);
    let id = h.invoke("add_agent", json!({"name": "a"})).unwrap()["id"].clone();
    assert_eq!(h.error_kind("simulate", &json!({"id": id, "action": {"action": "scan"}})), "not_demo");
    let snapshot = h.snapshot();
    assert_eq!(snapshot["mode"], "real");
    assert!(snapshot["modeNote"].as_str().unwrap().contains("not an official WhatsApp client"), "{snapshot}");
    assert!(h.data_dir.join("switchboard.db").is_file(), "real agents live in their own database");
}

#[test]
fn a_database_from_a_newer_version_is_reported_not_crashed_on() {
    let dir = tempfile::tempdir().unwrap();
    rusqlite_user_version(&dir.path().join("demo.db"), 99);
    let state = tauri::async_runtime::block_on(AppState::start(Config { demo: true, data_dir: dir.path().to_owned() }));
    let err = tauri::async_runtime::block_on(state.engine()).err().expect("refused");
    assert_eq!(err.kind, "schema_too_new");
}

fn rusqlite_user_version(path: &std::path::Path, version: i64) {
    // The engine refuses to write a newer schema; write one with SQLite directly.
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "user_version", version).unwrap();
}

/// B-1, B-3 through IPC: a bulk connect answers per agent with its outcome
/// kind, the audit log returns it filtered, and bad payloads are typed errors.
#[test]
fn b1_b3_bulk_actions_and_the_audit_log_over_ipc() {
    let h = harness(true);
    let a = h.invoke("add_agent", json!({"name": "Sales 1"})).unwrap()["id"].clone();
    let b = h.invoke("add_agent", json!({"name": "Sales 2"})).unwrap()["id"].clone();
    h.invoke("connect_agent", json!({"id": b})).unwrap();
    let outcomes = h.invoke("bulk_action", json!({"action": "connect", "ids": [a, b, 9_999]})).unwrap();
    let kinds: Vec<_> =
        outcomes.as_array().unwrap().iter().map(|o| o["outcome"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["connecting", "in_progress", "gone"]);
    assert_eq!(outcomes[0]["name"], "Sales 1");
    assert!(outcomes[1]["reason"].as_str().unwrap().starts_with("already in progress"), "{outcomes}");

    let entries = h.invoke("audit_log", json!({"query": {"action": "bulk_connect", "limit": 10}})).unwrap();
    let entry = &entries[0];
    assert_eq!(entries.as_array().unwrap().len(), 1);
    assert_eq!(entry["outcome"], "1 connecting, 1 already connected or connecting, 1 no longer there");
    assert_eq!(entry["agents"].as_array().unwrap().len(), 3);
    assert!(!entry["osUser"].as_str().unwrap().is_empty());
    let of_a = h.invoke("audit_log", json!({"query": {"agent": a, "limit": 10}})).unwrap();
    let actions: Vec<_> = of_a.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    assert_eq!(actions, ["bulk_connect", "add"]);

    for (command, args) in [
        ("bulk_action", json!({"action": "connect", "ids": []})),
        ("bulk_action", json!({"action": "explode", "ids": [a]})),
        ("bulk_action", json!({"action": "connect"})),
        ("audit_log", json!({"query": {"limit": 0}})),
        ("audit_log", json!({"query": {"limit": 10, "action": "unknown"}})),
        ("audit_log", json!({"query": {"limit": 10, "colour": "red"}})),
        ("save_csv", json!({"fileName": "../x", "contents": "a"})),
    ] {
        assert_eq!(h.error_kind(command, &args), "invalid_payload", "{command} {args}");
    }
}
