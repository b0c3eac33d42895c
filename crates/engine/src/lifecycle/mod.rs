//! The lifecycle rules of `docs/RULES.md` §1–§6 and an agent's health (§10), pure.
//!
//! Nothing here does IO or reads a clock: time comes in as a [`crate::clock::Timestamp`]
//! argument and randomness as an RNG argument, so every rule is a table test.
//!
//! - [`status`]: the seven statuses and their stored names (§1).
//! - [`classify`](mod@classify): the one close-code table (§2).
//! - [`admission`]: connect requests, decided with a rule, a typed block and a reason (§3).
//! - [`backoff`]: retry delays with jitter.
//! - [`settings`]: every duration, with its default and validation.
//! - [`agent`]: the persisted record and the live attempt.
//! - [`name`]: what an agent may be called; [`phone`]: a number to link by code.
//! - [`rule`]: the rules of `docs/RULES.md` as a type.
//! - [`health`]: an agent's health figures, flapping and ban risk, from its history (H-1–H-3).
//! - [`machine`]: the state machine that ties them together.

pub mod admission;
pub mod agent;
pub mod backoff;
pub mod classify;
pub mod health;
pub mod machine;
pub mod name;
pub mod phone;
pub mod rule;
pub mod settings;
pub mod status;

#[cfg(test)]
mod machine_tests;

pub use admission::{BlockKind, Decision, Verdict, admit};
pub use agent::{Agent, AgentId, AgentRecord, Attempt, PasskeyPrompt, Trigger, UnlinkPlan};
pub use classify::{Classification, CloseClass, CloseCode, classify};
pub use health::{AgentHealth, BanRisk, Flapping, HealthHistory, Uptime};
pub use machine::{Effect, FleetNews, HistoryEntry, Input, Situation, Step, step};
pub use name::{MAX_NAME_CHARS, NameError, validate_name};
pub use phone::{PhoneError, validate_phone};
pub use rule::Rule;
pub use settings::{SettingName, Settings, SettingsError};
pub use status::Status;
