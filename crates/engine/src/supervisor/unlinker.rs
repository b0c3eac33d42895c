//! Unlink jobs (D-1): getting a device off the phone when its agent was
//! disconnected or removed without a live link to log out on.
//!
//! The agent's step (or the removal) saves the job with the change itself;
//! then the credentials are set aside under the job's number, so the agent
//! has none (its next Connect pairs afresh) while the job still can reach
//! WhatsApp with them. One task runs every job: it connects with the
//! set-aside credentials, logs out and deletes them. While WhatsApp cannot
//! be reached it tries again on the R-1 backoff, for as long as it takes;
//! jobs survive restarts in the `unlinks` table. Each try takes a start slot
//! like any automatic connection.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::agent_task::Command;
use super::{Inner, Shared};
use crate::clock::Timestamp;
use crate::connector::UnlinkJob;
use crate::lifecycle::{AgentId, AgentRecord, HistoryEntry, Rule, Trigger, backoff};
use crate::store::UnlinkRow;

/// How long one try may take: connecting, logging out, closing.
const TRY_LIMIT: Duration = Duration::from_secs(60);

/// What the agent tasks share about unlink jobs.
pub(super) struct Unlinks {
    next_id: AtomicI64,
    /// Jobs not finished, per agent, for the row's "unlinking from the phone…".
    pending: Mutex<HashMap<AgentId, u32>>,
    queue: mpsc::UnboundedSender<UnlinkRow>,
}

impl Unlinks {
    /// `next_id` is one above every job number ever given.
    pub(super) fn new(next_id: i64, queue: mpsc::UnboundedSender<UnlinkRow>) -> Self {
        Unlinks { next_id: AtomicI64::new(next_id), pending: Mutex::new(HashMap::new()), queue }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<AgentId, u32>> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new job for the agent's credentials, due at once; save it with the agent's change.
    pub(super) fn new_job(&self, record: &AgentRecord, now: Timestamp) -> UnlinkRow {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        UnlinkRow {
            job: UnlinkJob { id, agent: record.id },
            agent_name: record.name.clone(),
            created_at: now,
            attempt: 0,
            next_at: now,
            last_error: None,
        }
    }

    /// Once the job is saved: sets the credentials aside and hands the job
    /// to the unlinker. Also used at start-up for a saved job whose
    /// credentials may not have been set aside before a crash.
    pub(super) fn begin(&self, shared: &Shared, row: UnlinkRow) {
        let job = row.job;
        if let Err(err) = shared.connector.set_aside_credentials(job) {
            tracing::error!(agent = %job.agent, rule = %Rule::D1, "could not set the credentials aside to unlink: {err}");
        }
        self.resume(row);
    }

    /// Hands a saved job whose credentials are set aside already to the unlinker.
    pub(super) fn resume(&self, row: UnlinkRow) {
        *self.pending().entry(row.job.agent).or_default() += 1;
        let _ = self.queue.send(row);
    }

    /// Whether a job for the agent's old device is still under way.
    pub(super) fn is_pending(&self, agent: AgentId) -> bool {
        self.pending().get(&agent).is_some_and(|n| *n > 0)
    }

    fn finished(&self, agent: AgentId) {
        let mut pending = self.pending();
        if let Some(n) = pending.get_mut(&agent) {
            *n -= 1;
            if *n == 0 {
                pending.remove(&agent);
            }
        }
    }
}

/// Runs every job until the engine stops.
pub(super) async fn run(
    shared: Arc<Shared>,
    supervisor: Weak<Inner>,
    mut queue: mpsc::UnboundedReceiver<UnlinkRow>,
    stop: CancellationToken,
) {
    let mut waiting: BTreeMap<i64, UnlinkRow> = BTreeMap::new();
    let (done_tx, mut done) = mpsc::unbounded_channel::<(UnlinkRow, Result<(), String>)>();
    let mut rng = SmallRng::seed_from_u64(0x756e_6c69_6e6b);
    let mut time_gaps = shared.time_gaps.subscribe();
    loop {
        // Start every due job; the rest wait for the earliest of them.
        let now = shared.now();
        let due: Vec<i64> = waiting.values().filter(|row| row.next_at <= now).map(|row| row.job.id).collect();
        for id in due {
            let row = waiting.remove(&id).expect("listed");
            let slot = shared.slots.reserve(shared.settings.borrow().start_rate);
            let (connector, done_tx, stop) = (shared.connector.clone(), done_tx.clone(), stop.clone());
            let tasks = shared.tasks.clone();
            shared.tasks.spawn(async move {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep_until(slot) => {}
                }
                // A task of its own, so even a panic in the connector comes
                // back as a failed try and the job is kept.
                let attempt = tasks.spawn(async move {
                    tokio::select! {
                        () = stop.cancelled() => None,
                        answer = tokio::time::timeout(TRY_LIMIT, connector.unlink(row.job)) => Some(answer),
                    }
                });
                let result = match attempt.await {
                    Ok(None) => return, // The engine stops; the saved job runs at the next start.
                    Ok(Some(Ok(result))) => result,
                    Ok(Some(Err(_))) => Err("WhatsApp did not answer in time".to_owned()),
                    Err(err) => Err(format!("the try failed: {err}")),
                };
                let _ = done_tx.send((row, result));
            });
        }
        let next = waiting.values().map(|row| row.next_at).min();
        let wake = next.map(|at| Instant::now() + shared.now().until(at));
        tokio::select! {
            () = stop.cancelled() => return,
            Some(mut row) = queue.recv() => {
                // F-5: a job saved before the clock was set back waits no
                // longer than R-1's longest delay from now.
                let latest = shared.now().plus(backoff::longest_delay(&shared.settings.borrow()));
                row.next_at = row.next_at.min(latest);
                waiting.insert(row.job.id, row);
            }
            // A suspend (F-6): the wake above is stale; derive it again.
            Ok(()) = time_gaps.changed() => {}
            Some((row, result)) = done.recv() => {
                let agent = row.job.agent;
                match settle(&shared, row, result, &mut rng).await {
                    Some(again) => {
                        waiting.insert(again.job.id, again);
                    }
                    None => refresh(&supervisor, agent).await,
                }
            }
            () = sleep_until(wake) => {}
        }
    }
}

