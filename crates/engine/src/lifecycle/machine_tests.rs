//! Table tests of the state machine, one or more per rule of `docs/RULES.md`.

use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::*;
use crate::clock::Timestamp;

const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;

struct Harness {
    agent: Agent,
    now: Timestamp,
    settings: Settings,
    situation: Situation,
    rng: SmallRng,
    last: Option<Step>,
    /// What the last step told the fleet, taken out of its effects: the
    /// tables below are about the agent; the fleet's news have their own.
    news: Vec<FleetNews>,
}

impl Harness {
    fn new() -> Self {
        let now = Timestamp(100 * MIN);
        let record = AgentRecord::new(AgentId(7), "Support 1".into(), now);
        Harness {
            agent: Agent::new(record),
            now,
            settings: Settings::default(),
            situation: Situation::default(),
            rng: SmallRng::seed_from_u64(1),
            last: None,
            news: Vec::new(),
        }
    }

    fn feed(&mut self, input: Input) -> &Step {
        let mut step = step(&self.agent, input, self.now, &self.settings, self.situation, &mut self.rng);
        self.news.clear();
        step.effects.retain(|effect| match effect {
            Effect::Fleet(news) => {
                self.news.push(news.clone());
                false
            }
            _ => true,
        });
        self.agent = step.agent.clone();
        self.agent.record.check_invariants().unwrap();
        self.last = Some(step);
        self.last.as_ref().unwrap()
    }

    fn advance(&mut self, ms: i64) {
        self.now = Timestamp(self.now.0 + ms);
    }

    fn status(&self) -> Status {
        self.agent.record.status
    }

    fn effects(&self) -> &[Effect] {
        &self.last.as_ref().unwrap().effects
    }

    /// Connect (user), show a QR, scan, open: a linked, connected agent.
    fn connected() -> Self {
        let mut h = Harness::new();
        h.feed(Input::Connect(Trigger::User));
        h.feed(Input::Qr("qr-1".into()));
        h.feed(Input::Scanned);
        h.feed(Input::Opened { phone: Some("+4915112345678".into()) });
        assert_eq!(h.status(), Status::Connected);
        h
    }

    fn close(&mut self, code: u16) -> &Step {
        self.feed(Input::Closed { code: CloseCode(code), until: None })
    }
}

///
#[test]
fn a2_connect_from_disconnected_starts_a_fresh_pairing_and_clears_the_auth_failure() {
    let mut h = Harness::new();
    h.agent.record.last_auth_failure_at = Some(h.now);
    let step = h.feed(Input::Connect(Trigger::User));
    assert_eq!(step.decision.as_ref().unwrap().rule, Rule::A2);
    assert_eq!(step.effects, [Effect::StartConnection { resume: false }]);
    assert_eq!(h.status(), Status::Connecting);
    assert_eq!(h.agent.record.last_auth_failure_at, None);
    assert_eq!(h.agent.record.last_attempt_at, Some(h.now));
}

///
#[test]
fn a7_a_refused_connect_changes_nothing_but_is_written_to_history() {
    let mut h = Harness::connected();
    let before = h.agent.clone();
    let step = h.feed(Input::Connect(Trigger::User)).clone();
    assert_eq!(step.agent, before);
    assert!(step.effects.is_empty());
    assert_eq!(step.history.len(), 1);
    assert_eq!(step.history[0].rule, Some(Rule::A1));
    assert_eq!((step.history[0].from, step.history[0].to), (Status::Connected, Status::Connected));
}

/// L-2.
#[test]
fn l2_auth_closes_set_conflict_start_the_cooldown_and_forget_credentials() {
    for code in [401, 440] {
        let mut h = Harness::connected();
        let step = h.close(code).clone();
        assert_eq!(h.status(), Status::Conflict);
        assert_eq!(h.agent.record.last_auth_failure_at, Some(h.now));
        assert_eq!(h.agent.record.last_code, Some(CloseCode(code)));
        assert!(!h.agent.record.has_credentials);
        assert_eq!(step.effects, [Effect::ForgetCredentials]);
        assert_eq!(step.history[0].rule, Some(Rule::L2));
    }
}

/// L-3.
#[test]
fn l3_fatal_closes_fail_notify_in_plain_words_and_stop_retries() {
    let table = [
        (403, "banned by WhatsApp"),
        (404, "session not found"),
        (411, "multi-device"),
        (500, "session corrupted: scan a new QR"),
    ];
    for (code, words) in table {
        let mut h = Harness::connected();
        let step = h.close(code).clone();
        assert_eq!(h.status(), Status::Failed);
        assert_eq!(h.agent.record.next_retry_at, None);
        assert!(step.effects.contains(&Effect::ForgetCredentials));
        let Some(Effect::Notify { body, .. }) = step.effects.iter().find(|e| matches!(e, Effect::Notify { .. })) else {
            panic!("no notification for {code}")
        };
        assert!(body.contains("Support 1") && body.contains(words), "{code}: {body}");
    }
}

