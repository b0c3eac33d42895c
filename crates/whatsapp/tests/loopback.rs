//! The real whatsapp-rust client against servers on 127.0.0.1 that this test
//! starts: one that refuses, one that accepts and drops, one that accepts and
//! never answers. No test here reaches any network beyond loopback: the
//! client dials the local address and uses a fixed WhatsApp Web version, so it
//! fetches nothing over HTTP.
//!
//! The library's own reconnect is off: every failure comes back to the
//! engine as a recoverable 408, and the engine retries on ITS backoff. Each
//! TCP connection the server sees is one attempt the engine made; the library
//! would have retried after 1 s (Fibonacci), the engine waits `backoff_base`.
//!
//! These tests run on real time: the OS completes loopback connects while
//! tokio's paused clock would jump its timeouts forward. They wait for
//! states, never for fixed periods, and compare the gaps the server measured.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_engine::clock::SystemClock;
use switchboard_engine::lifecycle::{AgentId, CloseCode, HistoryEntry, Rule, Status, Trigger};
use switchboard_engine::supervisor::{AgentView, Options, Supervisor};
use switchboard_whatsapp::{ServerOptions, WhatsAppConnector};
use tokio::net::TcpListener;

/// A WhatsApp Web version to announce, so the client asks WhatsApp for none.
const VERSION: (u32, u32, u32) = (2, 3000, 1_000_000_000);
/// The engine's retry delay in these tests; the library's own first retry comes after 1 s.
const BACKOFF: Duration = Duration::from_millis(1_800);

#[derive(Clone, Copy)]
enum Server {
    /// Nothing listens on the port.
    Refusing,
    /// Accepts the TCP connection and closes it at once.
    AcceptAndDrop,
    /// Accepts the TCP connection and never says a word.
    AcceptAndHang,
}

/// Starts `server` on a free loopback port; returns its URL and the times of each accepted connection.
async fn start_server(server: Server) -> (String, Arc<Mutex<Vec<Instant>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    match server {
        Server::Refusing => drop(listener),
        Server::AcceptAndDrop | Server::AcceptAndHang => {
            let accepted = accepted.clone();
            tokio::spawn(async move {
                let mut held = Vec::new();
                while let Ok((stream, _)) = listener.accept().await {
                    accepted.lock().unwrap().push(Instant::now());
                    if matches!(server, Server::AcceptAndHang) {
                        held.push(stream);
                    }
                }
            });
        }
    }
    (format!("ws://127.0.0.1:{port}/ws/chat"), accepted)
}

struct Setup {
    sup: Supervisor,
    connector: WhatsAppConnector,
    agent: AgentId,
    dir: tempfile::TempDir,
}

impl Setup {
    /// Closes the app gracefully and waits until every client let go of its store (P-4).
    async fn stop(&self) {
        self.sup.shutdown().await;
        assert!(self.connector.wait_closed(Duration::from_secs(30)).await, "a client did not stop");
    }
}

/// A linked agent (a saved store, status `connected`) in a database, the app
/// then started on it with the real connector pointed at `url`. P-3 resumes it.
async fn linked_agent_resuming_against(url: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("switchboard.db");
    let connector = WhatsAppConnector::with_server(
        dir.path().join("whatsapp"),
        ServerOptions { url: Some(url.to_owned()), version: Some(VERSION) },
    );
    let options = || Options { clock: Arc::new(SystemClock), connector: Arc::new(connector.clone()), seed: 7 };
    let sup = Supervisor::start(&db, options()).await.unwrap();
    let agent = sup.add("Support 1").await.unwrap().record.id;
    let changes = [("backoff_base_ms", BACKOFF), ("backoff_cap_ms", BACKOFF)]
        .map(|(key, d)| (key.to_owned(), d.as_millis() as i64))
        .into_iter()
        .chain([("jitter_percent".to_owned(), 0), ("connect_timeout_ms".to_owned(), 5_000)]);
    sup.update_settings(changes.collect()).await.unwrap();
    sup.shutdown().await;

    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE agents SET status = 'connected', has_credentials = 1, disconnected_at = NULL, phone = '+4915112345678' WHERE id = ?1",
        [agent.0],
    )
    .unwrap();
    drop(conn);
    connector.files().prepare(agent).unwrap();

    let sup = Supervisor::start(&db, options()).await.unwrap();
    Setup { sup, connector, agent, dir }
}

