//! The supervisor: one task per agent, commands in, views out.
//!
//! [`Supervisor`] is a cheap handle. Commands (add, rename, remove, connect,
//! disconnect …) go to the agent's task as a message with a reply channel,
//! so each agent is changed by one owner only. Views come out on a broadcast
//! channel ([`Supervisor::subscribe`]) and in [`Supervisor::list`].
//!
//! Every task is owned: agent tasks run under one [`TaskTracker`] and stop
//! on one [`CancellationToken`]; [`Supervisor::shutdown`] cancels, waits for
//! them, then lets the database writer finish its queue.
//!
//! Time: every "now" is read on one [`Timeline`] (F-5), and one task watches
//! the clocks (`clock_watch`): for gaps in which no timer ran, a suspend
//! above all (F-6), and for steps of the wall clock the window must hear of.

mod agent_task;
mod bulk;
mod clock_watch;
mod fleet;
mod notices;
mod pacer;
mod retention;
mod unlinker;
pub mod view;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::audit::{AuditAction, AuditAgent, AuditEntry, AuditFilter};
use crate::clock::{Clock, Timeline, Timestamp};
use crate::connector::Connector;
use crate::error::EngineError;
use crate::lifecycle::{
    self as lifecycle, Agent, AgentHealth, AgentId, Decision, HistoryEntry, Rule, SettingName, Settings, health,
    validate_name, validate_phone,
};
use crate::store::writer::{Writer, WriterHandle};
use crate::store::{Store, agent_name_key};
use agent_task::{AgentTask, Command};
pub use bulk::{BulkAction, BulkOutcome, BulkResult};
use bulk::{bulk_summary, decision_words};
pub use pacer::StartPacer;
pub use view::{AgentView, EngineEvent};

/// How many events a slow subscriber may fall behind before it is told it
/// lagged (it then re-reads [`Supervisor::list`]).
const EVENT_BUFFER: usize = 16_384;

/// What every agent task shares.
struct Shared {
    /// The engine's time (F-5): a wall-clock step while it runs moves nothing, a suspend moves it on.
    timeline: Timeline,
    /// Counts the gaps in which no timer ran (a suspend, F-6); every agent
    /// task and the unlinker watch it to look at their deadlines again.
    time_gaps: watch::Sender<u64>,
    connector: Arc<dyn Connector>,
    writer: WriterHandle,
    settings: watch::Receiver<Settings>,
    events: broadcast::Sender<EngineEvent>,
    /// The last published view of each agent, for `list`.
    board: Mutex<BTreeMap<AgentId, Arc<AgentView>>>,
    /// R-5's first gate: a due retry reserves its slot here before its attempt is saved.
    slots: StartPacer,
    /// R-5's second gate: a saved automatic attempt takes its turn here right
    /// before the connector starts it, so slow commits never bunch starts up.
    starts: StartPacer,
    /// Counts inputs handled by all agent tasks, so [`Supervisor::settle`] can tell quiet from busy.
    activity: AtomicU64,
    /// Owns every task of the engine: agent tasks and what they start beside
    /// themselves (a pairing-code request); shutdown waits for all of them.
    tasks: TaskTracker,
    /// Unlink jobs under way (D-1).
    unlinks: unlinker::Unlinks,
    /// Fatal notices on their way to one notification per window (F-4).
    notices: notices::Notices,
    /// The outage in progress, if any (F-1): agents' machines hold their
    /// retries while it lasts (F-2). Written only by the fleet task.
    outage: watch::Sender<Option<crate::fleet::Outage>>,
    /// What agents' steps tell the fleet, and "Try now" (F-1…F-3).
    fleet: mpsc::UnboundedSender<fleet::Message>,
}

impl Shared {
    /// The engine's now: every stamp, deadline and preview is read here.
    fn now(&self) -> Timestamp {
        self.timeline.now()
    }

    /// The last published views. A panic elsewhere while it was held leaves
    /// the views usable (each is replaced whole), so a poisoned lock is taken.
    fn board(&self) -> std::sync::MutexGuard<'_, BTreeMap<AgentId, Arc<AgentView>>> {
        self.board.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes an agent's views away: from the board and from every subscriber.
    fn unpublish(&self, id: AgentId) {
        self.board().remove(&id);
        let _ = self.events.send(EngineEvent::Removed(id));
    }
}

