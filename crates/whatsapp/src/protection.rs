//! The WhatsApp credentials encrypted at rest (P-7).
//!
//! Each agent's store holds the keys of a WhatsApp account: whoever copies
//! it can use the account from elsewhere. With a key, every store is a
//! SQLCipher database (AES-256, every page and the WAL), opened with one key
//! per installation. How that key is kept is the installation's
//! [`Protection`], chosen once and recorded in `<root>/protection`:
//!
//! - **keyring**: the key lives in the desktop keyring (Secret Service),
//!   under this data directory's name; the first start chooses it by itself
//!   when a keyring answers;
//! - **passphrase**: the key lives in `<root>/key.db`, a SQLCipher database
//!   keyed with a passphrase the person gives at each start (SQLCipher's
//!   own key derivation, PBKDF2-HMAC-SHA512 with 256,000 rounds, runs once
//!   per start, not once per store);
//! - **unencrypted**: the person's explicit choice when no keyring answers;
//!   the window warns of it for as long as it lasts.
//!
//! Without a keyring nothing is chosen silently: [`Vault::open`] answers
//! [`Opening::NeedsChoice`] and the window asks. In keyring mode `key.db`
//! holds a check row keyed with the key, so a key that does not open it
//! (another installation's, a keyring edited by hand) is told at start,
//! before any store is touched: nothing is ever deleted for a wrong key.
//!
//! Plain stores of an earlier version are encrypted in place by
//! [`encrypt_plain_stores`], crash-safe: the encrypted copy is written
//! beside the plain store and renamed over it, so a kill at any moment
//! leaves either store whole.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::{RngCore, SeedableRng};

use crate::store_files::{StoreFiles, plain};

/// The first bytes of every plain SQLite database; an encrypted one starts with its random salt.
pub const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";
/// The shortest passphrase accepted.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

const MARKER: &str = "protection";
const KEY_DB: &str = "key.db";
/// The keyring entry's service; its user is the data directory, so each installation has its own key.
const KEYRING_SERVICE: &str = "Switchboard WhatsApp credentials";

/// How the installation keeps its credentials key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// The key is in the desktop keyring.
    Keyring,
    /// The key is in `key.db`, opened with a passphrase at each start.
    Passphrase,
    /// No key: the stores are plain SQLite (the person chose it).
    Unencrypted,
}

impl Protection {
    fn word(self) -> &'static str {
        match self {
            Protection::Keyring => "keyring",
            Protection::Passphrase => "passphrase",
            Protection::Unencrypted => "unencrypted",
        }
    }
}

/// The installation's key: 32 random bytes, given to SQLCipher as a raw key
/// (no key derivation at each open: 1,000 stores open at once).
#[derive(Clone)]
pub struct StoreKey(Arc<[u8; 32]>);

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(hidden)")
    }
}

impl PartialEq for StoreKey {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl StoreKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> StoreKey {
        let mut bytes = [0u8; 32];
        // Seeded from the OS's random source (getrandom), a cryptographic generator.
        rand::rngs::StdRng::from_os_rng().fill_bytes(&mut bytes);
        StoreKey(Arc::new(bytes))
    }

    fn to_hex(&self) -> String {
        use std::fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
    }

    /// A key from its 64 hex digits (as the keyring keeps it).
    pub fn from_hex(hex: &str) -> Option<StoreKey> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(StoreKey(Arc::new(bytes)))
    }

    /// The value of SQLCipher's `PRAGMA key` for this raw key.
    pub(crate) fn pragma_value(&self) -> String {
        format!("x'{}'", self.to_hex())
    }

    /// Keys a freshly opened connection; must come before anything reads the file.
    pub fn apply(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        quiet_sqlcipher(conn);
        conn.pragma_update(None, "key", self.pragma_value())
    }
}

