//! Outages (F-1…F-3) through the supervisor, the simulated WhatsApp and a
//! SQLite file, under paused time.

mod common;

use std::time::Duration;

use common::{World, linked_fleet, most_in_one_second};
use switchboard_engine::lifecycle::{AgentId, CloseCode, Rule, Status};
use switchboard_engine::simulator::OnStart;
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);

/// Lets time pass a second at a time until `done`, at most `limit`; returns the time it took.
async fn pass_until(w: &World, limit: Duration, done: impl Fn(&World) -> bool) -> Duration {
    let start = Instant::now();
    while !done(w) {
        assert!(start.elapsed() < limit, "not done within {limit:?}");
        w.pass(SECOND).await;
    }
    start.elapsed()
}

fn count(w: &World, ids: &[AgentId], status: Status) -> usize {
    ids.iter().filter(|&&id| w.status(id) == status).count()
}

/// Starts of the simulated WhatsApp from `from` on (agent, time).
fn starts_since(w: &World, from: usize) -> Vec<(AgentId, Instant)> {
    w.sim.stats().starts[from..].iter().map(|(id, at, _)| (*id, *at)).collect()
}

/// F-1, F-2, F-3: the machine is cut off from WhatsApp for ten minutes.
/// The drops make an outage; no agent burns its retries or gives up; one
/// probe at a time tries, on the backoff; the first connection ends it, and
/// every agent is back, paced, in the order held, without a click.
#[tokio::test(start_paused = true)]
async fn f1_f2_f3_a_ten_minute_outage_needs_no_click_and_fails_no_agent() {
    let w = World::new().await;
    let ids = linked_fleet(&w, 10).await;
    let settings = w.sup.settings();

    w.sim.cut_off(true);
    w.sup.settle().await;
    let outage = w.sup.outage().expect("F-1: half the linked agents dropped together");
    assert!(outage.cause.contains("linked agents lost their connection within 1 min"), "{}", outage.cause);
    let before = w.sim.stats().starts.len();

    w.pass(10 * MINUTE).await;
    assert_eq!(count(&w, &ids, Status::Failed), 0, "F-3: nobody gives up because of an outage");
    for &id in &ids {
        let r = w.view(id).record;
        let held = r.held_since.is_some() || r.status == Status::Connecting;
        assert!(held && r.retry_attempt == 0, "F-2: held, and no retry counted: {r:?}");
    }
    // F-2: only probes ran, one at a time, each after the last had ended,
    // spaced by R-1's delays (at least the base, less its jitter).
    let probes = starts_since(&w, before);
    let outage = w.sup.outage().expect("still out");
    assert_eq!(probes.len() as u32, outage.probes + u32::from(outage.probing.is_some()));
    assert!((8..=20).contains(&probes.len()), "{} probes in 10 min", probes.len());
    let least_gap = settings.backoff_base.mul_f64(0.8);
    assert!(probes.windows(2).all(|p| p[1].1 - p[0].1 >= least_gap), "{probes:?}");
    let probed: std::collections::BTreeSet<AgentId> = probes.iter().map(|(id, _)| *id).collect();
    assert!(probed.len() == ids.len(), "each held agent probes in turn: {probed:?}");

    let held_order: Vec<AgentId> = {
        let mut held: Vec<_> = ids.iter().map(|&id| (w.view(id).record.held_since.unwrap(), id)).collect();
        held.sort();
        held.into_iter().map(|(_, id)| id).collect()
    };
    w.sim.cut_off(false);
    let before_end = w.sim.stats().starts.len();
    pass_until(&w, 2 * MINUTE, |w| w.sup.outage().is_none()).await;
    let back = pass_until(&w, MINUTE, |w| count(w, &ids, Status::Connected) == ids.len()).await;
    assert!(back <= MINUTE, "F-3: every agent connected within a minute of the end ({back:?})");
    // The probe that ended it, then the rest in the order they were held.
    let resumed: Vec<AgentId> = starts_since(&w, before_end).into_iter().map(|(id, _)| id).collect();
    let rest: Vec<AgentId> = held_order.iter().copied().filter(|id| *id != resumed[0]).collect();
    assert_eq!(resumed[1..], rest[..], "F-3: resumed in the order held");

    let timeline = w.sup.history(ids[3], 50).await.unwrap();
    assert!(timeline.iter().any(|h| h.rule == Some(Rule::F2)), "the timeline says it was held");
    assert!(timeline.iter().any(|h| h.rule == Some(Rule::F3)), "and that it resumed");
    w.sup.shutdown().await;
}

