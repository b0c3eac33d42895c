//! The state machine: `(agent, input, now) -> (agent, effects)`.
//!
//! Pure: no IO, no clock, no global state. Randomness (jitter) comes from the
//! caller's RNG. The supervisor feeds inputs in, persists the new record with
//! the history entries, then performs the effects.

use rand::Rng;

use std::time::Duration;

use super::admission::{Decision, Verdict, admit};
use super::agent::{PasskeyPrompt, UnlinkPlan};
use super::{Agent, AgentRecord, Attempt, CloseClass, CloseCode, Rule, Settings, Status, Trigger, backoff, classify};
use crate::clock::Timestamp;

/// What a held agent waits for (F-2), in its row and timeline.
pub const OUTAGE_WAIT: &str = "waiting for WhatsApp to be reachable again (outage)";
/// What a held agent waits for while staff paused automatic reconnects (F-2).
pub const PAUSED_WAIT: &str = "automatic reconnects paused: waiting for staff to resume them";

/// What the row says while WhatsApp waits for a passkey.
pub const PASSKEY_ASKED: &str =
    "WhatsApp asks this account to confirm the link with a passkey, which Switchboard cannot do";

/// What to do instead when a link needs a passkey.
pub const PASSKEY_ADVICE: &str =
    "try linking by phone number, or link the account once in WhatsApp Web in a browser, then try again";

/// The timeline's words when an unlink job begins (D-1).
pub const UNLINKING: &str = "unlinking from the phone…";

/// Everything that can happen to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A connect request: a click, or a due retry (A-rules).
    Connect(Trigger),
    /// A manual disconnect (D-1).
    Disconnect,
    /// The connection shows a (new) QR code.
    Qr(String),
    /// The connection offers a pairing code for linking by phone number.
    PairCode(String),
    /// The phone scanned the QR; credentials are saved.
    Scanned,
    /// The link is open.
    Opened {
        /// The linked number, when the connection reported it; kept in the record.
        phone: Option<String>,
    },
    /// The connection ended with a code (L-rules); `until` ends a temporary ban.
    Closed {
        /// What the close table makes of it (L-1).
        code: CloseCode,
        /// The end of a temporary ban, stored as `banned_until` (L-3).
        until: Option<Timestamp>,
    },
    /// The connection stopped answering keep-alives (O-3).
    KeepAliveLost,
    /// The connection ended because WhatsApp issued no more QR codes.
    QrExhausted,
    /// The attempt ended because the saved credentials could not be opened
    /// for a passing reason: recoverable, credentials kept (L-4).
    CredentialsUnavailable {
        /// The plain-words reason, shown under the badge.
        detail: String,
    },
    /// A stored deadline may have passed: QR expiry or connect timeout.
    DeadlinePassed,
    /// WhatsApp asks this account to confirm the link with a passkey.
    PasskeyRequested,
    /// The verification code of a passkey link.
    PasskeyCode(String),
    /// The passkey link failed, in WhatsApp's or the library's words.
    PasskeyFailed {
        /// What failed.
        detail: String,
    },
    /// WhatsApp cannot be reached from this machine at all: the network
    /// failed before any WhatsApp handshake (F-1). Recoverable; it tells
    /// the fleet at once that this is an outage.
    Unreachable {
        /// What failed, in plain words ("name resolution failed").
        detail: String,
    },
    /// The fleet is in an outage: this agent's retry, due now, is held
    /// until it ends (F-2); an agent that gave up while the outage was
    /// building is held with them (F-3).
    Hold,
    /// The outage is over: a held agent retries now (F-3).
    Release {
        /// It was staff's pause that ended, not WhatsApp's trouble.
        after_pause: bool,
    },
    /// The app started (P-3).
    Startup {
        /// Whether the connector still holds the agent's credentials: files
        /// can go while the app is closed.
        has_credentials: bool,
    },
}

impl Input {
    /// Whether a person asked for this. Their input is answered with the
    /// error when it cannot be saved (they can click again); anything else
    /// happened in the world and must not be forgotten (kept and retried).
    pub fn is_from_user(&self) -> bool {
        matches!(self, Input::Connect(Trigger::User) | Input::Disconnect)
    }
}