/// What the installation's credentials are opened with, once known.
#[derive(Debug, Clone, PartialEq)]
pub struct Unlocked {
    pub protection: Protection,
    /// `None` in unencrypted mode.
    pub key: Option<StoreKey>,
}

/// Where a start stands after looking at the installation.
#[derive(Debug, Clone, PartialEq)]
pub enum Opening {
    /// The key is known (or the person chose no key): go on.
    Open(Unlocked),
    /// Passphrase mode: [`Vault::unlock`] with the person's passphrase.
    NeedsPassphrase,
    /// The first start, and no keyring answered: the person chooses
    /// [`Vault::choose_passphrase`] or [`Vault::choose_unencrypted`].
    NeedsChoice {
        /// Why the keyring could not be used, in plain words.
        keyring_problem: String,
    },
}

/// Why the credentials could not be opened or protected. Nothing is changed by any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtectionError {
    #[error("the passphrase does not open the WhatsApp credentials")]
    WrongPassphrase,
    #[error("the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")]
    PassphraseTooShort,
    #[error(
        "the desktop keyring holds the key to the WhatsApp credentials but cannot be reached ({0}); unlock or start the keyring, then start Switchboard again"
    )]
    KeyringUnavailable(String),
    #[error(
        "the desktop keyring has no key for these WhatsApp credentials (was it reset?); restore it, or move {0} away to start without the linked agents"
    )]
    KeyMissing(String),
    #[error("the key in the desktop keyring does not open these WhatsApp credentials; nothing was changed")]
    WrongKey,
    #[error("the credentials protection is chosen already ({0})")]
    AlreadyChosen(&'static str),
    #[error(
        "{0} credentials stores are encrypted but the record of their key ({MARKER}) is missing; restore it to open them, or move them away to start over"
    )]
    KeyRecordMissing(usize),
    #[error("the credentials file {path} reads \"{found}\", not a protection this Switchboard knows")]
    BadMarker { path: PathBuf, found: String },
    #[error("cannot use {path}: {detail}")]
    Files { path: PathBuf, detail: String },
}

/// Where the desktop keyring is reached; tests give their own.
pub trait KeyVault: Send + Sync {
    /// The saved key's text, `Ok(None)` when there is none.
    fn load(&self) -> Result<Option<String>, String>;
    fn save(&self, secret: &str) -> Result<(), String>;
}

/// The desktop keyring (Secret Service on Linux), one entry per data directory.
pub struct DesktopKeyring {
    user: String,
}

impl DesktopKeyring {
    pub fn for_data_dir(data_dir: &Path) -> DesktopKeyring {
        DesktopKeyring { user: data_dir.display().to_string() }
    }

    fn entry(&self) -> Result<keyring::Entry, String> {
        keyring::Entry::new(KEYRING_SERVICE, &self.user).map_err(|err| err.to_string())
    }
}

impl KeyVault for DesktopKeyring {
    fn load(&self) -> Result<Option<String>, String> {
        match self.entry()?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(err.to_string()),
        }
    }

    fn save(&self, secret: &str) -> Result<(), String> {
        self.entry()?.set_password(secret).map_err(|err| err.to_string())
    }
}

/// The installation's protection files under the credentials root.
#[derive(Debug, Clone)]
pub struct Vault {
    root: PathBuf,
}

impl Vault {
    pub fn new(root: impl Into<PathBuf>) -> Vault {
        Vault { root: root.into() }
    }

