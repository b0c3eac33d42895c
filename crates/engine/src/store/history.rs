//! The `history` table: each agent's timeline (O-2).

use std::collections::HashMap;

use rusqlite::{CachedStatement, Connection, OptionalExtension, Row, params};

use super::{Pruned, Store, StoreError};
use crate::clock::Timestamp;
use crate::lifecycle::{AgentId, CloseCode, HealthHistory, HistoryEntry, Rule, Status, Trigger};

/// One agent's entries, newest first: a walk backwards along the index
/// `history_by_agent (agent_id, id)`, which ids in time order make a walk
/// back in time. Its caller stops reading where it has enough.
pub(super) const NEWEST_FIRST: &str = "SELECT at, from_status, to_status, code, reason, \"trigger\", rule FROM history \
     WHERE agent_id = ?1 ORDER BY id DESC";

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<HistoryEntry> {
    let status = |text: String| Status::parse(&text).unwrap_or(Status::Unreadable);
    let code: Option<i64> = row.get(3)?;
    Ok(HistoryEntry {
        at: Timestamp(row.get(0)?),
        from: status(row.get(1)?),
        to: status(row.get(2)?),
        code: code.and_then(|c| u16::try_from(c).ok()).map(CloseCode),
        reason: row.get(4)?,
        trigger: Trigger::parse(&row.get::<_, String>(5)?).unwrap_or(Trigger::Auto),
        rule: Rule::parse(&row.get::<_, String>(6)?),
    })
}

/// The statement [`append`] runs.
pub(super) fn prepare_append(conn: &Connection) -> rusqlite::Result<CachedStatement<'_>> {
    conn.prepare_cached(
        "INSERT INTO history (agent_id, at, from_status, to_status, code, reason, \"trigger\", rule) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
}

/// Appends one entry to an agent's timeline, with the statement of [`prepare_append`].
pub(super) fn append(append: &mut CachedStatement<'_>, agent: AgentId, e: &HistoryEntry) -> Result<(), StoreError> {
    append.execute(params![
        agent.0,
        e.at.0,
        e.from.as_str(),
        e.to.as_str(),
        e.code.map(|c| c.0),
        e.reason,
        e.trigger.as_str(),
        e.rule.map_or("?", Rule::id)
    ])?;
    Ok(())
}

impl Store {
    /// The newest `limit` entries of an agent, newest first.
    pub fn history(&self, agent: AgentId, limit: u32) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!("{NEWEST_FIRST} LIMIT ?2"))?;
        let rows = stmt.query_map(params![agent.0, limit], entry_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every agent's entries from `since` on, oldest first: what the agents'
    /// marks start from (H-2, H-3). One walk back along the table's own
    /// order (ids in time order) that stops shortly before `since`, instead
    /// of one read per agent: a restart of 1,000 agents reads once.
    pub fn recent_histories(&self, since: Timestamp) -> Result<HashMap<AgentId, Vec<HistoryEntry>>, StoreError> {
        // Entries are written in the order of their steps; a step may wait a
        // little for the writer, so an entry's time can be a little earlier
        // than the one written before it. Reading a minute further covers that.
        let stop_before = since.minus(std::time::Duration::from_secs(60));
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, from_status, to_status, code, reason, \"trigger\", rule, agent_id FROM history ORDER BY id DESC",
        )?;
        let mut rows = stmt.query([])?;
        let mut recent: HashMap<AgentId, Vec<HistoryEntry>> = HashMap::new();
        while let Some(row) = rows.next()? {
            let entry = entry_from_row(row)?;
            if entry.at < stop_before {
                break;
            }
            if entry.at >= since {
                recent.entry(AgentId(row.get(7)?)).or_default().push(entry);
            }
        }
        for entries in recent.values_mut() {
            entries.reverse();
        }
        Ok(recent)
    }

    /// What an agent's health is computed from (H-1, H-2, H-3): its entries
    /// from `since` on, oldest first, the newest one before `since`, and the
    /// agent's row; `None` when there is no such agent. One read
    /// transaction, so the row and the entries agree.
    pub fn health_history(&mut self, agent: AgentId, since: Timestamp) -> Result<Option<HealthHistory>, StoreError> {
        let tx = self.conn.transaction()?;
        let row = tx
            .query_row("SELECT status, created_at FROM agents WHERE id = ?1", [agent.0], |row| {
                Ok((row.get::<_, String>(0)?, Timestamp(row.get(1)?)))
            })
            .optional()?;
        let Some((status, created_at)) = row else { return Ok(None) };
        let mut entries = Vec::new();
        let mut before = None;
        {
            let mut stmt = tx.prepare_cached(NEWEST_FIRST)?;
            let mut rows = stmt.query([agent.0])?;
            // Back in time until the first entry before the window, which
            // tells the status the window starts in.
            while let Some(row) = rows.next()? {
                let entry = entry_from_row(row)?;
                if entry.at < since {
                    before = Some(entry);
                    break;
                }
                entries.push(entry);
            }
        }
        tx.commit()?;
        entries.reverse();
        let status = Status::parse(&status).unwrap_or(Status::Unreadable);
        Ok(Some(HealthHistory { created_at, status, before, entries }))
    }

    /// Deletes at most `batch` of the oldest entries written before `before`
    /// (H-5); returns how many went. Small batches keep each transaction
    /// short, so agents' commits queue behind none for long.
    pub(crate) fn prune_history(&mut self, before: Timestamp, batch: u32) -> Result<usize, StoreError> {
        self.prune_oldest(Pruned::History, before, batch)
    }
}
