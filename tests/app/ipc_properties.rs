//! Bad input at every IPC door: random payloads for every command, as a
//! broken or hostile page could send them. Each call either succeeds or
//! fails with a typed `{kind, message}` of the known kinds; nothing panics;
//! and a rejected call leaves the database exactly as it was.
//!
//! `IPC_PROPERTY_CASES` sets the number of calls (10,000 by default).
//!
//! Commands whose success starts asynchronous work (connect, disconnect,
//! simulate, remove) get only ids of agents that do not exist, so every
//! change to the database comes from a call that has returned and the
//! before/after comparison is exact. Their accepted paths are covered by
//! `commands.rs` and the end-to-end tests.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

/// Every kind a command may answer with for bad input.
const EXPECTED_KINDS: &[&str] = &[
    "invalid_payload",
    "invalid_name",
    "duplicate_name",
    "unknown_agent",
    "invalid_setting",
    "invalid_phone",
    "not_pairing",
    "no_connection",
    // P-7's commands in an app whose credentials are not waiting (demo mode).
    "not_locked",
];

const CASES: u32 = 10_000;

/// The agents the test adds first (ids 1..=3). Agents added by random calls
/// get the next ids, so "unknown" ids are drawn from above `UNKNOWN_FROM`.
const EXISTING: [i64; 3] = [1, 2, 3];
const UNKNOWN_FROM: i64 = 1_000_000_000;

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Names: anything printable or not, boundary lengths, and existing names in other cases.
fn name_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => "\\PC{0,70}".prop_map(Value::from),
        2 => "[\\x00-\\x1f\\u{7f}\\u{200b}\\u{202e} a]{0,10}".prop_map(Value::from),
        1 => (60usize..70).prop_map(|n| Value::from("n".repeat(n))),
        1 => prop::sample::select(vec!["ALPHA", "beta", " Gamma ", "alpha\u{0}"]).prop_map(Value::from),
        1 => any_json(),
    ]
}

/// Ids: existing ones only where `existing` says so, else unknown or malformed.
fn id_value(existing: bool) -> impl Strategy<Value = Value> {
    let unknown = prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0i64),
        Just(-1i64),
        (UNKNOWN_FROM..2 * UNKNOWN_FROM),
        any::<i64>().prop_filter("not an id an agent could have", |id| !(1..UNKNOWN_FROM).contains(id)),
    ]
    .prop_map(Value::from);
    let known = prop::sample::select(EXISTING.to_vec()).prop_map(Value::from);
    let known_weight = if existing { 3 } else { 0 };
    prop_oneof![
        known_weight => known,
        3 => unknown,
        1 => prop_oneof![Just(json!("1")), Just(json!(1.5)), Just(json!(1e300)), Just(json!(u64::MAX))],
        1 => any_json(),
    ]
}

fn phone_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => "\\+?[0-9 ()\\-]{0,20}".prop_map(Value::from),
        1 => "\\PC{0,20}".prop_map(Value::from),
        1 => any_json(),
    ]
}

/// Settings changes: known keys with any value, unknown keys, and malformed lists.
fn changes_value(keys: Vec<String>) -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        4 => prop::sample::select(keys).prop_map(Value::from),
        1 => ".{0,20}".prop_map(Value::from),
        1 => any_json(),
    ];
    let value = prop_oneof![
        2 => prop_oneof![Just(i64::MIN), Just(-1i64), Just(0i64), Just(1i64), Just(i64::MAX)].prop_map(Value::from),
        3 => (0i64..200_000_000).prop_map(Value::from),
        1 => any_json(),
    ];
    let change = (key, value).prop_map(|(key, value)| json!({"key": key, "value": value}));
    prop_oneof![
        5 => prop::collection::vec(change, 0..4).prop_map(Value::Array),
        1 => any_json(),
    ]
}

fn action_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"action": "scan"})),
        Just(json!({"action": "silent"})),
        any::<i64>().prop_map(|code| json!({"action": "drop", "code": code})),
        (".{0,10}", any_json()).prop_map(|(action, code)| json!({"action": action, "code": code})),
        any_json(),
    ]
}

fn bulk_action_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::sample::select(vec!["connect", "disconnect", "remove"]).prop_map(Value::from),
        1 => ".{0,12}".prop_map(Value::from),
        1 => any_json(),
    ]
}

/// Audit queries (B-3): in range, out of range, unknown actions and fields.
fn audit_query_value() -> impl Strategy<Value = Value> {
    let action =
        prop_oneof![Just(json!("connect")), Just(json!("unknown")), ".{0,12}".prop_map(Value::from), any_json(),];
    let limit = prop_oneof![(1u32..6000).prop_map(Value::from), any::<i64>().prop_map(Value::from), any_json()];
    prop_oneof![
        3 => (limit, prop::option::of(action), prop::option::of(any::<i64>())).prop_map(|(limit, action, since)| {
            let mut query = Map::new();
            query.insert("limit".into(), limit);
            if let Some(action) = action {
                query.insert("action".into(), action);
            }
            if let Some(since) = since {
                query.insert("since".into(), Value::from(since));
            }
            Value::Object(query)
        }),
        1 => any_json(),
    ]
}

