//! What crosses IPC, and the only place that knows JSON.
//!
//! Engine views are converted here with `From`; the TypeScript types in
//! `ui/src/bindings.ts` are generated from these structs (ts-rs), and a test
//! fails when that file is stale (`UPDATE_BINDINGS=1 cargo test -p
//! switchboard-tests bindings` rewrites it).

use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use switchboard_engine::audit::{AuditAction, AuditEntry};
use switchboard_engine::clock::Timestamp;
use switchboard_engine::lifecycle::{
    AgentHealth, BanRisk, BlockKind, Decision, HistoryEntry, Rule, SettingName, Settings, Status, Trigger, Uptime,
    Verdict, settings::Unit,
};
use switchboard_engine::supervisor::{AgentView, BulkAction, BulkOutcome, BulkResult};
use switchboard_whatsapp::protection::Protection;
use ts_rs::TS;

use crate::display::mask_phone;
use crate::error::IpcError;

fn ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_millis)
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// RULES.md §1's statuses, plus `unreadable` for a row this version cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum StatusDto {
    Disconnected,
    Connecting,
    QrPending,
    Connected,
    Reconnecting,
    Conflict,
    Failed,
    Unreadable,
}

impl From<Status> for StatusDto {
    fn from(s: Status) -> Self {
        match s {
            Status::Disconnected => StatusDto::Disconnected,
            Status::Connecting => StatusDto::Connecting,
            Status::QrPending => StatusDto::QrPending,
            Status::Connected => StatusDto::Connected,
            Status::Reconnecting => StatusDto::Reconnecting,
            Status::Conflict => StatusDto::Conflict,
            Status::Failed => StatusDto::Failed,
            Status::Unreadable => StatusDto::Unreadable,
        }
    }
}

/// A rule of `docs/RULES.md`, sent as its ID, such as A-3. Its TypeScript type,
/// `RuleId`, is the union of every ID, written from [`Rule::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleDto(pub Rule);

impl Serialize for RuleDto {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.id())
    }
}

/// What blocks Connect; the window words it and counts down to `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BlockKindDto {
    /// An attempt is in flight or the link is open.
    InProgress,
    /// Two manual connects must be apart.
    AttemptCooldown,
    /// The auth cooldown after a 401/440.
    AuthCooldown,
    /// A temporary ban.
    Ban,
    /// An automatic connect for an agent that waits for no retry.
    NotRetrying,
}

impl From<BlockKind> for BlockKindDto {
    fn from(kind: BlockKind) -> Self {
        match kind {
            BlockKind::InProgress => BlockKindDto::InProgress,
            BlockKind::AttemptCooldown => BlockKindDto::AttemptCooldown,
            BlockKind::AuthCooldown => BlockKindDto::AuthCooldown,
            BlockKind::Ban => BlockKindDto::Ban,
            BlockKind::NotRetrying => BlockKindDto::NotRetrying,
        }
    }
}

/// The engine's answer to a connect request (or what it would answer now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DecisionDto {
    pub allowed: bool,
    /// The rule that decided.
    #[ts(type = "RuleId")]
    pub rule: RuleDto,
    /// What blocks it; `null` exactly when allowed.
    pub block: Option<BlockKindDto>,
    /// Shown verbatim; holds no countdown (the window draws one from `until`).
    pub reason: String,
    /// When a blocked request would pass, in ms since the epoch.
    pub until: Option<i64>,
}

impl From<&Decision> for DecisionDto {
    fn from(d: &Decision) -> Self {
        let (block, until) = match d.verdict {
            Verdict::Allowed => (None, None),
            Verdict::Blocked { kind, until } => (Some(kind.into()), ms(until)),
        };
        DecisionDto { allowed: d.is_allowed(), rule: RuleDto(d.rule), block, reason: d.reason.clone(), until }
    }
}

