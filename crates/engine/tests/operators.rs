//! Operator actions at scale (RULES.md §11): bulk actions (B-1) and the
//! audit log (B-3). The scan queue (B-2) is the window's: its tests are in `ui/tests`.

mod common;

use std::time::Duration;

use common::{World, linked_fleet, most_in_one_second};
use switchboard_engine::audit::AuditAction::{
    Add, BulkConnect, BulkDisconnect, BulkRemove, Connect, Disconnect, PairCode, PauseReconnects, Rename,
    ResumeReconnects, Settings, Simulate, TryNow,
};
use switchboard_engine::audit::{AuditFilter, os_user};
use switchboard_engine::lifecycle::{AgentId, BlockKind, CloseCode, Status, Verdict};
use switchboard_engine::supervisor::{BulkAction, BulkResult};

fn kind(result: &BulkResult) -> Option<BlockKind> {
    match result {
        BulkResult::Blocked(decision) => match decision.verdict {
            Verdict::Blocked { kind, .. } => Some(kind),
            Verdict::Allowed => None,
        },
        _ => None,
    }
}

/// B-1 with A-1…A-5: each agent of a bulk connect is decided by its own
/// rules, as its own click would be: the cleanly disconnected are admitted,
/// the connected are refused by A-1, the one in an auth cooldown by A-4.
/// An id named twice counts once; an unknown id is said to be gone.
#[tokio::test(start_paused = true)]
async fn b1_a_bulk_connect_admits_each_agent_by_its_own_rules() {
    let w = World::new().await;
    let linked = linked_fleet(&w, 3).await;
    let mut fresh = Vec::new();
    for n in 0..4 {
        fresh.push(w.add(&format!("fresh {n}")).await);
    }
    // 401: logged out; the auth cooldown runs.
    w.sim.drop_with(linked[2], CloseCode::LOGGED_OUT, None);
    w.sup.settle().await;
    assert!(!w.view(linked[2]).connect_preview.is_allowed());

    let mut selection: Vec<AgentId> = fresh.clone();
    selection.extend(&linked);
    selection.push(fresh[0]);
    selection.push(AgentId(9_999));
    let outcomes = w.sup.bulk(BulkAction::Connect, &selection).await;

    assert_eq!(outcomes.len(), 8, "one answer per agent named, duplicates once");
    for outcome in &outcomes[..4] {
        assert_eq!(outcome.result, BulkResult::Queued, "{outcome:?}");
    }
    assert_eq!(kind(&outcomes[4].result), Some(BlockKind::InProgress));
    assert_eq!(kind(&outcomes[5].result), Some(BlockKind::InProgress));
    assert_eq!(kind(&outcomes[6].result), Some(BlockKind::AuthCooldown));
    assert_eq!(outcomes[7].result, BulkResult::Unknown);
    assert_eq!(outcomes[0].name, "fresh 0");

    w.pass(Duration::from_secs(2)).await;
    assert!(fresh.iter().all(|&id| w.status(id) == Status::QrPending), "the admitted ones connected");
    assert!(fresh.iter().all(|&id| !w.view(id).queued));
    assert_eq!(w.status(linked[0]), Status::Connected, "A-1: a connected agent is left alone");
}

/// B-1 with R-5: a bulk connect of 200 agents answers at once, then starts
/// them at `start_rate` — while a storm of automatic retries shares the same
/// slots, so WhatsApp never sees more than `start_rate` starts in a second.
#[tokio::test(start_paused = true)]
async fn b1_bulk_connects_start_paced_at_r5_in_turn_with_automatic_starts() {
    let w = World::new().await;
    // A storm of retries, not an outage (F-1 would hold them).
    w.sup.update_settings(vec![("outage_min_agents".into(), 1_000)]).await.unwrap();
    let dropping = linked_fleet(&w, 40).await;
    let mut bulk = Vec::new();
    for n in 0..200 {
        let id = w.add(&format!("bulk {n}")).await;
        w.sim.give_credentials(id);
        bulk.push(id);
    }
    let before = w.sim.stats().starts.len();
    for &id in &dropping {
        w.sim.drop_with(id, CloseCode::UNAVAILABLE, None);
    }
    let asked = tokio::time::Instant::now();
    let outcomes = w.sup.bulk(BulkAction::Connect, &bulk).await;
    assert_eq!(asked.elapsed(), Duration::ZERO, "the answer does not wait for the starts");
    assert!(outcomes.iter().all(|o| o.result == BulkResult::Queued));
    w.sup.settle().await;
    let waiting = bulk.iter().filter(|&&id| w.view(id).queued).count();
    assert!(waiting >= 150, "only {waiting} of 200 wait their turn: they did not queue");

    w.pass(Duration::from_secs(20)).await;
    let starts = &w.sim.stats().starts[before..];
    let bulk_started = starts.iter().filter(|s| bulk.contains(&s.0)).count();
    assert_eq!(bulk_started, 200, "every admitted agent started");
    assert!(starts.iter().filter(|s| dropping.contains(&s.0)).count() >= 40, "and every retry");
    let times: Vec<_> = starts.iter().map(|s| s.1).collect();
    let per_second = most_in_one_second(&times);
    assert!(per_second <= 20, "{per_second} starts in one second");
}

