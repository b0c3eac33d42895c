//! An agent's health, read from its history: the figures of H-1, the
//! flapping count and mark of H-2, the ban-risk counts of H-3.
//!
//! Pure, like the rest of `lifecycle`: the history and `now` are arguments.
//! The history is what the store reads for one agent ([`HealthHistory`]):
//! every entry of the last [`WINDOW`], oldest first, and the newest entry
//! before it, which tells the status the window starts in.
//!
//! The history says when the status changed, so the status at any moment is
//! the `to` of the last entry before it. Before the oldest entry read, the
//! status was that entry's `from` (a step writes the status it left). How
//! far back that is known, the *covered span*, is in [`HealthHistory`]'s
//! docs: time before the agent existed, or whose entries were pruned (H-5),
//! never counts against it.
//!
//! Engine time only moves on while the app runs, but a clock set back while
//! it was closed can date an entry before the one it follows (F-5). Such an
//! entry counts as happening when the one before it did, so every duration
//! here is measured forward, and nothing is dated after `now`.

use std::time::Duration;

use super::{HistoryEntry, Rule, Settings, Status, Trigger};
use crate::clock::Timestamp;

/// One day: the span of the 24-hour figures (H-1, H-3).
pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The history read for the figures: the last seven days (H-1).
pub const WINDOW: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How close together `flap_threshold` recoverable closes must be to mark an agent flapping (H-2).
pub const FLAP_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How long an agent must stay connected, without a break, for the flapping mark to clear (H-2).
pub const FLAP_CLEARS_AFTER: Duration = Duration::from_secs(30 * 60);

/// Where the history read for [`health`] begins: [`WINDOW`] before `now`.
#[must_use]
pub fn window_start(now: Timestamp) -> Timestamp {
    now.minus(WINDOW)
}

/// What health is computed from: one agent's history around the window.
///
/// The covered span, over which shares of time are taken, begins at the
/// window's start when an entry older than the window survives: history is
/// pruned oldest first (H-5), so nothing after it is missing. Otherwise it
/// begins when the agent was added, or where pruning may have cut
/// (`history_days` before now), whichever is later, and never after the
/// oldest entry read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthHistory {
    /// When the agent was added; it had no status before.
    pub created_at: Timestamp,
    /// The agent's status as saved now; the status of the whole span when
    /// no entry tells another.
    pub status: Status,
    /// The newest entry before the window, if one is kept.
    pub before: Option<HistoryEntry>,
    /// Every entry from the window's start on, oldest first.
    pub entries: Vec<HistoryEntry>,
}

/// Time connected within a span, and how much of the span the history covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Uptime {
    /// Time spent `connected`.
    pub connected: Duration,
    /// The part of the span the history tells about: the share connected is
    /// `connected / covered`. Zero for an agent added just now.
    pub covered: Duration,
}

/// The flapping count and mark (H-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flapping {
    /// Recoverable closes within the last [`FLAP_WINDOW`].
    pub recent_closes: u32,
    /// Whether the agent is marked flapping: see [`flapping`].
    pub flapping: bool,
}

/// The ban-risk counts of the last [`DAY`] (H-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BanRisk {
    /// New links: scans of a QR or entries of a pairing code that linked a device.
    pub pairings: u32,
    /// Connects a person started (not automatic retries, not refused clicks).
    pub connects: u32,
    /// `pairings` is above `risk_pairings_per_day`.
    pub pairings_over: bool,
    /// `connects` is above `risk_connects_per_day`.
    pub connects_over: bool,
}

impl BanRisk {
    /// Either count is above its setting: staff should be warned.
    #[must_use]
    pub fn at_risk(&self) -> bool {
        self.pairings_over || self.connects_over
    }
}

/// One agent's health at a moment (H-1, H-2, H-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentHealth {
    /// Time connected over the last [`DAY`].
    pub last_day: Uptime,
    /// Time connected over the last [`WINDOW`].
    pub last_week: Uptime,
    /// Changes from `connected` to any other status within the last day,
    /// except the app's own start-up (P-3): that change dates the app
    /// starting again, not the link ending.
    pub disconnects_last_day: u32,
    /// The median time from a recoverable close of an open link to the link
    /// open again, over the window; `None` when no close recovered. The
    /// middle two averaged when their number is even.
    pub median_recovery: Option<Duration>,
    /// The last moment the agent was connected: now while it is; `None`
    /// when it was not connected within the covered span.
    pub last_connected: Option<Timestamp>,
    /// H-2's count and mark.
    pub flapping: Flapping,
    /// H-3's counts.
    pub ban_risk: BanRisk,
}