/// L-3, read for a code the close table of RULES.md does not name: WhatsApp refusing this
/// version of Switchboard needs a person (an update) but the session is sound.
#[test]
fn l3_client_outdated_fails_asks_for_an_update_and_keeps_the_credentials() {
    let mut h = Harness::connected();
    let step = h.close(405).clone();
    assert_eq!(h.status(), Status::Failed);
    assert!(!step.effects.contains(&Effect::ForgetCredentials));
    assert!(h.agent.record.has_credentials);
    assert!(h.agent.record.reason.contains("update Switchboard"), "{}", h.agent.record.reason);
    assert!(
        step.effects.iter().any(|e| matches!(e, Effect::Notify { body, .. } if body.contains("update Switchboard")))
    );
    // After the update (and the attempt cooldown), Connect resumes the saved link: no new QR.
    h.advance(10 * SEC);
    h.feed(Input::Connect(Trigger::User));
    assert_eq!(h.effects(), [Effect::StartConnection { resume: true }]);
}

/// L-3.
#[test]
fn l3_a_temporary_ban_shows_its_end_and_blocks_connect_until_then() {
    let mut h = Harness::connected();
    let until = Timestamp(h.now.0 + 2 * 60 * MIN);
    let step = h.feed(Input::Closed { code: CloseCode::FORBIDDEN, until: Some(until) });
    let notice = step.effects.iter().find_map(|e| match e {
        Effect::Notify { body, .. } => Some(body.clone()),
        _ => None,
    });
    assert!(notice.is_some_and(|body| body.contains("for 2:00:00")), "the notice names how long");
    assert_eq!(h.agent.record.banned_until, Some(until));
    // The stored reason stays true while the ban runs: no countdown frozen in words.
    assert!(h.agent.record.reason.contains("waits for the ban to end"), "{}", h.agent.record.reason);
    h.advance(10 * SEC);
    let d = h.feed(Input::Connect(Trigger::User)).decision.clone().unwrap();
    assert_eq!(d.verdict, Verdict::Blocked { kind: BlockKind::Ban, until: Some(until) });
}

/// L-4.
#[test]
fn l4_recoverable_closes_while_connected_schedule_a_retry_and_keep_credentials() {
    for code in [408, 428, 503, 515, 999] {
        let mut h = Harness::connected();
        let step = h.close(code).clone();
        assert_eq!(h.status(), Status::Reconnecting, "code {code}");
        assert!(h.agent.record.has_credentials);
        assert!(!step.effects.contains(&Effect::ForgetCredentials));
        assert_eq!(h.agent.record.retry_attempt, 1);
        assert!(h.agent.record.next_retry_at.is_some());
    }
}

/// L-4: credentials that cannot be opened for a passing reason are kept and
/// retried with the reason in plain words; the retries give up by R-2 naming
/// it, never as a corrupted session.
#[test]
fn l4_credentials_that_cannot_be_opened_now_are_kept_and_retried() {
    let detail = "cannot open the credentials file: too many open files";
    let mut h = Harness::connected();
    h.close(408);
    h.now = h.agent.record.next_retry_at.unwrap();
    h.feed(Input::Connect(Trigger::Auto));
    let step = h.feed(Input::CredentialsUnavailable { detail: detail.into() }).clone();
    assert_eq!(h.status(), Status::Reconnecting);
    assert!(h.agent.record.has_credentials);
    assert!(step.effects.is_empty(), "{:?}", step.effects);
    assert_eq!(h.agent.record.retry_attempt, 2);
    assert_eq!(h.agent.record.last_code, None);
    assert_eq!(h.agent.record.reason, format!("{detail} — retry 2 of 5"));
    assert_eq!(step.history[0].rule, Some(Rule::L4));

    while h.status() == Status::Reconnecting {
        h.now = h.agent.record.next_retry_at.unwrap();
        h.feed(Input::Connect(Trigger::Auto));
        h.feed(Input::CredentialsUnavailable { detail: detail.into() });
    }
    assert_eq!(h.status(), Status::Failed);
    assert_eq!(h.agent.record.reason, format!("gave up after 5 attempts (last: {detail})"));
    assert!(h.agent.record.has_credentials, "R-2 keeps them: Connect resumes once the fault passes");
}

///
#[test]
fn r1_retry_times_follow_the_backoff_within_jitter() {
    let mut h = Harness::connected();
    for k in 1..=5u32 {
        h.close(428);
        let delay = h.now.until(h.agent.record.next_retry_at.unwrap());
        let base = backoff::base_delay(k, &h.settings);
        assert!(delay >= base.mul_f64(0.8) && delay <= base.mul_f64(1.2), "attempt {k}: {delay:?}");
        h.now = h.agent.record.next_retry_at.unwrap();
        let step = h.feed(Input::Connect(Trigger::Auto)).clone();
        assert_eq!(step.effects, [Effect::StartConnection { resume: true }], "R-4: resume, no QR");
    }
}

///
#[test]
fn r2_after_max_retries_the_agent_fails_with_a_notification() {
    let mut h = Harness::connected();
    h.close(408);
    for _ in 0..h.settings.max_retries {
        h.now = h.agent.record.next_retry_at.unwrap();
        h.feed(Input::Connect(Trigger::Auto));
        h.close(408);
    }
    assert_eq!(h.status(), Status::Failed);
    assert!(h.agent.record.reason.contains("gave up after 5 attempts"));
    assert!(h.effects().iter().any(|e| matches!(e, Effect::Notify { .. })));
}

