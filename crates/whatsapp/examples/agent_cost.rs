//! What one connected agent costs on the real connector (BENCHMARKS.md,
//! figure 7; issue 13): open file descriptors, memory (PSS) and live heap
//! per agent, at 10 and 200 agents, against a process with none in the same run.
//!
//! Each measurement is a process of its own (this example started again with
//! `--measure N`), so what one count allocated and freed cannot linger in the
//! allocator of the next. It starts the engine with the real connector on N
//! linked agents (saved stores, status `connected`) pointed at a WhatsApp
//! stand-in on 127.0.0.1, run as a further process (`--serve`) so that its
//! sockets and memory are not counted. The stand-in completes the WebSocket
//! upgrade and takes the client's noise hello; it cannot answer it (the
//! client checks the answer against WhatsApp's certificate chain), so it
//! sends WhatsApp's answer one byte every few seconds instead, and every
//! client waits with its store open, its socket upgraded and its handshake
//! under way: what a live attempt holds before WhatsApp lets it in. Once
//! every hello has arrived it waits past tokio's idle time for blocking
//! threads (the store's open ran on them), then reads `/proc/self/fd`,
//! `Pss` of `/proc/self/smaps_rollup`, the Rust heap (a counting allocator)
//! and SQLite's own heap (`sqlite3_memory_used`). The cost of one agent is
//! (value at N − value at 0) / N, the median over the runs. Each count is
//! measured twice: with the stores encrypted (P-7, as the app runs them) and
//! plain, so encryption's cost is a ratio taken in the same run.
//!
//! Usage: `cargo run -p switchboard-whatsapp --example agent_cost [-- --runs N]`

#[path = "../../engine/examples/report/heap.rs"]
mod heap;
#[path = "../../engine/examples/report/mod.rs"]
mod report;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use report::{median, row};
use switchboard_engine::clock::SystemClock;
use switchboard_engine::lifecycle::Status;
use switchboard_engine::supervisor::{Options, Supervisor};
use switchboard_whatsapp::protection::StoreKey;
use switchboard_whatsapp::store_files::StoreFiles;
use switchboard_whatsapp::{ServerOptions, WhatsAppConnector};

/// SQLite allocates with the C allocator, past the counting one: its page
/// caches and statements are counted by SQLite itself.
#[allow(unsafe_code)]
fn sqlite_heap() -> i64 {
    // SAFETY: reads a counter; callable at any time from any thread.
    unsafe { rusqlite::ffi::sqlite3_memory_used() }
}

const VERSION: (u32, u32, u32) = (2, 3000, 1_000_000_000);
/// The agent counts measured, each against the process with none.
const COUNTS: [usize; 2] = [10, 200];
/// Goals of issue 13 for one connected agent.
const GOAL_BYTES: f64 = 2.0 * 1024.0 * 1024.0;
const GOAL_DESCRIPTORS: f64 = 8.0;
/// The stand-in's pace: well within the client's 20 s wait for each piece of
/// WhatsApp's answer, so no handshake times out while counted.
const TRICKLE: Duration = Duration::from_secs(5);
/// After the last hello: past tokio's 10 s idle time for blocking threads,
/// so the threads that opened the stores are gone and only what each agent
/// keeps is counted.
const SETTLE: Duration = Duration::from_secs(12);

/// One measurement of the whole process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    descriptors: f64,
    pss_bytes: f64,
    rust_heap: f64,
    sqlite_heap: f64,
    threads: f64,
}

impl Sample {
    fn take() -> Sample {
        let count = |dir: &str| std::fs::read_dir(dir).map_or(0, Iterator::count) as f64;
        Sample {
            descriptors: count("/proc/self/fd"),
            pss_bytes: pss_kib() as f64 * 1024.0,
            rust_heap: heap::live_bytes() as f64,
            sqlite_heap: sqlite_heap() as f64,
            threads: count("/proc/self/task"),
        }
    }

    fn line(&self) -> String {
        format!(
            "sample {} {} {} {} {}",
            self.descriptors, self.pss_bytes, self.rust_heap, self.sqlite_heap, self.threads
        )
    }

    fn parse(line: &str) -> Option<Sample> {
        let mut values = line.strip_prefix("sample ")?.split(' ').map(str::parse::<f64>);
        let mut next = || values.next()?.ok();
        Some(Sample {
            descriptors: next()?,
            pss_bytes: next()?,
            rust_heap: next()?,
            sqlite_heap: next()?,
            threads: next()?,
        })
    }

