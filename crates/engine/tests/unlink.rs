//! D-1 everywhere: Disconnect and Remove unlink the device from the phone
//! whatever the agent was doing, not only when a link is live (issue 11,
//! item 2). The simulated WhatsApp lists each paired device on the phone;
//! credentials deleted without a logout leave an orphan there, a device that
//! only the phone's owner can remove, by hand.

mod common;

use std::time::Duration;

use common::World;
use switchboard_engine::lifecycle::{AgentId, CloseCode, Rule, Status};
use switchboard_engine::simulator::OnStart;

/// Every way a linked agent can be without a live link, and with one.
#[derive(Debug, Clone, Copy)]
enum Situation {
    Connected,
    /// Waiting for a retry after a 408.
    Reconnecting,
    /// 405: failed, the credentials kept for after an update (L-3).
    FailedKeepingCredentials,
    /// A retry that WhatsApp has not answered yet.
    ConnectingOnResume,
    /// Just after start-up, its resume not answered yet.
    AfterRestart,
}

const SITUATIONS: [Situation; 5] = [
    Situation::Connected,
    Situation::Reconnecting,
    Situation::FailedKeepingCredentials,
    Situation::ConnectingOnResume,
    Situation::AfterRestart,
];

async fn linked_agent_in(w: &mut World, situation: Situation) -> AgentId {
    let id = w.add(&format!("{situation:?}")).await;
    w.link(id).await;
    match situation {
        Situation::Connected => {}
        Situation::Reconnecting => {
            w.sim.drop_with(id, CloseCode::TIMED_OUT, None);
            w.sup.settle().await;
        }
        Situation::FailedKeepingCredentials => {
            w.sim.drop_with(id, CloseCode::CLIENT_OUTDATED, None);
            w.sup.settle().await;
            assert_eq!(w.status(id), Status::Failed);
        }
        Situation::ConnectingOnResume => {
            w.sim.set_on_start(id, OnStart::Hang);
            w.sim.drop_with(id, CloseCode::TIMED_OUT, None);
            w.pass(Duration::from_secs(3)).await;
            assert_eq!(w.status(id), Status::Connecting);
        }
        Situation::AfterRestart => {
            w.sim.set_on_start(id, OnStart::Hang);
            w.restart().await;
        }
    }
    assert!(w.sim.has_credentials_of(id), "{situation:?}");
    id
}

/// D-1: from every situation the agent is `disconnected` at once and, once
/// the engine settled, the phone lists no device that nobody can reach.
#[tokio::test(start_paused = true)]
async fn d1_disconnect_unlinks_the_device_whatever_the_agent_was_doing() {
    for situation in SITUATIONS {
        let mut w = World::new().await;
        let id = linked_agent_in(&mut w, situation).await;
        w.sup.disconnect(id).await.unwrap();
        assert_eq!(w.status(id), Status::Disconnected, "{situation:?}");
        assert!(!w.view(id).record.has_credentials, "{situation:?}");
        w.pass(Duration::from_secs(1)).await;
        assert_eq!(w.sim.orphaned_devices(), 0, "{situation:?}: the phone still lists the device");
        assert_eq!(w.sim.set_aside_count(), 0, "{situation:?}: still waiting to unlink");
        assert!(!w.sim.has_credentials_of(id), "{situation:?}");
        w.sup.shutdown().await;
    }
}

/// D-1 for Remove: the device of a removed agent is unlinked too.
#[tokio::test(start_paused = true)]
async fn d1_remove_unlinks_the_device_whatever_the_agent_was_doing() {
    for situation in SITUATIONS {
        let mut w = World::new().await;
        let id = linked_agent_in(&mut w, situation).await;
        w.sup.remove(id).await.unwrap();
        assert!(w.sup.view(id).is_none());
        w.pass(Duration::from_secs(1)).await;
        assert_eq!(w.sim.orphaned_devices(), 0, "{situation:?}: the phone still lists the device");
        assert_eq!(w.sim.set_aside_count(), 0, "{situation:?}: still waiting to unlink");
        w.sup.shutdown().await;
    }
}

