//! Switchboard's lifecycle engine.
//!
//! It keeps one WhatsApp connection per agent and applies SPEC.md's rules to
//! every change. No Tauri, no JSON: the desktop shell converts the views it
//! publishes.
//!
//! Layout:
//!
//! - [`lifecycle`]: the rules, pure. Statuses, the close-code table, admission,
//!   backoff, settings, names, and the state machine `(agent, input, now) -> step`.
//! - [`supervisor`]: one task per agent that feeds inputs to the machine,
//!   commits each step, performs its effects and publishes views; the
//!   [`supervisor::Supervisor`] handle is the engine's front door.
//! - [`store`]: SQLite through `rusqlite` and the numbered `migrations/`,
//!   with a writer that groups concurrent commits ([`store::writer`]).
//! - [`connector`]: the trait through which the engine talks to WhatsApp;
//!   [`simulator`] is the simulated WhatsApp (demo mode, tests, benchmarks).
//! - [`clock`]: wall-clock time as an input ([`clock::Clock`]).
//! - [`qr`]: QR strings to PNG images. [`logging`]: masked structured logs.
//! - [`error`]: the typed errors of every command, each with a stable kind.
pub mod clock;
pub mod connector;
pub mod error;
pub mod lifecycle;
pub mod logging;
pub mod qr;
pub mod simulator;
pub mod store;
pub mod supervisor;
