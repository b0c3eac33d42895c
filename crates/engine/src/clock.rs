//! Time as an input.
//!
//! Two clocks matter. Deadlines that are *stored* (cooldowns, retry times, QR
//! expiry) are wall-clock [`Timestamp`]s, because they must mean the same thing
//! after a restart (P-2). Timers that *wait* run on tokio time, so tests
//! pause and advance it. A [`Clock`] gives the wall-clock time; the supervisor
//! converts a stored deadline into a tokio sleep by subtracting `clock.now()`.
//!
//! [`TokioClock`] derives wall time from tokio's clock, so a test that calls
//! `tokio::time::advance(5 min)` moves the stored-time clock by the same 5
//! minutes and a 5-minute cooldown test takes milliseconds.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, as stored in SQLite.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The raw milliseconds, as written to the database and sent over IPC.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// `self + d`, saturating instead of overflowing on absurd durations.
    #[must_use]
    pub fn plus(self, d: Duration) -> Timestamp {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// How long from `self` until `later`; zero when `later` is not later.
    pub fn until(self, later: Timestamp) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0).max(0) as u64)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// The source of wall-clock time for everything the engine stores.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time, used to stamp and compare stored deadlines.
    fn now(&self) -> Timestamp;
}

/// The real wall clock, for the app.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(since_epoch.as_millis() as i64)
    }
}

/// Wall time that advances with tokio's clock: `start + (tokio now - tokio start)`.
///
/// Under `tokio::time::pause()` it only moves when the test advances time, so
/// stored deadlines and tokio timers stay in step. Tests and benchmarks use it;
/// the app uses [`SystemClock`] (tokio's clock stops while a laptop sleeps).
#[derive(Debug, Clone)]
pub struct TokioClock {
    wall_at_start: Timestamp,
    tokio_at_start: tokio::time::Instant,
}

impl TokioClock {
    /// Must be called inside a tokio runtime.
    pub fn starting_at(wall_at_start: Timestamp) -> Self {
        TokioClock { wall_at_start, tokio_at_start: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.wall_at_start.plus(self.tokio_at_start.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_never_goes_negative_and_plus_saturates() {
        let a = Timestamp(1_000);
        let b = Timestamp(4_500);
        assert_eq!(a.until(b), Duration::from_millis(3_500));
        assert_eq!(b.until(a), Duration::ZERO);
        assert_eq!(a.plus(Duration::MAX), Timestamp(i64::MAX));
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_moves_with_paused_time() {
        let clock = TokioClock::starting_at(Timestamp(10_000));
        assert_eq!(clock.now(), Timestamp(10_000));
        tokio::time::advance(Duration::from_secs(300)).await;
        assert_eq!(clock.now(), Timestamp(310_000));
    }
}
