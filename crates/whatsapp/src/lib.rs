//! Switchboard's real WhatsApp connector, on the `whatsapp-rust` crate.
//!
//! [`WhatsAppConnector`] implements the engine's `Connector`: one
//! whatsapp-rust client per attempt, on a credentials store per agent
//! ([`store_files`]), with the library's own reconnect turned off so that
//! every end of a connection comes back to the engine, which applies RULES.md §2
//! and §5. [`mapping`] holds the one table from the library's events to the
//! engine's close codes.

pub mod connector;
pub mod mapping;
pub mod store_files;

pub use connector::{ServerOptions, WhatsAppConnector};
