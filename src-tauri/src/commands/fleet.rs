//! The fleet: "Try now" during an outage, and staff's pause of every
//! automatic reconnect (F-2, F-3).

use tauri::State;

use crate::error::IpcError;
use crate::state::AppState;

/// Starts the outage's next probe at once, unless one runs; nothing
/// happens without an outage.
#[tauri::command]
pub async fn try_now(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.engine().await?.supervisor.try_now();
    Ok(())
}

/// Pauses every automatic reconnect (`true`) until resumed (`false`).
#[tauri::command]
pub async fn pause_reconnects(state: State<'_, AppState>, paused: crate::args::Arg<bool>) -> Result<(), IpcError> {
    state.engine().await?.supervisor.pause_reconnects(paused.0);
    Ok(())
}
