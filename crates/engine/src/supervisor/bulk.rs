//! B-1: what a bulk action did to each agent, and its one summary.

use crate::audit::AuditAction;
use crate::error::EngineError;
use crate::lifecycle::{AgentId, BlockKind, Decision, Verdict};

/// An action on a selection of agents (B-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    /// Connect each, paced by R-5.
    Connect,
    /// Disconnect each that is not disconnected already (D-1).
    Disconnect,
    /// Remove each (D-1 for its device).
    Remove,
}

impl BulkAction {
    /// The audit log's name for it (B-3).
    pub(super) fn audited(self) -> AuditAction {
        match self {
            BulkAction::Connect => AuditAction::BulkConnect,
            BulkAction::Disconnect => AuditAction::BulkDisconnect,
            BulkAction::Remove => AuditAction::BulkRemove,
        }
    }
}

/// What became of one agent of a bulk action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkResult {
    /// Admitted by the A-rules; it starts at its R-5 turn.
    Queued,
    /// Refused by an A-rule, with the decision a click would have had.
    Blocked(Decision),
    /// Disconnected now.
    Disconnected,
    /// Left alone: it was disconnected already.
    AlreadyDisconnected,
    /// Removed.
    Removed,
    /// No such agent (removed meanwhile).
    Unknown,
    /// The action failed for this agent (the database, say): the words say why.
    Failed(String),
}

impl BulkResult {
    pub(super) fn from_error(err: &EngineError) -> BulkResult {
        match err {
            EngineError::UnknownAgent(_) => BulkResult::Unknown,
            other => BulkResult::Failed(other.to_string()),
        }
    }

    /// The group it is counted in, for the summary: agents blocked by
    /// either cooldown are one group, as the person sees them.
    #[must_use]
    pub fn group(&self) -> &'static str {
        match self {
            BulkResult::Queued => "connecting",
            BulkResult::Blocked(Decision { verdict: Verdict::Blocked { kind, .. }, .. }) => match kind {
                BlockKind::InProgress => "already connected or connecting",
                BlockKind::AttemptCooldown | BlockKind::AuthCooldown => "blocked by a cooldown",
                BlockKind::Ban => "banned",
                BlockKind::NotRetrying => "refused",
            },
            BulkResult::Blocked(_) => "refused",
            BulkResult::Disconnected => "disconnected",
            BulkResult::AlreadyDisconnected => "already disconnected",
            BulkResult::Removed => "removed",
            BulkResult::Unknown => "no longer there",
            BulkResult::Failed(_) => "failed",
        }
    }

    /// This agent's part, in plain words: its group, and the reason of a refusal or failure.
    pub(super) fn words(&self) -> String {
        match self {
            BulkResult::Blocked(decision) => format!("{}: {}", self.group(), decision.reason),
            BulkResult::Failed(why) => format!("failed: {why}"),
            other => other.group().to_owned(),
        }
    }
}

/// One agent's part of a bulk action's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkOutcome {
    /// The agent.
    pub agent: AgentId,
    /// Its name when the action began.
    pub name: String,
    /// What became of it.
    pub result: BulkResult,
}

/// "41 connecting, 3 blocked by a cooldown": each group once, in the order met.
pub(super) fn bulk_summary(outcomes: &[BulkOutcome]) -> String {
    let mut groups: Vec<(&'static str, usize)> = Vec::new();
    for outcome in outcomes {
        let group = outcome.result.group();
        match groups.iter_mut().find(|(name, _)| *name == group) {
            Some((_, count)) => *count += 1,
            None => groups.push((group, 1)),
        }
    }
    if groups.is_empty() {
        return "nothing selected".to_owned();
    }
    groups.iter().map(|(group, count)| format!("{count} {group}")).collect::<Vec<_>>().join(", ")
}

/// A connect decision in the audit log's words.
pub(super) fn decision_words(decision: &Decision) -> String {
    if decision.is_allowed() { "connecting".to_owned() } else { format!("blocked: {}", decision.reason) }
}
