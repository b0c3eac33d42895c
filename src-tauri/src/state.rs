//! What the app holds while it runs: the engine (or why it could not start),
//! the demo simulator, and the task that forwards engine events to the UI.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use std::time::Duration;

use switchboard_engine::clock::SystemClock;
use switchboard_engine::connector::Connector;
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::supervisor::{Options, Supervisor};
use switchboard_whatsapp::WhatsAppConnector;

use crate::dto::ModeDto;
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

/// The running engine.
pub struct Engine {
    pub supervisor: Supervisor,
    /// The simulated WhatsApp in demo mode, for the "Simulate" actions.
    pub simulator: Option<SimulatedWhatsApp>,
    /// The real connector otherwise, to let its clients flush at exit.
    pub whatsapp: Option<WhatsAppConnector>,
    pub mode: ModeDto,
}

/// How long the exit waits for WhatsApp clients to close (they flush their stores).
const CLIENT_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// Shown to staff in real mode: the risk they take, in plain words.
pub const UNOFFICIAL_CLIENT_WARNING: &str = "Switchboard is not an official WhatsApp client. WhatsApp may restrict or ban accounts that use unofficial clients; link only accounts whose owners accept that risk.";

pub struct AppState {
    pub config: Config,
    pub engine: Result<Engine, IpcError>,
    /// The task forwarding engine events to the window; replaced when the UI
    /// subscribes again (a reload), stopped at exit.
    pub forwarder: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
}

impl AppState {
    /// Starts the engine on the database of `config`. Must run inside the
    /// async runtime. A failure is kept, not raised: the window shows it.
    pub async fn start(config: Config) -> AppState {
        let (connector, simulator, whatsapp, mode): (Arc<dyn Connector>, _, _, _) = if config.demo {
            let sim = SimulatedWhatsApp::new();
            (Arc::new(sim.clone()), Some(sim), None, ModeDto::Demo)
        } else {
            let real = WhatsAppConnector::new(config.credentials_dir());
            (Arc::new(real.clone()), None, Some(real), ModeDto::Real)
        };
        let options = Options { clock: Arc::new(SystemClock), connector, seed: rand_seed() };
        let engine = match Supervisor::start(&config.database(), options).await {
            Ok(supervisor) => Ok(Engine { supervisor, simulator, whatsapp, mode }),
            Err(err) => {
                tracing::error!("the engine could not start: {err}");
                Err(IpcError::from(err))
            }
        };
        AppState { config, engine, forwarder: Mutex::new(None) }
    }

    pub fn engine(&self) -> Result<&Engine, IpcError> {
        self.engine.as_ref().map_err(Clone::clone)
    }

    /// P-4: stops forwarding, closes every connection without logging out,
    /// and gives the WhatsApp clients a moment to flush their stores.
    pub async fn shutdown(&self) {
        if let Some(task) = self.forwarder.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        if let Ok(engine) = &self.engine {
            engine.supervisor.shutdown().await;
            if let Some(whatsapp) = &engine.whatsapp
                && !whatsapp.wait_closed(CLIENT_FLUSH_LIMIT).await
            {
                tracing::warn!("some WhatsApp connections did not close in time");
            }
        }
    }
}

fn rand_seed() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
}
