//! The one subscription: a snapshot now, then ordered updates over a
//! channel, in batches of at most one a frame while changes pour in.

use std::collections::HashMap;
use std::time::Duration;

use switchboard_engine::supervisor::{EngineEvent, Supervisor};
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;

use crate::args::ChannelArg;
use crate::dto::{AgentDto, ModeDto, OutageDto, Snapshot, UiEvent, settings_dto};
use crate::error::IpcError;
use crate::state::{AppState, Config, Engine, Mode, UNOFFICIAL_CLIENT_WARNING};
use switchboard_engine::clock::{Clock, SystemClock};
use switchboard_whatsapp::protection::Protection;
use switchboard_whatsapp::version::VersionStatus;

/// Returns everything the UI shows, and from then on pushes every change to
/// `on_event` in order (no polling). A new subscription replaces the old one.
#[tauri::command]
pub async fn subscribe<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    on_event: ChannelArg<Vec<UiEvent>>,
) -> Result<Snapshot, IpcError> {
    let ChannelArg(on_event) = on_event;
    state.ui.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(on_event.clone());
    let data_dir = state.config.data_dir.display().to_string();
    let engine = match state.engine().await {
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
                notices: vec![],
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
        notices: notices(engine, &state.config).await,
    })
}

/// The lasting warnings (see [`Snapshot::notices`]).
async fn notices(engine: &Engine, config: &Config) -> Vec<String> {
    let mut notices = Vec::new();
    if engine.protection == Some(Protection::Unencrypted) {
        notices.push(format!(
            "The WhatsApp credentials are stored unencrypted, as chosen at the first start: anyone who copies {} can use every linked account. README's \"Security\" section tells how to encrypt them.",
            config.credentials_dir().display()
        ));
    }
    if let Mode::Real(whatsapp) = &engine.mode
        && let Some(notice) = version_notice(&whatsapp.version_status().await)
    {
        notices.push(notice);
    }
    notices
}

/// F-7: a word when the version could not be renewed for a while. A fetch
/// that failed today, with a version of yesterday, is not worth a banner.
fn version_notice(status: &VersionStatus) -> Option<String> {
    const STALE_AFTER_MS: i64 = 3 * 24 * 60 * 60 * 1000;
    let error = status.last_error.as_deref()?;
    let (major, minor, build) = status.version;
    match status.fetched_at {
        None => Some(format!(
            "Switchboard could not ask WhatsApp Web for its current version ({error}). Connections announce version {major}.{minor}.{build}, built into this Switchboard, which WhatsApp refuses once it is too old (\"update Switchboard\")."
        )),
        Some(at) if SystemClock.wall().0 - at.0 > STALE_AFTER_MS => Some(format!(
            "Switchboard has not reached WhatsApp Web for its current version for over 3 days ({error}). Connections announce version {major}.{minor}.{build} from then, which WhatsApp refuses once it is too old."
        )),
        Some(_) => None,
    }
}

/// The shortest time between two messages to the window while changes pour
/// in: about a frame. Each message is a script the web view must run, so
/// 200 changes a second sent one by one would cost 200 scripts a second.
const BATCH_WINDOW: Duration = Duration::from_millis(16);

