//! One task per agent: the only code that changes that agent.
//!
//! The task feeds inputs (commands, connector events, deadlines) to the pure
//! state machine, commits each step before anything else happens (P-1), then
//! performs the step's effects and publishes the new view.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::view::{AgentView, EngineEvent};
use super::{Shared, notices};
use crate::clock::Timestamp;
use crate::connector::{Connection, ConnectorError, ConnectorEvent, EventSink, StartRequest, TaggedEvent};
use crate::error::EngineError;
use crate::lifecycle::admission::{attempt_cooldown_until, auth_cooldown_until, ban_until};
use crate::lifecycle::{self, Agent, CloseCode, Decision, Effect, Input, Rule, Settings, Status, Trigger, UnlinkPlan};
use crate::logging::log_history;
use crate::store::{Change, UnlinkRow};

/// How much of its history an agent keeps at hand for its marks: H-3
/// counts a day; H-2's mark is set within ten minutes and cleared by half
/// an hour connected (a mark set more than a day ago and never cleared is
/// forgotten: ARCHITECTURE.md).
pub(super) const RECENT: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// How long a pairing-code request may wait for WhatsApp's answer.
const PAIR_CODE_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How soon a change that could not be saved is tried again, and the most
/// the delay doubles to while the database stays unwritable.
const UNSAVED_RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(1);
const UNSAVED_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// Why the task wakes up without a message: each cause of a timer, so
/// [`AgentTask::on_wake`] acts on it instead of guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// Inputs that could not be saved are due to be tried again.
    SaveAgain,
    /// The start slot reserved for a due retry has come.
    StartSlot,
    /// The scheduled retry is due; it first reserves a start slot.
    RetryDue,
    /// A saved automatic attempt's turn at the connector has come.
    HeldStart,
    /// The unscanned QR's lifetime ends.
    QrExpires,
    /// The attempt reached neither a QR nor a link in time.
    ConnectTimeout,
    /// A cooldown or ban ends: what Connect would do changes (A-3…A-5).
    BlockEnds,
    /// A bulk connect's start slot has come (B-1, R-5).
    QueuedConnect,
    /// A mark of H-2 or H-3 changes by time alone: the view is published anew.
    MarksChange,
}

/// A request to an agent's task, with the channel for its answer.
pub(super) enum Command {
    Connect(oneshot::Sender<Result<Decision, EngineError>>),
    /// A person's connect as part of a bulk action (B-1): admitted now by
    /// the A-rules, started at a start slot shared with automatic starts.
    QueueConnect(oneshot::Sender<Result<Decision, EngineError>>),
    Disconnect(oneshot::Sender<Result<(), EngineError>>),
    PairCode(String, oneshot::Sender<Result<(), EngineError>>),
    /// The new name is committed already; the task updates its view.
    Renamed(String, oneshot::Sender<()>),
    /// Close the connection and stop; the caller deletes the row. The answer
    /// is the unlink job to save with the deletion, when the device must
    /// leave the phone later (D-1); otherwise the credentials are gone.
    Remove(oneshot::Sender<Option<UnlinkRow>>),
    /// Publish the view again: something it shows beside the agent changed.
    Refresh,
    /// The fleet is in an outage: hold this agent if it gave up while the
    /// outage was building (F-3).
    Hold,
    /// The fleet asks this held agent to probe now (F-2); the answer says
    /// whether its attempt started.
    Probe(oneshot::Sender<bool>),
    /// The outage is over: a held agent resumes at this start slot (F-3, R-5).
    Release(Instant, bool),
    /// Answers once everything queued before it has been handled ([`super::Supervisor::settle`]).
    Barrier(oneshot::Sender<()>),
}