/// Every figure of H-1, H-2 and H-3 for one agent's history at `now`.
#[must_use]
pub fn health(history: &HealthHistory, now: Timestamp, settings: &Settings) -> AgentHealth {
    let known_from = covered_from(history, now, settings);
    let first_status = match (&history.before, history.entries.first()) {
        (Some(before), _) => before.to,
        (None, Some(first)) => first.from,
        (None, None) => history.status,
    };
    let statuses = Statuses { first_status, known_from, entries: &history.entries, now };
    let entries = &history.entries;
    AgentHealth {
        last_day: statuses.uptime(now.minus(DAY)),
        last_week: statuses.uptime(window_start(now)),
        disconnects_last_day: count(dated(entries, now).filter(|(at, e)| *at >= now.minus(DAY) && leaves_connected(e))),
        median_recovery: median(statuses.recoveries(window_start(now))),
        last_connected: statuses.last_connected(history.before.as_ref()),
        flapping: Flapping { recent_closes: recent_closes(entries, now), flapping: flapping(entries, now, settings) },
        ban_risk: ban_risk(entries, now, settings),
    }
}

/// H-2: whether the agent is marked flapping at `now`, from its entries
/// (oldest first). The mark is set by the close that makes
/// `flap_threshold` recoverable closes within [`FLAP_WINDOW`]; it clears
/// once the agent, after that close, stays connected for
/// [`FLAP_CLEARS_AFTER`] without a break, and is set again only by another
/// such run of closes.
#[must_use]
pub fn flapping(entries: &[HistoryEntry], now: Timestamp, settings: &Settings) -> bool {
    let dated: Vec<(Timestamp, &HistoryEntry)> = dated(entries, now).collect();
    let closes: Vec<usize> = (0..dated.len()).filter(|&i| is_recoverable_close(dated[i].1)).collect();
    let run = settings.flap_threshold.max(1) as usize;
    // The latest close that ends a run: `run` closes, first to last within the window.
    let Some(marked_by) = (run - 1..closes.len())
        .rev()
        .find(|&k| dated[closes[k + 1 - run]].0.until(dated[closes[k]].0) <= FLAP_WINDOW)
        .map(|k| closes[k])
    else {
        return false;
    };
    let mut connected_since = None;
    for &(at, e) in &dated[marked_by + 1..] {
        if enters_connected(e) {
            connected_since = Some(at);
        } else if e.from == Status::Connected && e.to != Status::Connected {
            if connected_since.is_some_and(|since: Timestamp| since.until(at) >= FLAP_CLEARS_AFTER) {
                return false;
            }
            connected_since = None;
        }
    }
    connected_since.is_none_or(|since| since.until(now) < FLAP_CLEARS_AFTER)
}

/// H-2: the recoverable closes within the last [`FLAP_WINDOW`].
#[must_use]
pub fn recent_closes(entries: &[HistoryEntry], now: Timestamp) -> u32 {
    let since = now.minus(FLAP_WINDOW);
    count(dated(entries, now).filter(|(at, e)| *at >= since && is_recoverable_close(e)))
}

/// H-3: new links and user connects within the last [`DAY`], each against its setting.
#[must_use]
pub fn ban_risk(entries: &[HistoryEntry], now: Timestamp, settings: &Settings) -> BanRisk {
    let since = now.minus(DAY);
    let recent = || dated(entries, now).filter(move |(at, _)| *at >= since).map(|(_, e)| e);
    let pairings = count(recent().filter(|e| is_pairing(e)));
    let connects = count(recent().filter(|e| is_user_connect(e)));
    BanRisk {
        pairings,
        connects,
        pairings_over: pairings > settings.risk_pairings_per_day,
        connects_over: connects > settings.risk_connects_per_day,
    }
}