/// Waits (real time, bounded) until the agent's view satisfies `done`.
async fn wait_for(sup: &Supervisor, agent: AgentId, what: &str, done: impl Fn(&AgentView) -> bool) -> AgentView {
    let limit = Instant::now() + Duration::from_secs(60);
    loop {
        let view = sup.view(agent).unwrap();
        if done(&view) {
            return view;
        }
        assert!(Instant::now() < limit, "gave up waiting for {what}; last view: {:?}", view.record);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The engine's attempts: history entries that moved the agent to `connecting`, oldest first.
async fn engine_attempts(sup: &Supervisor, agent: AgentId) -> Vec<HistoryEntry> {
    let mut history = sup.history(agent, 1_000).await.unwrap();
    history.sort_by_key(|h| h.at);
    history.into_iter().filter(|h| h.to == Status::Connecting).collect()
}

/// Waits for the retry number `n` to have been scheduled after a 408.
async fn wait_for_retry(sup: &Supervisor, agent: AgentId, n: u32) -> AgentView {
    wait_for(sup, agent, &format!("retry {n}"), |v| {
        v.record.status == Status::Reconnecting && v.record.retry_attempt == n
    })
    .await
}

fn assert_recoverable_timeout(view: &AgentView) {
    assert_eq!(view.record.status, Status::Reconnecting);
    assert_eq!(view.record.last_code, Some(CloseCode::TIMED_OUT));
    assert!(view.record.has_credentials, "a recoverable close keeps the credentials (L-4)");
}

/// L-4, R-1: a refused connection is a 408; the engine retries on its backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l4_a_refused_connection_is_a_408_retried_on_the_engines_backoff() {
    let (url, _) = start_server(Server::Refusing).await;
    let s = linked_agent_resuming_against(&url).await;
    let first = wait_for_retry(&s.sup, s.agent, 1).await;
    assert_recoverable_timeout(&first);
    let second = wait_for_retry(&s.sup, s.agent, 2).await;
    assert_recoverable_timeout(&second);
    let attempts = engine_attempts(&s.sup, s.agent).await;
    assert!(attempts.len() >= 2, "{attempts:?}");
    assert!(attempts.iter().all(|a| a.trigger == Trigger::Auto));
    // The retry came when the engine scheduled it, not the library's 1 s.
    let gap = attempts[1].at.0 - attempts[0].at.0;
    assert!(gap >= BACKOFF.as_millis() as i64, "attempts {gap} ms apart");
    s.stop().await;
}

/// L-4, R-1: the server accepts and drops; each TCP connection is one engine attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l4_a_dropped_connection_is_a_408_and_the_library_does_not_retry_by_itself() {
    let (url, accepted) = start_server(Server::AcceptAndDrop).await;
    let s = linked_agent_resuming_against(&url).await;
    assert_recoverable_timeout(&wait_for_retry(&s.sup, s.agent, 1).await);
    assert_recoverable_timeout(&wait_for_retry(&s.sup, s.agent, 2).await);
    let attempts = engine_attempts(&s.sup, s.agent).await;
    s.stop().await;

    let accepted = accepted.lock().unwrap().clone();
    // Retry 2 is scheduled after the second attempt failed: two attempts, two connections.
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(accepted.len(), attempts.len(), "one TCP connection per engine attempt");
    let gap = accepted[1] - accepted[0];
    assert!(
        gap >= BACKOFF.saturating_sub(Duration::from_millis(50)),
        "connections {gap:?} apart: the library retried by itself"
    );
}