pub(super) struct AgentTask {
    shared: Arc<Shared>,
    agent: Agent,
    inbox: mpsc::UnboundedReceiver<Command>,
    events_tx: mpsc::UnboundedSender<TaggedEvent>,
    events_rx: mpsc::UnboundedReceiver<TaggedEvent>,
    /// The live connection and the serial its events carry.
    connection: Option<Box<dyn Connection>>,
    attempt_serial: u64,
    /// A reserved start slot for a due automatic retry.
    start_slot: Option<Instant>,
    /// An automatic attempt that is saved but waits for its turn at the
    /// connector (R-5's second gate): when, and whether it resumes. It
    /// belongs to the live attempt and goes with it (a disconnect, R-6).
    held_start: Option<(Instant, bool)>,
    /// A bulk connect admitted and waiting for its start slot (B-1, R-5).
    queued_connect: Option<Instant>,
    /// The connect being applied is a bulk one: its start takes a turn at
    /// R-5's second gate like an automatic one, though a person asked.
    paced_start: bool,
    rng: SmallRng,
    published: Option<Arc<AgentView>>,
    /// Inputs from the world whose step could not be saved (disk full,
    /// database locked or read-only), oldest first. The agent stays as last
    /// saved (P-1) and they are tried again, before anything newer.
    unsaved: VecDeque<Input>,
    /// When to try them again, and the delay used (doubles up to the max).
    unsaved_retry: Option<(Instant, std::time::Duration)>,
    /// Wakes the task when settings change (a shorter cooldown ends sooner).
    settings: watch::Receiver<Settings>,
    /// Wakes the task after a gap in which no timer ran, a suspend (F-6).
    time_gaps: watch::Receiver<u64>,
    /// The agent's history entries of the last day, oldest first, for its
    /// marks: flapping (H-2) and ban risk (H-3).
    recent: VecDeque<lifecycle::HistoryEntry>,
    /// Whether `recent` came with the task (read for every agent at once at
    /// start-up, or empty for a new agent); otherwise the task reads it.
    loaded_recent: bool,
    /// When the published marks next change by time alone (H-2, H-3).
    marks_change_at: Option<Timestamp>,
    stop: CancellationToken,
}