struct AgentHandle {
    inbox: mpsc::UnboundedSender<Command>,
    name_key: String,
}

struct Inner {
    shared: Arc<Shared>,
    settings_tx: watch::Sender<Settings>,
    /// Held from reading the settings to publishing the saved ones, so two
    /// saves at once apply one after the other and neither is lost.
    settings_save: tokio::sync::Mutex<()>,
    /// Held across add/rename/remove so name checks and writes are atomic.
    registry: tokio::sync::Mutex<HashMap<AgentId, AgentHandle>>,
    writer: Mutex<Option<Writer>>,
    /// Why the database cannot be written to right now (see [`Writer::fault`]).
    storage_fault: watch::Receiver<Option<String>>,
    stop: CancellationToken,
    seed: u64,
    /// Who operates this app, for the audit log (B-3).
    os_user: String,
}

/// The engine's front door. Clone it freely.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
    /// Whether this handle's operator actions go to the audit log (B-3);
    /// see [`Supervisor::unaudited`].
    audited: bool,
}

/// Options for [`Supervisor::start`].
pub struct Options {
    /// The computer's clocks: the system's in the app, tokio's in tests. The
    /// engine reads the wall clock once, at the start, and from then on
    /// measures on the time since boot (F-5).
    pub clock: Arc<dyn Clock>,
    /// How agents reach WhatsApp: the real service or the simulator.
    pub connector: Arc<dyn Connector>,
    /// Seeds the jitter RNGs, so a test or benchmark run repeats exactly.
    pub seed: u64,
}

