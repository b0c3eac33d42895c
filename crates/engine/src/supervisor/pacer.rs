//! automatic starts across all agents never exceed `start_rate` per second.
//!
//! The one pacing rule, used at two gates (two pacers of the supervisor):
//! a due retry first reserves a slot, so its attempt is saved (and shown as
//! `connecting`, its R-6 timeout running) close to when it will start; then,
//! right before the connector starts it, the attempt takes its turn at the
//! second gate. The second gate is what WhatsApp sees: saving takes time, and
//! the group commit saves together all the attempts whose slots fell during
//! one slow commit, so without it they would all start at once.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// Hands out start slots spaced `1 / rate` apart, in the order they are asked
/// for. A slot is reserved without waiting; the caller sleeps until it.
#[derive(Debug, Default)]
pub struct StartPacer {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The earliest time the next reserved slot may have.
    next_free: Option<Instant>,
    /// When the last start really went ([`StartPacer::go`]).
    last_went: Option<Instant>,
}

fn spacing(per_second: u32) -> Duration {
    Duration::from_secs(1) / per_second.max(1)
}

impl StartPacer {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserves the next slot at `per_second` starts per second (at least 1).
    pub fn reserve(&self, per_second: u32) -> Instant {
        let now = Instant::now();
        let mut state = self.state();
        let slot = state.next_free.map_or(now, |free| free.max(now));
        state.next_free = Some(slot + spacing(per_second));
        slot
    }

    /// At its slot, whether a start may go now: once `1 / rate` has passed
    /// since the last start that went. The gap is measured from when starts
    /// really went, not from their slots, because a wake-up that comes late
    /// (a busy machine) would otherwise shorten the gap after it, and 21
    /// starts would fit in one second. `Err` says when to ask again.
    pub fn go(&self, per_second: u32) -> Result<(), Instant> {
        let now = Instant::now();
        let mut state = self.state();
        let earliest = state.last_went.map_or(now, |last| last + spacing(per_second));
        if now < earliest {
            return Err(earliest);
        }
        state.last_went = Some(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    ///
    #[tokio::test(start_paused = true)]
    async fn r5_slots_are_spaced_and_in_order_and_idle_time_is_not_banked() {
        let pacer = StartPacer::default();
        let t0 = Instant::now();
        let slots: Vec<Duration> = (0..5).map(|_| pacer.reserve(20) - t0).collect();
        assert_eq!(slots, [0, 50, 100, 150, 200].map(Duration::from_millis));
        tokio::time::advance(Duration::from_secs(10)).await;
        // After a quiet spell the next start goes at once, but no burst is saved up.
        let now = Instant::now();
        assert_eq!(pacer.reserve(20), now);
        assert_eq!(pacer.reserve(20), now + Duration::from_millis(50));
    }

    /// a start that went late pushes the next one back by as much.
    #[tokio::test(start_paused = true)]
    async fn r5_the_gap_counts_from_when_the_last_start_really_went() {
        let pacer = StartPacer::default();
        let t0 = Instant::now();
        assert_eq!(pacer.go(20), Ok(()));
        // The second slot was t0 + 50 ms, but its start wakes 7 ms late.
        tokio::time::advance(Duration::from_millis(57)).await;
        assert_eq!(pacer.go(20), Ok(()));
        // The third slot, t0 + 100 ms, must wait until 50 ms after that late start.
        tokio::time::advance(Duration::from_millis(43)).await;
        assert_eq!(pacer.go(20), Err(t0 + Duration::from_millis(107)));
        tokio::time::advance(Duration::from_millis(7)).await;
        assert_eq!(pacer.go(20), Ok(()));
    }
}
