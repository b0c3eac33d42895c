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

const PRIVATE_DIR: u32 = 0o700;
const PRIVATE_FILE: u32 = 0o600;

/// The credentials stores of all agents under one root directory.
#[derive(Debug, Clone)]
pub struct StoreFiles {
    root: PathBuf,
}

impl StoreFiles {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StoreFiles { root: root.into() }
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
        self.dir(agent).join("session.db")
    }

    /// Whether a store exists for `agent` (P-3 resumes only those). Anything
    /// at the store's path counts, so a damaged store is found and reported
    /// when the agent resumes ([`StoreFiles::check`]), not taken for "never linked".
    pub fn exists(&self, agent: AgentId) -> bool {
        fs::symlink_metadata(self.database(agent)).is_ok()
    }

    /// Checks that the saved store can be read and is a SQLite database (or
    /// still empty). A damaged store would otherwise fail inside the library
    /// later, looking like a network fault (tried here: endless 408s).
    pub fn check(&self, agent: AgentId) -> Result<(), String> {
        const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";
        let path = self.database(agent);
        let unreadable = |err: io::Error| format!("the credentials store {} cannot be read: {err}", path.display());
        let mut file = fs::File::open(&path).map_err(unreadable)?;
        let mut header = Vec::with_capacity(16);
        Read::take(&mut file, 16).read_to_end(&mut header).map_err(unreadable)?;
        if header.is_empty() || header == SQLITE_HEADER {
            return Ok(());
        }
        Err(format!("the credentials store {} is damaged (not a SQLite database)", path.display()))
    }

    /// Makes the directories 0700 and the database file 0600, creating what is
    /// missing and tightening what is too open. Returns the database path.
    pub fn prepare(&self, agent: AgentId) -> io::Result<PathBuf> {
        for dir in [self.root.clone(), self.dir(agent)] {
            DirBuilder::new().recursive(true).mode(PRIVATE_DIR).create(&dir)?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(PRIVATE_DIR))?;
        }
        let database = self.database(agent);
        OpenOptions::new().create(true).append(true).mode(PRIVATE_FILE).open(&database)?;
        for file in self.files(agent)? {
            fs::set_permissions(&file, fs::Permissions::from_mode(PRIVATE_FILE))?;
        }
        Ok(database)
    }

    /// Deletes the agent's store and its directory (D-1, auth and fatal closes). Idempotent.
    pub fn delete(&self, agent: AgentId) -> io::Result<()> {
        match fs::remove_dir_all(self.dir(agent)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    /// The files in the agent's store directory.
    pub fn files(&self, agent: AgentId) -> io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(self.dir(agent))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(files)
    }
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
}
