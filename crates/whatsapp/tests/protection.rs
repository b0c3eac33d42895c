//! P-7: the credentials encrypted at rest. The choice of protection and its
//! errors, the key proven before any store is touched, plain stores migrated
//! in place (also under kill -9), and a real client's store holding nothing
//! readable on disk.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, VERSION, start_server};
use switchboard_engine::clock::SystemClock;
use switchboard_engine::lifecycle::{AgentId, Status};
use switchboard_engine::supervisor::{Options, Supervisor};
use switchboard_whatsapp::protection::{
    KeyVault, Opening, Protection, ProtectionError, SQLITE_HEADER, StoreKey, Unlocked, Vault, encrypt_plain_stores,
};
use switchboard_whatsapp::store_files::StoreFiles;
use switchboard_whatsapp::{ServerOptions, WhatsAppConnector};

/// A keyring in memory: `None` is a keyring that cannot be reached.
struct MemoryKeyring(Mutex<Option<HashMap<(), String>>>);

impl MemoryKeyring {
    fn reachable() -> MemoryKeyring {
        MemoryKeyring(Mutex::new(Some(HashMap::new())))
    }
    fn unreachable() -> MemoryKeyring {
        MemoryKeyring(Mutex::new(None))
    }
    fn holding(secret: &str) -> MemoryKeyring {
        MemoryKeyring(Mutex::new(Some(HashMap::from([((), secret.to_owned())]))))
    }
}

impl KeyVault for MemoryKeyring {
    fn load(&self) -> Result<Option<String>, String> {
        let held = self.0.lock().unwrap();
        held.as_ref().map(|map| map.get(&()).cloned()).ok_or_else(|| "no Secret Service on the session bus".into())
    }
    fn save(&self, secret: &str) -> Result<(), String> {
        let mut held = self.0.lock().unwrap();
        held.as_mut()
            .map(|map| drop(map.insert((), secret.to_owned())))
            .ok_or_else(|| "no Secret Service on the session bus".into())
    }
}

/// Every file under `dir` with its bytes: "nothing changed" is this being equal.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(snapshot(&path));
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// A plain store like an earlier version's: a few tables and rows, some of
/// them still only in the WAL (the connection is leaked, as a killed process would).
fn plain_store(files: &StoreFiles, dir: &Path, rows: usize) {
    let database = files.prepare_in(dir).unwrap();
    let conn = rusqlite::Connection::open(&database).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
         CREATE TABLE identities (address TEXT PRIMARY KEY, key BLOB NOT NULL);
         PRAGMA user_version = 3;",
    )
    .unwrap();
    for n in 0..rows {
        let blob = vec![(n % 251) as u8; 2_000];
        conn.execute(
            "INSERT INTO identities VALUES (?1, ?2)",
            rusqlite::params![format!("secret-{n}@s.whatsapp.net"), blob],
        )
        .unwrap();
    }
    std::mem::forget(conn);
}

/// The rows of the store at `database` opened with `key`, or SQLite's error.
fn rows_in(database: &Path, key: Option<&StoreKey>) -> rusqlite::Result<(i64, i64)> {
    let conn = rusqlite::Connection::open(database)?;
    if let Some(key) = key {
        key.apply(&conn)?;
    }
    let rows = conn.query_row("SELECT count(*) FROM identities", [], |r| r.get(0))?;
    let version = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok((rows, version))
}

fn starts_plain(path: &Path) -> bool {
    std::fs::read(path).unwrap().starts_with(SQLITE_HEADER)
}

