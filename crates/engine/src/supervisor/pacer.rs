//! automatic starts across all agents never exceed `start_rate` per second.
//!
//! The one pacing rule, used at two gates (two pacers of the supervisor):
//! a due retry first reserves a slot, so its attempt is saved (and shown as
//! `connecting`, its R-6 timeout running) close to when it will start; then,
//! right before the connector starts it, the attempt takes its turn at the
//! second gate. The second gate is what WhatsApp sees: saving takes time, and
//! the group commit saves together all the attempts whose slots fell during
//! one slow commit, so without it they would all start at once.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Hands out start slots spaced `1 / rate` apart, in the order they are asked
/// for. A slot is reserved without waiting; the caller sleeps until it.
#[derive(Debug, Default)]
pub struct StartPacer {
    next_free: Mutex<Option<Instant>>,
}

impl StartPacer {
    /// Reserves the next slot at `per_second` starts per second (at least 1).
    pub fn reserve(&self, per_second: u32) -> Instant {
        let now = Instant::now();
        let spacing = Duration::from_secs(1) / per_second.max(1);
        let mut next_free = self.next_free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = next_free.map_or(now, |free| free.max(now));
        *next_free = Some(slot + spacing);
        slot
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
}
