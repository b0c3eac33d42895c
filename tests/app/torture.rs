//! P-5: a crash (kill -9) at any moment leaves every agent in a legal status
//! with consistent fields, loses no committed change, and the next start
//! applies P-3.
//!
//! `switchboard-storm` drives transitions on a database file as fast as it
//! can and appends each committed record to a side log (after its COMMIT);
//! the test kills it (SIGKILL: no destructor, no shutdown runs) at a random
//! moment, checks the file against the log, and starts it again on the same
//! file. The database is on a real disk, so `synchronous=FULL` meets fsync;
//! the simulated WhatsApp keeps its credentials in a file across the kills,
//! and the last start resumes with them. `KILLS` rounds per run;
//! `SWITCHBOARD_TORTURE_KILLS=1000` is the long mode.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use switchboard_engine::clock::{Clock, SystemClock, TokioClock};
use switchboard_engine::lifecycle::Status;
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::store::Store;
use switchboard_engine::supervisor::{Options, Supervisor};

const KILLS: usize = 200;

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

/// What the test has learnt from earlier rounds, kept across rounds so each
/// round reads only what is new (the side log and the history only grow).
///
/// Each confirmed change is checked by identity, not by membership: per
/// agent, the confirmed changes must appear in the history in the order
/// they were confirmed, each matched to a row of its own after the row of
/// the change before. A lost commit leaves a confirmed change with no row
/// left to match, even where an identical change happened earlier.
#[derive(Default)]
struct Ledger {
    /// Per agent, the history rows read so far, oldest first: (row id, to status, reason).
    history: HashMap<i64, Vec<(i64, String, String)>>,
    history_read_up_to: i64,
    confirmed_read: usize,
    /// Per agent: the last confirmed record and the history row matched to it.
    last: HashMap<i64, (Confirmed, i64)>,
    /// How many confirmed changes were matched to a row of their own.
    matched: usize,
}

impl Ledger {
    fn check(&mut self, conn: &rusqlite::Connection, side_log: &std::path::Path, round: usize) {
        let mut stmt =
            conn.prepare("SELECT id, agent_id, to_status, reason FROM history WHERE id > ?1 ORDER BY id").unwrap();
        let rows = stmt
            .query_map([self.history_read_up_to], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
            })
            .unwrap();
        for row in rows {
            let (id, agent, to, reason) = row.unwrap();
            self.history_read_up_to = id;
            self.history.entry(agent).or_default().push((id, to, reason));
        }
        for c in read_confirmed(side_log).into_iter().skip(self.confirmed_read) {
            self.confirmed_read += 1;
            let previous = self.last.get(&c.agent);
            // A publication without a new status or reason (a preview, a
            // rename, a moved retry time) has no history row of its own.
            if c.reason == "new agent" || previous.is_some_and(|(p, _)| p.status == c.status && p.reason == c.reason) {
                let after = previous.map_or(0, |(_, row)| *row);
                self.last.insert(c.agent, (c, after));
                continue;
            }
            let after = previous.map_or(0, |(_, row)| *row);
            let row = self.history.get(&c.agent).and_then(|rows| {
                rows.iter().find(|(id, to, reason)| *id > after && *to == c.status && *reason == c.reason)
            });
            let Some((row, _, _)) = row else {
                panic!(
                    "round {round}: confirmed change lost: agent {} {} {:?} (no history row after row {after})",
                    c.agent, c.status, c.reason
                );
            };
            self.matched += 1;
            let row = *row;
            self.last.insert(c.agent, (c, row));
        }
        let mut stmt =
            conn.prepare("SELECT id, status, reason, last_auth_failure_at, banned_until FROM agents").unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .unwrap();
        for row in rows {
            let (agent, status, reason, auth, ban) = row.unwrap();
            let Some((c, matched)) = self.last.get(&agent) else { continue };
            // The row holds the last confirmed change, or one committed after it.
            let later = self.history.get(&agent).is_some_and(|rows| rows.iter().any(|(id, _, _)| id > matched));
            assert!(
                (status == c.status && reason == c.reason) || later,
                "round {round}: agent {agent} is {status} {reason:?}, older than its confirmed {} {:?}",
                c.status,
                c.reason
            );
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
    // On a real disk, not in memory: `synchronous=FULL` must meet fsync.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let db = dir.path().join("crash.db");
    let side_log = dir.path().join("confirmed.log");
    let world = dir.path().join("whatsapp.world");
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
            .arg("--world")
            .arg(&world)
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
        let max_retries = store.load_settings().unwrap().max_retries;
        for record in store.load_agents().unwrap() {
            record.check_invariants().unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert!(record.retry_attempt <= max_retries, "round {round}: {record:?}");
        }
        ledger.check(conn, &side_log, round);
        let rows: i64 = conn.query_row("SELECT count(*) FROM history", [], |r| r.get(0)).unwrap();
        if storming && rows > history_rows {
            rounds_with_progress += 1;
        }
        history_rows = rows;
    }
    assert!(rounds_with_progress >= kills / 4, "the storm changed agents in only {rounds_with_progress} rounds");
    assert!(ledger.matched > 0, "the storm confirmed nothing");

    // The next start applies P-3 with the credentials the storm paired: no
    // pairing is left open, every linked agent comes back, and no device is
    // left on a phone without credentials to unlink it (a kill between the
    // phone's pairing and the saved scan included).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    rt.block_on(async {
        let sim = SimulatedWhatsApp::persistent(&world).unwrap();
        // The storm stored real times: go on from now, so its deadlines mean what they meant.
        let clock = Arc::new(TokioClock::starting_at(SystemClock.wall()));
        let options = Options { clock, connector: Arc::new(sim.clone()), seed: 42 };
        let sup = Supervisor::start(&db, options).await.unwrap();
        sup.settle().await;
        assert!(!sup.list().is_empty());
        let linked: Vec<_> = sup.list().iter().filter(|v| v.record.has_credentials).map(|v| v.record.id).collect();
        for view in sup.list() {
            assert_ne!(view.record.status, Status::QrPending, "a pairing survived the restart");
            view.record.check_invariants().unwrap();
            assert_eq!(view.record.has_credentials, sim.has_credentials_of(view.record.id), "{:?}", view.record);
        }
        tokio::time::sleep(Duration::from_secs(600)).await;
        sup.settle().await;
        for id in &linked {
            let record = sup.view(*id).unwrap().record;
            assert!(
                matches!(record.status, Status::Connected | Status::Failed),
                "a linked agent did not resume: {record:?}"
            );
        }
        assert_eq!(sim.orphaned_devices(), 0, "a phone lists a device nobody can unlink");
        assert_eq!(sim.set_aside_count(), 0, "an unlink job did not finish");
        sup.shutdown().await;
    });
    println!("{kills} kills: {} confirmed changes matched to their own history rows", ledger.matched);
}
