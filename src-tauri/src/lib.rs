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
//! stderr and a rolling file; [`desktop`] decides what closing the window
//! does and what the [`tray`] shows; [`run`] builds and runs the app.

pub mod args;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod desktop;
pub mod display;
pub mod dto;
pub mod error;
pub mod logs;
pub mod qr;
pub mod state;
pub mod tray;

use tauri::{Manager, RunEvent, Runtime, WindowEvent};

use crate::desktop::CloseDecision;
use crate::state::{AppState, DesktopState};

/// Registers every command. Shared by the app and the command tests.
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::events::subscribe,
        commands::credentials::credentials_state,
        commands::credentials::unlock_credentials,
        commands::credentials::choose_credentials_protection,
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
        commands::demo::simulate_churn,
        commands::agents::qr_image,
        commands::fleet::try_now,
        commands::fleet::pause_reconnects,
        commands::desktop::desktop_info,
        commands::desktop::set_autostart,
        commands::desktop::set_close_action,
        commands::desktop::answer_close,
        commands::desktop::quit_app,
        commands::operators::bulk_action,
        commands::operators::audit_log,
        commands::operators::save_csv,
    ])
}

/// Carries out the close rule ([`desktop::close_decision`]); returns
/// whether the window stays (the close is prevented).
fn on_close_requested<R: Runtime>(app: &tauri::AppHandle<R>) -> bool {
    // On the unlock or first-choice screen (P-7) nothing runs yet: closing quits.
    if app.state::<AppState>().credentials.as_ref().is_some_and(credentials::CredentialsGate::waits_for_person) {
        app.exit(0);
        return true;
    }
    let desktop = app.state::<DesktopState>();
    let window = app.get_webview_window("main");
    match desktop::close_decision(desktop.has_tray(), &desktop.prefs()) {
        CloseDecision::Quit => {
            app.exit(0);
            true
        }
        CloseDecision::Hide { tell } => {
            if let Some(window) = window {
                let _ = window.hide();
            }
            if tell {
                tell_still_running(app);
                if let Err(err) = desktop.change(|prefs| prefs.close_notice_shown = true) {
                    tracing::warn!("{}", err.message);
                }
            }
            true
        }
        CloseDecision::Minimize => {
            if let Some(window) = window {
                let _ = window.minimize();
            }
            true
        }
        CloseDecision::Ask => {
            let asked = app.state::<AppState>().tell_window(dto::UiEvent::CloseAsked);
            if !asked {
                // No window to ask in (it never subscribed): keep running, minimised.
                if let Some(window) = window {
                    let _ = window.minimize();
                }
            }
            true
        }
    }
}

/// The first hide: a notification says the app keeps running, and how to quit.
fn tell_still_running<R: Runtime>(app: &tauri::AppHandle<R>) {
    use tauri_plugin_notification::NotificationExt;
    let shown = app
        .notification()
        .builder()
        .title("Switchboard keeps running")
        .body(
            "Your WhatsApp connections stay up. Open the window from the tray icon; quit from its menu or with Ctrl+Q.",
        )
        .show();
    if let Err(err) = shown {
        tracing::warn!("could not show the notification: {err}");
    }
}

/// Runs the desktop app until it is quit (closing the window only hides it).
pub fn run() {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("switchboard: {message}\n\n{}", cli::USAGE);
            std::process::exit(2);
        }
    };
    match options.print {
        Some(cli::Print::Help) => return println!("{}", cli::USAGE),
        Some(cli::Print::Version) => return println!("{}", cli::version_line()),
        None => {}
    }
    let app = with_commands(tauri::Builder::default())
        // A second launch brings the running window forward, hidden or not.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tracing::info!("Switchboard was launched again: showing its window");
            tray::show_window(app);
        }))
        .plugin(tauri_plugin_notification::init())
        // Only `save_csv` opens it; the window holds no dialog permission.
        .plugin(tauri_plugin_dialog::init())
        // The login item starts Switchboard hidden, in the tray.
        .plugin(tauri_plugin_autostart::Builder::new().args(["--minimized"]).app_name("Switchboard").build())
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                if on_close_requested(window.app_handle()) {
                    api.prevent_close();
                }
            }
        })
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
            let desktop = DesktopState::new(config.data_dir.clone());
            let tray = tray::build(app.handle());
            desktop.tray.store(tray.is_some(), std::sync::atomic::Ordering::SeqCst);
            app.manage(desktop);
            app.manage(AppState::new(config));
            // The engine loads its agents while the window loads its page (with
            // 10,000 agents that takes half a second); the window's first
            // command waits for it.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let state = handle.state::<AppState>();
                if let (Ok(engine), Some(tray)) = (state.engine().await, tray) {
                    tauri::async_runtime::spawn(tray::follow(tray, engine.supervisor.clone()));
                }
            });
            if options.minimized {
                if let Some(window) = app.get_webview_window("main") {
                    // With a tray, hidden; without one, minimised (nothing could show it again).
                    let _ = if app.state::<DesktopState>().has_tray() { window.hide() } else { window.minimize() };
                }
            }
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
