//! Time (F-5, F-6): every deadline the engine keeps, against a wall clock
//! that steps while the app runs, a suspend, and a restart with the clock set
//! back. The test clock steps its wall clock and suspends the machine as a
//! real one does (`TokioClock`); time is paused, nothing sleeps for real.

mod common;

use std::time::Duration;

use common::{World, linked_fleet, most_in_one_second};
use switchboard_engine::clock::Timestamp;
use switchboard_engine::lifecycle::{AgentId, BlockKind, CloseCode, Rule, Status, Verdict};
use switchboard_engine::simulator::{KEEPALIVE_TIMEOUT, OnStart};
use switchboard_engine::supervisor::EngineEvent;

const HOUR: Duration = Duration::from_secs(3_600);
const SECOND: Duration = Duration::from_secs(1);

/// A step of the wall clock while the app runs, as NTP or a person makes it.
#[derive(Debug, Clone, Copy)]
enum WallStep {
    Back,
    Forward,
}

impl WallStep {
    const BOTH: [WallStep; 2] = [WallStep::Back, WallStep::Forward];

    /// Steps the wall clock by an hour. Then every task looks at the time
    /// again (a settle passes through each one's loop), so a timer that
    /// trusted the wall clock would move by the step.
    async fn apply(self, w: &World) {
        match self {
            WallStep::Back => w.clock.step_wall_back(HOUR),
            WallStep::Forward => w.clock.step_wall_forward(HOUR),
        }
        w.sup.settle().await;
    }
}

/// How long until `at`, read before the wall clock steps: after a step the
/// test measures on tokio's clock alone, never on the engine's now it checks.
fn left_until(w: &World, at: Timestamp) -> Duration {
    w.now().until(at)
}

fn preview(w: &World, id: AgentId) -> Verdict {
    w.view(id).connect_preview.verdict
}

/// Steps the wall clock, then checks that `blocked` (ending at `until`)
/// still holds `margin` before its end, for the preview and for a click,
/// and no longer `margin` after it.
async fn assert_block_ends_on_time(
    w: &World,
    id: AgentId,
    step: WallStep,
    blocked: Verdict,
    until: Timestamp,
    margin: Duration,
) {
    let left = left_until(w, until);
    step.apply(w).await;
    w.pass(left.saturating_sub(margin)).await;
    assert_eq!(preview(w, id), blocked, "{step:?}: still blocked");
    assert_eq!(w.sup.connect(id).await.unwrap().verdict, blocked, "{step:?}");
    w.pass(2 * margin).await;
    assert_eq!(preview(w, id), Verdict::Allowed, "{step:?}: the block ended at its time");
}

/// F-5, R-1: a scheduled retry runs at its time, whichever way the wall clock steps.
#[tokio::test(start_paused = true)]
async fn f5_r1_a_wall_step_neither_delays_nor_hastens_a_retry() {
    for step in WallStep::BOTH {
        let w = World::new().await;
        let id = w.add("a").await;
        w.link(id).await;
        w.sim.drop_with(id, CloseCode::UNAVAILABLE, None);
        w.sup.settle().await;
        let due = w.view(id).record.next_retry_at.expect("a retry is scheduled");
        let starts = w.sim.stats().starts.len();
        let left = left_until(&w, due);
        step.apply(&w).await;
        w.pass(left.saturating_sub(Duration::from_millis(100))).await;
        assert_eq!(w.status(id), Status::Reconnecting, "{step:?}: no retry before its time");
        assert_eq!(w.sim.stats().starts.len(), starts, "{step:?}");
        w.pass(Duration::from_millis(200)).await;
        assert_eq!(w.status(id), Status::Connected, "{step:?}: the retry ran at its time");
        w.sup.shutdown().await;
    }
}

/// F-5, Q-2: a QR lives exactly its lifetime, whichever way the wall clock steps.
#[tokio::test(start_paused = true)]
async fn f5_q2_a_wall_step_neither_shortens_nor_lengthens_a_qr_lifetime() {
    for step in WallStep::BOTH {
        let w = World::new().await;
        let id = w.add("a").await;
        w.sup.connect(id).await.unwrap();
        w.sup.settle().await;
        assert_eq!(w.status(id), Status::QrPending);
        let expires = w.view(id).record.qr_expires_at.expect("Q-1 sets the expiry");
        assert_eq!(w.now().until(expires), w.sup.settings().qr_lifetime);
        let left = left_until(&w, expires);
        step.apply(&w).await;
        w.pass(left.saturating_sub(SECOND)).await;
        assert_eq!(w.status(id), Status::QrPending, "{step:?}: the QR still lives");
        w.pass(2 * SECOND).await;
        let view = w.view(id);
        assert_eq!(view.record.status, Status::Disconnected, "{step:?}: the QR expired at its time");
        assert!(view.record.reason.contains("QR expired"), "{}", view.record.reason);
        assert_eq!(view.connect_preview.verdict, Verdict::Allowed, "{step:?}: A-2");
        w.sup.shutdown().await;
    }
}

