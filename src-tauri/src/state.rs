//! What the app holds while it runs: the engine (or why it could not start),
//! the demo simulator, and the task that forwards engine events to the UI.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use switchboard_engine::clock::SystemClock;
use switchboard_engine::connector::{Connection, Connector, ConnectorError, EventSink, StartRequest};
use switchboard_engine::lifecycle::AgentId;
use switchboard_engine::simulator::SimulatedWhatsApp;
use switchboard_engine::supervisor::{Options, Supervisor};

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
}

/// The running engine.
pub struct Engine {
    pub supervisor: Supervisor,
    /// The simulated WhatsApp in demo mode, for the "Simulate" actions.
    pub simulator: Option<SimulatedWhatsApp>,
    pub mode: ModeDto,
}

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
        let (connector, simulator, mode): (Arc<dyn Connector>, _, _) = if config.demo {
            let sim = SimulatedWhatsApp::new();
            (Arc::new(sim.clone()), Some(sim), ModeDto::Demo)
        } else {
            (Arc::new(RealUnavailable), None, ModeDto::Unavailable)
        };
        let options = Options { clock: Arc::new(SystemClock), connector, seed: rand_seed() };
        let engine = match Supervisor::start(&config.database(), options).await {
            Ok(supervisor) => Ok(Engine { supervisor, simulator, mode }),
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

    /// P-4: stops forwarding, closes every connection without logging out.
    pub async fn shutdown(&self) {
        if let Some(task) = self.forwarder.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        if let Ok(engine) = &self.engine {
            engine.supervisor.shutdown().await;
        }
    }
}

fn rand_seed() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
}

/// The connector of a build without real WhatsApp connections: it says so
/// plainly instead of pretending. The UI shows the same words and does not
/// send connect requests in this mode.
pub struct RealUnavailable;

pub const REAL_UNAVAILABLE: &str =
    "Real WhatsApp connections are not available in this build yet. Start Switchboard with --demo to practise.";

impl Connector for RealUnavailable {
    fn start(&self, _: StartRequest, _: EventSink) -> Result<Box<dyn Connection>, ConnectorError> {
        Err(ConnectorError::Other(REAL_UNAVAILABLE.into()))
    }

    fn has_credentials(&self, _: AgentId) -> bool {
        false
    }

    fn forget_credentials(&self, _: AgentId) -> Result<(), ConnectorError> {
        Ok(())
    }
}
