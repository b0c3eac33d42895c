//! Queries of the `unlinks` table: persisted unlink jobs (D-1).

use rusqlite::{Connection, Row};

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::connector::UnlinkJob;
use crate::lifecycle::AgentId;

/// One unlink job as saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlinkRow {
    /// The job and whose credentials it holds.
    pub job: UnlinkJob,
    /// The agent's name when the job began (the agent may be removed since).
    pub agent_name: String,
    /// When the job began.
    pub created_at: Timestamp,
    /// Failed tries so far.
    pub attempt: u32,
    /// When the next try is due.
    pub next_at: Timestamp,
    /// Why the last try failed.
    pub last_error: Option<String>,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<UnlinkRow> {
    Ok(UnlinkRow {
        job: UnlinkJob { id: row.get("id")?, agent: AgentId(row.get("agent_id")?) },
        agent_name: row.get("agent_name")?,
        created_at: Timestamp(row.get("created_at")?),
        attempt: row.get::<_, i64>("attempt")?.clamp(0, i64::from(u32::MAX)) as u32,
        next_at: Timestamp(row.get("next_at")?),
        last_error: row.get("last_error")?,
    })
}

/// Records a new job, inside the caller's transaction.
pub(super) fn insert(conn: &Connection, row: &UnlinkRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO unlinks (id, agent_id, agent_name, created_at, attempt, next_at, last_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            row.job.id,
            row.job.agent.0,
            row.agent_name,
            row.created_at.0,
            i64::from(row.attempt),
            row.next_at.0,
            row.last_error
        ],
    )?;
    Ok(())
}

impl Store {
    /// Every job not finished yet, oldest first.
    pub fn load_unlinks(&self) -> Result<Vec<UnlinkRow>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT * FROM unlinks ORDER BY id")?;
        let rows = stmt.query_map([], from_row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The number the next job gets: one above every number ever given.
    pub(crate) fn next_unlink_id(&self) -> Result<i64, StoreError> {
        use rusqlite::OptionalExtension;
        // AUTOINCREMENT keeps the highest number ever given here, even after its job is gone.
        let last: Option<i64> = self
            .conn
            .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'unlinks'", [], |row| row.get(0))
            .optional()?;
        Ok(last.unwrap_or(0) + 1)
    }

    /// Saves a failed try: its count, why, and when the next is due.
    pub(crate) fn reschedule_unlink(&mut self, row: &UnlinkRow) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        tx.execute(
            "UPDATE unlinks SET attempt = ?2, next_at = ?3, last_error = ?4 WHERE id = ?1",
            rusqlite::params![row.job.id, i64::from(row.attempt), row.next_at.0, row.last_error],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a finished job, with the agent's history entry when it still exists.
    pub(crate) fn finish_unlink(
        &mut self,
        job: UnlinkJob,
        entry: Option<&crate::lifecycle::HistoryEntry>,
    ) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        tx.execute("DELETE FROM unlinks WHERE id = ?1", [job.id])?;
        if let Some(entry) = entry {
            super::history::append(&mut super::history::prepare_append(&tx)?, job.agent, entry)?;
        }
        tx.commit()?;
        Ok(())
    }
}
