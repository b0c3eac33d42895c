//! An agent's health through the supervisor, the simulator and SQLite under
//! paused time: the figures of H-1, the flapping mark of H-2 and the
//! ban-risk counts of H-3, in the detail's figures and in the row's view.

mod common;

use std::time::Duration;

use common::World;
use switchboard_engine::clock::Timestamp;
use switchboard_engine::error::EngineError;
use switchboard_engine::lifecycle::{AgentHealth, AgentId, CloseCode, Rule, Status, Uptime};
use switchboard_engine::simulator::OnStart;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

async fn health(w: &World, id: AgentId) -> AgentHealth {
    w.sup.health(id).await.unwrap()
}

/// When the agent's link first opened, from its timeline.
async fn first_connected_at(w: &World, id: AgentId) -> Timestamp {
    let history = w.sup.history(id, 1_000).await.unwrap();
    history.iter().rev().find(|e| e.to == Status::Connected).expect("it connected").at
}

/// When the agent's link last opened, from its timeline.
async fn last_opened_at(w: &World, id: AgentId) -> Timestamp {
    let history = w.sup.history(id, 1_000).await.unwrap();
    history.iter().find(|e| e.to == Status::Connected).expect("it connected").at
}

/// R-1 without jitter: the k-th retry waits 2 s · 2^(k-1).
fn retry_delay(k: u32) -> Duration {
    2 * SECOND * 2u32.pow(k - 1)
}

/// WhatsApp drops the open link with a recoverable code (L-4); the retry
/// after `backoff_base` opens it again, or, with `refused_retries`, that many
/// retries are refused first.
async fn drop_and_recover(w: &World, id: AgentId, refused_retries: u32) {
    if refused_retries > 0 {
        w.sim.set_on_start(id, OnStart::Refuse(CloseCode::CONNECTION_CLOSED));
    }
    assert!(w.sim.drop_with(id, CloseCode::CONNECTION_CLOSED, None));
    w.sup.settle().await;
    assert_eq!(w.status(id), Status::Reconnecting);
    for k in 1..=refused_retries {
        w.pass(retry_delay(k) + SECOND / 10).await;
        assert_eq!(w.status(id), Status::Reconnecting, "retry {k} refused");
    }
    w.sim.set_on_start(id, OnStart::Normal);
    w.pass(retry_delay(refused_retries + 1) + SECOND / 10).await;
    assert_eq!(w.status(id), Status::Connected);
}

async fn without_jitter(w: &World) {
    w.sup.update_settings(vec![("jitter_percent".into(), 0)]).await.unwrap();
}

/// H-1: time connected, disconnects, the median recovery and the last time
/// connected, as the history of a linked agent that drops tells them; the
/// day's figures leave with the day, the week's with the week.
#[tokio::test(start_paused = true)]
async fn h1_health_figures_follow_the_agents_history() {
    let w = World::new().await;
    without_jitter(&w).await;
    let id = w.add("Support 1").await;
    let added = w.now();
    w.link(id).await;
    let linked = first_connected_at(&w, id).await;
    w.pass(HOUR).await;
    drop_and_recover(&w, id, 0).await;
    w.pass(HOUR).await;
    drop_and_recover(&w, id, 1).await;
    w.pass(HOUR).await;

    let now = w.now();
    let h = health(&w, id).await;
    let covered = added.until(now);
    // Down for the two recoveries: 2 s, and 2 s + 4 s with a refused retry.
    let connected = linked.plus(8 * SECOND).until(now);
    assert_eq!(h.last_day, Uptime { connected, covered }, "{}", Rule::H1);
    assert_eq!(h.last_week, h.last_day, "the agent is younger than a day");
    assert_eq!(h.disconnects_last_day, 2);
    assert_eq!(h.median_recovery, Some(4 * SECOND), "the middle of 2 s and 6 s");
    assert_eq!(h.last_connected, Some(now), "connected now");

    w.sup.disconnect(id).await.unwrap();
    w.sup.settle().await;
    let disconnected_at = w.now();
    w.pass(HOUR).await;
    let h = health(&w, id).await;
    assert_eq!(h.disconnects_last_day, 3, "a person's disconnect too");
    assert_eq!(h.last_connected, Some(disconnected_at));
    assert_eq!(h.last_day.connected, connected, "nothing since");

    w.pass(DAY).await;
    let h = health(&w, id).await;
    assert_eq!(h.last_day, Uptime { connected: Duration::ZERO, covered: DAY });
    assert_eq!(h.last_week.connected, connected);
    assert_eq!((h.disconnects_last_day, h.median_recovery), (0, Some(4 * SECOND)));

    w.pass(7 * DAY).await;
    let h = health(&w, id).await;
    assert_eq!(h.last_week, Uptime { connected: Duration::ZERO, covered: 7 * DAY });
    assert_eq!(h.median_recovery, None, "the closes left the week");
    assert_eq!(h.last_connected, Some(disconnected_at), "read from the entry before the week");
}

