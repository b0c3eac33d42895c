//! Drives a random storm of transitions on a database until it is killed.
//!
//! A tool for crash tests (P-5) and benchmarks: the engine on the simulated
//! WhatsApp, changing agents as fast as it can, with real time and real
//! fsyncs. Usage: `switchboard-storm --db PATH [--agents N] [--seed S]
//! [--confirmed LOG] [--world FILE]`.
//!
//! With `--world`, the simulated WhatsApp keeps its credentials and the
//! phones' device lists in FILE across runs, as the real ones outlive the
//! app: a crash test resumes with what a killed run paired.
//!
//! With `--confirmed`, every committed change of an agent is appended to LOG
//! as one line (`id<TAB>status<TAB>last_auth_failure_at<TAB>banned_until<TAB>reason`,
//! times in ms or `-`), written only after its COMMIT: views are published
//! after the commit (P-1). A crash test checks every such line against the database.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use switchboard_engine::clock::{SystemClock, Timestamp};
use switchboard_engine::lifecycle::{AgentId, CloseCode};
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::supervisor::{EngineEvent, Options, Supervisor};
use tokio::sync::broadcast;

struct Args {
    db: PathBuf,
    agents: usize,
    seed: u64,
    confirmed: Option<PathBuf>,
    world: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut db, mut agents, mut seed, mut confirmed, mut world) = (None, 8, u64::from(std::process::id()), None, None);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--db" => db = Some(PathBuf::from(value("--db")?)),
            "--agents" => agents = value("--agents")?.parse().map_err(|e| format!("--agents: {e}"))?,
            "--seed" => seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--confirmed" => confirmed = Some(PathBuf::from(value("--confirmed")?)),
            "--world" => world = Some(PathBuf::from(value("--world")?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let db = db.ok_or("usage: switchboard-storm --db PATH [--agents N] [--seed S] [--confirmed LOG] [--world FILE]")?;
    if !(1..=100_000).contains(&agents) {
        return Err("--agents must be between 1 and 100000".into());
    }
    Ok(Args { db, agents, seed, confirmed, world })
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("switchboard-storm: {message}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    if let Err(err) = rt.block_on(storm(args)) {
        eprintln!("switchboard-storm: {err}");
        std::process::exit(1);
    }
}

async fn storm(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let sim = match &args.world {
        Some(file) => SimulatedWhatsApp::persistent(file)?,
        None => SimulatedWhatsApp::new(),
    };
    let options = Options { clock: Arc::new(SystemClock), connector: Arc::new(sim.clone()), seed: args.seed };
    let sup = Supervisor::start(&args.db, options).await?;
    if let Some(path) = &args.confirmed {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        tokio::spawn(confirm(sup.subscribe(), log));
    }
    // No attempt cooldown, so clicks turn into transitions as fast as possible.
    sup.update_settings(vec![("attempt_cooldown_ms".into(), 0)]).await?;
    let mut ids: Vec<AgentId> = sup.list().iter().map(|v| v.record.id).collect();
    while ids.len() < args.agents {
        ids.push(sup.add(&format!("storm agent {}", ids.len())).await?.record.id);
    }
    println!("storming {} agents", ids.len());
    // A storm of a script's clicks, not an operator's: not audited one by one (B-3).
    let sup = sup.unaudited();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(args.seed);
    let codes = [401, 403, 408, 428, 440, 500, 503, 515];
    loop {
        let id = ids[rng.random_range(0..ids.len())];
        match rng.random_range(0..5) {
            0 => drop(sup.connect(id).await),
            1 => drop(sup.disconnect(id).await),
            2 => drop(sim.open(id)),
            3 => drop(sim.scan(id)),
            _ => drop(sim.drop_with(id, CloseCode(codes[rng.random_range(0..codes.len())]), None)),
        }
        tokio::task::yield_now().await;
    }
}

/// Appends each committed agent record to `log`, one unbuffered write per line
/// (in the kernel when `write` returns, so a kill -9 cannot lose it).
async fn confirm(mut events: broadcast::Receiver<EngineEvent>, mut log: std::fs::File) {
    let ms = |t: Option<Timestamp>| t.map_or("-".to_owned(), |t| t.0.to_string());
    loop {
        match events.recv().await {
            Ok(EngineEvent::Agent(view)) => {
                let r = &view.record;
                let line = format!(
                    "{}\t{}\t{}\t{}\t{}\n",
                    r.id.0,
                    r.status,
                    ms(r.last_auth_failure_at),
                    ms(r.banned_until),
                    r.reason.replace(['\t', '\n'], " ")
                );
                if log.write_all(line.as_bytes()).is_err() {
                    return;
                }
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
