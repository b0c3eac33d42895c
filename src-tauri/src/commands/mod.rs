//! The IPC commands, grouped by domain. Each is a thin wrapper over the
//! engine: parse arguments ([`crate::args::Arg`]), call, convert.

pub mod agents;
pub mod credentials;
pub mod demo;
pub mod desktop;
pub mod events;
pub mod fleet;
pub mod operators;
pub mod settings;
