//! Where each agent's WhatsApp credentials live (P-6).
//!
//! One SQLite store per agent, `<root>/agent-<id>/session.db`, in a directory
//! only the app's user may enter (0700). The store file is created 0600
//! before the library opens it; SQLite gives its `-wal` and `-shm` files the
//! mode of the database file, so they are 0600 too.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use switchboard_engine::lifecycle::AgentId;
use whatsapp_rust::store::SqliteStoreConfig;

use crate::protection::{SQLITE_HEADER, StoreKey, encrypt_if_plain};

const PRIVATE_DIR: u32 = 0o700;
const PRIVATE_FILE: u32 = 0o600;

/// The credentials stores of all agents under one root directory.
#[derive(Debug, Clone)]
pub struct StoreFiles {
    root: PathBuf,
    /// The installation's key (P-7); `None`: plain stores.
    key: Option<StoreKey>,
}

impl StoreFiles {
    /// Plain stores (the unencrypted mode, tests and benchmarks).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StoreFiles { root: root.into(), key: None }
    }

    /// Stores encrypted with `key` (P-7), or plain with `None`.
    pub fn with_key(root: impl Into<PathBuf>, key: Option<StoreKey>) -> Self {
        StoreFiles { root: root.into(), key }
    }

    /// The key the stores are encrypted with, if any.
    pub fn key(&self) -> Option<&StoreKey> {
        self.key.as_ref()
    }

    /// The library's settings for a store: with a key, every connection is
    /// keyed first and the key is proven before the store reads anything.
    pub fn store_config(&self, cache_size_kib: u32) -> SqliteStoreConfig {
        let config = SqliteStoreConfig { cache_size_kib, ..SqliteStoreConfig::default() };
        let Some(key) = &self.key else { return config };
        let keying = format!("PRAGMA key = \"{}\";", key.pragma_value());
        config.with_connection_init(move |conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query(&keying).execute(conn)?;
            diesel::sql_query("SELECT count(*) FROM sqlite_master;").execute(conn)?;
            Ok(())
        })
    }

    /// Every store's database file: the agents' and the unlink jobs'.
    pub fn all_databases(&self) -> io::Result<Vec<PathBuf>> {
        let entries = match fs::read_dir(&self.root) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            entries => entries?,
        };
        let mut databases = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type()?.is_dir() && (name.starts_with("agent-") || name.starts_with("unlink-")) {
                let database = database_in(&entry.path());
                if database.is_file() {
                    databases.push(database);
                }
            }
        }
        databases.sort();
        Ok(databases)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of one agent's store.
    pub fn dir(&self, agent: AgentId) -> PathBuf {
        self.root.join(format!("agent-{}", agent.0))
    }

    /// The store's database file.
    pub fn database(&self, agent: AgentId) -> PathBuf {
        database_in(&self.dir(agent))
    }

    /// Where credentials set aside for unlink job `job` live (D-1).
    pub fn set_aside_dir(&self, job: i64) -> PathBuf {
        self.root.join(format!("unlink-{job}"))
    }

    /// Moves the agent's store to the job's place, unless the job has its
    /// store already (a repeat). Nothing to move is not an error.
    pub fn set_aside(&self, agent: AgentId, job: i64) -> io::Result<()> {
        let target = self.set_aside_dir(job);
        if fs::symlink_metadata(&target).is_ok() {
            return Ok(());
        }
        match fs::rename(self.dir(agent), &target) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    /// Deletes the store set aside for `job`. Idempotent.
    pub fn delete_set_aside(&self, job: i64) -> io::Result<()> {
        remove_dir(&self.set_aside_dir(job))
    }

    /// Whether a store exists for `agent` (P-3 resumes only those). Anything
    /// at the store's path counts, so a damaged store is found and reported
    /// when the agent resumes ([`StoreFiles::check`]), not taken for "never linked".
    pub fn exists(&self, agent: AgentId) -> bool {
        fs::symlink_metadata(self.database(agent)).is_ok()
    }

    /// Checks, before the library opens it, that the saved store can be used:
    /// proven damage is told apart from a passing fault (issue 11, item 3).
    /// A damaged store would otherwise fail inside the library later, looking
    /// like a network fault (tried here: endless 408s); a passing fault (too
    /// many open files, a full disk) must not be taken for damage, since
    /// damage deletes the credentials.
    pub fn check(&self, agent: AgentId) -> Result<(), StoreProblem> {
        self.check_in(&self.dir(agent))
    }

    /// [`StoreFiles::check`] for the store of any directory (an unlink job's).
    pub fn check_in(&self, dir: &Path) -> Result<(), StoreProblem> {
        check_store(&database_in(dir), self.key.as_ref())
    }

    /// [`StoreFiles::prepare`] for the store of any directory.
    pub fn prepare_in(&self, dir: &Path) -> io::Result<PathBuf> {
        for dir in [&self.root, dir] {
            DirBuilder::new().recursive(true).mode(PRIVATE_DIR).create(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(PRIVATE_DIR))?;
        }
        let database = database_in(dir);
        OpenOptions::new().create(true).append(true).mode(PRIVATE_FILE).open(&database)?;
        for file in files_in(dir)? {
            fs::set_permissions(&file, fs::Permissions::from_mode(PRIVATE_FILE))?;
        }
        Ok(database)
    }

    /// Makes the directories 0700 and the database file 0600, creating what is
    /// missing and tightening what is too open. Returns the database path.
    pub fn prepare(&self, agent: AgentId) -> io::Result<PathBuf> {
        self.prepare_in(&self.dir(agent))
    }

    /// Deletes the agent's store and its directory (D-1, auth and fatal closes). Idempotent.
    pub fn delete(&self, agent: AgentId) -> io::Result<()> {
        remove_dir(&self.dir(agent))
    }

    /// The files in the agent's store directory.
    pub fn files(&self, agent: AgentId) -> io::Result<Vec<PathBuf>> {
        files_in(&self.dir(agent))
    }
}

