//! The engine's benchmarks (BENCHMARKS.md, figures 1–4 and 8). Run through
//! `bash scripts/bench.sh`, or alone:
//! `cargo run --release -p switchboard-engine --example bench [-- --runs N --quick]`.
//!
//! Prints one Markdown table row per figure: the median over `--runs` runs,
//! the goal, and whether it was met. Each throughput figure has a baseline
//! measured in the same run, because these machines are shared and noisy.
//!
//! 1. Persisted transitions per second through the supervisor on the
//!    simulated WhatsApp (real time, real fsyncs, `synchronous=FULL`), with
//!    the same rows written by raw batched upserts (the ceiling) and one
//!    transaction per transition (the naive way), the CPU time per transition
//!    of the engine and of the raw upserts, and the latency of each user
//!    command until its change is committed.
//! 2. Live heap per idle supervised agent, by a counting allocator.
//! 3. A reconnect storm of 1,000 agents on the real clock (and, for
//!    comparison, in paused time).
//! 4. Restart: process start to every agent restored, against an empty database.

#[path = "report/heap.rs"]
mod heap;
mod report;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use report::{median, row};
use switchboard_engine::clock::{Clock, SystemClock, Timestamp, TokioClock};
use switchboard_engine::lifecycle::{AgentId, CloseCode, Status};
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::store::{Store, agent_name_key};
use switchboard_engine::supervisor::{Options, Supervisor};

/// 2026-01-01T00:00:00Z, the paused clock's start.
const START: Timestamp = Timestamp(1_767_225_600_000);

struct Args {
    runs: usize,
    quick: bool,
}

fn main() {
    let mut argv = std::env::args().skip(1);
    let mut args = Args { runs: 3, quick: false };
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--restore-child" => {
                let db = PathBuf::from(argv.next().expect("--restore-child DB"));
                restore_child(&db);
                return;
            }
            "--runs" => args.runs = argv.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--quick" => args.quick = true,
            // Figure 1 alone, at both sizes (after `--runs`/`--quick` to take them).
            "--transitions" => {
                return only(|dir| {
                    for &agents in sizes(&args) {
                        transitions(dir, agents, &args);
                    }
                });
            }
            // Figures 8 and 9 alone: each runs in paused time.
            "--outage" => return only(outage),
            "--year" => return only(year),
            // Figure 4 alone, on the storm's database (figure 3 runs first to make it).
            "--restart" => {
                return only(|dir| {
                    let storm_db = storm(dir);
                    restart(dir, &storm_db, &Args { runs: 5, quick: false });
                });
            }
            other => {
                panic!("unknown argument {other:?} (use --runs N, --quick, --transitions, --outage, --year, --restart)")
            }
        }
    }
    let dir = tempfile::Builder::new().prefix("switchboard-bench").tempdir().expect("a temporary directory");
    println!("Engine figures: median of {} runs; databases in {} (disk)\n", args.runs, dir.path().display());
    println!("| # | figure | result | goal | met |");
    println!("| --- | --- | --- | --- | --- |");
    for &agents in sizes(&args) {
        transitions(dir.path(), agents, &args);
    }
    memory(dir.path(), &args);
    let storm_db = storm(dir.path());
    restart(dir.path(), &storm_db, &args);
    outage(dir.path());
    year(dir.path());
}

/// Figure 1's fleet sizes: a quick run takes the smaller only.
fn sizes(args: &Args) -> &'static [usize] {
    if args.quick { &[1_000] } else { &[1_000, 10_000] }
}

/// Prints the table's head and one figure's rows, on databases of its own.
fn only(figure: impl FnOnce(&Path)) {
    let dir = tempfile::Builder::new().prefix("switchboard-bench").tempdir().expect("a temporary directory");
    println!("| # | figure | result | goal | met |");
    println!("| --- | --- | --- | --- | --- |");
    figure(dir.path());
}