/// H-1: the app's restart (P-3) is no disconnect of the agent, and its
/// figures are read from the database the next run opens.
#[tokio::test(start_paused = true)]
async fn h1_a_restart_of_the_app_is_not_a_disconnect() {
    let mut w = World::new().await;
    let id = w.add("Support 1").await;
    w.link(id).await;
    w.pass(HOUR).await;
    w.restart().await;
    w.pass(MINUTE).await;
    assert_eq!(w.status(id), Status::Connected, "resumed (P-3)");
    let h = health(&w, id).await;
    assert_eq!(h.disconnects_last_day, 0);
    assert_eq!(h.median_recovery, None);
    assert_eq!(h.last_connected, Some(w.now()));
    assert!(h.last_day.connected > HOUR);
}

/// H-2 (detection): `flap_threshold` recoverable closes within ten minutes
/// mark the agent flapping; the mark outlives the ten minutes and clears
/// after thirty minutes connected.
#[tokio::test(start_paused = true)]
async fn flapping_is_detected_and_clears_after_thirty_minutes_connected() {
    let w = World::new().await;
    without_jitter(&w).await;
    w.sup.update_settings(vec![("flap_threshold".into(), 3)]).await.unwrap();
    let id = w.add("Support 1").await;
    w.link(id).await;
    for _ in 0..2 {
        drop_and_recover(&w, id, 0).await;
        w.pass(MINUTE).await;
    }
    let h = health(&w, id).await;
    assert_eq!((h.flapping.recent_closes, h.flapping.flapping), (2, false));

    assert!(!w.view(id).flapping);
    // The third close marks it, and its retry waits the longest delay (H-2).
    assert!(w.sim.drop_with(id, CloseCode::CONNECTION_CLOSED, None));
    w.pass(w.sup.settings().backoff_cap + SECOND).await;
    assert_eq!(w.status(id), Status::Connected);
    let h = health(&w, id).await;
    assert_eq!((h.flapping.recent_closes, h.flapping.flapping), (3, true));
    assert!(w.view(id).flapping, "the row shows the mark");

    w.pass(15 * MINUTE).await;
    let h = health(&w, id).await;
    assert_eq!((h.flapping.recent_closes, h.flapping.flapping), (0, true), "no close in ten minutes, still marked");

    let almost_cleared = last_opened_at(&w, id).await.plus(30 * MINUTE).minus(Duration::from_millis(1));
    w.pass(w.now().until(almost_cleared)).await;
    assert!(health(&w, id).await.flapping.flapping, "a millisecond short of thirty minutes connected");
    // Time alone passes (no settle, which would make every task publish
    // anew); a few milliseconds, as the engine's time counts whole ones.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(!w.view(id).flapping, "the row's mark clears by time alone, with no other change");
    assert!(!health(&w, id).await.flapping.flapping, "thirty minutes connected");
}

/// H-3: each new link (a scan) is counted for 24 hours, not a QR shown
/// and left unscanned; above `risk_pairings_per_day` the agent is at risk.
/// Nothing is blocked.
#[tokio::test(start_paused = true)]
async fn h3_new_links_above_the_setting_put_an_agent_at_risk() {
    let w = World::new().await;
    let id = w.add("Support 1").await;
    w.sup.connect(id).await.unwrap();
    w.sup.settle().await;
    assert_eq!(w.status(id), Status::QrPending);
    w.sup.disconnect(id).await.unwrap();
    w.sup.settle().await;
    for _ in 0..3 {
        w.link(id).await;
        w.sup.disconnect(id).await.unwrap();
        w.sup.settle().await;
    }
    let risk = health(&w, id).await.ban_risk;
    assert_eq!((risk.pairings, risk.pairings_over, risk.at_risk()), (3, false, false), "{}", Rule::H3);

    assert_eq!(w.view(id).ban_risk, None);
    w.link(id).await;
    let risk = health(&w, id).await.ban_risk;
    assert_eq!((risk.pairings, risk.pairings_over, risk.at_risk()), (4, true, true));
    assert_eq!(w.view(id).ban_risk, Some(risk), "the row shows the warning with its counts");
    assert_eq!((risk.connects, risk.connects_over), (5, false));

    // Time alone passes (no settle, which would make every task publish anew).
    tokio::time::sleep(DAY).await;
    assert_eq!(w.view(id).ban_risk, None, "the row's warning leaves with the day, with no other change");
    let risk = health(&w, id).await.ban_risk;
    assert_eq!((risk.pairings, risk.connects, risk.at_risk()), (0, 0, false));
}

