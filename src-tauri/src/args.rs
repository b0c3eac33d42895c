//! Command arguments that fail with a typed error.
//!
//! Tauri reports an argument that does not deserialise as a bare string. An
//! [`Arg`] turns that into `{kind: "invalid_payload", message}` like every
//! other error, so the UI has one error shape to handle. [`ChannelArg`] does
//! the same for a channel argument, which Tauri builds itself.

use serde::de::DeserializeOwned;
use tauri::Runtime;
use tauri::ipc::{Channel, CommandArg, CommandItem, InvokeError, IpcResponse};

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

/// A channel argument (the page's `new Channel()`), built by Tauri.
pub struct ChannelArg<T: IpcResponse>(pub Channel<T>);

impl<'de, R: Runtime, T: IpcResponse> CommandArg<'de, R> for ChannelArg<T> {
    fn from_command(command: CommandItem<'de, R>) -> Result<Self, InvokeError> {
        let (name, key) = (command.name, command.key);
        Channel::from_command(command).map(ChannelArg).map_err(|err| {
            let detail = err.0.as_str().map_or_else(|| err.0.to_string(), str::to_owned);
            IpcError::new("invalid_payload", format!("invalid argument `{key}` for `{name}`: {detail}")).into()
        })
    }
}
