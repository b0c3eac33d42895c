//! Demo mode: act as WhatsApp on the simulated connection of an agent, or
//! cut the whole machine off from it for a while (F-1…F-3 to practise), or
//! make busy traffic (`simulate_churn`, for the window's benchmark).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_engine::clock::{Clock, SystemClock};
use switchboard_engine::error::EngineError;
use switchboard_engine::lifecycle::{AgentId, CloseCode, Status, classify};
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::supervisor::EngineEvent;
use tauri::State;
use tokio::time::Instant;

use crate::args::Arg;
use crate::dto::{ChurnCallDto, ChurnChangeDto, ChurnDto, SimAction};
use crate::error::IpcError;
use crate::state::{AppState, Engine, Mode};

/// The simulated WhatsApp, which exists only in demo mode.
fn simulator(engine: &Engine) -> Result<&SimulatedWhatsApp, IpcError> {
    match &engine.mode {
        Mode::Demo(sim) => Ok(sim),
        Mode::Real(_) => Err(IpcError::new("not_demo", "Simulated actions exist only in demo mode (--demo).")),
    }
}

#[tauri::command]
pub async fn simulate(state: State<'_, AppState>, id: Arg<i64>, action: Arg<SimAction>) -> Result<(), IpcError> {
    let engine = state.engine().await?;
    let sim = simulator(engine)?;
    let id = AgentId(id.0);
    let view = engine.supervisor.view(id).ok_or(EngineError::UnknownAgent(id))?;
    let what = match action.0 {
        SimAction::Scan => "simulated a QR scan".to_owned(),
        SimAction::Drop { code } => format!("simulated a close with code {code}"),
        SimAction::Silent => "simulated a silent connection".to_owned(),
        SimAction::Passkey => "simulated a passkey request".to_owned(),
    };
    let done = match action.0 {
        SimAction::Scan => sim.scan(id),
        SimAction::Drop { code } => {
            if !(100..=999).contains(&code) {
                return Err(IpcError::new("invalid_payload", format!("close code {code} is not a 3-digit code")));
            }
            tracing::info!(agent = %id, code, class = ?classify(CloseCode(code)).class, "demo: simulated close");
            sim.drop_with(id, CloseCode(code), None)
        }
        SimAction::Silent => sim.go_silent(id, view.record.status == Status::Connected),
        SimAction::Passkey => sim.ask_passkey(id),
    };
    if !done {
        // Nothing happened: nothing to audit.
        return Err(IpcError::new("no_connection", "This agent has no open connection to act on."));
    }
    engine.supervisor.audit_simulation(&[id], &what, "done").await;
    Ok(())
}

/// The longest simulated outage: long enough to watch probes back off to
/// their cap, short enough that a forgotten one ends within a shift.
const LONGEST_SIMULATED_OUTAGE_MINUTES: u32 = 120;

/// Demo mode: WhatsApp cannot be reached from this machine for `minutes`
/// (every live link drops, every attempt fails before any handshake), then
/// can again. Zero ends a simulated outage at once.
#[tauri::command]
pub async fn simulate_unreachable(state: State<'_, AppState>, minutes: Arg<u32>) -> Result<(), IpcError> {
    let engine = state.engine().await?;
    let (sim, supervisor) = (simulator(engine)?, &engine.supervisor);
    let minutes = minutes.0;
    if minutes > LONGEST_SIMULATED_OUTAGE_MINUTES {
        return Err(IpcError::new(
            "invalid_payload",
            format!("a simulated outage lasts 0 to {LONGEST_SIMULATED_OUTAGE_MINUTES} minutes, got {minutes}"),
        ));
    }
    {
        // A new outage replaces a running one's end.
        let mut ending = state.simulated_outage_end.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = ending.take() {
            old.abort();
        }
        if minutes == 0 {
            sim.cut_off(false);
        } else {
            tracing::info!(minutes, "demo: WhatsApp unreachable");
            sim.cut_off(true);
            let sim = sim.clone();
            *ending = Some(tauri::async_runtime::spawn(async move {
                tokio::time::sleep(Duration::from_secs(u64::from(minutes) * 60)).await;
                tracing::info!("demo: WhatsApp reachable again");
                sim.cut_off(false);
            }));
        }
    }
    let what = if minutes == 0 {
        "ended the simulated outage".to_owned()
    } else {
        format!("WhatsApp unreachable for {minutes} min")
    };
    supervisor.audit_simulation(&[], &what, "done").await;
    Ok(())
}

/// The most agents, calls a second and seconds one churn takes.
const CHURN_LIMITS: (usize, u32, u32) = (10_000, 1_000, 600);

