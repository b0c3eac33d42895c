//! The window's benchmarks (BENCHMARKS.md, figures 5 and 6): the release app
//! under Xvfb, driven through tauri-driver and WebKitWebDriver, in demo mode.
//! Run through `bash scripts/bench.sh`, or alone under a display:
//! `cargo run -p switchboard-tests --example window_bench -- --app target/release/switchboard [--runs N] [--quick]`.
//!
//! Prints Markdown table rows like the engine's benchmark, for 1,000 and
//! 10,000 agents (`--quick`: 1,000 only), each against the empty window of
//! the same app measured in the same run:
//! - cold start to a painted list;
//! - frame times with the list idle (50 countdowns running), while the
//!   engine makes about 200 status changes a second (the demo's churn, made
//!   inside the app, not by the page), and while the list scrolls;
//! - the time from the engine's call to the frame that paints the changed row;
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

/// Agents in conflict, each showing a live countdown: the odd ids from 1,
/// so some are on screen.
const COUNTING_DOWN: i64 = 50;
/// The agents the churn connects and disconnects in turn: the even ids
/// from 2, so some are on screen between the countdowns.
const CHURNING: i64 = 100;
/// Status changes a second the engine makes during the churn.
const CHANGES_PER_SECOND: u32 = 200;
const CHURN_SECONDS: u32 = 8;
/// Pixels the list scrolls each frame while scrolling is measured: three rows.
const SCROLL_STEP: u32 = 174;

fn main() {
    let mut argv = std::env::args().skip(1);
    let (mut app, mut runs, mut quick) = (None, 3usize, false);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--app" => app = argv.next().map(PathBuf::from),
            "--runs" => runs = argv.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--quick" => quick = true,
            other => panic!("unknown argument {other:?} (use --app PATH, --runs N, --quick)"),
        }
    }
    let app = app.expect("--app PATH: the release build of the app");
    let app = std::fs::canonicalize(&app).unwrap_or_else(|e| panic!("{}: {e}", app.display()));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench(&app, runs, quick));
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// "median (min–max)" of the runs, with `decimals`.
fn spread(values: &[f64], decimals: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.decimals$} ({min:.decimals$}–{max:.decimals$})", median(values.to_vec()))
}

fn thousands(n: usize) -> String {
    if n >= 1_000 { format!("{},{:03}", n / 1_000, n % 1_000) } else { n.to_string() }
}

/// What the empty window costs on this machine, the baseline of every ratio.
struct Baseline {
    frame_p95: f64,
    pss: Pss,
}