///
#[test]
fn r3_a_successful_open_resets_the_attempt_counter() {
    let mut h = Harness::connected();
    h.close(408);
    h.now = h.agent.record.next_retry_at.unwrap();
    h.feed(Input::Connect(Trigger::Auto));
    h.close(408);
    assert_eq!(h.agent.record.retry_attempt, 2);
    h.now = h.agent.record.next_retry_at.unwrap();
    h.feed(Input::Connect(Trigger::Auto));
    h.feed(Input::Opened { phone: None });
    assert_eq!(h.agent.record.retry_attempt, 0);
    assert_eq!(h.agent.record.phone.as_deref(), Some("+4915112345678"), "phone kept");
}

/// R-4, L-2: a QR shown to a retry means the saved credentials were
/// rejected; that is classified like a logout (401): conflict, credentials
/// forgotten, the auth cooldown starts. It never unlocks A-2.
#[test]
fn r4_a_retry_that_is_shown_a_qr_stops_as_rejected_credentials() {
    let mut h = Harness::connected();
    h.close(428);
    h.now = h.agent.record.next_retry_at.unwrap();
    h.feed(Input::Connect(Trigger::Auto));
    let step = h.feed(Input::Qr("unexpected".into())).clone();
    assert_eq!(h.status(), Status::Conflict);
    assert_eq!(h.agent.record.last_code, Some(CloseCode::LOGGED_OUT));
    assert_eq!(h.agent.record.last_auth_failure_at, Some(h.now), "L-2: the auth cooldown starts");
    assert_eq!(step.effects, [Effect::CloseConnection { logout: false }, Effect::ForgetCredentials]);
    assert_eq!(step.history[0].rule, Some(Rule::L2));
    assert_eq!(h.agent.attempt, None);
    h.advance(SEC);
    let refused = h.feed(Input::Connect(Trigger::User)).decision.clone().unwrap();
    assert_eq!(refused.rule, Rule::A3, "{refused:?}");
}

/// a recoverable close before any link exists ends the
/// attempt without a retry (a retry would show a QR), in `disconnected`;
/// but an error is no clean disconnect, so the next click waits for the
/// attempt cooldown instead of bypassing it.
#[test]
fn r4_a_recoverable_close_before_any_link_ends_without_retry_and_keeps_the_attempt_cooldown() {
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.close(428);
    assert_eq!(h.status(), Status::Disconnected);
    assert!(!h.agent.record.clean_disconnect, "an error's disconnected is not clean");
    assert_eq!(h.agent.record.last_code, Some(CloseCode(428)));
    h.advance(1);
    let refused = h.feed(Input::Connect(Trigger::User)).decision.clone().unwrap();
    assert_eq!((refused.rule, refused.is_allowed()), (Rule::A5, false), "{refused:?}");
    h.advance(5 * SEC);
    let allowed = h.feed(Input::Connect(Trigger::User)).decision.clone().unwrap();
    assert_eq!((allowed.rule, allowed.is_allowed()), (Rule::A5, true), "{allowed:?}");
}

/// only a person's disconnect, a QR expiry and a new agent are clean.
#[test]
fn a2_only_a_disconnect_a_qr_expiry_or_a_new_agent_unlock_the_bypass() {
    assert!(Harness::new().agent.record.clean_disconnect, "a new agent");
    let mut h = Harness::connected();
    h.feed(Input::Disconnect);
    assert!(h.agent.record.clean_disconnect, "a person's disconnect");
    h.feed(Input::Connect(Trigger::User));
    assert!(!h.agent.record.clean_disconnect);
    h.feed(Input::Qr("q".into()));
    h.advance(h.settings.qr_lifetime.as_millis() as i64);
    h.feed(Input::DeadlinePassed);
    assert_eq!(h.status(), Status::Disconnected);
    assert!(h.agent.record.clean_disconnect, "a QR expiry");
}

///
#[test]
fn r6_an_attempt_without_qr_or_open_times_out_as_408() {
    let mut h = Harness::connected();
    h.close(428);
    h.now = h.agent.record.next_retry_at.unwrap();
    h.feed(Input::Connect(Trigger::Auto));
    h.advance(29 * SEC);
    h.feed(Input::DeadlinePassed);
    assert_eq!(h.status(), Status::Connecting, "not yet");
    h.advance(SEC);
    let step = h.feed(Input::DeadlinePassed).clone();
    assert_eq!(h.status(), Status::Reconnecting);
    assert_eq!(h.agent.record.last_code, Some(CloseCode::TIMED_OUT));
    assert_eq!(step.effects, [Effect::CloseConnection { logout: false }]);
    assert_eq!(step.history[0].rule, Some(Rule::R6));
}

///
#[test]
fn q1_the_first_qr_sets_the_expiry_and_rotations_replace_the_code_only() {
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    let step = h.feed(Input::Qr("qr-1".into())).clone();
    let expires = Timestamp(h.now.0 + 3 * MIN);
    assert_eq!(h.status(), Status::QrPending);
    assert_eq!(h.agent.record.qr_expires_at, Some(expires));
    assert_eq!(step.history.len(), 1);
    h.advance(20 * SEC);
    let step = h.feed(Input::Qr("qr-2".into())).clone();
    assert!(step.history.is_empty(), "a rotation is not a status change");
    assert_eq!(h.agent.attempt.as_ref().unwrap().qr.as_deref(), Some("qr-2"));
    assert_eq!(h.agent.record.qr_expires_at, Some(expires));
}