/// Links every agent in paused time (a pairing the phone opens, the QR
/// step skipped) and returns their ids, all connected.
async fn link_all(sup: &Supervisor, sim: &SimulatedWhatsApp) -> Vec<AgentId> {
    let ids: Vec<AgentId> = sup.list().iter().map(|v| v.record.id).collect();
    for &id in &ids {
        sup.connect(id).await.unwrap();
    }
    sup.settle().await;
    for &id in &ids {
        assert!(sim.open(id));
    }
    sup.settle().await;
    assert!(sup.list().iter().all(|v| v.record.status == Status::Connected));
    ids
}

/// The database's files on disk: the file itself and its `-wal` and `-shm`.
fn database_bytes(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).ok())
        .map(|m| m.len())
        .sum()
}

/// Figure 9 (H-5): a year of daily storms. 1,000 linked agents all drop
/// once a day (a storm: every one reconnects, through an outage, F-1…F-3),
/// in paused time, with retention on at its default (`history_days` 90).
/// The database's size on disk after 90 days, 180 days and a year: with
/// retention the last two stay near the first.
fn year(dir: &Path) {
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    let db = dir.join("year.db");
    populate(&db, STORM_AGENTS);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    let sizes = rt.block_on(async {
        let sim = SimulatedWhatsApp::new();
        let clock = Arc::new(TokioClock::starting_at(START));
        let sup = Supervisor::start(&db, options(&sim, clock)).await.unwrap();
        let ids = link_all(&sup, &sim).await;
        let mut sizes = Vec::new();
        for day in 1..=365 {
            for &id in &ids {
                sim.drop_with(id, CloseCode::TIMED_OUT, None);
            }
            tokio::time::sleep(DAY).await;
            sup.settle().await;
            if [90, 180, 365].contains(&day) {
                sizes.push((day, database_bytes(&db)));
            }
        }
        let rows: i64 =
            Store::open(&db).unwrap().connection().query_row("SELECT COUNT(*) FROM history", [], |r| r.get(0)).unwrap();
        sup.shutdown().await;
        (sizes, rows)
    });
    let (sizes, rows) = sizes;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let at = |day: u32| sizes.iter().find(|(d, _)| *d == day).map_or(0, |(_, b)| *b);
    let words: Vec<String> = sizes.iter().map(|(d, b)| format!("day {d}: {:.1} MiB", mib(*b))).collect();
    row(
        "9 | database on disk, 1,000 agents, a storm a day, history_days 90",
        format!("{} ({rows} history rows kept)", words.join(", ")),
        "a year ≤ 1.25× day 90",
        Some(at(365) as f64 <= 1.25 * at(90) as f64),
    );
}

