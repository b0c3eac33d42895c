//! B-3: the audit log. Every operator action is one entry: when, the
//! operating-system user, what, the agents it touched and its outcome.
//!
//! The supervisor appends an entry in each of its operator commands, after
//! the action, so the outcome is the real one; the demo's simulations are
//! appended by the shell through [`crate::supervisor::Supervisor::audit_simulation`].
//! Entries are pruned with the history (H-5).

use std::fmt;

use crate::clock::Timestamp;
use crate::lifecycle::AgentId;

/// What an operator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// Added an agent.
    Add,
    /// Renamed an agent; the detail holds the old and the new name.
    Rename,
    /// Removed an agent.
    Remove,
    /// Clicked Connect.
    Connect,
    /// Clicked Disconnect.
    Disconnect,
    /// Asked for a pairing code.
    PairCode,
    /// Connect on a selection (B-1).
    BulkConnect,
    /// Disconnect on a selection (B-1).
    BulkDisconnect,
    /// Remove on a selection (B-1).
    BulkRemove,
    /// Changed settings; the detail holds each old and new value.
    Settings,
    /// Paused every automatic reconnect (F-2).
    PauseReconnects,
    /// Resumed automatic reconnects (F-3).
    ResumeReconnects,
    /// "Try now" during an outage (F-2).
    TryNow,
    /// A simulated event in demo mode (a scan, a drop, an outage …).
    Simulate,
}

impl AuditAction {
    /// Every action, for the window's filter.
    pub const ALL: [AuditAction; 14] = [
        AuditAction::Add,
        AuditAction::Rename,
        AuditAction::Remove,
        AuditAction::Connect,
        AuditAction::Disconnect,
        AuditAction::PairCode,
        AuditAction::BulkConnect,
        AuditAction::BulkDisconnect,
        AuditAction::BulkRemove,
        AuditAction::Settings,
        AuditAction::PauseReconnects,
        AuditAction::ResumeReconnects,
        AuditAction::TryNow,
        AuditAction::Simulate,
    ];

    /// The name stored in the `audit` table and used over IPC.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Add => "add",
            AuditAction::Rename => "rename",
            AuditAction::Remove => "remove",
            AuditAction::Connect => "connect",
            AuditAction::Disconnect => "disconnect",
            AuditAction::PairCode => "pair_code",
            AuditAction::BulkConnect => "bulk_connect",
            AuditAction::BulkDisconnect => "bulk_disconnect",
            AuditAction::BulkRemove => "bulk_remove",
            AuditAction::Settings => "settings",
            AuditAction::PauseReconnects => "pause_reconnects",
            AuditAction::ResumeReconnects => "resume_reconnects",
            AuditAction::TryNow => "try_now",
            AuditAction::Simulate => "simulate",
        }
    }

    /// The action of a stored name; `None` for a name this build does not know.
    #[must_use]
    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|action| action.as_str() == text)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An agent an action touched, named as it was then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditAgent {
    /// The agent's id (it may have been removed since).
    pub id: AgentId,
    /// Its name at the time of the action.
    pub name: String,
    /// Its part of a bulk action's outcome ("blocked by a cooldown"); empty for a single action.
    pub outcome: String,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The entry's key; larger is later.
    pub id: i64,
    /// When the action was taken (the engine's time, F-5).
    pub at: Timestamp,
    /// The operating-system user the app ran as.
    pub os_user: String,
    /// What was done; `None` for an action a newer Switchboard wrote.
    pub action: Option<AuditAction>,
    /// The agents it touched, in the order given.
    pub agents: Vec<AuditAgent>,
    /// What came of it, in plain words.
    pub outcome: String,
    /// What it changed where the rest does not say (old and new settings values); may be empty.
    pub detail: String,
}

/// What the window asks of the audit log: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only entries that touched this agent.
    pub agent: Option<AgentId>,
    /// Only this kind of action.
    pub action: Option<AuditAction>,
    /// Only entries at or after this time.
    pub since: Option<Timestamp>,
    /// Only entries before this time.
    pub until: Option<Timestamp>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// The operating-system user this process runs as: the login name from the
/// environment, else the name `/etc/passwd` gives its user id, else the
/// number ("uid 1000"). Never empty.
#[must_use]
pub fn os_user() -> String {
    use std::os::unix::fs::MetadataExt as _;
    let from_env = ["USER", "LOGNAME"]
        .into_iter()
        .filter_map(|key| std::env::var(key).ok())
        .map(|name| name.trim().to_owned())
        .find(|name| !name.is_empty());
    if let Some(name) = from_env {
        return name;
    }
    // A service or a test runner may start the app without a login's environment.
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else { return "unknown user".to_owned() };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() > 2 && fields[2].parse() == Ok(uid) && !fields[0].is_empty())
        .map_or_else(|| format!("uid {uid}"), |fields| fields[0].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_from_its_stored_name() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("launch_rockets"), None);
    }
}
