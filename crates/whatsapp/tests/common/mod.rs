//! What the loopback tests share: local servers that stand in for WhatsApp,
//! and an app with one linked agent resuming against one of them.
//!
//! No test reaches any network beyond loopback: the client dials the local
//! address and uses a fixed WhatsApp Web version, so it fetches nothing over
//! HTTP. The tests run on real time (the OS completes loopback connects
//! while tokio's paused clock would jump its timeouts forward): they wait for
//! states, never for fixed periods.

#![allow(dead_code, unreachable_pub)] // Each test binary uses its own part.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_engine::clock::SystemClock;
use switchboard_engine::lifecycle::{AgentId, CloseCode, HistoryEntry, Status};
use switchboard_engine::supervisor::{AgentView, Options, Supervisor};
use switchboard_whatsapp::{ServerOptions, WhatsAppConnector};
use tokio::net::TcpListener;

/// A WhatsApp Web version to announce, so the client asks WhatsApp for none.
pub const VERSION: (u32, u32, u32) = (2, 3000, 1_000_000_000);
/// The engine's retry delay in these tests; the library's own first retry comes after 1 s.
pub const BACKOFF: Duration = Duration::from_millis(1_800);

#[derive(Clone, Copy)]
pub enum Server {
    /// Nothing listens on the port.
    Refusing,
    /// Accepts the TCP connection and closes it at once.
    AcceptAndDrop,
    /// Accepts the TCP connection and never says a word.
    AcceptAndHang,
}

/// Starts `server` on a free loopback port; returns its URL and the times of each accepted connection.
pub async fn start_server(server: Server) -> (String, Arc<Mutex<Vec<Instant>>>) {
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

pub struct Setup {
    pub sup: Supervisor,
    pub connector: WhatsAppConnector,
    pub agent: AgentId,
    pub dir: tempfile::TempDir,
}

impl Setup {
    /// Closes the app gracefully and waits until every client let go of its store (P-4).
    pub async fn stop(&self) {
        self.sup.shutdown().await;
        assert!(self.connector.wait_closed(Duration::from_secs(30)).await, "a client did not stop");
    }
}

/// A linked agent (a saved store, status `connected`) in a database, the app
/// then started on it with the real connector pointed at `url`. P-3 resumes it.
pub async fn linked_agent_resuming_against(url: &str) -> Setup {
    linked_agent(url, "status = 'connected'").await
}

/// A linked agent whose next retry is `delay` after the app started on it
/// (P-2 keeps a stored retry time): the test can act before the attempt.
pub async fn linked_agent_retrying_in(url: &str, delay: Duration) -> Setup {
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + delay;
    let status = format!("status = 'reconnecting', retry_attempt = 1, next_retry_at = {}", at.as_millis());
    linked_agent(url, &status).await
}

async fn linked_agent(url: &str, status: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("switchboard.db");
    let connector = WhatsAppConnector::with_server(
        dir.path().join("whatsapp"),
        ServerOptions { url: Some(url.to_owned()), version: Some(VERSION), ..ServerOptions::default() },
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
    let sql = format!(
        "UPDATE agents SET {status}, has_credentials = 1, disconnected_at = NULL, phone = '+4915112345678' WHERE id = ?1"
    );
    conn.execute(&sql, [agent.0]).unwrap();
    drop(conn);
    connector.files().prepare(agent).unwrap();

    let sup = Supervisor::start(&db, options()).await.unwrap();
    Setup { sup, connector, agent, dir }
}

/// Waits (real time, bounded) until the agent's view satisfies `done`.
pub async fn wait_for(sup: &Supervisor, agent: AgentId, what: &str, done: impl Fn(&AgentView) -> bool) -> AgentView {
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
pub async fn engine_attempts(sup: &Supervisor, agent: AgentId) -> Vec<HistoryEntry> {
    let mut history = sup.history(agent, 1_000).await.unwrap();
    history.sort_by_key(|h| h.at);
    history.into_iter().filter(|h| h.to == Status::Connecting).collect()
}

/// Waits for the retry number `n` to have been scheduled after a 408.
pub async fn wait_for_retry(sup: &Supervisor, agent: AgentId, n: u32) -> AgentView {
    wait_for(sup, agent, &format!("retry {n}"), |v| {
        v.record.status == Status::Reconnecting && v.record.retry_attempt == n
    })
    .await
}

/// Waits until the agent's attempts number at least `n` and the last one
/// failed: it is held again, waiting for WhatsApp to be reachable (F-2).
pub async fn wait_for_held_after(sup: &Supervisor, agent: AgentId, n: usize) -> AgentView {
    let limit = Instant::now() + Duration::from_secs(60);
    loop {
        let view = sup.view(agent).unwrap();
        if view.record.held_since.is_some() && engine_attempts(sup, agent).await.len() >= n {
            return view;
        }
        assert!(Instant::now() < limit, "gave up waiting for attempt {n} to fail; last view: {:?}", view.record);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The agent met a server it could not reach (F-1) and waits, held, for the
/// outage to end (F-2): its credentials kept, no retry of its own counted.
/// Its timeline names the unreachable server: the row may say so too, or,
/// when the outage began just after its step, "retry held".
pub async fn assert_unreachable_and_held(sup: &Supervisor, view: &AgentView) {
    assert_eq!(view.record.status, Status::Reconnecting);
    assert!(view.record.reason.contains("waiting for WhatsApp to be reachable again"), "{}", view.record.reason);
    assert!(
        unreachable_words(sup, view.record.id).await.is_some(),
        "the timeline names the unreachable server: {:?}",
        sup.history(view.record.id, 20).await
    );
    assert!(view.record.held_since.is_some(), "{:?}", view.record);
    assert_eq!(view.record.next_retry_at, None, "a held agent has no retry of its own");
    assert_eq!(view.record.retry_attempt, 0, "held retries do not count against max_retries");
    assert!(view.record.has_credentials, "a recoverable failure keeps the credentials (L-4)");
}

/// The newest timeline entry of `agent` that says WhatsApp cannot be reached, if any.
pub async fn unreachable_words(sup: &Supervisor, agent: AgentId) -> Option<String> {
    let history = sup.history(agent, 100).await.unwrap();
    history.into_iter().map(|h| h.reason).find(|r| r.contains("WhatsApp cannot be reached from this machine"))
}

pub fn assert_recoverable_timeout(view: &AgentView) {
    assert_eq!(view.record.status, Status::Reconnecting);
    assert_eq!(view.record.last_code, Some(CloseCode::TIMED_OUT));
    assert!(view.record.has_credentials, "a recoverable close keeps the credentials (L-4)");
}
