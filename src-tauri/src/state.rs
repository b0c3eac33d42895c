//! What the app holds while it runs: the engine (or why it could not start),
//! the demo simulator, and the task that forwards engine events to the UI.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use std::time::Duration;

use switchboard_engine::clock::SystemClock;
use switchboard_engine::connector::Connector;
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::supervisor::{Options, Supervisor};
use switchboard_whatsapp::protection::{DesktopKeyring, KeyVault, Protection, StoreKey, Vault, encrypt_plain_stores};
use switchboard_whatsapp::store_files::StoreFiles;
use switchboard_whatsapp::{ServerOptions, WhatsAppConnector};

use crate::credentials::CredentialsGate;

use crate::desktop::Preferences;
use crate::dto::UiEvent;
use crate::error::IpcError;

/// How the app was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Run on the simulated WhatsApp.
    pub demo: bool,
    /// Where the database, logs and credentials live.
    pub data_dir: PathBuf,
}

impl Config {
    /// The database file: demo agents never mix with real ones.
    pub fn database(&self) -> PathBuf {
        self.data_dir.join(if self.demo { "demo.db" } else { "switchboard.db" })
    }

    /// Where each agent's WhatsApp credentials store lives (0700, files 0600).
    pub fn credentials_dir(&self) -> PathBuf {
        self.data_dir.join("whatsapp")
    }
}

/// Which WhatsApp the engine talks to, holding what the app needs of it.
#[derive(Clone)]
pub enum Mode {
    /// The simulated WhatsApp (`--demo`), for the "Simulate" actions.
    Demo(SimulatedWhatsApp),
    /// Real WhatsApp, held to let its clients flush their stores at exit.
    Real(WhatsAppConnector),
}

/// The running engine.
pub struct Engine {
    pub supervisor: Supervisor,
    pub mode: Mode,
    /// How the WhatsApp credentials are kept (P-7); `None` in demo mode, which has none.
    pub protection: Option<Protection>,
}

/// How long the exit waits for WhatsApp clients to close (they flush their stores).
const CLIENT_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// Shown to staff in real mode: the risk they take, in plain words.
pub const UNOFFICIAL_CLIENT_WARNING: &str = "Switchboard is not an official WhatsApp client. WhatsApp may restrict or ban accounts that use unofficial clients; link only accounts whose owners accept that risk.";

pub struct AppState {
    pub config: Config,
    /// Started once, by the first to ask (the app, at launch); everyone else waits for it.
    engine: tokio::sync::OnceCell<Result<Engine, IpcError>>,
    /// The task forwarding engine events to the window; replaced when the UI
    /// subscribes again (a reload), stopped at exit.
    pub forwarder: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
    /// Demo mode: the timer that ends a simulated outage (F-1…F-3 to practise).
    pub simulated_outage_end: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
    /// The window's event channel, for what the shell itself must ask it
    /// (whether to quit); replaced when the UI subscribes again.
    pub ui: Mutex<Option<tauri::ipc::Channel<Vec<UiEvent>>>>,
    /// Each agent's last QR image, rendered when asked for.
    pub qr_images: crate::qr::QrImages,
    /// Real mode: the credentials' key, which the engine waits for (P-7).
    pub credentials: Option<CredentialsGate>,
}

/// The desktop side: whether a tray shows the app, and the remembered choices.
pub struct DesktopState {
    pub data_dir: PathBuf,
    /// A tray icon is shown: closing the window can hide it.
    pub tray: std::sync::atomic::AtomicBool,
    pub prefs: Mutex<Preferences>,
}

impl DesktopState {
    pub fn new(data_dir: PathBuf) -> DesktopState {
        let prefs = Preferences::load(&data_dir).unwrap_or_else(|err| {
            tracing::warn!("{err}");
            Preferences::default()
        });
        DesktopState { data_dir, tray: std::sync::atomic::AtomicBool::new(false), prefs: Mutex::new(prefs) }
    }

