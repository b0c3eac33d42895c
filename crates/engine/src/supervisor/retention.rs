//! H-5: history older than `history_days` is pruned, in small batches, off
//! the agents' path.
//!
//! One task wakes a minute after start-up and then every hour, and deletes
//! the oldest entries in batches of [`BATCH`], each its own short
//! transaction through the writer's queue: agents' commits wait behind one
//! batch at most, never behind the whole pruning.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Shared;
use crate::clock::Timestamp;
use crate::lifecycle::Rule;

/// Entries deleted per transaction.
const BATCH: u32 = 500;
/// The first pass comes after start-up's own work has settled.
const FIRST_PASS: Duration = Duration::from_secs(60);
/// Then one pass an hour: a day's history is small beside `history_days`.
const EVERY: Duration = Duration::from_secs(60 * 60);

pub(super) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let mut wait = FIRST_PASS;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        wait = EVERY;
        let days = shared.settings.borrow().history_days;
        let kept_ms = i64::from(days) * 24 * 60 * 60 * 1_000;
        let before = Timestamp(shared.now().as_millis().saturating_sub(kept_ms));
        let Some(history) =
            prune_in_batches(&shared, &stop, Rule::H5, "history", move |store| store.prune_history(before, BATCH))
                .await
        else {
            return;
        };
        // The audit log (B-3) is kept as long as the history it explains.
        let Some(audit) =
            prune_in_batches(&shared, &stop, Rule::B3, "audit log", move |store| store.prune_audit(before, BATCH))
                .await
        else {
            return;
        };
        let mut pruned = history + audit;
        match shared.writer.call(move |store| store.prune_outages(before)).await {
            Ok(n) => pruned += n,
            Err(err) => tracing::warn!(rule = %Rule::H5, "could not prune old outages, trying again in an hour: {err}"),
        }
        if pruned > 0 {
            tracing::info!(rule = %Rule::H5, pruned, days, "pruned history older than the retention");
        }
    }
}

/// Runs `prune` until a batch comes back short; returns how many went, or
/// `None` when the engine stops meanwhile. A failure is logged and ends this
/// pass: the next pass, an hour later, tries again.
async fn prune_in_batches(
    shared: &Shared,
    stop: &CancellationToken,
    rule: Rule,
    what: &str,
    prune: impl Fn(&mut crate::store::Store) -> Result<usize, crate::store::StoreError> + Clone + Send + 'static,
) -> Option<usize> {
    let mut pruned = 0;
    loop {
        match shared.writer.call(prune.clone()).await {
            Ok(n) => {
                pruned += n;
                if n < BATCH as usize {
                    return Some(pruned);
                }
            }
            Err(err) => {
                tracing::warn!(rule = %rule, "could not prune the {what}, trying again in an hour: {err}");
                return Some(pruned);
            }
        }
        if stop.is_cancelled() {
            return None;
        }
        // Let the agents' commits in between batches.
        tokio::task::yield_now().await;
    }
}