/// F-5, R-6: an attempt that hangs is timed out after exactly the connect
/// timeout, whichever way the wall clock steps ("stuck connecting" never
/// comes back).
#[tokio::test(start_paused = true)]
async fn f5_r6_a_wall_step_neither_shortens_nor_lengthens_the_connect_timeout() {
    for step in WallStep::BOTH {
        let w = World::new().await;
        let id = w.add("a").await;
        w.sim.set_on_start(id, OnStart::Hang);
        let started = w.now();
        w.sup.connect(id).await.unwrap();
        w.sup.settle().await;
        let times_out = started.plus(w.sup.settings().connect_timeout);
        let left = left_until(&w, times_out);
        step.apply(&w).await;
        w.pass(left.saturating_sub(SECOND)).await;
        assert_eq!(w.status(id), Status::Connecting, "{step:?}: still within the connect timeout");
        w.pass(2 * SECOND).await;
        let record = w.view(id).record;
        assert_eq!(record.status, Status::Disconnected, "{step:?}: timed out at its time");
        assert_eq!(record.last_code, Some(CloseCode::TIMED_OUT));
        w.sup.shutdown().await;
    }
}

/// F-5, A-5: the attempt cooldown blocks a click exactly as long as its
/// setting, and the preview says so, whichever way the wall clock steps.
#[tokio::test(start_paused = true)]
async fn f5_a5_a_wall_step_neither_shortens_nor_lengthens_the_attempt_cooldown() {
    for step in WallStep::BOTH {
        let w = World::new().await;
        let id = w.add("a").await;
        // A first pairing that cannot get through: an error's `disconnected`
        // so the next click waits for the attempt cooldown.
        w.sim.set_on_start(id, OnStart::Refuse(CloseCode::CONNECTION_CLOSED));
        w.sup.connect(id).await.unwrap();
        w.sup.settle().await;
        let until = w.view(id).attempt_cooldown_until.expect("A-5 runs");
        let blocked = Verdict::Blocked { kind: BlockKind::AttemptCooldown, until: Some(until) };
        assert_block_ends_on_time(&w, id, step, blocked, until, Duration::from_millis(500)).await;
        assert!(w.sup.connect(id).await.unwrap().is_allowed(), "{step:?}");
        w.sup.shutdown().await;
    }
}

/// F-5, A-3: the auth cooldown after a 440 blocks exactly as long as its
/// setting, and the preview says so, whichever way the wall clock steps.
#[tokio::test(start_paused = true)]
async fn f5_a3_a_wall_step_neither_shortens_nor_lengthens_the_auth_cooldown() {
    for step in WallStep::BOTH {
        let w = World::new().await;
        let id = w.add("a").await;
        w.link(id).await;
        w.sim.drop_with(id, CloseCode::REPLACED, None);
        w.sup.settle().await;
        let until = w.view(id).auth_cooldown_until.expect("L-2 starts the cooldown");
        assert_eq!(w.now().until(until), w.sup.settings().auth_cooldown);
        let blocked = Verdict::Blocked { kind: BlockKind::AuthCooldown, until: Some(until) };
        assert_block_ends_on_time(&w, id, step, blocked, until, SECOND).await;
        assert_eq!(w.view(id).auth_cooldown_until, None);
        assert!(w.sup.connect(id).await.unwrap().is_allowed(), "{step:?}");
        w.sup.shutdown().await;
    }
}

/// F-5, L-3: a temporary ban blocks Connect exactly as long as WhatsApp
/// said, whichever way the wall clock steps.
#[tokio::test(start_paused = true)]
async fn f5_l3_a_wall_step_neither_shortens_nor_lengthens_a_ban() {
    for step in WallStep::BOTH {
        let w = World::new().await;
        let id = w.add("a").await;
        w.link(id).await;
        w.sim.drop_with(id, CloseCode::FORBIDDEN, Some(2 * HOUR));
        w.sup.settle().await;
        let until = w.view(id).record.banned_until.expect("a temporary ban");
        assert_eq!(until, w.now().plus(2 * HOUR), "dated on the engine's time");
        let blocked = Verdict::Blocked { kind: BlockKind::Ban, until: Some(until) };
        assert_block_ends_on_time(&w, id, step, blocked, until, SECOND).await;
        assert!(w.sup.connect(id).await.unwrap().is_allowed(), "{step:?}");
        w.sup.shutdown().await;
    }
}

