//! What the engine knows about one agent: the persisted record and the live attempt.

use std::fmt;

use super::{CloseCode, Status};
use crate::clock::Timestamp;

/// The database id of an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(pub i64);

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One row of the `agents` table: everything that must survive a restart.
///
/// Field invariants, checked by [`AgentRecord::check_invariants`] after every
/// step in tests: `disconnected_at` is set exactly when the status is
/// `disconnected`, `next_retry_at` exactly when `reconnecting`,
/// `qr_expires_at` exactly when `qr_pending`, and `clean_disconnect` only
/// while `disconnected`; a `conflict` has its auth failure time; credentials
/// exist while `connected` or `reconnecting` and never while `qr_pending`,
/// `conflict` or `disconnected`; the retry counter runs only while
/// `reconnecting` or `connecting`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    /// The row's key; never reused for another agent.
    pub id: AgentId,
    /// What staff call the agent, unique regardless of case.
    pub name: String,
    /// The linked phone number, as the connector reported it. Shown masked.
    pub phone: Option<String>,
    /// The one status of §1, stored as its text.
    pub status: Status,
    /// The plain-words reason of the last change, shown under the badge.
    pub reason: String,
    /// The close code behind the current status, if a close caused it.
    pub last_code: Option<CloseCode>,
    /// Whether the connector holds credentials for this agent, so that an
    /// attempt can resume without a QR (R-4, P-3).
    pub has_credentials: bool,
    /// When the agent became `disconnected`; set exactly in that status.
    pub disconnected_at: Option<Timestamp>,
    /// Start of the auth cooldown (L-2); cleared only by a manual disconnect
    /// or the A-2 bypass.
    pub last_auth_failure_at: Option<Timestamp>,
    /// Start of the last attempt, for the attempt cooldown.
    pub last_attempt_at: Option<Timestamp>,
    /// When the scheduled retry is due; set exactly in `reconnecting`.
    pub next_retry_at: Option<Timestamp>,
    /// The retry counter k of: attempts since the last `connected`.
    pub retry_attempt: u32,
    /// When the shown QR expires; set exactly in `qr_pending`.
    pub qr_expires_at: Option<Timestamp>,
    /// End of a temporary ban reported with a 403 (L-3).
    pub banned_until: Option<Timestamp>,
    /// Whether `disconnected` was reached cleanly: by a person's disconnect,
    /// a QR expiry or as a new agent. Only a clean disconnect lets Connect
    /// bypass the cooldowns; an error never does.
    pub clean_disconnect: bool,
    /// Since when the agent's retries are held by an outage (F-2): it
    /// waits for the outage's end or its turn as the probe, not for a time.
    pub held_since: Option<Timestamp>,
}

impl AgentRecord {
    /// A new agent, as `add` creates it: cleanly disconnected.
    pub fn new(id: AgentId, name: String, now: Timestamp) -> Self {
        AgentRecord {
            id,
            name,
            phone: None,
            status: Status::Disconnected,
            reason: "new agent".to_owned(),
            last_code: None,
            has_credentials: false,
            disconnected_at: Some(now),
            last_auth_failure_at: None,
            last_attempt_at: None,
            next_retry_at: None,
            retry_attempt: 0,
            qr_expires_at: None,
            banned_until: None,
            clean_disconnect: true,
            held_since: None,
        }
    }

