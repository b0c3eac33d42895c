//! How many file descriptors one linked agent holds on the real connector
//! (BENCHMARKS.md, "Descriptors"; issue 11, item 3).
//!
//! Starts the engine with the real connector on N linked agents (saved
//! stores, status `connected`), pointed at a server on 127.0.0.1 that
//! accepts every connection and never answers, so each agent holds what a
//! live attempt holds: its credentials store open and its socket. Counts the
//! process's descriptors (`/proc/self/fd`) once every agent's connection is
//! accepted, for N = 0 and N = 100; the difference over N is the cost of one
//! agent (the engine's own descriptors cancel). The server's side of each
//! socket is counted apart and left out. No network beyond loopback.
//!
//! Usage: `cargo run --release -p switchboard-whatsapp --example descriptors [-- --agents N]`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use switchboard_engine::clock::SystemClock;
use switchboard_engine::lifecycle::Status;
use switchboard_engine::supervisor::{Options, Supervisor};
use switchboard_whatsapp::{ServerOptions, WhatsAppConnector};
use tokio::net::TcpListener;

const VERSION: (u32, u32, u32) = (2, 3000, 1_000_000_000);

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Accepts and holds every connection; counts them.
async fn silent_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://127.0.0.1:{}/ws/chat", listener.local_addr().unwrap().port());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    (url, accepted)
}

/// Descriptors of the process with `agents` linked agents each holding a live attempt.
async fn measure(agents: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("switchboard.db");
    let (url, accepted) = silent_server().await;
    let connector = WhatsAppConnector::with_server(
        dir.path().join("whatsapp"),
        ServerOptions { url: Some(url), version: Some(VERSION) },
    );
    let options = || Options { clock: Arc::new(SystemClock), connector: Arc::new(connector.clone()), seed: 1 };
    let sup = Supervisor::start(&db, options()).await.unwrap();
    // A long connect timeout and a fast start rate: every attempt stays open while counted.
    sup.update_settings(vec![("connect_timeout_ms".into(), 120_000), ("start_rate_per_s".into(), 1_000)])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..agents {
        ids.push(sup.add(&format!("agent {n}")).await.unwrap().record.id);
    }
    sup.shutdown().await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE agents SET status = 'connected', has_credentials = 1, disconnected_at = NULL", []).unwrap();
    drop(conn);
    for id in &ids {
        connector.files().prepare(*id).unwrap();
    }

    let sup = Supervisor::start(&db, options()).await.unwrap();
    let limit = Instant::now() + Duration::from_secs(120);
    while accepted.load(Ordering::SeqCst) < agents || !sup.list().iter().all(|v| v.record.status == Status::Connecting)
    {
        assert!(Instant::now() < limit, "the agents did not all connect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let each client finish opening its store before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The server's end of each socket lives in this process too.
    let open = open_descriptors() - accepted.load(Ordering::SeqCst);
    sup.shutdown().await;
    connector.wait_closed(Duration::from_secs(30)).await;
    open
}

fn main() {
    let mut agents = 100;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--agents", Some(n)) if n > 0 => agents = n,
            _ => {
                eprintln!("usage: descriptors [--agents N]");
                std::process::exit(2);
            }
        }
    }
    if let Err(err) = switchboard_whatsapp::raise_open_file_limit() {
        eprintln!("could not raise the open-file limit: {err}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let base = rt.block_on(measure(0));
    let with = rt.block_on(measure(agents));
    let per_agent = (with - base) as f64 / agents as f64;
    println!("| descriptors: process with 0 linked agents | {base} |");
    println!("| descriptors: process with {agents} linked agents, each attempt open | {with} |");
    println!("| descriptors per linked agent | {per_agent:.2} |");
}
