//! What the engine publishes: a view per agent and engine events.

use crate::clock::Timestamp;
use crate::lifecycle::{AgentId, AgentRecord, Decision};

/// Everything the UI shows about one agent, as of its last committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView {
    /// The persisted record, exactly as committed (P-1).
    pub record: AgentRecord,
    /// The live QR string while pairing; not persisted.
    pub qr: Option<String>,
    /// The pairing code for linking by phone number; not persisted.
    pub pair_code: Option<String>,
    /// What a click on Connect would get now: the engine's decision, not a
    /// guess by the UI. Refreshed when a cooldown it depends on ends.
    pub connect_preview: Decision,
    /// When the auth cooldown ends, if it runs.
    pub auth_cooldown_until: Option<Timestamp>,
    /// When the attempt cooldown ends, if it runs.
    pub attempt_cooldown_until: Option<Timestamp>,
    /// An unlink job is still getting an old device of this agent off the
    /// phone (D-1): "unlinking from the phone…".
    pub unlinking: bool,
    /// Marked flapping (H-2): it keeps dropping; its retries wait the longest delay.
    pub flapping: bool,
    /// Its new links or user connects within 24 h are above their settings
    /// (H-3); `None` while neither is.
    pub ban_risk: Option<crate::lifecycle::BanRisk>,
    /// A bulk connect admitted it and it waits for its start slot (B-1, R-5).
    pub queued: bool,
    /// WhatsApp asks this link to be confirmed with a passkey; not persisted.
    pub passkey: Option<crate::lifecycle::PasskeyPrompt>,
    /// Incremented at every publication of this agent: the UI drops older ones.
    pub version: u64,
}

/// What subscribers receive, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// An agent was added or changed. Shared, not copied: the board and
    /// every subscriber hold the same view.
    Agent(std::sync::Arc<AgentView>),
    /// An agent was removed.
    Removed(AgentId),
    /// A person must act (L-3, R-2): a desktop notification.
    Notification {
        /// The agent that needs attention, so the UI can point at its row.
        agent: AgentId,
        /// The headline ("<name>: needs attention").
        title: String,
        /// The agent's name and the reason, in plain words.
        body: String,
    },
    /// Fatal notices of several agents within `notice_window`, told as one
    /// (F-4): one desktop notification and one banner. Each agent's own
    /// notice stays in its timeline.
    GroupedNotification {
        /// "37 agents need attention".
        title: String,
        /// The counts by what happened: "30 logged out (401), 7 banned by WhatsApp (403)".
        body: String,
        /// Exactly the agents it is about, so the window can show them.
        agents: Vec<AgentId>,
    },
    /// An outage began, changed (a probe, its count, its next time) or
    /// ended (`None`) (F-1…F-3).
    Outage(Option<Box<crate::fleet::Outage>>),
    /// Saving started failing (`Some(why)`) or works again (`None`). Changes
    /// from the world are kept in memory and saved when it works again.
    StorageFault(Option<String>),
    /// The wall clock stepped (F-5): it is now `wall_ahead_ms` ahead of the
    /// engine's time (negative: behind). Deadlines are on the engine's time;
    /// a window counting down with the wall clock subtracts this.
    WallClock {
        /// Wall clock minus engine time, in milliseconds.
        wall_ahead_ms: i64,
    },
}
