//! The durations and limits of RULES.md, with their defaults and allowed ranges.
//!
//! Every value is validated in one place, [`Settings::validate`], whichever
//! door it came through (the settings page, the database, a test).

use std::time::Duration;

use thiserror::Error;

/// All tunables of the lifecycle. Durations are whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long an auth-class close (401, 440) blocks reconnecting.
    pub auth_cooldown: Duration,
    /// Minimum gap between two user-started attempts.
    pub attempt_cooldown: Duration,
    /// How long a QR pairing may wait for a scan before the attempt stops.
    pub qr_lifetime: Duration,
    /// First retry delay; doubles each attempt.
    pub backoff_base: Duration,
    /// Upper bound of a retry delay.
    pub backoff_cap: Duration,
    /// Consecutive failed attempts before giving up.
    pub max_retries: u32,
    /// Random spread of retry delays, in percent either way.
    pub jitter_percent: u32,
    /// Automatic starts per second across all agents.
    pub start_rate: u32,
    /// How long an attempt may take to reach a QR or `connected`.
    pub connect_timeout: Duration,
    /// Days of history kept; older entries are pruned (H-5).
    pub history_days: u32,
    /// Fatal notices this close together are told as one (F-4); zero tells each alone.
    pub notice_window: Duration,
    /// Share of the linked agents, in percent, whose recoverable closes
    /// within `outage_window` mean an outage, not broken agents (F-1).
    pub outage_share: u32,
    /// How close together those closes must be (F-1).
    pub outage_window: Duration,
    /// The fewest agents whose closes can mean an outage (F-1).
    pub outage_min_agents: u32,
    /// Recoverable closes within ten minutes that mark an agent flapping (H-2).
    pub flap_threshold: u32,
    /// New links of one agent within 24 h above which it is at ban risk (H-3).
    pub risk_pairings_per_day: u32,
    /// User connects of one agent within 24 h above which it is at ban risk (H-3).
    pub risk_connects_per_day: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auth_cooldown: Duration::from_secs(5 * 60),
            attempt_cooldown: Duration::from_secs(5),
            qr_lifetime: Duration::from_secs(3 * 60),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(60),
            max_retries: 5,
            jitter_percent: 20,
            start_rate: 20,
            connect_timeout: Duration::from_secs(30),
            history_days: 90,
            notice_window: Duration::from_secs(10),
            outage_share: 50,
            outage_window: Duration::from_secs(60),
            outage_min_agents: 3,
            flap_threshold: 5,
            risk_pairings_per_day: 3,
            risk_connects_per_day: 10,
        }
    }
}

/// The settings by name, as stored and shown. The order is the settings page's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingName {
    /// `auth_cooldown_ms`: how long a 401/440 blocks connecting.
    AuthCooldown,
    /// `attempt_cooldown_ms`: the least gap between two user attempts.
    AttemptCooldown,
    /// `qr_lifetime_ms`: how long a QR waits for a scan.
    QrLifetime,
    /// `backoff_base_ms`: the first retry delay, and the 515 restart delay.
    BackoffBase,
    /// `backoff_cap_ms`: the longest retry delay.
    BackoffCap,
    /// `max_retries`: failed retries before giving up.
    MaxRetries,
    /// `jitter_percent`: how far retry delays are spread either way.
    JitterPercent,
    /// `start_rate_per_s`: the fleet's automatic starts per second.
    StartRate,
    /// `connect_timeout_ms`: how long an attempt may take to show a QR or open.
    ConnectTimeout,
    /// `history_days`: how many days of history are kept (H-5).
    HistoryDays,
    /// `notice_window_ms`: fatal notices this close together are one (F-4).
    NoticeWindow,
    /// `outage_share_percent`: the share of linked agents whose closes mean an outage (F-1).
    OutageShare,
    /// `outage_window_ms`: how close together those closes must be (F-1).
    OutageWindow,
    /// `outage_min_agents`: the fewest agents whose closes can mean an outage (F-1).
    OutageMinAgents,
    /// `flap_threshold`: recoverable closes within ten minutes that mark flapping (H-2).
    FlapThreshold,
    /// `risk_pairings_per_day`: new links in 24 h above which an agent is at risk (H-3).
    RiskPairingsPerDay,
    /// `risk_connects_per_day`: user connects in 24 h above which an agent is at risk (H-3).
    RiskConnectsPerDay,
}

