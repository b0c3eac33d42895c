//! The fleet's rules (F-1…F-3), pure: outages, held retries and probes.
//!
//! Beside [`crate::lifecycle`], which decides for one agent, this decides
//! for all of them together. It takes what agents' steps told it
//! ([`FleetNews`]) and the passing of time, and returns what to do
//! ([`FleetEffect`]); one supervisor task owns it, saves and performs the
//! effects. What it needs to know of the agents at a decision (how many are
//! linked, which are held) comes in as a [`Roster`] read from the published
//! views, so nothing here keeps a second copy of any agent.
//!
//! - F-1: many linked agents dropping within `outage_window`, or one report
//!   that WhatsApp cannot be reached at all, begins an outage.
//! - F-2: during it, agents' retries are held (by their own machines, which
//!   read the outage in their [`crate::lifecycle::Situation`]); one probe at
//!   a time tries, a held agent in turn, on R-1's delays.
//! - F-3: the first connection of any agent ends it; the held agents then
//!   resume in the order they were held, paced by R-5 (the task reserves
//!   their slots in that order).

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use rand::Rng;

use crate::clock::Timestamp;
use crate::lifecycle::{AgentId, FleetNews, Settings, backoff};

/// How long a probe may take beyond `connect_timeout` before the fleet
/// stops waiting for its word (the agent was removed, or a person took it
/// over) and counts it as failed.
pub const PROBE_GRACE: Duration = Duration::from_secs(5);

/// An outage in progress (F-1…F-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// When it began.
    pub since: Timestamp,
    /// Why, in plain words.
    pub cause: String,
    /// Probes that failed so far; the next waits R-1's delay for one more.
    pub probes: u32,
    /// When the next probe is due; `None` while one runs.
    pub next_probe_at: Option<Timestamp>,
    /// The agent probing now, and when the fleet stops waiting for it.
    pub probing: Option<(AgentId, Timestamp)>,
    /// The agent probed last, so the next probe is another's turn.
    pub last_probed: Option<AgentId>,
    /// Staff paused automatic reconnects: retries stay held, nothing
    /// probes, and only "Resume" ends it (F-2).
    pub paused: bool,
}

/// The cause of an outage that staff began by pausing automatic reconnects.
pub const PAUSED_CAUSE: &str = "automatic reconnects paused by staff";

/// What the fleet knows of its agents at a decision, read from their views.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    /// Agents with credentials: the ones whose drops can mean an outage.
    pub linked: usize,
    /// Agents whose retries are held, in the order they were held.
    pub held: Vec<AgentId>,
    /// Agents retrying or held: while none is left, nothing waits for the outage's end.
    pub waiting: usize,
}

/// What happened, for the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetInput {
    /// One agent's step told this.
    News(AgentId, FleetNews),
    /// Time passed: a probe may be due, or a running one overdue.
    Tick,
    /// A person asked for a probe now ("Try now").
    TryNow,
    /// The agent asked to probe started its attempt.
    ProbeStarted(AgentId),
    /// No held agent could probe (none held, or each refused).
    NoProbe,
    /// Staff pause every automatic reconnect until they resume them (F-2).
    Pause,
    /// Staff lift their pause: the held agents resume, paced (F-3).
    Resume,
}

/// What the owner of the fleet must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetEffect {
    /// Save the new outage and tell the window (F-1).
    Began,
    /// Hold these agents too: they gave up while the outage was building (F-3).
    Hold(Vec<AgentId>),
    /// Ask these held agents, in this order, to probe; the first that can
    /// does ([`FleetInput::ProbeStarted`]), or none ([`FleetInput::NoProbe`]).
    Probe(Vec<AgentId>),
    /// Save the outage's changed probe count or schedule and tell the window.
    Changed,
    /// Save the end and resume every held agent in order (F-3).
    Ended {
        /// How it ended, in plain words.
        how: String,
        /// The agent whose connection ended it, if one did.
        by: Option<AgentId>,
        /// It was staff's pause, lifted by them.
        paused: bool,
    },
}

/// The fleet's state: the outage, if any, and the recent drops that may make one.
#[derive(Debug, Default)]
pub struct Fleet {
    outage: Option<Outage>,
    /// Linked agents' recoverable closes within the last `outage_window`.
    drops: VecDeque<(Timestamp, AgentId)>,
    /// Agents that gave up within the last `outage_window`.
    gave_up: VecDeque<(Timestamp, AgentId)>,
}

