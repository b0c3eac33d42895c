//! The task that owns the fleet's rules ([`crate::fleet`], F-1…F-3).
//!
//! Agents' steps send it their [`FleetNews`]; it feeds them, "Try now" and
//! the passing of time to the pure [`Fleet`], then saves and performs what
//! comes out: it publishes the outage (the agents' machines read it in
//! their situation and hold their retries), asks held agents to probe, and
//! at the end resumes them in the order they were held, each with a start
//! slot reserved in that order. Every agent stays changed by its own
//! task only: this one sends them commands.

use std::sync::{Arc, Weak};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::agent_task::Command;
use super::view::EngineEvent;
use super::{Inner, Shared};
use crate::fleet::{Fleet, FleetEffect, FleetInput, Outage, Roster};
use crate::lifecycle::{AgentId, Rule, Status};

/// What the fleet task is sent.
pub(super) enum Message {
    /// News of an agent, or "Try now".
    Input(FleetInput),
    /// Answers once everything sent before it is done ([`super::Supervisor::settle`]).
    Barrier(oneshot::Sender<()>),
}

/// The fleet and the id of its open outage's row, if saved.
struct FleetTask {
    shared: Arc<Shared>,
    inner: Weak<Inner>,
    fleet: Fleet,
    saved: Option<i64>,
    rng: SmallRng,
}

/// Runs until the engine stops. `open` is the outage saved at the last run, if it had not ended.
pub(super) async fn run(
    shared: Arc<Shared>,
    inner: Weak<Inner>,
    open: Option<(i64, Outage)>,
    mut inputs: mpsc::UnboundedReceiver<Message>,
    seed: u64,
    stop: CancellationToken,
) {
    let (saved, outage) = open.unzip();
    let mut task = FleetTask { shared, inner, fleet: Fleet::new(outage), saved, rng: SmallRng::seed_from_u64(seed) };
    task.publish();
    loop {
        let wake = task.fleet.next_wake().map(|at| Instant::now() + task.shared.now().until(at));
        tokio::select! {
            () = stop.cancelled() => return,
            Some(first) = inputs.recv() => {
                // A storm of drops arrives as a burst: read the agents once for all of it.
                let mut batch = vec![first];
                while let Ok(next) = inputs.try_recv() {
                    batch.push(next);
                }
                let roster = task.roster();
                for message in batch {
                    match message {
                        Message::Input(input) => {
                            task.shared.activity.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            task.handle(input, &roster).await;
                        }
                        Message::Barrier(reply) => {
                            let _ = reply.send(());
                        }
                    }
                }
            }
            () = sleep_until(wake) => {
                task.shared.activity.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let roster = task.roster();
                task.handle(FleetInput::Tick, &roster).await;
            }
        }
    }
}