/// How a setting's number is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A duration in whole milliseconds.
    Millis,
    /// A plain number of times.
    Count,
    /// A share, 0 to 100.
    Percent,
    /// A rate, per second.
    PerSecond,
    /// Whole days.
    Days,
}

impl SettingName {
    /// Every setting, in the settings page's order.
    pub const ALL: [SettingName; 17] = [
        SettingName::AuthCooldown,
        SettingName::AttemptCooldown,
        SettingName::QrLifetime,
        SettingName::BackoffBase,
        SettingName::BackoffCap,
        SettingName::MaxRetries,
        SettingName::JitterPercent,
        SettingName::StartRate,
        SettingName::ConnectTimeout,
        SettingName::HistoryDays,
        SettingName::NoticeWindow,
        SettingName::OutageShare,
        SettingName::OutageWindow,
        SettingName::OutageMinAgents,
        SettingName::FlapThreshold,
        SettingName::RiskPairingsPerDay,
        SettingName::RiskConnectsPerDay,
    ];

    /// The key in the `settings` table and in IPC payloads.
    pub fn key(self) -> &'static str {
        match self {
            SettingName::AuthCooldown => "auth_cooldown_ms",
            SettingName::AttemptCooldown => "attempt_cooldown_ms",
            SettingName::QrLifetime => "qr_lifetime_ms",
            SettingName::BackoffBase => "backoff_base_ms",
            SettingName::BackoffCap => "backoff_cap_ms",
            SettingName::MaxRetries => "max_retries",
            SettingName::JitterPercent => "jitter_percent",
            SettingName::StartRate => "start_rate_per_s",
            SettingName::ConnectTimeout => "connect_timeout_ms",
            SettingName::HistoryDays => "history_days",
            SettingName::NoticeWindow => "notice_window_ms",
            SettingName::OutageShare => "outage_share_percent",
            SettingName::OutageWindow => "outage_window_ms",
            SettingName::OutageMinAgents => "outage_min_agents",
            SettingName::FlapThreshold => "flap_threshold",
            SettingName::RiskPairingsPerDay => "risk_pairings_per_day",
            SettingName::RiskConnectsPerDay => "risk_connects_per_day",
        }
    }

    /// The setting stored or sent under `key`; `None` for an unknown key.
    pub fn from_key(key: &str) -> Option<SettingName> {
        SettingName::ALL.into_iter().find(|n| n.key() == key)
    }

    /// How the UI labels and converts the value.
    pub fn unit(self) -> Unit {
        match self {
            SettingName::MaxRetries
            | SettingName::OutageMinAgents
            | SettingName::FlapThreshold
            | SettingName::RiskPairingsPerDay
            | SettingName::RiskConnectsPerDay => Unit::Count,
            SettingName::JitterPercent | SettingName::OutageShare => Unit::Percent,
            SettingName::StartRate => Unit::PerSecond,
            SettingName::HistoryDays => Unit::Days,
            _ => Unit::Millis,
        }
    }

    /// The inclusive range a value must fall in. Zero is allowed only where it
    /// means "off" and that is harmless (no attempt cooldown, no jitter).
    // One arm per setting, so each range stands beside its name, even where two agree.
    #[allow(clippy::match_same_arms)]
    pub fn allowed(self) -> (u64, u64) {
        const SEC: u64 = 1_000;
        const MIN: u64 = 60 * SEC;
        match self {
            SettingName::AuthCooldown => (SEC, 24 * 60 * MIN),
            SettingName::AttemptCooldown => (0, 10 * MIN),
            SettingName::QrLifetime => (20 * SEC, 10 * MIN),
            SettingName::BackoffBase => (100, 10 * MIN),
            SettingName::BackoffCap => (100, 60 * MIN),
            SettingName::MaxRetries | SettingName::OutageShare => (1, 100),
            SettingName::JitterPercent => (0, 50),
            SettingName::StartRate | SettingName::RiskPairingsPerDay => (1, 1_000),
            SettingName::ConnectTimeout => (5 * SEC, 10 * MIN),
            // A day at least, so a timeline always shows today; ten years at most.
            SettingName::HistoryDays => (1, 3_650),
            // Zero tells each notice alone, at once; a minute is the longest a notice may wait.
            SettingName::NoticeWindow => (0, MIN),
            SettingName::OutageWindow => (5 * SEC, 30 * MIN),
            SettingName::OutageMinAgents => (1, 100_000),
            // One close is no pattern; two within ten minutes may be.
            SettingName::FlapThreshold => (2, 1_000),
            SettingName::RiskConnectsPerDay => (1, 10_000),
        }
    }
}

