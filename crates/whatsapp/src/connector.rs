//! [`WhatsAppConnector`]: the engine's `Connector` on whatsapp-rust.
//!
//! Each attempt runs one whatsapp-rust client on the agent's own store, in a
//! task of its own. The library's reconnect is off, so when `run()` returns
//! the attempt is over and the [`Observer`] says why; the engine decides what
//! happens next. At most one client per agent has the store open: a new
//! attempt waits until the previous one has let go of it, and a request to
//! forget the credentials or set them aside while a client still runs is
//! carried out when it stops (after the logout of a manual disconnect, D-1).
//!
//! Unlink jobs (D-1) work on credentials set aside under the job's number
//! (`unlink-<job>/`): a client on them connects, logs out and stops, and the
//! store is deleted. A connection that fails on the way is an error for the
//! engine to retry later; credentials WhatsApp no longer accepts are deleted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use switchboard_engine::clock::SystemClock;
use switchboard_engine::connector::{
    Connection, Connector, ConnectorError, ConnectorEvent, EventSink, PairCodeRequest, StartRequest, UnlinkJob,
    UnlinkRequest,
};
use switchboard_engine::lifecycle::{AgentId, CloseClass, CloseCode, Rule, classify};
use tokio::sync::{Notify, watch};
use tokio_util::task::TaskTracker;
use whatsapp_rust::bot::{Bot, BotBuilderError};
use whatsapp_rust::http::UreqHttpClient;
use whatsapp_rust::pair_code::{PairCodeOptions, PairCodeRejection, PairError};
use whatsapp_rust::store::SqliteStore;
use whatsapp_rust::store::error::StoreError;
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::types::events::{Event, EventHandler};
use whatsapp_rust::wacore::iq::keepalive::KeepaliveSpec;
use whatsapp_rust::wacore::iq::spec::IqSpec;
use whatsapp_rust::wacore::protocol::keepalive::KEEP_ALIVE_RESPONSE_DEADLINE;
use whatsapp_rust::wacore::store::DevicePropsOverride;
use whatsapp_rust::waproto::whatsapp::device_props::PlatformType;
use whatsapp_rust::{Client, IqError};

use crate::mapping::Observer;
use crate::store_files::{StoreFiles, StoreProblem, plain};
use crate::transport::WatchedDial;
use crate::version::{FleetVersion, VersionStatus, WHATSAPP_WEB_VERSION_URL};

/// How long a logout may take to reach WhatsApp before the client is closed anyway.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing client may take to flush its store and stop.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite's page cache of each agent's store, in KiB. whatsapp-rust's default
/// (512 KiB a connection) suits a process with one session; here every
/// connected agent holds its own store open, so the cache is paid once per
/// agent. A new store is 240 KiB and opening it reads every page: measured
/// with 200 agents (BENCHMARKS.md, figure 7), the default kept 394 KiB of
/// SQLite heap per agent (PSS 636 KiB), 128 KiB keeps 272 KiB (PSS 508 KiB).
/// A linked store grows with its account's keys and sessions, and the
/// default would let each agent's cache grow to 512 KiB. Pages left out are
/// read again from the OS's file cache, shared and reclaimable; the store is
/// busy only while messages arrive.
const STORE_PAGE_CACHE_KIB: u32 = 128;

/// How the clients reach WhatsApp. The defaults are WhatsApp's own servers;
/// tests point them at a local server instead.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// A `ws://` or `wss://` address instead of WhatsApp's.
    pub url: Option<String>,
    /// A fixed WhatsApp Web version instead of asking WhatsApp for the current one.
    pub version: Option<(u32, u32, u32)>,
    /// Where the fleet's version is asked (F-7) instead of WhatsApp Web's own page.
    pub version_url: Option<String>,
    /// The app database, which keeps the fleet's version across restarts (F-7).
    pub database: Option<std::path::PathBuf>,
}

/// The real connector. Cheap to clone; clones share the running clients.
#[derive(Clone)]
pub struct WhatsAppConnector {
    inner: Arc<Inner>,
}