impl Supervisor {
    /// Opens the database, loads every agent and starts its task (P-3 runs
    /// in each task before anything else). Returns once every agent's first
    /// view is published.
    pub async fn start(database: &Path, options: Options) -> Result<Supervisor, EngineError> {
        let path = database.to_owned();
        let (store, settings, records, unlinks, next_unlink, open_outage) = tokio::task::spawn_blocking(move || {
            let store = Store::open(&path)?;
            let settings = store.load_settings()?;
            let records = store.load_agents()?;
            let unlinks = store.load_unlinks()?;
            let next_unlink = store.next_unlink_id()?;
            let open_outage = store.load_open_outage()?;
            Ok::<_, EngineError>((store, settings, records, unlinks, next_unlink, open_outage))
        })
        .await
        .map_err(|_| EngineError::ShuttingDown)??;
        let (unlink_queue, unlink_rx) = mpsc::unbounded_channel();
        let (notice_queue, notice_rx) = mpsc::unbounded_channel();
        let (fleet_tx, fleet_rx) = mpsc::unbounded_channel();
        // An outage that had not ended goes on (its agents stay held); its
        // next probe comes at once, since time passed while the app was
        // closed. A pause stays until staff resume.
        let open_outage = open_outage.map(|row| {
            let outage = crate::fleet::Outage {
                since: row.started_at,
                cause: row.cause,
                probes: row.probes,
                next_probe_at: (!row.paused).then_some(Timestamp(0)),
                probing: None,
                last_probed: None,
                paused: row.paused,
            };
            (row.id, outage)
        });
        let writer = Writer::start(store);
        let storage_fault = writer.fault();
        let (settings_tx, settings_rx) = watch::channel(settings);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let shared = Arc::new(Shared {
            timeline: Timeline::start(options.clock),
            time_gaps: watch::Sender::new(0),
            connector: options.connector,
            writer: writer.handle(),
            settings: settings_rx,
            events,
            board: Mutex::new(BTreeMap::new()),
            slots: StartPacer::default(),
            starts: StartPacer::default(),
            activity: AtomicU64::new(0),
            tasks: TaskTracker::new(),
            unlinks: unlinker::Unlinks::new(next_unlink, unlink_queue),
            notices: notices::Notices::new(notice_queue),
            outage: watch::Sender::new(open_outage.as_ref().map(|(_, outage)| outage.clone())),
            fleet: fleet_tx,
        });
        let supervisor = Supervisor {
            audited: true,
            inner: Arc::new(Inner {
                shared,
                settings_tx,
                settings_save: tokio::sync::Mutex::new(()),
                registry: tokio::sync::Mutex::new(HashMap::new()),
                writer: Mutex::new(Some(writer)),
                storage_fault,
                stop: CancellationToken::new(),
                seed: options.seed,
                os_user: crate::audit::os_user(),
            }),
        };
        supervisor
            .inner
            .shared
            .tasks
            .spawn(clock_watch::watch(supervisor.inner.shared.clone(), supervisor.inner.stop.clone()));
        supervisor.inner.shared.tasks.spawn(publish_storage_faults(
            supervisor.inner.storage_fault.clone(),
            supervisor.inner.shared.events.clone(),
            supervisor.inner.stop.clone(),
        ));
        // Saved unlink jobs first: a crash may have come before their
        // credentials were set aside, and no agent may pair afresh before.
        // An agent whose record holds credentials again has paired anew since
        // (its job's credentials were set aside then): those stay its own.
        let shared = &supervisor.inner.shared;
        let linked: std::collections::HashSet<AgentId> =
            records.iter().filter(|r| r.has_credentials).map(|r| r.id).collect();
        for row in unlinks {
            if linked.contains(&row.job.agent) {
                shared.unlinks.resume(row);
            } else {
                shared.unlinks.begin(shared, row);
            }
        }
        shared.tasks.spawn(retention::run(shared.clone(), supervisor.inner.stop.clone()));
        shared.tasks.spawn(notices::run(shared.clone(), notice_rx, supervisor.inner.stop.clone()));
        shared.tasks.spawn(unlinker::run(
            shared.clone(),
            Arc::downgrade(&supervisor.inner),
            unlink_rx,
            supervisor.inner.stop.clone(),
        ));
        // The marks' history for every agent in one read, not one per agent.
        let since = shared.now().minus(agent_task::RECENT);
        let mut recent = match shared.writer.call(move |store| store.recent_histories(since)).await {
            Ok(recent) => Some(recent),
            Err(err) => {
                tracing::warn!("could not read the recent history at once, each agent reads its own: {err}");
                None
            }
        };
        let mut registry = supervisor.inner.registry.lock().await;
        for record in records {
            let history = recent.as_mut().map(|recent| recent.remove(&record.id).unwrap_or_default());
            let handle = supervisor.spawn_agent(Agent::new(record.clone()), history);
            registry.insert(record.id, AgentHandle { inbox: handle, name_key: agent_name_key(&record.name) });
        }
        drop(registry);
        // Every task publishes its first view after P-3; wait for all of them,
        // so `list()` is complete as soon as `start` returns.
        supervisor.settle_tasks(false).await;
        // The fleet starts once every agent is on the board: a saved outage's
        // first probe must see who is held.
        let shared = &supervisor.inner.shared;
        shared.tasks.spawn(fleet::run(
            shared.clone(),
            Arc::downgrade(&supervisor.inner),
            open_outage,
            fleet_rx,
            supervisor.inner.seed,
            supervisor.inner.stop.clone(),
        ));
        supervisor.settle().await;
        tracing::info!(agents = supervisor.list().len(), "supervisor started");
        Ok(supervisor)
    }

