//! Demo mode: act as WhatsApp on the simulated connection of an agent, or
//! cut the whole machine off from it for a while (F-1…F-3 to practise).

use switchboard_engine::lifecycle::{AgentId, CloseCode, classify};
use tauri::State;

use crate::args::Arg;
use crate::dto::SimAction;
use crate::error::IpcError;
use crate::state::{AppState, Mode};

#[tauri::command]
pub async fn simulate(state: State<'_, AppState>, id: Arg<i64>, action: Arg<SimAction>) -> Result<(), IpcError> {
    let engine = state.engine()?;
    let Mode::Demo(sim) = &engine.mode else {
        return Err(IpcError::new("not_demo", "Simulated actions exist only in demo mode (--demo)."));
    };
    let id = AgentId(id.0);
    let view =
        engine.supervisor.view(id).ok_or_else(|| IpcError::new("unknown_agent", format!("no agent with id {id}")))?;
    let done = match action.0 {
        SimAction::Scan => sim.scan(id),
        SimAction::Drop { code } => {
            if !(100..=999).contains(&code) {
                return Err(IpcError::new("invalid_payload", format!("close code {code} is not a 3-digit code")));
            }
            tracing::info!(agent = %id, code, class = ?classify(CloseCode(code)).class, "demo: simulated close");
            sim.drop_with(id, CloseCode(code), None)
        }
        SimAction::Silent => sim.go_silent(id, view.record.status == switchboard_engine::lifecycle::Status::Connected),
    };
    if !done {
        return Err(IpcError::new("no_connection", "This agent has no open connection to act on."));
    }
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
    let engine = state.engine()?;
    let Mode::Demo(sim) = &engine.mode else {
        return Err(IpcError::new("not_demo", "Simulated actions exist only in demo mode (--demo)."));
    };
    let minutes = minutes.0;
    if minutes > LONGEST_SIMULATED_OUTAGE_MINUTES {
        return Err(IpcError::new(
            "invalid_payload",
            format!("a simulated outage lasts 0 to {LONGEST_SIMULATED_OUTAGE_MINUTES} minutes, got {minutes}"),
        ));
    }
    // A new outage replaces a running one's end.
    let mut ending = state.simulated_outage_end.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(old) = ending.take() {
        old.abort();
    }
    if minutes == 0 {
        sim.cut_off(false);
        return Ok(());
    }
    tracing::info!(minutes, "demo: WhatsApp unreachable");
    sim.cut_off(true);
    let sim = sim.clone();
    *ending = Some(tauri::async_runtime::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(u64::from(minutes) * 60)).await;
        tracing::info!("demo: WhatsApp reachable again");
        sim.cut_off(false);
    }));
    Ok(())
}
