//! The errors the engine's commands return. Each has a stable `kind` for IPC.

use thiserror::Error;

use crate::connector::ConnectorError;
use crate::lifecycle::{AgentId, NameError, PhoneError, SettingsError};
use crate::store::StoreError;

/// Why a command of the engine failed; shown to the person who gave it.
#[derive(Debug, Error)]
pub enum EngineError {
    /// An added or renamed agent's name was empty, too long or held a control character.
    #[error("invalid name: {0}")]
    InvalidName(#[from] NameError),
    /// Another agent already has this name, ignoring case.
    #[error("an agent named “{0}” already exists (names are compared regardless of case)")]
    DuplicateName(String),
    /// The command named an agent that does not exist (or was just removed).
    #[error("no agent with id {0}")]
    UnknownAgent(AgentId),
    /// A settings change was out of range or named an unknown key; nothing was saved.
    #[error("invalid setting: {0}")]
    InvalidSetting(#[from] SettingsError),
    /// The number typed for linking by phone number is not usable.
    #[error("{0}")]
    InvalidPhone(#[from] PhoneError),
    /// A pairing code was asked for while no QR is shown.
    #[error("no QR pairing is in progress for this agent: click Connect first")]
    NotPairing,
    /// The connector refused or failed, e.g. WhatsApp declined a pairing code.
    #[error("{0}")]
    Connector(#[from] ConnectorError),
    /// The database could not be opened, read or written.
    #[error("{0}")]
    Store(StoreError),
    /// The command arrived after shutdown began, or its agent task had already stopped.
    #[error("Switchboard is shutting down")]
    ShuttingDown,
}

impl From<StoreError> for EngineError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::DuplicateName(name) => EngineError::DuplicateName(name),
            StoreError::NoSuchAgent(id) => EngineError::UnknownAgent(AgentId(id)),
            other => EngineError::Store(other),
        }
    }
}

impl EngineError {
    /// A stable, machine-readable name for the UI (`{kind, message}` over IPC).
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::InvalidName(_) => "invalid_name",
            EngineError::DuplicateName(_) => "duplicate_name",
            EngineError::UnknownAgent(_) => "unknown_agent",
            EngineError::InvalidSetting(_) => "invalid_setting",
            EngineError::InvalidPhone(_) => "invalid_phone",
            EngineError::NotPairing => "not_pairing",
            EngineError::Connector(_) => "connector",
            EngineError::Store(StoreError::SchemaTooNew { .. }) => "schema_too_new",
            EngineError::Store(_) => "database",
            EngineError::ShuttingDown => "shutting_down",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::validate_phone;

    #[test]
    fn names_in_messages_read_exactly_as_typed() {
        let name = "SUPPORT 🚀👩🏽\u{200d}💻 \"night\"";
        let message = EngineError::DuplicateName(name.to_owned()).to_string();
        assert!(message.contains(&format!("“{name}”")), "{message}");
        assert!(!message.contains("\\u{"), "{message}");
        let message = EngineError::from(StoreError::DuplicateName(name.to_owned())).to_string();
        assert!(message.contains(name), "{message}");
    }

    #[test]
    fn a_bad_phone_number_is_its_own_kind() {
        assert_eq!(EngineError::from(validate_phone("12").unwrap_err()).kind(), "invalid_phone");
    }
}