/// Why a saved credentials store cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreProblem {
    /// Proven damaged: not a SQLite database, corrupt content, or not a
    /// store the library can read. A corrupted session (500): the credentials
    /// are gone for good and a new QR is needed.
    Damaged(String),
    /// Cannot be opened now, for a reason that passes: too many open files,
    /// a full disk, a permission. The credentials are kept and the attempt is
    /// retried like any recoverable close.
    Unavailable(String),
}

impl StoreProblem {
    /// The words staff read.
    pub fn detail(&self) -> &str {
        match self {
            StoreProblem::Damaged(detail) | StoreProblem::Unavailable(detail) => detail,
        }
    }
}

/// The database file of a store directory.
fn database_in(dir: &Path) -> PathBuf {
    dir.join("session.db")
}

/// Deletes a store directory; one already gone is fine.
fn remove_dir(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// The files in a store directory.
fn files_in(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// See [`StoreFiles::check`]. With a key, a plain store left by an earlier
/// version (or a crash during its migration) is encrypted first.
fn check_store(path: &Path, key: Option<&StoreKey>) -> Result<(), StoreProblem> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(StoreProblem::Damaged("the credentials file is a directory".into()));
    }
    let unavailable =
        |err: io::Error| StoreProblem::Unavailable(format!("cannot open the credentials file: {}", plain(&err)));
    let mut file = fs::File::open(path).map_err(unavailable)?;
    let mut header = Vec::with_capacity(16);
    Read::take(&mut file, 16).read_to_end(&mut header).map_err(unavailable)?;
    drop(file);
    if header.is_empty() {
        return Ok(()); // Created for a pairing that never got as far as saving anything.
    }
    match (header == SQLITE_HEADER, key) {
        (true, Some(key)) => {
            encrypt_if_plain(path, key)
                .map_err(|err| StoreProblem::Unavailable(format!("cannot encrypt the credentials file: {err}")))?;
            tracing::info!("a plain credentials store was encrypted: {}", path.display());
        }
        // Without a key, no header means no SQLite; with one, SQLite tells.
        (false, None) => return Err(StoreProblem::Damaged("the credentials file is not a SQLite database".into())),
        _ => {}
    }
    check_content(path, key)
}

