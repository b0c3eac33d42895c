// Generated from src-tauri/src/dto.rs by ts-rs. Do not edit: run
// `UPDATE_BINDINGS=1 cargo test -p switchboard-tests bindings` after changing a DTO.

export type StatusDto = "disconnected" | "connecting" | "qr_pending" | "connected" | "reconnecting" | "conflict" | "failed" | "unreadable";

export type RuleId = "L-1" | "L-2" | "L-3" | "L-4" | "A-1" | "A-2" | "A-3" | "A-4" | "A-5" | "A-6" | "A-7" | "D-1" | "D-2" | "D-3" | "R-1" | "R-2" | "R-3" | "R-4" | "R-5" | "R-6" | "Q-1" | "Q-2" | "Q-3" | "Q-4" | "Q-5" | "P-1" | "P-2" | "P-3" | "P-4" | "P-5" | "P-6" | "P-7" | "O-1" | "O-2" | "O-3" | "F-1" | "F-2" | "F-3" | "F-4" | "F-5" | "F-6" | "F-7" | "H-1" | "H-2" | "H-3" | "H-4" | "H-5" | "B-1" | "B-2" | "B-3";

export type BlockKindDto = "in_progress" | "attempt_cooldown" | "auth_cooldown" | "ban" | "not_retrying";

export type DecisionDto = { allowed: boolean, 
/**
 * The rule that decided.
 */
rule: RuleId, 
/**
 * What blocks it; `null` exactly when allowed.
 */
block: BlockKindDto | null, 
/**
 * Shown verbatim; holds no countdown (the window draws one from `until`).
 */
reason: string, 
/**
 * When a blocked request would pass, in ms since the epoch.
 */
until: number | null, };

export type PasskeyDto = { 
/**
 * The verification code to compare with the phone's, once WhatsApp sent one.
 */
code: string | null, };

export type AgentDto = { id: number, name: string, 
/**
 * The linked number, masked ("+49•••••••••78").
 */
phone: string | null, status: StatusDto, reason: string, lastCode: number | null, hasCredentials: boolean, 
/**
 * Names the live QR without carrying its image: it changes when
 * the QR does. Only what shows the QR asks for its image (`qr_image`),
 * so a thousand rows never carry pictures nobody sees.
 */
qrKey: string | null, qrExpiresAt: number | null, 
/**
 * The 8-character code for linking by phone number.
 */
pairCode: string | null, nextRetryAt: number | null, retryAttempt: number, maxRetries: number, authCooldownUntil: number | null, attemptCooldownUntil: number | null, bannedUntil: number | null, disconnectedAt: number | null, 
/**
 * An old device of this agent is still being logged out of the phone (D-1).
 */
unlinking: boolean, 
/**
 * Since when an outage holds this agent's retry (F-2); `null` otherwise.
 */
heldSince: number | null, 
/**
 * Marked flapping: it keeps dropping (H-2).
 */
flapping: boolean, 
/**
 * New links or user connects of the last 24 h above their settings (H-3); `null` otherwise.
 */
banRisk: BanRiskDto | null, 
/**
 * What Connect would get now; the UI never guesses.
 */
connect: DecisionDto, 
/**
 * A bulk connect admitted it and it waits its turn to start (B-1, R-5).
 */
queued: boolean, 
/**
 * WhatsApp asks this link to be confirmed with a passkey; `null` otherwise.
 */
passkey: PasskeyDto | null, 
/**
 * Grows with every publication of this agent; older ones are dropped.
 */
version: number, };

export type QrImageDto = { 
/**
 * The QR it shows: the agent's `qrKey` when it was rendered.
 */
key: string, 
/**
 * A PNG `data:` URL, which the CSP allows for images.
 */
png: string, };

export type ChurnCallDto = { id: number, at: number, };

export type ChurnChangeDto = { id: number, status: StatusDto, at: number, };

export type ChurnDto = { 
/**
 * Each connect or disconnect the churn made, in order.
 */
calls: Array<ChurnCallDto>, 
/**
 * Each change of status the engine published while the churn ran, in order.
 */
changes: Array<ChurnChangeDto>, 
/**
 * How long the churn ran, in ms.
 */
elapsedMs: number, };

export type TriggerDto = "user" | "auto" | "connector" | "timer" | "startup";

export type HistoryDto = { at: number, from: StatusDto, to: StatusDto, code: number | null, reason: string, trigger: TriggerDto, 
/**
 * The rule that applied; `null` for an entry written by another version
 * with a rule this one does not know.
 */
rule: RuleId | null, };

export type UptimeDto = { connectedMs: number, 
/**
 * Zero for an agent added just now: no share to show yet.
 */
coveredMs: number, };

export type BanRiskDto = { pairings: number, connects: number, pairingsOver: boolean, connectsOver: boolean, };

export type HealthDto = { 
/**
 * The last 24 h.
 */
day: UptimeDto, 
/**
 * The last 7 days.
 */
week: UptimeDto, 
/**
 * Changes from connected to another status in the last 24 h.
 */
disconnects: number, 
/**
 * The median time from a recoverable close to connected again, over
 * 7 days; `null` when none recovered.
 */
medianRecoveryMs: number | null, 
/**
 * When the agent was last connected (the time of asking while it is),
 * in ms since the epoch; `null` when not within 7 days.
 */
lastConnectedAt: number | null, 
/**
 * Recoverable closes within the last 10 minutes (H-2).
 */
recentCloses: number, 
/**
 * Marked flapping (H-2).
 */
flapping: boolean, banRisk: BanRiskDto, };

