//! Switchboard's lifecycle engine.
//!
//! It keeps one WhatsApp connection per agent and applies SPEC.md's rules to
//! every change. No Tauri, no JSON: the desktop shell converts the views it
//! publishes.
//!
//! Layout:
//!
//! - [`lifecycle`]: the rules, pure. Statuses, the close-code table, admission,
//!   backoff, settings, and the state machine `(agent, input, now) -> step`.
//! - [`clock`]: wall-clock time as an input ([`clock::Clock`]).
//! - [`store`]: SQLite through `rusqlite` and the numbered `migrations/`,
//!   with a database thread that groups commits ([`store::writer`]).
pub mod clock;
pub mod lifecycle;
pub mod store;
pub mod connector;
pub mod error;
pub mod simulator;
pub mod supervisor;
pub mod logging;
pub mod qr;