/// F-1: one report that WhatsApp cannot be reached at all is an outage,
/// even with a single agent; F-2: its retries then never run out.
#[tokio::test(start_paused = true)]
async fn f1_unreachable_is_an_outage_at_once_and_a_lone_agent_keeps_trying() {
    let w = World::new().await;
    let ids = linked_fleet(&w, 1).await;
    w.sim.cut_off(true);
    w.sup.settle().await;
    assert!(w.sup.outage().is_none(), "one agent dropping is no outage");
    // Its first retry meets the cut-off network.
    w.pass(5 * SECOND).await;
    let outage = w.sup.outage().expect("F-1: the network said so");
    assert!(outage.cause.starts_with("WhatsApp cannot be reached from this machine"), "{}", outage.cause);

    w.pass(30 * MINUTE).await;
    assert_eq!(w.status(ids[0]), Status::Reconnecting, "far beyond max_retries' time, still waiting");
    w.sim.cut_off(false);
    pass_until(&w, 2 * MINUTE, |w| w.status(ids[0]) == Status::Connected).await;
    assert!(w.sup.outage().is_none(), "F-3: its connection ended the outage");
    w.sup.shutdown().await;
}

/// F-3: an agent that gave up while the outage was building failed
/// for the fleet's reason: it is held with the others and resumes with them.
#[tokio::test(start_paused = true)]
async fn f3_an_agent_that_gave_up_while_the_outage_built_resumes_with_it() {
    let w = World::new().await;
    w.sup.update_settings(vec![("max_retries".into(), 1)]).await.unwrap();
    let ids = linked_fleet(&w, 4).await;
    let early = ids[0];
    w.sim.set_on_start(early, OnStart::Refuse(CloseCode::UNAVAILABLE));
    w.sim.drop_with(early, CloseCode::UNAVAILABLE, None);
    w.pass(5 * SECOND).await;
    assert_eq!(w.status(early), Status::Failed, "R-2: gave up after one retry");

    for &id in &ids[1..3] {
        w.sim.set_on_start(id, OnStart::Refuse(CloseCode::UNAVAILABLE));
        w.sim.drop_with(id, CloseCode::UNAVAILABLE, None);
    }
    w.sup.settle().await;
    assert!(w.sup.outage().is_some(), "3 of 4 linked agents dropped within the window");
    let view = w.view(early);
    assert_eq!((view.record.status, view.record.held_since.is_some()), (Status::Reconnecting, true));

    w.pass(MINUTE).await;
    assert_eq!(count(&w, &ids, Status::Failed), 0, "probes failed; nobody counted them");
    for &id in &ids[..3] {
        w.sim.set_on_start(id, OnStart::Normal);
    }
    pass_until(&w, 3 * MINUTE, |w| count(w, &ids, Status::Connected) == ids.len()).await;
    w.sup.shutdown().await;
}

/// F-1, F-2: the outage is saved: after a restart it goes on, its agents
/// still held, and its history row records the end.
#[tokio::test(start_paused = true)]
async fn f2_an_outage_survives_a_restart() {
    let mut w = World::new().await;
    let ids = linked_fleet(&w, 3).await;
    w.sim.cut_off(true);
    w.pass(10 * SECOND).await;
    let since = w.sup.outage().expect("3 of 3").since;

    let store = switchboard_engine::store::Store::open(&w.db).unwrap();
    assert_eq!(store.load_open_outage().unwrap().map(|o| o.started_at), Some(since), "saved");
    drop(store);
    w.restart().await;
    assert_eq!(w.sup.outage().map(|o| o.since), Some(since), "the same outage goes on");
    w.pass(MINUTE).await;
    assert_eq!(count(&w, &ids, Status::Failed), 0);
    assert!(ids.iter().all(|&id| w.status(id) != Status::Connected));

    w.sim.cut_off(false);
    pass_until(&w, 2 * MINUTE, |w| count(w, &ids, Status::Connected) == ids.len()).await;
    let store = switchboard_engine::store::Store::open(&w.db).unwrap();
    let outages = store.outages_since(since).unwrap();
    assert_eq!(outages.len(), 1);
    let (_, how) = outages[0].ended.clone().expect("ended");
    assert!(how.starts_with("a connection reached WhatsApp"), "{how}");
    // H-4: the header's count of the last week's outages.
    assert_eq!(w.sup.outages_last_week().await.unwrap(), 1);
    w.pass(Duration::from_secs(8 * 24 * 60 * 60)).await;
    assert_eq!(w.sup.outages_last_week().await.unwrap(), 0, "older than 7 days");
    w.sup.shutdown().await;
}

/// F-2: "Try now" and a person's Connect are probes too; neither waits for
/// the backoff, and a click that connects ends the outage.
#[tokio::test(start_paused = true)]
async fn f2_try_now_probes_at_once_and_a_click_is_a_probe() {
    let w = World::new().await;
    let ids = linked_fleet(&w, 3).await;
    w.sim.cut_off(true);
    // Let the probes back off to a long wait.
    w.pass(5 * MINUTE).await;
    let before = w.sim.stats().starts.len();
    w.sup.try_now();
    w.sup.settle().await;
    assert_eq!(w.sim.stats().starts.len(), before + 1, "one probe, at once");
    w.sup.try_now();
    w.sup.try_now();
    w.sup.settle().await;
    assert!(w.sim.stats().starts.len() <= before + 3);
    // The probes' attempts count for A-5 like any other.
    w.pass(w.sup.settings().attempt_cooldown).await;

    w.sim.cut_off(false);
    let decision = w.sup.connect(ids[1]).await.unwrap();
    assert!(decision.is_allowed(), "A-rules as always: {decision:?}");
    w.sup.settle().await;
    assert!(w.sup.outage().is_none(), "F-3: the click's connection ended it");
    pass_until(&w, MINUTE, |w| count(w, &ids, Status::Connected) == ids.len()).await;
    w.sup.shutdown().await;
}