///
#[test]
fn q2_an_unscanned_qr_expires_into_a_clean_disconnect() {
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("qr-1".into()));
    h.advance(3 * MIN - 1);
    h.feed(Input::DeadlinePassed);
    assert_eq!(h.status(), Status::QrPending);
    h.advance(1);
    let step = h.feed(Input::DeadlinePassed).clone();
    assert_eq!(h.status(), Status::Disconnected);
    assert!(h.agent.record.reason.contains("QR expired"));
    assert_eq!(step.effects, [Effect::CloseConnection { logout: false }, Effect::ForgetCredentials]);
    // A new connect is allowed at once.
    assert_eq!(h.feed(Input::Connect(Trigger::User)).decision.as_ref().unwrap().rule, Rule::A2);
}

/// WhatsApp running out of QR codes ends the attempt like the expiry timer does.
#[test]
fn q2_qr_codes_exhausted_by_whatsapp_is_a_qr_expiry() {
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("qr-1".into()));
    h.advance(MIN);
    let step = h.feed(Input::QrExhausted).clone();
    assert_eq!(h.status(), Status::Disconnected);
    assert!(h.agent.record.reason.contains("QR expired"));
    // The connection already ended: nothing to close, the half-made pairing is forgotten.
    assert_eq!(step.effects, [Effect::ForgetCredentials]);
    assert_eq!(step.history.last().unwrap().rule, Some(Rule::Q2));
    assert_eq!(h.feed(Input::Connect(Trigger::User)).decision.as_ref().unwrap().rule, Rule::A2);

    // After a scan the codes no longer matter: the end is an ordinary recoverable close.
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("qr-1".into()));
    h.feed(Input::Scanned);
    h.feed(Input::QrExhausted);
    assert_eq!(h.status(), Status::Reconnecting);
    assert_eq!(h.agent.record.last_code, Some(CloseCode::CONNECTION_CLOSED));
}

/// a passkey request is its own visible state of the attempt; its
/// code is shown; when the QR's lifetime passes without a link, the attempt
/// ends in a clean state saying why, never as a 408 to retry.
#[test]
fn q5_a_passkey_request_is_shown_and_ends_with_its_reason_not_a_408() {
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("qr-1".into()));
    let step = h.feed(Input::PasskeyRequested).clone();
    assert_eq!(h.status(), Status::Connecting);
    assert_eq!(h.agent.record.reason, machine::PASSKEY_ASKED);
    assert_eq!(step.history.last().unwrap().rule, Some(Rule::Q5));
    let attempt = h.agent.attempt.clone().unwrap();
    assert_eq!((attempt.qr, attempt.passkey), (None, Some(PasskeyPrompt::default())));
    // A QR that still rotates in does not bring the QR back.
    h.feed(Input::Qr("qr-2".into()));
    assert_eq!((h.status(), h.agent.attempt.as_ref().unwrap().qr.as_deref()), (Status::Connecting, None));
    h.feed(Input::PasskeyCode("ABCD-EFGH".into()));
    assert_eq!(h.agent.attempt.as_ref().unwrap().passkey.as_ref().unwrap().code.as_deref(), Some("ABCD-EFGH"));
    // R-6's 30 s pass: the person has the QR's lifetime (3 min) for the phone.
    h.advance(31 * SEC);
    h.feed(Input::DeadlinePassed);
    assert_eq!(h.status(), Status::Connecting);
    h.advance(3 * MIN);
    let step = h.feed(Input::DeadlinePassed).clone();
    assert_eq!(h.status(), Status::Disconnected);
    assert_eq!(h.agent.record.last_code, None, "not a 408");
    assert!(h.agent.record.reason.contains("wanted a passkey"), "{}", h.agent.record.reason);
    assert_eq!(step.effects, [Effect::CloseConnection { logout: false }, Effect::ForgetCredentials]);
    assert_eq!(step.history.last().unwrap().rule, Some(Rule::Q5));
    // A clean state: Connect works again at once.
    assert_eq!(h.feed(Input::Connect(Trigger::User)).decision.as_ref().unwrap().rule, Rule::A2);
}

/// the library's passkey error ends the attempt at once with its words;
/// a close that follows a passkey request keeps the passkey as the reason.
#[test]
fn q5_a_passkey_error_or_a_close_after_the_request_ends_with_the_passkey_reason() {
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("qr-1".into()));
    h.feed(Input::PasskeyRequested);
    let step = h.feed(Input::PasskeyFailed { detail: "assertion rejected".into() }).clone();
    assert_eq!(h.status(), Status::Disconnected);
    assert!(
        h.agent.record.reason.starts_with("passkey linking failed: assertion rejected"),
        "{}",
        h.agent.record.reason
    );
    assert_eq!(step.effects, [Effect::CloseConnection { logout: false }, Effect::ForgetCredentials]);

    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("qr-1".into()));
    h.feed(Input::PasskeyRequested);
    h.close(408);
    assert_eq!(h.status(), Status::Disconnected, "not reconnecting after a 408");
    assert!(h.agent.record.reason.contains("wanted a passkey"));

    // Without a request, a passkey error changes nothing.
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("qr-1".into()));
    h.feed(Input::PasskeyFailed { detail: "stray".into() });
    assert_eq!(h.status(), Status::QrPending);
}