/// What the supervisor must do after a step, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Open a connection; `resume` uses the saved credentials (no QR).
    StartConnection {
        /// Whether credentials are saved, so the attempt resumes without a QR.
        resume: bool,
    },
    /// Close the live connection; `logout` unlinks the device first (D-1).
    CloseConnection {
        /// Unlink the device from the phone first; false keeps the link (P-4).
        logout: bool,
    },
    /// Delete the agent's credentials (D-1, auth and fatal closes, P-6).
    ForgetCredentials,
    /// Set the agent's credentials aside for an unlink job, saved with this
    /// step, that logs the device out of the phone later (D-1).
    UnlinkLater,
    /// Tell the fleet what happened to this agent (F-1…F-3).
    Fleet(FleetNews),
    /// Raise a desktop notification: a person must act (L-3, R-2).
    Notify {
        /// What happened, in a few words, for grouping many notices into
        /// one (F-4): "banned by WhatsApp (403)", "gave up retrying".
        kind: String,
        /// The headline, naming the agent ("<name>: needs attention").
        title: String,
        /// The agent's name and the reason, in plain words.
        body: String,
    },
}

/// What the fleet hears of one agent's step: enough to tell an outage
/// (F-1), a probe's outcome (F-2) and an outage's end (F-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetNews {
    /// A linked agent's connection ended for a passing reason (L-4).
    RecoverableClose,
    /// The network failed before reaching WhatsApp (F-1).
    Unreachable(String),
    /// The connection ended any other way (auth, fatal, a kept QR …).
    OtherClose,
    /// The link is open.
    Connected,
    /// The agent gave up retrying.
    GaveUp,
}

/// What the agent's step must know of the world beyond the agent itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Situation {
    /// The fleet is in an outage (F-2): a passing failure is held, not retried.
    pub outage: bool,
    /// The outage is staff's pause of automatic reconnects (F-2): the same
    /// hold, told in its own words.
    pub paused: bool,
    /// The agent is marked flapping (H-2): its next retry waits at least `backoff_cap`.
    pub flapping: bool,
}

/// One history row (O-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// When it happened, for ordering the timeline.
    pub at: Timestamp,
    /// The status before the change.
    pub from: Status,
    /// The status after; equal to `from` for a refusal.
    pub to: Status,
    /// The close code that caused the change, if a close did.
    pub code: Option<CloseCode>,
    /// The plain-words reason, as shown under the badge.
    pub reason: String,
    /// Who or what caused the change.
    pub trigger: Trigger,
    /// The rule that applied (A-2, L-2, R-2 …). `None` only for a stored
    /// entry whose rule this version does not know (written by another one).
    pub rule: Option<Rule>,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The agent after the input; its record is what gets committed.
    pub agent: Agent,
    /// Set for [`Input::Connect`]: the answer the caller gets.
    pub decision: Option<Decision>,
    /// To append in the same transaction as the record (P-1).
    pub history: Vec<HistoryEntry>,
    /// What to do after the commit, in order (P-1).
    pub effects: Vec<Effect>,
}

impl Step {
    /// Whether the persisted record changed (and so must be written).
    pub fn record_changed(&self, before: &AgentRecord) -> bool {
        self.agent.record != *before
    }
}

