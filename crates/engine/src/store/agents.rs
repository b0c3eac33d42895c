//! The `agents` table.

use rusqlite::{CachedStatement, Connection, OptionalExtension, Row, params};

use super::{Store, StoreError};
use crate::clock::Timestamp;
use crate::lifecycle::{AgentId, AgentRecord, CloseCode, Rule, Status};

const COLUMNS: &str = "id, name, phone, status, reason, last_code, has_credentials, disconnected_at, \
    last_auth_failure_at, last_attempt_at, next_retry_at, retry_attempt, qr_expires_at, banned_until, clean_disconnect, held_since";

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(Timestamp)
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<AgentRecord> {
    let id = AgentId(row.get(0)?);
    let status_text: String = row.get(3)?;
    let status = Status::parse(&status_text).unwrap_or_else(|| {
        // A row from another version: kept as it is, treated conservatively.
        tracing::warn!(agent = %id, status = %status_text, rule = %Rule::A4, "unknown stored status; treated as unreadable");
        Status::Unreadable
    });
    let code: Option<i64> = row.get(5)?;
    Ok(AgentRecord {
        id,
        name: row.get(1)?,
        phone: row.get(2)?,
        status,
        reason: row.get(4)?,
        last_code: code.and_then(|c| u16::try_from(c).ok()).map(CloseCode),
        has_credentials: row.get(6)?,
        disconnected_at: ts(row.get(7)?),
        last_auth_failure_at: ts(row.get(8)?),
        last_attempt_at: ts(row.get(9)?),
        next_retry_at: ts(row.get(10)?),
        retry_attempt: row.get::<_, i64>(11)?.clamp(0, i64::from(u32::MAX)) as u32,
        qr_expires_at: ts(row.get(12)?),
        banned_until: ts(row.get(13)?),
        clean_disconnect: row.get(14)?,
        held_since: ts(row.get(15)?),
    })
}

/// The case-insensitive key that makes names unique.
pub fn agent_name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The statement [`update`] runs.
pub(super) fn prepare_update(conn: &Connection) -> rusqlite::Result<CachedStatement<'_>> {
    conn.prepare_cached(
        "UPDATE agents SET phone = ?2, status = ?3, reason = ?4, last_code = ?5, has_credentials = ?6, \
         disconnected_at = ?7, last_auth_failure_at = ?8, last_attempt_at = ?9, next_retry_at = ?10, \
         retry_attempt = ?11, qr_expires_at = ?12, banned_until = ?13, clean_disconnect = ?14, \
         held_since = ?15 WHERE id = ?1",
    )
}

/// Writes every lifecycle field of an existing agent (not its name), with
/// the statement of [`prepare_update`].
pub(super) fn update(update: &mut CachedStatement<'_>, r: &AgentRecord) -> Result<(), StoreError> {
    let t = |v: Option<Timestamp>| v.map(|t| t.0);
    let changed = update.execute(params![
        r.id.0,
        r.phone,
        r.status.as_str(),
        r.reason,
        r.last_code.map(|c| c.0),
        r.has_credentials,
        t(r.disconnected_at),
        t(r.last_auth_failure_at),
        t(r.last_attempt_at),
        t(r.next_retry_at),
        r.retry_attempt,
        t(r.qr_expires_at),
        t(r.banned_until),
        r.clean_disconnect,
        t(r.held_since),
    ])?;
    if changed == 0 {
        return Err(StoreError::NoSuchAgent(r.id.0));
    }
    Ok(())
}

impl Store {
    /// Every agent, by id.
    pub fn load_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {COLUMNS} FROM agents ORDER BY id"))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One agent by id; `None` when there is no such row.
    pub(crate) fn load_agent(&self, id: AgentId) -> Result<Option<AgentRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM agents WHERE id = ?1");
        Ok(self.conn.query_row(&sql, [id.0], from_row).optional()?)
    }

    /// Inserts a new, cleanly disconnected agent. The name must be validated already.
    pub(crate) fn insert_agent(&mut self, name: &str, now: Timestamp) -> Result<AgentRecord, StoreError> {
        let tx = self.write_transaction()?;
        let taken: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM agents WHERE name_key = ?1)", [agent_name_key(name)], |r| {
                r.get(0)
            })?;
        if taken {
            return Err(StoreError::DuplicateName(name.to_owned()));
        }
        tx.execute(
            "INSERT INTO agents (name, name_key, status, created_at) VALUES (?1, ?2, 'disconnected', ?3)",
            params![name, agent_name_key(name), now.0],
        )?;
        let record = AgentRecord::new(AgentId(tx.last_insert_rowid()), name.to_owned(), now);
        update(&mut prepare_update(&tx)?, &record)?;
        tx.commit()?;
        Ok(record)
    }

    pub(crate) fn rename_agent(&mut self, id: AgentId, name: &str) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        let other: Option<i64> = tx
            .query_row("SELECT id FROM agents WHERE name_key = ?1", [agent_name_key(name)], |r| r.get(0))
            .optional()?;
        if other.is_some_and(|other| other != id.0) {
            return Err(StoreError::DuplicateName(name.to_owned()));
        }
        let n = tx.execute(
            "UPDATE agents SET name = ?2, name_key = ?3 WHERE id = ?1",
            params![id.0, name, agent_name_key(name)],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchAgent(id.0));
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes an agent and, by cascade, its history.
    /// Deletes the agent and its history; `unlink` is the job that unlinks
    /// its device later (D-1), saved in the same transaction.
    pub(crate) fn remove_agent(&mut self, id: AgentId, unlink: Option<&super::UnlinkRow>) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        if tx.execute("DELETE FROM agents WHERE id = ?1", [id.0])? == 0 {
            return Err(StoreError::NoSuchAgent(id.0));
        }
        if let Some(unlink) = unlink {
            super::unlinks::insert(&tx, unlink)?;
        }
        tx.commit()?;
        Ok(())
    }
}
