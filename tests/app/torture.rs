//! P-5: a crash (kill -9) at any moment leaves every agent in a legal status
//! with consistent fields, loses no committed change, and the next start
//! applies P-3.
//!
//! `switchboard-storm` drives transitions on a database file as fast as it
//! can and appends each committed record to a side log (after its COMMIT);
//! the test kills it (SIGKILL: no destructor, no shutdown runs) at a random
//! moment, checks the file against the log, and starts it again on the same
//! file. `KILLS` rounds per run; `SWITCHBOARD_TORTURE_KILLS=1000` is the long mode.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use switchboard_engine::clock::{Timestamp, TokioClock};
use switchboard_engine::lifecycle::Status;
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::store::Store;
use switchboard_engine::supervisor::{Options, Supervisor};

const KILLS: usize = 200;

/// 2026-01-01T00:00:00Z: the clock of the start after the last kill.
const START: Timestamp = Timestamp(1_767_225_600_000);

fn kills() -> usize {
    std::env::var("SWITCHBOARD_TORTURE_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(KILLS)
}

/// One committed record as the storm confirmed it.
struct Confirmed {
    agent: i64,
    status: String,
    last_auth_failure_at: Option<i64>,
    banned_until: Option<i64>,
    reason: String,
}

fn read_confirmed(path: &std::path::Path) -> Vec<Confirmed> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let time = |f: &str| (f != "-").then(|| f.parse::<i64>().unwrap());
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.splitn(5, '\t').collect();
            assert_eq!(f.len(), 5, "a torn line in the side log: {line:?}");
            Confirmed {
                agent: f[0].parse().unwrap(),
                status: f[1].to_owned(),
                last_auth_failure_at: time(f[2]),
                banned_until: time(f[3]),
                reason: f[4].to_owned(),
            }
        })
        .collect()
}

/// What the test has learnt from earlier rounds: every (agent, status,
/// reason) the history holds, and the last confirmed record of each agent.
/// Kept across rounds so each round reads only what is new (the side log
/// and the history both only grow).
#[derive(Default)]
struct Ledger {
    history: HashSet<(i64, String, String)>,
    history_read_up_to: i64,
    confirmed_read: usize,
    last: HashMap<i64, Confirmed>,
}

impl Ledger {
    /// Every confirmed record is in the database: its status and reason were
    /// written by a history row (or it is the new agent), and no cooldown or
    /// ban deadline in the database is earlier than the last one confirmed.
    fn check(&mut self, conn: &rusqlite::Connection, side_log: &std::path::Path, round: usize) {
        let mut stmt = conn.prepare("SELECT id, agent_id, to_status, reason FROM history WHERE id > ?1").unwrap();
        let rows = stmt
            .query_map([self.history_read_up_to], |r| {
                Ok((r.get::<_, i64>(0)?, (r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)))
            })
            .unwrap();
        for row in rows {
            let (id, key) = row.unwrap();
            self.history_read_up_to = self.history_read_up_to.max(id);
            self.history.insert(key);
        }
        let confirmed = read_confirmed(side_log);
        for c in confirmed.into_iter().skip(self.confirmed_read) {
            self.confirmed_read += 1;
            let key = (c.agent, c.status.clone(), c.reason.clone());
            assert!(
                c.reason == "new agent" || self.history.contains(&key),
                "round {round}: confirmed change lost: agent {} {} {:?}",
                c.agent,
                c.status,
                c.reason
            );
            self.last.insert(c.agent, c);
        }
        let mut stmt = conn.prepare("SELECT id, last_auth_failure_at, banned_until FROM agents").unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, Option<i64>>(2)?)))
            .unwrap();
        for row in rows {
            let (agent, auth, ban) = row.unwrap();
            let Some(c) = self.last.get(&agent) else { continue };
            for (name, db, logged) in
                [("last_auth_failure_at", auth, c.last_auth_failure_at), ("banned_until", ban, c.banned_until)]
            {
                if let (Some(db), Some(logged)) = (db, logged) {
                    assert!(db >= logged, "round {round}: agent {agent}'s {name} moved backwards: {logged} → {db}");
                }
            }
        }
    }
}

/// P-5.
#[test]
fn p5_kill_9_at_any_moment_leaves_legal_consistent_agents() {
    let dir = switchboard_tests::temp_dir();
    let db = dir.path().join("crash.db");
    let side_log = dir.path().join("confirmed.log");
    let kills = kills();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
    let mut rounds_with_progress = 0;
    let mut history_rows = 0;
    let mut ledger = Ledger::default();
    for round in 0..kills {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard-storm"))
            .arg("--db")
            .arg(&db)
            .args(["--seed", &round.to_string()])
            .arg("--confirmed")
            .arg(&side_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Even rounds kill at any moment, start-up and migrations included; odd
        // rounds wait until the storm says it runs, so the kill lands mid-transition.
        let storming = round % 2 == 1;
        if storming {
            let mut line = String::new();
            BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
            assert!(line.starts_with("storming"), "round {round}: the storm did not start: {line:?}");
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(5..150)));
        child.kill().unwrap();
        child.wait().unwrap();

        let store = Store::open(&db).expect("the database opens after a kill");
        let conn = store.connection();
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(integrity, "ok", "round {round}");
        let fk_violations: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
        assert_eq!(fk_violations, 0, "round {round}");
        for record in store.load_agents().unwrap() {
            record.check_invariants().unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
        ledger.check(conn, &side_log, round);
        let rows: i64 = conn.query_row("SELECT count(*) FROM history", [], |r| r.get(0)).unwrap();
        if storming && rows > history_rows {
            rounds_with_progress += 1;
        }
        history_rows = rows;
    }
    assert!(rounds_with_progress >= kills / 4, "the storm changed agents in only {rounds_with_progress} rounds");
    assert!(ledger.confirmed_read > 0, "the storm confirmed nothing");

    // The next start applies P-3: nothing is left mid-attempt.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    rt.block_on(async {
        let sim = SimulatedWhatsApp::new();
        let clock = Arc::new(TokioClock::starting_at(START));
        let options = Options { clock, connector: Arc::new(sim.clone()), seed: 42 };
        let sup = Supervisor::start(&db, options).await.unwrap();
        sup.settle().await;
        assert!(!sup.list().is_empty());
        for view in sup.list() {
            let status = view.record.status;
            assert!(
                !matches!(status, Status::Connecting | Status::QrPending | Status::Connected),
                "{status} after restart"
            );
            view.record.check_invariants().unwrap();
        }
        sup.shutdown().await;
    });
}