    /// The recorded choice, if one was made.
    pub fn protection(&self) -> Result<Option<Protection>, ProtectionError> {
        let path = self.root.join(MARKER);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(files_error(&path, &err)),
        };
        let found = text.trim();
        [Protection::Keyring, Protection::Passphrase, Protection::Unencrypted]
            .into_iter()
            .find(|p| p.word() == found)
            .map(Some)
            .ok_or_else(|| ProtectionError::BadMarker { path, found: found.chars().take(40).collect() })
    }

    /// Looks at the installation at start; see [`Opening`]. The first start
    /// with a keyring that answers chooses it (a new key, saved and read back).
    pub fn open(&self, keyring: &dyn KeyVault) -> Result<Opening, ProtectionError> {
        match self.protection()? {
            Some(Protection::Unencrypted) => {
                Ok(Opening::Open(Unlocked { protection: Protection::Unencrypted, key: None }))
            }
            Some(Protection::Passphrase) => Ok(Opening::NeedsPassphrase),
            Some(Protection::Keyring) => {
                let secret = keyring.load().map_err(ProtectionError::KeyringUnavailable)?;
                let secret = secret.ok_or_else(|| ProtectionError::KeyMissing(self.root.display().to_string()))?;
                let key = StoreKey::from_hex(&secret).ok_or(ProtectionError::WrongKey)?;
                self.read_key_db(&key.pragma_value())?.ok_or(ProtectionError::WrongKey)?;
                Ok(Opening::Open(Unlocked { protection: Protection::Keyring, key: Some(key) }))
            }
            None => {
                self.no_encrypted_stores()?;
                let key = StoreKey::generate();
                let saved = keyring.save(&key.to_hex()).and_then(|()| match keyring.load()? {
                    Some(back) if StoreKey::from_hex(&back).as_ref() == Some(&key) => Ok(()),
                    _ => Err("the keyring did not give back the key it was given".to_owned()),
                });
                if let Err(keyring_problem) = saved {
                    return Ok(Opening::NeedsChoice { keyring_problem });
                }
                self.write_key_db(&key.pragma_value(), None)?;
                self.record(Protection::Keyring)?;
                Ok(Opening::Open(Unlocked { protection: Protection::Keyring, key: Some(key) }))
            }
        }
    }

    /// Passphrase mode: opens `key.db` with `passphrase`. A wrong one is an error and changes nothing.
    pub fn unlock(&self, passphrase: &str) -> Result<Unlocked, ProtectionError> {
        if self.protection()? != Some(Protection::Passphrase) {
            return Err(ProtectionError::AlreadyChosen("not passphrase"));
        }
        if passphrase.is_empty() {
            return Err(ProtectionError::WrongPassphrase); // SQLCipher refuses an empty key outright.
        }
        let held = self.read_key_db(passphrase)?.ok_or(ProtectionError::WrongPassphrase)?;
        let key = StoreKey::from_hex(&held)
            .ok_or_else(|| ProtectionError::Files { path: self.root.join(KEY_DB), detail: "it holds no key".into() })?;
        Ok(Unlocked { protection: Protection::Passphrase, key: Some(key) })
    }

    /// The first start without a keyring: a new key kept in `key.db` under `passphrase`.
    pub fn choose_passphrase(&self, passphrase: &str) -> Result<Unlocked, ProtectionError> {
        if let Some(chosen) = self.protection()? {
            return Err(ProtectionError::AlreadyChosen(chosen.word()));
        }
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(ProtectionError::PassphraseTooShort);
        }
        self.no_encrypted_stores()?;
        let key = StoreKey::generate();
        self.write_key_db(passphrase, Some(&key))?;
        self.record(Protection::Passphrase)?;
        Ok(Unlocked { protection: Protection::Passphrase, key: Some(key) })
    }

    /// The first start without a keyring: the person keeps the stores unencrypted.
    pub fn choose_unencrypted(&self) -> Result<Unlocked, ProtectionError> {
        if let Some(chosen) = self.protection()? {
            return Err(ProtectionError::AlreadyChosen(chosen.word()));
        }
        self.no_encrypted_stores()?;
        self.record(Protection::Unencrypted)?;
        Ok(Unlocked { protection: Protection::Unencrypted, key: None })
    }

    /// A first choice must not meet stores a lost choice encrypted: a new
    /// key would not open them, and they would be taken for damage.
    fn no_encrypted_stores(&self) -> Result<(), ProtectionError> {
        let databases = StoreFiles::new(&self.root).all_databases().map_err(|err| files_error(&self.root, &err))?;
        let encrypted = databases
            .iter()
            .filter(|db| fs::metadata(db).is_ok_and(|m| m.len() > 0) && !is_plain_sqlite(db).unwrap_or(true))
            .count();
        if encrypted > 0 {
            return Err(ProtectionError::KeyRecordMissing(encrypted));
        }
        Ok(())
    }

    /// Writes the choice, whole or not at all (the marker is what a start trusts).
    fn record(&self, protection: Protection) -> Result<(), ProtectionError> {
        let path = self.root.join(MARKER);
        write_whole(&path, format!("{}\n", protection.word()).as_bytes()).map_err(|err| files_error(&path, &err))
    }

    /// Creates `key.db` keyed with `pragma` (a passphrase or a raw key),
    /// holding `key` (passphrase mode) or a check row. Written beside and
    /// renamed into place, so a crash leaves no half-made file.
    fn write_key_db(&self, pragma: &str, key: Option<&StoreKey>) -> Result<(), ProtectionError> {
        let path = self.root.join(KEY_DB);
        let fail = |detail: String| ProtectionError::Files { path: path.clone(), detail };
        create_private_dir(&self.root).map_err(|err| fail(plain(&err)))?;
        let fresh = self.root.join(format!("{KEY_DB}.new"));
        let _ = fs::remove_file(&fresh);
        create_private_file(&fresh).map_err(|err| fail(plain(&err)))?;
        {
            let conn = rusqlite::Connection::open(&fresh).map_err(|err| fail(err.to_string()))?;
            conn.pragma_update(None, "key", pragma).map_err(|err| fail(err.to_string()))?;
            conn.execute_batch(
                "CREATE TABLE installation_key (id INTEGER PRIMARY KEY CHECK (id = 1), key TEXT NOT NULL)",
            )
            .map_err(|err| fail(err.to_string()))?;
            // In keyring mode the row proves the key; its value is not a secret.
            let value = key.map_or_else(|| "check".to_owned(), StoreKey::to_hex);
            conn.execute("INSERT INTO installation_key (id, key) VALUES (1, ?1)", [value])
                .map_err(|err| fail(err.to_string()))?;
        }
        sync_file(&fresh).map_err(|err| fail(plain(&err)))?;
        fs::rename(&fresh, &path).map_err(|err| fail(plain(&err)))?;
        sync_dir(&self.root).map_err(|err| fail(plain(&err)))?;
        Ok(())
    }

    /// Opens `key.db` with `pragma` and reads its row: the key (passphrase
    /// mode) or the check word (keyring mode); `Ok(None)` when `pragma` does not open it.
    fn read_key_db(&self, pragma: &str) -> Result<Option<String>, ProtectionError> {
        let path = self.root.join(KEY_DB);
        let fail = |detail: String| ProtectionError::Files { path: path.clone(), detail };
        if !path.exists() {
            return Err(fail("the file is missing".into()));
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let conn = rusqlite::Connection::open_with_flags(&path, flags).map_err(|err| fail(err.to_string()))?;
        quiet_sqlcipher(&conn);
        conn.pragma_update(None, "key", pragma).map_err(|err| fail(err.to_string()))?;
        match conn.query_row("SELECT key FROM installation_key WHERE id = 1", [], |r| r.get(0)) {
            Ok(value) => Ok(Some(value)),
            Err(err) if err.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => Ok(None),
            Err(err) => Err(fail(err.to_string())),
        }
    }
}

