//! The statuses of RULES.md §1.

use std::fmt;

/// Exactly one per agent, always persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// A person disconnected cleanly, or a QR expired. Unlocks the bypass.
    Disconnected,
    /// An attempt is in flight, no QR yet (or resuming from saved credentials).
    Connecting,
    /// A QR code is shown and waits to be scanned.
    QrPending,
    /// The link is open; the retry counter is reset.
    Connected,
    /// An automatic retry is scheduled.
    Reconnecting,
    /// An error disconnect (401, 440): credentials cleared, auth cooldown runs.
    Conflict,
    /// A fatal error or retries exhausted: needs a person.
    Failed,
    /// The database held a status this version does not know. Kept (nothing is
    /// rewritten until the agent changes) and treated conservatively by A-4.
    Unreadable,
}

impl Status {
    /// Every status a running engine can give an agent ([`Status::Unreadable`]
    /// only ever comes from a foreign database row).
    pub const LEGAL: [Status; 7] = [
        Status::Disconnected,
        Status::Connecting,
        Status::QrPending,
        Status::Connected,
        Status::Reconnecting,
        Status::Conflict,
        Status::Failed,
    ];

    /// The text stored in the `agents.status` column and sent to the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Disconnected => "disconnected",
            Status::Connecting => "connecting",
            Status::QrPending => "qr_pending",
            Status::Connected => "connected",
            Status::Reconnecting => "reconnecting",
            Status::Conflict => "conflict",
            Status::Failed => "failed",
            Status::Unreadable => "unreadable",
        }
    }

    /// Parses a stored status; `None` for text this version does not know.
    pub fn parse(text: &str) -> Option<Status> {
        Status::LEGAL.into_iter().find(|s| s.as_str() == text)
    }

    /// an attempt is in flight or the link is open.
    pub fn holds_connection(self) -> bool {
        matches!(self, Status::Connecting | Status::QrPending | Status::Connected)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_legal_status_round_trips_through_its_stored_text() {
        for status in Status::LEGAL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("unreadable"), None, "never parsed back as a real status");
        assert_eq!(Status::parse("CONNECTED"), None);
    }
}
