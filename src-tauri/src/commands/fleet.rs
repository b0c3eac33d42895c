//! The fleet: "Try now" during an outage (F-2).

use tauri::State;

use crate::error::IpcError;
use crate::state::AppState;

/// Starts the outage's next probe at once, unless one runs; nothing
/// happens without an outage.
#[tauri::command]
pub async fn try_now(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.engine()?.supervisor.try_now();
    Ok(())
}