struct Inner {
    files: StoreFiles,
    server: ServerOptions,
    /// The one source of the version every client announces (F-7).
    version: Arc<FleetVersion>,
    slots: Mutex<HashMap<AgentId, Arc<StoreSlot>>>,
    tasks: TaskTracker,
}

impl WhatsAppConnector {
    /// A connector keeping each agent's store under `root` (created 0700 on first use).
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        Self::with_server(root, ServerOptions::default())
    }

    pub fn with_server(root: impl Into<std::path::PathBuf>, server: ServerOptions) -> Self {
        Self::with_files(StoreFiles::new(root), server)
    }

    /// A connector on `files`, encrypted or not (P-7).
    pub fn with_files(files: StoreFiles, server: ServerOptions) -> Self {
        let version = FleetVersion::new(
            server.version_url.clone().unwrap_or_else(|| WHATSAPP_WEB_VERSION_URL.to_owned()),
            Arc::new(UreqHttpClient::new()),
            server.database.clone(),
            Arc::new(SystemClock),
        );
        WhatsAppConnector {
            inner: Arc::new(Inner {
                files,
                server,
                version,
                slots: Mutex::new(HashMap::new()),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// The fleet's WhatsApp Web version and how it was obtained (F-7).
    pub async fn version_status(&self) -> VersionStatus {
        self.inner.version.status().await
    }

    /// The stores' files (for the app's data-directory checks and tests).
    pub fn files(&self) -> &StoreFiles {
        &self.inner.files
    }

    /// Waits until every client has stopped and flushed its store, at most
    /// `limit`. Call after the engine's shutdown so no write is cut off (P-4).
    pub async fn wait_closed(&self, limit: Duration) -> bool {
        self.inner.tasks.close();
        let done = tokio::time::timeout(limit, self.inner.tasks.wait()).await.is_ok();
        self.inner.tasks.reopen();
        done
    }

    fn slot(&self, agent: AgentId) -> Arc<StoreSlot> {
        let mut slots = self.inner.slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.entry(agent).or_default().clone()
    }
}

impl Connector for WhatsAppConnector {
    fn start(&self, request: StartRequest, events: EventSink) -> Result<Box<dyn Connection>, ConnectorError> {
        let attempt = Arc::new(AttemptShared::default());
        let (close_tx, close_rx) = watch::channel(None);
        let slot = self.slot(request.agent);
        let inner = self.inner.clone();
        let sink = events.clone();
        self.inner.tasks.spawn(run_attempt(inner, slot, request, events, attempt.clone(), close_rx));
        Ok(Box::new(WhatsAppConnection { attempt, close_tx, sink, tasks: self.inner.tasks.clone() }))
    }

    fn has_credentials(&self, agent: AgentId) -> bool {
        self.inner.files.exists(agent)
    }

    fn forget_credentials(&self, agent: AgentId) -> Result<(), ConnectorError> {
        let slot = self.slot(agent);
        let mut state = slot.lock();
        if state.busy {
            // The running client still has the store open; it deletes it when it stops.
            state.forget_pending = true;
            return Ok(());
        }
        self.inner
            .files
            .delete(agent)
            .map_err(|err| ConnectorError::Credentials { agent, detail: format!("could not delete the store: {err}") })
    }

    fn set_aside_credentials(&self, job: UnlinkJob) -> Result<(), ConnectorError> {
        let slot = self.slot(job.agent);
        let mut state = slot.lock();
        if state.busy {
            // The stopping client still has the store open; it moves when it stops,
            // before any new attempt of the agent may claim the slot.
            state.set_aside_pending.push(job.id);
            return Ok(());
        }
        self.inner.files.set_aside(job.agent, job.id).map_err(|err| ConnectorError::Credentials {
            agent: job.agent,
            detail: format!("could not set the store aside to unlink it: {}", plain(&err)),
        })
    }

    fn unlink(&self, job: UnlinkJob) -> UnlinkRequest {
        let inner = self.inner.clone();
        let slot = self.slot(job.agent);
        Box::pin(async move {
            slot.wait_set_aside(job.id).await;
            unlink_set_aside(&inner, job).await
        })
    }
}

/// Who has an agent's store open. Every decision is taken under the lock, so
/// a forget request can never fall between "still running" and "stopped".
#[derive(Default)]
struct StoreSlot {
    state: Mutex<SlotState>,
    released: Notify,
}

#[derive(Default)]
struct SlotState {
    busy: bool,
    forget_pending: bool,
    /// Unlink jobs whose store is to be set aside once the client stops (D-1).
    set_aside_pending: Vec<i64>,
}

impl StoreSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until no other client has the store open, then takes it.
    async fn claim(&self) {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut state = self.lock();
                if !state.busy {
                    state.busy = true;
                    return;
                }
            }
            released.await;
        }
    }

    /// Waits until the store of unlink job `job` is set aside (at once unless a client still had it open).
    async fn wait_set_aside(&self, job: i64) {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            if !self.lock().set_aside_pending.contains(&job) {
                return;
            }
            released.await;
        }
    }

    /// Lets go of the store, setting it aside or deleting it first if that was asked meanwhile.
    fn release(&self, files: &StoreFiles, agent: AgentId) {
        let mut state = self.lock();
        for job in std::mem::take(&mut state.set_aside_pending) {
            if let Err(err) = files.set_aside(agent, job) {
                tracing::error!(agent = %agent, rule = %Rule::D1, "could not set the store aside to unlink it: {err}");
            }
        }
        if std::mem::take(&mut state.forget_pending) {
            if let Err(err) = files.delete(agent) {
                tracing::error!(agent = %agent, rule = %Rule::P6, "could not delete the credentials store: {err}");
            }
        }
        state.busy = false;
        drop(state);
        self.released.notify_waiters();
    }
}