/// A rejected settings change. Nothing is applied or written when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SettingsError {
    /// A value falls outside its setting's allowed range.
    #[error("{key} must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The setting's key, as the person knows it.
        key: &'static str,
        /// The value that was refused.
        value: i64,
        /// The lower end of the allowed range, named in the message.
        min: u64,
        /// The upper end of the allowed range, named in the message.
        max: u64,
    },
    /// The retry delay's cap would be below its base.
    #[error("backoff_cap_ms ({cap}) must not be below backoff_base_ms ({base})")]
    CapBelowBase {
        /// The requested `backoff_base_ms`.
        base: u64,
        /// The requested `backoff_cap_ms`.
        cap: u64,
    },
    /// A change names a key that is not a setting.
    #[error("unknown setting “{0}”")]
    UnknownKey(String),
}

impl Settings {
    /// The value of one setting as stored (milliseconds for durations).
    pub fn get(&self, name: SettingName) -> u64 {
        let ms = |d: Duration| d.as_millis() as u64;
        match name {
            SettingName::AuthCooldown => ms(self.auth_cooldown),
            SettingName::AttemptCooldown => ms(self.attempt_cooldown),
            SettingName::QrLifetime => ms(self.qr_lifetime),
            SettingName::BackoffBase => ms(self.backoff_base),
            SettingName::BackoffCap => ms(self.backoff_cap),
            SettingName::MaxRetries => u64::from(self.max_retries),
            SettingName::JitterPercent => u64::from(self.jitter_percent),
            SettingName::StartRate => u64::from(self.start_rate),
            SettingName::ConnectTimeout => ms(self.connect_timeout),
            SettingName::HistoryDays => u64::from(self.history_days),
            SettingName::NoticeWindow => ms(self.notice_window),
            SettingName::OutageShare => u64::from(self.outage_share),
            SettingName::OutageWindow => ms(self.outage_window),
            SettingName::OutageMinAgents => u64::from(self.outage_min_agents),
            SettingName::FlapThreshold => u64::from(self.flap_threshold),
            SettingName::RiskPairingsPerDay => u64::from(self.risk_pairings_per_day),
            SettingName::RiskConnectsPerDay => u64::from(self.risk_connects_per_day),
        }
    }

    /// Sets one value after checking its range; the cross-field rule is
    /// checked by [`Settings::validate`].
    pub fn set(&mut self, name: SettingName, value: i64) -> Result<(), SettingsError> {
        let (min, max) = name.allowed();
        let in_range = u64::try_from(value).ok().filter(|v| (min..=max).contains(v));
        let Some(v) = in_range else {
            return Err(SettingsError::OutOfRange { key: name.key(), value, min, max });
        };
        let ms = Duration::from_millis(v);
        // The ranges above keep every count far below u32::MAX.
        let n = v as u32;
        match name {
            SettingName::AuthCooldown => self.auth_cooldown = ms,
            SettingName::AttemptCooldown => self.attempt_cooldown = ms,
            SettingName::QrLifetime => self.qr_lifetime = ms,
            SettingName::BackoffBase => self.backoff_base = ms,
            SettingName::BackoffCap => self.backoff_cap = ms,
            SettingName::MaxRetries => self.max_retries = n,
            SettingName::JitterPercent => self.jitter_percent = n,
            SettingName::StartRate => self.start_rate = n,
            SettingName::ConnectTimeout => self.connect_timeout = ms,
            SettingName::HistoryDays => self.history_days = n,
            SettingName::NoticeWindow => self.notice_window = ms,
            SettingName::OutageShare => self.outage_share = n,
            SettingName::OutageWindow => self.outage_window = ms,
            SettingName::OutageMinAgents => self.outage_min_agents = n,
            SettingName::FlapThreshold => self.flap_threshold = n,
            SettingName::RiskPairingsPerDay => self.risk_pairings_per_day = n,
            SettingName::RiskConnectsPerDay => self.risk_connects_per_day = n,
        }
        Ok(())
    }

