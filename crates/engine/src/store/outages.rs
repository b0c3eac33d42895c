//! The `outages` table: the fleet's outage state and its history (F-1…F-3).

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError};
use crate::clock::Timestamp;

/// One outage as saved. The open one (no end) is the fleet's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutageRow {
    /// The row's key.
    pub id: i64,
    /// When it began.
    pub started_at: Timestamp,
    /// Why it began, in plain words.
    pub cause: String,
    /// Probes that failed so far.
    pub probes: u32,
    /// When and how it ended; `None` while it lasts.
    pub ended: Option<(Timestamp, String)>,
    /// Staff paused automatic reconnects (F-2): it lasts until they resume.
    pub paused: bool,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<OutageRow> {
    let ended_at: Option<i64> = row.get("ended_at")?;
    let ended_by: Option<String> = row.get("ended_by")?;
    Ok(OutageRow {
        id: row.get("id")?,
        started_at: Timestamp(row.get("started_at")?),
        cause: row.get("cause")?,
        probes: row.get::<_, i64>("probes")?.clamp(0, i64::from(u32::MAX)) as u32,
        ended: ended_at.zip(ended_by).map(|(at, by)| (Timestamp(at), by)),
        paused: row.get("paused")?,
    })
}

impl Store {
    /// The outage that has not ended, if any: the fleet's state at start-up.
    pub fn load_open_outage(&self) -> Result<Option<OutageRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT * FROM outages WHERE ended_at IS NULL")?;
        Ok(stmt.query_row([], from_row).optional()?)
    }

    /// Outages that began at or after `since`, oldest first (H-4).
    pub fn outages_since(&self, since: Timestamp) -> Result<Vec<OutageRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT * FROM outages WHERE started_at >= ?1 ORDER BY id")?;
        let rows = stmt.query_map([since.0], from_row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Saves the start of an outage; returns its id.
    pub(crate) fn begin_outage(&mut self, started_at: Timestamp, cause: &str, paused: bool) -> Result<i64, StoreError> {
        let tx = self.write_transaction()?;
        tx.execute(
            "INSERT INTO outages (started_at, cause, paused) VALUES (?1, ?2, ?3)",
            params![started_at.0, cause, paused],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    /// Saves how many probes of the open outage failed so far, and whether staff paused it.
    pub(crate) fn update_outage(&mut self, id: i64, probes: u32, paused: bool) -> Result<(), StoreError> {
        self.conn.execute("UPDATE outages SET probes = ?2, paused = ?3 WHERE id = ?1", params![id, probes, paused])?;
        Ok(())
    }

    /// Saves the end of an outage.
    pub(crate) fn end_outage(&mut self, id: i64, at: Timestamp, by: &str) -> Result<(), StoreError> {
        self.conn.execute("UPDATE outages SET ended_at = ?2, ended_by = ?3 WHERE id = ?1", params![id, at.0, by])?;
        Ok(())
    }

    /// Deletes ended outages that began before `before` (H-5).
    pub(crate) fn prune_outages(&mut self, before: Timestamp) -> Result<usize, StoreError> {
        Ok(self.conn.execute("DELETE FROM outages WHERE ended_at IS NOT NULL AND started_at < ?1", [before.0])?)
    }
}
