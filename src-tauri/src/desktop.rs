//! Living on the desktop: what closing the window does, what the tray shows,
//! and the choices the window remembers. Pure decisions here; [`crate::tray`]
//! and [`crate::run`] carry them out.
//!
//! Closing the window must not drop every WhatsApp link: people close
//! windows by habit. With a tray the window hides (the first time a
//! notification says so and how to quit); without one (stock GNOME shows no
//! tray icons) the window asks whether to quit or keep running minimised,
//! and remembers the answer if asked to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use switchboard_engine::lifecycle::Status;
use switchboard_engine::supervisor::AgentView;
use ts_rs::TS;

/// What closing the window does, as chosen once by the person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum CloseAction {
    /// Ask each time (the default without a tray).
    #[default]
    Ask,
    /// Keep running: hide to the tray, or minimise without one.
    KeepRunning,
    /// Quit, closing every connection gracefully (P-4).
    Quit,
}

/// What to do now that the window was asked to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseDecision {
    /// Hide the window; the tray icon brings it back. `tell` the first time.
    Hide {
        tell: bool,
    },
    /// No tray to come back from: minimise instead.
    Minimize,
    /// Ask the person (the window shows the question).
    Ask,
    Quit,
}

/// The one rule for a close request. With a tray, "ask" means hide: the
/// tray's menu holds Quit, so nothing needs asking.
pub fn close_decision(tray: bool, prefs: &Preferences) -> CloseDecision {
    match (prefs.close_action, tray) {
        (CloseAction::Quit, _) => CloseDecision::Quit,
        (CloseAction::Ask | CloseAction::KeepRunning, true) => CloseDecision::Hide { tell: !prefs.close_notice_shown },
        (CloseAction::KeepRunning, false) => CloseDecision::Minimize,
        (CloseAction::Ask, false) => CloseDecision::Ask,
    }
}

/// What the window remembers between runs, in `preferences.json` in the
/// data directory (not the engine's settings: these are the desktop's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Preferences {
    pub close_action: CloseAction,
    /// The "Switchboard keeps running" notification was shown once.
    pub close_notice_shown: bool,
}

/// Why the preferences file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PreferencesError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid preferences ({source}); the defaults are used until a choice is saved")]
    Invalid { path: PathBuf, source: serde_json::Error },
    #[error("cannot save {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl Preferences {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("preferences.json")
    }

    /// The saved preferences; none saved yet is the defaults.
    pub fn load(data_dir: &Path) -> Result<Preferences, PreferencesError> {
        let path = Self::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| PreferencesError::Invalid { path, source }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Preferences::default()),
            Err(source) => Err(PreferencesError::Read { path, source }),
        }
    }

    /// Saves atomically (a new file renamed over the old), so a crash never
    /// leaves half a file.
    pub fn save(&self, data_dir: &Path) -> Result<(), PreferencesError> {
        let path = Self::path(data_dir);
        let partial = data_dir.join("preferences.json.partial");
        let text = serde_json::to_vec_pretty(self).expect("preferences serialise");
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|source| PreferencesError::Write { path, source })
    }
}

/// The tray icon's picture: the fleet at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayLook {
    /// Nothing needs a person (agents may be deliberately disconnected).
    AllWell,
    /// An agent failed, is in conflict, cannot be read, keeps dropping or is at risk.
    NeedsAttention,
    /// WhatsApp cannot be reached, or automatic reconnects wait (F-1).
    Outage,
}

/// The counts the tray's menu lists, and its picture.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetSummary {
    pub connected: usize,
    pub waiting: usize,
    pub attention: usize,
    pub other: usize,
    pub outage: bool,
    /// The outage is staff's pause of automatic reconnects.
    pub paused: bool,
}

impl FleetSummary {
    pub fn of(agents: &[AgentView], outage: bool, paused: bool) -> FleetSummary {
        let mut summary = FleetSummary { outage, paused, ..FleetSummary::default() };
        for view in agents {
            let status = view.record.status;
            if needs_attention(view) {
                summary.attention += 1;
            } else if status == Status::Connected {
                summary.connected += 1;
            } else if matches!(status, Status::Connecting | Status::Reconnecting | Status::QrPending) {
                summary.waiting += 1;
            } else {
                summary.other += 1;
            }
        }
        summary
    }

    pub fn look(&self) -> TrayLook {
        if self.outage {
            TrayLook::Outage
        } else if self.attention > 0 {
            TrayLook::NeedsAttention
        } else {
            TrayLook::AllWell
        }
    }

