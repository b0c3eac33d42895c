//! The window's benchmarks (BENCHMARKS.md, figures 5 and 6): the release app
//! under Xvfb, driven through tauri-driver and WebKitWebDriver, in demo mode.
//! Run through `bash scripts/bench.sh`, or alone under a display:
//! `cargo run -p switchboard-tests --example window_bench -- --app target/release/switchboard [--runs N]`.
//!
//! Prints Markdown table rows like the engine's benchmark:
//! - cold start to a painted list of 1,000 agents, against an empty window
//!   of the same app in the same run;
//! - frame times while 1,000 agents are listed, 50 of them counting down a
//!   cooldown, and about 200 status changes per second arrive;
//! - the time from an engine call (made in the page, as a click makes it) to
//!   the frame that paints the changed row;
//! - the memory (PSS) of the app and its WebKit processes;
//! - the size of the release binary.

#[path = "../../crates/engine/examples/report/mod.rs"]
mod report;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use report::{median, row};
use serde_json::{Value, json};
use switchboard_tests::webdriver::{Driver, PATIENCE, start_driver};

const AGENTS: usize = 1_000;
/// Agents in conflict, each showing a live countdown.
const COUNTING_DOWN: usize = 50;
/// About 200 status changes per second: a connect makes two (connecting,
/// then qr_pending), a disconnect one.
const CALLS_PER_SECOND: f64 = 134.0;
const CHURN_SECONDS: f64 = 8.0;
/// The agents the churn connects and disconnects in turn: each is
/// disconnected again about 0.75 s after its connect.
const CHURNING: i64 = 100;

fn main() {
    let mut argv = std::env::args().skip(1);
    let (mut app, mut runs) = (None, 3usize);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--app" => app = argv.next().map(PathBuf::from),
            "--runs" => runs = argv.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            other => panic!("unknown argument {other:?} (use --app PATH, --runs N)"),
        }
    }
    let app = app.expect("--app PATH: the release build of the app");
    let app = std::fs::canonicalize(&app).unwrap_or_else(|e| panic!("{}: {e}", app.display()));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench(&app, runs));
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn bench(app: &Path, runs: usize) {
    let driver = start_driver().await;
    let empty = tempfile::tempdir().unwrap();
    let full = tempfile::tempdir().unwrap();
    println!("Window figures: release app {}, median of {runs} runs, under Xvfb\n", app.display());
    println!("| # | figure | result | goal | met |");
    println!("| --- | --- | --- | --- | --- |");

    // The 1,000 agents, added through IPC once, as staff would add them.
    let client = open(&driver, app, full.path()).await;
    add_agents(&client, AGENTS).await;
    client.close().await.unwrap();

    let (mut cold_full, mut cold_empty) = (vec![], vec![]);
    for _ in 0..runs {
        cold_empty.push(cold_start(&driver, app, empty.path(), 0).await);
        cold_full.push(cold_start(&driver, app, full.path(), AGENTS).await);
    }
    let (cold_full, cold_empty) = (median(cold_full), median(cold_empty));
    let ratio = cold_full / cold_empty;
    row(
        "5 | cold start → painted list of 1,000 agents",
        format!("{cold_full:.0} ms (empty window {cold_empty:.0} ms): {ratio:.2}×"),
        "≤ 1.3×",
        Some(ratio <= 1.3),
    );

    let client = open(&driver, app, empty.path()).await;
    let pss_empty = pss_of_app(app);
    let mut empty_p95 = vec![];
    for _ in 0..runs {
        empty_p95.push(percentile(&frames_while_idle(&client).await, 0.95));
    }
    client.close().await.unwrap();

    let client = open(&driver, app, full.path()).await;
    wait_rows(&client, AGENTS).await;
    start_countdowns(&client).await;
    let (mut p95, mut worst, mut latency_p99, mut latency_p50, mut rates) = (vec![], vec![], vec![], vec![], vec![]);
    let mut idle_p95 = vec![];
    for _ in 0..runs {
        idle_p95.push(percentile(&frames_while_idle(&client).await, 0.95));
        let churn = churn(&client).await;
        p95.push(percentile(&churn.frames, 0.95));
        worst.push(percentile(&churn.frames, 1.0));
        latency_p50.push(percentile(&churn.latencies, 0.50));
        latency_p99.push(percentile(&churn.latencies, 0.99));
        rates.push(churn.changes_per_second);
    }
    let pss_full = pss_of_app(app);
    client.close().await.unwrap();
    let (p95, rate) = (median(p95), median(rates));
    row(
        &format!("5 | frame time p95 (worst), 1,000 agents, {COUNTING_DOWN} countdowns, {rate:.0} changes/s"),
        format!("{p95:.1} ms ({:.0} ms)", median(worst)),
        "≤ 16.7 ms",
        Some(p95 <= 16.7),
    );
    let idle = median(idle_p95);
    row(
        "5 | frame time p95 without changes: the same list (empty window)",
        format!("{idle:.1} ms ({:.1} ms)", median(empty_p95)),
        "—",
        None,
    );
    let p99 = median(latency_p99);
    row(
        "5 | engine call → changed row painted, p50 / p99",
        format!("{:.1} ms / {p99:.1} ms", median(latency_p50)),
        "p99 ≤ 50 ms",
        Some(p99 <= 50.0),
    );
    let mib = |kib: u64| kib as f64 / 1024.0;
    row(
        "5 | memory (PSS) of app + WebKit processes, 1,000 agents",
        format!("{:.0} MiB (empty window {:.0} MiB)", mib(pss_full), mib(pss_empty)),
        "—",
        None,
    );
    let size = std::fs::metadata(app).unwrap().len() as f64 / (1024.0 * 1024.0);
    row("6 | release binary size", format!("{size:.1} MiB"), "≤ 20 MB", Some(size * 1.048_576 <= 20.0));
}

