//! Demo mode: act as WhatsApp on the simulated connection of an agent.

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