/// Asks SQLite to read the whole store: corruption is damage, a failure to
/// open it at all is not. The key was proven at start (P-7), so a store it
/// does not open is damaged, like a plain file SQLite cannot read.
fn check_content(path: &Path, key: Option<&StoreKey>) -> Result<(), StoreProblem> {
    use rusqlite::{ErrorCode, OpenFlags};
    let classify = |err: rusqlite::Error| match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreProblem::Damaged(format!("the credentials file is damaged: {err}"))
        }
        _ => StoreProblem::Unavailable(format!("cannot open the credentials file: {err}")),
    };
    // Read-write without create: SQLite may need to roll back a journal left
    // by a crash, and the library opens it read-write right after anyway.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(classify)?;
    if let Some(key) = key {
        key.apply(&conn).map_err(classify)?;
    }
    let verdict: String = conn.query_row("PRAGMA quick_check(1)", [], |row| row.get(0)).map_err(classify)?;
    if verdict != "ok" {
        return Err(StoreProblem::Damaged(format!("the credentials file is damaged: {verdict}")));
    }
    Ok(())
}

/// An I/O error in plain words: "too many open files", not "Too many open files (os error 24)".
pub(crate) fn plain(err: &io::Error) -> String {
    let text = err.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_lowercase().chain(chars).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P-6: the store is 0600 in a 0700 directory, even where the umask or an
    /// earlier version left them open; delete removes it and may be repeated.
    #[test]
    fn p6_prepare_makes_the_store_private_and_delete_removes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let files = StoreFiles::new(tmp.path().join("whatsapp"));
        let agent = AgentId(3);
        fs::create_dir_all(files.dir(agent)).unwrap();
        fs::set_permissions(files.dir(agent), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(files.database(agent), b"").unwrap();
        fs::set_permissions(files.database(agent), fs::Permissions::from_mode(0o644)).unwrap();

        let db = files.prepare(agent).unwrap();
        assert_eq!(db, files.database(agent));
        assert!(files.exists(agent));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(files.root()), 0o700);
        assert_eq!(mode(&files.dir(agent)), 0o700);
        assert_eq!(mode(&db), 0o600);

        files.delete(agent).unwrap();
        assert!(!files.dir(agent).exists());
        files.delete(agent).unwrap();
        assert!(!files.exists(agent));
    }

    /// Issue 11, item 3: only proven damage is damage. A store that is a
    /// directory, not a SQLite file, or a SQLite file whose content SQLite
    /// cannot read is damaged; a sound store, an empty one (a pairing that
    /// saved nothing yet) and a real SQLite database pass.
    #[test]
    fn l3_check_finds_damage_only_where_it_is_proven() {
        let tmp = tempfile::tempdir().unwrap();
        let files = StoreFiles::new(tmp.path().join("whatsapp"));
        let store = |n: i64| {
            let agent = AgentId(n);
            (agent, files.prepare(agent).unwrap())
        };

        let (empty, _) = store(1);
        assert_eq!(files.check(empty), Ok(()));

        let (sound, path) = store(2);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE device (id INTEGER PRIMARY KEY, jid TEXT); INSERT INTO device (jid) VALUES ('x');").unwrap();
        drop(conn);
        assert_eq!(files.check(sound), Ok(()));

        let (garbage, path) = store(3);
        fs::write(&path, b"this is not a SQLite database ".repeat(200)).unwrap();
        assert!(matches!(files.check(garbage), Err(StoreProblem::Damaged(d)) if d.contains("not a SQLite database")));

        // A SQLite header followed by noise: only reading the content tells.
        let (torn, path) = store(4);
        let mut bytes = fs::read(files.database(sound)).unwrap();
        bytes.truncate(100);
        bytes.extend(std::iter::repeat_n(0xA5, 8_000));
        fs::write(&path, bytes).unwrap();
        assert!(
            matches!(files.check(torn), Err(StoreProblem::Damaged(d)) if d.contains("damaged")),
            "{:?}",
            files.check(torn)
        );

        let (directory, path) = store(5);
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        assert!(matches!(files.check(directory), Err(StoreProblem::Damaged(_))));
    }

    #[test]
    fn io_errors_read_in_plain_words() {
        let err = io::Error::from_raw_os_error(24);
        assert_eq!(plain(&err), "too many open files");
    }
}
