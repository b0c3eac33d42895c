//! Retry delays: exponential from `backoff_base`, capped, with jitter.

use std::time::Duration;

use rand::Rng;

use super::Settings;

/// The delay before automatic attempt `k` (1-based), before jitter.
pub fn base_delay(k: u32, settings: &Settings) -> Duration {
    let doublings = k.saturating_sub(1).min(30);
    let delay = settings.backoff_base.saturating_mul(1u32 << doublings);
    delay.min(settings.backoff_cap)
}

/// How far the jitter may move a delay, as a fraction of it.
fn spread(settings: &Settings) -> f64 {
    f64::from(settings.jitter_percent) / 100.0
}

/// The delay before automatic attempt `k`, spread by ±`jitter_percent` so that
/// many agents dropped together do not come back in lock-step.
pub fn retry_delay(k: u32, settings: &Settings, rng: &mut impl Rng) -> Duration {
    let base = base_delay(k, settings);
    let spread = spread(settings);
    if spread == 0.0 {
        return base;
    }
    let factor = rng.random_range(1.0 - spread..=1.0 + spread);
    base.mul_f64(factor)
}

/// The longest delay the settings allow before any retry: the cap, spread
/// up by the whole jitter. No stored retry time lies further ahead (F-5).
pub fn longest_delay(settings: &Settings) -> Duration {
    settings.backoff_cap.mul_f64(1.0 + spread(settings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    ///
    #[test]
    fn r1_delay_doubles_from_the_base_and_stops_at_the_cap() {
        let s = Settings::default();
        let secs: Vec<u64> = (1..=8).map(|k| base_delay(k, &s).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(base_delay(u32::MAX, &s), s.backoff_cap);
    }

    ///
    #[test]
    fn r1_jitter_stays_within_its_percent_and_is_seedable() {
        let s = Settings::default();
        let mut rng = SmallRng::seed_from_u64(7);
        let delays: Vec<Duration> = (0..1_000).map(|_| retry_delay(3, &s, &mut rng)).collect();
        let (lo, hi) = (Duration::from_millis(6_400), Duration::from_millis(9_600));
        assert!(delays.iter().all(|d| (lo..=hi).contains(d)));
        // Spread, not a constant: the jitter really moves the delays apart.
        let min = delays.iter().min().unwrap();
        let max = delays.iter().max().unwrap();
        assert!(max.saturating_sub(*min) > Duration::from_millis(2_500), "{min:?}..{max:?}");
        let again: Vec<Duration> = {
            let mut rng = SmallRng::seed_from_u64(7);
            (0..1_000).map(|_| retry_delay(3, &s, &mut rng)).collect()
        };
        assert_eq!(delays, again, "the same seed gives the same delays");
        let no_jitter = Settings { jitter_percent: 0, ..s };
        assert_eq!(retry_delay(3, &no_jitter, &mut rng), Duration::from_secs(8));
    }

    /// R-1, F-5: no delay is longer than the cap spread up by the whole jitter.
    #[test]
    fn r1_f5_no_delay_exceeds_the_longest() {
        let s = Settings::default();
        assert_eq!(longest_delay(&s), Duration::from_secs(72));
        let mut rng = SmallRng::seed_from_u64(9);
        assert!((1..=40).all(|k| retry_delay(k, &s, &mut rng) <= longest_delay(&s)));
        assert_eq!(longest_delay(&Settings { jitter_percent: 0, ..s }), s.backoff_cap);
    }
}
