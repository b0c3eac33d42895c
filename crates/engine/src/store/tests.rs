use super::*;
use crate::clock::Timestamp;
use crate::lifecycle::{AgentId, CloseCode, Rule, Settings, Status, Trigger};

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    (dir, path)
}

#[test]
fn migrations_are_valid() {
    Migrations::from_slice(MIGRATIONS).validate().unwrap();
}

#[test]
fn opening_sets_wal_full_sync_and_foreign_keys() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let conn = store.connection();
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
    let fk: i64 = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
    assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
}

#[test]
fn a_newer_schema_is_refused_and_the_file_is_not_touched() {
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).err().expect("refused");
    assert!(matches!(err, StoreError::SchemaTooNew { found: 99, supported: SCHEMA_VERSION, .. }));
    assert!(err.to_string().contains("newer Switchboard"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!path.with_extension("db-wal").exists());
}

#[test]
fn records_round_trip_and_names_are_unique_regardless_of_case() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let mut r = store.insert_agent("Support Ünï", Timestamp(5)).unwrap();
    assert!(matches!(store.insert_agent("support üNÏ", Timestamp(6)), Err(StoreError::DuplicateName(_))));
    r.status = Status::Conflict;
    r.disconnected_at = None;
    r.last_code = Some(CloseCode::REPLACED);
    r.last_auth_failure_at = Some(Timestamp(1_000));
    r.phone = Some("+4915112345678".into());
    let entry = HistoryEntry {
        at: Timestamp(1_000),
        from: Status::Connected,
        to: Status::Conflict,
        code: Some(CloseCode::REPLACED),
        reason: "logged in elsewhere".into(),
        trigger: Trigger::Connector,
        rule: Some(Rule::L2),
    };
    let change = Change { agent: r.id, record: Some(r.clone()), history: vec![entry.clone()], unlink: None };
    store.commit(&[&change]).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.load_agents().unwrap(), vec![r.clone()]);
    assert_eq!(store.history(r.id, 10).unwrap(), vec![entry]);
}

#[test]
fn an_unknown_stored_status_loads_as_unreadable() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let r = store.insert_agent("a", Timestamp(5)).unwrap();
    store.connection().execute("UPDATE agents SET status = 'hibernating' WHERE id = ?1", [r.id.0]).unwrap();
    let loaded = store.load_agent(r.id).unwrap().unwrap();
    assert_eq!(loaded.status, Status::Unreadable);
    let raw: String = store.connection().query_row("SELECT status FROM agents", [], |row| row.get(0)).unwrap();
    assert_eq!(raw, "hibernating", "loading rewrites nothing");
}

/// O-2: a history row written by another version, with a rule this one
/// does not know, still reads (its rule as unknown) and is not rewritten.
#[test]
fn o2_a_stored_rule_this_version_does_not_know_reads_as_unknown() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let r = store.insert_agent("a", Timestamp(5)).unwrap();
    let entry = HistoryEntry {
        at: Timestamp(6),
        from: Status::Disconnected,
        to: Status::Connecting,
        code: None,
        reason: "connecting".into(),
        trigger: Trigger::User,
        rule: Some(Rule::A2),
    };
    store.commit(&[&Change { agent: r.id, record: None, history: vec![entry.clone()], unlink: None }]).unwrap();
    store.connection().execute("UPDATE history SET rule = 'Z-99'", []).unwrap();
    assert_eq!(store.history(r.id, 1).unwrap(), vec![HistoryEntry { rule: None, ..entry }]);
}

#[test]
fn a_failing_change_rolls_back_its_whole_transaction() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let r = store.insert_agent("a", Timestamp(5)).unwrap();
    let mut moved = r.clone();
    moved.status = Status::Failed;
    moved.disconnected_at = None;
    let good = Change { agent: r.id, record: Some(moved), history: vec![], unlink: None };
    let ghost = Change {
        agent: AgentId(999),
        record: Some(AgentRecord::new(AgentId(999), "x".into(), Timestamp(1))),
        history: vec![],
        unlink: None,
    };
    assert!(matches!(store.commit(&[&good, &ghost]), Err(StoreError::NoSuchAgent(999))));
    assert_eq!(store.load_agent(r.id).unwrap().unwrap(), r);
}

#[test]
fn settings_round_trip_and_a_bad_stored_value_falls_back_to_its_default() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.load_settings().unwrap(), Settings::default());
    let custom = Settings::default().with_changes([("auth_cooldown_ms", 60_000), ("max_retries", 9)]).unwrap();
    store.save_settings(&custom).unwrap();
    assert_eq!(store.load_settings().unwrap(), custom);
    store.connection().execute("UPDATE settings SET value = -5 WHERE key = 'max_retries'", []).unwrap();
    store.connection().execute("INSERT INTO settings VALUES ('from_the_future', 1)", []).unwrap();
    let loaded = store.load_settings().unwrap();
    assert_eq!(loaded.max_retries, 5);
    assert_eq!(loaded.auth_cooldown, custom.auth_cooldown);
}