impl AgentTask {
    pub(super) fn new(
        shared: Arc<Shared>,
        agent: Agent,
        inbox: mpsc::UnboundedReceiver<Command>,
        recent: Option<Vec<lifecycle::HistoryEntry>>,
        seed: u64,
        stop: CancellationToken,
    ) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let settings = shared.settings.clone();
        let time_gaps = shared.time_gaps.subscribe();
        AgentTask {
            settings,
            time_gaps,
            shared,
            agent,
            inbox,
            events_tx,
            events_rx,
            connection: None,
            attempt_serial: 0,
            start_slot: None,
            held_start: None,
            queued_connect: None,
            paced_start: false,
            rng: SmallRng::seed_from_u64(seed),
            published: None,
            unsaved: VecDeque::new(),
            unsaved_retry: None,
            loaded_recent: recent.is_some(),
            marks_change_at: None,
            recent: recent.unwrap_or_default().into(),
            stop,
        }
    }

    pub(super) async fn run(mut self) {
        if !self.loaded_recent {
            self.load_recent().await;
        }
        // P-3: a restart ends every attempt; decide what each agent does now.
        let has_credentials = self.shared.connector.has_credentials(self.agent.record.id);
        if let Err(err) = self.apply(Input::Startup { has_credentials }).await {
            tracing::warn!(agent = %self.agent.record.id, "could not record the start-up state, will retry: {err}");
        }
        self.publish();
        loop {
            // A cooldown may have ended while other work was handled; its wake-up
            // is then gone, so check here that the published preview still holds.
            self.publish();
            let wake = self.next_wake();
            tokio::select! {
                biased;
                () = self.stop.cancelled() => {
                    // P-4: close without logging out, so the credentials stay valid.
                    if let Some(connection) = self.connection.take() {
                        connection.close(false);
                    }
                    return;
                }
                // Connection events come before commands: they happened first.
                Some(tagged) = self.events_rx.recv() => {
                    self.shared.activity.fetch_add(1, Ordering::Relaxed);
                    self.on_event(tagged).await;
                }
                command = self.inbox.recv() => match command {
                    Some(Command::Remove(reply)) => {
                        let _ = reply.send(self.remove());
                        return;
                    }
                    Some(Command::Refresh) => {}
                    Some(Command::Barrier(reply)) => {
                        let _ = reply.send(());
                    }
                    Some(command) => {
                        self.shared.activity.fetch_add(1, Ordering::Relaxed);
                        self.handle(command).await;
                    }
                    None => return,
                },
                Ok(()) = self.settings.changed() => self.publish(),
                // The loop then looks at the deadlines again and publishes.
                Ok(()) = self.time_gaps.changed() => self.after_gap(),
                () = sleep_until(wake.map(|(at, _)| at)) => {
                    self.shared.activity.fetch_add(1, Ordering::Relaxed);
                    let (_, why) = wake.expect("a pending sleep never ends");
                    self.on_wake(why).await;
                }
            }
        }
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Connect(reply) => {
                let result = self.apply(Input::Connect(Trigger::User)).await;
                let _ = reply.send(result.map(|d| d.expect("a connect step always decides")));
            }
            Command::QueueConnect(reply) => {
                let _ = reply.send(self.queue_connect().await);
            }
            Command::Disconnect(reply) => {
                // A person's disconnect also cancels a bulk connect still waiting its turn.
                self.queued_connect = None;
                let _ = reply.send(self.apply(Input::Disconnect).await.map(|_| ()));
            }
            Command::PairCode(phone, reply) => match (&mut self.connection, self.agent.record.status) {
                (Some(connection), Status::QrPending) => {
                    // WhatsApp answers over the network: wait beside the task, not
                    // in it, as a tracked task that stops with the engine.
                    let request = connection.request_pair_code(&phone);
                    let stop = self.stop.clone();
                    self.shared.tasks.spawn(async move {
                        let result = tokio::select! {
                            () = stop.cancelled() => Err(EngineError::ShuttingDown),
                            answer = tokio::time::timeout(PAIR_CODE_ANSWER_TIMEOUT, request) => match answer {
                                Ok(result) => result.map_err(EngineError::from),
                                Err(_) => Err(EngineError::from(ConnectorError::PairCodeRefused(
                                    "WhatsApp did not answer the pairing-code request in time; try again".into(),
                                ))),
                            },
                        };
                        let _ = reply.send(result);
                    });
                }
                _ => {
                    let _ = reply.send(Err(EngineError::NotPairing));
                }
            },
            Command::Renamed(name, reply) => {
                self.agent.record.name = name;
                self.publish();
                let _ = reply.send(());
            }
            Command::Hold => {
                if let Err(err) = self.apply(Input::Hold).await {
                    tracing::warn!(agent = %self.agent.record.id, "could not hold the agent for the outage: {err}");
                }
            }
            Command::Probe(reply) => {
                let held = self.agent.record.held_since.is_some() && self.agent.attempt.is_none();
                let started =
                    held && matches!(self.apply(Input::Connect(Trigger::Auto)).await, Ok(Some(d)) if d.is_allowed());
                let _ = reply.send(started);
            }
            Command::Release(slot, after_pause) => {
                match self.apply(Input::Release { after_pause }).await {
                    // The retry is due: it starts at the slot the fleet reserved in the held order.
                    Ok(_) if self.agent.record.next_retry_at.is_some() => self.start_slot = Some(slot),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(agent = %self.agent.record.id, "could not resume after the outage: {err}");
                    }
                }
            }
            Command::Remove(_) | Command::Barrier(_) | Command::Refresh => unreachable!("handled by run"),
        }
    }

    /// Stops the agent for its removal; returns the unlink job its
    /// credentials need, if any (D-1), for the caller to save.
    fn remove(&mut self) -> Option<UnlinkRow> {
        let plan = self.agent.unlink_plan();
        if let Some(connection) = self.connection.take() {
            connection.close(plan == UnlinkPlan::LogOutNow);
        }
        if plan == UnlinkPlan::Later {
            return Some(self.shared.unlinks.new_job(&self.agent.record, self.shared.now()));
        }
        self.forget_credentials();
        None
    }

    async fn on_event(&mut self, tagged: TaggedEvent) {
        if tagged.attempt != self.attempt_serial || self.connection.is_none() {
            // D-2: the attempt this belongs to was stopped; nothing of it may change the agent.
            tracing::debug!(agent = %self.agent.record.id, "ignoring a late event of a stopped attempt");
            return;
        }
        let input = match tagged.event {
            ConnectorEvent::Qr(code) => Input::Qr(code),
            ConnectorEvent::PairCode(code) => Input::PairCode(code),
            ConnectorEvent::PasskeyRequested => Input::PasskeyRequested,
            ConnectorEvent::PasskeyCode(code) => Input::PasskeyCode(code),
            ConnectorEvent::PasskeyFailed { detail } => Input::PasskeyFailed { detail },
            ConnectorEvent::Scanned => Input::Scanned,
            ConnectorEvent::Opened { phone } => Input::Opened { phone },
            ConnectorEvent::Closed { code, banned_for } => {
                // The connection is over; the object goes with it.
                self.connection = None;
                // A ban's end is dated as it is reported, on the engine's
                // timeline, even if saving it has to wait (P-1).
                Input::Closed { code, until: banned_for.map(|d| self.shared.now().plus(d)) }
            }
            ConnectorEvent::QrExhausted => {
                self.connection = None;
                Input::QrExhausted
            }
            ConnectorEvent::KeepAliveLost => Input::KeepAliveLost,
            ConnectorEvent::Unreachable { detail } => {
                self.connection = None;
                Input::Unreachable { detail }
            }
            ConnectorEvent::CredentialsUnavailable { detail } => {
                self.connection = None;
                Input::CredentialsUnavailable { detail }
            }
        };
        if let Err(err) = self.apply(input).await {
            tracing::warn!(agent = %self.agent.record.id, "could not record a connection event, will retry: {err}");
        }
    }

    /// F-6: no timer ran for a while (a suspend). The wake this task slept
    /// towards is stale: `run` derives it again from the stored deadlines
    /// right after this (one that passed meanwhile fires at once) and
    /// publishes the view. An open link may have died meanwhile without a
    /// word: it is checked now, and a dead one comes back as a 408 (O-3).
    fn after_gap(&mut self) {
        self.shared.activity.fetch_add(1, Ordering::Relaxed);
        if self.agent.record.status == Status::Connected
            && let Some(connection) = self.connection.as_mut()
        {
            connection.check_alive();
        }
    }

    async fn on_wake(&mut self, why: Wake) {
        let id = self.agent.record.id;
        match why {
            Wake::SaveAgain => {
                if let Err(err) = self.apply_all(VecDeque::new()).await {
                    tracing::warn!(agent = %id, "still cannot save: {err}");
                }
            }
            Wake::StartSlot => {
                self.start_slot = None;
                // An outage began since the slot was taken: the retry is held (F-2).
                let input = if self.in_outage() { Input::Hold } else { Input::Connect(Trigger::Auto) };
                if let Err(err) = self.apply(input).await {
                    tracing::warn!(agent = %id, "could not record a retry, will retry: {err}");
                }
            }
            Wake::RetryDue if self.in_outage() => {
                // F-2: during an outage the retry waits for its end, not for a slot.
                if let Err(err) = self.apply(Input::Hold).await {
                    tracing::warn!(agent = %id, "could not hold a retry for the outage, will retry: {err}");
                }
            }
            Wake::RetryDue => {
                // the retry is due; wait for a start slot shared by all agents.
                let rate = self.shared.settings.borrow().start_rate;
                self.start_slot = Some(self.shared.slots.reserve(rate));
            }
            Wake::HeldStart => {
                let Some((_, resume)) = self.held_start.take() else { return };
                let mut failed = VecDeque::new();
                self.start_in_turn(resume, &mut failed);
                if !failed.is_empty()
                    && let Err(err) = self.apply_all(failed).await
                {
                    tracing::warn!(agent = %id, "could not record a failed start, will retry: {err}");
                }
            }
            Wake::QueuedConnect => {
                self.queued_connect = None;
                // Decided again now by the A-rules: much may have changed while it waited.
                self.paced_start = true;
                let result = self.apply(Input::Connect(Trigger::User)).await;
                self.paced_start = false;
                if let Err(err) = result {
                    tracing::warn!(agent = %id, "could not record a bulk connect: {err}");
                }
            }
            Wake::QrExpires | Wake::ConnectTimeout => {
                if let Err(err) = self.apply(Input::DeadlinePassed).await {
                    tracing::warn!(agent = %id, "could not record an expiry, will retry: {err}");
                }
            }
            // What Connect would do changed: `run` publishes the new preview.
            // The loop publishes the view anew before it waits again.
            Wake::BlockEnds | Wake::MarksChange => {}
        }
    }

    /// B-1: a bulk connect. The A-rules decide now, as for a click: a refusal
    /// is applied at once, exactly as a click's (its history, its answer).
    /// An admitted one reserves a start slot shared with automatic starts
    /// and is decided again when the slot comes. Asked twice, it keeps
    /// its first slot.
    async fn queue_connect(&mut self) -> Result<Decision, EngineError> {
        let settings = *self.shared.settings.borrow();
        let decision = lifecycle::admit(&self.agent.record, Trigger::User, self.shared.now(), &settings);
        if !decision.is_allowed() {
            return self.apply(Input::Connect(Trigger::User)).await.map(|d| d.expect("a connect step always decides"));
        }
        if self.queued_connect.is_none() {
            self.queued_connect = Some(self.shared.slots.reserve(settings.start_rate));
            self.publish();
        }
        Ok(decision)
    }

    /// Runs an input through the machine: commit, then effects, then publish.
    /// Returns the decision of a connect input. On a store error nothing of
    /// the failed step is applied, so memory never runs ahead of the
    /// database; inputs from the world are kept and retried ([`Self::unsaved`]).
    async fn apply(&mut self, input: Input) -> Result<Option<Decision>, EngineError> {
        self.apply_all(VecDeque::from([input])).await
    }

    async fn apply_all(&mut self, inputs: VecDeque<Input>) -> Result<Option<Decision>, EngineError> {
        // Earlier inputs that could not be saved happened first: they go first.
        let mut queue = std::mem::take(&mut self.unsaved);
        queue.extend(inputs);
        let mut decision = None;
        while let Some(input) = queue.pop_front() {
            let now = self.shared.now();
            let settings = *self.shared.settings.borrow();
            let step = self.step(input.clone(), now, &settings);
            let changed = step.record_changed(&self.agent.record);
            // D-1: the unlink job is saved with the step that begins it.
            let mut unlink = step
                .effects
                .contains(&Effect::UnlinkLater)
                .then(|| self.shared.unlinks.new_job(&self.agent.record, now));
            if changed || !step.history.is_empty() {
                let change = Change {
                    agent: self.agent.record.id,
                    record: changed.then(|| step.agent.record.clone()),
                    history: step.history.clone(),
                    unlink: unlink.clone(),
                };
                if let Err(err) = self.shared.writer.commit(change).await {
                    self.keep_unsaved(std::iter::once(input).chain(queue));
                    self.publish();
                    return Err(err.into());
                }
                for entry in &step.history {
                    log_history(self.agent.record.id, entry);
                }
                self.remember(&step.history, now);
            }
            decision = decision.or(step.decision);
            self.agent = step.agent;
            for effect in step.effects {
                if effect == Effect::UnlinkLater {
                    let row = unlink.take().expect("made for this step");
                    self.shared.unlinks.begin(&self.shared, row);
                } else {
                    self.perform(effect, &mut queue);
                }
            }
        }
        self.unsaved_retry = None;
        if self.agent.record.held_since.is_some() && !self.in_outage() {
            // Held by an outage that ended while this step ran (or before a
            // restart): no one else will release it.
            return Box::pin(self.apply_all(VecDeque::from([Input::Release { after_pause: false }])))
                .await
                .map(|later| decision.or(later));
        }
        if self.agent.record.status != Status::Reconnecting {
            self.start_slot = None;
        }
        if !self.agent.has_live_connection() {
            // The attempt ended before its turn (a disconnect, R-6): it never starts.
            self.held_start = None;
        }
        if self.agent.attempt.is_some() {
            // Connecting already (a click, a retry): the queued bulk connect has nothing left to do.
            self.queued_connect = None;
        }
        self.publish();
        Ok(decision)
    }

    /// One step of the machine in the agent's situation. H-2: the close that
    /// completes `flap_threshold` marks the agent flapping, and its own
    /// retry already waits the longest delay, so a step that would make the
    /// agent flapping is taken again as a flapping agent's (same jitter).
    fn step(&mut self, input: Input, now: Timestamp, settings: &Settings) -> lifecycle::Step {
        let (outage, paused) = {
            let published = self.shared.outage.borrow();
            (published.is_some(), published.as_ref().is_some_and(|o| o.paused))
        };
        let mut situation = lifecycle::Situation { outage, paused, flapping: self.flapping(now, settings) };
        let mut rng = self.rng.clone();
        let mut step = lifecycle::step(&self.agent, input.clone(), now, settings, situation, &mut rng);
        if !situation.flapping && step.agent.record.next_retry_at.is_some() {
            let mut with_step: Vec<_> = self.recent.iter().cloned().collect();
            with_step.extend(step.history.iter().cloned());
            if lifecycle::health::flapping(&with_step, now, settings) {
                situation.flapping = true;
                rng = self.rng.clone();
                step = lifecycle::step(&self.agent, input, now, settings, situation, &mut rng);
            }
        }
        self.rng = rng;
        step
    }

    /// Keeps the inputs from the world for a later try, with a growing delay.
    fn keep_unsaved(&mut self, inputs: impl Iterator<Item = Input>) {
        self.unsaved = inputs.filter(|input| !input.is_from_user()).collect();
        self.unsaved_retry = (!self.unsaved.is_empty()).then(|| {
            let delay = self.unsaved_retry.map_or(UNSAVED_RETRY_FIRST, |(_, last)| (last * 2).min(UNSAVED_RETRY_MAX));
            (Instant::now() + delay, delay)
        });
    }

    fn perform(&mut self, effect: Effect, queue: &mut VecDeque<Input>) {
        let id = self.agent.record.id;
        match effect {
            Effect::StartConnection { resume } => {
                let automatic = self.agent.attempt.as_ref().is_some_and(|a| a.trigger == Trigger::Auto);
                if !automatic && !self.paced_start {
                    // a person's click never waits (a bulk action's does, B-1).
                    self.start_connection(resume, queue);
                    return;
                }
                // R-5 at the moment that counts: the slot was taken before the
                // commit, which may have been slow and saved many attempts at
                // once. They take turns at the second gate, in the order saved.
                let rate = self.shared.settings.borrow().start_rate;
                let turn = self.shared.starts.reserve(rate);
                if turn > Instant::now() {
                    self.held_start = Some((turn, resume));
                } else {
                    self.start_in_turn(resume, queue);
                }
            }
            Effect::CloseConnection { logout } => {
                if let Some(connection) = self.connection.take() {
                    connection.close(logout);
                }
            }
            Effect::ForgetCredentials => self.forget_credentials(),
            Effect::UnlinkLater => unreachable!("begun with the job saved in its step"),
            Effect::Fleet(news) => {
                let _ = self.shared.fleet.send(super::fleet::Message::Input(crate::fleet::FleetInput::News(id, news)));
            }
            Effect::Notify { kind, title, body } => {
                self.shared.notices.tell(notices::Notice { agent: id, kind, title, body });
            }
        }
    }

    /// An automatic attempt whose turn at the second gate has come starts,
    /// unless the last automatic start went less than `1 / rate` ago (it
    /// woke late): then it is held until the gap is whole.
    fn start_in_turn(&mut self, resume: bool, queue: &mut VecDeque<Input>) {
        let rate = self.shared.settings.borrow().start_rate;
        match self.shared.starts.go(rate) {
            Ok(()) => self.start_connection(resume, queue),
            Err(later) => self.held_start = Some((later, resume)),
        }
    }

    /// Starts the attempt's connection now. A start the connector refuses
    /// becomes a close, queued for the machine.
    fn start_connection(&mut self, resume: bool, queue: &mut VecDeque<Input>) {
        let id = self.agent.record.id;
        if let Some(stray) = self.connection.take() {
            // The machine's A-1 makes this impossible; never leave two open.
            tracing::error!(agent = %id, "a connection was still open at a new start; closing it");
            stray.close(false);
        }
        // D-2: a new serial at the real start, so only this connection's events count.
        self.attempt_serial += 1;
        let sink = EventSink::new(id, self.attempt_serial, self.events_tx.clone());
        let request = StartRequest { agent: id, resume, name: self.agent.record.name.clone() };
        match self.shared.connector.start(request, sink) {
            Ok(connection) => self.connection = Some(connection),
            Err(err) => {
                tracing::warn!(agent = %id, "could not start a connection: {err}");
                // Nothing here proves the credentials damaged (only the
                // connector can tell, with a 500): a passing fault, retried.
                let input = match err {
                    ConnectorError::Credentials { detail, .. } => Input::CredentialsUnavailable { detail },
                    _ => Input::Closed { code: CloseCode::TIMED_OUT, until: None },
                };
                queue.push_back(input);
            }
        }
    }

    /// Reads the last day of the agent's history, for its marks (H-2, H-3).
    /// Without it (the database cannot be read now) the marks start afresh.
    async fn load_recent(&mut self) {
        let id = self.agent.record.id;
        let since = self.shared.now().minus(RECENT);
        match self.shared.writer.call(move |store| store.health_history(id, since)).await {
            Ok(Some(history)) => self.recent = history.entries.into(),
            Ok(None) => {}
            Err(err) => tracing::warn!(agent = %id, "could not read the recent history for the health marks: {err}"),
        }
    }

    /// Keeps committed entries for the marks, and forgets those older than a day.
    fn remember(&mut self, entries: &[lifecycle::HistoryEntry], now: Timestamp) {
        self.recent.extend(entries.iter().cloned());
        let since = now.minus(RECENT);
        while self.recent.front().is_some_and(|e| e.at < since) {
            self.recent.pop_front();
        }
    }

    /// H-2: whether the agent is marked flapping now.
    fn flapping(&mut self, now: Timestamp, settings: &Settings) -> bool {
        lifecycle::health::flapping(self.recent.make_contiguous(), now, settings)
    }

    /// Whether the fleet is in an outage now (F-2).
    fn in_outage(&self) -> bool {
        self.shared.outage.borrow().is_some()
    }

    fn forget_credentials(&self) {
        let id = self.agent.record.id;
        if let Err(err) = self.shared.connector.forget_credentials(id) {
            tracing::error!(agent = %id, rule = %Rule::P6, "could not delete credentials: {err}");
        }
    }

    /// What the view shows beside the record and the attempt's codes: all of
    /// it moves with time alone, so it is read anew at every publication.
    fn derived(&mut self) -> Derived {
        let now = self.shared.now();
        let settings = *self.shared.settings.borrow();
        let flapping = self.flapping(now, &settings);
        let ban_risk = lifecycle::health::ban_risk(self.recent.make_contiguous(), now, &settings);
        self.marks_change_at =
            lifecycle::health::marks_change_at(self.recent.make_contiguous(), now, flapping, &ban_risk);
        let record = &self.agent.record;
        Derived {
            connect_preview: lifecycle::admit(record, Trigger::User, now, &settings),
            auth_cooldown_until: auth_cooldown_until(record, now, &settings),
            attempt_cooldown_until: attempt_cooldown_until(record, now, &settings),
            unlinking: self.shared.unlinks.is_pending(record.id),
            flapping,
            ban_risk: ban_risk.at_risk().then_some(ban_risk),
        }
    }

    /// Whether `view` still shows the agent as it is: then there is nothing
    /// to publish. Compared in place, so a publication that changes nothing
    /// (the loop offers one before every wait) copies nothing.
    fn still_shown(&self, view: &AgentView, now: &Derived) -> bool {
        // Every field by name, so a field added to the view cannot be forgotten here.
        let AgentView {
            record,
            qr,
            pair_code,
            connect_preview,
            auth_cooldown_until,
            attempt_cooldown_until,
            unlinking,
            flapping,
            ban_risk,
            queued,
            passkey,
            version: _,
        } = view;
        let attempt = self.agent.attempt.as_ref();
        *record == self.agent.record
            && qr.as_deref() == attempt.and_then(|a| a.qr.as_deref())
            && pair_code.as_deref() == attempt.and_then(|a| a.pair_code.as_deref())
            && *connect_preview == now.connect_preview
            && *auth_cooldown_until == now.auth_cooldown_until
            && *attempt_cooldown_until == now.attempt_cooldown_until
            && *unlinking == now.unlinking
            && *flapping == now.flapping
            && *ban_risk == now.ban_risk
            && *queued == self.queued_connect.is_some()
            && passkey.as_ref() == attempt.and_then(|a| a.passkey.as_ref())
    }

    /// Publishes the view if anything in it changed since the last one.
    /// Nothing in a view counts down by itself (decisions carry their end,
    /// not words with a time), so only a change is worth publishing.
    fn publish(&mut self) {
        let derived = self.derived();
        if self.published.as_ref().is_some_and(|last| self.still_shown(last, &derived)) {
            return;
        }
        let attempt = self.agent.attempt.as_ref();
        // One view, shared by the board, every subscriber and the next comparison.
        let view = Arc::new(AgentView {
            record: self.agent.record.clone(),
            qr: attempt.and_then(|a| a.qr.clone()),
            pair_code: attempt.and_then(|a| a.pair_code.clone()),
            connect_preview: derived.connect_preview,
            auth_cooldown_until: derived.auth_cooldown_until,
            attempt_cooldown_until: derived.attempt_cooldown_until,
            unlinking: derived.unlinking,
            flapping: derived.flapping,
            ban_risk: derived.ban_risk,
            queued: self.queued_connect.is_some(),
            passkey: attempt.and_then(|a| a.passkey.clone()),
            version: self.published.as_ref().map_or(0, |last| last.version + 1),
        });
        self.shared.board().insert(view.record.id, view.clone());
        let _ = self.shared.events.send(EngineEvent::Agent(view.clone()));
        self.published = Some(view);
    }

    /// The next moment something is due, and why: saving again, a start
    /// slot, a retry, a held start's turn, an expiry, or the end of a block
    /// on Connect.
    ///
    /// While inputs wait to be saved, saving again is the only thing due:
    /// the agent is as last saved, so its deadlines are stale (a passed QR
    /// expiry or retry time would wake the task at once, fail to save again
    /// and queue one more input each turn). Once the queue is saved, the
    /// deadlines of the new state count, and a passed one fires at once.
    fn next_wake(&self) -> Option<(Instant, Wake)> {
        if let Some((at, _)) = self.unsaved_retry {
            return Some((at, Wake::SaveAgain));
        }
        self.next_deadline()
    }

    fn next_deadline(&self) -> Option<(Instant, Wake)> {
        if let Some(slot) = self.start_slot {
            return Some((slot, Wake::StartSlot));
        }
        let now = self.shared.now();
        let settings = *self.shared.settings.borrow();
        let r = &self.agent.record;
        let live_deadline = self.agent.attempt.as_ref().filter(|a| a.live).and_then(|a| a.connect_deadline);
        let due = [
            (r.next_retry_at.filter(|_| r.status == Status::Reconnecting), Wake::RetryDue),
            (r.qr_expires_at.filter(|_| r.status == Status::QrPending), Wake::QrExpires),
            (live_deadline, Wake::ConnectTimeout),
            // Block ends only matter while still ahead; a passed one needs no wake.
            (auth_cooldown_until(r, now, &settings), Wake::BlockEnds),
            (attempt_cooldown_until(r, now, &settings), Wake::BlockEnds),
            (ban_until(r, now), Wake::BlockEnds),
            (self.marks_change_at, Wake::MarksChange),
        ];
        let deadline = due
            .into_iter()
            .filter_map(|(at, why): (Option<Timestamp>, Wake)| at.map(|at| (Instant::now() + now.until(at), why)))
            .min_by_key(|(at, _)| *at);
        // A held start waits for its turn unless a deadline comes first: an
        // R-6 timeout then ends the attempt before it ever starts.
        let held = self.held_start.map(|(at, _)| (at, Wake::HeldStart));
        let queued = self.queued_connect.map(|at| (at, Wake::QueuedConnect));
        [deadline, held, queued].into_iter().flatten().min_by_key(|(at, _)| *at)
    }
}

/// The part of a view that time alone changes ([`AgentTask::derived`]).
struct Derived {
    connect_preview: Decision,
    auth_cooldown_until: Option<Timestamp>,
    attempt_cooldown_until: Option<Timestamp>,
    unlinking: bool,
    flapping: bool,
    ban_risk: Option<lifecycle::BanRisk>,
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
