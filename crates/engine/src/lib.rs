//! Switchboard's lifecycle engine.
//!
//! It keeps one WhatsApp connection per agent and applies the rules of
//! `docs/RULES.md` to every change. No Tauri, no JSON, no pictures: the
//! desktop shell converts and draws the views it publishes.
//!
//! Layout:
//!
//! - [`lifecycle`]: the rules, pure. Statuses, the close-code table, admission,
//!   backoff, settings, names, and the state machine `(agent, input, now) -> step`.
//! - [`fleet`]: the fleet's rules, pure: outages, held retries, probes (F-1…F-3).
//! - [`supervisor`]: one task per agent that feeds inputs to the machine,
//!   commits each step, performs its effects and publishes views; the
//!   [`supervisor::Supervisor`] handle is the engine's front door.
//! - [`store`]: SQLite through `rusqlite` and the numbered `migrations/`,
//!   with a writer thread that groups concurrent commits.
//! - [`connector`]: the trait through which the engine talks to WhatsApp;
//!   [`simulator`] is the simulated WhatsApp (demo mode, tests, benchmarks).
//! - [`clock`]: time as an input: the wall clock and the time since boot
//!   ([`clock::Clock`]), and the engine's own time on them ([`clock::Timeline`], F-5).
//! - [`logging`]: masked structured logs, each history entry logged after its commit.
//! - [`error`]: the typed errors of every command, each with a stable kind.
#![warn(missing_docs)]

pub mod audit;
pub mod clock;
pub mod connector;
pub mod error;
pub mod fleet;
pub mod lifecycle;
pub mod logging;
pub mod simulator;
pub mod store;
pub mod supervisor;