/// P-7: the first start with a keyring that answers chooses it by itself;
/// later starts take the key from it and prove it on `key.db`. A keyring
/// that cannot be reached, has lost the key or holds another one is a clear
/// error that changes no file.
#[test]
fn p7_a_keyring_keeps_the_key_and_a_wrong_or_missing_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("whatsapp");
    let vault = Vault::new(&root);
    let keyring = MemoryKeyring::reachable();
    let Ok(Opening::Open(first)) = vault.open(&keyring) else { panic!("the keyring was not chosen") };
    assert_eq!(first.protection, Protection::Keyring);
    assert!(first.key.is_some());
    assert_eq!(vault.protection().unwrap(), Some(Protection::Keyring));
    assert!(!starts_plain(&root.join("key.db")), "key.db is encrypted");

    let Ok(Opening::Open(again)) = vault.open(&keyring) else { panic!("the second start did not open") };
    assert_eq!(again, first, "the same key at every start");

    let before = snapshot(&root);
    let other = MemoryKeyring::holding(&"ab".repeat(32));
    assert_eq!(vault.open(&other), Err(ProtectionError::WrongKey));
    assert_eq!(vault.open(&MemoryKeyring::holding("not a key")), Err(ProtectionError::WrongKey));
    assert!(matches!(vault.open(&MemoryKeyring::reachable()), Err(ProtectionError::KeyMissing(_))));
    let Err(ProtectionError::KeyringUnavailable(why)) = vault.open(&MemoryKeyring::unreachable()) else {
        panic!("an unreachable keyring was not told")
    };
    assert!(why.contains("Secret Service"), "{why}");
    assert_eq!(snapshot(&root), before, "a refused start changed files");
    assert!(matches!(vault.choose_unencrypted(), Err(ProtectionError::AlreadyChosen("keyring"))));
}

/// P-7: without a keyring nothing is chosen silently: the person chooses a
/// passphrase (asked at each start; a wrong one is an error and changes
/// nothing) or, explicitly, no encryption.
#[test]
fn p7_without_a_keyring_the_person_chooses_a_passphrase_or_no_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("whatsapp");
    let vault = Vault::new(&root);
    let no_keyring = MemoryKeyring::unreachable();
    let Ok(Opening::NeedsChoice { keyring_problem }) = vault.open(&no_keyring) else { panic!("no choice asked") };
    assert!(keyring_problem.contains("Secret Service"), "{keyring_problem}");
    assert_eq!(vault.protection().unwrap(), None, "nothing chosen yet");

    assert_eq!(vault.choose_passphrase("short"), Err(ProtectionError::PassphraseTooShort));
    let chosen = vault.choose_passphrase("correct horse battery").unwrap();
    assert_eq!(chosen.protection, Protection::Passphrase);
    assert_eq!(vault.open(&no_keyring), Ok(Opening::NeedsPassphrase));
    assert_eq!(
        vault.open(&MemoryKeyring::reachable()),
        Ok(Opening::NeedsPassphrase),
        "a keyring later changes nothing"
    );

    let before = snapshot(&root);
    assert_eq!(vault.unlock("correct horse battery!"), Err(ProtectionError::WrongPassphrase));
    assert_eq!(vault.unlock(""), Err(ProtectionError::WrongPassphrase));
    assert_eq!(snapshot(&root), before, "a wrong passphrase changed files");
    assert_eq!(vault.unlock("correct horse battery"), Ok(chosen.clone()));
    let key_db = std::fs::read(root.join("key.db")).unwrap();
    assert!(!key_db.starts_with(SQLITE_HEADER));
    let hex_of_key = format!("{:?}", chosen.key);
    assert!(!hex_of_key.contains("x'"), "the key is never printed: {hex_of_key}");

    let other = tempfile::tempdir().unwrap();
    let plain = Vault::new(other.path().join("whatsapp"));
    assert!(matches!(plain.open(&no_keyring), Ok(Opening::NeedsChoice { .. })));
    assert_eq!(plain.choose_unencrypted(), Ok(Unlocked { protection: Protection::Unencrypted, key: None }));
    assert_eq!(plain.open(&no_keyring), Ok(Opening::Open(Unlocked { protection: Protection::Unencrypted, key: None })));
    assert!(matches!(plain.choose_passphrase("correct horse battery"), Err(ProtectionError::AlreadyChosen(_))));

    // Encrypted stores whose record of the key was lost: no new key is made
    // for them (it would not open them), whatever the first choice.
    let lost = tempfile::tempdir().unwrap();
    let root = lost.path().join("whatsapp");
    let files = StoreFiles::new(&root);
    plain_store(&files, &files.dir(AgentId(1)), 3);
    encrypt_plain_stores(&files, &StoreKey::generate()).unwrap();
    let before = snapshot(&root);
    let orphaned = Vault::new(&root);
    assert_eq!(orphaned.open(&MemoryKeyring::reachable()), Err(ProtectionError::KeyRecordMissing(1)));
    assert_eq!(orphaned.choose_passphrase("correct horse battery"), Err(ProtectionError::KeyRecordMissing(1)));
    assert_eq!(orphaned.choose_unencrypted(), Err(ProtectionError::KeyRecordMissing(1)));
    assert_eq!(snapshot(&root), before);

    std::fs::write(other.path().join("whatsapp/protection"), "rot13\n").unwrap();
    assert!(matches!(plain.open(&no_keyring), Err(ProtectionError::BadMarker { found, .. }) if found == "rot13"));
}

