//! Admission of a connect request (RULES.md §3), checked in the seed's order:
//! the connection lock, then the persisted status, then the cooldowns.

use super::{AgentRecord, Rule, Settings, Status, Trigger, classify};
use crate::clock::Timestamp;

/// What blocks a connect request. The UI draws its countdown from the
/// decision's `until`, never from words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockKind {
    /// An attempt is in flight or the link is open; no end time.
    InProgress,
    /// Two user attempts must be `attempt_cooldown` apart.
    AttemptCooldown,
    /// The auth cooldown after a 401/440 runs.
    AuthCooldown,
    /// WhatsApp banned the number until a known time.
    Ban,
    /// An automatic connect for an agent that is not waiting for a retry.
    NotRetrying,
}

/// Allowed, or blocked by what and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The connect goes ahead: an attempt starts now.
    Allowed,
    /// Refused; `until` is when the same request would pass, if a deadline decides it.
    Blocked {
        /// What blocks it, so the UI can say so without parsing words.
        kind: BlockKind,
        /// When the block ends, for the window's countdown; `None` when no deadline decides it.
        until: Option<Timestamp>,
    },
}

/// The answer to `connect`. The reason holds no countdown: it stays true
/// while the block runs, and the window counts down from the verdict's `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed, or blocked by what and until when.
    pub verdict: Verdict,
    /// The rule that decided, for the history and the logs.
    pub rule: Rule,
    /// The words shown to the person, verbatim; never a countdown.
    pub reason: String,
}

impl Decision {
    fn allowed(rule: Rule, reason: impl Into<String>) -> Self {
        Decision { verdict: Verdict::Allowed, rule, reason: reason.into() }
    }

    fn blocked(rule: Rule, kind: BlockKind, until: Option<Timestamp>, reason: impl Into<String>) -> Self {
        Decision { verdict: Verdict::Blocked { kind, until }, rule, reason: reason.into() }
    }

    /// Whether the connect goes ahead.
    #[must_use]
    pub fn is_allowed(&self) -> bool {
        self.verdict == Verdict::Allowed
    }
}

/// When the auth cooldown started by `last_auth_failure_at` ends, if it still runs at `now`.
#[must_use]
pub fn auth_cooldown_until(record: &AgentRecord, now: Timestamp, settings: &Settings) -> Option<Timestamp> {
    let until = record.last_auth_failure_at?.plus(settings.auth_cooldown);
    (now < until).then_some(until)
}

/// When the attempt cooldown ends, if it still runs at `now`.
#[must_use]
pub fn attempt_cooldown_until(record: &AgentRecord, now: Timestamp, settings: &Settings) -> Option<Timestamp> {
    let until = record.last_attempt_at?.plus(settings.attempt_cooldown);
    (now < until).then_some(until)
}

/// The end of a temporary ban, if it still runs.
#[must_use]
pub fn ban_until(record: &AgentRecord, now: Timestamp) -> Option<Timestamp> {
    record.banned_until.filter(|until| now < *until)
}

fn close_words(record: &AgentRecord) -> String {
    match record.last_code {
        Some(code) => format!("{} ({code})", classify(code).name),
        None => "an auth error".to_owned(),
    }
}

/// Decides a connect request. Pure: the caller applies what an allowed
/// decision implies (A-2 clears the auth failure, A-5 cancels a scheduled retry).
#[must_use]
pub fn admit(record: &AgentRecord, trigger: Trigger, now: Timestamp, settings: &Settings) -> Decision {
    let status = record.status;
    // two clicks never start two connections.
    if status.holds_connection() {
        return Decision::blocked(Rule::A1, BlockKind::InProgress, None, format!("already in progress ({status})"));
    }
    if trigger != Trigger::User {
        return admit_automatic(record, now, settings);
    }
    // the persisted status first. A clean manual disconnect bypasses
    // every cooldown; a `disconnected` an error left is treated like any
    // other status below.
    if status == Status::Disconnected && record.clean_disconnect {
        return Decision::allowed(Rule::A2, "clean manual disconnect — cooldown bypassed");
    }
    let auth_until = auth_cooldown_until(record, now, settings);
    let mut passed = (Rule::A5, "connecting");
    if status == Status::Conflict {
        // an error disconnect waits out its cooldown.
        if let Some(until) = auth_until {
            let reason = format!(
                "Blocked: {} — wait for the auth cooldown, or disconnect first for a clean state",
                close_words(record)
            );
            return Decision::blocked(Rule::A3, BlockKind::AuthCooldown, Some(until), reason);
        }
        passed = (Rule::A3, "cooldown over; still in conflict — disconnect first for a clean state");
    } else {
        // any other status, including an unreadable one, respects a running auth cooldown.
        if let Some(until) = auth_until {
            let reason = "Blocked: recent auth failure — wait for the auth cooldown";
            return Decision::blocked(Rule::A4, BlockKind::AuthCooldown, Some(until), reason);
        }
        // A temporary ban (L-3) is waited out the same way: connecting during it only prolongs it.
        if let Some(until) = ban_until(record, now) {
            let reason = "Blocked: banned by WhatsApp — wait for the ban to end";
            return Decision::blocked(Rule::A4, BlockKind::Ban, Some(until), reason);
        }
        if status == Status::Reconnecting {
            passed.1 = "scheduled retry cancelled — connecting now";
        }
    }
    // two user attempts are at least `attempt_cooldown` apart.
    if let Some(until) = attempt_cooldown_until(record, now, settings) {
        let reason = "Blocked: an attempt just started — wait a moment";
        return Decision::blocked(Rule::A5, BlockKind::AttemptCooldown, Some(until), reason);
    }
    Decision::allowed(passed.0, passed.1)
}

