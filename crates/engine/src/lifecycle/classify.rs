//! The one disconnect classification table (RULES.md §2).
//!
//! Nothing else in the engine branches on raw close codes: the connector
//! reports a [`CloseCode`], [`classify`] turns it into a [`CloseClass`], and the
//! state machine branches on the class.

use std::fmt;

/// A close code as the connector reports it (Baileys' numbering, which RULES.md uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// The phone unlinked this device: an auth close (L-2).
    pub const LOGGED_OUT: CloseCode = CloseCode(401);
    /// WhatsApp banned the number, for a time when it gives an end (L-3).
    pub const FORBIDDEN: CloseCode = CloseCode(403);
    /// WhatsApp no longer knows this session: fatal (L-3).
    pub const NOT_FOUND: CloseCode = CloseCode(404);
    /// The connection timed out or stopped answering: recoverable (L-4, O-3, R-6).
    pub const TIMED_OUT: CloseCode = CloseCode(408);
    /// The phone's linked devices are out of step with this one: fatal (L-3).
    pub const MULTI_DEVICE_MISMATCH: CloseCode = CloseCode(411);
    /// The connection was closed without a reason: recoverable (L-4).
    pub const CONNECTION_CLOSED: CloseCode = CloseCode(428);
    /// The account was opened on another device, replacing this one: an auth close (L-2).
    pub const REPLACED: CloseCode = CloseCode(440);
    /// The session's keys are corrupted: fatal, a new QR is needed (L-3).
    pub const BAD_SESSION: CloseCode = CloseCode(500);
    /// WhatsApp refuses this version of the client: fatal, but the credentials are kept (L-3).
    pub const CLIENT_OUTDATED: CloseCode = CloseCode(405);
    /// WhatsApp's own servers failed: recoverable (L-4).
    pub const UNAVAILABLE: CloseCode = CloseCode(503);
    /// WhatsApp restarts the stream, as it does right after a QR scan.
    pub const RESTART_REQUIRED: CloseCode = CloseCode(515);
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a close means for the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseClass {
    /// The account unlinked or replaced us: `conflict`, credentials cleared, auth cooldown.
    Auth,
    /// Banned, unknown session, corrupted keys: `failed`, credentials cleared, needs a person.
    Fatal,
    /// A passing problem: `reconnecting` with backoff, credentials kept.
    Recoverable,
    /// 515, whose handling depends on the QR state. Recoverable in kind.
    RestartRequired,
}

/// One row of the table: the class and the words staff read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    /// What the state machine does with the close (L-1).
    pub class: CloseClass,
    /// Whether this close invalidates the saved credentials (auth and fatal
    /// closes do, except an outdated client, whose session is still sound).
    pub clears_credentials: bool,
    /// Short name, as in RULES.md §2 ("logged out").
    pub name: &'static str,
    /// What happened and what to do, in plain words, for the UI and notifications.
    pub advice: &'static str,
}

const fn row(class: CloseClass, name: &'static str, advice: &'static str) -> Classification {
    let clears_credentials = matches!(class, CloseClass::Auth | CloseClass::Fatal);
    Classification { class, clears_credentials, name, advice }
}

/// RULES.md §2, the whole table. Unknown codes are recoverable (L-1), bounded by `max_retries`.
pub fn classify(code: CloseCode) -> Classification {
    use CloseClass::{Auth, Fatal, Recoverable, RestartRequired};
    match code.0 {
        401 => row(Auth, "logged out", "the phone unlinked this device: scan a new QR"),
        440 => row(Auth, "logged in elsewhere", "the account was opened on another device: scan a new QR"),
        403 => row(Fatal, "banned by WhatsApp", "this number is restricted by WhatsApp"),
        404 => row(Fatal, "session not found", "WhatsApp no longer knows this session: scan a new QR"),
        411 => row(Fatal, "multi-device mismatch", "the phone's linked-devices state is out of step: scan a new QR"),
        500 => row(Fatal, "session corrupted", "session corrupted: scan a new QR"),
        405 => Classification {
            clears_credentials: false,
            ..row(Fatal, "Switchboard is out of date", "WhatsApp no longer accepts this version: update Switchboard")
        },
        408 => row(Recoverable, "timed out", "the connection timed out; retrying"),
        428 => row(Recoverable, "connection closed", "the connection closed; retrying"),
        503 => row(Recoverable, "WhatsApp unavailable", "WhatsApp's servers had a problem; retrying"),
        515 => row(RestartRequired, "restart required", "stream restart required"),
        _ => row(Recoverable, "unknown close", "the connection closed for an unknown reason; retrying"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// L-1: every code of RULES.md §2 maps as the table says; unknown codes are recoverable.
    #[test]
    fn l1_every_close_code_maps_as_the_spec_table_says() {
        use CloseClass::{Auth, Fatal, Recoverable, RestartRequired};
        let table = [
            (401, Auth, true),
            (440, Auth, true),
            (403, Fatal, true),
            (404, Fatal, true),
            (411, Fatal, true),
            (500, Fatal, true),
            (405, Fatal, false),
            (408, Recoverable, false),
            (428, Recoverable, false),
            (503, Recoverable, false),
            (515, RestartRequired, false),
            (0, Recoverable, false),
            (999, Recoverable, false),
            (1006, Recoverable, false),
        ];
        for (code, class, clears) in table {
            let c = classify(CloseCode(code));
            assert_eq!(c.class, class, "code {code}");
            assert_eq!(c.clears_credentials, clears, "code {code}");
            assert!(!c.advice.is_empty() && !c.name.is_empty());
        }
    }
}
