//! What the tests of the whole app share: the mock-runtime IPC harness
//! (`ipc`), the tauri-driver plumbing (`webdriver`, also used by the window
//! benchmark), and temporary directories in memory.

pub mod ipc;
pub mod webdriver;

use std::path::Path;

/// A temporary directory in memory (`/dev/shm`) where the machine has one:
/// SQLite's fsyncs cost nothing there, and the engine runs the same code.
pub fn temp_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.unwrap()
}