///
#[test]
fn q3_515_after_a_scan_restarts_after_backoff_base_to_finish_pairing() {
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("qr-1".into()));
    h.feed(Input::Scanned);
    assert_eq!(h.status(), Status::Connecting);
    h.close(515);
    assert_eq!(h.status(), Status::Reconnecting);
    assert_eq!(h.agent.record.next_retry_at, Some(Timestamp(h.now.0 + 2 * SEC)));
    h.now = h.agent.record.next_retry_at.unwrap();
    let step = h.feed(Input::Connect(Trigger::Auto)).clone();
    assert_eq!(step.effects, [Effect::StartConnection { resume: true }]);
}

///
#[test]
fn q3_515_with_an_unscanned_qr_keeps_the_qr_and_schedules_nothing() {
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("qr-1".into()));
    let step = h.close(515).clone();
    assert_eq!(h.status(), Status::QrPending);
    assert_eq!(h.agent.attempt.as_ref().unwrap().qr.as_deref(), Some("qr-1"));
    assert!(step.effects.is_empty());
    assert_eq!(step.history[0].rule, Some(Rule::Q3));
    // The QR still expires.
    h.advance(3 * MIN);
    h.feed(Input::DeadlinePassed);
    assert_eq!(h.status(), Status::Disconnected);
}

///
#[test]
fn q3_515_with_no_qr_is_a_normal_recoverable_retry() {
    let mut h = Harness::connected();
    h.close(515);
    assert_eq!(h.status(), Status::Reconnecting);
    assert_eq!(h.agent.record.retry_attempt, 1);
}

/// D-1: from every status the agent is clean at once; an open link is
/// logged out on the spot, credentials without one go to an unlink job.
#[test]
fn d1_disconnect_from_every_status_logs_out_forgets_and_cleans() {
    type Setup = Box<dyn Fn() -> Harness>;
    let setups: Vec<(&str, Setup)> = vec![
        ("connected", Box::new(Harness::connected)),
        (
            "qr_pending",
            Box::new(|| {
                let mut h = Harness::new();
                h.feed(Input::Connect(Trigger::User));
                h.feed(Input::Qr("q".into()));
                h
            }),
        ),
        (
            "conflict",
            Box::new(|| {
                let mut h = Harness::connected();
                h.close(401);
                h
            }),
        ),
        (
            "reconnecting",
            Box::new(|| {
                let mut h = Harness::connected();
                h.close(428);
                h
            }),
        ),
        (
            "failed",
            Box::new(|| {
                let mut h = Harness::connected();
                h.close(403);
                h
            }),
        ),
        (
            "failed keeping the credentials (405)",
            Box::new(|| {
                let mut h = Harness::connected();
                h.close(405);
                h
            }),
        ),
        (
            "connecting on a resume",
            Box::new(|| {
                let mut h = Harness::connected();
                h.close(428);
                h.now = h.agent.record.next_retry_at.unwrap();
                h.feed(Input::Connect(Trigger::Auto));
                h
            }),
        ),
        ("disconnected", Box::new(Harness::new)),
    ];
    for (name, setup) in setups {
        let mut h = setup();
        let plan = h.agent.unlink_plan();
        let was_live = h.agent.has_live_connection();
        let linked = h.agent.record.has_credentials;
        let linked_and_connected = linked && was_live && h.status() == Status::Connected;
        h.advance(SEC);
        let step = h.feed(Input::Disconnect).clone();
        let r = &h.agent.record;
        assert_eq!(r.status, Status::Disconnected, "{name}");
        assert_eq!(r.disconnected_at, Some(h.now), "{name}");
        assert_eq!(
            (r.last_auth_failure_at, r.retry_attempt, r.next_retry_at, r.qr_expires_at),
            (None, 0, None, None),
            "{name}"
        );
        assert!(!r.has_credentials);
        assert_eq!(r.phone, None, "{name}: the unlinked number is forgotten");
        assert_eq!(h.agent.attempt, None);
        let mut expected = Vec::new();
        if was_live {
            expected.push(Effect::CloseConnection { logout: linked_and_connected });
        }
        if linked && !linked_and_connected {
            assert_eq!(plan, UnlinkPlan::Later, "{name}");
            expected.push(Effect::UnlinkLater);
            assert_eq!(step.history.last().unwrap().reason, machine::UNLINKING, "{name}: the timeline says so");
        } else {
            expected.push(Effect::ForgetCredentials);
        }
        assert_eq!(step.effects, expected, "{name}");
    }
}

/// the pairing code stays while the QR rotates, so a person (or a
/// screen reader) can read it out and type it; the scan or the link ends it.
#[test]
fn q4_the_pairing_code_outlives_qr_rotations_and_ends_with_the_scan() {
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("qr-1".into()));
    h.feed(Input::PairCode("ABCD1234".into()));
    for rotation in ["qr-2", "qr-3"] {
        h.advance(20 * SEC);
        h.feed(Input::Qr(rotation.into()));
        let attempt = h.agent.attempt.as_ref().unwrap();
        assert_eq!((attempt.qr.as_deref(), attempt.pair_code.as_deref()), (Some(rotation), Some("ABCD1234")));
    }
    h.feed(Input::Scanned);
    assert_eq!(h.agent.attempt.as_ref().unwrap().pair_code, None);
}