/// What the connection handle and the attempt's task share.
#[derive(Default)]
struct AttemptShared {
    /// Set once the engine closed the attempt: nothing more is reported.
    closing: AtomicBool,
    /// The running client, once built. Weak: the client owns the event handler, which owns this.
    client: OnceLock<Weak<Client>>,
}

impl AttemptShared {
    fn client(&self) -> Option<Arc<Client>> {
        self.client.get().and_then(Weak::upgrade)
    }
}

/// The engine's handle on one attempt.
struct WhatsAppConnection {
    attempt: Arc<AttemptShared>,
    /// `Some(logout)` asks the attempt's task to end.
    close_tx: watch::Sender<Option<bool>>,
    /// Where a failed link check is reported (F-6).
    sink: EventSink,
    /// The connector's tasks, so a link check in flight is waited for at exit.
    tasks: TaskTracker,
}

impl Connection for WhatsAppConnection {
    fn request_pair_code(&mut self, phone: &str) -> PairCodeRequest {
        let client = self.attempt.client();
        let options = PairCodeOptions { phone_number: phone.to_owned(), ..Default::default() };
        Box::pin(async move {
            let Some(client) = client else {
                return Err(ConnectorError::PairCodeUnavailable(
                    "the connection to WhatsApp is still starting; try again in a moment".into(),
                ));
            };
            client.pair_with_code(options).await.map(drop).map_err(|err| pair_code_refusal(&err))
        })
    }

    fn check_alive(&mut self) {
        // Before the client is built the attempt is still starting: its
        // connect timeout watches it, there is no link to check.
        let Some(client) = self.attempt.client() else { return };
        let (attempt, sink) = (self.attempt.clone(), self.sink.clone());
        let mut closed = self.close_tx.subscribe();
        self.tasks.spawn(async move {
            // The library's own keep-alive ping, sent now instead of at its next round.
            let ping = KeepaliveSpec::with_timeout(KEEP_ALIVE_RESPONSE_DEADLINE).build_iq();
            let outcome = tokio::select! {
                outcome = client.send_iq(ping) => outcome,
                _ = closed.wait_for(Option::is_some) => return,
            };
            if !link_answered(&outcome) && !attempt.closing.load(Ordering::SeqCst) {
                tracing::warn!("the link did not answer a keep-alive after a gap in time: {outcome:?}");
                sink.send(ConnectorEvent::KeepAliveLost);
            }
        });
    }

    fn close(self: Box<Self>, logout: bool) {
        self.attempt.closing.store(true, Ordering::SeqCst);
        self.close_tx.send_replace(Some(logout));
    }
}