/// Figure 8 (F-1…F-3): 1,000 linked agents, this machine cut off from
/// WhatsApp for ten minutes, then not. In paused time (the outage's rules
/// are about time, not speed): probes during the outage and the most at
/// once, how long after the outage's end every agent is connected again,
/// the peak starts in any second of the resume, and agents left `failed`.
fn outage(dir: &Path) {
    let db = dir.join("outage.db");
    populate(&db, STORM_AGENTS);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    rt.block_on(async {
        let sim = SimulatedWhatsApp::new();
        let clock = Arc::new(TokioClock::starting_at(START));
        let sup = Supervisor::start(&db, options(&sim, clock)).await.unwrap();
        link_all(&sup, &sim).await;
        let start_rate = sup.settings().start_rate as usize;
        let before = sim.stats().starts.len();
        sim.cut_off(true);
        tokio::time::sleep(Duration::from_secs(600)).await;
        sup.settle().await;
        let probes: Vec<_> = sim.stats().starts[before..].to_vec();
        // Each probe fails at once on a cut-off network; two probes at once
        // would be two starts closer together than R-1's shortest delay.
        let shortest = sup.settings().backoff_base.mul_f64(0.8);
        let overlapping = probes.windows(2).filter(|p| p[1].1 - p[0].1 < shortest).count();
        sim.cut_off(false);
        let resume_from = sim.stats().starts.len();
        while sup.outage().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sup.settle().await;
        }
        let ended = tokio::time::Instant::now();
        while !sup.list().iter().all(|v| v.record.status == Status::Connected) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sup.settle().await;
        }
        let back = ended.elapsed();
        let failed = sup.list().iter().filter(|v| v.record.status == Status::Failed).count();
        // On the starts' own times: the loop above sees the end up to 100 ms late.
        let resumed: Vec<tokio::time::Instant> =
            sim.stats().starts[resume_from..].iter().map(|(_, at, _)| *at).collect();
        let first = resumed.iter().min().copied().unwrap_or(ended);
        let times: Vec<Duration> = resumed.iter().map(|at| *at - first).collect();
        let peak = times
            .iter()
            .map(|&from| times.iter().filter(|&&t| t >= from && t < from + Duration::from_secs(1)).count())
            .max()
            .unwrap_or(0);
        row(
            "8 | outage of 10 min, 1,000 agents: probes during it (two closer than R-1 allows)",
            format!("{} ({overlapping})", probes.len()),
            "one at a time (0)",
            Some(overlapping == 0),
        );
        row(
            "8 | … from the outage's end to all 1,000 connected; peak starts in any second",
            format!("{:.1} s; {peak}", back.as_secs_f64()),
            &format!("≤ 60 s; ≤ start_rate ({start_rate})"),
            Some(back <= Duration::from_secs(60) && peak <= start_rate),
        );
        row("8 | … agents left failed, clicks needed", format!("{failed}, 0"), "0, 0", Some(failed == 0));
        sup.shutdown().await;
    });
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn fmt_rate(per_s: f64) -> String {
    if per_s >= 10_000.0 { format!("{:.1}k/s", per_s / 1_000.0) } else { format!("{per_s:.0}/s") }
}

/// A database with `agents` cleanly disconnected agents, written in one transaction.
fn populate(path: &Path, agents: usize) {
    let _ = std::fs::remove_file(path);
    let store = Store::open(path).expect("open the bench database");
    let conn = store.connection();
    conn.execute_batch("BEGIN").unwrap();
    let mut insert = conn
        .prepare("INSERT INTO agents (name, name_key, status, reason, created_at) VALUES (?1, ?2, 'disconnected', 'new agent', ?3)")
        .unwrap();
    for i in 0..agents {
        let name = format!("Agent {i:05}");
        insert.execute(rusqlite::params![name, agent_name_key(&name), START.0]).unwrap();
    }
    drop(insert);
    conn.execute_batch("COMMIT").unwrap();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

fn options(sim: &SimulatedWhatsApp, clock: Arc<dyn Clock>) -> Options {
    Options { clock, connector: Arc::new(sim.clone()), seed: 7 }
}

/// One history row as the supervisor wrote it, to be written again by the baselines.
struct HistoryRow {
    agent: i64,
    at: i64,
    from: String,
    to: String,
    code: Option<i64>,
    reason: String,
    trigger: String,
    rule: String,
}

struct TransitionRun {
    per_s: f64,
    /// The process's CPU time per transition (both cores, drivers included).
    cpu: Duration,
    latencies: Vec<Duration>,
    rows: Vec<HistoryRow>,
}

/// Figure 1: every agent's user connects and disconnects in a loop for a
/// few seconds; each call returns once its change is committed (P-1).
fn transitions(dir: &Path, agents: usize, args: &Args) {
    let window = if args.quick { Duration::from_secs(1) } else { Duration::from_secs(3) };
    let (mut engine, mut raw, mut naive, mut p50, mut p99) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut engine_cpu, mut raw_cpu) = (vec![], vec![]);
    for run in 0..args.runs {
        let db = dir.join(format!("transitions-{agents}-{run}.db"));
        let baseline_db = dir.join(format!("transitions-{agents}-{run}-baseline.db"));
        populate(&db, agents);
        populate(&baseline_db, agents);
        let result = runtime().block_on(drive_transitions(&db, window));
        let cpu_before = cpu_time();
        let ceiling = replay(&baseline_db, &result.rows, 1_024);
        let transitions = result.rows.iter().filter(|r| r.from != r.to).count() as f64;
        raw_cpu.push(cpu_time().saturating_sub(cpu_before).as_secs_f64() * 1e6 / transitions);
        engine_cpu.push(result.cpu.as_secs_f64() * 1e6);
        // Each run on stderr, so the table keeps the medians and the spread stays visible.
        eprintln!(
            "figure 1, {agents} agents, run {run}: {} vs raw {}: {:.3}",
            fmt_rate(result.per_s),
            fmt_rate(ceiling),
            result.per_s / ceiling
        );
        engine.push(result.per_s);
        raw.push(ceiling);
        // One fsync per row is slow: a sample of the same rows is enough for a rate.
        let sample = &result.rows[..result.rows.len().min(400)];
        naive.push(replay(&baseline_db, sample, 1));
        let mut latencies = result.latencies;
        latencies.sort();
        p50.push(percentile(&latencies, 0.50).as_secs_f64() * 1e3);
        p99.push(percentile(&latencies, 0.99).as_secs_f64() * 1e3);
        for file in [&db, &baseline_db] {
            let _ = std::fs::remove_file(file);
        }
    }
    let (engine, raw, naive) = (median(engine), median(raw), median(naive));
    let n = if agents >= 10_000 { "10k" } else { "1k" };
    row(&format!("1 | persisted transitions/s, {n} agents"), fmt_rate(engine), "≥ 20k/s", Some(engine >= 20_000.0));
    row(
        &format!("1 | … ratio to raw batched upserts ({}), {n}", fmt_rate(raw)),
        format!("{:.2}", engine / raw),
        "≥ 0.7",
        Some(engine / raw >= 0.7),
    );
    row(
        &format!("1 | … ratio to one transaction per transition ({}), {n}", fmt_rate(naive)),
        format!("{:.1}×", engine / naive),
        "—",
        None,
    );
    row(
        &format!("1 | … CPU time per transition (raw batched upserts), {n}"),
        format!("{:.1} µs ({:.1} µs)", median(engine_cpu), median(raw_cpu)),
        "—",
        None,
    );
    row(
        &format!("1 | command → committed latency p50 / p99, {n}"),
        format!("{:.1} ms / {:.1} ms", median(p50), median(p99)),
        "—",
        None,
    );
}