/// D-2.
#[test]
fn d2_events_after_a_disconnect_change_nothing() {
    let mut h = Harness::connected();
    h.feed(Input::Disconnect);
    let after = h.agent.clone();
    for input in [
        Input::Qr("late".into()),
        Input::Scanned,
        Input::Opened { phone: None },
        Input::Closed { code: CloseCode(401), until: None },
        Input::KeepAliveLost,
        Input::DeadlinePassed,
        Input::PairCode("ABCD1234".into()),
    ] {
        let step = h.feed(input.clone()).clone();
        assert_eq!(step.agent, after, "{input:?}");
        assert!(step.effects.is_empty() && step.history.is_empty(), "{input:?}");
    }
}

/// D-3.
#[test]
fn d3_disconnect_connect_cycles_never_hit_a_cooldown() {
    let mut h = Harness::connected();
    for _ in 0..4 {
        h.feed(Input::Disconnect);
        h.advance(100);
        let d = h.feed(Input::Connect(Trigger::User)).decision.clone().unwrap();
        assert_eq!((d.rule, d.verdict), (Rule::A2, Verdict::Allowed));
        h.feed(Input::Qr("fresh".into()));
    }
}

/// O-3.
#[test]
fn o3_a_dead_keep_alive_is_a_recoverable_408() {
    let mut h = Harness::connected();
    let step = h.feed(Input::KeepAliveLost).clone();
    assert_eq!(h.status(), Status::Reconnecting);
    assert_eq!(h.agent.record.last_code, Some(CloseCode::TIMED_OUT));
    assert_eq!(step.effects, [Effect::CloseConnection { logout: false }]);
    assert_eq!(step.history[0].rule, Some(Rule::O3));
}

/// P-3.
#[test]
fn p3_startup_resumes_linked_agents_and_cleans_stale_pairings() {
    fn with(status: Status, creds: bool) -> Harness {
        let mut h = Harness::new();
        let r = &mut h.agent.record;
        r.status = status;
        r.has_credentials = creds;
        r.disconnected_at = (status == Status::Disconnected).then_some(h.now);
        r.clean_disconnect = status == Status::Disconnected;
        r.qr_expires_at = (status == Status::QrPending).then_some(h.now);
        r.next_retry_at = (status == Status::Reconnecting).then_some(Timestamp(h.now.0 + 9 * SEC));
        r.last_auth_failure_at = (status == Status::Conflict).then_some(h.now);
        h
    }
    let cases = [
        (Status::Connected, true, Status::Reconnecting),
        (Status::Connecting, true, Status::Reconnecting),
        (Status::Reconnecting, true, Status::Reconnecting),
        (Status::Connecting, false, Status::Disconnected),
        (Status::QrPending, false, Status::Disconnected),
        (Status::Conflict, false, Status::Conflict),
        (Status::Failed, false, Status::Failed),
        (Status::Disconnected, false, Status::Disconnected),
    ];
    for (from, creds, to) in cases {
        let mut h = with(from, creds);
        let before = h.agent.record.clone();
        h.feed(Input::Startup { has_credentials: creds });
        assert_eq!(h.status(), to, "{from} creds={creds}");
        match from {
            Status::Connected | Status::Connecting if creds => assert_eq!(h.agent.record.next_retry_at, Some(h.now)),
            Status::QrPending | Status::Connecting => {
                assert!(h.agent.record.reason.contains("while the app was closed"));
            }
            // Everything else keeps its deadlines exactly (P-2).
            _ => assert_eq!(h.agent.record, before, "{from}"),
        }
    }
}

/// P-3, D-1: credentials the record does not know (the phone paired, the
/// app was killed before the scan was saved) are unlinked, not deleted: the
/// phone would list the device for good.
#[test]
fn p3_credentials_the_record_does_not_know_are_unlinked_at_start_up() {
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("q".into()));
    let step = h.feed(Input::Startup { has_credentials: true }).clone();
    assert_eq!(h.status(), Status::Disconnected);
    assert!(!h.agent.record.has_credentials);
    assert_eq!(step.effects, [Effect::UnlinkLater]);
    assert!(step.history.last().unwrap().reason.starts_with(machine::UNLINKING));

    let mut h = Harness::new();
    let step = h.feed(Input::Startup { has_credentials: true }).clone();
    assert_eq!(step.effects, [Effect::UnlinkLater], "a disconnected agent's left-over credentials too");
}

/// P-3, R-2: a retrying agent whose credentials went while the app was
/// closed ends `disconnected` with its retry counter back at 0 (found by
/// the crash test's record invariants).
#[test]
fn p3_an_agent_retrying_without_its_credentials_stops_counting_retries() {
    let mut h = Harness::connected();
    h.close(408);
    h.now = h.agent.record.next_retry_at.unwrap();
    h.feed(Input::Connect(Trigger::Auto));
    h.close(408);
    assert_eq!(h.agent.record.retry_attempt, 2);
    h.feed(Input::Startup { has_credentials: false });
    assert_eq!(h.status(), Status::Disconnected);
    assert_eq!(h.agent.record.retry_attempt, 0);
}