/// B-1: a bulk connect still waiting its turn is a person's request, and a
/// person's Disconnect cancels it; Remove on a selection removes each.
#[tokio::test(start_paused = true)]
async fn b1_a_disconnect_cancels_a_queued_bulk_connect() {
    let w = World::new().await;
    w.sup.update_settings(vec![("start_rate_per_s".into(), 1)]).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(w.add(&format!("slow {n}")).await);
    }
    w.sup.bulk(BulkAction::Connect, &ids).await;
    w.sup.settle().await;
    assert!(w.view(ids[4]).queued);
    w.sup.disconnect(ids[4]).await.unwrap();
    assert!(!w.view(ids[4]).queued);
    w.pass(Duration::from_secs(10)).await;
    assert_eq!(w.status(ids[3]), Status::QrPending);
    assert_eq!(w.status(ids[4]), Status::Disconnected, "the cancelled one never started");
    assert!(!w.sim.stats().starts.iter().any(|s| s.0 == ids[4]));

    // A bulk Disconnect cancels the waits too, though those agents are still disconnected.
    let more: Vec<AgentId> = {
        let mut more = Vec::new();
        for n in 0..4 {
            more.push(w.add(&format!("more {n}")).await);
        }
        more
    };
    w.sup.bulk(BulkAction::Connect, &more).await;
    w.sup.settle().await;
    let outcomes = w.sup.bulk(BulkAction::Disconnect, &more).await;
    assert!(outcomes[1..].iter().all(|o| o.result == BulkResult::Disconnected), "{outcomes:?}");
    w.pass(Duration::from_secs(10)).await;
    assert!(more[1..].iter().all(|&id| w.status(id) == Status::Disconnected && !w.view(id).queued));
    assert!(!w.sim.stats().starts.iter().any(|s| more[1..].contains(&s.0)), "no cancelled wait started");
}

/// B-1: Disconnect on a selection disconnects the connected and leaves the
/// disconnected alone; Remove removes every one; each answers for itself.
#[tokio::test(start_paused = true)]
async fn b1_bulk_disconnect_and_remove_answer_for_every_agent() {
    let w = World::new().await;
    let linked = linked_fleet(&w, 3).await;
    let idle = w.add("idle").await;
    let mut selection = linked.clone();
    selection.push(idle);
    let outcomes = w.sup.bulk(BulkAction::Disconnect, &selection).await;
    let results: Vec<_> = outcomes.iter().map(|o| o.result.clone()).collect();
    assert_eq!(
        results,
        vec![
            BulkResult::Disconnected,
            BulkResult::Disconnected,
            BulkResult::Disconnected,
            BulkResult::AlreadyDisconnected
        ]
    );
    assert!(linked.iter().all(|&id| w.status(id) == Status::Disconnected));

    let outcomes = w.sup.bulk(BulkAction::Remove, &selection).await;
    assert!(outcomes.iter().all(|o| o.result == BulkResult::Removed), "{outcomes:?}");
    assert!(w.sup.list().is_empty());
}