    pub fn has_tray(&self) -> bool {
        self.tray.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn prefs(&self) -> Preferences {
        self.prefs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Changes the preferences and saves them; memory follows only a successful save.
    pub fn change(&self, f: impl FnOnce(&mut Preferences)) -> Result<(), IpcError> {
        let mut prefs = self.prefs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut changed = prefs.clone();
        f(&mut changed);
        changed.save(&self.data_dir).map_err(|err| IpcError::new("preferences", err.to_string()))?;
        *prefs = changed;
        Ok(())
    }
}

impl AppState {
    /// Sends `event` to the window, if it is subscribed.
    pub fn tell_window(&self, event: UiEvent) -> bool {
        let ui = self.ui.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ui.as_ref().is_some_and(|channel| channel.send(vec![event]).is_ok())
    }
}

impl AppState {
    /// The app on `config`, its engine not started yet: [`AppState::engine`]
    /// starts it, or waits for the start under way. The app asks for it at
    /// launch in the background, so the engine loads its agents while the
    /// window loads its page.
    pub fn new(config: Config) -> AppState {
        let keyring = Arc::new(DesktopKeyring::for_data_dir(&config.data_dir));
        AppState::with_keyring(config, keyring)
    }

    /// [`AppState::new`] with the credentials' key kept in `keyring` instead of the desktop's.
    pub fn with_keyring(config: Config, keyring: Arc<dyn KeyVault>) -> AppState {
        let credentials = (!config.demo).then(|| CredentialsGate::new(Vault::new(config.credentials_dir()), keyring));
        AppState {
            credentials,
            config,
            engine: tokio::sync::OnceCell::new(),
            forwarder: Mutex::new(None),
            simulated_outage_end: Mutex::new(None),
            ui: Mutex::new(None),
            qr_images: crate::qr::QrImages::default(),
        }
    }

    /// The app with its engine started (or failed). Must run inside the async runtime.
    pub async fn start(config: Config) -> AppState {
        let state = AppState::new(config);
        let _ = state.engine().await;
        state
    }

    /// The running engine, once started; a failure to start is kept, not
    /// raised: the window shows it.
    pub async fn engine(&self) -> Result<&Engine, IpcError> {
        self.engine
            .get_or_init(|| start_engine(&self.config, self.credentials.as_ref()))
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The engine if it has started, without waiting.
    pub fn started_engine(&self) -> Option<&Engine> {
        self.engine.get().and_then(|engine| engine.as_ref().ok())
    }

    /// P-4: stops forwarding, closes every connection without logging out,
    /// and gives the WhatsApp clients a moment to flush their stores.
    pub async fn shutdown(&self) {
        if let Some(task) = self.forwarder.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            task.abort();
        }
        // An engine that waits for the person's passphrase or first choice
        // (P-7) has opened nothing yet: there is nothing to close, and
        // waiting for it would keep the app from ever quitting.
        if self.engine.get().is_none() && self.credentials.as_ref().is_some_and(CredentialsGate::waits_for_person) {
            return;
        }
        // A start under way finishes first, so its tasks and files are closed too.
        if let Ok(engine) = self.engine().await {
            engine.supervisor.shutdown().await;
            if let Mode::Real(whatsapp) = &engine.mode
                && !whatsapp.wait_closed(CLIENT_FLUSH_LIMIT).await
            {
                tracing::warn!("some WhatsApp connections did not close in time");
            }
        }
    }
}

/// Starts the engine on the database of `config`. In real mode it first
/// waits for the credentials' key (P-7) and encrypts any plain store an
/// earlier version left, before any client opens one.
async fn start_engine(config: &Config, credentials: Option<&CredentialsGate>) -> Result<Engine, IpcError> {
    let (mode, protection) = match credentials {
        None => (Mode::Demo(SimulatedWhatsApp::new()), None),
        Some(gate) => {
            gate.open().await;
            let unlocked = gate.ready().await?;
            let files = StoreFiles::with_key(config.credentials_dir(), unlocked.key.clone());
            if let Some(key) = unlocked.key.clone() {
                encrypt_plain_stores_at_start(files.clone(), key).await;
            }
            // The fleet's WhatsApp Web version is kept in the app database (F-7).
            let server = ServerOptions { database: Some(config.database()), ..ServerOptions::default() };
            (Mode::Real(WhatsAppConnector::with_files(files, server)), Some(unlocked.protection))
        }
    };
    let connector: Arc<dyn Connector> = match mode.clone() {
        Mode::Demo(simulated) => Arc::new(simulated),
        Mode::Real(real) => Arc::new(real),
    };
    let options = Options { clock: Arc::new(SystemClock), connector, seed: rand_seed() };
    match Supervisor::start(&config.database(), options).await {
        Ok(supervisor) => Ok(Engine { supervisor, mode, protection }),
        Err(err) => {
            tracing::error!("the engine could not start: {err}");
            Err(IpcError::from(err))
        }
    }
}

/// P-7: encrypts the plain stores an earlier version left. A store that
/// fails stays plain and is encrypted when its agent next starts.
async fn encrypt_plain_stores_at_start(files: StoreFiles, key: StoreKey) {
    let started = std::time::Instant::now();
    let migration = tokio::task::spawn_blocking(move || encrypt_plain_stores(&files, &key)).await;
    match migration {
        Ok(Ok(migration)) => {
            if migration.encrypted > 0 {
                tracing::info!(
                    "encrypted {} plain credentials stores in {:.1} s",
                    migration.encrypted,
                    started.elapsed().as_secs_f64()
                );
            }
            for (path, err) in migration.failed {
                tracing::warn!("could not encrypt {} yet: {err}", path.display());
            }
        }
        Ok(Err(err)) => tracing::warn!("could not list the credentials stores to encrypt them: {err}"),
        Err(panicked) => tracing::error!("encrypting the credentials stores failed: {panicked}"),
    }
}

fn rand_seed() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
}