/// F-5, F-6: a suspend is time that passed. Deadlines that passed while the
/// machine slept fire as soon as it wakes (a due retry, a QR expiry, a
/// connect timeout), the preview is right at once (a cooldown that ended
/// allows Connect), and every connected agent's link is checked: one that
/// died meanwhile is O-3's 408, the others stay.
#[tokio::test(start_paused = true)]
async fn f5_f6_after_a_suspend_passed_deadlines_fire_and_connected_links_are_checked() {
    let w = World::new().await;
    let mut ids = Vec::new();
    for name in ["retrying", "qr", "hanging", "conflict", "alive", "dead"] {
        ids.push(w.add(name).await);
    }
    let [retrying, qr, hanging, conflict, alive, dead] = ids[..] else { unreachable!() };
    for id in [retrying, conflict, alive, dead] {
        w.link(id).await;
    }
    w.sim.drop_with(retrying, CloseCode::UNAVAILABLE, None);
    w.sim.drop_with(conflict, CloseCode::REPLACED, None);
    w.sup.connect(qr).await.unwrap();
    w.sim.set_on_start(hanging, OnStart::Hang);
    w.sup.connect(hanging).await.unwrap();
    w.sup.settle().await;
    assert_eq!(
        [retrying, qr, hanging, conflict, alive, dead].map(|id| w.status(id)),
        [
            Status::Reconnecting,
            Status::QrPending,
            Status::Connecting,
            Status::Conflict,
            Status::Connected,
            Status::Connected
        ]
    );
    let checks_before = w.sim.stats().link_checks.len();

    // The lid closes for ten minutes; the link of `dead` dies meanwhile.
    let before = w.now();
    w.clock.suspend(10 * 60 * SECOND);
    w.sim.go_silent(dead, true);
    assert_eq!(w.now(), before.plus(10 * 60 * SECOND), "F-5: a suspend is time that passed");

    // Within a second of the wake, far sooner than a keep-alive would notice.
    w.pass(SECOND).await;
    let record = |id: AgentId| w.view(id).record;
    assert_eq!(w.status(retrying), Status::Connected, "R-1: the retry due during the suspend ran");
    assert_eq!(record(qr).status, Status::Disconnected, "Q-2: the QR expired during the suspend");
    assert!(record(qr).reason.contains("QR expired"), "{}", record(qr).reason);
    assert_eq!(record(hanging).status, Status::Disconnected, "R-6: the connect timeout passed");
    assert_eq!(record(hanging).last_code, Some(CloseCode::TIMED_OUT));
    assert_eq!(preview(&w, conflict), Verdict::Allowed, "A-3: the cooldown ended during the suspend");
    assert_eq!(w.view(conflict).auth_cooldown_until, None);
    let checked: Vec<AgentId> = w.sim.stats().link_checks[checks_before..].iter().map(|c| c.0).collect();
    assert!(checked.contains(&alive) && checked.contains(&dead), "F-6: connected links checked: {checked:?}");
    assert_eq!(w.status(alive), Status::Connected, "a link that answers stays");
    assert_eq!(record(dead).status, Status::Reconnecting, "O-3: the dead link is a 408");
    assert_eq!(record(dead).last_code, Some(CloseCode::TIMED_OUT));
    let history = w.sup.history(dead, 1).await.unwrap();
    assert_eq!(history[0].rule, Some(Rule::O3));
    assert!(KEEPALIVE_TIMEOUT > SECOND, "the keep-alive alone would not have noticed yet");
    w.pass(5 * SECOND).await;
    assert_eq!(w.status(dead), Status::Connected, "and it reconnects");
}

/// F-6, R-5: after a suspend that killed every link of the fleet, the
/// check finds them all dead at once, and their reconnects are paced by the
/// start rate: never a burst.
#[tokio::test(start_paused = true)]
async fn f6_r5_links_dead_after_a_suspend_reconnect_at_the_start_rate() {
    let w = World::new().await;
    let ids = linked_fleet(&w, 60).await;
    let starts_before = w.sim.stats().starts.len();
    w.clock.suspend(HOUR);
    for &id in &ids {
        w.sim.go_silent(id, true);
    }
    w.pass(SECOND).await;
    assert!(
        ids.iter().all(|&id| w.status(id) == Status::Reconnecting),
        "F-6: every dead link found at once, long before a keep-alive would"
    );
    w.pass(10 * SECOND).await;
    assert!(ids.iter().all(|&id| w.status(id) == Status::Connected), "all back");
    let starts: Vec<_> = w.sim.stats().starts[starts_before..].iter().map(|s| s.1).collect();
    assert_eq!(starts.len(), 60);
    let per_second = most_in_one_second(&starts);
    let rate = w.sup.settings().start_rate as usize;
    assert!(per_second <= rate, "R-5: {per_second} automatic starts in one second, the rate is {rate}");
}

