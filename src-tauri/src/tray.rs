//! The tray icon: the fleet at a glance while the window is hidden.
//!
//! Tray tooltips and clicks do not work on Linux (libappindicator), so
//! everything is in the menu: read-only lines with the counts, "Show
//! Switchboard", "Pause all automatic reconnects" (or "Resume" while
//! paused) and "Quit". The picture is the app's icon with a dot: green
//! when all is well, amber when an agent needs attention, red in an outage.
//! Counts are refreshed at most once a second, whatever the fleet's churn.

use std::time::Duration;

use image::{Rgba, RgbaImage};
use switchboard_engine::supervisor::Supervisor;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use crate::desktop::{FleetSummary, TrayLook};

/// The app's icon the tray draws on.
const BASE_ICON: &[u8] = include_bytes!("../../icons/128x128.png");
/// How often the tray may be redrawn.
const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// The menu's read-only lines (see [`FleetSummary::lines`]).
const LINES: usize = 5;

/// Whether this desktop shows tray icons: a StatusNotifierWatcher owns its
/// name on the session bus (KDE, XFCE, Cinnamon, GNOME with the AppIndicator
/// extension). Stock GNOME, and a session without a bus, have none.
#[cfg(target_os = "linux")]
pub fn desktop_has_tray() -> bool {
    let owned = || -> zbus::Result<bool> {
        let bus = zbus::blocking::Connection::session()?;
        let reply = bus.call_method(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            Some("org.freedesktop.DBus"),
            "NameHasOwner",
            &("org.kde.StatusNotifierWatcher",),
        )?;
        reply.body().deserialize::<bool>()
    };
    match owned() {
        Ok(owned) => owned,
        Err(err) => {
            tracing::info!("no tray on this desktop (the session bus says: {err})");
            false
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn desktop_has_tray() -> bool {
    true
}

/// The tray and its menu lines, kept to redraw them.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    lines: Vec<MenuItem<R>>,
    pause: MenuItem<R>,
}

/// The pause item's words: what a click on it does.
fn pause_words(paused: bool) -> &'static str {
    if paused { "Resume automatic reconnects" } else { "Pause all automatic reconnects" }
}

/// Builds the tray. `None` when the desktop has none, or its library
/// (libayatana-appindicator3) is missing: closing the window then asks.
pub fn build<R: Runtime>(app: &AppHandle<R>) -> Option<Tray<R>> {
    if !desktop_has_tray() {
        return None;
    }
    // The library is loaded at run time and panics when it is missing.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| try_build(app))) {
        Ok(Ok(tray)) => Some(tray),
        Ok(Err(err)) => {
            tracing::warn!("could not show the tray icon: {err}");
            None
        }
        Err(_) => {
            tracing::warn!("could not show the tray icon: libayatana-appindicator3 is not installed");
            None
        }
    }
}

