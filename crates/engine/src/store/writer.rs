//! The database writer: the only place the store is used while the engine runs.
//!
//! Agent tasks send their changes here and wait for the COMMIT before they
//! publish a view (P-1). When many agents change at once, the changes waiting
//! in the queue are written in one transaction (group commit): each caller
//! still learns only after its own change is durable, so P-1 holds, and one
//! fsync serves them all. A group that fails is retried change by change, so
//! one bad change never fails its neighbours.
//!
//! When commits fail (disk full, database locked or read-only), the writer
//! says so on a watch channel ([`Writer::fault`]) until a commit succeeds
//! again, so the app can show one clear error instead of one per agent.
//!
//! The writer is an async task that hands the queue to tokio's blocking pool
//! whenever work arrives; that blocking task writes group after group while
//! more keeps coming and returns only once the queue is empty. Besides keeping
//! SQLite off the async workers, the blocking pool matters for tests: while a
//! blocking task runs, a paused tokio clock does not auto-advance, so a
//! database write never lets simulated time jump. One hand-off per burst, not
//! per group, matters for speed: a finished blocking task only wakes the
//! async writer, which then waits behind every agent task the group's replies
//! just woke, and the database would sit idle meanwhile (BENCHMARKS.md,
//! figure 1: a third of the writer's time went there).

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::{Change, Store, StoreError};

/// How many queued changes one transaction takes at most.
const MAX_GROUP: usize = 1_024;

type Call = Box<dyn FnOnce(&mut Store) + Send>;

// Nearly every op is a commit, so boxing the large variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Op {
    Commit(Change, oneshot::Sender<Result<(), StoreError>>),
    Call(Call),
    Stop,
}

/// A cheap, cloneable way to reach the writer.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::UnboundedSender<Op>,
}

/// Owns the writer task; [`Writer::stop`] waits for it to finish.
pub struct Writer {
    handle: WriterHandle,
    fault: watch::Receiver<Option<String>>,
    task: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer on the current tokio runtime.
    pub fn start(store: Store) -> Writer {
        let (tx, rx) = mpsc::unbounded_channel();
        let (fault_tx, fault) = watch::channel(None);
        let task = tokio::spawn(run(store, rx, fault_tx));
        Writer { handle: WriterHandle { tx }, fault, task: Some(task) }
    }

    /// Why the last commit failed, or `None` once commits succeed (again).
    pub fn fault(&self) -> watch::Receiver<Option<String>> {
        self.fault.clone()
    }

    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// Finishes the queued work, then closes the database.
    pub async fn stop(mut self) {
        let _ = self.handle.tx.send(Op::Stop);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.handle.tx.send(Op::Stop);
    }
}

impl WriterHandle {
    /// Commits one agent's change; returns once it is durable.
    pub async fn commit(&self, change: Change) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Op::Commit(change, reply)).map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Queues `f` to run on the store, in queue order with the commits,
    /// without waiting for it: what it must do on failure, it does itself.
    pub fn queue(&self, f: impl FnOnce(&mut Store) + Send + 'static) -> Result<(), StoreError> {
        let call: Call = Box::new(f);
        self.tx.send(Op::Call(call)).map_err(|_| StoreError::WriterGone)
    }

    /// Runs `f` on the store, in queue order with the commits.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let call: Call = Box::new(move |store| {
            let _ = reply.send(f(store));
        });
        self.tx.send(Op::Call(call)).map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// Where the writer tells whether saving works: why the last commit failed,
/// or `None`.
type Fault = std::sync::Arc<watch::Sender<Option<String>>>;

async fn run(mut store: Store, mut rx: mpsc::UnboundedReceiver<Op>, fault: watch::Sender<Option<String>>) {
    let fault: Fault = std::sync::Arc::new(fault);
    while let Some(first) = rx.recv().await {
        let fault = fault.clone();
        let work = tokio::task::spawn_blocking(move || {
            let stop = drain(&mut store, &mut rx, first, &fault);
            (store, rx, stop)
        });
        let Ok((back, back_rx, stop)) = work.await else {
            tracing::error!("the database writer panicked; the engine can no longer save changes");
            return;
        };
        (store, rx) = (back, back_rx);
        if stop {
            return;
        }
    }
}

/// Writes what is queued, `first` first, group after group until the queue
/// is empty. Returns whether it was asked to stop.
fn drain(store: &mut Store, rx: &mut mpsc::UnboundedReceiver<Op>, first: Op, fault: &Fault) -> bool {
    let mut next = Some(first);
    while let Some(first) = next {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        if process(store, batch, fault) {
            return true;
        }
        next = rx.try_recv().ok();
    }
    false
}

/// Runs a batch in order; consecutive commits share one transaction.
/// Returns whether the batch asked the writer to stop.
fn process(store: &mut Store, batch: Vec<Op>, fault: &Fault) -> bool {
    let mut group = Vec::new();
    for op in batch {
        match op {
            Op::Commit(change, reply) => group.push((change, reply)),
            Op::Call(call) => {
                commit_group(store, &mut group, fault);
                call(store);
            }
            Op::Stop => {
                commit_group(store, &mut group, fault);
                return true;
            }
        }
    }
    commit_group(store, &mut group, fault);
    false
}

type Group = Vec<(Change, oneshot::Sender<Result<(), StoreError>>)>;

/// Commits the group, says whether saving works, then answers each caller:
/// in that order, so a caller told of a failure finds the fault announced.
fn commit_group(store: &mut Store, group: &mut Group, fault: &Fault) {
    if group.is_empty() {
        return;
    }
    let changes: Vec<&Change> = group.iter().map(|(c, _)| c).collect();
    let results: Vec<Result<(), StoreError>> = match store.commit(&changes) {
        Ok(()) => group.iter().map(|_| Ok(())).collect(),
        Err(err) if group.len() == 1 => vec![Err(err)],
        // One bad change must not fail its neighbours: each on its own.
        Err(_) => group.iter().map(|(change, _)| store.commit(&[change])).collect(),
    };
    let first_failure = results.iter().find_map(|result| result.as_ref().err().map(ToString::to_string));
    fault.send_if_modified(|now| {
        let changed = *now != first_failure;
        *now = first_failure;
        changed
    });
    for ((_, reply), result) in group.drain(..).zip(results) {
        let _ = reply.send(result);
    }
}