/// P-7: an earlier version's plain stores (agents' and an unlink job's, with
/// rows still in their WAL) are encrypted in place: no SQLite header on disk,
/// every row there with the key, none without it; a second run finds nothing to do.
#[test]
fn p7_plain_stores_are_encrypted_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let files = StoreFiles::new(dir.path().join("whatsapp"));
    for n in 1..=4 {
        plain_store(&files, &files.dir(AgentId(n)), 30);
    }
    plain_store(&files, &files.set_aside_dir(9), 5);
    files.prepare(AgentId(5)).unwrap(); // An empty store: a pairing that saved nothing yet.
    let key = StoreKey::generate();

    let migration = encrypt_plain_stores(&files, &key).unwrap();
    assert_eq!(migration.encrypted, 5);
    assert!(migration.failed.is_empty(), "{:?}", migration.failed);
    for database in files.all_databases().unwrap() {
        let bytes = std::fs::read(&database).unwrap();
        if bytes.is_empty() {
            continue;
        }
        assert!(!bytes.starts_with(SQLITE_HEADER), "{}", database.display());
        assert!(!bytes.windows(7).any(|w| w == b"secret-"), "plaintext in {}", database.display());
        assert!(!bytes.windows(10).any(|w| w == b"identities"), "schema in {}", database.display());
        assert!(rows_in(&database, None).is_err(), "read without the key");
        let expected = if database.starts_with(files.set_aside_dir(9)) { 5 } else { 30 };
        assert_eq!(rows_in(&database, Some(&key)).unwrap(), (expected, 3), "{}", database.display());
        let dir = database.parent().unwrap();
        assert!(!dir.join("session.db-wal").exists() || !starts_plain(&dir.join("session.db-wal")));
    }
    assert_eq!(encrypt_plain_stores(&files, &key).unwrap().encrypted, 0);

    // A plain store met later (a crash before its turn) is encrypted when checked, not taken for damage.
    plain_store(&files, &files.dir(AgentId(6)), 3);
    let encrypted = StoreFiles::with_key(files.root(), Some(key.clone()));
    assert_eq!(encrypted.check(AgentId(6)), Ok(()));
    assert!(!starts_plain(&files.database(AgentId(6))));
    assert_eq!(rows_in(&files.database(AgentId(6)), Some(&key)).unwrap(), (3, 3));
    // A store another key encrypted cannot be read: damage, as a garbage file would be.
    let stranger = StoreFiles::with_key(files.root(), Some(StoreKey::generate()));
    assert!(matches!(stranger.check(AgentId(6)), Err(switchboard_whatsapp::store_files::StoreProblem::Damaged(_))));
}

const KILL_CHILD: &str = "SWITCHBOARD_P7_MIGRATION_CHILD";