/// automatic retries only for agents that wait for one, never in an auth cooldown.
fn admit_automatic(record: &AgentRecord, now: Timestamp, settings: &Settings) -> Decision {
    let status = record.status;
    if status != Status::Reconnecting {
        let reason = format!("auto-retry blocked: agent is {status}");
        return Decision::blocked(Rule::A6, BlockKind::NotRetrying, None, reason);
    }
    if let Some(until) = auth_cooldown_until(record, now, settings) {
        let reason = "auto-retry blocked for error scenarios — waiting for the auth cooldown";
        return Decision::blocked(Rule::A6, BlockKind::AuthCooldown, Some(until), reason);
    }
    Decision::allowed(Rule::A6, format!("automatic retry {} of {}", record.retry_attempt, settings.max_retries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{AgentId, CloseCode};

    const MIN: i64 = 60_000;
    const NOW: Timestamp = Timestamp(1_000 * MIN);

    fn agent(status: Status) -> AgentRecord {
        let mut r = AgentRecord::new(AgentId(1), "a".into(), NOW);
        r.status = status;
        r.disconnected_at = None;
        r.clean_disconnect = status == Status::Disconnected;
        r
    }

    // Wrapped because every caller assigns it to an optional record field.
    #[allow(clippy::unnecessary_wraps)]
    fn ago(ms: i64) -> Option<Timestamp> {
        Some(Timestamp(NOW.0 - ms))
    }

    /// One row: the record, the trigger, the expected rule, and the expected
    /// block (`None` = allowed). A reason is never empty and never holds a
    /// countdown: the window draws that from `until`.
    fn check(
        record: &AgentRecord,
        trigger: Trigger,
        rule: Rule,
        blocked: Option<(BlockKind, Option<Timestamp>)>,
    ) -> Decision {
        let d = admit(record, trigger, NOW, &Settings::default());
        assert_eq!(d.rule, rule, "{d:?}");
        match blocked {
            None => assert_eq!(d.verdict, Verdict::Allowed, "{d:?}"),
            Some((kind, until)) => assert_eq!(d.verdict, Verdict::Blocked { kind, until }, "{d:?}"),
        }
        assert!(!d.reason.is_empty());
        let clock_time = |w: &[u8]| w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit();
        assert!(!d.reason.as_bytes().windows(3).any(clock_time), "a countdown in {:?}", d.reason);
        d
    }

    ///
    #[test]
    fn a1_an_attempt_in_flight_or_an_open_link_refuses_every_request() {
        for status in [Status::Connecting, Status::QrPending, Status::Connected] {
            let d = check(&agent(status), Trigger::User, Rule::A1, Some((BlockKind::InProgress, None)));
            assert!(d.reason.contains("already in progress"));
            check(&agent(status), Trigger::Auto, Rule::A1, Some((BlockKind::InProgress, None)));
        }
    }

    ///
    #[test]
    fn a2_disconnected_bypasses_auth_and_attempt_cooldowns() {
        let mut r = agent(Status::Disconnected);
        r.last_auth_failure_at = ago(10_000);
        r.last_attempt_at = ago(1);
        let d = check(&r, Trigger::User, Rule::A2, None);
        assert_eq!(d.reason, "clean manual disconnect — cooldown bypassed");
    }

    /// a `disconnected` that an error left (no person, no QR expiry)
    /// bypasses nothing: the auth and attempt cooldowns apply.
    #[test]
    fn a2_an_errors_disconnected_does_not_bypass_the_cooldowns() {
        let mut r = agent(Status::Disconnected);
        r.clean_disconnect = false;
        r.last_attempt_at = ago(1_000);
        check(&r, Trigger::User, Rule::A5, Some((BlockKind::AttemptCooldown, Some(Timestamp(NOW.0 + 4_000)))));
        r.last_auth_failure_at = ago(MIN);
        check(&r, Trigger::User, Rule::A4, Some((BlockKind::AuthCooldown, Some(Timestamp(NOW.0 + 4 * MIN)))));
        r.last_auth_failure_at = None;
        r.last_attempt_at = ago(5_000);
        check(&r, Trigger::User, Rule::A5, None);
    }

    ///
    #[test]
    fn a3_conflict_blocks_until_the_cooldown_ends_then_allows_with_a_warning() {
        let mut r = agent(Status::Conflict);
        r.last_code = Some(CloseCode::REPLACED);
        r.last_auth_failure_at = ago(MIN + 18_000);
        let until = Timestamp(NOW.0 + 4 * MIN - 18_000);
        let d = check(&r, Trigger::User, Rule::A3, Some((BlockKind::AuthCooldown, Some(until))));
        assert!(d.reason.contains("(440)") && d.reason.contains("disconnect first"), "{}", d.reason);

        r.last_auth_failure_at = ago(5 * MIN);
        let d = check(&r, Trigger::User, Rule::A3, None);
        assert!(d.reason.contains("disconnect first"));
    }

    ///
    #[test]
    fn a4_other_statuses_respect_a_running_auth_cooldown() {
        for status in [Status::Failed, Status::Reconnecting, Status::Unreadable] {
            let mut r = agent(status);
            r.next_retry_at = Some(NOW);
            r.last_auth_failure_at = ago(MIN);
            check(&r, Trigger::User, Rule::A4, Some((BlockKind::AuthCooldown, Some(Timestamp(NOW.0 + 4 * MIN)))));
            r.last_auth_failure_at = ago(6 * MIN);
            check(&r, Trigger::User, Rule::A5, None);
        }
    }

    ///
    #[test]
    fn a4_unreadable_status_without_failure_is_allowed_but_a_temporary_ban_blocks() {
        check(&agent(Status::Unreadable), Trigger::User, Rule::A5, None);
        let mut r = agent(Status::Failed);
        r.banned_until = Some(Timestamp(NOW.0 + 60 * MIN));
        let d = check(&r, Trigger::User, Rule::A4, Some((BlockKind::Ban, Some(Timestamp(NOW.0 + 60 * MIN)))));
        assert!(d.reason.contains("ban"), "{}", d.reason);
    }

    ///
    #[test]
    fn a5_user_attempts_are_spaced_by_the_attempt_cooldown() {
        let mut r = agent(Status::Failed);
        r.last_attempt_at = ago(2_000);
        check(&r, Trigger::User, Rule::A5, Some((BlockKind::AttemptCooldown, Some(Timestamp(NOW.0 + 3_000)))));
        r.last_attempt_at = ago(5_000);
        check(&r, Trigger::User, Rule::A5, None);
    }

    ///
    #[test]
    fn a5_a_user_connect_on_a_reconnecting_agent_cancels_the_retry() {
        let mut r = agent(Status::Reconnecting);
        r.next_retry_at = Some(Timestamp(NOW.0 + 30_000));
        let d = check(&r, Trigger::User, Rule::A5, None);
        assert!(d.reason.contains("retry cancelled"));
    }

    ///
    #[test]
    fn a6_automatic_retries_never_in_an_auth_cooldown_nor_for_conflict_or_failed() {
        for status in [Status::Conflict, Status::Failed, Status::Disconnected, Status::Unreadable] {
            check(&agent(status), Trigger::Auto, Rule::A6, Some((BlockKind::NotRetrying, None)));
        }
        let mut r = agent(Status::Reconnecting);
        r.retry_attempt = 2;
        r.last_auth_failure_at = ago(MIN);
        check(&r, Trigger::Auto, Rule::A6, Some((BlockKind::AuthCooldown, Some(Timestamp(NOW.0 + 4 * MIN)))));
        r.last_auth_failure_at = None;
        // Automatic retries are paced by the backoff, not the attempt cooldown.
        r.last_attempt_at = ago(1);
        let d = check(&r, Trigger::Auto, Rule::A6, None);
        assert_eq!(d.reason, "automatic retry 2 of 5");
    }
}
