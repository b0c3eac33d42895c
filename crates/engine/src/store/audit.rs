//! The `audit` and `audit_agents` tables: the operator actions of B-3.

use rusqlite::params;

use super::{Pruned, Store, StoreError};
use crate::audit::{AuditAction, AuditAgent, AuditEntry, AuditFilter};
use crate::clock::Timestamp;
use crate::lifecycle::AgentId;

impl Store {
    /// Appends one entry with the agents it touched, in one transaction; returns its id.
    pub(crate) fn append_audit(&mut self, entry: &AuditEntry) -> Result<i64, StoreError> {
        let tx = self.write_transaction()?;
        tx.execute(
            "INSERT INTO audit (at, os_user, action, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                entry.at.0,
                entry.os_user,
                entry.action.map_or("?", AuditAction::as_str),
                entry.outcome,
                entry.detail
            ],
        )?;
        let id = tx.last_insert_rowid();
        {
            // OR IGNORE: an agent named twice in one selection is one row.
            let mut agent = tx.prepare_cached(
                "INSERT OR IGNORE INTO audit_agents (entry, agent, name, outcome) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for touched in &entry.agents {
                agent.execute(params![id, touched.id.0, touched.name, touched.outcome])?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    /// The entries that match `filter`, newest first, each with its agents.
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        // One query whatever the filter: an absent condition is NULL and holds.
        let mut entries = self.conn.prepare_cached(
            "SELECT id, at, os_user, action, outcome, detail FROM audit \
             WHERE (?1 IS NULL OR id IN (SELECT entry FROM audit_agents WHERE agent = ?1)) \
               AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR at < ?4) \
             ORDER BY id DESC LIMIT ?5",
        )?;
        let mut found: Vec<AuditEntry> = entries
            .query_map(
                params![
                    filter.agent.map(|a| a.0),
                    filter.action.map(AuditAction::as_str),
                    filter.since.map(|t| t.0),
                    filter.until.map(|t| t.0),
                    filter.limit
                ],
                |row| {
                    Ok(AuditEntry {
                        id: row.get(0)?,
                        at: Timestamp(row.get(1)?),
                        os_user: row.get(2)?,
                        action: AuditAction::parse(&row.get::<_, String>(3)?),
                        agents: Vec::new(),
                        outcome: row.get(4)?,
                        detail: row.get(5)?,
                    })
                },
            )?
            .collect::<Result<_, _>>()?;
        let mut agents = self
            .conn
            .prepare_cached("SELECT agent, name, outcome FROM audit_agents WHERE entry = ?1 ORDER BY rowid")?;
        for entry in &mut found {
            entry.agents = agents
                .query_map([entry.id], |row| {
                    Ok(AuditAgent { id: AgentId(row.get(0)?), name: row.get(1)?, outcome: row.get(2)? })
                })?
                .collect::<Result<_, _>>()?;
        }
        Ok(found)
    }

    /// Deletes at most `batch` of the oldest entries written before `before`
    /// (H-5, B-3), with their agents; returns how many went.
    pub(crate) fn prune_audit(&mut self, before: Timestamp, batch: u32) -> Result<usize, StoreError> {
        self.prune_oldest(Pruned::Audit, before, batch)
    }
}
