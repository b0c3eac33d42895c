//! The WhatsApp credentials' protection at start (P-7): the gate the engine
//! waits at until the installation's key is known.
//!
//! In real mode the engine's start first looks at the installation
//! ([`Vault::open`], on a blocking thread: the keyring is a D-Bus call that
//! a locked keyring may hold while it asks the person). It then waits here
//! until the key is known: at once with a keyring or in unencrypted mode;
//! after the window's unlock or first choice otherwise. The window asks
//! [`CredentialsGate::settled`] before it subscribes, so it can show the
//! passphrase or choice screen while the engine waits.

use std::sync::Arc;
use std::time::Duration;

use switchboard_whatsapp::protection::{KeyVault, Opening, ProtectionError, Unlocked, Vault};
use tokio::sync::watch;

use crate::error::IpcError;

/// How long the first start's look at the keyring may take before the
/// person is asked instead (a keyring that never answers must not hold the app).
const KEYRING_LIMIT: Duration = Duration::from_secs(20);
/// How long a later start waits for the keyring that holds the key: a
/// locked keyring asks for its own password meanwhile, and that takes a person.
const KEYRING_UNLOCK_LIMIT: Duration = Duration::from_secs(300);

/// Where the start stands.
#[derive(Debug, Clone, PartialEq)]
pub enum GateState {
    /// Looking at the installation.
    Opening,
    /// Passphrase mode: waiting for the person's passphrase.
    NeedsPassphrase,
    /// The first start without a keyring: waiting for the person's choice.
    NeedsChoice { keyring_problem: String },
    /// The key is known (or the person chose none).
    Ready(Unlocked),
    /// The credentials cannot be opened; the window shows why.
    Failed(IpcError),
}

/// What the person chose at the first start without a keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Passphrase(String),
    Unencrypted,
}

pub struct CredentialsGate {
    vault: Vault,
    /// The desktop keyring in the app; tests give one of their own.
    keyring: Arc<dyn KeyVault>,
    state: watch::Sender<GateState>,
    /// One person's action at a time (two windows' clicks must not both write the choice).
    acting: tokio::sync::Mutex<()>,
}

impl CredentialsGate {
    pub fn new(vault: Vault, keyring: Arc<dyn KeyVault>) -> CredentialsGate {
        CredentialsGate {
            vault,
            keyring,
            state: watch::Sender::new(GateState::Opening),
            acting: tokio::sync::Mutex::new(()),
        }
    }

    /// Looks at the installation and settles what it can without the person.
    pub async fn open(&self) {
        let (vault, keyring) = (self.vault.clone(), self.keyring.clone());
        let first_start = matches!(self.vault.protection(), Ok(None));
        let limit = if first_start { KEYRING_LIMIT } else { KEYRING_UNLOCK_LIMIT };
        let looked =
            tokio::time::timeout(limit, tokio::task::spawn_blocking(move || vault.open(keyring.as_ref()))).await;
        let state = match looked {
            Ok(Ok(Ok(Opening::Open(unlocked)))) => GateState::Ready(unlocked),
            Ok(Ok(Ok(Opening::NeedsPassphrase))) => GateState::NeedsPassphrase,
            Ok(Ok(Ok(Opening::NeedsChoice { keyring_problem }))) => GateState::NeedsChoice { keyring_problem },
            Ok(Ok(Err(err))) => GateState::Failed(ipc_error(&err)),
            Ok(Err(panicked)) => GateState::Failed(IpcError::new("credentials_files", panicked.to_string())),
            // First start: a keyring that does not answer is no keyring.
            Err(_) if first_start => GateState::NeedsChoice {
                keyring_problem: format!("the desktop keyring did not answer within {} s", limit.as_secs()),
            },
            Err(_) => GateState::Failed(ipc_error(&ProtectionError::KeyringUnavailable(format!(
                "no answer within {} minutes",
                limit.as_secs() / 60
            )))),
        };
        if let GateState::Failed(err) = &state {
            tracing::error!("the WhatsApp credentials cannot be opened: {}", err.message);
        }
        self.state.send_replace(state);
    }