/// a person's connect that resumes saved credentials and is
/// shown a QR means WhatsApp refused them: the QR is a new pairing, and the
/// record no longer claims credentials (found by the crash test's
/// invariants, round 879 of 1,000). The store is not deleted: the new
/// pairing is written into it.
#[test]
fn q1_a_qr_shown_to_a_resume_a_person_asked_for_is_a_new_pairing() {
    let mut h = Harness::connected();
    h.close(405);
    assert!(h.agent.record.has_credentials, "405 keeps them");
    h.advance(10 * SEC);
    let step = h.feed(Input::Connect(Trigger::User)).clone();
    assert_eq!(step.effects, [Effect::StartConnection { resume: true }]);
    let step = h.feed(Input::Qr("q".into())).clone();
    assert_eq!(h.status(), Status::QrPending);
    assert!(!h.agent.record.has_credentials);
    assert!(step.effects.is_empty(), "{:?}", step.effects);

    // A late code on a link that is open already changes nothing.
    let mut h = Harness::connected();
    let before = h.agent.clone();
    let step = h.feed(Input::Qr("late".into())).clone();
    assert_eq!(h.agent, before);
    assert!(step.history.is_empty() && step.effects.is_empty());

    // Nor does one between the scan and the restart that finishes the pairing
    // (found by the crash test, round 130): the restart still resumes.
    let mut h = Harness::new();
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Qr("q".into()));
    h.feed(Input::Scanned);
    let before = h.agent.clone();
    h.feed(Input::Qr("late".into()));
    assert_eq!(h.agent, before);
    h.close(515);
    assert_eq!(h.status(), Status::Reconnecting);
    assert!(h.agent.record.has_credentials);
}

///
#[test]
fn a6_an_auto_retry_in_an_auth_cooldown_waits_for_its_end() {
    let mut h = Harness::connected();
    h.close(428);
    h.agent.record.last_auth_failure_at = Some(h.now);
    h.now = h.agent.record.next_retry_at.unwrap();
    let step = h.feed(Input::Connect(Trigger::Auto)).clone();
    assert_eq!(step.decision.unwrap().rule, Rule::A6);
    assert!(step.effects.is_empty());
    let cooldown_end = h.agent.record.last_auth_failure_at.unwrap().plus(Duration::from_secs(300));
    assert_eq!(h.agent.record.next_retry_at, Some(cooldown_end));
}

/// F-5: at start-up after the clock was set back, stored times are bounded
/// by their settings; a ban's end (WhatsApp's) is kept; times already in
/// the past are used as they are and nothing is written.
#[test]
fn f5_startup_bounds_stored_times_that_lie_ahead_by_their_settings() {
    let mut h = Harness::connected();
    h.close(503);
    let hours_ahead = Timestamp(h.now.0 + 3 * 60 * MIN);
    let r = &mut h.agent.record;
    r.last_auth_failure_at = Some(hours_ahead);
    r.last_attempt_at = Some(hours_ahead);
    r.next_retry_at = Some(hours_ahead);
    r.banned_until = Some(hours_ahead);
    let step = h.feed(Input::Startup { has_credentials: true }).clone();
    let r = &h.agent.record;
    assert_eq!(h.status(), Status::Reconnecting, "P-3 keeps a linked retry");
    assert_eq!(r.last_auth_failure_at, Some(h.now));
    assert_eq!(r.last_attempt_at, Some(h.now));
    assert_eq!(r.next_retry_at, Some(h.now.plus(backoff::longest_delay(&h.settings))));
    assert_eq!(r.banned_until, Some(hours_ahead), "WhatsApp's end, as stored");
    assert_eq!(step.history.len(), 1);
    assert_eq!(step.history[0].rule, Some(Rule::F5));
    assert!(step.history[0].reason.contains("clock is behind"), "{}", step.history[0].reason);

    // Times in the past are left alone: nothing to write.
    h.advance(10 * MIN);
    let before = h.agent.record.clone();
    let step = h.feed(Input::Startup { has_credentials: true }).clone();
    assert!(step.history.is_empty() && !step.record_changed(&before));
    let mut disconnected = Harness::new();
    disconnected.agent.record.disconnected_at = Some(Timestamp(disconnected.now.0 + 60 * MIN));
    disconnected.feed(Input::Startup { has_credentials: false });
    assert_eq!(disconnected.agent.record.disconnected_at, Some(disconnected.now));
}

