//! Settings: read and change every duration of RULES.md, validated by the engine.

use tauri::State;

use crate::args::Arg;
use crate::dto::{SettingChange, SettingDto, settings_dto};
use crate::error::IpcError;
use crate::state::AppState;

#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> Result<Vec<SettingDto>, IpcError> {
    Ok(settings_dto(&state.engine().await?.supervisor.settings()))
}

/// Applies all changes or none.
#[tauri::command]
pub async fn update_settings(
    state: State<'_, AppState>,
    changes: Arg<Vec<SettingChange>>,
) -> Result<Vec<SettingDto>, IpcError> {
    let changes = changes.0.into_iter().map(|c| (c.key, c.value)).collect();
    let settings = state.engine().await?.supervisor.update_settings(changes).await?;
    Ok(settings_dto(&settings))
}
