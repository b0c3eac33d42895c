//! H-5: history older than `history_days` is pruned, in batches, and
//! nothing younger is touched.

mod common;

use std::time::Duration;

use common::World;
use switchboard_engine::lifecycle::{Rule, Status};

const DAY_MS: i64 = 24 * 60 * 60 * 1_000;

/// Writes `n` history rows for `agent` dated `age_days` ago, as another
/// program would (the engine only ever appends rows dated now).
fn write_old_history(w: &World, agent: i64, n: usize, age_days: i64) {
    let conn = rusqlite::Connection::open(&w.db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let at = w.now().as_millis() - age_days * DAY_MS;
    let tx = conn.unchecked_transaction().unwrap();
    for _ in 0..n {
        tx.execute(
            "INSERT INTO history (agent_id, at, from_status, to_status, reason, \"trigger\", rule) \
             VALUES (?1, ?2, 'disconnected', 'connecting', 'old', 'user', ?3)",
            rusqlite::params![agent, at, Rule::A2.id()],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn rows_older_than(w: &World, age_days: i64) -> i64 {
    let conn = rusqlite::Connection::open(&w.db).unwrap();
    let before = w.now().as_millis() - age_days * DAY_MS;
    conn.query_row("SELECT count(*) FROM history WHERE at < ?1", [before], |r| r.get(0)).unwrap()
}

fn rows(w: &World) -> i64 {
    let conn = rusqlite::Connection::open(&w.db).unwrap();
    conn.query_row("SELECT count(*) FROM history", [], |r| r.get(0)).unwrap()
}

/// H-5: a backlog larger than many batches goes at the first pass after
/// start-up; entries inside the window stay; a shorter `history_days`
/// applies at the next hourly pass; the agents go on meanwhile.
#[tokio::test(start_paused = true)]
async fn h5_history_older_than_history_days_is_pruned_in_batches() {
    let mut w = World::new().await;
    let id = w.add("Support 1").await;
    write_old_history(&w, id.0, 2_345, 100);
    write_old_history(&w, id.0, 7, 10);
    w.restart().await;
    w.link(id).await;
    let fresh = rows(&w) - 2_345 - 7;
    assert!(fresh > 0);

    w.pass(Duration::from_secs(61)).await;
    assert_eq!(rows_older_than(&w, 90), 0, "older than 90 days");
    assert_eq!(rows(&w), 7 + fresh, "nothing younger went");
    assert_eq!(w.status(id), Status::Connected);

    w.sup.update_settings(vec![("history_days".into(), 5)]).await.unwrap();
    w.pass(Duration::from_secs(60 * 60)).await;
    assert_eq!(rows_older_than(&w, 5), 0, "older than the new 5 days");
    assert_eq!(rows(&w), fresh);
    w.sup.shutdown().await;
}