impl Fleet {
    /// A fleet in the state saved at the last run: an outage that had not ended goes on.
    pub fn new(outage: Option<Outage>) -> Self {
        Fleet { outage, ..Fleet::default() }
    }

    /// The outage in progress.
    pub fn outage(&self) -> Option<&Outage> {
        self.outage.as_ref()
    }

    /// When the fleet must look again (a probe due, or a running one overdue).
    pub fn next_wake(&self) -> Option<Timestamp> {
        let outage = self.outage.as_ref()?;
        outage.probing.map(|(_, until)| until).or(outage.next_probe_at)
    }

    /// Applies one input; `roster` is read right before.
    pub fn handle(
        &mut self,
        input: FleetInput,
        now: Timestamp,
        settings: &Settings,
        roster: &Roster,
        rng: &mut impl Rng,
    ) -> Vec<FleetEffect> {
        match input {
            FleetInput::News(agent, news) => self.news(agent, news, now, settings, roster, rng),
            FleetInput::Tick => self.tick(now, settings, roster, rng),
            FleetInput::Pause => self.pause(now, settings),
            FleetInput::Resume => match self.outage.as_ref() {
                Some(outage) if outage.paused => self.end("resumed by staff".into(), None),
                _ => Vec::new(),
            },
            FleetInput::TryNow => match self.outage.as_mut() {
                Some(outage) if outage.probing.is_none() && !outage.paused => {
                    outage.next_probe_at = Some(now);
                    let mut effects = vec![FleetEffect::Changed];
                    effects.extend(self.tick(now, settings, roster, rng));
                    effects
                }
                _ => Vec::new(),
            },
            FleetInput::ProbeStarted(agent) => match self.outage.as_mut() {
                Some(outage) => {
                    let until = now.plus(settings.connect_timeout + PROBE_GRACE);
                    outage.probing = Some((agent, until));
                    outage.next_probe_at = None;
                    outage.last_probed = Some(agent);
                    vec![FleetEffect::Changed]
                }
                None => Vec::new(),
            },
            FleetInput::NoProbe => match self.outage.as_mut() {
                Some(outage) if outage.paused => Vec::new(),
                // Nothing is held yet (the drops' first retries are not due),
                // or every candidate refused: look again after the next delay,
                // which is not a failed probe.
                Some(outage) if roster.waiting > 0 => {
                    outage.next_probe_at = Some(now.plus(probe_delay(outage.probes, settings, rng)));
                    vec![FleetEffect::Changed]
                }
                Some(_) => self.end("no agent waits for WhatsApp any more".into(), None),
                None => Vec::new(),
            },
        }
    }

    fn news(
        &mut self,
        agent: AgentId,
        news: FleetNews,
        now: Timestamp,
        settings: &Settings,
        roster: &Roster,
        rng: &mut impl Rng,
    ) -> Vec<FleetEffect> {
        if news == FleetNews::Connected {
            // F-3: a probe or any other connection reached WhatsApp. A pause
            // is staff's, not WhatsApp's: only "Resume" ends it.
            return match &self.outage {
                Some(outage) if !outage.paused => self.end("a connection reached WhatsApp".into(), Some(agent)),
                _ => Vec::new(),
            };
        }
        if let Some(outage) = self.outage.as_mut() {
            // During an outage only the probe's end matters: any other close
            // of the probing agent means it failed.
            let mut effects = if outage.probing.is_some_and(|(probing, _)| probing == agent) {
                self.probe_failed(now, settings, rng)
            } else {
                Vec::new()
            };
            // An agent whose step did not know of the outage yet (its close
            // came with the one that began it) gave up meanwhile: it waits
            // with the others, as those that gave up just before (F-3).
            if news == FleetNews::GaveUp {
                effects.push(FleetEffect::Hold(vec![agent]));
            }
            return effects;
        }
        let window = settings.outage_window;
        let recent = |at: &Timestamp| at.plus(window) > now;
        self.drops.retain(|(at, _)| recent(at));
        self.gave_up.retain(|(at, _)| recent(at));
        let cause = match news {
            FleetNews::Unreachable(detail) => Some(format!("WhatsApp cannot be reached from this machine ({detail})")),
            FleetNews::RecoverableClose => {
                self.drops.push_back((now, agent));
                let dropped: BTreeSet<AgentId> = self.drops.iter().map(|(_, a)| *a).collect();
                let linked = roster.linked.max(dropped.len());
                let many = dropped.len() >= settings.outage_min_agents as usize;
                let share = dropped.len() * 100 >= settings.outage_share as usize * linked;
                (many && share).then(|| {
                    format!(
                        "{} of {linked} linked agents lost their connection within {}",
                        dropped.len(),
                        describe(window)
                    )
                })
            }
            FleetNews::GaveUp => {
                self.gave_up.push_back((now, agent));
                None
            }
            FleetNews::OtherClose | FleetNews::Connected => None,
        };
        let Some(cause) = cause else { return Vec::new() };
        self.drops.clear();
        let gave_up: BTreeSet<AgentId> = self.gave_up.drain(..).map(|(_, a)| a).collect();
        self.outage = Some(Outage {
            since: now,
            cause,
            probes: 0,
            next_probe_at: Some(now.plus(probe_delay(0, settings, rng))),
            probing: None,
            last_probed: None,
            paused: false,
        });
        let mut effects = vec![FleetEffect::Began];
        if !gave_up.is_empty() {
            effects.push(FleetEffect::Hold(gave_up.into_iter().collect()));
        }
        effects
    }