    /// Starts an agent's task. `recent` is the last day of its history for
    /// its marks (H-2, H-3) when the caller has it; without it the task reads it.
    fn spawn_agent(&self, agent: Agent, recent: Option<Vec<HistoryEntry>>) -> mpsc::UnboundedSender<Command> {
        let (tx, rx) = mpsc::unbounded_channel();
        let seed = self.inner.seed ^ (agent.record.id.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let task = AgentTask::new(self.inner.shared.clone(), agent, rx, recent, seed, self.inner.stop.child_token());
        self.inner.shared.tasks.spawn(task.run());
        tx
    }

    /// The engine's now (F-5), on which every deadline it publishes is
    /// measured: the wall-clock time at its start, moved on by the time
    /// since boot. It differs from the wall clock once that steps.
    pub fn now(&self) -> Timestamp {
        self.inner.shared.now()
    }

    /// How far the wall clock is ahead of [`Supervisor::now`], in
    /// milliseconds (negative: behind); zero until the wall clock steps. A
    /// window that counts down with the wall clock subtracts it; a step is
    /// announced as [`EngineEvent::WallClock`].
    pub fn wall_ahead_ms(&self) -> i64 {
        self.inner.shared.timeline.wall_ahead_ms()
    }

    /// The outage in progress, if any (F-1…F-3). Changes are announced as
    /// [`EngineEvent::Outage`].
    pub fn outage(&self) -> Option<crate::fleet::Outage> {
        self.inner.shared.outage.borrow().clone()
    }

    /// How many outages began in the last 7 days, the one in progress too
    /// (H-4); staff's pauses are no outages of WhatsApp's and are not counted.
    pub async fn outages_last_week(&self) -> Result<usize, EngineError> {
        let since = self.now().minus(std::time::Duration::from_secs(7 * 24 * 60 * 60));
        let outages = self.inner.shared.writer.call(move |store| store.outages_since(since)).await?;
        Ok(outages.iter().filter(|outage| !outage.paused).count())
    }

    /// "Try now": the next probe of the outage starts at once, unless one
    /// runs (F-2). Nothing happens without an outage.
    pub fn try_now(&self) {
        let _ = self.inner.shared.fleet.send(fleet::Message::Input(crate::fleet::FleetInput::TryNow));
        let words = if self.outage().is_some() { "probing now" } else { "no outage: nothing to try" };
        // Saved in the writer's order; a synchronous answer does not wait for it.
        let _ = self.audit(AuditAction::TryNow, Vec::new(), words.into(), String::new());
    }

    /// Staff pause every automatic reconnect (`true`) until they resume them
    /// (`false`): retries are held as in an outage, nothing probes, and on
    /// resume the held agents start paced by R-5 (F-2, F-3).
    pub fn pause_reconnects(&self, paused: bool) {
        let input = if paused { crate::fleet::FleetInput::Pause } else { crate::fleet::FleetInput::Resume };
        let _ = self.inner.shared.fleet.send(fleet::Message::Input(input));
        let (action, words) = if paused {
            (AuditAction::PauseReconnects, "automatic reconnects paused")
        } else {
            (AuditAction::ResumeReconnects, "automatic reconnects resumed")
        };
        // Saved in the writer's order; a synchronous answer does not wait for it.
        let _ = self.audit(action, Vec::new(), words.into(), String::new());
    }

    /// Every agent's current view, by id.
    pub fn list(&self) -> Vec<AgentView> {
        self.inner.shared.board().values().map(|view| AgentView::clone(view)).collect()
    }

    /// One agent's current view; `None` when there is no such agent.
    pub fn view(&self, id: AgentId) -> Option<AgentView> {
        self.inner.shared.board().get(&id).map(|view| AgentView::clone(view))
    }

    /// Views and notifications, in order, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.shared.events.subscribe()
    }

    /// The settings in force now, as last saved.
    pub fn settings(&self) -> Settings {
        *self.inner.settings_tx.borrow()
    }

    /// Why changes cannot be saved right now (disk full, database locked or
    /// read-only), or `None` when saving works. Changes are announced as
    /// [`EngineEvent::StorageFault`].
    pub fn storage_fault(&self) -> Option<String> {
        self.inner.storage_fault.borrow().clone()
    }

    /// Adds a cleanly disconnected agent.
    pub async fn add(&self, raw_name: &str) -> Result<AgentView, EngineError> {
        let result = self.add_agent(raw_name).await;
        let agents = result.as_ref().map_or_else(|_| Vec::new(), |view| vec![self.touched(view.record.id)]);
        self.audit_result(AuditAction::Add, agents, &result, |_| "added".into(), String::new()).await;
        result
    }

    async fn add_agent(&self, raw_name: &str) -> Result<AgentView, EngineError> {
        let name = validate_name(raw_name)?;
        let key = agent_name_key(&name);
        let mut registry = self.live_registry().await?;
        if registry.values().any(|h| h.name_key == key) {
            return Err(EngineError::DuplicateName(name));
        }
        let now = self.inner.shared.now();
        let insert_name = name.clone();
        let record = self.inner.shared.writer.call(move |store| store.insert_agent(&insert_name, now)).await?;
        let id = record.id;
        // A new agent has no history yet.
        let inbox = self.spawn_agent(Agent::new(record), Some(Vec::new()));
        registry.insert(id, AgentHandle { inbox, name_key: key });
        drop(registry);
        tracing::info!(agent = %id, "agent added");
        // The task publishes its first view at once; wait for it so the caller sees it.
        self.first_view(id).await
    }