/// One agent as the list and the detail panel show it. Times are ms since the epoch.
// Each flag is its own fact the window shows; no two of them form a state.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AgentDto {
    pub id: i64,
    pub name: String,
    /// The linked number, masked ("+49•••••••••78").
    pub phone: Option<String>,
    pub status: StatusDto,
    pub reason: String,
    pub last_code: Option<u16>,
    pub has_credentials: bool,
    /// Names the live QR without carrying its image: it changes when
    /// the QR does. Only what shows the QR asks for its image (`qr_image`),
    /// so a thousand rows never carry pictures nobody sees.
    pub qr_key: Option<String>,
    pub qr_expires_at: Option<i64>,
    /// The 8-character code for linking by phone number.
    pub pair_code: Option<String>,
    pub next_retry_at: Option<i64>,
    pub retry_attempt: u32,
    pub max_retries: u32,
    pub auth_cooldown_until: Option<i64>,
    pub attempt_cooldown_until: Option<i64>,
    pub banned_until: Option<i64>,
    pub disconnected_at: Option<i64>,
    /// An old device of this agent is still being logged out of the phone (D-1).
    pub unlinking: bool,
    /// Since when an outage holds this agent's retry (F-2); `null` otherwise.
    pub held_since: Option<i64>,
    /// Marked flapping: it keeps dropping (H-2).
    pub flapping: bool,
    /// New links or user connects of the last 24 h above their settings (H-3); `null` otherwise.
    pub ban_risk: Option<BanRiskDto>,
    /// What Connect would get now; the UI never guesses.
    pub connect: DecisionDto,
    /// A bulk connect admitted it and it waits its turn to start (B-1, R-5).
    pub queued: bool,
    /// WhatsApp asks this link to be confirmed with a passkey; `null` otherwise.
    pub passkey: Option<PasskeyDto>,
    /// Grows with every publication of this agent; older ones are dropped.
    pub version: u64,
}

impl AgentDto {
    pub fn from_view(view: &AgentView, settings: &Settings) -> Self {
        let r = &view.record;
        AgentDto {
            id: r.id.0,
            name: r.name.clone(),
            phone: r.phone.as_deref().map(mask_phone),
            status: r.status.into(),
            reason: r.reason.clone(),
            last_code: r.last_code.map(|c| c.0),
            has_credentials: r.has_credentials,
            qr_key: view.qr.as_deref().map(crate::qr::key),
            qr_expires_at: ms(r.qr_expires_at),
            pair_code: view.pair_code.clone(),
            next_retry_at: ms(r.next_retry_at),
            retry_attempt: r.retry_attempt,
            max_retries: settings.max_retries,
            auth_cooldown_until: ms(view.auth_cooldown_until),
            attempt_cooldown_until: ms(view.attempt_cooldown_until),
            banned_until: ms(r.banned_until),
            disconnected_at: ms(r.disconnected_at),
            unlinking: view.unlinking,
            held_since: ms(r.held_since),
            flapping: view.flapping,
            ban_risk: view.ban_risk.map(BanRiskDto::from),
            connect: DecisionDto::from(&view.connect_preview),
            queued: view.queued,
            passkey: view.passkey.as_ref().map(|prompt| PasskeyDto { code: prompt.code.clone() }),
            version: view.version,
        }
    }
}

/// A passkey confirmation WhatsApp asked for while linking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyDto {
    /// The verification code to compare with the phone's, once WhatsApp sent one.
    pub code: Option<String>,
}

/// The image of an agent's live QR, asked for by what displays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QrImageDto {
    /// The QR it shows: the agent's `qrKey` when it was rendered.
    pub key: String,
    /// A PNG `data:` URL, which the CSP allows for images.
    pub png: String,
}

/// Who or what caused a change (O-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TriggerDto {
    User,
    Auto,
    Connector,
    Timer,
    Startup,
}

impl From<Trigger> for TriggerDto {
    fn from(t: Trigger) -> Self {
        match t {
            Trigger::User => TriggerDto::User,
            Trigger::Auto => TriggerDto::Auto,
            Trigger::Connector => TriggerDto::Connector,
            Trigger::Timer => TriggerDto::Timer,
            Trigger::Startup => TriggerDto::Startup,
        }
    }
}