/// SQLCipher writes its own errors to stderr (a wrong key: "hmac check
/// failed"), past the app's log. Every such case comes back as an error
/// that the app logs in words, so its own printing is turned off, once for
/// the process.
fn quiet_sqlcipher(conn: &rusqlite::Connection) {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        if let Err(err) = conn.pragma_update(None, "cipher_log_level", "NONE") {
            tracing::debug!("SQLCipher's log stays on: {err}");
        }
    });
}

/// Whether the file at `path` is a plain SQLite database (an empty file is not).
pub fn is_plain_sqlite(path: &Path) -> io::Result<bool> {
    let mut header = Vec::with_capacity(16);
    fs::File::open(path)?.take(16).read_to_end(&mut header)?;
    Ok(header == SQLITE_HEADER)
}

/// How many plain stores were encrypted, and the ones that could not be (kept plain, tried again at their next start).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Migration {
    pub encrypted: usize,
    pub failed: Vec<(PathBuf, String)>,
}

/// Encrypts with `key` every plain store under `files`' root (agents' and
/// unlink jobs'), one at a time. Run at start, before any client opens a store.
pub fn encrypt_plain_stores(files: &StoreFiles, key: &StoreKey) -> io::Result<Migration> {
    let mut migration = Migration::default();
    for database in files.all_databases()? {
        match encrypt_if_plain(&database, key) {
            Ok(true) => migration.encrypted += 1,
            Ok(false) => {}
            Err(err) => migration.failed.push((database, err)),
        }
    }
    Ok(migration)
}