/// F-5, P-2: after a restart with the wall clock set back by hours, stored
/// deadlines are used as they are, but no remaining time is longer than its
/// setting allows: an auth cooldown, an attempt cooldown, a retry time and
/// an unlink job's next try. A ban's end is WhatsApp's and kept as stored.
#[tokio::test(start_paused = true)]
async fn f5_p2_a_restart_with_the_clock_set_back_keeps_no_wait_longer_than_its_setting() {
    let mut w = World::new().await;
    let conflict = w.add("conflict").await;
    let retrying = w.add("retrying").await;
    let cooling = w.add("cooling").await;
    let banned = w.add("banned").await;
    let unlinked = w.add("unlinked").await;
    for id in [conflict, retrying, banned, unlinked] {
        w.link(id).await;
    }
    w.sim.drop_with(conflict, CloseCode::LOGGED_OUT, None);
    w.sim.set_on_start(retrying, OnStart::Hang);
    w.sim.drop_with(retrying, CloseCode::UNAVAILABLE, None);
    w.sim.set_on_start(cooling, OnStart::Refuse(CloseCode::CONNECTION_CLOSED));
    w.sup.connect(cooling).await.unwrap();
    w.sim.drop_with(banned, CloseCode::FORBIDDEN, Some(2 * HOUR));
    // An unlink job that cannot reach WhatsApp: it retries on R-1's delays.
    w.sim.set_unreachable(true);
    w.sim.drop_with(unlinked, CloseCode::UNAVAILABLE, None);
    w.sup.settle().await;
    w.sup.disconnect(unlinked).await.unwrap();
    w.pass(SECOND).await;
    assert!(w.view(unlinked).unlinking);
    let banned_until = w.view(banned).record.banned_until.expect("a temporary ban");

    w.clock.step_wall_back(3 * HOUR);
    w.restart().await;
    w.sim.set_unreachable(false);
    let settings = w.sup.settings();
    let now = w.now();
    let left = |until: Option<Timestamp>| now.until(until.expect("still runs"));
    assert!(left(w.view(conflict).auth_cooldown_until) <= settings.auth_cooldown, "A-3: the auth cooldown");
    assert!(left(w.view(cooling).attempt_cooldown_until) <= settings.attempt_cooldown, "A-5: the attempt cooldown");
    let longest_retry = settings.backoff_cap.mul_f64(1.0 + f64::from(settings.jitter_percent) / 100.0);
    assert!(left(w.view(retrying).record.next_retry_at) <= longest_retry, "R-1: the retry");
    assert_eq!(w.view(banned).record.banned_until, Some(banned_until), "WhatsApp's end, as stored");
    let stored = w.stored();
    let stored_retry = stored.iter().find(|r| r.id == retrying).unwrap().next_retry_at;
    assert_eq!(stored_retry, w.view(retrying).record.next_retry_at, "the shortened times are saved");
    let history = w.sup.history(conflict, 1).await.unwrap();
    assert_eq!(history[0].rule, Some(Rule::F5), "the timeline says why the wait is shorter");
    // The unlink job's next try comes within R-1's longest delay too.
    w.pass(longest_retry + SECOND).await;
    assert!(!w.view(unlinked).unlinking, "D-1: the unlink job ran");
    assert_eq!(w.sim.set_aside_count(), 0);
}

/// F-5: the window counts down with the page's clock, the wall clock. When
/// that steps, subscribers hear how far it now is from the engine's time,
/// once; a suspend moves both and is no step.
#[tokio::test(start_paused = true)]
async fn f5_a_wall_step_is_told_to_subscribers_and_a_suspend_is_not() {
    let mut w = World::new().await;
    let wall_clock_events = |w: &mut World| {
        let mut told = Vec::new();
        while let Ok(event) = w.events.try_recv() {
            if let EngineEvent::WallClock { wall_ahead_ms } = event {
                told.push(wall_ahead_ms);
            }
        }
        told
    };
    assert_eq!(w.sup.wall_ahead_ms(), 0);
    w.clock.step_wall_forward(HOUR);
    w.pass(2 * SECOND).await;
    assert_eq!(wall_clock_events(&mut w), [3_600_000]);
    assert_eq!(w.sup.wall_ahead_ms(), 3_600_000);
    w.clock.suspend(HOUR);
    w.clock.step_wall_back(Duration::from_millis(300));
    w.pass(5 * SECOND).await;
    assert_eq!(wall_clock_events(&mut w), Vec::<i64>::new(), "a suspend and a small slew are no step");
    w.clock.step_wall_back(2 * HOUR);
    w.pass(2 * SECOND).await;
    assert_eq!(wall_clock_events(&mut w), [-3_600_300]);
}