impl Drop for WhatsAppConnection {
    fn drop(&mut self) {
        // Dropped without `close`: end it all the same, keeping the link (P-4).
        self.attempt.closing.store(true, Ordering::SeqCst);
        self.close_tx.send_if_modified(|close| {
            let first = close.is_none();
            close.get_or_insert(false);
            first
        });
    }
}

/// Whether a keep-alive ping shows a live link: WhatsApp answered, even
/// with an error. No answer in time, or a link that cannot send, is dead (O-3).
fn link_answered<T>(outcome: &Result<T, IqError>) -> bool {
    matches!(
        outcome,
        Ok(_) | Err(IqError::ServerError { .. } | IqError::UnexpectedResponseType { .. } | IqError::ParseError(_))
    )
}

/// Plain words for a refused pairing-code request.
fn pair_code_refusal(err: &PairError) -> ConnectorError {
    let words = match err.rejection() {
        Some(rejection) if rejection.is_throttled() => {
            "WhatsApp is limiting pairing-code requests for this number: wait a few minutes, or scan the QR code instead"
                .to_owned()
        }
        Some(PairCodeRejection::FeatureNotAvailable) => {
            "linking by phone number is not enabled for this account: scan the QR code instead".to_owned()
        }
        Some(PairCodeRejection::Forbidden) => {
            "WhatsApp refused a pairing code for this number: scan the QR code instead".to_owned()
        }
        Some(PairCodeRejection::InternalServerError) => {
            "WhatsApp could not issue a pairing code just now: try again in a minute".to_owned()
        }
        _ => format!("no pairing code: {err}"),
    };
    ConnectorError::PairCodeRefused(words)
}

/// Passes the library's events through the [`Observer`] as they are
/// dispatched (inline, so the order is the library's own).
struct EventRecorder {
    observer: Arc<Mutex<Observer>>,
    sink: EventSink,
    attempt: Arc<AttemptShared>,
    /// Wakes the attempt's task when the observer wants the attempt ended.
    end_now: Arc<Notify>,
}

impl EventHandler for EventRecorder {
    fn handle_event(&self, event: Arc<Event>) {
        if self.attempt.closing.load(Ordering::SeqCst) {
            return; // The engine closed this attempt: it hears nothing more of it (D-2).
        }
        let mut observer = self.observer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let report = observer.observe(&event, || {
            let client = self.attempt.client()?;
            client.pn().map(|jid| format!("+{}", jid.user))
        });
        if observer.must_end() {
            self.end_now.notify_one();
        }
        drop(observer);
        if let Some(report) = report {
            self.sink.send(report);
        }
    }
}

/// A client built on the agent's store, ready to run.
struct Started {
    bot: Bot,
    client: Arc<Client>,
    observer: Arc<Mutex<Observer>>,
    end_now: Arc<Notify>,
}

/// The longest device name sent to WhatsApp, in characters. WhatsApp
/// publishes no limit; this keeps the phone's list to one line and leaves
/// room for the start of any agent name (at most
/// [`MAX_NAME_CHARS`](switchboard_engine::lifecycle::MAX_NAME_CHARS)) to tell links apart.
pub const MAX_DEVICE_NAME_CHARS: usize = 50;

