//! Faults of the disk and the database, as the app meets them: a full disk,
//! a read-only disk, a database locked by another program. Each gives a
//! clear, typed error where staff see it (the command's answer, or the
//! window's "cannot save" banner through the snapshot), loses nothing that
//! was saved, and the app goes on once the fault is gone. (A database from a
//! newer version: `commands.rs`; a damaged credentials store: the WhatsApp
//! crate's `loopback.rs`.)
//!
//! The disk faults use a small tmpfs mounted for the test, so they need root
//! (CI runs as root); without it the test fails and says so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_app::state::{AppState, Config};
use switchboard_engine::lifecycle::Rule;
use switchboard_tests::ipc::{Harness, harness, harness_at};

/// A tmpfs of a given size, mounted on a temporary directory for one test.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        mount(&["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs", dir.path().to_str().unwrap()]);
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Makes the disk read-only (`true`) or writable again.
    fn read_only(&self, read_only: bool) {
        let options = if read_only { "remount,ro" } else { "remount,rw" };
        mount(&["-o", options, self.path().to_str().unwrap()]);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: the app under test may still hold a file open while it is dropped.
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn mount(args: &[&str]) {
    let status = Command::new("mount").args(args).status().expect("the mount command");
    assert!(status.success(), "mount {args:?} failed: the disk-fault tests need root to mount a small tmpfs");
}

/// Fills the disk with one file until it refuses more; returns the file.
fn fill(disk: &Path) -> PathBuf {
    use std::io::Write;
    let path = disk.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if let Err(err) = file.write_all(&block).and_then(|()| file.sync_all()) {
            assert_eq!(err.raw_os_error(), Some(28), "expected ENOSPC, got {err}");
            return path;
        }
    }
}

/// Polls the window's snapshot until `done` holds, at most 20 s (the engine
/// retries unsaved changes after 1, 2, 4 … s).
fn wait_snapshot(h: &Harness, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let limit = Instant::now() + Duration::from_secs(20);
    loop {
        let snapshot = h.snapshot();
        if done(&snapshot) {
            return snapshot;
        }
        assert!(Instant::now() < limit, "gave up waiting for {what}: {snapshot}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn status_of(snapshot: &Value, id: &Value) -> String {
    let agents = snapshot["agents"].as_array().unwrap();
    agents.iter().find(|a| a["id"] == *id).unwrap()["status"].as_str().unwrap().to_owned()
}

fn names_in(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let mut stmt = conn.prepare("SELECT name FROM agents ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// A full disk: a click gets a typed error in plain words, a change from
/// WhatsApp is kept and the window says changes cannot be saved; once there
/// is space again the kept change is saved, the banner goes, and every agent
/// saved before is still there.
#[test]
fn a_full_disk_is_a_clear_error_and_nothing_is_lost() {
    let disk = Tmpfs::mount("4m");
    std::fs::create_dir(disk.path().join("data")).unwrap();
    let h = harness_at(true, disk.path().join("data"));
    let a = h.invoke("add_agent", json!({"name": "Support 1"})).unwrap()["id"].clone();
    h.invoke("add_agent", json!({"name": "Support 2"})).unwrap();
    h.invoke("connect_agent", json!({"id": a})).unwrap();
    h.wait_for_rule(&a, Rule::Q1);
    let filler = fill(disk.path());

    // SQLite may still fit a few changes into pages it already has; the next ones fail.
    let mut saved = vec!["Support 1".to_owned(), "Support 2".to_owned()];
    let err = (0..200)
        .find_map(|i| {
            let name = format!("Extra {i}");
            match h.invoke("add_agent", json!({"name": name})) {
                Ok(_) => {
                    saved.push(name);
                    None
                }
                Err(err) => Some(err),
            }
        })
        .expect("a full disk refuses a new agent");
    assert_eq!(err["kind"], "database", "{err}");
    assert!(err["message"].as_str().unwrap().contains("database or disk is full"), "{err}");

    // The phone scans: WhatsApp's change cannot be saved now; the window says why.
    h.invoke("simulate", json!({"id": a, "action": {"action": "scan"}})).unwrap();
    let snapshot = wait_snapshot(&h, "the storage fault", |s| s["storageFault"].is_string());
    assert!(snapshot["storageFault"].as_str().unwrap().contains("full"), "{snapshot}");
    assert_eq!(status_of(&snapshot, &a), "qr_pending", "the agent stays as last saved (P-1)");

    std::fs::remove_file(filler).unwrap();
    let snapshot =
        wait_snapshot(&h, "saving again", |s| s["storageFault"].is_null() && status_of(s, &a) != "qr_pending");
    assert!(["connected", "reconnecting", "connecting"].contains(&status_of(&snapshot, &a).as_str()), "{snapshot}");
    let history = h.invoke("agent_history", json!({"id": a, "limit": 20})).unwrap();
    assert!(history.as_array().unwrap().iter().any(|e| e["rule"] == Rule::Q3.id()), "the scan was saved: {history}");
    h.shutdown();
    assert_eq!(names_in(&disk.path().join("data/demo.db")), saved, "every saved agent is still there");
}

/// A read-only disk at start-up: the app says so plainly, names the file,
/// and does not touch it. (While the app runs, Linux refuses to make a disk
/// with files open for writing read-only; a write failing at run time is the
/// full-disk case above.)
#[test]
fn a_read_only_disk_is_a_clear_error_and_the_file_is_not_touched() {
    let disk = Tmpfs::mount("16m");
    let data = disk.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let h = harness_at(true, data.clone());
    let a = h.invoke("add_agent", json!({"name": "Support 1"})).unwrap()["id"].clone();
    h.invoke("connect_agent", json!({"id": a})).unwrap();
    h.wait_for_rule(&a, Rule::Q1);
    h.shutdown();
    drop(h);

    disk.read_only(true);
    let files = || {
        let mut names: Vec<_> = std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        names.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect::<Vec<_>>()
    };
    let before = files();
    let state = tauri::async_runtime::block_on(AppState::start(Config { demo: true, data_dir: data.clone() }));
    let err = tauri::async_runtime::block_on(state.engine()).err().expect("the app cannot run on a read-only database");
    assert_eq!(err.kind, "database");
    assert!(err.message.contains("demo.db") && err.message.contains("read-only"), "{}", err.message);
    assert!(files() == before, "nothing in the data directory changed");
    drop(state);
    disk.read_only(false);
    assert_eq!(names_in(&data.join("demo.db")), ["Support 1"]);
}

/// Another program holds the database's write lock: after SQLite's 5 s of
/// patience the click gets a typed "locked" error, and once the other
/// program lets go, the same click works.
#[test]
fn a_database_locked_by_another_program_is_a_clear_error_until_it_lets_go() {
    let h = harness(true);
    h.invoke("add_agent", json!({"name": "Support 1"})).unwrap();
    // Another connection, as another process would hold it: SQLite's locks
    // are the same file locks either way.
    let other = rusqlite::Connection::open(h.data_dir.join("demo.db")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let started = Instant::now();
    let err = h.invoke("add_agent", json!({"name": "Support 2"})).expect_err("a locked database refuses");
    assert!(started.elapsed() >= Duration::from_secs(4), "SQLite waited for the lock first");
    assert_eq!(err["kind"], "database", "{err}");
    assert!(err["message"].as_str().unwrap().contains("locked"), "{err}");

    other.execute_batch("COMMIT").unwrap();
    drop(other);
    h.invoke("add_agent", json!({"name": "Support 2"})).unwrap();
    h.shutdown();
    assert_eq!(names_in(&h.data_dir.join("demo.db")), ["Support 1", "Support 2"]);
}