    /// Waits until the key is known; the engine starts after it.
    pub async fn ready(&self) -> Result<Unlocked, IpcError> {
        let mut state = self.state.subscribe();
        let settled = state.wait_for(|s| matches!(s, GateState::Ready(_) | GateState::Failed(_))).await;
        match settled.as_deref() {
            Ok(GateState::Ready(unlocked)) => Ok(unlocked.clone()),
            Ok(GateState::Failed(err)) => Err(err.clone()),
            _ => Err(IpcError::new("credentials_files", "the app is closing")),
        }
    }

    /// Whether the start waits for the person (a passphrase, the first choice).
    pub fn waits_for_person(&self) -> bool {
        matches!(*self.state.borrow(), GateState::NeedsPassphrase | GateState::NeedsChoice { .. })
    }

    /// Where the start stands once the installation was looked at.
    pub async fn settled(&self) -> GateState {
        let mut state = self.state.subscribe();
        let settled = state.wait_for(|s| *s != GateState::Opening).await;
        settled.map_or(GateState::Opening, |s| s.clone())
    }

    /// Passphrase mode: a wrong passphrase is an error and changes nothing.
    pub async fn unlock(&self, passphrase: String) -> Result<(), IpcError> {
        // A command that comes while the installation is still looked at waits for that look.
        self.settled().await;
        let _acting = self.acting.lock().await;
        if *self.state.borrow() != GateState::NeedsPassphrase {
            return Err(IpcError::new("not_locked", "the credentials are not waiting for a passphrase"));
        }
        let vault = self.vault.clone();
        let unlocked = blocking(move || vault.unlock(&passphrase)).await?;
        tracing::info!("the WhatsApp credentials were unlocked with the passphrase");
        self.state.send_replace(GateState::Ready(unlocked));
        Ok(())
    }

    /// The first start without a keyring: the person's choice, recorded.
    pub async fn choose(&self, choice: Choice) -> Result<(), IpcError> {
        self.settled().await;
        let _acting = self.acting.lock().await;
        if !matches!(*self.state.borrow(), GateState::NeedsChoice { .. }) {
            return Err(IpcError::new("not_locked", "the credentials' protection is chosen already"));
        }
        let vault = self.vault.clone();
        let unlocked = blocking(move || match choice {
            Choice::Passphrase(passphrase) => vault.choose_passphrase(&passphrase),
            Choice::Unencrypted => vault.choose_unencrypted(),
        })
        .await?;
        tracing::warn!(protection = ?unlocked.protection, "the person chose how to keep the WhatsApp credentials");
        self.state.send_replace(GateState::Ready(unlocked));
        Ok(())
    }
}

async fn blocking(
    work: impl FnOnce() -> Result<Unlocked, ProtectionError> + Send + 'static,
) -> Result<Unlocked, IpcError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(|err| ipc_error(&err)),
        Err(panicked) => Err(IpcError::new("credentials_files", panicked.to_string())),
    }
}

/// A protection error as the window gets it: a stable kind and the words.
pub fn ipc_error(err: &ProtectionError) -> IpcError {
    let kind = match err {
        ProtectionError::WrongPassphrase => "wrong_passphrase",
        ProtectionError::PassphraseTooShort => "invalid_passphrase",
        ProtectionError::KeyringUnavailable(_) => "keyring_unavailable",
        ProtectionError::KeyMissing(_) | ProtectionError::KeyRecordMissing(_) => "key_missing",
        ProtectionError::WrongKey => "wrong_key",
        ProtectionError::AlreadyChosen(_) => "not_locked",
        ProtectionError::BadMarker { .. } | ProtectionError::Files { .. } => "credentials_files",
    };
    IpcError::new(kind, err.to_string())
}