/// One call: a command and its body. Arguments are sometimes left out, and
/// sometimes joined by a key no command knows.
fn call(keys: Vec<String>) -> impl Strategy<Value = (String, Value)> {
    let commands = prop_oneof![
        name_value().prop_map(|name| ("add_agent", vec![("name", name)])),
        (id_value(true), name_value()).prop_map(|(id, name)| ("rename_agent", vec![("id", id), ("name", name)])),
        id_value(false).prop_map(|id| ("remove_agent", vec![("id", id)])),
        id_value(false).prop_map(|id| ("connect_agent", vec![("id", id)])),
        id_value(false).prop_map(|id| ("disconnect_agent", vec![("id", id)])),
        (id_value(true), phone_value())
            .prop_map(|(id, phone)| ("request_pair_code", vec![("id", id), ("phone", phone)])),
        (id_value(true), prop_oneof![any::<i64>().prop_map(Value::from), any_json()])
            .prop_map(|(id, limit)| ("agent_history", vec![("id", id), ("limit", limit)])),
        id_value(true).prop_map(|id| ("agent_health", vec![("id", id)])),
        Just(("get_settings", vec![])),
        prop_oneof![any_json(), "__CHANNEL__:[0-9a-z]{0,6}".prop_map(Value::from)]
            .prop_map(|channel| ("subscribe", vec![("onEvent", channel)])),
        changes_value(keys).prop_map(|changes| ("update_settings", vec![("changes", changes)])),
        (id_value(false), action_value()).prop_map(|(id, action)| ("simulate", vec![("id", id), ("action", action)])),
        (
            bulk_action_value(),
            prop_oneof![prop::collection::vec(id_value(false), 0..5).prop_map(Value::Array), any_json()]
        )
            .prop_map(|(action, ids)| ("bulk_action", vec![("action", action), ("ids", ids)])),
        audit_query_value().prop_map(|query| ("audit_log", vec![("query", query)])),
        Just(("credentials_state", vec![])),
        prop_oneof![".{0,20}".prop_map(Value::from), any_json()]
            .prop_map(|passphrase| ("unlock_credentials", vec![("passphrase", passphrase)])),
        prop_oneof![
            Just(json!({"kind": "unencrypted"})),
            ".{0,20}".prop_map(|p| json!({"kind": "passphrase", "passphrase": p})),
            any_json(),
        ]
        .prop_map(|choice| ("choose_credentials_protection", vec![("choice", choice)])),
    ];
    (commands, prop::bool::weighted(0.1), prop::bool::weighted(0.1)).prop_map(|((cmd, args), drop_one, extra)| {
        let mut body = Map::new();
        let skip = if drop_one && !args.is_empty() { Some(0) } else { None };
        for (i, (key, value)) in args.into_iter().enumerate() {
            if Some(i) != skip {
                body.insert(key.to_owned(), value);
            }
        }
        if extra {
            body.insert("unexpected".into(), json!([1, "two"]));
        }
        (cmd.to_owned(), Value::Object(body))
    })
}

/// Changes whenever another connection (the app's) commits to the database:
/// SQLite's own "was anything written" counter, exact and cheap.
fn data_version(conn: &rusqlite::Connection) -> i64 {
    conn.pragma_query_value(None, "data_version", |row| row.get(0)).unwrap()
}

/// Every command with random payloads: typed errors, no panic, nothing written on rejection.
#[test]
fn random_payloads_at_every_command_get_typed_errors_and_write_nothing() {
    let cases = std::env::var("IPC_PROPERTY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CASES);
    let h = switchboard_tests::ipc::harness(true);
    let db =
        rusqlite::Connection::open_with_flags(h.data_dir.join("demo.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let empty = data_version(&db);
    for (name, id) in ["Alpha", "Beta", "Gamma"].into_iter().zip(EXISTING) {
        assert_eq!(h.invoke("add_agent", json!({"name": name})).unwrap()["id"], id);
    }
    assert_ne!(data_version(&db), empty, "the write detector sees the app's commits");
    let keys: Vec<String> = h
        .invoke("get_settings", json!({}))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_owned())
        .collect();

    let accepted = std::cell::Cell::new(0u32);
    let rejected = std::cell::RefCell::new(std::collections::BTreeMap::<String, u32>::new());
    let mut runner = TestRunner::new(ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() });
    let result = runner.run(&call(keys), |(cmd, body)| {
        let before = data_version(&db);
        match h.invoke(&cmd, body.clone()) {
            Ok(_) => accepted.set(accepted.get() + 1),
            Err(err) => {
                let kind = err["kind"].as_str().ok_or_else(|| TestCaseError::fail(format!("untyped error {err}")))?;
                let message = err["message"].as_str().unwrap_or_default();
                prop_assert!(EXPECTED_KINDS.contains(&kind), "{cmd} {body} → unexpected kind {err}");
                prop_assert!(!message.is_empty(), "{cmd} {body} → empty message");
                prop_assert_eq!(before, data_version(&db), "{} {} was rejected ({}) but wrote", cmd, body, kind);
                *rejected.borrow_mut().entry(format!("{cmd}: {kind}")).or_default() += 1;
            }
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let (accepted, rejected) = (accepted.get(), rejected.into_inner());
    println!("{cases} calls: {accepted} accepted; rejected by kind: {rejected:#?}");
    // The generator reaches the typed rejections it is meant to reach.
    for kind in ["invalid_payload", "invalid_name", "unknown_agent", "invalid_setting", "invalid_phone", "not_pairing"]
    {
        assert!(rejected.keys().any(|k| k.ends_with(kind)), "no call was rejected as {kind}: {rejected:?}");
    }
    assert!(accepted > 0, "no call was accepted");
}
