//! The SQLite store: one file, WAL, `synchronous=FULL`, foreign keys on.
//!
//! The schema lives only in the numbered files under `migrations/`, applied
//! by `rusqlite_migration`. One module per table holds its queries. The store
//! is synchronous; the supervisor reaches it through [`writer`], one thread
//! that groups concurrent commits into one transaction.

mod agents;
mod audit;
pub use agents::agent_name_key;
pub mod client_version;
mod history;
mod outages;
pub use outages::OutageRow;
mod settings;
mod unlinks;
pub use unlinks::UnlinkRow;
pub(crate) mod writer;

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};
use thiserror::Error;

use crate::clock::Timestamp;
use crate::lifecycle::{AgentRecord, HistoryEntry};

/// Every migration, in order. Adding one: a new numbered file and a line here.
const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../../../migrations/0001_initial.sql")),
    M::up(include_str!("../../../../migrations/0002_clean_disconnect.sql")),
    M::up(include_str!("../../../../migrations/0003_unlinks.sql")),
    M::up(include_str!("../../../../migrations/0004_outages.sql")),
    M::up(include_str!("../../../../migrations/0005_pause.sql")),
    M::up(include_str!("../../../../migrations/0006_audit.sql")),
    M::up(include_str!("../../../../migrations/0007_client_version.sql")),
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Why the database could not be opened, read or written.
#[derive(Debug, Error)]
pub enum StoreError {
    /// At open: a newer Switchboard wrote the file; it is left untouched.
    #[error(
        "the database {path} was written by a newer Switchboard (schema {found}, this version knows {supported}); update Switchboard — the file was not changed"
    )]
    SchemaTooNew {
        /// The database file, named in the message.
        path: PathBuf,
        /// The schema version the file holds.
        found: i64,
        /// The newest schema this build understands ([`SCHEMA_VERSION`]).
        supported: usize,
    },
    /// At open: SQLite could not open the file or set it up.
    #[error("could not open the database {path}: {source}")]
    Open {
        /// The database file, named in the message.
        path: PathBuf,
        /// SQLite's own error.
        source: rusqlite::Error,
    },
    /// At open: the file or its disk is read-only, so no change could be saved.
    #[error(
        "the database {path} cannot be written to (a read-only file or disk?); Switchboard must save every change, so it did not start — the file was not changed"
    )]
    ReadOnly {
        /// The database file, named in the message.
        path: PathBuf,
    },
    /// At open: a migration to the current schema failed.
    #[error("could not upgrade the database schema: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A query or commit failed: disk full, database locked, and the like.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A write named an agent whose row does not exist (removed meanwhile).
    #[error("no agent with id {0}")]
    NoSuchAgent(i64),
    /// An insert or rename would give two agents the same name, ignoring case.
    #[error("an agent named “{0}” already exists")]
    DuplicateName(String),
    /// The writer task has stopped (shutdown, or it panicked), so nothing more is saved.
    #[error("the database writer has stopped")]
    WriterGone,
}

/// The tables pruned by age (H-5): rows with an `at` and ids that grow with time.
#[derive(Debug, Clone, Copy)]
enum Pruned {
    History,
    Audit,
}

/// One status change: the agent's new row (if it changed), its history
/// entries and the unlink job it began (D-1), committed together (P-1).
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) agent: crate::lifecycle::AgentId,
    pub(crate) record: Option<AgentRecord>,
    pub(crate) history: Vec<HistoryEntry>,
    pub(crate) unlink: Option<UnlinkRow>,
}

/// An open, migrated database; one per app, owned by the writer while the engine runs.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    ///
    /// A database whose schema is newer than this build is refused before
    /// anything is written to it, not even a journal-mode change; so is one
    /// that cannot be written to ([`StoreError::ReadOnly`]). Every error
    /// names the file.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let opening = |source| StoreError::Open { path: path.to_owned(), source };
        // On a read-only disk SQLite only says "unable to open database file".
        // Opening the file for writing (it changes nothing) tells why.
        if let Err(err) = std::fs::OpenOptions::new().write(true).open(path)
            && matches!(err.kind(), std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied)
        {
            return Err(StoreError::ReadOnly { path: path.to_owned() });
        }
        let mut conn = Connection::open(path).map_err(opening)?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(opening)?;
        if found > SCHEMA_VERSION as i64 {
            return Err(StoreError::SchemaTooNew { path: path.to_owned(), found, supported: SCHEMA_VERSION });
        }
        // SQLite falls back to reading when it may not write (a read-only
        // file or disk); the engine must write, so say so now, not at the first change.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(opening)? {
            return Err(StoreError::ReadOnly { path: path.to_owned() });
        }
        // WAL lets readers run beside the writer; FULL makes every COMMIT durable
        // across a power cut, which P-2 and P-5 rely on.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(opening)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(opening)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(opening)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(opening)?;
        Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
        Ok(Store { conn })
    }

    /// Writes a group of changes in one transaction. Either all land or none.
    pub(crate) fn commit(&mut self, changes: &[&Change]) -> Result<(), StoreError> {
        let tx = self.write_transaction()?;
        {
            // Looked up once per group, not per change: the statement cache
            // hashes a statement's whole text at every look-up.
            let (mut update, mut append) = (agents::prepare_update(&tx)?, history::prepare_append(&tx)?);
            for change in changes {
                if let Some(record) = &change.record {
                    agents::update(&mut update, record)?;
                }
                for entry in &change.history {
                    history::append(&mut append, change.agent, entry)?;
                }
                if let Some(unlink) = &change.unlink {
                    unlinks::insert(&tx, unlink)?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every write goes through here. IMMEDIATE takes the write lock at the
    /// start: when another program holds it, SQLite then waits up to the
    /// busy timeout. A deferred transaction that reads first and writes later
    /// gets "database is locked" at once instead (tried here).
    fn write_transaction(&mut self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
    }

    /// Deletes at most `batch` of the oldest rows of `table` written before
    /// `before` (H-5), in one short transaction; returns how many went.
    fn prune_oldest(&mut self, table: Pruned, before: Timestamp, batch: u32) -> Result<usize, StoreError> {
        let table = match table {
            Pruned::History => "history",
            Pruned::Audit => "audit",
        };
        let tx = self.write_transaction()?;
        // Ids grow with time, so the oldest rows are found at the start of the
        // primary key without an index on `at`.
        let deleted = tx.execute(
            &format!("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE at < ?1 ORDER BY id LIMIT ?2)"),
            rusqlite::params![before.0, batch],
        )?;
        tx.commit()?;
        Ok(deleted)
    }

    /// The raw SQLite connection, for tests and benchmarks that inspect or tamper with rows.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

#[cfg(test)]
mod tests;
