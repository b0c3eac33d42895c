//! [`WhatsAppConnector`]: the engine's `Connector` on whatsapp-rust.
//!
//! Each attempt runs one whatsapp-rust client on the agent's own store, in a
//! task of its own. The library's reconnect is off, so when `run()` returns
//! the attempt is over and the [`Observer`] says why; the engine decides what
//! happens next. At most one client per agent has the store open: a new
//! attempt waits until the previous one has let go of it, and a request to
//! forget the credentials while a client still runs is carried out when it
//! stops (after the logout of a manual disconnect, D-1).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use switchboard_engine::clock::{Clock, SystemClock};
use switchboard_engine::connector::{
    Connection, Connector, ConnectorError, ConnectorEvent, EventSink, PairCodeRequest, StartRequest,
};
use switchboard_engine::lifecycle::{AgentId, CloseCode, Rule};
use tokio::sync::{Notify, watch};
use tokio_util::task::TaskTracker;
use whatsapp_rust::Client;
use whatsapp_rust::bot::Bot;
use whatsapp_rust::pair_code::{PairCodeOptions, PairCodeRejection, PairError};
use whatsapp_rust::store::SqliteStore;
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::types::events::{Event, EventHandler};
use whatsapp_rust::wacore::store::DevicePropsOverride;

use crate::mapping::Observer;
use crate::store_files::StoreFiles;

/// How long a logout may take to reach WhatsApp before the client is closed anyway.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing client may take to flush its store and stop.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the clients reach WhatsApp. The defaults are WhatsApp's own servers;
/// tests point them at a local server instead.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// A `ws://` or `wss://` address instead of WhatsApp's.
    pub url: Option<String>,
    /// A fixed WhatsApp Web version instead of asking WhatsApp for the current one.
    pub version: Option<(u32, u32, u32)>,
}

/// The real connector. Cheap to clone; clones share the running clients.
#[derive(Clone)]
pub struct WhatsAppConnector {
    inner: Arc<Inner>,
}

struct Inner {
    files: StoreFiles,
    server: ServerOptions,
    clock: Arc<dyn Clock>,
    slots: Mutex<HashMap<AgentId, Arc<StoreSlot>>>,
    tasks: TaskTracker,
}

impl WhatsAppConnector {
    /// A connector keeping each agent's store under `root` (created 0700 on first use).
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        Self::with_server(root, ServerOptions::default())
    }

    pub fn with_server(root: impl Into<std::path::PathBuf>, server: ServerOptions) -> Self {
        WhatsAppConnector {
            inner: Arc::new(Inner {
                files: StoreFiles::new(root),
                server,
                clock: Arc::new(SystemClock),
                slots: Mutex::new(HashMap::new()),
                tasks: TaskTracker::new(),
            }),
        }
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
        self.inner.tasks.spawn(run_attempt(inner, slot, request, events, attempt.clone(), close_rx));
        Ok(Box::new(WhatsAppConnection { attempt, close_tx }))
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

    /// Lets go of the store, deleting it first if that was asked meanwhile.
    fn release(&self, files: &StoreFiles, agent: AgentId) {
        let mut state = self.lock();
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
    clock: Arc<dyn Clock>,
    /// Wakes the attempt's task when the observer wants the attempt ended.
    end_now: Arc<Notify>,
}

impl EventHandler for EventRecorder {
    fn handle_event(&self, event: Arc<Event>) {
        if self.attempt.closing.load(Ordering::SeqCst) {
            return; // The engine closed this attempt: it hears nothing more of it (D-2).
        }
        let mut observer = self.observer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let report = observer.observe(&event, self.clock.now(), || {
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
    observer: Arc<Mutex<Observer>>,
    end_now: Arc<Notify>,
}

/// Opens the agent's store and builds its client. An error is why the store cannot be used.
async fn build_client(
    inner: &Inner,
    request: &StartRequest,
    sink: &EventSink,
    attempt: &Arc<AttemptShared>,
) -> Result<Started, String> {
    let agent = request.agent;
    if request.resume {
        inner.files.check(agent)?;
    } else {
        // A fresh pairing starts from nothing: no half-made store of an earlier attempt.
        inner.files.delete(agent).map_err(|err| format!("could not clear the old store: {err}"))?;
    }
    let path = inner.files.prepare(agent).map_err(|err| format!("could not create the store: {err}"))?;
    let store = SqliteStore::new(&path.to_string_lossy()).await.map_err(|err| err.to_string())?;
    let observer = Arc::new(Mutex::new(Observer::new()));
    let end_now = Arc::new(Notify::new());
    let recorder = EventRecorder {
        observer: observer.clone(),
        sink: sink.clone(),
        attempt: attempt.clone(),
        clock: inner.clock.clone(),
        end_now: end_now.clone(),
    };
    let mut builder = Bot::builder()
        .with_backend(store)
        .with_event_handler(recorder)
        // The panel reads no chats: do not download the account's history.
        .skip_history_sync()
        // The name the phone lists under "Linked devices".
        .with_device_props(DevicePropsOverride::new().with_os("Switchboard"));
    if let Some(url) = &inner.server.url {
        builder = builder.with_transport_factory(TokioWebSocketTransportFactory::new().with_url(url.clone()));
    }
    if let Some(version) = inner.server.version {
        builder = builder.with_version(version);
    }
    let bot = builder.build().await.map_err(|err| err.to_string())?;
    Ok(Started { bot, observer, end_now })
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
        started = build_client(&inner, &request, &sink, &attempt) => Some(started),
        _ = close_rx.wait_for(Option::is_some) => None,
    };
    match started {
        None => {} // Closed before it began.
        Some(Err(detail)) => {
            // The store cannot be used: for the engine a corrupted session (RULES.md §2, 500).
            tracing::error!(agent = %agent, "the credentials store could not be opened: {detail}");
            if !attempt.closing.load(Ordering::SeqCst) {
                sink.send(ConnectorEvent::Closed { code: CloseCode::BAD_SESSION, until: None });
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
    let Started { bot, observer, end_now } = started;
    let client = bot.client();
    // Our policy decides about reconnecting (RULES.md §2, §5), not the library's.
    client.enable_auto_reconnect.store(false, Ordering::SeqCst);
    let _ = attempt.client.set(Arc::downgrade(&client));
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