/// The name the phone lists for an agent's link: "Switchboard – <agent
/// name>", cut to [`MAX_DEVICE_NAME_CHARS`] with an ellipsis.
pub fn device_name(agent_name: &str) -> String {
    let full = format!("Switchboard – {}", agent_name.trim());
    if full.chars().count() <= MAX_DEVICE_NAME_CHARS {
        return full;
    }
    let mut cut: String = full.chars().take(MAX_DEVICE_NAME_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// The device properties of a new link (ARCHITECTURE.md, "The name on the
/// phone"). The platform is DESKTOP: with the library's default (UNKNOWN)
/// the phone shows a generic "Other device" and drops the name. QR pairing
/// sends the OS field as given; the pairing-code path turns it into a real
/// OS name itself, since WhatsApp refuses a brand there, and we leave that
/// to the library.
pub fn device_props(agent_name: &str) -> DevicePropsOverride {
    DevicePropsOverride::new().with_os(device_name(agent_name)).with_platform_type(PlatformType::DESKTOP)
}

/// A passing fault of the credentials file's directory or file.
fn io_fault(what: &str, err: &std::io::Error) -> StoreProblem {
    StoreProblem::Unavailable(format!("cannot {what} the credentials file: {}", plain(err)))
}

/// Opens the agent's store for an attempt and builds its client. An error is why the store cannot be used.
async fn build_attempt_client(
    inner: &Inner,
    request: &StartRequest,
    sink: &EventSink,
    attempt: &Arc<AttemptShared>,
) -> Result<Started, StoreProblem> {
    let agent = request.agent;
    if request.resume {
        inner.files.check(agent)?;
    } else {
        // A fresh pairing starts from nothing: no half-made store of an earlier attempt.
        inner.files.delete(agent).map_err(|err| io_fault("clear", &err))?;
    }
    let path = inner.files.prepare(agent).map_err(|err| io_fault("create", &err))?;
    build_client(inner, &path, sink, attempt, &device_props(&request.name)).await
}

/// Builds a client on the store at `path`, its events going to `sink`.
async fn build_client(
    inner: &Inner,
    path: &std::path::Path,
    sink: &EventSink,
    attempt: &Arc<AttemptShared>,
    device: &DevicePropsOverride,
) -> Result<Started, StoreProblem> {
    let config = inner.files.store_config(STORE_PAGE_CACHE_KIB);
    let store = SqliteStore::with_config(&path.to_string_lossy(), config).await.map_err(|err| library_fault(&err))?;
    let observer = Arc::new(Mutex::new(Observer::new()));
    let end_now = Arc::new(Notify::new());
    let recorder = EventRecorder {
        observer: observer.clone(),
        sink: sink.clone(),
        attempt: attempt.clone(),
        end_now: end_now.clone(),
    };
    let mut builder = Bot::builder()
        .with_backend(store)
        .with_event_handler(recorder)
        // The panel reads no chats: do not download the account's history.
        .skip_history_sync()
        // What the phone lists under "Linked devices" (sent only at pairing).
        .with_device_props(device.clone());
    let mut dial = TokioWebSocketTransportFactory::new();
    if let Some(url) = &inner.server.url {
        dial = dial.with_url(url.clone());
    }
    builder = builder.with_transport_factory(WatchedDial::new(dial, observer.clone()));
    // Always a version from outside, so the library never fetches one per
    // store (and never fails a connect on that fetch): F-7.
    let version = match inner.server.version {
        Some(fixed) => fixed,
        None => inner.version.current().await,
    };
    builder = builder.with_version(version);
    let bot = builder.build().await.map_err(|err| match err {
        BotBuilderError::Store(err) => library_fault(&err),
        other => StoreProblem::Unavailable(format!("cannot start the WhatsApp client: {other}")),
    })?;
    let client = bot.client();
    // Our policy decides about reconnecting (RULES.md §2, §5), not the library's.
    client.enable_auto_reconnect.store(false, Ordering::SeqCst);
    let _ = attempt.client.set(Arc::downgrade(&client));
    Ok(Started { bot, client, observer, end_now })
}

/// The library's word on a store that [`StoreFiles::check`] found sound.
/// What it could not make sense of is damage; a failure to reach the file
/// (a connection, an I/O error) passes.
fn library_fault(err: &StoreError) -> StoreProblem {
    let words = error_chain(err);
    match err {
        StoreError::Migration(_) | StoreError::Serialization(_) | StoreError::Validation(_) => {
            StoreProblem::Damaged(format!("the credentials file cannot be read as a WhatsApp store: {words}"))
        }
        _ => StoreProblem::Unavailable(format!("cannot open the credentials file: {words}")),
    }
}

/// An error with its causes: the library's own words are generic ("database connection error").
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut words = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        words.push_str(": ");
        words.push_str(&err.to_string());
        cause = err.source();
    }
    words
}