async fn drive_transitions(db: &Path, window: Duration) -> TransitionRun {
    let sim = SimulatedWhatsApp::new();
    let sup = Supervisor::start(db, options(&sim, Arc::new(SystemClock))).await.expect("start");
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let cpu_before = cpu_time();
    let drivers: Vec<_> = sup
        .list()
        .into_iter()
        .map(|view| {
            // The lifecycle's transitions are measured: a script's clicks are no operator's (B-3).
            let (sup, stop, id) = (sup.unaudited(), stop.clone(), view.record.id);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let _ = sup.connect(id).await;
                    latencies.push(t.elapsed());
                    let t = Instant::now();
                    let _ = sup.disconnect(id).await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for driver in drivers {
        latencies.extend(driver.await.unwrap());
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    sup.settle().await;
    sup.shutdown().await;
    // The database is fresh: every history row is this run's.
    let rows = read_history(db);
    let transitions = rows.iter().filter(|r| r.from != r.to).count();
    TransitionRun {
        per_s: transitions as f64 / elapsed.as_secs_f64(),
        cpu: cpu / transitions.max(1) as u32,
        latencies,
        rows,
    }
}

/// The CPU time this process has used, all threads together: what a
/// transition costs regardless of how busy the shared machine is.
#[cfg(unix)]
fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[cfg(not(unix))]
fn cpu_time() -> Duration {
    Duration::ZERO
}

fn read_history(db: &Path) -> Vec<HistoryRow> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT agent_id, at, from_status, to_status, code, reason, \"trigger\", rule FROM history ORDER BY id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(HistoryRow {
            agent: r.get(0)?,
            at: r.get(1)?,
            from: r.get(2)?,
            to: r.get(3)?,
            code: r.get(4)?,
            reason: r.get(5)?,
            trigger: r.get(6)?,
            rule: r.get(7)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Writes `rows` with plain SQL, `batch` rows per transaction: each row
/// upserts its agent's status and appends its history entry, as the engine
/// does. Same schema, same pragmas (`Store::open`). Returns rows per second.
fn replay(db: &Path, rows: &[HistoryRow], batch: usize) -> f64 {
    let store = Store::open(db).unwrap();
    let conn = store.connection();
    // The full agent row, as the engine's update writes it.
    let mut upsert = conn
        .prepare(
            "INSERT INTO agents (id, name, name_key, status, reason, created_at) VALUES (?1, 'n' || ?1, 'n' || ?1, ?2, ?3, ?4) \
             ON CONFLICT (id) DO UPDATE SET phone = NULL, status = ?2, reason = ?3, last_code = ?5, has_credentials = 0, \
             disconnected_at = ?4, last_auth_failure_at = NULL, last_attempt_at = ?4, next_retry_at = NULL, \
             retry_attempt = 0, qr_expires_at = NULL, banned_until = NULL",
        )
        .unwrap();
    let mut append = conn
        .prepare(
            "INSERT INTO history (agent_id, at, from_status, to_status, code, reason, \"trigger\", rule) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .unwrap();
    let started = Instant::now();
    for chunk in rows.chunks(batch) {
        conn.execute_batch("BEGIN").unwrap();
        for r in chunk {
            upsert.execute(rusqlite::params![r.agent, r.to, r.reason, r.at, r.code]).unwrap();
            append
                .execute(rusqlite::params![r.agent, r.at, r.from, r.to, r.code, r.reason, r.trigger, r.rule])
                .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    let transitions = rows.iter().filter(|r| r.from != r.to).count();
    transitions as f64 / started.elapsed().as_secs_f64()
}

/// Figure 2: live heap after starting the supervisor on 0, 1,000 and 10,000
/// idle (disconnected) agents, minus the heap before. The slope between the
/// counts is the cost of one more agent; fixed costs cancel out.
fn memory(dir: &Path, args: &Args) {
    let counts: &[usize] = if args.quick { &[0, 1_000, 2_000] } else { &[0, 1_000, 10_000] };
    let mut slopes_low = vec![];
    let mut slopes_high = vec![];
    for run in 0..args.runs {
        let mut heap = vec![];
        for &agents in counts {
            let db = dir.join(format!("memory-{agents}-{run}.db"));
            populate(&db, agents);
            let rt = runtime();
            let before = heap::live_bytes();
            let grown = rt.block_on(async {
                let sim = SimulatedWhatsApp::new();
                let sup = Supervisor::start(&db, options(&sim, Arc::new(SystemClock))).await.unwrap();
                sup.settle().await;
                let grown = heap::live_bytes() - before;
                assert_eq!(sup.list().len(), agents);
                sup.shutdown().await;
                grown
            });
            drop(rt);
            heap.push(grown as f64);
            let _ = std::fs::remove_file(&db);
        }
        slopes_low.push((heap[1] - heap[0]) / (counts[1] - counts[0]) as f64);
        slopes_high.push((heap[2] - heap[1]) / (counts[2] - counts[1]) as f64);
    }
    for (range, slopes) in
        [(format!("0 → {}", counts[1]), slopes_low), (format!("{} → {}", counts[1], counts[2]), slopes_high)]
    {
        let kib = median(slopes) / 1024.0;
        row(
            &format!("2 | heap per idle agent, {range} agents"),
            format!("{kib:.1} KiB"),
            "≤ 64 KiB",
            Some(kib <= 64.0),
        );
    }
}

const STORM_AGENTS: usize = 1_000;

/// What one run of the storm showed.
struct StormReport {
    start_rate: usize,
    /// The most automatic starts the simulated WhatsApp saw in any one second.
    peak: usize,
    starts: usize,
    /// From the drop until the 900 recoverable agents were connected again.
    all_back: Option<Duration>,
    /// Starts before the agent's own retry time, cooldown or ban end.
    early: usize,
}

/// Figure 3: 1,000 connected agents; at once 900 drop with 408 (recoverable,
/// R-1), 50 with 440 (conflict, auth cooldown L-2) and 50 with a 403 ban of
/// ten minutes (L-3). The starts per second of the automatic retries as the
/// simulated WhatsApp saw them, the time until the 900 are connected again,
/// and every start that came before the agent's own deadline (its scheduled
/// retry, cooldown or ban).
///
/// Run twice. On the real clock (the system clock, the database on disk,
/// every commit a real fsync): the figure, since saving takes time there and
/// the pacing must hold at the moment each connection really starts. Then in
/// tokio's paused time, where commits take no time and the storm repeats
/// exactly: there the peak only restates the pacer's arithmetic.
/// Returns the paused run's database (closed), for the restart figure.
fn storm(dir: &Path) -> PathBuf {
    let real_db = dir.join("storm-real.db");
    populate(&real_db, STORM_AGENTS);
    // A minute of watching is what the paused run affords; in real time the
    // storm itself takes most of a minute, so the watch after it is short.
    let real = runtime().block_on(drive_storm(&real_db, Arc::new(SystemClock), Duration::from_secs(5), false));
    let _ = std::fs::remove_file(&real_db);

    let db = dir.join("storm.db");
    populate(&db, STORM_AGENTS);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
    let paused = rt.block_on(async {
        let clock = Arc::new(TokioClock::starting_at(START));
        drive_storm(&db, clock, Duration::from_secs(60), true).await
    });

    let StormReport { start_rate, peak, starts, all_back, early } = real;
    row(
        "3 | storm: peak automatic starts in any second (real clock)",
        format!("{peak} ({starts} starts)"),
        &format!("≤ start_rate ({start_rate})"),
        Some(peak <= start_rate),
    );
    let back = all_back.map_or("not within 300 s".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
    row(
        "3 | storm: until all 900 recoverable agents are connected (real clock)",
        back,
        "≤ 60 s",
        Some(all_back.is_some_and(|d| d <= Duration::from_secs(60))),
    );
    row(
        "3 | storm: starts before the agent's retry time, cooldown or ban (real clock)",
        early.to_string(),
        "0",
        Some(early == 0),
    );
    let back = paused.all_back.map_or("not within 300 s".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
    row(
        "3 | … the same storm in paused time (commits take no time): peak, until all back, early starts",
        format!("{} ({} starts), {back}, {}", paused.peak, paused.starts, paused.early),
        "—",
        None,
    );
    db
}

/// One storm on `clock`. `paused`: time only moves when every task waits,
/// so the engine is settled before each look; on the real clock views are
/// read as they are.
async fn drive_storm(db: &Path, clock: Arc<dyn Clock>, watch_after: Duration, paused: bool) -> StormReport {
    let sim = SimulatedWhatsApp::new();
    let sup = Supervisor::start(db, options(&sim, clock.clone())).await.unwrap();
    // A storm of retries, R-5's case, not an outage (F-1 would hold them
    // for a probe first: figure 8): the drops stay below its least number.
    sup.update_settings(vec![("outage_min_agents".into(), 100_000)]).await.unwrap();
    let ids: Vec<AgentId> = sup.list().iter().map(|v| v.record.id).collect();
    // Link every agent: connect shows a QR, and the phone's scan opens it.
    let mut connects = tokio::task::JoinSet::new();
    for &id in &ids {
        let sup = sup.clone();
        connects.spawn(async move { sup.connect(id).await.unwrap() });
    }
    connects.join_all().await;
    sup.settle().await;
    for &id in &ids {
        assert!(sim.open(id));
    }
    sup.settle().await;
    while !sup.list().iter().all(|v| v.record.status == Status::Connected) {
        // On the real clock the last links may still be committing.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let start_rate = sup.settings().start_rate as usize;

    let t0 = tokio::time::Instant::now();
    let starts_before = sim.stats().starts.len();
    let ban = Duration::from_secs(600);
    for (i, &id) in ids.iter().enumerate() {
        let (code, banned_for) = match i % 20 {
            0 => (440, None),
            1 => (403, Some(ban)),
            _ => (408, None),
        };
        assert!(sim.drop_with(id, CloseCode(code), banned_for));
    }
    sup.settle().await;
    // Each agent's own deadline, as the engine set it on the drop.
    let deadline: std::collections::HashMap<AgentId, Timestamp> = sup
        .list()
        .iter()
        .map(|v| {
            let r = &v.record;
            let cooldown = r.last_auth_failure_at.map(|t| t.plus(sup.settings().auth_cooldown));
            let until = r.next_retry_at.or(r.banned_until).or(cooldown).unwrap_or(Timestamp(i64::MAX));
            (r.id, until)
        })
        .collect();
    let recoverable: Vec<AgentId> = ids.iter().enumerate().filter(|(i, _)| i % 20 >= 2).map(|(_, id)| *id).collect();
    let mut all_back = None;
    while t0.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if paused {
            sup.settle().await;
        }
        let connected = recoverable
            .iter()
            .filter(|id| sup.view(**id).is_some_and(|v| v.record.status == Status::Connected))
            .count();
        if connected == recoverable.len() {
            all_back = Some(t0.elapsed());
            break;
        }
    }
    // Watch a while more, in which nothing else may start.
    tokio::time::sleep(watch_after).await;
    sup.settle().await;
    let starts: Vec<_> = sim.stats().starts[starts_before..].to_vec();
    let (tokio_now, engine_now) = (tokio::time::Instant::now(), sup.now());
    let engine_time = |at: tokio::time::Instant| Timestamp(engine_now.0 - (tokio_now - at).as_millis() as i64);
    let early = starts.iter().filter(|(id, at, _)| engine_time(*at) < deadline[id]).count();
    let times: Vec<Duration> = starts.iter().map(|(_, at, _)| *at - t0).collect();
    let peak = times
        .iter()
        .map(|&from| times.iter().filter(|&&t| t >= from && t < from + Duration::from_secs(1)).count())
        .max()
        .unwrap_or(0);
    sup.shutdown().await;
    StormReport { start_rate, peak, starts: starts.len(), all_back, early }
}

/// Figure 4: a new process starts the supervisor on the storm's database
/// (1,000 agents: connected, in conflict, banned) and says when `start`
/// returned, i.e. every agent is loaded, P-3 applied and its first view
/// published. Measured from the parent, so process start-up counts; the
/// baseline is the same process on an empty database.
fn restart(dir: &Path, full_db: &Path, args: &Args) {
    let empty_db = dir.join("empty.db");
    populate(&empty_db, 0);
    let runs = args.runs.max(5);
    let (mut full, mut empty) = (vec![], vec![]);
    for run in 0..runs {
        // A copy each time: P-3 changes the database it starts on.
        let copy = dir.join(format!("restart-{run}.db"));
        std::fs::copy(full_db, &copy).unwrap();
        full.push(time_restore(&copy, STORM_AGENTS));
        empty.push(time_restore(&empty_db, 0));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
        }
    }
    let (full, empty) = (median(full), median(empty));
    row(
        "4 | restart: process start → 1,000 agents restored",
        format!("{full:.0} ms (empty database: {empty:.0} ms, {:.2}×)", full / empty),
        "≤ 300 ms",
        Some(full <= 300.0),
    );
}

fn time_restore(db: &Path, agents: usize) -> f64 {
    let started = Instant::now();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--restore-child")
        .arg(db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(line.trim(), format!("restored {agents}"), "the restore child");
    child.wait().unwrap();
    elapsed
}

/// The child of figure 4: start, report, exit at once (as a kill would).
fn restore_child(db: &Path) {
    let rt = runtime();
    let agents = rt.block_on(async {
        let sim = SimulatedWhatsApp::new();
        // As the real connector finds every agent's credentials store on disk.
        for id in 1..=STORM_AGENTS as i64 {
            sim.give_credentials(AgentId(id));
        }
        let sup = Supervisor::start(db, options(&sim, Arc::new(SystemClock))).await.unwrap();
        sup.list().len()
    });
    println!("restored {agents}");
    std::process::exit(0);
}