/// Applies one input. Inputs that make no sense in the current state (a QR
/// for an agent with no attempt, a late close) change nothing (D-2).
pub fn step(
    agent: &Agent,
    input: Input,
    now: Timestamp,
    settings: &Settings,
    situation: Situation,
    rng: &mut impl Rng,
) -> Step {
    let mut m = Machine {
        agent: agent.clone(),
        now,
        settings,
        situation,
        rng,
        history: Vec::new(),
        effects: Vec::new(),
        decision: None,
    };
    match input {
        Input::Connect(trigger) => m.connect(trigger),
        Input::Disconnect => m.disconnect(),
        Input::Qr(code) => m.qr(code),
        Input::PairCode(code) => {
            if let Some(attempt) = m.agent.attempt.as_mut().filter(|a| a.live) {
                attempt.pair_code = Some(code);
            }
        }
        Input::Scanned => m.scanned(),
        Input::Opened { phone } => m.opened(phone),
        Input::Closed { .. } | Input::QrExhausted if m.agent.has_live_connection() && m.passkey_asked() => {
            // the link waited for a passkey; however it ends now, that is why.
            m.agent.attempt.as_mut().expect("live").live = false;
            m.passkey_ended(None, Trigger::Connector);
        }
        Input::DeadlinePassed if m.agent.has_live_connection() && m.passkey_asked() && m.passkey_deadline_passed() => {
            m.close_live(false);
            m.passkey_ended(None, Trigger::Timer);
        }
        Input::PasskeyRequested => m.passkey_requested(),
        Input::PasskeyCode(code) => {
            if let Some(prompt) = m.agent.attempt.as_mut().filter(|a| a.live).and_then(|a| a.passkey.as_mut()) {
                prompt.code = Some(code);
            }
        }
        Input::PasskeyFailed { detail } => {
            if m.agent.has_live_connection() && m.passkey_asked() {
                m.close_live(false);
                m.passkey_ended(Some(&detail), Trigger::Connector);
            }
        }
        Input::Closed { code, until } => {
            if m.agent.has_live_connection() {
                m.agent.attempt.as_mut().expect("live").live = false;
                m.closed(code, until, Trigger::Connector, None);
            }
        }
        Input::KeepAliveLost => {
            if m.agent.record.status == Status::Connected && m.agent.has_live_connection() {
                m.close_live(false);
                m.closed(CloseCode::TIMED_OUT, None, Trigger::Connector, Some(Rule::O3));
            }
        }
        Input::QrExhausted => {
            if m.agent.has_live_connection() {
                m.agent.attempt.as_mut().expect("live").live = false;
                if m.agent.record.status == Status::QrPending {
                    m.qr_expired(Trigger::Connector);
                } else {
                    // The codes ran out after a scan or before any was shown: an ordinary close.
                    m.closed(CloseCode::CONNECTION_CLOSED, None, Trigger::Connector, None);
                }
            }
        }
        Input::CredentialsUnavailable { detail } => {
            if m.agent.has_live_connection() {
                m.agent.attempt.as_mut().expect("live").live = false;
                m.recoverable(None, &detail, Trigger::Connector, Rule::L4);
            }
        }
        Input::Unreachable { detail } => {
            if m.agent.has_live_connection() {
                m.agent.attempt.as_mut().expect("live").live = false;
                m.effects.push(Effect::Fleet(FleetNews::Unreachable(detail.clone())));
                let what = format!("WhatsApp cannot be reached from this machine: {detail}");
                m.recoverable(None, &what, Trigger::Connector, Rule::F1);
            }
        }
        Input::Hold => m.hold(),
        Input::Release { after_pause } => m.release(after_pause),
        Input::DeadlinePassed => m.deadlines(),
        Input::Startup { has_credentials } => m.startup(has_credentials),
    }
    Step { agent: m.agent, decision: m.decision, history: m.history, effects: m.effects }
}

struct Machine<'a, R> {
    agent: Agent,
    now: Timestamp,
    settings: &'a Settings,
    situation: Situation,
    rng: &'a mut R,
    history: Vec<HistoryEntry>,
    effects: Vec<Effect>,
    decision: Option<Decision>,
}

