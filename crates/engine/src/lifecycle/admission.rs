//! Admission of a connect request (SPEC §3), checked in the seed's order:
//! the connection lock, then the persisted status, then the cooldowns.

use std::fmt;
use std::time::Duration;

use super::{AgentRecord, Settings, Status, Trigger, classify};
use crate::clock::Timestamp;

/// The rule that decided, by its SPEC ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    A1,
    A2,
    A3,
    A4,
    A5,
    A6,
}

impl Rule {
    pub fn id(self) -> &'static str {
        match self {
            Rule::A1 => "A-1",
            Rule::A2 => "A-2",
            Rule::A3 => "A-3",
            Rule::A4 => "A-4",
            Rule::A5 => "A-5",
            Rule::A6 => "A-6",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused; `until` is when the same request would pass, if a deadline decides it.
    Blocked {
        until: Option<Timestamp>,
    },
}

/// The answer to `connect`, shown verbatim by the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub rule: Rule,
    pub reason: String,
}

impl Decision {
    fn allowed(rule: Rule, reason: impl Into<String>) -> Self {
        Decision { verdict: Verdict::Allowed, rule, reason: reason.into() }
    }

    fn blocked(rule: Rule, until: Option<Timestamp>, reason: impl Into<String>) -> Self {
        Decision { verdict: Verdict::Blocked { until }, rule, reason: reason.into() }
    }

    pub fn is_allowed(&self) -> bool {
        self.verdict == Verdict::Allowed
    }
}

