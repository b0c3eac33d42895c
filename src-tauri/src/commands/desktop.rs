//! The desktop side: the About line, start at login, what closing the
//! window does, and quitting.

use tauri::{AppHandle, Manager, Runtime, State};
use tauri_plugin_autostart::ManagerExt;

use crate::args::Arg;
use crate::desktop::CloseAction;
use crate::dto::DesktopDto;
use crate::error::IpcError;
use crate::state::DesktopState;

fn autostart_error(err: impl std::fmt::Display) -> IpcError {
    IpcError::new("autostart", format!("could not change the login item: {err}"))
}

/// What the settings dialog shows of the desktop side.
#[tauri::command]
pub async fn desktop_info<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, DesktopState>,
) -> Result<DesktopDto, IpcError> {
    Ok(DesktopDto {
        version: crate::cli::version_line(),
        tray: desktop.has_tray(),
        close_action: desktop.prefs().close_action,
        // No login item is the same as "off": the person can turn it on.
        autostart: app.autolaunch().is_enabled().unwrap_or(false),
    })
}

/// Starts Switchboard (minimised to the tray) when the person logs in, or not.
#[tauri::command]
pub async fn set_autostart<R: Runtime>(app: AppHandle<R>, enabled: Arg<bool>) -> Result<bool, IpcError> {
    // The plugin creates `~/.config/autostart` but not `~/.config`, which a
    // fresh account may not have yet: make sure the whole path exists.
    #[cfg(target_os = "linux")]
    if enabled.0 {
        let dir = app.path().home_dir().map_err(autostart_error)?.join(".config/autostart");
        std::fs::create_dir_all(&dir).map_err(autostart_error)?;
    }
    let launcher = app.autolaunch();
    if enabled.0 { launcher.enable() } else { launcher.disable() }.map_err(autostart_error)?;
    let now = launcher.is_enabled().map_err(autostart_error)?;
    tracing::info!(enabled = now, "start at login changed");
    Ok(now)
}

/// What closing the window does from now on.
#[tauri::command]
pub async fn set_close_action(desktop: State<'_, DesktopState>, action: Arg<CloseAction>) -> Result<(), IpcError> {
    desktop.change(|prefs| prefs.close_action = action.0)
}

/// The answer to "quit or keep running?" after a close without a tray.
#[tauri::command]
pub async fn answer_close<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, DesktopState>,
    keep_running: Arg<bool>,
    remember: Arg<bool>,
) -> Result<(), IpcError> {
    let action = if keep_running.0 { CloseAction::KeepRunning } else { CloseAction::Quit };
    if remember.0 {
        desktop.change(|prefs| prefs.close_action = action)?;
    }
    if keep_running.0 {
        if let Some(window) = app.get_webview_window("main") {
            let _ = window.minimize();
        }
    } else {
        app.exit(0);
    }
    Ok(())
}

/// Quits (Ctrl+Q): every connection closes without logging out (P-4).
#[tauri::command]
pub async fn quit_app<R: Runtime>(app: AppHandle<R>) -> Result<(), IpcError> {
    tracing::info!("quit asked from the window");
    app.exit(0);
    Ok(())
}