    /// The cost of one agent: the difference to `base` over `agents`.
    fn per_agent(&self, base: &Sample, agents: usize) -> Sample {
        let n = agents as f64;
        Sample {
            descriptors: (self.descriptors - base.descriptors) / n,
            pss_bytes: (self.pss_bytes - base.pss_bytes) / n,
            rust_heap: (self.rust_heap - base.rust_heap) / n,
            sqlite_heap: (self.sqlite_heap - base.sqlite_heap) / n,
            threads: (self.threads - base.threads) / n,
        }
    }
}

fn pss_kib() -> u64 {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    text.lines().find(|l| l.starts_with("Pss:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["--serve"] => serve(),
        ["--measure", n, stores] => measure(n.parse().expect("a count of agents"), *stores == "encrypted"),
        ["--runs", n] => report(n.parse().expect("a number of runs")),
        ["--quick"] => report(1),
        [] => report(3),
        _ => {
            eprintln!("usage: agent_cost [--runs N | --quick]");
            std::process::exit(2);
        }
    }
}

/// Measures 0, 10 and 200 agents `runs` times and prints the table's rows.
fn report(runs: usize) {
    let mut per_count: Vec<Vec<Sample>> = vec![Vec::new(); COUNTS.len()];
    let mut per_count_plain: Vec<Vec<Sample>> = vec![Vec::new(); COUNTS.len()];
    let mut bases = Vec::new();
    for _ in 0..runs {
        let base = sample_of(0, true);
        for (i, &agents) in COUNTS.iter().enumerate() {
            per_count[i].push(sample_of(agents, true).per_agent(&base, agents));
            per_count_plain[i].push(sample_of(agents, false).per_agent(&base, agents));
        }
        bases.push(base);
    }
    let of = |samples: &[Sample], pick: fn(&Sample) -> f64| median(samples.iter().map(pick).collect());
    let base_fds = of(&bases, |s| s.descriptors);
    let base_pss = of(&bases, |s| s.pss_bytes);
    let counts = COUNTS.map(|n| n.to_string()).join(" and ");
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    let kib = |bytes: f64| bytes / 1024.0;
    let fds: Vec<f64> = per_count.iter().map(|s| of(s, |s| s.descriptors)).collect();
    let pss: Vec<f64> = per_count.iter().map(|s| of(s, |s| s.pss_bytes)).collect();
    let heap: Vec<(f64, f64)> = per_count.iter().map(|s| (of(s, |s| s.rust_heap), of(s, |s| s.sqlite_heap))).collect();
    let threads: Vec<f64> = per_count.iter().map(|s| of(s, |s| s.threads)).collect();
    let plain_pss: Vec<f64> = per_count_plain.iter().map(|s| of(s, |s| s.pss_bytes)).collect();
    let plain_heap: Vec<f64> = per_count_plain.iter().map(|s| of(s, |s| s.rust_heap + s.sqlite_heap)).collect();
    let runs_words = if runs == 1 { "1 run".to_owned() } else { format!("median of {runs} runs") };
    row(
        &format!("7 | file descriptors per connected agent (real connector, loopback), {counts} agents"),
        format!(
            "{} (process without agents: {base_fds:.0}; {runs_words})",
            fds.iter().map(|v| format!("{v:.2}")).collect::<Vec<_>>().join(", ")
        ),
        "≤ 8",
        Some(fds.iter().all(|&v| v <= GOAL_DESCRIPTORS)),
    );
    row(
        &format!("7 | memory (PSS) per connected agent, encrypted stores (P-7), {counts} agents"),
        format!(
            "{} (process without agents: {:.1} MiB)",
            pss.iter().map(|v| format!("{:.0} KiB", kib(*v))).collect::<Vec<_>>().join(", "),
            mib(base_pss)
        ),
        "≤ 2 MiB",
        Some(pss.iter().all(|&v| v <= GOAL_BYTES)),
    );
    row(
        &format!("7 | live heap per connected agent (Rust + SQLite), encrypted stores, {counts} agents"),
        heap.iter()
            .map(|(rust, sqlite)| format!("{:.0} KiB ({:.0} + {:.0})", kib(rust + sqlite), kib(*rust), kib(*sqlite)))
            .collect::<Vec<_>>()
            .join(", "),
        "≤ 2 MiB",
        Some(heap.iter().all(|(rust, sqlite)| rust + sqlite <= GOAL_BYTES)),
    );
    row(
        &format!("7 | … the same with plain stores: PSS, live heap; encrypted / plain, {counts} agents"),
        pss.iter()
            .zip(&plain_pss)
            .zip(heap.iter().zip(&plain_heap))
            .map(|((enc_pss, plain_pss), ((rust, sqlite), plain_heap))| {
                format!(
                    "{:.0} KiB, {:.0} KiB ({:.2}×, {:.2}×)",
                    kib(*plain_pss),
                    kib(*plain_heap),
                    enc_pss / plain_pss,
                    (rust + sqlite) / plain_heap
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        "—",
        None,
    );
    row(
        &format!("7 | … threads per connected agent, {counts} agents"),
        threads.iter().map(|v| format!("{v:.2}")).collect::<Vec<_>>().join(", "),
        "—",
        None,
    );
}

/// Runs one measurement in a process of its own.
fn sample_of(agents: usize, encrypted: bool) -> Sample {
    let exe = std::env::current_exe().expect("the example's own path");
    let output = Command::new(exe)
        .args(["--measure", &agents.to_string(), if encrypted { "encrypted" } else { "plain" }])
        .stderr(Stdio::inherit())
        .output()
        .expect("the measuring process starts");
    assert!(output.status.success(), "the measurement of {agents} agents failed");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().find_map(Sample::parse).unwrap_or_else(|| panic!("no sample in {text:?}"))
}

/// The stand-in, started by one measurement; counts the hellos it has taken.
struct StandIn {
    child: Child,
    url: String,
    hellos: Arc<AtomicUsize>,
}

impl StandIn {
    fn start() -> StandIn {
        let exe = std::env::current_exe().expect("the example's own path");
        let mut child = Command::new(exe)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the stand-in starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines.next().and_then(Result::ok).expect("the stand-in's address");
        let hellos = Arc::new(AtomicUsize::new(0));
        let count = hellos.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if line == "hello" {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        StandIn { child, url, hellos }
    }

    fn stop(mut self) {
        // Closing its stdin ends it; waiting reaps it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// One measurement: the process with `agents` connected agents.
fn measure(agents: usize, encrypted: bool) {
    if let Err(err) = switchboard_whatsapp::raise_open_file_limit() {
        eprintln!("could not raise the open-file limit: {err}");
    }
    let stand_in = StandIn::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sample = rt.block_on(hold(agents, &stand_in.url, &stand_in.hellos, encrypted));
    drop(rt);
    stand_in.stop();
    println!("{}", sample.line());
}

/// Starts the engine on `agents` linked agents against the stand-in, samples the process once all wait in the handshake.
async fn hold(agents: usize, url: &str, hellos: &AtomicUsize, encrypted: bool) -> Sample {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("switchboard.db");
    let key = encrypted.then(StoreKey::generate);
    let connector = WhatsAppConnector::with_files(
        StoreFiles::with_key(dir.path().join("whatsapp"), key),
        ServerOptions { url: Some(url.to_owned()), version: Some(VERSION), ..ServerOptions::default() },
    );
    let options = || Options { clock: Arc::new(SystemClock), connector: Arc::new(connector.clone()), seed: 1 };
    let sup = Supervisor::start(&db, options()).await.unwrap();
    // A long connect timeout and a fast start rate: every attempt stays open while counted.
    sup.update_settings(vec![("connect_timeout_ms".into(), 300_000), ("start_rate_per_s".into(), 1_000)])
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
    while hellos.load(Ordering::SeqCst) < agents || !sup.list().iter().all(|v| v.record.status == Status::Connecting) {
        assert!(Instant::now() < limit, "the agents did not all reach the handshake");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(SETTLE).await;
    assert_eq!(hellos.load(Ordering::SeqCst), agents, "an agent dialled again: a handshake ended while counted");
    assert!(sup.list().iter().all(|v| v.record.status == Status::Connecting), "an attempt ended while counted");
    let sample = Sample::take();
    sup.shutdown().await;
    connector.wait_closed(Duration::from_secs(60)).await;
    sample
}

/// The WhatsApp stand-in: upgrades every connection to a WebSocket, takes the
/// client's noise hello (says `hello` on stdout), then trickles out an answer
/// that never completes. Ends when its stdin closes.
fn serve() {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("ws://127.0.0.1:{}/ws/chat", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(hold_handshake(stream));
        }
    });
}

async fn hold_handshake(stream: tokio::net::TcpStream) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_websockets::{Message, ServerBuilder};

    let Ok((_, mut ws)) = ServerBuilder::new().accept(stream).await else { return };
    let Some(Ok(_hello)) = ws.next().await else { return };
    println!("hello");
    // A frame announced as 256 bytes long (a real answer is a few hundred),
    // sent one byte at a time: the client keeps waiting for the rest, each
    // byte restarting its wait.
    let answer = [0u8, 1, 0].into_iter().chain(std::iter::repeat(0));
    for byte in answer {
        if ws.send(Message::binary(vec![byte])).await.is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(TRICKLE) => {}
            // The client closed: so does the stand-in.
            next = ws.next() => if next.is_none_or(|m| m.is_err()) { return },
        }
    }
}