/// One attempt, from claiming the store to letting go of it.
async fn run_attempt(
    inner: Arc<Inner>,
    slot: Arc<StoreSlot>,
    request: StartRequest,
    sink: EventSink,
    attempt: Arc<AttemptShared>,
    mut close_rx: watch::Receiver<Option<bool>>,
) {
    let agent = request.agent;
    slot.claim().await;
    let started = tokio::select! {
        started = build_attempt_client(&inner, &request, &sink, &attempt) => Some(started),
        _ = close_rx.wait_for(Option::is_some) => None,
    };
    match started {
        None => {} // Closed before it began.
        Some(Err(problem)) => {
            tracing::error!(agent = %agent, "the credentials store could not be opened: {}", problem.detail());
            if !attempt.closing.load(Ordering::SeqCst) {
                sink.send(match problem {
                    // Proven damage: a corrupted session (RULES.md §2, 500), the credentials go.
                    StoreProblem::Damaged(_) => {
                        ConnectorEvent::Closed { code: CloseCode::BAD_SESSION, banned_for: None }
                    }
                    // A passing fault keeps them and is retried (L-4).
                    StoreProblem::Unavailable(detail) => ConnectorEvent::CredentialsUnavailable { detail },
                });
            }
        }
        Some(Ok(started)) => run_client(started, agent, &sink, &attempt, &mut close_rx).await,
    }
    slot.release(&inner.files, agent);
}

/// Runs the client until it ends by itself or the engine closes it, then says why (once).
async fn run_client(
    started: Started,
    agent: AgentId,
    sink: &EventSink,
    attempt: &AttemptShared,
    close_rx: &mut watch::Receiver<Option<bool>>,
) {
    let Started { bot, client, observer, end_now } = started;
    let run = bot.run();
    tokio::pin!(run);
    // `None`: it ended by itself; `Some(logout)`: we end it.
    let stop = tokio::select! {
        () = &mut run => None,
        () = end_now.notified() => Some(false),
        close = close_rx.wait_for(Option::is_some) => Some(close.ok().and_then(|c| *c).unwrap_or(false)),
    };
    if let Some(logout) = stop {
        if logout {
            // D-1: unlink the device from the phone; the store is deleted on release.
            if tokio::time::timeout(LOGOUT_TIMEOUT, client.logout()).await.is_err() {
                tracing::warn!(agent = %agent, "WhatsApp did not confirm the logout in time");
            }
        }
        if tokio::time::timeout(CLOSE_TIMEOUT, client.disconnect()).await.is_err() {
            tracing::warn!(agent = %agent, "the connection did not close in time");
        }
        if tokio::time::timeout(CLOSE_TIMEOUT, &mut run).await.is_err() {
            tracing::warn!(agent = %agent, "the client did not stop in time");
        }
    }
    if !attempt.closing.load(Ordering::SeqCst) {
        let end = observer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).finish();
        tracing::info!(agent = %agent, "the WhatsApp connection ended: {end:?}");
        sink.send(end);
    }
}