impl<R: Rng> Machine<'_, R> {
    fn record(&mut self) -> &mut AgentRecord {
        &mut self.agent.record
    }

    /// Moves to `to`, keeping the per-status fields consistent, and writes
    /// history. The step is logged by whoever commits it, after the commit:
    /// a change that could not be saved never happened.
    fn transition(&mut self, to: Status, code: Option<CloseCode>, reason: String, trigger: Trigger, rule: Rule) {
        let now = self.now;
        let r = &mut self.agent.record;
        let from = r.status;
        r.status = to;
        r.reason.clone_from(&reason);
        r.last_code = code;
        if to != Status::Disconnected {
            r.disconnected_at = None;
        } else if from != Status::Disconnected || r.disconnected_at.is_none() {
            r.disconnected_at = Some(now);
        }
        if to != Status::Reconnecting {
            r.next_retry_at = None;
            r.held_since = None;
        }
        if to != Status::QrPending {
            r.qr_expires_at = None;
        }
        if !matches!(to, Status::Reconnecting | Status::Connecting) {
            // R-2's count runs only while retrying; whatever ends the
            // retrying ends the count (a start-up without credentials too).
            r.retry_attempt = 0;
        }
        // Clean only where the caller says so, right after (D-1, Q-2, P-3).
        r.clean_disconnect = false;
        self.history.push(HistoryEntry { at: now, from, to, code, reason, trigger, rule: Some(rule) });
    }

    /// A timeline entry that changes no status: a refusal, a kept QR
    /// an unlink beginning (D-1).
    fn note(&mut self, code: Option<CloseCode>, reason: String, trigger: Trigger, rule: Rule) {
        let status = self.agent.record.status;
        self.history.push(HistoryEntry {
            at: self.now,
            from: status,
            to: status,
            code,
            reason,
            trigger,
            rule: Some(rule),
        });
    }

    fn close_live(&mut self, logout: bool) {
        if let Some(attempt) = self.agent.attempt.as_mut().filter(|a| a.live) {
            attempt.live = false;
            self.effects.push(Effect::CloseConnection { logout });
        }
    }

    fn notify(&mut self, kind: String, what: &str) {
        let name = self.agent.record.name.clone();
        self.effects.push(Effect::Notify {
            kind,
            title: format!("{name}: needs attention"),
            body: format!("{name}: {what}"),
        });
    }

    fn connect(&mut self, trigger: Trigger) {
        let decision = admit(&self.agent.record, trigger, self.now, self.settings);
        let status = self.agent.record.status;
        if !decision.is_allowed() {
            // a refusal changes nothing but is still written to the history.
            self.note(None, decision.reason.clone(), trigger, decision.rule);
            // An automatic retry refused by a running auth cooldown waits for its end.
            // A held agent refused as a probe stays held: the outage's end, not
            // the cooldown's, is its next try (F-2).
            if let (Trigger::Auto, Verdict::Blocked { until: Some(until), .. }) = (trigger, decision.verdict) {
                if status == Status::Reconnecting && self.agent.record.held_since.is_none() {
                    self.record().next_retry_at = Some(until);
                }
            }
            self.decision = Some(decision);
            return;
        }
        let now = self.now;
        let r = self.record();
        if decision.rule == Rule::A2 {
            r.last_auth_failure_at = None;
        }
        if trigger == Trigger::User {
            // A person took over: the automatic retry budget starts again.
            r.retry_attempt = 0;
        }
        r.last_attempt_at = Some(now);
        let resume = r.has_credentials;
        self.agent.attempt = Some(Attempt {
            trigger,
            live: true,
            qr: None,
            pair_code: None,
            scanned: false,
            connect_deadline: Some(now.plus(self.settings.connect_timeout)),
            passkey: None,
        });
        self.transition(Status::Connecting, None, decision.reason.clone(), trigger, decision.rule);
        self.effects.push(Effect::StartConnection { resume });
        self.decision = Some(decision);
    }

    fn disconnect(&mut self) {
        let plan = self.agent.unlink_plan();
        self.close_live(plan == UnlinkPlan::LogOutNow);
        self.effects.push(match plan {
            UnlinkPlan::Later => Effect::UnlinkLater,
            UnlinkPlan::LogOutNow | UnlinkPlan::NothingLinked => Effect::ForgetCredentials,
        });
        self.agent.attempt = None;
        let r = self.record();
        r.has_credentials = false;
        // The device is unlinked: the number is no longer this agent's.
        r.phone = None;
        r.last_auth_failure_at = None;
        r.retry_attempt = 0;
        r.banned_until = None;
        // A repeated disconnect refreshes the time of the clean state.
        r.disconnected_at = None;
        self.transition(Status::Disconnected, None, "disconnected by user".into(), Trigger::User, Rule::D1);
        self.record().clean_disconnect = true;
        if plan == UnlinkPlan::Later {
            self.note(None, UNLINKING.into(), Trigger::User, Rule::D1);
        }
    }

    fn qr(&mut self, code: String) {
        let Some(attempt) = self.agent.attempt.as_mut().filter(|a| a.live) else { return };
        if attempt.trigger == Trigger::Auto {
            // a retry never shows a QR. WhatsApp asking to pair again
            // means it rejected the saved credentials: classified like a
            // logout (L-2), so the auth cooldown starts and no error ever
            // unlocks the bypass of A-2.
            self.close_live(false);
            self.closed(CloseCode::LOGGED_OUT, None, Trigger::Connector, Some(Rule::R4));
            return;
        }
        if attempt.scanned
            || attempt.passkey.is_some()
            || !matches!(self.agent.record.status, Status::Connecting | Status::QrPending)
        {
            // A late code, after the scan, during a passkey request or on an open link: nothing to scan.
            return;
        }
        attempt.qr = Some(code);
        attempt.connect_deadline = None;
        // A person's resume shown a QR: WhatsApp refused the saved
        // credentials, and the person may pair anew. The new pairing is
        // written into the same store, so nothing is deleted.
        self.record().has_credentials = false;
        if self.agent.record.status == Status::Connecting {
            // the expiry is set at the first code of the attempt and not moved by rotations.
            let expires = self.now.plus(self.settings.qr_lifetime);
            self.transition(
                Status::QrPending,
                None,
                "scan the QR code with WhatsApp".into(),
                Trigger::Connector,
                Rule::Q1,
            );
            self.record().qr_expires_at = Some(expires);
        }
    }

    fn scanned(&mut self) {
        let Some(attempt) = self.agent.attempt.as_mut().filter(|a| a.live) else { return };
        attempt.scanned = true;
        attempt.qr = None;
        attempt.pair_code = None;
        attempt.connect_deadline = Some(self.now.plus(self.settings.connect_timeout));
        self.record().has_credentials = true;
        if self.agent.record.status != Status::Connecting {
            self.transition(
                Status::Connecting,
                None,
                "QR scanned — finishing pairing".into(),
                Trigger::Connector,
                Rule::Q3,
            );
        }
    }

    fn opened(&mut self, phone: Option<String>) {
        let Some(attempt) = self.agent.attempt.as_mut().filter(|a| a.live) else { return };
        attempt.qr = None;
        attempt.pair_code = None;
        attempt.connect_deadline = None;
        let r = self.record();
        if phone.is_some() {
            r.phone = phone;
        }
        r.has_credentials = true;
        r.retry_attempt = 0;
        r.banned_until = None;
        self.transition(Status::Connected, None, "connected".into(), Trigger::Connector, Rule::R3);
        self.effects.push(Effect::Fleet(FleetNews::Connected));
    }

    /// The connection is gone (already marked not live); classify why (L-rules).
    /// `rule` names the rule that closed it when it was not the connection
    /// itself (O-3's dead keep-alive, R-6's timeout).
    fn closed(&mut self, code: CloseCode, until: Option<Timestamp>, trigger: Trigger, rule: Option<Rule>) {
        // The one classification of this close; everything below reads it.
        let close = classify(code);
        let scanned = self.agent.attempt.as_ref().is_some_and(|a| a.scanned);
        let qr_shown = self.agent.record.status == Status::QrPending;
        if !matches!(close.class, CloseClass::Recoverable | CloseClass::RestartRequired) {
            self.effects.push(Effect::Fleet(FleetNews::OtherClose));
        }
        match close.class {
            CloseClass::Auth => {
                self.drop_credentials();
                self.agent.attempt = None;
                let now = self.now;
                let r = self.record();
                r.last_auth_failure_at = Some(now); // L-2
                r.retry_attempt = 0;
                let reason = format!("{} ({code}) — {}", close.name, close.advice);
                self.transition(Status::Conflict, Some(code), reason, trigger, Rule::L2);
            }
            CloseClass::Fatal => {
                if close.clears_credentials {
                    self.drop_credentials();
                }
                self.agent.attempt = None;
                self.record().retry_attempt = 0;
                let ban = until.filter(|u| *u > self.now);
                self.record().banned_until = ban;
                // The reason stays true as long as the status lasts; the
                // window counts the ban down from `banned_until`.
                let reason = match ban {
                    Some(_) => format!("temporarily banned by WhatsApp ({code}) — Connect waits for the ban to end"),
                    None => format!("{} ({code}) — {}", close.name, close.advice),
                };
                let notice = match ban {
                    Some(u) => {
                        format!("temporarily banned by WhatsApp ({code}) for {}", format_time_left(self.now.until(u)))
                    }
                    None => reason.clone(),
                };
                let kind = match ban {
                    Some(_) => format!("temporarily banned ({code})"),
                    None => format!("{} ({code})", close.name),
                };
                self.notify(kind, &notice);
                self.transition(Status::Failed, Some(code), reason, trigger, Rule::L3);
            }
            CloseClass::RestartRequired if qr_shown && !scanned => {
                self.effects.push(Effect::Fleet(FleetNews::OtherClose));
                // keep the QR on screen for the person who is about to scan it.
                let reason = "stream restart while a QR is shown — QR kept, no retry".into();
                self.note(Some(code), reason, trigger, Rule::Q3);
            }
            CloseClass::RestartRequired if scanned => {
                self.effects.push(Effect::Fleet(FleetNews::OtherClose));
                // the phone paired; restart after `backoff_base` to finish.
                let reason = format!("QR scanned — restarting to finish pairing ({code})");
                let named = format!("{} ({code})", close.name);
                self.schedule_retry(Some(code), &named, Some(self.settings.backoff_base), reason, trigger, Rule::Q3);
            }
            CloseClass::Recoverable | CloseClass::RestartRequired => {
                self.recoverable(Some(code), close.name, trigger, rule.unwrap_or(Rule::L4));
            }
        }
    }

    /// A passing failure (L-4): `what` failed, with `code` when WhatsApp
    /// closed the connection. Retried from the saved credentials; with none,
    /// an error's `disconnected`.
    fn recoverable(&mut self, code: Option<CloseCode>, what: &str, trigger: Trigger, rule: Rule) {
        let named = match code {
            Some(code) => format!("{what} ({code})"),
            None => what.to_owned(),
        };
        if !self.agent.record.has_credentials {
            // Nothing to resume from, and a retry must not show a QR:
            // the person can retry at once.
            self.agent.attempt = None;
            let reason = format!("could not connect: {named} — click Connect to try again");
            self.transition(Status::Disconnected, code, reason, trigger, Rule::R4);
            return;
        }
        if code.is_some() {
            // WhatsApp or the way to it closed a linked agent's connection:
            // one of the closes that may add up to an outage (F-1). (Without
            // a code the network said so itself, or the trouble is this
            // machine's files, no outage's.)
            self.effects.push(Effect::Fleet(FleetNews::RecoverableClose));
        }
        if self.situation.outage {
            // F-2: the fleet's trouble, not this agent's: no retry of its
            // own, and none counted against `max_retries`.
            self.agent.attempt = None;
            let reason = format!("{named} — {}", self.wait_words());
            self.transition(Status::Reconnecting, code, reason, trigger, Rule::F2);
            self.hold_retry();
            return;
        }
        let k = self.agent.record.retry_attempt + 1;
        let reason = format!("{named} — retry {k} of {}", self.settings.max_retries);
        self.schedule_retry(code, &named, None, reason, trigger, rule);
    }

    /// F-2/F-3: an outage holds this agent's retry: one that is due now, or
    /// one given up on while the outage was building (R-2, credentials
    /// kept). Its failures so far were the fleet's, so its count restarts.
    fn hold(&mut self) {
        let r = &self.agent.record;
        let status = r.status;
        let retrying = status == Status::Reconnecting && r.held_since.is_none();
        let gave_up = status == Status::Failed && r.has_credentials && r.banned_until.is_none();
        if !self.situation.outage || !(retrying || gave_up) || self.agent.attempt.is_some() {
            return;
        }
        self.record().retry_attempt = 0;
        let reason = match status {
            Status::Failed => format!("gave up during an outage — {}", self.wait_words()),
            _ => format!("retry held — {}", self.wait_words()),
        };
        self.transition(Status::Reconnecting, None, reason, Trigger::Auto, Rule::F2);
        self.hold_retry();
    }

    /// What a held agent waits for, in its row and timeline (F-2).
    fn wait_words(&self) -> &'static str {
        if self.situation.paused { PAUSED_WAIT } else { OUTAGE_WAIT }
    }

    /// F-2: the retry waits for the outage's end, not for a time.
    fn hold_retry(&mut self) {
        let now = self.now;
        let r = self.record();
        r.held_since = Some(now);
        r.next_retry_at = None;
    }

    /// F-3: the outage is over; a held agent's retry is due now (the fleet
    /// paces the starts, R-5).
    fn release(&mut self, after_pause: bool) {
        if self.agent.record.held_since.is_none() {
            return;
        }
        let now = self.now;
        let reason = if after_pause {
            "automatic reconnects resumed by staff — resuming".to_owned()
        } else {
            "WhatsApp is reachable again — resuming".to_owned()
        };
        self.transition(Status::Reconnecting, None, reason, Trigger::Auto, Rule::F3);
        self.record().held_since = None;
        self.record().next_retry_at = Some(now);
    }

    /// count the failed attempt and schedule the next (`reason`
    /// says why), or give up naming the last failure (`named`). `fixed_delay`
    /// replaces the backoff.
    fn schedule_retry(
        &mut self,
        code: Option<CloseCode>,
        named: &str,
        fixed_delay: Option<Duration>,
        reason: String,
        trigger: Trigger,
        rule: Rule,
    ) {
        self.agent.attempt = None;
        let k = self.agent.record.retry_attempt + 1;
        let max = self.settings.max_retries;
        if k > max {
            let reason = format!("gave up after {max} attempts (last: {named})");
            self.record().retry_attempt = 0;
            self.notify("gave up retrying".into(), &reason);
            self.effects.push(Effect::Fleet(FleetNews::GaveUp));
            self.transition(Status::Failed, code, reason, trigger, Rule::R2);
            return;
        }
        let mut delay = fixed_delay.unwrap_or_else(|| backoff::retry_delay(k, self.settings, self.rng));
        let (mut reason, mut rule) = (reason, rule);
        if self.situation.flapping && fixed_delay.is_none() && delay < self.settings.backoff_cap {
            // H-2: an agent that keeps dropping does not come back quickly.
            delay = self.settings.backoff_cap;
            reason = format!("{reason} (flapping: waits the longest delay)");
            rule = Rule::H2;
        }
        let at = self.now.plus(delay);
        self.record().retry_attempt = k;
        self.transition(Status::Reconnecting, code, reason, trigger, rule);
        self.record().next_retry_at = Some(at);
    }

    fn drop_credentials(&mut self) {
        self.effects.push(Effect::ForgetCredentials);
        self.record().has_credentials = false;
    }

    fn deadlines(&mut self) {
        let now = self.now;
        let status = self.agent.record.status;
        if status == Status::QrPending && self.agent.record.qr_expires_at.is_some_and(|t| t <= now) {
            self.close_live(false);
            self.qr_expired(Trigger::Timer);
            return;
        }
        let timed_out = self.agent.attempt.as_ref().and_then(|a| a.connect_deadline).is_some_and(|t| t <= now);
        if timed_out && self.agent.has_live_connection() {
            // neither a QR nor an open link in time counts as a 408.
            self.close_live(false);
            self.closed(CloseCode::TIMED_OUT, None, Trigger::Timer, Some(Rule::R6));
        }
    }

    /// Whether WhatsApp asked this attempt for a passkey.
    fn passkey_asked(&self) -> bool {
        self.agent.attempt.as_ref().is_some_and(|a| a.passkey.is_some())
    }

    /// Whether the passkey's time to be confirmed has passed.
    fn passkey_deadline_passed(&self) -> bool {
        self.agent.attempt.as_ref().and_then(|a| a.connect_deadline).is_some_and(|t| t <= self.now)
    }

    /// WhatsApp asks this account to confirm the link with a passkey.
    /// The QR is done with; the person gets the QR's lifetime to act.
    fn passkey_requested(&mut self) {
        let now = self.now;
        let lifetime = self.settings.qr_lifetime;
        let Some(attempt) = self.agent.attempt.as_mut().filter(|a| a.live) else { return };
        if attempt.passkey.is_some() || !matches!(self.agent.record.status, Status::Connecting | Status::QrPending) {
            return;
        }
        attempt.passkey = Some(PasskeyPrompt::default());
        attempt.qr = None;
        attempt.pair_code = None;
        attempt.connect_deadline = Some(now.plus(lifetime));
        self.record().qr_expires_at = None;
        self.transition(Status::Connecting, None, PASSKEY_ASKED.into(), Trigger::Connector, Rule::Q5);
    }

    /// a link that needed a passkey ended without one: a clean state, as
    /// after an expired QR, with the reason in words (never a 408).
    fn passkey_ended(&mut self, detail: Option<&str>, trigger: Trigger) {
        let reason = match detail {
            Some(detail) => format!("passkey linking failed: {detail} — {PASSKEY_ADVICE}"),
            None => {
                format!("WhatsApp wanted a passkey for this link, which Switchboard cannot confirm — {PASSKEY_ADVICE}")
            }
        };
        self.unlinked_attempt_ended(reason, trigger, Rule::Q5);
    }

    /// an unscanned QR ends the attempt in a clean state (the connection is already closed).
    fn qr_expired(&mut self, trigger: Trigger) {
        self.unlinked_attempt_ended("QR expired — click Connect for a new one".into(), trigger, Rule::Q2);
    }

    /// An attempt that linked nothing ends in a clean state: the half-made
    /// pairing is forgotten, and Connect is allowed at once. Its
    /// connection is closed already.
    fn unlinked_attempt_ended(&mut self, reason: String, trigger: Trigger, rule: Rule) {
        self.effects.push(Effect::ForgetCredentials);
        self.agent.attempt = None;
        self.record().has_credentials = false;
        self.transition(Status::Disconnected, None, reason, trigger, rule);
        self.record().clean_disconnect = true;
    }

    fn startup(&mut self, has_credentials: bool) {
        self.bound_stored_times();
        // Credentials the record does not know: the phone paired and the app
        // stopped before the scan was saved, or before a forget deleted them.
        // The phone lists that device, so it is unlinked like D-1's (P-5).
        let unrecorded = has_credentials && !self.agent.record.has_credentials;
        // Trust the connector about whether credentials really exist; the
        // correction is saved with the step, like any other change.
        self.record().has_credentials &= has_credentials;
        let r = &self.agent.record;
        let linked = r.has_credentials;
        match r.status {
            // A `reconnecting` agent keeps its stored retry time (P-2).
            Status::Reconnecting if linked => {}
            Status::Connected | Status::Connecting if linked => {
                let now = self.now;
                self.transition(
                    Status::Reconnecting,
                    None,
                    "resuming after restart".into(),
                    Trigger::Startup,
                    Rule::P3,
                );
                self.record().next_retry_at = Some(now);
            }
            Status::QrPending | Status::Connecting | Status::Connected | Status::Reconnecting => {
                if !unrecorded {
                    self.effects.push(Effect::ForgetCredentials);
                }
                self.record().has_credentials = false;
                let reason = "QR expired while the app was closed".into();
                self.transition(Status::Disconnected, None, reason, Trigger::Startup, Rule::P3);
                self.record().clean_disconnect = true;
            }
            // `disconnected`, `conflict`, `failed` and unreadable rows stay as they are.
            Status::Disconnected | Status::Conflict | Status::Failed | Status::Unreadable => {}
        }
        if unrecorded {
            self.effects.push(Effect::UnlinkLater);
            let reason = format!("{UNLINKING} (a device paired while the app stopped)");
            self.note(None, reason, Trigger::Startup, Rule::P3);
        }
        self.agent.attempt = None;
    }
}