    /// Applies `changes` (key, value) to a copy and validates the whole; the
    /// original is untouched on error.
    pub fn with_changes<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a str, i64)>,
    ) -> Result<Settings, SettingsError> {
        let mut next = *self;
        for (key, value) in changes {
            let name = SettingName::from_key(key).ok_or_else(|| SettingsError::UnknownKey(key.to_owned()))?;
            next.set(name, value)?;
        }
        next.validate()?;
        Ok(next)
    }

    /// Checks every range and the rules between fields.
    pub fn validate(&self) -> Result<(), SettingsError> {
        for name in SettingName::ALL {
            let mut probe = *self;
            probe.set(name, self.get(name).min(i64::MAX as u64) as i64)?;
        }
        let (base, cap) = (self.get(SettingName::BackoffBase), self.get(SettingName::BackoffCap));
        if cap < base {
            return Err(SettingsError::CapBelowBase { base, cap });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_spec_table_and_valid() {
        let s = Settings::default();
        assert_eq!(s.auth_cooldown, Duration::from_secs(300));
        assert_eq!(s.attempt_cooldown, Duration::from_secs(5));
        assert_eq!(s.qr_lifetime, Duration::from_secs(180));
        assert_eq!(s.backoff_base, Duration::from_secs(2));
        assert_eq!(s.backoff_cap, Duration::from_secs(60));
        assert_eq!((s.max_retries, s.jitter_percent, s.start_rate), (5, 20, 20));
        assert_eq!(s.connect_timeout, Duration::from_secs(30));
        assert_eq!((s.outage_share, s.outage_window, s.outage_min_agents), (50, Duration::from_secs(60), 3));
        assert_eq!((s.flap_threshold, s.risk_pairings_per_day, s.risk_connects_per_day), (5, 3, 10));
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn bad_values_are_typed_errors_and_change_nothing() {
        let s = Settings::default();
        let cases: [(&str, i64); 7] = [
            ("auth_cooldown_ms", -1),
            ("auth_cooldown_ms", 0),
            ("qr_lifetime_ms", 10 * 365 * 24 * 3_600_000),
            ("max_retries", 0),
            ("start_rate_per_s", 1_000_000),
            ("jitter_percent", 90),
            ("connect_timeout_ms", i64::MIN),
        ];
        for (key, value) in cases {
            let err = s.with_changes([(key, value)]).unwrap_err();
            assert!(matches!(err, SettingsError::OutOfRange { .. }), "{key}={value}: {err}");
        }
        assert_eq!(
            s.with_changes([("backoff_cap_ms", 1_000)]),
            Err(SettingsError::CapBelowBase { base: 2_000, cap: 1_000 })
        );
        assert_eq!(s.with_changes([("nope", 1)]), Err(SettingsError::UnknownKey("nope".into())));
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn good_changes_apply_and_round_trip_by_key() {
        let s = Settings::default().with_changes([("attempt_cooldown_ms", 0), ("backoff_cap_ms", 120_000)]).unwrap();
        assert_eq!(s.attempt_cooldown, Duration::ZERO);
        assert_eq!(s.get(SettingName::BackoffCap), 120_000);
        for name in SettingName::ALL {
            assert_eq!(SettingName::from_key(name.key()), Some(name));
        }
    }
}