/// F-1: the fleet hears of each linked agent's passing drop, of a network
/// that cannot reach WhatsApp, of other closes, of an open link and of a
/// give-up; a first pairing's failure is no linked agent's drop.
#[test]
fn f1_each_close_tells_the_fleet_what_kind_it_was() {
    let mut h = Harness::connected();
    assert_eq!(h.news, [FleetNews::Connected]);
    h.close(503);
    assert_eq!(h.news, [FleetNews::RecoverableClose]);
    h.advance(MIN);
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Unreachable { detail: "no route".into() });
    assert_eq!(h.news, [FleetNews::Unreachable("no route".into())]);
    assert!(
        h.agent.record.reason.contains("cannot be reached from this machine: no route"),
        "{}",
        h.agent.record.reason
    );
    h.advance(MIN);
    h.feed(Input::Connect(Trigger::User));
    h.feed(Input::Opened { phone: None });
    assert_eq!(h.news, [FleetNews::Connected]);
    h.close(401);
    assert_eq!(h.news, [FleetNews::OtherClose]);

    let mut pairing = Harness::new();
    pairing.feed(Input::Connect(Trigger::User));
    pairing.close(503);
    assert!(pairing.news.is_empty(), "no credentials: not a linked agent's drop");

    let mut giving_up = Harness::connected();
    giving_up.settings.max_retries = 1;
    giving_up.close(503);
    giving_up.feed(Input::Connect(Trigger::Auto));
    giving_up.close(503);
    assert_eq!(giving_up.status(), Status::Failed);
    assert_eq!(giving_up.news, [FleetNews::RecoverableClose, FleetNews::GaveUp]);
}

/// F-2: during an outage a passing drop is held, without a retry time and
/// without counting against `max_retries`; a due retry is held the same
/// way; F-3: a release makes it due at once, and an agent that gave up is
/// held only during an outage.
#[test]
fn f2_f3_an_outage_holds_retries_without_counting_and_a_release_makes_them_due() {
    let mut h = Harness::connected();
    h.situation.outage = true;
    for _ in 0..10 {
        h.close(408);
        assert_eq!(h.status(), Status::Reconnecting);
        let r = &h.agent.record;
        assert_eq!((r.held_since, r.next_retry_at, r.retry_attempt), (Some(h.now), None, 0));
        assert_eq!(h.last.as_ref().unwrap().history[0].rule, Some(Rule::F2));
        // A probe: the held agent's automatic connect is admitted.
        h.advance(MIN);
        assert!(h.feed(Input::Connect(Trigger::Auto)).decision.as_ref().unwrap().is_allowed());
        assert_eq!(h.agent.record.held_since, None);
    }
    h.close(408);
    h.advance(MIN);
    h.feed(Input::Release { after_pause: false });
    let r = &h.agent.record;
    assert_eq!((r.held_since, r.next_retry_at, r.retry_attempt), (None, Some(h.now), 0));
    assert_eq!(h.last.as_ref().unwrap().history[0].rule, Some(Rule::F3));

    // A retry scheduled before the outage is held when it comes due.
    let mut due = Harness::connected();
    due.close(503);
    assert_eq!(due.agent.record.retry_attempt, 1);
    due.situation.outage = true;
    due.feed(Input::Hold);
    let r = &due.agent.record;
    assert_eq!((r.held_since.is_some(), r.next_retry_at, r.retry_attempt), (true, None, 0));

    let mut gave_up = Harness::connected();
    gave_up.settings.max_retries = 1;
    gave_up.close(503);
    gave_up.feed(Input::Connect(Trigger::Auto));
    gave_up.close(503);
    gave_up.feed(Input::Hold);
    assert_eq!(gave_up.status(), Status::Failed, "no outage: nothing to hold for");
    gave_up.situation.outage = true;
    gave_up.feed(Input::Hold);
    assert_eq!((gave_up.status(), gave_up.agent.record.held_since.is_some()), (Status::Reconnecting, true));
    // A ban is WhatsApp's word about this agent, not an outage's.
    let mut banned = Harness::connected();
    banned.feed(Input::Closed { code: CloseCode(403), until: Some(Timestamp(banned.now.0 + MIN)) });
    banned.situation.outage = true;
    banned.feed(Input::Hold);
    assert_eq!(banned.status(), Status::Failed);
}

/// H-2: a flapping agent's retry waits at least `backoff_cap`; Q-3's
/// restart after a scan keeps its own short delay.
#[test]
fn h2_a_flapping_agents_retry_waits_the_cap() {
    let mut h = Harness::connected();
    h.settings.jitter_percent = 0;
    h.situation.flapping = true;
    h.close(503);
    let r = &h.agent.record;
    assert_eq!(r.next_retry_at, Some(h.now.plus(h.settings.backoff_cap)));
    assert_eq!(h.last.as_ref().unwrap().history[0].rule, Some(Rule::H2));
    h.situation.flapping = false;
    let mut calm = Harness::connected();
    calm.settings.jitter_percent = 0;
    calm.close(503);
    assert_eq!(calm.agent.record.next_retry_at, Some(calm.now.plus(calm.settings.backoff_base)));
}

/// F-2 with A-6: a held agent asked to probe while an old auth failure's
/// cooldown runs is refused and stays held, with no retry time of its own
/// (a retry time while held would come due again and again).
#[test]
fn f2_a_held_agent_refused_as_a_probe_stays_held() {
    let mut h = Harness::connected();
    h.agent.record.last_auth_failure_at = Some(h.now);
    h.situation.outage = true;
    h.close(408);
    assert!(h.agent.record.held_since.is_some());
    let decision = h.feed(Input::Connect(Trigger::Auto)).decision.clone().unwrap();
    assert!(!decision.is_allowed(), "A-6: inside the auth cooldown");
    let r = &h.agent.record;
    assert_eq!((r.status, r.held_since.is_some(), r.next_retry_at), (Status::Reconnecting, true, None));
}