/// the server accepts and never answers; the engine's connect timeout
/// closes the attempt as a 408 and the library has not dialled again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r6_a_silent_server_is_a_408_after_the_engines_connect_timeout() {
    let (url, accepted) = start_server(Server::AcceptAndHang).await;
    let s = linked_agent_resuming_against(&url).await;
    let view = wait_for_retry(&s.sup, s.agent, 1).await;
    assert_recoverable_timeout(&view);
    let history = s.sup.history(s.agent, 100).await.unwrap();
    assert!(history.iter().any(|h| h.rule == Some(Rule::R6) && h.code == Some(CloseCode::TIMED_OUT)), "{history:?}");
    assert_eq!(accepted.lock().unwrap().len(), 1);
    s.stop().await;
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// P-6, P-4, D-1: the store is 0600 files in a 0700 directory, kept on a
/// graceful shutdown, and deleted by a manual disconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p6_store_files_are_private_kept_on_shutdown_and_deleted_on_disconnect() {
    let (url, _) = start_server(Server::AcceptAndDrop).await;
    let s = linked_agent_resuming_against(&url).await;
    wait_for_retry(&s.sup, s.agent, 1).await;
    s.stop().await;

    // The client wrote its device into the store; everything in it is private.
    let files = s.connector.files();
    let written = files.files(s.agent).unwrap();
    assert!(written.iter().any(|f| f.ends_with("session.db")), "{written:?}");
    assert!(std::fs::metadata(files.database(s.agent)).unwrap().len() > 0, "the client wrote nothing");
    for file in &written {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(&files.dir(s.agent)), 0o700);
    assert_eq!(mode(files.root()), 0o700);

    // P-4: a graceful shutdown kept the store, so the next start resumes (P-3).
    let db = s.dir.path().join("switchboard.db");
    let options = Options { clock: Arc::new(SystemClock), connector: Arc::new(s.connector.clone()), seed: 7 };
    let sup = Supervisor::start(&db, options).await.unwrap();
    assert!(sup.view(s.agent).unwrap().record.has_credentials);

    // D-1: a manual disconnect deletes it (after the client has let go of it).
    sup.disconnect(s.agent).await.unwrap();
    assert!(s.connector.wait_closed(Duration::from_secs(30)).await);
    assert!(!files.dir(s.agent).exists(), "the store survived a manual disconnect");
    assert!(!sup.view(s.agent).unwrap().record.has_credentials);
    sup.shutdown().await;
}

/// Faults in the credentials stores: one agent's store is garbage, another's
/// cannot be read at all (a directory where the file should be). Each of
/// them fails on its own with the plain-words reason of a corrupted session
/// (RULES.md §2, 500: scan a new QR) at its first attempt, not after retries;
/// the agent beside them with a sound store goes on as usual (here: a
/// refused connection, 408, retried).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l3_a_corrupted_or_unreadable_store_fails_only_its_own_agent() {
    let (url, _) = start_server(Server::Refusing).await;
    let s = linked_agent_resuming_against(&url).await;
    wait_for_retry(&s.sup, s.agent, 1).await;
    let sound = s.agent;
    let garbage = s.sup.add("Support 2").await.unwrap().record.id;
    let unreadable = s.sup.add("Support 3").await.unwrap().record.id;
    s.stop().await;

    let db = s.dir.path().join("switchboard.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    for agent in [garbage, unreadable] {
        conn.execute("UPDATE agents SET status = 'connected', has_credentials = 1 WHERE id = ?1", [agent.0]).unwrap();
    }
    drop(conn);
    let files = s.connector.files();
    std::fs::write(files.prepare(garbage).unwrap(), b"this is not a SQLite database ".repeat(200)).unwrap();
    let path = files.prepare(unreadable).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();

    let options = Options { clock: Arc::new(SystemClock), connector: Arc::new(s.connector.clone()), seed: 7 };
    let sup = Supervisor::start(&db, options).await.unwrap();
    for agent in [garbage, unreadable] {
        let view = wait_for(&sup, agent, "the store fault", |v| v.record.status == Status::Failed).await;
        assert_eq!(view.record.last_code, Some(CloseCode::BAD_SESSION));
        assert!(view.record.reason.contains("session corrupted: scan a new QR"), "{}", view.record.reason);
        assert!(!view.record.has_credentials);
        assert_eq!(engine_attempts(&sup, agent).await.len(), 1, "it failed at its first attempt");
    }
    let view = wait_for(&sup, sound, "the sound agent's next retry", |v| {
        v.record.status == Status::Reconnecting && v.record.retry_attempt >= 2
    })
    .await;
    assert_recoverable_timeout(&view);
    sup.shutdown().await;
    assert!(s.connector.wait_closed(Duration::from_secs(30)).await);
}