/// One line of an agent's timeline (O-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HistoryDto {
    pub at: i64,
    pub from: StatusDto,
    pub to: StatusDto,
    pub code: Option<u16>,
    pub reason: String,
    pub trigger: TriggerDto,
    /// The rule that applied; `null` for an entry written by another version
    /// with a rule this one does not know.
    #[ts(type = "RuleId | null")]
    pub rule: Option<RuleDto>,
}

impl From<&HistoryEntry> for HistoryDto {
    fn from(h: &HistoryEntry) -> Self {
        HistoryDto {
            at: h.at.as_millis(),
            from: h.from.into(),
            to: h.to.into(),
            code: h.code.map(|c| c.0),
            reason: h.reason.clone(),
            trigger: h.trigger.into(),
            rule: h.rule.map(RuleDto),
        }
    }
}

/// Time connected within a span, over the part of it the history covers
/// (H-1): the share connected is `connectedMs / coveredMs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UptimeDto {
    pub connected_ms: i64,
    /// Zero for an agent added just now: no share to show yet.
    pub covered_ms: i64,
}

impl From<Uptime> for UptimeDto {
    fn from(u: Uptime) -> Self {
        UptimeDto { connected_ms: duration_ms(u.connected), covered_ms: duration_ms(u.covered) }
    }
}

/// New links and user connects of the last 24 h, each against its setting (H-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BanRiskDto {
    pub pairings: u32,
    pub connects: u32,
    pub pairings_over: bool,
    pub connects_over: bool,
}

impl From<BanRisk> for BanRiskDto {
    fn from(r: BanRisk) -> Self {
        BanRiskDto {
            pairings: r.pairings,
            connects: r.connects,
            pairings_over: r.pairings_over,
            connects_over: r.connects_over,
        }
    }
}

/// One agent's health, for its detail panel (H-1, H-2, H-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct HealthDto {
    /// The last 24 h.
    pub day: UptimeDto,
    /// The last 7 days.
    pub week: UptimeDto,
    /// Changes from connected to another status in the last 24 h.
    pub disconnects: u32,
    /// The median time from a recoverable close to connected again, over
    /// 7 days; `null` when none recovered.
    pub median_recovery_ms: Option<i64>,
    /// When the agent was last connected (the time of asking while it is),
    /// in ms since the epoch; `null` when not within 7 days.
    pub last_connected_at: Option<i64>,
    /// Recoverable closes within the last 10 minutes (H-2).
    pub recent_closes: u32,
    /// Marked flapping (H-2).
    pub flapping: bool,
    pub ban_risk: BanRiskDto,
}

impl From<&AgentHealth> for HealthDto {
    fn from(h: &AgentHealth) -> Self {
        HealthDto {
            day: h.last_day.into(),
            week: h.last_week.into(),
            disconnects: h.disconnects_last_day,
            median_recovery_ms: h.median_recovery.map(duration_ms),
            last_connected_at: ms(h.last_connected),
            recent_closes: h.flapping.recent_closes,
            flapping: h.flapping.flapping,
            ban_risk: h.ban_risk.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum UnitDto {
    Ms,
    Count,
    Percent,
    PerSecond,
    Days,
}

/// One setting with its allowed range, for the settings page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingDto {
    pub key: String,
    pub value: i64,
    pub min: i64,
    pub max: i64,
    pub unit: UnitDto,
}

pub fn settings_dto(settings: &Settings) -> Vec<SettingDto> {
    SettingName::ALL
        .into_iter()
        .map(|name| {
            let (min, max) = name.allowed();
            SettingDto {
                key: name.key().to_owned(),
                value: settings.get(name) as i64,
                min: min as i64,
                max: max as i64,
                unit: match name.unit() {
                    Unit::Millis => UnitDto::Ms,
                    Unit::Count => UnitDto::Count,
                    Unit::Percent => UnitDto::Percent,
                    Unit::PerSecond => UnitDto::PerSecond,
                    Unit::Days => UnitDto::Days,
                },
            }
        })
        .collect()
}

/// One change on the settings page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct SettingChange {
    pub key: String,
    pub value: i64,
}

/// Which WhatsApp the app talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ModeDto {
    /// The simulated WhatsApp (`--demo`): practice and tests.
    Demo,
    /// Real WhatsApp connections.
    Real,
}

