//! The errors the engine's commands return. Each has a stable `kind` for IPC.

use thiserror::Error;

use crate::connector::ConnectorError;
use crate::lifecycle::{AgentId, NameError, SettingsError};
use crate::store::StoreError;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("invalid name: {0}")]
    InvalidName(#[from] NameError),
    #[error("an agent named {0:?} already exists (names are compared regardless of case)")]
    DuplicateName(String),
    #[error("no agent with id {0}")]
    UnknownAgent(AgentId),
    #[error("invalid setting: {0}")]
    InvalidSetting(#[from] SettingsError),
    #[error("invalid phone number {0:?}: give the full number with country code, 7 to 15 digits")]
    InvalidPhone(String),
    #[error("no QR pairing is in progress for this agent: click Connect first")]
    NotPairing,
    #[error("{0}")]
    Connector(#[from] ConnectorError),
    #[error("{0}")]
    Store(StoreError),
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

/// Checks a phone number for linking by code: an optional `+`, then 7–15
/// digits; spaces, dashes and brackets are allowed and dropped. Returns the digits.
pub fn validate_phone(raw: &str) -> Result<String, EngineError> {
    let trimmed = raw.trim();
    let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let mut digits = String::new();
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' => {}
            _ => return Err(EngineError::InvalidPhone(raw.to_owned())),
        }
    }
    if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(EngineError::InvalidPhone(raw.to_owned()));
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised_or_rejected() {
        assert_eq!(validate_phone("+49 151 1234-5678").unwrap(), "4915112345678");
        for bad in ["", "12345", "+49abc1234567", "0151123456789", "1234567890123456"] {
            assert_eq!(validate_phone(bad).unwrap_err().kind(), "invalid_phone", "{bad}");
        }
    }
}
