//! P-5: a crash (kill -9) at any moment leaves every agent in a legal status
//! with consistent fields, and the next start applies P-3.
//!
//! `switchboard-storm` drives transitions on a database file as fast as it
//! can; the test kills it (SIGKILL: no destructor, no shutdown runs) at a
//! random moment, checks the file, and starts it again on the same file.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use switchboard_engine::lifecycle::Status;
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::store::Store;

const KILLS: usize = 20;

/// SPEC P-5.
#[test]
fn p5_kill_9_at_any_moment_leaves_legal_consistent_agents() {
    let dir = common::temp_dir();
    let db = dir.path().join("crash.db");
    let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
    let mut rounds_with_progress = 0;
    let mut history_rows = 0;
    for round in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard-storm"))
            .arg("--db")
            .arg(&db)
            .args(["--seed", &round.to_string()])
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
        std::thread::sleep(Duration::from_millis(rng.random_range(20..300)));
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
        let rows: i64 = conn.query_row("SELECT count(*) FROM history", [], |r| r.get(0)).unwrap();
        if storming && rows > history_rows {
            rounds_with_progress += 1;
        }
        history_rows = rows;
    }
    assert!(rounds_with_progress >= KILLS / 4, "the storm changed agents in only {rounds_with_progress} rounds");

    // The next start applies P-3: nothing is left mid-attempt.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    rt.block_on(async {
        let sim = SimulatedWhatsApp::new();
        let clock = Arc::new(switchboard_engine::clock::TokioClock::starting_at(common::START));
        let sup = common::start(&db, &sim, &clock).await;
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