    /// Staff pause automatic reconnects: an outage of their own, or the one
    /// in progress stops probing. Agents that gave up just before are held too.
    fn pause(&mut self, now: Timestamp, settings: &Settings) -> Vec<FleetEffect> {
        if let Some(outage) = self.outage.as_mut() {
            if outage.paused {
                return Vec::new();
            }
            outage.paused = true;
            outage.next_probe_at = None;
            return vec![FleetEffect::Changed];
        }
        let window = settings.outage_window;
        self.gave_up.retain(|(at, _)| at.plus(window) > now);
        let gave_up: BTreeSet<AgentId> = self.gave_up.drain(..).map(|(_, a)| a).collect();
        self.drops.clear();
        self.outage = Some(Outage {
            since: now,
            cause: PAUSED_CAUSE.to_owned(),
            probes: 0,
            next_probe_at: None,
            probing: None,
            last_probed: None,
            paused: true,
        });
        let mut effects = vec![FleetEffect::Began];
        if !gave_up.is_empty() {
            effects.push(FleetEffect::Hold(gave_up.into_iter().collect()));
        }
        effects
    }

    fn tick(&mut self, now: Timestamp, settings: &Settings, roster: &Roster, rng: &mut impl Rng) -> Vec<FleetEffect> {
        let Some(outage) = self.outage.as_ref() else { return Vec::new() };
        if let Some((_, until)) = outage.probing {
            // No word from the probe in time: count it as failed.
            return if until <= now { self.probe_failed(now, settings, rng) } else { Vec::new() };
        }
        if outage.next_probe_at.is_none_or(|at| at > now) {
            return Vec::new();
        }
        // The held agents in turn: the one after the last probed first.
        let mut order = roster.held.clone();
        order.sort_unstable();
        let next = outage.last_probed.map_or(0, |last| order.partition_point(|a| *a <= last));
        let turn = next.min(order.len());
        order.rotate_left(turn);
        vec![FleetEffect::Probe(order)]
    }

    fn probe_failed(&mut self, now: Timestamp, settings: &Settings, rng: &mut impl Rng) -> Vec<FleetEffect> {
        let Some(outage) = self.outage.as_mut() else { return Vec::new() };
        outage.probing = None;
        outage.probes += 1;
        // A probe that was running when staff paused is the last one.
        outage.next_probe_at = (!outage.paused).then(|| now.plus(probe_delay(outage.probes, settings, rng)));
        vec![FleetEffect::Changed]
    }

    fn end(&mut self, how: String, by: Option<AgentId>) -> Vec<FleetEffect> {
        let paused = self.outage.take().is_some_and(|outage| outage.paused);
        self.drops.clear();
        self.gave_up.clear();
        vec![FleetEffect::Ended { how, by, paused }]
    }
}

/// R-1's delay before the probe after `failed` failed ones, up to `backoff_cap`.
fn probe_delay(failed: u32, settings: &Settings, rng: &mut impl Rng) -> Duration {
    backoff::retry_delay(failed + 1, settings, rng)
}