export type UnitDto = "ms" | "count" | "percent" | "per_second" | "days";

export type SettingDto = { key: string, value: number, min: number, max: number, unit: UnitDto, };

export type SettingChange = { key: string, value: number, };

export type ModeDto = "demo" | "real";

export type ProtectionDto = "keyring" | "passphrase" | "unencrypted" | "not_needed";

export type CredentialsStateDto = { "kind": "ready", protection: ProtectionDto, } | { "kind": "needs_passphrase" } | { "kind": "needs_choice", keyringProblem: string, } | { "kind": "failed", error: IpcError, };

export type ProtectionChoiceDto = { "kind": "passphrase", passphrase: string, } | { "kind": "unencrypted" };

export type IpcError = { 
/**
 * Stable and machine-readable: the UI branches on it.
 */
kind: string, 
/**
 * Plain words for a person.
 */
message: string, };

export type OutageDto = { 
/**
 * When it began.
 */
since: number, 
/**
 * Why, in plain words.
 */
cause: string, 
/**
 * Probes that failed so far.
 */
probes: number, 
/**
 * When the next probe starts; `null` while one runs.
 */
nextProbeAt: number | null, 
/**
 * The agent probing now, if one is.
 */
probing: number | null, 
/**
 * Staff paused automatic reconnects: nothing probes; "Resume" ends it.
 */
paused: boolean, };

export type Snapshot = { mode: ModeDto, agents: Array<AgentDto>, settings: Array<SettingDto>, 
/**
 * Set when the engine could not start (a database from a newer version, say).
 */
startupError: IpcError | null, 
/**
 * Where the database and logs are, to tell staff.
 */
dataDir: string, 
/**
 * What staff must know about the mode, shown as a banner.
 */
modeNote: string | null, 
/**
 * Why changes cannot be saved right now (disk full, database locked or
 * read-only); `null` when saving works.
 */
storageFault: string | null, 
/**
 * How far the wall clock is ahead of the engine's time, in ms (negative:
 * behind). Deadlines are on the engine's time: countdowns subtract it.
 */
wallAheadMs: number, 
/**
 * The outage in progress (F-1…F-3); `null` when there is none.
 */
outage: OutageDto | null, 
/**
 * Outages that began in the last 7 days (H-4).
 */
outagesLastWeek: number, 
/**
 * Warnings that last while their cause does, each a banner: the
 * credentials kept unencrypted (P-7), a WhatsApp Web version that could
 * not be renewed (F-7).
 */
notices: Array<string>, };

export type UiEvent = { "type": "agent", agent: AgentDto, } | { "type": "removed", id: number, } | { "type": "notice", agentId: number, title: string, body: string, } | { "type": "group_notice", title: string, body: string, agentIds: Array<number>, } | { "type": "storage_fault", message: string | null, } | { "type": "resync", agents: Array<AgentDto>, } | { "type": "clock", wallAheadMs: number, } | { "type": "outage", outage: OutageDto | null, 
/**
 * Outages that began in the last 7 days, as saved (H-4).
 */
outagesLastWeek: number, } | { "type": "close_asked" };

export type SimAction = { "action": "scan" } | { "action": "drop", code: number, } | { "action": "silent" } | { "action": "passkey" };

export type BulkActionDto = "connect" | "disconnect" | "remove";

export type BulkOutcomeKind = "connecting" | "in_progress" | "cooldown" | "banned" | "refused" | "disconnected" | "already_disconnected" | "removed" | "gone" | "failed";

export type BulkOutcomeDto = { id: number, name: string, outcome: BulkOutcomeKind, 
/**
 * A refusal's or failure's reason, verbatim; empty otherwise.
 */
reason: string, 
/**
 * When a refusal's block ends, if a deadline decides it.
 */
until: number | null, };

export type AuditActionDto = "add" | "rename" | "remove" | "connect" | "disconnect" | "pair_code" | "bulk_connect" | "bulk_disconnect" | "bulk_remove" | "settings" | "pause_reconnects" | "resume_reconnects" | "try_now" | "simulate" | "unknown";

export type AuditAgentDto = { id: number, name: string, 
/**
 * Its part of a bulk action's outcome; empty for a single action.
 */
outcome: string, };

export type AuditEntryDto = { id: number, at: number, osUser: string, action: AuditActionDto, agents: Array<AuditAgentDto>, outcome: string, detail: string, };

export type AuditQueryDto = { agent?: number, action?: AuditActionDto, since?: number, until?: number, 
/**
 * At most this many, newest first (1 to 5,000).
 */
limit: number, };

export type CloseAction = "ask" | "keep_running" | "quit";

export type DesktopDto = { 
/**
 * "Switchboard 0.1.0 (whatsapp-rust 0.7.0)", as `--version` prints it.
 */
version: string, 
/**
 * A tray icon is shown (closing the window hides it).
 */
tray: boolean, 
/**
 * What closing the window does.
 */
closeAction: CloseAction, 
/**
 * Switchboard starts (minimised) when the person logs in.
 */
autostart: boolean, };