    /// The legal-status and field-consistency invariants (P-5).
    pub fn check_invariants(&self) -> Result<(), String> {
        let s = self.status;
        if !Status::LEGAL.contains(&s) {
            return Err(format!("agent {}: illegal status {s}", self.id));
        }
        let pairs = [
            ("disconnected_at", self.disconnected_at.is_some(), s == Status::Disconnected),
            ("next_retry_at", self.next_retry_at.is_some(), s == Status::Reconnecting && self.held_since.is_none()),
            ("qr_expires_at", self.qr_expires_at.is_some(), s == Status::QrPending),
        ];
        if self.clean_disconnect && s != Status::Disconnected {
            return Err(format!("agent {}: clean_disconnect set with status {s}", self.id));
        }
        if self.held_since.is_some() && s != Status::Reconnecting {
            return Err(format!("agent {}: held by an outage with status {s}", self.id));
        }
        if s == Status::Conflict && self.last_auth_failure_at.is_none() {
            return Err(format!("agent {}: conflict without an auth failure time (L-2)", self.id));
        }
        let credentials = match s {
            Status::Connected | Status::Reconnecting => Some(true),
            Status::QrPending | Status::Conflict | Status::Disconnected => Some(false),
            Status::Connecting | Status::Failed | Status::Unreadable => None,
        };
        if credentials.is_some_and(|expected| expected != self.has_credentials) {
            return Err(format!("agent {}: has_credentials={} with status {s}", self.id, self.has_credentials));
        }
        if self.retry_attempt > 0 && !matches!(s, Status::Reconnecting | Status::Connecting) {
            return Err(format!("agent {}: retry {} counted with status {s}", self.id, self.retry_attempt));
        }
        for (field, set, expected) in pairs {
            if set != expected {
                return Err(format!("agent {}: {field} set={set} with status {s}", self.id));
            }
        }
        Ok(())
    }
}

/// Who or what caused a change, for the history (O-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A person clicked.
    User,
    /// A scheduled retry or the start-up resume.
    Auto,
    /// The connection reported something.
    Connector,
    /// A deadline passed (QR expiry, connect timeout).
    Timer,
    /// The app started (P-3).
    Startup,
}

impl Trigger {
    /// The text stored in the history table and shown in the timeline (O-2).
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::User => "user",
            Trigger::Auto => "auto",
            Trigger::Connector => "connector",
            Trigger::Timer => "timer",
            Trigger::Startup => "startup",
        }
    }

    /// Reads a stored trigger; `None` for text this version does not know.
    pub fn parse(text: &str) -> Option<Trigger> {
        [Trigger::User, Trigger::Auto, Trigger::Connector, Trigger::Timer, Trigger::Startup]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// The live part of an attempt, never persisted: a restart ends every attempt (P-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Who started it: an automatic attempt that is shown a QR stops.
    pub trigger: Trigger,
    /// Whether a connection object is open for this attempt. False after a 515
    /// that keeps an unscanned QR on screen.
    pub live: bool,
    /// The current QR string; replaced when the code rotates.
    pub qr: Option<String>,
    /// The 8-character code for linking by phone number.
    pub pair_code: Option<String>,
    /// The phone accepted the QR; a 515 now means "restart to finish pairing".
    pub scanned: bool,
    /// When the attempt is closed as a 408 unless it reaches a QR or opens.
    pub connect_deadline: Option<Timestamp>,
    /// WhatsApp asked this account to confirm the link with a passkey.
    pub passkey: Option<PasskeyPrompt>,
}

/// A passkey confirmation WhatsApp asked for during linking.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PasskeyPrompt {
    /// The verification code WhatsApp sent for the person to compare, once it came.
    pub code: Option<String>,
}

/// An agent as the state machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// What is persisted and survives a restart.
    pub record: AgentRecord,
    /// The attempt in flight, if any; lost on restart (P-3).
    pub attempt: Option<Attempt>,
}

impl Agent {
    /// An agent with no attempt in flight, as loaded from the database.
    pub fn new(record: AgentRecord) -> Self {
        Agent { record, attempt: None }
    }

    /// Whether a connection object is open (at most one per agent, ever).
    pub fn has_live_connection(&self) -> bool {
        self.attempt.as_ref().is_some_and(|a| a.live)
    }

    /// How a disconnect or removal gets the device off the phone (D-1): the
    /// one place that decides it.
    pub fn unlink_plan(&self) -> UnlinkPlan {
        if !self.record.has_credentials {
            UnlinkPlan::NothingLinked
        } else if self.record.status == Status::Connected && self.has_live_connection() {
            UnlinkPlan::LogOutNow
        } else {
            UnlinkPlan::Later
        }
    }
}

/// How the device leaves the phone when its agent is disconnected or removed (D-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlinkPlan {
    /// No credentials: nothing is linked; whatever half-made store exists is deleted.
    NothingLinked,
    /// The link is open: log out on it, then delete the credentials.
    LogOutNow,
    /// Credentials but no open link (reconnecting, failed, still connecting,
    /// just started): an unlink job connects with them later, logs out and
    /// deletes them.
    Later,
}