/// B-3: every kind of operator action is appended with its time, the
/// operating-system user, the agents it touched (named as they were) and
/// its outcome; a settings change keeps its old and new values, a bulk
/// action each agent's part. The log filters by agent, action and time.
#[tokio::test(start_paused = true)]
async fn b3_every_operator_action_is_audited_with_user_agents_and_outcome() {
    let w = World::new().await;
    let id = w.add("Sales 1").await;
    assert!(w.sup.add("sales 1").await.is_err());
    w.sup.rename(id, "Sales DACH").await.unwrap();
    w.pass(Duration::from_secs(1)).await;
    let started = w.now();
    w.sup.connect(id).await.unwrap();
    w.sup.settle().await;
    w.sup.connect(id).await.unwrap();
    assert!(w.sup.request_pair_code(id, "12").await.is_err());
    w.sup.request_pair_code(id, "+49 151 2345678").await.unwrap();
    w.sup.disconnect(id).await.unwrap();
    w.sup.update_settings(vec![("start_rate_per_s".into(), 10), ("backoff_base_ms".into(), 3_000)]).await.unwrap();
    w.sup.pause_reconnects(true);
    w.sup.pause_reconnects(false);
    w.sup.try_now();
    let other = w.add("Support 2").await;
    w.sup.bulk(BulkAction::Connect, &[id, other]).await;
    w.sup.bulk(BulkAction::Disconnect, &[id, other]).await;
    w.sup.audit_simulation(&[other], "simulated a QR scan", "done").await;
    w.sup.bulk(BulkAction::Remove, &[id, other]).await;

    let all = w.sup.audit_log(AuditFilter { limit: 100, ..AuditFilter::default() }).await.unwrap();
    let kinds: Vec<_> = all.iter().rev().map(|e| e.action.unwrap()).collect();
    assert_eq!(
        kinds,
        vec![
            Add,
            Rename,
            Connect,
            Connect,
            PairCode,
            Disconnect,
            Settings,
            PauseReconnects,
            ResumeReconnects,
            TryNow,
            Add,
            BulkConnect,
            BulkDisconnect,
            Simulate,
            BulkRemove
        ]
    );
    assert!(all.iter().all(|e| e.os_user == os_user() && !e.os_user.is_empty()));
    let by = |action| all.iter().rev().filter(move |e| e.action == Some(action));
    // Bad input (a duplicate name, a malformed number) changed nothing and wrote nothing.
    assert_eq!(by(Add).count(), 2);
    let pair = by(PairCode).collect::<Vec<_>>();
    assert_eq!((pair.len(), pair[0].outcome.as_str()), (1, "pairing code shown"));
    assert!(!format!("{:?}", pair[0]).contains("2345678"), "the number is not kept");
    let rename = by(Rename).next().unwrap();
    assert_eq!(rename.detail, "“Sales 1” → “Sales DACH”");
    assert_eq!(rename.agents[0].name, "Sales 1", "named as it was before the action");
    let connects: Vec<_> = by(Connect).map(|e| e.outcome.as_str()).collect();
    assert_eq!(connects[0], "connecting");
    assert!(connects[1].starts_with("blocked: already in progress"), "{connects:?}");
    let settings = by(Settings).next().unwrap();
    assert_eq!(settings.detail, "backoff_base_ms 2000 → 3000; start_rate_per_s 20 → 10");
    let bulk = by(BulkConnect).next().unwrap();
    assert_eq!(bulk.outcome, "2 connecting");
    assert_eq!(bulk.agents[0].outcome, "connecting");
    assert_eq!(bulk.agents.len(), 2);
    assert_eq!(bulk.agents[1].name, "Support 2");
    let removed = by(BulkRemove).next().unwrap();
    assert_eq!(removed.outcome, "2 removed");
    assert_eq!(removed.detail, "2 selected");
    assert_eq!(by(Simulate).next().unwrap().detail, "simulated a QR scan");

    // Filters: by agent (a removed agent's entries stay), by action, by time.
    let of_other = w.sup.audit_log(AuditFilter { agent: Some(other), limit: 100, ..AuditFilter::default() }).await;
    let of_other: Vec<_> = of_other.unwrap().iter().rev().map(|e| e.action.unwrap()).collect();
    assert_eq!(of_other, vec![Add, BulkConnect, BulkDisconnect, Simulate, BulkRemove]);
    let only = w.sup.audit_log(AuditFilter { action: Some(Settings), limit: 100, ..AuditFilter::default() }).await;
    assert_eq!(only.unwrap().len(), 1);
    let before = w.sup.audit_log(AuditFilter { until: Some(started), limit: 100, ..AuditFilter::default() }).await;
    assert_eq!(before.unwrap().len(), 2, "the add and the rename came before");
    let newest = w.sup.audit_log(AuditFilter { limit: 2, ..AuditFilter::default() }).await.unwrap();
    assert_eq!(newest.iter().map(|e| e.action.unwrap()).collect::<Vec<_>>(), vec![BulkRemove, Simulate]);
}

/// B-3 with H-5: audit entries older than `history_days` are pruned with
/// the history; younger ones stay.
#[tokio::test(start_paused = true)]
async fn b3_audit_entries_are_pruned_with_the_history() {
    let mut w = World::new().await;
    let id = w.add("Support 1").await;
    {
        let conn = rusqlite::Connection::open(&w.db).unwrap();
        let day_ms = 24 * 60 * 60 * 1_000;
        for (age_days, n) in [(100, 1_234), (10, 3)] {
            for _ in 0..n {
                conn.execute(
                    "INSERT INTO audit (at, os_user, action, outcome) VALUES (?1, 'old', 'connect', 'connecting')",
                    [w.now().as_millis() - age_days * day_ms],
                )
                .unwrap();
                conn.execute(
                    "INSERT INTO audit_agents (entry, agent, name) VALUES (last_insert_rowid(), ?1, 'Support 1')",
                    [id.0],
                )
                .unwrap();
            }
        }
    }
    w.restart().await;
    w.pass(Duration::from_secs(61)).await;
    let conn = rusqlite::Connection::open(&w.db).unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM audit WHERE os_user = 'old'"), 3, "only the 10-day-old ones stay");
    assert_eq!(
        count("SELECT count(*) FROM audit_agents WHERE name = 'Support 1'"),
        3 + 1,
        "their agents went with them"
    );
    w.sup.shutdown().await;
}