/// Everything the UI needs at start, then [`UiEvent`]s keep it current.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub mode: ModeDto,
    pub agents: Vec<AgentDto>,
    pub settings: Vec<SettingDto>,
    /// Set when the engine could not start (a database from a newer version, say).
    pub startup_error: Option<IpcError>,
    /// Where the database and logs are, to tell staff.
    pub data_dir: String,
    /// What staff must know about the mode, shown as a banner.
    pub mode_note: Option<String>,
    /// Why changes cannot be saved right now (disk full, database locked or
    /// read-only); `null` when saving works.
    pub storage_fault: Option<String>,
    /// How far the wall clock is ahead of the engine's time, in ms (negative:
    /// behind). Deadlines are on the engine's time: countdowns subtract it.
    pub wall_ahead_ms: i64,
    /// The outage in progress (F-1…F-3); `null` when there is none.
    pub outage: Option<OutageDto>,
    /// Outages that began in the last 7 days (H-4).
    pub outages_last_week: u32,
    /// Warnings that last while their cause does, each a banner: the
    /// credentials kept unencrypted (P-7), a WhatsApp Web version that could
    /// not be renewed (F-7).
    pub notices: Vec<String>,
}

/// How the WhatsApp credentials are kept (P-7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ProtectionDto {
    /// Encrypted, the key in the desktop keyring.
    Keyring,
    /// Encrypted, the key under the person's passphrase.
    Passphrase,
    /// Plain files, as the person chose.
    Unencrypted,
    /// Demo mode keeps no credentials.
    NotNeeded,
}

impl From<Protection> for ProtectionDto {
    fn from(protection: Protection) -> Self {
        match protection {
            Protection::Keyring => ProtectionDto::Keyring,
            Protection::Passphrase => ProtectionDto::Passphrase,
            Protection::Unencrypted => ProtectionDto::Unencrypted,
        }
    }
}

/// Where the credentials stand at start; the window asks before it subscribes.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum CredentialsStateDto {
    /// Open: the engine starts (or has started).
    Ready { protection: ProtectionDto },
    /// Passphrase mode: ask for it.
    NeedsPassphrase,
    /// The first start without a keyring: ask how to keep them.
    NeedsChoice { keyring_problem: String },
    /// They cannot be opened; nothing was changed.
    Failed { error: IpcError },
}

/// The person's choice at the first start without a keyring.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum ProtectionChoiceDto {
    /// Encrypt, with the key under this passphrase.
    Passphrase { passphrase: String },
    /// Keep the stores unencrypted.
    Unencrypted,
}

/// An outage in progress (F-1…F-3), for its banner.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OutageDto {
    /// When it began.
    pub since: i64,
    /// Why, in plain words.
    pub cause: String,
    /// Probes that failed so far.
    pub probes: u32,
    /// When the next probe starts; `null` while one runs.
    pub next_probe_at: Option<i64>,
    /// The agent probing now, if one is.
    pub probing: Option<i64>,
    /// Staff paused automatic reconnects: nothing probes; "Resume" ends it.
    pub paused: bool,
}

impl From<&switchboard_engine::fleet::Outage> for OutageDto {
    fn from(outage: &switchboard_engine::fleet::Outage) -> Self {
        OutageDto {
            since: outage.since.as_millis(),
            cause: outage.cause.clone(),
            probes: outage.probes,
            next_probe_at: ms(outage.next_probe_at),
            probing: outage.probing.map(|(agent, _)| agent.0),
            paused: outage.paused,
        }
    }
}

