//! Agents: add, rename, remove, connect, disconnect, history, health, pairing code.

use switchboard_engine::error::EngineError;
use switchboard_engine::lifecycle::AgentId;
use tauri::State;

use crate::args::Arg;
use crate::dto::{AgentDto, DecisionDto, HealthDto, HistoryDto, QrImageDto};
use crate::error::IpcError;
use crate::state::AppState;

/// The most history entries one call returns.
const MAX_HISTORY: u32 = 1_000;

#[tauri::command]
pub async fn add_agent(state: State<'_, AppState>, name: Arg<String>) -> Result<AgentDto, IpcError> {
    let engine = state.engine().await?;
    let view = engine.supervisor.add(&name.0).await?;
    Ok(AgentDto::from_view(&view, &engine.supervisor.settings()))
}

#[tauri::command]
pub async fn rename_agent(state: State<'_, AppState>, id: Arg<i64>, name: Arg<String>) -> Result<AgentDto, IpcError> {
    let engine = state.engine().await?;
    let view = engine.supervisor.rename(AgentId(id.0), &name.0).await?;
    Ok(AgentDto::from_view(&view, &engine.supervisor.settings()))
}

#[tauri::command]
pub async fn remove_agent(state: State<'_, AppState>, id: Arg<i64>) -> Result<(), IpcError> {
    state.engine().await?.supervisor.remove(AgentId(id.0)).await?;
    // Its last QR image goes with it: ids are never reused, so nothing else would drop it.
    state.qr_images.forget(id.0);
    Ok(())
}

#[tauri::command]
pub async fn connect_agent(state: State<'_, AppState>, id: Arg<i64>) -> Result<DecisionDto, IpcError> {
    let decision = state.engine().await?.supervisor.connect(AgentId(id.0)).await?;
    Ok(DecisionDto::from(&decision))
}

#[tauri::command]
pub async fn disconnect_agent(state: State<'_, AppState>, id: Arg<i64>) -> Result<(), IpcError> {
    Ok(state.engine().await?.supervisor.disconnect(AgentId(id.0)).await?)
}

#[tauri::command]
pub async fn request_pair_code(state: State<'_, AppState>, id: Arg<i64>, phone: Arg<String>) -> Result<(), IpcError> {
    Ok(state.engine().await?.supervisor.request_pair_code(AgentId(id.0), &phone.0).await?)
}

#[tauri::command]
pub async fn agent_history(
    state: State<'_, AppState>,
    id: Arg<i64>,
    limit: Arg<u32>,
) -> Result<Vec<HistoryDto>, IpcError> {
    let limit = limit.0.clamp(1, MAX_HISTORY);
    let history = state.engine().await?.supervisor.history(AgentId(id.0), limit).await?;
    Ok(history.iter().map(HistoryDto::from).collect())
}

#[tauri::command]
pub async fn agent_health(state: State<'_, AppState>, id: Arg<i64>) -> Result<HealthDto, IpcError> {
    let health = state.engine().await?.supervisor.health(AgentId(id.0)).await?;
    Ok(HealthDto::from(&health))
}

/// The image of the agent's live QR, or `null` while it shows none.
/// Agent events carry only the QR's key: what displays the QR asks here when
/// the key changes, so the image is rendered once and sent only where it shows.
#[tauri::command]
pub async fn qr_image(state: State<'_, AppState>, id: Arg<i64>) -> Result<Option<QrImageDto>, IpcError> {
    let engine = state.engine().await?;
    let view = engine.supervisor.view(AgentId(id.0)).ok_or(EngineError::UnknownAgent(AgentId(id.0)))?;
    let Some(qr) = view.qr.as_deref() else {
        state.qr_images.forget(id.0);
        return Ok(None);
    };
    let png = state.qr_images.data_url(id.0, qr).map_err(|err| IpcError::new("qr", err.to_string()))?;
    Ok(Some(QrImageDto { key: crate::qr::key(qr), png }))
}