fn try_build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Tray<R>> {
    let lines: Vec<MenuItem<R>> = (0..LINES)
        .map(|n| MenuItem::with_id(app, format!("line-{n}"), "…", false, None::<&str>))
        .collect::<tauri::Result<_>>()?;
    let show = MenuItem::with_id(app, "show", "Show Switchboard", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", pause_words(false), true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Switchboard", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let mut items: Vec<&dyn tauri::menu::IsMenuItem<R>> =
        lines.iter().map(|l| l as &dyn tauri::menu::IsMenuItem<R>).collect();
    items.extend([&separator as &dyn tauri::menu::IsMenuItem<R>, &show, &pause, &quit]);
    let menu = Menu::with_items(app, &items)?;
    let icon = TrayIconBuilder::with_id("fleet")
        .icon(picture(TrayLook::AllWell))
        .title("Switchboard")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "show" => show_window(app),
            "pause" => toggle_pause(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    Ok(Tray { icon, lines, pause })
}

/// Pauses every automatic reconnect, or resumes them while paused (F-2, F-3).
fn toggle_pause<R: Runtime>(app: &AppHandle<R>) {
    let Some(state) = app.try_state::<crate::state::AppState>() else { return };
    // Before the engine has started there is nothing to pause.
    let Some(engine) = state.started_engine() else { return };
    let paused = engine.supervisor.outage().is_some_and(|outage| outage.paused);
    tracing::info!(pause = !paused, "automatic reconnects paused or resumed from the tray");
    engine.supervisor.pause_reconnects(!paused);
}

/// Brings the window back (the tray's "Show", a second launch).
pub fn show_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// Keeps the tray in step with the fleet until the engine stops.
pub async fn follow<R: Runtime>(tray: Tray<R>, supervisor: Supervisor) {
    let mut events = supervisor.subscribe();
    let mut shown = None;
    let mut ticks = tokio::time::interval(REFRESH_EVERY);
    loop {
        ticks.tick().await;
        let outage = supervisor.outage();
        let paused = outage.as_ref().is_some_and(|o| o.paused);
        let summary = FleetSummary::of(&supervisor.list(), outage.is_some(), paused);
        if shown.as_ref() != Some(&summary) {
            tray.show(&summary);
            shown = Some(summary);
        }
        // Wait for the next change; a burst of them is drawn once, at the next tick.
        match events.recv().await {
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

impl<R: Runtime> Tray<R> {
    fn show(&self, summary: &FleetSummary) {
        let _ = self.icon.set_icon(Some(picture(summary.look())));
        for (item, line) in self.lines.iter().zip(summary.lines()) {
            let _ = item.set_text(line);
        }
        let _ = self.pause.set_text(pause_words(summary.paused));
    }
}

/// The app's icon with a dot in the corner in the look's colour.
fn picture(look: TrayLook) -> Image<'static> {
    let mut icon = image::load_from_memory(BASE_ICON).expect("the embedded icon is a PNG").into_rgba8();
    let colour = match look {
        TrayLook::AllWell => Rgba([34, 160, 90, 255]),
        TrayLook::NeedsAttention => Rgba([230, 150, 20, 255]),
        TrayLook::Outage => Rgba([210, 45, 45, 255]),
    };
    dot(&mut icon, colour);
    let (width, height) = icon.dimensions();
    Image::new_owned(icon.into_raw(), width, height)
}

/// A filled circle with a white ring in the bottom-right quarter.
fn dot(icon: &mut RgbaImage, colour: Rgba<u8>) {
    let size = icon.width().min(icon.height()) as f32;
    let (radius, ring) = (size * 0.22, size * 0.05);
    let centre = size - radius - ring;
    for (x, y, pixel) in icon.enumerate_pixels_mut() {
        let distance = ((x as f32 + 0.5 - centre).powi(2) + (y as f32 + 0.5 - centre).powi(2)).sqrt();
        if distance <= radius {
            *pixel = colour;
        } else if distance <= radius + ring {
            *pixel = Rgba([255, 255, 255, 255]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three pictures differ where the dot is, and only there.
    #[test]
    fn each_look_has_its_own_dot_on_the_same_icon() {
        let pictures = [TrayLook::AllWell, TrayLook::NeedsAttention, TrayLook::Outage].map(picture);
        let (w, h) = (pictures[0].width(), pictures[0].height());
        let pixel = |image: &Image<'_>, x: u32, y: u32| {
            let at = ((y * w + x) * 4) as usize;
            image.rgba()[at..at + 4].to_vec()
        };
        let centre = (w - w / 4, h - h / 4);
        assert_eq!(pixel(&pictures[0], centre.0, centre.1), [34, 160, 90, 255]);
        assert_eq!(pixel(&pictures[1], centre.0, centre.1), [230, 150, 20, 255]);
        assert_eq!(pixel(&pictures[2], centre.0, centre.1), [210, 45, 45, 255]);
        assert_eq!(pixel(&pictures[0], 2, 2), pixel(&pictures[2], 2, 2), "the icon itself is unchanged");
    }
}
