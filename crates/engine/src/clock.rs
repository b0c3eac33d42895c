//! Time as an input (F-5).
//!
//! A computer has two clocks, and the engine needs both. The *wall clock* is
//! what people and other programs read: deadlines that must mean the same
//! after a restart (cooldowns, retry times, QR expiry, bans) are stored as
//! wall-clock [`Timestamp`]s (P-2). But the wall clock steps: NTP corrects
//! it, a person sets it. The *time since boot* never steps and, unlike
//! tokio's clock (`CLOCK_MONOTONIC` on Linux), keeps counting while the
//! machine sleeps: a suspend is time that passed.
//!
//! So the engine reads a [`Clock`] for both and measures on a [`Timeline`]:
//! the wall-clock time at the engine's start, moved on by the time since boot
//! that passed since. A step of the wall clock while the app runs changes no
//! running cooldown, retry delay, ban or QR lifetime; a suspend moves them
//! all on by its length. What the timeline reads is still a wall-clock
//! timestamp, so stored deadlines keep their meaning across a restart, when
//! the timeline starts again from the wall clock.
//!
//! Timers that *wait* run on tokio time, so tests pause and advance it.
//! [`TokioClock`] is the clock of tests and benchmarks: both its readings
//! move with tokio's clock, and a test can step its wall clock or simulate a
//! suspend.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
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

    /// `self - d`, saturating like [`Timestamp::plus`].
    #[must_use]
    pub fn minus(self, d: Duration) -> Timestamp {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(ms))
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

/// The two readings the engine takes of a computer's time.
pub trait Clock: Send + Sync + 'static {
    /// The wall clock: what people and other programs read. It can step
    /// (NTP, a person setting it), so the engine reads it only once, when
    /// its [`Timeline`] starts.
    fn wall(&self) -> Timestamp;

    /// Time since boot, counting suspend: it never steps and never stops,
    /// so the engine measures every elapsed time on it.
    fn since_boot(&self) -> Duration;
}

/// The computer's clocks, for the app.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn wall(&self) -> Timestamp {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(since_epoch.as_millis() as i64)
    }

    fn since_boot(&self) -> Duration {
        system_since_boot()
    }
}

/// Linux's `CLOCK_BOOTTIME`: monotonic, and it counts suspend, where
/// `CLOCK_MONOTONIC` (std's and tokio's `Instant`) stops.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn system_since_boot() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    Duration::try_from(now).unwrap_or_default()
}

/// On the other Unix systems `CLOCK_MONOTONIC` is the clock that goes on
/// through a sleep (macOS, FreeBSD).
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn system_since_boot() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    Duration::try_from(now).unwrap_or_default()
}

/// Elsewhere, what std's monotonic clock counts, from the first reading.
#[cfg(not(unix))]
fn system_since_boot() -> Duration {
    static FIRST: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    FIRST.get_or_init(std::time::Instant::now).elapsed()
}

/// The engine's time (F-5): the wall-clock time at the start, moved on by
/// the time since boot that passed since.
///
/// Every "now" of the engine is read here: stamps, deadlines, cooldowns,
/// the connect preview. A step of the wall clock while the engine runs does
/// not move it; a suspend does, by its length. It is started afresh from the
/// wall clock at each start of the engine, so stored deadlines are read on
/// the wall clock across a restart (P-2).
pub struct Timeline {
    clock: Arc<dyn Clock>,
    wall_at_start: Timestamp,
    boot_at_start: Duration,
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timeline(started {:?}, now {:?})", self.wall_at_start, self.now())
    }
}

impl Timeline {
    /// A timeline that reads the wall clock once, now, and from then on only the time since boot.
    pub fn start(clock: Arc<dyn Clock>) -> Self {
        let boot_at_start = clock.since_boot();
        let wall_at_start = clock.wall();
        Timeline { clock, wall_at_start, boot_at_start }
    }

    /// The engine's now.
    pub fn now(&self) -> Timestamp {
        self.wall_at_start.plus(self.clock.since_boot().saturating_sub(self.boot_at_start))
    }

    /// How far the wall clock is ahead of the timeline now, in milliseconds
    /// (negative: behind). Zero until the wall clock steps; the window adds
    /// it to its own clock to count down on the engine's time.
    pub fn wall_ahead_ms(&self) -> i64 {
        self.clock.wall().0.saturating_sub(self.now().0)
    }
}

/// Both readings follow tokio's clock, from `wall_at_start`.
///
/// Under `tokio::time::pause()` it only moves when the test advances time,
/// so stored deadlines and tokio timers stay in step and a 5-minute cooldown
/// test takes milliseconds. A test can also step its wall clock
/// ([`TokioClock::step_wall_forward`], [`TokioClock::step_wall_back`]) and
/// suspend the machine ([`TokioClock::suspend`]). Tests and benchmarks use
/// it; the app uses [`SystemClock`].
#[derive(Debug)]
pub struct TokioClock {
    wall_at_start: Timestamp,
    tokio_at_start: tokio::time::Instant,
    /// The wall clock's steps so far, in milliseconds (negative: set back).
    wall_steps_ms: AtomicI64,
    /// How long the simulated machine has slept, in milliseconds.
    suspended_ms: AtomicU64,
}

