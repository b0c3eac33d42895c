//! The WhatsApp credentials' protection (P-7): where the start stands, the
//! passphrase at each start, and the first choice without a keyring.

use tauri::State;

use crate::args::Arg;
use crate::credentials::{Choice, GateState};
use crate::dto::{CredentialsStateDto, ProtectionChoiceDto, ProtectionDto};
use crate::error::IpcError;
use crate::state::AppState;

/// Where the credentials stand; waits while the installation is looked at
/// (the keyring may take a moment), never for the person.
#[tauri::command]
pub async fn credentials_state(state: State<'_, AppState>) -> Result<CredentialsStateDto, IpcError> {
    let Some(gate) = &state.credentials else {
        return Ok(CredentialsStateDto::Ready { protection: ProtectionDto::NotNeeded });
    };
    Ok(match gate.settled().await {
        GateState::Ready(unlocked) => CredentialsStateDto::Ready { protection: unlocked.protection.into() },
        GateState::NeedsPassphrase => CredentialsStateDto::NeedsPassphrase,
        GateState::NeedsChoice { keyring_problem } => CredentialsStateDto::NeedsChoice { keyring_problem },
        GateState::Failed(error) => CredentialsStateDto::Failed { error },
        GateState::Opening => {
            CredentialsStateDto::Failed { error: IpcError::new("credentials_files", "the app is closing") }
        }
    })
}

/// Passphrase mode: opens the credentials; a wrong passphrase is `wrong_passphrase` and changes nothing.
#[tauri::command]
pub async fn unlock_credentials(state: State<'_, AppState>, passphrase: Arg<String>) -> Result<(), IpcError> {
    gate(&state)?.unlock(passphrase.0).await
}

/// The first start without a keyring: a passphrase, or explicitly no encryption.
#[tauri::command]
pub async fn choose_credentials_protection(
    state: State<'_, AppState>,
    choice: Arg<ProtectionChoiceDto>,
) -> Result<(), IpcError> {
    let choice = match choice.0 {
        ProtectionChoiceDto::Passphrase { passphrase } => Choice::Passphrase(passphrase),
        ProtectionChoiceDto::Unencrypted => Choice::Unencrypted,
    };
    gate(&state)?.choose(choice).await
}

fn gate(state: &AppState) -> Result<&crate::credentials::CredentialsGate, IpcError> {
    state.credentials.as_ref().ok_or_else(|| IpcError::new("not_locked", "demo mode keeps no WhatsApp credentials"))
}