/// H-3: connects a person started are counted; refused clicks and
/// automatic retries are not. Above `risk_connects_per_day` the agent is at risk.
#[tokio::test(start_paused = true)]
async fn h3_user_connects_above_the_setting_put_an_agent_at_risk() {
    let w = World::new().await;
    without_jitter(&w).await;
    w.sup.update_settings(vec![("risk_connects_per_day".into(), 2)]).await.unwrap();
    let id = w.add("Support 1").await;
    w.sim.set_on_start(id, OnStart::Hang);
    w.sup.connect(id).await.unwrap();
    w.sup.settle().await;
    assert_eq!(w.status(id), Status::Connecting);
    let refused = w.sup.connect(id).await.unwrap();
    assert!(!refused.is_allowed(), "A-1: an attempt is in flight");
    assert!(w.sim.open(id));
    w.sup.settle().await;
    assert_eq!(w.status(id), Status::Connected);
    drop_and_recover(&w, id, 0).await;
    let risk = health(&w, id).await.ban_risk;
    assert_eq!((risk.connects, risk.connects_over, risk.pairings), (1, false, 0));

    for _ in 0..2 {
        w.sup.disconnect(id).await.unwrap();
        assert!(w.sup.connect(id).await.unwrap().is_allowed());
        w.sup.settle().await;
        assert!(w.sim.open(id));
        w.sup.settle().await;
    }
    let risk = health(&w, id).await.ban_risk;
    assert_eq!((risk.connects, risk.connects_over, risk.pairings_over, risk.at_risk()), (3, true, false, true));
    assert_eq!(w.status(id), Status::Connected, "never blocked");
}

#[tokio::test(start_paused = true)]
async fn the_health_of_an_agent_that_does_not_exist_is_an_error() {
    let w = World::new().await;
    let id = w.add("Support 1").await;
    w.sup.remove(id).await.unwrap();
    for missing in [id, AgentId(999)] {
        let err = w.sup.health(missing).await.unwrap_err();
        assert!(matches!(err, EngineError::UnknownAgent(unknown) if unknown == missing), "{err}");
    }
}

/// H-2: a flapping agent's next automatic retry waits at least
/// `backoff_cap`, whatever R-1's delay for its count; the mark comes from
/// history, so a restart keeps it.
#[tokio::test(start_paused = true)]
async fn h2_a_flapping_agents_next_retry_waits_the_longest_delay_across_a_restart() {
    let mut w = World::new().await;
    without_jitter(&w).await;
    w.sup.update_settings(vec![("flap_threshold".into(), 3)]).await.unwrap();
    let id = w.add("Support 1").await;
    w.link(id).await;
    for _ in 0..2 {
        drop_and_recover(&w, id, 0).await;
    }
    w.restart().await;
    w.pass(10 * SECOND).await;
    assert_eq!(w.status(id), Status::Connected);
    assert!(!w.view(id).flapping, "two closes are not yet three");
    assert!(w.sim.drop_with(id, CloseCode::CONNECTION_CLOSED, None));
    w.sup.settle().await;
    let view = w.view(id);
    assert!(view.flapping, "the third close within ten minutes marks it, after a restart too");
    let cap = w.sup.settings().backoff_cap;
    assert_eq!(view.record.next_retry_at, Some(w.now().plus(cap)), "R-1 would say 2 s; H-2 says the cap");
    let entry = w.sup.history(id, 1).await.unwrap().remove(0);
    assert_eq!(entry.rule, Some(Rule::H2), "{}", entry.reason);
    assert!(entry.reason.contains("flapping"), "{}", entry.reason);
}
