//! Watching the clocks: a gap in which no timer ran (F-6), and a step of the
//! wall clock that the window must hear of (F-5).
//!
//! Tokio's timers run on `CLOCK_MONOTONIC`, which stops while the machine
//! sleeps: after a wake every timer set before is late by the whole suspend,
//! though the deadlines it stands for (stored on the engine's time, which
//! counts the suspend, F-5) may have passed long ago. And an open link may
//! have died meanwhile without a word: the library's keep-alive, on the same
//! stopped clock, would take its usual round to notice.
//!
//! So one task looks at the engine's time every second. When much more than
//! a second passed between two looks, no timer ran in between (a suspend, a
//! stopped process, a machine too busy to run it), and it tells every agent
//! task and the unlinker through [`super::Shared::time_gaps`]. Each looks at
//! its stored deadlines again (one that passed fires at once) and publishes
//! its view (the preview and the countdowns are right at once), and each
//! `connected` agent has its link checked now: a dead one is O-3's 408, and
//! its retries take R-5's start slots like any other, so a fleet whose links
//! all died in the night never comes back in a burst.
//!
//! The same look compares the wall clock with the engine's time. The window
//! draws countdowns with the page's clock, which is the wall clock; when that
//! steps, subscribers are told how far it now is from the engine's time
//! ([`EngineEvent::WallClock`]), so the window counts down on the engine's.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::view::EngineEvent;
use crate::lifecycle::Rule;

/// How often the engine's time is looked at.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// How much later than [`LOOK_EVERY`] a look may come before it counts as a
/// gap: a busy machine is late by milliseconds, a suspend by minutes.
const LATE_BY_AT_MOST: Duration = Duration::from_secs(1);

/// How far the wall clock may drift from the engine's time (NTP slews it
/// slowly) before the window hears of it: a countdown is drawn in seconds.
const WALL_DRIFT_AT_MOST_MS: i64 = 1_000;

/// Watches the clocks until the engine stops.
pub(super) async fn watch(shared: Arc<Shared>, stop: CancellationToken) {
    let mut looks = tokio::time::interval(LOOK_EVERY);
    // After a gap, go on a second from the late look: no catching up.
    looks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last = shared.now();
    let mut wall_ahead_told = shared.timeline.wall_ahead_ms();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = looks.tick() => {}
        }
        let now = shared.now();
        let passed = last.until(now);
        last = now;
        if passed > LOOK_EVERY + LATE_BY_AT_MOST {
            tracing::info!(rule = %Rule::F6, "no timer ran for {passed:?} (a suspend?): every agent looks at its deadlines again, connected links are checked");
            // Counted as activity, so `settle` waits for the tasks to handle it.
            shared.activity.fetch_add(1, Ordering::Relaxed);
            shared.time_gaps.send_modify(|gaps| *gaps += 1);
        }
        let wall_ahead = shared.timeline.wall_ahead_ms();
        if (wall_ahead - wall_ahead_told).abs() > WALL_DRIFT_AT_MOST_MS {
            tracing::info!(rule = %Rule::F5, wall_ahead_ms = wall_ahead, "the wall clock stepped; the engine's time goes on unchanged");
            wall_ahead_told = wall_ahead;
            let _ = shared.events.send(EngineEvent::WallClock { wall_ahead_ms: wall_ahead });
        }
    }
}
