//! Errors as they cross IPC: `{kind, message}`, never a bare string.
//! Tauri turns any `Serialize` error into its JSON, so this shape is what the UI receives.

use serde::Serialize;
use switchboard_engine::error::EngineError;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct IpcError {
    /// Stable and machine-readable: the UI branches on it.
    pub kind: String,
    /// Plain words for a person.
    pub message: String,
}

impl IpcError {
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        IpcError { kind: kind.to_owned(), message: message.into() }
    }
}

impl From<EngineError> for IpcError {
    fn from(err: EngineError) -> Self {
        IpcError::new(err.kind(), err.to_string())
    }
}