/// "60 s", "5 min" for a window, in the outage's cause.
fn describe(window: Duration) -> String {
    let secs = window.as_secs();
    if secs >= 60 && secs % 60 == 0 { format!("{} min", secs / 60) } else { format!("{secs} s") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    const T0: Timestamp = Timestamp(1_000_000);

    fn settings() -> Settings {
        Settings { jitter_percent: 0, ..Settings::default() }
    }

    fn roster(linked: usize, held: &[i64]) -> Roster {
        Roster { linked, held: held.iter().map(|&i| AgentId(i)).collect(), waiting: held.len() }
    }

    fn drop_of(fleet: &mut Fleet, agent: i64, at: Timestamp, roster: &Roster) -> Vec<FleetEffect> {
        let mut rng = SmallRng::seed_from_u64(1);
        fleet.handle(FleetInput::News(AgentId(agent), FleetNews::RecoverableClose), at, &settings(), roster, &mut rng)
    }

    #[test]
    fn f1_half_the_linked_agents_dropping_within_the_window_is_an_outage() {
        let mut fleet = Fleet::default();
        let r = roster(10, &[]);
        for agent in 1..5 {
            assert!(drop_of(&mut fleet, agent, T0, &r).is_empty(), "{agent} of 10 is no outage");
        }
        // The same agent twice counts once.
        assert!(drop_of(&mut fleet, 4, T0, &r).is_empty());
        assert_eq!(drop_of(&mut fleet, 5, T0.plus(Duration::from_secs(59)), &r), vec![FleetEffect::Began]);
        let outage = fleet.outage().expect("an outage");
        assert_eq!(outage.cause, "5 of 10 linked agents lost their connection within 1 min");
        assert_eq!(outage.next_probe_at, Some(T0.plus(Duration::from_secs(59 + 2))));
    }

    #[test]
    fn f1_drops_further_apart_than_the_window_are_no_outage() {
        let mut fleet = Fleet::default();
        let r = roster(6, &[]);
        for (i, agent) in (1..=3).enumerate() {
            assert!(drop_of(&mut fleet, agent, T0.plus(Duration::from_secs(61 * i as u64)), &r).is_empty());
        }
        assert!(fleet.outage().is_none());
    }

    #[test]
    fn f1_fewer_than_the_least_number_of_agents_is_bad_luck() {
        let mut fleet = Fleet::default();
        let r = roster(2, &[]);
        drop_of(&mut fleet, 1, T0, &r);
        assert!(drop_of(&mut fleet, 2, T0, &r).is_empty(), "2 of 2 is below outage_min_agents (3)");
    }

    #[test]
    fn f1_unreachable_is_an_outage_at_once_and_holds_who_gave_up_meanwhile() {
        let mut fleet = Fleet::default();
        let mut rng = SmallRng::seed_from_u64(1);
        let r = roster(100, &[]);
        fleet.handle(FleetInput::News(AgentId(9), FleetNews::GaveUp), T0, &settings(), &r, &mut rng);
        let effects = fleet.handle(
            FleetInput::News(AgentId(3), FleetNews::Unreachable("name resolution failed".into())),
            T0.plus(Duration::from_secs(10)),
            &settings(),
            &r,
            &mut rng,
        );
        assert_eq!(effects, vec![FleetEffect::Began, FleetEffect::Hold(vec![AgentId(9)])]);
        assert_eq!(
            fleet.outage().unwrap().cause,
            "WhatsApp cannot be reached from this machine (name resolution failed)"
        );
    }

    /// F-3: an agent whose step did not yet know of the outage (its close
    /// and the one that began the outage came together) gives up after the
    /// outage began: it is held like those that gave up before, so the end
    /// resumes it and nobody has to click.
    #[test]
    fn f3_an_agent_that_gives_up_after_the_outage_began_is_held_too() {
        let mut fleet = Fleet::default();
        let mut rng = SmallRng::seed_from_u64(1);
        let r = roster(100, &[]);
        let unreachable = FleetNews::Unreachable("no route".into());
        fleet.handle(FleetInput::News(AgentId(3), unreachable), T0, &settings(), &r, &mut rng);
        let effects = fleet.handle(FleetInput::News(AgentId(9), FleetNews::GaveUp), T0, &settings(), &r, &mut rng);
        assert_eq!(effects, vec![FleetEffect::Hold(vec![AgentId(9)])]);
    }

    #[test]
    fn f2_one_probe_at_a_time_in_turn_on_the_backoff() {
        let s = settings();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut fleet = Fleet::default();
        let r = roster(3, &[1, 2, 3]);
        for agent in 1..=3 {
            drop_of(&mut fleet, agent, T0, &r);
        }
        let due = fleet.next_wake().unwrap();
        assert_eq!(due, T0.plus(s.backoff_base));
        assert!(fleet.handle(FleetInput::Tick, T0, &s, &r, &mut rng).is_empty(), "not due yet");
        let probe = fleet.handle(FleetInput::Tick, due, &s, &r, &mut rng);
        assert_eq!(probe, vec![FleetEffect::Probe(vec![AgentId(1), AgentId(2), AgentId(3)])]);
        fleet.handle(FleetInput::ProbeStarted(AgentId(1)), due, &s, &r, &mut rng);
        // While it runs, no other probe starts, however long it takes.
        assert!(fleet.handle(FleetInput::Tick, due.plus(Duration::from_secs(30)), &s, &r, &mut rng).is_empty());
        assert!(fleet.handle(FleetInput::TryNow, due, &s, &r, &mut rng).is_empty());
        // Another agent's close is no probe's end.
        assert!(
            fleet.handle(FleetInput::News(AgentId(2), FleetNews::RecoverableClose), due, &s, &r, &mut rng).is_empty()
        );
        let failed = fleet.handle(FleetInput::News(AgentId(1), FleetNews::RecoverableClose), due, &s, &r, &mut rng);
        assert_eq!(failed, vec![FleetEffect::Changed]);
        let outage = fleet.outage().unwrap();
        assert_eq!((outage.probes, outage.next_probe_at), (1, Some(due.plus(s.backoff_base * 2))));
        // The next probe is the next agent's turn.
        let next = fleet.handle(FleetInput::Tick, due.plus(s.backoff_base * 2), &s, &r, &mut rng);
        assert_eq!(next, vec![FleetEffect::Probe(vec![AgentId(2), AgentId(3), AgentId(1)])]);
    }

    #[test]
    fn f2_a_probe_that_never_answers_counts_as_failed() {
        let s = settings();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut fleet = Fleet::new(Some(Outage {
            since: T0,
            cause: "test".into(),
            probes: 0,
            next_probe_at: Some(T0),
            probing: None,
            last_probed: None,
            paused: false,
        }));
        let r = roster(1, &[1]);
        fleet.handle(FleetInput::ProbeStarted(AgentId(1)), T0, &s, &r, &mut rng);
        let overdue = T0.plus(s.connect_timeout + PROBE_GRACE);
        assert_eq!(fleet.next_wake(), Some(overdue));
        assert_eq!(fleet.handle(FleetInput::Tick, overdue, &s, &r, &mut rng), vec![FleetEffect::Changed]);
        assert_eq!(fleet.outage().unwrap().probes, 1);
    }

    #[test]
    fn f2_probe_delays_stop_at_the_cap() {
        let s = settings();
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(probe_delay(20, &s, &mut rng), s.backoff_cap);
    }

    #[test]
    fn f3_any_connection_ends_the_outage() {
        let s = settings();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut fleet = Fleet::default();
        let r = roster(3, &[1, 2]);
        for agent in 1..=3 {
            drop_of(&mut fleet, agent, T0, &r);
        }
        let ended = fleet.handle(FleetInput::News(AgentId(3), FleetNews::Connected), T0, &s, &r, &mut rng);
        assert_eq!(
            ended,
            vec![FleetEffect::Ended {
                how: "a connection reached WhatsApp".into(),
                by: Some(AgentId(3)),
                paused: false
            }]
        );
        assert!(fleet.outage().is_none() && fleet.next_wake().is_none());
        // The drops that made it are spent: one more is no new outage.
        assert!(drop_of(&mut fleet, 1, T0, &r).is_empty());
    }

    #[test]
    fn f3_an_outage_nobody_waits_for_ends() {
        let s = settings();
        let mut rng = SmallRng::seed_from_u64(1);
        let mut fleet = Fleet::default();
        let r = roster(3, &[]);
        for agent in 1..=3 {
            drop_of(&mut fleet, agent, T0, &r);
        }
        let still_retrying = Roster { waiting: 2, ..roster(3, &[]) };
        assert_eq!(fleet.handle(FleetInput::NoProbe, T0, &s, &still_retrying, &mut rng), vec![FleetEffect::Changed]);
        assert!(fleet.outage().is_some());
        let ended = fleet.handle(FleetInput::NoProbe, T0, &s, &roster(3, &[]), &mut rng);
        assert!(matches!(ended.as_slice(), [FleetEffect::Ended { by: None, .. }]));
    }
}
