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
pub mod clock;
pub mod lifecycle;
