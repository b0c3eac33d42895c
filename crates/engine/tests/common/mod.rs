//! A test world: a supervisor on the simulated WhatsApp and a real SQLite
//! file, under tokio's paused clock.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use switchboard_engine::clock::{Timestamp, TokioClock};
use switchboard_engine::lifecycle::{AgentId, AgentRecord, Status};
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::supervisor::{AgentView, EngineEvent, Options, Supervisor};
use tokio::sync::broadcast;

/// 2026-01-01T00:00:00Z: a fixed start, so runs repeat exactly.
pub const START: Timestamp = Timestamp(1_767_225_600_000);

pub struct World {
    pub sup: Supervisor,
    pub sim: SimulatedWhatsApp,
    pub clock: Arc<TokioClock>,
    pub db: PathBuf,
    pub events: broadcast::Receiver<EngineEvent>,
    _dir: tempfile::TempDir,
}

/// A temporary directory in memory where the machine has one: SQLite's fsyncs
/// cost nothing there, and the engine runs the same code.
pub fn temp_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm).unwrap() } else { tempfile::tempdir().unwrap() }
}

impl World {
    /// Must run inside a paused tokio runtime.
    pub async fn new() -> World {
        let dir = temp_dir();
        let db = dir.path().join("switchboard.db");
        let sim = SimulatedWhatsApp::new();
        let clock = Arc::new(TokioClock::starting_at(START));
        let sup = start(&db, &sim, &clock).await;
        let events = sup.subscribe();
        World { sup, sim, clock, db, events, _dir: dir }
    }

    /// Closes the app gracefully (P-4) and starts it again on the same database.
    pub async fn restart(&mut self) {
        self.sup.shutdown().await;
        self.sup = start(&self.db, &self.sim, &self.clock).await;
        self.events = self.sup.subscribe();
        self.sup.settle().await;
    }

    /// The engine's now (F-5): what its deadlines are measured on.
    pub fn now(&self) -> Timestamp {
        self.sup.now()
    }

    pub async fn add(&self, name: &str) -> AgentId {
        self.sup.add(name).await.unwrap().record.id
    }

    pub fn view(&self, id: AgentId) -> AgentView {
        self.sup.view(id).expect("agent exists")
    }

    pub fn status(&self, id: AgentId) -> Status {
        self.view(id).record.status
    }

    /// Lets simulated time pass, with every timer firing at its own moment.
    pub async fn pass(&self, d: Duration) {
        tokio::time::sleep(d).await;
        self.sup.settle().await;
    }

    /// Connect, see a QR, scan it; the pairing restart (515) is followed by
    /// the engine's reconnect after `backoff_base`, which opens the link.
    pub async fn link(&self, id: AgentId) {
        let decision = self.sup.connect(id).await.unwrap();
        assert!(decision.is_allowed(), "{decision:?}");
        self.sup.settle().await;
        assert_eq!(self.status(id), Status::QrPending);
        assert!(self.sim.scan(id));
        self.sup.settle().await;
        assert_eq!(self.status(id), Status::Reconnecting, "Q-3: restart to finish pairing");
        self.pass(Duration::from_secs(3)).await;
        assert_eq!(self.status(id), Status::Connected);
    }

    /// The agents table as another process would read it.
    pub fn stored(&self) -> Vec<AgentRecord> {
        let store = switchboard_engine::store::Store::open(&self.db).unwrap();
        store.load_agents().unwrap()
    }

    pub fn notifications(&mut self) -> Vec<(AgentId, String)> {
        let mut out = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            if let EngineEvent::Notification { agent, body, .. } = event {
                out.push((agent, body));
            }
        }
        out
    }
}

pub async fn start(db: &std::path::Path, sim: &SimulatedWhatsApp, clock: &Arc<TokioClock>) -> Supervisor {
    let options = Options { clock: clock.clone(), connector: Arc::new(sim.clone()), seed: 42 };
    let sup = Supervisor::start(db, options).await.unwrap();
    sup.settle().await;
    sup
}

/// `n` agents, all connected, linked through the pairing path's shortcut.
pub async fn linked_fleet(w: &World, n: usize) -> Vec<AgentId> {
    let mut ids = Vec::new();
    for n in 0..n {
        ids.push(w.add(&format!("agent {n}")).await);
    }
    for &id in &ids {
        w.sim.give_credentials(id);
    }
    for &id in &ids {
        w.sup.connect(id).await.unwrap();
        w.sup.settle().await;
        w.sim.open(id);
    }
    w.sup.settle().await;
    assert!(ids.iter().all(|&id| w.status(id) == Status::Connected));
    ids
}

/// The most of `times` that fall in any one-second window.
pub fn most_in_one_second(times: &[tokio::time::Instant]) -> usize {
    times
        .iter()
        .map(|t0| times.iter().filter(|t| **t >= *t0 && **t < *t0 + Duration::from_secs(1)).count())
        .max()
        .unwrap_or(0)
}

/// Makes every write to the history fail, as a full disk or a read-only
/// database would, through a trigger installed by another connection.
pub fn break_saving(db: &std::path::Path, broken: bool) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let sql = if broken {
        "CREATE TRIGGER fail_saving BEFORE INSERT ON history BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;"
    } else {
        "DROP TRIGGER fail_saving;"
    };
    conn.execute_batch(sql).unwrap();
}

/// Takes the database's write lock from another connection, as another
/// program (a backup, a sync tool) would: every commit of the engine waits
/// for it (up to its 5 s busy timeout). `ROLLBACK` on the returned
/// connection lets them go.
pub fn hold_write_lock(db: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

/// Moves paused time on by hand, 10 ms at a time, letting the woken tasks
/// run after each step. Unlike [`World::pass`] it works while a database
/// write is blocked: tokio never auto-advances a paused clock while a
/// blocking task runs, and a task waiting for its commit would not settle.
pub async fn advance_by_hand(total: Duration) {
    let step = Duration::from_millis(10);
    let mut passed = Duration::ZERO;
    while passed < total {
        tokio::time::advance(step).await;
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
        passed += step;
    }
}