/// How long the simulated machine has been up when a [`TokioClock`] starts:
/// any value does, the engine only measures differences.
const TEST_BOOT_AT_START: Duration = Duration::from_secs(3_600);

impl TokioClock {
    /// Must be called inside a tokio runtime.
    pub fn starting_at(wall_at_start: Timestamp) -> Self {
        TokioClock {
            wall_at_start,
            tokio_at_start: tokio::time::Instant::now(),
            wall_steps_ms: AtomicI64::new(0),
            suspended_ms: AtomicU64::new(0),
        }
    }

    /// Sets the wall clock ahead by `d`, as NTP or a person would. The time
    /// since boot does not move.
    pub fn step_wall_forward(&self, d: Duration) {
        self.wall_steps_ms.fetch_add(millis(d) as i64, Ordering::SeqCst);
    }

    /// Sets the wall clock back by `d`. The time since boot does not move.
    pub fn step_wall_back(&self, d: Duration) {
        self.wall_steps_ms.fetch_sub(millis(d) as i64, Ordering::SeqCst);
    }

    /// The machine sleeps for `d` and wakes: the wall clock and the time
    /// since boot jump on by `d`, tokio's clock does not move (as
    /// `CLOCK_MONOTONIC` on a real suspend), so no tokio timer fired meanwhile.
    pub fn suspend(&self, d: Duration) {
        self.suspended_ms.fetch_add(millis(d), Ordering::SeqCst);
    }

    fn suspended(&self) -> Duration {
        Duration::from_millis(self.suspended_ms.load(Ordering::SeqCst))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 4)
}

impl Clock for TokioClock {
    fn wall(&self) -> Timestamp {
        let running = self.wall_at_start.plus(self.tokio_at_start.elapsed() + self.suspended());
        Timestamp(running.0.saturating_add(self.wall_steps_ms.load(Ordering::SeqCst)))
    }

    fn since_boot(&self) -> Duration {
        TEST_BOOT_AT_START + self.tokio_at_start.elapsed() + self.suspended()
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
        assert_eq!(clock.wall(), Timestamp(10_000));
        tokio::time::advance(Duration::from_secs(300)).await;
        assert_eq!(clock.wall(), Timestamp(310_000));
        assert_eq!(clock.since_boot(), TEST_BOOT_AT_START + Duration::from_secs(300));
    }

    /// F-5: what the test clock's steps and suspends do to each reading.
    #[tokio::test(start_paused = true)]
    async fn f5_the_test_clock_steps_its_wall_clock_and_suspends() {
        let clock = TokioClock::starting_at(Timestamp(10_000));
        let tokio_start = tokio::time::Instant::now();
        clock.step_wall_back(Duration::from_secs(7));
        assert_eq!(clock.wall(), Timestamp(3_000));
        clock.step_wall_forward(Duration::from_secs(60));
        assert_eq!(clock.wall(), Timestamp(63_000));
        assert_eq!(clock.since_boot(), TEST_BOOT_AT_START, "a step does not move the time since boot");
        clock.suspend(Duration::from_secs(100));
        assert_eq!(clock.wall(), Timestamp(163_000));
        assert_eq!(clock.since_boot(), TEST_BOOT_AT_START + Duration::from_secs(100));
        assert_eq!(tokio::time::Instant::now(), tokio_start, "tokio's clock stops while the machine sleeps");
    }

    /// F-5: the timeline ignores wall-clock steps and counts suspends.
    #[tokio::test(start_paused = true)]
    async fn f5_the_timeline_ignores_wall_steps_and_counts_a_suspend() {
        let clock = Arc::new(TokioClock::starting_at(Timestamp(10_000)));
        let timeline = Timeline::start(clock.clone());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(timeline.now(), Timestamp(15_000));
        clock.step_wall_back(Duration::from_secs(3_600));
        assert_eq!(timeline.now(), Timestamp(15_000));
        assert_eq!(timeline.wall_ahead_ms(), -3_600_000);
        clock.step_wall_forward(Duration::from_secs(7_200));
        assert_eq!(timeline.now(), Timestamp(15_000));
        clock.suspend(Duration::from_secs(600));
        assert_eq!(timeline.now(), Timestamp(615_000));
        assert_eq!(timeline.wall_ahead_ms(), 3_600_000);
        // A restart starts again from the wall clock.
        assert_eq!(Timeline::start(clock.clone()).now(), clock.wall());
    }

    /// F-5: the system clock's time since boot moves on with real time.
    #[test]
    fn f5_the_system_clock_reads_a_time_since_boot_that_moves_on() {
        let before = SystemClock.since_boot();
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(2) {}
        let after = SystemClock.since_boot();
        assert!(before > Duration::ZERO);
        assert!(after >= before + Duration::from_millis(2), "{before:?} → {after:?}");
    }
}