/// P-7: the migration killed (SIGKILL) at random moments loses nothing.
/// After each kill every store is whole, plain or encrypted; the last run
/// finishes the job, and every row is there.
#[test]
fn p7_a_migration_killed_at_any_moment_loses_nothing() {
    const STORES: i64 = 40;
    const ROWS: usize = 200;
    if let Ok(root) = std::env::var(KILL_CHILD) {
        // The child: migrate and say when done (the parent kills it before, mostly).
        let key_hex = std::env::var("SWITCHBOARD_P7_KEY").unwrap();
        let key = test_key(&key_hex);
        let migration = encrypt_plain_stores(&StoreFiles::new(root), &key).unwrap();
        assert!(migration.failed.is_empty());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = StoreFiles::new(dir.path().join("whatsapp"));
    for n in 1..=STORES {
        plain_store(&files, &files.dir(AgentId(n)), ROWS);
    }
    let key_hex = "5a".repeat(32);
    let key = test_key(&key_hex);
    let mut rng_state = 0x9e37_79b9_u64;
    let mut kills = 0;
    let mut encrypted_after_kills = Vec::new();
    for round in 0..8 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "p7_a_migration_killed_at_any_moment_loses_nothing", "--nocapture", "--test-threads=1"])
            .env(KILL_CHILD, files.root())
            .env("SWITCHBOARD_P7_KEY", &key_hex)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        std::thread::sleep(Duration::from_millis(5 + rng_state % (20 + 15 * round)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        let mut encrypted = 0;
        for n in 1..=STORES {
            let database = files.database(AgentId(n));
            let whole = if starts_plain(&database) {
                rows_in(&database, None)
            } else {
                encrypted += 1;
                rows_in(&database, Some(&key))
            };
            assert_eq!(whole, Ok((ROWS as i64, 3)), "store {n} after kill {round}");
        }
        encrypted_after_kills.push(encrypted);
    }
    let rest = encrypt_plain_stores(&files, &key).unwrap();
    assert!(rest.failed.is_empty(), "{:?}", rest.failed);
    for n in 1..=STORES {
        let database = files.database(AgentId(n));
        assert!(!starts_plain(&database));
        assert_eq!(rows_in(&database, Some(&key)), Ok((ROWS as i64, 3)));
        let leftovers: Vec<_> = files
            .files(AgentId(n))
            .unwrap()
            .into_iter()
            .filter(|f| f.to_string_lossy().contains("encrypting"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    println!("kill -9 rounds: {kills} killed mid-way; stores encrypted after each round: {encrypted_after_kills:?}");
    assert!(kills >= 3, "too few kills landed during the migration ({kills}); the test proved little");
}

/// A real client pairs against a local stand-in that drops the link: the
/// library creates its store and writes its device into it. Returns the
/// store's files' bytes after a graceful stop.
async fn store_written_by_a_real_client(files: StoreFiles) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = start_server(Server::AcceptAndDrop).await;
    let server = ServerOptions { url: Some(url), version: Some(VERSION), ..ServerOptions::default() };
    let connector = WhatsAppConnector::with_files(files.clone(), server);
    let options = Options { clock: Arc::new(SystemClock), connector: Arc::new(connector.clone()), seed: 7 };
    let sup = Supervisor::start(&dir.path().join("switchboard.db"), options).await.unwrap();
    let agent = sup.add("Support 1").await.unwrap().record.id;
    sup.connect(agent).await.unwrap();
    let limit = Instant::now() + Duration::from_secs(60);
    while sup.view(agent).unwrap().record.status == Status::Connecting {
        assert!(Instant::now() < limit, "the attempt did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sup.shutdown().await;
    assert!(connector.wait_closed(Duration::from_secs(30)).await);
    let mut bytes = Vec::new();
    for file in files.files(agent).unwrap() {
        bytes.extend(std::fs::read(file).unwrap());
    }
    assert!(bytes.len() > 10_000, "the client wrote little: {} bytes", bytes.len());
    assert_eq!(files.check(agent), Ok(()), "the store is sound for the next start");
    bytes
}

fn has_plaintext_markers(bytes: &[u8]) -> bool {
    [&SQLITE_HEADER[..], b"CREATE TABLE", b"__diesel_schema_migrations"]
        .iter()
        .any(|marker| bytes.windows(marker.len()).any(|w| w == *marker))
}

/// P-7: the store a real whatsapp-rust client writes, with a key, holds
/// none of a plain store's markers on disk (no SQLite header, no schema
/// text), in the database file or its WAL; the same client without a key
/// writes all of them. The key opens it again at the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p7_a_real_clients_store_is_unreadable_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let plain = store_written_by_a_real_client(StoreFiles::new(dir.path().join("plain"))).await;
    assert!(has_plaintext_markers(&plain), "the plain store shows what the test looks for");
    let key = StoreKey::generate();
    let files = StoreFiles::with_key(dir.path().join("encrypted"), Some(key));
    let encrypted = store_written_by_a_real_client(files.clone()).await;
    assert!(!has_plaintext_markers(&encrypted), "plaintext on disk");
    let stranger = StoreFiles::with_key(files.root(), Some(StoreKey::generate()));
    assert!(stranger.check(AgentId(1)).is_err(), "another key reads it");
}

fn test_key(hex: &str) -> StoreKey {
    StoreKey::from_hex(hex).unwrap()
}