/// Demo mode: busy traffic made by the engine itself, for the window's
/// benchmark and for a demonstration of a busy day. The agents `ids` are
/// connected and disconnected in turn (each connect makes two status
/// changes, connecting then qr_pending, and each disconnect one), paced so
/// that about `changes_per_second` status changes happen each second, for
/// `seconds`. Then the agents it left connecting are disconnected again.
/// Returns when each call was made and each status change the engine
/// published meanwhile.
#[tauri::command]
pub async fn simulate_churn(
    state: State<'_, AppState>,
    ids: Arg<Vec<i64>>,
    changes_per_second: Arg<u32>,
    seconds: Arg<u32>,
) -> Result<ChurnDto, IpcError> {
    let engine = state.engine().await?;
    simulator(engine)?;
    let (ids, rate, seconds) = (ids.0, changes_per_second.0, seconds.0);
    let (most_agents, most_rate, most_seconds) = CHURN_LIMITS;
    if ids.is_empty() || ids.len() > most_agents {
        return Err(IpcError::new(
            "invalid_payload",
            format!("a churn takes 1 to {most_agents} agents, got {}", ids.len()),
        ));
    }
    if !(1..=most_rate).contains(&rate) || !(1..=most_seconds).contains(&seconds) {
        return Err(IpcError::new(
            "invalid_payload",
            format!(
                "a churn makes 1 to {most_rate} changes a second for 1 to {most_seconds} s, got {rate}/s for {seconds} s"
            ),
        ));
    }
    // Audited below as the one simulation it is, not as thousands of clicks (B-3).
    let supervisor = &engine.supervisor.unaudited();
    let mut last_status: HashMap<AgentId, Status> = HashMap::new();
    for &id in &ids {
        let view = supervisor.view(AgentId(id)).ok_or(EngineError::UnknownAgent(AgentId(id)))?;
        last_status.insert(AgentId(id), view.record.status);
    }
    let changes = Arc::new(Mutex::new(Vec::new()));
    let watching = tokio::spawn(record_status_changes(supervisor.subscribe(), last_status, changes.clone()));

    // A connect and a disconnect make three changes: one call every 1.5 changes.
    let interval = Duration::from_secs_f64(1.5 / f64::from(rate));
    let started = Instant::now();
    let end = started + Duration::from_secs(u64::from(seconds));
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut calls, mut connected, mut pending) = (Vec::new(), HashSet::new(), tokio::task::JoinSet::new());
    for &id in ids.iter().cycle() {
        ticks.tick().await;
        if Instant::now() >= end {
            break;
        }
        let id = AgentId(id);
        let connect = connected.insert(id);
        if !connect {
            connected.remove(&id);
        }
        calls.push(ChurnCallDto { id: id.0, at: wall_ms() });
        // Not awaited here: a slow commit must not slow the pace.
        let supervisor = supervisor.clone();
        pending.spawn(async move {
            if connect { supervisor.connect(id).await.map(drop) } else { supervisor.disconnect(id).await }
        });
    }
    let elapsed = started.elapsed();
    watching.abort();
    let changes = std::mem::take(&mut *changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    while let Some(done) = pending.join_next().await {
        if let Ok(Err(err)) = done {
            tracing::debug!("demo churn: a call was refused: {err}");
        }
    }
    for id in connected {
        supervisor.disconnect(id).await?;
    }
    let what = format!("churn: {} agents, {rate} status changes a second for {seconds} s", ids.len());
    let outcome = format!("{} clicks, {} status changes", calls.len(), changes.len());
    engine.supervisor.audit_simulation(&[], &what, &outcome).await;
    Ok(ChurnDto { calls, changes, elapsed_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX) })
}

/// Records each published change of status of the agents in `last`, with
/// the wall-clock time it was published.
async fn record_status_changes(
    mut events: tokio::sync::broadcast::Receiver<EngineEvent>,
    mut last: HashMap<AgentId, Status>,
    changes: Arc<Mutex<Vec<ChurnChangeDto>>>,
) {
    loop {
        match events.recv().await {
            Ok(EngineEvent::Agent(view)) => {
                if let Some(status) = last.get_mut(&view.record.id)
                    && *status != view.record.status
                {
                    *status = view.record.status;
                    let change =
                        ChurnChangeDto { id: view.record.id.0, status: view.record.status.into(), at: wall_ms() };
                    changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(change);
                }
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// The wall clock now, in ms since the epoch: what the window's page clock reads too.
fn wall_ms() -> i64 {
    SystemClock.wall().as_millis()
}