/// Records a try's outcome. Returns the job again when it must be retried.
async fn settle(
    shared: &Shared,
    mut row: UnlinkRow,
    result: Result<(), String>,
    rng: &mut SmallRng,
) -> Option<UnlinkRow> {
    let job = row.job;
    let now = shared.now();
    match result {
        Ok(()) => {
            tracing::info!(agent = %job.agent, rule = %Rule::D1, job = job.id, "the old device is unlinked from the phone");
            let entry = timeline_entry(shared, job.agent, now, "unlinked from the phone".into());
            if let Err(err) = shared.writer.call(move |store| store.finish_unlink(job, entry.as_ref())).await {
                // The credentials are gone, so a repeat finds nothing to do and finishes.
                tracing::warn!(agent = %job.agent, "could not record the finished unlink: {err}");
            }
            shared.unlinks.finished(job.agent);
            None
        }
        Err(why) => {
            row.attempt = row.attempt.saturating_add(1);
            let settings = *shared.settings.borrow();
            // R-1's delays, without R-2's end: the device must leave the phone.
            let delay = backoff::retry_delay(row.attempt.min(32), &settings, rng);
            row.next_at = now.plus(delay);
            row.last_error = Some(why.clone());
            tracing::warn!(agent = %job.agent, rule = %Rule::D1, job = job.id, attempt = row.attempt,
                "could not unlink the old device, trying again in {delay:?}: {why}");
            let saved = row.clone();
            if let Err(err) = shared.writer.call(move |store| store.reschedule_unlink(&saved)).await {
                tracing::warn!(agent = %job.agent, "could not record the unlink's next try: {err}");
            }
            Some(row)
        }
    }
}

/// A timeline entry for the agent, at its current status; `None` once it is removed.
fn timeline_entry(shared: &Shared, agent: AgentId, at: Timestamp, reason: String) -> Option<HistoryEntry> {
    let status = shared.board().get(&agent)?.record.status;
    Some(HistoryEntry {
        at,
        from: status,
        to: status,
        code: None,
        reason,
        trigger: Trigger::Connector,
        rule: Some(Rule::D1),
    })
}

/// Asks the agent's task to publish its view again ("unlinking" changed).
async fn refresh(supervisor: &Weak<Inner>, agent: AgentId) {
    let Some(inner) = supervisor.upgrade() else { return };
    let inbox = inner.registry.lock().await.get(&agent).map(|handle| handle.inbox.clone());
    if let Some(inbox) = inbox {
        let _ = inbox.send(Command::Refresh);
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