/// "4:05" for minutes and seconds left, rounding up so "0:00" never shows while blocked.
pub fn format_time_left(left: Duration) -> String {
    let secs = left.as_millis().div_ceil(1_000) as u64;
    if secs >= 3_600 {
        format!("{}:{:02}:{:02}", secs / 3_600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// When the auth cooldown started by `last_auth_failure_at` ends, if it still runs at `now`.
pub fn auth_cooldown_until(record: &AgentRecord, now: Timestamp, settings: &Settings) -> Option<Timestamp> {
    let until = record.last_auth_failure_at?.plus(settings.auth_cooldown);
    (now < until).then_some(until)
}

/// When the attempt cooldown ends, if it still runs at `now`.
pub fn attempt_cooldown_until(record: &AgentRecord, now: Timestamp, settings: &Settings) -> Option<Timestamp> {
    let until = record.last_attempt_at?.plus(settings.attempt_cooldown);
    (now < until).then_some(until)
}

/// The end of a temporary ban, if it still runs.
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
pub fn admit(record: &AgentRecord, trigger: Trigger, now: Timestamp, settings: &Settings) -> Decision {
    let status = record.status;
    // two clicks never start two connections.
    if status.holds_connection() {
        return Decision::blocked(Rule::A1, None, format!("already in progress ({status})"));
    }
    if trigger != Trigger::User {
        return admit_automatic(record, now, settings);
    }
    // the persisted status first. A clean manual disconnect bypasses every cooldown.
    if status == Status::Disconnected {
        return Decision::allowed(Rule::A2, "clean manual disconnect — cooldown bypassed");
    }
    let auth_until = auth_cooldown_until(record, now, settings);
    let mut passed = (Rule::A5, "connecting".to_owned());
    if status == Status::Conflict {
        // an error disconnect waits out its cooldown.
        if let Some(until) = auth_until {
            let reason = format!(
                "Blocked: {} — cooldown {} left; or disconnect first for a clean state",
                close_words(record),
                format_time_left(now.until(until))
            );
            return Decision::blocked(Rule::A3, Some(until), reason);
        }
        passed = (Rule::A3, "cooldown over; still in conflict — disconnect first for a clean state".to_owned());
    } else {
        // any other status, including an unreadable one, respects a running auth cooldown.
        if let Some(until) = auth_until {
            let reason = format!("Blocked: recent auth failure — cooldown {} left", format_time_left(now.until(until)));
            return Decision::blocked(Rule::A4, Some(until), reason);
        }
        // A temporary ban (L-3) is waited out the same way: connecting during it only prolongs it.
        if let Some(until) = ban_until(record, now) {
            let reason = format!("Blocked: banned by WhatsApp — ban ends in {}", format_time_left(now.until(until)));
            return Decision::blocked(Rule::A4, Some(until), reason);
        }
        if status == Status::Reconnecting {
            passed.1 = "scheduled retry cancelled — connecting now".to_owned();
        }
    }
    // two user attempts are at least `attempt_cooldown` apart.
    if let Some(until) = attempt_cooldown_until(record, now, settings) {
        let reason = format!("Blocked: an attempt just started — wait {}", format_time_left(now.until(until)));
        return Decision::blocked(Rule::A5, Some(until), reason);
    }
    Decision::allowed(passed.0, passed.1)
}

/// automatic retries only for agents that wait for one, never in an auth cooldown.
fn admit_automatic(record: &AgentRecord, now: Timestamp, settings: &Settings) -> Decision {
    let status = record.status;
    if status != Status::Reconnecting {
        return Decision::blocked(Rule::A6, None, format!("auto-retry blocked: agent is {status}"));
    }
    if let Some(until) = auth_cooldown_until(record, now, settings) {
        let reason = format!(
            "auto-retry blocked for error scenarios — auth cooldown {} left",
            format_time_left(now.until(until))
        );
        return Decision::blocked(Rule::A6, Some(until), reason);
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
        r
    }

    fn ago(ms: i64) -> Option<Timestamp> {
        Some(Timestamp(NOW.0 - ms))
    }

    /// One row: the record, the trigger, the expected rule, and the expected `until`
    /// (`None` = allowed, `Some(None)` = blocked with no deadline).
    fn check(record: AgentRecord, trigger: Trigger, rule: Rule, blocked_until: Option<Option<Timestamp>>) -> Decision {
        let d = admit(&record, trigger, NOW, &Settings::default());
        assert_eq!(d.rule, rule, "{d:?}");
        match blocked_until {
            None => assert_eq!(d.verdict, Verdict::Allowed, "{d:?}"),
            Some(until) => assert_eq!(d.verdict, Verdict::Blocked { until }, "{d:?}"),
        }
        assert!(!d.reason.is_empty());
        d
    }

    /// SPEC A-1.
    #[test]
    fn a1_an_attempt_in_flight_or_an_open_link_refuses_every_request() {
        for status in [Status::Connecting, Status::QrPending, Status::Connected] {
            let d = check(agent(status), Trigger::User, Rule::A1, Some(None));
            assert!(d.reason.contains("already in progress"));
            check(agent(status), Trigger::Auto, Rule::A1, Some(None));
        }
    }

    /// SPEC A-2.
    #[test]
    fn a2_disconnected_bypasses_auth_and_attempt_cooldowns() {
        let mut r = agent(Status::Disconnected);
        r.last_auth_failure_at = ago(10_000);
        r.last_attempt_at = ago(1);
        let d = check(r, Trigger::User, Rule::A2, None);
        assert_eq!(d.reason, "clean manual disconnect — cooldown bypassed");
    }

    /// SPEC A-3.
    #[test]
    fn a3_conflict_blocks_until_the_cooldown_ends_then_allows_with_a_warning() {
        let mut r = agent(Status::Conflict);
        r.last_code = Some(CloseCode::REPLACED);
        r.last_auth_failure_at = ago(MIN + 18_000);
        let d = check(r.clone(), Trigger::User, Rule::A3, Some(Some(Timestamp(NOW.0 + 4 * MIN - 18_000))));
        assert!(d.reason.contains("(440)") && d.reason.contains("3:42 left"), "{}", d.reason);

        r.last_auth_failure_at = ago(5 * MIN);
        let d = check(r, Trigger::User, Rule::A3, None);
        assert!(d.reason.contains("disconnect first"));
    }

    /// SPEC A-4.
    #[test]
    fn a4_other_statuses_respect_a_running_auth_cooldown() {
        for status in [Status::Failed, Status::Reconnecting, Status::Unreadable] {
            let mut r = agent(status);
            r.next_retry_at = Some(NOW);
            r.last_auth_failure_at = ago(MIN);
            check(r.clone(), Trigger::User, Rule::A4, Some(Some(Timestamp(NOW.0 + 4 * MIN))));
            r.last_auth_failure_at = ago(6 * MIN);
            check(r, Trigger::User, Rule::A5, None);
        }
    }

    /// SPEC A-4.
    #[test]
    fn a4_unreadable_status_without_failure_is_allowed_but_a_temporary_ban_blocks() {
        check(agent(Status::Unreadable), Trigger::User, Rule::A5, None);
        let mut r = agent(Status::Failed);
        r.banned_until = Some(Timestamp(NOW.0 + 60 * MIN));
        let d = check(r, Trigger::User, Rule::A4, Some(Some(Timestamp(NOW.0 + 60 * MIN))));
        assert!(d.reason.contains("1:00:00"), "{}", d.reason);
    }

    /// SPEC A-5.
    #[test]
    fn a5_user_attempts_are_spaced_by_the_attempt_cooldown() {
        let mut r = agent(Status::Failed);
        r.last_attempt_at = ago(2_000);
        let d = check(r.clone(), Trigger::User, Rule::A5, Some(Some(Timestamp(NOW.0 + 3_000))));
        assert!(d.reason.contains("0:03"));
        r.last_attempt_at = ago(5_000);
        check(r, Trigger::User, Rule::A5, None);
    }

    /// SPEC A-5.
    #[test]
    fn a5_a_user_connect_on_a_reconnecting_agent_cancels_the_retry() {
        let mut r = agent(Status::Reconnecting);
        r.next_retry_at = Some(Timestamp(NOW.0 + 30_000));
        let d = check(r, Trigger::User, Rule::A5, None);
        assert!(d.reason.contains("retry cancelled"));
    }

    /// SPEC A-6.
    #[test]
    fn a6_automatic_retries_never_in_an_auth_cooldown_nor_for_conflict_or_failed() {
        for status in [Status::Conflict, Status::Failed, Status::Disconnected, Status::Unreadable] {
            check(agent(status), Trigger::Auto, Rule::A6, Some(None));
        }
        let mut r = agent(Status::Reconnecting);
        r.retry_attempt = 2;
        r.last_auth_failure_at = ago(MIN);
        check(r.clone(), Trigger::Auto, Rule::A6, Some(Some(Timestamp(NOW.0 + 4 * MIN))));
        r.last_auth_failure_at = None;
        // Automatic retries are paced by the backoff, not the attempt cooldown.
        r.last_attempt_at = ago(1);
        let d = check(r, Trigger::Auto, Rule::A6, None);
        assert_eq!(d.reason, "automatic retry 2 of 5");
    }

    #[test]
    fn time_left_rounds_up_and_grows_an_hour_field() {
        assert_eq!(format_time_left(Duration::from_millis(1)), "0:01");
        assert_eq!(format_time_left(Duration::from_secs(222)), "3:42");
        assert_eq!(format_time_left(Duration::from_secs(3_600 + 61)), "1:01:01");
    }
}