/// Encrypts the store at `database` in place if it is plain; `Ok(false)`
/// when there was nothing to do. A copy left by a crash is discarded first.
pub fn encrypt_if_plain(database: &Path, key: &StoreKey) -> Result<bool, String> {
    let copy = sibling(database, ".encrypting");
    for leftover in [copy.clone(), sibling(&copy, "-journal")] {
        match fs::remove_file(&leftover) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(plain(&err)),
            _ => {}
        }
    }
    if !is_plain_sqlite(database).map_err(|err| plain(&err))? {
        return Ok(false);
    }
    create_private_file(&copy).map_err(|err| plain(&err))?;
    {
        let conn = rusqlite::Connection::open(database).map_err(|err| err.to_string())?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|err| err.to_string())?;
        // Everything in the WAL goes into the file first; the WAL is then empty.
        let busy: i64 =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)).map_err(|err| err.to_string())?;
        if busy != 0 {
            return Err("the store is in use".into());
        }
        conn.execute(
            "ATTACH DATABASE ?1 AS encrypted KEY ?2",
            rusqlite::params![copy.to_string_lossy(), key.pragma_value()],
        )
        .map_err(|err| err.to_string())?;
        conn.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(())).map_err(|err| err.to_string())?;
        let version: i64 =
            conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|err| err.to_string())?;
        conn.pragma_update(Some("encrypted"), "user_version", version).map_err(|err| err.to_string())?;
        conn.execute("DETACH DATABASE encrypted", []).map_err(|err| err.to_string())?;
    }
    sync_file(&copy).map_err(|err| plain(&err))?;
    // The plain store's WAL was checkpointed and is empty; it must not be read with the encrypted file.
    for stale in [sibling(database, "-wal"), sibling(database, "-shm")] {
        match fs::remove_file(&stale) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(plain(&err)),
            _ => {}
        }
    }
    fs::rename(&copy, database).map_err(|err| plain(&err))?;
    if let Some(dir) = database.parent() {
        sync_dir(dir).map_err(|err| plain(&err))?;
    }
    Ok(true)
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn files_error(path: &Path, err: &io::Error) -> ProtectionError {
    ProtectionError::Files { path: path.to_owned(), detail: plain(err) }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

fn create_private_file(path: &Path) -> io::Result<()> {
    OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map(drop)
}

/// Writes `bytes` to `path` whole or not at all: beside it, synced, renamed over.
fn write_whole(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let fresh = sibling(path, ".new");
    let _ = fs::remove_file(&fresh);
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&fresh)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&fresh, path)?;
    path.parent().map_or(Ok(()), sync_dir)
}

fn sync_file(path: &Path) -> io::Result<()> {
    fs::File::open(path)?.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