/// An update pushed to the UI, in order.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "type", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum UiEvent {
    Agent {
        agent: Box<AgentDto>,
    },
    Removed {
        id: i64,
    },
    /// A person must act (L-3, R-2): also a desktop notification.
    Notice {
        agent_id: i64,
        title: String,
        body: String,
    },
    /// Fatal notices of several agents told as one (F-4): also one desktop notification.
    GroupNotice {
        title: String,
        body: String,
        agent_ids: Vec<i64>,
    },
    /// Saving started failing (`message`) or works again (`null`).
    StorageFault {
        message: Option<String>,
    },
    /// The UI fell behind; here is everything again.
    Resync {
        agents: Vec<AgentDto>,
    },
    /// The wall clock stepped (F-5): it is now `wall_ahead_ms` ahead of the
    /// engine's time, on which every deadline is (negative: behind).
    Clock {
        wall_ahead_ms: i64,
    },
    /// An outage began or changed (`outage`), or ended (`null`) (F-1…F-3).
    Outage {
        outage: Option<OutageDto>,
        /// Outages that began in the last 7 days, as saved (H-4).
        outages_last_week: u32,
    },
    /// The window was closed on a desktop without a tray: ask whether to
    /// quit or keep running minimised (`answer_close`).
    CloseAsked,
}

/// An action on a selection of agents (B-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BulkActionDto {
    Connect,
    Disconnect,
    Remove,
}

impl From<BulkActionDto> for BulkAction {
    fn from(action: BulkActionDto) -> Self {
        match action {
            BulkActionDto::Connect => BulkAction::Connect,
            BulkActionDto::Disconnect => BulkAction::Disconnect,
            BulkActionDto::Remove => BulkAction::Remove,
        }
    }
}

/// What became of one agent of a bulk action; the window groups by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BulkOutcomeKind {
    /// Admitted: it starts at its turn.
    Connecting,
    /// Refused: already connected or connecting.
    InProgress,
    /// Refused: a cooldown runs (A-3…A-5).
    Cooldown,
    /// Refused: banned for now.
    Banned,
    /// Refused by another rule.
    Refused,
    Disconnected,
    AlreadyDisconnected,
    Removed,
    /// Removed meanwhile, or never there.
    Gone,
    /// The action failed for it (the database, say); `reason` says why.
    Failed,
}

/// One agent's part of a bulk action's answer (B-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct BulkOutcomeDto {
    pub id: i64,
    pub name: String,
    pub outcome: BulkOutcomeKind,
    /// A refusal's or failure's reason, verbatim; empty otherwise.
    pub reason: String,
    /// When a refusal's block ends, if a deadline decides it.
    pub until: Option<i64>,
}

impl From<&BulkOutcome> for BulkOutcomeDto {
    fn from(o: &BulkOutcome) -> Self {
        let (outcome, reason, until) = match &o.result {
            BulkResult::Queued => (BulkOutcomeKind::Connecting, String::new(), None),
            BulkResult::Blocked(decision) => {
                let (kind, until) = match decision.verdict {
                    Verdict::Blocked { kind, until } => (
                        match kind {
                            BlockKind::InProgress => BulkOutcomeKind::InProgress,
                            BlockKind::AttemptCooldown | BlockKind::AuthCooldown => BulkOutcomeKind::Cooldown,
                            BlockKind::Ban => BulkOutcomeKind::Banned,
                            BlockKind::NotRetrying => BulkOutcomeKind::Refused,
                        },
                        ms(until),
                    ),
                    Verdict::Allowed => (BulkOutcomeKind::Refused, None),
                };
                (kind, decision.reason.clone(), until)
            }
            BulkResult::Disconnected => (BulkOutcomeKind::Disconnected, String::new(), None),
            BulkResult::AlreadyDisconnected => (BulkOutcomeKind::AlreadyDisconnected, String::new(), None),
            BulkResult::Removed => (BulkOutcomeKind::Removed, String::new(), None),
            BulkResult::Unknown => (BulkOutcomeKind::Gone, String::new(), None),
            BulkResult::Failed(why) => (BulkOutcomeKind::Failed, why.clone(), None),
        };
        BulkOutcomeDto { id: o.agent.0, name: o.name.clone(), outcome, reason, until }
    }
}