#[test]
fn the_writer_groups_concurrent_commits_and_answers_each() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let ids: Vec<AgentId> = (0..50).map(|i| store.insert_agent(&format!("a{i}"), Timestamp(1)).unwrap().id).collect();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let results = rt.block_on(async {
        let writer = writer::Writer::start(store);
        let mut waits = Vec::new();
        for (n, id) in ids.iter().copied().chain([AgentId(999)]).enumerate() {
            let handle = writer.handle();
            let mut record = AgentRecord::new(id, format!("a{n}"), Timestamp(1));
            record.retry_attempt = n as u32;
            waits.push(tokio::spawn(async move {
                handle.commit(Change { agent: id, record: Some(record), history: vec![], unlink: None }).await
            }));
        }
        let mut out = Vec::new();
        for w in waits {
            out.push(w.await.unwrap());
        }
        writer.stop().await;
        out
    });
    assert!(results[..50].iter().all(Result::is_ok));
    assert!(matches!(results[50], Err(StoreError::NoSuchAgent(999))), "the bad change fails alone");
    let store = Store::open(&path).unwrap();
    let attempts: Vec<u32> = store.load_agents().unwrap().iter().map(|r| r.retry_attempt).collect();
    assert_eq!(attempts, (0..50).collect::<Vec<_>>());
}

/// H-1: the health read takes the window's entries, oldest first, and the
/// newest entry before it; another agent's entries and older ones are not read.
#[test]
fn h1_the_health_read_returns_the_window_and_the_entry_before_it() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let a = store.insert_agent("a", Timestamp(5)).unwrap();
    let b = store.insert_agent("b", Timestamp(6)).unwrap();
    let entry = |at: i64, to: Status| HistoryEntry {
        at: Timestamp(at),
        from: Status::Disconnected,
        to,
        code: None,
        reason: format!("at {at}"),
        trigger: Trigger::User,
        rule: Some(Rule::A2),
    };
    let a_entries: Vec<_> = [10, 20, 30, 40].map(|at| entry(at, Status::Connecting)).into();
    store.commit(&[&Change { agent: a.id, record: None, history: a_entries.clone(), unlink: None }]).unwrap();
    store
        .commit(&[&Change { agent: b.id, record: None, history: vec![entry(35, Status::Failed)], unlink: None }])
        .unwrap();

    let read = store.health_history(a.id, Timestamp(25)).unwrap().unwrap();
    assert_eq!((read.created_at, read.status), (Timestamp(5), Status::Disconnected));
    assert_eq!(read.before.as_ref(), Some(&a_entries[1]));
    assert_eq!(read.entries, a_entries[2..]);
    let all = store.health_history(a.id, Timestamp(0)).unwrap().unwrap();
    assert_eq!((all.before, all.entries), (None, a_entries.clone()));
    let none = store.health_history(a.id, Timestamp(41)).unwrap().unwrap();
    assert_eq!((none.before.as_ref(), none.entries.len()), (Some(&a_entries[3]), 0));
    assert!(store.health_history(AgentId(999), Timestamp(0)).unwrap().is_none());
}

/// H-2, H-3: the marks' history of every agent in one read at start-up:
/// each agent's entries from `since` on, oldest first, also one written a
/// little out of time order; nothing older, and no agent without entries.
#[test]
fn h2_h3_the_recent_histories_of_all_agents_are_read_at_once() {
    let (_dir, path) = temp_db();
    let mut store = Store::open(&path).unwrap();
    let a = store.insert_agent("a", Timestamp(5)).unwrap();
    let b = store.insert_agent("b", Timestamp(6)).unwrap();
    let quiet = store.insert_agent("quiet", Timestamp(7)).unwrap();
    let entry = |at: i64| HistoryEntry {
        at: Timestamp(at),
        from: Status::Disconnected,
        to: Status::Connecting,
        code: None,
        reason: format!("at {at}"),
        trigger: Trigger::User,
        rule: Some(Rule::A2),
    };
    let minute = 60_000;
    let since = 10 * minute;
    // Written in this order: b's second entry waited for the writer, so it
    // is dated before a's entry written ahead of it.
    let writes = [(a.id, 1), (b.id, since + 1), (a.id, since + 10), (b.id, since + 5), (a.id, since + 20)];
    for (agent, at) in writes {
        store.commit(&[&Change { agent, record: None, history: vec![entry(at)], unlink: None }]).unwrap();
    }
    let recent = store.recent_histories(Timestamp(since)).unwrap();
    assert_eq!(recent[&a.id], vec![entry(since + 10), entry(since + 20)]);
    assert_eq!(recent[&b.id], vec![entry(since + 1), entry(since + 5)]);
    assert!(!recent.contains_key(&quiet.id));
}

/// H-1: the health read walks the agent's index backwards: no scan of the
/// table and no sort, however long the history grows.
#[test]
fn h1_the_health_read_walks_the_index_backwards_without_sorting() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let mut stmt = store.connection().prepare(&format!("EXPLAIN QUERY PLAN {}", history::NEWEST_FIRST)).unwrap();
    let plan: Vec<String> = stmt.query_map([1], |row| row.get(3)).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(plan, ["SEARCH history USING INDEX history_by_agent (agent_id=?)"]);
}
