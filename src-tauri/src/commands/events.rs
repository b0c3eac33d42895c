//! The one subscription: a snapshot now, then ordered updates over a channel.

use switchboard_engine::supervisor::{EngineEvent, Supervisor};
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tokio::sync::broadcast::error::RecvError;

use crate::args::ChannelArg;
use crate::dto::{AgentDto, ModeDto, OutageDto, Snapshot, UiEvent, settings_dto};
use crate::error::IpcError;
use crate::state::{AppState, Mode, UNOFFICIAL_CLIENT_WARNING};

/// Returns everything the UI shows, and from then on pushes every change to
/// `on_event` in order (no polling). A new subscription replaces the old one.
#[tauri::command]
pub async fn subscribe<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    on_event: ChannelArg<UiEvent>,
) -> Result<Snapshot, IpcError> {
    let ChannelArg(on_event) = on_event;
    state.ui.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(on_event.clone());
    let data_dir = state.config.data_dir.display().to_string();
    let engine = match state.engine() {
        Ok(engine) => engine,
        Err(err) => {
            let mode = if state.config.demo { ModeDto::Demo } else { ModeDto::Real };
            let snapshot = Snapshot {
                mode,
                agents: vec![],
                settings: vec![],
                startup_error: Some(err),
                data_dir,
                mode_note: None,
                storage_fault: None,
                wall_ahead_ms: 0,
                outage: None,
                outages_last_week: 0,
            };
            return Ok(snapshot);
        }
    };
    let supervisor = engine.supervisor.clone();
    // Subscribe before the snapshot so nothing falls between them; the UI
    // drops updates whose version it already has.
    let events = supervisor.subscribe();
    let settings = supervisor.settings();
    let agents = supervisor.list().iter().map(|v| AgentDto::from_view(v, &settings)).collect();
    let task = tauri::async_runtime::spawn(forward(app, supervisor.clone(), events, on_event));
    if let Some(old) = state.forwarder.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(task) {
        old.abort();
    }
    let (mode, mode_note) = match engine.mode {
        Mode::Demo(_) => (ModeDto::Demo, None),
        Mode::Real(_) => (ModeDto::Real, Some(UNOFFICIAL_CLIENT_WARNING.to_owned())),
    };
    Ok(Snapshot {
        mode,
        agents,
        settings: settings_dto(&settings),
        startup_error: None,
        data_dir,
        mode_note,
        storage_fault: supervisor.storage_fault(),
        wall_ahead_ms: supervisor.wall_ahead_ms(),
        outage: supervisor.outage().as_ref().map(OutageDto::from),
        outages_last_week: outages_last_week(&supervisor).await,
    })
}

async fn forward<R: Runtime>(
    app: AppHandle<R>,
    supervisor: Supervisor,
    mut events: tokio::sync::broadcast::Receiver<EngineEvent>,
    channel: Channel<UiEvent>,
) {
    loop {
        let event = match events.recv().await {
            Ok(EngineEvent::Agent(view)) => {
                UiEvent::Agent { agent: Box::new(AgentDto::from_view(&view, &supervisor.settings())) }
            }
            Ok(EngineEvent::Removed(id)) => UiEvent::Removed { id: id.0 },
            Ok(EngineEvent::StorageFault(message)) => UiEvent::StorageFault { message },
            Ok(EngineEvent::WallClock { wall_ahead_ms }) => UiEvent::Clock { wall_ahead_ms },
            Ok(EngineEvent::Outage(outage)) => UiEvent::Outage {
                outage: outage.as_deref().map(OutageDto::from),
                outages_last_week: outages_last_week(&supervisor).await,
            },
            Ok(EngineEvent::Notification { agent, title, body }) => {
                notify_desktop(&app, &title, &body);
                UiEvent::Notice { agent_id: agent.0, title, body }
            }
            Ok(EngineEvent::GroupedNotification { title, body, agents }) => {
                notify_desktop(&app, &title, &body);
                UiEvent::GroupNotice { title, body, agent_ids: agents.iter().map(|a| a.0).collect() }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the UI fell behind; sending everything again");
                let settings = supervisor.settings();
                UiEvent::Resync {
                    agents: supervisor.list().iter().map(|v| AgentDto::from_view(v, &settings)).collect(),
                }
            }
            Err(RecvError::Closed) => return,
        };
        if channel.send(event).is_err() {
            // The window went away (closed or reloaded); its next subscribe starts afresh.
            return;
        }
    }
}

/// H-4's count; a database that cannot be read now shows none rather than failing the window.
async fn outages_last_week(supervisor: &Supervisor) -> u32 {
    match supervisor.outages_last_week().await {
        Ok(n) => u32::try_from(n).unwrap_or(u32::MAX),
        Err(err) => {
            tracing::warn!("could not count the last week's outages: {err}");
            0
        }
    }
}

/// L-3, R-2: a desktop notification naming the agent and what to do.
fn notify_desktop<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    use tauri_plugin_notification::NotificationExt;
    if let Err(err) = app.notification().builder().title(title).body(body).show() {
        // No notification daemon (a bare X server, say): the in-app banner still shows it.
        tracing::warn!("desktop notification failed: {err}");
    }
}
