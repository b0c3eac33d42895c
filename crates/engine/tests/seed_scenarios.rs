//! The four tests of seeds/phase2-cooldown-bypass.md ("Testing Approach"),
//! end to end: supervisor + simulated WhatsApp + a SQLite file, paused time.

mod common;

use std::time::Duration;

use common::World;
use switchboard_engine::lifecycle::{BlockKind, CloseCode, Rule, Status, Verdict};

/// Seed test 1 (A-2, D-1): manual disconnect, then an immediate connect gets a fresh QR.
#[tokio::test(start_paused = true)]
async fn seed_1_a2_manual_disconnect_then_immediate_reconnect_gets_a_fresh_qr() {
    let w = World::new().await;
    let id = w.add("Support 1").await;
    w.link(id).await;
    w.sup.disconnect(id).await.unwrap();
    assert_eq!(w.status(id), Status::Disconnected);
    let stored = &w.stored()[0];
    assert_eq!((stored.status, stored.disconnected_at), (Status::Disconnected, Some(w.now())));
    assert!(!w.sim.has_credentials_of(id), "D-1 deletes the credentials");

    w.pass(Duration::from_millis(500)).await;
    let decision = w.sup.connect(id).await.unwrap();
    assert_eq!((decision.rule, decision.verdict), (Rule::A2, Verdict::Allowed));
    assert_eq!(decision.reason, "clean manual disconnect — cooldown bypassed");
    w.sup.settle().await;
    let view = w.view(id);
    assert_eq!(view.record.status, Status::QrPending);
    assert!(view.qr.is_some(), "the QR is there at once");
}

/// Seed test 2 (A-3, L-2): an error disconnect applies the 5-minute cooldown.
#[tokio::test(start_paused = true)]
async fn seed_2_a3_error_disconnect_applies_the_cooldown() {
    let w = World::new().await;
    let id = w.add("Support 2").await;
    w.link(id).await;
    let failed_at = w.now();
    assert!(w.sim.drop_with(id, CloseCode::LOGGED_OUT, None));
    w.sup.settle().await;
    assert_eq!(w.status(id), Status::Conflict);
    assert_eq!(w.stored()[0].last_auth_failure_at, Some(failed_at));

    let until = failed_at.plus(Duration::from_secs(300));
    let decision = w.sup.connect(id).await.unwrap();
    let blocked = Verdict::Blocked { kind: BlockKind::AuthCooldown, until: Some(until) };
    assert_eq!((decision.rule, decision.verdict), (Rule::A3, blocked));
    assert!(decision.reason.contains("(401)"), "{}", decision.reason);

    w.pass(Duration::from_secs(299)).await;
    assert!(!w.sup.connect(id).await.unwrap().is_allowed(), "still blocked a second before the end");
    w.pass(Duration::from_secs(1)).await;
    let decision = w.sup.connect(id).await.unwrap();
    assert_eq!((decision.rule, decision.verdict), (Rule::A3, Verdict::Allowed));
    assert!(decision.reason.contains("still in conflict"));
}

/// Seed test 3 (A-2, D-1): a manual disconnect after an error clears the cooldown.
#[tokio::test(start_paused = true)]
async fn seed_3_a2_manual_disconnect_after_an_error_bypasses_the_cooldown() {
    let w = World::new().await;
    let id = w.add("Support 3").await;
    w.link(id).await;
    // The seed's step 1: a 401, which is a conflict with a running cooldown that started at the close (L-2).
    let failed_at = w.now();
    assert!(w.sim.drop_with(id, CloseCode::LOGGED_OUT, None));
    w.sup.settle().await;
    assert_eq!(w.status(id), Status::Conflict);
    assert_eq!(w.stored()[0].last_auth_failure_at, Some(failed_at));
    let refused = w.sup.connect(id).await.unwrap();
    let blocked =
        Verdict::Blocked { kind: BlockKind::AuthCooldown, until: Some(failed_at.plus(Duration::from_secs(300))) };
    assert_eq!((refused.rule, refused.verdict), (Rule::A3, blocked));

    w.sup.disconnect(id).await.unwrap();
    assert_eq!(w.stored()[0].last_auth_failure_at, None, "D-1 clears the auth failure");
    let decision = w.sup.connect(id).await.unwrap();
    assert_eq!((decision.rule, decision.verdict), (Rule::A2, Verdict::Allowed));
    w.sup.settle().await;
    assert_eq!(w.status(id), Status::QrPending);
}

/// Seed test 4 (D-3): repeated disconnect/reconnect cycles, no cooldown, a fresh QR each time.
#[tokio::test(start_paused = true)]
async fn seed_4_d3_repeated_cycles_never_hit_a_cooldown() {
    let w = World::new().await;
    let id = w.add("Support 4").await;
    w.link(id).await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        w.sup.disconnect(id).await.unwrap();
        let decision = w.sup.connect(id).await.unwrap();
        assert_eq!((decision.rule, decision.verdict), (Rule::A2, Verdict::Allowed));
        w.sup.settle().await;
        codes.push(w.view(id).qr.expect("a QR each time"));
    }
    codes.dedup();
    assert_eq!(codes.len(), 3, "each QR is fresh: {codes:?}");
}
