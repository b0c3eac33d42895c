//! Switchboard's desktop shell: Tauri 2 over the lifecycle engine.
//!
//! Thin by design: commands are one-line wrappers over the engine's
//! [`Supervisor`](switchboard_engine::supervisor::Supervisor), grouped by
//! domain in [`commands`]; [`dto`] is the only place that knows JSON;
//! [`state`] holds the running engine. What people see is drawn here, not in
//! the engine: [`qr`] renders QR strings as PNG images and [`display`]
//! masks phone numbers.
//!
//! Layout: [`cli`] reads the command line; [`logs`] sets up masked logs to
//! stderr and a rolling file; [`run`] builds and runs the app.

pub mod args;
pub mod cli;
pub mod commands;
pub mod display;
pub mod dto;
pub mod error;
pub mod logs;
pub mod qr;
pub mod state;

use tauri::{Manager, RunEvent, Runtime};

use crate::state::AppState;

/// Registers every command. Shared by the app and the command tests.
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::events::subscribe,
        commands::agents::add_agent,
        commands::agents::rename_agent,
        commands::agents::remove_agent,
        commands::agents::connect_agent,
        commands::agents::disconnect_agent,
        commands::agents::request_pair_code,
        commands::agents::agent_history,
        commands::agents::agent_health,
        commands::settings::get_settings,
        commands::settings::update_settings,
        commands::demo::simulate,
        commands::demo::simulate_unreachable,
        commands::fleet::try_now,
    ])
}

/// Runs the desktop app until its window closes.
pub fn run() {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("switchboard: {message}\n\n{}", cli::USAGE);
            std::process::exit(2);
        }
    };
    if options.help {
        println!("{}", cli::USAGE);
        return;
    }
    if options.version {
        println!("{}", cli::version_line());
        return;
    }
    let app = with_commands(tauri::Builder::default())
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            // A second launch brings the running window forward instead.
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(tauri_plugin_notification::init())
        .setup(move |app| {
            let data_dir = match options.data_dir.clone() {
                Some(dir) => dir,
                None => app.path().app_data_dir()?,
            };
            cli::prepare_data_dir(&data_dir)?;
            let guard = logs::init(&data_dir.join("logs"));
            app.manage(guard);
            let config = state::Config { demo: options.demo, data_dir };
            tracing::info!(demo = config.demo, data_dir = %config.data_dir.display(), "Switchboard starting");
            match switchboard_whatsapp::raise_open_file_limit() {
                Ok((before, after)) => tracing::info!("open-file limit {before}, raised to {after}"),
                Err(err) => tracing::warn!("could not raise the open-file limit: {err}"),
            }
            let state = tauri::async_runtime::block_on(AppState::start(config));
            app.manage(state);
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("building the Tauri app");
    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            // P-4: close connections without logging out, so they resume next time.
            if let Some(state) = handle.try_state::<AppState>() {
                tauri::async_runtime::block_on(state.shutdown());
            }
            tracing::info!("Switchboard stopped");
        }
    });
}