impl FleetTask {
    async fn handle(&mut self, input: FleetInput, roster: &Roster) {
        let settings = *self.shared.settings.borrow();
        let mut queue = std::collections::VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let now = self.shared.now();
            for effect in self.fleet.handle(input, now, &settings, roster, &mut self.rng) {
                if let Some(next) = self.perform(effect).await {
                    queue.push_back(next);
                }
            }
        }
    }

    /// Performs one effect; returns the input it leads to, if any (a probe's start).
    async fn perform(&mut self, effect: FleetEffect) -> Option<FleetInput> {
        match effect {
            FleetEffect::Began => {
                let outage = self.fleet.outage().expect("just began").clone();
                tracing::warn!(rule = %Rule::F1, cause = %outage.cause, "outage: agents' retries are held");
                // Published first: from here on agents' machines hold their retries.
                self.publish();
                let (since, cause, paused) = (outage.since, outage.cause.clone(), outage.paused);
                match self.shared.writer.call(move |store| store.begin_outage(since, &cause, paused)).await {
                    Ok(id) => self.saved = Some(id),
                    // The fleet acts on it all the same; only a restart forgets it.
                    Err(err) => tracing::error!(rule = %Rule::F1, "could not save the outage: {err}"),
                }
                None
            }
            FleetEffect::Hold(agents) => {
                for agent in agents {
                    self.send(agent, Command::Hold);
                }
                None
            }
            FleetEffect::Probe(order) => {
                for agent in order {
                    let (reply, answer) = oneshot::channel();
                    if self.send(agent, Command::Probe(reply)) && answer.await.unwrap_or(false) {
                        tracing::info!(rule = %Rule::F2, agent = %agent, "probing whether WhatsApp is reachable again");
                        return Some(FleetInput::ProbeStarted(agent));
                    }
                }
                Some(FleetInput::NoProbe)
            }
            FleetEffect::Changed => {
                if let (Some(id), Some(outage)) = (self.saved, self.fleet.outage()) {
                    let (probes, paused) = (outage.probes, outage.paused);
                    if let Err(err) =
                        self.shared.writer.call(move |store| store.update_outage(id, probes, paused)).await
                    {
                        tracing::warn!(rule = %Rule::F2, "could not save the outage's probe count: {err}");
                    }
                }
                self.publish();
                None
            }
            FleetEffect::Ended { how, by, paused } => {
                let how = match by.and_then(|agent| self.shared.board().get(&agent).map(|v| v.record.name.clone())) {
                    Some(name) => format!("{how} ({name})"),
                    None => how,
                };
                tracing::info!(rule = %Rule::F3, how = %how, "the outage is over; held agents resume");
                // Published first: from here on no agent's machine holds a retry.
                self.publish();
                if let Some(id) = self.saved.take() {
                    let (at, words) = (self.shared.now(), how.clone());
                    if let Err(err) = self.shared.writer.call(move |store| store.end_outage(id, at, &words)).await {
                        tracing::error!(rule = %Rule::F3, "could not save the outage's end: {err}");
                    }
                }
                self.release_held(paused);
                None
            }
        }
    }

    /// F-3: every held agent resumes, in the order it was held, each at a
    /// start slot reserved in that order.
    fn release_held(&self, after_pause: bool) {
        let rate = self.shared.settings.borrow().start_rate;
        for agent in self.roster().held {
            let slot = self.shared.slots.reserve(rate);
            self.send(agent, Command::Release(slot, after_pause));
        }
    }

    /// What the fleet must know of the agents now, from their published views.
    fn roster(&self) -> Roster {
        let board = self.shared.board();
        let mut held = Vec::new();
        let mut roster = Roster::default();
        for view in board.values() {
            let r = &view.record;
            roster.linked += usize::from(r.has_credentials);
            roster.waiting += usize::from(r.status == Status::Reconnecting);
            if let Some(since) = r.held_since {
                held.push((since, r.id));
            }
        }
        held.sort_unstable();
        roster.held = held.into_iter().map(|(_, id)| id).collect();
        roster
    }

    /// Sends a command to an agent's task; false when there is no such agent (removed).
    fn send(&self, agent: AgentId, command: Command) -> bool {
        let Some(inner) = self.inner.upgrade() else { return false };
        let Ok(registry) = inner.registry.try_lock() else {
            // Held for an add, rename or remove right now: send once it is free.
            return self.send_later(agent, command);
        };
        registry.get(&agent).is_some_and(|handle| handle.inbox.send(command).is_ok())
    }

    fn send_later(&self, agent: AgentId, command: Command) -> bool {
        let inner = self.inner.clone();
        self.shared.tasks.spawn(async move {
            if let Some(inner) = inner.upgrade()
                && let Some(handle) = inner.registry.lock().await.get(&agent)
            {
                let _ = handle.inbox.send(command);
            }
        });
        true
    }

    fn publish(&self) {
        let outage = self.fleet.outage().cloned();
        self.shared.outage.send_replace(outage.clone());
        let _ = self.shared.events.send(EngineEvent::Outage(outage.map(Box::new)));
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
