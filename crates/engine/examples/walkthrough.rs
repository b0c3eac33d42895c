//! A walk-through of the lifecycle engine on the simulated WhatsApp.
//!
//! It runs the seed's scenarios on a real SQLite file in simulated time (so
//! a 5-minute cooldown passes in a blink) and prints every change the UI
//! would be shown. Usage: `cargo run -p switchboard-engine --example walkthrough -- [--db PATH]`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use switchboard_engine::clock::{Clock, SystemClock, TokioClock};
use switchboard_engine::lifecycle::{AgentId, CloseCode, Verdict};
use switchboard_engine::logging::mask_digits;
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::supervisor::{EngineEvent, Options, Supervisor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut db: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--db" => db = Some(args.next().ok_or("--db needs a path")?.into()),
            "-h" | "--help" => {
                println!("usage: walkthrough [--db PATH]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    let dir = tempfile_dir()?;
    let db = db.unwrap_or_else(|| dir.join("demo.db"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build()?;
    runtime.block_on(walk_through(db))?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("switchboard-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn walk_through(db: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let sim = SimulatedWhatsApp::new();
    let clock = Arc::new(TokioClock::starting_at(SystemClock.wall()));
    let options = Options { clock: clock.clone(), connector: Arc::new(sim.clone()), seed: 7 };
    let sup = Supervisor::start(&db, options).await?;
    println!("Switchboard engine demo — simulated WhatsApp, database {}\n", db.display());
    let printer = tokio::spawn(print_events(sup.subscribe(), tokio::time::Instant::now()));

    let alice = sup.add("Alice (support)").await?.record.id;
    let bob = sup.add("Bob (sales)").await?.record.id;
    let carol = sup.add("Carol (night shift)").await?.record.id;

    say("Alice links her phone: connect, scan the QR, the pairing restart, connected.");
    connect(&sup, alice).await?;
    sup.settle().await;
    sim.scan(alice);
    pass(&sup, Duration::from_secs(3)).await;

    say("Her phone unlinks the device (401): conflict, and a 5-minute cooldown.");
    sim.drop_with(alice, CloseCode::LOGGED_OUT, None);
    sup.settle().await;
    connect(&sup, alice).await?;

    say("A manual disconnect is a clean state: connecting again bypasses the cooldown.");
    sup.disconnect(alice).await?;
    connect(&sup, alice).await?;
    sup.settle().await;

    say("Bob is linked; WhatsApp restarts (503): he reconnects on his own with backoff.");
    sim.give_credentials(bob);
    connect(&sup, bob).await?;
    sup.settle().await;
    sim.open(bob);
    sup.settle().await;
    sim.drop_with(bob, CloseCode::UNAVAILABLE, None);
    pass(&sup, Duration::from_secs(5)).await;

    say("Carol starts pairing but nobody scans: the QR expires after 3 minutes.");
    connect(&sup, carol).await?;
    pass(&sup, Duration::from_secs(181)).await;

    say("Final state:");
    for view in sup.list() {
        let r = &view.record;
        let phone = r.phone.as_deref().map_or_else(|| "—".into(), mask_digits);
        println!("  {:<22} {:<13} {:<16} {}", r.name, r.status.as_str(), phone, r.reason);
    }
    sup.shutdown().await;
    printer.abort();
    Ok(())
}

fn say(text: &str) {
    println!("\n▶ {text}");
}

async fn pass(sup: &Supervisor, d: Duration) {
    tokio::time::sleep(d).await;
    sup.settle().await;
}

async fn connect(sup: &Supervisor, id: AgentId) -> Result<(), Box<dyn std::error::Error>> {
    let decision = sup.connect(id).await?;
    let verdict = match decision.verdict {
        Verdict::Allowed => "allowed".to_owned(),
        Verdict::Blocked { .. } => "BLOCKED".to_owned(),
    };
    println!("  connect → {verdict} [{}] {}", decision.rule, decision.reason);
    Ok(())
}

async fn print_events(mut events: tokio::sync::broadcast::Receiver<EngineEvent>, start: tokio::time::Instant) {
    let mut last_shown = std::collections::HashMap::new();
    while let Ok(event) = events.recv().await {
        let t = start.elapsed();
        let at = format!("{:>2}:{:02}.{:03}", t.as_secs() / 60, t.as_secs() % 60, t.subsec_millis());
        match event {
            EngineEvent::Agent(view) => {
                let r = &view.record;
                // Views are also republished when a cooldown ends; print only what a person would notice.
                let shown = (r.status, r.reason.clone(), view.qr.clone());
                if last_shown.insert(r.id, shown.clone()) == Some(shown) {
                    continue;
                }
                let qr = view.qr.as_deref().map(|q| format!(" [QR {q}]")).unwrap_or_default();
                println!("  {at}  {:<22} {:<13} {}{qr}", r.name, r.status.as_str(), r.reason);
            }
            EngineEvent::Removed(id) => println!("  {at}  agent {id} removed"),
            EngineEvent::Notification { body, .. } => println!("  {at}  NOTIFICATION: {body}"),
            EngineEvent::GroupedNotification { title, body, .. } => println!("  {at}  NOTIFICATION: {title}: {body}"),
            EngineEvent::StorageFault(Some(why)) => println!("  {at}  CANNOT SAVE: {why}"),
            EngineEvent::StorageFault(None) => println!("  {at}  saving again"),
            EngineEvent::WallClock { wall_ahead_ms } => println!("  {at}  the wall clock is {wall_ahead_ms} ms ahead"),
            EngineEvent::Outage(Some(outage)) => println!("  {at}  OUTAGE: {}", outage.cause),
            EngineEvent::Outage(None) => println!("  {at}  the outage is over"),
        }
    }
}