async fn open(driver: &Driver, app: &Path, data_dir: &Path) -> Client {
    let client = driver.open(app, &["--demo", "--data-dir", data_dir.to_str().unwrap()]).await;
    client.wait().at_most(PATIENCE).for_element(Locator::Css("header.top")).await.expect("the panel renders");
    client
}

async fn script(client: &Client, js: &str, args: Vec<Value>) -> Value {
    let answer = client.execute_async(js, args).await.expect("the page script");
    assert!(answer.get("err").is_none(), "page script failed: {answer}");
    answer
}

/// Runs `body` (an async JS function body with `inv`, `status` and `until`)
/// in the page; its return value comes back as `{ok}`.
async fn in_page(client: &Client, body: &str, args: Vec<Value>) -> Value {
    let js = format!(
        "const done = arguments[arguments.length - 1]; const args = Array.from(arguments).slice(0, -1); \
         const inv = window.__TAURI_INTERNALS__.invoke; \
         const status = (id) => document.querySelector(`li.row[data-id=\"${{id}}\"]`)?.dataset.status; \
         const until = async (ok) => {{ for (let i = 0; i < 800; i++) {{ if (ok()) return; \
             await new Promise((r) => setTimeout(r, 25)); }} throw new Error('timed out'); }}; \
         (async () => {{ {body} }})().then((ok) => done({{ ok }}), (e) => done({{ err: String(e) }}));"
    );
    script(client, &js, args).await["ok"].clone()
}

async fn add_agents(client: &Client, count: usize) {
    in_page(
        client,
        "for (let i = 0; i < args[0]; i++) await inv('add_agent', { name: `Agent ${String(i).padStart(4, '0')}` });",
        vec![json!(count)],
    )
    .await;
}

async fn wait_rows(client: &Client, count: usize) {
    in_page(client, "await until(() => document.querySelectorAll('li.row').length === args[0]);", vec![json!(count)])
        .await;
}