/// An unlink job's try (D-1): connects with the set-aside credentials, logs
/// the device out, deletes them. See [`Connector::unlink`] for the answer.
async fn unlink_set_aside(inner: &Inner, job: UnlinkJob) -> Result<(), String> {
    let dir = inner.files.set_aside_dir(job.id);
    let forget = || {
        inner
            .files
            .delete_set_aside(job.id)
            .map_err(|err| format!("could not delete the set-aside credentials: {}", plain(&err)))
    };
    if !dir.exists() {
        return Ok(()); // Nothing was linked, or an earlier try finished the work.
    }
    match inner.files.check_in(&dir) {
        Ok(()) => {}
        Err(StoreProblem::Damaged(detail)) => {
            // Nobody can log out with these: the phone's owner must remove the device by hand.
            tracing::error!(agent = %job.agent, rule = %Rule::D1, "cannot unlink the old device: {detail}");
            return forget();
        }
        Err(StoreProblem::Unavailable(detail)) => return Err(detail),
    }
    let path = inner.files.prepare_in(&dir).map_err(|err| plain(&err))?;
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let sink = EventSink::new(job.agent, 0, tx);
    let attempt = Arc::new(AttemptShared::default());
    let Started { bot, client, observer, end_now: _ } =
        // Set-aside credentials are linked already: WhatsApp takes no device properties from them.
        build_client(inner, &path, &sink, &attempt, &DevicePropsOverride::new()).await.map_err(|problem| problem.detail().to_owned())?;
    let run = bot.run();
    tokio::pin!(run);
    // Until the link opens (log out on it) or the connection ends (say why).
    let mut ended = false;
    let opened = loop {
        tokio::select! {
            () = &mut run => {
                ended = true;
                break false;
            }
            event = events.recv() => match event.map(|tagged| tagged.event) {
                Some(ConnectorEvent::Opened { .. }) => break true,
                // WhatsApp wants a new pairing: it no longer knows this device.
                Some(ConnectorEvent::Qr(_)) | None => break false,
                Some(_) => {}
            },
        }
    };
    if opened && tokio::time::timeout(LOGOUT_TIMEOUT, client.logout()).await.is_err() {
        tracing::warn!(agent = %job.agent, "WhatsApp did not confirm the logout in time");
    }
    if !ended {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, client.disconnect()).await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, &mut run).await;
    }
    drop(client);
    if opened {
        return forget();
    }
    let end = observer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).finish();
    match end {
        ConnectorEvent::Closed { code, .. }
            if matches!(classify(code).class, CloseClass::Recoverable | CloseClass::RestartRequired) =>
        {
            Err(format!("could not reach WhatsApp: {} ({code})", classify(code).name))
        }
        ConnectorEvent::Unreachable { detail } => Err(format!("could not reach WhatsApp: {detail}")),
        // Logged out or replaced already, unknown, banned, or asked to pair
        // again: WhatsApp has no use for these credentials any more.
        _ => forget(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// F-6, O-3: a link check's ping that gets no answer in time, or cannot
    /// be sent, is a dead link; any answer from WhatsApp, even an error, is not.
    #[test]
    fn f6_a_link_check_without_an_answer_is_a_dead_link() {
        assert!(link_answered(&Ok(())));
        let refused = IqError::ServerError { code: 500, text: "oops".into(), error_type: None, backoff: None };
        assert!(link_answered::<()>(&Err(refused)));
        assert!(!link_answered::<()>(&Err(IqError::Timeout)));
        assert!(!link_answered::<()>(&Err(IqError::NotConnected)));
        assert!(!link_answered::<()>(&Err(IqError::InternalChannelClosed)));
    }

    /// Issue 16, part 2: a new link is a desktop named after its agent, so
    /// the phone's "Linked devices" shows "Switchboard – Sales desk", not
    /// "Other device"; a long name is cut with an ellipsis, never mid-way
    /// through a character.
    #[test]
    fn a_new_link_is_a_desktop_named_after_its_agent() {
        let props = device_props("  Sales desk ");
        assert_eq!(props.os.as_deref(), Some("Switchboard – Sales desk"));
        assert_eq!(props.platform_type, Some(PlatformType::DESKTOP));

        let long = "Ünïcode support queue — night shift, second floor, west wing 😀😀";
        let name = device_name(long);
        assert_eq!(name.chars().count(), MAX_DEVICE_NAME_CHARS);
        assert!(name.starts_with("Switchboard – Ünïcode support queue"), "{name}");
        assert!(name.ends_with('…'), "{name}");
        assert_eq!(device_name(&"x".repeat(36)).chars().count(), MAX_DEVICE_NAME_CHARS, "fits whole");
        assert!(!device_name(&"x".repeat(36)).ends_with('…'));
    }

    /// The pairing-code path sends no brand where WhatsApp wants an OS name:
    /// the library turns the desktop platform into its Electron client and
    /// the OS into a real one (a brand there is refused with bad-request).
    #[test]
    fn the_pairing_code_path_sends_a_real_os_name() {
        use whatsapp_rust::wacore::companion_reg::CompanionWebClientType;
        use whatsapp_rust::wacore::pair_code::resolve_companion_platform;
        use whatsapp_rust::wacore::store::Device;
        let mut device = Device::new();
        device.set_device_props(device_props("Sales desk"));
        let options = PairCodeOptions { phone_number: "15551234567".into(), ..Default::default() };
        let (client, display) = resolve_companion_platform(&options, &device.device_props);
        assert_eq!(client, CompanionWebClientType::Electron);
        assert!(!display.contains("Switchboard") && !display.contains("Sales"), "{display}");
        assert!(display.contains("Linux"), "{display}");
    }
}
