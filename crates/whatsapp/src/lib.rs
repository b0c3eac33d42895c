//! Switchboard's real WhatsApp connector, on the `whatsapp-rust` crate.
//!
//! [`WhatsAppConnector`] implements the engine's `Connector`: one
//! whatsapp-rust client per attempt, on a credentials store per agent
//! ([`store_files`]), with the library's own reconnect turned off so that
//! every end of a connection comes back to the engine, which applies RULES.md §2
//! and §5. [`mapping`] holds the one table from the library's events to the
//! engine's close codes; [`transport`] tells it when the way to WhatsApp
//! failed before any handshake.

pub mod connector;
pub mod mapping;
pub mod protection;
pub mod store_files;
pub mod transport;
pub mod version;

pub use connector::{ServerOptions, WhatsAppConnector};

/// The version of whatsapp-rust this connector was built with (from the lock file).
pub const LIBRARY_VERSION: &str = env!("WHATSAPP_RUST_VERSION");

/// Raises the process's soft limit on open files to its hard limit and
/// returns both limits (soft before, soft after). Every linked agent holds
/// its store's files and a socket (BENCHMARKS.md, "Descriptors"), and the
/// usual soft limit of 1,024 would run out at a few hundred agents.
pub fn raise_open_file_limit() -> std::io::Result<(u64, u64)> {
    let (before, _) = rlimit::Resource::NOFILE.get()?;
    let after = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok((before, after))
}