/// New session on `data_dir` (the app process starts) until the list is
/// painted: every row is in the DOM (or the empty notice shows), and two
/// animation frames have passed so the frame holding them was drawn.
async fn cold_start(driver: &Driver, app: &Path, data_dir: &Path, rows: usize) -> f64 {
    let started = Instant::now();
    let client = driver.open(app, &["--demo", "--data-dir", data_dir.to_str().unwrap()]).await;
    let ready = if rows == 0 {
        "const e = document.querySelector('p.empty'); return !!e && !e.hidden && !!document.querySelector('header.top');"
    } else {
        "return document.querySelectorAll('li.row').length;"
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = client.execute(ready, vec![]).await.unwrap_or(Value::Null);
        if value == json!(true) || value == json!(rows) && rows > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the list never showed {rows} rows");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    script(
        &client,
        "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done({})));",
        vec![],
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    client.close().await.unwrap();
    elapsed
}

/// Puts the first agents in conflict (440): each row then counts its cooldown down.
async fn start_countdowns(client: &Client) {
    let ids: Vec<i64> = (1..=COUNTING_DOWN as i64).collect();
    in_page(
        client,
        "const ids = args[0]; \
         for (const id of ids) await inv('connect_agent', { id }); \
         await until(() => ids.every((id) => status(id) === 'qr_pending')); \
         for (const id of ids) await inv('simulate', { id, action: { action: 'scan' } }); \
         await until(() => ids.every((id) => status(id) === 'connected')); \
         for (const id of ids) await inv('simulate', { id, action: { action: 'drop', code: 440 } }); \
         await until(() => ids.every((id) => status(id) === 'conflict'));",
        vec![json!(ids)],
    )
    .await;
}

/// Every animation frame's duration for three seconds while only the countdowns run.
async fn frames_while_idle(client: &Client) -> Vec<f64> {
    let answer = in_page(
        client,
        "const frames = []; let last = null; const end = performance.now() + 3000; \
         await new Promise((resolve) => { \
           const onFrame = (t) => { if (last !== null) frames.push(t - last); last = t; \
             if (t < end) requestAnimationFrame(onFrame); else resolve(); }; \
           requestAnimationFrame(onFrame); }); \
         return frames;",
        vec![],
    )
    .await;
    answer.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

struct Churn {
    frames: Vec<f64>,
    latencies: Vec<f64>,
    changes_per_second: f64,
}

/// Connects and disconnects `CHURNING` other agents in turn at `CALLS_PER_SECOND`
/// while every animation frame's time is recorded. For each call, the time
/// from the call to the animation frame after its row's status changed.
async fn churn(client: &Client) -> Churn {
    let first = COUNTING_DOWN as i64 + 1;
    let ids: Vec<i64> = (first..first + CHURNING).collect();
    let answer = in_page(
        client,
        "const [ids, perSecond, seconds] = args; \
         const frames = []; let last = null; let running = true; \
         const onFrame = (t) => { if (last !== null) frames.push(t - last); last = t; if (running) requestAnimationFrame(onFrame); }; \
         requestAnimationFrame(onFrame); \
         const latencies = []; const pending = new Map(); let changes = 0; \
         const observer = new MutationObserver((records) => { \
           for (const r of records) { \
             if (r.oldValue === r.target.dataset.status) continue; \
             changes++; \
             const t0 = pending.get(r.target.dataset.id); \
             if (t0 !== undefined) { pending.delete(r.target.dataset.id); requestAnimationFrame(() => latencies.push(performance.now() - t0)); } \
           } }); \
         observer.observe(document.body, { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-status'] }); \
         const linked = new Set(); let i = 0; const start = performance.now(); \
         const timer = setInterval(() => { \
           const id = ids[i++ % ids.length]; \
           const cmd = linked.has(id) ? 'disconnect_agent' : 'connect_agent'; \
           if (linked.has(id)) linked.delete(id); else linked.add(id); \
           pending.set(String(id), performance.now()); \
           inv(cmd, { id }).catch(() => {}); \
         }, 1000 / perSecond); \
         await new Promise((r) => setTimeout(r, seconds * 1000)); \
         clearInterval(timer); \
         const elapsed = (performance.now() - start) / 1000; \
         await new Promise((r) => setTimeout(r, 500)); \
         running = false; observer.disconnect(); \
         for (const id of linked) await inv('disconnect_agent', { id }); \
         await until(() => ids.every((id) => status(id) === 'disconnected')); \
         return { frames, latencies, changes: changes / elapsed };",
        vec![json!(ids), json!(CALLS_PER_SECOND), json!(CHURN_SECONDS)],
    )
    .await;
    let floats = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<f64>>();
    let churn = Churn {
        frames: floats(&answer["frames"]),
        latencies: floats(&answer["latencies"]),
        changes_per_second: answer["changes"].as_f64().unwrap(),
    };
    assert!(churn.frames.len() > 10 && !churn.latencies.is_empty(), "the churn measured nothing: {answer}");
    churn
}

/// The proportional set size of the app and every process it started
/// (WebKit's web and network processes), in KiB.
fn pss_of_app(app: &Path) -> u64 {
    let processes: Vec<(u32, u32, Option<PathBuf>)> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid, std::fs::read_link(format!("/proc/{pid}/exe")).ok()))
        })
        .collect();
    let roots: Vec<u32> = processes.iter().filter(|(_, _, exe)| exe.as_deref() == Some(app)).map(|p| p.0).collect();
    assert_eq!(roots.len(), 1, "exactly one app process runs");
    let mut family = roots;
    let mut i = 0;
    while i < family.len() {
        let parent = family[i];
        family.extend(processes.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    family
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
        .filter_map(|text| text.lines().find(|l| l.starts_with("Pss:"))?.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}