/// D-1 while WhatsApp cannot be reached: the agent is `disconnected` at
/// once, its row says "unlinking from the phone…", the job survives a
/// restart and tries again on the backoff, a Connect meanwhile pairs afresh
/// (never resuming the old credentials), and once WhatsApp answers the old
/// device leaves the phone and the timeline says so.
#[tokio::test(start_paused = true)]
async fn d1_an_unlink_waits_out_an_outage_and_a_restart() {
    let mut w = World::new().await;
    let id = linked_agent_in(&mut w, Situation::Reconnecting).await;
    w.sim.set_unreachable(true);

    w.sup.disconnect(id).await.unwrap();
    w.pass(Duration::from_secs(30)).await;
    let view = w.view(id);
    assert_eq!(view.record.status, Status::Disconnected);
    assert!(view.unlinking, "the row says the device is still being unlinked");
    assert_eq!(w.sim.set_aside_count(), 1);
    assert_eq!(w.sim.orphaned_devices(), 0, "set aside, not lost");
    let timeline = w.sup.history(id, 10).await.unwrap();
    assert_eq!(timeline[0].reason, "unlinking from the phone…");
    assert_eq!(timeline[0].rule, Some(Rule::D1));

    w.restart().await;
    assert!(w.view(id).unlinking, "the job survived the restart");

    // A new pairing starts from nothing, beside the job.
    let starts = w.sim.stats().starts.len();
    assert!(w.sup.connect(id).await.unwrap().is_allowed());
    w.sup.settle().await;
    let start = w.sim.stats().starts[starts];
    assert_eq!((start.0, start.2), (id, false), "a fresh pairing, not a resume");
    assert_eq!(w.status(id), Status::QrPending);
    w.sup.disconnect(id).await.unwrap();

    w.sim.set_unreachable(false);
    w.pass(Duration::from_secs(120)).await;
    assert!(!w.view(id).unlinking);
    assert_eq!(w.sim.set_aside_count(), 0);
    assert_eq!(w.sim.orphaned_devices(), 0);
    let timeline = w.sup.history(id, 20).await.unwrap();
    assert!(timeline.iter().any(|h| h.reason == "unlinked from the phone"), "{timeline:?}");
    w.sup.shutdown().await;
}

/// D-1 for a removed agent: its unlink job survives a restart too.
#[tokio::test(start_paused = true)]
async fn d1_a_removed_agents_unlink_survives_a_restart() {
    let mut w = World::new().await;
    let id = linked_agent_in(&mut w, Situation::Reconnecting).await;
    w.sim.set_unreachable(true);
    w.sup.remove(id).await.unwrap();
    w.pass(Duration::from_secs(10)).await;
    w.restart().await;
    assert_eq!(w.sim.set_aside_count(), 1);
    w.sim.set_unreachable(false);
    w.pass(Duration::from_secs(120)).await;
    assert_eq!(w.sim.set_aside_count(), 0);
    assert_eq!(w.sim.orphaned_devices(), 0);
    w.sup.shutdown().await;
}

/// P-3, D-1: the phone paired but the app stopped before the scan was
/// saved. At the next start the credentials the record does not know are
/// unlinked, so the phone lists no device that nobody can reach.
#[tokio::test(start_paused = true)]
async fn p3_a_pairing_the_app_did_not_record_is_unlinked_at_start_up() {
    let mut w = World::new().await;
    let id = w.add("Support 1").await;
    w.sup.connect(id).await.unwrap();
    w.sup.settle().await;
    assert_eq!(w.status(id), Status::QrPending);
    // The phone pairs; the app stops before it hears of it.
    w.sim.give_credentials(id);
    w.restart().await;
    assert_eq!(w.status(id), Status::Disconnected);
    w.pass(Duration::from_secs(1)).await;
    assert_eq!(w.sim.orphaned_devices(), 0, "the phone still lists the device");
    assert_eq!(w.sim.set_aside_count(), 0);
    w.sup.shutdown().await;
}

/// D-1 across a restart: a job that did its work but could not record it
/// (the disk was full) runs again after the restart; by then the agent has
/// paired anew, and the new credentials stay its own.
#[tokio::test(start_paused = true)]
async fn d1_a_repeated_unlink_never_takes_the_credentials_of_a_new_pairing() {
    let mut w = World::new().await;
    let id = linked_agent_in(&mut w, Situation::Reconnecting).await;
    w.sim.set_unreachable(true);
    w.sup.disconnect(id).await.unwrap();
    w.link(id).await;

    common::break_saving(&w.db, true);
    w.sim.set_unreachable(false);
    w.pass(Duration::from_secs(120)).await;
    assert_eq!(w.sim.set_aside_count(), 0, "the old device is unlinked");
    common::break_saving(&w.db, false);

    w.restart().await;
    w.pass(Duration::from_secs(120)).await;
    assert_eq!(w.status(id), Status::Connected);
    assert!(w.sim.has_credentials_of(id), "the new pairing's credentials were taken");
    assert!(!w.view(id).unlinking);
    w.sup.shutdown().await;
}