    async fn first_view(&self, id: AgentId) -> Result<AgentView, EngineError> {
        let mut events = self.subscribe();
        if let Some(view) = self.view(id) {
            return Ok(view);
        }
        loop {
            match events.recv().await {
                Ok(EngineEvent::Agent(view)) if view.record.id == id => return Ok(Arc::unwrap_or_clone(view)),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Some(view) = self.view(id) {
                        return Ok(view);
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return Err(EngineError::ShuttingDown),
            }
        }
    }

    /// Gives an agent a new name, unique regardless of case; its status is untouched.
    pub async fn rename(&self, id: AgentId, raw_name: &str) -> Result<AgentView, EngineError> {
        let before = self.touched(id);
        let result = self.rename_agent(id, raw_name).await;
        let detail = format!("“{}” → “{}”", before.name, raw_name.trim());
        self.audit_result(AuditAction::Rename, vec![before], &result, |_| "renamed".into(), detail).await;
        result
    }

    async fn rename_agent(&self, id: AgentId, raw_name: &str) -> Result<AgentView, EngineError> {
        let name = validate_name(raw_name)?;
        let key = agent_name_key(&name);
        let mut registry = self.live_registry().await?;
        if registry.iter().any(|(other, h)| *other != id && h.name_key == key) {
            return Err(EngineError::DuplicateName(name));
        }
        let inbox = registry.get(&id).ok_or(EngineError::UnknownAgent(id))?.inbox.clone();
        let new_name = name.clone();
        self.inner.shared.writer.call(move |store| store.rename_agent(id, &new_name)).await?;
        registry.get_mut(&id).expect("checked").name_key = key;
        drop(registry);
        let (reply, answer) = oneshot::channel();
        inbox.send(Command::Renamed(name, reply)).map_err(|_| EngineError::ShuttingDown)?;
        answer.await.map_err(|_| EngineError::ShuttingDown)?;
        self.view(id).ok_or(EngineError::UnknownAgent(id))
    }

    /// Stops the agent, then deletes it and its history. Its device leaves
    /// the phone (D-1): logged out on the open link, or by an unlink job
    /// saved with the deletion.
    pub async fn remove(&self, id: AgentId) -> Result<(), EngineError> {
        let agent = self.touched(id);
        let result = self.remove_agent(id).await;
        self.audit_result(AuditAction::Remove, vec![agent], &result, |()| "removed".into(), String::new()).await;
        result
    }

    async fn remove_agent(&self, id: AgentId) -> Result<(), EngineError> {
        let mut registry = self.live_registry().await?;
        let handle = registry.get(&id).ok_or(EngineError::UnknownAgent(id))?;
        let (reply, answer) = oneshot::channel();
        handle.inbox.send(Command::Remove(reply)).map_err(|_| EngineError::ShuttingDown)?;
        let unlink = answer.await.map_err(|_| EngineError::ShuttingDown)?;
        let name_key = registry.remove(&id).expect("checked").name_key;
        let saved = unlink.clone();
        if let Err(err) = self.inner.shared.writer.call(move |store| store.remove_agent(id, saved.as_ref())).await {
            // The row stays, so the agent does: start its task again from what
            // is saved (its credentials are gone; start-up corrects that). Its
            // views count versions afresh, so subscribers first drop the old ones.
            self.inner.shared.unpublish(id);
            match self.inner.shared.writer.call(move |store| store.load_agent(id)).await {
                Ok(Some(record)) => {
                    let inbox = self.spawn_agent(Agent::new(record), None);
                    registry.insert(id, AgentHandle { inbox, name_key });
                }
                // Listed again at the next start, from the row that stayed.
                reload => tracing::error!(agent = %id, ?reload, "a removal failed and the agent could not be reloaded"),
            }
            return Err(err.into());
        }
        drop(registry);
        if let Some(row) = unlink {
            self.inner.shared.unlinks.begin(&self.inner.shared, row);
        }
        self.inner.shared.unpublish(id);
        tracing::info!(agent = %id, "agent removed");
        Ok(())
    }

    /// A user's connect request; the decision says why it was allowed or not.
    pub async fn connect(&self, id: AgentId) -> Result<Decision, EngineError> {
        let agent = self.touched(id);
        let result = self.ask(id, Command::Connect).await.and_then(|answer| answer);
        self.audit_result(AuditAction::Connect, vec![agent], &result, decision_words, String::new()).await;
        result
    }

    /// A manual disconnect (D-1).
    pub async fn disconnect(&self, id: AgentId) -> Result<(), EngineError> {
        let agent = self.touched(id);
        let result = self.ask(id, Command::Disconnect).await.and_then(|answer| answer);
        self.audit_result(AuditAction::Disconnect, vec![agent], &result, |()| "disconnected".into(), String::new())
            .await;
        result
    }

    /// Asks for a pairing code for linking by phone number, while a QR
    /// is shown. The audit log keeps that a code was asked for, never the number.
    pub async fn request_pair_code(&self, id: AgentId, phone: &str) -> Result<(), EngineError> {
        let agent = self.touched(id);
        let result = match validate_phone(phone) {
            Ok(digits) => self.ask(id, |reply| Command::PairCode(digits, reply)).await.and_then(|answer| answer),
            Err(err) => Err(err.into()),
        };
        self.audit_result(AuditAction::PairCode, vec![agent], &result, |()| "pairing code shown".into(), String::new())
            .await;
        result
    }

    /// B-1: Connect, Disconnect or Remove on a selection. Each agent is
    /// decided by its own rules, one after another in the order given (an id
    /// named twice counts once); the answer lists what became of each, for
    /// the window's one summary. Bulk connects start at R-5's pace, in turn
    /// with automatic starts: the answer comes at once, the starts follow.
    pub async fn bulk(&self, action: BulkAction, ids: &[AgentId]) -> Vec<BulkOutcome> {
        let mut seen = std::collections::HashSet::new();
        let mut outcomes = Vec::with_capacity(ids.len());
        for &id in ids.iter().filter(|id| seen.insert(**id)) {
            let before = self.view(id);
            let result = match (action, &before) {
                (_, None) => BulkResult::Unknown,
                (BulkAction::Connect, Some(_)) => match self.ask(id, Command::QueueConnect).await.and_then(|a| a) {
                    Ok(decision) if decision.is_allowed() => BulkResult::Queued,
                    Ok(decision) => BulkResult::Blocked(decision),
                    Err(err) => BulkResult::from_error(&err),
                },
                // A disconnected agent still waiting its bulk connect's turn is not left alone: Disconnect cancels the wait.
                (BulkAction::Disconnect, Some(view))
                    if view.record.status == lifecycle::Status::Disconnected && !view.queued =>
                {
                    BulkResult::AlreadyDisconnected
                }
                (BulkAction::Disconnect, Some(_)) => match self.ask(id, Command::Disconnect).await.and_then(|a| a) {
                    Ok(()) => BulkResult::Disconnected,
                    Err(err) => BulkResult::from_error(&err),
                },
                (BulkAction::Remove, Some(_)) => match self.remove_agent(id).await {
                    Ok(()) => BulkResult::Removed,
                    Err(err) => BulkResult::from_error(&err),
                },
            };
            let name = before.map_or_else(|| format!("agent {id}"), |view| view.record.name);
            outcomes.push(BulkOutcome { agent: id, name, result });
        }
        let agents = outcomes
            .iter()
            .map(|o| AuditAgent { id: o.agent, name: o.name.clone(), outcome: o.result.words() })
            .collect();
        self.audit(action.audited(), agents, bulk_summary(&outcomes), format!("{} selected", ids.len())).saved().await;
        outcomes
    }

    /// The newest `limit` history entries of an agent, newest first (O-2).
    pub async fn history(&self, id: AgentId, limit: u32) -> Result<Vec<HistoryEntry>, EngineError> {
        if self.view(id).is_none() {
            return Err(EngineError::UnknownAgent(id));
        }
        Ok(self.inner.shared.writer.call(move |store| store.history(id, limit)).await?)
    }

    /// An agent's health now, from its history of the last week: the
    /// figures of H-1, whether it flaps (H-2) and its ban risk (H-3).
    pub async fn health(&self, id: AgentId) -> Result<AgentHealth, EngineError> {
        let now = self.now();
        let settings = self.settings();
        let since = health::window_start(now);
        let history = self.inner.shared.writer.call(move |store| store.health_history(id, since)).await?;
        let history = history.ok_or(EngineError::UnknownAgent(id))?;
        Ok(health::health(&history, now, &settings))
    }

    /// Validates and saves settings changes by key; nothing changes on error.
    pub async fn update_settings(&self, changes: Vec<(String, i64)>) -> Result<Settings, EngineError> {
        let _one_at_a_time = self.inner.settings_save.lock().await;
        let before = self.settings();
        let result = self.save_settings(before, &changes).await;
        // What really changed, old and new.
        let detail = result.as_ref().map_or_else(
            |_| String::new(),
            |after| {
                SettingName::ALL
                    .into_iter()
                    .filter(|name| before.get(*name) != after.get(*name))
                    .map(|name| format!("{} {} → {}", name.key(), before.get(name), after.get(name)))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        );
        self.audit_result(AuditAction::Settings, Vec::new(), &result, |_| "saved".into(), detail).await;
        result
    }

    async fn save_settings(&self, before: Settings, changes: &[(String, i64)]) -> Result<Settings, EngineError> {
        let next = before.with_changes(changes.iter().map(|(k, v)| (k.as_str(), *v)))?;
        self.inner.shared.writer.call(move |store| store.save_settings(&next)).await?;
        self.inner.settings_tx.send_replace(next);
        tracing::info!(?next, "settings changed");
        Ok(next)
    }

    /// The newest entries of the audit log that match `filter` (B-3).
    pub async fn audit_log(&self, filter: AuditFilter) -> Result<Vec<AuditEntry>, EngineError> {
        Ok(self.inner.shared.writer.call(move |store| store.audit(&filter)).await?)
    }

    /// Appends a simulated action of demo mode to the audit log (B-3): the
    /// simulated WhatsApp is the shell's, not a command of the engine's, so
    /// the shell says what it did (`what`) and what came of it (`outcome`).
    pub async fn audit_simulation(&self, agents: &[AgentId], what: &str, outcome: &str) {
        let touched = agents.iter().map(|id| self.touched(*id)).collect();
        self.audit(AuditAction::Simulate, touched, outcome.to_owned(), what.to_owned()).saved().await;
    }

    /// A handle on the same engine whose actions are not audited one by one:
    /// for the demo's churn, thousands of simulated clicks that the shell
    /// audits as the one simulation they are ([`Supervisor::audit_simulation`]).
    #[must_use]
    pub fn unaudited(&self) -> Supervisor {
        Supervisor { inner: self.inner.clone(), audited: false }
    }

    /// Audits an action that was carried out: its answer, or WhatsApp's
    /// refusal. Bad input (an invalid name, an unknown agent …) changed
    /// nothing and is answered with an error: it writes nothing, here either.
    async fn audit_result<T>(
        &self,
        action: AuditAction,
        agents: Vec<AuditAgent>,
        result: &Result<T, EngineError>,
        words: impl FnOnce(&T) -> String,
        detail: String,
    ) {
        let outcome = match result {
            Ok(answer) => words(answer),
            Err(EngineError::Connector(err)) => format!("refused by WhatsApp: {err}"),
            Err(_) => return,
        };
        self.audit(action, agents, outcome, detail).saved().await;
    }

    /// Appends an entry to the audit log, after its action, in the writer's
    /// queue behind the action's own commit. Async callers wait until it is
    /// saved ([`Saved::saved`]), so a command's answer comes with its entry
    /// on disk. Its failure fails nothing (the action happened): the whole
    /// entry goes to the log.
    fn audit(&self, action: AuditAction, agents: Vec<AuditAgent>, outcome: String, detail: String) -> Saved {
        if !self.audited {
            return Saved(None);
        }
        let entry = AuditEntry {
            id: 0,
            at: self.now(),
            os_user: self.inner.os_user.clone(),
            action: Some(action),
            agents,
            outcome,
            detail,
        };
        let unsaved = entry.clone();
        let (done, saved) = oneshot::channel();
        let queued = self.inner.shared.writer.queue(move |store| {
            if let Err(err) = store.append_audit(&entry) {
                tracing::error!(rule = %Rule::B3, ?entry, "could not save an audit entry: {err}");
            }
            let _ = done.send(());
        });
        if let Err(err) = queued {
            tracing::error!(rule = %Rule::B3, entry = ?unsaved, "could not save an audit entry: {err}");
        }
        Saved(Some(saved))
    }

    /// An agent as the audit log names it, before the action changes it.
    fn touched(&self, id: AgentId) -> AuditAgent {
        let name = self.view(id).map_or_else(|| format!("agent {id}"), |view| view.record.name);
        AuditAgent { id, name, outcome: String::new() }
    }

    async fn ask<T>(&self, id: AgentId, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, EngineError> {
        let inbox = {
            let registry = self.live_registry().await?;
            registry.get(&id).ok_or(EngineError::UnknownAgent(id))?.inbox.clone()
        };
        let (reply, answer) = oneshot::channel();
        inbox.send(command(reply)).map_err(|_| EngineError::ShuttingDown)?;
        answer.await.map_err(|_| EngineError::ShuttingDown)
    }

    async fn live_registry(&self) -> Result<tokio::sync::MutexGuard<'_, HashMap<AgentId, AgentHandle>>, EngineError> {
        if self.inner.stop.is_cancelled() {
            return Err(EngineError::ShuttingDown);
        }
        Ok(self.inner.registry.lock().await)
    }

    /// Waits until every agent task has handled everything sent to it, and
    /// nothing new arrived meanwhile. Does not move time: under a paused
    /// clock, tests call it between steps to observe a settled engine.
    pub async fn settle(&self) {
        self.settle_tasks(true).await;
    }

    /// [`Supervisor::settle`]; `fleet` is false until the fleet task runs.
    async fn settle_tasks(&self, fleet: bool) {
        loop {
            let before = self.inner.shared.activity.load(Ordering::Relaxed);
            let inboxes: Vec<_> = self.inner.registry.lock().await.values().map(|h| h.inbox.clone()).collect();
            for inbox in inboxes {
                let (reply, answer) = oneshot::channel();
                if inbox.send(Command::Barrier(reply)).is_ok() {
                    let _ = answer.await;
                }
            }
            // Let spawned connector work (a simulated QR, say) run before judging quiet.
            for _ in 0..8 {
                tokio::task::yield_now().await;
            }
            // The fleet's work (an outage's start, its probes) may wait for the database.
            let (reply, answer) = oneshot::channel();
            if fleet && self.inner.shared.fleet.send(fleet::Message::Barrier(reply)).is_ok() {
                let _ = answer.await;
            }
            if self.inner.shared.activity.load(Ordering::Relaxed) == before {
                return;
            }
        }
    }

    /// P-4: closes every connection without logging out, waits for every
    /// agent task, then for the database writer to finish its queue.
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        self.inner.shared.tasks.close();
        self.inner.shared.tasks.wait().await;
        let writer = self.inner.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(writer) = writer {
            writer.stop().await;
        }
        tracing::info!("supervisor stopped");
    }
}

/// An audit entry on its way to the database ([`Supervisor::audit`]).
struct Saved(Option<oneshot::Receiver<()>>);

impl Saved {
    /// Once the entry is saved, or could not be (then it is in the log).
    async fn saved(self) {
        if let Some(saved) = self.0 {
            let _ = saved.await;
        }
    }
}

/// Announces every change of the writer's fault to subscribers.
async fn publish_storage_faults(
    mut fault: watch::Receiver<Option<String>>,
    events: broadcast::Sender<EngineEvent>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = fault.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = fault.borrow_and_update().clone();
                if let Some(why) = &now {
                    tracing::error!("changes cannot be saved: {why}");
                } else {
                    tracing::info!("changes are saved again");
                }
                let _ = events.send(EngineEvent::StorageFault(now));
            }
        }
    }
}