/// When the marks of H-2 and H-3 next change by time alone, with nothing
/// happening to the agent: a flapping agent connected since its last entry
/// is cleared [`FLAP_CLEARS_AFTER`] after it connected; an agent at risk
/// counts one link or connect fewer when the oldest leaves the day. No mark
/// is set by time alone, so an agent without a mark has nothing to wait for.
/// `flapping` and `ban_risk` are the marks at `now` (the caller has them
/// already, from [`flapping`] and [`ban_risk`]: not computed twice).
#[must_use]
pub fn marks_change_at(
    entries: &[HistoryEntry],
    now: Timestamp,
    flapping: bool,
    ban_risk: &BanRisk,
) -> Option<Timestamp> {
    let clears = flapping
        .then(|| {
            // Connected since when, if it still is (notes in between change nothing).
            dated(entries, now).fold(None, |since, (at, e)| {
                if enters_connected(e) {
                    Some(at)
                } else if e.from == Status::Connected && e.to != Status::Connected {
                    None
                } else {
                    since
                }
            })
        })
        .flatten()
        .map(|since: Timestamp| since.plus(FLAP_CLEARS_AFTER));
    let since = now.minus(DAY);
    let counted_leaves = ban_risk
        .at_risk()
        .then(|| {
            dated(entries, now)
                .find(|(at, e)| *at >= since && (is_pairing(e) || is_user_connect(e)))
                // Counted while `at >= now - DAY`: gone a millisecond after.
                .map(|(at, _)| at.plus(DAY + Duration::from_millis(1)))
        })
        .flatten();
    [clears, counted_leaves].into_iter().flatten().min()
}

/// A close the agent retries (H-2): a live attempt or an open link going to
/// `reconnecting`. Not the start-up's move (P-3: the app stopped, nothing
/// closed then), nor the restart WhatsApp asks for right after a scan
/// which is how every pairing finishes.
fn is_recoverable_close(e: &HistoryEntry) -> bool {
    e.to == Status::Reconnecting
        && matches!(e.from, Status::Connected | Status::Connecting)
        && e.trigger != Trigger::Startup
        && e.rule != Some(Rule::Q3)
}

/// A disconnect of H-1: leaving `connected`, except at start-up (P-3).
fn leaves_connected(e: &HistoryEntry) -> bool {
    e.from == Status::Connected && e.to != Status::Connected && e.trigger != Trigger::Startup
}

fn enters_connected(e: &HistoryEntry) -> bool {
    e.to == Status::Connected && e.from != Status::Connected
}

/// A new link (H-3): the scan of a QR or the entry of a pairing code saves
/// credentials, and is the only step from `qr_pending` to `connecting`.
fn is_pairing(e: &HistoryEntry) -> bool {
    e.from == Status::QrPending && e.to == Status::Connecting
}

/// A connect a person started (H-3). A refused click is written too,
/// but with its status unchanged, and reached no one.
fn is_user_connect(e: &HistoryEntry) -> bool {
    e.trigger == Trigger::User && e.to == Status::Connecting && e.from != e.to
}

/// Where the covered span begins (see [`HealthHistory`]).
fn covered_from(history: &HealthHistory, now: Timestamp, settings: &Settings) -> Timestamp {
    let window = window_start(now);
    if history.before.is_some() {
        return window;
    }
    let kept_since = now.minus(DAY * settings.history_days);
    let oldest = history.entries.first().map_or(now, |e| e.at);
    window.max(oldest.min(history.created_at.max(kept_since))).min(now)
}

/// The entries with the time each counts at: never before the one it
/// follows (a clock set back, F-5), never after `now`.
fn dated(entries: &[HistoryEntry], now: Timestamp) -> impl Iterator<Item = (Timestamp, &HistoryEntry)> {
    let mut latest = Timestamp(i64::MIN);
    entries.iter().map(move |e| {
        latest = latest.max(e.at).min(now);
        (latest, e)
    })
}

fn count<T>(items: impl Iterator<Item = T>) -> u32 {
    u32::try_from(items.count()).unwrap_or(u32::MAX)
}