    /// The menu's read-only lines: the look in words (no tooltips on
    /// Linux), then the counts. Always five, so the menu keeps its shape.
    pub fn lines(&self) -> Vec<String> {
        let headline = match self.look() {
            TrayLook::AllWell => "Nothing needs you",
            TrayLook::NeedsAttention => "Something needs attention",
            TrayLook::Outage if self.paused => "Automatic reconnects paused",
            TrayLook::Outage => "WhatsApp unreachable: reconnects wait",
        };
        vec![
            headline.to_owned(),
            format!("{} connected", self.connected),
            format!("{} connecting or waiting", self.waiting),
            format!("{} need attention", self.attention),
            format!("{} disconnected", self.other),
        ]
    }
}

/// The same "needs attention" as the window's filter (H-4).
fn needs_attention(view: &AgentView) -> bool {
    matches!(view.record.status, Status::Failed | Status::Conflict | Status::Unreadable)
        || view.flapping
        || view.ban_risk.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto::test_support::view;

    fn prefs(close_action: CloseAction, close_notice_shown: bool) -> Preferences {
        Preferences { close_action, close_notice_shown }
    }

    #[test]
    fn closing_hides_with_a_tray_and_tells_only_the_first_time() {
        assert_eq!(close_decision(true, &prefs(CloseAction::Ask, false)), CloseDecision::Hide { tell: true });
        assert_eq!(close_decision(true, &prefs(CloseAction::Ask, true)), CloseDecision::Hide { tell: false });
        assert_eq!(close_decision(true, &prefs(CloseAction::KeepRunning, true)), CloseDecision::Hide { tell: false });
        assert_eq!(close_decision(true, &prefs(CloseAction::Quit, false)), CloseDecision::Quit);
    }

    #[test]
    fn closing_without_a_tray_asks_until_an_answer_is_remembered() {
        assert_eq!(close_decision(false, &prefs(CloseAction::Ask, false)), CloseDecision::Ask);
        assert_eq!(close_decision(false, &prefs(CloseAction::KeepRunning, false)), CloseDecision::Minimize);
        assert_eq!(close_decision(false, &prefs(CloseAction::Quit, false)), CloseDecision::Quit);
    }

    #[test]
    fn the_tray_shows_an_outage_first_then_what_needs_attention() {
        let calm = [view(1, Status::Connected, false), view(2, Status::Disconnected, false)];
        let summary = FleetSummary::of(&calm, false, false);
        assert_eq!(summary.look(), TrayLook::AllWell, "a deliberately disconnected agent needs nobody");
        assert_eq!(
            summary.lines(),
            ["Nothing needs you", "1 connected", "0 connecting or waiting", "0 need attention", "1 disconnected"]
        );

        let troubled = [
            view(1, Status::Connected, false),
            view(2, Status::Failed, false),
            view(3, Status::Connected, true),
            view(4, Status::Reconnecting, false),
        ];
        let summary = FleetSummary::of(&troubled, false, false);
        assert_eq!(
            (summary.connected, summary.waiting, summary.attention),
            (1, 1, 2),
            "a flapping link needs attention"
        );
        assert_eq!(summary.look(), TrayLook::NeedsAttention);
        let outage = FleetSummary::of(&troubled, true, false);
        assert_eq!(outage.look(), TrayLook::Outage);
        assert_eq!(summary.lines()[0], "Something needs attention");
        assert_eq!(outage.lines()[0], "WhatsApp unreachable: reconnects wait");
        assert_eq!(FleetSummary::of(&troubled, true, true).lines()[0], "Automatic reconnects paused");
    }

    #[test]
    fn preferences_round_trip_and_a_bad_file_is_a_typed_error_that_keeps_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Preferences::load(dir.path()).unwrap(), Preferences::default(), "none saved: the defaults");
        let chosen = prefs(CloseAction::KeepRunning, true);
        chosen.save(dir.path()).unwrap();
        assert_eq!(Preferences::load(dir.path()).unwrap(), chosen);
        // An older file without a field takes that field's default.
        std::fs::write(Preferences::path(dir.path()), br#"{"closeAction":"quit"}"#).unwrap();
        assert_eq!(Preferences::load(dir.path()).unwrap(), prefs(CloseAction::Quit, false));

        std::fs::write(Preferences::path(dir.path()), b"{\"closeAction\": \"sometimes\"}").unwrap();
        let err = Preferences::load(dir.path()).unwrap_err();
        assert!(matches!(err, PreferencesError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("preferences.json is not valid preferences"), "{err}");
        assert_eq!(std::fs::read(Preferences::path(dir.path())).unwrap(), b"{\"closeAction\": \"sometimes\"}");
    }
}
