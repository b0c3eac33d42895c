//! What encryption at rest (P-7) costs at start, with 1,000 agents
//! (BENCHMARKS.md, figure 10): encrypting an earlier version's plain stores
//! once, and checking every store before its agent resumes, each against a
//! plain baseline measured in the same run on the same stores:
//!
//! - migration: `encrypt_plain_stores` on N plain stores, against copying
//!   the same stores plainly (`VACUUM INTO`, the same reads and writes
//!   without the cipher);
//! - resume check: `StoreFiles::check` (open, key, `quick_check`) on N
//!   encrypted stores, against the same on N plain ones.
//!
//! Each store is 240 KiB, the size of a new whatsapp-rust store (figure 7),
//! in WAL mode. Release build; the stores live beside the example in the
//! target directory (a real disk, not tmpfs).
//!
//! Usage: `cargo run --release -p switchboard-whatsapp --example encrypt_cost [-- --quick]`

#[path = "../../engine/examples/report/mod.rs"]
mod report;

use std::path::Path;
use std::time::Instant;

use report::{median, row};
use switchboard_engine::lifecycle::AgentId;
use switchboard_whatsapp::protection::{StoreKey, encrypt_plain_stores};
use switchboard_whatsapp::store_files::StoreFiles;

const STORE_ROWS: usize = 110;
const ROW_BYTES: usize = 2_048;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (agents, runs) = if quick { (200, 1) } else { (1_000, 3) };
    let exe = std::env::current_exe().expect("the example's own path");
    let scratch = exe.parent().unwrap_or(Path::new("."));
    let mut migrate = Vec::new();
    let mut copy = Vec::new();
    let mut check_encrypted = Vec::new();
    let mut check_plain = Vec::new();
    for run in 0..runs {
        let dir = tempfile::tempdir_in(scratch).unwrap();
        let plain = StoreFiles::new(dir.path().join("plain"));
        let encrypted_root = dir.path().join("encrypted");
        let key = StoreKey::generate();
        for n in 1..=agents {
            plain_store(&plain, AgentId(n as i64));
        }
        // The baseline: the same stores copied plainly, store by store.
        let started = Instant::now();
        for n in 1..=agents {
            let from = plain.database(AgentId(n as i64));
            let to = dir.path().join(format!("copy-{n}.db"));
            let conn = rusqlite::Connection::open(&from).unwrap();
            conn.execute("VACUUM INTO ?1", [to.to_string_lossy()]).unwrap();
        }
        copy.push(started.elapsed().as_secs_f64());

        std::fs::rename(plain.root(), &encrypted_root).unwrap();
        let encrypted = StoreFiles::with_key(&encrypted_root, Some(key.clone()));
        let started = Instant::now();
        let migration = encrypt_plain_stores(&encrypted, &key).unwrap();
        migrate.push(started.elapsed().as_secs_f64());
        assert_eq!(migration.encrypted, agents, "{:?}", migration.failed);

        let started = Instant::now();
        for n in 1..=agents {
            encrypted.check(AgentId(n as i64)).unwrap();
        }
        check_encrypted.push(started.elapsed().as_secs_f64());

        let again = StoreFiles::new(dir.path().join("plain-again"));
        for n in 1..=agents {
            plain_store(&again, AgentId(n as i64));
        }
        let started = Instant::now();
        for n in 1..=agents {
            again.check(AgentId(n as i64)).unwrap();
        }
        check_plain.push(started.elapsed().as_secs_f64());
        eprintln!("run {}: done", run + 1);
    }
    let (migrate, copy) = (median(migrate), median(copy));
    let (check_encrypted, check_plain) = (median(check_encrypted), median(check_plain));
    let runs_words = if runs == 1 { "1 run".to_owned() } else { format!("median of {runs} runs") };
    row(
        &format!("10 | encrypting {agents} plain stores of 240 KiB at start (P-7); ratio to copying them plainly"),
        format!(
            "{migrate:.2} s ({:.1} ms a store); {:.2}× ({copy:.2} s); {runs_words}",
            migrate * 1000.0 / agents as f64,
            migrate / copy
        ),
        "—",
        None,
    );
    row(
        &format!("10 | checking {agents} stores before they resume: encrypted; ratio to plain"),
        format!(
            "{check_encrypted:.2} s ({:.2} ms a store); {:.2}× ({check_plain:.2} s)",
            check_encrypted * 1000.0 / agents as f64,
            check_encrypted / check_plain
        ),
        "—",
        None,
    );
}

/// A plain store of an earlier version: 240 KiB in WAL mode.
fn plain_store(files: &StoreFiles, agent: AgentId) {
    let path = files.prepare(agent).unwrap();
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; CREATE TABLE sessions (address TEXT PRIMARY KEY, record BLOB NOT NULL);",
    )
    .unwrap();
    let blob = vec![0x5a_u8; ROW_BYTES];
    let tx = conn.transaction().unwrap();
    for n in 0..STORE_ROWS {
        tx.execute("INSERT INTO sessions VALUES (?1, ?2)", rusqlite::params![format!("{n}@s.whatsapp.net"), blob])
            .unwrap();
    }
    tx.commit().unwrap();
}
