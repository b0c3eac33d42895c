//! The fleet's WhatsApp Web version, cached in the app database (F-7).
//!
//! The connector fetches it at most once a day for every agent and keeps the
//! last one here, so a failed fetch (or a start without a network) still
//! has a version to announce. It reads and writes through its own short
//! connection: a write a day does not need the engine's writer, and the
//! connector does not hold the engine.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::Timestamp;

/// A WhatsApp Web version and when it was fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedVersion {
    /// (major, minor, build), as WhatsApp Web's `client_revision` gives it.
    pub version: (u32, u32, u32),
    /// When it was fetched, on the wall clock.
    pub fetched_at: Timestamp,
}

/// Why the cached version could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum VersionCacheError {
    /// The database could not be opened, read or written.
    #[error("cannot use the database {path} for the WhatsApp version: {source}")]
    Database {
        /// The app database's file.
        path: std::path::PathBuf,
        /// SQLite's words.
        source: rusqlite::Error,
    },
    /// A row no build of Switchboard writes (edited by hand): ignored, and replaced at the next fetch.
    #[error("the cached WhatsApp version {0} is not a version")]
    BadRow(String),
}

fn open(path: &Path) -> Result<Connection, VersionCacheError> {
    let wrap = |source| VersionCacheError::Database { path: path.to_owned(), source };
    // Never create it: the engine creates and migrates the database first.
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(wrap)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(wrap)?;
    Ok(conn)
}

/// The cached version, if one was ever fetched.
pub fn load(path: &Path) -> Result<Option<CachedVersion>, VersionCacheError> {
    let wrap = |source| VersionCacheError::Database { path: path.to_owned(), source };
    let conn = open(path)?;
    let row: Option<(i64, i64, i64, i64)> = conn
        .query_row("SELECT major, minor, build, fetched_at FROM client_version WHERE id = 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()
        .map_err(wrap)?;
    let Some((major, minor, build, fetched_at)) = row else { return Ok(None) };
    let part = |n: i64| u32::try_from(n).map_err(|_| VersionCacheError::BadRow(format!("{major}.{minor}.{build}")));
    Ok(Some(CachedVersion { version: (part(major)?, part(minor)?, part(build)?), fetched_at: Timestamp(fetched_at) }))
}

/// Keeps `cached` as the fleet's version, replacing the one before.
pub fn save(path: &Path, cached: CachedVersion) -> Result<(), VersionCacheError> {
    let wrap = |source| VersionCacheError::Database { path: path.to_owned(), source };
    let (major, minor, build) = cached.version;
    open(path)?
        .execute(
            "INSERT INTO client_version (id, major, minor, build, fetched_at) VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET major = ?1, minor = ?2, build = ?3, fetched_at = ?4",
            params![major, minor, build, cached.fetched_at.0],
        )
        .map_err(wrap)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// F-7: the version is kept with its date, one row, the newest winning;
    /// a database that was never given one has none. A row out of range
    /// cannot be written (the table's checks).
    #[test]
    fn f7_the_fleets_version_is_kept_with_its_date() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.db");
        drop(crate::store::Store::open(&path).unwrap());
        assert_eq!(load(&path).unwrap(), None);
        let first = CachedVersion { version: (2, 3000, 1_000), fetched_at: Timestamp(10) };
        save(&path, first).unwrap();
        assert_eq!(load(&path).unwrap(), Some(first));
        let second = CachedVersion { version: (2, 3000, u32::MAX), fetched_at: Timestamp(20) };
        save(&path, second).unwrap();
        assert_eq!(load(&path).unwrap(), Some(second));
        let conn = Connection::open(&path).unwrap();
        assert_eq!(conn.query_row("SELECT count(*) FROM client_version", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
        assert!(conn.execute("UPDATE client_version SET build = -1", []).is_err());
        assert!(conn.execute("UPDATE client_version SET major = 4294967296", []).is_err());
        assert!(load(&dir.path().join("missing.db")).is_err(), "never creates a database");
        assert!(!dir.path().join("missing.db").exists());
    }
}