/// An operator action of the audit log (B-3), by its stored name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AuditActionDto {
    Add,
    Rename,
    Remove,
    Connect,
    Disconnect,
    PairCode,
    BulkConnect,
    BulkDisconnect,
    BulkRemove,
    Settings,
    PauseReconnects,
    ResumeReconnects,
    TryNow,
    Simulate,
    /// Written by a newer Switchboard.
    Unknown,
}

impl From<Option<AuditAction>> for AuditActionDto {
    fn from(action: Option<AuditAction>) -> Self {
        match action {
            Some(AuditAction::Add) => AuditActionDto::Add,
            Some(AuditAction::Rename) => AuditActionDto::Rename,
            Some(AuditAction::Remove) => AuditActionDto::Remove,
            Some(AuditAction::Connect) => AuditActionDto::Connect,
            Some(AuditAction::Disconnect) => AuditActionDto::Disconnect,
            Some(AuditAction::PairCode) => AuditActionDto::PairCode,
            Some(AuditAction::BulkConnect) => AuditActionDto::BulkConnect,
            Some(AuditAction::BulkDisconnect) => AuditActionDto::BulkDisconnect,
            Some(AuditAction::BulkRemove) => AuditActionDto::BulkRemove,
            Some(AuditAction::Settings) => AuditActionDto::Settings,
            Some(AuditAction::PauseReconnects) => AuditActionDto::PauseReconnects,
            Some(AuditAction::ResumeReconnects) => AuditActionDto::ResumeReconnects,
            Some(AuditAction::TryNow) => AuditActionDto::TryNow,
            Some(AuditAction::Simulate) => AuditActionDto::Simulate,
            None => AuditActionDto::Unknown,
        }
    }
}

impl AuditActionDto {
    /// The engine's action; `None` for [`AuditActionDto::Unknown`], which no filter can ask for.
    pub fn action(self) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|action| AuditActionDto::from(Some(*action)) == self)
    }
}

/// An agent an audit entry touched, named as it was then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuditAgentDto {
    pub id: i64,
    pub name: String,
    /// Its part of a bulk action's outcome; empty for a single action.
    pub outcome: String,
}

/// One entry of the audit log (B-3). `at` is ms since the epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryDto {
    pub id: i64,
    pub at: i64,
    pub os_user: String,
    pub action: AuditActionDto,
    pub agents: Vec<AuditAgentDto>,
    pub outcome: String,
    pub detail: String,
}

impl From<&AuditEntry> for AuditEntryDto {
    fn from(e: &AuditEntry) -> Self {
        AuditEntryDto {
            id: e.id,
            at: e.at.as_millis(),
            os_user: e.os_user.clone(),
            action: e.action.into(),
            agents: e
                .agents
                .iter()
                .map(|a| AuditAgentDto { id: a.id.0, name: a.name.clone(), outcome: a.outcome.clone() })
                .collect(),
            outcome: e.outcome.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// What the audit view asks for (B-3); every field given must hold. Times are ms since the epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditQueryDto {
    #[ts(optional)]
    pub agent: Option<i64>,
    #[ts(optional)]
    pub action: Option<AuditActionDto>,
    #[ts(optional)]
    pub since: Option<i64>,
    #[ts(optional)]
    pub until: Option<i64>,
    /// At most this many, newest first (1 to 5,000).
    pub limit: u32,
}

/// A demo-mode action on the simulated WhatsApp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SimAction {
    /// The phone scans the QR.
    Scan,
    /// WhatsApp closes the connection with this code.
    Drop { code: u16 },
    /// The connection stops answering keep-alives.
    Silent,
    /// WhatsApp asks for a passkey to confirm the link.
    Passkey,
}

/// What a demo churn did (`simulate_churn`): when each call was made, for
/// the window's benchmark to time the paint of each change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChurnDto {
    /// Each connect or disconnect the churn made, in order.
    pub calls: Vec<ChurnCallDto>,
    /// Each change of status the engine published while the churn ran, in order.
    pub changes: Vec<ChurnChangeDto>,
    /// How long the churn ran, in ms.
    pub elapsed_ms: i64,
}