impl<R> Machine<'_, R> {
    /// F-5 at start-up: stored times are used as they are, but the wall
    /// clock may have been set back while the app was closed, leaving them
    /// in the future; then no wait may last longer than its setting allows.
    /// What happened (an auth failure, an attempt, a disconnect) happened at
    /// the latest now; a retry is at most R-1's longest delay ahead; a QR
    /// lives at most its lifetime. A ban's end is WhatsApp's word, with no
    /// setting to bound it: it stays as stored (Disconnect clears it, A-2).
    fn bound_stored_times(&mut self) {
        let now = self.now;
        let latest_retry = now.plus(backoff::longest_delay(self.settings));
        let latest_qr_expiry = now.plus(self.settings.qr_lifetime);
        let r = &mut self.agent.record;
        let before = r.clone();
        for happened in [&mut r.last_auth_failure_at, &mut r.last_attempt_at, &mut r.disconnected_at] {
            *happened = happened.map(|at| at.min(now));
        }
        r.next_retry_at = r.next_retry_at.map(|at| at.min(latest_retry));
        r.qr_expires_at = r.qr_expires_at.map(|at| at.min(latest_qr_expiry));
        if *r != before {
            let status = r.status;
            self.history.push(HistoryEntry {
                at: now,
                from: status,
                to: status,
                code: None,
                reason: "the clock is behind the saved times: waits shortened to what their settings allow".into(),
                trigger: Trigger::Startup,
                rule: Some(Rule::F5),
            });
        }
    }
}

/// "4:05" for minutes and seconds left, rounding up so "0:00" never shows
/// while something still runs. Only for words written once (a notification);
/// anything shown for a while counts down in the window.
fn format_time_left(left: Duration) -> String {
    let secs = left.as_millis().div_ceil(1_000);
    if secs >= 3_600 {
        format!("{}:{:02}:{:02}", secs / 3_600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_rounds_up_and_grows_an_hour_field() {
        assert_eq!(format_time_left(Duration::from_millis(1)), "0:01");
        assert_eq!(format_time_left(Duration::from_secs(222)), "3:42");
        assert_eq!(format_time_left(Duration::from_secs(3_600 + 61)), "1:01:01");
    }
}