/// Forwards engine events to the window in batches. The first change after
/// a quiet moment goes at once; changes that follow within `BATCH_WINDOW`
/// go together at its end, an agent's older versions dropped for its latest.
async fn forward<R: Runtime>(
    app: AppHandle<R>,
    supervisor: Supervisor,
    mut events: tokio::sync::broadcast::Receiver<EngineEvent>,
    channel: Channel<Vec<UiEvent>>,
) {
    let mut last_sent: Option<Instant> = None;
    loop {
        let mut batch = Batch::default();
        match events.recv().await {
            Err(RecvError::Closed) => return,
            first => batch.push(to_ui(&app, &supervisor, first).await),
        }
        if let Some(sent) = last_sent {
            let until = sent + BATCH_WINDOW;
            while let Ok(next) = tokio::time::timeout_at(until, events.recv()).await {
                if matches!(next, Err(RecvError::Closed)) {
                    break;
                }
                batch.push(to_ui(&app, &supervisor, next).await);
            }
        }
        // Whatever else is already waiting goes in this batch too.
        loop {
            match events.try_recv() {
                Ok(event) => batch.push(to_ui(&app, &supervisor, Ok(event)).await),
                Err(TryRecvError::Lagged(missed)) => {
                    batch.push(to_ui(&app, &supervisor, Err(RecvError::Lagged(missed))).await);
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if channel.send(batch.events).is_err() {
            // The window went away (closed or reloaded); its next subscribe starts afresh.
            return;
        }
        last_sent = Some(Instant::now());
    }
}

/// The events of one message, in order; an agent's newer version replaces
/// its older one in place.
#[derive(Default)]
struct Batch {
    events: Vec<UiEvent>,
    agent_at: HashMap<i64, usize>,
}

impl Batch {
    fn push(&mut self, event: Option<UiEvent>) {
        let Some(event) = event else { return };
        match &event {
            UiEvent::Agent { agent } => {
                if let Some(&at) = self.agent_at.get(&agent.id) {
                    self.events[at] = event;
                    return;
                }
                self.agent_at.insert(agent.id, self.events.len());
            }
            // Everything before a resync is in it.
            UiEvent::Resync { .. } => {
                self.events.clear();
                self.agent_at.clear();
            }
            _ => {}
        }
        self.events.push(event);
    }
}

/// One engine event as the window receives it; `None` for none.
async fn to_ui<R: Runtime>(
    app: &AppHandle<R>,
    supervisor: &Supervisor,
    event: Result<EngineEvent, RecvError>,
) -> Option<UiEvent> {
    Some(match event {
        Ok(EngineEvent::Agent(view)) => {
            UiEvent::Agent { agent: Box::new(AgentDto::from_view(&view, &supervisor.settings())) }
        }
        Ok(EngineEvent::Removed(id)) => UiEvent::Removed { id: id.0 },
        Ok(EngineEvent::StorageFault(message)) => UiEvent::StorageFault { message },
        Ok(EngineEvent::WallClock { wall_ahead_ms }) => UiEvent::Clock { wall_ahead_ms },
        Ok(EngineEvent::Outage(outage)) => UiEvent::Outage {
            outage: outage.as_deref().map(OutageDto::from),
            outages_last_week: outages_last_week(supervisor).await,
        },
        Ok(EngineEvent::Notification { agent, title, body }) => {
            notify_desktop(app, &title, &body);
            UiEvent::Notice { agent_id: agent.0, title, body }
        }
        Ok(EngineEvent::GroupedNotification { title, body, agents }) => {
            notify_desktop(app, &title, &body);
            UiEvent::GroupNotice { title, body, agent_ids: agents.iter().map(|a| a.0).collect() }
        }
        Err(RecvError::Lagged(missed)) => {
            tracing::warn!(missed, "the UI fell behind; sending everything again");
            let settings = supervisor.settings();
            UiEvent::Resync { agents: supervisor.list().iter().map(|v| AgentDto::from_view(v, &settings)).collect() }
        }
        Err(RecvError::Closed) => return None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: i64, version: u64) -> UiEvent {
        let mut view = crate::dto::test_support::view(id, switchboard_engine::lifecycle::Status::Connected, false);
        view.version = version;
        UiEvent::Agent {
            agent: Box::new(AgentDto::from_view(&view, &switchboard_engine::lifecycle::Settings::default())),
        }
    }

    fn shape(batch: &Batch) -> Vec<String> {
        batch
            .events
            .iter()
            .map(|e| match e {
                UiEvent::Agent { agent } => format!("{}@{}", agent.id, agent.version),
                UiEvent::Removed { id } => format!("-{id}"),
                UiEvent::Resync { agents } => format!("resync {}", agents.len()),
                _ => "other".into(),
            })
            .collect()
    }

    #[test]
    fn a_batch_keeps_each_agents_latest_version_in_place_and_a_resync_replaces_what_came_before() {
        let mut batch = Batch::default();
        for event in [
            Some(agent(1, 1)),
            Some(agent(2, 1)),
            Some(agent(1, 2)),
            Some(UiEvent::Removed { id: 3 }),
            Some(agent(2, 5)),
            None,
        ] {
            batch.push(event);
        }
        assert_eq!(shape(&batch), ["1@2", "2@5", "-3"]);
        batch.push(Some(UiEvent::Resync { agents: vec![] }));
        batch.push(Some(agent(1, 9)));
        assert_eq!(shape(&batch), ["resync 0", "1@9"]);
    }

    /// F-7: the window hears of the version only when it could not be
    /// renewed: never fetched, or not for over three days.
    #[test]
    fn f7_the_version_is_told_only_when_it_could_not_be_renewed() {
        let now = SystemClock.wall().0;
        let status = |fetched_at: Option<i64>, last_error: Option<&str>| VersionStatus {
            version: (2, 3000, 1_012_345_678),
            fetched_at: fetched_at.map(switchboard_engine::clock::Timestamp),
            last_error: last_error.map(str::to_owned),
        };
        assert_eq!(version_notice(&status(Some(now), None)), None);
        assert_eq!(version_notice(&status(Some(now - 3_600_000), Some("refused"))), None, "yesterday's is fine");
        let never = version_notice(&status(None, Some("cannot reach web.whatsapp.com"))).unwrap();
        assert!(never.contains("cannot reach web.whatsapp.com") && never.contains("2.3000.1012345678"), "{never}");
        let old = version_notice(&status(Some(now - 4 * 24 * 3_600_000), Some("status 503"))).unwrap();
        assert!(old.contains("over 3 days") && old.contains("status 503"), "{old}");
    }
}