/// A change of status published during a churn, at a wall-clock time in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChurnChangeDto {
    pub id: i64,
    pub status: StatusDto,
    pub at: i64,
}

/// One call of a churn: the agent and the wall-clock time, in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChurnCallDto {
    pub id: i64,
    pub at: i64,
}

/// Every type the UI uses, in the order written to `ui/src/bindings.ts`.
pub fn typescript_bindings() -> String {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let rule_ids: Vec<String> = Rule::ALL.iter().map(|rule| format!("\"{}\"", rule.id())).collect();
    let decls = [
        StatusDto::decl(&cfg),
        format!("type RuleId = {};", rule_ids.join(" | ")),
        BlockKindDto::decl(&cfg),
        DecisionDto::decl(&cfg),
        PasskeyDto::decl(&cfg),
        AgentDto::decl(&cfg),
        QrImageDto::decl(&cfg),
        ChurnCallDto::decl(&cfg),
        ChurnChangeDto::decl(&cfg),
        ChurnDto::decl(&cfg),
        TriggerDto::decl(&cfg),
        HistoryDto::decl(&cfg),
        UptimeDto::decl(&cfg),
        BanRiskDto::decl(&cfg),
        HealthDto::decl(&cfg),
        UnitDto::decl(&cfg),
        SettingDto::decl(&cfg),
        SettingChange::decl(&cfg),
        ModeDto::decl(&cfg),
        ProtectionDto::decl(&cfg),
        CredentialsStateDto::decl(&cfg),
        ProtectionChoiceDto::decl(&cfg),
        IpcError::decl(&cfg),
        OutageDto::decl(&cfg),
        Snapshot::decl(&cfg),
        UiEvent::decl(&cfg),
        SimAction::decl(&cfg),
        BulkActionDto::decl(&cfg),
        BulkOutcomeKind::decl(&cfg),
        BulkOutcomeDto::decl(&cfg),
        AuditActionDto::decl(&cfg),
        AuditAgentDto::decl(&cfg),
        AuditEntryDto::decl(&cfg),
        AuditQueryDto::decl(&cfg),
        crate::desktop::CloseAction::decl(&cfg),
        DesktopDto::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from src-tauri/src/dto.rs by ts-rs. Do not edit: run\n\
         // `UPDATE_BINDINGS=1 cargo test -p switchboard-tests bindings` after changing a DTO.\n\n",
    );
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// The desktop side of the app, for the settings dialog.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DesktopDto {
    /// "Switchboard 0.1.0 (whatsapp-rust 0.7.0)", as `--version` prints it.
    pub version: String,
    /// A tray icon is shown (closing the window hides it).
    pub tray: bool,
    /// What closing the window does.
    pub close_action: crate::desktop::CloseAction,
    /// Switchboard starts (minimised) when the person logs in.
    pub autostart: bool,
}

/// Views for the shell's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use switchboard_engine::clock::Timestamp;
    use switchboard_engine::lifecycle::{AgentId, AgentRecord, Settings, Status, Trigger, admit};
    use switchboard_engine::supervisor::AgentView;

    /// Agent `id` in `status`, created at time zero, as first published.
    pub fn view(id: i64, status: Status, flapping: bool) -> AgentView {
        let mut record = AgentRecord::new(AgentId(id), format!("agent {id}"), Timestamp(0));
        record.status = status;
        AgentView {
            connect_preview: admit(&record, Trigger::User, Timestamp(0), &Settings::default()),
            record,
            qr: None,
            pair_code: None,
            auth_cooldown_until: None,
            attempt_cooldown_until: None,
            unlinking: false,
            flapping,
            ban_risk: None,
            queued: false,
            passkey: None,
            version: 1,
        }
    }
}
