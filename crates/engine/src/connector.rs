//! The only way the engine talks to WhatsApp: the [`Connector`] trait.
//!
//! A connector starts connection attempts and reports what happens to them
//! as [`ConnectorEvent`]s. It decides nothing: whether to retry, when, and
//! what a close means are the engine's rules. The simulated WhatsApp
//! ([`crate::simulator`]) and the real one (the `whatsapp` crate) implement it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::mpsc;

use crate::lifecycle::{AgentId, CloseCode};

/// What a connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorEvent {
    /// A QR code to show; a later one replaces it.
    Qr(String),
    /// The 8-character code for linking by phone number.
    PairCode(String),
    /// The phone accepted the pairing; credentials are saved.
    Scanned,
    /// The link is open; `phone` is the linked number when known.
    Opened {
        /// The linked number, shown masked; `None` when the connection did not say.
        phone: Option<String>,
    },
    /// The connection ended. The connection object is finished after this.
    Closed {
        /// Why it ended, for the close table (L-1).
        code: CloseCode,
        /// How long a temporary ban lasts from now, reported with a 403
        /// (L-3). A length, not an end: the engine dates it on its own
        /// timeline (F-5), which the wall clock may disagree with.
        banned_for: Option<Duration>,
    },
    /// The connection ended because WhatsApp issued no more QR codes for it.
    /// Like `Closed`, the connection object is finished after this.
    QrExhausted,
    /// The connection stopped answering keep-alives (O-3), or did not
    /// answer the check after a gap in time (F-6).
    KeepAliveLost,
    /// The saved credentials could not be opened for a reason that passes
    /// (too many open files, a full disk, a permission): the attempt ended
    /// before reaching WhatsApp and the credentials are kept (L-4). Proven
    /// damage is a close with 500 instead. Like `Closed`, the connection
    /// object is finished after this.
    CredentialsUnavailable {
        /// What went wrong, in plain words ("cannot open the credentials file: too many open files").
        detail: String,
    },
    /// WhatsApp cannot be reached from this machine: name resolution, TCP
    /// or TLS failed before any WhatsApp handshake (F-1). Unlike a close by
    /// WhatsApp, this says the trouble is the way there, for every agent.
    /// Like `Closed`, the connection object is finished after this.
    Unreachable {
        /// What failed, in plain words ("name resolution failed").
        detail: String,
    },
    /// WhatsApp asks this account to confirm the link with a passkey.
    PasskeyRequested,
    /// The verification code of a passkey link, for the person to compare.
    PasskeyCode(String),
    /// The passkey link failed; the connector ends the connection.
    PasskeyFailed {
        /// What failed, in the library's words.
        detail: String,
    },
}

/// An event stamped with the attempt it belongs to, so the supervisor can
/// drop events of an attempt it already stopped (D-2).
#[derive(Debug)]
pub struct TaggedEvent {
    /// The serial of the attempt that sent it; stale serials are dropped (D-2).
    pub attempt: u64,
    /// What the connection reported.
    pub event: ConnectorEvent,
}

/// Where a connection sends its events. Cheap to clone, never blocks.
#[derive(Clone)]
pub struct EventSink {
    agent: AgentId,
    attempt: u64,
    tx: mpsc::UnboundedSender<TaggedEvent>,
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventSink(agent {}, attempt {})", self.agent, self.attempt)
    }
}

impl EventSink {
    /// A sink for one attempt of `agent`; every event it sends carries `attempt`.
    pub fn new(agent: AgentId, attempt: u64, tx: mpsc::UnboundedSender<TaggedEvent>) -> Self {
        EventSink { agent, attempt, tx }
    }

    /// Sends an event; `false` once nobody listens any more (the agent was removed).
    pub fn send(&self, event: ConnectorEvent) -> bool {
        self.tx.send(TaggedEvent { attempt: self.attempt, event }).is_ok()
    }
}

/// How to start an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRequest {
    /// Whose connection to start; also selects the credentials store.
    pub agent: AgentId,
    /// Use the saved credentials (no QR). False starts a fresh pairing.
    pub resume: bool,
    /// The agent's name now: a new link carries it to the phone's list of
    /// linked devices (WhatsApp takes it only at pairing).
    pub name: String,
}

