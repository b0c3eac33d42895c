//! Logs: masked (O-1), to stderr and to a daily rolling file in the data directory.

use std::path::Path;

use switchboard_engine::logging::Masked;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the file writer flushing; dropped at exit.
pub struct LogGuard(#[allow(dead_code)] Option<WorkerGuard>);

/// How many daily log files are kept.
const KEEP_FILES: usize = 14;

/// Installs the global logger. `RUST_LOG` filters (default `info`).
const DEFAULT_FILTER: &str =
    "warn,switchboard=info,switchboard_app=info,switchboard_engine=info,switchboard_whatsapp=info";

pub fn init(dir: &Path) -> LogGuard {
    // The appender prunes old files by reading the directory, so it must exist first.
    let _ = std::fs::create_dir_all(dir);
    // Our own lines at info; the WhatsApp library's (routed from `log`) only from warn,
    // since at info it narrates every socket and key upload.
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let file = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("switchboard")
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(dir);
    let (file_layer, guard) = match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer().with_ansi(false).with_writer(Masked(writer));
            (Some(layer), Some(guard))
        }
        Err(err) => {
            eprintln!("switchboard: cannot write logs to {}: {err}", dir.display());
            (None, None)
        }
    };
    let stderr_layer = tracing_subscriber::fmt::layer().with_writer(Masked(std::io::stderr));
    let _ = tracing_subscriber::registry().with(filter()).with(stderr_layer).with(file_layer).try_init();
    LogGuard(guard)
}