fn median(mut durations: Vec<Duration>) -> Option<Duration> {
    durations.sort_unstable();
    let mid = durations.len() / 2;
    match durations.len() {
        0 => None,
        n if n % 2 == 1 => Some(durations[mid]),
        _ => Some((durations[mid - 1] + durations[mid]) / 2),
    }
}

/// The agent's statuses over the covered span.
struct Statuses<'a> {
    /// The status at `known_from`.
    first_status: Status,
    known_from: Timestamp,
    entries: &'a [HistoryEntry],
    now: Timestamp,
}

impl Statuses<'_> {
    /// Each status with the time it began, from `known_from` on.
    fn stretches(&self) -> impl Iterator<Item = (Timestamp, Status)> {
        let known_from = self.known_from;
        std::iter::once((known_from, self.first_status))
            .chain(dated(self.entries, self.now).map(move |(at, e)| (at.max(known_from), e.to)))
    }

    fn current_status(&self) -> Status {
        self.entries.last().map_or(self.first_status, |e| e.to)
    }

    /// Time connected from `since` to now, over the covered part.
    fn uptime(&self, since: Timestamp) -> Uptime {
        let from = since.max(self.known_from);
        let mut connected = Duration::ZERO;
        let mut stretches = self.stretches().peekable();
        while let Some((start, status)) = stretches.next() {
            let end = stretches.peek().map_or(self.now, |&(next, _)| next);
            if status == Status::Connected {
                connected += start.max(from).until(end);
            }
        }
        Uptime { connected, covered: from.until(self.now) }
    }

    /// How long each recoverable close of an open link since `since` took
    /// to open the link again, while retrying (a person's Connect meanwhile
    /// is one more try). A close after which the agent left retrying (it
    /// gave up, was logged out, was disconnected) did not recover: its
    /// status and the disconnects tell of it, not the median.
    fn recoveries(&self, since: Timestamp) -> Vec<Duration> {
        let mut recoveries = Vec::new();
        let mut closed_at = None;
        for (at, e) in dated(self.entries, self.now) {
            if e.from == e.to {
                // A refusal or a note: no change of status.
                continue;
            }
            if e.from == Status::Connected && is_recoverable_close(e) {
                closed_at = (at >= since).then_some(at);
            } else if let Some(closed) = closed_at {
                if e.to == Status::Connected {
                    recoveries.push(closed.until(at));
                    closed_at = None;
                } else if !matches!(e.to, Status::Reconnecting | Status::Connecting) {
                    closed_at = None;
                }
            }
        }
        recoveries
    }

    /// Now while connected, else when the last connected stretch ended,
    /// found in the window or in the entry before it.
    fn last_connected(&self, before: Option<&HistoryEntry>) -> Option<Timestamp> {
        if self.current_status() == Status::Connected {
            return Some(self.now);
        }
        let left = |e: &HistoryEntry| e.from == Status::Connected && e.to != Status::Connected;
        dated(self.entries, self.now)
            .filter(|(_, e)| left(e))
            .map(|(at, _)| at)
            .last()
            .or_else(|| before.filter(|e| left(e)).map(|e| e.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::CloseCode;

    const MINUTE: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(60 * 60);
    /// 2026-01-08T00:00:00Z.
    const NOW: Timestamp = Timestamp(1_767_830_400_000);

    fn ago(d: Duration) -> Timestamp {
        NOW.minus(d)
    }

    fn entry(at: Timestamp, from: Status, to: Status, trigger: Trigger, rule: Rule) -> HistoryEntry {
        HistoryEntry { at, from, to, code: None, reason: String::new(), trigger, rule: Some(rule) }
    }

    /// An open link closing with a recoverable code (L-4).
    fn drop_at(at: Timestamp) -> HistoryEntry {
        HistoryEntry {
            code: Some(CloseCode::CONNECTION_CLOSED),
            ..entry(at, Status::Connected, Status::Reconnecting, Trigger::Connector, Rule::L4)
        }
    }

    /// A retry started, then the link open again after `took` in all.
    fn recovery(closed: Timestamp, took: Duration) -> [HistoryEntry; 2] {
        [
            entry(closed.plus(took / 2), Status::Reconnecting, Status::Connecting, Trigger::Auto, Rule::A6),
            entry(closed.plus(took), Status::Connecting, Status::Connected, Trigger::Connector, Rule::R3),
        ]
    }

    fn opened(at: Timestamp) -> HistoryEntry {
        entry(at, Status::Connecting, Status::Connected, Trigger::Connector, Rule::R3)
    }

    /// A close and its recovery after `took`.
    fn drop_and_recover(at: Timestamp, took: Duration) -> Vec<HistoryEntry> {
        let mut entries = vec![drop_at(at)];
        entries.extend(recovery(at, took));
        entries
    }

    fn history(
        created: Timestamp,
        status: Status,
        before: Option<HistoryEntry>,
        entries: Vec<HistoryEntry>,
    ) -> HealthHistory {
        HealthHistory { created_at: created, status, before, entries }
    }

    /// Connected since long before the window, with `entries` after that.
    fn long_connected(entries: Vec<HistoryEntry>) -> HealthHistory {
        let status = entries.last().map_or(Status::Connected, |e| e.to);
        history(ago(30 * DAY), status, Some(opened(ago(10 * DAY))), entries)
    }

    fn uptime(connected: Duration, covered: Duration) -> Uptime {
        Uptime { connected, covered }
    }

    fn figures(history: &HealthHistory) -> AgentHealth {
        health(history, NOW, &Settings::default())
    }

    // H-1: an agent with no history at all has covered only its own life, and was never connected.
    #[test]
    fn h1_an_agent_without_history_is_judged_on_its_own_life_only() {
        let h = figures(&history(ago(2 * HOUR), Status::Disconnected, None, vec![]));
        assert_eq!(h.last_day, uptime(Duration::ZERO, 2 * HOUR));
        assert_eq!(h.last_week, uptime(Duration::ZERO, 2 * HOUR));
        assert_eq!((h.disconnects_last_day, h.median_recovery, h.last_connected), (0, None, None));
        assert_eq!(h.flapping, Flapping::default());
        assert_eq!(h.ban_risk, BanRisk::default());

        let just_added = figures(&history(NOW, Status::Disconnected, None, vec![]));
        assert_eq!((just_added.last_day, just_added.last_week), (Uptime::default(), Uptime::default()));
    }

    // H-1: connected since before the window: the whole of both spans, last connected now.
    #[test]
    fn h1_connected_across_the_whole_window_is_all_of_both_spans() {
        let h = figures(&long_connected(vec![]));
        assert_eq!(h.last_day, uptime(DAY, DAY));
        assert_eq!(h.last_week, uptime(WINDOW, WINDOW));
        assert_eq!(h.last_connected, Some(NOW));
        assert_eq!((h.disconnects_last_day, h.median_recovery), (0, None));
    }

    // H-1: a window that starts in the middle of a connected stretch counts
    // that stretch from the window's start; the close inside it is a
    // disconnect of its day only.
    #[test]
    fn h1_a_window_starting_inside_a_connected_stretch_counts_from_its_start() {
        let h = figures(&long_connected(drop_and_recover(ago(3 * DAY), Duration::from_secs(3))));
        assert_eq!(h.last_week, uptime(WINDOW.saturating_sub(Duration::from_secs(3)), WINDOW));
        assert_eq!(h.last_day, uptime(DAY, DAY));
        assert_eq!(h.disconnects_last_day, 0, "three days ago");
        assert_eq!(h.median_recovery, Some(Duration::from_secs(3)));
        assert_eq!(h.last_connected, Some(NOW));
    }

    // H-1: without an entry before the window the status before the oldest
    // entry is its `from`, known since the agent was added.
    #[test]
    fn h1_before_the_oldest_entry_the_agent_was_in_its_from_status_since_it_was_added() {
        let entries = vec![
            entry(ago(30 * HOUR), Status::Disconnected, Status::Connecting, Trigger::User, Rule::A2),
            opened(ago(30 * HOUR)),
            entry(ago(6 * HOUR), Status::Connected, Status::Disconnected, Trigger::User, Rule::D1),
        ];
        let h = figures(&history(ago(2 * DAY), Status::Disconnected, None, entries));
        assert_eq!(h.last_week, uptime(24 * HOUR, 2 * DAY));
        assert_eq!(h.last_day, uptime(18 * HOUR, DAY));
        assert_eq!(h.disconnects_last_day, 1, "a person's disconnect is a disconnect");
        assert_eq!(h.last_connected, Some(ago(6 * HOUR)), "when the link last ended");
    }

    // H-1: history pruned to `history_days` (H-5) leaves only those days known.
    #[test]
    fn h1_time_whose_history_may_be_pruned_is_not_covered() {
        let settings = Settings { history_days: 3, ..Settings::default() };
        let h = health(&history(ago(30 * DAY), Status::Disconnected, None, vec![]), NOW, &settings);
        assert_eq!(h.last_week, uptime(Duration::ZERO, 3 * DAY));
        // An entry older than that, not pruned yet, shows more is known.
        let older = vec![entry(ago(5 * DAY), Status::Connected, Status::Disconnected, Trigger::User, Rule::D1)];
        let h = health(&history(ago(30 * DAY), Status::Disconnected, None, older), NOW, &settings);
        assert_eq!(h.last_week, uptime(Duration::ZERO, 5 * DAY));
        assert_eq!(h.last_connected, Some(ago(5 * DAY)));
    }

    // H-1: disconnects are changes out of `connected` within 24 h; the
    // app's start-up (P-3) and closes of a retry that never opened are not.
    #[test]
    fn h1_disconnects_are_changes_out_of_connected_within_a_day() {
        let mut entries = drop_and_recover(ago(DAY + MINUTE), Duration::from_secs(2));
        entries.extend(drop_and_recover(ago(5 * HOUR), Duration::from_secs(2)));
        entries.push(entry(ago(4 * HOUR), Status::Connected, Status::Reconnecting, Trigger::Startup, Rule::P3));
        entries.push(entry(ago(4 * HOUR), Status::Reconnecting, Status::Connecting, Trigger::Auto, Rule::A6));
        entries.push(entry(ago(4 * HOUR), Status::Connecting, Status::Reconnecting, Trigger::Timer, Rule::R6));
        entries.extend(recovery(ago(4 * HOUR), Duration::from_secs(4)));
        entries.push(HistoryEntry {
            code: Some(CloseCode::BAD_SESSION),
            ..entry(ago(HOUR), Status::Connected, Status::Failed, Trigger::Connector, Rule::L3)
        });
        let h = figures(&long_connected(entries));
        assert_eq!(h.disconnects_last_day, 2, "the close 5 h ago and the failure an hour ago");
        assert_eq!(h.last_connected, Some(ago(HOUR)));
    }

    // H-1: the median time from a recoverable close to the link open again.
    #[test]
    fn h1_median_recovery_is_the_middle_of_the_recovered_closes() {
        let secs = Duration::from_secs;
        let mut entries = Vec::new();
        for (i, took) in [secs(2), secs(10), secs(4)].into_iter().enumerate() {
            entries.extend(drop_and_recover(ago(DAY * (5 - i as u32)), took));
        }
        assert_eq!(figures(&long_connected(entries.clone())).median_recovery, Some(secs(4)));
        entries.extend(drop_and_recover(ago(HOUR), secs(60)));
        assert_eq!(figures(&long_connected(entries)).median_recovery, Some(secs(7)), "(4 + 10) / 2");
    }

    // H-1: a close counts in the median when the agent's retries opened the
    // link again, a person's Connect among them; not one still retrying,
    // one after which it gave up, nor one before the window.
    #[test]
    fn h1_only_closes_recovered_while_retrying_count_towards_the_median() {
        let secs = Duration::from_secs;
        let before = drop_at(ago(WINDOW + MINUTE));
        let mut entries = recovery(ago(WINDOW + MINUTE), 2 * MINUTE).to_vec();
        entries.push(drop_at(ago(3 * DAY)));
        entries.push(entry(ago(3 * DAY).plus(MINUTE), Status::Reconnecting, Status::Failed, Trigger::Auto, Rule::R2));
        entries.push(entry(ago(2 * DAY), Status::Failed, Status::Connecting, Trigger::User, Rule::A4));
        entries.push(opened(ago(2 * DAY)));
        entries.push(drop_at(ago(DAY)));
        entries.push(entry(ago(DAY).plus(secs(10)), Status::Reconnecting, Status::Connecting, Trigger::User, Rule::A5));
        entries.push(opened(ago(DAY).plus(secs(30))));
        entries.push(drop_at(ago(MINUTE)));
        let h = figures(&history(ago(30 * DAY), Status::Reconnecting, Some(before), entries));
        assert_eq!(h.median_recovery, Some(secs(30)));
        assert_eq!(h.last_connected, Some(ago(MINUTE)));
    }

    // H-1: a stretch that ended before the window is still when the agent was last connected.
    #[test]
    fn h1_last_connected_may_lie_before_the_window() {
        let before = entry(ago(9 * DAY), Status::Connected, Status::Failed, Trigger::Connector, Rule::L3);
        let h = figures(&history(ago(30 * DAY), Status::Failed, Some(before), vec![]));
        assert_eq!(h.last_connected, Some(ago(9 * DAY)));
        assert_eq!(h.last_week, uptime(Duration::ZERO, WINDOW));
        let never = figures(&history(ago(30 * DAY), Status::Failed, None, vec![]));
        assert_eq!(never.last_connected, None);
    }

    // H-1, F-5: an entry dated before the one it follows (the clock set
    // back) counts at that one's time; none counts after now.
    #[test]
    fn h1_entries_out_of_order_never_make_time_run_backwards() {
        let mut entries = vec![drop_at(ago(HOUR))];
        entries.extend(recovery(ago(3 * HOUR), Duration::from_secs(2)));
        entries.push(drop_at(NOW.plus(HOUR)));
        let h = figures(&long_connected(entries));
        assert_eq!(h.last_day, uptime(DAY, DAY), "the recovery counts an hour ago, the drop now");
        assert_eq!(h.median_recovery, Some(Duration::ZERO));
        assert_eq!(h.last_connected, Some(NOW));
        assert_eq!(h.disconnects_last_day, 2);
    }

    fn closes_every(gap: Duration, n: u32, last: Timestamp) -> Vec<HistoryEntry> {
        let mut entries = Vec::new();
        for i in (0..n).rev() {
            entries.extend(drop_and_recover(last.minus(gap * i), Duration::from_secs(2)));
        }
        entries
    }

    fn threshold(n: u32) -> Settings {
        Settings { flap_threshold: n, ..Settings::default() }
    }

    // H-2: `flap_threshold` recoverable closes within ten minutes mark the agent.
    #[test]
    fn flapping_needs_the_threshold_of_closes_within_ten_minutes() {
        let five = closes_every(2 * MINUTE, 5, ago(MINUTE));
        assert_eq!(recent_closes(&five, NOW), 5);
        assert!(flapping(&five, NOW, &threshold(5)));
        assert!(!flapping(&five, NOW, &threshold(6)));
        // Five closes, but never five within ten minutes.
        let spread = closes_every(3 * MINUTE, 5, ago(MINUTE));
        assert_eq!(recent_closes(&spread, NOW), 4);
        assert!(!flapping(&spread, NOW, &threshold(5)));
    }

    // H-2: a failed retry is a close too; the start-up's move and the
    // pairing's restart are not.
    #[test]
    fn flapping_counts_failed_retries_but_not_start_up_nor_the_pairing_restart() {
        let mut entries = vec![drop_at(ago(9 * MINUTE))];
        for i in 0..2u32 {
            let at = ago(8 * MINUTE).plus(MINUTE * i);
            entries.push(entry(at, Status::Reconnecting, Status::Connecting, Trigger::Auto, Rule::A6));
            entries.push(entry(at, Status::Connecting, Status::Reconnecting, Trigger::Timer, Rule::R6));
        }
        entries.push(entry(ago(5 * MINUTE), Status::Reconnecting, Status::Connecting, Trigger::Auto, Rule::A6));
        entries.push(opened(ago(5 * MINUTE)));
        entries.push(entry(ago(4 * MINUTE), Status::Connected, Status::Reconnecting, Trigger::Startup, Rule::P3));
        entries.push(entry(ago(4 * MINUTE), Status::Reconnecting, Status::Connecting, Trigger::Auto, Rule::A6));
        entries.push(entry(ago(3 * MINUTE), Status::Connecting, Status::Reconnecting, Trigger::Connector, Rule::Q3));
        assert_eq!(recent_closes(&entries, NOW), 3);
        assert!(flapping(&entries, NOW, &threshold(3)));
        assert!(!flapping(&entries, NOW, &threshold(4)));
    }

    // H-2: the mark stays until 30 minutes connected in one stretch, then
    // clears, and a later single close does not set it again.
    #[test]
    fn flapping_clears_after_thirty_minutes_connected_in_one_stretch() {
        let marked_at = ago(3 * HOUR);
        let mut entries = closes_every(MINUTE, 3, marked_at);
        // Connected for 29 minutes, twice: still flapping.
        entries.extend(drop_and_recover(marked_at.plus(29 * MINUTE), Duration::from_secs(2)));
        assert!(flapping(&entries, marked_at.plus(58 * MINUTE), &threshold(3)));
        assert_eq!(recent_closes(&entries, marked_at.plus(58 * MINUTE)), 0, "no close in the last ten minutes");
        let second_stretch = marked_at.plus(29 * MINUTE + Duration::from_secs(2));
        assert!(flapping(
            &entries,
            second_stretch.plus(FLAP_CLEARS_AFTER).minus(Duration::from_millis(1)),
            &threshold(3)
        ));
        assert!(!flapping(&entries, second_stretch.plus(FLAP_CLEARS_AFTER), &threshold(3)), "30 min connected");
        // Cleared by that stretch: a later close, still retrying, does not set it again.
        entries.push(drop_at(marked_at.plus(HOUR + MINUTE)));
        assert!(!flapping(&entries, NOW, &threshold(3)));
        // A disconnected agent never clears its mark.
        let mut stopped = closes_every(MINUTE, 3, marked_at);
        stopped.push(entry(marked_at.plus(MINUTE), Status::Connected, Status::Disconnected, Trigger::User, Rule::D1));
        assert!(flapping(&stopped, NOW, &threshold(3)));
    }

    // H-3: new links are scans (or pairing codes entered): `qr_pending` to `connecting`.
    #[test]
    fn h3_new_links_within_a_day_are_counted_against_the_setting() {
        let scan = |at| entry(at, Status::QrPending, Status::Connecting, Trigger::Connector, Rule::Q3);
        let mut entries = vec![scan(ago(DAY + MINUTE))];
        entries.extend([3, 2, 1].map(|h| scan(ago(HOUR * h))));
        let settings = Settings { risk_pairings_per_day: 3, ..Settings::default() };
        let risk = ban_risk(&entries, NOW, &settings);
        assert_eq!(risk, BanRisk { pairings: 3, connects: 0, pairings_over: false, connects_over: false });
        entries.push(scan(ago(MINUTE)));
        let risk = ban_risk(&entries, NOW, &settings);
        assert_eq!((risk.pairings, risk.pairings_over, risk.at_risk()), (4, true, true));
        assert_eq!(figures(&long_connected(entries)).ban_risk, risk);
    }

    // H-3: user connects are a person's connects that started an attempt;
    // refused clicks and automatic retries are not.
    #[test]
    fn h3_user_connects_within_a_day_are_counted_against_the_setting() {
        let click = |at| entry(at, Status::Disconnected, Status::Connecting, Trigger::User, Rule::A2);
        let mut entries: Vec<HistoryEntry> = (1..=10u32).map(|m| click(ago(MINUTE * m))).collect();
        entries.push(entry(ago(MINUTE), Status::Connecting, Status::Connecting, Trigger::User, Rule::A1));
        entries.push(entry(ago(MINUTE), Status::Reconnecting, Status::Connecting, Trigger::Auto, Rule::A6));
        entries.push(click(ago(DAY + MINUTE)));
        entries.sort_by_key(|e| e.at);
        let settings = Settings { risk_connects_per_day: 10, ..Settings::default() };
        let risk = ban_risk(&entries, NOW, &settings);
        assert_eq!(risk, BanRisk { pairings: 0, connects: 10, pairings_over: false, connects_over: false });
        entries.push(click(NOW));
        let risk = ban_risk(&entries, NOW, &settings);
        assert_eq!((risk.connects, risk.connects_over, risk.pairings_over, risk.at_risk()), (11, true, false, true));
    }
}