/// Why a connector could not do what the engine asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnectorError {
    /// The agent's credentials store could not be opened, read or deleted (P-6).
    #[error("the credentials store of agent {agent} could not be used: {detail}")]
    Credentials {
        /// Whose store failed.
        agent: AgentId,
        /// The underlying error, for the message.
        detail: String,
    },
    /// The attempt cannot take a pairing-code request now: still starting or already ended.
    #[error("linking by phone number is not available here: {0}")]
    PairCodeUnavailable(String),
    /// WhatsApp refused to issue a pairing code; the words say why and what to do.
    #[error("{0}")]
    PairCodeRefused(String),
}

/// A factory of connections, one live connection per agent at most (the engine ensures it).
pub trait Connector: Send + Sync + 'static {
    /// Starts an attempt. Events go to `events` until a `Closed` event or until
    /// [`Connection::close`]. An error means nothing was started.
    fn start(&self, request: StartRequest, events: EventSink) -> Result<Box<dyn Connection>, ConnectorError>;

    /// Whether credentials are saved for `agent` (P-3 resumes only those).
    fn has_credentials(&self, agent: AgentId) -> bool;

    /// Deletes the agent's credentials (D-1, auth and fatal closes). Idempotent.
    fn forget_credentials(&self, agent: AgentId) -> Result<(), ConnectorError>;

    /// Sets the agent's saved credentials aside for `job` (D-1): from now on
    /// they are not the agent's (a new pairing of it starts from nothing), and
    /// [`Connector::unlink`] reaches WhatsApp with them. If a client still has
    /// them open, they are set aside as it stops, before any new attempt of
    /// the agent begins. Idempotent; nothing to set aside is not an error.
    fn set_aside_credentials(&self, job: UnlinkJob) -> Result<(), ConnectorError>;

    /// Connects with the credentials set aside for `job`, logs the device out
    /// of the phone, and deletes them. `Ok` once the phone no longer lists the
    /// device or nothing is left to unlink (WhatsApp dropped the device
    /// already; the credentials are gone or damaged); `Err` says why WhatsApp
    /// could not be reached, and the engine tries again later. The engine
    /// bounds each try: a try still running at its limit is dropped and retried.
    fn unlink(&self, job: UnlinkJob) -> UnlinkRequest;
}

/// A persisted request to log an agent's old device out of the phone (D-1),
/// for credentials that have no live link to log out with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnlinkJob {
    /// The job's own number: never reused, it names where the credentials are set aside.
    pub id: i64,
    /// Whose credentials they were (the agent may be removed since).
    pub agent: AgentId,
}

/// The answer to [`Connector::unlink`]: `Err` holds why it must be tried again.
pub type UnlinkRequest = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// The answer to a pairing-code request: `Ok` once WhatsApp accepted it (the
/// code itself arrives as [`ConnectorEvent::PairCode`]), or why not.
pub type PairCodeRequest = Pin<Box<dyn Future<Output = Result<(), ConnectorError>> + Send>>;

/// One live attempt. Dropping it without `close` must also end it.
pub trait Connection: Send {
    /// Asks for an 8-character pairing code for `phone` (digits, country code
    /// first). The request runs on its own: the agent keeps handling events
    /// while WhatsApp answers.
    fn request_pair_code(&mut self, phone: &str) -> PairCodeRequest;

    /// Checks the open link now, without waiting for the next keep-alive
    /// (F-6: after a suspend, or any gap in which no timer ran, the link may
    /// have died meanwhile). A link that does not answer in time is
    /// reported as [`ConnectorEvent::KeepAliveLost`]; nothing is reported
    /// for one that answers. Returns at once: the check runs on its own.
    fn check_alive(&mut self);

    /// Ends the attempt. `logout` unlinks the device from the phone first and
    /// deletes the credentials (D-1); without it the credentials stay (P-4).
    /// No event is sent after this.
    fn close(self: Box<Self>, logout: bool);
}