async fn bench(app: &Path, runs: usize, quick: bool) {
    let driver = start_driver().await;
    let empty = tempfile::tempdir().unwrap();
    println!("Window figures: release app {}, median (min–max) of {runs} runs, under Xvfb\n", app.display());
    println!("| # | figure | result | goal | met |");
    println!("| --- | --- | --- | --- | --- |");

    let client = open(&driver, app, empty.path()).await;
    let pss = pss_of_app(app).await;
    let mut empty_p95 = vec![];
    for _ in 0..runs {
        empty_p95.push(percentile(&frames(&client, 0).await, 0.95));
    }
    client.close().await.unwrap();
    let baseline = Baseline { frame_p95: median(empty_p95.clone()), pss };
    row(
        "5 | the empty window: frame time p95; memory (PSS) of app + WebKit processes",
        format!(
            "{} ms; {:.0} MiB (app {:.0}, WebKit {:.0})",
            spread(&empty_p95, 1),
            mib(pss.total()),
            mib(pss.app),
            mib(pss.webkit)
        ),
        "—",
        None,
    );

    let sizes: &[(usize, f64, f64)] =
        if quick { &[(1_000, 1.2, 30.0)] } else { &[(1_000, 1.2, 30.0), (10_000, 1.5, 60.0)] };
    let mut scrolling = vec![];
    for &(agents, cold_goal, memory_goal) in sizes {
        scrolling.push(fleet(&driver, app, empty.path(), &baseline, runs, agents, cold_goal, memory_goal).await);
    }
    if let [thousand, ten_thousand] = scrolling[..] {
        // Only the rows on screen are in the page: scrolling costs the same whatever the fleet's size.
        let ratio = ten_thousand / thousand;
        row(
            "5 | scrolling 10,000 agents vs 1,000: frame time p95 ratio",
            format!("{ratio:.2}× ({ten_thousand:.0} ms vs {thousand:.0} ms)"),
            "≤ 1.25×",
            Some(ratio <= 1.25),
        );
    }
    let size = std::fs::metadata(app).unwrap().len() as f64 / (1024.0 * 1024.0);
    row("6 | release binary size", format!("{size:.1} MiB"), "≤ 20 MB", Some(size * 1.048_576 <= 20.0));
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Every window figure for a list of `agents`; returns the frame time p95 while scrolling.
#[allow(clippy::too_many_arguments)]
async fn fleet(
    driver: &Driver,
    app: &Path,
    empty: &Path,
    baseline: &Baseline,
    runs: usize,
    agents: usize,
    cold_goal: f64,
    memory_goal_mib: f64,
) -> f64 {
    let n = thousands(agents);
    let full = tempfile::tempdir().unwrap();
    // The agents, added through IPC once, as staff would add them.
    let client = open(driver, app, full.path()).await;
    add_agents(&client, agents).await;
    client.close().await.unwrap();

    let (mut cold_full, mut cold_empty) = (vec![], vec![]);
    for _ in 0..runs {
        cold_empty.push(cold_start(driver, app, empty, 0).await);
        cold_full.push(cold_start(driver, app, full.path(), agents).await);
    }
    let ratios: Vec<f64> = cold_full.iter().zip(&cold_empty).map(|(f, e)| f / e).collect();
    let ratio = median(ratios.clone());
    row(
        &format!("5 | cold start → painted list of {n} agents, ratio to the empty window"),
        format!("{}× ({:.0} ms; empty window {:.0} ms)", spread(&ratios, 2), median(cold_full), median(cold_empty)),
        &format!("≤ {cold_goal}×"),
        Some(ratio <= cold_goal),
    );

    let client = open(driver, app, full.path()).await;
    wait_listed(&client, agents).await;
    start_countdowns(&client).await;
    let pss_loaded = pss_of_app(app).await;
    let (mut idle, mut churn_p95, mut worst, mut p50, mut p99, mut rates, mut scroll) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut unseen_p95 = vec![];
    // The same churn on agents far below the screen: their rows are not in
    // the page, so what it costs the frames is everything but drawing rows.
    let far: Vec<i64> = (1..=CHURNING).map(|i| agents as i64 / 2 + 2 * i).collect();
    for _ in 0..runs {
        idle.push(percentile(&frames(&client, 0).await, 0.95));
        unseen_p95.push(percentile(&churn(&client, &far).await.frames, 0.95));
        let on_screen: Vec<i64> = (1..=CHURNING).map(|i| 2 * i).collect();
        let churn = churn(&client, &on_screen).await;
        assert!(churn.latencies.len() > 10, "too few changes were seen drawn: {}", churn.latencies.len());
        churn_p95.push(percentile(&churn.frames, 0.95));
        worst.push(percentile(&churn.frames, 1.0));
        p50.push(percentile(&churn.latencies, 0.50));
        p99.push(percentile(&churn.latencies, 0.99));
        rates.push(churn.changes_per_second);
        scroll.push(percentile(&frames(&client, SCROLL_STEP).await, 0.95));
    }
    let pss_full = pss_of_app(app).await;
    client.close().await.unwrap();

    let idle_p95 = median(idle.clone());
    let churn_ratio = median(churn_p95.clone()) / idle_p95;
    row(
        &format!("5 | frame time p95, {n} agents idle ({COUNTING_DOWN} countdowns)"),
        format!("{} ms", spread(&idle, 1)),
        "—",
        None,
    );
    row(
        &format!("5 | … under churn ({:.0} changes/s from the engine): p95 (worst), ratio to idle", median(rates)),
        format!("{} ms ({:.0} ms): {churn_ratio:.2}×", spread(&churn_p95, 1), median(worst)),
        "≤ 1.25× idle",
        Some(churn_ratio <= 1.25),
    );
    row(
        "5 | … the same churn on agents off screen (no row drawn): p95, ratio to idle",
        format!("{} ms: {:.2}×", spread(&unseen_p95, 1), median(unseen_p95.clone()) / idle_p95),
        "—",
        None,
    );
    let scroll_p95 = median(scroll.clone());
    row(
        &format!("5 | … while scrolling ({SCROLL_STEP} px a frame): p95, ratio to the empty window"),
        format!("{} ms: {:.2}×", spread(&scroll, 1), scroll_p95 / baseline.frame_p95),
        "—",
        None,
    );
    let latency_ratio = median(p99.clone()) / baseline.frame_p95;
    row(
        &format!("5 | engine change → row painted, {n} agents: p50 / p99, p99's ratio to the empty window's frame p95"),
        format!("{:.1} ms / {} ms: {latency_ratio:.2}×", median(p50), spread(&p99, 1)),
        "p99 ≤ 2×",
        Some(latency_ratio <= 2.0),
    );
    let over = mib(pss_full.total()) - mib(baseline.pss.total());
    row(
        &format!(
            "5 | memory (PSS) of app + WebKit processes, {n} agents, over the empty window: listed; after the churns"
        ),
        format!("{}; {}", pss_loaded.over(baseline.pss), pss_full.over(baseline.pss)),
        &format!("≤ +{memory_goal_mib:.0} MiB"),
        Some(over <= memory_goal_mib),
    );
    scroll_p95
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

/// Runs `body` (an async JS function body with `inv` and `until`) in the
/// page; its return value comes back as `{ok}`.
async fn in_page(client: &Client, body: &str, args: Vec<Value>) -> Value {
    let js = format!(
        "const done = arguments[arguments.length - 1]; const args = Array.from(arguments).slice(0, -1); \
         const inv = window.__TAURI_INTERNALS__.invoke; \
         const until = async (ok) => {{ for (let i = 0; i < 2400; i++) {{ if (await ok()) return; \
             await new Promise((r) => setTimeout(r, 25)); }} throw new Error('timed out'); }}; \
         (async () => {{ {body} }})().then((ok) => done({{ ok }}), (e) => done({{ err: String(e) }}));"
    );
    script(client, &js, args).await["ok"].clone()
}

/// Adds the agents, 100 calls at a time (the engine commits them in groups).
async fn add_agents(client: &Client, count: usize) {
    in_page(
        client,
        "for (let i = 0; i < args[0]; i += 100) { \
           const batch = []; \
           for (let j = i; j < Math.min(args[0], i + 100); j++) \
             batch.push(inv('add_agent', { name: `Agent ${String(j).padStart(5, '0')}` })); \
           await Promise.all(batch); }",
        vec![json!(count)],
    )
    .await;
}

/// Waits until the list shows `count` agents (most of them not in the page).
async fn wait_listed(client: &Client, count: usize) {
    in_page(
        client,
        "await until(() => document.querySelector('ul.rows')?.dataset.shown === String(args[0]));",
        vec![json!(count)],
    )
    .await;
}

/// New session on `data_dir` (the app process starts) until the list is
/// painted: the list shows every agent (or the empty notice shows), and two
/// animation frames have passed so the frame holding them was drawn.
async fn cold_start(driver: &Driver, app: &Path, data_dir: &Path, agents: usize) -> f64 {
    let started = Instant::now();
    let client = driver.open(app, &["--demo", "--data-dir", data_dir.to_str().unwrap()]).await;
    let ready = if agents == 0 {
        "const e = document.querySelector('p.empty'); return !!e && !e.hidden && !!document.querySelector('header.top');".to_owned()
    } else {
        format!(
            "return document.querySelector('ul.rows')?.dataset.shown === '{agents}' && !!document.querySelector('li.row');"
        )
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        let value = client.execute(&ready, vec![]).await.unwrap_or(Value::Null);
        if value == json!(true) {
            break;
        }
        assert!(Instant::now() < deadline, "the list never showed {agents} agents");
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

/// Puts agents 1, 3, 5 … in conflict (440): each row then counts its cooldown down.
async fn start_countdowns(client: &Client) {
    let ids: Vec<i64> = (0..COUNTING_DOWN).map(|i| 2 * i + 1).collect();
    in_page(
        client,
        "const ids = args[0]; \
         const all = async (status) => { const s = await Promise.all(ids.map((id) => inv('agent_history', { id, limit: 1 }))); \
           return s.every((h) => h[0]?.to === status); }; \
         for (const id of ids) await inv('connect_agent', { id }); \
         await until(() => all('qr_pending')); \
         for (const id of ids) await inv('simulate', { id, action: { action: 'scan' } }); \
         await until(() => all('connected')); \
         for (const id of ids) await inv('simulate', { id, action: { action: 'drop', code: 440 } }); \
         await until(() => all('conflict'));",
        vec![json!(ids)],
    )
    .await;
}

/// Every animation frame's duration for three seconds while the list
/// scrolls down `scroll` pixels a frame (0: stays still, only the
/// countdowns run); a scrolled list goes back to the top after.
async fn frames(client: &Client, scroll: u32) -> Vec<f64> {
    let answer = in_page(
        client,
        "const list = document.querySelector('section.list'); \
         const frames = []; let last = null; const end = performance.now() + 3000; \
         await new Promise((resolve) => { \
           const onFrame = (t) => { if (last !== null) frames.push(t - last); last = t; \
             if (args[0] > 0) list.scrollTop += args[0]; \
             if (t < end) requestAnimationFrame(onFrame); else resolve(); }; \
           requestAnimationFrame(onFrame); }); \
         if (args[0] > 0) { list.scrollTop = 0; \
           await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))); } \
         return frames;",
        vec![json!(scroll)],
    )
    .await;
    floats(&answer)
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

struct Churn {
    frames: Vec<f64>,
    latencies: Vec<f64>,
    changes_per_second: f64,
}

/// The engine's churn (`simulate_churn`) on the agents `ids`, while every
/// animation frame's time is recorded. For each change of status whose row
/// is on screen, the time from its publication by the engine (committed,
/// P-1; the engine's wall clock) to the end of the frame that drew it (the
/// page's clock): the window changes rows inside an animation frame
/// callback, and a message posted there is handled once that frame's
/// rendering is done. A change the window never drew on its own (a newer
/// one of the same agent came in the same frame) has no latency: a paint
/// matches a change only before the agent's next change to the same status.
/// The clocks differ by up to a few ms (the page's origin is read once).
async fn churn(client: &Client, ids: &[i64]) -> Churn {
    let answer = in_page(
        client,
        "const [ids, perSecond, seconds] = args; \
         const frames = []; let last = null; let running = true; \
         const onFrame = (t) => { if (last !== null) frames.push(t - last); last = t; if (running) requestAnimationFrame(onFrame); }; \
         requestAnimationFrame(onFrame); \
         const painted = []; \
         const observer = new MutationObserver((records) => { \
           for (const r of records) { \
             if (r.oldValue === null || r.oldValue === r.target.dataset.status) continue; \
             const [id, status] = [Number(r.target.dataset.id), r.target.dataset.status]; \
             const after = new MessageChannel(); \
             after.port1.onmessage = () => painted.push([id, status, performance.timeOrigin + performance.now()]); \
             after.port2.postMessage(0); \
           } }); \
         observer.observe(document.body, { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-status'] }); \
         const churn = await inv('simulate_churn', { ids, changesPerSecond: perSecond, seconds }); \
         await new Promise((r) => setTimeout(r, 500)); \
         running = false; observer.disconnect(); \
         const latencies = []; \
         for (const change of churn.changes) { \
           const again = churn.changes.find((c) => c.id === change.id && c.status === change.status && c.at > change.at); \
           const seen = painted.find(([id, status, at]) => id === change.id && status === change.status && at >= change.at - 5 && (!again || at < again.at)); \
           if (seen) latencies.push(Math.max(0, seen[2] - change.at)); \
         } \
         return { frames, latencies, changes: churn.changes.length / (churn.elapsedMs / 1000) };",
        vec![json!(ids), json!(CHANGES_PER_SECOND), json!(CHURN_SECONDS)],
    )
    .await;
    let churn = Churn {
        frames: floats(&answer["frames"]),
        latencies: floats(&answer["latencies"]),
        changes_per_second: answer["changes"].as_f64().unwrap(),
    };
    assert!(churn.frames.len() > 10, "the churn measured too little: {answer}");
    churn
}

/// Proportional set sizes in KiB: the app's own process (the engine, the
/// shell) and the WebKit processes it started (web and network).
#[derive(Clone, Copy)]
struct Pss {
    app: u64,
    webkit: u64,
}

impl Pss {
    fn total(self) -> u64 {
        self.app + self.webkit
    }

    /// "+X MiB (app +a, WebKit +w)" over `base`.
    fn over(self, base: Pss) -> String {
        let d = |a: u64, b: u64| mib(a) - mib(b);
        format!(
            "+{:.0} MiB (app {:+.0}, WebKit {:+.0})",
            d(self.total(), base.total()),
            d(self.app, base.app),
            d(self.webkit, base.webkit)
        )
    }
}

/// The memory of the app and every process it started, after two quiet
/// seconds (a garbage collection had its chance).
async fn pss_of_app(app: &Path) -> Pss {
    tokio::time::sleep(Duration::from_secs(2)).await;
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
    let mut family = roots.clone();
    let mut i = 0;
    while i < family.len() {
        let parent = family[i];
        family.extend(processes.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    let pss = |pid: &u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .ok()
            .and_then(|text| text.lines().find(|l| l.starts_with("Pss:"))?.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    Pss { app: pss(&roots[0]), webkit: family[1..].iter().map(pss).sum() }
}
