//! Agents: add, rename, remove, connect, disconnect, history, health, pairing code.

use switchboard_engine::lifecycle::AgentId;
use tauri::State;

use crate::args::Arg;
use crate::dto::{AgentDto, DecisionDto, HealthDto, HistoryDto};
use crate::error::IpcError;
use crate::state::AppState;

/// The most history entries one call returns.
const MAX_HISTORY: u32 = 1_000;

#[tauri::command]
pub async fn add_agent(state: State<'_, AppState>, name: Arg<String>) -> Result<AgentDto, IpcError> {
    let engine = state.engine()?;
    let view = engine.supervisor.add(&name.0).await?;
    Ok(AgentDto::from_view(&view, &engine.supervisor.settings()))
}

#[tauri::command]
pub async fn rename_agent(state: State<'_, AppState>, id: Arg<i64>, name: Arg<String>) -> Result<AgentDto, IpcError> {
    let engine = state.engine()?;
    let view = engine.supervisor.rename(AgentId(id.0), &name.0).await?;
    Ok(AgentDto::from_view(&view, &engine.supervisor.settings()))
}

#[tauri::command]
pub async fn remove_agent(state: State<'_, AppState>, id: Arg<i64>) -> Result<(), IpcError> {
    Ok(state.engine()?.supervisor.remove(AgentId(id.0)).await?)
}

#[tauri::command]
pub async fn connect_agent(state: State<'_, AppState>, id: Arg<i64>) -> Result<DecisionDto, IpcError> {
    let decision = state.engine()?.supervisor.connect(AgentId(id.0)).await?;
    Ok(DecisionDto::from(&decision))
}

#[tauri::command]
pub async fn disconnect_agent(state: State<'_, AppState>, id: Arg<i64>) -> Result<(), IpcError> {
    Ok(state.engine()?.supervisor.disconnect(AgentId(id.0)).await?)
}

#[tauri::command]
pub async fn request_pair_code(state: State<'_, AppState>, id: Arg<i64>, phone: Arg<String>) -> Result<(), IpcError> {
    Ok(state.engine()?.supervisor.request_pair_code(AgentId(id.0), &phone.0).await?)
}

#[tauri::command]
pub async fn agent_history(
    state: State<'_, AppState>,
    id: Arg<i64>,
    limit: Arg<u32>,
) -> Result<Vec<HistoryDto>, IpcError> {
    let limit = limit.0.clamp(1, MAX_HISTORY);
    let history = state.engine()?.supervisor.history(AgentId(id.0), limit).await?;
    Ok(history.iter().map(HistoryDto::from).collect())
}

#[tauri::command]
pub async fn agent_health(state: State<'_, AppState>, id: Arg<i64>) -> Result<HealthDto, IpcError> {
    let health = state.engine()?.supervisor.health(AgentId(id.0)).await?;
    Ok(HealthDto::from(&health))
}