/// The scenario of the issue: 1,000 linked agents, WhatsApp unreachable for
/// ten minutes, then back. Zero `failed`, zero clicks, probes one at a
/// time, every agent connected within a minute of the end, starts paced by
/// R-5 (F-1…F-3).
#[tokio::test(start_paused = true)]
async fn f3_a_thousand_agents_come_back_from_a_ten_minute_outage_paced() {
    let w = World::new().await;
    let ids = linked_fleet(&w, 1_000).await;
    let rate = w.sup.settings().start_rate as usize;
    w.sim.cut_off(true);
    w.sup.settle().await;
    assert!(w.sup.outage().is_some());
    let before = w.sim.stats().starts.len();
    w.pass(10 * MINUTE).await;
    assert_eq!(count(&w, &ids, Status::Failed), 0);
    let probes = starts_since(&w, before);
    assert!(probes.len() < 30, "{} starts during the outage: probes only", probes.len());

    w.sim.cut_off(false);
    let before_end = w.sim.stats().starts.len();
    pass_until(&w, 2 * MINUTE, |w| w.sup.outage().is_none()).await;
    let back = pass_until(&w, 2 * MINUTE, |w| count(w, &ids, Status::Connected) == ids.len()).await;
    println!("1,000 agents back {back:?} after the outage's end");
    assert!(back <= MINUTE, "every agent connected within a minute of the end ({back:?})");
    let times: Vec<Instant> = starts_since(&w, before_end).into_iter().map(|(_, at)| at).collect();
    assert!(most_in_one_second(&times) <= rate, "R-5: at most {rate} starts a second");
    w.sup.shutdown().await;
}

/// F-2, F-3 (issue 15's tray): staff pause every automatic reconnect. A
/// drop is then held in the pause's own words, nothing starts by itself
/// however long it lasts (no probes), a person's Connect still works and
/// does not end it, the pause survives a restart, and "Resume" releases
/// the held agents paced by R-5.
#[tokio::test(start_paused = true)]
async fn f2_f3_staff_pause_holds_every_reconnect_until_they_resume() {
    let mut w = World::new().await;
    let ids = linked_fleet(&w, 4).await;
    w.sup.pause_reconnects(true);
    w.sup.settle().await;
    let outage = w.sup.outage().expect("the pause is an outage of staff's own");
    assert!(outage.paused && outage.next_probe_at.is_none(), "{outage:?}");
    assert_eq!(outage.cause, "automatic reconnects paused by staff");
    assert_eq!(w.sup.outages_last_week().await.unwrap(), 0, "H-4 counts WhatsApp's outages, not staff's pauses");

    for &id in &ids[..3] {
        assert!(w.sim.drop_with(id, CloseCode::TIMED_OUT, None));
    }
    w.sup.settle().await;
    let before = w.sim.stats().starts.len();
    w.pass(30 * MINUTE).await;
    assert_eq!(starts_since(&w, before), [], "nothing starts by itself while paused");
    for &id in &ids[..3] {
        let r = w.view(id).record;
        assert_eq!((r.status, r.retry_attempt, r.next_retry_at), (Status::Reconnecting, 0, None));
        assert!(r.held_since.is_some() && r.reason.contains("automatic reconnects paused"), "{}", r.reason);
    }
    // A person may still connect one agent by hand; the pause goes on.
    assert!(w.sup.connect(ids[0]).await.unwrap().is_allowed());
    w.sup.settle().await;
    assert_eq!(w.status(ids[0]), Status::Connected);
    assert!(w.sup.outage().is_some_and(|o| o.paused), "a connection does not end staff's pause");

    w.restart().await;
    assert!(w.sup.outage().is_some_and(|o| o.paused), "the pause survives a restart");
    let before = w.sim.stats().starts.len();
    w.pass(5 * MINUTE).await;
    assert_eq!(starts_since(&w, before), [], "and still nothing starts by itself");

    w.sup.pause_reconnects(false);
    w.sup.settle().await;
    assert!(w.sup.outage().is_none());
    pass_until(&w, MINUTE, |w| count(w, &ids, Status::Connected) == ids.len()).await;
    let history = w.sup.history(ids[1], 10).await.unwrap();
    assert!(history.iter().any(|h| h.rule == Some(Rule::F3) && h.reason.contains("resumed by staff")), "{history:?}");
}
