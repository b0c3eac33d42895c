//! Command arguments that fail with a typed error.
//!
//! Tauri reports an argument that does not deserialise as a bare string. An
//! [`Arg`] turns that into `{kind: "invalid_payload", message}` like every
//! other error, so the UI has one error shape to handle.

use serde::de::DeserializeOwned;
use tauri::Runtime;
use tauri::ipc::{CommandArg, CommandItem, InvokeError};

use crate::error::IpcError;

/// One command argument of type `T`.
pub struct Arg<T>(pub T);

impl<'de, R: Runtime, T: DeserializeOwned> CommandArg<'de, R> for Arg<T> {
    fn from_command(command: CommandItem<'de, R>) -> Result<Self, InvokeError> {
        let (name, key) = (command.name, command.key);
        T::deserialize(command).map(Arg).map_err(|err| {
            IpcError::new("invalid_payload", format!("invalid argument `{key}` for `{name}`: {err}")).into()
        })
    }
}
